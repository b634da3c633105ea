"""``veo3 demo``: the README's first command, on the built-in emulator, with no key."""

from __future__ import annotations

from pathlib import Path

from _kit.cli import TABLE_HEADER, Veo3, parse_table

from veo3_adapter.cli._demo import default_backend
from veo3_adapter.mp4 import is_mp4_file
from veo3_adapter.store import read_jobs_json


def test_demo_leaves_clips_and_a_jobs_file_whose_failed_job_says_download_failed(
    veo3: Veo3, tmp_path: Path
) -> None:
    result = veo3("demo", "--out", "demo", keyed=False)

    assert result.code == 0, result
    clips = tmp_path / "demo" / "veo3"
    assert is_mp4_file(clips / "sunrise.mp4")
    assert is_mp4_file(clips / "harbour.mp4")
    assert not (clips / "lighthouse.mp4").exists()
    assert '"download_failed"' in (clips / "jobs.json").read_text()  # what CI greps for
    jobs = {job.variant: job for job in read_jobs_json(clips / "jobs.json")}
    assert {v: (j.status.value, j.error_message) for v, j in jobs.items()} == {
        "sunrise": ("downloaded", ""),
        "harbour": ("downloaded", ""),
        "lighthouse": ("failed", "download_failed"),
    }
    rows = {row["VARIANT"]: row for row in parse_table(result.out)}
    assert {v: (r["STATUS"], r["ERROR"]) for v, r in rows.items()} == {
        "sunrise": ("downloaded", "-"),
        "harbour": ("downloaded", "-"),
        "lighthouse": ("failed", "download_failed"),
    }
    assert rows["sunrise"]["OPERATION"] == jobs["sunrise"].operation_name
    assert "ran as designed" in result.out


def test_demo_quiet_prints_only_the_table(veo3: Veo3, tmp_path: Path) -> None:
    result = veo3("demo", "--quiet", "--out", "demo", keyed=False)

    assert result.code == 0, result
    assert result.err == ""
    lines = result.out.splitlines()
    assert lines[0].split() == TABLE_HEADER
    assert len(lines) == 4
    assert len(parse_table(result.out)) == 3


def test_demo_progress_goes_to_stderr_as_plain_lines_when_not_a_terminal(veo3: Veo3) -> None:
    result = veo3("demo", "--out", "demo", keyed=False)

    assert result.code == 0, result
    assert "\x1b" not in result.err
    assert all(line.startswith("veo3: ") for line in result.err_lines), result
    names = "models/" if default_backend() == "gemini" else "projects/"  # as the SDK picks
    assert any(line.startswith(f"veo3: sunrise: submitted as {names}") for line in result.err_lines)
    assert "veo3: sunrise: poll 1: still generating" in result.err
    assert "veo3: sunrise: downloaded 2.1 KB" in result.err
    assert "veo3: lighthouse: failed: download_failed: " in result.err
    assert "VARIANT" not in result.err  # the table is stdout's
    assert "veo3: " not in result.out
