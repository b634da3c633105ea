"""The plugin among others: its import cost, pytest-xdist, respx and pytest-recording."""

from __future__ import annotations

import json
import textwrap

import pytest
from _kit.plugin import for_sdk, run_subprocess

_HEAVY = (
    "google.genai",
    "vcr",
    "pytest_veo3.cassette",
    "pytest_veo3._scrub",
    "pytest_veo3._bodies",
    "pytest_veo3._replay",
)


@pytest.mark.parametrize(
    ("test_source", "imported"),
    [
        pytest.param("def test_plain():\n    assert True\n", False, id="no-veo3-fixture"),
        # The control: the same check does see the imports when a fixture needs them.
        pytest.param(
            "import pytest\n\n"
            f"@pytest.mark.veo3_cassette({for_sdk('success', 'vertex_success')!r}, "
            "allow_unplayed=True)\n"
            "def test_replayed(recorded_veo3):\n    assert recorded_veo3\n",
            True,
            id="recorded_veo3",
        ),
    ],
)
def test_a_session_without_veo3_fixtures_imports_neither_the_sdk_nor_vcrpy(
    pytester: pytest.Pytester, test_source: str, imported: bool
) -> None:
    pytester.makeconftest(
        f"""
        import json
        import sys

        def pytest_sessionfinish(session):
            loaded = [name for name in {_HEAVY!r} if name in sys.modules]
            (session.config.rootpath / "imported.json").write_text(json.dumps(loaded))
        """
    )
    pytester.makepyfile(test_source)
    # A fresh interpreter: this process has imported all of them long ago.
    result = run_subprocess(pytester)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["veo3: record mode none, cassettes in *"])
    loaded = json.loads((pytester.path / "imported.json").read_text())
    assert loaded == (list(_HEAVY) if imported else [])


def test_works_under_xdist(pytester: pytest.Pytester) -> None:
    for name, scenario in (
        ("one", for_sdk("success", "vertex_success")),
        ("two", for_sdk("download_server_error", "vertex_inline")),
    ):
        pytester.makepyfile(
            **{
                f"test_recorded_{name}": f"""
                import pytest
                from veo3_adapter import JobStatus, Veo3Orchestrator

                @pytest.mark.veo3_cassette("{scenario}")
                def test_recorded(recorded_veo3, tmp_path):
                    [job] = Veo3Orchestrator(recorded_veo3, tmp_path).run({{"intro": "a cat"}})
                    assert job.status is JobStatus.DOWNLOADED

                @pytest.mark.veo3_fake(default="rai_filtered", polls=1)
                def test_fake(fake_veo3, tmp_path):
                    [job] = Veo3Orchestrator(fake_veo3, tmp_path).run({{"intro": "a cat"}})
                    assert job.error_message == "rai_filtered"
                """
            }
        )
    result = run_subprocess(pytester, "-n", "2")
    result.stdout.fnmatch_lines(["veo3: record mode none, *", "created: 2/2 workers"])
    result.assert_outcomes(passed=4)


_RECORDED = f"""
@pytest.mark.veo3_cassette({for_sdk("success", "vertex_success")!r})
def test_2_recorded_veo3(recorded_veo3, tmp_path):
    [job] = Veo3Orchestrator(recorded_veo3, tmp_path).run({{"intro": "a cat"}})
    assert job.status is JobStatus.DOWNLOADED
"""


def test_works_in_a_session_that_also_uses_respx(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        textwrap.dedent(
            """
            import httpx
            import pytest
            import respx
            from veo3_adapter import JobStatus, Veo3Orchestrator

            @respx.mock
            def test_1_respx_decorator():
                route = respx.get("https://api.example.test/ping").respond(200, text="pong")
                assert httpx.get("https://api.example.test/ping").text == "pong"
                assert route.called
            """
        )
        + _RECORDED
        + textwrap.dedent(
            """
            def test_3_respx_fixture(respx_mock):
                respx_mock.get("https://api.example.test/ping").respond(204)
                assert httpx.get("https://api.example.test/ping").status_code == 204
            """
        )
    )
    result = pytester.runpytest_inprocess("-p", "respx")
    result.assert_outcomes(passed=3)


_PYTEST_RECORDING_CASSETTE = """
interactions:
- request:
    body: ''
    headers: {}
    method: GET
    uri: https://api.example.test/hello
  response:
    body:
      string: hi from pytest-recording
    headers:
      content-type:
      - text/plain
    status:
      code: 200
      message: OK
version: 1
"""


def test_works_in_a_session_that_also_uses_pytest_recording(pytester: pytest.Pytester) -> None:
    # pytest-recording's own layout: cassettes/<module>/<test>.yaml beside the module.
    theirs = pytester.path / "cassettes" / "test_both"
    theirs.mkdir(parents=True)
    for name in ("test_1_pytest_recording", "test_3_pytest_recording_again"):
        (theirs / f"{name}.yaml").write_text(_PYTEST_RECORDING_CASSETTE)
    pytester.makepyfile(
        test_both=textwrap.dedent(
            """
            import httpx
            import pytest
            from veo3_adapter import JobStatus, Veo3Orchestrator

            @pytest.mark.vcr
            def test_1_pytest_recording():
                answer = httpx.get("https://api.example.test/hello")
                assert answer.text == "hi from pytest-recording"
            """
        )
        + _RECORDED
        + textwrap.dedent(
            """
            @pytest.mark.vcr
            def test_3_pytest_recording_again():
                assert httpx.get("https://api.example.test/hello").status_code == 200
            """
        )
    )
    result = pytester.runpytest_inprocess(
        "-p", "recording", "--record-mode=none", "--block-network"
    )
    result.assert_outcomes(passed=3)
