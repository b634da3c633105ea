"""jobs.json: every job with its ``operation_name``, written atomically, read in bounded memory.

Reading streams: a journal line by line and jobs.json job by job, so memory follows the
jobs, not the size of the files (a journal a crash loop let grow, a hand-made giant file).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ._files import atomic_write_bytes, fsync_dir, lock_directory, open_regular, refuse_planted
from ._jobcodec import (
    JOBS_FILE_VERSION,
    check_options_text,
    check_text,
    job_from_dict,
    job_to_dict,
    storable,
)
from ._jsonstream import STREAMED, complete_lines, end_of_last_line, parse_file, reading
from ._writable import check_writable, is_newer, journal_path
from .errors import JobsFileError, JobsFileNotFoundError, OutputWriteError, Veo3Error
from .models import Veo3Job

__all__ = [
    "BACKEND_KEY",
    "JOBS_FILE_VERSION",
    "LOCK_FILENAME",
    "JobsJournal",
    "check_options_text",
    "check_text",
    "check_writable",
    "job_from_dict",
    "job_to_dict",
    "journal_path",
    "locked_for_writing",
    "read_backend_info",
    "read_jobs_and_backend",
    "read_jobs_json",
    "storable",
    "write_jobs_json",
]

logger = logging.getLogger("veo3_adapter.store")

LOCK_FILENAME = ".veo3.lock"
BACKEND_KEY = "backend"
"""jobs.json's top-level object describing where the jobs ran (never a credential)."""
_MIN_FOLD_BYTES = 64 * 1024


