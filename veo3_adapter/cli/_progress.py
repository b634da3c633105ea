"""The pipeline's progress on stderr: a block redrawn in place on a terminal
(:class:`LiveView`), one plain line per event otherwise (:class:`LineView`), or nothing
(:class:`Progress`, the interface both share). :func:`ProgressView` picks one for a stream.

Every text shown passes through :func:`~._common.one_line`, so no key reaches the screen.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Literal

from ..models import JobStatus, Veo3Job
from ._common import one_line, size

__all__ = ["LineView", "LiveView", "Mode", "Progress", "ProgressView"]

Mode = Literal["live", "lines", "off"]

_BAR_WIDTH = 24
_REDRAW_INTERVAL = 0.1  # seconds between redraws caused by download bytes alone
_DETAIL_LIMIT = 300
_NAME_LIMIT = 32
_FINISHED = (JobStatus.DOWNLOADED, JobStatus.FAILED)
_HTTP_STATUS = re.compile(r"\bHTTP [1-5]\d\d\b")
_QUARTER_LINES_FROM = 1024 * 1024  # plain output reports 25 % steps of downloads this big


def ProgressView(
    stream: IO[str],
    *,
    mode: Mode | None = None,
    redact: Sequence[str] = (),
    clock: Callable[[], float] = time.monotonic,
) -> Progress:
    """The view for ``stream``: live on a terminal, plain lines otherwise, or ``mode``."""
    chosen = mode if mode is not None else ("live" if _isatty(stream) else "lines")
    if chosen == "off":
        return Progress(None)
    view = LiveView if chosen == "live" else LineView
    return view(stream, redact=redact, clock=clock)


@dataclass
class _Row:
    """What a view knows about one job."""

    variant: str
    status: JobStatus
    started: float
    operation: str = ""
    error: str = ""
    detail: str = ""
    clip_bytes: int = 0
    polls: int = 0
    ended: float | None = None
    downloading: bool = False
    written: int = 0
    total: int | None = None
    announced: bool = False
    quarter: int = 0
    timed: bool = True
    """False for a finished job read from jobs.json: this run did not time it."""


class Progress:
    """What the command tells a progress view, and the bookkeeping every view shares: a row
    per job, kept up to date by the hooks. Shows nothing by itself (``--quiet``);
    :class:`LineView` and :class:`LiveView` render the rows.

    ``job_changed`` is the orchestrator's ``on_change``, ``download_progress`` the adapter's
    ``on_download_progress``; ``polled`` and ``download_started`` come from a watched port,
    ``note`` from the package's log records that carry a note (a retry, a clean-up).
    """

    _mode: Mode = "off"

    def __init__(
        self,
        stream: IO[str] | None,
        *,
        redact: Sequence[str] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream  # None once there is nowhere (more) to write
        self._redact = [value for value in redact if value]
        self._clock = clock
        self._rows: dict[str, _Row] = {}

    @property
    def mode(self) -> Mode:
        return self._mode if self._stream is not None else "off"

    def seed(self, jobs: Sequence[Veo3Job]) -> None:
        """Show jobs already recorded (``resume``) without reporting them as events."""
        for job in jobs:
            row = self._row(job)
            self._update(row, job)
            row.timed = not job.finished
        self._rows_changed()

    def job_changed(self, job: Veo3Job) -> None:
        """Record a saved change of ``job``."""
        row = self._rows.get(job.variant)
        before = row.status if row is not None else None
        row = row if row is not None else self._row(job)
        self._update(row, job)
        self._status_changed(row, before)

    def polled(self, job: Veo3Job, *, answered: bool) -> None:
        """One poll of ``job`` happened (``answered``: the server said where it is)."""
        row = self._rows.get(job.variant) or self._row(job)
        row.polls += 1
        self._polled(row, still_generating=answered and job.status is JobStatus.SUBMITTED)

    def download_started(self, variant: str) -> None:
        """A download of ``variant`` begins (before any byte)."""
        row = self._rows.get(variant)
        if row is None:
            return
        row.downloading = True
        row.written, row.total, row.announced, row.quarter = 0, None, False, 0
        self._rows_changed()

    def download_progress(self, variant: str, written: int, total: int | None) -> None:
        """Bytes of ``variant``'s clip so far."""
        row = self._rows.get(variant)
        if row is None:
            return
        row.downloading = True
        row.written, row.total = written, total
        self._downloaded(row)

    def note(self, message: str) -> None:
        """A remark that belongs to no single state change (a retry, a clean-up)."""

    def close(self) -> None:
        """The run is over: leave its final state on screen."""

    # -- what a renderer shows -----------------------------------------------------------------

    def _rows_changed(self) -> None:
        """Rows changed without a state change to report (seeded, a download began)."""

    def _status_changed(self, row: _Row, before: JobStatus | None) -> None:
        """``row`` took a saved change (its status may be the same as ``before``)."""

    def _polled(self, row: _Row, *, still_generating: bool) -> None:
        """``row`` was polled once more."""

    def _downloaded(self, row: _Row) -> None:
        """More of ``row``'s clip is on disk."""

    # -- shared ------------------------------------------------------------------------------

    def _row(self, job: Veo3Job) -> _Row:
        row = _Row(job.variant, job.status, started=self._clock())
        self._rows[job.variant] = row
        return row

    def _update(self, row: _Row, job: Veo3Job) -> None:
        if job.status is not row.status:
            row.timed = True
            if job.status is not JobStatus.GENERATED:
                row.downloading = False
        if job.finished and (row.ended is None or row.status is not job.status):
            row.ended = self._clock()
        elif not job.finished:
            row.ended = None
        row.status = job.status
        row.operation = job.operation_name
        row.error = job.error_message
        row.detail = job.error_detail
        row.clip_bytes = job.clip_bytes

    def _failure(self, row: _Row) -> str:
        detail = self._clean(row.detail)
        if len(detail) > _DETAIL_LIMIT:
            detail = detail[: _DETAIL_LIMIT - 3] + "..."
        return f"{row.error}: {detail}" if detail else row.error

    def _line(self, message: str) -> None:
        self._write(f"veo3: {self._clean(message)}\n")

    def _clean(self, text: str) -> str:
        return one_line(text, self._redact)

    def _write(self, text: str) -> None:
        if self._stream is None:
            return
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):
            self._stream = None  # stderr went away; the run itself carries on


