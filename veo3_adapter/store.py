"""jobs.json: every job with its ``operation_name``, written atomically, read defensively."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ._files import (
    atomic_write_bytes,
    fsync_dir,
    lock_directory,
    open_regular,
    read_regular,
    refuse_planted,
)
from .errors import InvalidJobError, JobsFileError, JobsFileNotFoundError, UnsafeOutputError
from .models import GenerationOptions, JobStatus, Veo3Job, validate_variant

__all__ = [
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
    "read_jobs_json",
    "storable",
    "write_jobs_json",
]

JOBS_FILE_VERSION = 1
JOURNAL_SUFFIX = ".journal"
LOCK_FILENAME = ".veo3.lock"
_MIN_FOLD_BYTES = 64 * 1024
_STR_FIELDS = (
    "operation_name",
    "error_message",
    "error_detail",
    "clip_path",
    "video_uri",
    "created_at",
    "updated_at",
    "batch_stopped_by",
)


def job_to_dict(job: Veo3Job) -> dict[str, Any]:
    """The JSON form of a job: every field, the status as its string value."""
    data = dataclasses.asdict(job)
    data["status"] = job.status.value
    data["options"] = job.options.to_dict()
    return data


def job_from_dict(data: object) -> Veo3Job:
    """Build a job from its JSON form; raise ``InvalidJobError`` saying which field is wrong.

    Fields added after the first release (``operation_name`` among them) may be missing;
    fields and options added by a newer release are ignored.
    """
    if not isinstance(data, Mapping):
        raise InvalidJobError(f"a job must be an object, got {type(data).__name__}")
    for name in ("variant", "prompt"):
        if not isinstance(data.get(name), str):
            raise InvalidJobError(f"field {name!r} must be a string")
    variant = validate_variant(data["variant"])
    check_text(variant, "prompt", data["prompt"])
    raw_status = data.get("status", JobStatus.PENDING.value)
    try:
        status = JobStatus(raw_status)
    except ValueError:
        raise InvalidJobError(
            f"variant {variant!r}: unknown status {raw_status!r} "
            f"(expected one of {', '.join(s.value for s in JobStatus)})"
        ) from None
    values: dict[str, Any] = {}
    for name in _STR_FIELDS:
        value = data.get(name, "")
        if not isinstance(value, str):
            raise InvalidJobError(f"variant {variant!r}: field {name!r} must be a string")
        check_text(variant, name, value)
        values[name] = value
    clip_bytes = data.get("clip_bytes", 0)
    if not isinstance(clip_bytes, int) or isinstance(clip_bytes, bool) or clip_bytes < 0:
        raise InvalidJobError(f"variant {variant!r}: field 'clip_bytes' must be a whole number")
    return Veo3Job(
        variant=variant,
        prompt=data["prompt"],
        status=status,
        options=_options_from_dict(variant, data.get("options", {})),
        clip_bytes=clip_bytes,
        **values,
    )


def _options_from_dict(variant: str, raw: object) -> GenerationOptions:
    if not isinstance(raw, Mapping):
        raise InvalidJobError(f"variant {variant!r}: field 'options' must be an object")
    try:
        # Names written by a newer release are ignored rather than fatal.
        options = GenerationOptions.from_mapping(raw, ignore_unknown=True)
    except InvalidJobError as exc:
        raise InvalidJobError(f"variant {variant!r}: {exc}") from exc
    check_options_text(variant, options)
    return options


def check_text(
    variant: str, name: str, value: str, error: type[InvalidJobError] = InvalidJobError
) -> None:
    """Refuse what JSON can escape ("\\ud800") but UTF-8, so jobs.json, cannot hold."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise error(
            f"variant {variant!r}: field {name!r} holds an unpaired surrogate, not text"
        ) from None


def check_options_text(variant: str, options: GenerationOptions) -> None:
    """``check_text`` on every option that is a string."""
    for name, value in options.to_dict().items():
        if isinstance(value, str):
            check_text(variant, f"options.{name}", value)


def storable(job: Veo3Job) -> Veo3Job:
    """``job`` with text UTF-8 cannot hold (unpaired surrogates a server sent) turned into "?".

    Inputs are refused with ``check_text``; what a backend answers is stored, not refused.
    """
    texts: dict[str, Any] = {name: _utf8(getattr(job, name)) for name in _STR_FIELDS}
    options: dict[str, Any] = {
        k: _utf8(v) for k, v in job.options.to_dict().items() if isinstance(v, str)
    }
    return dataclasses.replace(job, **texts, options=dataclasses.replace(job.options, **options))


