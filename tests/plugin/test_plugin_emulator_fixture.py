"""``veo3_emulator``: the real adapter on the in-process emulator, scripted per test, with the
requests it sent and a teardown check that no credential left the API origin."""

from __future__ import annotations

import re
import textwrap

import pytest
from _kit.plugin import BACKEND, BACKEND_PARAMS
from _kit.sdk import needs_gemini_submit

from veo3_adapter import _sdk
from veo3_adapter.emulator import SCENARIO_NAMES

_HEADER = """
from __future__ import annotations

import time

import httpx
import pytest
from veo3_adapter import ErrorCode, JobStatus, Veo3Job
from veo3_adapter.emulator import Scenario
from veo3_adapter.mp4 import is_mp4_file
"""


def _make_tests(pytester: pytest.Pytester, source: str) -> None:
    pytester.makepyfile(test_pipeline=_HEADER + textwrap.dedent(source))


# -- scripting -------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_a_pipeline_gets_the_outcomes_scripted_in_order_and_by_prompt(
    pytester: pytest.Pytester, backend: str
) -> None:
    _make_tests(
        pytester,
        f"""
        @pytest.mark.parametrize("veo3_emulator_backend", [{backend!r}])
        def test_pipeline(veo3_emulator, veo3_emulator_backend, tmp_path):
            assert veo3_emulator.backend == veo3_emulator_backend
            veo3_emulator.script("success", "download_not_found", Scenario.named("success"))
            veo3_emulator.script_prompt("boat", "rai_filtered")
            veo3_emulator.script_prompt(lambda p: p.endswith("storm"), "operation_error")
            veo3_emulator.script_default("cross_origin_redirect")
            orchestrator = veo3_emulator.orchestrator(tmp_path)
            jobs = orchestrator.run({{
                "one": "a cat",
                "two": "a paper boat",
                "three": "a dog",
                "four": "a storm",
                "five": "a bird",
                "six": "a fox",
            }})
            got = {{j.variant: (j.status, j.error_message) for j in jobs}}
            assert got == {{
                "one": (JobStatus.DOWNLOADED, ""),
                "two": (JobStatus.FAILED, ErrorCode.RAI_FILTERED.value),
                "three": (JobStatus.FAILED, ErrorCode.DOWNLOAD_FAILED.value),
                "four": (JobStatus.FAILED, ErrorCode.GENERATION_FAILED.value),
                "five": (JobStatus.DOWNLOADED, ""),
                "six": (JobStatus.DOWNLOADED, ""),  # the default, once the script is used up
            }}
            assert is_mp4_file(orchestrator.clip_path("six"))
            ops = veo3_emulator.emulator.operations.values()
            assert sorted(op.prompt for op in ops if op.scenario.cross_origin) == ["a fox"]
        """,
    )
    pytester.runpytest_inprocess().assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("backend", "adapter"),
    [
        pytest.param("gemini", "GeminiVeo3Adapter", marks=needs_gemini_submit),
        ("vertex", "VertexVeo3Adapter"),
    ],
)
def test_the_adapter_is_the_real_one_and_nothing_sleeps_for_real(
    pytester: pytest.Pytester, backend: str, adapter: str
) -> None:
    _make_tests(
        pytester,
        f"""
        from veo3_adapter import {adapter}

        def test_pipeline(veo3_emulator, tmp_path, monkeypatch):
            def no_real_sleep(seconds):
                raise AssertionError(f"slept {{seconds}} s for real")

            monkeypatch.setattr(time, "sleep", no_real_sleep)
            assert isinstance(veo3_emulator.adapter, {adapter})
            veo3_emulator.script("rate_limited", "slow_download", "download_server_error")
            jobs = veo3_emulator.orchestrator(tmp_path, poll_interval=30).run(
                {{"one": "a cat", "two": "a dog", "three": "a bird"}}
            )
            assert [j.status for j in jobs] == [JobStatus.DOWNLOADED] * 3
        """,
    )
    # The session's backend, from --veo3-backend (by default the installed SDK's).
    pytester.runpytest_inprocess(f"--veo3-backend={backend}").assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("version", "expected"),
    [("installed", BACKEND), ("2.34.0", "gemini"), ("3.6.1", "vertex")],
)
def test_the_default_backend_is_the_one_the_installed_sdk_submits_to(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, version: str, expected: str
) -> None:
    if version != "installed":
        monkeypatch.setattr(_sdk, "sdk_version", lambda: version)
    _make_tests(
        pytester,
        """
        def test_default(veo3_emulator, veo3_emulator_backend):
            print("BACKEND", veo3_emulator_backend, veo3_emulator.backend)
        """,
    )
    result = pytester.runpytest_inprocess("-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*BACKEND {expected} {expected}"])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(
            'script("success", "sucess")',
            "E * ValueError: no scenario named 'sucess'; known: " + ", ".join(SCENARIO_NAMES),
            id="script",
        ),
        pytest.param(
            'script_prompt("boat", "rai_filterd")',
            "E * ValueError: no scenario named 'rai_filterd'; known: success, *",
            id="script_prompt",
        ),
        pytest.param(
            "script_default(404)",
            "E * TypeError: an outcome is a scenario name or a Scenario, not int",
            id="not-a-name",
        ),
    ],
)
def test_an_unknown_scenario_is_a_clear_error_at_once(
    pytester: pytest.Pytester, call: str, message: str
) -> None:
    _make_tests(
        pytester,
        f"""
        def test_pipeline(veo3_emulator):
            veo3_emulator.{call}
        """,
    )
    result = pytester.runpytest_inprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([message])


