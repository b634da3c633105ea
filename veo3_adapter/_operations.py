"""What the backends make of the SDK's answers and failures.

Which model ids and operation names may go into a Gemini request path, how a read operation
maps onto a job's state, how an SDK error reads, and which failed calls may be sent again
(and after how long).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable
from typing import Any

import httpx
from google.genai import errors as genai_errors
from google.genai import types

from ._refusal import is_daily_quota
from .errors import TRANSIENT_STATUS, PollError, SubmitError
from .models import ErrorCode, GenerationOptions, JobStatus, SampleClip, Veo3Job
from .retry import Transient, retry_after_seconds, retry_delay_from_error_body

__all__ = [
    "MODEL_ID_HELP",
    "OPERATION_NAME_RE",
    "describe_api_error",
    "error_body",
    "is_model_id",
    "map_operation",
    "poll_mapped",
    "submitted_job",
    "poll_transient",
    "submit_transient",
    "videos_of",
]

logger = logging.getLogger("veo3_adapter.gemini")

_MODEL_ID = r"[A-Za-z0-9_-][A-Za-z0-9._-]*"
# A model id as it goes into the request path: "veo-3.1-generate-001" or "models/<id>".
_MODEL_RE = re.compile(rf"(?:models/)?{_MODEL_ID}")
_MAX_MODEL_LENGTH = 128
MODEL_ID_HELP = " (letters, digits, '.', '_' and '-', optionally after 'models/')"
"""What :func:`is_model_id` accepts, for a message that refuses a model."""

OPERATION_NAME_RE = re.compile(rf"(?:models/{_MODEL_ID}/)?operations/[A-Za-z0-9_-]+")
"""models/<model>/operations/<id> (Gemini) or operations/<id>: no "..", no escapes, no host."""

# A submit that failed with these was certainly not started, so sending it again is safe.
_SUBMIT_RETRY_STATUS = frozenset({429, 503})


def is_model_id(model: object) -> bool:
    """Whether ``model`` can go into a request path as it is (no "/..", no control chars)."""
    return (
        isinstance(model, str)
        and len(model) <= _MAX_MODEL_LENGTH
        and _MODEL_RE.fullmatch(model) is not None
    )


def map_operation(
    job: Veo3Job,
    op: types.GenerateVideosOperation,
    scrub: Callable[[str], str],
    usable: Callable[[types.Video], bool] = lambda video: bool(video.uri),
) -> Veo3Job:
    """``job`` with the state ``op`` reports; unchanged (equal) while it still runs.

    ``scrub`` redacts what the server wrote before it reaches the job or a log record;
    ``usable`` tells a video the backend can download (by default: one with a URI). Every
    usable video becomes one of the job's samples; fewer than ``number_of_videos`` asked for
    (the safety filters removed some) is GENERATED all the same, with a ``note``.
    """
    if not op.done:
        return dataclasses.replace(job, status=JobStatus.SUBMITTED)
    if op.error:
        message = scrub(str(op.error.get("message") or op.error))
        logger.warning("operation %s failed: %s", job.operation_name, message)
        return job.failed(ErrorCode.GENERATION_FAILED, message)
    result = op.result or op.response
    videos = [video for video in videos_of(op) if usable(video)]
    filtered = (result.rai_media_filtered_count or 0) if result is not None else 0
    reasons = scrub("; ".join(result.rai_media_filtered_reasons or []) if result else "")
    if videos:
        asked = job.options.number_of_videos or 1
        note = _shortfall(asked, len(videos), filtered, reasons)
        if note:
            logger.warning("operation %s: %s", job.operation_name, note)
        samples = [SampleClip(video_uri=scrub(video.uri or "")) for video in videos]
        return dataclasses.replace(
            job,
            status=JobStatus.GENERATED,
            # jobs.json keeps the URIs; a "key=" URI is refused anyway
            video_uri=samples[0].video_uri,
            samples=tuple(samples) if len(samples) > 1 else (),
            note=note,
            error_message="",
            error_detail="",
        )
    if filtered:
        reasons = reasons or "no reason given"
        logger.warning("operation %s was safety-filtered: %s", job.operation_name, reasons)
        return job.failed(ErrorCode.RAI_FILTERED, reasons)
    logger.warning("operation %s finished without a video", job.operation_name)
    return job.failed(
        ErrorCode.GENERATION_FAILED, "the operation finished without a video or an error"
    )


def _shortfall(asked: int, arrived: int, filtered: int, reasons: str) -> str:
    """What a job with fewer videos than asked for (or some filtered) notes, else ""."""
    if arrived >= asked and not filtered:
        return ""
    text = f"{arrived} of the {asked} videos asked for arrived"
    if filtered:
        text += f"; the safety filters removed {filtered}: {reasons or 'no reason given'}"
    return text


def videos_of(op: types.GenerateVideosOperation) -> list[types.Video]:
    """Every generated video of a finished operation, in the server's order."""
    result = op.result or op.response
    if not op.done or result is None or not result.generated_videos:
        return []
    return [item.video for item in result.generated_videos if item.video is not None]


