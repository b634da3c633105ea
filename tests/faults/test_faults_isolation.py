"""One job's fault never stops the others: whatever a port raises becomes that job's failure.

Exceptions that are no ``Veo3Error`` (a deep answer's ``RecursionError``, an IDNA host's
``UnicodeError``, ``httpx.InvalidURL`` from a model name with a newline, any bug) fail their
job as ``internal_error`` with a scrubbed detail, logged with the traceback at ERROR. A clip
that cannot be written (a full disk, a read-only directory) fails its job as
``download_failed`` naming the file; jobs.json, its journal or the lock that cannot be
written stops the run with ``OutputWriteError``, which names any operation started but not
recorded. Full disks and read-only directories are simulated at the lowest write call (the
tests run as root, which file modes do not stop).
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import httpx
import pytest
from _kit.adapters import AdapterFactory
from _kit.emulator import emulator_wire
from _kit.faults import ServedFactory, expected_clip, partials
from _kit.runs import by_variant, orchestrator_on
from _kit.sdk import run_gemini

from veo3_adapter import (
    ErrorCode,
    FakeOutcome,
    FakeVeo3Adapter,
    GenerationOptions,
    JobStatus,
    OutputWriteError,
    Veo3Error,
    Veo3Job,
    Veo3Orchestrator,
    _files,
    download,
    read_jobs_json,
    store,
)
from veo3_adapter.emulator import Scenario
from veo3_adapter.store import journal_path

if TYPE_CHECKING:
    from _kit.clock import FakeClock

PROMPTS = {"alpha": "a lighthouse at dusk", "faulty": "a paper boat", "omega": "a neon cat"}


def _recursion() -> BaseException:
    try:
        json.loads("[" * 100_000 + "]" * 100_000)  # an answer nested deeper than Python recurses
    except RecursionError as exc:
        return exc
    raise AssertionError("json.loads did not recurse too deep")


def _idna() -> BaseException:
    try:
        "a..b.example".encode("idna")  # a redirect host with an empty label
    except UnicodeError as exc:
        return exc
    raise AssertionError("the IDNA codec accepted an empty label")


def _invalid_url() -> BaseException:
    try:
        httpx.URL("https://example.com/v1beta/models/veo\n3:predictLongRunning")
    except httpx.InvalidURL as exc:
        return exc
    raise AssertionError("httpx accepted a newline in a URL")


def _bug(key: str) -> BaseException:
    return RuntimeError(f"unexpected state while handling key={key}")


ERRORS: dict[str, Callable[[str], BaseException]] = {
    "RecursionError": lambda _key: _recursion(),
    "UnicodeError": lambda _key: _idna(),
    "InvalidURL": lambda _key: _invalid_url(),
    "RuntimeError": _bug,
}


class Raising(FakeVeo3Adapter):
    """The fake, raising ``error`` in one step of one variant (every time it gets there)."""

    def __init__(self, step: str, variant: str, error: BaseException) -> None:
        super().__init__(default=FakeOutcome.success(polls=1))
        self.step = step
        self.variant = variant
        self.error = error

    def _maybe(self, step: str, variant: str) -> None:
        if (step, variant) == (self.step, self.variant):
            raise self.error

    def submit_job(
        self, variant: str, prompt: str, options: GenerationOptions | None = None
    ) -> Veo3Job:
        self._maybe("submit", variant)
        return super().submit_job(variant, prompt, options)

    def poll_job(self, job: Veo3Job) -> Veo3Job:
        self._maybe("poll", job.variant)
        return super().poll_job(job)

    def download_clip(self, job: Veo3Job, dest: Path) -> Path:
        self._maybe("download", job.variant)
        return super().download_clip(job, dest)


def _assert_others_downloaded(orch: Veo3Orchestrator, jobs: dict[str, Veo3Job]) -> None:
    for variant in ("alpha", "omega"):
        assert jobs[variant].status is JobStatus.DOWNLOADED, jobs[variant].error_detail
        assert orch.clip_path(variant).is_file()
    assert by_variant(read_jobs_json(orch.jobs_path)) == jobs
    assert partials(orch.output_dir) == []


@pytest.mark.parametrize("error", list(ERRORS))
@pytest.mark.parametrize("step", ["submit", "poll", "download"])
def test_any_exception_of_one_job_fails_that_job_as_an_internal_error(
    tmp_path: Path,
    fake_clock: FakeClock,
    api_key: str,
    caplog: pytest.LogCaptureFixture,
    step: str,
    error: str,
) -> None:
    raised = ERRORS[error](api_key)
    port = Raising(step, "faulty", raised)
    orch = orchestrator_on(port, tmp_path, fake_clock)
    with caplog.at_level(logging.ERROR, logger="veo3_adapter"):
        jobs = by_variant(orch.run(PROMPTS))

    faulty = jobs["faulty"]
    assert (faulty.status, faulty.error_message) == (JobStatus.FAILED, ErrorCode.INTERNAL_ERROR)
    assert f"internal error in the {step} of variant 'faulty'" in faulty.error_detail
    assert type(raised).__name__ in faulty.error_detail
    assert api_key not in faulty.error_detail
    assert (faulty.operation_name == "") is (step == "submit")
    _assert_others_downloaded(orch, jobs)
    # The others were polled and fetched after the fault, in the same run.
    assert {c.variant for c in port.calls_to("download_clip")} >= {"alpha", "omega"}
    records = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(records) == 1
    logged = records[0].getMessage()
    assert "Traceback" in logged and type(raised).__name__ in logged
    assert api_key not in logged and api_key not in caplog.text


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, SystemExit])
@pytest.mark.parametrize("step", ["submit", "poll", "download"])
def test_keyboard_interrupt_and_system_exit_still_stop_the_run(
    tmp_path: Path, fake_clock: FakeClock, step: str, interrupt: type[BaseException]
) -> None:
    orch = orchestrator_on(Raising(step, "faulty", interrupt()), tmp_path, fake_clock)
    with pytest.raises(interrupt):
        orch.run(PROMPTS)
    assert read_jobs_json(orch.jobs_path)  # what was done so far is recorded


class BrokenAnswers(FakeVeo3Adapter):
    """A port whose poll of one variant answers something that is not a job of it."""

    def __init__(self, answer: Callable[[Veo3Job], object]) -> None:
        super().__init__()
        self.answer = answer

    def poll_job(self, job: Veo3Job) -> Veo3Job:
        polled = super().poll_job(job)
        return self.answer(polled) if job.variant == "faulty" else polled  # type: ignore[return-value]


@pytest.mark.parametrize(
    "answer",
    [
        lambda job: None,
        lambda job: Veo3Job(variant="alpha", prompt="someone else's"),
        lambda job: Veo3Job(variant="faulty", prompt="p", status="generated"),  # type: ignore[arg-type]
        lambda job: Veo3Job(variant="faulty", prompt="p", clip_bytes="5"),  # type: ignore[arg-type]
    ],
    ids=["None", "another variant", "status a str", "clip_bytes a str"],
)
def test_a_port_answering_something_else_than_a_job_fails_only_that_job(
    tmp_path: Path, fake_clock: FakeClock, answer: Callable[[Veo3Job], object]
) -> None:
    orch = orchestrator_on(BrokenAnswers(answer), tmp_path, fake_clock)
    jobs = by_variant(orch.run(PROMPTS))
    assert (jobs["faulty"].status, jobs["faulty"].error_message) == (
        JobStatus.FAILED,
        "internal_error",
    )
    _assert_others_downloaded(orch, jobs)


# -- our own files: the clips ------------------------------------------------------------------


class _FullDisk:
    """A file whose ``write`` fails as the operating system would (everything else passes)."""

    def __init__(self, handle: BinaryIO, code: int, path: Path) -> None:
        self._handle = handle
        self._code = code
        self._path = path

    def write(self, _data: bytes) -> int:
        raise OSError(self._code, os.strerror(self._code), str(self._path))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


def _failing_clip_writes(monkeypatch: pytest.MonkeyPatch, code: int, match: str) -> list[Path]:
    """Make every write to a clip whose name contains ``match`` fail with ``code``."""
    real = _files.atomic_file
    failed: list[Path] = []

    @contextlib.contextmanager
    def atomic_file(dest: Path) -> Iterator[BinaryIO]:
        with real(dest) as handle:
            if dest.suffix == ".mp4" and match in dest.name:
                failed.append(dest)
                yield _FullDisk(handle, code, dest)  # type: ignore[misc]
            else:
                yield handle

    monkeypatch.setattr(_files, "atomic_file", atomic_file)  # the fake, via atomic_write_bytes
    monkeypatch.setattr(download, "atomic_file", atomic_file)  # the real adapter
    return failed


OS_ERRORS = {
    "ENOSPC": (errno.ENOSPC, "No space left on device"),
    "EROFS": (errno.EROFS, "Read-only file system"),
    "EACCES": (errno.EACCES, "Permission denied"),
}


@pytest.mark.parametrize(("code", "reason"), OS_ERRORS.values(), ids=list(OS_ERRORS))
def test_a_clip_that_cannot_be_written_fails_its_job_and_the_others_go_on(
    tmp_path: Path,
    fake_clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    code: int,
    reason: str,
) -> None:
    failed = _failing_clip_writes(monkeypatch, code, "faulty")
    port = FakeVeo3Adapter({"omega": FakeOutcome.success(polls=3)})  # polled after the fault
    orch = orchestrator_on(port, tmp_path, fake_clock)
    jobs = by_variant(orch.run(PROMPTS))

    faulty = jobs["faulty"]
    assert (faulty.status, faulty.error_message) == (JobStatus.FAILED, "download_failed")
    assert str(orch.clip_path("faulty")) in faulty.error_detail
    assert reason in faulty.error_detail and errno.errorcode[code] in faulty.error_detail
    assert failed == [orch.clip_path("faulty")]
    assert not orch.clip_path("faulty").exists()
    assert len(port.calls_to("poll_job")) > 3  # omega kept being polled after the failure
    _assert_others_downloaded(orch, jobs)

    monkeypatch.undo()  # space again: resume fetches the clip, nothing is submitted again
    submits = len(port.calls_to("submit_job"))
    resumed = by_variant(orchestrator_on(port, tmp_path, fake_clock).resume())
    assert resumed["faulty"].status is JobStatus.DOWNLOADED
    assert len(port.calls_to("submit_job")) == submits


def test_a_full_disk_on_the_real_download_fails_only_that_clip(
    served: ServedFactory,
    make_adapter: AdapterFactory,
    fake_clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    api_key: str,
) -> None:
    emulator = served()
    emulator.rule("paper boat", Scenario(video_size=300_000, chunk_size=16 * 1024))
    _failing_clip_writes(monkeypatch, errno.ENOSPC, "faulty")
    orch = orchestrator_on(make_adapter(emulator.api_base), tmp_path, fake_clock)
    jobs = by_variant(run_gemini(orch, PROMPTS, emulator_wire(emulator, api_key)))

    faulty = jobs["faulty"]
    assert (faulty.status, faulty.error_message) == (JobStatus.FAILED, "download_failed")
    assert "No space left on device" in faulty.error_detail
    assert str(orch.clip_path("faulty")) in faulty.error_detail
    for variant in ("alpha", "omega"):
        clip = expected_clip(emulator, jobs[variant].operation_name)
        assert orch.clip_path(variant).read_bytes() == clip
    assert partials(tmp_path) == []
    assert emulator.key_leaks == []


# -- our own files: the directory, the lock, jobs.json and its journal ----------------------------


def _read_only(monkeypatch: pytest.MonkeyPatch, root: Path, code: int = errno.EROFS) -> None:
    """Every directory made, or file created or opened for writing, under ``root`` fails."""
    real_open, real_mkdir = os.open, os.mkdir
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def inside(path: Any) -> bool:
        return isinstance(path, str | Path) and Path(path).is_relative_to(root)

    def open_(path: Any, flags: int, mode: int = 0o777, **kwargs: Any) -> int:
        if inside(path) and flags & writing:
            raise OSError(code, os.strerror(code), str(path))
        return real_open(path, flags, mode, **kwargs)

    def mkdir(path: Any, mode: int = 0o777, **kwargs: Any) -> None:
        if inside(path) and os.path.lexists(path):  # as the kernel answers first
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(path))
        if inside(path):
            raise OSError(code, os.strerror(code), str(path))
        real_mkdir(path, mode, **kwargs)

    monkeypatch.setattr(os, "open", open_)
    monkeypatch.setattr(os, "mkdir", mkdir)


@pytest.mark.parametrize("existing", [False, True], ids=["new out dir", "veo3/ already there"])
def test_a_read_only_output_directory_is_one_typed_error_before_anything_is_sent(
    tmp_path: Path, fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch, existing: bool
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    if existing:
        (out / "veo3").mkdir()
    _read_only(monkeypatch, out)
    port = FakeVeo3Adapter()
    with pytest.raises(OutputWriteError) as info:
        orchestrator_on(port, out, fake_clock).run(PROMPTS)

    error = info.value
    assert isinstance(error, Veo3Error) and isinstance(error, OSError)
    assert error.errno == errno.EROFS and error.reason == "Read-only file system"
    named = out / "veo3" / ".veo3.lock" if existing else out / "veo3"
    assert error.path == named
    assert str(named) in str(error) and "Read-only file system" in str(error)
    assert "\n" not in str(error)
    assert error.operation_names == ()
    assert port.calls == []
    monkeypatch.undo()
    assert sorted(p.name for p in out.rglob("*")) == (["veo3"] if existing else [])


def test_jobs_json_that_cannot_be_written_stops_the_run_before_any_submit(
    tmp_path: Path, fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(path: Path, _data: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(store, "atomic_write_bytes", full)
    port = FakeVeo3Adapter()
    orch = orchestrator_on(port, tmp_path, fake_clock)
    with pytest.raises(OutputWriteError, match="No space left on device") as info:
        orch.run(PROMPTS)
    assert info.value.path == orch.jobs_path
    assert port.calls == []


def _journal_full_at(monkeypatch: pytest.MonkeyPatch, needle: bytes, *, torn: bool) -> list[bytes]:
    """The first journal line holding ``needle`` fails with ENOSPC (half written if ``torn``)."""
    real_write = os.write
    refused: list[bytes] = []

    def write(fd: int, data: Any) -> int:
        line = bytes(data)
        if not refused and needle in line and line.endswith(b"\n"):
            refused.append(line)
            if torn:
                real_write(fd, line[: len(line) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)  # what JobsJournal.append writes its lines with
    return refused


@pytest.mark.parametrize("torn", [False, True], ids=["nothing written", "half a line written"])
def test_a_journal_write_failing_right_after_a_submit_names_the_operation(
    tmp_path: Path,
    fake_clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    torn: bool,
) -> None:
    port = FakeVeo3Adapter()
    orch = orchestrator_on(port, tmp_path, fake_clock)
    refused = _journal_full_at(monkeypatch, b'"variant": "faulty"', torn=torn)
    with (
        caplog.at_level(logging.ERROR, logger="veo3_adapter"),
        pytest.raises(OutputWriteError) as info,
    ):
        orch.run(PROMPTS)

    operation = port.operations[-1]  # the fake's operation for the faulty submit
    assert b'"status": "submitted"' in refused[0] and operation.encode() in refused[0]
    error = info.value
    assert error.operation_names == (operation,)
    assert operation in str(error) and str(journal_path(orch.jobs_path)) in str(error)
    assert "No space left on device" in str(error) and "\n" not in str(error)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any(operation in message and "'faulty'" in message for message in errors)
    # Nothing after it was sent; what was recorded before it is still there.
    assert [c.variant for c in port.calls_to("submit_job")] == ["alpha", "faulty"]
    monkeypatch.undo()
    recorded = by_variant(read_jobs_json(orch.jobs_path))
    assert recorded["alpha"].status is JobStatus.SUBMITTED and recorded["alpha"].operation_name
    assert recorded["faulty"].status is JobStatus.PENDING and not recorded["faulty"].operation_name

    # Space again: the next run resumes alpha and sends the two never recorded as sent.
    jobs = by_variant(orchestrator_on(port, tmp_path, fake_clock).run(PROMPTS))
    assert all(job.status is JobStatus.DOWNLOADED for job in jobs.values())
    assert jobs["alpha"].operation_name == recorded["alpha"].operation_name
    assert [c.variant for c in port.calls_to("submit_job")] == ["alpha", "faulty"] + [
        "faulty",
        "omega",
    ]


def test_a_journal_write_failing_after_a_poll_stops_the_run_naming_the_journal(
    tmp_path: Path, fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = FakeVeo3Adapter()
    orch = orchestrator_on(port, tmp_path, fake_clock)
    _journal_full_at(monkeypatch, b'"status": "generated"', torn=False)
    with pytest.raises(OutputWriteError) as info:
        orch.run(PROMPTS)
    assert info.value.path == journal_path(orch.jobs_path)
    assert info.value.operation_names == ()  # every operation name was recorded before
    monkeypatch.undo()
    recorded = read_jobs_json(orch.jobs_path)
    # Every job sent has its operation in jobs.json; with submits paced (ten a minute), the
    # ones not yet sent when the run stopped are still pending, for resume to send.
    sent = [job for job in recorded if job.status is not JobStatus.PENDING]
    assert sent and all(job.operation_name for job in sent)
    assert {job.operation_name for job in sent} == set(port.operations)
