"""A canary key (made at run time: "AIza" and 35 random characters) through every emulator
scenario, in-process and on sockets, record mode, every failure path, with DEBUG logging on
for every logger: it appears in no file, no log record and no exception text.

The emulator here is the worst server there is: every API error it sends quotes the key it
received, in the message and in the details. tests/adapter/test_no_secret_leaks.py does the
same against respx; this runs the real HTTP stack, the orchestrator and the recorder. On
google-genai 3.x, which sends no Gemini API submit, runs start from jobs submitted through
the wire, and the recorder (which submits) is not run.
"""

from __future__ import annotations

import base64
import json
import logging
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from _kit.adapters import AdapterFactory
from _kit.clock import FakeClock
from _kit.emulator import emulator_wire
from _kit.faults import FaultyEmulator, ServedFactory, files_holding, secret_forms, set_video_uri
from _kit.sdk import needs_gemini_submit, run_gemini, submit_gemini

from veo3_adapter import (
    ConfigurationError,
    FakeVeo3Adapter,
    GeminiVeo3Adapter,
    JobStatus,
    OutputDirInUseError,
    Veo3Error,
    Veo3Job,
    Veo3Orchestrator,
    read_jobs_json,
)
from veo3_adapter.audit import audit_paths
from veo3_adapter.emulator import SCENARIO_NAMES, Scenario, Side
from veo3_adapter.emulator._wire import Reply
from veo3_adapter.store import journal_path

LOGGERS = ["", "httpx", "httpcore", "h11", "google_genai", "google", "veo3_adapter", "vcr"]
DAYS = 24 * 3600.0


