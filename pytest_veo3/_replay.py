"""Replay: what a miss says (how bodies are matched: :mod:`._match`).

A request the cassette has no (unplayed) answer for raises :class:`CassetteMismatchError`
naming the request (scrubbed), the cassette, the closest recorded request with the matchers
it failed, and the command that re-records it. Everything read from vcrpy's error is its
documented public attributes (``cassette``, ``reason``, ``similar_requests``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

from ._match import ANY_PROMPT_HEADER, BODY_MATCHER, PART_HEADER, body, body_matcher
from ._scrub import Scrubber

__all__ = [
    "ANY_PROMPT_HEADER",
    "BODY_MATCHER",
    "MATCH_ON",
    "PART_HEADER",
    "CassetteMismatchError",
    "MissLog",
    "ReplayTransport",
    "body",
    "body_matcher",
    "missing_cassette",
    "no_network",
    "unplayed",
    "unplayed_failure",
]

MATCH_ON = ("method", "scheme", "host", "port", "path", "query")
"""What every replayed request must share with a recorded one (headers may differ); the
body is compared by :data:`~._match.BODY_MATCHER`."""


class CassetteMismatchError(AssertionError):
    """The code under test made a request the cassette has no (unplayed) answer for."""


def missing_cassette(
    path: Path, rerecord_hint: str | Callable[[], str] = ""
) -> CassetteMismatchError:
    """The error for replaying a cassette that does not exist."""
    if callable(rerecord_hint):
        rerecord_hint = rerecord_hint()
    return CassetteMismatchError(
        f"veo3: cassette {path} does not exist"
        + (f"; record it with: {rerecord_hint}" if rerecord_hint else "")
    )


class MissLog(httpx.BaseTransport):
    """The outermost transport: remembers every cassette miss it passes on (``misses``).

    Code under test may catch the error (a pipeline that turns any exception into a failed
    job does); the test must still fail, so the fixture checks ``misses`` at teardown.
    """

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self._inner = inner
        self.misses: list[str] = []
        self.prepare: Callable[[httpx.Request], None] | None = None
        """Called with each request before it is passed on (a composed cassette marks whose
        turn a submit is)."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.prepare is not None:
            self.prepare(request)
        try:
            return self._inner.handle_request(request)
        except CassetteMismatchError as exc:
            self.misses.append(str(exc))
            raise

    def close(self) -> None:
        self._inner.close()


class ReplayTransport(httpx.BaseTransport):
    """Wraps the (vcrpy-patched) transport and turns vcrpy's miss into a useful error.

    ``rerecord_hint`` is the command that records the cassette again, or a function that
    says it (asked only on a miss)."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        *,
        cassette: Any = None,
        rerecord_hint: str | Callable[[], str] = "",
        scrubber: Scrubber | None = None,
    ) -> None:
        self._inner = inner
        self._cassette = cassette
        self._hint = rerecord_hint
        self._scrubber = scrubber or Scrubber()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        from vcr.errors import CannotOverwriteExistingCassetteException

        try:
            return self._inner.handle_request(request)
        except CannotOverwriteExistingCassetteException as exc:
            raise CassetteMismatchError(self.mismatch_message(request, exc)) from None

    def close(self) -> None:
        self._inner.close()

    def mismatch_message(self, request: httpx.Request, exc: Any) -> str:
        """What was asked, of which cassette, what came closest, and how to re-record."""
        cassette = getattr(exc, "cassette", None) or self._cassette
        path = getattr(cassette, "path", "?")
        # The scrubbed URL, query included (it is matched on), "?" only when there is one.
        lines = [
            f"veo3: cassette {path} has no unplayed answer for "
            f"{request.method} {self._scrubber.url(str(request.url))}",
        ]
        reason = getattr(exc, "reason", "")
        if reason == "already_played":
            lines.append(
                "  every matching recorded request has been played already (the code under "
                "test asked more often than when it was recorded)"
            )
        similar = getattr(exc, "similar_requests", None) or []
        if similar:
            stored, _ok, failed = similar[0]
            lines.append(f"  closest recorded request: {stored.method} {stored.uri}")
            for matcher, message in failed:
                lines.append(f"    differs in {matcher}: {' '.join(str(message).split())[:_SHOWN]}")
        elif cassette is not None and len(cassette) == 0:
            lines.append("  the cassette is empty or missing")
        hint = self._hint() if callable(self._hint) else self._hint
        if hint:
            lines.append(f"  to re-record: {hint}")
        return "\n".join(lines)


_SHOWN = 400
"""Characters of a matcher's message a miss shows (a submit's differences fit)."""


def no_network() -> httpx.BaseTransport:
    """What replay stands on: vcrpy answers every request before this is reached.

    A real ``HTTPTransport`` would load the CA bundle (~15 ms) for nothing; vcrpy patches
    ``MockTransport`` as it patches ``HTTPTransport``.
    """

    def refuse(request: httpx.Request) -> httpx.Response:
        raise CassetteMismatchError(f"veo3: replay tried to send {request.method} to the network")

    return httpx.MockTransport(refuse)


def unplayed(cassette: Any, owners: Sequence[str] = ()) -> list[str]:
    """``METHOD URL`` (redacted: no query) of each recorded request never replayed, in
    recorded order, with the cassette it comes from when ``owners`` names one per
    interaction. Empty for a cassette being recorded: what it records is new, not owed."""
    from veo3_adapter._http import redact_url

    if not cassette.write_protected:
        return []
    counts = cassette.play_counts
    return [
        f"{request.method} {redact_url(str(request.uri))}"
        + (f" (from {owners[index]})" if index < len(owners) else "")
        for index, request in enumerate(cassette.requests)
        if not counts.get(index, 0)
    ]


def unplayed_failure(path: Path, left: Sequence[str], recorded: int, limit: int = 10) -> str:
    """Why a test that left recorded requests unplayed fails, and how to allow it."""
    shown = "".join(f"\n  {line}" for line in left[:limit])
    more = f"\n  ({len(left) - limit} more)" if len(left) > limit else ""
    return (
        f"veo3: {len(left)} of the {recorded} requests recorded in {path} were never made "
        "(the code under test stopped early or asked for less):"
        f"{shown}{more}\n"
        "  to allow it: @pytest.mark.veo3_cassette(..., allow_unplayed=True) on the test, or "
        "veo3_allow_unplayed = true in the ini file"
    )
