"""One request of one job: submit, poll or download, and the job's state it leads to.

Each function calls the port once (a download: once per video) and turns whatever it
answers or raises into a :class:`Step` (never an exception, but ``KeyboardInterrupt`` and
``SystemExit``): the job's new state with a scrubbed detail, whether the request is worth
making again, and whether the service asked the whole run to slow down. They touch no shared
state, so any thread may run them; recording the states is the caller's (one writer).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

from ._failures import checked_answer, code_of, internal_failure, scrubbed
from ._runplan import submitted_through
from ._samples import ClipPath, download_clips
from .errors import BatchStoppingError, PollError, SubmitError, Veo3Error
from .models import ErrorCode, Veo3Job
from .port import VideoGenerationPort
from .retry import NOTE_ATTR, Note

__all__ = [
    "THROTTLED",
    "Step",
    "download_step",
    "not_sent",
    "poll_step",
    "unanswered",
    "submit_step",
    "timed_out",
]

logger = logging.getLogger("veo3_adapter.orchestrator")

THROTTLED = 429
"""The status of a request refused by a per-minute quota (a per-day one stops the batch)."""


@dataclass(frozen=True)
class Step:
    """What one request did to its job.

    ``job``: the new state (``None``: unchanged, a poll of a job still running). ``again``:
    the same request is worth making later (a transient poll failure, a throttled submit),
    ``job`` then being the failure to record if it is not made again. ``throttle``: seconds
    the service asked every request of the run to wait, when it said so (or ``0.0`` when it
    refused for a per-minute quota without saying how long). ``stop``: a refusal every other
    submit would meet too.
    """

    job: Veo3Job | None
    again: bool = False
    throttle: float | None = None
    stop: BatchStoppingError | None = None


def _retry_after(exc: BaseException) -> float:
    """The wait an error says the server asked for (``0.0``: it did not say)."""
    value = getattr(exc, "retry_after", None)
    return float(value) if isinstance(value, int | float) and value > 0 else 0.0


def submit_step(port: VideoGenerationPort, job: Veo3Job) -> Step:
    """Submit ``job``; a refusal fails it (and may stop the batch), a 429 may be sent again."""
    variant = job.variant
    try:
        answer = submitted_through(port, job)
        submitted = dataclasses.replace(checked_answer(job, answer), inputs=job.inputs)
    except BatchStoppingError as exc:
        detail = scrubbed(str(exc))
        logger.warning("submit of variant %r failed; sending no more jobs: %s", variant, detail)
        failed = dataclasses.replace(job.failed(code_of(exc), detail), batch_stopped_by=variant)
        return Step(failed, stop=exc)
    except Exception as exc:
        if isinstance(exc, Veo3Error):
            code, detail = ErrorCode.SUBMIT_FAILED, scrubbed(str(exc))
            logger.warning("submit of variant %r failed: %s", variant, detail)
        else:
            code, detail = ErrorCode.INTERNAL_ERROR, internal_failure("submit", variant, exc)
        failed = dataclasses.replace(job.failed(code, detail), batch_stopped_by="")
        if isinstance(exc, SubmitError) and exc.status_code == THROTTLED:
            # A per-minute quota: nothing was started, and a later submit will be taken.
            return Step(failed, again=True, throttle=_retry_after(exc))
        return Step(failed)
    return Step(submitted)


def poll_step(port: VideoGenerationPort, job: Veo3Job) -> Step:
    """Read ``job``'s operation once; a transient failure is polled again later."""
    variant = job.variant
    try:
        polled = checked_answer(job, port.poll_job(job))
    except PollError as exc:
        if exc.transient:
            logger.warning(
                "poll of variant %r failed, will try again: %s",
                variant,
                scrubbed(str(exc)),
                extra={NOTE_ATTR: Note("retry", f"poll of variant {variant!r}")},
            )
            throttle = _retry_after(exc) if exc.status_code == THROTTLED else None
            return Step(None, again=True, throttle=throttle)
        return Step(job.failed(ErrorCode.POLL_FAILED, scrubbed(str(exc))))
    except Veo3Error as exc:
        return Step(job.failed(ErrorCode.POLL_FAILED, scrubbed(str(exc))))
    except Exception as exc:
        return Step(job.failed(ErrorCode.INTERNAL_ERROR, internal_failure("poll", variant, exc)))
    return Step(polled if polled != job else None)


def download_step(port: VideoGenerationPort, job: Veo3Job, clip_path: ClipPath) -> Step:
    """Fetch every video of ``job`` not already at its ``clip_path``: DOWNLOADED, or failed
    with the cause and the videos that arrived kept (``_samples.download_clips``)."""
    return Step(download_clips(port, job, clip_path))


def timed_out(job: Veo3Job, timeout: float) -> Veo3Job:
    """``job``, still generating after ``timeout`` seconds, failed as a timeout."""
    logger.warning("variant %r timed out after %.0fs", job.variant, timeout)
    return job.failed(
        ErrorCode.TIMEOUT, f"still running after {timeout:g}s; run resume to keep waiting"
    )


def not_sent(job: Veo3Job, stop: BatchStoppingError, stopped_by: str) -> Veo3Job:
    """``job``, left unsent because ``stopped_by``'s refusal stopped the batch."""
    detail = f"not sent: this run stopped sending jobs after this refusal: {scrubbed(str(stop))}"
    return dataclasses.replace(job.failed(code_of(stop), detail), batch_stopped_by=stopped_by)


def unanswered(job: Veo3Job) -> Veo3Job:
    """``job``, whose submit was still in flight when its run was stopped, failed: whether
    it started an operation is unknown, so nothing sends it again by itself."""
    return dataclasses.replace(
        job.failed(
            ErrorCode.SUBMIT_FAILED,
            "the run was stopped while this submit was in flight: whether it started an "
            "operation is unknown (if it did, the log names it at ERROR); run the variant "
            "again to send it",
        ),
        batch_stopped_by="",
    )