def submit_transient(exc: Exception) -> Transient | None:
    """A submit is sent again only when it certainly started nothing: 429, 503, no connection."""
    if isinstance(exc, genai_errors.APIError):
        return _api_transient(exc) if exc.code in _SUBMIT_RETRY_STATUS else None
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        return Transient(type(exc).__name__)
    return None


def poll_transient(exc: Exception) -> Transient | None:
    """Reading an operation changes nothing, so any transient status or broken link retries."""
    if isinstance(exc, genai_errors.APIError):
        return _api_transient(exc) if exc.code in TRANSIENT_STATUS else None
    if isinstance(exc, httpx.TransportError):
        return Transient(type(exc).__name__)
    return None


def _api_transient(exc: genai_errors.APIError) -> Transient | None:
    """The wait the server asked for: ``Retry-After``, else the body's ``RetryInfo`` or text.

    ``None`` for a per-day quota: sending again before it resets only meets it again.
    """
    body = error_body(exc)
    if exc.code == 429 and is_daily_quota(body):
        return None
    response: Any = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    retry_after = retry_after_seconds(headers.get("retry-after")) if headers is not None else None
    if retry_after is None:
        retry_after = retry_delay_from_error_body(body)
    return Transient(f"HTTP {exc.code}", retry_after)


def describe_api_error(exc: genai_errors.APIError) -> str:
    """``HTTP 403 PERMISSION_DENIED: <message>``: the SDK error, unscrubbed."""
    text = f"HTTP {exc.code}"
    if exc.status:
        text += f" {exc.status}"
    if exc.message:
        text += f": {exc.message}"
    return text


def error_body(exc: genai_errors.APIError) -> dict[str, Any] | None:
    """The error answer's JSON as the SDK parsed it (``{"error": {...}}``), if a dict."""
    details: Any = exc.details
    return details if isinstance(details, dict) else None


def submitted_job(
    variant: str,
    prompt: str,
    options: GenerationOptions,
    operation_name: str | None,
    what: str,
    service: str,
    log: logging.Logger,
) -> Veo3Job:
    """The SUBMITTED job for an accepted submit; an answer without a name is a SubmitError."""
    if not operation_name:
        raise SubmitError(f"{what}: {service} answered without an operation name")
    log.info("submitted variant %r as %s", variant, operation_name)
    return Veo3Job.submitted(variant, prompt, operation_name, options)


def poll_mapped(
    job: Veo3Job,
    get_operation: Callable[[str], types.GenerateVideosOperation],
    to_job: Callable[[Veo3Job, types.GenerateVideosOperation], Veo3Job],
    log: logging.Logger,
) -> Veo3Job:
    """Read the job's operation once and map it; an unknown operation fails the job."""
    if not job.operation_name:
        return job.failed(ErrorCode.MISSING_OPERATION_NAME, "the job has no operation name")
    try:
        operation = get_operation(job.operation_name)
    except PollError as exc:
        if exc.status_code == 404:
            log.warning("operation %s not found", job.operation_name)
            return job.failed(ErrorCode.OPERATION_NOT_FOUND, str(exc))
        raise
    return to_job(job, operation)
