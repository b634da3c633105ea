"""Submits with inputs on cassettes: large request bodies in body files, matched by content.

Your own cassette answers the images it recorded (a changed first frame misses, and the miss
says which field differs by size and SHA-256, never by its base64); a built-in scenario
answers any image bytes, but only the kinds of input and the number of videos it recorded.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from _kit.plugin import BACKEND_PARAMS, for_sdk, record_own, request_body_refs

from pytest_veo3._compose import compose_named
from pytest_veo3._match import GIVEN, SCENARIO_SHAPE, body_matcher, differences, shape
from pytest_veo3.cassette import BODY_REF_PREFIX, CassetteMismatchError, open_cassette
from veo3_adapter import VideoInputs
from veo3_adapter.emulator import Scenario

IMAGE_BYTES = 300_000
"""A first frame whose submit (base64 in JSON) is well over the 64 KiB body threshold."""
_RUN = """
from __future__ import annotations

from pathlib import Path

import pytest
from veo3_adapter import GenerationOptions, Veo3Orchestrator, VideoInputs

@pytest.mark.veo3_cassette({names})
def test_pipeline(recorded_veo3, veo3_cassette, tmp_path):
    jobs = Veo3Orchestrator(recorded_veo3, tmp_path).run(
        {prompts!r},
        inputs={{v: VideoInputs(image=Path(p)) for v, p in {images!r}.items()}},
        options={{v: GenerationOptions(number_of_videos=n) for v, n in {videos!r}.items()}},
    )
    assert [(j.status.value, j.error_message) for j in jobs] == {ends!r}
    assert veo3_cassette.all_played or not {played!r}