class LineView(Progress):
    """One plain line per event, for logs and pipes."""

    _mode: Mode = "lines"

    def note(self, message: str) -> None:
        self._line(message)

    def _status_changed(self, row: _Row, before: JobStatus | None) -> None:
        if before is row.status:
            return
        event = self._event(row, before)
        if event:
            self._line(f"{row.variant}: {event}")

    def _polled(self, row: _Row, *, still_generating: bool) -> None:
        if still_generating:
            self._line(
                f"{row.variant}: poll {row.polls}: still generating "
                f"({_elapsed(self._clock() - row.started)})"
            )

    def _downloaded(self, row: _Row) -> None:
        written, total = row.written, row.total
        if not row.announced:
            row.announced = True
            announced = size(total) if total is not None else "size unknown"
            self._line(f"{row.variant}: downloading ({announced})")
        if total and total >= _QUARTER_LINES_FROM:
            quarter = min(4 * written // total, 3)
            if quarter > row.quarter:
                row.quarter = quarter
                self._line(f"{row.variant}: {_bar(written, total)}")

    def _event(self, row: _Row, before: JobStatus | None) -> str:
        took = _elapsed((row.ended or self._clock()) - row.started)
        status = row.status
        if status is JobStatus.SUBMITTED:
            if before in (None, JobStatus.PENDING):
                return f"submitted as {row.operation}"
            return f"waiting for {row.operation} again"
        if status is JobStatus.GENERATED:
            if before is JobStatus.SUBMITTED:
                return f"generated after {row.polls} poll(s), {took}"
            return "fetching the clip again"
        if status is JobStatus.DOWNLOADED:
            return f"downloaded {size(row.clip_bytes)} ({took})"
        if status is JobStatus.FAILED:
            return f"failed: {self._failure(row)}"
        return ""


class LiveView(Progress):
    """A block of one line per job, redrawn in place; notes print above it."""

    _mode: Mode = "live"
    _drawn = 0  # lines of the block now on screen
    _last_draw = -math.inf

    def note(self, message: str) -> None:
        if not self._drawn:
            self._line(message)
            return
        # Print the note where the block was, then draw the block again below it.
        self._write(f"\r\x1b[{self._drawn}A\x1b[J")
        self._drawn = 0
        self._line(message)
        self._draw()

    def close(self) -> None:
        """Leave the final state on screen, and below it why each job of this run failed."""
        if not self._rows:
            return
        self._draw()
        for row in self._rows.values():
            if row.status is JobStatus.FAILED and row.timed:
                self._line(f"{row.variant}: failed: {self._failure(row)}")

    def _rows_changed(self) -> None:
        if self._rows:
            self._draw()

    def _status_changed(self, row: _Row, before: JobStatus | None) -> None:
        if row.status is not JobStatus.PENDING:  # the block appears at the first submit
            self._draw()

    def _polled(self, row: _Row, *, still_generating: bool) -> None:
        self._draw()

    def _downloaded(self, row: _Row) -> None:
        done = row.total is not None and row.written >= row.total
        if done or self._clock() - self._last_draw >= _REDRAW_INTERVAL:
            self._draw()

    def _draw(self) -> None:
        if self._stream is None:
            return
        lines = self._block(self._stream)
        # Back to the block's first line, rewrite every line, clear whatever is left below.
        up = f"\r\x1b[{self._drawn}A" if self._drawn else ""
        self._write(up + "".join(f"\x1b[2K{line}\n" for line in lines) + "\x1b[J")
        self._drawn = len(lines)
        self._last_draw = self._clock()

    def _block(self, stream: IO[str]) -> list[str]:
        width, height = _terminal_size(stream)
        rows = list(self._rows.values())
        hidden: list[_Row] = []
        room = max(height - 2, 3)
        if len(rows) > room:
            # Cursor movement cannot reach above the screen's top line, so the block must
            # fit: jobs still under way first, the rest counted on one line.
            shown = [r for r in rows if r.status not in _FINISHED][: room - 1]
            hidden = [r for r in rows if r not in shown]
            rows = shown
        name_width = min(max((len(r.variant) for r in rows), default=0), _NAME_LIMIT)
        now = self._clock()
        lines = []
        for row in rows:
            label, text = self._cells(row, now)
            name = row.variant if len(row.variant) <= name_width else row.variant[:name_width]
            line = f"{name:<{name_width}}  {label:<11}  {text}".rstrip()
            lines.append(line[: width - 1])
        if hidden:
            counts = Counter(r.status.value for r in hidden)
            summary = ", ".join(f"{n} {status}" for status, n in counts.items())
            lines.append(f"... and {len(hidden)} more ({summary})"[: width - 1])
        return lines

    def _cells(self, row: _Row, now: float) -> tuple[str, str]:
        """The label and the text of ``row``'s line in the block."""
        took = _elapsed((row.ended or now) - row.started) if row.timed else ""
        status = row.status
        if status is JobStatus.PENDING:
            return "pending", ""
        if status is JobStatus.SUBMITTED:
            return "generating", (
                f"poll {row.polls}, {took}" if row.polls else f"submitted, {took}"
            )
        if status is JobStatus.GENERATED and row.downloading:
            return "downloading", _bar(row.written, row.total)
        if status is JobStatus.GENERATED:
            return "generated", f"after {row.polls} poll(s), {took}"
        if status is JobStatus.DOWNLOADED:
            return "downloaded", (
                f"{size(row.clip_bytes)}, {took}" if took else size(row.clip_bytes)
            )
        return "failed", self._short_failure(row)

    def _short_failure(self, row: _Row) -> str:
        # A block line is cut at the terminal's width: keep the HTTP status in view; the
        # whole reason is printed below the block at the end.
        status = _HTTP_STATUS.search(row.detail)
        return f"{row.error}, {status.group(0)}" if status else self._failure(row)


def _elapsed(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def _bar(written: int, total: int | None) -> str:
    if not total:
        return size(written) if written else "starting"
    fraction = min(max(written / total, 0.0), 1.0)
    filled = math.floor(fraction * _BAR_WIDTH)
    return (
        f"[{'#' * filled}{'-' * (_BAR_WIDTH - filled)}] {math.floor(fraction * 100)}% "
        f"{size(written)} of {size(total)}"
    )


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _terminal_size(stream: IO[str]) -> tuple[int, int]:
    """(columns, lines) of the terminal behind ``stream``; 100 x 24 when it will not say."""
    try:
        found = os.get_terminal_size(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return 100, 24
    columns = found.columns if found.columns >= 20 else 100
    return columns, (found.lines if found.lines >= 5 else 24)