def test_an_unknown_backend_is_a_usage_error(pytester: pytest.Pytester) -> None:
    _make_tests(
        pytester,
        """
        @pytest.fixture
        def veo3_emulator_backend():
            return "bedrock"

        def test_pipeline(veo3_emulator):
            pass
        """,
    )
    result = pytester.runpytest_inprocess()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*veo3_emulator_backend: unknown backend 'bedrock'; valid: gemini, vertex"]
    )


# -- what it received ------------------------------------------------------------------------


_SEEN = {"gemini": ("x-goog-api-key", "GET"), "vertex": ("authorization", "POST")}
"""Each backend's credential header and poll method."""


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_requests_are_readable_with_credentials_redacted(
    pytester: pytest.Pytester, backend: str
) -> None:
    _make_tests(
        pytester,
        f"""
        from pathlib import Path

        @pytest.mark.parametrize(
            ("veo3_emulator_backend", "credential_header", "poll"),
            [({backend!r}, *{_SEEN[backend]!r})],
        )
        def test_pipeline(veo3_emulator, credential_header, poll, tmp_path):
            secret = (veo3_emulator.token or veo3_emulator.api_key).reveal()
            veo3_emulator.orchestrator(tmp_path).run({{"intro": "a paper boat"}})
            requests = veo3_emulator.requests
            submit, status = requests[0], requests[1]
            assert submit.method == "POST"
            assert submit.path.endswith(":predictLongRunning")
            assert submit.url.startswith(veo3_emulator.emulator.api_base + "/")
            assert submit.status == 200
            assert submit.json()["instances"][0]["prompt"] == "a paper boat"
            assert status.method == poll
            assert submit.header(credential_header.upper()) in ("REDACTED", "Bearer REDACTED")
            assert requests[-1].status == 200 and requests[-1].method == "GET"
            assert str(requests[-1]).startswith("GET https://")
            for request in requests:
                assert secret not in repr(request) + str(request.body)
            assert secret not in repr(veo3_emulator)
        """,
    )
    pytester.runpytest_inprocess().assert_outcomes(passed=1)


# -- the teardown leak check -----------------------------------------------------------------

