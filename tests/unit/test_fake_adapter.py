"""FakeVeo3Adapter: the port's contract, scriptable, no network."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
from _kit.clock import FakeClock

import veo3_adapter
from veo3_adapter import (
    DEFAULT_MODEL,
    BatchStoppingError,
    DownloadError,
    FakeOutcome,
    FakeOutcomeKind,
    FakeVeo3Adapter,
    GeminiVeo3Adapter,
    GenerationOptions,
    JobStatus,
    PollError,
    QuotaExhaustedError,
    SubmitError,
    Veo3Job,
    Veo3Orchestrator,
    VideoGenerationPort,
)
from veo3_adapter.mp4 import sample_clip


def test_both_adapters_satisfy_the_port(api_key: str) -> None:
    assert isinstance(FakeVeo3Adapter(), VideoGenerationPort)
    with GeminiVeo3Adapter(api_key) as real:
        assert isinstance(real, VideoGenerationPort)


def test_submit_returns_submitted_job_with_unique_operation_names() -> None:
    fake = FakeVeo3Adapter(options=GenerationOptions(aspect_ratio="16:9"))
    first = fake.submit_job("a", "a cat")
    second = fake.submit_job("a", "a cat", GenerationOptions(aspect_ratio="9:16"))
    assert first.status is JobStatus.SUBMITTED
    assert first.operation_name.startswith("models/") and "/operations/" in first.operation_name
    assert first.operation_name != second.operation_name
    assert first.options.aspect_ratio == "16:9" and second.options.aspect_ratio == "9:16"
    assert fake.operations == [first.operation_name, second.operation_name]
    assert [c.variant for c in fake.calls_to("submit_job")] == ["a", "a"]


def test_the_fake_defaults_to_the_packages_model_and_names_operations_after_it() -> None:
    fake = FakeVeo3Adapter()
    job = fake.submit_job("a", "a cat")
    assert job.options.model == DEFAULT_MODEL
    assert job.operation_name.startswith(f"models/{DEFAULT_MODEL}/operations/")
    other = fake.submit_job("b", "a dog", GenerationOptions(model="veo-3.1-fast-generate-001"))
    assert other.operation_name.startswith("models/veo-3.1-fast-generate-001/operations/")


def test_outcome_kinds_have_a_specific_name_and_the_old_one_still_imports() -> None:
    assert FakeOutcome.success().outcome is FakeOutcomeKind.SUCCESS
    assert "Outcome" not in veo3_adapter.__all__
    assert veo3_adapter.Outcome is FakeOutcomeKind  # deprecated alias


def test_success_after_scripted_polls_then_download_writes_mp4(tmp_path: Path) -> None:
    fake = FakeVeo3Adapter({"a": FakeOutcome.success(polls=2)})
    job = fake.submit_job("a", "p")
    dest = tmp_path / "veo3" / "a.mp4"
    with pytest.raises(DownloadError, match="still running"):
        fake.download_clip(job, dest)
    assert fake.poll_job(job).status is JobStatus.SUBMITTED
    assert fake.poll_job(job).status is JobStatus.SUBMITTED
    done = fake.poll_job(job)
    assert done.status is JobStatus.GENERATED and done.video_uri
    assert fake.download_clip(done, dest) == dest
    assert dest.read_bytes() == sample_clip()
    assert fake.calls_to("download_clip")[-1].dest == dest


@pytest.mark.parametrize(
    ("outcome", "code", "detail"),
    [
        (FakeOutcome.generation_failed("boom"), "generation_failed", "boom"),
        (FakeOutcome.rai_filtered("unsafe"), "rai_filtered", "unsafe"),
    ],
)
def test_failed_generations(outcome: FakeOutcome, code: str, detail: str, tmp_path: Path) -> None:
    fake = FakeVeo3Adapter(default=outcome)
    polled = fake.poll_job(fake.submit_job("a", "p"))
    assert (polled.status, polled.error_message, polled.error_detail) == (
        JobStatus.FAILED,
        code,
        detail,
    )
    with pytest.raises(DownloadError, match="no video"):
        fake.download_clip(polled, tmp_path / "a.mp4")


def test_download_failed_raises_with_status_and_writes_nothing(tmp_path: Path) -> None:
    fake = FakeVeo3Adapter({"a": FakeOutcome.download_failed(status_code=403)})
    job = fake.poll_job(fake.submit_job("a", "p"))
    assert job.status is JobStatus.GENERATED
    with pytest.raises(DownloadError) as info:
        fake.download_clip(job, tmp_path / "a.mp4")
    assert info.value.status_code == 403
    assert info.value.operation_name == job.operation_name
    assert list(tmp_path.iterdir()) == []


def test_submit_failed_raises_submit_error() -> None:
    fake = FakeVeo3Adapter()
    fake.script("b", FakeOutcome.submit_failed(status_code=400, detail="bad prompt"))
    with pytest.raises(SubmitError, match="bad prompt") as info:
        fake.submit_job("b", "p")
    assert info.value.status_code == 400
    assert fake.operations == []


@pytest.mark.parametrize(
    ("outcome", "error", "status"),
    [
        (FakeOutcome.quota_exhausted(), QuotaExhaustedError, 429),
        (FakeOutcome.submit_failed(status_code=404), BatchStoppingError, 404),
        (FakeOutcome.submit_failed(status_code=401), BatchStoppingError, 401),
        (FakeOutcome.submit_failed(status_code=403), BatchStoppingError, 403),
        (FakeOutcome.submit_failed(status_code=400), SubmitError, 400),
        (FakeOutcome.submit_failed(status_code=500), SubmitError, 500),
    ],
)
def test_refusals_raise_the_real_adapters_error_types(
    outcome: FakeOutcome, error: type[SubmitError], status: int
) -> None:
    """The fake classifies its refusals with the adapter's own rule: a batch stops alike."""
    fake = FakeVeo3Adapter(default=outcome)
    with pytest.raises(SubmitError) as caught:
        fake.submit_job("a", "p")
    assert type(caught.value) is error
    assert caught.value.status_code == status
    assert caught.value.operation_name == ""
    assert "submit of variant 'a' was refused" in str(caught.value)
    assert fake.operations == []


