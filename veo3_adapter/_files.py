"""Files in the output directory: opened without following links, written atomically.

Anyone who can write the output directory (a shared folder, a run directory received from
someone else) can plant a symbolic link, a directory or a FIFO where ``veo3/`` keeps a
file. Every open here uses ``O_NOFOLLOW`` and ``O_NONBLOCK`` and checks with ``fstat`` that
it got a regular file; anything else is an ``UnsafeOutputError`` naming it, never followed,
waited on, written through or removed.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import OutputDirInUseError, UnsafeOutputError

__all__ = [
    "TEMP_SUFFIX",
    "atomic_file",
    "atomic_write_bytes",
    "fsync_dir",
    "lock_directory",
    "make_dir",
    "open_regular",
    "read_regular",
    "refuse_planted",
    "remove_stale_temp_files",
]

TEMP_SUFFIX = ".veo3-partial"
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_SAFE = _O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | _O_CLOEXEC
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
# What open(2) answers for a link under O_NOFOLLOW (ELOOP; EMLINK on FreeBSD), a directory
# opened for writing (EISDIR), a FIFO or socket opened for writing with no reader (ENXIO).
_PLANTED_ERRNOS = frozenset({errno.ELOOP, errno.EMLINK, errno.EISDIR, errno.ENXIO})


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _lstat_mode(path: Path) -> int | None:
    try:
        return os.lstat(path).st_mode
    except FileNotFoundError:
        return None


def refuse_planted(path: Path, *, links_allowed: bool = False) -> None:
    """Raise ``UnsafeOutputError`` unless ``path`` is absent or a regular file.

    ``links_allowed``: a symbolic link is fine too (for a file about to be renamed over,
    which replaces the link itself and never touches what it points to).
    """
    mode = _lstat_mode(path)
    if mode is None or stat.S_ISREG(mode) or (links_allowed and stat.S_ISLNK(mode)):
        return
    raise UnsafeOutputError(path, _kind(mode))


def open_regular(path: Path, flags: int, mode: int = 0o666) -> int:
    """``os.open`` for a regular file only: no link followed, no FIFO waited on.

    Returns a blocking descriptor; raises ``UnsafeOutputError`` naming ``path`` when it is
    anything but a regular file, and ``OSError`` (``FileNotFoundError``...) as ``os.open``.
    """
    refuse_planted(path)  # a device is refused before it is opened at all
    try:
        fd = os.open(path, flags | _O_SAFE, mode)
    except OSError as exc:
        if exc.errno not in _PLANTED_ERRNOS:
            raise
        found = _lstat_mode(path)
        kind = _kind(found) if found is not None else "not a regular file"
        raise UnsafeOutputError(path, kind) from exc
    try:
        found = os.fstat(fd).st_mode
        if not stat.S_ISREG(found):  # swapped in after the check above
            raise UnsafeOutputError(path, _kind(found))
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular(path: Path) -> bytes:
    """The bytes of the regular file ``path`` (see ``open_regular``)."""
    with os.fdopen(open_regular(path, os.O_RDONLY), "rb") as handle:
        return handle.read()


def make_dir(path: Path) -> None:
    """Create the directory ``path`` (and its parents) unless it exists.

    ``path`` itself must be a real directory: a symbolic link to one, or anything else, is an
    ``UnsafeOutputError`` (its parents may be links, as the caller chose them).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.mkdir(path)
    mode = os.lstat(path).st_mode
    if not stat.S_ISDIR(mode):
        raise UnsafeOutputError(path, _kind(mode), expected="a directory")


def fsync_dir(directory: Path) -> None:
    """Make a directory's entries (a new or renamed file) durable."""
    fd = os.open(directory, os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_file(dest: Path) -> Iterator[BinaryIO]:
    """Yield a file that replaces ``dest`` only if the block finishes without an exception.

    The temporary file lives beside ``dest`` (same filesystem, so the rename is atomic) and is
    removed on every failure; ``dest`` is never seen half-written. A symbolic link at ``dest``
    is replaced by the file (what it points to is never touched); a directory, FIFO or device
    there is an ``UnsafeOutputError`` before anything is written.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    refuse_planted(dest, links_allowed=True)
    tmp = dest.parent / f".{dest.name}.{secrets.token_hex(6)}{TEMP_SUFFIX}"
    # O_EXCL: the name is ours alone; 0o666 lets the umask decide, as for any new file.
    fd = open_regular(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w+b") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.replace(tmp, dest)
        except IsADirectoryError as exc:  # a directory planted while the file was written
            raise UnsafeOutputError(dest, "a directory") from exc
        fsync_dir(dest.parent)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(dest: Path, data: bytes) -> None:
    """Write ``data`` to ``dest`` atomically."""
    with atomic_file(dest) as handle:
        handle.write(data)


def remove_stale_temp_files(directory: Path) -> list[Path]:
    """Delete temporary files a killed process left in ``directory``; return what was removed.

    Only regular files are removed: a link or directory bearing the name is not ours.
    """
    removed: list[Path] = []
    if not directory.is_dir():
        return removed
    for path in directory.glob(f".*{TEMP_SUFFIX}"):
        mode = _lstat_mode(path)
        if mode is None or not stat.S_ISREG(mode):
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed


@contextlib.contextmanager
def lock_directory(directory: Path, name: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``directory/name`` for the block, or refuse at once.

    The directory is created if missing (``make_dir``: never through a link) and the lock
    file opened with ``open_regular``. Raises ``OutputDirInUseError`` without waiting when
    another process (or descriptor) holds it; the kernel drops a killed holder's lock.
    """
    make_dir(directory)
    lock_path = directory / name
    fd = open_regular(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputDirInUseError(
                f"{directory} is in use by another orchestrator (lock {lock_path}); "
                "wait for it to finish or use another output directory"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