def _utf8(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def journal_path(path: Path) -> Path:
    """The journal beside a jobs file: ``jobs.json.journal``."""
    return path.with_name(path.name + JOURNAL_SUFFIX)


def write_jobs_json(path: Path, jobs: Sequence[Veo3Job]) -> None:
    """Write ``{"version": 1, "jobs": [...]}`` to ``path`` atomically, keys sorted.

    The journal beside it, if any, is folded in by this write and removed; a link or other
    non-file in its place is an ``UnsafeOutputError`` before anything is written.
    """
    refuse_planted(journal_path(path))
    payload = {"version": JOBS_FILE_VERSION, "jobs": [job_to_dict(job) for job in jobs]}
    text = json.dumps(payload, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"))
    journal_path(path).unlink(missing_ok=True)


def read_jobs_json(path: Path) -> list[Veo3Job]:
    """Read jobs.json (current or older shape) plus its journal; never modifies either file.

    Raises ``JobsFileNotFoundError`` when there is neither, ``JobsFileError`` naming the
    file and the fault when one is corrupt, of an unknown version, or holds an invalid job,
    and ``UnsafeOutputError`` when either is a link, a directory, a FIFO or a device (never
    followed or waited on). A file a newer release wrote is read as far as this release
    understands it (see ``check_writable``).
    """
    if not os.path.lexists(path) and os.path.lexists(journal_path(path)):
        return _apply_journal(path, [])
    return _apply_journal(path, _read_snapshot(path))


def _apply_journal(path: Path, jobs: list[Veo3Job]) -> list[Veo3Job]:
    journal = journal_path(path)
    try:
        raw = read_regular(journal)
    except FileNotFoundError:
        return jobs
    except UnsafeOutputError:
        raise
    except OSError as exc:
        raise JobsFileError(journal, f"cannot be read ({exc.strerror or exc})") from exc
    by_variant = {job.variant: job for job in jobs}
    # Every record ends with a newline; a last piece without one was cut off by a crash while
    # it was being appended. That change was never acknowledged, so skipping it loses nothing.
    records = raw.split(b"\n")[:-1]
    for number, record in enumerate(records, start=1):
        if not record.strip():
            continue
        try:
            job = job_from_dict(json.loads(record.decode("utf-8")))
        except (ValueError, RecursionError) as exc:
            raise JobsFileError(journal, f"record {number} is invalid: {exc}") from exc
        by_variant[job.variant] = job
    return list(by_variant.values())


class JobsJournal:
    """Durable job changes at a cost that grows linearly with the number of changes.

    Each change is one JSON line appended to ``jobs.json.journal`` and fsynced before the
    caller moves on; when the journal outgrows jobs.json it is folded into a new jobs.json
    (written atomically). Rewriting jobs.json on every change would cost O(jobs) per change.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.journal = journal_path(path)
        self._fd: int | None = None
        self._journal_bytes = 0
        self._snapshot_bytes = 0

    def snapshot(self, jobs: Sequence[Veo3Job]) -> None:
        """Write every job to jobs.json and start an empty journal."""
        self.close()
        write_jobs_json(self.path, jobs)
        self._snapshot_bytes = os.lstat(self.path).st_size
        self._journal_bytes = 0

    def append(self, job: Veo3Job, jobs: Callable[[], Sequence[Veo3Job]]) -> None:
        """Record ``job``'s new state durably; ``jobs`` gives all jobs if a fold is due."""
        data = (json.dumps(job_to_dict(job), sort_keys=True, ensure_ascii=False) + "\n").encode()
        if self._fd is None:
            self._fd = open_regular(self.journal, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o666)
            _drop_torn_tail(self._fd)
            fsync_dir(self.journal.parent)
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        os.fsync(self._fd)
        self._journal_bytes += len(data)
        if self._journal_bytes > max(self._snapshot_bytes, _MIN_FOLD_BYTES):
            self.snapshot(jobs())

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _drop_torn_tail(fd: int) -> None:
    """Cut off a last record that a crash left without its newline (readers skip it).

    Appending after it would glue the next record onto it: one invalid line in the middle of
    the journal, and jobs.json unreadable after the next crash.
    """
    size = os.fstat(fd).st_size
    if size and os.pread(fd, 1, size - 1) != b"\n":
        os.ftruncate(fd, os.pread(fd, size, 0).rfind(b"\n") + 1)


def _read_snapshot(path: Path) -> list[Veo3Job]:
    try:
        raw = read_regular(path)
    except FileNotFoundError:
        raise JobsFileNotFoundError(path, "no jobs file here (nothing has been run?)") from None
    except UnsafeOutputError:
        raise
    except OSError as exc:
        raise JobsFileError(path, f"cannot be read ({exc.strerror or exc})") from exc
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise JobsFileError(path, "is not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise JobsFileError(
            path, f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    except ValueError as exc:  # e.g. an integer longer than int_max_str_digits
        raise JobsFileError(path, f"is not valid JSON ({exc})") from exc
    except RecursionError as exc:
        raise JobsFileError(path, "is nested too deeply to be a jobs file") from exc
    newer = ""
    if isinstance(data, list):
        items: list[Any] = data  # the shape before versioning: a bare list of jobs
    elif isinstance(data, dict):
        version = data.get("version")
        if _is_newer(version):
            # Read as far as this release understands it (for status); writing is refused.
            newer = f" (the file is version {version}, from a newer release: upgrade to read it)"
        elif version != JOBS_FILE_VERSION:
            raise JobsFileError(
                path,
                f"has version {version!r}; this release reads version {JOBS_FILE_VERSION} "
                "(upgrade veo3_adapter to read it)",
            )
        listed = data.get("jobs")
        if not isinstance(listed, list):
            raise JobsFileError(path, "has no 'jobs' list")
        items = listed
    else:
        raise JobsFileError(path, f"holds a JSON {type(data).__name__}, not a jobs object")
    jobs: list[Veo3Job] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        try:
            job = job_from_dict(item)
        except ValueError as exc:
            raise JobsFileError(path, f"job #{index + 1} is invalid: {exc}{newer}") from exc
        if job.variant in seen:
            raise JobsFileError(path, f"variant {job.variant!r} appears twice")
        seen.add(job.variant)
        jobs.append(job)
    return jobs


# -- writing: the output directory's lock, and files a newer release wrote ----------------------


@contextlib.contextmanager
def locked_for_writing(path: Path) -> Iterator[None]:
    """Hold ``.veo3.lock`` beside jobs.json (``lock_directory``), then ``check_writable``.

    Raises ``OutputDirInUseError``, ``UnsafeOutputError`` (the directory, the lock, jobs.json
    or its journal is a link or other non-file) or ``JobsFileError`` (a newer release's file).
    """
    with lock_directory(path.parent, LOCK_FILENAME):
        check_writable(path)
        yield


def check_writable(path: Path) -> None:
    """Refuse to let this release rewrite jobs.json (or its journal) that a newer one wrote.

    A higher ``version``, or a job field or option this release does not know, would be
    dropped by the next save; ``JobsFileError`` names the file and what is newer instead.
    ``read_jobs_json`` still reads such files, and reports any other fault in them.
    """
    journal = journal_path(path)
    refuse_planted(path)
    refuse_planted(journal)
    with contextlib.suppress(FileNotFoundError):
        data = _parsed(read_regular(path))
        if isinstance(data, dict):
            version = data.get("version")
            if _is_newer(version):
                raise JobsFileError(
                    path,
                    f"is version {version}, written by a newer release (this one writes version "
                    f"{JOBS_FILE_VERSION}); {_NEWER_ADVICE}",
                )
            if version == JOBS_FILE_VERSION and isinstance(data.get("jobs"), list):
                for item in data["jobs"]:
                    _refuse_unknown_fields(path, item)
    with contextlib.suppress(FileNotFoundError):
        for record in read_regular(journal).split(b"\n")[:-1]:
            _refuse_unknown_fields(journal, _parsed(record))


_NEWER_ADVICE = (
    "rewriting it would drop what this release does not know, so it only reads it "
    "('veo3 status'); upgrade veo3_adapter to run or resume here"
)
_JOB_FIELDS = frozenset(f.name for f in dataclasses.fields(Veo3Job))


def _is_newer(version: object) -> bool:
    return (
        isinstance(version, int) and not isinstance(version, bool) and version > JOBS_FILE_VERSION
    )


def _parsed(raw: bytes) -> object:
    """The JSON in ``raw``, or ``None`` when it is not JSON (``read_jobs_json`` reports that)."""
    try:
        return json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        return None


def _refuse_unknown_fields(file: Path, item: object) -> None:
    if not isinstance(item, Mapping):
        return
    unknown = sorted(repr(name) for name in item if name not in _JOB_FIELDS)
    options = item.get("options")
    if isinstance(options, Mapping):
        schema = GenerationOptions.schema()
        unknown += sorted(f"options.{name!r}" for name in options if name not in schema)
    if unknown:
        variant = item.get("variant")
        shown = repr(variant)[:60] if isinstance(variant, str) else "?"
        fields = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if unknown[5:] else "")
        raise JobsFileError(
            file, f"job {shown} has fields a newer release wrote ({fields}); {_NEWER_ADVICE}"
        )
