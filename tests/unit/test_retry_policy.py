"""Backoff: bounded, jittered, and never shorter than a server's Retry-After (up to a cap);
and the one retry loop that submit, poll and download share."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from veo3_adapter import RetryPolicy
from veo3_adapter.retry import (
    NOTE_ATTR,
    Note,
    Transient,
    retry_after_seconds,
    retry_delay_from_error_body,
    retrying,
)

LOGGER = logging.getLogger("veo3_adapter.test_retry")


@pytest.mark.parametrize(
    ("retry", "expected"), [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (6, 30.0), (20, 30.0)]
)
def test_exponential_backoff_capped_without_jitter(retry: int, expected: float) -> None:
    policy = RetryPolicy(initial=1.0, multiplier=2.0, maximum=30.0, jitter=0.5)
    assert policy.delay(retry, rand=lambda: 0.0) == expected


def test_jitter_adds_up_to_its_fraction() -> None:
    policy = RetryPolicy(initial=2.0, jitter=0.5)
    assert policy.delay(1, rand=lambda: 1.0) == pytest.approx(3.0)
    assert policy.delay(1, rand=lambda: 0.5) == pytest.approx(2.5)


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [(7.0, 7.0), (0.5, 1.0), (10_000.0, 120.0), (None, 1.0)],
)
def test_retry_after_wins_when_longer_and_is_capped(
    retry_after: float | None, expected: float
) -> None:
    policy = RetryPolicy(initial=1.0, jitter=0.0, max_retry_after=120.0)
    assert policy.delay(1, retry_after, rand=lambda: 0.0) == expected


@pytest.mark.parametrize(
    "kwargs", [{"attempts": 0}, {"initial": -1.0}, {"jitter": -0.1}, {"maximum": -1.0}]
)
def test_nonsense_policies_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("7", 7.0),
        (" 120 ", 120.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("-3", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
        ("\u00b2", None),  # "²": isdigit() says yes, float() says no
        ("\u0663", None),  # an Arabic-Indic three: a digit, but not one HTTP allows
        ("1.5", None),  # delta-seconds are whole
        ("Fri, 31 Dec 99999 23:59:59 GMT", None),
    ],
)
def test_retry_after_header(header: str | None, expected: float | None) -> None:
    now = 1445412450.0  # 2015-10-21 07:27:30 UTC
    assert retry_after_seconds(header, now=lambda: now) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {
                "error": {
                    "code": 429,
                    "details": [
                        {"@type": "type.googleapis.com/google.rpc.QuotaFailure"},
                        "junk",
                        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "30s"},
                    ],
                }
            },
            30.0,
        ),
        ({"details": [{"@type": "google.rpc.RetryInfo", "retryDelay": "1.5s"}]}, 1.5),
        ({"error": {"details": [{"@type": "google.rpc.RetryInfo", "retryDelay": "x"}]}}, None),
        ({"error": {"details": "nope"}}, None),
        ({"error": "flat"}, None),
        (None, None),
    ],
)
def test_retry_delay_from_error_body(body: Any, expected: float | None) -> None:
    assert retry_delay_from_error_body(body) == expected


def test_thousands_of_attempts_stay_at_the_cap() -> None:
    assert RetryPolicy(attempts=5000, maximum=30.0).delay(4000, rand=lambda: 0.0) == 30.0


class Flaky(Exception):
    """A failure the tests below classify as transient."""


class Script:
    """A call that raises or returns its outcomes in turn, counting the calls."""

    def __init__(self, *outcomes: Exception | str) -> None:
        self.outcomes = list(outcomes)
        self.made = 0

    def __call__(self) -> str:
        self.made += 1
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def _flaky(exc: Exception) -> Transient | None:
    return (
        Transient(str(exc), retry_after=7.0 if "slow" in str(exc) else None)
        if isinstance(exc, Flaky)
        else None
    )


def _retrying(call: Script, slept: list[float], attempts: int = 4) -> str:
    result: str = retrying(
        call,
        what="poll of operation x",
        classify=_flaky,
        policy=RetryPolicy(attempts=attempts, initial=1.0, jitter=0.5),
        logger=LOGGER,
        sleep=slept.append,
        rand=lambda: 0.0,
    )
    return result


def test_retrying_waits_out_transient_failures_and_returns_the_answer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    slept: list[float] = []
    call = Script(Flaky("HTTP 503"), Flaky("slow HTTP 429"), "done")
    with caplog.at_level(logging.INFO, logger=LOGGER.name):
        assert _retrying(call, slept) == "done"
    assert slept == [1.0, 7.0]  # backoff, then the server's longer Retry-After
    assert [r.getMessage() for r in caplog.records] == [
        "poll of operation x: HTTP 503; retry 1 of 3 in 1.0s",
        "poll of operation x: slow HTTP 429; retry 2 of 3 in 7.0s",
    ]
    notes = [getattr(r, NOTE_ATTR) for r in caplog.records]
    assert notes == [
        Note(kind="retry", what="poll of operation x", delay=1.0),
        Note(kind="retry", what="poll of operation x", delay=7.0),
    ]


def test_retrying_raises_the_last_error_when_attempts_run_out() -> None:
    slept: list[float] = []
    last = Flaky("HTTP 503 (third)")
    call = Script(Flaky("HTTP 503"), Flaky("HTTP 503"), last)
    with pytest.raises(Flaky) as info:
        _retrying(call, slept, attempts=3)
    assert info.value is last
    assert call.made == 3 and slept == [1.0, 2.0]


def test_retrying_raises_a_final_error_at_once() -> None:
    slept: list[float] = []
    call = Script(Flaky("HTTP 503"), KeyError("final"), "never reached")
    with pytest.raises(KeyError):
        _retrying(call, slept)
    assert call.made == 2 and slept == [1.0]


def test_one_attempt_means_no_retry() -> None:
    slept: list[float] = []
    with pytest.raises(Flaky):
        _retrying(Script(Flaky("HTTP 503"), "never"), slept, attempts=1)
    assert slept == []
