"""Hostile names and URIs: each refused with an error that names it, nothing sent with the
key, nothing written outside the output directory.

Already covered elsewhere, not repeated here: variants with '/', '..', NUL, 300 characters,
a leading dot or nothing at all, given to ``run`` (tests/unit/test_orchestrator.py::
test_invalid_variant_refused_before_anything_is_written: nothing written, the port never
called); the first set of hostile operation names on ``poll_job``/``download_clip``
(tests/adapter/test_poll.py::test_hostile_operation_name_is_refused_before_sending); and
unsafe video URIs and redirects on the adapter alone (tests/adapter/test_download.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from _kit.adapters import retries
from _kit.faults import (
    FaultyEmulator,
    RecordingTransport,
    expected_clip,
    json_rewrite,
    set_video_uri,
    tree,
)
from _kit.sdk import gemini_wire, run_gemini

from veo3_adapter import (
    ErrorCode,
    FakeVeo3Adapter,
    GeminiVeo3Adapter,
    GenerationOptions,
    InvalidOperationNameError,
    JobsFileError,
    JobStatus,
    UnsafeURLError,
    Veo3Job,
    Veo3Orchestrator,
    read_jobs_json,
    write_jobs_json,
)
from veo3_adapter.emulator import DEFAULT_API_BASE, Side
from veo3_adapter.store import job_to_dict, journal_path

API_HOST = httpx.URL(DEFAULT_API_BASE).host
GOOD_OP = "models/veo-3.1-generate-001/operations/abc123def456"


class Rig:
    """The real adapter on the in-process emulator, every request recorded before it is sent."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.emulator = FaultyEmulator(key, sleep=lambda _s: None, seed=3)
        self.wire = RecordingTransport(self.emulator.transport(), key)
        self.client = httpx.Client(transport=self.wire, follow_redirects=False)
        self.adapter = GeminiVeo3Adapter(
            key,
            http_client=self.client,
            **retries(2),
        )

    def orchestrator(self, out: Path) -> Veo3Orchestrator:
        return Veo3Orchestrator(self.adapter, out, poll_interval=0, sleep=lambda _s: None)

    def run(self, out: Path, prompts: dict[str, str]) -> list[Veo3Job]:
        """A run (from jobs submitted through the wire where the SDK cannot submit)."""
        submit = gemini_wire(self.client, DEFAULT_API_BASE, self.key)
        return run_gemini(self.orchestrator(out), prompts, submit)

    def assert_key_only_to_the_api(self) -> None:
        for sent in self.wire.sent:
            assert sent.host == API_HOST or not sent.with_key, sent
        assert self.emulator.key_leaks == []

    def close(self) -> None:
        self.adapter.close()
        self.client.close()


@pytest.fixture
def rig(api_key: str) -> Iterator[Rig]:
    rig = Rig(api_key)
    yield rig
    rig.close()


def _outside(root: Path, out: Path, before: dict[str, tuple[int, int]]) -> set[str]:
    """Files under ``root`` but not under ``out/veo3`` that appeared, changed or vanished."""
    after = tree(root)
    inside = str((out / "veo3").relative_to(root)) + "/"
    return {
        name
        for name in before.keys() | after.keys()
        if before.get(name) != after.get(name) and not name.startswith(inside)
    }


# -- variants in jobs.json ---------------------------------------------------------------------

HOSTILE_VARIANTS = [
    "a/b",
    "../escape",
    "..",
    "/etc/passwd",
    "..\\..\\x",
    "a\x00b",
    "x" * 300,
    ".hidden",
    "",
    "a\nb",
    "é",
]


@pytest.mark.parametrize("where", ["jobs.json", "journal"])
@pytest.mark.parametrize("variant", HOSTILE_VARIANTS, ids=lambda v: repr(v[:12]))
def test_hostile_variant_in_the_jobs_file_is_refused_and_nothing_is_written(
    tmp_path: Path, variant: str, where: str
) -> None:
    out = tmp_path / "out"
    jobs_path = out / "veo3" / "jobs.json"
    good = Veo3Job(variant="good", prompt="p", status=JobStatus.GENERATED, operation_name=GOOD_OP)
    hostile = {**job_to_dict(good), "variant": variant, "status": "downloaded"}
    write_jobs_json(jobs_path, [good])
    bad_file = jobs_path
    if where == "jobs.json":
        jobs_path.write_text(json.dumps({"version": 1, "jobs": [job_to_dict(good), hostile]}))
    else:
        bad_file = journal_path(jobs_path)
        bad_file.write_text(json.dumps(hostile) + "\n")
    port = FakeVeo3Adapter()
    orchestrator = Veo3Orchestrator(port, out, poll_interval=0, sleep=lambda _s: None)
    raw = bad_file.read_bytes()
    before = tree(tmp_path)

    attempts: dict[str, Callable[[], object]] = {
        "read_jobs_json": lambda: read_jobs_json(jobs_path),
        "jobs": orchestrator.jobs,
        "resume": orchestrator.resume,
        "run": lambda: orchestrator.run({"other": "a clip"}),
    }
    for name, attempt in attempts.items():
        with pytest.raises(JobsFileError) as info:
            attempt()
        assert info.value.path == bad_file, name
        assert repr(variant[:40]) in str(info.value), name
        assert bad_file.read_bytes() == raw, name
    assert port.calls == []
    after = tree(tmp_path)
    lock = "out/veo3/.veo3.lock"
    assert {k: v for k, v in after.items() if k != lock} == before  # only the lock appeared


