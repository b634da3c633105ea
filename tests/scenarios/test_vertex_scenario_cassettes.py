"""The built-in Vertex AI scenario cassettes, replayed through ``Veo3Orchestrator`` on
``recorded_veo3``: offline, with no key, no credentials and no real project in sight.

The fixture reads the backend from the cassette's metadata and builds a
``VertexVeo3Adapter`` on the recording's placeholders (``veo3-project``, ``veo3-bucket``),
with credentials whose token is made up at run time. Application Default Credentials are
never looked at: ``google.auth.default`` fails the test if called.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_veo3 import VeoCassette
from pytest_veo3.cassette import cassette_backend, cassette_metadata
from pytest_veo3.scenarios import SCENARIO_CASSETTES, ScenarioCassette, builtin_cassette
from veo3_adapter import JobStatus, Veo3Orchestrator, VertexVeo3Adapter, read_jobs_json
from veo3_adapter.audit import audit_paths
from veo3_adapter.emulator import DEFAULT_RAI_REASON
from veo3_adapter.mp4 import is_mp4_file, sample_clip

VERTEX_CASSETTES = {n: s for n, s in SCENARIO_CASSETTES.items() if s.backend == "vertex"}
# Those sending inputs (a first frame, several videos): test_input_scenario_cassettes.
PLAIN = {n: s for n, s in VERTEX_CASSETTES.items() if not s.image and s.number_of_videos == 1}
MODEL_PATH = "projects/veo3-project/locations/us-central1/publishers/google/models/"
OPERATION_PREFIX = f"{MODEL_PATH}veo-3.1-generate-001/operations/"
# What the human-readable detail of each failed scenario must say.
_FAILURE_DETAIL = {
    "vertex_rai_filtered": (DEFAULT_RAI_REASON,),
    "vertex_permission_denied": ("PERMISSION_DENIED", "roles/aiplatform.user"),
    "vertex_operation_error": ("Video generation failed: the request could not be processed.",),
    "vertex_download_not_found": ("HTTP 404 from https://storage.googleapis.com/",),
    "vertex_download_forbidden": ("HTTP 403 from https://storage.googleapis.com/",),
    "vertex_quota_exhausted_daily": ("RESOURCE_EXHAUSTED", "the per-day quota is used up"),
}
REFUSED_SUBMITS = ("vertex_permission_denied", "vertex_quota_exhausted_daily")
"""Refused on submit: no operation started, and the batch stops there."""


def test_the_vertex_scenarios_are_built_in() -> None:
    assert sorted(VERTEX_CASSETTES) == [
        "vertex_download_forbidden",
        "vertex_download_not_found",
        "vertex_image_to_video",
        "vertex_inline",
        "vertex_operation_error",
        "vertex_permission_denied",
        "vertex_quota_exhausted_daily",
        "vertex_rai_filtered",
        "vertex_success",
        "vertex_two_samples",
    ]
    # Every Gemini API failure has its Vertex AI twin (google-genai 3.x submits only there),
    # recorded from the same emulator scenario and ending the same way.
    for name, spec in SCENARIO_CASSETTES.items():
        if spec.backend == "gemini" and spec.status == "failed" and name != "rai_filtered":
            twin = VERTEX_CASSETTES[f"vertex_{name}"]
            assert (twin.emulator_scenario, twin.status, twin.error_message) == (
                spec.emulator_scenario,
                spec.status,
                spec.error_message,
            )
    failed = {name for name, spec in VERTEX_CASSETTES.items() if spec.status == "failed"}
    assert failed == set(_FAILURE_DETAIL)
    for name in VERTEX_CASSETTES:
        path = builtin_cassette(name)
        assert path is not None, f"not recorded: python -m pytest_veo3.scenarios cassettes/ {name}"


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param(spec, marks=pytest.mark.veo3_cassette(name), id=name)
        for name, spec in PLAIN.items()
    ],
)
def test_vertex_scenario_cassette_end_to_end(
    spec: ScenarioCassette,
    no_real_sleep: None,
    keyless: None,
    recorded_veo3: VertexVeo3Adapter,
    veo3_cassette: VeoCassette,
    tmp_path: Path,
) -> None:
    assert isinstance(recorded_veo3, VertexVeo3Adapter)
    assert (recorded_veo3.project, recorded_veo3.location) == ("veo3-project", "us-central1")
    expected_uri = "gs://veo3-bucket/renders/" if spec.via_bucket else None
    assert recorded_veo3.output_gcs_uri == expected_uri

    orchestrator = Veo3Orchestrator(recorded_veo3, tmp_path)
    jobs = orchestrator.run({spec.name: spec.prompt})

    [job] = jobs
    assert (job.status.value, job.error_message) == (spec.status, spec.error_message)
    clip = orchestrator.clip_path(spec.name)
    if spec.name in REFUSED_SUBMITS:
        assert job.operation_name == ""
        assert job.batch_stopped_by == spec.name
    else:
        assert job.operation_name.startswith(OPERATION_PREFIX)
    if job.status is JobStatus.DOWNLOADED:
        assert is_mp4_file(clip)
        assert clip.read_bytes() == sample_clip()
        assert (job.clip_path, job.clip_bytes) == (str(clip), len(sample_clip()))
        assert job.error_detail == ""
        # A gs:// video keeps its URI in jobs.json; an inline one has none to keep.
        assert job.video_uri.startswith("gs://veo3-bucket/renders/") == spec.via_bucket
    else:
        assert not clip.exists()
        for words in _FAILURE_DETAIL[spec.name]:
            assert words in job.error_detail
    assert read_jobs_json(orchestrator.jobs_path) == jobs

    # The run made exactly the recorded requests: no more (that would fail), and no fewer.
    assert veo3_cassette.all_played
    assert veo3_cassette.play_count == len(veo3_cassette.cassette)


# -- what the shipped files hold ---------------------------------------------------------


def _files_of(name: str) -> list[Path]:
    path = builtin_cassette(name)
    assert path is not None
    refs = re.findall(r"veo3-body-file:(bodies/\S+)", path.read_text())
    return [path, *(path.parent / ref for ref in refs)]


@pytest.mark.parametrize("name", list(VERTEX_CASSETTES))
def test_vertex_cassettes_name_their_backend_and_placeholders(name: str) -> None:
    path = builtin_cassette(name)
    assert path is not None
    assert cassette_backend(path) == "vertex"
    metadata = cassette_metadata(path)
    expected = {
        "backend": "vertex",
        "express": "false",
        "location": "us-central1",
        "project": "veo3-project",
        "base_url": "https://us-central1-aiplatform.googleapis.com",
        "storage_base_url": "https://storage.googleapis.com",
    }
    if VERTEX_CASSETTES[name].via_bucket:
        expected |= {"bucket": "veo3-bucket", "output_gcs_uri": "gs://veo3-bucket/renders/"}
    assert {k: metadata.get(k) for k in [*expected, "bucket"]} == {"bucket": None, **expected}


@pytest.mark.parametrize(
    "name", [n for n, s in SCENARIO_CASSETTES.items() if s.backend == "gemini"]
)
def test_gemini_cassettes_are_gemini(name: str) -> None:
    path = builtin_cassette(name)
    assert path is not None
    # Recorded before the field existed, or naming it: either way the Gemini API.
    assert cassette_metadata(path).get("backend", "gemini") == "gemini"
    assert cassette_backend(path) == "gemini"


@pytest.mark.parametrize("name", list(VERTEX_CASSETTES))
def test_vertex_cassettes_hold_no_token_project_or_bucket(name: str) -> None:
    files = _files_of(name)
    assert audit_paths(files) == []
    for file in files:
        text = file.read_bytes().decode("utf-8", "replace")
        assert "ya29." not in text and "Bearer" not in text, file
        assert not re.search(r"^\s*(authorization|x-goog-api-key|x-goog-user-project):", text, re.M)
        assert set(re.findall(r"projects/([^/\"'\s]+)", text)) <= {"veo3-project"}, file
        assert set(re.findall(r"gs://([^/\"'\s]+)", text)) <= {"veo3-bucket"}, file
        assert set(re.findall(r"/storage/v1/b/([^/\"'\s?]+)", text)) <= {"veo3-bucket"}, file


def _interactions(name: str) -> list[dict[str, Any]]:
    path = builtin_cassette(name)
    assert path is not None
    return list(yaml.safe_load(path.read_text())["interactions"])


def test_vertex_success_reads_the_bucket_with_both_checksums() -> None:
    interactions = _interactions("vertex_success")
    [download] = [i for i in interactions if i["request"]["method"] == "GET"]
    request, response = download["request"], download["response"]
    assert request["uri"].startswith(
        "https://storage.googleapis.com/storage/v1/b/veo3-bucket/o/renders%2F"
    )
    assert request["uri"].endswith("%2Fsample_0.mp4?alt=media")
    hashes = response["headers"]["x-goog-hash"]
    assert sorted(h.partition("=")[0] for h in hashes) == ["crc32c", "md5"]
    # Everything else went to Vertex AI: the submit, then polls until done.
    assert {i["request"]["uri"].split(":")[-1] for i in interactions if i is not download} == {
        "predictLongRunning",
        "fetchPredictOperation",
    }


def test_vertex_inline_keeps_the_base64_answer_in_a_body_file() -> None:
    files = _files_of("vertex_inline")
    [answer] = {f for f in files if f.suffix == ".json"}
    done = json.loads(answer.read_text())
    [video] = done["response"]["videos"]
    assert set(video) == {"bytesBase64Encoded", "mimeType"}
    assert done["name"].startswith(OPERATION_PREFIX)
    assert "gs://" not in files[0].read_text()


def test_vertex_permission_denied_is_one_refused_submit() -> None:
    [submit] = _interactions("vertex_permission_denied")
    request, response = submit["request"], submit["response"]
    assert request["uri"].endswith(":predictLongRunning")
    assert response["status"]["code"] == 403
    assert json.loads(response["body"]["string"])["error"]["status"] == "PERMISSION_DENIED"
