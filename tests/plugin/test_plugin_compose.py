"""Composed scenarios: several cassettes on one marker, one per submit, in submit order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from _kit.plugin import BACKEND_PARAMS, copy_builtin, for_sdk, load_cassette, prompt, record_own
from _kit.sdk import needs_gemini_submit

from pytest_veo3._compose import CompositionError, Part, compose
from pytest_veo3._replay import ANY_PROMPT_HEADER, PART_HEADER, body
from veo3_adapter.emulator import Scenario

_PIPELINE = """
from __future__ import annotations

import pytest
from veo3_adapter import Veo3Orchestrator
from veo3_adapter.mp4 import is_mp4_file, sample_clip

@pytest.mark.veo3_cassette({names})
def test_pipeline(recorded_veo3, veo3_cassette, tmp_path):
    orchestrator = Veo3Orchestrator(recorded_veo3, tmp_path)
    jobs = orchestrator.run({prompts!r})
    print("OUTCOMES", [(j.variant, j.status.value, j.error_message) for j in jobs])
    # Every job has an operation of its own, even from the same cassette twice.
    names = [j.operation_name for j in jobs if j.operation_name]
    assert len(set(names)) == len(names), names
    for job in jobs:
        if job.status.value == "downloaded":
            clip = orchestrator.clip_path(job.variant)
            assert is_mp4_file(clip) and clip.read_bytes() == sample_clip()
    assert veo3_cassette.all_played or not {played!r}
    assert {expected!r} == [(j.status.value, j.error_message) for j in jobs]
"""


def _pipeline(
    pytester: pytest.Pytester,
    names: tuple[str, ...],
    prompts: dict[str, str],
    expected: list[tuple[str, str]],
    *,
    played: bool = True,
) -> None:
    pytester.makepyfile(
        test_compose=_PIPELINE.format(
            names=", ".join(repr(n) for n in names),
            prompts=prompts,
            expected=expected,
            played=played,
        )
    )


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        pytest.param(
            ("success", "download_not_found", "success"),
            [("downloaded", ""), ("failed", "download_failed"), ("downloaded", "")],
            marks=needs_gemini_submit,
            id="gemini",
        ),
        pytest.param(
            ("vertex_success", "vertex_rai_filtered", "vertex_success"),
            [("downloaded", ""), ("failed", "rai_filtered"), ("downloaded", "")],
            id="vertex",
        ),
    ],
)
def test_three_variants_on_three_cassettes_one_of_them_twice(
    pytester: pytest.Pytester, names: tuple[str, ...], expected: list[tuple[str, str]]
) -> None:
    _pipeline(pytester, names, {"intro": "a cat", "middle": "a dog", "outro": "a bird"}, expected)
    pytester.runpytest_inprocess().assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        pytest.param(
            ("success", "download_not_found", "rai_filtered"),
            [("downloaded", ""), ("failed", "download_failed"), ("failed", "rai_filtered")],
            marks=needs_gemini_submit,
            id="success-notfound-rai",
        ),
        pytest.param(
            ("rai_filtered", "download_server_error", "rate_limited"),
            [("failed", "rai_filtered"), ("downloaded", ""), ("downloaded", "")],
            marks=needs_gemini_submit,
            id="rai-5xx-429",
        ),
        pytest.param(
            ("vertex_rai_filtered", "vertex_inline", "vertex_success"),
            [("failed", "rai_filtered"), ("downloaded", ""), ("downloaded", "")],
            id="vertex-rai-inline-bucket",
        ),
    ],
)
def test_each_submit_is_answered_by_the_next_cassette_in_order(
    pytester: pytest.Pytester, names: tuple[str, ...], expected: list[tuple[str, str]]
) -> None:
    _pipeline(pytester, names, {"a": "one", "b": "two", "c": "three"}, expected)
    pytester.runpytest_inprocess().assert_outcomes(passed=1)


def test_a_single_name_replays_as_before(pytester: pytest.Pytester) -> None:
    name = for_sdk("success", "vertex_success")
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.veo3_cassette({name!r})
        def test_one(recorded_veo3, veo3_cassette, veo3_cassette_name, tmp_path):
            from veo3_adapter import Veo3Orchestrator
            [job] = Veo3Orchestrator(recorded_veo3, tmp_path).run({{"intro": "a cat"}})
            assert veo3_cassette.path.name == "{name}.yaml"
            assert veo3_cassette_name == {name!r}
            assert "composed_of" not in veo3_cassette.metadata
        """
    )
    pytester.runpytest_inprocess().assert_outcomes(passed=1)


