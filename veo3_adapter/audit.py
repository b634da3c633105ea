"""Find credentials in recorded files, in every form a recording can hold them.

What counts as a credential comes from :mod:`._secrets` (the only module that knows):

- Google API keys, OAuth access tokens and PEM private keys, written plainly, with any
  characters percent-encoded or ``\\u``/``\\x``-escaped, or base64-encoded (standard or
  URL-safe alphabet);
- bearer tokens (``Bearer <opaque token>``) anywhere, not only in a header line;
- credential headers (request and response) whose value is not the redaction marker;
- ``key=`` and ``access_token=`` query parameters whose value is not the marker;
- a recorded request's URL (a cassette's ``uri:``) naming a Google Cloud project or bucket
  other than the placeholders a Vertex AI recording keeps (:mod:`._placeholders`).

Encoded data is opened and searched too: YAML ``!!binary`` scalars (base64-decoded), gzip
data (decompressed as a stream, up to ``AuditLimits.max_inflated`` bytes) and UTF-16 text
(decoded). Everything is streamed: a file, and each layer opened inside it, is searched in
chunks that overlap by more than any match needs (:class:`AuditLimits`), so memory stays flat
whatever the file's size (under 40 MB resident for a 400 MB file). Each finding names its
file and the line (text) or byte offset (binary data) where it starts; a finding inside a
``!!binary`` scalar is reported on the tag's line, with its place in the decoded body.

A key-shaped run inside a longer run of letters and digits is not reported: base64 text
(an inline video) holds one every ~50 MB by chance.
"""

from __future__ import annotations

import binascii
import codecs
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ._audit_search import AuditLimits, Emit, Search

__all__ = ["DEFAULT_LIMITS", "AuditLimits", "Finding", "audit_file", "audit_paths"]

DEFAULT_LIMITS = AuditLimits()
_MAX_DEPTH = 4  # layers opened inside one another (gzip in a !!binary body in ...)
_SNIFF = 4096  # bytes looked at to tell gzip, UTF-16, text and binary data apart
_LINE_HEAD = 4096  # of a longer line, only this much is read for a YAML tag
_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_"
_NOT_BASE64 = bytes(b for b in range(256) if b not in _BASE64_ALPHABET)
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


@dataclass(frozen=True)
class Finding:
    """One secret-shaped thing in a file: at a line (text) or a byte offset (binary)."""

    path: Path
    line: int
    what: str
    offset: int | None = None

    def __str__(self) -> str:
        where = str(self.line) if self.line else f"byte {self.offset or 0}"
        return f"{self.path}:{where}: {self.what}"


# -- layers ----------------------------------------------------------------------------------


