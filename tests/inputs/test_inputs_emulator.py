"""End to end on the emulator, both backends: image-to-video, first and last frame, three
reference images, and the extension of a previous variant, through the orchestrator, the
real adapter and google-genai, each in-process and over loopback sockets.

The emulator checks each input as the API does and seeds each clip with the digest of its
inputs, so clips made from other inputs differ, and the same inputs give the same clip.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from _kit.images import MakeImage
from _kit.pipeline import Pipeline
from _kit.sdk import needs_gemini_submit

from veo3_adapter import JobStatus, VideoInputs, read_jobs_json
from veo3_adapter.emulator import Scenario
from veo3_adapter.mp4 import is_mp4_file, sample_clip

BUCKET_URI = "gs://veo3-emulator/renders/"


def pipeline_on(backend: str, *, sockets: bool = False) -> Pipeline:
    """An emulator whose ``[long]`` prompts take four polls, and ``backend``'s adapter on it."""
    return Pipeline(
        backend,
        seed=7,
        attempts=3,
        bucket_uri=BUCKET_URI,
        rules={"[long]": Scenario(running_polls=4)},
        sockets=sockets,
    )


BACKENDS = [pytest.param("gemini", marks=needs_gemini_submit), "vertex"]
TRANSPORTS = {"in-process": False, "sockets": True}


@pytest.fixture(params=TRANSPORTS.values(), ids=TRANSPORTS.keys())
def sockets(request: pytest.FixtureRequest) -> bool:
    """Whether the pipeline reaches the emulator over loopback sockets (else in-process)."""
    return bool(request.param)


@pytest.fixture(params=BACKENDS)
def pipeline(request: pytest.FixtureRequest, sockets: bool) -> Iterator[Pipeline]:
    built = pipeline_on(request.param, sockets=sockets)
    yield built
    built.close()


def storyboard(image: MakeImage) -> tuple[dict[str, str], dict[str, VideoInputs]]:
    first, last = image("first.png"), image("last.jpg", "jpeg")
    refs = (image("hero.png"), image("hero-side.jpg", "jpeg"), image("hero-back.webp", "webp"))
    prompts = {
        "opening": "the hero wakes up",
        "again": "the hero wakes up, take two",
        "between": "the hero crosses the room",
        "hero": "the hero walks in the rain",
        "plain": "a rainy street",
    }
    inputs = {
        "opening": VideoInputs(image=first),
        "again": VideoInputs(image=first),
        "between": VideoInputs(image=first, last_frame=last),
        "hero": VideoInputs(reference_images=refs),
    }
    return prompts, inputs


def test_every_input_then_an_extension(
    pipeline: Pipeline, image: MakeImage, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    orchestrator = pipeline.orchestrator(tmp_path / "out")
    prompts, inputs = storyboard(image)

    jobs = {job.variant: job for job in orchestrator.run(prompts, inputs=inputs)}

    assert {v: j.status for v, j in jobs.items()} == dict.fromkeys(prompts, JobStatus.DOWNLOADED)
    clips = {v: orchestrator.clip_path(v).read_bytes() for v in prompts}
    assert all(is_mp4_file(orchestrator.clip_path(v)) for v in prompts)
    assert clips["plain"] == sample_clip()
    # The same inputs give the same clip; other inputs another one.
    assert clips["opening"] == clips["again"]
    assert len({clips[v] for v in ("opening", "between", "hero", "plain")}) == 4
    ops = pipeline.emulator.operations
    assert ops[jobs["opening"].operation_name].inputs == ops[jobs["again"].operation_name].inputs
    assert ops[jobs["plain"].operation_name].inputs == ""

    (extension,) = orchestrator.run(
        {"continued": "the hero walks on"}, inputs={"continued": VideoInputs(extend="opening")}
    )

    assert extension.status is JobStatus.DOWNLOADED, extension.error_detail
    assert extension.inputs.extend == "opening"
    assert extension.inputs.extend_uri == jobs["opening"].video_uri != ""
    continued = orchestrator.clip_path("continued").read_bytes()
    assert is_mp4_file(orchestrator.clip_path("continued")) and continued not in clips.values()

    recorded = {job.variant: job for job in read_jobs_json(orchestrator.jobs_path)}
    assert recorded["continued"].inputs == extension.inputs
    assert recorded["hero"].inputs == jobs["hero"].inputs
    text = orchestrator.jobs_path.read_text()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for name, file in jobs["hero"].inputs.files() + jobs["between"].inputs.files():
        data = Path(file.path).read_bytes()
        assert file.path in text and file.sha256 in text, name
        for where in (text, logged):
            assert base64.b64encode(data).decode() not in where
            assert data.decode("latin-1") not in where


def test_an_unchanged_storyboard_is_kept_and_a_changed_image_sent_again(
    pipeline: Pipeline, image: MakeImage, tmp_path: Path
) -> None:
    orchestrator = pipeline.orchestrator(tmp_path / "out")
    prompts, inputs = storyboard(image)
    first = {job.variant: job for job in orchestrator.run(prompts, inputs=inputs)}

    orchestrator.run(prompts, inputs=inputs)
    assert orchestrator.last_run is not None
    assert set(orchestrator.last_run.skipped) == set(prompts)

    last = inputs["between"].last_frame
    assert last is not None
    last.write_bytes(last.read_bytes() + b"retouched")
    again = {job.variant: job for job in orchestrator.run(prompts, inputs=inputs)}

    assert orchestrator.last_run.submitted == ("between",)
    assert again["between"].operation_name != first["between"].operation_name
    assert again["between"].status is JobStatus.DOWNLOADED
    assert again["between"].inputs.last_frame != first["between"].inputs.last_frame


def test_resume_needs_no_image(pipeline: Pipeline, image: MakeImage, tmp_path: Path) -> None:
    first = image("first.png")
    orchestrator = pipeline.orchestrator(tmp_path / "out", timeout=15.0)
    (timed_out,) = orchestrator.run(
        {"clip": "a long take [long]"}, inputs={"clip": VideoInputs(image=first)}
    )
    assert timed_out.status is JobStatus.FAILED and timed_out.error_message == "timeout"
    first.unlink()

    (job,) = pipeline.orchestrator(tmp_path / "out").resume()

    assert job.status is JobStatus.DOWNLOADED, job.error_detail
    assert job.inputs == timed_out.inputs and job.operation_name == timed_out.operation_name


def test_image_to_video(pipeline: Pipeline, image: MakeImage, tmp_path: Path) -> None:
    orchestrator = pipeline.orchestrator(tmp_path / "out")
    (job,) = orchestrator.run(
        {"clip": "a cat"}, inputs={"clip": VideoInputs(image=image("cat.webp", "webp"))}
    )
    assert job.status is JobStatus.DOWNLOADED, job.error_detail
    assert is_mp4_file(orchestrator.clip_path("clip"))
    assert orchestrator.clip_path("clip").read_bytes() != sample_clip()
    assert pipeline.emulator.key_leaks == []
