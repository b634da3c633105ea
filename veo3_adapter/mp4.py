"""Small helpers for MP4 files: recognise one, and make valid ones of any size."""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from ._files import open_regular

__all__ = ["iter_mp4", "looks_like_mp4", "is_mp4_file", "mp4_size_floor", "sample_clip"]

_SAMPLE_NAME = "sample.mp4"
_BOX_HEADER = 8
_LARGE_BOX_HEADER = 16


def sample_clip() -> bytes:
    """A small, real, playable MP4 (one second, 64x36) shipped with the package."""
    return resources.files("veo3_adapter").joinpath("_assets", _SAMPLE_NAME).read_bytes()


def looks_like_mp4(head: bytes) -> bool:
    """True when ``head`` (the first bytes of a file) starts with an ISO-BMFF ``ftyp`` box."""
    return len(head) >= 8 and head[4:8] == b"ftyp"


def is_mp4_file(path: Path) -> bool:
    """True when ``path`` is a regular file (not a link) whose first box is ``ftyp``."""
    try:  # open_regular: a FIFO or a link there is refused, never waited on or followed
        with os.fdopen(open_regular(path, os.O_RDONLY), "rb") as handle:
            return looks_like_mp4(handle.read(8))
    except OSError:  # absent, unreadable, or not a regular file (UnsafeOutputError)
        return False


def mp4_size_floor() -> int:
    """The smallest size ``iter_mp4`` can produce."""
    return len(sample_clip()) + _BOX_HEADER


def iter_mp4(size: int, *, seed: str = "", chunk_size: int = 1 << 20) -> Iterator[bytes]:
    """Yield a valid MP4 of exactly ``size`` bytes, deterministic for ``seed``, in chunks.

    The sample clip is followed by a ``free`` box of padding (players skip it), so the file
    plays whatever its size, and nothing larger than ``chunk_size`` is ever held in memory.
    """
    clip = sample_clip()
    if size == len(clip) and not seed:
        yield clip
        return
    pad_total = size - len(clip)
    header_len = _BOX_HEADER if pad_total < 2**32 else _LARGE_BOX_HEADER
    if pad_total < header_len:
        raise ValueError(f"an MP4 needs at least {mp4_size_floor()} bytes, asked for {size}")
    yield clip
    if header_len == _BOX_HEADER:
        yield struct.pack(">I4s", pad_total, b"free")
    else:
        yield struct.pack(">I4sQ", 1, b"free", pad_total)
    remaining = pad_total - header_len
    block = hashlib.sha256(seed.encode()).digest() * (chunk_size // 32 + 1)
    # Whole digests only, so the bytes do not depend on chunk_size.
    block = block[: max(32, chunk_size - chunk_size % 32)]
    while remaining > 0:
        piece = block if remaining >= len(block) else block[:remaining]
        remaining -= len(piece)
        yield piece
