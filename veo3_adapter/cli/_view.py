"""What every progress view shares: a row per job kept up to date by the run's hooks
(:class:`Progress`, which shows nothing by itself), and the cells and bars they draw.

The hooks may be called from any thread (a run's requests go out from several): a view
handles one call at a time. Every text shown passes through :func:`~._common.one_line`, so
no key reaches the screen.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Literal

from ..models import JobStatus, Veo3Job
from ._common import one_line, size

__all__ = ["Mode", "Progress", "Row", "bar", "elapsed", "isatty", "terminal_size"]

Mode = Literal["live", "lines", "off"]

_BAR_WIDTH = 24
_DETAIL_LIMIT = 300


@dataclass
class Row:
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
        self._rows: dict[str, Row] = {}
        self._lock = threading.RLock()

    @property
    def mode(self) -> Mode:
        return self._mode if self._stream is not None else "off"

    def seed(self, jobs: Sequence[Veo3Job]) -> None:
        """Show jobs already recorded (``resume``) without reporting them as events."""
        with self._lock:
            for job in jobs:
                row = self._row(job)
                self._update(row, job)
                row.timed = not job.finished
            self._rows_changed()

    def job_changed(self, job: Veo3Job) -> None:
        """Record a saved change of ``job``."""
        with self._lock:
            row = self._rows.get(job.variant)
            before = row.status if row is not None else None
            row = row if row is not None else self._row(job)
            self._update(row, job)
            self._status_changed(row, before)

    def polled(self, job: Veo3Job, *, answered: bool) -> None:
        """One poll of ``job`` happened (``answered``: the server said where it is)."""
        with self._lock:
            row = self._rows.get(job.variant) or self._row(job)
            row.polls += 1
            self._polled(row, still_generating=answered and job.status is JobStatus.SUBMITTED)

    def download_started(self, variant: str) -> None:
        """A download of ``variant`` begins (before any byte)."""
        with self._lock:
            row = self._rows.get(variant)
            if row is None:
                return
            row.downloading = True
            row.written, row.total, row.announced, row.quarter = 0, None, False, 0
            self._rows_changed()

    def download_progress(self, variant: str, written: int, total: int | None) -> None:
        """Bytes of ``variant``'s clip so far."""
        with self._lock:
            row = self._rows.get(variant)
            if row is None:
                return
            row.downloading = True
            row.written, row.total = written, total
            self._downloaded(row)

    def note(self, message: str) -> None:
        """A remark that belongs to no single state change (a retry, a clean-up)."""
        with self._lock:
            self._note(message)

    def close(self) -> None:
        """The run is over: leave its final state on screen."""
        with self._lock:
            self._close()

    # -- what a renderer shows -----------------------------------------------------------------

    def _note(self, message: str) -> None:
        """Show a remark."""

    def _close(self) -> None:
        """Leave the final state on screen."""

    def _rows_changed(self) -> None:
        """Rows changed without a state change to report (seeded, a download began)."""

    def _status_changed(self, row: Row, before: JobStatus | None) -> None:
        """``row`` took a saved change (its status may be the same as ``before``)."""

    def _polled(self, row: Row, *, still_generating: bool) -> None:
        """``row`` was polled once more."""

    def _downloaded(self, row: Row) -> None:
        """More of ``row``'s clip is on disk."""

    # -- shared ------------------------------------------------------------------------------

    def _row(self, job: Veo3Job) -> Row:
        row = Row(job.variant, job.status, started=self._clock())
        self._rows[job.variant] = row
        return row

    def _update(self, row: Row, job: Veo3Job) -> None:
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

    def _failure(self, row: Row) -> str:
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


def elapsed(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def bar(written: int, total: int | None) -> str:
    if not total:
        return size(written) if written else "starting"
    fraction = min(max(written / total, 0.0), 1.0)
    filled = math.floor(fraction * _BAR_WIDTH)
    return (
        f"[{'#' * filled}{'-' * (_BAR_WIDTH - filled)}] {math.floor(fraction * 100)}% "
        f"{size(written)} of {size(total)}"
    )


def isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def terminal_size(stream: IO[str]) -> tuple[int, int]:
    """(columns, lines) of the terminal behind ``stream``; 100 x 24 when it will not say."""
    try:
        found = os.get_terminal_size(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return 100, 24
    columns = found.columns if found.columns >= 20 else 100
    return columns, (found.lines if found.lines >= 5 else 24)
