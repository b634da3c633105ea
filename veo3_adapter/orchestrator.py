"""Drives jobs through a ``VideoGenerationPort``: submit, poll, download, record."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from . import clock as _clock
from ._inputs import check_submits, with_extensions
from ._runplan import (
    backend_of,
    checked_input,
    checked_inputs,
    new_jobs,
    plan_run,
    port_defaults,
    remove_partial_files,
    resume_state,
    same_backend,
    stopped_unsent,
)
from ._samples import clip_name, clips_ok
from ._scheduler import Outcome, Pacing, Scheduler
from ._steps import unanswered
from ._timebase import jitter_for, time_for
from .errors import ConfigurationError, OutputWriteError
from .models import (
    GenerationOptions,
    JobStatus,
    RunSummary,
    Veo3Job,
    VideoInputs,
    validate_variant,
    validate_variants,
)
from .port import VideoGenerationPort
from .store import JobsJournal, locked_for_writing, read_jobs_and_backend, read_jobs_json, storable

__all__ = [
    "CLIPS_DIRNAME",
    "CONCURRENCY",
    "JOBS_FILENAME",
    "SUBMIT_RATE",
    "Veo3Orchestrator",
]

logger = logging.getLogger("veo3_adapter.orchestrator")

CLIPS_DIRNAME = "veo3"
JOBS_FILENAME = "jobs.json"
CONCURRENCY = 8
"""Requests in flight at once, by default (submits, polls and downloads together)."""
SUBMIT_RATE = 10.0
"""Submits a minute, by default: under the per-minute quota of a new project."""


class Veo3Orchestrator:
    """Runs a batch of variants to clips in ``output_dir/veo3/``, recording every step.

    Jobs advance concurrently and independently: up to ``concurrency`` requests in flight
    (``downloads`` of them downloads; half of ``concurrency`` unless set), submits sent in
    order at most ``submit_rate`` a minute (``None``: as fast as ``concurrency`` allows), each
    job polled every ``poll_interval`` seconds on its own schedule (spread by a small jitter)
    and failed as a timeout when still generating ``timeout`` seconds after its submit (or,
    resumed, after the run took it up). When the service asks for a wait (a per-minute 429)
    every submit and poll of the run waits for it, and a throttled submit is sent again
    after it; a per-day quota stops the sending (see :meth:`run`). Requests run in worker
    threads over the port (the adapters are thread-safe); the thread that called ``run`` or
    ``resume`` writes every change.

    Every change of state is made durable before the run moves on (one fsynced line in
    ``jobs.json.journal``, folded into an atomically rewritten ``jobs.json`` when the journal
    outgrows it and at the end of every run), so a crash at any point leaves files that
    ``read_jobs_json`` and ``resume()`` continue from, at a cost linear in the jobs.
    ``on_change`` (if given) is called with the job after each such change has been saved,
    in the order of the changes, always in the thread that called ``run`` or ``resume``.
    The orchestrator owns the jobs' time stamps: ``created_at`` when a job is (re)created by
    ``run``, ``updated_at`` at every change, both from ``now``.

    Time: real by default (or the package's ``virtual_time()`` when active). Given a
    ``clock`` or a ``sleep``, a run's time is virtual: it starts at ``clock()``, moves only
    while the run waits for something due, calling ``sleep`` with each step, and a request
    takes none of it; polls then have no jitter, so the run is exact and the same every time
    (for tests and simulations). A ``sleep`` of a ``_timebase.VirtualTime`` is that clock
    itself: a port that sleeps on it too takes that time inside the run.

    Jobs are isolated: whatever one job's submit, poll or download raises (but
    ``KeyboardInterrupt`` and ``SystemExit``) becomes that job's failure, with a scrubbed
    detail, and the others go on. If the port has a ``describe()``, what it says is
    recorded in jobs.json (``store.read_backend_info``). ``last_run`` is the
    :class:`~veo3_adapter.models.RunSummary` of the last ``run`` or ``resume``.

    Stopping: :meth:`stop` (from another thread or a signal handler) or ``KeyboardInterrupt``
    in the calling thread ends a run early; see :meth:`stop`. The orchestrator installs no
    signal handler: the ``veo3`` command does, in its main thread.
    """

    def __init__(
        self,
        port: VideoGenerationPort,
        output_dir: Path | str,
        *,
        poll_interval: float = 10.0,
        timeout: float = 900.0,
        concurrency: int = CONCURRENCY,
        submit_rate: float | None = SUBMIT_RATE,
        downloads: int | None = None,
        sleep: Callable[[float], None] = _clock.sleep,
        clock: Callable[[], float] = _clock.monotonic,
        now: Callable[[], str] = _clock.utc_now,
        on_change: Callable[[Veo3Job], None] | None = None,
    ) -> None:
        if poll_interval < 0 or timeout < 0:
            raise ConfigurationError("poll_interval and timeout must not be negative")
        self.port = port
        self.output_dir = Path(output_dir)
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.concurrency = concurrency
        self.submit_rate = submit_rate
        self.downloads = downloads if downloads is not None else max(1, concurrency // 2)
        self._pacing()  # impossible settings are refused here, not at the first run
        self._sleep = sleep
        self._clock = clock
        self._now = now
        self._on_change = on_change
        self._jobs: dict[str, Veo3Job] = {}
        self._journal = JobsJournal(self.jobs_path)
        self._scheduler: Scheduler | None = None
        self._stop_asked = False
        self.last_run: RunSummary | None = None
        self.stopped = False
        """Whether the last ``run`` or ``resume`` was ended early by :meth:`stop`."""

    @property
    def clips_dir(self) -> Path:
        """``output_dir/veo3``: clips, jobs.json and the lock file."""
        return self.output_dir / CLIPS_DIRNAME

    @property
    def jobs_path(self) -> Path:
        """``output_dir/veo3/jobs.json``."""
        return self.clips_dir / JOBS_FILENAME

    def clip_path(self, variant: str, sample: int = 0) -> Path:
        """Where the clip of ``variant`` is written: ``output_dir/veo3/{variant}.mp4``; with
        ``sample`` n (from 1), that of its (n+1)-th video: ``{variant}~{n+1}.mp4``."""
        return self.clips_dir / clip_name(validate_variant(variant), sample)

    def jobs(self) -> list[Veo3Job]:
        """The jobs recorded in jobs.json (read-only; raises ``JobsFileError``)."""
        return read_jobs_json(self.jobs_path)

    # -- the two entry points --------------------------------------------------------------

    def run(
        self,
        prompts: Mapping[str, str],
        *,
        options: Mapping[str, GenerationOptions] | None = None,
        inputs: Mapping[str, VideoInputs] | None = None,
        force: bool = False,
    ) -> list[Veo3Job]:
        """Generate and download the clips of each ``variant -> prompt``; return the jobs.

        Each variant's first video is ``clip_path(variant)``; ``number_of_videos`` asks for
        up to four, the others written as ``{variant}~2.mp4`` and on. ``inputs`` gives
        variants images or a recorded variant to extend
        (:class:`~veo3_adapter.models.VideoInputs`); jobs.json records each image by path
        and SHA-256, and the extended video's URI. Idempotent: a variant recorded in
        jobs.json with the same prompt, options (the port's defaults, such as its model,
        included) and inputs (an image with other bytes is another request) and valid clips
        (every one of its videos') is kept as it is; one whose operation is still running
        or finished (SUBMITTED or GENERATED, with an operation name, on the same backend)
        is resumed, not submitted again. Any other, or every one with ``force``, is
        submitted anew. ``last_run`` says which was which.

        Jobs of other variants already in jobs.json are kept. A job that fails is recorded as
        FAILED with a machine code and the rest carry on, except after a submit refused in a
        way every submit would be (``BatchStoppingError``: a per-day quota, a retired model,
        a refused key): the jobs not yet sent are then not sent, and fail with the same code
        and a detail that says so. Input that cannot make a job raises an
        ``InvalidJobError`` before anything is written (``InvalidInputsError`` for an image,
        an extension or an option the backend does not accept); jobs.json or its journal
        that cannot be written stops the run with ``OutputWriteError`` (naming any operation
        started but not recorded).
        """
        options = checked_input(prompts, options)
        requested = checked_inputs(prompts, inputs)
        if not prompts:
            self.last_run = RunSummary()
            return []
        with self._locked():
            # The recorded jobs and the backend they ran on (none when nothing ran here).
            path = self.jobs_path
            recorded, where = read_jobs_and_backend(path) if path.exists() else ([], {})
            self._journal.backend = backend_of(self.port)  # what this run's saves record
            self._jobs = {job.variant: job for job in recorded}
            validate_variants(prompts, kept=self._jobs)
            if self._journal.journal.exists():
                # Fold what a crashed run journaled before replacing any job: replayed over
                # the new jobs.json, that stale journal would bring the replaced jobs back.
                self._save()
            resumable = same_backend(where, self._journal.backend)
            requested = with_extensions(requested, self._jobs)
            plan = plan_run(
                self._jobs,
                prompts,
                options,
                inputs=requested,
                defaults=port_defaults(self.port),
                clip_ok=self._clip_ok,
                resumable=resumable,
                force=force,
            )
            stamp = self._now()
            new = new_jobs(plan.submit, prompts, options, requested, stamp)
            check_submits(  # nothing is sent nor written unless every new job can be sent
                new,
                self._jobs,
                port=self.port,
                defaults=port_defaults(self.port),
                now=stamp,
                same_backend=resumable,
                submitting=plan.submit,
                backend=self._journal.backend.get("backend", ""),
            )
            for variant, job in new.items():
                self._jobs.pop(variant, None)
                self._jobs[variant] = job
            self._save()
            for variant in prompts:
                self._changed(self._jobs[variant])
            self._schedule(plan.submit, plan.resume)
            self._save()
            self.last_run = RunSummary(plan.submit, plan.skip, plan.resume)
            return [self._jobs[variant] for variant in prompts]

    def resume(self) -> list[Veo3Job]:
        """Continue from jobs.json: poll what was running, fetch missing or broken clips
        (of a job with several videos, only those).

        Jobs that were never sent (still PENDING without an operation name: a stopped run
        left them unsent) and those a batch-stopping refusal failed are submitted again, in
        their order in jobs.json; they stop again the same way if the cause is still there.
        A job whose submit was in flight when a run was stopped is FAILED
        (``submit_failed``) and not sent again: whether it started an operation is unknown.
        Only a process killed outright (no :meth:`stop`, no ``KeyboardInterrupt``) while
        submits were in flight leaves such a job PENDING, and then it is sent again.
        """
        with self._locked():
            self._jobs = {job.variant: job for job in read_jobs_json(self.jobs_path)}
            self._journal.backend = backend_of(self.port)
            todo: list[str] = []
            unsent: list[str] = []
            for variant, job in list(self._jobs.items()):
                if stopped_unsent(job):
                    unsent.append(variant)
                    continue
                state = resume_state(job, clip_ok=self._clip_ok(job))
                if state is not job:
                    self._set(state)
                if state.status in (JobStatus.SUBMITTED, JobStatus.GENERATED):
                    todo.append(variant)
            self._schedule(unsent, todo)
            self._save()
            kept = tuple(v for v in self._jobs if v not in todo and v not in unsent)
            self.last_run = RunSummary(tuple(unsent), kept, tuple(todo))
            return list(self._jobs.values())

    def stop(self) -> None:
        """End the current ``run`` or ``resume`` early; safe from any thread and from a
        signal handler (it takes no lock).

        Nothing more is sent; submits in flight get a few seconds to answer, so that the
        operation they start is recorded; every other request is abandoned (its answer is
        not recorded; a backend's retry of it makes no further attempt). Then the partial
        files are removed and ``run`` or ``resume`` returns the jobs as they are, with
        :attr:`stopped` true: jobs not sent are still PENDING, and a submit still in flight
        failed the job as ``submit_failed`` (a name that arrives later is logged at ERROR).
        Every operation name received is in jobs.json, and ``resume()`` continues: it sends
        the PENDING jobs and waits for the others, submitting no operation twice.
        ``KeyboardInterrupt`` in the calling thread does the same, then propagates; a
        second one while submits have their grace propagates at once. Called when no run
        is under way, it ends the next one at once.
        """
        self._stop_asked = True
        scheduler = self._scheduler
        if scheduler is not None:
            scheduler.stop()

    # -- steps -----------------------------------------------------------------------------

    def _clip_ok(self, job: Veo3Job) -> bool:
        return clips_ok(job, self.clips_dir)  # every video's clip, when there are several

    def _schedule(self, submit: Sequence[str], running: Sequence[str]) -> None:
        """Send ``submit`` in order and drive them and the ``running`` jobs to the end."""
        time = time_for(self._clock, self._sleep)
        scheduler = Scheduler(
            self.port,
            record=self._set,
            clip_path=self.clip_path,
            pacing=self._pacing(),
            time=time,
            rand=jitter_for(time),
        )
        self._scheduler = scheduler
        self.stopped = False
        try:
            if self._stop_asked:
                scheduler.stop()
            outcome = scheduler.run(
                [self._jobs[v] for v in submit], [self._jobs[v] for v in running]
            )
        except KeyboardInterrupt:
            if scheduler.last is not None:
                self._stopped(scheduler.last)
            raise
        finally:
            self._scheduler = None
            self._stop_asked = False
        if outcome.stopped:
            self._stopped(outcome)

    def _stopped(self, outcome: Outcome) -> None:
        """After a stop: a submit left without an answer fails its job; partial files go."""
        self.stopped = True
        for variant in outcome.abandoned:
            job = self._jobs[variant]
            if job.status is JobStatus.PENDING or (
                job.status is JobStatus.FAILED and not job.operation_name
            ):
                self._set(unanswered(job))
        try:
            remove_partial_files(self.clips_dir)
        except OutputWriteError as exc:  # the next run removes them
            logger.warning("partial files could not be removed: %s", exc)
        logger.warning(
            "the run was stopped: %d job(s) not sent, %d request(s) abandoned; resume continues it",
            len(outcome.unsent),
            len(outcome.abandoned),
        )

    def _pacing(self) -> Pacing:
        return Pacing(
            poll_interval=self.poll_interval,
            timeout=self.timeout,
            concurrency=self.concurrency,
            downloads=self.downloads,
            submit_rate=self.submit_rate,
        )

    # -- state -----------------------------------------------------------------------------

    def _set(self, job: Veo3Job) -> Veo3Job:
        """Record ``job``'s new state (durably, then ``on_change``); return it as stored."""
        previous = self._jobs.get(job.variant)
        # The backend's text comes from a server; what UTF-8 cannot hold would make jobs.json
        # unwritable mid-run, so it is stored with "?" in its place.
        changed = storable(
            dataclasses.replace(
                job,
                created_at=previous.created_at if previous is not None else job.created_at,
                updated_at=self._now(),
            )
        )
        self._jobs[job.variant] = changed
        self._journal.append(changed, lambda: list(self._jobs.values()))
        self._changed(changed)
        return changed

    def _changed(self, job: Veo3Job) -> None:
        if self._on_change is not None:
            self._on_change(job)

    def _save(self) -> None:
        self._journal.snapshot(list(self._jobs.values()))

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # Made without following a link; refused when planted files or a newer release's
        # jobs.json are there (OutputDirInUseError, UnsafeOutputError, JobsFileError).
        with locked_for_writing(self.jobs_path):
            try:
                remove_partial_files(self.clips_dir)
                yield
            finally:
                self._journal.close()
