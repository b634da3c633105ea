"""End to end: the orchestrator, the real adapter and SDK, one variant per named scenario."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from _kit.adapters import AdapterFactory
from _kit.clock import FakeClock
from _kit.emulator import EXPECTED, REFUSING, emulator_wire, variant_of
from _kit.pipeline import open_client
from _kit.runs import orchestrator_on
from _kit.sdk import needs_gemini_submit, run_gemini

from veo3_adapter import (
    ErrorCode,
    JobStatus,
    Veo3Job,
    Veo3Orchestrator,
    read_jobs_json,
)
from veo3_adapter.emulator import SCENARIO_NAMES, Emulator, Scenario
from veo3_adapter.mp4 import is_mp4_file, sample_clip


def test_expectations_cover_every_scenario() -> None:
    assert set(EXPECTED) | set(REFUSING) == set(SCENARIO_NAMES)
    assert not set(EXPECTED) & set(REFUSING)


@pytest.fixture(params=["in-process", "sockets"])
def pipeline(
    request: pytest.FixtureRequest,
    emulator: Emulator,
    make_adapter: AdapterFactory,
    clock: FakeClock,
    tmp_path: Path,
) -> Iterator[tuple[Veo3Orchestrator, httpx.Client]]:
    """The real adapter and SDK on the emulator: an httpx transport, or two loopback sockets."""
    for name in SCENARIO_NAMES:
        emulator.rule(f"[{name}]", Scenario.named(name, running_polls=1))
    with contextlib.ExitStack() as stack:
        base_url, http = open_client(emulator, stack, sockets=request.param == "sockets")
        adapter = make_adapter(base_url, http, sleep=clock.sleep)
        yield orchestrator_on(adapter, tmp_path, clock), http


def run_every_scenario(
    pipeline: tuple[Veo3Orchestrator, httpx.Client], emulator: Emulator, key: str
) -> tuple[Veo3Orchestrator, dict[str, Veo3Job]]:
    """One variant per named scenario, run to the end; the jobs by variant."""
    orchestrator, http = pipeline
    prompts = {variant_of(name): f"a test clip [{name}]" for name in EXPECTED}
    with http:
        jobs = run_gemini(orchestrator, prompts, emulator_wire(emulator, key))
        return orchestrator, {job.variant: job for job in jobs}


def test_every_scenario_through_the_orchestrator(
    pipeline: tuple[Veo3Orchestrator, httpx.Client], emulator: Emulator, key: str
) -> None:
    orchestrator, jobs = run_every_scenario(pipeline, emulator, key)

    for name, (status, code) in EXPECTED.items():
        job = jobs[variant_of(name)]
        assert (job.status, job.error_message) == (status, code), (name, job.error_detail)
        clip = orchestrator.clip_path(job.variant)
        if status is JobStatus.DOWNLOADED:
            assert is_mp4_file(clip)
            assert job.clip_bytes == clip.stat().st_size == Scenario.named(name).size
            assert job.operation_name in emulator.operations
        else:
            assert not clip.exists()
    assert orchestrator.clip_path("success").read_bytes() == sample_clip()
    assert emulator.key_leaks == []

    by_variant = {j.variant: j for j in read_jobs_json(orchestrator.jobs_path)}
    assert {v: (j.status, j.error_message) for v, j in by_variant.items()} == {
        variant_of(n): expected for n, expected in EXPECTED.items()
    }
    assert "404" in jobs["download-not-found"].error_detail
    assert "403" in jobs["download-forbidden"].error_detail
    assert "404" in jobs["expired"].error_detail
    assert jobs["rai-filtered"].error_detail == Scenario.named("rai_filtered").rai_reasons[0]  # type: ignore[index]


def test_the_emulator_saw_what_each_scenario_scripts(
    pipeline: tuple[Veo3Orchestrator, httpx.Client],
    emulator: Emulator,
    key: str,
    clock: FakeClock,
) -> None:
    orchestrator, jobs = run_every_scenario(pipeline, emulator, key)
    ops = {name: emulator.operations[jobs[variant_of(name)].operation_name] for name in EXPECTED}

    assert ops["rate_limited"].poll_failures_served == 1
    assert ops["download_server_error"].media_failures_served == 2
    assert ops["download_server_error"].bodies_served == 1
    assert ops["truncated_download"].bodies_served == 2
    assert ops["dropped_connection"].bodies_served == 2
    assert ops["download_not_found"].bodies_served == 0
    assert ops["download_not_found"].api_downloads >= 1
    assert ops["expired"].media_requests == 0
    for name in ("rai_filtered", "operation_error"):
        assert ops[name].api_downloads == 0
    # Without ranges, a body cut short is fetched again from the first byte.
    media = [
        r.status
        for r in emulator.requests
        if r.origin == "download" and ops["truncated_download"].file_id in r.path
    ]
    assert media == [200, 200]
    # Every wait went through the injected sleep: the slow body's and the retries' backoff.
    assert 0.5 in clock.sleep.delays
    assert emulator.key_leaks == []


@needs_gemini_submit
def test_a_daily_quota_fails_the_job_and_starts_no_operation(
    pipeline: tuple[Veo3Orchestrator, httpx.Client], emulator: Emulator
) -> None:
    orchestrator, http = pipeline
    with http:
        (job,) = orchestrator.run({"daily": "a test clip [quota_exhausted_daily]"})
    assert job.status is JobStatus.FAILED and not job.operation_name
    assert job.error_message in (ErrorCode.SUBMIT_FAILED.value, "quota_exhausted")
    assert "429" in job.error_detail or "quota" in job.error_detail.lower()
    assert emulator.operations == {}
    assert {r.status for r in emulator.requests} == {429}
    assert not orchestrator.clip_path("daily").exists()