@pytest.mark.parametrize("prompt", ["a \ud800 b", "\udfff"], ids=["in a prompt", "alone"])
def test_a_prompt_utf8_cannot_hold_is_refused_before_anything_is_written(
    tmp_path: Path, prompt: str
) -> None:
    # An unpaired surrogate (from a filename decoded with surrogateescape, say) cannot go into
    # jobs.json; it used to fail mid-run with a bare UnicodeEncodeError, after the lock.
    out = tmp_path / "out"
    port = FakeVeo3Adapter()
    orchestrator = Veo3Orchestrator(port, out, poll_interval=0, sleep=lambda _s: None)
    with pytest.raises(ValueError, match="variant 'bad': field 'prompt' holds an unpaired"):
        orchestrator.run({"good": "a clip", "bad": prompt})
    assert not out.exists()
    assert port.calls == []


def test_an_option_utf8_cannot_hold_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    out = tmp_path / "out"
    port = FakeVeo3Adapter()
    orchestrator = Veo3Orchestrator(port, out, poll_interval=0, sleep=lambda _s: None)
    with pytest.raises(ValueError, match="variant 'bad': field 'options.negative_prompt'"):
        orchestrator.run(
            {"good": "a clip", "bad": "a clip"},
            options={"bad": GenerationOptions(negative_prompt="blur \ud800")},
        )
    assert not out.exists()
    assert port.calls == []


# -- operation names ---------------------------------------------------------------------------

MORE_HOSTILE_OPERATION_NAMES = [
    "operations\\x",
    "models\\veo\\operations\\x",
    "models/veo/operations/x\\..\\..\\y",
    "operations/%2e%2e",
    "models/%2e%2e/operations/x",
    "operations/%2E%2E%2Ffiles%2Fabc",
    "operations/x\ny",
    "operations/x\r\nHost: evil.example",
    "operations/x\x00",
    "//evil.example/x",
    "//evil.example/operations/x",
    "https://evil.example/operations/x",
    "http://127.0.0.1:1/operations/x",
    "../operations/x",
    "operations/x/..",
    "models/veo/operations/x/../../../files/abc:download",
    "operations/ x",
    "operations/\uff58",
    "operations/x?key=1",
    "operations/x#",
    "operations/x;y",
]


@pytest.mark.parametrize("name", MORE_HOSTILE_OPERATION_NAMES, ids=repr)
def test_hostile_operation_name_is_refused_by_poll_and_download(
    rig: Rig, tmp_path: Path, name: str
) -> None:
    job = Veo3Job(variant="v", prompt="p", status=JobStatus.GENERATED, operation_name=name)
    calls: list[Callable[[], object]] = [
        lambda: rig.adapter.poll_job(job),
        lambda: rig.adapter.download_clip(job, tmp_path / "v.mp4"),
    ]
    for call in calls:
        with pytest.raises(InvalidOperationNameError) as info:
            call()
        assert repr(name) in str(info.value)
        assert "not a Gemini operation path" in str(info.value)
    assert rig.wire.sent == []
    assert list(tmp_path.iterdir()) == []


