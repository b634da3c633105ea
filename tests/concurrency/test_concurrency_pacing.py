"""Jobs advance on their own, paced to the quota: a slow job delays no other, the submit rate
holds, and a per-minute 429 on one job slows the submits of all.

Time is virtual (``VirtualTime``): the run, the ports, the adapter's retries and the
emulator's clock share it, so every time below is exact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from _kit.emulator import MODEL, emulator_wire
from _kit.keys import make_api_key
from _kit.timed import Through, TinyPort

from veo3_adapter import (
    GeminiVeo3Adapter,
    JobStatus,
    RetryPolicy,
    SubmitError,
    Veo3Job,
    Veo3Orchestrator,
    VertexVeo3Adapter,
    read_jobs_json,
    write_jobs_json,
)
from veo3_adapter._timebase import VirtualTime
from veo3_adapter.emulator import Emulator, Scenario

Make = Callable[..., Veo3Orchestrator]
DOWNLOADED = JobStatus.DOWNLOADED


def _prompts(count: int) -> dict[str, str]:
    return {f"v{i}": f"a clip called v{i}" for i in range(count)}


class Stamps:
    """``on_change``: when (virtual time) each job reached each status."""

    def __init__(self, vt: VirtualTime) -> None:
        self.vt = vt
        self.seen: list[tuple[float, str, JobStatus]] = []

    def __call__(self, job: Veo3Job) -> None:
        self.seen.append((self.vt.monotonic(), job.variant, job.status))

    def when(self, variant: str, status: JobStatus) -> float:
        return next(t for t, v, s in self.seen if v == variant and s is status)


@pytest.fixture
def key() -> str:
    return make_api_key()


@pytest.fixture
def emulator(key: str, vt: VirtualTime) -> Emulator:
    return Emulator(key, clock=vt.monotonic, sleep=vt.sleep, seed=7)


@pytest.fixture
def http(emulator: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(transport=emulator.transport(), follow_redirects=False) as client:
        yield client


# -- one job's wait is its own ---------------------------------------------------------------


def test_a_download_in_a_long_retry_after_does_not_delay_another(
    vt: VirtualTime, make: Make
) -> None:
    port = TinyPort(vt)
    port.waits[("download", "v0")] = 120.0  # a 503 with Retry-After: 120 inside the adapter
    stamps = Stamps(vt)
    jobs = make(port, on_change=stamps).run(_prompts(2))
    assert [job.status for job in jobs] == [DOWNLOADED, DOWNLOADED]
    assert stamps.when("v1", DOWNLOADED) == 10.0  # polled at 10, downloaded at once
    assert stamps.when("v0", DOWNLOADED) == 130.0


def test_with_the_real_adapter_a_retry_after_holds_only_its_own_download(
    vt: VirtualTime, make: Make, emulator: Emulator, http: httpx.Client, key: str, tmp_path: Path
) -> None:
    emulator.rule("slow", Scenario(download_failures=(503,), retry_after=120.0))
    submit = emulator_wire(emulator, key)  # submitted on the wire: google-genai 2.x or 3.x
    running = []
    for variant, prompt in (("a", "a slow cat"), ("b", "a quick dog")):
        name = submit(prompt, MODEL)
        assert name
        running.append(Veo3Job(variant, prompt, status=JobStatus.SUBMITTED, operation_name=name))
    write_jobs_json(tmp_path / "out" / "veo3" / "jobs.json", running)
    adapter = GeminiVeo3Adapter(
        key,
        base_url=emulator.api_base,
        http_client=http,
        sleep=vt.sleep,
        rand=lambda: 0.0,
        retry=RetryPolicy(attempts=3, jitter=0.0),
    )
    stamps = Stamps(vt)

    jobs = make(adapter, on_change=stamps).resume()

    assert [job.status for job in jobs] == [DOWNLOADED, DOWNLOADED]
    assert stamps.when("b", DOWNLOADED) == 0.0
    assert stamps.when("a", DOWNLOADED) == 120.0  # the media server's wait, its own alone
    assert read_jobs_json(tmp_path / "out" / "veo3" / "jobs.json") == jobs


def test_each_job_times_out_on_its_own_clock(vt: VirtualTime, make: Make) -> None:
    port = TinyPort(vt)
    port.running["v0"] = 10**6  # never done
    port.waits[("download", "v1")] = 500.0
    stamps = Stamps(vt)
    jobs = make(port, timeout=30.0, submit_rate=6.0, on_change=stamps).run(_prompts(3))
    assert [(j.status, j.error_message) for j in jobs] == [
        (JobStatus.FAILED, "timeout"),
        (DOWNLOADED, ""),
        (DOWNLOADED, ""),
    ]
    assert stamps.when("v0", JobStatus.FAILED) == 30.0
    assert stamps.when("v2", DOWNLOADED) == 30.0  # sent at 20, polled at 30
    assert stamps.when("v1", DOWNLOADED) == 520.0  # a download is no generation: no timeout


# -- pacing and the shared backoff -----------------------------------------------------------


def test_pacing_holds_the_submit_rate(vt: VirtualTime, make: Make) -> None:
    port = TinyPort(vt)
    jobs = make(port, submit_rate=6.0, concurrency=8).run(_prompts(14))
    starts = port.starts("submit")
    assert starts == [10.0 * i for i in range(14)]
    assert all(sum(1 for s in starts if t <= s < t + 60) <= 6 for t in starts)
    assert all(job.status is DOWNLOADED for job in jobs)


def test_the_default_rate_is_ten_submits_a_minute(vt: VirtualTime, tmp_path: Path) -> None:
    port = TinyPort(vt)
    Veo3Orchestrator(port, tmp_path, sleep=vt.sleep, clock=vt.monotonic).run(_prompts(12))
    assert port.starts("submit") == [6.0 * i for i in range(12)]


def test_a_429_on_one_job_slows_the_submits_of_the_others(vt: VirtualTime, make: Make) -> None:
    port = TinyPort(vt)
    port.retries[("submit", "v2")] = 30.0  # the adapter's own retry after a per-minute 429
    jobs = make(port, submit_rate=60.0, poll_interval=5.0).run(_prompts(6))
    assert port.starts("submit") == [0.0, 1.0, 2.0, 32.0, 33.0, 34.0]
    assert not [s for s in port.starts("poll") if 2.0 < s < 32.0]  # polls waited too
    assert all(job.status is DOWNLOADED for job in jobs)


def test_a_throttled_submit_goes_again_after_the_shared_wait(vt: VirtualTime, make: Make) -> None:
    port = TinyPort(vt)
    port.refusals["v1"] = [SubmitError("HTTP 429", status_code=429)]  # retries used up
    jobs = make(port, submit_rate=60.0).run(_prompts(4))
    assert port.starts("submit", "v1") == [1.0, 61.0]  # the run-wide wait: 60 s unless told
    assert port.starts("submit") == [0.0, 1.0, 61.0, 62.0, 63.0]
    assert all(job.status is DOWNLOADED for job in jobs)
    assert len(port.names) == 4  # one operation each


def test_with_the_real_adapter_a_per_minute_429_holds_the_other_submits(
    vt: VirtualTime, make: Make, emulator: Emulator, http: httpx.Client, key: str
) -> None:
    # Vertex AI express mode: google-genai 2.x and 3.x both submit there. Its 429 names no
    # wait, so the adapter's own backoff (30 s here) is what the whole run waits.
    emulator.queue(Scenario(submit_status=429))  # the first submit only
    adapter = VertexVeo3Adapter(
        api_key=key,
        base_url=emulator.api_base,
        http_client=http,
        sleep=vt.sleep,
        rand=lambda: 0.0,
        retry=RetryPolicy(initial=30.0, jitter=0.0),
    )
    port = Through(vt, adapter)
    stamps = Stamps(vt)
    jobs = make(port, submit_rate=60.0, on_change=stamps).run(_prompts(3))
    assert port.starts("submit") == [0.0, 30.0, 31.0]  # v0 waited 30 s inside the adapter
    assert stamps.when("v0", JobStatus.SUBMITTED) == 30.0
    assert all(job.status is DOWNLOADED for job in jobs)
    assert len(emulator.operations) == 3
