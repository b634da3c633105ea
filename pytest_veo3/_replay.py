"""Replay: how requests are matched, and what a miss says.

A request the cassette has no (unplayed) answer for raises :class:`CassetteMismatchError`
naming the request (scrubbed), the cassette, the closest recorded request with the matchers
it failed, and the command that re-records it. Everything read from vcrpy's error is its
documented public attributes (``cassette``, ``reason``, ``similar_requests``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

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
"""What every replayed request must share with a recorded one (headers may differ)."""
BODY_MATCHER = "veo3_body"
"""The name :func:`body` is registered under: your own cassettes also match the submit's
body (prompt and options); a built-in scenario answers any prompt."""
ANY_PROMPT_HEADER = "x-veo3-any-prompt"
"""Set on a recorded request (never sent) that answers any prompt: a built-in scenario's, in a
composed cassette. The body matcher then compares only the operation a request names."""
PART_HEADER = "x-veo3-part"
"""On a composed cassette's recorded submits, the cassette (``<position>:<name>``) they come
from; on a replayed submit, the cassette whose turn it is. The body matcher wants both equal,
so each submit is answered by the next cassette of the marker, in order."""


def _parsed(raw: object) -> object:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes | bytearray) else raw
    try:
        return json.loads(str(text or "null"))
    except ValueError:
        return text


def _differences(asked: object, recorded: object, where: str = "") -> list[str]:
    """Where two JSON values differ, as ``path: asked X, recorded Y`` (at most three)."""
    if isinstance(asked, dict) and isinstance(recorded, dict):
        found: list[str] = []
        for key in sorted(set(asked) | set(recorded), key=str):
            inner = f"{where}.{key}" if where else str(key)
            missing = "(none)"
            found += _differences(asked.get(key, missing), recorded.get(key, missing), inner)
        return found[:3]
    if isinstance(asked, list) and isinstance(recorded, list) and len(asked) == len(recorded):
        found = []
        for index, (one, other) in enumerate(zip(asked, recorded, strict=True)):
            found += _differences(one, other, f"{where}[{index}]")
        return found[:3]
    if asked == recorded:
        return []
    if isinstance(asked, str) and isinstance(recorded, str):
        asked, recorded = _distinct_tails(asked, recorded)
    return [f"{where or 'body'}: asked {_short(asked)}, recorded {_short(recorded)}"]


def _distinct_tails(asked: str, recorded: str) -> tuple[str, str]:
    """Two long paths that differ at the end (operation names) from their last shared
    ``/`` on, so that what differs is shown rather than cut off."""
    shared = len(os.path.commonprefix([asked, recorded]))
    cut = asked.rfind("/", 0, shared) + 1
    if max(len(asked), len(recorded)) <= _SHORT or cut < 20:
        return asked, recorded
    return "..." + asked[cut:], "..." + recorded[cut:]


_SHORT = 60


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _SHORT else text[: _SHORT - 3] + "..."


def body_matcher(*, any_prompt: bool = False) -> Callable[[Any, Any], None]:
    """The vcrpy matcher registered as :data:`BODY_MATCHER`; ``any_prompt`` for a cassette
    whose submits answer any prompt (a built-in scenario)."""

    def body(r1: Any, r2: Any) -> None:
        """vcrpy matcher: a submit (a POST) asks for what was recorded, the same prompt and
        options (compared as JSON); other requests have no body to compare. A recorded
        request answering any prompt (``any_prompt``, or marked :data:`ANY_PROMPT_HEADER`)
        matches any prompt and options, but still only a poll of the operation it recorded
        (a POST that names one)."""
        if r1.method != "POST" or r2.method != "POST":
            return
        turn, part = _header(r1, PART_HEADER), _header(r2, PART_HEADER)
        if turn is not None and part is not None and turn != part:
            raise AssertionError(f"this submit is for cassette {turn}, this one is from {part}")
        asked, recorded = _parsed(r1.body), _parsed(r2.body)
        if any_prompt or _header(r2, ANY_PROMPT_HEADER) is not None:
            asked, recorded = _operation(asked), _operation(recorded)
        if asked != recorded:
            raise AssertionError("; ".join(_differences(asked, recorded)))

    return body


body = body_matcher()
"""The body matcher of a cassette of one's own (and of a composition)."""


def _header(request: Any, name: str) -> str | None:
    headers = getattr(request, "headers", None) or {}
    for key, value in headers.items():
        if str(key).lower() == name:
            return str(value[0] if isinstance(value, list | tuple) and value else value)
    return None


def _operation(value: object) -> object:
    """The operation a request body names (a Vertex poll), if any."""
    return {"operationName": value.get("operationName")} if isinstance(value, dict) else None


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
                lines.append(f"    differs in {matcher}: {' '.join(str(message).split())[:200]}")
        elif cassette is not None and len(cassette) == 0:
            lines.append("  the cassette is empty or missing")
        hint = self._hint() if callable(self._hint) else self._hint
        if hint:
            lines.append(f"  to re-record: {hint}")
        return "\n".join(lines)


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
