"""A Gemini API cassette on google-genai 3.x, which does not submit to the Gemini API.

Its recorded submit can never be replayed, so a strict test on it cannot pass: it fails at
setup with one line naming the ways out (the Vertex AI built-ins, google-genai<3). A test
that allows unplayed requests may only want the polls and the download: it runs, warned
once. A cassette without a submit (a job resumed) replays whole on every major. Run on the
installed google-genai for real and, on 2.x, also as 3.x by setting the version the package
reads (its Gemini adapter then refuses the submit as on 3.x).
"""

from __future__ import annotations

import pytest
import yaml
from _kit.plugin import copy_builtin, load_cassette
from _kit.sdk import GEMINI_SUBMITS, SDK_VERSION

from veo3_adapter import _sdk

_WAYS_OUT = (
    "cannot submit to the Gemini API, so its recorded submit can never be replayed: replay a "
    "Vertex AI cassette (its twin vertex_success, another built-in vertex_* one, or one "
    "recorded with --veo3-backend=vertex) or install google-genai<3"
)


# On 2.x also as 3.x: the package reads the version (a 3.x SDK cannot be made to submit).
_VERSIONS = ["installed", "3.6.1"] if GEMINI_SUBMITS else ["installed"]


@pytest.fixture(params=_VERSIONS)
def version(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The google-genai version the package sees: the installed one, or 3.x set for it."""
    if request.param == "installed":
        return SDK_VERSION
    monkeypatch.setattr(_sdk, "sdk_version", lambda: request.param)
    return str(request.param)


def _submits(version: str) -> bool:
    return int(version.split(".", 1)[0]) < 3


_RUN = """
import pytest
from veo3_adapter import Veo3Orchestrator

@pytest.mark.veo3_cassette({names}{keywords})
def test_run(recorded_veo3, tmp_path):
    [job] = Veo3Orchestrator(recorded_veo3, tmp_path).run({{"intro": "a cat"}})
    print("ENDED", job.status.value, job.error_message, job.batch_stopped_by)
"""


def test_a_strict_test_on_a_gemini_cassette_fails_at_setup_saying_why_and_what_to_do(
    pytester: pytest.Pytester, version: str
) -> None:
    pytester.makepyfile(_RUN.format(names="'success'", keywords=""))
    result = pytester.runpytest_inprocess("-s")
    if _submits(version):
        result.assert_outcomes(passed=1)
        result.stdout.fnmatch_lines(["*ENDED downloaded  *"])
        return
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_run*",
            f"veo3: success is a Gemini API cassette and google-genai {version} {_WAYS_OUT}",
        ]
    )
    assert "ENDED" not in result.stdout.str()  # the test itself never ran


def test_a_composition_of_gemini_cassettes_says_so_by_its_name(
    pytester: pytest.Pytester, version: str
) -> None:
    pytester.makepyfile(_RUN.format(names="'rai_filtered', 'success'", keywords=""))
    result = pytester.runpytest_inprocess()
    if _submits(version):  # one job: the second cassette is left unplayed
        result.assert_outcomes(passed=1, errors=1)
        result.stdout.fnmatch_lines(["veo3: * were never made *"])
        return
    result.assert_outcomes(errors=1)
    # No built-in of that name: every Vertex AI built-in is a way out.
    result.stdout.fnmatch_lines(
        [
            f"veo3: rai_filtered+success is a Gemini API cassette and google-genai {version} "
            "* (vertex_success, vertex_inline, *, vertex_two_samples, or one recorded with "
            "--veo3-backend=vertex) or install google-genai<3"
        ]
    )


def test_a_test_that_allows_unplayed_requests_runs_warned_once(
    pytester: pytest.Pytester, version: str
) -> None:
    pytester.makepyfile(_RUN.format(names="'success'", keywords=", allow_unplayed=True"))
    result = pytester.runpytest_inprocess("-s", "-W", "always::pytest_veo3.Veo3Warning")
    result.assert_outcomes(passed=1)
    warned = f"*Veo3Warning: veo3: success is a Gemini API cassette and google-genai {version} *"
    if _submits(version):
        result.stdout.fnmatch_lines(["*ENDED downloaded  *"])
        result.stdout.no_fnmatch_line(warned)
        return
    # The adapter refuses the submit itself: the job fails, the batch stops, nothing is sent.
    result.stdout.fnmatch_lines(["*ENDED failed submit_failed intro", warned])
    assert result.stdout.str().count("Veo3Warning: veo3: success") == 1


_RESUME = """
import pytest
from veo3_adapter import JobStatus, Veo3Job

@pytest.mark.veo3_cassette("resumed")
def test_resume(recorded_veo3, tmp_path):
    job = Veo3Job("intro", "a cat", status=JobStatus.SUBMITTED, operation_name={name!r})
    while job.status is JobStatus.SUBMITTED:
        job = recorded_veo3.poll_job(job)
    recorded_veo3.download_clip(job, tmp_path / "intro.mp4")
"""


def test_a_gemini_cassette_without_a_submit_replays_whole_on_every_major(
    pytester: pytest.Pytester, version: str
) -> None:
    """A job submitted earlier, polled and downloaded: what google-genai 3.x still does."""
    cassette = copy_builtin("success", pytester.path / "tests" / "cassettes", as_name="resumed")
    data = load_cassette(cassette)
    submit, *rest = data["interactions"]
    assert submit["request"]["uri"].endswith(":predictLongRunning")
    data["interactions"] = rest
    cassette.write_text(yaml.safe_dump(data))
    name = rest[0]["request"]["uri"].split("/v1beta/", 1)[1]
    pytester.makepyfile(_RESUME.format(name=name))
    result = pytester.runpytest_inprocess("-W", "error::pytest_veo3.Veo3Warning")
    result.assert_outcomes(passed=1)  # strict: every recorded request was made
