"""Network faults on real loopback sockets, each in a run of three variants: the faulty one
ends in its documented state (DOWNLOADED after a retry or a resume, or FAILED with
``download_failed`` and a detail naming the cause) and the other two are unaffected.

The media server honours ``Range`` only where a test says ``ranges=True`` (the live one
announces no ranges); the downloader then resumes where a body broke, else starts over.
Waits are recorded, not slept (the adapter's ``sleep`` and the orchestrator's clock are
fakes); only the read-timeout tests wait for real, 0.2 s per timeout. On google-genai 3.x,
which sends no Gemini API submit, the runs start from jobs submitted through the wire.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from _kit.adapters import AdapterFactory
from _kit.clock import FakeClock
from _kit.emulator import emulator_wire
from _kit.faults import FaultyEmulator, ServedFactory, expected_clip, partials, tree
from _kit.runs import by_variant, orchestrator_on
from _kit.sdk import needs_gemini_submit, record_submitted, run_gemini

from veo3_adapter import (
    ErrorCode,
    GeminiVeo3Adapter,
    JobStatus,
    Veo3Job,
    Veo3Orchestrator,
    read_jobs_json,
)
from veo3_adapter.emulator import Scenario, Side
from veo3_adapter.emulator._wire import Reply

if TYPE_CHECKING:
    from _kit.clock import SleepRecorder

PROMPTS = {
    "alpha": "a lighthouse at dusk [alpha]",
    "faulty": "a paper boat in the rain [fault]",
    "omega": "a neon cat [omega]",
}


def _script(emulator: FaultyEmulator, fault: Scenario) -> None:
    emulator.rule("[alpha]", Scenario(video_size=300_000, chunk_size=16 * 1024))
    emulator.rule("[omega]", Scenario(video_size=200_000, running_polls=1))
    emulator.rule("[fault]", fault)


def _run(
    emulator: FaultyEmulator,
    adapter: GeminiVeo3Adapter,
    out: Path,
    clock: FakeClock,
    api_key: str,
    prompts: dict[str, str] = PROMPTS,
) -> tuple[Veo3Orchestrator, dict[str, Veo3Job]]:
    """``prompts`` run to the end on ``adapter`` (on google-genai 3.x, submitted on the wire
    first): the orchestrator, and its jobs by variant."""
    orchestrator = orchestrator_on(adapter, out, clock)
    return orchestrator, by_variant(
        run_gemini(orchestrator, prompts, emulator_wire(emulator, api_key))
    )


def _assert_others_fine(
    emulator: FaultyEmulator, orchestrator: Veo3Orchestrator, jobs: dict[str, Veo3Job]
) -> None:
    for variant in ("alpha", "omega"):
        job = jobs[variant]
        assert job.status is JobStatus.DOWNLOADED, (variant, job.error_detail)
        clip = expected_clip(emulator, job.operation_name)
        assert orchestrator.clip_path(variant).read_bytes() == clip
        assert job.clip_bytes == len(clip)
    assert by_variant(read_jobs_json(orchestrator.jobs_path)) == jobs
    assert partials(orchestrator.output_dir) == []
    assert emulator.key_leaks == []


def _assert_failed_download(orchestrator: Veo3Orchestrator, job: Veo3Job, *needles: str) -> None:
    assert (job.status, job.error_message) == (JobStatus.FAILED, ErrorCode.DOWNLOAD_FAILED.value)
    for needle in needles:
        assert needle in job.error_detail, (needle, job.error_detail)
    assert not orchestrator.clip_path(job.variant).exists()


def _download_statuses(emulator: FaultyEmulator, job: Veo3Job) -> list[int]:
    """Statuses the download origin answered for this job's file, in order."""
    file_id = emulator.operations[job.operation_name].file_id
    return [
        r.status
        for r in emulator.requests
        if r.origin == "download" and f"/files/{file_id}" in r.path
    ]


