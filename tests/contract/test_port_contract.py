"""One contract, four doubles: what every ``VideoGenerationPort`` does, so none can drift.

- ``fake``: ``FakeVeo3Adapter`` from the ``fake_veo3`` fixture, scripted by ``veo3_fake``
  with outcome names, as a user writes them;
- ``gemini-emulator``: the real ``GeminiVeo3Adapter`` (real SDK, real ``httpx.Client``) on
  the in-process emulator;
- ``vertex-emulator``: the real ``VertexVeo3Adapter`` (``compose.vertex_adapter``, project
  credentials, the video left in a bucket) on the emulator's Vertex AI and Cloud Storage
  routes, playing the same scenario;
- ``recorded``: the real adapter on ``recorded_veo3``, replaying the built-in cassette
  recorded from that scenario: the Gemini API's, or on google-genai 3.x (which submits only
  to Vertex AI) its Vertex AI twin (``vertex_<name>``, recorded from the same scenario).

Each test names its setup once, with ``given(...)``: ``cassette_marks(name)`` for a built-in
cassette (the emulator plays the scenario it was recorded from; the ``double`` fixture runs
all four doubles), or ``emulated_marks(scenario, why)`` for an emulator ``Scenario`` no
built-in cassette holds (``why`` says what; the shipped cassettes come from the scenario
recorder only, so the ``unrecorded_double`` fixture runs the other three). The fake's
``veo3_fake`` script goes with it. The calls are the ones the orchestrator makes (submit,
poll until settled, download), in that order, because a cassette answers only what was
recorded; the last tests run the orchestrator itself and compare the jobs it ends with.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from _kit.clock import FakeClock
from _kit.keys import make_token
from _kit.sdk import GEMINI_SUBMITS, SDK_VERSION, needs_gemini_submit
from _kit.vertex import LOCATION, PROJECT, FakeCredentials, op_name

from pytest_veo3.cassette import VeoCassette
from pytest_veo3.scenarios import SCENARIO_CASSETTES, builtin_cassette
from veo3_adapter import (
    BatchStoppingError,
    DownloadError,
    ErrorCode,
    FakeOutcome,
    FakeVeo3Adapter,
    JobStatus,
    PollError,
    QuotaExhaustedError,
    Veo3GenerationError,
    Veo3Job,
    Veo3Orchestrator,
    VideoGenerationPort,
    read_jobs_json,
)
from veo3_adapter.compose import gemini_adapter, vertex_adapter
from veo3_adapter.emulator import DEFAULT_RAI_REASON, Emulator, Scenario
from veo3_adapter.mp4 import is_mp4_file

F = TypeVar("F", bound=Callable[..., Any])

VARIANT = "intro"
PROMPT = "A paper boat drifting down a rainy street, close-up"
UNKNOWN_GEMINI_OPERATION = "models/veo-3.1-generate-001/operations/unknown00000"
UNKNOWN_VERTEX_OPERATION = op_name()
BUCKET = "gs://veo3-contract/clips/"
NEVER = sys.maxsize
"""Running polls of an operation that is never done."""
_MAX_POLLS = 10
_POLL_INTERVAL, _TIMEOUT = 10.0, 60.0
_NO_CASSETTE = "no built-in cassette holds"
VERTEX_TWINS = {
    name: f"vertex_{name}"
    for name in (
        "success",
        "rai_filtered",
        "operation_error",
        "download_not_found",
        "download_forbidden",
        "quota_exhausted_daily",
    )
}
"""The built-in Vertex AI cassettes recorded from the same scenario as a Gemini API one."""


@dataclass(frozen=True)
class Setup:
    """What the emulator plays, and the built-in cassette recorded from it (if any)."""

    scenario: Scenario
    cassette: str | None = None
    no_cassette: str = ""
    """Why the recorded double has nothing to replay."""

    @property
    def replayed(self) -> str | None:
        """The built-in cassette the recorded double replays: ``cassette`` where the
        installed google-genai submits to the Gemini API, else its Vertex AI twin, if any."""
        if self.cassette is None or GEMINI_SUBMITS:
            return self.cassette
        return VERTEX_TWINS.get(self.cassette)


def cassette_marks(name: str, **fake_script: Any) -> list[pytest.MarkDecorator]:
    """The built-in cassette ``name``, the scenario it was recorded from, the fake's script."""
    spec = SCENARIO_CASSETTES[name]
    scenario = Scenario.named(spec.emulator_scenario, running_polls=spec.running_polls)
    setup = Setup(scenario, cassette=name)
    return [
        pytest.mark.port_contract(setup),
        pytest.mark.veo3_cassette(setup.replayed or name),
        pytest.mark.veo3_fake(**fake_script),
    ]


