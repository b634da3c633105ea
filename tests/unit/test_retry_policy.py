"""Backoff: bounded, jittered, and never shorter than a server's Retry-After (up to a cap)."""

from __future__ import annotations

from typing import Any

import pytest

from veo3_adapter import RetryPolicy
from veo3_adapter.retry import retry_after_seconds, retry_delay_from_error_body


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