"""
_SHAPE_MISS = (
    "    differs in body: a built-in scenario answers any prompt, options and image bytes, "
    "but only the kinds of input and the number of videos it was recorded with: "
)


def _run(
    pytester: pytest.Pytester,
    names: tuple[str, ...],
    prompts: dict[str, str],
    ends: list[tuple[str, str]],
    *,
    images: dict[str, Path] | None = None,
    videos: dict[str, int] | None = None,
    played: bool = True,
) -> pytest.RunResult:
    pytester.makepyfile(
        test_inputs=_RUN.format(
            names=", ".join(repr(n) for n in names),
            prompts=prompts,
            images={v: str(p) for v, p in (images or {}).items()},
            videos=videos or {},
            ends=ends,
            played=played,
        )
    )
    return pytester.runpytest_inprocess()


def _frame(path: Path, label: str, size: int = IMAGE_BYTES) -> Path:
    """A PNG (by its magic bytes, all the API and the emulator look at) of ``size`` bytes
    that ``label`` makes its own."""
    magic = b"\x89PNG\r\n\x1a\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(magic + hashlib.shake_256(label.encode()).digest(size - len(magic)))
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _record_with_frame(pytester: pytest.Pytester, backend: str) -> tuple[Path, Path]:
    """Record ``tests/cassettes/framed.yaml``: one job with a large first frame."""
    directory = pytester.path / "tests" / "cassettes"
    frame = _frame(pytester.path / "frames" / "hero.png", "hero")
    [job] = record_own(
        directory / "framed.yaml",
        backend,
        [Scenario.named("success")],
        {"hero": "the hero wakes up"},
        inputs={"hero": VideoInputs(image=frame)},
    )
    assert job.status.value == "downloaded", job
    return directory / "framed.yaml", frame


# -- large request bodies --------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_a_submit_with_a_large_image_goes_to_a_body_file_named_by_its_content(
    pytester: pytest.Pytester, backend: str
) -> None:
    cassette, frame = _record_with_frame(pytester, backend)
    encoded = base64.b64encode(frame.read_bytes()).decode()
    # The YAML keeps a reference, not the megabyte of base64.
    text = cassette.read_text()
    assert encoded[:200] not in text
    assert len(text) < 40_000
    [ref] = request_body_refs(cassette)
    stored = cassette.parent / ref
    assert re.fullmatch(r"bodies/sha256-[0-9a-f]{64}\.json", ref)
    assert stored.name == f"sha256-{hashlib.sha256(stored.read_bytes()).hexdigest()}.json"
    # The body file is the submit as sent: the frame inline, as google-genai sends it.
    [instance] = json.loads(stored.read_bytes())["instances"]
    assert instance["image"] == {"bytesBase64Encoded": encoded, "mimeType": "image/png"}
    interactions = yaml.safe_load(text)["interactions"]
    submits = [i for i in interactions if i["request"]["body"].startswith("veo3-body-file:")]
    assert [s["request"]["uri"].rsplit(":", 1)[-1] for s in submits] == ["predictLongRunning"]


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_the_same_frame_replays_and_a_changed_one_misses_naming_its_size_and_digest(
    pytester: pytest.Pytester, backend: str
) -> None:
    _cassette, frame = _record_with_frame(pytester, backend)
    recorded = _digest(frame)
    prompts = {"hero": "the hero wakes up"}
    result = _run(pytester, ("framed",), prompts, [("downloaded", "")], images={"hero": frame})
    result.assert_outcomes(passed=1)

    # One byte of the frame changed: same size, another image. Not the recorded answer.
    data = bytearray(frame.read_bytes())
    data[-1] ^= 0xFF
    frame.write_bytes(bytes(data))
    result = _run(
        pytester,
        ("framed",),
        prompts,
        [("failed", "internal_error")],
        images={"hero": frame},
        played=False,
    )
    result.assert_outcomes(passed=1, errors=1)
    size = f"{IMAGE_BYTES:,} bytes"
    result.stdout.fnmatch_lines(
        [
            "veo3: the code under test caught a request the cassette could not answer:",
            "veo3: cassette */framed.yaml has no unplayed answer for POST *:predictLongRunning",
            "  closest recorded request: POST *:predictLongRunning",
            f"    differs in body: instances[0].image.bytesBase64Encoded: asked {size} "
            f"(sha256 {_digest(frame)[:12]}), recorded {size} (sha256 {recorded[:12]})",
        ]
    )
    # Never the base64 itself: no long run of it anywhere in the report.
    assert not re.search(r"[A-Za-z0-9+/]{120}", result.stdout.str())


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_a_framed_cassette_composes_with_a_built_in_and_brings_its_body_file(
    pytester: pytest.Pytester, backend: str
) -> None:
    cassette, frame = _record_with_frame(pytester, backend)
    success = "success" if backend == "gemini" else "vertex_success"
    [ref] = request_body_refs(cassette)
    out = pytester.path / "composed"
    out.mkdir()
    composed, _owners = compose_named(("framed", success), cassette.parent, out)
    assert (composed.parent / ref).read_bytes() == (cassette.parent / ref).read_bytes()

    result = _run(
        pytester,
        ("framed", success),
        {"hero": "the hero wakes up", "other": "any prompt"},
        [("downloaded", ""), ("downloaded", "")],
        images={"hero": frame},
    )
    result.assert_outcomes(passed=1)


def test_a_missing_request_body_file_is_named_when_the_cassette_opens(tmp_path: Path) -> None:
    cassette = tmp_path / "gone.yaml"
    ref = "bodies/sha256-" + "0" * 64 + ".json"
    interaction = {
        "request": {
            "body": (BODY_REF_PREFIX.decode() + ref),
            "headers": {},
            "method": "POST",
            "uri": "https://example.test/v1/models/m:predictLongRunning",
        },
        "response": {
            "body": {"string": "{}"},
            "headers": {},
            "status": {"code": 200, "message": "OK"},
        },
    }
    cassette.write_text(yaml.safe_dump({"interactions": [interaction], "version": 1}))
    missing = "is missing; commit the cassette's bodies/"
    with pytest.raises(CassetteMismatchError, match=missing), open_cassette(cassette):
        pass


# -- built-in scenarios: any image bytes, their shape ---------------------------------------


def test_image_to_video_refuses_a_submit_without_a_first_frame(pytester: pytest.Pytester) -> None:
    name = for_sdk("image_to_video", "vertex_image_to_video")
    result = _run(
        pytester, (name,), {"a": "no frame"}, [("failed", "internal_error")], played=False
    )
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [f"{_SHAPE_MISS}instances[0].image: asked (none), recorded 'given'"]
    )


def test_image_to_video_answers_a_frame_of_any_bytes(pytester: pytest.Pytester) -> None:
    frame = _frame(pytester.path / "any.png", "any", size=5_000)
    name = for_sdk("image_to_video", "vertex_image_to_video")
    result = _run(pytester, (name,), {"a": "p"}, [("downloaded", "")], images={"a": frame})
    result.assert_outcomes(passed=1)


def test_a_text_scenario_refuses_a_submit_with_a_first_frame(pytester: pytest.Pytester) -> None:
    frame = _frame(pytester.path / "any.png", "any", size=5_000)
    name = for_sdk("success", "vertex_success")
    result = _run(
        pytester,
        (name,),
        {"a": "p"},
        [("failed", "internal_error")],
        images={"a": frame},
        played=False,
    )
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [f"{_SHAPE_MISS}instances[0].image: asked 'given', recorded (none)"]
    )


def test_two_samples_refuses_a_request_for_one_video(pytester: pytest.Pytester) -> None:
    name = for_sdk("two_samples", "vertex_two_samples")
    result = _run(pytester, (name,), {"a": "p"}, [("failed", "internal_error")], played=False)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([f"{_SHAPE_MISS}parameters.sampleCount: asked 1, recorded 2"])


# -- the matcher -------------------------------------------------------------------------------


class _Request:
    """What the matcher reads of a vcrpy request."""

    def __init__(self, payload: object, *, method: str = "POST") -> None:
        self.method = method
        self.body = json.dumps(payload).encode()
        self.headers: dict[str, Any] = {}


def _submit(prompt: str = "p", count: int | None = None, **inputs: object) -> dict[str, Any]:
    parameters = {} if count is None else {"sampleCount": count}
    return {"instances": [{"prompt": prompt, **inputs}], "parameters": parameters}


def _image(data: bytes, mime: str = "image/png") -> dict[str, str]:
    return {"bytesBase64Encoded": base64.b64encode(data).decode(), "mimeType": mime}


def test_the_shape_of_a_submit_is_its_kinds_of_input_and_number_of_videos() -> None:
    refs = [{"image": _image(b"r"), "referenceType": "asset"}] * 3
    submit = _submit("x", 2, image=_image(b"a"), lastFrame=_image(b"b"), referenceImages=refs)
    assert shape(submit) == {
        "instances": [{"image": GIVEN, "lastFrame": GIVEN, "referenceImages": 3}],
        "parameters": {"sampleCount": 2},
    }
    assert shape(_submit()) == {"instances": [{}], "parameters": {"sampleCount": 1}}
    assert shape({"operationName": "op/1"}) == {"operationName": "op/1"}
    assert shape("not json") is None


def test_a_scenario_answers_any_prompt_mime_type_and_bytes_of_the_same_inputs() -> None:
    match = body_matcher(any_prompt=True)
    recorded = _Request(_submit("recorded", 1, image=_image(b"\x89PNG one")))
    match(_Request(_submit("asked", None, image=_image(b"\xff\xd8 other", "image/jpeg"))), recorded)
    with pytest.raises(AssertionError) as missed:
        match(_Request(_submit("asked", 1)), recorded)
    assert (
        str(missed.value) == f"{SCENARIO_SHAPE}: instances[0].image: asked (none), recorded 'given'"
    )
    with pytest.raises(
        AssertionError, match=r"instances\[0\].referenceImages: asked 2, recorded 3"
    ):
        match(
            _Request(_submit(referenceImages=[{}, {}])), _Request(_submit(referenceImages=[{}] * 3))
        )
    # A poll still answers only the operation it recorded, said plainly.
    with pytest.raises(AssertionError) as other:
        match(_Request({"operationName": "ops/asked"}), _Request({"operationName": "ops/recorded"}))
    assert str(other.value) == "operationName: asked 'ops/asked', recorded 'ops/recorded'"


def test_an_own_cassette_compares_every_input_by_content() -> None:
    match = body_matcher()
    one, other = b"\x89PNG" + b"1" * 5000, b"\x89PNG" + b"2" * 6000
    recorded = _Request(_submit(image=_image(one)))
    match(_Request(_submit(image=_image(one))), recorded)
    with pytest.raises(AssertionError) as missed:
        match(_Request(_submit(image=_image(other))), recorded)
    said = str(missed.value)
    a, b = hashlib.sha256(other).hexdigest()[:12], hashlib.sha256(one).hexdigest()[:12]
    assert said == (
        f"instances[0].image.bytesBase64Encoded: asked 6,004 bytes (sha256 {a}), "
        f"recorded 5,004 bytes (sha256 {b})"
    )


def test_long_values_are_shown_by_length_and_digest_short_ones_as_they_are() -> None:
    long_a, long_b = "x" * 5000, "x" * 4999 + "y"
    [said] = differences({"note": long_a}, {"note": long_b})
    assert said.startswith("note: asked 5,000 characters (sha256 ")
    assert len(said) < 120
    # Not base64 where base64 is expected: said by length and digest all the same.
    [bad] = differences({"bytesBase64Encoded": "not base64!"}, {"bytesBase64Encoded": "QQ=="})
    assert bad.startswith("bytesBase64Encoded: asked 11 characters (sha256 ")
    assert bad.endswith("recorded 1 bytes (sha256 559aead08264)")
    # Two long prompts that part late are shown from near where they part.
    [prompt] = differences({"prompt": "a" * 70 + " cat"}, {"prompt": "a" * 70 + " dog"})
    assert prompt == "prompt: asked '...aaaaaaaaa cat', recorded '...aaaaaaaaa dog'"
