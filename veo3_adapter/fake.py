"""An in-memory stand-in for the Gemini adapter: same port, no network, scriptable."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from ._files import atomic_write_bytes
from ._refusal import submit_refusal
from .errors import DownloadError, SubmitError
from .models import DEFAULT_MODEL, ErrorCode, GenerationOptions, JobStatus, Veo3Job
from .mp4 import sample_clip

__all__ = ["FakeCall", "FakeOutcome", "FakeOutcomeKind", "FakeVeo3Adapter"]

_DEFAULT_RAI_REASON = (
    "We encountered an issue with the audio for your prompt, which means we could not create "
    "your video. This can sometimes happen due to our safety filters or other processing "
    "issues. Please modify your request and try again. You have not been charged for this "
    "attempt."
)
_DAILY_QUOTA_MESSAGE = (
    "You exceeded your current quota, please check your plan and billing details. "
    "* Quota exceeded for metric: "
    "generativelanguage.googleapis.com/generate_requests_per_model_per_day, limit: 10"
)
_DAILY_QUOTA_ID = "GenerateRequestsPerDayPerProjectPerModel"
# google.rpc.Code names of the statuses a refused submit may carry.
_RPC_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


class FakeOutcomeKind(StrEnum):
    """What the fake does with a variant."""

    SUCCESS = "success"
    GENERATION_FAILED = "generation_failed"
    RAI_FILTERED = "rai_filtered"
    DOWNLOAD_FAILED = "download_failed"
    SUBMIT_FAILED = "submit_failed"
    QUOTA_EXHAUSTED = "quota_exhausted"


Outcome = FakeOutcomeKind
"""Deprecated alias of :class:`FakeOutcomeKind`; new code uses that name."""


@dataclass(frozen=True, kw_only=True)
class FakeOutcome:
    """A scripted result: ``outcome`` after ``polls`` polls that still report running."""

    outcome: FakeOutcomeKind = FakeOutcomeKind.SUCCESS
    polls: int = 0
    detail: str = ""
    status_code: int | None = None

    @classmethod
    def success(cls, *, polls: int = 0) -> FakeOutcome:
        return cls(outcome=FakeOutcomeKind.SUCCESS, polls=polls)

    @classmethod
    def generation_failed(cls, detail: str = "Internal error", *, polls: int = 0) -> FakeOutcome:
        return cls(outcome=FakeOutcomeKind.GENERATION_FAILED, polls=polls, detail=detail)

    @classmethod
    def rai_filtered(cls, detail: str = _DEFAULT_RAI_REASON, *, polls: int = 0) -> FakeOutcome:
        return cls(outcome=FakeOutcomeKind.RAI_FILTERED, polls=polls, detail=detail)

    @classmethod
    def download_failed(cls, *, status_code: int = 404, polls: int = 0) -> FakeOutcome:
        return cls(outcome=FakeOutcomeKind.DOWNLOAD_FAILED, polls=polls, status_code=status_code)

    @classmethod
    def submit_failed(cls, *, status_code: int = 400, detail: str = "") -> FakeOutcome:
        """The submit refused; 401, 403 and 404 stop the batch, as the real adapter's do."""
        return cls(
            outcome=FakeOutcomeKind.SUBMIT_FAILED,
            status_code=status_code,
            detail=detail or "Request contains an invalid argument.",
        )

    @classmethod
    def quota_exhausted(cls, detail: str = _DAILY_QUOTA_MESSAGE) -> FakeOutcome:
        """Every submit refused with a per-day quota's 429: the batch stops."""
        return cls(outcome=FakeOutcomeKind.QUOTA_EXHAUSTED, status_code=429, detail=detail)


def _refused(variant: str, model: str, outcome: FakeOutcome) -> SubmitError:
    """The error the real adapter raises for this refusal, classified the same way."""
    code = outcome.status_code or 400
    error: dict[str, object] = {
        "code": code,
        "message": outcome.detail,
        "status": _RPC_STATUS.get(code, "UNKNOWN"),
    }
    if outcome.outcome is FakeOutcomeKind.QUOTA_EXHAUSTED:
        quota = {"@type": "type.googleapis.com/google.rpc.QuotaFailure"}
        error["details"] = [{**quota, "violations": [{"quotaId": _DAILY_QUOTA_ID}]}]
    described = f"HTTP {code} {error['status']}: {outcome.detail}"
    return submit_refusal(
        f"submit of variant {variant!r}", model, code, described, {"error": error}
    )


@dataclass(frozen=True)
class FakeCall:
    """One call made to the fake, for assertions."""

    method: str
    variant: str
    operation_name: str = ""
    dest: Path | None = None


@dataclass
class _Operation:
    variant: str
    outcome: FakeOutcome
    polls_seen: int = 0


