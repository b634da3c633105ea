"""Ctrl-C and SIGTERM during a run: the first asks the run to stop, the second interrupts.

The library installs no signal handler; the command does, around a run, and only in the
main thread (where Python delivers signals; elsewhere it cannot install one). The first
SIGINT or SIGTERM calls the orchestrator's ``stop()`` (a flag: nothing is written from the
handler): nothing more is sent, submits in flight get a few seconds to answer, then the run
returns with every operation name in jobs.json. A second one raises ``KeyboardInterrupt``
at once. The handlers that were there before are put back when the run ends.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

__all__ = ["STOP_SIGNALS", "stopping_on_signals"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stops:
    """Which signal asked the run to stop (0: none did)."""

    def __init__(self) -> None:
        self.signal = 0


@contextlib.contextmanager
def stopping_on_signals(stop: Callable[[], None]) -> Iterator[Stops]:
    """While the block runs, SIGINT and SIGTERM call ``stop`` once, then interrupt."""
    stops = Stops()
    if threading.current_thread() is not threading.main_thread():
        yield stops
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        if stops.signal:
            raise KeyboardInterrupt
        stops.signal = signum
        stop()

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield stops
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)
