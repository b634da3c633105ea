"""Matching a replayed request's body against a recorded one, and saying where they differ.

Your own cassette answers a submit only with the body it recorded: the prompt, the options
and every input by its content (images compared byte for byte, as the JSON they are sent
in), so a test whose first frame changed misses instead of getting the old answer. A
built-in scenario answers any prompt, options and image bytes, but only a request of its
shape (:func:`shape`): the same kinds of input in the same places (a first frame, a last
frame, as many reference images, a video to extend) and the same number of videos. Where
two bodies differ is said by JSON path (:func:`differences`), a long value by its length
and SHA-256 prefix, an inline image by its decoded size and SHA-256 (the digest jobs.json
records for it), never by megabytes of base64.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Callable
from typing import Any

__all__ = [
    "ANY_PROMPT_HEADER",
    "BODY_MATCHER",
    "PART_HEADER",
    "SCENARIO_SHAPE",
    "body",
    "body_matcher",
    "differences",
    "shape",
]

BODY_MATCHER = "veo3_body"
"""The name :func:`body` is registered under: your own cassettes also match the submit's
body (prompt, options and inputs); a built-in scenario answers any prompt, with its shape."""
ANY_PROMPT_HEADER = "x-veo3-any-prompt"
"""Set on a recorded request (never sent) that answers any prompt: a built-in scenario's, in a
composed cassette. The body matcher then compares only the request's :func:`shape`."""
PART_HEADER = "x-veo3-part"
"""On a composed cassette's recorded submits, the cassette (``<position>:<name>``) they come
from; on a replayed submit, the cassette whose turn it is. The body matcher wants both equal,
so each submit is answered by the next cassette of the marker, in order."""
SCENARIO_SHAPE = (
    "a built-in scenario answers any prompt, options and image bytes, but only the kinds of "
    "input and the number of videos it was recorded with"
)
"""How a miss on a built-in scenario's submit starts."""
GIVEN = "given"
"""What :func:`shape` keeps of an input: that it is there."""

_SHORT = 60
_LONG = 4096
"""A string longer than this is shown by its length and digest only (a prompt is shorter)."""
_DIGEST = 12
"""Hex digits of a SHA-256 shown for a long value."""
_BASE64_SUFFIX = "base64encoded"
"""How the wire names an inline image's bytes (``bytesBase64Encoded``), lower-cased."""
_MAX_SHOWN = 3


class _Absent:
    """A field one side does not have: shown as ``(none)``."""

    def __repr__(self) -> str:
        return "(none)"


_NONE = _Absent()


def _parsed(raw: object) -> object:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes | bytearray) else raw
    try:
        return json.loads(str(text or "null"))
    except ValueError:
        return text


def shape(value: object) -> object:
    """What a built-in scenario's request must share with the one asked.

    A poll (a body naming ``operationName``) is its operation. A submit is the inputs of
    each instance, as ``given`` (a list of them: how many), without the prompt; and the
    number of videos (``parameters.sampleCount``, 1 when absent). Anything else: nothing.
    """
    if not isinstance(value, dict):
        return None
    if "operationName" in value:
        return {"operationName": value["operationName"]}
    instances = value.get("instances")
    parameters = value.get("parameters")
    count = parameters.get("sampleCount", 1) if isinstance(parameters, dict) else 1
    listed = instances if isinstance(instances, list) else []
    return {
        "instances": [_inputs(one) for one in listed if isinstance(one, dict)],
        "parameters": {"sampleCount": count},
    }


def _inputs(instance: dict[str, Any]) -> dict[str, object]:
    """The inputs of one instance: each ``given``, a list by its length; no prompt."""
    return {
        key: len(value) if isinstance(value, list) else GIVEN
        for key, value in instance.items()
        if key != "prompt" and value is not None
    }


