"""The pipeline's progress on stderr: a block redrawn in place on a terminal
(:class:`LiveView`), one plain line per event otherwise (:class:`LineView`), or nothing
(:class:`Progress`, the interface both share). :func:`ProgressView` picks one for a stream.

Every text shown passes through :func:`~._common.one_line`, so no key reaches the screen.
The hooks may be called from any thread (a run's requests go out from several): a view
handles one call at a time.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import IO

from ..models import JobStatus
from ._common import size
from ._view import Mode, Progress, Row, bar, elapsed, isatty, terminal_size

__all__ = ["LineView", "LiveView", "Mode", "Progress", "ProgressView"]

_REDRAW_INTERVAL = 0.1  # seconds between redraws caused by download bytes or polls alone
_NAME_LIMIT = 32
_FINISHED = (JobStatus.DOWNLOADED, JobStatus.FAILED)
# Which jobs under way a block too tall for the terminal shows first: the busiest.
_SHOWN_FIRST = {JobStatus.GENERATED: 0, JobStatus.SUBMITTED: 1, JobStatus.PENDING: 2}
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
    chosen = mode if mode is not None else ("live" if isatty(stream) else "lines")
    if chosen == "off":
        return Progress(None)
    view = LiveView if chosen == "live" else LineView
    return view(stream, redact=redact, clock=clock)


class LineView(Progress):
    """One plain line per event, for logs and pipes."""

    _mode: Mode = "lines"

    def _note(self, message: str) -> None:
        self._line(message)

    def _status_changed(self, row: Row, before: JobStatus | None) -> None:
        if before is row.status:
            return
        event = self._event(row, before)
        if event:
            self._line(f"{row.variant}: {event}")

    def _polled(self, row: Row, *, still_generating: bool) -> None:
        if still_generating:
            self._line(
                f"{row.variant}: poll {row.polls}: still generating "
                f"({elapsed(self._clock() - row.started)})"
            )

    def _downloaded(self, row: Row) -> None:
        written, total = row.written, row.total
        if not row.announced:
            row.announced = True
            announced = size(total) if total is not None else "size unknown"
            self._line(f"{row.variant}: downloading ({announced})")
        if total and total >= _QUARTER_LINES_FROM:
            quarter = min(4 * written // total, 3)
            if quarter > row.quarter:
                row.quarter = quarter
                self._line(f"{row.variant}: {bar(written, total)}")

    def _event(self, row: Row, before: JobStatus | None) -> str:
        took = elapsed((row.ended or self._clock()) - row.started)
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
    """A block of one line per job, redrawn in place; notes print above it.

    A block taller than the terminal shows the jobs under way (downloads first, then jobs
    generated, generating, and waiting to be sent) and one summary line counting the rest,
    so many jobs never scroll the terminal. Polls redraw it at most every tenth of a second.
    """

    _mode: Mode = "live"
    _drawn = 0  # lines of the block now on screen
    _last_draw = -math.inf

    def _note(self, message: str) -> None:
        if not self._drawn:
            self._line(message)
            return
        # Print the note where the block was, then draw the block again below it.
        self._write(f"\r\x1b[{self._drawn}A\x1b[J")
        self._drawn = 0
        self._line(message)
        self._draw()

    def _close(self) -> None:
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

    def _status_changed(self, row: Row, before: JobStatus | None) -> None:
        if row.status is not JobStatus.PENDING:  # the block appears at the first submit
            self._draw()

    def _polled(self, row: Row, *, still_generating: bool) -> None:
        if self._clock() - self._last_draw >= _REDRAW_INTERVAL:
            self._draw()

    def _downloaded(self, row: Row) -> None:
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
        width, height = terminal_size(stream)
        rows = list(self._rows.values())
        hidden: list[Row] = []
        room = max(height - 2, 3)
        if len(rows) > room:
            # Cursor movement cannot reach above the screen's top line, so the block must
            # fit: jobs still under way first, the rest counted on one line.
            under_way = [r for r in rows if r.status not in _FINISHED]
            under_way.sort(key=lambda r: -1 if r.downloading else _SHOWN_FIRST[r.status])
            shown = under_way[: room - 1]
            keep = {id(r) for r in shown}
            hidden = [r for r in rows if id(r) not in keep]
            rows = [r for r in rows if id(r) in keep]
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

    def _cells(self, row: Row, now: float) -> tuple[str, str]:
        """The label and the text of ``row``'s line in the block."""
        took = elapsed((row.ended or now) - row.started) if row.timed else ""
        status = row.status
        if status is JobStatus.PENDING:
            return "pending", ""
        if status is JobStatus.SUBMITTED:
            return "generating", (
                f"poll {row.polls}, {took}" if row.polls else f"submitted, {took}"
            )
        if status is JobStatus.GENERATED and row.downloading:
            return "downloading", bar(row.written, row.total)
        if status is JobStatus.GENERATED:
            return "generated", f"after {row.polls} poll(s), {took}"
        if status is JobStatus.DOWNLOADED:
            return "downloaded", (
                f"{size(row.clip_bytes)}, {took}" if took else size(row.clip_bytes)
            )
        return "failed", self._short_failure(row)

    def _short_failure(self, row: Row) -> str:
        # A block line is cut at the terminal's width: keep the HTTP status in view; the
        # whole reason is printed below the block at the end.
        status = _HTTP_STATUS.search(row.detail)
        return f"{row.error}, {status.group(0)}" if status else self._failure(row)
