"""Record every scenario with a canary key; the canary must end up nowhere, and the audit
must find nothing there, yet find each kind of secret planted in a copy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from _kit.keys import make_api_key
from _kit.logs import every_log_line
from _kit.sdk import needs_gemini_submit

from pytest_veo3.scenarios import SCENARIO_CASSETTES, record_scenarios
from veo3_adapter import cli
from veo3_adapter.audit import audit_paths

# Recording the Gemini API scenarios submits to the Gemini API (the Vertex AI ones have a
# canary module of their own).
pytestmark = needs_gemini_submit


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, list[str]]:
    """The whole scenario set recorded from the emulator with a canary key and DEBUG logs.

    Returns the output directory, the canary and every formatted log line.
    """
    out = tmp_path_factory.mktemp("canary")
    canary = make_api_key()
    with every_log_line() as lines:
        written = record_scenarios(out / "cassettes", key=canary, jobs_dir=out / "jobs")
    assert sorted(p.name for p in written) == sorted(f"{n}.yaml" for n in SCENARIO_CASSETTES)
    return out, canary, lines


def test_the_canary_is_in_no_file_written(recorded: tuple[Path, str, list[str]]) -> None:
    out, canary, _ = recorded
    files = sorted(p for p in out.rglob("*") if p.is_file())
    names = {p.name for p in files}
    # What must have been checked: cassettes, body files, each run's jobs.json and clip.
    assert {f"{name}.yaml" for name in SCENARIO_CASSETTES} <= names
    assert any(p.parent.name == "bodies" and p.suffix == ".mp4" for p in files)
    assert sum(p.name == "jobs.json" for p in files) == len(SCENARIO_CASSETTES)
    for path in files:
        assert canary.encode() not in path.read_bytes(), path


def test_the_canary_is_in_no_log_record(recorded: tuple[Path, str, list[str]]) -> None:
    _, canary, lines = recorded
    # The emulator and the adapter log every request at DEBUG: this is not an empty check.
    assert len(lines) > 3 * len(SCENARIO_CASSETTES)
    for line in lines:
        assert canary not in line


def test_the_audit_finds_nothing_in_what_was_recorded(
    recorded: tuple[Path, str, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    out, _, _ = recorded
    assert audit_paths([out]) == []
    assert cli.main(["cassettes", "audit", str(out / "cassettes")]) == 0
    assert "veo3: no secrets found" in capsys.readouterr().out


def _line_of(path: Path, needle: str) -> int:
    [number] = [n for n, line in enumerate(path.read_text().splitlines(), 1) if needle in line]
    return number


def test_the_audit_finds_a_planted_key_header_and_key_parameter(
    recorded: tuple[Path, str, list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, _, _ = recorded
    copy = tmp_path / "cassettes"
    shutil.copytree(out / "cassettes", copy)
    planted_key = make_api_key()

    success = copy / "success.yaml"
    text = success.read_text()
    success.write_text(
        text.replace(
            "      x-goog-api-client:\n",
            "      x-goog-api-key:\n      - not-redacted-at-all\n      x-goog-api-client:\n",
            1,
        )
    )
    rai = copy / "rai_filtered.yaml"
    rai.write_text(
        rai.read_text().replace("user-agent:\n      - ", f"user-agent:\n      - {planted_key} ", 1)
    )
    failed = copy / "operation_error.yaml"
    failed.write_text(
        failed.read_text().replace(":predictLongRunning", ":predictLongRunning?key=abc123", 1)
    )
    body = next((copy / "bodies").glob("*.mp4"))
    body.write_bytes(body.read_bytes() + b"\n" + planted_key.encode() + b"\n")

    body_offset = body.read_bytes().index(planted_key.encode())  # binary: a byte offset
    expected = {
        f"{success}:{_line_of(success, 'x-goog-api-key:')}: an unredacted x-goog-api-key header",
        f"{rai}:{_line_of(rai, planted_key)}: a Google API key (AIza...)",
        f"{failed}:{_line_of(failed, 'key=abc123')}: a key= query parameter",
        f"{body}:byte {body_offset}: a Google API key (AIza...)",
    }
    assert cli.main(["cassettes", "audit", str(copy)]) == 1
    captured = capsys.readouterr()
    assert set(captured.out.splitlines()) == expected
    assert "4 secret-shaped value(s) found" in captured.err
