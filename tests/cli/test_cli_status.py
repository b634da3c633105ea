"""``veo3 status DIR``: the table of jobs.json, read only."""

from __future__ import annotations

from pathlib import Path

import pytest
from _kit.cli import Veo3, files_in, parse_table

from veo3_adapter.models import ErrorCode, JobStatus, Veo3Job
from veo3_adapter.store import write_jobs_json

OP = "models/veo-3.1-generate-001/operations/"


def _jobs_dir(out: Path) -> Path:
    clips = out / "veo3"
    clips.mkdir(parents=True)
    return clips


def test_status_shows_variant_status_operation_error_and_clip_size(veo3: Veo3, out: Path) -> None:
    clips = _jobs_dir(out)
    write_jobs_json(
        clips / "jobs.json",
        [
            Veo3Job(
                "intro",
                "a cat",
                status=JobStatus.DOWNLOADED,
                operation_name=OP + "aaaa1111",
                clip_path=str(clips / "intro.mp4"),
                clip_bytes=3 * 1024 * 1024 // 2,
            ),
            Veo3Job("outro", "a dog", operation_name=OP + "bbbb2222").failed(
                ErrorCode.RAI_FILTERED, "safety"
            ),
            Veo3Job("middle", "a cow", status=JobStatus.SUBMITTED, operation_name=OP + "cccc3333"),
            Veo3Job("later", "a hen"),
        ],
    )

    result = veo3("status", "out", keyed=False)

    assert result.code == 0, result
    assert parse_table(result.out) == [
        {
            "VARIANT": "intro",
            "STATUS": "downloaded",
            "OPERATION": OP + "aaaa1111",
            "ERROR": "-",
            "CLIP": "1.5 MB",
        },
        {
            "VARIANT": "outro",
            "STATUS": "failed",
            "OPERATION": OP + "bbbb2222",
            "ERROR": "rai_filtered",
            "CLIP": "-",
        },
        {
            "VARIANT": "middle",
            "STATUS": "submitted",
            "OPERATION": OP + "cccc3333",
            "ERROR": "-",
            "CLIP": "-",
        },
        {"VARIANT": "later", "STATUS": "pending", "OPERATION": "-", "ERROR": "-", "CLIP": "-"},
    ]
    assert result.err == ""


def test_status_without_jobs_file_names_the_fix(veo3: Veo3, out: Path) -> None:
    out.mkdir()

    result = veo3("status", "out", keyed=False)

    assert result.code == 2, result
    assert result.err_lines == [
        "veo3: error: out has no veo3/jobs.json; pass the --out directory of an earlier run"
    ]
    assert result.out == ""


CORRUPT = {
    "not json": b'{"version": 1, "jobs": [',
    "wrong version": b'{"version": 0, "jobs": []}\n',
    "bad variant": b'{"version": 1, "jobs": [{"variant": "../x", "prompt": "p"}]}\n',
    "not utf-8": b'{"version": 1, "jobs": []}\xff\n',
}


@pytest.mark.parametrize("content", CORRUPT.values(), ids=list(CORRUPT))
def test_status_on_a_corrupt_jobs_file_says_so_in_one_line_and_leaves_it_unchanged(
    veo3: Veo3, out: Path, content: bytes
) -> None:
    clips = _jobs_dir(out)
    (clips / "jobs.json").write_bytes(content)
    before = files_in(out)

    result = veo3("status", "out", keyed=False)

    assert result.code == 2, result
    assert len(result.err_lines) == 1, result
    [line] = result.err_lines
    assert line.startswith("veo3: error: out/veo3/jobs.json: "), line
    assert line.endswith("The file was not changed; fix or move it, then run again."), line
    assert "Traceback" not in result.err
    assert files_in(out) == before


def test_status_reads_the_current_directory_by_default(veo3: Veo3, tmp_path: Path) -> None:
    write_jobs_json(_jobs_dir(tmp_path) / "jobs.json", [Veo3Job("here", "a cat")])

    result = veo3("status", keyed=False)

    assert result.code == 0, result
    assert [r["VARIANT"] for r in parse_table(result.out)] == ["here"]


def test_status_without_a_run_here_says_so(veo3: Veo3) -> None:
    result = veo3("status", keyed=False)

    assert result.code == 2, result
    assert result.err_lines == [
        "veo3: error: the current directory has no veo3/jobs.json; "
        "pass the --out directory of an earlier run"
    ]
