"""FakeVeo3Adapter: the port's contract, scriptable, no network."""

from __future__ import annotations

from pathlib import Path

import pytest

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
    QuotaExhaustedError,
    SubmitError,
    Veo3Job,
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