class FakeVeo3Adapter:
    """Satisfies ``VideoGenerationPort`` in memory. Downloads write a small real MP4."""

    def __init__(
        self,
        outcomes: Mapping[str, FakeOutcome] | None = None,
        *,
        default: FakeOutcome | None = None,
        options: GenerationOptions | None = None,
        clip: bytes | None = None,
    ) -> None:
        self._outcomes: dict[str, FakeOutcome] = dict(outcomes or {})
        self.default = default or FakeOutcome.success()
        self.options = GenerationOptions(model=DEFAULT_MODEL).merged(options)
        self.clip = clip if clip is not None else sample_clip()
        self.calls: list[FakeCall] = []
        self._operations: dict[str, _Operation] = {}
        self._lock = threading.Lock()

    def script(self, variant: str, outcome: FakeOutcome) -> None:
        """Decide what happens to ``variant`` from its next submit on."""
        self._outcomes[variant] = outcome

    def calls_to(self, method: str) -> list[FakeCall]:
        """The recorded calls of one method, in order."""
        return [call for call in self.calls if call.method == method]

    @property
    def operations(self) -> list[str]:
        """Names of the operations this fake has started."""
        return list(self._operations)

    def describe(self) -> dict[str, str]:
        """Where jobs go, for jobs.json: this in-memory fake."""
        return {"backend": "fake"}

    # -- the port --------------------------------------------------------------------------

    def submit_job(
        self, variant: str, prompt: str, options: GenerationOptions | None = None
    ) -> Veo3Job:
        outcome = self._outcomes.get(variant, self.default)
        opts = self.options.merged(options)
        with self._lock:
            self.calls.append(FakeCall("submit_job", variant))
            if outcome.outcome in (FakeOutcomeKind.SUBMIT_FAILED, FakeOutcomeKind.QUOTA_EXHAUSTED):
                raise _refused(variant, opts.model or DEFAULT_MODEL, outcome)
            digest = hashlib.sha256(f"{len(self._operations)}:{variant}".encode()).hexdigest()
            # Named like the API's: the model (DEFAULT_MODEL unless set), then a 12-char id.
            name = f"models/{opts.model or DEFAULT_MODEL}/operations/{digest[:12]}"
            self._operations[name] = _Operation(variant, outcome)
        return Veo3Job(
            variant=variant,
            prompt=prompt,
            status=JobStatus.SUBMITTED,
            operation_name=name,
            options=opts,
        )

    def poll_job(self, job: Veo3Job) -> Veo3Job:
        self.calls.append(FakeCall("poll_job", job.variant, job.operation_name))
        if not job.operation_name:
            return job.failed(ErrorCode.MISSING_OPERATION_NAME, "the job has no operation name")
        operation = self._operations.get(job.operation_name)
        if operation is None:
            return job.failed(
                ErrorCode.OPERATION_NOT_FOUND,
                f"poll of operation {job.operation_name} failed: HTTP 404 NOT_FOUND",
            )
        operation.polls_seen += 1
        outcome = operation.outcome
        if operation.polls_seen <= outcome.polls:
            return dataclasses.replace(job, status=JobStatus.SUBMITTED)
        if outcome.outcome is FakeOutcomeKind.GENERATION_FAILED:
            return job.failed(ErrorCode.GENERATION_FAILED, outcome.detail)
        if outcome.outcome is FakeOutcomeKind.RAI_FILTERED:
            return job.failed(ErrorCode.RAI_FILTERED, outcome.detail)
        file_id = job.operation_name.rsplit("/", 1)[-1]
        return dataclasses.replace(
            job,
            status=JobStatus.GENERATED,
            video_uri=f"fake://files/{file_id}:download?alt=media",
            error_message="",
            error_detail="",
        )

    def download_clip(self, job: Veo3Job, dest: Path) -> Path:
        self.calls.append(FakeCall("download_clip", job.variant, job.operation_name, dest))
        operation = self._operations.get(job.operation_name)
        if operation is None:
            raise DownloadError(
                f"operation {job.operation_name or '(none)'} of variant {job.variant!r} is "
                "unknown to this fake, so it has no video",
                operation_name=job.operation_name,
                status_code=404,
            )
        if operation.polls_seen <= operation.outcome.polls:
            raise DownloadError(
                f"operation {job.operation_name} has no video to download (still running)",
                operation_name=job.operation_name,
            )
        if operation.outcome.outcome is FakeOutcomeKind.DOWNLOAD_FAILED:
            raise DownloadError(
                f"download of operation {job.operation_name} failed: "
                f"HTTP {operation.outcome.status_code}",
                operation_name=job.operation_name,
                status_code=operation.outcome.status_code,
            )
        if operation.outcome.outcome is not FakeOutcomeKind.SUCCESS:
            raise DownloadError(
                f"operation {job.operation_name} has no video to download",
                operation_name=job.operation_name,
            )
        atomic_write_bytes(dest, self.clip)
        return dest
