"""Every input that cannot be sent is refused by ``run`` before any request, naming its field.

Each test runs the real adapter on respx with no route at all: a request would fail the
test (and ``router.calls`` stays empty), and nothing is written to the output directory.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import respx
from _kit.adapters import AdapterFactory, VertexFactory
from _kit.images import MakeImage

from veo3_adapter import (
    ConfigurationError,
    ErrorCode,
    FakeVeo3Adapter,
    GenerationOptions,
    InvalidInputsError,
    InvalidJobError,
    InvalidOptionsError,
    InvalidVariantError,
    JobStatus,
    Veo3Job,
    Veo3Orchestrator,
    VideoInputs,
    write_jobs_json,
)
from veo3_adapter._inputs import MAX_IMAGE_BYTES

NOW = "2030-01-03T12:00:00+00:00"
GCS_VIDEO = "gs://my-bucket/out/123/sample_0.mp4"


@pytest.fixture
def refused(
    make_vertex: VertexFactory, router: respx.MockRouter, out: Path
) -> Iterator[Callable[..., InvalidInputsError]]:
    """``refused(inputs=..., options=..., prompts=...)``: ``run`` on Vertex AI raises
    ``InvalidInputsError``, returned; afterwards no request was made and nothing written
    but what the test wrote itself."""
    before: list[str] = []

    def files() -> list[str]:  # the lock aside (run takes it before reading jobs.json)
        found = out.rglob("*") if out.exists() else ()
        return sorted(str(p) for p in found if p.is_file() and not p.name.endswith(".lock"))

    def run(
        *,
        inputs: Mapping[str, VideoInputs],
        prompts: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> InvalidInputsError:
        before[:] = files()
        orchestrator = Veo3Orchestrator(make_vertex(**kwargs), out, now=lambda: NOW)
        with pytest.raises(InvalidInputsError) as info:
            orchestrator.run(prompts or {"clip": "a cat"}, inputs=inputs)
        return info.value

    yield run
    assert not router.calls
    assert files() == before


def check(error: InvalidInputsError, field: str, *needles: str) -> None:
    assert isinstance(error, InvalidJobError) and isinstance(error, ValueError)
    assert (error.variant, error.field) == ("clip", field)
    assert str(error).startswith(f"variant 'clip': {field}: ")
    for needle in needles:
        assert needle in str(error)


def test_a_missing_file(refused: Callable[..., InvalidInputsError], tmp_path: Path) -> None:
    error = refused(inputs={"clip": VideoInputs(image=tmp_path / "nope.png")})
    check(error, "image", "nope.png does not exist")


def test_a_directory(refused: Callable[..., InvalidInputsError], tmp_path: Path) -> None:
    error = refused(inputs={"clip": VideoInputs(image=tmp_path)})
    check(error, "image", "is not a regular file")


def test_a_fifo_is_refused_without_waiting_for_a_writer(
    refused: Callable[..., InvalidInputsError], tmp_path: Path
) -> None:
    fifo = tmp_path / "frame.png"
    os.mkfifo(fifo)
    error = refused(inputs={"clip": VideoInputs(last_frame=fifo, image=fifo)})
    check(error, "image", "is not a regular file")


def test_a_file_named_png_that_is_not_an_image(
    refused: Callable[..., InvalidInputsError], tmp_path: Path
) -> None:
    fake = tmp_path / "frame.png"
    fake.write_text("<html>not an image</html>")
    error = refused(inputs={"clip": VideoInputs(image=fake)})
    check(error, "image", "is not a PNG, JPEG or WebP image (judged by its bytes)")


def test_an_image_past_the_size_limit(
    refused: Callable[..., InvalidInputsError], image: MakeImage
) -> None:
    big = image("big.png", size=MAX_IMAGE_BYTES + 1)
    refs = (image("a.png"), big)
    error = refused(inputs={"clip": VideoInputs(reference_images=refs)})
    check(error, "reference_images[1]", "larger than the 20,000,000-byte limit")


def test_an_image_at_the_size_limit_is_taken(
    image: MakeImage, make_vertex: VertexFactory, router: respx.MockRouter, out: Path
) -> None:
    fake = FakeVeo3Adapter()
    limit = image("limit.png", size=MAX_IMAGE_BYTES)
    (job,) = Veo3Orchestrator(fake, out, sleep=lambda s: None).run(
        {"clip": "a cat"}, inputs={"clip": VideoInputs(image=str(limit))}
    )
    assert job.status is JobStatus.DOWNLOADED and job.inputs.image is not None


def test_a_last_frame_without_a_first(
    refused: Callable[..., InvalidInputsError], image: MakeImage
) -> None:
    error = refused(inputs={"clip": VideoInputs(last_frame=image("last.png"))})
    check(error, "last_frame", "needs a first one")


def test_more_than_three_references(
    refused: Callable[..., InvalidInputsError], image: MakeImage
) -> None:
    refs = tuple(image(f"r{i}.png") for i in range(4))
    error = refused(inputs={"clip": VideoInputs(reference_images=refs)})
    check(error, "reference_images", "4 given; the API takes at most 3")


def test_references_beside_a_first_frame(
    refused: Callable[..., InvalidInputsError], image: MakeImage
) -> None:
    inputs = VideoInputs(image=image("first.png"), reference_images=(image("r.png"),))
    error = refused(inputs={"clip": inputs})
    check(error, "reference_images", "cannot be combined")


def test_a_path_of_the_wrong_type(refused: Callable[..., InvalidInputsError]) -> None:
    error = refused(inputs={"clip": VideoInputs(image=42)})  # type: ignore[arg-type]
    check(error, "image", "must be a path, got int")


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("seed", 7),
        ("generate_audio", True),
        ("compression_quality", "optimized"),
        ("resize_mode", "pad"),
    ],
)
def test_a_vertex_only_option_on_the_gemini_api(
    option: str,
    value: object,
    make_adapter: AdapterFactory,
    router: respx.MockRouter,
    out: Path,
) -> None:
    orchestrator = Veo3Orchestrator(make_adapter(), out)
    with pytest.raises(InvalidInputsError) as info:
        orchestrator.run(
            {"clip": "a cat"}, options={"clip": GenerationOptions.from_mapping({option: value})}
        )
    assert (info.value.variant, info.value.field) == ("clip", f"options.{option}")
    assert "the gemini backend does not accept it (only the vertex backend does)" in str(info.value)
    assert not router.calls and not orchestrator.jobs_path.exists()


def test_a_gemini_adapter_refuses_vertex_only_defaults(make_adapter: AdapterFactory) -> None:
    with pytest.raises(ConfigurationError, match="GeminiVeo3Adapter does not accept .*seed"):
        make_adapter(options=GenerationOptions(seed=1))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"seed": -1}, "an integer from 0 to 4294967295"),
        ({"seed": 2**32}, "an integer from 0 to 4294967295"),
        ({"compression_quality": "best"}, "one of 'optimized', 'lossless'"),
        ({"resize_mode": "stretch"}, "one of 'crop', 'pad'"),
        ({"generate_audio": "yes"}, "true or false"),
    ],
)
def test_vertex_options_out_of_range(values: dict[str, object], expected: str) -> None:
    with pytest.raises(InvalidOptionsError, match=expected):
        GenerationOptions.from_mapping(values)


def test_inputs_for_a_variant_without_a_prompt(image: MakeImage, out: Path) -> None:
    orchestrator = Veo3Orchestrator(FakeVeo3Adapter(), out)
    with pytest.raises(InvalidVariantError, match="inputs given for variants with no prompt"):
        orchestrator.run({"a": "p"}, inputs={"b": VideoInputs(image=image("x.png"))})
    assert not orchestrator.jobs_path.exists()


def test_a_port_that_takes_no_inputs(image: MakeImage, out: Path) -> None:
    class OldPort(FakeVeo3Adapter):
        def submit_job(  # type: ignore[override]
            self, variant: str, prompt: str, options: GenerationOptions | None = None
        ) -> Veo3Job:
            return super().submit_job(variant, prompt, options)

    port = OldPort()
    orchestrator = Veo3Orchestrator(port, out, sleep=lambda s: None)
    with pytest.raises(InvalidInputsError, match="OldPort.submit_job takes no inputs"):
        orchestrator.run({"clip": "p"}, inputs={"clip": VideoInputs(image=image("x.png"))})
    assert not port.calls
    # Jobs without inputs still go through it, by the two-argument form.
    (job,) = orchestrator.run({"clip": "p"})
    assert job.status is JobStatus.DOWNLOADED


# -- extensions ------------------------------------------------------------------------------


def recorded(out: Path, *jobs: Veo3Job, backend: str = "vertex") -> None:
    path = out / "veo3" / "jobs.json"
    path.parent.mkdir(parents=True)
    base = "https://us-central1-aiplatform.googleapis.com"
    write_jobs_json(path, list(jobs), backend={"backend": backend, "base_url": base})


def intro(**changes: Any) -> Veo3Job:
    fields: dict[str, Any] = {
        "variant": "intro",
        "prompt": "an intro",
        "status": JobStatus.DOWNLOADED,
        "operation_name": "projects/my-proj/locations/us-central1/publishers/google/models/"
        "veo-3.1-generate-001/operations/0f3c2b1a-1111-2222-3333-444455556666",
        "video_uri": GCS_VIDEO,
        "created_at": "2030-01-02T12:00:00+00:00",
        "updated_at": "2030-01-02T12:05:00+00:00",
        **changes,
    }
    return Veo3Job(**fields)


def test_an_extension_of_a_variant_not_in_jobs_json(
    refused: Callable[..., InvalidInputsError],
) -> None:
    error = refused(inputs={"clip": VideoInputs(extend="intro")})
    check(error, "extend", "variant 'intro' is not in jobs.json")


def test_an_extension_of_a_variant_without_a_video(
    refused: Callable[..., InvalidInputsError], out: Path
) -> None:
    recorded(out, intro(status=JobStatus.FAILED, video_uri="", error_message="rai_filtered"))
    error = refused(inputs={"clip": VideoInputs(extend="intro")})
    check(error, "extend", "has no video on the server to extend", "output_gcs_uri")


def test_an_extension_of_an_expired_video(
    refused: Callable[..., InvalidInputsError], out: Path
) -> None:
    recorded(out, intro(created_at="2030-01-01T12:00:00+00:00"))  # two days before NOW
    error = refused(inputs={"clip": VideoInputs(extend="intro")})
    check(error, "extend", "generated at 2030-01-01T12:00:00+00:00", "has expired")


def test_an_extension_of_a_video_from_another_backend(
    refused: Callable[..., InvalidInputsError], out: Path
) -> None:
    recorded(out, intro(), backend="gemini")
    error = refused(inputs={"clip": VideoInputs(extend="intro")})
    check(error, "extend", "another backend")


def test_an_extension_of_a_variant_this_run_submits_anew(
    refused: Callable[..., InvalidInputsError], out: Path
) -> None:
    recorded(out, intro())
    error = refused(
        prompts={"intro": "another intro", "clip": "more"},
        inputs={"clip": VideoInputs(extend="intro")},
    )
    check(error, "extend", "is submitted anew in this run")


def test_a_variant_extending_itself(refused: Callable[..., InvalidInputsError]) -> None:
    error = refused(inputs={"clip": VideoInputs(extend="clip")})
    check(error, "extend", "cannot extend itself")


def test_an_extension_with_an_image(
    refused: Callable[..., InvalidInputsError], image: MakeImage
) -> None:
    error = refused(inputs={"clip": VideoInputs(image=image("a.png"), extend="intro")})
    check(error, "extend", "cannot be combined with an image")


def test_an_extension_a_day_later_is_sent_with_the_recorded_uri(out: Path) -> None:
    fake = FakeVeo3Adapter()
    path = out / "veo3" / "jobs.json"
    path.parent.mkdir(parents=True)
    write_jobs_json(path, [intro()], backend=fake.describe())
    orchestrator = Veo3Orchestrator(fake, out, now=lambda: NOW, sleep=lambda s: None)

    (job,) = orchestrator.run({"clip": "more"}, inputs={"clip": VideoInputs(extend="intro")})

    assert job.status is JobStatus.DOWNLOADED, job.error_detail
    (call,) = fake.calls_to("submit_job")
    assert call.inputs is not None and call.inputs.extend_uri == GCS_VIDEO
    assert job.inputs.extend == "intro" and job.inputs.extend_uri == GCS_VIDEO
    assert job.error_message != ErrorCode.SUBMIT_FAILED.value
