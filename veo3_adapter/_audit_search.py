"""The search :mod:`.audit` runs over every stream: what it looks for, chunk by chunk.

Patterns, header and parameter names all come from :mod:`._secrets`; where a Google Cloud
project or bucket is named, from :mod:`._placeholders`. A stream is fed in pieces and
searched in chunks that overlap by more than any match needs, so a match is never cut in two
and memory never holds more than one chunk and its overlap.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ._placeholders import REFERENCES
from ._secrets import (
    BASE64_CANDIDATE,
    BYTE_SHAPES,
    ESCAPED_BYTE_SHAPES,
    MARKER,
    SECRET_QUERY_PARAMS,
    SECRET_REQUEST_HEADERS,
    SECRET_RESPONSE_HEADERS,
    base64_shape,
    stands_alone,
)

__all__ = ["AuditLimits", "Emit", "Search"]

Emit = Callable[[int, int, str], None]
"""Where a finding starts in one stream: (line, or 0 for binary data; byte offset; what)."""


@dataclass(frozen=True, kw_only=True)
class AuditLimits:
    """How much of a file the audit holds at once, and how far it decompresses."""

    chunk: int = 1 << 20
    """Bytes searched at a time."""
    overlap: int = 1 << 16
    """Bytes each chunk shares with the next, more than any match needs (a PEM block is at
    most ~16 KiB, a fully escaped key 234 bytes): a match is never cut in two."""
    max_inflated: int = 1 << 30
    """Gzip data is decompressed up to this many bytes; more is reported, not searched."""


def _names(names: Iterable[str]) -> bytes:
    return b"|".join(re.escape(n.encode()) for n in sorted(names, key=lambda n: (-len(n), n)))


def _needles(words: Iterable[str]) -> tuple[bytes, ...]:
    """The words to look for, without those that hold another one (it is found anyway)."""
    unique = set(words)
    return tuple(sorted(w.encode() for w in unique if not any(o != w and o in w for o in unique)))


_HEADER_NAMES = sorted(SECRET_REQUEST_HEADERS | SECRET_RESPONSE_HEADERS)
# A header line (YAML, HTTP or JSON-ish), its value, and the next line when that is a YAML
# list item (vcrpy stores header values as lists).
_HEADER = re.compile(
    rb"^[ \t]*-?[ \t]*['\"]?(" + _names(_HEADER_NAMES) + rb")['\"]?[ \t]*:[ \t]*"
    rb"([^\r\n]{0,4096})(?:\r?\n[ \t]*(-)?[ \t]*([^\r\n]{0,4096}))?",
    re.IGNORECASE | re.MULTILINE,
)
_PARAM = re.compile(
    rb"[?&](?:amp;)?(" + _names(SECRET_QUERY_PARAMS) + rb")="
    rb"(?!\[?" + re.escape(MARKER.encode()) + rb"\b)[^&\s'\"]+",
    re.IGNORECASE,
)
_CLEAN_VALUES = {
    b"",
    *(
        f"{quote}{marker}{quote}".encode()
        for quote in ("", "'", '"')
        for marker in (MARKER.lower(), f"[{MARKER.lower()}]", f"['{MARKER.lower()}']")
    ),
}
# A recorded request's URL (vcrpy's "uri:" line): a Vertex AI recording names the project
# and the bucket there unless they were replaced by the placeholders. (Only there: jobs.json
# and logs of a run name its project, and rightly so.)
# (A literal start keeps the engine's fast scan; _describe checks that it starts a line.)
_URI = re.compile(rb"uri:[ \t]*([^\r\n]{1,8192})")
_PLAIN = dict(BYTE_SHAPES)
_ESCAPE_NAMES = ((b"%", "percent-encoded"), (b"\\u", "\\u-escaped"), (b"\\x", "\\x-escaped"))
# (kind, what, pattern), in the order findings at one place are listed. An "escaped" shape
# matches the plain one too; where a chunk holds no escape, the plain (faster) one is used.
_PATTERNS: tuple[tuple[str, str, re.Pattern[bytes]], ...] = (
    *(("escaped", what, p) for what, p in ESCAPED_BYTE_SHAPES),
    *(("plain", what, p) for what, p in BYTE_SHAPES if what not in dict(ESCAPED_BYTE_SHAPES)),
    ("base64", "", BASE64_CANDIDATE),
    ("param", "", _PARAM),
    ("header", "", _HEADER),
    ("uri", "", _URI),
)
# The case-insensitive patterns are slow: they run only on chunks that can hold a match.
_PREFILTER = {
    "param": _needles(f"{n}=" for n in SECRET_QUERY_PARAMS),
    "header": _needles(_HEADER_NAMES),
    "uri": (b"uri:",),
}
_CONTEXT = 8  # bytes kept before a chunk's first position


def _describe(kind: str, what: str, match: re.Match[bytes], buf: bytearray) -> str | None:
    """What a match is, or None when it turns out to be harmless."""
    if kind == "escaped":
        if not stands_alone(buf, match.start(), match.end()):
            return None  # a piece of a longer run of letters (base64 text), not a key
        text = match.group()
        how = next((how for sign, how in _ESCAPE_NAMES if sign in text), "")
        return f"{what} ({how})" if how else what
    if kind == "base64":
        found = base64_shape(bytes(buf[max(0, match.start() - 8) : match.end() + 16]))
        return f"{found} (base64-encoded)" if found else None
    if kind == "param":
        name = match.group(1).decode().lower()
        return f"{'an' if name[0] in 'aeiou' else 'a'} {name}= query parameter"
    if kind == "header":
        value = match.group(2)
        if not value.strip():
            if match.group(3) is None:
                return None  # a header name with no value is not a secret
            value = match.group(4)  # YAML: the value list on the next line
        if value.strip().lower() in _CLEAN_VALUES:
            return None
        return f"an unredacted {match.group(1).decode().lower()} header"
    if kind == "uri":
        line_start = buf.rfind(b"\n", 0, match.start()) + 1
        if bytes(buf[line_start : match.start()]).strip(b" \t-"):
            return None  # not a YAML "uri:" key (video_uri: ...)
        return _cloud_name(match.group(1))
    return what


def _cloud_name(url: bytes) -> str | None:
    """What real Google Cloud name a recorded URL holds (not a placeholder), if any."""
    for ref in REFERENCES:
        found = ref.byte_pattern.search(url)
        if found is not None and ref.named(found.group("name")):
            return f"{ref.what} in a recorded URL"
    return None


class Search:
    """Searches one stream fed in pieces, holding at most one chunk and its overlap."""

    def __init__(self, emit: Emit, limits: AuditLimits, *, text: bool) -> None:
        self._emit = emit
        self._limits = limits
        self._text = text
        self._buf = bytearray()
        self._start = 0  # where the unsearched part of the buffer begins
        self._offset = 0  # the stream offset of the buffer's first byte
        self._line = 1  # the line the buffer's first byte is on

    def feed(self, data: bytes) -> None:
        self._buf += data
        if len(self._buf) >= self._start + self._limits.chunk + self._limits.overlap:
            self._search(len(self._buf) - self._limits.overlap, final=False)

    def close(self) -> None:
        self._search(len(self._buf), final=True)

    def _search(self, limit: int, *, final: bool) -> None:
        """Report the matches that start before ``limit``, then drop what is done, keeping
        a few bytes before ``limit`` (so ``^`` knows whether a line starts there, and a key
        whether it stands alone)."""
        buf = self._buf
        lowered = bytes(buf).lower()
        hits: list[tuple[int, int, str]] = []
        for order, (kind, what, pattern) in enumerate(_PATTERNS):
            needles = _PREFILTER.get(kind)
            if needles is not None and not any(n in lowered for n in needles):
                continue
            chosen = pattern
            if kind == "escaped" and b"%" not in buf and b"\\" not in buf:
                chosen = _PLAIN[what]
            for match in chosen.finditer(buf, self._start):
                if match.start() >= limit and not final:
                    break  # the next chunk starts here and finds it whole
                described = _describe(kind, what, match, buf)
                if described:
                    hits.append((match.start(), order, described))
        del lowered
        hits.sort()
        line, counted = self._line, 0
        for position, _order, what in hits:
            if self._text:
                line += buf.count(b"\n", counted, position)
                counted = position
            self._emit(line if self._text else 0, self._offset + position, what)
        cut = max(limit - _CONTEXT, 0)
        if self._text:
            self._line += buf.count(b"\n", 0, cut)
        del buf[:cut]
        self._offset += cut
        self._start = limit - cut
