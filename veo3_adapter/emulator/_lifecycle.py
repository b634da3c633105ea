"""An operation's life as both API dialects (Gemini API, Vertex AI) answer it.

A submit body is read the same way (``instances[0]``: the prompt and the inputs, as
google-genai sends them; ``parameters``), and a poll walks the same script: scripted
failures first, then running answers, then done, with the operation's error or, through the
dialect, its video. What differs (wording, resource names, which inputs and parameters a
dialect takes, the finished answer's shape) is passed in.

Inputs are checked as the API checks them, each bad one a 400 ``INVALID_ARGUMENT``: an image
(first frame ``image``, ``lastFrame``, each ``referenceImages[i].image``) is inline base64
of a PNG, JPEG or WebP of at most 20 MB with its ``mimeType`` (Vertex AI also takes a
``gcsUri``); a last frame needs a first one; at most three "asset" reference images, alone;
``video`` (an extension) names a video this emulator generated that is still there (by
``uri`` on the Gemini API, ``gcsUri`` on Vertex AI). The digest of the inputs seeds the clip.
``parameters.sampleCount`` (1 to 4, default 1) asks for that many videos, each with bytes of
its own.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any, Literal, NamedTuple

from .._inputs import MAX_IMAGE_BYTES, image_type
from ..mp4 import looks_like_mp4, mp4_size_floor
from ._scenario import Scenario
from ._state import OperationState, State
from ._wire import Reply, google_error, json_reply

__all__ = [
    "Dialect",
    "Headers",
    "Submit",
    "inputs_digest",
    "poll_reply",
    "sample_count",
    "start",
    "submit_request",
    "video_problem",
    "with_inputs",
]

Headers = Sequence[tuple[str, str]]
"""A request's headers, in order, repeated names kept."""

Dialect = Literal["gemini", "vertex"]

_INPUT_KEYS = ("image", "lastFrame", "referenceImages", "video")
_MAX_REFERENCES = 3
_MAX_SAMPLES = 4
_VERTEX_ONLY = ("storageUri", "seed", "generateAudio", "compressionQuality", "resizeMode", "fps")
_DIGEST_BYTES = 32
_CHOICES = {"compressionQuality": ("OPTIMIZED", "LOSSLESS"), "resizeMode": ("CROP", "PAD")}


class Submit(NamedTuple):
    """A submit body that passed: its prompt, ``parameters`` and the digest of its inputs."""

    prompt: str
    parameters: dict[str, Any]
    inputs: str


class _Refused(Exception):
    """A 400 for a bad input; its text is the error's message."""


def submit_request(
    body: bytes,
    *,
    undecodable: str,
    dialect: Dialect,
    video: Callable[[str], str | None],
) -> Submit | Reply:
    """The prompt, ``parameters`` and inputs' digest of a submit body, or the 400 refusing it.

    ``undecodable`` is the message for a body that is not JSON at all; ``video(reference)``
    says why an extension's video (its ``uri`` or ``gcsUri``) cannot be extended, or ``None``.
    """
    try:
        payload = json.loads(body or b"null")
    except ValueError:
        return google_error(400, undecodable)
    if not isinstance(payload, dict):
        return google_error(400, "Invalid JSON payload received. Expected an object.")
    instances = payload.get("instances")
    instance = instances[0] if isinstance(instances, list) and instances else None
    prompt = instance.get("prompt") if isinstance(instance, dict) else None
    if not isinstance(prompt, str) or not prompt.strip():
        return google_error(400, "instances[0].prompt is required and must not be empty.")
    parameters = payload.get("parameters", {})
    if not isinstance(parameters, dict):
        return google_error(400, "Invalid JSON payload received. 'parameters' is not an object.")
    assert isinstance(instance, dict)
    try:
        _check_parameters(parameters, dialect)
        _check_inputs(instance, dialect, video)
    except _Refused as exc:
        return google_error(400, str(exc))
    return Submit(prompt, parameters, inputs_digest(instance))


