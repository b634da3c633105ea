"""Every log record, from any logger, while a block runs: for checks that a secret is in none."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator


@contextlib.contextmanager
def every_log_line(level: int = logging.DEBUG) -> Iterator[list[str]]:
    """Yield a list that collects each record at ``level`` or above, formatted, followed by
    the ``repr`` of its exception if it has one; the root logger is as before afterwards."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            text = self.format(record)
            if record.exc_info and record.exc_info[1] is not None:
                text += repr(record.exc_info[1])
            lines.append(text)

    handler = Collect(level=level)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(level)
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