def emulated_marks(scenario: Scenario, why: str, **fake_script: Any) -> list[pytest.MarkDecorator]:
    """An emulator ``scenario`` without a built-in cassette (``why`` says what none holds)."""
    return [
        pytest.mark.port_contract(Setup(scenario, no_cassette=f"{_NO_CASSETTE} {why}")),
        pytest.mark.veo3_fake(**fake_script),
    ]


# Setups no built-in cassette holds: the recorded double has nothing to replay for them.
EXPIRED = emulated_marks(
    Scenario.named("expired", running_polls=2), "a video that expired", default="expired", polls=2
)
POLL_FAILED = emulated_marks(
    Scenario(poll_failures=(403,)), "a poll that fails for good", default="poll_failed"
)
OPERATION_NOT_FOUND = emulated_marks(
    Scenario(poll_failures=(404,)), "a poll answered 404", default="operation_not_found"
)
NEVER_DONE = emulated_marks(
    Scenario(running_polls=NEVER), "an operation never done", default="timeout"
)
_DOWNLOAD_404 = "download of operation {op} failed: HTTP 404 from "
_POLL_403 = "poll of operation {op} failed: HTTP 403 PERMISSION_DENIED"
_POLL_404 = "poll of operation {op} failed: HTTP 404 NOT_FOUND"


def given(marks: list[pytest.MarkDecorator]) -> Callable[[F], F]:
    def apply(test: F) -> F:
        for mark in marks:
            test = mark(test)
        return test

    return apply


@dataclass(frozen=True)
class Double:
    name: str
    port: VideoGenerationPort
    submits: Callable[[], int]
    """How many submit requests reached the backend (the fake: submit calls)."""
    unknown_operation: str | None
    """An operation name of this backend's shape that it never started; ``None`` for a
    cassette, which can only answer the operation it recorded."""


def _played_submits(cassette: VeoCassette) -> int:
    vcr = cassette.cassette
    return sum(
        vcr.play_counts[index]
        for index, request in enumerate(vcr.requests)
        if request.method == "POST" and request.path.endswith(":predictLongRunning")
    )


def _setup(request: pytest.FixtureRequest) -> Setup:
    marker = request.node.get_closest_marker("port_contract")
    assert marker is not None, (
        "contract tests name their setup with given(cassette_marks(...) or emulated_marks(...))"
    )
    setup: Setup = marker.args[0]
    return setup


# The Gemini adapter's contract starts with a submit, which google-genai 3.x does not send.
GEMINI_EMULATOR = pytest.param("gemini-emulator", marks=needs_gemini_submit)


@pytest.fixture(params=["fake", GEMINI_EMULATOR, "vertex-emulator", "recorded"])
def double(request: pytest.FixtureRequest, no_real_sleep: None) -> Iterator[Double]:
    """Every double, on a setup with a built-in cassette (``cassette(...)``)."""
    setup = _setup(request)
    assert setup.cassette is not None, "an emulated() setup takes unrecorded_double"
    if request.param != "recorded":
        yield from _unrecorded(request, request.param, setup)
        return
    replayed = setup.replayed
    if replayed is None:
        pytest.skip(
            f"google-genai {SDK_VERSION} submits only to Vertex AI, and no built-in Vertex AI "
            f"cassette holds the scenario of {setup.cassette!r}"
        )
    own = request.getfixturevalue("veo3_cassette_dir") / f"{replayed}.yaml"
    if builtin_cassette(replayed) is None and not own.is_file():
        pytest.skip(
            f"the built-in cassette {replayed!r} is not recorded yet: "
            f"python -m pytest_veo3.scenarios cassettes/ {replayed}"
        )
    cassette: VeoCassette = request.getfixturevalue("veo3_cassette")
    port = request.getfixturevalue("recorded_veo3")
    yield Double("recorded", port, lambda: _played_submits(cassette), None)