def test_quota_exhausted_names_the_daily_quota_and_the_fix() -> None:
    fake = FakeVeo3Adapter({"a": FakeOutcome.quota_exhausted()})
    with pytest.raises(QuotaExhaustedError, match="per-day quota is used up") as caught:
        fake.submit_job("a", "p")
    assert "HTTP 429 RESOURCE_EXHAUSTED" in str(caught.value)
    assert "resume" in str(caught.value)
    assert FakeOutcome.quota_exhausted().outcome is FakeOutcomeKind.QUOTA_EXHAUSTED
    assert fake.submit_job("b", "p").status is JobStatus.SUBMITTED  # only the scripted variant


def test_a_404_names_the_model_and_a_current_one() -> None:
    fake = FakeVeo3Adapter(default=FakeOutcome.submit_failed(status_code=404))
    with pytest.raises(BatchStoppingError) as caught:
        fake.submit_job("a", "p", GenerationOptions(model="veo-3.0-generate-001"))
    assert "model 'veo-3.0-generate-001' is unknown or retired" in str(caught.value)
    assert repr(DEFAULT_MODEL) in str(caught.value)


def test_unknown_or_missing_operation(tmp_path: Path) -> None:
    fake = FakeVeo3Adapter()
    unknown = Veo3Job(variant="a", prompt="p", status=JobStatus.SUBMITTED, operation_name="x/y")
    assert fake.poll_job(unknown).error_message == "operation_not_found"
    nameless = Veo3Job(variant="a", prompt="p", status=JobStatus.SUBMITTED)
    assert fake.poll_job(nameless).error_message == "missing_operation_name"
    with pytest.raises(DownloadError) as info:
        fake.download_clip(unknown, tmp_path / "a.mp4")
    assert info.value.status_code == 404


