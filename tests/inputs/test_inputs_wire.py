"""Each input on the wire of each backend is what google-genai itself sends for the same call.

The reference request is made by the SDK (``models.generate_videos`` with its own types, on
a client whose transport only records), the adapter's by ``submit_job`` through respx; their
URLs and JSON bodies must be equal. No image byte may reach a log record.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from _kit.adapters import AdapterFactory, VertexFactory
from _kit.images import MakeImage
from _kit.sdk import needs_gemini_submit
from _kit.vertex import LOCATION, PROJECT, FakeCredentials, op_name, submit_url
from google import genai
from google.genai import types

from veo3_adapter import DEFAULT_MODEL, GenerationOptions, JobInputs, VideoInputs
from veo3_adapter._inputs import resolve_inputs

GEMINI_SUBMIT = (
    f"https://generativelanguage.googleapis.com/v1beta/models/{DEFAULT_MODEL}:predictLongRunning"
)
GEMINI_VIDEO = "https://generativelanguage.googleapis.com/v1beta/files/abc123:download?alt=media"
VERTEX_VIDEO = "gs://my-bucket/out/123/sample_0.mp4"


def sdk_request(
    client: Callable[[httpx.Client], genai.Client],
    source: types.GenerateVideosSource,
    config: types.GenerateVideosConfig,
) -> tuple[str, Any]:
    """The URL and JSON body google-genai sends for ``generate_videos`` (answered 200)."""
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"name": "operations/x"})

    with httpx.Client(transport=httpx.MockTransport(record)) as http:
        client(http).models.generate_videos(model=DEFAULT_MODEL, source=source, config=config)
    (request,) = seen
    return str(request.url), json.loads(request.content)


def gemini_sdk(key: str) -> Callable[[httpx.Client], genai.Client]:
    return lambda http: genai.Client(
        api_key=key,
        http_options=types.HttpOptions(api_version="v1beta", httpx_client=http),
    )


def vertex_sdk(http: httpx.Client) -> genai.Client:
    return genai.Client(
        vertexai=True,
        project=PROJECT,
        location=LOCATION,
        credentials=FakeCredentials(),
        http_options=types.HttpOptions(httpx_client=http),
    )


def image_of(path: Path, mime: str) -> types.Image:
    return types.Image(image_bytes=path.read_bytes(), mime_type=mime)


def cases(
    image: MakeImage, video: str
) -> dict[str, tuple[JobInputs, types.GenerateVideosSource, types.GenerateVideosConfig]]:
    """Per case: the inputs the adapter gets, and the source and config a caller of the SDK
    would write for the same request."""
    first, last = image("first.png"), image("last.jpg", "jpeg")
    refs = (image("a.png"), image("b.jpg", "jpeg"), image("c.webp", "webp"))
    mimes = ("image/png", "image/jpeg", "image/webp")
    prompt = "a cat"
    return {
        "image_to_video": (
            resolve_inputs("v", VideoInputs(image=first)),
            types.GenerateVideosSource(prompt=prompt, image=image_of(first, "image/png")),
            types.GenerateVideosConfig(number_of_videos=1),
        ),
        "first_and_last_frame": (
            resolve_inputs("v", VideoInputs(image=first, last_frame=last)),
            types.GenerateVideosSource(prompt=prompt, image=image_of(first, "image/png")),
            types.GenerateVideosConfig(number_of_videos=1, last_frame=image_of(last, "image/jpeg")),
        ),
        "three_references": (
            resolve_inputs("v", VideoInputs(reference_images=refs)),
            types.GenerateVideosSource(prompt=prompt),
            types.GenerateVideosConfig(
                number_of_videos=1,
                reference_images=[
                    types.VideoGenerationReferenceImage(
                        image=image_of(path, mime),
                        reference_type="asset",  # type: ignore[arg-type]
                    )
                    for path, mime in zip(refs, mimes, strict=True)
                ],
            ),
        ),
        "extension": (
            JobInputs(extend="intro", extend_uri=video),
            types.GenerateVideosSource(prompt=prompt, video=types.Video(uri=video)),
            types.GenerateVideosConfig(number_of_videos=1),
        ),
    }


CASES = ("image_to_video", "first_and_last_frame", "three_references", "extension")


def no_image_bytes_logged(caplog: pytest.LogCaptureFixture, files: list[Path]) -> None:
    text = "\n".join(record.getMessage() for record in caplog.records)
    for path in files:
        data = path.read_bytes()
        assert base64.b64encode(data).decode() not in text
        assert data.decode("latin-1") not in text


@needs_gemini_submit
@pytest.mark.parametrize("case", CASES)
def test_gemini_sends_each_input_as_the_sdk_does(
    case: str,
    image: MakeImage,
    make_adapter: AdapterFactory,
    router: respx.MockRouter,
    api_key: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    inputs, source, config = cases(image, GEMINI_VIDEO)[case]
    expected_url, expected = sdk_request(gemini_sdk(api_key), source, config)
    route = router.post(GEMINI_SUBMIT).respond(
        200, json={"name": f"models/{DEFAULT_MODEL}/operations/abc"}
    )
    caplog.set_level(logging.DEBUG)

    job = make_adapter().submit_job("v", "a cat", None, inputs=inputs)

    request = route.calls.last.request
    assert (str(request.url), json.loads(request.content)) == (expected_url, expected)
    assert job.inputs == inputs and job.operation_name.endswith("/operations/abc")
    no_image_bytes_logged(caplog, [Path(f.path) for _, f in inputs.files()])


@pytest.mark.parametrize("case", CASES)
def test_vertex_sends_each_input_as_the_sdk_does(
    case: str,
    image: MakeImage,
    make_vertex: VertexFactory,
    router: respx.MockRouter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    inputs, source, config = cases(image, VERTEX_VIDEO)[case]
    expected_url, expected = sdk_request(vertex_sdk, source, config)
    route = router.post(submit_url()).respond(200, json={"name": op_name()})
    caplog.set_level(logging.DEBUG)

    job = make_vertex().submit_job("v", "a cat", None, inputs=inputs)

    request = route.calls.last.request
    assert (str(request.url), json.loads(request.content)) == (expected_url, expected)
    assert job.inputs == inputs and job.operation_name == op_name()
    no_image_bytes_logged(caplog, [Path(f.path) for _, f in inputs.files()])


def test_vertex_sends_its_own_options_as_the_sdk_does(
    image: MakeImage, make_vertex: VertexFactory, router: respx.MockRouter
) -> None:
    first = image("first.webp", "webp")
    options = GenerationOptions(
        seed=42, generate_audio=True, compression_quality="LOSSLESS", resize_mode="crop"
    )
    expected_url, expected = sdk_request(
        vertex_sdk,
        types.GenerateVideosSource(prompt="a cat", image=image_of(first, "image/webp")),
        types.GenerateVideosConfig(
            number_of_videos=1,
            seed=42,
            generate_audio=True,
            compression_quality="lossless",  # type: ignore[arg-type]
            resize_mode="crop",  # type: ignore[arg-type]
        ),
    )
    route = router.post(submit_url()).respond(200, json={"name": op_name()})

    job = make_vertex().submit_job(
        "v", "a cat", options, inputs=resolve_inputs("v", VideoInputs(image=first))
    )

    request = route.calls.last.request
    assert (str(request.url), json.loads(request.content)) == (expected_url, expected)
    assert expected["parameters"]["compressionQuality"] == "LOSSLESS"
    assert job.options.compression_quality == "lossless" and job.options.seed == 42


def test_the_two_argument_submit_still_sends_a_text_only_request(
    make_vertex: VertexFactory, router: respx.MockRouter
) -> None:
    route = router.post(submit_url()).respond(200, json={"name": op_name()})
    job = make_vertex().submit_job("v", "a cat")
    assert json.loads(route.calls.last.request.content) == {
        "instances": [{"prompt": "a cat"}],
        "parameters": {"sampleCount": 1},
    }
    assert not job.inputs


def test_an_image_changed_since_the_job_was_made_is_not_sent(
    image: MakeImage, make_vertex: VertexFactory, router: respx.MockRouter
) -> None:
    first = image("first.png")
    inputs = resolve_inputs("v", VideoInputs(image=first))
    first.write_bytes(first.read_bytes() + b"edited")
    with pytest.raises(Exception, match=r"variant 'v': image: .*changed since the job was made"):
        make_vertex().submit_job("v", "a cat", None, inputs=inputs)
    assert not router.calls
