"""The one retry loop: bounded exponential backoff with jitter that honours ``Retry-After``.

Submit, poll and download all go through :func:`retrying`; each says which of its failures
are worth another attempt (and what wait the server asked for) with a ``classify`` function.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from . import clock as _clock
from ._retrywatch import retry_seen

__all__ = [
    "NOTE_ATTR",
    "Note",
    "RetryPolicy",
    "Transient",
    "error_details",
    "retry_after_seconds",
    "retry_delay_from_error_body",
    "retrying",
]

T = TypeVar("T")

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")
# "... Please retry in 57.238747106s." (or "in 627.5ms."), as the live API words a 429.
_RETRY_IN_RE = re.compile(r"\bretry in (\d+(?:\.\d+)?)(ms|s)\b", re.IGNORECASE)


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How often and how long to wait before trying a transient failure again.

    ``attempts`` counts every try, the first included. The wait before retry *n* (from 1) is
    ``initial * multiplier**(n-1)`` capped at ``maximum``, plus up to ``jitter`` of itself at
    random; a server's ``Retry-After`` wins when it asks for longer, up to ``max_retry_after``.
    """

    attempts: int = 5
    initial: float = 1.0
    multiplier: float = 2.0
    maximum: float = 30.0
    jitter: float = 0.5
    max_retry_after: float = 120.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"RetryPolicy.attempts must be at least 1, got {self.attempts}")
        if min(self.initial, self.multiplier, self.maximum, self.jitter) < 0:
            raise ValueError("RetryPolicy delays must not be negative")

    def delay(
        self,
        retry: int,
        retry_after: float | None = None,
        rand: Callable[[], float] = random.random,
    ) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
        try:
            backoff = min(self.maximum, self.initial * self.multiplier ** (retry - 1))
        except OverflowError:  # thousands of attempts: the cap has long been reached
            backoff = self.maximum
        backoff += backoff * self.jitter * rand()
        if retry_after is not None:
            backoff = max(backoff, min(retry_after, self.max_retry_after))
        return backoff


def retry_after_seconds(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Parse a ``Retry-After`` header (seconds or an HTTP date) into seconds from now."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # not "²", which isdigit() accepts
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):
        return None
    try:
        return max(0.0, when.timestamp() - now())
    except (OverflowError, OSError, ValueError):  # a date the platform cannot represent
        return None


def error_details(body: Mapping[str, Any] | None, kind: str) -> list[Mapping[str, Any]]:
    """The ``details`` of a Google API error body whose ``@type`` names ``kind``.

    ``kind`` is the message name, e.g. ``"google.rpc.QuotaFailure"``; ``body`` is the
    answer's JSON, with or without its ``{"error": ...}`` wrapper.
    """
    if not isinstance(body, Mapping):
        return []
    error = body.get("error", body)
    details = error.get("details") if isinstance(error, Mapping) else None
    if not isinstance(details, list):
        return []
    return [
        detail
        for detail in details
        if isinstance(detail, Mapping) and str(detail.get("@type", "")).endswith(kind)
    ]


def retry_delay_from_error_body(body: Mapping[str, Any] | None) -> float | None:
    """The wait a Google API error body asks for, in seconds.

    ``google.rpc.RetryInfo.retryDelay`` ("57.238747106s") when there is one, else the
    message's "Please retry in 57.238747106s." (the live API's 429 says it in both places).
    """
    for detail in error_details(body, "google.rpc.RetryInfo"):
        match = _DURATION_RE.match(str(detail.get("retryDelay", "")))
        if match:
            return float(match.group(1))
    error = body.get("error", body) if isinstance(body, Mapping) else None
    message = error.get("message") if isinstance(error, Mapping) else None
    if isinstance(message, str) and (match := _RETRY_IN_RE.search(message)):
        seconds = float(match.group(1))
        return seconds / 1000 if match.group(2).lower() == "ms" else seconds
    return None


NOTE_ATTR = "veo3_note"
"""The ``LogRecord`` attribute that marks a record as a note for a progress view.

Log records that a person watching a run should see (a retry and its wait, a partial file
removed, a run stopping) carry a :class:`Note` under this attribute
(``extra={NOTE_ATTR: Note(...)}``); a view picks them by the attribute, never by their wording.
"""


@dataclass(frozen=True)
class Note:
    """Something worth telling the person watching: what happened, to which request."""

    kind: str  # "retry", "cleanup" or "stop"
    what: str  # e.g. "poll of operation models/m/operations/x"
    delay: float | None = None  # seconds until the next attempt, for a retry


@dataclass(frozen=True)
class Transient:
    """A failure another attempt may cure: why, and how long the server asked us to wait."""

    reason: str  # e.g. "HTTP 503" or "ConnectError"; never a secret
    retry_after: float | None = None


def retrying(
    call: Callable[[], T],
    *,
    what: str,
    classify: Callable[[Exception], Transient | None],
    policy: RetryPolicy,
    logger: logging.Logger,
    sleep: Callable[[float], None] = _clock.sleep,
    rand: Callable[[], float] = random.random,
) -> T:
    """Return ``call()``, calling it again after a wait while its error is transient.

    ``classify`` turns an error into a :class:`Transient` or ``None`` (final: raised at once).
    After ``policy.attempts`` tries the last error is raised as it was. Every retry is logged
    at INFO on ``logger`` with a :class:`Note` under :data:`NOTE_ATTR`; ``what`` names the
    request in that line ("poll of operation models/m/operations/x").
    """
    attempt = 1
    while True:
        try:
            return call()
        except Exception as exc:
            failure = classify(exc)
            if failure is None or attempt >= policy.attempts:
                raise
        delay = policy.delay(attempt, failure.retry_after, rand)
        logger.info(
            "%s: %s; retry %d of %d in %.1fs",
            what,
            failure.reason,
            attempt,
            policy.attempts - 1,
            delay,
            extra={NOTE_ATTR: Note(kind="retry", what=what, delay=delay)},
        )
        retry_seen(failure, delay)  # a driver of many jobs may hold them all meanwhile
        sleep(delay)
        attempt += 1