@pytest.mark.parametrize(
    "names",
    [
        pytest.param(("success", "rai_filtered"), marks=needs_gemini_submit, id="gemini"),
        pytest.param(("vertex_success", "vertex_rai_filtered"), id="vertex"),
    ],
)
def test_the_composition_is_named_and_a_missing_request_names_it(
    pytester: pytest.Pytester, names: tuple[str, str]
) -> None:
    first, second = names
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.veo3_cassette({first!r}, {second!r})
        def test_three_submits(recorded_veo3, veo3_cassette, veo3_cassette_name):
            assert veo3_cassette_name == "{first}+{second}"
            assert veo3_cassette.metadata["composed_of"] == "{first}, {second}"
            recorded_veo3.submit_job("a", "one")
            recorded_veo3.submit_job("b", "two")
            recorded_veo3.submit_job("c", "three")
        """
    )
    result = pytester.runpytest_inprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            f"E * veo3: cassette */{first}+{second}.yaml has no unplayed answer for POST *",
            "E * every matching recorded request has been played already*",
        ]
    )


def test_unplayed_requests_name_the_cassette_they_come_from(pytester: pytest.Pytester) -> None:
    first = for_sdk("rai_filtered", "vertex_rai_filtered")
    second = for_sdk("download_not_found", "vertex_success")
    pytester.makepyfile(
        f"""
        import pytest
        from veo3_adapter import Veo3Orchestrator

        @pytest.mark.veo3_cassette({first!r}, {second!r})
        def test_one_of_two(recorded_veo3, tmp_path):
            Veo3Orchestrator(recorded_veo3, tmp_path).run({{"a": "one"}})
        """
    )
    result = pytester.runpytest_inprocess()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "veo3: * of the * requests recorded in * were never made *",
            f"  POST *:predictLongRunning (from {second})",
        ]
    )


# -- your own cassettes --------------------------------------------------------------------


_TWO = {"first": "a red kite over a beach", "second": "a lighthouse at dusk"}
_THIRD = {
    "gemini": ("download_not_found", ("failed", "download_failed")),
    "vertex": ("vertex_permission_denied", ("failed", "submit_failed")),
}
"""A built-in to answer the third submit after a two-job cassette of one's own."""


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_a_recorded_multi_job_cassette_still_replays_alone_and_in_a_composition(
    pytester: pytest.Pytester, backend: str
) -> None:
    directory = pytester.path / "tests" / "cassettes"
    # A two-job run (a success, then a safety-filtered job) recorded as a user records one.
    scenarios = [Scenario.named("success"), Scenario.named("rai_filtered")]
    record_own(directory / "two_jobs.yaml", backend, scenarios, _TWO)
    _pipeline(pytester, ("two_jobs",), _TWO, [("downloaded", ""), ("failed", "rai_filtered")])
    pytester.runpytest_inprocess().assert_outcomes(passed=1)

    # In a composition, its two jobs answer the first two submits, the built-in the third.
    third, ends = _THIRD[backend]
    _pipeline(
        pytester,
        ("two_jobs", third),
        {**_TWO, "third": "anything"},
        [("downloaded", ""), ("failed", "rai_filtered"), ends],
    )
    pytester.runpytest_inprocess().assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("success", "filtered"),
    [
        pytest.param("success", "rai_filtered", marks=needs_gemini_submit, id="gemini"),
        pytest.param("vertex_success", "vertex_rai_filtered", id="vertex"),
    ],
)
def test_own_cassettes_still_match_their_prompt_and_resolve_their_body_files(
    pytester: pytest.Pytester, success: str, filtered: str
) -> None:
    directory = pytester.path / "tests" / "cassettes"
    copy_builtin(success, directory, as_name="mine")  # with its bodies/ folder
    recorded = prompt(success)
    _pipeline(
        pytester,
        ("mine", filtered, "mine"),
        {"a": recorded, "b": "any prompt", "c": recorded},
        [("downloaded", ""), ("failed", "rai_filtered"), ("downloaded", "")],
    )
    pytester.runpytest_inprocess().assert_outcomes(passed=1)

    # A prompt the cassette did not record is a miss, and stays the first cassette's turn:
    # the built-in after it (which answers any prompt) does not answer it instead.
    _pipeline(
        pytester,
        ("mine", filtered),
        {"a": "not what was recorded", "b": "any prompt"},
        [("failed", "internal_error"), ("failed", "internal_error")],
        played=False,
    )
    result = pytester.runpytest_inprocess()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "veo3: the code under test caught a request the cassette could not answer:",
            f"veo3: cassette */mine+{filtered}.yaml has no unplayed answer for POST *",
            "  closest recorded request: POST *:predictLongRunning",
            "    differs in body: instances[0].prompt: asked 'not what was recorded', "
            f"recorded '{recorded}'",
            "  (1 more)",
        ]
    )


