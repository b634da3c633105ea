"""The package's notion of time, which a test harness can replace.

Every default ``sleep`` and ``clock`` in veo3_adapter resolves through here at call time, so
``virtual_time()`` (used by the pytest plugin while a replay fixture is active) makes every
wait in the package instant, including those of objects built with default arguments.
``utc_now`` is the wall-clock time stamped on jobs; only the orchestrator reads it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

__all__ = ["VirtualClock", "monotonic", "sleep", "utc_now", "virtual_time"]


class VirtualClock:
    """A monotonic clock that only moves when someone sleeps on it."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self._now += max(0.0, seconds)


_active: VirtualClock | None = None


def sleep(seconds: float) -> None:
    """``time.sleep``, unless a virtual clock is active."""
    clock = _active
    if clock is None:
        time.sleep(seconds)
    else:
        clock.sleep(seconds)


def monotonic() -> float:
    """``time.monotonic``, unless a virtual clock is active."""
    clock = _active
    return time.monotonic() if clock is None else clock.monotonic()


def utc_now() -> str:
    """The current UTC time to the second, ISO 8601 (``2025-01-01T00:00:00+00:00``)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@contextlib.contextmanager
def virtual_time(clock: VirtualClock | None = None) -> Iterator[VirtualClock]:
    """Make every default wait in veo3_adapter instant while the block runs."""
    global _active
    previous = _active
    _active = clock or VirtualClock()
    try:
        yield _active
    finally:
        _active = previous