def test_hostile_operation_names_in_jobs_json_fail_their_jobs_and_send_nothing(
    rig: Rig, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    (good,) = rig.run(out, {"good": "a clip"})
    assert good.status is JobStatus.DOWNLOADED
    hostile = {
        "polling": ("https://evil.example/operations/x", JobStatus.SUBMITTED, "poll_failed"),
        "fetching": ("operations/%2e%2e", JobStatus.GENERATED, "download_failed"),
        "refetching": ("../../files/abc:download", JobStatus.DOWNLOADED, "download_failed"),
        "retrying": ("operations\\x", JobStatus.FAILED, "download_failed"),
    }
    jobs = [good] + [
        Veo3Job(
            variant=variant,
            prompt="p",
            status=status,
            operation_name=name,
            error_message="download_failed" if status is JobStatus.FAILED else "",
        )
        for variant, (name, status, _) in hostile.items()
    ]
    write_jobs_json(out / "veo3" / "jobs.json", jobs)
    sent_before = len(rig.wire.sent)
    before = tree(tmp_path)

    resumed = {job.variant: job for job in rig.orchestrator(out).resume()}

    for variant, (_, _, code) in hostile.items():
        job = resumed[variant]
        assert (job.status, job.error_message) == (JobStatus.FAILED, code), variant
        assert "not a Gemini operation path" in job.error_detail
        assert not (out / "veo3" / f"{variant}.mp4").exists()
    assert resumed["good"] == good
    assert rig.wire.sent[sent_before:] == []  # the good clip is there: nothing to ask at all
    assert _outside(tmp_path, out, before) == set()


def test_a_hostile_operation_name_from_the_server_is_never_requested(
    rig: Rig, tmp_path: Path
) -> None:
    def evil_name(payload: dict[str, object]) -> None:
        payload["name"] = "https://evil.example/operations/x"

    rig.emulator.rewrite("[evil]", Side.API, json_rewrite(evil_name))
    out = tmp_path / "out"
    jobs = {j.variant: j for j in rig.run(out, {"evil": "[evil]", "good": "fine"})}

    assert (jobs["evil"].status, jobs["evil"].error_message) == (JobStatus.FAILED, "poll_failed")
    assert jobs["good"].status is JobStatus.DOWNLOADED
    assert {sent.host for sent in rig.wire.sent} == {API_HOST}  # the good clip's two hops
    assert not any("evil" in sent.url for sent in rig.wire.sent)
    rig.assert_key_only_to_the_api()


# -- video URIs --------------------------------------------------------------------------------

FILE = "h0st1lef1le0"  # the file id in every hostile URI; no request may ever name it
_API = DEFAULT_API_BASE
_PATH = f"/v1beta/files/{FILE}:download"
HOSTILE_URIS = {
    "another host": (f"https://evil.example{_PATH}?alt=media", "not the API"),
    "http, API on https": (f"http://{API_HOST}{_PATH}?alt=media", "not the API"),
    "user info": (f"https://user:pw@{API_HOST}{_PATH}?alt=media", "user info"),
    "empty user info": (f"https://:@{API_HOST}{_PATH}", "user info"),
    "API host before @": (f"https://{API_HOST}@evil.example{_PATH}", "user info"),
    "backslash before @": (f"https://evil.example\\@{API_HOST}{_PATH}", "user info"),
    "key=": (f"{_API}{_PATH}?alt=media&key=stolen", "'key' query"),
    "escaped key=": (f"{_API}{_PATH}?alt=media&%6bey=x", "'key' query"),
    "scheme-relative": (f"//evil.example{_PATH}", "not the API"),
    "relative": (f"{_PATH}?alt=media", "not the API"),
    "lookalike host": (f"https://{API_HOST}.evil.example{_PATH}", "not the API"),
    "trailing dot": (f"https://{API_HOST}.{_PATH}", "not the API"),
    "other port": (f"https://{API_HOST}:8443{_PATH}", "not the API"),
    "file": (f"file:///etc/passwd?{FILE}", "not the API"),
    "data": (f"data:video/mp4;base64,{FILE}", "not the API"),
    "unparseable": (f"https://[::1/{FILE}", "not a valid URL"),
}


@pytest.mark.parametrize(("uri", "reason"), HOSTILE_URIS.values(), ids=HOSTILE_URIS.keys())
def test_hostile_video_uri_fails_its_job_sends_no_key_and_writes_nothing_outside(
    rig: Rig, tmp_path: Path, uri: str, reason: str
) -> None:
    rig.emulator.rewrite("[hostile]", Side.API, set_video_uri(uri))
    out = tmp_path / "out"
    before = tree(tmp_path)
    prompts = {"hostile": "a clip [hostile]", "good": "a clip"}
    jobs = {job.variant: job for job in rig.run(out, prompts)}

    bad = jobs["hostile"]
    assert (bad.status, bad.error_message) == (JobStatus.FAILED, ErrorCode.DOWNLOAD_FAILED.value)
    assert reason in bad.error_detail
    assert not (out / "veo3" / "hostile.mp4").exists()
    good = jobs["good"]
    assert good.status is JobStatus.DOWNLOADED
    clip = expected_clip(rig.emulator, good.operation_name)
    assert (out / "veo3" / "good.mp4").read_bytes() == clip
    rig.assert_key_only_to_the_api()
    assert {sent.host for sent in rig.wire.sent} == {API_HOST}  # the good clip's two hops
    assert not any(FILE in sent.url for sent in rig.wire.sent)
    assert _outside(tmp_path, out, before) == set()

    with pytest.raises(UnsafeURLError) as info:  # the adapter alone: refused, nothing sent
        rig.adapter.download_clip(bad, tmp_path / "direct.mp4")
    assert isinstance(info.value, ValueError)
    assert not any(FILE in sent.url for sent in rig.wire.sent)
    assert not (tmp_path / "direct.mp4").exists()
