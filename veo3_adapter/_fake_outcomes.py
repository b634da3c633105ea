"""What the fake can be scripted to do with a job, and the errors it raises as the real
adapters raise them.

Each outcome leaves a job in the state the real adapters leave it in for the same server
behaviour; a name is checked when it is given.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum

from ._refusal import submit_refusal
from .errors import TRANSIENT_STATUS, PollError, SubmitError

__all__ = [
    "DOWNLOAD_ERRORS",
    "HAS_VIDEO",
    "POLL_ERRORS",
    "REFUSED",
    "FakeOutcome",
    "FakeOutcomeKind",
    "Outcome",
    "poll_error",
    "refused",
    "scripted",
]

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
# google.rpc.Code names of the statuses a refused request may carry.
_RPC_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
# What Google's front end says with them, where the fake needs it.
_RPC_MESSAGE = {
    400: "Request contains an invalid argument.",
    403: "The caller does not have permission",
    404: "Requested entity was not found.",
}
_GONE = _RPC_MESSAGE[404]


class FakeOutcomeKind(StrEnum):
    """What the fake does with a variant; the job ends FAILED with the code of the same name,
    except ``success`` (DOWNLOADED) and ``expired`` (``download_failed``: done, but the video
    is gone when fetched, HTTP 404). ``quota_exhausted`` (and ``submit_failed`` with 401, 403
    or 404) stops the batch; ``poll_failed`` raises ``PollError`` when the operation is read;
    ``timeout`` is never done, so the orchestrator times the job out.
    """

    SUCCESS = "success"
    GENERATION_FAILED = "generation_failed"
    RAI_FILTERED = "rai_filtered"
    DOWNLOAD_FAILED = "download_failed"
    SUBMIT_FAILED = "submit_failed"
    QUOTA_EXHAUSTED = "quota_exhausted"
    POLL_FAILED = "poll_failed"
    OPERATION_NOT_FOUND = "operation_not_found"
    EXPIRED = "expired"
    TIMEOUT = "timeout"


Outcome = FakeOutcomeKind
"""Deprecated alias of :class:`FakeOutcomeKind`; new code uses that name."""

# Outcomes that never answer a poll with "done", so `polls` does not apply to them.
_NEVER_DONE = frozenset(
    {FakeOutcomeKind.SUBMIT_FAILED, FakeOutcomeKind.QUOTA_EXHAUSTED, FakeOutcomeKind.TIMEOUT}
)
REFUSED = frozenset({FakeOutcomeKind.SUBMIT_FAILED, FakeOutcomeKind.QUOTA_EXHAUSTED})
POLL_ERRORS = frozenset({FakeOutcomeKind.POLL_FAILED, FakeOutcomeKind.OPERATION_NOT_FOUND})
DOWNLOAD_ERRORS = frozenset({FakeOutcomeKind.DOWNLOAD_FAILED, FakeOutcomeKind.EXPIRED})
HAS_VIDEO = DOWNLOAD_ERRORS | {FakeOutcomeKind.SUCCESS}


def _kind(name: object) -> FakeOutcomeKind:
    if isinstance(name, FakeOutcomeKind):
        return name
    valid = ", ".join(kind.value for kind in FakeOutcomeKind)
    if not isinstance(name, str):
        raise TypeError(
            f"an outcome is a FakeOutcome or one of the names {valid}; got {type(name).__name__}"
        )
    try:
        return FakeOutcomeKind(name)
    except ValueError:
        raise ValueError(f"unknown outcome {name!r}; valid: {valid}") from None


@dataclass(frozen=True, kw_only=True)
class FakeOutcome:
    """A scripted result: ``outcome`` after ``polls`` polls that still report running."""

    outcome: FakeOutcomeKind = FakeOutcomeKind.SUCCESS
    polls: int = 0
    detail: str = ""
    status_code: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "outcome", _kind(self.outcome))
        if isinstance(self.polls, bool) or not isinstance(self.polls, int) or self.polls < 0:
            raise ValueError(f"polls must be a whole number, 0 or more; got {self.polls!r}")
        if self.outcome is FakeOutcomeKind.POLL_FAILED:
            code = self.status_code
            if code is None or not 400 <= code <= 599 or code == 404 or code in TRANSIENT_STATUS:
                raise ValueError(
                    f"poll_failed takes an HTTP error status that a poll would meet again: not "
                    f"404 (operation_not_found) nor {sorted(TRANSIENT_STATUS)}; got {code!r}"
                )

    @classmethod
    def named(cls, name: str, *, polls: int = 0) -> FakeOutcome:
        """The outcome called ``name`` (a :class:`FakeOutcomeKind` value, ``"rai_filtered"``)
        with its defaults, done after ``polls`` polls that report running.

        ``polls`` is ignored by the outcomes that are never done (``submit_failed``,
        ``quota_exhausted``, ``timeout``). An unknown name raises ``ValueError`` naming the
        valid ones; anything but a string, ``TypeError``.
        """
        kind = _kind(name)
        made: FakeOutcome = getattr(cls, kind.value)()
        return made if kind in _NEVER_DONE else dataclasses.replace(made, polls=polls)

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
        return cls(
            outcome=FakeOutcomeKind.DOWNLOAD_FAILED,
            polls=polls,
            status_code=status_code,
            detail=_RPC_MESSAGE.get(status_code, ""),
        )

    @classmethod
    def expired(cls, *, polls: int = 0) -> FakeOutcome:
        """Done after ``polls`` polls, but the video is gone when it is fetched: HTTP 404."""
        return cls(outcome=FakeOutcomeKind.EXPIRED, polls=polls, status_code=404, detail=_GONE)

    @classmethod
    def submit_failed(cls, *, status_code: int = 400, detail: str = "") -> FakeOutcome:
        """The submit refused; 401, 403 and 404 stop the batch, as the real adapter's do."""
        return cls(
            outcome=FakeOutcomeKind.SUBMIT_FAILED,
            status_code=status_code,
            detail=detail or _RPC_MESSAGE[400],
        )

    @classmethod
    def quota_exhausted(cls, detail: str = _DAILY_QUOTA_MESSAGE) -> FakeOutcome:
        """Every submit refused with a per-day quota's 429: the batch stops."""
        return cls(outcome=FakeOutcomeKind.QUOTA_EXHAUSTED, status_code=429, detail=detail)

    @classmethod
    def poll_failed(
        cls, *, status_code: int = 403, detail: str = "", polls: int = 0
    ) -> FakeOutcome:
        """After ``polls`` polls that report running, reading the operation raises
        ``PollError`` with ``status_code`` (one that polling again would meet again)."""
        return cls(
            outcome=FakeOutcomeKind.POLL_FAILED,
            polls=polls,
            status_code=status_code,
            detail=detail or _RPC_MESSAGE.get(status_code, ""),
        )

    @classmethod
    def operation_not_found(cls, *, polls: int = 0) -> FakeOutcome:
        """After ``polls`` polls that report running, the operation is unknown (HTTP 404)."""
        kind = FakeOutcomeKind.OPERATION_NOT_FOUND
        return cls(outcome=kind, polls=polls, status_code=404, detail=_GONE)

    @classmethod
    def timeout(cls) -> FakeOutcome:
        """Never done: every poll reports running, so the orchestrator times the job out."""
        return cls(outcome=FakeOutcomeKind.TIMEOUT)


