"""The built-in scenarios with inputs, on each backend, replayed through ``Veo3Orchestrator``
on ``recorded_veo3``: offline, with no key, credentials or project.

``image_to_video`` answers a submit carrying a first frame, any first frame: a built-in is a
scenario, not a recording of your pipeline (it still wants a first frame, see
tests/plugin/test_plugin_inputs.py). ``two_samples`` answers a request for two videos, and
both are downloaded. The Gemini API's need google-genai 2.x to submit; the Vertex AI ones
(``vertex_*``) run on every SDK.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from _kit.images import write_png
from _kit.plugin import body_refs
from _kit.sdk import needs_gemini_submit

from pytest_veo3 import RecordedVeo3, VeoCassette
from pytest_veo3._recorder import first_frame_png
from pytest_veo3.scenarios import SCENARIO_CASSETTES, builtin_cassette
from veo3_adapter import GenerationOptions, JobStatus, Veo3Orchestrator, VideoInputs, read_jobs_json
from veo3_adapter.audit import audit_paths
from veo3_adapter.mp4 import is_mp4_file, sample_clip

INPUT_SCENARIOS = ("image_to_video", "two_samples")
TAKE_SIZE = 4096
"""The size of each ``two_samples`` video (larger than the sample clip: each its own bytes)."""


def _on_both_backends(name: str) -> list[Any]:
    return [
        pytest.param(
            name, marks=[pytest.mark.veo3_cassette(name), needs_gemini_submit], id="gemini"
        ),
        pytest.param(
            f"vertex_{name}", marks=pytest.mark.veo3_cassette(f"vertex_{name}"), id="vertex"
        ),
    ]


def _cassette(name: str) -> Path:
    path = builtin_cassette(name)
    assert path is not None, f"not recorded: python -m pytest_veo3.scenarios cassettes/ {name}"
    return path


def _recorded_clips(name: str) -> list[bytes]:
    """The videos the cassette's downloads answered, in recorded order."""
    path = _cassette(name)
    return [(path.parent / ref).read_bytes() for ref in body_refs(path) if ref.endswith(".mp4")]


def _recorded_submit(name: str) -> dict[str, Any]:
    interactions = yaml.safe_load(_cassette(name).read_text())["interactions"]
    [submit] = [i for i in interactions if i["request"]["uri"].endswith(":predictLongRunning")]
    body: dict[str, Any] = json.loads(submit["request"]["body"])
    return body


@pytest.mark.parametrize("name", INPUT_SCENARIOS)
def test_each_input_scenario_is_built_in_on_both_backends(name: str) -> None:
    gemini, vertex = SCENARIO_CASSETTES[name], SCENARIO_CASSETTES[f"vertex_{name}"]
    assert (gemini.backend, vertex.backend) == ("gemini", "vertex")
    assert (gemini.image, gemini.number_of_videos) == (vertex.image, vertex.number_of_videos)
    assert (gemini.status, vertex.status) == ("downloaded", "downloaded")
    for each in (name, f"vertex_{name}"):
        files = [_cassette(each), *(_cassette(each).parent / r for r in body_refs(_cassette(each)))]
        assert audit_paths(files) == []


@pytest.mark.parametrize("name", ["image_to_video", "vertex_image_to_video"])
def test_image_to_video_recorded_a_small_png_first_frame_inline(name: str) -> None:
    assert SCENARIO_CASSETTES[name].image
    [instance] = _recorded_submit(name)["instances"]
    assert set(instance) == {"prompt", "image"}
    assert instance["image"]["mimeType"] == "image/png"
    assert base64.b64decode(instance["image"]["bytesBase64Encoded"]) == first_frame_png()


@pytest.mark.parametrize("name", _on_both_backends("image_to_video"))
def test_image_to_video_answers_a_first_frame_of_the_tests_own(
    name: str,
    no_real_sleep: None,
    keyless: None,
    recorded_veo3: RecordedVeo3,
    veo3_cassette: VeoCassette,
    tmp_path: Path,
) -> None:
    frame = write_png(tmp_path / "frames" / "hero.png", rgb=(10, 200, 30))
    assert frame.read_bytes() != first_frame_png()  # not the frame it was recorded with
    orchestrator = Veo3Orchestrator(recorded_veo3, tmp_path / "out")

    [job] = orchestrator.run(
        {"hero": "the hero wakes up"}, inputs={"hero": VideoInputs(image=frame)}
    )

    assert (job.status, job.error_message) == (JobStatus.DOWNLOADED, "")
    assert job.inputs.image is not None
    assert Path(job.inputs.image.path).name == "hero.png"
    assert job.inputs.image.sha256 == hashlib.sha256(frame.read_bytes()).hexdigest()
    clip = orchestrator.clip_path("hero")
    assert is_mp4_file(clip)
    # The video the emulator made from the recorded frame (its own bytes, not the sample's).
    assert [clip.read_bytes()] == _recorded_clips(name)
    assert clip.read_bytes() != sample_clip()
    assert read_jobs_json(orchestrator.jobs_path) == [job]
    # jobs.json keeps the frame by path and digest, never its bytes.
    encoded = base64.b64encode(frame.read_bytes()).decode()
    assert encoded not in orchestrator.jobs_path.read_text()

    assert veo3_cassette.all_played
    assert veo3_cassette.play_count == len(veo3_cassette.cassette)


@pytest.mark.parametrize("name", ["two_samples", "vertex_two_samples"])
def test_two_samples_recorded_a_request_for_two_videos_and_two_downloads(name: str) -> None:
    assert SCENARIO_CASSETTES[name].number_of_videos == 2
    submit = _recorded_submit(name)
    assert submit["parameters"]["sampleCount"] == 2
    assert [set(instance) for instance in submit["instances"]] == [{"prompt"}]
    first, second = _recorded_clips(name)
    assert first != second
    assert len(first) == len(second) == TAKE_SIZE


@pytest.mark.parametrize("name", _on_both_backends("two_samples"))
def test_two_samples_downloads_both_videos(
    name: str,
    no_real_sleep: None,
    keyless: None,
    recorded_veo3: RecordedVeo3,
    veo3_cassette: VeoCassette,
    tmp_path: Path,
) -> None:
    orchestrator = Veo3Orchestrator(recorded_veo3, tmp_path)

    [job] = orchestrator.run(
        {"take": "a paper boat, any prompt"},
        options={"take": GenerationOptions(number_of_videos=2)},
    )

    assert (job.status, job.error_message, job.note) == (JobStatus.DOWNLOADED, "", "")
    first, second = orchestrator.clip_path("take"), orchestrator.clips_dir / "take~2.mp4"
    assert job.clip_paths == (str(first), str(second))
    assert [first.read_bytes(), second.read_bytes()] == _recorded_clips(name)
    assert all(is_mp4_file(clip) for clip in (first, second))
    assert len(set(job.video_uris)) == 2
    if name.startswith("vertex_"):  # both read from the bucket
        assert all(uri.startswith("gs://veo3-bucket/renders/") for uri in job.video_uris)
    assert read_jobs_json(orchestrator.jobs_path) == [job]

    assert veo3_cassette.all_played
    assert veo3_cassette.play_count == len(veo3_cassette.cassette)
