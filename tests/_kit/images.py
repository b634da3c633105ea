"""Small real image files written at test time: a PNG of one colour, an 8x8 grey baseline
JPEG carrying a comment. Each ``label`` or colour gives other bytes, so two files made with
different ones are two images to the API (and to the emulator, whose clips differ by input).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path

__all__ = ["MakeImage", "write_jpeg", "write_png"]

MakeImage = Callable[..., Path]
"""The inputs suite's ``image(name, kind="png", size=0)`` fixture: a file whose bytes are a
``kind`` image."""


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_png(path: Path, rgb: tuple[int, int, int] = (200, 40, 40), size: int = 4) -> Path:
    """Write a ``size`` x ``size`` PNG of colour ``rgb`` to ``path`` (parents made)."""
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB
    rows = b"".join(b"\0" + bytes(rgb) * size for _ in range(size))  # filter 0 per row
    data = (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows))
        + _chunk(b"IEND", b"")
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _segment(marker: int, body: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(body) + 2) + body


def write_jpeg(path: Path, label: str = "frame") -> Path:
    """Write an 8x8 mid-grey baseline JPEG whose comment is ``label`` to ``path``.

    One block, every coefficient zero: a DC table and an AC table of one code each
    (DC difference category 0, end of block), so the scan is the two bits ``00``.
    """
    jfif = b"JFIF\0" + bytes([1, 1, 0, 0, 1, 0, 1, 0, 0])
    frame = struct.pack(">BHHB", 8, 8, 8, 1) + bytes([1, 0x11, 0])
    one_code = bytes([1] + [0] * 15) + b"\0"
    data = (
        b"\xff\xd8"
        + _segment(0xE0, jfif)
        + _segment(0xFE, label.encode())
        + _segment(0xDB, b"\0" + bytes([1] * 64))
        + _segment(0xC0, frame)
        + _segment(0xC4, b"\x00" + one_code)
        + _segment(0xC4, b"\x10" + one_code)
        + _segment(0xDA, bytes([1, 1, 0, 0, 63, 0]))
        + b"\x3f"
        + b"\xff\xd9"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
