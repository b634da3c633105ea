"""Atomic file writes: a temporary file beside the target, fsync, ``os.replace``."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "TEMP_SUFFIX",
    "atomic_file",
    "atomic_write_bytes",
    "fsync_dir",
    "remove_stale_temp_files",
]

TEMP_SUFFIX = ".veo3-partial"
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def fsync_dir(directory: Path) -> None:
    """Make a directory's entries (a new or renamed file) durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_file(dest: Path) -> Iterator[BinaryIO]:
    """Yield a file that replaces ``dest`` only if the block finishes without an exception.

    The temporary file lives beside ``dest`` (same filesystem, so the rename is atomic) and is
    removed on every failure; ``dest`` is never seen half-written.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.{secrets.token_hex(6)}{TEMP_SUFFIX}"
    # O_EXCL: the name is ours alone; 0o666 lets the umask decide, as for any new file.
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | _O_CLOEXEC, 0o666)
    try:
        with os.fdopen(fd, "w+b") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, dest)
        fsync_dir(dest.parent)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(dest: Path, data: bytes) -> None:
    """Write ``data`` to ``dest`` atomically."""
    with atomic_file(dest) as handle:
        handle.write(data)


def remove_stale_temp_files(directory: Path) -> list[Path]:
    """Delete temporary files a killed process left in ``directory``; return what was removed."""
    removed: list[Path] = []
    if not directory.is_dir():
        return removed
    for path in directory.glob(f".*{TEMP_SUFFIX}"):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed
