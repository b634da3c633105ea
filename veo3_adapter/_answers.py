"""Bounds on the JSON answers the SDK reads and parses: size and nesting depth.

google-genai reads a whole answer into memory, decodes it and hands it to ``json.loads``; a
150 MB answer costs several times that in memory, and one nested a few thousand levels deep
makes the parser raise ``RecursionError``. :func:`limit_answers` puts a response hook on an
``httpx.Client`` that, while :func:`answer_limits` is active on the calling thread, checks
each answer as it streams in: it counts the bytes on the wire and, once decoded (gzip and
deflate are decoded on the side to count them), the bytes the SDK will see, and it follows
the nesting of brackets outside strings. The first byte past a limit ends the read with
:class:`AnswerLimitError`, before the SDK has buffered or parsed anything more.

Outside :func:`answer_limits` the hook does nothing, so a client shared with other code (or
used for the clip download, which is bounded by its own limits) is not affected.
"""

from __future__ import annotations

import contextlib
import re
import zlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from itertools import accumulate

import httpx

from .errors import ConfigurationError

__all__ = [
    "ACCEPT_ENCODING",
    "DEFAULT_MAX_ANSWER_BYTES",
    "DEFAULT_MAX_ANSWER_DEPTH",
    "AnswerLimitError",
    "AnswerLimits",
    "answer_limits",
    "limit_answers",
]

DEFAULT_MAX_ANSWER_BYTES = 8 << 20
"""The largest JSON answer read (8 MiB); an operation answer is a few hundred bytes."""
DEFAULT_MAX_ANSWER_DEPTH = 64
"""The deepest nesting of arrays and objects accepted; an operation answer has about six."""
ACCEPT_ENCODING = "gzip, deflate"
"""What the SDK's requests accept: the encodings whose decoded size the hook can count."""

_DECODED_CODINGS = frozenset({"gzip", "deflate"})
_INFLATE_STEP = 1 << 16  # decoded bytes produced per step, so a bomb never inflates at once


class AnswerLimitError(Exception):
    """An answer passed ``max_answer_bytes`` or ``max_answer_depth``, or came in an
    encoding whose size cannot be counted; it was not parsed.

    ``limit`` names the setting (``"max_answer_bytes"``, ``"max_answer_depth"``, or
    ``"content-encoding"``); ``status_code`` is the answer's HTTP status.
    """

    def __init__(self, limit: str, message: str, *, status_code: int) -> None:
        super().__init__(message)
        self.limit = limit
        self.status_code = status_code


@dataclass(frozen=True)
class AnswerLimits:
    """The bounds :func:`answer_limits` activates."""

    max_bytes: int = DEFAULT_MAX_ANSWER_BYTES
    max_depth: int = DEFAULT_MAX_ANSWER_DEPTH

    @classmethod
    def checked(cls, max_bytes: object, max_depth: object) -> AnswerLimits:
        """The limits, or ``ConfigurationError`` naming the setting that is not one."""
        for name, value in (("max_answer_bytes", max_bytes), ("max_answer_depth", max_depth)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"{name} must be a positive integer, got {value!r}")
        assert isinstance(max_bytes, int) and isinstance(max_depth, int)
        return cls(max_bytes=max_bytes, max_depth=max_depth)


_ACTIVE: ContextVar[AnswerLimits | None] = ContextVar("veo3_answer_limits", default=None)


@contextlib.contextmanager
def answer_limits(limits: AnswerLimits) -> Iterator[None]:
    """Apply ``limits`` to every answer a hooked client receives on this thread meanwhile."""
    token = _ACTIVE.set(limits)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def limit_answers(client: httpx.Client) -> None:
    """Give ``client`` the response hook (once; a no-op outside :func:`answer_limits`)."""
    hooks = client.event_hooks
    if _check_answer not in hooks.get("response", []):
        client.event_hooks = {**hooks, "response": [*hooks.get("response", []), _check_answer]}


def _check_answer(response: httpx.Response) -> None:
    limits = _ACTIVE.get()
    if limits is None:
        return
    meter = _Meter(limits, response.status_code)
    length = response.headers.get("content-length", "").strip()
    if length.isascii() and length.isdigit() and int(length) > limits.max_bytes:
        raise meter.too_large(
            f"announces {int(length)} bytes, more than max_answer_bytes ({limits.max_bytes})"
        )
    if response.is_stream_consumed:  # read already (a mock's or a recorder's answer)
        meter.count_raw(len(response.content))
        meter.count_decoded(response.content)
        return
    codings = [
        c.strip().lower()
        for c in response.headers.get_list("content-encoding", split_commas=True)
        if c.strip().lower() not in ("", "identity")
    ]
    if len(codings) > 1 or (codings and codings[0] not in _DECODED_CODINGS):
        raise AnswerLimitError(
            "content-encoding",
            f"the answer came with Content-Encoding {ascii(', '.join(codings)[:60])}, "
            f"not one of {ACCEPT_ENCODING} as asked; refused unread",
            status_code=response.status_code,
        )
    stream = response.stream
    if isinstance(stream, httpx.SyncByteStream):  # always, on the sync client hooked here
        response.stream = _LimitedStream(stream, meter, codings[0] if codings else "")


class _Meter:
    """Counts one answer's bytes and follows its nesting; raises at the first excess."""

    def __init__(self, limits: AnswerLimits, status_code: int) -> None:
        self._limits = limits
        self._status = status_code
        self._raw = 0
        self._decoded = 0
        self._depth = _DepthScan(limits.max_depth)

    def too_large(self, how: str) -> AnswerLimitError:
        return AnswerLimitError(
            "max_answer_bytes",
            f"the answer {how}; refused before parsing",
            status_code=self._status,
        )

    def count_raw(self, size: int) -> None:
        self._raw += size
        if self._raw > self._limits.max_bytes:
            raise self.too_large(f"passed max_answer_bytes ({self._limits.max_bytes}) on the wire")

    def count_decoded(self, data: bytes) -> None:
        self._decoded += len(data)
        if self._decoded > self._limits.max_bytes:
            raise self.too_large(f"passed max_answer_bytes ({self._limits.max_bytes}) once decoded")
        if not self._depth.feed(data):
            raise AnswerLimitError(
                "max_answer_depth",
                f"the answer nests arrays and objects more than max_answer_depth "
                f"({self._limits.max_depth}) levels deep; refused before parsing",
                status_code=self._status,
            )


class _LimitedStream(httpx.SyncByteStream):
    """The raw stream, counted (and decoded on the side, for gzip and deflate) as it is read."""

    def __init__(self, stream: httpx.SyncByteStream, meter: _Meter, coding: str) -> None:
        self._stream = stream
        self._meter = meter
        self._inflate = _Inflate(coding) if coding else None

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._stream:
            self._meter.count_raw(len(chunk))
            if self._inflate is None:
                self._meter.count_decoded(chunk)
            else:
                for piece in self._inflate.feed(chunk):
                    self._meter.count_decoded(piece)
            yield chunk

    def close(self) -> None:
        self._stream.close()


class _Inflate:
    """gzip or deflate decoding, as httpx does it, in pieces of at most 64 KiB.

    Only for counting: httpx decodes the body again for the SDK. Data that does not decode
    stops the counting here; httpx then raises its own ``DecodingError``.
    """

    def __init__(self, coding: str) -> None:
        self._coding = coding
        self._first = True
        self._broken = False
        self._obj = zlib.decompressobj(zlib.MAX_WBITS | 16 if coding == "gzip" else zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data and not self._broken and not self._obj.eof:
            try:
                piece = self._obj.decompress(data, _INFLATE_STEP)
            except zlib.error:
                if self._coding == "deflate" and self._first:  # raw deflate, no zlib header
                    self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
                    self._first = False
                    continue
                self._broken = True
                return
            self._first = False
            data = self._obj.unconsumed_tail
            if piece:
                yield piece


# A whole string (possessive: no backtracking), and the rest of one begun in an earlier piece.
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_STRING_REST = re.compile(rb'(?:[^"\\]++|\\.)*+"', re.DOTALL)
_BRACKETS_ONLY = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


class _DepthScan:
    """Follows the nesting of ``[``/``{`` outside JSON strings, fed in arbitrary pieces.

    Strings are cut out and brackets counted by C loops (``re.sub``, ``translate``,
    ``accumulate``), so even an answer made only of brackets or of short strings costs
    little next to parsing it.
    """

    def __init__(self, max_depth: int) -> None:
        self._max = max_depth
        self._depth = 0
        self._in_string = False
        self._escaped = False  # a piece ended on an unpaired backslash inside a string

    def feed(self, data: bytes) -> bool:
        """Scan ``data``; False as soon as the nesting passes the limit."""
        pos = 0
        if self._in_string:
            if self._escaped:
                if not data:
                    return True
                pos, self._escaped = 1, False
            rest = _STRING_REST.match(data, pos)
            if rest is None:
                self._escaped = _ends_escaped(data[pos:])
                return True
            pos, self._in_string = rest.end(), False
        # A closing quote at the end (after a letter when an escape is pending there) makes
        # the piece's last string, if it goes on in the next piece, end here: cut out with the
        # others in one pass, never searched for to the end from every quote inside it.
        tail = data[pos:]
        pending = _ends_escaped(tail)
        outside = _STRING.sub(b"", tail + (b'x"' if pending else b'"'))
        # Left over: the closing quote itself if no string was open at the end.
        self._in_string = not outside.endswith(b'"')
        self._escaped = self._in_string and pending
        brackets = outside.translate(None, _BRACKETS_ONLY)
        if brackets:
            steps = map(_STEP.__getitem__, brackets)
            if max(accumulate(steps, initial=self._depth)) > self._max:
                return False
            opened = brackets.count(b"[") + brackets.count(b"{")
            self._depth += 2 * opened - len(brackets)
        return True


def _ends_escaped(content: bytes) -> bool:
    """Whether string ``content`` (from a point where no escape is open) ends on an
    unpaired backslash."""
    return (len(content) - len(content.rstrip(b"\\"))) % 2 == 1
