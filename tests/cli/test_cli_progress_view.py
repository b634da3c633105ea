"""``ProgressView`` in process, for what a subprocess cannot show quickly: retry notes (the
adapter's shortest backoff is a second), and what the view does with hostile text."""

from __future__ import annotations

import io
import logging

import pytest
from _kit.cli import render_terminal
from _kit.keys import make_api_key

from veo3_adapter.cli import ProgressView
from veo3_adapter.cli._events import reporting
from veo3_adapter.models import ErrorCode, JobStatus, Veo3Job
from veo3_adapter.retry import NOTE_ATTR, Note

OP = "models/veo-3.1-generate-001/operations/abc123"


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _submitted(variant: str) -> Veo3Job:
    return Veo3Job(variant, "a cat", status=JobStatus.SUBMITTED, operation_name=OP)


def test_the_mode_follows_the_stream() -> None:
    assert ProgressView(Tty()).mode == "live"
    assert ProgressView(io.StringIO()).mode == "lines"
    assert ProgressView(Tty(), mode="off").mode == "off"


def test_failure_text_is_one_printable_line_without_the_key() -> None:
    key = make_api_key()
    stream = io.StringIO()
    view = ProgressView(stream, redact=[key])
    view.job_changed(_submitted("a"))

    view.job_changed(
        _submitted("a").failed(
            ErrorCode.SUBMIT_FAILED, f"refused\nkey={key} \x1b[2Jand {make_api_key()}"
        )
    )

    lines = stream.getvalue().splitlines()
    assert lines[-1] == "veo3: a: failed: submit_failed: refused key=REDACTED \\x1b[2Jand REDACTED"
    assert "\x1b" not in stream.getvalue()


def test_live_view_redraws_in_place_and_prints_notes_above_the_block() -> None:
    stream, clock = Tty(), Clock()
    view = ProgressView(stream, clock=clock)
    view.job_changed(_submitted("a"))
    view.job_changed(_submitted("bb"))
    clock.now += 1.5
    view.polled(_submitted("a"), answered=True)

    view.note("poll of operation x: HTTP 429; retry 1 in 2.0s")
    view.download_started("bb")
    view.job_changed(Veo3Job("bb", "p", status=JobStatus.GENERATED, operation_name=OP))
    view.download_progress("bb", 512, 2048)
    view.close()

    assert render_terminal(stream.getvalue()) == [
        "veo3: poll of operation x: HTTP 429; retry 1 in 2.0s",
        "a   generating   poll 1, 1.5s",
        "bb  downloading  [######------------------] 25% 512 B of 2.0 KB",
    ]


def test_a_block_taller_than_the_terminal_keeps_jobs_under_way_and_counts_the_rest() -> None:
    stream = Tty()  # no real terminal behind it: the view assumes 100 x 24
    view = ProgressView(stream)
    for number in range(30):
        view.job_changed(_submitted(f"v{number:02d}"))
    for number in range(0, 30, 3):
        view.job_changed(_submitted(f"v{number:02d}").failed(ErrorCode.TIMEOUT))

    screen = render_terminal(stream.getvalue())

    # 22 lines fit (24, less the cursor's line and one spare): 20 under way, 10 counted.
    assert [line.split()[0] for line in screen[:-1]] == [f"v{n:02d}" for n in range(30) if n % 3]
    assert screen[-1] == "... and 10 more (10 failed)"

    view.job_changed(_submitted("v01").failed(ErrorCode.TIMEOUT))
    view.job_changed(_submitted("v00"))  # a failed job polled again: back under way

    screen = render_terminal(stream.getvalue())
    assert [line.split()[0] for line in screen[:-1]] == [
        f"v{n:02d}" for n in range(30) if n % 3 or n == 0 if n != 1
    ]
    assert screen[-1] == "... and 10 more (10 failed)"


def test_plain_lines_report_quarters_of_big_downloads_once() -> None:
    stream = io.StringIO()
    view = ProgressView(stream)
    view.job_changed(Veo3Job("a", "p", status=JobStatus.GENERATED, operation_name=OP))
    view.download_started("a")
    total = 4 * 1024 * 1024
    for written in range(0, total + 1, 256 * 1024):
        view.download_progress("a", written, total)

    assert [line for line in stream.getvalue().splitlines() if "a: " in line][-4:] == [
        "veo3: a: downloading (4.0 MB)",
        "veo3: a: [######------------------] 25% 1.0 MB of 4.0 MB",
        "veo3: a: [############------------] 50% 2.0 MB of 4.0 MB",
        "veo3: a: [##################------] 75% 3.0 MB of 4.0 MB",
    ]


@pytest.mark.parametrize("quiet", [False, True], ids=["progress", "quiet"])
def test_records_carrying_a_note_reach_the_progress_and_other_records_do_not(
    capsys: pytest.CaptureFixture[str], quiet: bool
) -> None:
    """Records are picked by their note, not their wording: a retry or clean-up note shows;
    state-change messages (the view reports those itself) do not, whatever they say, and
    neither do the emulator's; ``--quiet`` shows none."""
    retry = {NOTE_ATTR: Note("retry", "poll of operation x", 0.5)}
    with reporting(quiet=quiet, redact=[]):
        logging.getLogger("veo3_adapter.gemini").info(
            "%s: %s; retry %d in %.1fs", "poll of operation x", "HTTP 503", 1, 0.5, extra=retry
        )
        logging.getLogger("veo3_adapter.orchestrator").info(
            "removed %d partial file(s) left by an interrupted run",
            2,
            extra={NOTE_ATTR: Note("cleanup", "partial files in out/veo3")},
        )
        logging.getLogger("veo3_adapter.gemini").warning("download of %r failed; retry", "a")
        logging.getLogger("veo3_adapter.gemini").info("submitted variant %r as %s", "a", OP)
        logging.getLogger("veo3_adapter.orchestrator").debug("retry", extra=retry)
        logging.getLogger("veo3_adapter.emulator").warning("emulator: will try again")
        logging.getLogger("veo3_adapter.gemini").info("not a note", extra={NOTE_ATTR: "retry"})

    expected = [
        "veo3: poll of operation x: HTTP 503; retry 1 in 0.5s",
        "veo3: removed 2 partial file(s) left by an interrupted run",
    ]
    assert capsys.readouterr().err.splitlines() == ([] if quiet else expected)
    assert not any(
        isinstance(h, logging.NullHandler) or type(h).__name__ == "_NoteHandler"
        for h in logging.getLogger("veo3_adapter").handlers
    )


def test_a_view_whose_stream_goes_away_turns_itself_off() -> None:
    class Gone(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError("stderr closed")

    view = ProgressView(Gone())
    view.job_changed(_submitted("a"))  # must not raise

    assert view.mode == "off"
