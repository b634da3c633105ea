"""The scheduler: many jobs at once, paced and bounded, in virtual time.

``VirtualTime`` only moves when the dispatcher waits and every busy worker sleeps on it, so
the time stamps below are those real time would give with instant requests, and no test
waits for real. ``TinyPort`` makes each request take the (virtual) time a test gives it.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from _kit.clock import FakeClock
from _kit.emulator import MODEL, emulator_wire
from _kit.keys import make_api_key
from _kit.sdk import needs_gemini_submit
from _kit.timed import Through, TinyPort

from veo3_adapter import (
    FakeOutcome,
    FakeVeo3Adapter,
    GeminiVeo3Adapter,
    JobStatus,
    PollError,
    QuotaExhaustedError,
    RetryPolicy,
    SubmitError,
    Veo3Job,
    read_jobs_json,
)
from veo3_adapter._scheduler import Outcome, Pacing, Scheduler
from veo3_adapter._timebase import VirtualTime
from veo3_adapter.emulator import Emulator, Scenario
from veo3_adapter.errors import ConfigurationError, OutputWriteError
from veo3_adapter.models import ErrorCode
from veo3_adapter.store import JobsJournal, journal_path

SUBMITTED, GENERATED, DOWNLOADED, FAILED = (
    JobStatus.SUBMITTED,
    JobStatus.GENERATED,
    JobStatus.DOWNLOADED,
    JobStatus.FAILED,
)


class Writer:
    """The single writer: every change, with the virtual time and the thread it came in."""

    def __init__(self, time: VirtualTime) -> None:
        self.time = time
        self.changes: list[tuple[float, int, Veo3Job]] = []

    def __call__(self, job: Veo3Job) -> Veo3Job:
        self.changes.append((self.time.monotonic(), threading.get_ident(), job))
        return job

    def statuses(self, variant: str) -> list[JobStatus]:
        return [job.status for _, _, job in self.changes if job.variant == variant]

    def when(self, variant: str, status: JobStatus) -> float:
        return next(
            t for t, _, job in self.changes if job.variant == variant and job.status is status
        )

    def final(self) -> dict[str, Veo3Job]:
        return {job.variant: job for _, _, job in self.changes}


@pytest.fixture
def vt() -> VirtualTime:
    return VirtualTime()


@pytest.fixture
def writer(vt: VirtualTime) -> Writer:
    return Writer(vt)


def make(
    port: object,
    record: Callable[[Veo3Job], Veo3Job],
    vt: VirtualTime,
    tmp_path: Path,
    *,
    rand: Callable[[], float] = lambda: 0.5,
    **pacing: object,
) -> Scheduler:
    """A scheduler on virtual time: unpaced, polls every 10 s, no jitter unless asked."""
    settings: dict[str, object] = {"submit_rate": None, "poll_interval": 10.0, "poll_jitter": 0.0}
    settings.update(pacing)
    return Scheduler(
        port,  # type: ignore[arg-type]
        record=record,
        clip_path=lambda variant: tmp_path / f"{variant}.mp4",
        pacing=Pacing(**settings),  # type: ignore[arg-type]
        time=vt,
        rand=rand,
    )


def jobs(*variants: str) -> list[Veo3Job]:
    return [Veo3Job(variant=v, prompt=f"a clip called {v}") for v in variants]


def names(count: int) -> tuple[str, ...]:
    return tuple(f"v{i}" for i in range(count))


# -- jobs advance on their own ---------------------------------------------------------------


def test_a_download_in_a_long_retry_after_does_not_delay_another(
    vt: VirtualTime, writer: Writer, tmp_path: Path
) -> None:
    port = TinyPort(vt)
    port.waits[("download", "a")] = 120.0  # a 503 with Retry-After: 120 inside the adapter
    make(port, writer, vt, tmp_path).run(jobs("a", "b"))
    assert writer.when("b", DOWNLOADED) == 10.0  # polled at 10, downloaded at once
    assert writer.when("a", DOWNLOADED) == 130.0
    assert [job.variant for _, _, job in writer.changes if job.status is DOWNLOADED] == ["b", "a"]


def test_with_the_real_adapter_a_retry_after_holds_only_its_own_download(
    vt: VirtualTime, writer: Writer, tmp_path: Path
) -> None:
    key = make_api_key()
    emulator = Emulator(key, clock=vt.monotonic, sleep=vt.sleep, seed=7)
    emulator.rule("slow", Scenario(download_failures=(503,), retry_after=120.0))
    wire = emulator_wire(emulator, key)
    running = []
    for variant, prompt in (("a", "a slow cat"), ("b", "a quick dog")):
        name = wire(prompt, MODEL)
        assert name
        running.append(
            Veo3Job(variant=variant, prompt=prompt, status=SUBMITTED, operation_name=name)
        )
    with httpx.Client(transport=emulator.transport(), follow_redirects=False) as http:
        adapter = GeminiVeo3Adapter(
            key,
            base_url=emulator.api_base,
            http_client=http,
            sleep=vt.sleep,
            rand=lambda: 0.0,
            retry=RetryPolicy(attempts=3, jitter=0.0),
        )
        outcome = make(adapter, writer, vt, tmp_path).run([], running)
    assert writer.statuses("b") == [GENERATED, DOWNLOADED]
    assert writer.when("b", DOWNLOADED) == 0.0
    assert writer.when("a", DOWNLOADED) == 120.0  # the media server's wait, its own alone
    assert outcome == Outcome()
    assert (tmp_path / "a.mp4").stat().st_size == (tmp_path / "b.mp4").stat().st_size > 0


def test_the_cap_on_requests_and_downloads_holds(
    vt: VirtualTime, writer: Writer, tmp_path: Path
) -> None:
    port = TinyPort(vt, running=2)
    port.waits.update({("submit", "*"): 1.0, ("poll", "*"): 1.0, ("download", "*"): 5.0})
    variants = names(12)
    make(port, writer, vt, tmp_path, concurrency=3, downloads=2, poll_interval=0.5).run(
        jobs(*variants)
    )
    assert (port.peak, port.peak_downloads) == (3, 2)
    assert all(writer.final()[v].status is DOWNLOADED for v in variants)


def test_each_job_is_polled_on_its_own_growing_schedule(
    vt: VirtualTime, writer: Writer, tmp_path: Path
) -> None:
    port = TinyPort(vt, running=5)
    make(
        port, writer, vt, tmp_path, poll_interval=2.0, poll_growth=2.0, max_poll_interval=10.0
    ).run(jobs("a"))
    assert port.starts("poll") == [2.0, 6.0, 14.0, 24.0, 34.0, 44.0]


def test_polls_are_spread_by_the_jitter(vt: VirtualTime, writer: Writer, tmp_path: Path) -> None:
    port = TinyPort(vt, running=2)
    longest = make(port, writer, vt, tmp_path, poll_jitter=0.1, rand=lambda: 1.0)
    longest.run(jobs("a"))
    assert port.starts("poll") == pytest.approx([11.0, 22.0, 33.0])


def test_a_job_still_running_after_the_timeout_fails_and_the_others_go_on(
    vt: VirtualTime, writer: Writer, tmp_path: Path
) -> None:
    port = TinyPort(vt)
    port.running["never"] = 10**6
    make(port, writer, vt, tmp_path, timeout=30.0, submit_rate=6.0).run(jobs("never", "late"))
    never = writer.final()["never"]
    assert (never.status, never.error_message) == (FAILED, ErrorCode.TIMEOUT.value)
    assert writer.when("never", FAILED) == 30.0  # polled at 10, 20 and at its deadline
    assert writer.final()["late"].status is DOWNLOADED
    assert port.starts("submit", "late") == [10.0]


def test_a_transient_poll_failure_is_polled_again(
    vt: VirtualTime, writer: Writer, tmp_path: Path
) -> None:
    port = TinyPort(vt)
    port.poll_failures["a"] = [PollError("poll of a failed: HTTP 503", status_code=503)]
    make(port, writer, vt, tmp_path).run(jobs("a"))
    assert port.starts("poll") == [10.0, 20.0]
    assert writer.statuses("a") == [SUBMITTED, GENERATED, DOWNLOADED]


# -- pacing and the shared backoff -----------------------------------------------------------


def test_pacing_holds_the_submit_rate(vt: VirtualTime, writer: Writer, tmp_path: Path) -> None:
    port = TinyPort(vt)
    make(port, writer, vt, tmp_path, submit_rate=6.0, concurrency=8).run(jobs(*names(14)))
    starts = port.starts("submit")
    assert starts == [10.0 * i for i in range(14)]
    assert all(sum(1 for s in starts if t <= s < t + 60) <= 6 for t in starts)


def test_unpaced_submits_go_as_fast_as_the_concurrency_allows(
    vt: VirtualTime, writer: Writer, tmp_path: Path
) -> None:
    port = TinyPort(vt)
    port.waits[("submit", "*")] = 1.0
    make(port, writer, vt, tmp_path, concurrency=4).run(jobs(*names(8)))
    # The first goes alone (a refusal that stops the batch would stop it there), then four
    # at a time.
    assert port.starts("submit") == [0.0] + [1.0] * 4 + [2.0] * 3


def test_a_429_on_one_submit_holds_the_submits_and_polls_of_the_others(
    vt: VirtualTime, writer: Writer, tmp_path: Path
) -> None:
    port = TinyPort(vt)
    port.retries[("submit", "v2")] = 30.0  # the adapter's own retry after a per-minute 429
    make(port, writer, vt, tmp_path, submit_rate=60.0, poll_interval=5.0).run(jobs(*names(6)))
    assert port.starts("submit") == [0.0, 1.0, 2.0, 32.0, 33.0, 34.0]
    assert not [s for s in port.starts("poll") if 2.0 < s < 32.0]
    assert port.starts("poll", "v0") == [32.0]  # due at 5, held with the rest
    assert all(job.status is DOWNLOADED for job in writer.final().values())


def test_a_throttled_submit_is_sent_again_after_the_shared_wait(
    vt: VirtualTime, writer: Writer, tmp_path: Path
) -> None:
    port = TinyPort(vt)
    port.refusals["v1"] = [SubmitError("submit of v1 was refused: HTTP 429", status_code=429)]
    make(port, writer, vt, tmp_path, submit_rate=60.0, throttle_wait=20.0).run(jobs(*names(4)))
    assert port.starts("submit") == [0.0, 1.0, 21.0, 22.0, 23.0]
    assert port.starts("submit", "v1") == [1.0, 21.0]
    assert writer.statuses("v1") == [SUBMITTED, GENERATED, DOWNLOADED]  # no failure recorded


def test_a_submit_throttled_too_often_fails(
    vt: VirtualTime, writer: Writer, tmp_path: Path
) -> None:
    port = TinyPort(vt)
    port.refusals["a"] = [SubmitError("HTTP 429", status_code=429) for _ in range(2)]
    make(port, writer, vt, tmp_path, throttled_submits=1, throttle_wait=5.0).run(jobs("a"))
    failed = writer.final()["a"]
    assert (failed.status, failed.error_message) == (FAILED, ErrorCode.SUBMIT_FAILED.value)
    assert port.starts("submit") == [0.0, 5.0]


def test_a_429_on_a_poll_holds_every_poll(vt: VirtualTime, writer: Writer, tmp_path: Path) -> None:
    port = TinyPort(vt)
    port.poll_failures["v0"] = [PollError("HTTP 429", status_code=429)]
    make(port, writer, vt, tmp_path, throttle_wait=30.0, submit_rate=60.0).run(jobs("v0", "v1"))
    assert port.starts("poll", "v0") == [10.0, 40.0]
    assert port.starts("poll", "v1") == [40.0]  # due at 11, held


@needs_gemini_submit
def test_with_the_real_adapter_a_per_minute_429_holds_the_other_submits(
    vt: VirtualTime, writer: Writer, tmp_path: Path
) -> None:
    key = make_api_key()
    emulator = Emulator(key, clock=vt.monotonic, sleep=vt.sleep, seed=7)
    emulator.queue(Scenario(submit_status=429, retry_after=30.0))  # the first submit only
    with httpx.Client(transport=emulator.transport(), follow_redirects=False) as http:
        adapter = GeminiVeo3Adapter(
            key, base_url=emulator.api_base, http_client=http, sleep=vt.sleep, rand=lambda: 0.0
        )
        port = Through(vt, adapter)
        make(port, writer, vt, tmp_path, submit_rate=60.0).run(jobs(*names(3)))
    assert port.starts("submit") == [0.0, 30.0, 31.0]  # v0 waited 30 s inside the adapter
    assert writer.when("v0", SUBMITTED) == 30.0
    assert all(job.status is DOWNLOADED for job in writer.final().values())


# -- the per-day quota, stopping, the single writer ------------------------------------------


def test_a_per_day_quota_stops_the_sending(vt: VirtualTime, writer: Writer, tmp_path: Path) -> None:
    fake = FakeVeo3Adapter({"v2": FakeOutcome.quota_exhausted()})
    outcome = make(fake, writer, vt, tmp_path, concurrency=1).run(jobs(*names(5)))
    assert isinstance(outcome.stop, QuotaExhaustedError)
    assert outcome.stopped_by == "v2"
    final = writer.final()
    assert [final[v].status for v in ("v0", "v1")] == [DOWNLOADED, DOWNLOADED]
    for variant in ("v2", "v3", "v4"):
        assert final[variant].error_message == ErrorCode.QUOTA_EXHAUSTED.value
        assert final[variant].batch_stopped_by == "v2"
    assert final["v3"].error_detail.startswith("not sent: ")
    assert [call.variant for call in fake.calls_to("submit_job")] == ["v0", "v1", "v2"]


def test_stop_sends_nothing_more_and_reports_every_operation_name(
    vt: VirtualTime, writer: Writer, tmp_path: Path
) -> None:
    port = TinyPort(vt)
    port.waits.update({("submit", "*"): 2.0, ("submit", "v0"): 0.0})

    def record(job: Veo3Job) -> Veo3Job:
        if job.variant == "v1":
            scheduler.stop()  # at t=2.5: the submits of v2..v4 are in flight
        return writer(job)

    scheduler = make(port, record, vt, tmp_path, submit_rate=120.0, stop_grace=5.0)
    outcome = scheduler.run(jobs(*names(8)))
    assert outcome.stopped
    assert outcome.unsent == ("v5", "v6", "v7")
    assert sorted(outcome.operations.values()) == sorted(port.names)
    assert len(port.names) == 5
    recorded = {j.operation_name for _, _, j in writer.changes if j.operation_name}
    assert recorded == set(port.names)
    assert outcome.abandoned == ()
    assert not port.starts("poll")


def test_a_submit_slower_than_the_grace_is_abandoned_and_its_name_logged(
    vt: VirtualTime, writer: Writer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = TinyPort(vt)
    port.waits.update({("submit", "v1"): 60.0, ("submit", "v2"): 1.5})

    def record(job: Veo3Job) -> Veo3Job:
        if job.variant == "v2":
            scheduler.stop()
        return writer(job)

    scheduler = make(port, record, vt, tmp_path, submit_rate=60.0, stop_grace=5.0)
    with caplog.at_level(logging.ERROR, logger="veo3_adapter.orchestrator"):
        outcome = scheduler.run(jobs(*names(3)))
        assert outcome.abandoned == ("v1",)
        assert vt.monotonic() == 8.5  # v1 went out at 1, the stop came at 3.5, 5 s of grace
        while vt.monotonic() < 100.0:  # let v1's answer arrive, after the run
            vt.pause(100.0)
    assert port.names[-1] in caplog.text
    assert "jobs.json does not have" in caplog.text


def test_stop_before_the_run_sends_nothing(vt: VirtualTime, writer: Writer, tmp_path: Path) -> None:
    port = TinyPort(vt)
    scheduler = make(port, writer, vt, tmp_path)
    scheduler.stop()
    outcome = scheduler.run(jobs("a", "b"))
    assert (outcome.stopped, outcome.unsent, port.log) == (True, ("a", "b"), [])
    assert scheduler.run(jobs("c")).operations.keys() == {"c"}  # the next run is not stopped


def test_an_interrupt_gives_the_submits_their_grace_then_propagates(
    vt: VirtualTime, writer: Writer, tmp_path: Path
) -> None:
    port = TinyPort(vt)
    port.waits.update({("submit", "*"): 2.0, ("submit", "v0"): 0.0})
    interrupted: list[bool] = []

    def record(job: Veo3Job) -> Veo3Job:
        if job.variant == "v1" and not interrupted:
            interrupted.append(True)
            raise KeyboardInterrupt  # at t=2.5: the submits of v2..v4 are in flight
        return writer(job)

    with pytest.raises(KeyboardInterrupt):
        make(port, record, vt, tmp_path, submit_rate=120.0).run(jobs(*names(7)))
    recorded = {j.operation_name for _, _, j in writer.changes}
    assert recorded == set(port.names) - {port.names[1]}  # v1's name went to the log
    assert len(port.names) == 5


def test_a_journal_that_cannot_be_written_names_the_started_operation(
    vt: VirtualTime, tmp_path: Path
) -> None:
    port = TinyPort(vt)

    def record(job: Veo3Job) -> Veo3Job:
        raise OutputWriteError(tmp_path / "jobs.json.journal", "No space left on device")

    with pytest.raises(OutputWriteError) as caught:
        make(port, record, vt, tmp_path).run(jobs("a"))
    assert caught.value.operation_names == tuple(port.names) == ("operations/a-0",)


def test_state_changes_arrive_in_one_thread_in_the_order_of_the_journal(
    vt: VirtualTime, tmp_path: Path
) -> None:
    outcomes: dict[str, FakeOutcome | str] = {
        "v3": "rai_filtered",
        "v5": FakeOutcome.download_failed(),
        "v7": "poll_failed",
    }
    fake = FakeVeo3Adapter(outcomes, default=FakeOutcome.success(polls=2))
    path = tmp_path / "jobs.json"
    journal = JobsJournal(path)
    writer = Writer(vt)
    latest: dict[str, Veo3Job] = {}

    def record(job: Veo3Job) -> Veo3Job:
        latest[job.variant] = job
        journal.append(job, lambda: list(latest.values()))
        return writer(job)

    variants = names(12)
    rand = random.Random(7).random
    make(
        fake, record, vt, tmp_path, concurrency=5, poll_interval=3.0, poll_jitter=0.3, rand=rand
    ).run(jobs(*variants))
    journal.close()
    assert {thread for _, thread, _ in writer.changes} == {threading.get_ident()}
    lines = journal_path(path).read_text().splitlines()
    assert [(d["variant"], d["status"]) for d in map(json.loads, lines)] == [
        (job.variant, job.status.value) for _, _, job in writer.changes
    ]
    assert {job.variant: job for job in read_jobs_json(path)} == writer.final()
    for variant in variants:
        statuses = writer.statuses(variant)
        assert statuses[0] is SUBMITTED
        assert statuses[-1] in (DOWNLOADED, FAILED) and statuses.count(statuses[-1]) == 1


# -- settings and time -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [
        {"concurrency": 0},
        {"downloads": 0},
        {"submit_rate": 0.0},
        {"submit_rate": float("inf")},
        {"poll_interval": -1.0},
        {"poll_jitter": 1.5},
        {"poll_growth": 0.5},
        {"throttled_submits": -1},
        {"stop_grace": float("nan")},
    ],
)
def test_impossible_pacing_is_refused(settings: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        Pacing(**settings)  # type: ignore[arg-type]


def test_virtual_time_outside_a_run_moves_at_once_and_drags_another_clock() -> None:
    clock = FakeClock(start=100.0)
    vt = VirtualTime.following(clock, clock.sleep)
    vt.sleep(5.0)
    assert (vt.monotonic(), clock.now, vt.slept) == (105.0, 105.0, [5.0])
    vt.pause(110.0)
    assert clock.now == 110.0


def test_virtual_time_refuses_to_wait_forever() -> None:
    with pytest.raises(RuntimeError, match="forever"):
        VirtualTime().pause(None)
