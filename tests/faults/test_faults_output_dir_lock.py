"""Two orchestrators on one output directory: the second is refused at once, in the same
process or another, and writes nothing; a killed holder leaves no stale lock.

(tests/unit/test_orchestrator.py::test_second_orchestrator_on_same_directory_is_refused
covers the refusal from inside the first run's own port call.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from _kit.faults import ForkServer, tree, wait_until

from veo3_adapter import (
    FakeVeo3Adapter,
    JobStatus,
    OutputDirInUseError,
    Veo3Job,
    Veo3Orchestrator,
    read_jobs_json,
)


def _orchestrator(out: Path) -> Veo3Orchestrator:
    return Veo3Orchestrator(FakeVeo3Adapter(), out, poll_interval=0, sleep=lambda _s: None)


def _attempts(out: Path) -> dict[str, Callable[[], object]]:
    return {
        "run": lambda: _orchestrator(out).run({"intruder": "a clip that must not start"}),
        "resume": lambda: _orchestrator(out).resume(),
    }


def _assert_refused(out: Path) -> None:
    before = tree(out)
    for attempt in _attempts(out).values():
        with pytest.raises(OutputDirInUseError) as info:  # a blocking lock would hang here
            attempt()
        assert isinstance(info.value, RuntimeError)
        assert "in use" in str(info.value)
        assert str(out / "veo3") in str(info.value)
    assert tree(out) == before  # nothing written, nothing removed, not even a temporary file


class _Blocking(FakeVeo3Adapter):
    """Polls block until the test lets them go."""

    def __init__(self) -> None:
        super().__init__()
        self.polling = threading.Event()
        self.go = threading.Event()

    def poll_job(self, job: Veo3Job) -> Veo3Job:
        self.polling.set()
        assert self.go.wait(10)
        return super().poll_job(job)


def test_second_orchestrator_in_the_same_process_fails_at_once(out: Path) -> None:
    port = _Blocking()
    first = Veo3Orchestrator(port, out, poll_interval=0, sleep=lambda _s: None)
    results: list[list[Veo3Job]] = []
    worker = threading.Thread(target=lambda: results.append(first.run({"a": "a clip"})))
    worker.start()
    try:
        assert port.polling.wait(10)
        _assert_refused(out)
    finally:
        port.go.set()
        worker.join(10)
    ((job,),) = results
    assert job.status is JobStatus.DOWNLOADED
    assert [j.variant for j in read_jobs_json(first.jobs_path)] == ["a"]
    # Released when the run ended: the next orchestrator gets in.
    (after,) = _orchestrator(out).run({"b": "another clip"})
    assert after.status is JobStatus.DOWNLOADED


def test_second_orchestrator_in_another_process_fails_at_once(
    fork_server: ForkServer, out: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "holding"
    pid = fork_server.start("hold_lock", out=str(out), marker=str(marker))
    try:
        wait_until(marker.exists, timeout=10, what="the other process to hold the lock")
        _assert_refused(out)
    finally:
        fork_server.kill(pid)
    # The kernel drops a killed holder's lock: no stale lock file blocks the next run.
    (job,) = _orchestrator(out).run({"b": "another clip"})
    assert job.status is JobStatus.DOWNLOADED
    assert {j.variant for j in read_jobs_json(out / "veo3" / "jobs.json")} == {"holder", "b"}
