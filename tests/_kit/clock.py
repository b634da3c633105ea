"""Virtual time: a ``sleep`` that records and returns at once, and a clock it moves."""

from __future__ import annotations

import threading
from collections.abc import Callable


class SleepRecorder:
    """A ``sleep`` that records what it was asked to wait and returns at once."""

    def __init__(self, on_sleep: Callable[[float], None] | None = None) -> None:
        self.delays: list[float] = []
        self._on_sleep = on_sleep
        self._lock = threading.Lock()

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self.delays.append(seconds)
            if self._on_sleep is not None:
                self._on_sleep(seconds)

    @property
    def total(self) -> float:
        return sum(self.delays)


class FakeClock:
    """A monotonic clock that moves only when ``sleep`` is called or it is advanced."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.sleep = SleepRecorder(self.advance)

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def __call__(self) -> float:
        return self.now
