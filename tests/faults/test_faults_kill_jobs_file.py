"""Processes SIGKILLed while writing jobs.json (and its journal): the jobs file always reads,
as the old content or the new, never a torn one."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest
from _kit.faults import ForkServer, partials, wait_until
from fork_helper import job_list

from veo3_adapter import (
    FakeOutcome,
    FakeVeo3Adapter,
    JobStatus,
    Veo3Orchestrator,
    read_jobs_json,
    store,
    write_jobs_json,
)
from veo3_adapter.store import journal_path

KILLS = 20


def _killed(status: int) -> bool:
    return os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


def test_write_jobs_json_killed_at_random_moments_is_old_or_new(
    fork_server: ForkServer, tmp_path: Path
) -> None:
    path = tmp_path / "veo3" / "jobs.json"
    prompt_size = 3000  # ~6 KB a job: each write is a few hundred KB and takes milliseconds
    rand = random.Random(1234)
    count = 40
    write_jobs_json(path, job_list(count, prompt_size))
    for kill in range(KILLS):
        left = set(partials(path.parent))
        pid = fork_server.start("write_jobs", path=str(path), first=0, prompt_size=prompt_size)
        if kill % 2:  # at a random moment
            time.sleep(rand.uniform(0.0, 0.03))
        else:  # the moment a new version starts being written
            wait_until(lambda old=left: bool(set(partials(path.parent)) - old), what="a write")
        assert _killed(fork_server.kill(pid)), fork_server.log_text()

        jobs = read_jobs_json(path)  # never raises: old or new, never torn
        assert jobs == job_list(len(jobs), prompt_size)
        assert len(jobs) >= count  # a kill never takes the file back before an earlier state
        count = len(jobs)
    assert count > 41  # the workers did write, many times
    # Most of the kills timed to a write landed inside it (its temporary file is left over).
    assert len(partials(path.parent)) >= KILLS // 4


def test_orchestrator_killed_at_random_moments_always_resumes(
    fork_server: ForkServer, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    jobs_path = out / "veo3" / "jobs.json"
    rand = random.Random(4321)
    seen_journal = 0
    for round_ in range(KILLS):
        pid = fork_server.start("orchestrate", out=str(out), prompt_size=9000, batch=4)
        if round_:
            time.sleep(rand.uniform(0.005, 0.04))
        else:  # the first kill comes once there is something to lose, however busy the host
            _wait_for(jobs_path)
        # Still running when killed: its resume of what the last kill left did not fail.
        assert _killed(fork_server.kill(pid)), fork_server.log_text()
        seen_journal += journal_path(jobs_path).exists()
        jobs = read_jobs_json(jobs_path)
        assert jobs, "nothing was recorded"
        assert len({job.variant for job in jobs}) == len(jobs)
    assert seen_journal >= 1  # kills landed between folds, with changes only in the journal
    # The survivor: a last, undisturbed resume finishes every job that can be finished.
    fake = FakeVeo3Adapter(default=FakeOutcome.success())
    final = Veo3Orchestrator(fake, out, poll_interval=0, sleep=lambda _s: None).resume()
    assert partials(out) == []
    assert not journal_path(jobs_path).exists()
    assert read_jobs_json(jobs_path) == final


def _wait_for(path: Path, polls: int = 2000) -> None:
    """Return once ``path`` exists (polling every 5 ms, for at most ``polls`` polls)."""
    for _ in range(polls):
        if path.exists():
            return
        time.sleep(0.005)
    raise AssertionError(f"{path} never appeared")


class _StillRunning(FakeVeo3Adapter):
    """Every poll answers "still running"."""

    def __init__(self) -> None:
        super().__init__(default=FakeOutcome.success(polls=10**6))


def _ctrl_c(_seconds: float) -> None:
    raise KeyboardInterrupt


def test_a_torn_journal_record_survives_a_second_crash(tmp_path: Path) -> None:
    """A crash tore the journal's last record; the resume that follows is interrupted too.

    The reader skips a torn last record, but the resume must not glue its own records onto
    the torn one: that would make a record in the middle invalid, and the file unreadable.
    """
    port = _StillRunning()
    first = Veo3Orchestrator(port, tmp_path, poll_interval=5, timeout=0, sleep=lambda _s: None)
    (job,) = first.run({"a": "a clip"})
    assert job.error_message == "timeout"
    journal = journal_path(first.jobs_path)
    journal.write_bytes(b'{"variant": "a", "prompt": "a clip", "stat')  # the crash's leftover
    assert read_jobs_json(first.jobs_path) == [job]

    second = Veo3Orchestrator(port, tmp_path, poll_interval=5, sleep=_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        second.resume()  # records "a" as submitted again, polls, then the user hits Ctrl-C

    (again,) = read_jobs_json(first.jobs_path)
    assert again.status is JobStatus.SUBMITTED
    assert again.operation_name == job.operation_name
    (last,) = Veo3Orchestrator(
        FakeVeo3Adapter(), tmp_path, poll_interval=0, sleep=lambda _s: None
    ).resume()
    assert last.variant == "a"


def test_a_crash_right_after_a_rerun_is_recorded_keeps_the_rerun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash left a journal; the next run re-runs that variant with a new prompt, and
    crashes just after jobs.json holds the new job but before the old journal is removed.

    Replaying that stale journal over the new jobs.json would silently bring back the old
    job (old prompt, old operation): the re-run would be lost.
    """
    port = _StillRunning()
    with pytest.raises(KeyboardInterrupt):
        Veo3Orchestrator(port, tmp_path, poll_interval=5, sleep=_ctrl_c).run({"v": "old"})
    jobs_path = tmp_path / "veo3" / "jobs.json"
    assert journal_path(jobs_path).exists()
    assert read_jobs_json(jobs_path)[0].status is JobStatus.SUBMITTED

    real_write = store.atomic_write_bytes

    def crash_once_written(path: Path, data: bytes) -> None:
        real_write(path, data)
        if b'"prompt": "new"' in data:
            raise KeyboardInterrupt  # jobs.json is replaced; the journal is not yet removed

    monkeypatch.setattr(store, "atomic_write_bytes", crash_once_written)
    with pytest.raises(KeyboardInterrupt):
        Veo3Orchestrator(port, tmp_path, poll_interval=5, sleep=_ctrl_c).run({"v": "new"})
    monkeypatch.undo()

    (job,) = read_jobs_json(jobs_path)
    assert (job.prompt, job.status, job.operation_name) == ("new", JobStatus.PENDING, "")
