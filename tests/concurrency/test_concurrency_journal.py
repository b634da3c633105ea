"""Many jobs at once through ``Veo3Orchestrator``: one writer, and jobs.json equal to what the
run returned, whatever order the requests finished in."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from _kit.timed import TinyPort

from veo3_adapter import (
    FakeOutcome,
    FakeVeo3Adapter,
    JobStatus,
    PollError,
    SubmitError,
    Veo3Job,
    Veo3Orchestrator,
    read_jobs_json,
)
from veo3_adapter._timebase import VirtualTime
from veo3_adapter.models import ErrorCode
from veo3_adapter.store import journal_path

Make = Callable[..., Veo3Orchestrator]
VARIANTS = tuple(f"v{i:02d}" for i in range(24))
PROMPTS = {variant: f"a clip called {variant}" for variant in VARIANTS}


def _busy_port(vt: VirtualTime) -> TinyPort:
    """Requests that take time, generations of different lengths, and a few failures."""
    port = TinyPort(vt)
    port.waits.update({("submit", "*"): 1.0, ("poll", "*"): 0.5, ("download", "*"): 7.0})
    port.running.update({v: i % 4 for i, v in enumerate(VARIANTS)})
    port.refusals["v03"] = [SubmitError("submit of v03 was refused: HTTP 400", status_code=400)]
    port.poll_failures["v07"] = [PollError("HTTP 403 PERMISSION_DENIED", status_code=403)]
    port.poll_failures["v11"] = [PollError("HTTP 503", status_code=503)]  # polled again
    return port


def test_jobs_json_after_a_concurrent_run_equals_the_jobs_returned(
    vt: VirtualTime, make: Make
) -> None:
    port = _busy_port(vt)
    seen: list[tuple[int, Veo3Job]] = []
    orchestrator = make(
        port, concurrency=6, on_change=lambda job: seen.append((threading.get_ident(), job))
    )

    jobs = orchestrator.run(PROMPTS)

    assert port.peak == 6  # the run did use its six requests at once
    assert read_jobs_json(orchestrator.jobs_path) == jobs == orchestrator.jobs()
    assert not journal_path(orchestrator.jobs_path).exists()  # folded at the end
    statuses = {job.variant: (job.status, job.error_message) for job in jobs}
    assert statuses.pop("v03") == (JobStatus.FAILED, ErrorCode.SUBMIT_FAILED.value)
    assert statuses.pop("v07") == (JobStatus.FAILED, ErrorCode.POLL_FAILED.value)
    assert set(statuses.values()) == {(JobStatus.DOWNLOADED, "")}
    # Every change went through one thread, the caller's; the last one of each job is the
    # job returned, and each operation was submitted once.
    assert {thread for thread, _ in seen} == {threading.get_ident()}
    assert {job.variant: job for _, job in seen} == {job.variant: job for job in jobs}
    assert len(port.names) == len(set(port.names)) == len(VARIANTS) - 1


def test_the_journal_records_the_changes_in_the_order_on_change_saw_them(
    vt: VirtualTime, make: Make, tmp_path: Path
) -> None:
    lines: list[tuple[str, str]] = []
    journal = journal_path(tmp_path / "out" / "veo3" / "jobs.json")

    def on_change(job: Veo3Job) -> None:
        if journal.exists():  # each change is in the journal before on_change hears of it
            last = json.loads(journal.read_text(encoding="utf-8").splitlines()[-1])
            lines.append((last["variant"], last["status"]))
            assert (job.variant, job.status.value) == lines[-1]

    fake = FakeVeo3Adapter(
        {"v02": "rai_filtered", "v05": FakeOutcome.download_failed()},
        default=FakeOutcome.success(polls=2),
    )
    jobs = make(fake, concurrency=4, on_change=on_change).run(PROMPTS)

    assert len(lines) >= 3 * len(VARIANTS) - 2  # submitted, generated, downloaded: each seen
    assert read_jobs_json(tmp_path / "out" / "veo3" / "jobs.json") == jobs


@pytest.mark.parametrize("concurrency", [1, 3, 16])
def test_any_concurrency_ends_with_the_same_jobs(
    vt: VirtualTime, make: Make, concurrency: int
) -> None:
    port = _busy_port(vt)
    jobs = make(port, concurrency=concurrency).run(PROMPTS)
    assert port.peak == min(concurrency, len(VARIANTS))
    failed = {"v03": ErrorCode.SUBMIT_FAILED.value, "v07": ErrorCode.POLL_FAILED.value}
    assert {j.variant: j.error_message for j in jobs} == {v: failed.get(v, "") for v in VARIANTS}
    assert all(j.status is JobStatus.DOWNLOADED for j in jobs if j.variant not in failed)
