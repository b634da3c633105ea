"""What a job's failure says: the cause in one scrubbed line, whatever was raised.

The orchestrator turns every exception of one job's step into that job's failure; these
functions write its ``error_detail`` (never a credential: every text passes through
``_secrets.redact``) and log what a person needs to find the cause.
"""

from __future__ import annotations

import errno
import logging
import traceback
from pathlib import Path

from ._jobcodec import job_from_dict, job_to_dict, storable
from ._secrets import env_secrets, redact
from .errors import BatchStoppingError, InvalidJobError, OutputWriteError, QuotaExhaustedError
from .models import ErrorCode, Veo3Job

__all__ = [
    "checked_answer",
    "clip_write_failure",
    "code_of",
    "internal_failure",
    "scrubbed",
    "unrecorded",
]

logger = logging.getLogger("veo3_adapter.orchestrator")

_MAX_DETAIL = 500
_MAX_TRACE = 20_000


def scrubbed(text: str, limit: int = 0) -> str:
    """``text`` without any credential (the environment's keys, every key shape)."""
    text = redact(text, env_secrets())
    return text if not limit or len(text) <= limit else text[: limit - 3] + "..."


def internal_failure(step: str, variant: str, exc: BaseException) -> str:
    """The detail for an exception that is no ``Veo3Error`` (a bug); logged with its traceback.

    ``step`` is "submit", "poll" or "download".
    """
    message = scrubbed(str(exc), _MAX_DETAIL) or "(no message)"
    detail = (
        f"internal error in the {step} of variant {variant!r}: {type(exc).__name__}: {message} "
        "(a bug in veo3_adapter or in the backend's adapter, not in the job; the log has the "
        "traceback)"
    )
    trace = scrubbed("".join(traceback.format_exception(exc)), _MAX_TRACE)
    logger.error("%s\n%s", detail, trace)
    return detail


def clip_write_failure(variant: str, dest: Path, exc: OSError) -> str:
    """The detail for a clip that could not be written (a full disk, a read-only directory)."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    name = errno.errorcode.get(exc.errno or 0, "")
    detail = scrubbed(
        f"the clip of variant {variant!r} could not be written to {dest}: {reason}"
        + (f" ({name})" if name else "")
    )
    logger.warning("%s", detail)
    return detail


def checked_answer(before: Veo3Job, answer: object) -> Veo3Job:
    """``answer`` if it is a job the port may return for ``before``; else a ``TypeError``
    or ``ValueError`` (so a broken backend fails its job, not the run or jobs.json)."""
    if not isinstance(answer, Veo3Job):
        raise TypeError(f"the port returned {type(answer).__name__}, not a Veo3Job")
    if answer.variant != before.variant:
        raise ValueError(f"the port returned a job of variant {answer.variant!r}")
    try:
        # Every field of the type jobs.json stores; text UTF-8 cannot hold is kept as "?".
        return job_from_dict(job_to_dict(storable(answer)))
    except InvalidJobError as exc:  # the port's fault, not the job's input
        raise ValueError(f"the port returned an invalid job: {exc}") from None


def code_of(stop: BatchStoppingError) -> ErrorCode:
    """The code of the jobs a batch-stopping refusal failed."""
    return (
        ErrorCode.QUOTA_EXHAUSTED
        if isinstance(stop, QuotaExhaustedError)
        else ErrorCode.SUBMIT_FAILED
    )


def unrecorded(exc: OutputWriteError, job: Veo3Job) -> OutputWriteError:
    """``exc`` naming ``job``'s operation too (started by the backend, recorded nowhere),
    which is also logged at ERROR: the message and the log are the only places it is kept."""
    if not job.operation_name:
        return exc
    logger.error(
        "variant %r was submitted as operation %s, but %s could not be written (%s); "
        "keep this operation name: jobs.json does not have it",
        job.variant,
        job.operation_name,
        exc.path,
        exc.reason,
    )
    names = (*exc.operation_names, job.operation_name)
    return OutputWriteError(exc.path, exc.reason, errno=exc.errno, operation_names=names)