@pytest.mark.parametrize(
    ("ranges", "statuses"),
    [(True, [200, 206]), (False, [200, 200])],
    ids=["resumed by Range", "no ranges: started over"],  # the live server announces none
)
def test_connection_reset_mid_body_is_retried(
    served: ServedFactory,
    make_adapter: AdapterFactory,
    fake_clock: FakeClock,
    noop_sleep: SleepRecorder,
    out: Path,
    ranges: bool,
    statuses: list[int],
    api_key: str,
) -> None:
    emulator = served()
    _script(emulator, Scenario(video_size=1_000_000, drop_at=300_000, ranges=ranges))
    adapter = make_adapter(emulator.api_base, sleep=noop_sleep)
    orchestrator, jobs = _run(emulator, adapter, out, fake_clock, api_key)

    faulty = jobs["faulty"]
    assert faulty.status is JobStatus.DOWNLOADED, faulty.error_detail
    assert orchestrator.clip_path("faulty").read_bytes() == expected_clip(
        emulator, faulty.operation_name
    )
    assert _download_statuses(emulator, faulty) == statuses  # reset, then the rest or all again
    assert noop_sleep.delays == [1.0]  # one backoff, for the one retry
    _assert_others_fine(emulator, orchestrator, jobs)


def test_a_body_that_stalls_once_hits_the_read_timeout_and_is_resumed(
    served: ServedFactory,
    make_adapter: AdapterFactory,
    fake_clock: FakeClock,
    noop_sleep: SleepRecorder,
    out: Path,
    api_key: str,
) -> None:
    emulator = served()
    _script(emulator, Scenario(video_size=800_000, ranges=True))
    hold = emulator.hold("[fault]", 250_000)  # the first body stops sending, connection open
    adapter = make_adapter(emulator.api_base, sleep=noop_sleep, read_timeout=0.2)
    orchestrator, jobs = _run(emulator, adapter, out, fake_clock, api_key)

    assert hold.held == 1
    faulty = jobs["faulty"]
    assert faulty.status is JobStatus.DOWNLOADED, faulty.error_detail
    assert orchestrator.clip_path("faulty").read_bytes() == expected_clip(
        emulator, faulty.operation_name
    )
    assert _download_statuses(emulator, faulty) == [200, 206]
    _assert_others_fine(emulator, orchestrator, jobs)


def test_a_body_that_stalls_every_time_fails_only_its_job_and_resume_recovers(
    served: ServedFactory,
    make_adapter: AdapterFactory,
    fake_clock: FakeClock,
    noop_sleep: SleepRecorder,
    out: Path,
    api_key: str,
) -> None:
    emulator = served()
    _script(emulator, Scenario(video_size=800_000))
    hold = emulator.hold("[fault]", 1000, times=3)
    adapter = make_adapter(emulator.api_base, sleep=noop_sleep, read_timeout=0.2, attempts=3)
    orchestrator, jobs = _run(emulator, adapter, out, fake_clock, api_key)

    assert hold.held == 3
    _assert_failed_download(orchestrator, jobs["faulty"], "ReadTimeout", "after 3 attempts")
    _assert_others_fine(emulator, orchestrator, jobs)

    others = {v: tree(out)[f"veo3/{v}.mp4"] for v in ("alpha", "omega")}
    resumed = by_variant(orchestrator.resume())
    assert resumed["faulty"].status is JobStatus.DOWNLOADED
    assert resumed["faulty"].operation_name == jobs["faulty"].operation_name
    assert {v: tree(out)[f"veo3/{v}.mp4"] for v in others} == others  # not fetched again
    assert {v: resumed[v] for v in others} == {v: jobs[v] for v in others}


def test_a_5xx_storm_longer_than_the_retries_fails_the_download_then_resume_gets_it(
    served: ServedFactory,
    make_adapter: AdapterFactory,
    fake_clock: FakeClock,
    noop_sleep: SleepRecorder,
    out: Path,
    api_key: str,
) -> None:
    emulator = served()
    _script(emulator, Scenario(download_failures=(500, 502, 503, 500, 503)))
    adapter = make_adapter(emulator.api_base, sleep=noop_sleep)
    orchestrator, jobs = _run(emulator, adapter, out, fake_clock, api_key)

    faulty = jobs["faulty"]
    _assert_failed_download(orchestrator, faulty, "HTTP 503", "after 3 attempts")
    assert _download_statuses(emulator, faulty) == [500, 502, 503]
    assert noop_sleep.delays == [1.0, 2.0]  # bounded exponential backoff, then it gives up
    _assert_others_fine(emulator, orchestrator, jobs)

    resumed = by_variant(orchestrator.resume())
    assert resumed["faulty"].status is JobStatus.DOWNLOADED
    assert _download_statuses(emulator, faulty) == [500, 502, 503, 500, 503, 200]
    assert orchestrator.clip_path("faulty").read_bytes() == expected_clip(
        emulator, faulty.operation_name
    )