class _Sink(Protocol):
    def feed(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class _Base64:
    """Decodes base64 text fed in pieces (standard or URL-safe; anything else is skipped)."""

    def __init__(self, sink: _Sink) -> None:
        self._sink = sink
        self._rest = b""

    def feed(self, text: bytes) -> None:
        text = self._rest + text.translate(_FROM_URLSAFE, _NOT_BASE64)
        usable = len(text) // 4 * 4
        if usable:
            self._sink.feed(binascii.a2b_base64(text[:usable]))
        self._rest = text[usable:]

    def close(self) -> None:
        if len(self._rest) > 1:  # a last group of 2 or 3 characters still holds bytes
            self._sink.feed(binascii.a2b_base64(self._rest + b"=" * (-len(self._rest) % 4)))
        self._sink.close()


class _Inflate:
    """Decompresses gzip (or zlib) data as it comes, member after member, a chunk at a time
    and up to ``max_inflated`` bytes; corrupt data ends it (what came before is searched)."""

    def __init__(self, sink: _Sink, emit: Emit, limits: AuditLimits) -> None:
        self._sink = sink
        self._emit = emit
        self._limits = limits
        self._inflater = zlib.decompressobj(wbits=47)
        self._total = 0
        self._done = False

    def feed(self, data: bytes) -> None:
        while not self._done:
            try:
                out = self._inflater.decompress(data, self._limits.chunk)
            except zlib.error:
                self._done = True
                return
            self._total += len(out)
            if self._total > self._limits.max_inflated:
                self._done = True
                self._emit(
                    0,
                    self._limits.max_inflated,
                    f"gzip-compressed data larger than {self._limits.max_inflated} bytes "
                    "decompressed: the rest was not searched",
                )
                return
            self._sink.feed(out)
            if self._inflater.eof:
                data = self._inflater.unused_data  # another member may follow
                if not data:
                    return
                self._inflater = zlib.decompressobj(wbits=47)
                continue
            data = self._inflater.unconsumed_tail
            if not data and len(out) < self._limits.chunk:
                return

    def close(self) -> None:
        self._sink.close()


class _Utf16:
    """Decodes UTF-16 text as it comes, into UTF-8 for the text search."""

    def __init__(self, encoding: str, sink: _Sink) -> None:
        self._decoder = codecs.getincrementaldecoder(encoding)("replace")
        self._sink = sink

    def feed(self, data: bytes) -> None:
        self._sink.feed(self._decoder.decode(data).encode("utf-8", "replace"))

    def close(self) -> None:
        self._sink.feed(self._decoder.decode(b"", final=True).encode("utf-8", "replace"))
        self._sink.close()


# -- YAML !!binary scalars -------------------------------------------------------------------

_TAG = re.compile(rb"([ \t]*)(?:-[ \t]+)?(?:[^:\n]*:[ \t]+)?!!binary(?![^ \t\r])[ \t]*(.*)", re.S)


class _Blocks:
    """Finds YAML ``!!binary`` scalars in text and searches what they decode to.

    A finding inside one is reported on the tag's line, with its place in the decoded body.
    Lines are looked at only where a tag can be (a chunk holding ``!!binary``) or inside a
    scalar; of a line longer than :data:`_LINE_HEAD`, the head is read for a tag.
    """

    def __init__(self, emit: Emit, limits: AuditLimits, depth: int) -> None:
        self._emit = emit
        self._limits = limits
        self._depth = depth
        self._carry = b""  # the start of a line whose end has not come yet
        self._line = 1  # the line the carried bytes (or the next data) start on
        self._mid_line = False  # the next data continues a line whose head was read
        self._content = False  # ... and that line belongs to the open scalar
        self._indent = -1  # the open scalar's tag indentation (its lines are deeper)
        self._body: _Base64 | None = None

    def feed(self, data: bytes) -> None:
        data = self._carry + data
        self._carry = b""
        if self._body is None and b"!!binary" not in data:
            self._skip(data)
            return
        pos = 0
        while pos < len(data):
            newline = data.find(b"\n", pos)
            end = len(data) if newline < 0 else newline
            if newline < 0 and not self._mid_line and end - pos <= _LINE_HEAD:
                self._carry = data[pos:]  # wait for the line's end (or a longer head)
                return
            if self._mid_line:
                if self._content and self._body is not None:
                    self._body.feed(data[pos:end])
            else:
                self._line_head(data[pos:end])
            self._mid_line = newline < 0
            if newline >= 0:
                self._line += 1
            pos = end + 1

    def close(self) -> None:
        if self._carry and not self._mid_line:
            self._line_head(self._carry)
        self._end_scalar()

    def _skip(self, data: bytes) -> None:
        """No tag and no open scalar: count lines, carry the last line's head."""
        newline = data.rfind(b"\n")
        if newline >= 0:
            self._line += data.count(b"\n")
            self._mid_line = False
        tail = data[newline + 1 :]
        if self._mid_line:
            return
        if len(tail) <= _LINE_HEAD:
            self._carry = tail
        else:
            self._line_head(tail)  # a long line: its head decides, the rest is skipped
            self._mid_line = True

    def _line_head(self, head: bytes) -> None:
        self._content = False
        if self._body is not None:
            stripped = head.lstrip(b" \t")
            if not stripped.strip() or len(head) - len(stripped) > self._indent:
                self._body.feed(stripped)
                self._content = True
                return
            self._end_scalar()
        tag = _TAG.match(head)
        if tag is None:
            return
        self._indent = len(tag.group(1))
        self._body = _Base64(_Sniff(self._inside(self._line), self._limits, self._depth + 1))
        inline = tag.group(2)
        if inline[:1] not in (b"|", b">"):
            self._body.feed(inline)  # a plain or quoted scalar on the tag's line
            self._content = True

    def _inside(self, line: int) -> Emit:
        def emit(inner_line: int, offset: int, what: str) -> None:
            where = f"decoded line {inner_line}" if inner_line else f"decoded byte {offset}"
            self._emit(line, 0, f"{what} in a !!binary body ({where})")

        return emit

    def _end_scalar(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None


class _Text:
    """Text: searched as it is, and its ``!!binary`` scalars decoded and searched."""

    def __init__(self, emit: Emit, limits: AuditLimits, depth: int) -> None:
        self._scan = Search(emit, limits, text=True)
        self._blocks = _Blocks(emit, limits, depth) if depth < _MAX_DEPTH else None

    def feed(self, data: bytes) -> None:
        self._scan.feed(data)
        if self._blocks is not None:
            self._blocks.feed(data)

    def close(self) -> None:
        self._scan.close()
        if self._blocks is not None:
            self._blocks.close()


# -- telling data apart ----------------------------------------------------------------------


def _suffixed(emit: Emit, suffix: str) -> Emit:
    return lambda line, offset, what: emit(line, offset, f"{what} {suffix}")


def _utf16(head: bytes) -> str | None:
    """The UTF-16 codec ``head`` is written in, if it is UTF-16 text."""
    if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return "utf-16"
    pairs = len(head) // 2
    if pairs < 8:
        return None
    even, odd = head[0 : pairs * 2 : 2].count(0), head[1 : pairs * 2 : 2].count(0)
    if odd > pairs * 0.3 and even < pairs * 0.05:  # ASCII in UTF-16-LE: "a\0b\0"
        return "utf-16-le"
    if even > pairs * 0.3 and odd < pairs * 0.05:
        return "utf-16-be"
    return None


def _open(head: bytes, emit: Emit, limits: AuditLimits, depth: int) -> _Sink:
    """The search for data that starts with ``head``."""
    if depth < _MAX_DEPTH and head[:2] == b"\x1f\x8b":
        inner = _Sniff(_suffixed(emit, "in gzip-compressed data"), limits, depth + 1)
        return _Inflate(inner, emit, limits)
    encoding = _utf16(head) if depth < _MAX_DEPTH else None
    if encoding is not None:
        return _Utf16(encoding, _Text(_suffixed(emit, "in UTF-16 text"), limits, depth + 1))
    if b"\0" not in head:
        return _Text(emit, limits, depth)
    return Search(emit, limits, text=False)


class _Sniff:
    """Holds the first bytes until it can tell what the data is, then hands them on."""

    def __init__(self, emit: Emit, limits: AuditLimits, depth: int) -> None:
        self._emit = emit
        self._limits = limits
        self._depth = depth
        self._head = b""
        self._sink: _Sink | None = None

    def feed(self, data: bytes) -> None:
        if self._sink is not None:
            self._sink.feed(data)
            return
        self._head += data
        if len(self._head) >= _SNIFF:
            self._start()

    def close(self) -> None:
        if self._sink is None:
            self._start()
        assert self._sink is not None
        self._sink.close()

    def _start(self) -> None:
        head, self._head = self._head, b""
        self._sink = _open(head, self._emit, self._limits, self._depth)
        self._sink.feed(head)


# -- files -----------------------------------------------------------------------------------


def _files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file())
        else:
            yield path


def audit_file(path: Path, limits: AuditLimits = DEFAULT_LIMITS) -> list[Finding]:
    """Every finding in one file, in file order (streamed: memory stays flat)."""
    found: list[tuple[int, int, str]] = []
    search = _Sniff(lambda line, offset, what: found.append((line, offset, what)), limits, 0)
    with path.open("rb") as handle:
        while data := handle.read(limits.chunk):
            search.feed(data)
    search.close()
    found.sort(key=lambda f: (f[0], f[1]))
    return [Finding(path, line, what, None if line else offset) for line, offset, what in found]


def audit_paths(paths: Iterable[Path], limits: AuditLimits = DEFAULT_LIMITS) -> list[Finding]:
    """Audit files and directories (recursively); raises ``FileNotFoundError`` for a bad path."""
    findings: list[Finding] = []
    for path in _files(paths):
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file or directory")
        if path.is_file():  # a FIFO or a device is not a recording (and could block)
            findings.extend(audit_file(path, limits))
    return findings