# -- refusals -----------------------------------------------------------------------------


def _errors_with(pytester: pytest.Pytester, message: str, *args: str) -> None:
    result = pytester.runpytest_inprocess(*args)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"E * {message}"])


def test_several_names_while_recording_are_a_usage_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, canary: str
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", canary)
    _pipeline(pytester, ("success", "success"), {"a": "one"}, [])
    _errors_with(
        pytester,
        "veo3_cassette marker with several names (success, success) only replays; record "
        "each cassette with a test of its own (--veo3-record-mode=once)",
        "--veo3-record-mode=once",
    )


def test_an_unknown_name_says_where_it_looked(pytester: pytest.Pytester) -> None:
    _pipeline(pytester, ("success", "sucess"), {"a": "one"}, [])
    _errors_with(
        pytester,
        f"veo3: no cassette 'sucess': {pytester.path}/tests/cassettes/sucess.yaml does not "
        "exist and no built-in scenario has that name (success, *)",
    )


def test_cassettes_of_different_backends_are_refused(pytester: pytest.Pytester) -> None:
    cassette = copy_builtin("success", pytester.path / "tests" / "cassettes", as_name="cloud")
    data = load_cassette(cassette)
    data["metadata"]["veo3"]["backend"] = "vertex"
    cassette.write_text(yaml.safe_dump(data))
    _pipeline(pytester, ("success", "cloud"), {"a": "one"}, [])
    _errors_with(
        pytester,
        "veo3: cannot replay cassettes of different backends together: "
        "success (gemini), cloud (vertex)",
    )


# -- the composition itself -----------------------------------------------------------------


def _interaction(
    method: str, uri: str, response: object, request_body: str = ""
) -> dict[str, object]:
    return {
        "request": {"method": method, "uri": uri, "body": request_body, "headers": {}},
        "response": {
            "status": {"code": 200, "message": "OK"},
            "headers": {},
            "body": {"string": response if isinstance(response, str) else json.dumps(response)},
        },
    }


_VERTEX = "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1"
_MODEL = f"{_VERTEX}/publishers/google/models/veo-3.1-generate-001"
_OP = "projects/p/locations/us-central1/publishers/google/models/veo-3.1-generate-001/operations/"
_UUID = "0f8fad5b-d9cb-469f-a165-70867728950e"
_FOLDER = "1234567890123456789"