@pytest.fixture(params=["fake", GEMINI_EMULATOR, "vertex-emulator"])
def unrecorded_double(request: pytest.FixtureRequest, no_real_sleep: None) -> Iterator[Double]:
    """The doubles but the recorded one, on a setup no built-in cassette holds
    (``emulated(...)``, whose ``why`` says what; the shipped cassettes are recorded by the
    scenario recorder only, so a cassette-less setup has nothing to replay)."""
    setup = _setup(request)
    assert setup.cassette is None, "a cassette() setup takes double"
    request.node.user_properties.append(("no_cassette", setup.no_cassette))
    yield from _unrecorded(request, request.param, setup)


def _unrecorded(request: pytest.FixtureRequest, kind: str, setup: Setup) -> Iterator[Double]:
    """The fake, or a real adapter on the emulator playing ``setup.scenario``."""
    if kind == "fake":
        fake: FakeVeo3Adapter = request.getfixturevalue("fake_veo3")
        submits = fake.calls_to
        yield Double("fake", fake, lambda: len(submits("submit_job")), UNKNOWN_GEMINI_OPERATION)
        return
    key, token = "contract-" + secrets.token_hex(16), make_token()
    emulator = Emulator(key, token=token, default=setup.scenario, sleep=lambda _s: None)

    def emulated_submits() -> int:
        return sum(
            1
            for r in emulator.requests
            if r.method == "POST" and r.path.endswith(":predictLongRunning")
        )

    with httpx.Client(transport=emulator.transport(), follow_redirects=False) as client:
        if kind == "gemini-emulator":
            adapter: VideoGenerationPort = gemini_adapter(
                key, base_url=emulator.api_base, http_client=client, sleep=lambda _s: None
            )
            yield Double(kind, adapter, emulated_submits, UNKNOWN_GEMINI_OPERATION)
        else:
            adapter = vertex_adapter(
                project=PROJECT,
                location=LOCATION,
                credentials=FakeCredentials([token]),
                output_gcs_uri=BUCKET,
                base_url=emulator.api_base,
                storage_base_url=emulator.api_base,
                http_client=client,
                sleep=lambda _s: None,
            )
            yield Double(kind, adapter, emulated_submits, UNKNOWN_VERTEX_OPERATION)
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


def download_fails(double: Double, job: Veo3Job, tmp_path: Path) -> Veo3GenerationError:
    """Download ``job``, which must fail and leave no file, not even a partial one."""
    dest = tmp_path / "clips" / "intro.mp4"
    dest.parent.mkdir()
    with pytest.raises(Veo3GenerationError) as caught:
        double.port.download_clip(job, dest)
    assert caught.value.operation_name == job.operation_name
    assert list(dest.parent.iterdir()) == []
    return caught.value


# -- the port, call by call ------------------------------------------------------------------


@given(cassette_marks("success", default="success", polls=2))
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


@given(cassette_marks("operation_error", default="generation_failed"))
def test_a_failed_generation_is_failed_generation_failed_with_a_reason(double: Double) -> None:
    failed, statuses = poll_until_settled(double, submit(double))
    assert statuses == [JobStatus.FAILED]
    assert failed.error_message == ErrorCode.GENERATION_FAILED
    assert failed.error_detail