def differences(asked: object, recorded: object, where: str = "") -> list[str]:
    """Where two JSON values differ, as ``path: asked X, recorded Y`` (at most three)."""
    if isinstance(asked, dict) and isinstance(recorded, dict):
        found: list[str] = []
        for key in sorted(set(asked) | set(recorded), key=str):
            inner = f"{where}.{key}" if where else str(key)
            found += differences(asked.get(key, _NONE), recorded.get(key, _NONE), inner)
        return found[:_MAX_SHOWN]
    if isinstance(asked, list) and isinstance(recorded, list) and len(asked) == len(recorded):
        found = []
        for index, (one, other) in enumerate(zip(asked, recorded, strict=True)):
            found += differences(one, other, f"{where}[{index}]")
        return found[:_MAX_SHOWN]
    if asked == recorded:
        return []
    if isinstance(asked, str) and isinstance(recorded, str):
        if where.lower().endswith(_BASE64_SUFFIX):
            return [f"{where}: asked {_bytes_of(asked)}, recorded {_bytes_of(recorded)}"]
        if max(len(asked), len(recorded)) > _LONG:
            return [f"{where or 'body'}: asked {_chars_of(asked)}, recorded {_chars_of(recorded)}"]
        asked, recorded = _distinct_tails(asked, recorded)
    return [f"{where or 'body'}: asked {_short(asked)}, recorded {_short(recorded)}"]


def _bytes_of(text: str) -> str:
    """An inline image (base64) as its decoded size and SHA-256 prefix."""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return _chars_of(text)
    return f"{len(data):,} bytes (sha256 {hashlib.sha256(data).hexdigest()[:_DIGEST]})"


def _chars_of(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:_DIGEST]
    return f"{len(text):,} characters (sha256 {digest})"


def _distinct_tails(asked: str, recorded: str) -> tuple[str, str]:
    """Two long strings that differ after a shared start, from near where they part (at
    the last shared ``/`` of a path: operation names), so what differs is shown rather
    than cut off."""
    shared = len(os.path.commonprefix([asked, recorded]))
    if max(len(asked), len(recorded)) <= _SHORT or shared < 20:
        return asked, recorded
    cut = asked.rfind("/", 0, shared) + 1
    if cut < 20:
        cut = shared - 10
    return "..." + asked[cut:], "..." + recorded[cut:]


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _SHORT else text[: _SHORT - 3] + "..."


def body_matcher(*, any_prompt: bool = False) -> Callable[[Any, Any], None]:
    """The vcrpy matcher registered as :data:`BODY_MATCHER`; ``any_prompt`` for a cassette
    whose submits answer any prompt (a built-in scenario)."""

    def body(r1: Any, r2: Any) -> None:
        """vcrpy matcher: a submit (a POST) asks for what was recorded, the same prompt,
        options and inputs (compared as JSON); other requests have no body to compare. A
        recorded request answering any prompt (``any_prompt``, or marked
        :data:`ANY_PROMPT_HEADER`) matches a request of its :func:`shape`: any prompt,
        options and image bytes, the same kinds of input and number of videos; a poll
        only of the operation it recorded."""
        if r1.method != "POST" or r2.method != "POST":
            return
        turn, part = _header(r1, PART_HEADER), _header(r2, PART_HEADER)
        if turn is not None and part is not None and turn != part:
            raise AssertionError(f"this submit is for cassette {turn}, this one is from {part}")
        if r1.body == r2.body:
            return
        asked, recorded = _parsed(r1.body), _parsed(r2.body)
        scenario = any_prompt or _header(r2, ANY_PROMPT_HEADER) is not None
        if scenario:
            asked, recorded = shape(asked), shape(recorded)
        if asked == recorded:
            return
        found = "; ".join(differences(asked, recorded))
        if scenario and not (_is_poll(asked) or _is_poll(recorded)):
            raise AssertionError(f"{SCENARIO_SHAPE}: {found}")
        raise AssertionError(found)

    return body


body = body_matcher()
"""The body matcher of a cassette of one's own (and of a composition)."""


def _is_poll(value: object) -> bool:
    return isinstance(value, dict) and "operationName" in value


def _header(request: Any, name: str) -> str | None:
    headers = getattr(request, "headers", None) or {}
    for key, value in headers.items():
        if str(key).lower() == name:
            return str(value[0] if isinstance(value, list | tuple) and value else value)
    return None
