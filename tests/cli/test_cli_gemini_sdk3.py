"""``veo3 run`` on the Gemini API with google-genai 3.x, which no longer submits video
generations there: each job fails as ``submit_failed`` with one line naming the two ways out
(``--backend vertex``, google-genai<3), the batch stops, nothing is sent, no traceback.

The command as a subprocess runs on 3.x only; in process, the installed version is reported
as 3.6.1 on 2.x as well (``veo3_adapter._sdk.sdk_version``), so the same path runs on both.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _kit.cli import POLL, Veo3, parse_table, write_prompts
from _kit.sdk import GEMINI_SUBMITS, SDK_MAJOR, SDK_VERSION

from veo3_adapter import _sdk
from veo3_adapter.cli import EXIT_JOB_FAILED, main
from veo3_adapter.emulator import Emulator
from veo3_adapter.models import JobStatus
from veo3_adapter.store import read_jobs_json

TWO = 'a = "a cat"\nb = "a dog"\n'


def _refusal(version: str) -> str:
    """The line a job refused by google-genai ``version`` gets on stderr."""
    return (
        f"veo3: a: failed: submit_failed: submit of variant 'a': google-genai {version} "
        "generates video only through Vertex AI, not the Gemini API; use Vertex AI instead "
        "(VertexVeo3Adapter or `veo3 run --backend vertex`; its express mode takes the same "
        "API key) or install google-genai<3; nothing was sent"
    )


_STOPPED = (
    "veo3: b: failed: submit_failed: not sent: this run stopped sending jobs after this "
    "refusal: submit of variant 'a': google-genai "
)


def _check_jobs(out: Path, emulator: Emulator) -> None:
    jobs = read_jobs_json(out / "veo3" / "jobs.json")
    assert [(j.variant, j.status, j.error_message) for j in jobs] == [
        ("a", JobStatus.FAILED, "submit_failed"),
        ("b", JobStatus.FAILED, "submit_failed"),
    ]
    assert [j.batch_stopped_by for j in jobs] == ["a", "a"]
    assert emulator.requests == []
    assert not list((out / "veo3").glob("*.mp4"))


@pytest.mark.skipif(
    GEMINI_SUBMITS,
    reason=f"google-genai {SDK_VERSION} submits to the Gemini API; the refusal runs in process "
    "below on every major, and as a command on 3.x",
)
@pytest.mark.parametrize("backend", [(), ("--backend", "gemini")], ids=["default", "gemini"])
def test_run_on_the_gemini_api_fails_each_job_naming_the_ways_out(
    veo3: Veo3,
    emulator: Emulator,
    base_url: str,
    tmp_path: Path,
    out: Path,
    backend: tuple[str, ...],
) -> None:
    prompts = write_prompts(tmp_path / "p.toml", TWO)

    result = veo3("run", str(prompts), "--out", "out", *backend, "--base-url", base_url, *POLL)

    assert result.code == EXIT_JOB_FAILED, result
    first, second = result.err_lines
    assert first == _refusal(SDK_VERSION), result
    assert second.startswith(_STOPPED), result
    assert "Traceback" not in result.err and "ValueError" not in result.err
    rows = [(r["VARIANT"], r["STATUS"], r["ERROR"]) for r in parse_table(result.out)]
    assert rows == [("a", "failed", "submit_failed"), ("b", "failed", "submit_failed")]
    _check_jobs(out, emulator)


def test_run_on_the_gemini_api_with_google_genai_3_in_process(
    emulator: Emulator,
    base_url: str,
    key: str,
    tmp_path: Path,
    out: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if SDK_MAJOR < 3:
        monkeypatch.setattr(_sdk, "sdk_version", lambda: "3.6.1")
    monkeypatch.setenv("GEMINI_API_KEY", key)
    prompts = write_prompts(tmp_path / "p.toml", TWO)

    code = main(["run", str(prompts), "--out", str(out), "--base-url", base_url, *POLL])

    assert code == EXIT_JOB_FAILED
    captured = capsys.readouterr()
    first, second = captured.err.splitlines()
    assert first == _refusal(_sdk.sdk_version())
    assert second.startswith(_STOPPED)
    assert "Traceback" not in captured.err and key not in captured.err + captured.out
    assert [r["ERROR"] for r in parse_table(captured.out)] == ["submit_failed"] * 2
    _check_jobs(out, emulator)
