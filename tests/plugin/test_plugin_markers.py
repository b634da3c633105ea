"""The markers and fixtures as a user meets them: help output, scripting, and clear errors."""

from __future__ import annotations

import re

import pytest
from _kit.plugin import copy_builtin, for_sdk, outcome_of, prompt

from pytest_veo3.scenarios import SCENARIO_CASSETTES
from veo3_adapter import FakeOutcomeKind


def test_markers_are_listed_with_their_signatures(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess("--markers")
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.veo3_cassette(*names, allow_unplayed=False): replay the cassette "
            "`name` with recorded_veo3*",
            "@pytest.mark.veo3_fake(*, default='success', outcomes=None, polls=0): "
            "script fake_veo3*",
        ]
    )
    [cassette_help] = [line for line in result.stdout.lines if "mark.veo3_cassette(" in line]
    for name in SCENARIO_CASSETTES:  # the help names every built-in scenario
        assert name in cassette_help
    [fake_help] = [line for line in result.stdout.lines if "mark.veo3_fake(" in line]
    for outcome in FakeOutcomeKind:
        assert f"'{outcome.value}'" in fake_help


_FIXTURE_DOCS = {
    "fake_veo3": "A fresh in-memory FakeVeo3Adapter, scripted by the veo3_fake marker; "
    "waits are virtual.",
    "recorded_veo3": "The real adapter (GeminiVeo3Adapter or VertexVeo3Adapter) on "
    "vcrpy-replayed HTTP.",
    "veo3_cassette": "The open cassette behind recorded_veo3 (play counts, provenance, path).",
    "veo3_cassette_dir": "Directory of your veo3 cassettes (override to change it per module).",
    "veo3_record_mode": "The record mode for this test: none, once, new_episodes or all.",
    "veo3_cassette_name": "The cassette this test uses: the veo3_cassette marker's name, "
    "else <module>/<test>.",
}


def test_fixtures_are_listed_with_their_docstrings(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess("--fixtures")
    text = result.stdout.str()
    for name, doc in _FIXTURE_DOCS.items():
        assert re.search(rf"^{name} -- .*plugin\.py:\d+\n\s+{re.escape(doc)}$", text, re.M), name


# -- veo3_fake -------------------------------------------------------------------------------


def test_veo3_fake_scripts_outcomes_and_polls(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from __future__ import annotations

        import pytest
        from pytest_veo3 import FakeOutcome, FakeVeo3
        from veo3_adapter import JobStatus, Veo3Orchestrator, read_jobs_json

        @pytest.mark.veo3_fake(outcomes={"outro": "download_failed"}, polls=2)
        def test_outcomes_and_polls(fake_veo3: FakeVeo3, tmp_path):
            jobs = Veo3Orchestrator(fake_veo3, tmp_path).run({"intro": "a", "outro": "b"})
            assert [j.status for j in jobs] == [JobStatus.DOWNLOADED, JobStatus.FAILED]
            assert jobs[1].error_message == "download_failed"
            # two polls that say "running", then one that says done, for each variant
            assert len(fake_veo3.calls_to("poll_job")) == 6
            assert read_jobs_json(tmp_path / "veo3" / "jobs.json") == jobs

        @pytest.mark.veo3_fake(default="rai_filtered")
        def test_default(fake_veo3, tmp_path):
            [job] = Veo3Orchestrator(fake_veo3, tmp_path).run({"intro": "a"})
            assert (job.status, job.error_message) == (JobStatus.FAILED, "rai_filtered")

        @pytest.mark.veo3_fake(outcomes={"intro": FakeOutcome.download_failed(status_code=403)})
        def test_fake_outcome_value(fake_veo3, tmp_path):
            [job] = Veo3Orchestrator(fake_veo3, tmp_path).run({"intro": "a"})
            assert "HTTP 403" in job.error_detail

        def test_unmarked_is_a_fresh_success_fake(fake_veo3, tmp_path):
            assert fake_veo3.calls == []
            [job] = Veo3Orchestrator(fake_veo3, tmp_path).run({"intro": "a"})
            assert job.status is JobStatus.DOWNLOADED

        def test_script_at_run_time(fake_veo3, tmp_path):
            fake_veo3.script("intro", FakeOutcome.generation_failed("nope"))
            [job] = Veo3Orchestrator(fake_veo3, tmp_path).run({"intro": "a"})
            assert (job.error_message, job.error_detail) == ("generation_failed", "nope")
        """
    )
    result = pytester.runpytest_inprocess("--strict-markers")
    result.assert_outcomes(passed=5)


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        pytest.param(
            'veo3_fake(outcome={"intro": "success"})',
            "veo3_fake marker: unknown keyword argument(s) outcome; "
            "valid: default, outcomes, polls",
            id="typo-kwarg",
        ),
        pytest.param(
            'veo3_fake(default="sucess")',
            "veo3_fake marker: unknown outcome 'sucess'; valid: success, generation_failed, "
            "rai_filtered, download_failed, submit_failed, quota_exhausted, poll_failed, "
            "operation_not_found, expired, timeout",
            id="unknown-default-outcome",
        ),
        pytest.param(
            'veo3_fake(outcomes={"intro": "rai_filterd"})',
            "veo3_fake marker: unknown outcome 'rai_filterd'; valid: *",
            id="unknown-variant-outcome",
        ),
        pytest.param(
            'veo3_fake("success")',
            "veo3_fake takes keyword arguments only",
            id="positional",
        ),
    ],
)
def test_a_wrong_veo3_fake_marker_fails_the_test_saying_what_is_wrong(
    pytester: pytest.Pytester, marker: str, message: str
) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.{marker}
        def test_scripted(fake_veo3):
            pass
        """
    )
    result = pytester.runpytest_inprocess()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"E * {message}"])


