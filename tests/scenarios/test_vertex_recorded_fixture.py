"""``recorded_veo3`` on a Vertex AI cassette of one's own, through ``pytester``: the fixture
builds the Vertex adapter from the metadata, a submit must ask for what was recorded, and
recording the Gemini API into it (or over it) is refused."""

from __future__ import annotations

import pytest
from _kit.plugin import ENV_VARIABLES, copy_builtin

from pytest_veo3.scenarios import SCENARIO_CASSETTES

_PIPELINE = f"""
from __future__ import annotations

import pytest
from veo3_adapter import JobStatus, Veo3Orchestrator, VertexVeo3Adapter

PROMPT = {SCENARIO_CASSETTES["vertex_success"].prompt!r}

@pytest.mark.veo3_cassette("renders")
def test_pipeline(recorded_veo3, tmp_path):
    assert isinstance(recorded_veo3, VertexVeo3Adapter)
    [job] = Veo3Orchestrator(recorded_veo3, tmp_path).run({{"intro": PROMPT}})
    assert job.status is JobStatus.DOWNLOADED, job

@pytest.mark.veo3_cassette("renders")
def test_other_prompt(recorded_veo3):
    recorded_veo3.submit_job("intro", "a cat")
"""


@pytest.fixture(autouse=True)
def _clean_veo3_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_an_own_vertex_cassette_replays_and_matches_the_submit(pytester: pytest.Pytester) -> None:
    copy_builtin("vertex_success", pytester.path / "tests" / "cassettes", as_name="renders")
    pytester.makepyfile(test_renders=_PIPELINE)
    result = pytester.runpytest_inprocess()
    result.assert_outcomes(passed=1, failed=1)
    # Your own cassette answers the prompt it recorded: the miss names the difference.
    result.stdout.fnmatch_lines(
        [
            "*test_other_prompt*",
            "E * closest recorded request: POST https://us-central1-aiplatform.googleapis.com"
            "/v1beta1/projects/veo3-project/locations/us-central1/*:predictLongRunning",
            "E * differs in body: instances?0?.prompt: asked 'a cat', recorded *",
        ]
    )


@pytest.mark.parametrize(
    ("mode", "says"),
    [
        ("all", "recording gemini over it would lose that recording"),
        ("new_episodes", "recording gemini into it would mix two backends in one cassette"),
    ],
)
def test_recording_the_gemini_api_over_a_vertex_cassette_is_refused(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, mode: str, says: str
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "record-" + "x" * 32)
    cassette = copy_builtin("vertex_success", pytester.path / "tests" / "cassettes", "renders")
    before = cassette.read_bytes()
    pytester.makepyfile(test_renders=_PIPELINE)
    result = pytester.runpytest_inprocess(
        f"--veo3-record-mode={mode}", "--veo3-backend=gemini", "-k", "test_pipeline"
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            f"*renders.yaml was recorded from vertex; {says}: record it with "
            "--veo3-backend=vertex, replay it, or delete it first*"
        ]
    )
    assert cassette.read_bytes() == before


def test_record_mode_once_replays_an_existing_vertex_cassette(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "record-" + "x" * 32)
    cassette = copy_builtin("vertex_success", pytester.path / "tests" / "cassettes", "renders")
    before = cassette.read_bytes()
    pytester.makepyfile(test_renders=_PIPELINE)
    result = pytester.runpytest_inprocess("--veo3-record-mode=once", "-k", "test_pipeline")
    result.assert_outcomes(passed=1)
    assert cassette.read_bytes() == before