@given(cassette_marks("rai_filtered", default="rai_filtered"))
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
            marks=cassette_marks("download_not_found", default=FakeOutcome.download_failed()),
            id="not-found",
        ),
        pytest.param(
            403,
            marks=cassette_marks(
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
    error = download_fails(double, generated, tmp_path)
    assert error.status_code == status
    assert f"HTTP {status}" in str(error)


@given(EXPIRED)
def test_an_expired_video_is_generated_then_its_download_answers_404(
    unrecorded_double: Double, tmp_path: Path
) -> None:
    generated, statuses = poll_until_settled(unrecorded_double, submit(unrecorded_double))
    assert statuses == [JobStatus.SUBMITTED, JobStatus.SUBMITTED, JobStatus.GENERATED]
    error = download_fails(unrecorded_double, generated, tmp_path)
    assert isinstance(error, DownloadError)
    assert error.status_code == 404
    assert str(error).startswith(
        f"download of operation {generated.operation_name} failed: HTTP 404 from "
    )


@given(cassette_marks("success"))
def test_polling_an_unknown_operation_is_failed_operation_not_found(double: Double) -> None:
    if double.unknown_operation is None:
        pytest.skip("a cassette answers only the operation it recorded")
    name = double.unknown_operation
    job = Veo3Job(VARIANT, PROMPT, status=JobStatus.SUBMITTED, operation_name=name)
    polled = double.port.poll_job(job)
    assert polled.status is JobStatus.FAILED
    assert polled.error_message == ErrorCode.OPERATION_NOT_FOUND
    assert polled.operation_name == name
    assert polled.error_detail.startswith(f"poll of operation {name} failed: HTTP 404 NOT_FOUND")


@given(OPERATION_NOT_FOUND)
def test_an_operation_the_poll_no_longer_finds_is_failed_operation_not_found(
    unrecorded_double: Double,
) -> None:
    job = submit(unrecorded_double)
    failed, statuses = poll_until_settled(unrecorded_double, job)
    assert statuses == [JobStatus.FAILED]
    assert failed.error_message == ErrorCode.OPERATION_NOT_FOUND
    assert failed.operation_name == job.operation_name
    prefix = f"poll of operation {job.operation_name} failed: HTTP 404 NOT_FOUND"
    assert failed.error_detail.startswith(prefix)


@given(POLL_FAILED)
def test_a_poll_that_fails_for_good_raises_a_poll_error_that_is_not_transient(
    unrecorded_double: Double,
) -> None:
    job = submit(unrecorded_double)
    with pytest.raises(PollError) as caught:
        unrecorded_double.port.poll_job(job)
    assert caught.value.status_code == 403
    assert not caught.value.transient
    assert caught.value.operation_name == job.operation_name
    prefix = f"poll of operation {job.operation_name} failed: HTTP 403 PERMISSION_DENIED"
    assert str(caught.value).startswith(prefix)


@given(NEVER_DONE)
def test_an_operation_that_is_never_done_stays_submitted_and_has_no_video(
    unrecorded_double: Double, tmp_path: Path
) -> None:
    job = submit(unrecorded_double)
    for _ in range(_MAX_POLLS):
        assert unrecorded_double.port.poll_job(job) == job  # unchanged: no jobs.json write per poll
    error = download_fails(unrecorded_double, job, tmp_path)
    assert isinstance(error, DownloadError)
    assert error.status_code is None
    assert str(error) == f"operation {job.operation_name} has no video to download (still running)"


@given(cassette_marks("quota_exhausted_daily", default="quota_exhausted"))
def test_a_daily_quota_refuses_the_submit_and_stops_the_batch(double: Double) -> None:
    with pytest.raises(QuotaExhaustedError) as caught:
        double.port.submit_job(VARIANT, PROMPT)
    assert isinstance(caught.value, BatchStoppingError)
    assert caught.value.status_code == 429
    assert caught.value.operation_name == ""
    assert "the per-day quota is used up" in str(caught.value)
    assert double.submits() == 1  # not sent again: the quota does not reset in seconds


# -- the jobs the orchestrator ends with -----------------------------------------------------


@dataclass(frozen=True)
class Ends:
    """How the orchestrator leaves the job: ``detail`` is how ``error_detail`` starts,
    ``{op}`` standing for the job's operation name."""

    status: JobStatus
    code: str = ""
    detail: str = ""


ON_CASSETTES = [
    pytest.param(
        Ends(JobStatus.DOWNLOADED),
        marks=cassette_marks("success", default="success", polls=2),
        id="success",
    ),
    pytest.param(
        Ends(JobStatus.FAILED, ErrorCode.RAI_FILTERED, DEFAULT_RAI_REASON),
        marks=cassette_marks("rai_filtered", default="rai_filtered"),
        id="rai_filtered",
    ),
    pytest.param(
        Ends(JobStatus.FAILED, ErrorCode.GENERATION_FAILED),
        marks=cassette_marks("operation_error", default="generation_failed"),
        id="generation_failed",
    ),
    pytest.param(
        Ends(JobStatus.FAILED, ErrorCode.DOWNLOAD_FAILED, _DOWNLOAD_404),
        marks=cassette_marks("download_not_found", default="download_failed"),
        id="download_failed",
    ),
]
EMULATED_ONLY = [
    pytest.param(
        Ends(JobStatus.FAILED, ErrorCode.DOWNLOAD_FAILED, _DOWNLOAD_404),
        marks=EXPIRED,
        id="expired",
    ),
    pytest.param(
        Ends(JobStatus.FAILED, ErrorCode.POLL_FAILED, _POLL_403),
        marks=POLL_FAILED,
        id="poll_failed",
    ),
    pytest.param(
        Ends(JobStatus.FAILED, ErrorCode.OPERATION_NOT_FOUND, _POLL_404),
        marks=OPERATION_NOT_FOUND,
        id="operation_not_found",
    ),
    pytest.param(
        Ends(JobStatus.FAILED, ErrorCode.TIMEOUT, f"still running after {_TIMEOUT:g}s; run resume"),
        marks=NEVER_DONE,
        id="timeout",
    ),
]


def run_one_job(double: Double, tmp_path: Path, ends: Ends) -> None:
    """Run one variant through the orchestrator; the job, its clip and jobs.json as ``ends``."""
    clock = FakeClock()
    orchestrator = Veo3Orchestrator(
        double.port,
        tmp_path,
        poll_interval=_POLL_INTERVAL,
        timeout=_TIMEOUT,
        sleep=clock.sleep,
        clock=clock,
    )
    (job,) = orchestrator.run({VARIANT: PROMPT})
    assert (job.status, job.error_message, job.batch_stopped_by) == (ends.status, ends.code, "")
    assert job.operation_name
    assert job.error_detail.startswith(ends.detail.format(op=job.operation_name))
    assert bool(job.error_detail) is (ends.status is JobStatus.FAILED)
    clip = orchestrator.clip_path(VARIANT)
    assert is_mp4_file(clip) if ends.status is JobStatus.DOWNLOADED else not clip.exists()
    assert read_jobs_json(orchestrator.jobs_path) == [job]
    assert double.submits() == 1


@pytest.mark.parametrize("ends", ON_CASSETTES)
def test_an_outcome_leaves_the_same_job_through_the_orchestrator(
    double: Double, tmp_path: Path, ends: Ends
) -> None:
    run_one_job(double, tmp_path, ends)


@pytest.mark.parametrize("ends", EMULATED_ONLY)
def test_an_outcome_no_cassette_holds_leaves_the_same_job_through_the_orchestrator(
    unrecorded_double: Double, tmp_path: Path, ends: Ends
) -> None:
    run_one_job(unrecorded_double, tmp_path, ends)


@given(cassette_marks("quota_exhausted_daily", default="quota_exhausted"))
def test_a_daily_quota_stops_the_batch_through_the_orchestrator(
    double: Double, tmp_path: Path
) -> None:
    orchestrator = Veo3Orchestrator(double.port, tmp_path, sleep=lambda _s: None)
    refused, unsent = orchestrator.run({VARIANT: PROMPT, "outro": "A lighthouse at dusk"})
    for job in (refused, unsent):
        assert (job.status, job.error_message) == (JobStatus.FAILED, ErrorCode.QUOTA_EXHAUSTED)
        assert (job.operation_name, job.batch_stopped_by) == ("", VARIANT)
    assert refused.error_detail.startswith(
        "submit of variant 'intro' was refused: the per-day quota is used up"
    )
    assert unsent.error_detail.startswith(
        "not sent: this run stopped sending jobs after this refusal: "
        "submit of variant 'intro' was refused: the per-day quota is used up"
    )
    assert double.submits() == 1  # the second job was never sent
    assert not any(orchestrator.clips_dir.glob("*.mp4"))
