"""Veo3Orchestrator with FakeVeo3Adapter: a refusal certain to repeat stops the batch."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from veo3_adapter import (
    ErrorCode,
    FakeOutcome,
    FakeVeo3Adapter,
    GenerationOptions,
    JobStatus,
    Veo3Job,
    Veo3Orchestrator,
    read_jobs_json,
    write_jobs_json,
)

if TYPE_CHECKING:
    from _kit.clock import FakeClock

PROMPTS = {"a": "a cat", "b": "a dog", "c": "a fox"}


def make(
    port: object, out: Path, clock: FakeClock, on_change: Callable[[Veo3Job], None] | None = None
) -> Veo3Orchestrator:
    return Veo3Orchestrator(
        port,  # type: ignore[arg-type]
        out,
        poll_interval=10.0,
        sleep=clock.sleep,
        clock=clock,
        now=lambda: "2025-01-01T00:00:00+00:00",
        on_change=on_change,
    )


def by_variant(jobs: list[Veo3Job]) -> dict[str, Veo3Job]:
    return {job.variant: job for job in jobs}


def submitted(fake: FakeVeo3Adapter) -> list[str]:
    return [call.variant for call in fake.calls_to("submit_job")]


@pytest.mark.parametrize(
    ("outcome", "code"),
    [
        (FakeOutcome.quota_exhausted(), ErrorCode.QUOTA_EXHAUSTED),
        (
            FakeOutcome.submit_failed(status_code=404, detail="models/x is not found"),
            "submit_failed",
        ),
        (FakeOutcome.submit_failed(status_code=401), ErrorCode.SUBMIT_FAILED),
        (FakeOutcome.submit_failed(status_code=403), ErrorCode.SUBMIT_FAILED),
    ],
    ids=["daily-quota", "unknown-model", "unauthenticated", "forbidden"],
)
def test_a_batch_stopping_refusal_sends_no_other_job(
    tmp_path: Path, fake_clock: FakeClock, outcome: FakeOutcome, code: str
) -> None:
    fake = FakeVeo3Adapter(default=outcome)
    changes: list[Veo3Job] = []
    orch = make(fake, tmp_path, fake_clock, changes.append)
    jobs = by_variant(orch.run(PROMPTS))

    assert submitted(fake) == ["a"]
    assert fake.calls_to("poll_job") == [] and fake_clock.sleep.delays == []
    for job in jobs.values():
        assert (job.status, job.error_message, job.operation_name) == (JobStatus.FAILED, code, "")
        assert job.batch_stopped_by == "a"
    assert not jobs["a"].error_detail.startswith("not sent")
    for variant in ("b", "c"):
        detail = jobs[variant].error_detail
        assert detail.startswith("not sent: this run stopped sending jobs after this refusal: ")
        assert detail.endswith(jobs["a"].error_detail)
    # Every change was announced, and jobs.json holds what was returned.
    assert [j.variant for j in changes if j.status is JobStatus.FAILED] == ["a", "b", "c"]
    assert read_jobs_json(orch.jobs_path) == list(jobs.values())
    raw = json.loads(orch.jobs_path.read_text(encoding="utf-8"))["jobs"]
    assert {j["variant"]: j["batch_stopped_by"] for j in raw} == dict.fromkeys(PROMPTS, "a")


def test_jobs_already_submitted_go_on_after_the_batch_stops(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    fake = FakeVeo3Adapter(
        {"b": FakeOutcome.quota_exhausted()}, default=FakeOutcome.success(polls=1)
    )
    jobs = by_variant(make(fake, tmp_path, fake_clock).run(PROMPTS))

    assert submitted(fake) == ["a", "b"]
    assert jobs["a"].status is JobStatus.DOWNLOADED
    assert (jobs["b"].error_message, jobs["b"].batch_stopped_by) == ("quota_exhausted", "b")
    assert (jobs["c"].error_message, jobs["c"].batch_stopped_by) == ("quota_exhausted", "b")
    assert "variant 'b'" in jobs["c"].error_detail


def test_an_ordinary_refusal_does_not_stop_the_batch(tmp_path: Path, fake_clock: FakeClock) -> None:
    fake = FakeVeo3Adapter({"a": FakeOutcome.submit_failed(status_code=400, detail="bad prompt")})
    jobs = by_variant(make(fake, tmp_path, fake_clock).run(PROMPTS))

    assert submitted(fake) == ["a", "b", "c"]
    assert (jobs["a"].error_message, jobs["a"].batch_stopped_by) == ("submit_failed", "")
    assert jobs["b"].status is jobs["c"].status is JobStatus.DOWNLOADED


def test_resume_sends_the_stopped_jobs_once_the_cause_is_gone(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    fake = FakeVeo3Adapter(default=FakeOutcome.quota_exhausted())
    first = make(fake, tmp_path, fake_clock).run(PROMPTS)
    fake.default = FakeOutcome.success(polls=1)  # the quota has reset

    jobs = by_variant(make(fake, tmp_path, fake_clock).resume())

    assert submitted(fake) == ["a", "a", "b", "c"]
    for variant, job in jobs.items():
        assert job.status is JobStatus.DOWNLOADED, variant
        assert (job.error_message, job.error_detail, job.batch_stopped_by) == ("", "", "")
        assert job.operation_name
    assert [j.created_at for j in jobs.values()] == [j.created_at for j in first]
    assert read_jobs_json(tmp_path / "veo3" / "jobs.json") == list(jobs.values())


def test_resume_stops_again_if_the_cause_is_still_there(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    fake = FakeVeo3Adapter(default=FakeOutcome.submit_failed(status_code=404))
    make(fake, tmp_path, fake_clock).run(PROMPTS)
    fake.script("b", FakeOutcome.quota_exhausted())
    fake.default = FakeOutcome.success()
    jobs = by_variant(make(fake, tmp_path, fake_clock).resume())

    # a is sent and succeeds; b meets the daily quota; c is not sent, and says why.
    assert submitted(fake) == ["a", "a", "b"]
    assert jobs["a"].status is JobStatus.DOWNLOADED and jobs["a"].batch_stopped_by == ""
    assert (jobs["b"].error_message, jobs["b"].batch_stopped_by) == ("quota_exhausted", "b")
    assert (jobs["c"].error_message, jobs["c"].batch_stopped_by) == ("quota_exhausted", "b")
    assert "per-day quota" in jobs["c"].error_detail


def test_resume_polls_live_operations_and_sends_only_the_unsent(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    fake = FakeVeo3Adapter(default=FakeOutcome.success(polls=1))
    running = fake.submit_job("live", "a running job")  # as if the process died after submit
    stopped = Veo3Job("c", "a fox").failed(ErrorCode.QUOTA_EXHAUSTED, "not sent: quota")
    stopped_by = Veo3Job("b", "a dog").failed(ErrorCode.QUOTA_EXHAUSTED, "per-day quota")
    final = Veo3Job("d", "bad").failed(ErrorCode.SUBMIT_FAILED, "HTTP 400 bad prompt")
    write_jobs_json(
        tmp_path / "veo3" / "jobs.json",
        [
            running,
            _stopped(stopped_by, "b"),
            _stopped(stopped, "b"),
            final,
        ],
    )
    jobs = by_variant(make(fake, tmp_path, fake_clock).resume())

    assert submitted(fake) == ["live", "b", "c"]  # d's refusal was final: not sent again
    assert {v: j.status for v, j in jobs.items()} == {
        "live": JobStatus.DOWNLOADED,
        "b": JobStatus.DOWNLOADED,
        "c": JobStatus.DOWNLOADED,
        "d": JobStatus.FAILED,
    }
    assert jobs["live"].operation_name == running.operation_name  # polled, not resubmitted
    assert jobs["d"] == final


def test_a_stopped_job_that_somehow_has_an_operation_is_polled_not_sent(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    fake = FakeVeo3Adapter()
    live = fake.submit_job("a", "p")
    failed = _stopped(live.failed(ErrorCode.TIMEOUT, "still running"), "a")
    write_jobs_json(tmp_path / "veo3" / "jobs.json", [failed])
    (job,) = make(fake, tmp_path, fake_clock).resume()
    assert job.status is JobStatus.DOWNLOADED
    assert submitted(fake) == ["a"]


def test_the_stopped_job_keeps_its_options_for_the_next_submit(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    fake = FakeVeo3Adapter(default=FakeOutcome.quota_exhausted())
    options = {"b": GenerationOptions(aspect_ratio="9:16", model="veo-3.1-fast-generate-001")}
    make(fake, tmp_path, fake_clock).run(PROMPTS, options=options)
    fake.default = FakeOutcome.success()
    jobs = by_variant(make(fake, tmp_path, fake_clock).resume())
    assert jobs["b"].options.aspect_ratio == "9:16"
    assert jobs["b"].operation_name.startswith("models/veo-3.1-fast-generate-001/operations/")


def _stopped(job: Veo3Job, by: str) -> Veo3Job:
    return dataclasses.replace(job, batch_stopped_by=by)