# -- outcomes by name ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(FakeOutcomeKind))
def test_every_outcome_has_a_name_that_makes_it(kind: FakeOutcomeKind) -> None:
    made = FakeOutcome.named(kind.value, polls=2)
    assert made == dataclasses.replace(getattr(FakeOutcome, kind.value)(), polls=made.polls)
    assert made.outcome is kind
    # Polls apply to what a poll can report done; a refused submit or a timeout never is.
    never_done = kind in (
        FakeOutcomeKind.SUBMIT_FAILED,
        FakeOutcomeKind.QUOTA_EXHAUSTED,
        FakeOutcomeKind.TIMEOUT,
    )
    assert made.polls == (0 if never_done else 2)


def test_script_takes_an_outcome_name_as_the_marker_does() -> None:
    fake = FakeVeo3Adapter()
    fake.script("storm", "rai_filtered")
    fake.script("calm", "success", polls=1)
    storm = fake.poll_job(fake.submit_job("storm", "p"))
    assert (storm.status, storm.error_message) == (JobStatus.FAILED, "rai_filtered")
    assert storm.error_detail == FakeOutcome.rai_filtered().detail
    calm = fake.submit_job("calm", "p")
    assert fake.poll_job(calm).status is JobStatus.SUBMITTED
    assert fake.poll_job(calm).status is JobStatus.GENERATED


