"""``X-Goog-Hash``: reading the header, and the running checksums a download is checked with.

Google's media servers announce the whole file's checksums as ``crc32c=<base64 of the
big-endian CRC>`` and, for some files, ``md5=<base64>``, comma-separated or in several
``X-Goog-Hash`` headers. CRC32C comes from google-crc32c, its C extension when it has one,
else its own pure-Python implementation (slow, but the same numbers).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import logging
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import BinaryIO, Protocol

__all__ = ["ALGORITHMS", "Digests", "b64", "crc32c_implementation", "parse_goog_hash"]

logger = logging.getLogger("veo3_adapter.download")

ALGORITHMS: Mapping[str, int] = {"crc32c": 4, "md5": 16}
"""The checksums verified, with their digest sizes in bytes; any other is ignored."""

_CATCH_UP_CHUNK = 1 << 20


class _Hasher(Protocol):
    def update(self, chunk: bytes, /) -> None: ...
    def digest(self) -> bytes: ...


@functools.cache
def _crc32c() -> tuple[Callable[[], _Hasher], str]:
    with warnings.catch_warnings():
        # Without its C extension the package warns on import; that choice is logged below
        # instead, so a missing compiler does not turn into an error under -W error.
        warnings.simplefilter("ignore", RuntimeWarning)
        import google_crc32c

    implementation = str(google_crc32c.implementation)
    # google-crc32c ships without annotations; this is the part of it used here, typed.
    factory: Callable[[], _Hasher] = google_crc32c.Checksum
    logger.debug(
        "crc32c: google-crc32c's %s",
        "C extension" if implementation == "c" else "pure-Python implementation (slow)",
    )
    return factory, implementation


def crc32c_implementation() -> str:
    """``"c"`` or ``"python"``: which google-crc32c implementation checksums are made with."""
    return _crc32c()[1]


def _new(algorithm: str) -> _Hasher:
    if algorithm == "crc32c":
        return _crc32c()[0]()
    return hashlib.md5(usedforsecurity=False)


def parse_goog_hash(values: Iterable[str]) -> dict[str, frozenset[bytes]]:
    """The digests that ``X-Goog-Hash`` header values announce, by algorithm.

    Unknown algorithms are skipped; a value that is not base64 of the right size is skipped
    with a warning (it cannot be checked, and a proxy may strip the header anyway).
    """
    found: dict[str, set[bytes]] = {}
    for value in values:
        for item in value.split(","):
            name, _, encoded = item.strip().partition("=")
            name = name.strip().lower()
            size = ALGORITHMS.get(name)
            if size is None:
                continue
            try:
                digest = base64.b64decode(encoded.strip(), validate=True)
            except (binascii.Error, ValueError):
                digest = b""
            if len(digest) != size:
                logger.warning("ignoring a malformed X-Goog-Hash %s value", name)
                continue
            found.setdefault(name, set()).add(digest)
    return {name: frozenset(digests) for name, digests in found.items()}


def b64(digest: bytes) -> str:
    """A digest as ``X-Goog-Hash`` writes it."""
    return base64.b64encode(digest).decode("ascii")


class Digests:
    """The running checksums of the bytes written so far, for the algorithms asked for."""

    def __init__(self) -> None:
        self._hashers: dict[str, _Hasher] = {}

    @property
    def algorithms(self) -> frozenset[str]:
        return frozenset(self._hashers)

    def reset(self) -> None:
        """Forget everything: the file starts over from byte 0."""
        self._hashers.clear()

    def want(self, algorithms: Iterable[str], out: BinaryIO, written: int) -> None:
        """Compute ``algorithms`` from now on; a new one first reads the ``written`` bytes.

        Reading back happens only when a resumed body announces a checksum the first body
        did not: then the part already on disk is hashed once, in chunks.
        """
        new = {name: _new(name) for name in algorithms if name not in self._hashers}
        if not new:
            return
        if written:
            logger.debug("hashing the %d bytes already written for %s", written, sorted(new))
            out.flush()
            position = out.tell()
            out.seek(0)
            left = written
            while left:
                chunk = out.read(min(_CATCH_UP_CHUNK, left))
                if not chunk:
                    raise OSError(f"the partial file ended {left} bytes early while hashing it")
                for hasher in new.values():
                    hasher.update(chunk)
                left -= len(chunk)
            out.seek(position)
        self._hashers.update(new)

    def update(self, chunk: bytes) -> None:
        for hasher in self._hashers.values():
            hasher.update(chunk)

    def mismatches(self, expected: Mapping[str, frozenset[bytes]]) -> list[tuple[str, str, str]]:
        """``(algorithm, expected, actual)`` in base64 for each announced digest that differs."""
        wrong: list[tuple[str, str, str]] = []
        for name in sorted(expected):
            actual = self._hashers[name].digest()
            for digest in sorted(expected[name]):
                if digest != actual:
                    wrong.append((name, b64(digest), b64(actual)))
        return wrong
