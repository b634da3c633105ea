"""Every built-in scenario cassette, replayed through ``Veo3Orchestrator`` on ``recorded_veo3``.

The orchestrator runs with its defaults (10 s poll interval, 900 s timeout): the plugin makes
those waits virtual, and ``no_real_sleep`` fails the test if one is not.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _kit.sdk import needs_gemini_submit

from pytest_veo3 import RecordedVeo3, VeoCassette
from pytest_veo3.scenarios import SCENARIO_CASSETTES, ScenarioCassette, record_scenarios
from pytest_veo3.scenarios import main as scenarios_main
from veo3_adapter import JobStatus, Veo3Orchestrator, _sdk, read_jobs_json
from veo3_adapter.emulator import DEFAULT_RAI_REASON
from veo3_adapter.mp4 import is_mp4_file, sample_clip

# What the human-readable detail of each failed scenario must say.
_FAILURE_DETAIL = {
    "rai_filtered": DEFAULT_RAI_REASON,
    "operation_error": "Video generation failed: the request could not be processed.",
    "download_not_found": "HTTP 404",
    "download_forbidden": "HTTP 403",
    "quota_exhausted_daily": "the per-day quota is used up",
}
# The Gemini API's; the Vertex AI ones (backend "vertex") are in test_vertex_scenario_cassettes.
GEMINI_CASSETTES = {n: s for n, s in SCENARIO_CASSETTES.items() if s.backend == "gemini"}
# Those sending inputs (a first frame, several videos): test_input_scenario_cassettes.
PLAIN = {n: s for n, s in GEMINI_CASSETTES.items() if not s.image and s.number_of_videos == 1}


def test_every_failed_scenario_has_an_expected_detail() -> None:
    failed = {name for name, spec in GEMINI_CASSETTES.items() if spec.status == "failed"}
    assert failed == set(_FAILURE_DETAIL)


@pytest.mark.parametrize(
    "spec",
    [
        # Each starts with a Gemini API submit, which google-genai 3.x does not send.
        pytest.param(spec, marks=[pytest.mark.veo3_cassette(name), needs_gemini_submit], id=name)
        for name, spec in PLAIN.items()
    ],
)
def test_scenario_cassette_end_to_end(
    spec: ScenarioCassette,
    no_real_sleep: None,
    recorded_veo3: RecordedVeo3,
    veo3_cassette: VeoCassette,
    tmp_path: Path,
) -> None:
    orchestrator = Veo3Orchestrator(recorded_veo3, tmp_path)
    jobs = orchestrator.run({spec.name: spec.prompt})

    [job] = jobs
    assert (job.status.value, job.error_message) == (spec.status, spec.error_message)
    if spec.error_message != "quota_exhausted":  # a refused submit started no operation
        assert job.operation_name.startswith("models/veo-3.1-generate-001/operations/")
    clip = orchestrator.clip_path(spec.name)
    if job.status is JobStatus.DOWNLOADED:
        assert is_mp4_file(clip)
        # Every scenario serves the sample clip, however many requests it took to get it.
        assert clip.read_bytes() == sample_clip()
        assert (job.clip_path, job.clip_bytes) == (str(clip), len(sample_clip()))
        assert job.error_detail == ""
    else:
        assert not clip.exists()
        assert job.clip_path == ""
        assert _FAILURE_DETAIL[spec.name] in job.error_detail
    # Nothing half-written is left beside the clips.
    assert sorted(p.name for p in orchestrator.clips_dir.iterdir()) == sorted(
        [".veo3.lock", "jobs.json"] + ([clip.name] if clip.exists() else [])
    )

    # jobs.json round trip: what was written reads back as exactly the returned jobs.
    assert read_jobs_json(orchestrator.jobs_path) == jobs
    [raw] = json.loads(orchestrator.jobs_path.read_text())["jobs"]
    assert raw["operation_name"] == job.operation_name

    # The run made exactly the recorded requests: no more (that would fail), and no fewer.
    assert veo3_cassette.all_played
    assert veo3_cassette.play_count == len(veo3_cassette.cassette)


def test_the_recorder_refuses_gemini_scenarios_google_genai_3_cannot_submit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(_sdk, "sdk_version", lambda: "3.6.1")
    vertex = ", ".join(n for n, spec in SCENARIO_CASSETTES.items() if spec.backend == "vertex")
    assert vertex.startswith("vertex_success, vertex_inline, vertex_rai_filtered, ")
    says = (
        "recording success, rai_filtered submits to the Gemini API, which google-genai 3.6.1 "
        f"does not do: record them with google-genai<3, or name only Vertex AI scenarios "
        f"({vertex})"
    )
    with pytest.raises(RuntimeError) as refused:
        record_scenarios(tmp_path, names=["success", "vertex_inline", "rai_filtered"])
    assert str(refused.value) == says
    # The command says it and exits 1, having written nothing.
    assert scenarios_main([str(tmp_path)]) == 1
    assert capsys.readouterr().err.startswith("python -m pytest_veo3.scenarios: error: recording")
    assert list(tmp_path.iterdir()) == []