def write_jobs_json(
    path: Path, jobs: Sequence[Veo3Job], *, backend: Mapping[str, str] | None = None
) -> None:
    """Write ``{"version": 1, "jobs": [...]}`` to ``path`` atomically, keys sorted.

    ``backend`` (if any) is stored as the top-level ``"backend"`` object, which readers that
    do not know it ignore. The journal beside the file, if any, is folded in by this write
    and removed; a link or other non-file in its place is an ``UnsafeOutputError`` before
    anything is written. An ``OSError`` writing either is an ``OutputWriteError``.
    """
    refuse_planted(journal_path(path))
    payload: dict[str, Any] = {
        "version": JOBS_FILE_VERSION,
        "jobs": [job_to_dict(job) for job in jobs],
    }
    if backend:
        payload[BACKEND_KEY] = dict(backend)
    text = json.dumps(payload, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    written = path
    try:
        atomic_write_bytes(path, text.encode("utf-8"))
        written = journal_path(path)
        written.unlink(missing_ok=True)
    except OSError as exc:
        if isinstance(exc, Veo3Error):  # UnsafeOutputError: already typed
            raise
        raise OutputWriteError.of(written, exc) from exc


def read_jobs_json(path: Path) -> list[Veo3Job]:
    """Read jobs.json (current or older shape) plus its journal; never modifies either file.

    Raises ``JobsFileNotFoundError`` when there is neither, ``JobsFileError`` naming the
    file and the fault when one is corrupt, of an unknown version, or holds an invalid job,
    and ``UnsafeOutputError`` when either is a link, a directory, a FIFO or a device (never
    followed or waited on). A file a newer release wrote is read as far as this release
    understands it (see ``check_writable``).
    """
    return read_jobs_and_backend(path)[0]


def read_jobs_and_backend(path: Path) -> tuple[list[Veo3Job], dict[str, str]]:
    """``read_jobs_json`` and ``read_backend_info`` from one reading of the file."""
    if not os.path.lexists(path) and os.path.lexists(journal_path(path)):
        return _apply_journal(path, []), {}
    jobs, data = _read_snapshot(path)
    return _apply_journal(path, jobs), _backend(data)


def read_backend_info(path: Path) -> dict[str, str]:
    """The ``"backend"`` object jobs.json records (``{}`` when it has none, or no file).

    Only string values are returned. Raises ``JobsFileError`` for a corrupt file and
    ``UnsafeOutputError`` for a link or other non-file, as ``read_jobs_json`` does.
    """
    with reading(path) as handle:
        if handle is None:
            return {}
        return _backend(parse_file(path, handle, lambda _item: None))


def _backend(data: object) -> dict[str, str]:
    backend = data.get(BACKEND_KEY) if isinstance(data, dict) else None
    if not isinstance(backend, Mapping):
        return {}
    return {k: v for k, v in backend.items() if isinstance(k, str) and isinstance(v, str)}


def _apply_journal(path: Path, jobs: list[Veo3Job]) -> list[Veo3Job]:
    journal = journal_path(path)
    by_variant = {job.variant: job for job in jobs}
    with reading(journal) as handle:
        if handle is None:
            return jobs
        # Every record ends with a newline; a last piece without one was cut off by a crash
        # while it was being appended. That change was never acknowledged: skipping it loses
        # nothing.
        for number, record in complete_lines(handle):
            if not record.strip():
                continue
            try:
                job = job_from_dict(json.loads(record.decode("utf-8")))
            except (ValueError, RecursionError) as exc:
                raise JobsFileError(journal, f"record {number} is invalid: {exc}") from exc
            by_variant[job.variant] = job
    return list(by_variant.values())


class _Collected:
    """The jobs of a streamed list, and the first fault among them (reported after the
    document's shape and version, which may come after the list)."""

    def __init__(self) -> None:
        self.jobs: list[Veo3Job] = []
        self.count = 0
        self.fault = ""
        self._seen: set[str] = set()

    def add(self, item: object) -> None:
        self.count += 1
        if self.fault:
            return
        try:
            job = job_from_dict(item)
        except ValueError as exc:
            self.fault = f"job #{self.count} is invalid: {exc}"
            return
        if job.variant in self._seen:
            self.fault = f"variant {job.variant!r} appears twice"
            return
        self._seen.add(job.variant)
        self.jobs.append(job)


def _read_snapshot(path: Path) -> tuple[list[Veo3Job], object]:
    collected = _Collected()
    with reading(path) as handle:
        if handle is None:
            raise JobsFileNotFoundError(path, "no jobs file here (nothing has been run?)")
        data = parse_file(path, handle, collected.add)
    newer = ""
    if isinstance(data, dict):
        version = data.get("version")
        if is_newer(version):
            # Read as far as this release understands it (for status); writing is refused.
            newer = f" (the file is version {version}, from a newer release: upgrade to read it)"
        elif version != JOBS_FILE_VERSION:
            raise JobsFileError(
                path,
                f"has version {version!r}; this release reads version {JOBS_FILE_VERSION} "
                "(upgrade veo3_adapter to read it)",
            )
        if data.get("jobs") is not STREAMED:
            raise JobsFileError(path, "has no 'jobs' list")
    elif data is not STREAMED:  # STREAMED: the shape before versioning, a bare list of jobs
        raise JobsFileError(path, f"holds a JSON {type(data).__name__}, not a jobs object")
    if collected.fault:
        suffix = newer if collected.fault.startswith("job #") else ""
        raise JobsFileError(path, collected.fault + suffix)
    return collected.jobs, data


class JobsJournal:
    """Durable job changes at a cost that grows linearly with the number of changes.

    Each change is one JSON line appended to ``jobs.json.journal`` and fsynced before the
    caller moves on; when the journal outgrows jobs.json it is folded into a new jobs.json
    (written atomically). Rewriting jobs.json on every change would cost O(jobs) per change.
    ``backend`` is written into every jobs.json (see ``write_jobs_json``).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.journal = journal_path(path)
        self.backend: Mapping[str, str] = {}
        self._fd: int | None = None
        self._journal_bytes = 0
        self._snapshot_bytes = 0

    def snapshot(self, jobs: Sequence[Veo3Job]) -> None:
        """Write every job to jobs.json and start an empty journal."""
        self.close()
        write_jobs_json(self.path, jobs, backend=self.backend)
        self._snapshot_bytes = os.lstat(self.path).st_size
        self._journal_bytes = 0

    def append(self, job: Veo3Job, jobs: Callable[[], Sequence[Veo3Job]]) -> None:
        """Record ``job``'s new state durably; ``jobs`` gives all jobs if a fold is due.

        Raises ``OutputWriteError`` when the line could not be made durable (the change is
        then not recorded); a fold that fails only logs a warning, as the journal still
        holds every change.
        """
        data = (json.dumps(job_to_dict(job), sort_keys=True, ensure_ascii=False) + "\n").encode()
        try:
            if self._fd is None:
                self._fd = open_regular(self.journal, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o666)
                _drop_torn_tail(self._fd)
                fsync_dir(self.journal.parent)
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
            os.fsync(self._fd)
        except OSError as exc:
            self.close()  # reopened next time, and a torn line cut off first
            if isinstance(exc, Veo3Error):
                raise
            raise OutputWriteError.of(self.journal, exc) from exc
        self._journal_bytes += len(data)
        if self._journal_bytes > max(self._snapshot_bytes, _MIN_FOLD_BYTES):
            try:
                self.snapshot(jobs())
            except OutputWriteError as exc:
                logger.warning(
                    "%s could not be rewritten (%s); its journal keeps every change meanwhile",
                    exc.path,
                    exc.reason,
                )
                self._journal_bytes = 0  # try again once as much more has been appended

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


def _drop_torn_tail(fd: int) -> None:
    """Cut off a last record that a crash left without its newline (readers skip it).

    Appending after it would glue the next record onto it: one invalid line in the middle of
    the journal, and jobs.json unreadable after the next crash.
    """
    size = os.fstat(fd).st_size
    if size and os.pread(fd, 1, size - 1) != b"\n":
        os.ftruncate(fd, end_of_last_line(fd))


# -- writing: the output directory's lock, and files a newer release wrote ----------------------


@contextlib.contextmanager
def locked_for_writing(path: Path) -> Iterator[None]:
    """Hold ``.veo3.lock`` beside jobs.json (``lock_directory``), then ``check_writable``.

    Raises ``OutputDirInUseError``, ``UnsafeOutputError`` (the directory, the lock, jobs.json
    or its journal is a link or other non-file), ``JobsFileError`` (a newer release's file)
    or ``OutputWriteError`` (the directory or the lock cannot be created: read-only, full).
    """
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(lock_directory(path.parent, LOCK_FILENAME))
        except OSError as exc:
            if isinstance(exc, Veo3Error):
                raise
            named = Path(os.fsdecode(exc.filename)) if exc.filename else path.parent
            raise OutputWriteError.of(named, exc) from exc
        check_writable(path)
        yield
