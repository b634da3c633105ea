"""jobs.json's journal: every change durable at once, total cost linear in the changes."""

from __future__ import annotations

import dataclasses
import errno
import json
import logging
import os
from pathlib import Path
from typing import Any

import pytest

from veo3_adapter import (
    FakeOutcome,
    FakeVeo3Adapter,
    JobsFileError,
    JobStatus,
    OutputWriteError,
    UnsafeOutputError,
    Veo3Job,
    Veo3Orchestrator,
    read_jobs_json,
    store,
    write_jobs_json,
)
from veo3_adapter.store import JobsJournal, journal_path


def _job(variant: str, status: JobStatus = JobStatus.PENDING) -> Veo3Job:
    return Veo3Job(variant=variant, prompt=f"prompt {variant}", status=status)


def test_a_journaled_change_is_visible_to_readers_before_any_fold(tmp_path: Path) -> None:
    path = tmp_path / "jobs.json"
    journal = JobsJournal(path)
    jobs = [_job("a"), _job("b")]
    journal.snapshot(jobs)
    changed = dataclasses.replace(jobs[1], status=JobStatus.SUBMITTED, operation_name="op/1")
    journal.append(changed, lambda: [jobs[0], changed])
    journal.close()

    assert json.loads(path.read_text())["jobs"][1]["status"] == "pending"  # not folded yet
    assert read_jobs_json(path) == [jobs[0], changed]


def test_a_record_cut_off_by_a_crash_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "jobs.json"
    write_jobs_json(path, [_job("a")])
    done = _job("a", JobStatus.SUBMITTED)
    line = json.dumps({"variant": "a", "prompt": "prompt a", "status": "submitted"})
    journal_path(path).write_text(line + "\n" + line[:20])

    assert read_jobs_json(path) == [done]


def test_a_corrupt_record_before_the_last_raises_naming_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "jobs.json"
    write_jobs_json(path, [_job("a")])
    journal = journal_path(path)
    journal.write_text('{"variant": "a", "prompt": 1}\n{"variant": "a", "prompt": "p"}\n')
    before = journal.read_bytes()

    with pytest.raises(JobsFileError, match=r"jobs\.json\.journal.*record 1"):
        read_jobs_json(path)
    assert journal.read_bytes() == before


@pytest.mark.parametrize("dangling", [False, True], ids=["to a file", "dangling"])
def test_appending_never_writes_through_a_journal_link(tmp_path: Path, dangling: bool) -> None:
    path = tmp_path / "jobs.json"
    journal = JobsJournal(path)
    journal.snapshot([_job("a")])
    target = tmp_path / "elsewhere"
    if not dangling:
        target.write_bytes(b"no trailing newline")  # a torn tail: repair would truncate it
    journal_path(path).symlink_to(target)

    with pytest.raises(UnsafeOutputError, match="a symbolic link") as info:
        journal.append(_job("a", JobStatus.SUBMITTED), lambda: [_job("a", JobStatus.SUBMITTED)])
    journal.close()

    assert info.value.path == journal_path(path)
    assert target.exists() is not dangling
    if not dangling:
        assert target.read_bytes() == b"no trailing newline"
    with pytest.raises(UnsafeOutputError):  # nor folded away by the next snapshot
        journal.snapshot([_job("a", JobStatus.FAILED)])
    assert journal_path(path).is_symlink()
    assert json.loads(path.read_text())["jobs"][0]["status"] == "pending"  # refused before


def test_writing_jobs_json_folds_the_journal_away(tmp_path: Path) -> None:
    path = tmp_path / "jobs.json"
    journal = JobsJournal(path)
    journal.snapshot([_job("a")])
    journal.append(_job("a", JobStatus.SUBMITTED), lambda: [_job("a", JobStatus.SUBMITTED)])
    assert journal_path(path).exists()

    journal.snapshot([_job("a", JobStatus.FAILED)])

    assert not journal_path(path).exists()
    assert read_jobs_json(path) == [_job("a", JobStatus.FAILED)]