def scripted(outcome: FakeOutcome | str, polls: int | None = None) -> FakeOutcome:
    """``outcome`` as a :class:`FakeOutcome`, a name parsed (and checked) now."""
    if isinstance(outcome, FakeOutcome):
        if polls is not None:
            raise TypeError(
                "polls= goes with an outcome's name; a FakeOutcome carries its own "
                "(FakeOutcome.success(polls=2))"
            )
        return outcome
    return FakeOutcome.named(outcome, polls=polls or 0)


def _described(code: int, detail: str) -> str:
    """``HTTP 404 NOT_FOUND: <message>``, as the real adapter quotes an API error."""
    text = f"HTTP {code} {_RPC_STATUS.get(code, 'UNKNOWN')}"
    return f"{text}: {detail}" if detail else text


def refused(variant: str, model: str, outcome: FakeOutcome) -> SubmitError:
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
    what = f"submit of variant {variant!r}"
    return submit_refusal(what, model, code, _described(code, outcome.detail), {"error": error})


def poll_error(name: str, outcome: FakeOutcome) -> PollError:
    """The error the real adapter raises when reading the operation fails this way."""
    code = outcome.status_code or 403
    return PollError(
        f"poll of operation {name} failed: {_described(code, outcome.detail)}",
        operation_name=name,
        status_code=code,
    )