_LEAKS = {
    "raw-request": """
        @pytest.mark.parametrize("veo3_emulator_backend", ["gemini"])
        def test_pipeline(veo3_emulator):
            Path("secret.txt").write_text(veo3_emulator.api_key.reveal())
            second = veo3_emulator.emulator.download_base
            headers = {"x-goog-api-key": veo3_emulator.api_key.reveal()}
            veo3_emulator.http.get(f"{second}/files/abc", headers=headers)
        """,
    "hand-rolled-download": """
        @pytest.mark.parametrize("veo3_emulator_backend", ["gemini"])
        def test_pipeline(veo3_emulator, tmp_path):
            key = veo3_emulator.api_key.reveal()
            Path("secret.txt").write_text(key)
            veo3_emulator.script("cross_origin_redirect")
            api = veo3_emulator.emulator.api_base
            # A job submitted over the wire (google-genai 3.x submits only to Vertex AI).
            veo3_emulator.http.post(
                f"{api}/v1beta/models/veo-3.1-generate-001:predictLongRunning",
                json={"instances": [{"prompt": "a cat"}]},
                headers={"x-goog-api-key": key},
            ).raise_for_status()
            [op] = veo3_emulator.emulator.operations.values()
            veo3_emulator.adapter.poll_job(
                Veo3Job("intro", "a cat", status=JobStatus.SUBMITTED, operation_name=op.name)
            )
            uri = f"{api}/v1beta/files/{op.file_id}:download"
            # A download of its own that follows redirects, key and all.
            with httpx.Client(transport=veo3_emulator.transport, follow_redirects=True) as http:
                http.get(uri, params={"alt": "media"}, headers={"x-goog-api-key": key})
        """,
    "unserved-host": """
        @pytest.mark.parametrize("veo3_emulator_backend", ["gemini"])
        def test_pipeline(veo3_emulator):
            Path("secret.txt").write_text(veo3_emulator.api_key.reveal())
            with pytest.raises(httpx.ConnectError):
                veo3_emulator.http.get(
                    "https://telemetry.example/v1",
                    headers={"x-debug": veo3_emulator.api_key.reveal()},
                )
        """,
    "vertex-token": """
        @pytest.mark.parametrize("veo3_emulator_backend", ["vertex"])
        def test_pipeline(veo3_emulator):
            Path("secret.txt").write_text(veo3_emulator.token.reveal())
            second = veo3_emulator.emulator.download_base
            headers = {"authorization": f"Bearer {veo3_emulator.token.reveal()}"}
            veo3_emulator.http.get(f"{second}/files/abc", headers=headers)
        """,
}
_WHERE = {
    "raw-request": (
        "  GET https://veo3-downloads.emulator.invalid/files/abc (the second origin), "
        "in header x-goog-api-key"
    ),
    "hand-rolled-download": (
        "  GET https://veo3-downloads.emulator.invalid/files/* (the second origin), "
        "in header x-goog-api-key"
    ),
    "unserved-host": (
        "  GET https://telemetry.example/v1 (a host the emulator does not serve), in header x-debug"
    ),
    "vertex-token": (
        "  GET https://veo3-downloads.emulator.invalid/files/abc (the second origin), "
        "in header authorization"
    ),
}


@pytest.mark.parametrize("case", list(_LEAKS))
def test_a_credential_sent_beyond_the_api_origin_fails_the_test_at_teardown(
    pytester: pytest.Pytester, case: str
) -> None:
    _make_tests(pytester, "from pathlib import Path\n" + textwrap.dedent(_LEAKS[case]))
    result = pytester.runpytest_inprocess("-l")
    result.assert_outcomes(passed=1, errors=1)
    api = "aiplatform" if case == "vertex-token" else "generativelanguage"
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_pipeline*",
            "veo3_emulator: the API key or token was sent to a server other than the API "
            f"(https://*{api}.googleapis.com):",
            _WHERE[case],
            "Credentials go to the API origin only: follow a redirect to another origin "
            "without them.",
        ]
    )
    secret = (pytester.path / "secret.txt").read_text()
    assert secret
    assert secret not in result.stdout.str() + result.stderr.str()


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_a_pipeline_that_keeps_its_key_home_passes_every_scenario(
    pytester: pytest.Pytester, backend: str
) -> None:
    """The real adapter on every emulator scenario (cross-origin redirect included): no leak.

    A refused submit stops the batch, so the scenarios that refuse one are left out.
    """
    names = tuple(n for n in SCENARIO_NAMES if not n.startswith("quota_exhausted"))
    _make_tests(
        pytester,
        f"""
        @pytest.mark.parametrize("veo3_emulator_backend", [{backend!r}])
        def test_pipeline(veo3_emulator, tmp_path):
            names = {names!r}
            for name in names:
                veo3_emulator.script_prompt(f"<{{name}}>", name)
            veo3_emulator.orchestrator(tmp_path).run(
                {{name.replace("_", "-"): f"a clip <{{name}}>" for name in names}}
            )
            assert len(veo3_emulator.requests) > 2 * len(names)
            assert veo3_emulator.leaks == []
        """,
    )
    result = pytester.runpytest_inprocess()
    result.assert_outcomes(passed=1)


# -- documentation ---------------------------------------------------------------------------


def test_the_fixtures_are_listed_with_their_docstrings(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess("--fixtures")
    text = result.stdout.str()
    listed = r"^{} -- .*_emulator_fixture\.py:\d+\n\s+{}"
    assert re.search(
        listed.format("veo3_emulator", re.escape("The real adapter on the in-process Veo")),
        text,
        re.M,
    ), text
    assert re.search(
        listed.format("veo3_emulator_backend", re.escape("The backend veo3_emulator builds")),
        text,
        re.M,
    ), text
