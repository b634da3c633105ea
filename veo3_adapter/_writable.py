"""Files a newer release wrote: read as far as this one understands them, never rewritten.

Rewriting jobs.json (or appending to its journal) would drop the fields and options this
release does not know; ``check_writable`` refuses before anything is written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from ._files import refuse_planted
from ._jobcodec import JOB_FIELDS, JOBS_FILE_VERSION
from ._jsonstream import STREAMED, complete_lines, parse_file, reading
from .errors import JobsFileError
from .models import GenerationOptions

__all__ = ["check_writable", "is_newer", "journal_path"]

JOURNAL_SUFFIX = ".journal"


def journal_path(path: Path) -> Path:
    """The journal beside a jobs file: ``jobs.json.journal``."""
    return path.with_name(path.name + JOURNAL_SUFFIX)


def check_writable(path: Path) -> None:
    """Refuse to let this release rewrite jobs.json (or its journal) that a newer one wrote.

    A higher ``version``, or a job field or option this release does not know, would be
    dropped by the next save; ``JobsFileError`` names the file and what is newer instead.
    ``read_jobs_json`` still reads such files, and reports any other fault in them. Both
    files are read streaming, as ``read_jobs_json`` reads them.
    """
    journal = journal_path(path)
    refuse_planted(path)
    refuse_planted(journal)
    unknown: list[JobsFileError] = []

    def check(item: object) -> None:
        if not unknown:
            try:
                _refuse_unknown_fields(path, item)
            except JobsFileError as exc:
                unknown.append(exc)

    with reading(path) as handle:
        try:
            data = parse_file(path, handle, check) if handle is not None else None
        except JobsFileError:
            data = None  # not this check's business: read_jobs_json reports it
    if isinstance(data, dict):
        version = data.get("version")
        if is_newer(version):
            raise JobsFileError(
                path,
                f"is version {version}, written by a newer release (this one writes version "
                f"{JOBS_FILE_VERSION}); {_NEWER_ADVICE}",
            )
        if version == JOBS_FILE_VERSION and data.get("jobs") is STREAMED and unknown:
            raise unknown[0]
    with reading(journal) as handle:
        for _number, record in complete_lines(handle) if handle is not None else ():
            _refuse_unknown_fields(journal, _parsed(record))


_NEWER_ADVICE = (
    "rewriting it would drop what this release does not know, so it only reads it "
    "('veo3 status'); upgrade veo3_adapter to run or resume here"
)


def is_newer(version: object) -> bool:
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
    unknown = sorted(repr(name) for name in item if name not in JOB_FIELDS)
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
