"""One contract, three doubles: what every ``VideoGenerationPort`` does, so none can drift.

- ``fake``: ``FakeVeo3Adapter`` from the ``fake_veo3`` fixture, scripted by ``veo3_fake``;
- ``emulator``: the real ``GeminiVeo3Adapter`` (real SDK, real ``httpx.Client``) on the
  in-process emulator, playing the scenario the built-in cassette was recorded from;
- ``recorded``: the real adapter on ``recorded_veo3``, replaying that cassette.

Each test names its scenario once with ``scenario(...)``: the cassette, the emulator scenario
and the fake's script all follow from it. The calls are the ones the orchestrator makes
(submit, poll until settled, download), in that order, because a cassette answers only what
was recorded.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from pytest_veo3.scenarios import SCENARIO_CASSETTES, builtin_cassette
from veo3_adapter import (
    BatchStoppingError,
    ErrorCode,
    FakeOutcome,
    GeminiVeo3Adapter,
    JobStatus,
    QuotaExhaustedError,
    Veo3GenerationError,
    Veo3Job,
    Veo3Orchestrator,
    VideoGenerationPort,
)
from veo3_adapter.emulator import DEFAULT_RAI_REASON, Emulator, Scenario
from veo3_adapter.mp4 import is_mp4_file

F = TypeVar("F", bound=Callable[..., Any])

VARIANT = "intro"
PROMPT = "A paper boat drifting down a rainy street, close-up"
UNKNOWN_OPERATION = "models/veo-3.1-generate-001/operations/unknown00000"
_MAX_POLLS = 10


def scenario_marks(name: str, **fake_script: Any) -> list[pytest.MarkDecorator]:
    """The cassette ``name`` (which also picks the emulator scenario) and the fake's script."""
    return [pytest.mark.veo3_cassette(name), pytest.mark.veo3_fake(**fake_script)]


def scenario(name: str, **fake_script: Any) -> Callable[[F], F]:
    """Run the test on scenario ``name``; ``fake_script`` is the veo3_fake marker for it."""

    def apply(test: F) -> F:
        for mark in scenario_marks(name, **fake_script):
            test = mark(test)
        return test

    return apply


@dataclass(frozen=True)
class Double:
    name: str
    port: VideoGenerationPort
    knows_every_operation: bool
    """False for a cassette: it can only answer the operation it recorded."""


@pytest.fixture(params=["fake", "emulator", "recorded"])
def double(request: pytest.FixtureRequest) -> Iterator[Double]:
    marker = request.node.get_closest_marker("veo3_cassette")
    assert marker is not None, "contract tests name their scenario with scenario(...)"
    spec = SCENARIO_CASSETTES[marker.args[0]]
    if request.param == "fake":
        yield Double("fake", request.getfixturevalue("fake_veo3"), True)
    elif request.param == "recorded":
        own = request.getfixturevalue("veo3_cassette_dir") / f"{spec.name}.yaml"
        if builtin_cassette(spec.name) is None and not own.is_file():
            pytest.skip(
                f"the built-in cassette {spec.name!r} is not recorded yet: "
                f"python -m pytest_veo3.scenarios cassettes/ {spec.name}"
            )
        yield Double("recorded", request.getfixturevalue("recorded_veo3"), False)
    else:
        key = "contract-" + secrets.token_hex(16)
        emulator = Emulator(
            key,
            default=Scenario.named(spec.emulator_scenario, running_polls=spec.running_polls),
            sleep=lambda _s: None,
        )
        with httpx.Client(transport=emulator.transport(), follow_redirects=False) as client:
            adapter = GeminiVeo3Adapter(
                key, base_url=emulator.api_base, http_client=client, sleep=lambda _s: None
            )
            yield Double("emulator", adapter, True)
        assert emulator.key_leaks == []


def submit(double: Double) -> Veo3Job:
    job = double.port.submit_job(VARIANT, PROMPT)
    assert job.status is JobStatus.SUBMITTED
    assert job.operation_name
    assert (job.variant, job.prompt) == (VARIANT, PROMPT)
    return job


def poll_until_settled(double: Double, job: Veo3Job) -> tuple[Veo3Job, list[JobStatus]]:
    """Poll as the orchestrator does, until the job leaves SUBMITTED; return every status."""
    seen: list[JobStatus] = []
    for _ in range(_MAX_POLLS):
        job = double.port.poll_job(job)
        seen.append(job.status)
        if job.status is not JobStatus.SUBMITTED:
            return job, seen
    raise AssertionError(f"{double.name}: still running after {_MAX_POLLS} polls: {seen}")


