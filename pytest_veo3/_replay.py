"""Replay: how requests are matched, and what a miss says.

A request the cassette has no (unplayed) answer for raises :class:`CassetteMismatchError`
naming the request (scrubbed), the cassette, the closest recorded request with the matchers
it failed, and the command that re-records it. Everything read from vcrpy's error is its
documented public attributes (``cassette``, ``reason``, ``similar_requests``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from ._scrub import Scrubber

__all__ = ["MATCH_ON", "CassetteMismatchError", "ReplayTransport", "missing_cassette", "no_network"]

MATCH_ON = ("method", "scheme", "host", "port", "path", "query")
"""What a replayed request must share with a recorded one (bodies and headers may differ)."""


class CassetteMismatchError(AssertionError):
    """The code under test made a request the cassette has no (unplayed) answer for."""


def missing_cassette(path: Path, rerecord_hint: str = "") -> CassetteMismatchError:
    """The error for replaying a cassette that does not exist."""
    return CassetteMismatchError(
        f"veo3: cassette {path} does not exist"
        + (f"; record it with: {rerecord_hint}" if rerecord_hint else "")
    )


class ReplayTransport(httpx.BaseTransport):
    """Wraps the (vcrpy-patched) transport and turns vcrpy's miss into a useful error."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        *,
        cassette: Any = None,
        rerecord_hint: str = "",
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
                lines.append(f"    differs in {matcher}: {' '.join(str(message).split())[:200]}")
        elif cassette is not None and len(cassette) == 0:
            lines.append("  the cassette is empty or missing")
        if self._hint:
            lines.append(f"  to re-record: {self._hint}")
        return "\n".join(lines)


def no_network() -> httpx.BaseTransport:
    """What replay stands on: vcrpy answers every request before this is reached.

    A real ``HTTPTransport`` would load the CA bundle (~15 ms) for nothing; vcrpy patches
    ``MockTransport`` as it patches ``HTTPTransport``.
    """

    def refuse(request: httpx.Request) -> httpx.Response:
        raise CassetteMismatchError(f"veo3: replay tried to send {request.method} to the network")

    return httpx.MockTransport(refuse)
