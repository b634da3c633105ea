"""Strict replay: a test that leaves recorded requests unplayed fails at teardown, naming them,
unless the test (marker keyword) or the project (ini option) allows it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from _kit.plugin import API, BACKEND_PARAMS, OPERATIONS, VERTEX_MODEL, for_sdk

from pytest_veo3._replay import unplayed

# Submits and polls once: the recording's two more polls and its download are never asked for.
_STOPS_EARLY = """
from __future__ import annotations

import pytest
from veo3_adapter import JobStatus

@pytest.mark.veo3_cassette({name!r}{keywords})
def test_stops_early(recorded_veo3):
    job = recorded_veo3.submit_job("intro", "a cat")
    job = recorded_veo3.poll_job(job)
    assert job.status is JobStatus.SUBMITTED
"""


_SUCCESS = {"gemini": "success", "vertex": "vertex_success"}
# What the test leaves unplayed: how many of how many, and each request (method, URL).
_UNPLAYED = {
    "gemini": (
        "5 of the 7",
        [
            f"  GET {OPERATIONS}/*",
            f"  GET {OPERATIONS}/*",
            f"  GET {OPERATIONS}/*",
            f"  GET {API}/v1beta/files/*:download",
            f"  GET {API}/download/v1beta/files/*:download",
        ],
    ),
    "vertex": (
        "4 of the 6",
        [
            f"  POST {VERTEX_MODEL}:fetchPredictOperation",
            f"  POST {VERTEX_MODEL}:fetchPredictOperation",
            f"  POST {VERTEX_MODEL}:fetchPredictOperation",
            "  GET https://storage.googleapis.com/storage/v1/b/veo3-bucket/o/"
            "renders/*/sample_0.mp4",
        ],
    ),
}


def _stops_early(pytester: pytest.Pytester, backend: str, keywords: str = "") -> None:
    pytester.makepyfile(test_strict=_STOPS_EARLY.format(name=_SUCCESS[backend], keywords=keywords))


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_a_test_that_stops_early_fails_at_teardown_naming_the_unplayed_requests(
    pytester: pytest.Pytester, backend: str
) -> None:
    _stops_early(pytester, backend)
    result = pytester.runpytest_inprocess()
    result.assert_outcomes(passed=1, errors=1)
    count, lines = _UNPLAYED[backend]
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_stops_early*",
            f"veo3: {count} requests recorded in */{_SUCCESS[backend]}.yaml were never made "
            "(the code under test stopped early or asked for less):",
            *lines,
            "  to allow it: @pytest.mark.veo3_cassette(..., allow_unplayed=True) on the test, "
            "or veo3_allow_unplayed = true in the ini file",
        ]
    )
    # Method and URL only: the query (it may carry a signature) is never shown.
    assert "alt=media" not in result.stdout.str()


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_the_marker_keyword_allows_unplayed_requests(
    pytester: pytest.Pytester, backend: str
) -> None:
    _stops_early(pytester, backend, ", allow_unplayed=True")
    pytester.runpytest_inprocess().assert_outcomes(passed=1)


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_the_ini_option_allows_them_for_the_project_and_the_marker_wins(
    pytester: pytest.Pytester, backend: str
) -> None:
    pytester.makeini("[pytest]\nveo3_allow_unplayed = true\n")
    _stops_early(pytester, backend)
    pytester.runpytest_inprocess().assert_outcomes(passed=1)

    _stops_early(pytester, backend, ", allow_unplayed=False")  # this test stays strict
    result = pytester.runpytest_inprocess()
    result.assert_outcomes(passed=1, errors=1)
    count, _lines = _UNPLAYED[backend]
    result.stdout.fnmatch_lines([f"veo3: {count} requests recorded in * were never made *"])


def test_the_ini_option_is_in_the_help(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess("--help")
    result.stdout.fnmatch_lines(["*veo3_allow_unplayed (bool):*", "*let a test leave recorded*"])


def test_the_marker_keyword_also_works_without_a_name(pytester: pytest.Pytester) -> None:
    """The keyword alone keeps the default cassette name (here: a missing cassette)."""
    pytester.makepyfile(
        test_unnamed="""
        import pytest

        @pytest.mark.veo3_cassette(allow_unplayed=True)
        def test_default_name(veo3_cassette_name):
            assert veo3_cassette_name == "test_unnamed/test_default_name"
        """
    )
    pytester.runpytest_inprocess().assert_outcomes(passed=1)


def test_a_test_that_failed_or_skipped_is_not_failed_again_at_teardown(
    pytester: pytest.Pytester,
) -> None:
    name = for_sdk("success", "vertex_success")
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.veo3_cassette({name!r})
        def test_fails(recorded_veo3):
            recorded_veo3.submit_job("intro", "a cat")
            assert False, "the test's own failure"

        @pytest.mark.veo3_cassette({name!r})
        def test_skips(recorded_veo3):
            recorded_veo3.submit_job("intro", "a cat")
            pytest.skip("not today")

        @pytest.mark.xfail(reason="known")
        @pytest.mark.veo3_cassette({name!r})
        def test_xfails(recorded_veo3):
            recorded_veo3.submit_job("intro", "a cat")
            assert False
        """
    )
    result = pytester.runpytest_inprocess()
    result.assert_outcomes(failed=1, skipped=1, xfailed=1)
    assert "were never made" not in result.stdout.str()


def test_a_full_run_passes(pytester: pytest.Pytester) -> None:
    name = for_sdk("download_server_error", "vertex_inline")
    pytester.makepyfile(
        f"""
        import pytest
        from veo3_adapter import JobStatus, Veo3Orchestrator

        @pytest.mark.veo3_cassette({name!r})
        def test_full(recorded_veo3, veo3_cassette, tmp_path):
            [job] = Veo3Orchestrator(recorded_veo3, tmp_path).run({{"intro": "a cat"}})
            assert job.status is JobStatus.DOWNLOADED
        """
    )
    pytester.runpytest_inprocess().assert_outcomes(passed=1)


def test_a_cassette_being_recorded_owes_nothing() -> None:
    """What a recording cassette holds was recorded now: nothing is left unplayed."""
    request = SimpleNamespace(method="GET", uri=f"{OPERATIONS}/abc")
    recording = SimpleNamespace(write_protected=False, play_counts={}, requests=[request])
    assert unplayed(recording) == []
    replaying = SimpleNamespace(write_protected=True, play_counts={0: 0}, requests=[request])
    assert unplayed(replaying, ["mine"]) == [f"GET {OPERATIONS}/abc (from mine)"]
