"""One run of the scheduler: the dispatching loop, its worker threads and what they post.

Only the dispatching thread (the one in :meth:`Run.drive`) reads or changes the run's state
and calls ``record``; workers get a job, make one request and post a :class:`~._steps.Step`
back. See ``_scheduler`` for the rules this loop keeps.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import logging
import queue
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from ._failures import unrecorded
from ._news import THROTTLED_REASON, Abandoned, Kind, News, late, received, step
from ._retrywatch import watching
from ._samples import ClipPath
from ._steps import Step, not_sent, timed_out
from ._timebase import Timebase
from .errors import BatchStoppingError, OutputWriteError
from .models import JobStatus, Veo3Job
from .port import VideoGenerationPort
from .retry import NOTE_ATTR, Note, Transient

if TYPE_CHECKING:
    from ._scheduler import Pacing

__all__ = ["Run"]

logger = logging.getLogger("veo3_adapter.orchestrator")


_Task = tuple[Kind, Veo3Job]


class Run:
    """The state of one run; :meth:`drive` is called once."""

    def __init__(
        self,
        port: VideoGenerationPort,
        *,
        record: Callable[[Veo3Job], Veo3Job | None],
        clip_path: ClipPath,
        pacing: Pacing,
        time: Timebase,
        rand: Callable[[], float],
    ) -> None:
        self._port = port
        self._write = record
        self._clip_path = clip_path
        self._pacing = pacing
        self._time = time
        self._rand = rand
        self._jobs: dict[str, Veo3Job] = {}
        self._unsent: deque[str] = deque()
        self._throttled: dict[str, int] = {}
        self._polls: list[tuple[float, int, str]] = []
        self._order = itertools.count()
        self._polled: dict[str, int] = {}
        self._deadline: dict[str, float] = {}
        self._downloads: deque[str] = deque()
        self._in_flight: dict[str, Kind] = {}
        self._downloading = 0
        self._submitting = 0
        self._probed = False  # the run's first submit answered: the others may go together
        self._next_submit = float("-inf")
        self._hold_until = float("-inf")
        self._tasks: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._lock = threading.Lock()  # guards _posted and _closed
        self._posted: list[News] = []
        self._closed = False
        self._stop_asked = False
        self._dispatcher = threading.get_ident()  # drive() runs in the thread that made it
        self.stopped = False
        self.batch_stop: BatchStoppingError | None = None
        self.stopped_by = ""
        self.operations: dict[str, str] = {}
        self.unsent: tuple[str, ...] = ()
        self.abandoned: tuple[str, ...] = ()

    # -- from other threads ----------------------------------------------------------------

    def stop(self) -> None:
        # No lock: a signal handler may call this in the dispatching thread, which may hold
        # one; there the dispatcher notices the flag on its own (RealTime pauses in slices).
        self._stop_asked = True
        if threading.get_ident() != self._dispatcher:
            self._time.wake()

    def _post(self, item: News) -> None:
        with self._lock:
            if not self._closed:
                self._posted.append(item)
                return
        late(item)

    def _work(self) -> None:
        while True:
            task = self._tasks.get()
            if task is None:
                return
            kind, job = task
            result: Step | BaseException
            try:
                with watching(functools.partial(self._retried, kind, job.variant)):
                    result = step(self._port, kind, job, self._clip_path)
            except BaseException as exc:  # a port's SystemExit: the dispatcher raises it
                result = exc
            try:
                self._post(News(kind, job.variant, result))
                self._time.wake()
            finally:
                self._time.end()

    def _retried(self, kind: Kind, variant: str, failure: Transient, delay: float) -> None:
        """A backend retries a request: a wait the service asked for holds the whole run.

        That is a submit's or a poll's ``Retry-After`` (or the body's ``RetryInfo``), or
        the backend's own backoff after a 429 that names no wait. Once the run is stopping
        or over, the request makes no further attempt (:class:`Abandoned`): its answer
        would not be recorded.
        """
        if self._stop_asked or self._closed:
            raise Abandoned(f"the run ended: no further attempt of this {kind.value}")
        if kind is Kind.DOWNLOAD:
            return
        hold = failure.retry_after or (delay if failure.reason == THROTTLED_REASON else 0.0)
        if hold:
            self._post(News(None, variant, hold=hold))
            self._time.wake()

    # -- the dispatching thread ------------------------------------------------------------

    def drive(self, submit: list[Veo3Job], drive: list[Veo3Job]) -> None:
        now = self._time.monotonic()
        for job in submit:
            self._jobs[job.variant] = job
            self._unsent.append(job.variant)
        for job in drive:
            self._jobs[job.variant] = job
            if job.status is JobStatus.SUBMITTED:
                self._deadline[job.variant] = now + self._pacing.timeout
                self._push_poll(job.variant, now, at_once=True)
            elif job.status is JobStatus.GENERATED:
                self._downloads.append(job.variant)
        try:
            self._loop()
            if self._stop_asked:
                self._wind_down()
        except OutputWriteError as exc:
            named = self._unrecorded(exc)
            self._close()
            if named is exc:
                raise
            raise named from exc
        except KeyboardInterrupt:
            try:
                if not self.stopped:  # a second interrupt while winding down: at once
                    self._wind_down()
            finally:
                self._close()
            raise
        except BaseException:
            self._close()
            raise
        self._close()

    def _loop(self) -> None:
        while True:
            self._apply_posted()
            if self._stop_asked or self._finished():
                return
            self._time.pause(self._dispatch(self._time.monotonic()))

    def _finished(self) -> bool:
        return not (self._unsent or self._polls or self._downloads or self._in_flight)

    def _dispatch(self, now: float) -> float | None:
        """Start what is due and allowed; return when something next becomes due."""
        pacing = self._pacing
        while (
            self._downloads
            and len(self._in_flight) < pacing.concurrency
            and self._downloading < pacing.downloads
        ):
            self._start(Kind.DOWNLOAD, self._downloads.popleft())
        while len(self._in_flight) < pacing.concurrency:
            due: list[tuple[float, int]] = []
            if self._polls:
                due.append((max(self._polls[0][0], self._hold_until), 0))
            if self._unsent and (self._probed or not self._submitting):
                due.append((max(self._next_submit, self._hold_until), 1))
            if not due:
                return None
            when, which = min(due)
            if when > now:
                return when
            if which == 0:
                self._start(Kind.POLL, heapq.heappop(self._polls)[2])
            else:
                self._next_submit = now + pacing.submit_spacing
                self._start(Kind.SUBMIT, self._unsent.popleft())
        return None

    def _start(self, kind: Kind, variant: str) -> None:
        if len(self._workers) < self._pacing.concurrency and len(self._in_flight) >= len(
            self._workers
        ):
            worker = threading.Thread(target=self._work, name="veo3-scheduler", daemon=True)
            self._workers.append(worker)
            worker.start()
        self._in_flight[variant] = kind
        if kind is Kind.DOWNLOAD:
            self._downloading += 1
        elif kind is Kind.SUBMIT:
            self._submitting += 1
        self._time.begin()
        self._tasks.put((kind, self._jobs[variant]))

    def _apply_posted(self) -> None:
        with self._lock:
            posted, self._posted = self._posted, []
        for index, item in enumerate(posted):
            try:
                self._apply(item)
            except BaseException as exc:
                if not isinstance(exc, OutputWriteError) and item.variant not in self.operations:
                    late(item)  # interrupted while it was being recorded: log its name
                with self._lock:  # not applied: kept for _unrecorded and _close
                    self._posted[:0] = posted[index + 1 :]
                raise

    def _apply(self, item: News) -> None:
        kind, variant, result, hold = item
        now = self._time.monotonic()
        if kind is None:
            self._hold(now, hold)
            return
        del self._in_flight[variant]
        if kind is Kind.DOWNLOAD:
            self._downloading -= 1
        elif kind is Kind.SUBMIT:
            self._submitting -= 1
        if isinstance(result, Abandoned):
            # No further attempt was made: a submit retried only after an answer that
            # started nothing, so that job is as unsent as the ones never tried.
            if kind is Kind.SUBMIT:
                self._unsent.appendleft(variant)
            return
        if isinstance(result, BaseException):
            raise result
        assert result is not None
        if result.throttle is not None:
            self._hold(now, result.throttle or self._pacing.throttle_wait)
        if kind is Kind.SUBMIT:
            self._submitted(variant, result, now)
        elif kind is Kind.POLL:
            self._after_poll(variant, result, now)
        elif result.job is not None:
            self._record(result.job)

    def _hold(self, now: float, seconds: float) -> None:
        until = now + min(seconds, self._pacing.max_throttle_wait)
        if until > self._hold_until:
            logger.info(
                "the service asked for a wait: holding every submit and poll for %.1fs",
                until - now,
                extra={NOTE_ATTR: Note("retry", "every submit and poll", until - now)},
            )
            self._hold_until = until

    def _submitted(self, variant: str, step: Step, now: float) -> None:
        assert step.job is not None
        if step.again and self.batch_stop is None:
            tries = self._throttled.get(variant, 0)
            if tries < self._pacing.throttled_submits:
                self._throttled[variant] = tries + 1
                self._unsent.appendleft(variant)  # sent again first, once the wait is over
                logger.info(
                    "submit of variant %r was throttled; it goes again after the wait",
                    variant,
                    extra={NOTE_ATTR: Note("retry", f"submit of variant {variant!r}")},
                )
                return
        self._probed = True
        if step.again and self.batch_stop is not None:
            job = self._record(not_sent(self._jobs[variant], self.batch_stop, self.stopped_by))
        else:
            job = self._record(step.job, received=True)
        if step.stop is not None and self.batch_stop is None:
            self.batch_stop, self.stopped_by = step.stop, variant
            while self._unsent:
                unsent = self._jobs[self._unsent.popleft()]
                self._record(not_sent(unsent, step.stop, variant))
        if job.status is JobStatus.SUBMITTED:
            self._deadline[variant] = now + self._pacing.timeout
            self._push_poll(variant, now)
        elif job.status is JobStatus.GENERATED:
            self._downloads.append(variant)

    def _after_poll(self, variant: str, step: Step, now: float) -> None:
        job = self._record(step.job) if step.job is not None else self._jobs[variant]
        if job.status is JobStatus.SUBMITTED:
            if now >= self._deadline[variant]:
                self._record(timed_out(job, self._pacing.timeout))
            else:
                self._push_poll(variant, now)
        elif job.status is JobStatus.GENERATED:
            self._downloads.append(variant)

    def _push_poll(self, variant: str, now: float, *, at_once: bool = False) -> None:
        """Schedule the job's next poll (``at_once``: a job handed over already running)."""
        polls = self._polled.get(variant, 0)
        self._polled[variant] = polls + 1
        wait = 0.0 if at_once else self._pacing.poll_wait(polls, self._rand)
        when = min(now + wait, self._deadline[variant])
        heapq.heappush(self._polls, (when, next(self._order), variant))

    def _record(self, job: Veo3Job, *, received: bool = False) -> Veo3Job:
        """Hand ``job`` to the writer; ``received``: it may carry a new operation name."""
        try:
            stored = self._write(job)
        except OutputWriteError as exc:
            if not received or not job.operation_name:
                raise
            raise unrecorded(exc, job) from exc
        job = stored if isinstance(stored, Veo3Job) else job
        self._jobs[job.variant] = job
        if received and job.operation_name:
            self.operations[job.variant] = job.operation_name
        return job

    # -- the end ---------------------------------------------------------------------------

    def _wind_down(self) -> None:
        """Send nothing more; give the submits in flight their grace to answer."""
        self.stopped = True
        grace = self._pacing.stop_grace
        submits = sum(1 for kind in self._in_flight.values() if kind is Kind.SUBMIT)
        logger.warning(
            "stopping: nothing more is sent; %d submit(s) in flight have up to %gs to answer",
            submits,
            grace,
            extra={NOTE_ATTR: Note("stop", "the run")},
        )
        deadline = self._time.monotonic() + grace
        while any(kind is Kind.SUBMIT for kind in self._in_flight.values()):
            if self._time.monotonic() >= deadline:
                break
            self._time.pause(deadline)
            self._apply_posted()

    def _close(self) -> None:
        with self._lock:
            self._closed = True
            posted, self._posted = self._posted, []
        for item in posted:
            late(item)
        self.unsent = tuple(self._unsent)
        self.abandoned = tuple(self._in_flight)
        if self.abandoned:
            logger.warning(
                "the run ended with %d request(s) still in flight (variants %s); their answers "
                "are not recorded",
                len(self.abandoned),
                ", ".join(repr(v) for v in self.abandoned[:10]),
            )
        for _ in self._workers:
            self._tasks.put(None)

    def _unrecorded(self, exc: OutputWriteError) -> OutputWriteError:
        """``exc`` naming the operations posted but not recorded when writing broke."""
        with self._lock:
            posted, self._posted = self._posted, []
        for item in posted:
            job = received(item)
            if job is not None:
                exc = unrecorded(exc, job)
        return exc