def test_an_unknown_outcome_name_is_refused_at_once_naming_the_valid_ones() -> None:
    fake = FakeVeo3Adapter()
    valid = ", ".join(kind.value for kind in FakeOutcomeKind)
    with pytest.raises(ValueError) as caught:
        fake.script("storm", "rai_filterd")
    assert str(caught.value) == f"unknown outcome 'rai_filterd'; valid: {valid}"
    assert "poll_failed, operation_not_found, expired, timeout" in valid
    # Nothing was scripted: the variant still gets the default.
    assert fake.poll_job(fake.submit_job("storm", "p")).status is JobStatus.GENERATED
    with pytest.raises(ValueError, match="unknown outcome 'sunny'"):
        FakeVeo3Adapter({"a": "sunny"})
    with pytest.raises(ValueError, match="unknown outcome 'sunny'"):
        FakeVeo3Adapter(default="sunny")


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda f: f.script("a", 3), TypeError, "an outcome is a FakeOutcome or one of the names"),
        (lambda f: f.script("a", FakeOutcome.success(), polls=2), TypeError, "polls= goes with"),
        (lambda f: f.script("a", "success", polls=-1), ValueError, "polls must be a whole number"),
        (lambda f: f.script("a", "success", polls=True), ValueError, "polls must be"),
    ],
)
def test_a_wrong_script_is_refused_at_once(
    call: Callable[[FakeVeo3Adapter], None], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        call(FakeVeo3Adapter())


def test_names_in_the_constructor_make_the_same_outcomes() -> None:
    fake = FakeVeo3Adapter({"a": "timeout"}, default="expired")
    assert fake.default == FakeOutcome.expired()
    assert fake.poll_job(fake.submit_job("a", "p")).status is JobStatus.SUBMITTED


# -- the new outcomes ------------------------------------------------------------------------


def test_poll_failed_raises_a_poll_error_that_is_not_transient(tmp_path: Path) -> None:
    fake = FakeVeo3Adapter(default=FakeOutcome.poll_failed(polls=1))
    job = fake.submit_job("a", "p")
    assert fake.poll_job(job).status is JobStatus.SUBMITTED
    with pytest.raises(PollError) as caught:
        fake.poll_job(job)
    assert (caught.value.status_code, caught.value.transient) == (403, False)
    assert caught.value.operation_name == job.operation_name
    assert str(caught.value) == (
        f"poll of operation {job.operation_name} failed: HTTP 403 PERMISSION_DENIED: "
        "The caller does not have permission"
    )
    # A download reads the operation first, so it fails the same way.
    with pytest.raises(PollError):
        fake.download_clip(job, tmp_path / "a.mp4")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("status", [404, 429, 500, 503, 200, None])
def test_poll_failed_takes_only_a_status_a_poll_would_meet_again(status: int | None) -> None:
    with pytest.raises(ValueError, match="poll_failed takes an HTTP error status"):
        FakeOutcome(outcome=FakeOutcomeKind.POLL_FAILED, status_code=status)


def test_operation_not_found_fails_the_job_as_the_adapter_maps_a_404() -> None:
    fake = FakeVeo3Adapter(default=FakeOutcome.operation_not_found(polls=1))
    job = fake.submit_job("a", "p")
    assert fake.poll_job(job).status is JobStatus.SUBMITTED
    failed = fake.poll_job(job)
    assert (failed.status, failed.error_message) == (JobStatus.FAILED, "operation_not_found")
    assert failed.error_detail == (
        f"poll of operation {job.operation_name} failed: HTTP 404 NOT_FOUND: "
        "Requested entity was not found."
    )


def test_expired_is_generated_then_the_download_answers_404(tmp_path: Path) -> None:
    fake = FakeVeo3Adapter(default=FakeOutcome.expired(polls=2))
    job = fake.submit_job("a", "p")
    assert [fake.poll_job(job).status for _ in range(2)] == [JobStatus.SUBMITTED] * 2
    done = fake.poll_job(job)
    assert done.status is JobStatus.GENERATED
    with pytest.raises(DownloadError) as caught:
        fake.download_clip(done, tmp_path / "a.mp4")
    assert caught.value.status_code == 404
    file_id = job.operation_name.rsplit("/", 1)[-1]
    assert str(caught.value) == (
        f"download of operation {job.operation_name} failed: HTTP 404 from "
        f"fake://files/{file_id}:download: Requested entity was not found."
    )
    assert list(tmp_path.iterdir()) == []


def test_timeout_is_never_done_and_has_no_video(tmp_path: Path) -> None:
    fake = FakeVeo3Adapter(default=FakeOutcome.timeout())
    job = fake.submit_job("a", "p")
    assert all(fake.poll_job(job) == job for _ in range(100))
    with pytest.raises(DownloadError, match=r"no video to download \(still running\)"):
        fake.download_clip(job, tmp_path / "a.mp4")


@pytest.mark.parametrize(
    ("name", "status", "code", "stopped_by"),
    [
        ("success", JobStatus.DOWNLOADED, "", ""),
        ("generation_failed", JobStatus.FAILED, "generation_failed", ""),
        ("rai_filtered", JobStatus.FAILED, "rai_filtered", ""),
        ("download_failed", JobStatus.FAILED, "download_failed", ""),
        ("expired", JobStatus.FAILED, "download_failed", ""),
        ("submit_failed", JobStatus.FAILED, "submit_failed", ""),
        ("quota_exhausted", JobStatus.FAILED, "quota_exhausted", "a"),
        ("poll_failed", JobStatus.FAILED, "poll_failed", ""),
        ("operation_not_found", JobStatus.FAILED, "operation_not_found", ""),
        ("timeout", JobStatus.FAILED, "timeout", ""),
    ],
)
def test_every_outcome_name_ends_as_its_job_state_through_the_orchestrator(
    name: str, status: JobStatus, code: str, stopped_by: str, tmp_path: Path
) -> None:
    """The fake's side of the contract (tests/contract compares it with the real adapters)."""
    clock = FakeClock()
    fake = FakeVeo3Adapter()
    fake.script("a", name, polls=1)
    orchestrator = Veo3Orchestrator(fake, tmp_path, timeout=60, sleep=clock.sleep, clock=clock)
    (job,) = orchestrator.run({"a": "p"})
    assert (job.status, job.error_message, job.batch_stopped_by) == (status, code, stopped_by)
    assert bool(job.error_detail) is (status is JobStatus.FAILED)
