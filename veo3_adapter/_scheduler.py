"""Many jobs at once over the sync port: bounded threads, paced submits, a shared backoff.

A :class:`Scheduler` drives jobs through a ``VideoGenerationPort`` (whose adapters are
thread-safe: one ``httpx.Client``) with a few worker threads, while one thread, the caller's,
decides what happens next and writes down every change. Each job advances on its own:

- at most ``concurrency`` requests in flight, ``downloads`` of them downloads;
- submits in order, at most ``submit_rate`` a minute, evenly spaced; the first goes alone,
  the others once it was answered, so that a refusal every submit would meet (a per-day
  quota, a refused key) stops the batch before anything else is sent;
- each job polled on its own schedule: ``poll_interval`` after its submit (at once for a job
  handed over already running), then again and again, the interval growing by
  ``poll_growth`` up to ``max_poll_interval``, each wait spread by ``poll_jitter``; a job still
  running ``timeout`` seconds after it was sent (or handed over) fails as a timeout;
- a shared backoff: when the service asks for a wait on a submit or a poll (a per-minute
  429, inside the backend's own retries or after them), every submit and poll of the run
  waits for it, not only the job that met it; a throttled submit is sent again afterwards
  (``throttled_submits`` times at most). Downloads are not held: the media server's waits
  concern that one download;
- a per-day quota (any ``BatchStoppingError``) stops the sending: every job not sent yet
  fails with the same code and ``batch_stopped_by``, as in a serial run; jobs already sent
  go on;
- :meth:`Scheduler.stop` (or ``KeyboardInterrupt`` in the calling thread) ends the run:
  nothing new is sent, submits in flight get ``stop_grace`` seconds to answer so their
  operation names are recorded (a second ``KeyboardInterrupt`` cuts that short), every other
  request is abandoned: its answer is not recorded, and a backend's retry of it makes no
  further attempt. A name that arrives after that is logged at ERROR, never lost silently.

Every change of a job's state goes to ``record``, called only in the thread that called
:meth:`Scheduler.run`, in the order the changes happened: the single writer of jobs.json.

The orchestrator's ``run`` and ``resume`` build one scheduler each, with its ``_set`` as
``record`` (it returns the job as stored) and its ``clip_path``, and hand it the jobs to send
and the ones already running. Time: ``system_time()`` by default (real, or the package's
``virtual_time()`` when active); a :class:`~veo3_adapter._timebase.VirtualTime` makes a run
exact and instant (the orchestrator uses ``VirtualTime.following(clock, sleep)`` when it was
given a ``clock`` or a ``sleep``).
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ._dispatch import Run
from ._samples import ClipPath
from ._timebase import Timebase, system_time
from .errors import BatchStoppingError, ConfigurationError
from .models import Veo3Job
from .port import VideoGenerationPort

__all__ = ["Outcome", "Pacing", "Scheduler"]


@dataclass(frozen=True, kw_only=True)
class Pacing:
    """How many requests at once, how fast, how patient. Times in seconds.

    ``submit_rate`` is submits per minute (``None``: as fast as ``concurrency`` allows); the
    default stays under the per-minute quota of a new project. ``throttle_wait`` is the
    shared wait after a 429 that names none; a wait the service names is honoured up to
    ``max_throttle_wait``.
    """

    concurrency: int = 8
    downloads: int = 4
    submit_rate: float | None = 10.0
    poll_interval: float = 10.0
    poll_jitter: float = 0.1
    poll_growth: float = 1.0
    max_poll_interval: float = 60.0
    timeout: float = 900.0
    throttle_wait: float = 60.0
    max_throttle_wait: float = 300.0
    throttled_submits: int = 5
    stop_grace: float = 5.0

    def __post_init__(self) -> None:
        if self.concurrency < 1 or self.downloads < 1:
            raise ConfigurationError("concurrency and downloads must be at least 1")
        if self.submit_rate is not None and not (
            math.isfinite(self.submit_rate) and self.submit_rate > 0
        ):
            raise ConfigurationError("submit_rate must be a positive number per minute, or None")
        times = ("poll_interval", "max_poll_interval", "timeout", "throttle_wait")
        for name in (*times, "max_throttle_wait", "stop_grace"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ConfigurationError(f"{name} must be a non-negative number of seconds")
        if not 0 <= self.poll_jitter <= 1:
            raise ConfigurationError("poll_jitter must be from 0 to 1")
        if not (math.isfinite(self.poll_growth) and self.poll_growth >= 1):
            raise ConfigurationError("poll_growth must be 1 (no growth) or more")
        if self.throttled_submits < 0:
            raise ConfigurationError("throttled_submits must not be negative")

    @property
    def submit_spacing(self) -> float:
        """Seconds between two submits."""
        return 0.0 if self.submit_rate is None else 60.0 / self.submit_rate

    def poll_wait(self, polls: int, rand: Callable[[], float]) -> float:
        """Seconds until the next poll of a job polled ``polls`` times so far (0: its first)."""
        wait = self.poll_interval
        if self.poll_growth > 1 and polls:
            cap = max(self.poll_interval, self.max_poll_interval)
            try:
                wait = min(cap, wait * self.poll_growth**polls)
            except OverflowError:
                wait = cap
        return max(0.0, wait * (1 + self.poll_jitter * (2 * rand() - 1)))


@dataclass(frozen=True)
class Outcome:
    """How a :meth:`Scheduler.run` ended.

    ``stopped``: :meth:`Scheduler.stop` ended it early. ``stop``: the refusal that stopped the
    sending (``stopped_by`` its variant), if any. ``unsent``: variants never sent because the
    run was stopped, left as they were handed over. ``abandoned``: variants whose request
    was still in flight at the end (a submit among them may yet start an operation: its name
    is then logged). ``operations``: every operation name received, by variant.
    """

    stopped: bool = False
    stop: BatchStoppingError | None = None
    stopped_by: str = ""
    unsent: tuple[str, ...] = ()
    abandoned: tuple[str, ...] = ()
    operations: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


class Scheduler:
    """Drives jobs concurrently through ``port``; see the module's docstring.

    ``record(job)`` writes a job's new state (it may return the job as stored, which the
    scheduler then carries on with); ``clip_path(variant)`` says where a clip goes
    (``clip_path(variant, n)`` the clip of its video n + 1, when it has several). ``time``
    is a :class:`~veo3_adapter._timebase.Timebase` (``system_time()`` by default), ``rand``
    the jitter's source. One run at a time. ``last`` is the :class:`Outcome` of the last
    run, set even when that run raised (``KeyboardInterrupt``).
    """

    def __init__(
        self,
        port: VideoGenerationPort,
        *,
        record: Callable[[Veo3Job], Veo3Job | None],
        clip_path: ClipPath,
        pacing: Pacing | None = None,
        time: Timebase | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.port = port
        self.pacing = pacing or Pacing()
        self._record = record
        self._clip_path = clip_path
        self._time: Timebase = time if time is not None else system_time()
        self._rand = rand
        self._lock = threading.Lock()
        self._run: Run | None = None
        self._stop_asked = False
        self.last: Outcome | None = None

    def stop(self) -> None:
        """End the current run soon, or the next one at once; see the module.

        Safe from any thread and from a signal handler (it takes no lock).
        """
        self._stop_asked = True
        run = self._run
        if run is not None:
            run.stop()

    def run(self, submit: Iterable[Veo3Job], drive: Iterable[Veo3Job] = ()) -> Outcome:
        """Send ``submit`` in order and drive them, and the running jobs ``drive``, to the end.

        ``drive`` holds SUBMITTED jobs (polled at once) and GENERATED ones (downloaded);
        others are left alone. Returns when every job is final, or when the run was stopped.
        What ``record`` raises ends the run and is raised here (an ``OutputWriteError`` then
        names the operations started but not recorded); so is ``KeyboardInterrupt``, after
        the submits in flight had their grace.
        """
        run = Run(
            self.port,
            record=self._record,
            clip_path=self._clip_path,
            pacing=self.pacing,
            time=self._time,
            rand=self._rand,
        )
        with self._lock:
            if self._run is not None:
                raise RuntimeError("this scheduler is already running")
            self._run = run
        if self._stop_asked:
            run.stop()
        try:
            run.drive(list(submit), list(drive))
        finally:
            self._run = None
            self._stop_asked = False
            self.last = Outcome(
                stopped=run.stopped,
                stop=run.batch_stop,
                stopped_by=run.stopped_by,
                unsent=run.unsent,
                abandoned=run.abandoned,
                operations=MappingProxyType(dict(run.operations)),
            )
        return self.last