def _vertex_part(builtin: bool) -> Part:
    gcs = f"gs://bucket/renders/{_FOLDER}/sample_0.mp4"
    return Part(
        "vertex_success",
        Path("/nowhere/vertex_success.yaml"),
        builtin,
        [
            _interaction(
                "POST",
                f"{_MODEL}:predictLongRunning",
                {"name": _OP + _UUID},
                json.dumps(
                    {
                        "instances": [{"prompt": "p"}],
                        "parameters": {"storageUri": "gs://bucket/renders/"},
                    }
                ),
            ),
            _interaction(
                "POST",
                f"{_MODEL}:fetchPredictOperation",
                {"name": _OP + _UUID, "done": True, "response": {"videos": [{"gcsUri": gcs}]}},
                json.dumps({"operationName": _OP + _UUID}),
            ),
            _interaction(
                "GET",
                f"https://storage.googleapis.com/storage/v1/b/bucket/o/renders%2F{_FOLDER}%2Fsample_0.mp4?alt=media",
                "the clip",
            ),
        ],
        {"backend": "vertex", "base_url": _VERTEX},
    )


def test_vertex_ids_keep_their_shape_and_every_mention_is_renamed(tmp_path: Path) -> None:
    path = compose([_vertex_part(True), _vertex_part(False)], tmp_path)
    text = path.read_text()
    for position in (1, 2):
        uuid = f"{_UUID[:-4]}{position:04d}"
        folder = f"{_FOLDER[:-4]}{position:04d}"
        assert text.count(uuid) == 3  # in the submit's answer, the poll's body and answer
        assert f"renders/{folder}/sample_0.mp4" in text
        assert f"renders%2F{folder}%2Fsample_0.mp4" in text
    assert _UUID not in text and _FOLDER not in text
    assert "gs://bucket/renders/" in text  # the submit's own storageUri is not an id
    interactions = load_cassette(path)["interactions"]
    flagged = [ANY_PROMPT_HEADER in i["request"]["headers"] for i in interactions]
    assert flagged == [True] * 3 + [False] * 3  # only the built-in part answers any prompt
    parts = [i["request"]["headers"].get(PART_HEADER) for i in interactions]
    assert parts == [["1:vertex_success"], None, None, ["2:vertex_success"], None, None]


class _Request:
    def __init__(
        self, method: str, payload: object, any_prompt: bool = False, part: str = ""
    ) -> None:
        self.method = method
        self.body = json.dumps(payload).encode()
        self.headers = {ANY_PROMPT_HEADER: ["1"]} if any_prompt else {}
        if part:
            self.headers[PART_HEADER] = [part]


def test_a_request_recorded_for_any_prompt_still_matches_only_its_operation() -> None:
    submit = {"instances": [{"prompt": "recorded"}]}
    body(_Request("POST", {"instances": [{"prompt": "asked"}]}), _Request("POST", submit, True))
    with pytest.raises(AssertionError, match="prompt"):
        body(_Request("POST", {"instances": [{"prompt": "asked"}]}), _Request("POST", submit))
    poll = {"operationName": _OP + "one"}
    body(_Request("POST", poll), _Request("POST", poll, True))
    with pytest.raises(AssertionError, match="operationName"):
        body(_Request("POST", {"operationName": _OP + "two"}), _Request("POST", poll, True))


def test_a_submit_is_answered_only_by_the_cassette_whose_turn_it_is() -> None:
    submit = {"instances": [{"prompt": "p"}]}
    body(_Request("POST", submit, part="2:success"), _Request("POST", submit, True, "2:success"))
    with pytest.raises(AssertionError, match="for cassette 1:mine, this one is from 2:success"):
        body(_Request("POST", submit, part="1:mine"), _Request("POST", submit, True, "2:success"))


def test_ids_the_tags_cannot_keep_apart_are_refused(tmp_path: Path) -> None:
    def part(op: str) -> Part:
        return Part(
            "x",
            tmp_path / "x.yaml",
            True,
            [_interaction("GET", f"{_MODEL}/operations/{op}", "{}")],
            {},
        )

    # Two ids of one cassette that differ only where the tag goes.
    both = Part(
        "x",
        tmp_path / "x.yaml",
        True,
        part("aaaaaaaa1111").interactions + part("aaaaaaaa2222").interactions,
        {},
    )
    with pytest.raises(CompositionError, match="would both become 'aaaaaaaa0001'"):
        compose([both, part("b" * 12)], tmp_path)