def test_the_journal_is_folded_when_it_outgrows_jobs_json(tmp_path: Path) -> None:
    path = tmp_path / "jobs.json"
    journal = JobsJournal(path)
    jobs = {f"v{i}": _job(f"v{i}") for i in range(3)}
    journal.snapshot(list(jobs.values()))
    folds = 0
    for round_ in range(2000):
        variant = f"v{round_ % 3}"
        jobs[variant] = dataclasses.replace(jobs[variant], error_detail="x" * (round_ % 50))
        had_journal = journal_path(path).exists()
        journal.append(jobs[variant], lambda: list(jobs.values()))
        folds += had_journal and not journal_path(path).exists()
    journal.close()

    assert folds >= 1
    assert journal_path(path).stat().st_size <= max(path.stat().st_size, 64 * 1024) + 200
    assert read_jobs_json(path) == list(jobs.values())


@pytest.mark.parametrize("count", [50, 400])
def test_a_run_writes_bytes_linear_in_its_jobs(tmp_path: Path, count: int) -> None:
    written: list[int] = []
    real_append = JobsJournal.append
    real_snapshot = JobsJournal.snapshot

    def append(self: JobsJournal, job: Veo3Job, jobs: object) -> None:
        before = self.journal.stat().st_size if self.journal.exists() else 0
        real_append(self, job, jobs)  # type: ignore[arg-type]
        after = self.journal.stat().st_size if self.journal.exists() else 0
        written.append(max(0, after - before))

    def snapshot(self: JobsJournal, jobs: list[Veo3Job]) -> None:
        real_snapshot(self, jobs)
        written.append(self.path.stat().st_size)

    mp = pytest.MonkeyPatch()
    mp.setattr(JobsJournal, "append", append)
    mp.setattr(JobsJournal, "snapshot", snapshot)
    try:
        fake = FakeVeo3Adapter(default=FakeOutcome.success(polls=1))
        Veo3Orchestrator(fake, tmp_path, sleep=lambda _s: None, poll_interval=0).run(
            {f"v{i}": "a prompt" for i in range(count)}
        )
    finally:
        mp.undo()
    final_size = (tmp_path / "veo3" / "jobs.json").stat().st_size
    # Rewriting jobs.json on each of the ~3 changes per job would write ~1.5 * count * size.
    assert sum(written) <= 12 * final_size


def test_a_line_that_cannot_be_written_is_an_output_write_error_and_is_cut_off_next_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "jobs.json"
    journal = JobsJournal(path)
    journal.snapshot([_job("a")])
    real_write = os.write

    def half_then_full(fd: int, data: Any) -> int:
        real_write(fd, bytes(data)[:10])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(OutputWriteError) as info:
        journal.append(_job("a", JobStatus.SUBMITTED), lambda: [_job("a", JobStatus.SUBMITTED)])
    assert info.value.path == journal_path(path)
    assert info.value.errno == errno.ENOSPC and isinstance(info.value, OSError)
    assert read_jobs_json(path) == [_job("a")]  # the torn line is not a change

    monkeypatch.undo()
    journal.append(_job("a", JobStatus.FAILED), lambda: [_job("a", JobStatus.FAILED)])
    journal.close()
    assert journal_path(path).read_bytes().count(b"\n") == 1  # the torn piece was cut off
    assert read_jobs_json(path) == [_job("a", JobStatus.FAILED)]


def test_a_fold_that_fails_is_a_warning_and_the_journal_keeps_every_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "jobs.json"
    journal = JobsJournal(path)
    jobs = {f"v{i}": _job(f"v{i}") for i in range(3)}
    journal.snapshot(list(jobs.values()))

    def full(dest: Path, _data: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dest))

    monkeypatch.setattr(store, "atomic_write_bytes", full)
    with caplog.at_level(logging.WARNING, logger="veo3_adapter.store"):
        for round_ in range(400):  # several times what triggers a fold
            variant = f"v{round_ % 3}"
            jobs[variant] = dataclasses.replace(jobs[variant], error_detail="x" * 400)
            journal.append(jobs[variant], lambda: list(jobs.values()))
    journal.close()

    assert "could not be rewritten" in caplog.text and "No space left" in caplog.text
    assert len(caplog.records) <= 4  # retried once as much again is appended, not every time
    assert read_jobs_json(path) == list(jobs.values())
    with pytest.raises(OutputWriteError, match="No space left on device"):
        journal.snapshot(list(jobs.values()))