def test_a_5xx_storm_on_polls_keeps_the_job_waiting_until_it_passes(
    served: ServedFactory,
    make_adapter: AdapterFactory,
    fake_clock: FakeClock,
    noop_sleep: SleepRecorder,
    out: Path,
    api_key: str,
) -> None:
    emulator = served()
    _script(emulator, Scenario(poll_failures=(500, 503, 502, 500, 504, 503, 500)))
    adapter = make_adapter(emulator.api_base, sleep=noop_sleep)
    orchestrator = orchestrator_on(adapter, out, fake_clock)
    # Submitted beforehand on every major: the run resumes them, and polls at once.
    record_submitted(orchestrator, PROMPTS, emulator_wire(emulator, api_key))
    jobs = by_variant(orchestrator.run(PROMPTS))

    faulty = jobs["faulty"]
    assert faulty.status is JobStatus.DOWNLOADED, faulty.error_detail
    assert emulator.operations[faulty.operation_name].poll_failures_served == 7
    assert noop_sleep.delays == [1.0, 2.0, 1.0, 2.0, 1.0]  # 3 + 3 + 1 failures in 3 rounds
    assert fake_clock.sleep.delays == [10.0] * 2  # the orchestrator waited between rounds
    _assert_others_fine(emulator, orchestrator, jobs)


@needs_gemini_submit
def test_a_5xx_storm_on_submit_fails_only_that_submit(
    served: ServedFactory,
    make_adapter: AdapterFactory,
    fake_clock: FakeClock,
    noop_sleep: SleepRecorder,
    out: Path,
) -> None:
    emulator = served()
    _script(emulator, Scenario(submit_status=503))  # a rule: every submit of it is refused
    adapter = make_adapter(emulator.api_base, sleep=noop_sleep)
    orchestrator = orchestrator_on(adapter, out, fake_clock)
    jobs = by_variant(orchestrator.run(PROMPTS))

    faulty = jobs["faulty"]
    assert (faulty.status, faulty.error_message) == (JobStatus.FAILED, "submit_failed")
    assert "503" in faulty.error_detail
    refused = [r for r in emulator.requests if r.method == "POST" and r.status == 503]
    assert len(refused) == 3  # 503 means "not started": retried, bounded
    _assert_others_fine(emulator, orchestrator, jobs)


@needs_gemini_submit
def test_429_with_retry_after_is_waited_out_on_submit(
    served: ServedFactory,
    make_adapter: AdapterFactory,
    fake_clock: FakeClock,
    noop_sleep: SleepRecorder,
    out: Path,
) -> None:
    emulator = served()
    refused_once: list[str] = []

    def first_submit(prompt: str) -> bool:
        if "[submit429]" in prompt and not refused_once:
            refused_once.append(prompt)
            return True
        return False

    emulator.rule(first_submit, Scenario(submit_status=429, retry_after=5))
    emulator.rule("[alpha]", Scenario())
    prompts = {"alpha": PROMPTS["alpha"], "s": "a clip [submit429]"}
    adapter = make_adapter(emulator.api_base, sleep=noop_sleep)
    orchestrator = orchestrator_on(adapter, out, fake_clock)
    jobs = by_variant(orchestrator.run(prompts))

    assert {v: j.status for v, j in jobs.items()} == dict.fromkeys(prompts, JobStatus.DOWNLOADED)
    assert noop_sleep.delays == [5.0]  # backoff alone would wait 1 s: Retry-After asked for 5
    assert [r.status for r in emulator.requests if r.status == 429] == [429]
    assert partials(out) == []


def test_429_with_retry_after_is_waited_out_on_poll_and_download(
    served: ServedFactory,
    make_adapter: AdapterFactory,
    fake_clock: FakeClock,
    noop_sleep: SleepRecorder,
    out: Path,
    api_key: str,
) -> None:
    emulator = served()
    emulator.rule("[alpha]", Scenario())
    emulator.rule("[poll429]", Scenario(poll_failures=(429,), retry_after=9))
    emulator.rule("[download429]", Scenario(download_failures=(429,), retry_after=7))
    prompts = {"alpha": PROMPTS["alpha"], "p": "a clip [poll429]", "d": "a clip [download429]"}
    adapter = make_adapter(emulator.api_base, sleep=noop_sleep)
    orchestrator, jobs = _run(emulator, adapter, out, fake_clock, api_key, prompts)

    assert {v: j.status for v, j in jobs.items()} == dict.fromkeys(prompts, JobStatus.DOWNLOADED)
    # Backoff alone would wait 1 s; each Retry-After asked for longer and got it, in order:
    # (poll, download) per variant.
    assert noop_sleep.delays == [9.0, 7.0]
    assert [r.status for r in emulator.requests if r.status == 429] == [429] * 2
    assert partials(out) == []