def inputs_digest(instance: dict[str, Any]) -> str:
    """The SHA-256 of an instance's inputs as sent ("" when it has none): what seeds its clip."""
    inputs = {key: instance[key] for key in _INPUT_KEYS if key in instance}
    if not inputs:
        return ""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def sample_count(parameters: dict[str, Any]) -> int:
    """How many videos a submit that passed asks for (``sampleCount``, 1 when absent)."""
    count = parameters.get("sampleCount", 1)
    return count if type(count) is int else 1


def _check_parameters(parameters: dict[str, Any], dialect: Dialect) -> None:
    count = parameters.get("sampleCount", 1)
    if type(count) is not int or not 1 <= count <= _MAX_SAMPLES:
        raise _Refused(f"parameters.sampleCount must be an integer from 1 to {_MAX_SAMPLES}.")
    for name in _VERTEX_ONLY:
        if name not in parameters:
            continue
        if dialect == "gemini":
            raise _Refused(f"`{name}` isn't supported by this model.")
        value = parameters[name]
        if name in _CHOICES and value not in _CHOICES[name]:
            raise _Refused(f"parameters.{name} must be one of {', '.join(_CHOICES[name])}.")
        if name == "seed" and (type(value) is not int or not 0 <= value < 2**32):
            raise _Refused("parameters.seed must be an integer from 0 to 4294967295.")
        if name == "generateAudio" and not isinstance(value, bool):
            raise _Refused("parameters.generateAudio must be a boolean.")


def _check_inputs(
    instance: dict[str, Any], dialect: Dialect, video: Callable[[str], str | None]
) -> None:
    image = instance.get("image")
    if image is not None:
        _check_image("image", image, dialect)
    if instance.get("lastFrame") is not None:
        if image is None:
            raise _Refused("instances[0].lastFrame needs instances[0].image (the first frame).")
        _check_image("lastFrame", instance["lastFrame"], dialect)
    references = instance.get("referenceImages")
    if references is not None:
        if not isinstance(references, list) or not 1 <= len(references) <= _MAX_REFERENCES:
            raise _Refused(f"referenceImages takes 1 to {_MAX_REFERENCES} asset images.")
        if any(instance.get(key) is not None for key in ("image", "lastFrame", "video")):
            raise _Refused("referenceImages cannot be combined with image, lastFrame or video.")
        for i, reference in enumerate(references):
            if not isinstance(reference, dict):
                raise _Refused(f"referenceImages[{i}] must be an object.")
            if str(reference.get("referenceType", "")).upper() != "ASSET":
                raise _Refused(
                    f"referenceImages[{i}].referenceType {reference.get('referenceType')!r} "
                    "is not supported by this model; use ASSET."
                )
            _check_image(f"referenceImages[{i}].image", reference.get("image"), dialect)
    if instance.get("video") is not None:
        if image is not None:
            raise _Refused("instances[0] takes an image or a video to extend, not both.")
        _check_video(instance["video"], dialect, video)


def _check_image(field: str, image: object, dialect: Dialect) -> None:
    where = f"instances[0].{field}"
    if not isinstance(image, dict):
        raise _Refused(f"{where} must be an object.")
    if "gcsUri" in image:
        if dialect == "gemini":
            raise _Refused("`gcsUri` isn't supported by this model.")
        if "bytesBase64Encoded" in image:
            raise _Refused(f"{where}: give bytesBase64Encoded or gcsUri, not both.")
        uri = image["gcsUri"]
        if not isinstance(uri, str) or not uri.startswith("gs://"):
            raise _Refused(f"{where}.gcsUri is not a gs:// URI.")
        return
    data = _decoded(where, image.get("bytesBase64Encoded"))
    if len(data) > MAX_IMAGE_BYTES:
        raise _Refused(f"{where} is larger than the {MAX_IMAGE_BYTES} bytes an image may be.")
    sniffed = image_type(data[:16])
    if sniffed is None:
        raise _Refused(f"{where} is not a PNG, JPEG or WebP image.")
    mime = image.get("mimeType")
    if mime != sniffed:
        raise _Refused(f"{where}.mimeType {mime!r} does not match the image ({sniffed}).")


