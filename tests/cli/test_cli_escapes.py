"""Text a server chose (operation names, error details) reaches the terminal with its control
characters escaped: ``ESC ]52`` (write the clipboard) or ``ESC [2J`` (clear the screen)
shows as ``\\x1b]52``, never acts."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from _kit.cli import Veo3, parse_table

from veo3_adapter.cli import ProgressView
from veo3_adapter.cli._commands import status_table
from veo3_adapter.cli._common import one_line
from veo3_adapter.cli._progress import Mode
from veo3_adapter.models import ErrorCode, JobStatus, Veo3Job
from veo3_adapter.store import write_jobs_json

CLIPBOARD = "\x1b]52;c;ZWNobyBwd25lZA==\x07"
CLEAR = "\x1b[2J"
HOSTILE_OP = f"models/veo/operations/{CLIPBOARD}x{CLEAR}\u202eyz\x9b1m"
SHOWN_OP = r"models/veo/operations/\x1b]52;c;ZWNobyBwd25lZA==\x07x\x1b[2J\u202eyz\x9b1m"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (HOSTILE_OP, SHOWN_OP),
        ("two\nlines\r\n\tand  tabs", "two lines and tabs"),
        ("bell\x07 del\x7f nul\x00", r"bell\x07 del\x7f nul\x00"),
        ("half \ud800 a surrogate", r"half \ud800 a surrogate"),
        ("plain: café, 動画", "plain: café, 動画"),
    ],
)
def test_one_line_escapes_what_a_terminal_would_act_on(text: str, shown: str) -> None:
    assert one_line(text) == shown


def test_status_table_escapes_server_text() -> None:
    job = Veo3Job("a", "a cat", status=JobStatus.SUBMITTED, operation_name=HOSTILE_OP)

    table = status_table([job])

    assert "\x1b" not in table and "\x9b" not in table and "\u202e" not in table
    assert SHOWN_OP in table


def test_veo3_status_prints_a_hostile_operation_name_escaped(veo3: Veo3, out: Path) -> None:
    (out / "veo3").mkdir(parents=True)
    write_jobs_json(
        out / "veo3" / "jobs.json",
        [
            Veo3Job("a", "a cat", status=JobStatus.SUBMITTED, operation_name=HOSTILE_OP),
            Veo3Job("b", "a dog", operation_name=CLEAR).failed(
                ErrorCode.POLL_FAILED, f"{CLIPBOARD} gone"
            ),
        ],
    )

    result = veo3("status", "out", keyed=False)

    assert result.code == 0, result
    assert "\x1b" not in result.out and "\x07" not in result.out
    rows = parse_table(result.out)
    assert [r["OPERATION"] for r in rows] == [SHOWN_OP, r"\x1b[2J"]


@pytest.mark.parametrize("mode", ["lines", "live"])
def test_progress_lines_escape_operation_names_and_details(mode: Mode) -> None:
    stream = io.StringIO()
    view = ProgressView(stream, mode=mode)
    view.job_changed(Veo3Job("a", "a cat"))
    submitted = Veo3Job("a", "a cat", status=JobStatus.SUBMITTED, operation_name=HOSTILE_OP)
    view.job_changed(submitted)
    view.note(f"poll of {HOSTILE_OP}: HTTP 503; retry 1 in 0.1s")
    view.job_changed(submitted.failed(ErrorCode.POLL_FAILED, f"{CLIPBOARD}{CLEAR}gone"))
    view.close()

    drawn = stream.getvalue()
    own_escapes = drawn.replace("\x1b[2K", "").replace("\x1b[J", "")
    for n in range(1, 10):
        own_escapes = own_escapes.replace(f"\r\x1b[{n}A", "")
    assert "\x1b" not in own_escapes, drawn
    assert "\x07" not in drawn and "\x9b" not in drawn and "\u202e" not in drawn
    assert r"\x1b]52;c;ZWNobyBwd25lZA==\x07\x1b[2Jgone" in drawn
    if mode == "lines":
        assert f"veo3: a: submitted as {SHOWN_OP}\n" in drawn