def test_a_short_body_on_every_attempt_fails_the_download_then_resume_gets_it(
    served: ServedFactory,
    make_adapter: AdapterFactory,
    fake_clock: FakeClock,
    noop_sleep: SleepRecorder,
    out: Path,
    api_key: str,
) -> None:
    # Content-Length says 500 000; three bodies in a row end after 100 000 bytes.
    emulator = served()
    _script(
        emulator, Scenario(video_size=500_000, truncate_at=100_000, truncate_times=3, ranges=True)
    )
    adapter = make_adapter(emulator.api_base, sleep=noop_sleep)
    orchestrator, jobs = _run(emulator, adapter, out, fake_clock, api_key)

    faulty = jobs["faulty"]
    _assert_failed_download(orchestrator, faulty, "after 3 attempts", "300000 bytes")
    assert _download_statuses(emulator, faulty) == [200, 206, 206]  # each resumed where it broke
    _assert_others_fine(emulator, orchestrator, jobs)

    resumed = by_variant(orchestrator.resume())
    assert resumed["faulty"].status is JobStatus.DOWNLOADED
    assert orchestrator.clip_path("faulty").read_bytes() == expected_clip(
        emulator, faulty.operation_name
    )


def test_a_body_longer_than_its_content_length_is_refused_not_retried(
    api_key: str,
    make_adapter: AdapterFactory,
    fake_clock: FakeClock,
    noop_sleep: SleepRecorder,
    out: Path,
) -> None:
    # Over a socket the client stops reading at Content-Length; only an in-process transport
    # can hand over more than was announced, so this one runs in-process.
    emulator = FaultyEmulator(api_key, sleep=lambda _s: None)
    _script(emulator, Scenario(video_size=100_000))

    def understate(reply: Reply) -> Reply:
        headers = [
            (n, str(int(v) - 1000) if n.lower() == "content-length" else v)
            for n, v in reply.headers
        ]
        return Reply(reply.status, headers, reply.body)

    emulator.rewrite("[fault]", Side.DOWNLOAD, understate)
    adapter = make_adapter(emulator.api_base, sleep=noop_sleep, transport=emulator.transport())
    orchestrator, jobs = _run(emulator, adapter, out, fake_clock, api_key)

    faulty = jobs["faulty"]
    _assert_failed_download(orchestrator, faulty, "more than the 99000 announced")
    assert _download_statuses(emulator, faulty) == [200]  # not a transient fault: no retry
    assert noop_sleep.delays == []
    _assert_others_fine(emulator, orchestrator, jobs)


def test_a_404_after_the_file_expired_fails_only_the_refetch(
    served: ServedFactory,
    make_adapter: AdapterFactory,
    fake_clock: FakeClock,
    out: Path,
    api_key: str,
) -> None:
    clock = FakeClock(start=1000.0)
    emulator = served(clock=clock)
    two_days = 2 * 24 * 3600.0
    _script(emulator, Scenario(file_ttl=two_days))
    adapter = make_adapter(emulator.api_base)
    orchestrator, jobs = _run(emulator, adapter, out, fake_clock, api_key)
    assert {v: j.status for v, j in jobs.items()} == dict.fromkeys(PROMPTS, JobStatus.DOWNLOADED)

    orchestrator.clip_path("faulty").unlink()  # lost locally, and the server's copy expires
    clock.now += two_days
    before = tree(out)
    seen = len(emulator.requests)
    resumed = by_variant(orchestrator.resume())

    _assert_failed_download(orchestrator, resumed["faulty"], "HTTP 404")
    after = tree(out)
    for variant in ("alpha", "omega"):
        assert resumed[variant] == jobs[variant]
        assert after[f"veo3/{variant}.mp4"] == before[f"veo3/{variant}.mp4"]
    # Only the missing clip was asked for: its operation, then its file (404, not retried).
    asked = [(r.origin, r.status) for r in emulator.requests[seen:]]
    assert asked == [("api", 200), ("api", 404)]
    assert by_variant(read_jobs_json(orchestrator.jobs_path)) == resumed
