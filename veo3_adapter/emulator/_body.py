"""Streaming MP4 bodies: whole, a byte range of one, or cut short, never held in memory."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Literal, Protocol

import google_crc32c

from ..mp4 import iter_mp4, sample_clip
from ._wire import Cut, CutKind

__all__ = ["ByteRange", "crc32c_of", "iter_video", "parse_range", "served_body", "slice_chunks"]


class _Crc32c(Protocol):
    def update(self, chunk: bytes) -> None: ...
    def digest(self) -> bytes: ...


# google-crc32c ships without annotations; this is the part of it used here, typed.
_new_crc32c: Callable[[], _Crc32c] = google_crc32c.Checksum

_RANGE_RE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)

ByteRange = tuple[int, int]
"""First and last byte, inclusive, as in ``Content-Range``."""


def iter_video(size: int, seed: str, chunk_size: int) -> Iterator[bytes]:
    """The emulated video: the sample clip as is at its own size, else ``iter_mp4``."""
    clip = sample_clip()
    if size == len(clip):
        # iter_mp4 pads with a box of at least 8 bytes, so the sample itself has no seed.
        for start in range(0, len(clip), chunk_size):
            yield clip[start : start + chunk_size]
        return
    yield from iter_mp4(size, seed=seed, chunk_size=chunk_size)


def slice_chunks(chunks: Iterable[bytes], start: int, stop: int) -> Iterator[bytes]:
    """Bytes ``start`` to ``stop`` (exclusive) of the stream ``chunks``, skipping the rest."""
    offset = 0
    for chunk in chunks:
        end = offset + len(chunk)
        if end <= start:
            offset = end
            continue
        if offset >= stop:
            return
        if offset >= start and end <= stop:
            yield chunk  # most chunks of a range pass through without a copy
        else:
            yield chunk[max(start - offset, 0) : stop - offset]
        offset = end
        if offset >= stop:
            return


def parse_range(header: str | None, size: int) -> ByteRange | Literal[False] | None:
    """Read a single-range ``Range`` header against a body of ``size`` bytes.

    Returns the range to serve, ``None`` when the whole body should be served (no header,
    several ranges or a syntax the server may ignore, RFC 9110 14.2), or ``False`` when the
    range cannot be satisfied (416).
    """
    if not header:
        return None
    match = _RANGE_RE.match(header)
    if not match:
        return None
    first, last = match.group(1), match.group(2)
    if not first and not last:
        return None
    if not first:  # suffix range: the last N bytes
        length = int(last)
        if length == 0:
            return False
        return (max(size - length, 0), size - 1)
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        return False
    return (start, min(end, size - 1))


def crc32c_of(chunks: Iterable[bytes]) -> str:
    """The ``X-Goog-Hash`` value of a body: ``crc32c=`` and the big-endian CRC in base64."""
    checksum = _new_crc32c()
    for chunk in chunks:
        checksum.update(chunk)
    return "crc32c=" + base64.b64encode(checksum.digest()).decode("ascii")


def served_body(
    chunks: Iterable[bytes],
    *,
    expected: int,
    delay: float | None,
    sleep: Callable[[float], None],
    cut: tuple[int, CutKind] | None,
) -> Iterator[bytes | Cut]:
    """``chunks`` as a response body: ``delay`` between chunks, ended by ``cut`` if given.

    ``cut`` is (bytes to send, how the connection ends); ``expected`` is the announced length.
    """
    sent = 0
    for index, chunk in enumerate(chunks):
        if delay and index:
            sleep(delay)
        if cut is not None and sent + len(chunk) >= cut[0]:
            piece = chunk[: cut[0] - sent]
            if piece:
                yield piece
            yield Cut(cut[1], sent + len(piece), expected)
            return
        yield chunk
        sent += len(chunk)