@pytest.fixture(autouse=True)
def debug_everything(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    yield


def _pieces(secret: str, width: int = 16) -> list[str]:
    """The secret and every run of ``width`` characters in it: a cut-off key is a leak too."""
    return [secret] + [secret[i : i + width] for i in range(len(secret) - width + 1)]


def error_texts(error: BaseException) -> list[str]:
    """What a log of this error could show: str, repr, args, the formatted traceback with its
    chained causes, and the same for each error in the chain."""
    texts = ["".join(traceback.format_exception(error))]
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts += [str(current), repr(current), repr(current.args)]
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return texts


class Canary:
    """Collects everything the key must not be in, and checks it at the end."""

    def __init__(self, key: str, root: Path, caplog: pytest.LogCaptureFixture) -> None:
        assert key.startswith("AIza") and len(key) == 39
        self.key = key
        self.root = root
        self.caplog = caplog
        self.errors: list[BaseException] = []
        self.texts: list[str] = []

    def expect(self, error_type: type[BaseException], call: Callable[[], object]) -> None:
        with pytest.raises(error_type) as info:
            call()
        self.errors.append(info.value)
        logging.getLogger("pipeline").exception("step failed")  # what a pipeline would log

    def jobs(self, jobs: list[Veo3Job]) -> None:
        self.texts += [repr(jobs), *(job.error_detail for job in jobs)]

    def check(self, *, loggers: tuple[str, ...] = ("httpx", "veo3_adapter")) -> None:
        pieces = _pieces(self.key)
        records = self.caplog.records
        for prefix in loggers:  # or the check below would prove nothing
            assert any(r.name.startswith(prefix) for r in records), f"no {prefix} records"
        leaks: list[str] = []

        def look(where: str, text: str) -> None:
            if any(p in text for p in pieces):
                leaks.append(f"{where}: {text[:300]}")

        formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
        for record in records:
            look(f"log {record.name}", record.getMessage())
            look(f"log args {record.name}", repr(record.args))
            look(f"log formatted {record.name}", formatter.format(record))
            look(f"log record {record.name}", repr(vars(record)))
        for error in self.errors:
            for text in error_texts(error):
                look(f"error {type(error).__name__}", text)
        for text in self.texts:
            look("text", text)
        leaks += [f"file {path}" for piece in pieces for path in files_holding(self.root, piece)]
        leaks += [f"audit {finding}" for finding in audit_paths([self.root])]
        assert not leaks, "\n".join(["the key leaked:", *leaks])


@pytest.fixture
def canary(api_key: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Canary:
    assert all(form not in api_key.encode() for form in secret_forms(api_key)[1:])
    return Canary(api_key, tmp_path, caplog)


def _every_scenario(emulator: FaultyEmulator) -> dict[str, str]:
    for name in SCENARIO_NAMES:
        ttl = Scenario.named(name).file_ttl  # "expired" keeps its own; the rest live two days
        scenario = Scenario.named(name, running_polls=1, file_ttl=2 * DAYS if ttl is None else ttl)
        emulator.rule(f"[{name}]", scenario)
    return {name.replace("_", "-"): f"a clip [{name}]" for name in SCENARIO_NAMES}


@pytest.mark.parametrize("wire", ["in-process", "sockets"])
def test_canary_through_every_scenario_and_a_resume(
    canary: Canary,
    served: ServedFactory,
    make_adapter: AdapterFactory,
    out: Path,
    wire: str,
) -> None:
    clock = FakeClock(start=1000.0)
    if wire == "sockets":
        emulator = served(clock=clock, echo_key=True)
        adapter = make_adapter(emulator.api_base, read_timeout=0.2)
    else:
        emulator = FaultyEmulator(canary.key, clock=clock, echo_key=True, sleep=lambda _s: None)
        adapter = make_adapter(emulator.api_base, transport=emulator.transport())
    prompts = _every_scenario(emulator)
    if wire == "sockets":  # and a body that stalls into the read timeout on every attempt
        emulator.rule("[stalled]", Scenario(file_ttl=2 * DAYS))
        emulator.hold("[stalled]", 100, times=3)
        # First: a batch-stopping scenario (the daily quota) sends nothing after it.
        prompts = {"stalled": "a clip [stalled]", **prompts}
    orchestrator = Veo3Orchestrator(adapter, out, poll_interval=0, sleep=lambda _s: None)
    jobs = run_gemini(orchestrator, prompts, emulator_wire(emulator, canary.key))
    by_variant = {job.variant: job for job in jobs}
    assert by_variant["expired"].error_message == "download_failed"
    if wire == "sockets":
        assert "ReadTimeout" in by_variant["stalled"].error_detail
    statuses = {job.status for job in jobs}
    assert statuses == {JobStatus.DOWNLOADED, JobStatus.FAILED}
    assert any("REDACTED" in job.error_detail for job in jobs)  # echoed, then scrubbed
    canary.jobs(jobs)

    # Two days later, the clips gone: every re-download is a 404 that quotes the key.
    for job in jobs:
        orchestrator.clip_path(job.variant).unlink(missing_ok=True)
    clock.now += 3 * DAYS
    resumed = orchestrator.resume()
    assert {j.error_message for j in resumed if j.status is JobStatus.FAILED} >= {"download_failed"}
    canary.jobs(resumed)
    canary.texts.append((out / "veo3" / "jobs.json").read_text(encoding="utf-8"))
    assert emulator.key_leaks == []
    canary.check(loggers=("httpx", "httpcore", "veo3_adapter") if wire == "sockets" else ())


@needs_gemini_submit
def test_canary_through_record_mode(canary: Canary, tmp_path: Path) -> None:
    from pytest_veo3.scenarios import SCENARIO_CASSETTES, record_scenarios

    written = record_scenarios(tmp_path / "cassettes", key=canary.key)
    assert sorted(path.stem for path in written) == sorted(SCENARIO_CASSETTES)
    assert all(path.is_file() for path in written)
    canary.check(loggers=("veo3_adapter",))


def test_canary_through_every_failure_path(
    canary: Canary, make_adapter: AdapterFactory, tmp_path: Path
) -> None:
    key = canary.key
    emulator = FaultyEmulator(key, echo_key=True, sleep=lambda _s: None)
    rules = {
        "[submit400]": Scenario(submit_status=400),
        "[submit429]": Scenario(submit_status=429),
        "[submit500]": Scenario(submit_status=500),
        "[submit503]": Scenario(submit_status=503),
        "[poll403]": Scenario(poll_failures=(403,)),
        "[poll5xx]": Scenario(poll_failures=(500, 503, 502, 500, 504)),
        "[dl403]": Scenario(download_status=403),
        "[dl404]": Scenario(download_status=404),
        "[dl5xx]": Scenario(download_failures=(500, 502, 503, 500)),
        "[dl-short]": Scenario(video_size=100_000, truncate_at=1000, truncate_times=9),
        "[dl-long]": Scenario(video_size=100_000),
        "[dl-uri]": Scenario(),
    }
    for match, scenario in rules.items():
        emulator.rule(match, scenario)

    def understate(reply: Reply) -> Reply:
        headers = [(n, "99000" if n.lower() == "content-length" else v) for n, v in reply.headers]
        return Reply(reply.status, headers, reply.body)

    emulator.rewrite("[dl-long]", Side.DOWNLOAD, understate)
    emulator.rewrite("[dl-uri]", Side.API, set_video_uri(f"https://evil.example/v?key={key}"))
    adapter = make_adapter(emulator.api_base, transport=emulator.transport())
    wire = emulator_wire(emulator, key)

    def generated(prompt: str) -> Veo3Job:
        job = submit_gemini(adapter, "v", prompt, wire)
        for _ in range(5):
            job = adapter.poll_job(job)
        assert job.status is JobStatus.GENERATED, job
        return job

    dest = tmp_path / "clip.mp4"
    for match in ("[submit400]", "[submit429]", "[submit500]", "[submit503]"):
        canary.expect(Veo3Error, lambda m=match: adapter.submit_job("v", m))  # type: ignore[misc]
    for match in ("[poll403]", "[poll5xx]"):
        job = submit_gemini(adapter, "v", match, wire)
        canary.expect(Veo3Error, lambda j=job: adapter.poll_job(j))  # type: ignore[misc]
    missing = Veo3Job(variant="v", prompt="p", operation_name="operations/nosuchoperation")
    canary.jobs([adapter.poll_job(missing)])  # 404: operation_not_found, quoting the key
    hostile = Veo3Job(variant="v", prompt="p", operation_name=f"operations/x?key={key}")
    canary.expect(Veo3Error, lambda: adapter.poll_job(hostile))
    for match in ("[dl403]", "[dl404]", "[dl5xx]", "[dl-short]", "[dl-long]", "[dl-uri]"):
        job = generated(match)
        canary.expect(Veo3Error, lambda j=job: adapter.download_clip(j, dest))  # type: ignore[misc]
    assert not dest.exists()

    # A wrong key: the server quotes the one it got (ours) in a 400.
    wrong = FaultyEmulator("AIza" + "x" * 35, echo_key=True, sleep=lambda _s: None)
    other = make_adapter(wrong.api_base, transport=wrong.transport())
    canary.expect(Veo3Error, lambda: other.submit_job("v", "a clip"))

    # Configuration mistakes that involve the key.
    for bad in (key + " ", " " + key, key + "\n"):
        canary.expect(ConfigurationError, lambda b=bad: GeminiVeo3Adapter(b))  # type: ignore[misc]
    for base in (
        f"generativelanguage.googleapis.com/v1beta?key={key}",
        f"ftp://generativelanguage.googleapis.com/?key={key}",
        f"https://{key}@generativelanguage.googleapis.com",
        f"https://generativelanguage.googleapis.com/?key={key}",
        f"https://generativelanguage.googleapis.com:{key}",
    ):
        canary.expect(
            ConfigurationError,
            lambda b=base: GeminiVeo3Adapter(key, base_url=b),  # type: ignore[misc]
        )

    # The orchestrator's own errors, and every job state written down.
    out = tmp_path / "out"
    orchestrator = Veo3Orchestrator(adapter, out, poll_interval=0, timeout=0, sleep=lambda _s: 0)
    jobs = run_gemini(
        orchestrator, {"ok": "a fine clip", **{m.strip("[]"): m for m in rules}}, wire
    )
    assert {j.status for j in jobs} == {JobStatus.DOWNLOADED, JobStatus.FAILED}
    canary.jobs(jobs)
    canary.texts.append(repr(adapter))

    class Intruder(FakeVeo3Adapter):
        def poll_job(self, job: Veo3Job) -> Veo3Job:
            canary.expect(OutputDirInUseError, Veo3Orchestrator(adapter, out).resume)
            return super().poll_job(job)

    Veo3Orchestrator(Intruder(), out, poll_interval=0, sleep=lambda _s: None).run({"i": "p"})
    assert read_jobs_json(orchestrator.jobs_path)
    assert not journal_path(orchestrator.jobs_path).exists()
    assert emulator.key_leaks == []
    canary.check()


def test_a_key_cut_in_half_by_the_error_snippet_is_still_redacted(
    canary: Canary, make_adapter: AdapterFactory, tmp_path: Path
) -> None:
    """A download error quotes the first 300 characters of the body: a key straddling that
    cut must not leave its first half (too short to match the whole key) in the message."""
    key = canary.key
    emulator = FaultyEmulator(key, sleep=lambda _s: None)
    prefix = len('{"error": {"message": "')
    kept = (39, 30, 20, 16)  # characters of the key before the cut at 300
    for left in kept:
        data = json.dumps({"error": {"message": "x" * (300 - left - prefix) + key}}).encode()

        def quote(reply: Reply, data: bytes = data) -> Reply:
            headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
            return Reply(403, headers, [data]) if reply.status == 403 else reply

        emulator.rule(f"[cut{left}]", Scenario(download_status=403))
        emulator.rewrite(f"[cut{left}]", Side.API, quote)
    adapter = make_adapter(emulator.api_base, transport=emulator.transport())
    wire = emulator_wire(emulator, key)
    for left in kept:
        job = adapter.poll_job(submit_gemini(adapter, "v", f"a clip [cut{left}]", wire))
        canary.expect(Veo3Error, lambda j=job: adapter.download_clip(j, tmp_path / "c.mp4"))  # type: ignore[misc]
    assert all("HTTP 403" in str(e) and "xxxxxxxx" in str(e) for e in canary.errors)
    canary.check(loggers=("veo3_adapter",))


def test_the_audit_accepts_the_adapters_own_redaction(tmp_path: Path, api_key: str) -> None:
    # jobs.json keeps a refused video URI with its key replaced by "REDACTED".
    clean = tmp_path / "clean.json"
    clean.write_text('{"video_uri": "https://evil.example/v?alt=media&key=REDACTED"}')
    leaked = tmp_path / "leaked.json"
    leaked.write_text(json.dumps({"video_uri": f"https://evil.example/v?alt=media&key={api_key}"}))
    assert audit_paths([clean]) == []
    assert {f.what for f in audit_paths([leaked])} >= {"a key= query parameter"}


@pytest.mark.parametrize("where", ["log", "error", "file", "base64 file"])
def test_the_canary_check_finds_a_planted_leak(canary: Canary, tmp_path: Path, where: str) -> None:
    # The checks above prove something only if they catch a leak: half a key, or base64.
    half = canary.key[7:27]
    logging.getLogger("veo3_adapter.planted").info("nothing to see")
    if where == "log":
        logging.getLogger("veo3_adapter.planted").debug("key piece %s", half)
    elif where == "error":
        canary.errors.append(RuntimeError("wrapped", ValueError(half)))
    elif where == "file":
        (tmp_path / "notes.txt").write_text(f"...{half}...")
    else:
        (tmp_path / "blob.b64").write_bytes(base64.b64encode(b"xy" + canary.key.encode()))
    with pytest.raises(AssertionError, match="the key leaked"):
        canary.check(loggers=("veo3_adapter",))
