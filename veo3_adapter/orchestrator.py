"""Drives jobs through a ``VideoGenerationPort``: submit, poll, download, record."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from . import clock as _clock
from ._failures import checked_answer, code_of, internal_failure, scrubbed, unrecorded
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
    submitted_through,
)
from ._samples import clip_name, clips_ok, download_clips
from .errors import BatchStoppingError, ConfigurationError, OutputWriteError, PollError, Veo3Error
from .models import (
    ErrorCode,
    GenerationOptions,
    JobStatus,
    RunSummary,
    Veo3Job,
    VideoInputs,
    validate_variant,
    validate_variants,
)
from .port import VideoGenerationPort
from .retry import NOTE_ATTR, Note
from .store import JobsJournal, locked_for_writing, read_jobs_and_backend, read_jobs_json, storable

__all__ = ["CLIPS_DIRNAME", "JOBS_FILENAME", "Veo3Orchestrator"]

logger = logging.getLogger("veo3_adapter.orchestrator")

CLIPS_DIRNAME = "veo3"
JOBS_FILENAME = "jobs.json"


class Veo3Orchestrator:
    """Runs a batch of variants to clips in ``output_dir/veo3/``, recording every step.

    Every change of state is made durable before the run moves on (one fsynced line in
    ``jobs.json.journal``, folded into an atomically rewritten ``jobs.json`` when the journal
    outgrows it and at the end of every run), so a crash at any point leaves files that
    ``read_jobs_json`` and ``resume()`` continue from, at a cost linear in the jobs.
    ``on_change`` (if given) is called with the job after each such change has been saved.
    The orchestrator owns the jobs' time stamps: ``created_at`` when a job is (re)created by
    ``run``, ``updated_at`` at every change, both from ``now``.

    Jobs are isolated: whatever one job's submit, poll or download raises (but
    ``KeyboardInterrupt`` and ``SystemExit``) becomes that job's failure, with a scrubbed
    detail, and the others go on. If the port has a ``describe()``, what it says is
    recorded in jobs.json (``store.read_backend_info``). ``last_run`` is the
    :class:`~veo3_adapter.models.RunSummary` of the last ``run`` or ``resume``.
    """

    def __init__(
        self,
        port: VideoGenerationPort,
        output_dir: Path | str,
        *,
        poll_interval: float = 10.0,
        timeout: float = 900.0,
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
        self._sleep = sleep
        self._clock = clock
        self._now = now
        self._on_change = on_change
        self._jobs: dict[str, Veo3Job] = {}
        self._journal = JobsJournal(self.jobs_path)
        self.last_run: RunSummary | None = None

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
            self._submit_all(list(plan.submit))
            self._drive(list(prompts), wait_first=bool(plan.submit))
            self._save()
            self.last_run = RunSummary(plan.submit, plan.skip, plan.resume)
            return [self._jobs[variant] for variant in prompts]

    def resume(self) -> list[Veo3Job]:
        """Continue from jobs.json: poll what was running, fetch missing or broken clips
        (of a job with several videos, only those).

        Jobs that a stopped run did not send (or whose refusal stopped it) are submitted
        again, in their order in jobs.json; they stop again the same way if the cause is
        still there.
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
            resumed = tuple(todo)
            self._submit_all(unsent)
            todo.extend(v for v in unsent if self._jobs[v].status is JobStatus.SUBMITTED)
            self._drive(todo, wait_first=False)
            self._save()
            kept = tuple(v for v in self._jobs if v not in resumed and v not in unsent)
            self.last_run = RunSummary(tuple(unsent), kept, resumed)
            return list(self._jobs.values())

    # -- steps -----------------------------------------------------------------------------

    def _clip_ok(self, job: Veo3Job) -> bool:
        return clips_ok(job, self.clips_dir)  # every video's clip, when there are several

    def _submit_all(self, variants: list[str]) -> None:
        """Submit each in turn; after a batch-stopping refusal, send none of the rest."""
        stop: BatchStoppingError | None = None
        stopped_by = ""
        for variant in variants:
            if stop is None:
                stop = self._submit(variant)
                stopped_by = variant
                continue
            job = self._jobs[variant]
            detail = (
                f"not sent: this run stopped sending jobs after this refusal: {scrubbed(str(stop))}"
            )
            self._set(
                dataclasses.replace(job.failed(code_of(stop), detail), batch_stopped_by=stopped_by)
            )

    def _submit(self, variant: str) -> BatchStoppingError | None:
        """Submit one job; return the error if its refusal means no other job may be sent."""
        job = self._jobs[variant]
        try:
            answer = submitted_through(self.port, job)
            submitted = dataclasses.replace(checked_answer(job, answer), inputs=job.inputs)
        except BatchStoppingError as exc:
            detail = scrubbed(str(exc))
            logger.warning("submit of variant %r failed; sending no more jobs: %s", variant, detail)
            self._set(
                dataclasses.replace(job.failed(code_of(exc), detail), batch_stopped_by=variant)
            )
            return exc
        except Exception as exc:
            if isinstance(exc, Veo3Error):
                code, detail = ErrorCode.SUBMIT_FAILED, scrubbed(str(exc))
                logger.warning("submit of variant %r failed: %s", variant, detail)
            else:
                code, detail = ErrorCode.INTERNAL_ERROR, internal_failure("submit", variant, exc)
            self._set(dataclasses.replace(job.failed(code, detail), batch_stopped_by=""))
            return None
        try:
            self._set(submitted)
        except OutputWriteError as exc:
            raise unrecorded(exc, submitted) from exc
        return None

    def _drive(self, variants: list[str], *, wait_first: bool) -> None:
        deadline = self._clock() + self.timeout
        if wait_first and self._waiting(variants):
            self._sleep(min(self.poll_interval, self.timeout))
        while True:
            for variant in variants:
                if self._jobs[variant].status is JobStatus.SUBMITTED:
                    self._poll(variant)
                if self._jobs[variant].status is JobStatus.GENERATED:
                    self._download(variant)
            waiting = self._waiting(variants)
            if not waiting:
                return
            remaining = deadline - self._clock()
            if remaining <= 0:
                for variant in waiting:
                    logger.warning("variant %r timed out after %.0fs", variant, self.timeout)
                    self._set(
                        self._jobs[variant].failed(
                            ErrorCode.TIMEOUT,
                            f"still running after {self.timeout:g}s; run resume to keep waiting",
                        )
                    )
                return
            self._sleep(min(self.poll_interval, remaining))

    def _waiting(self, variants: list[str]) -> list[str]:
        return [v for v in variants if self._jobs[v].status is JobStatus.SUBMITTED]

    def _poll(self, variant: str) -> None:
        job = self._jobs[variant]
        try:
            polled = checked_answer(job, self.port.poll_job(job))
        except PollError as exc:
            if exc.transient:
                logger.warning(
                    "poll of variant %r failed, will try again: %s",
                    variant,
                    scrubbed(str(exc)),
                    extra={NOTE_ATTR: Note("retry", f"poll of variant {variant!r}")},
                )
                return
            self._set(job.failed(ErrorCode.POLL_FAILED, scrubbed(str(exc))))
            return
        except Veo3Error as exc:
            self._set(job.failed(ErrorCode.POLL_FAILED, scrubbed(str(exc))))
            return
        except Exception as exc:
            self._set(job.failed(ErrorCode.INTERNAL_ERROR, internal_failure("poll", variant, exc)))
            return
        if polled != job:
            self._set(polled)

    def _download(self, variant: str) -> None:
        # Every video the operation generated; those already there are not fetched again.
        self._set(download_clips(self.port, self._jobs[variant], self.clips_dir))

    # -- state -----------------------------------------------------------------------------

    def _set(self, job: Veo3Job) -> None:
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