_NAMES_ONLY = "veo3_cassette marker takes one or more cassette names: veo3_cassette('x')*"
_KEYWORDS = "veo3_cassette marker takes cassette names and allow_unplayed=True|False only*"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("", _NAMES_ONLY),
        ("3", _NAMES_ONLY),
        ('"success", ""', _NAMES_ONLY),
        ('name="success"', _KEYWORDS),
        ('"success", allow_unplayed="yes"', _KEYWORDS),
    ],
)
def test_a_wrong_veo3_cassette_marker_says_what_it_takes(
    pytester: pytest.Pytester, args: str, message: str
) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.veo3_cassette({args})
        def test_replayed(recorded_veo3):
            pass
        """
    )
    result = pytester.runpytest_inprocess()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"E * {message}"])


# -- which cassette ---------------------------------------------------------------------------

_RUN_ONE = """
from __future__ import annotations

import pytest
from veo3_adapter import Veo3Orchestrator

{decorator}
def {name}(recorded_veo3, veo3_cassette, tmp_path):
    [job] = Veo3Orchestrator(recorded_veo3, tmp_path).run({{"intro": {prompt!r}}})
    print("CASSETTE", veo3_cassette.path)
    assert (job.status.value, job.error_message) == {expected!r}
"""


def test_a_marker_name_is_looked_up_in_the_users_directory_before_the_built_ins(
    pytester: pytest.Pytester,
) -> None:
    # A user cassette named after the built-in success that holds a safety-filtered job:
    # it must win.
    filtered = for_sdk("rai_filtered", "vertex_rai_filtered")
    success = for_sdk("success", "vertex_success")
    own = copy_builtin(filtered, pytester.path / "tests" / "cassettes", as_name=success)
    pytester.makepyfile(
        _RUN_ONE.format(
            decorator=f"@pytest.mark.veo3_cassette({success!r})",
            name="test_marked",
            expected=("failed", "rai_filtered"),
            # A cassette of your own is matched on the submit's body too: ask what it holds.
            prompt=prompt(filtered),
        )
    )
    result = pytester.runpytest_inprocess("-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*CASSETTE {own}"])


def test_a_marker_name_falls_back_to_the_built_in_scenario(pytester: pytest.Pytester) -> None:
    name = for_sdk("operation_error", "vertex_rai_filtered")
    pytester.makepyfile(
        _RUN_ONE.format(
            decorator=f"@pytest.mark.veo3_cassette({name!r})",
            name="test_marked",
            expected=outcome_of(name),
            prompt="a paper boat",  # a built-in scenario answers any prompt
        )
    )
    result = pytester.runpytest_inprocess("-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*CASSETTE */{name}.yaml"])


def test_without_a_marker_the_cassette_is_named_after_the_module_and_the_test(
    pytester: pytest.Pytester,
) -> None:
    name = for_sdk("download_forbidden", "vertex_permission_denied")
    own = copy_builtin(name, pytester.path / "my-cassettes" / "test_clip", "test_unmarked")
    pytester.makepyfile(
        test_clip=_RUN_ONE.format(
            decorator="", name="test_unmarked", expected=outcome_of(name), prompt=prompt(name)
        )
    )
    result = pytester.runpytest_inprocess("-s", "--veo3-cassette-dir=my-cassettes")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*CASSETTE {own}"])


def test_cassette_name_and_directory_fixtures_are_override_points(
    pytester: pytest.Pytester,
) -> None:
    name = for_sdk("rate_limited", "vertex_inline")
    copy_builtin(name, pytester.path / "elsewhere", "shared")
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture
        def veo3_cassette_dir(pytestconfig):
            return pytestconfig.rootpath / "elsewhere"

        @pytest.fixture
        def veo3_cassette_name():
            return "shared"
        """
    )
    pytester.makepyfile(
        _RUN_ONE.format(
            decorator="",
            name="test_overridden",
            expected=("downloaded", ""),
            prompt=prompt(name),
        )
    )
    result = pytester.runpytest_inprocess("-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*CASSETTE */elsewhere/shared.yaml"])


def test_default_names_never_collide(pytester: pytest.Pytester) -> None:
    """Same test name in two modules, ids that differ only in unsafe characters, classes:
    each test gets its own cassette; a name that had to change carries a short hash."""
    body = """
import pytest

def test_clip(veo3_cassette_name):
    print("NAME", veo3_cassette_name)

@pytest.mark.parametrize("case", ["a b", "a-b", "a/b", "x" * 150], ids=str)
def test_ids(veo3_cassette_name, case):
    print("NAME", veo3_cassette_name)

class TestGroup:
    def test_clip(self, veo3_cassette_name):
        print("NAME", veo3_cassette_name)
"""
    pytester.makepyfile(test_one=body)
    (pytester.path / "tests" / "unit").mkdir(parents=True)
    (pytester.path / "tests" / "unit" / "test_one.py").write_text(body)
    result = pytester.runpytest_inprocess("-s", "--import-mode=importlib")
    result.assert_outcomes(passed=12)
    names = [line.split("NAME ", 1)[1] for line in result.stdout.lines if "NAME " in line]
    assert len(set(names)) == 12, names
    assert "test_one/test_clip" in names
    assert "test_one/TestGroup.test_clip" in names
    # Cassettes in tests/cassettes: a module under tests/ is named from there.
    assert "unit/test_one/test_clip" in names
    assert "test_one/test_ids[a-b]" in names  # already a safe name: kept as it is
    hashed = [
        n for n in names if n.startswith("test_one/test_ids") and n != "test_one/test_ids[a-b]"
    ]
    assert len(hashed) == 3
    assert all(re.fullmatch(r"test_one/test_ids\[[\w.\[\]-]{1,100}-[0-9a-f]{8}", n) for n in hashed)