def _check_video(value: object, dialect: Dialect, video: Callable[[str], str | None]) -> None:
    if not isinstance(value, dict):
        raise _Refused("instances[0].video must be an object.")
    key = "uri" if dialect == "gemini" else "gcsUri"
    if dialect == "gemini" and "encodedVideo" in value:
        raise _Refused("`encodedVideo` isn't supported by this model.")
    if dialect == "vertex" and "bytesBase64Encoded" in value and key not in value:
        if not looks_like_mp4(_decoded("instances[0].video", value["bytesBase64Encoded"])[:8]):
            raise _Refused("instances[0].video is not an MP4 video.")
        return
    reference = value.get(key)
    if not isinstance(reference, str) or not reference:
        raise _Refused(f"instances[0].video.{key} is required.")
    problem = video(reference)
    if problem is not None:
        raise _Refused(problem)


def _decoded(where: str, encoded: object) -> bytes:
    if not isinstance(encoded, str) or not encoded:
        raise _Refused(f"{where}.bytesBase64Encoded is required.")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise _Refused(f"{where}.bytesBase64Encoded is not valid base64.") from None


def with_inputs(scenario: Scenario, inputs: str, samples: int = 1) -> Scenario:
    """``scenario`` for a submit with inputs or several videos: a clip of the sample's size
    would be the sample itself, so it grows by one digest of padding, which the inputs'
    digest (and the video's number) then fills."""
    if (not inputs and samples == 1) or scenario.video_size is not None:
        return scenario
    return dataclasses.replace(scenario, video_size=mp4_size_floor() + _DIGEST_BYTES)


def start(
    state: State, model: str, request: Submit, scenario: Scenario, name: str | None = None
) -> OperationState:
    """Register the operation a submit that passed starts, with the videos it asks for."""
    samples = sample_count(request.parameters)
    return state.start(
        model,
        request.prompt,
        request.parameters,
        with_inputs(scenario, request.inputs, samples),
        name=name,
        inputs=request.inputs,
        samples=samples,
    )


def video_problem(state: State, operation: OperationState | None, reference: str) -> str | None:
    """Why ``operation`` (the one ``reference`` names) has no video to extend, or ``None``."""
    with state.lock:
        if operation is None or not operation.done or not operation.has_video:
            return f"The video {reference} was not found; only a generated video can be extended."
        if state.expired(operation):
            return f"The video {reference} has expired."
    return None


def poll_reply(
    state: State,
    name: str,
    *,
    not_found: Reply,
    failure: Callable[[int, Scenario, str], Reply],
    response: Callable[[OperationState], dict[str, Any]],
) -> Reply:
    """The answer to one poll of operation ``name``, counted.

    ``failure(status, scenario, model)`` words a scripted failure; ``response(operation)``
    is the finished operation's ``response`` (asked only when it ends without an error).
    """
    with state.lock:
        operation = state.operations.get(name)
        if operation is None:
            return not_found
        operation.polls += 1
        scenario = operation.scenario
        if operation.poll_failures_served < len(scenario.poll_failures):
            status = scenario.poll_failures[operation.poll_failures_served]
            operation.poll_failures_served += 1
            return failure(status, scenario, operation.model)
        if operation.running_answered < scenario.running_polls:
            operation.running_answered += 1
            return json_reply(200, {"name": name})
        if operation.done_at is None:
            operation.done_at = state.clock()
        if scenario.operation_error is not None:
            error = {"code": 3, "message": scenario.operation_error, "status": "INVALID_ARGUMENT"}
            return json_reply(200, {"name": name, "done": True, "error": error})
        return json_reply(200, {"name": name, "done": True, "response": response(operation)})
