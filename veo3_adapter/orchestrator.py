"""Drives jobs through a ``VideoGenerationPort``: submit, poll, download, record."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from . import clock as _clock
from ._files import remove_stale_temp_files
from .errors import (
    BatchStoppingError,
    ConfigurationError,
    InvalidPromptError,
    InvalidVariantError,
    PollError,
    QuotaExhaustedError,
    Veo3Error,
)
from .models import (
    ErrorCode,
    GenerationOptions,
    JobStatus,
    Veo3Job,
    validate_variant,
    validate_variants,
)
from .mp4 import is_mp4_file
from .port import VideoGenerationPort
from .retry import NOTE_ATTR, Note
from .store import (
    JobsJournal,
    check_options_text,
    check_text,
    locked_for_writing,
    read_jobs_json,
    storable,
)

__all__ = ["CLIPS_DIRNAME", "JOBS_FILENAME", "Veo3Orchestrator"]

logger = logging.getLogger("veo3_adapter.orchestrator")

CLIPS_DIRNAME = "veo3"
JOBS_FILENAME = "jobs.json"
# Failures that another look at the server may still turn into a clip.
_RETRY_DOWNLOAD = {ErrorCode.DOWNLOAD_FAILED.value}
_RETRY_POLL = {ErrorCode.TIMEOUT.value, ErrorCode.POLL_FAILED.value}


def _code_of(stop: BatchStoppingError) -> ErrorCode:
    return (
        ErrorCode.QUOTA_EXHAUSTED
        if isinstance(stop, QuotaExhaustedError)
        else ErrorCode.SUBMIT_FAILED
    )


def _stopped_unsent(job: Veo3Job) -> bool:
    """A job a stopped run left unsent (or whose refusal stopped it): nothing was started."""
    return job.status is JobStatus.FAILED and bool(job.batch_stopped_by) and not job.operation_name


class Veo3Orchestrator:
    """Runs a batch of variants to clips in ``output_dir/veo3/``, recording every step.

    Every change of state is made durable before the run moves on (one fsynced line in
    ``jobs.json.journal``, folded into an atomically rewritten ``jobs.json`` when the journal
    outgrows it and at the end of every run), so a crash at any point leaves files that
    ``read_jobs_json`` and ``resume()`` continue from, at a cost linear in the jobs.
    ``on_change`` (if given) is called with the job after each such change has been saved.
    The orchestrator owns the jobs' time stamps: ``created_at`` when a job is (re)created by
    ``run``, ``updated_at`` at every change, both from ``now``.
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

    @property
    def clips_dir(self) -> Path:
        """``output_dir/veo3``: clips, jobs.json and the lock file."""
        return self.output_dir / CLIPS_DIRNAME

    @property
    def jobs_path(self) -> Path:
        """``output_dir/veo3/jobs.json``."""
        return self.clips_dir / JOBS_FILENAME

    def clip_path(self, variant: str) -> Path:
        """Where the clip of ``variant`` is written: ``output_dir/veo3/{variant}.mp4``."""
        return self.clips_dir / f"{validate_variant(variant)}.mp4"

    def jobs(self) -> list[Veo3Job]:
        """The jobs recorded in jobs.json (read-only; raises ``JobsFileError``)."""
        return read_jobs_json(self.jobs_path)

    # -- the two entry points --------------------------------------------------------------

    def run(
        self,
        prompts: Mapping[str, str],
        *,
        options: Mapping[str, GenerationOptions] | None = None,
    ) -> list[Veo3Job]:
        """Generate and download one clip per ``variant -> prompt``; return the final jobs.

        Jobs of other variants already in jobs.json are kept. A job that fails is recorded as
        FAILED with a machine code and the rest carry on, except after a submit refused in a
        way every submit would be (``BatchStoppingError``: a per-day quota, a retired model,
        a refused key): the jobs not yet sent are then not sent, and fail with the same code
        and a detail that says so. Input that cannot make a job raises an
        ``InvalidJobError`` before anything is written.
        """
        options = dict(options or {})
        validate_variants(prompts)  # Intro and intro would be one file on macOS and Windows
        for variant, prompt in prompts.items():
            if not isinstance(prompt, str) or not prompt.strip():
                raise InvalidPromptError(f"prompt of variant {variant!r} is empty")
            check_text(variant, "prompt", prompt, InvalidPromptError)  # jobs.json is UTF-8
        for variant, opts in options.items():
            check_options_text(variant, opts)
        unknown = sorted(set(options) - set(prompts))
        if unknown:
            raise InvalidVariantError(f"options given for variants with no prompt: {unknown}")
        if not prompts:
            return []
        with self._locked():
            self._jobs = {job.variant: job for job in self._read_if_present()}
            validate_variants(prompts, kept=self._jobs)
            if self._journal.journal.exists():
                # Fold what a crashed run journaled before replacing any job: replayed over
                # the new jobs.json, that stale journal would bring the replaced jobs back.
                self._save()
            stamp = self._now()
            for variant, prompt in prompts.items():
                self._jobs.pop(variant, None)
                self._jobs[variant] = Veo3Job(
                    variant=variant,
                    prompt=prompt,
                    options=options.get(variant, GenerationOptions()),
                    created_at=stamp,
                    updated_at=stamp,
                )
            self._save()
            for variant in prompts:
                self._changed(self._jobs[variant])
            self._submit_all(list(prompts))
            self._drive(list(prompts), wait_first=True)
            self._save()
            return [self._jobs[variant] for variant in prompts]

    def resume(self) -> list[Veo3Job]:
        """Continue from jobs.json: poll what was running, fetch missing or broken clips.

        Jobs that a stopped run did not send (or whose refusal stopped it) are submitted
        again, in their order in jobs.json; they stop again the same way if the cause is
        still there.
        """
        with self._locked():
            self._jobs = {job.variant: job for job in read_jobs_json(self.jobs_path)}
            todo: list[str] = []
            unsent: list[str] = []
            for variant, job in list(self._jobs.items()):
                if _stopped_unsent(job):
                    unsent.append(variant)
                    continue
                resumed = self._resume_state(job)
                if resumed is not job:
                    self._set(resumed)
                if resumed.status in (JobStatus.SUBMITTED, JobStatus.GENERATED):
                    todo.append(variant)
            self._submit_all(unsent)
            todo.extend(v for v in unsent if self._jobs[v].status is JobStatus.SUBMITTED)
            self._drive(todo, wait_first=False)
            self._save()
            return list(self._jobs.values())

    # -- steps -----------------------------------------------------------------------------

    def _resume_state(self, job: Veo3Job) -> Veo3Job:
        status = job.status
        if status is JobStatus.DOWNLOADED and is_mp4_file(self.clip_path(job.variant)):
            return job
        if status is JobStatus.FAILED:
            if job.error_message in _RETRY_DOWNLOAD:
                status = JobStatus.GENERATED
            elif job.error_message in _RETRY_POLL:
                status = JobStatus.SUBMITTED
            else:
                return job
        elif status is JobStatus.DOWNLOADED:
            logger.info("clip of variant %r is missing or broken; fetching it again", job.variant)
            status = JobStatus.GENERATED
        elif status is JobStatus.PENDING:
            status = JobStatus.SUBMITTED
        if not job.operation_name:
            return job.failed(
                ErrorCode.MISSING_OPERATION_NAME,
                "jobs.json has no operation name for this job, so the server cannot be asked "
                "about it; run the variant again",
            )
        return dataclasses.replace(job, status=status, error_message="", error_detail="")

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
            detail = f"not sent: this run stopped sending jobs after this refusal: {stop}"
            self._set(
                dataclasses.replace(job.failed(_code_of(stop), detail), batch_stopped_by=stopped_by)
            )

    def _submit(self, variant: str) -> BatchStoppingError | None:
        """Submit one job; return the error if its refusal means no other job may be sent."""
        job = self._jobs[variant]
        try:
            submitted = self.port.submit_job(variant, job.prompt, job.options)
        except BatchStoppingError as exc:
            logger.warning("submit of variant %r failed; sending no more jobs: %s", variant, exc)
            self._set(
                dataclasses.replace(job.failed(_code_of(exc), str(exc)), batch_stopped_by=variant)
            )
            return exc
        except Veo3Error as exc:
            logger.warning("submit of variant %r failed: %s", variant, exc)
            self._set(
                dataclasses.replace(
                    job.failed(ErrorCode.SUBMIT_FAILED, str(exc)), batch_stopped_by=""
                )
            )
            return None
        self._set(submitted)
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
            polled = self.port.poll_job(job)
        except PollError as exc:
            if exc.transient:
                logger.warning(
                    "poll of variant %r failed, will try again: %s",
                    variant,
                    exc,
                    extra={NOTE_ATTR: Note("retry", f"poll of variant {variant!r}")},
                )
                return
            self._set(job.failed(ErrorCode.POLL_FAILED, str(exc)))
            return
        except Veo3Error as exc:
            self._set(job.failed(ErrorCode.POLL_FAILED, str(exc)))
            return
        if polled != job:
            self._set(polled)

    def _download(self, variant: str) -> None:
        job = self._jobs[variant]
        dest = self.clip_path(variant)
        try:
            written = self.port.download_clip(job, dest)
        except Veo3Error as exc:
            # The adapter has logged the cause at WARNING; here only the job's new state.
            logger.info("variant %r: %s", variant, ErrorCode.DOWNLOAD_FAILED.value)
            self._set(job.failed(ErrorCode.DOWNLOAD_FAILED, str(exc)))
            return
        self._set(
            dataclasses.replace(
                job,
                status=JobStatus.DOWNLOADED,
                clip_path=str(written),
                clip_bytes=written.stat().st_size,
                error_message="",
                error_detail="",
            )
        )

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

    def _read_if_present(self) -> list[Veo3Job]:
        if not self.jobs_path.exists():
            return []
        return read_jobs_json(self.jobs_path)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # Made without following a link; refused when planted files or a newer release's
        # jobs.json are there (OutputDirInUseError, UnsafeOutputError, JobsFileError).
        with locked_for_writing(self.jobs_path):
            try:
                removed = remove_stale_temp_files(self.clips_dir)
                if removed:
                    logger.info(
                        "removed %d partial file(s) left by an interrupted run",
                        len(removed),
                        extra={NOTE_ATTR: Note("cleanup", f"partial files in {self.clips_dir}")},
                    )
                yield
            finally:
                self._journal.close()
