"""Time for a run of many threads: real, or virtual and still exact.

The scheduler's dispatching thread waits for "the next thing due, or a worker's news"
(:meth:`Timebase.pause` / :meth:`Timebase.wake`); its workers may wait too (a backend's
retry, an emulator's latency) through :meth:`Timebase.sleep`. :class:`RealTime` is the
clock on the wall. :class:`VirtualTime` is a discrete-event clock: it moves only when the
dispatcher is waiting and every task handed to a worker (:meth:`Timebase.begin`) has finished
(:meth:`Timebase.end`) or sleeps on it, and then straight to the earliest wake-up, so a run
of hours takes milliseconds and every time stamp in it is what real time would give with
instant requests.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
from collections.abc import Callable
from typing import Protocol

from . import clock as _clock

__all__ = ["RealTime", "Timebase", "VirtualTime", "jitter_for", "system_time", "time_for"]

_SLICE = 0.25  # longest real pause: how soon a stop asked from a signal handler is seen


class Timebase(Protocol):
    """The time a scheduler runs on."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block the calling worker for ``seconds``."""
        ...

    def pause(self, deadline: float | None) -> None:
        """Block the dispatcher until ``deadline`` (``None``: no limit) or a :meth:`wake`.

        A wake that came since the last pause ends this one at once. It may also end sooner:
        the dispatcher looks at what is due after every pause.
        """
        ...

    def wake(self) -> None:
        """Tell the dispatcher that a worker has news for it."""
        ...

    def begin(self) -> None:
        """The dispatcher hands a task to a worker (called before the worker may run it)."""
        ...

    def end(self) -> None:
        """A worker is done with a task (called after it posted the result and woke)."""
        ...


class RealTime:
    """The wall clock: ``time.monotonic``, ``time.sleep`` and an event for the news."""

    def __init__(self) -> None:
        self._news = threading.Event()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))

    def pause(self, deadline: float | None) -> None:
        # In slices: a flag a signal handler set (it may not take a lock) is seen soon.
        timeout = _SLICE if deadline is None else max(0.0, deadline - time.monotonic())
        self._news.wait(min(timeout, _SLICE))
        self._news.clear()  # the dispatcher reads every result posted before this point

    def wake(self) -> None:
        self._news.set()

    def begin(self) -> None:
        return None

    def end(self) -> None:
        return None


class _Sleeper:
    __slots__ = ("at", "released")

    def __init__(self, at: float) -> None:
        self.at = at
        self.released = False


class VirtualTime:
    """A discrete-event clock shared by a dispatcher and its workers; thread-safe.

    A request takes no time unless it sleeps: the dispatcher's pause ends only once every
    busy worker has finished or sleeps, so the order of things is the same on every run.

    ``slept`` records every :meth:`sleep` asked, in order. ``on_advance(seconds)``, when
    given, is called each time the clock moves (to move another clock along, say a
    ``FakeClock``'s or the package's ``virtual_time()``). A :meth:`sleep` outside a task (no
    worker busy) moves the clock at once, as a plain virtual sleep would. A dispatcher
    that would wait forever (nothing due, no worker busy or asleep) gets a ``RuntimeError``
    instead of a hung test.
    """

    def __init__(
        self, start: float = 0.0, *, on_advance: Callable[[float], None] | None = None
    ) -> None:
        self._cv = threading.Condition()
        self._now = start
        self._on_advance = on_advance
        self._busy = 0  # tasks handed out, neither finished nor asleep
        self._sleepers: list[tuple[float, int, _Sleeper]] = []
        self._order = itertools.count()
        self._news = False
        self.slept: list[float] = []

    @classmethod
    def following(cls, clock: Callable[[], float], sleep: Callable[[float], None]) -> VirtualTime:
        """Virtual time that starts at ``clock()`` and moves it with ``sleep`` as it moves."""
        return cls(clock(), on_advance=sleep)

    def monotonic(self) -> float:
        with self._cv:
            return self._now

    def sleep(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        with self._cv:
            self.slept.append(seconds)
            if self._busy <= 0:
                self._move_to(self._now + seconds)
                self._release_due()
                return
            sleeper = _Sleeper(self._now + seconds)
            heapq.heappush(self._sleepers, (sleeper.at, next(self._order), sleeper))
            self._busy -= 1
            self._cv.notify_all()
            while not sleeper.released:
                self._cv.wait()

    def pause(self, deadline: float | None) -> None:
        with self._cv:
            while True:
                if self._busy > 0:  # what happens at this instant happens before the dispatcher
                    self._cv.wait()  # acts: same-time events in one order, every run
                    continue
                if self._news:
                    self._news = False
                    return
                if deadline is not None and self._now >= deadline:
                    return
                wakes = [at for at in (deadline, self._next_sleeper()) if at is not None]
                if not wakes:
                    raise RuntimeError(
                        "virtual time: the dispatcher would wait forever (nothing is due and "
                        "no worker is busy or asleep)"
                    )
                self._move_to(min(wakes))
                self._release_due()

    def wake(self) -> None:
        with self._cv:
            self._news = True
            self._cv.notify_all()

    def begin(self) -> None:
        with self._cv:
            self._busy += 1

    def end(self) -> None:
        with self._cv:
            self._busy -= 1
            self._cv.notify_all()

    # -- internals (the condition's lock held) ---------------------------------------------

    def _next_sleeper(self) -> float | None:
        return self._sleepers[0][0] if self._sleepers else None

    def _move_to(self, moment: float) -> None:
        if moment > self._now:
            step, self._now = moment - self._now, moment
            if self._on_advance is not None:
                self._on_advance(step)

    def _release_due(self) -> None:
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, sleeper = heapq.heappop(self._sleepers)
            sleeper.released = True
            self._busy += 1  # counted busy again before anyone can move the clock on
        self._cv.notify_all()


def system_time() -> Timebase:
    """Real time, or virtual time that follows the package's ``virtual_time()`` when active
    (so a run under the pytest plugin's replay waits for nothing)."""
    active = _clock._active
    if active is None:
        return RealTime()
    return VirtualTime.following(active.monotonic, active.sleep)


def time_for(clock: Callable[[], float], sleep: Callable[[float], None]) -> Timebase:
    """The time of a run given ``clock`` and ``sleep``: :func:`system_time` for the package's
    own (``clock.monotonic`` and ``clock.sleep``); the :class:`VirtualTime` itself when
    ``sleep`` is one's (a port sleeping on it then takes its time inside the run); else
    virtual time following them (:meth:`VirtualTime.following`)."""
    owner = getattr(sleep, "__self__", None)
    if isinstance(owner, VirtualTime):
        return owner
    if sleep is _clock.sleep and clock is _clock.monotonic:
        return system_time()
    return VirtualTime.following(clock, sleep)


def jitter_for(time: Timebase) -> Callable[[], float]:
    """Random jitter in real time; none in virtual time, so a virtual run is the same every
    time (0.5 is the middle of the jitter's range: every wait exactly as set)."""
    return random.random if isinstance(time, RealTime) else _no_jitter


def _no_jitter() -> float:
    return 0.5
