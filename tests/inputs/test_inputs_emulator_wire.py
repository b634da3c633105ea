"""The emulator checks a submit's inputs as the API does: each bad one is a 400
INVALID_ARGUMENT and starts nothing, on the Gemini API's route and on Vertex AI's."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from _kit.keys import make_api_key, make_token

from veo3_adapter.emulator import Emulator, Scenario
from veo3_adapter.emulator._lifecycle import inputs_digest
from veo3_adapter.mp4 import sample_clip

MODEL = "veo-3.1-generate-001"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n-a-frame-").decode()
JPEG = base64.b64encode(b"\xff\xd8\xff\xe0-a-frame-").decode()


class Wire:
    def __init__(self) -> None:
        self.key, self.token = make_api_key(), make_token()
        self.emulator = Emulator(self.key, token=self.token, seed=3)
        self.http = httpx.Client(transport=self.emulator.transport(), follow_redirects=False)

    def submit(self, dialect: str, instance: dict[str, Any], **parameters: Any) -> httpx.Response:
        body = {"instances": [{"prompt": "a cat", **instance}], "parameters": parameters}
        base = self.emulator.api_base
        if dialect == "gemini":
            url = f"{base}/v1beta/models/{MODEL}:predictLongRunning"
            return self.http.post(url, json=body, headers={"x-goog-api-key": self.key})
        url = (
            f"{base}/v1beta1/projects/p/locations/us-central1/publishers/google/models/"
            f"{MODEL}:predictLongRunning"
        )
        return self.http.post(url, json=body, headers={"authorization": f"Bearer {self.token}"})


@pytest.fixture
def wire() -> Iterator[Wire]:
    made = Wire()
    yield made
    made.http.close()


def png(mime: str = "image/png") -> dict[str, str]:
    return {"bytesBase64Encoded": PNG, "mimeType": mime}


BAD: dict[str, tuple[dict[str, Any], str]] = {
    "image not an object": ({"image": "frame.png"}, "instances[0].image must be an object"),
    "no image data": ({"image": {"mimeType": "image/png"}}, "bytesBase64Encoded is required"),
    "bad base64": (
        {"image": {"bytesBase64Encoded": "not base64!", "mimeType": "image/png"}},
        "not valid base64",
    ),
    "not an image": (
        {"image": {"bytesBase64Encoded": base64.b64encode(b"GIF89a...").decode()}},
        "not a PNG, JPEG or WebP image",
    ),
    "wrong mime type": ({"image": png("image/jpeg")}, "does not match the image (image/png)"),
    "last frame alone": ({"lastFrame": png()}, "lastFrame needs instances[0].image"),
    "four references": (
        {"referenceImages": [{"image": png(), "referenceType": "ASSET"}] * 4},
        "referenceImages takes 1 to 3",
    ),
    "style reference": (
        {"referenceImages": [{"image": png(), "referenceType": "STYLE"}]},
        "is not supported by this model; use ASSET",
    ),
    "references and a frame": (
        {"image": png(), "referenceImages": [{"image": png(), "referenceType": "ASSET"}]},
        "cannot be combined",
    ),
    "image and video": (
        {"image": png(), "video": {"uri": "x", "gcsUri": "gs://b/o"}},
        "an image or a video to extend, not both",
    ),
}


@pytest.mark.parametrize("dialect", ["gemini", "vertex"])
@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_input_is_refused_like_the_api(wire: Wire, dialect: str, case: str) -> None:
    instance, message = BAD[case]
    response = wire.submit(dialect, instance)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT" and message in error["message"]
    assert wire.emulator.operations == {}


@pytest.mark.parametrize(
    ("instance", "parameters", "message"),
    [
        ({"image": {"gcsUri": "gs://b/frame.png", "mimeType": "image/png"}}, {}, "`gcsUri`"),
        ({"video": {"encodedVideo": "AAAA"}}, {}, "`encodedVideo`"),
        ({"video": {"uri": "https://elsewhere.example/v.mp4"}}, {}, "was not found"),
        ({}, {"seed": 3}, "`seed` isn't supported"),
        ({}, {"generateAudio": True}, "`generateAudio` isn't supported"),
    ],
)
def test_the_gemini_api_refuses_what_only_vertex_takes(
    wire: Wire, instance: dict[str, Any], parameters: dict[str, Any], message: str
) -> None:
    response = wire.submit("gemini", instance, **parameters)
    assert response.status_code == 400 and message in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("instance", "parameters", "message"),
    [
        ({"video": {"gcsUri": "gs://veo3-emulator/none.mp4"}}, {}, "was not found"),
        ({}, {"seed": -1}, "parameters.seed"),
        ({}, {"compressionQuality": "BEST"}, "OPTIMIZED, LOSSLESS"),
        ({}, {"resizeMode": "stretch"}, "CROP, PAD"),
    ],
)
def test_vertex_checks_its_own_inputs(
    wire: Wire, instance: dict[str, Any], parameters: dict[str, Any], message: str
) -> None:
    response = wire.submit("vertex", instance, **parameters)
    assert response.status_code == 400 and message in response.json()["error"]["message"]


def test_vertex_takes_its_options_an_image_by_uri_and_an_inline_video(wire: Wire) -> None:
    inline = base64.b64encode(sample_clip()).decode()
    for instance, parameters in (
        ({"image": {"gcsUri": "gs://b/frame.png", "mimeType": "image/png"}}, {"seed": 1}),
        ({"video": {"bytesBase64Encoded": inline, "mimeType": "video/mp4"}}, {}),
        (
            {"image": png(), "lastFrame": {"bytesBase64Encoded": JPEG, "mimeType": "image/jpeg"}},
            {"compressionQuality": "LOSSLESS", "resizeMode": "PAD", "generateAudio": False},
        ),
    ):
        response = wire.submit("vertex", instance, **parameters)
        assert response.status_code == 200, response.text


def test_only_a_video_still_there_can_be_extended(wire: Wire) -> None:
    wire.emulator.rule("[gone]", Scenario(file_ttl=0.0))  # expires as soon as it is done

    def finished(prompt: str) -> str:
        name = wire.submit("gemini", {"prompt": prompt}).json()["name"]
        done = wire.http.get(
            f"{wire.emulator.api_base}/v1beta/{name}", headers={"x-goog-api-key": wire.key}
        ).json()
        uri = done["response"]["generateVideoResponse"]["generatedSamples"][0]["video"]["uri"]
        assert isinstance(uri, str)
        return uri

    assert wire.submit("gemini", {"video": {"uri": finished("a cat")}}).status_code == 200
    response = wire.submit("gemini", {"video": {"uri": finished("[gone]")}})
    assert response.status_code == 400 and "has expired" in response.json()["error"]["message"]


def test_the_clip_seed_is_the_digest_of_the_inputs(wire: Wire) -> None:
    instance = {"image": png()}
    name = wire.submit("vertex", instance).json()["name"]
    assert wire.emulator.operations[name].inputs == inputs_digest({"prompt": "x", **instance})
    assert inputs_digest({"prompt": "only text"}) == ""
