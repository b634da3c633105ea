"""jobs.json and the inputs: each file recorded as its path and SHA-256 (never its bytes), the
extended video's URI kept, older files still read, and ``run`` judging a changed image (by
its digest) as a changed request."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from _kit.images import MakeImage

from veo3_adapter import (
    ErrorCode,
    FakeOutcome,
    FakeVeo3Adapter,
    InputFile,
    JobInputs,
    JobsFileError,
    JobStatus,
    Veo3Job,
    Veo3Orchestrator,
    VideoInputs,
    read_jobs_json,
    write_jobs_json,
)
from veo3_adapter._inputs import read_input
from veo3_adapter.store import job_from_dict, job_to_dict

DIGEST = "ab" * 32


def orchestrator(fake: FakeVeo3Adapter, out: Path) -> Veo3Orchestrator:
    return Veo3Orchestrator(fake, out, sleep=lambda seconds: None)


def test_a_job_without_inputs_is_written_as_before() -> None:
    data = job_to_dict(Veo3Job(variant="a", prompt="p"))
    assert "inputs" not in data
    assert job_from_dict(data).inputs == JobInputs()


def test_inputs_round_trip_as_paths_digests_and_the_extended_uri() -> None:
    inputs = JobInputs(
        image=InputFile("/frames/a.png", DIGEST),
        last_frame=InputFile("/frames/b.png", "cd" * 32),
        extend="intro",
        extend_uri="gs://b/o.mp4",
    )
    data = job_to_dict(Veo3Job(variant="a", prompt="p", inputs=inputs))
    assert data["inputs"] == {
        "image": {"path": "/frames/a.png", "sha256": DIGEST},
        "last_frame": {"path": "/frames/b.png", "sha256": "cd" * 32},
        "extend": "intro",
        "extend_uri": "gs://b/o.mp4",
    }
    assert job_from_dict(json.loads(json.dumps(data))).inputs == inputs


def test_a_jobs_file_written_before_inputs_existed_is_read(tmp_path: Path) -> None:
    path = tmp_path / "jobs.json"
    path.write_text(json.dumps({"version": 1, "jobs": [{"variant": "a", "prompt": "p"}]}))
    (job,) = read_jobs_json(path)
    assert job.inputs == JobInputs() and not job.inputs


@pytest.mark.parametrize(
    ("inputs", "needle"),
    [
        ([], "field 'inputs' must be an object"),
        ({"image": {"path": "/a.png", "sha256": "x"}}, "inputs.image.sha256 is not a SHA-256"),
        ({"image": {"sha256": DIGEST}}, "inputs.image.path must be a path"),
        ({"reference_images": {"path": "/a"}}, "inputs.reference_images must be a list"),
        ({"extend": 3}, "inputs.extend must be a string"),
        ({"extend": "../x"}, "is not allowed"),
    ],
)
def test_broken_inputs_in_jobs_json_are_reported(
    tmp_path: Path, inputs: object, needle: str
) -> None:
    path = tmp_path / "jobs.json"
    job = {"variant": "a", "prompt": "p", "inputs": inputs}
    path.write_text(json.dumps({"version": 1, "jobs": [job]}))
    with pytest.raises(JobsFileError, match=needle):
        read_jobs_json(path)


def test_jobs_json_holds_each_image_by_path_and_digest(image: MakeImage, tmp_path: Path) -> None:
    first, ref = image("first.png"), image("ref.webp", "webp")
    run = orchestrator(FakeVeo3Adapter(), tmp_path / "out")
    run.run(
        {"a": "p", "b": "q"},
        inputs={"a": VideoInputs(image=first), "b": VideoInputs(reference_images=(str(ref),))},
    )
    text = run.jobs_path.read_text()
    jobs = {job.variant: job for job in read_jobs_json(run.jobs_path)}
    assert jobs["a"].inputs.image is not None and jobs["a"].inputs.image.path == str(first)
    assert [r.path for r in jobs["b"].inputs.reference_images] == [str(ref)]
    assert jobs["a"].inputs.image.sha256 == hashlib.sha256(first.read_bytes()).hexdigest()
    assert first.read_bytes().decode("latin-1") not in text


def test_a_moved_image_with_the_same_bytes_is_the_same_request(
    image: MakeImage, tmp_path: Path
) -> None:
    fake = FakeVeo3Adapter()
    run = orchestrator(fake, tmp_path / "out")
    first = image("first.png")
    run.run({"a": "p"}, inputs={"a": VideoInputs(image=first)})
    moved = first.rename(first.with_name("renamed.png"))

    run.run({"a": "p"}, inputs={"a": VideoInputs(image=moved)})

    assert run.last_run is not None and run.last_run.skipped == ("a",)
    assert len(fake.calls_to("submit_job")) == 1


def test_a_changed_or_dropped_input_is_a_new_request(image: MakeImage, tmp_path: Path) -> None:
    fake = FakeVeo3Adapter()
    run = orchestrator(fake, tmp_path / "out")
    first = image("first.png")
    run.run({"a": "p"}, inputs={"a": VideoInputs(image=first)})

    first.write_bytes(first.read_bytes() + b"retouched")
    run.run({"a": "p"}, inputs={"a": VideoInputs(image=first)})
    assert run.last_run is not None and run.last_run.submitted == ("a",)

    (job,) = run.run({"a": "p"})  # the same prompt without its image
    assert run.last_run.submitted == ("a",) and not job.inputs
    assert [bool(call.inputs) for call in fake.calls_to("submit_job")] == [True, True, False]


def test_an_extension_is_sent_again_when_its_source_was_regenerated(tmp_path: Path) -> None:
    fake = FakeVeo3Adapter()
    run = orchestrator(fake, tmp_path / "out")
    run.run({"intro": "an intro"})
    extension = {"next": VideoInputs(extend="intro")}
    (first,) = run.run({"next": "more"}, inputs=extension)
    run.run({"next": "more"}, inputs=extension)
    assert run.last_run is not None and run.last_run.skipped == ("next",)

    run.run({"intro": "another intro"})
    (again,) = run.run({"next": "more"}, inputs=extension)

    assert run.last_run.submitted == ("next",)
    assert again.inputs.extend_uri != first.inputs.extend_uri
    assert again.inputs.extend_uri == run.jobs()[0].video_uri


def test_resume_sends_an_unsent_job_with_its_recorded_inputs(
    image: MakeImage, tmp_path: Path
) -> None:
    first, second = image("first.png"), image("second.png")
    fake = FakeVeo3Adapter({"a": FakeOutcome.quota_exhausted()})
    run = orchestrator(fake, tmp_path / "out")
    jobs = run.run(
        {"a": "p", "b": "q", "c": "r"},
        inputs={"b": VideoInputs(image=first), "c": VideoInputs(image=second)},
    )
    assert [j.error_message for j in jobs] == [ErrorCode.QUOTA_EXHAUSTED.value] * 3
    second.write_bytes(second.read_bytes() + b"edited")  # c's image changed since
    fake.script("a", "success")

    resumed = {job.variant: job for job in run.resume()}

    assert resumed["b"].status is JobStatus.DOWNLOADED
    assert resumed["b"].inputs == jobs[1].inputs
    (call,) = [c for c in fake.calls_to("submit_job") if c.variant == "b"]
    assert call.inputs == jobs[1].inputs
    # The fake does not read files; a real backend refuses a changed one (see test_inputs_wire).
    assert resumed["c"].status is JobStatus.DOWNLOADED


def test_a_backend_refusing_a_changed_image_at_resume_fails_that_job_only(
    image: MakeImage, tmp_path: Path
) -> None:
    class Reading(FakeVeo3Adapter):
        """A fake that reads its inputs as the real backends do."""

        def submit_job(
            self,
            variant: str,
            prompt: str,
            options: object = None,
            inputs: JobInputs | None = None,
        ) -> Veo3Job:
            for field, file in (inputs or JobInputs()).files():
                read_input(variant, field, file)
            return super().submit_job(variant, prompt, None, inputs)

    first = image("first.png")
    out = tmp_path / "out"
    path = out / "veo3" / "jobs.json"
    path.parent.mkdir(parents=True)
    digest = "00" * 32  # not the file's: it changed since the job was made
    unsent = Veo3Job(
        variant="b",
        prompt="q",
        status=JobStatus.FAILED,
        error_message=ErrorCode.QUOTA_EXHAUSTED.value,
        batch_stopped_by="a",
        inputs=JobInputs(image=InputFile(str(first), digest)),
    )
    write_jobs_json(path, [unsent], backend={"backend": "fake"})

    (job,) = orchestrator(Reading(), out).resume()

    assert (job.status, job.error_message) == (JobStatus.FAILED, ErrorCode.SUBMIT_FAILED.value)
    assert "image:" in job.error_detail and "changed since the job was made" in job.error_detail
    assert job.inputs == unsent.inputs