# -- the contract ----------------------------------------------------------------------------


@scenario("success", default="success", polls=2)
def test_success_submits_polls_to_generated_and_downloads_an_mp4(
    double: Double, tmp_path: Path
) -> None:
    job = submit(double)
    generated, statuses = poll_until_settled(double, job)
    # The scenario's two "still running" answers, then done: the same for every double.
    assert statuses == [JobStatus.SUBMITTED, JobStatus.SUBMITTED, JobStatus.GENERATED]
    assert generated.operation_name == job.operation_name
    assert generated.video_uri
    assert (generated.error_message, generated.error_detail) == ("", "")
    dest = tmp_path / "clips" / "intro.mp4"
    dest.parent.mkdir()
    assert double.port.download_clip(generated, dest) == dest
    assert is_mp4_file(dest)
    assert sorted(p.name for p in dest.parent.iterdir()) == ["intro.mp4"]


@scenario("operation_error", default="generation_failed")
def test_a_failed_generation_is_failed_generation_failed_with_a_reason(double: Double) -> None:
    failed, statuses = poll_until_settled(double, submit(double))
    assert statuses == [JobStatus.FAILED]
    assert failed.error_message == ErrorCode.GENERATION_FAILED
    assert failed.error_detail


@scenario("rai_filtered", default="rai_filtered")
def test_a_safety_filtered_job_is_failed_rai_filtered_with_the_api_reason(double: Double) -> None:
    failed, statuses = poll_until_settled(double, submit(double))
    assert statuses == [JobStatus.FAILED]
    assert failed.error_message == ErrorCode.RAI_FILTERED
    # The reason the API gives, verbatim (DESIGN.md, from googleapis/js-genai#1272).
    assert failed.error_detail == DEFAULT_RAI_REASON


@pytest.mark.parametrize(
    "status",
    [
        pytest.param(
            404,
            marks=scenario_marks("download_not_found", default=FakeOutcome.download_failed()),
            id="not-found",
        ),
        pytest.param(
            403,
            marks=scenario_marks(
                "download_forbidden", default=FakeOutcome.download_failed(status_code=403)
            ),
            id="forbidden",
        ),
    ],
)
def test_a_failed_download_raises_and_leaves_no_file(
    double: Double, tmp_path: Path, status: int
) -> None:
    generated, statuses = poll_until_settled(double, submit(double))
    assert statuses == [JobStatus.GENERATED]
    dest = tmp_path / "clips" / "intro.mp4"
    dest.parent.mkdir()
    with pytest.raises(Veo3GenerationError) as caught:
        double.port.download_clip(generated, dest)
    assert caught.value.status_code == status
    assert caught.value.operation_name == generated.operation_name
    assert f"HTTP {status}" in str(caught.value)
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []  # no partial file either


@scenario("success")
def test_polling_an_unknown_operation_is_failed_operation_not_found(double: Double) -> None:
    if not double.knows_every_operation:
        pytest.skip("a cassette answers only the operation it recorded")
    job = Veo3Job(VARIANT, PROMPT, status=JobStatus.SUBMITTED, operation_name=UNKNOWN_OPERATION)
    polled = double.port.poll_job(job)
    assert polled.status is JobStatus.FAILED
    assert polled.error_message == ErrorCode.OPERATION_NOT_FOUND
    assert polled.operation_name == UNKNOWN_OPERATION
    assert "404" in polled.error_detail


@scenario("quota_exhausted_daily", default="quota_exhausted")
def test_a_daily_quota_refuses_the_submit_and_stops_the_batch(
    double: Double, tmp_path: Path
) -> None:
    with pytest.raises(QuotaExhaustedError) as caught:
        double.port.submit_job(VARIANT, PROMPT)
    assert isinstance(caught.value, BatchStoppingError)
    assert caught.value.status_code == 429
    assert caught.value.operation_name == ""
    assert "the per-day quota is used up" in str(caught.value)


@scenario("quota_exhausted_daily", default="quota_exhausted")
def test_a_daily_quota_is_the_same_job_state_through_the_orchestrator(
    double: Double, tmp_path: Path
) -> None:
    orchestrator = Veo3Orchestrator(double.port, tmp_path, sleep=lambda _s: None)
    (job,) = orchestrator.run({VARIANT: PROMPT})
    assert (job.status, job.error_message) == (JobStatus.FAILED, ErrorCode.QUOTA_EXHAUSTED)
    assert (job.operation_name, job.batch_stopped_by) == ("", VARIANT)
    assert "the per-day quota is used up" in job.error_detail
