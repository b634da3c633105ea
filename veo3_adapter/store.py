"""jobs.json: every job with its ``operation_name``, written atomically, read defensively."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ._files import atomic_write_bytes
from .errors import InvalidVariantError, JobsFileError, JobsFileNotFoundError
from .models import GenerationOptions, JobStatus, Veo3Job, validate_variant

__all__ = ["JOBS_FILE_VERSION", "job_from_dict", "job_to_dict", "read_jobs_json", "write_jobs_json"]

JOBS_FILE_VERSION = 1
_STR_FIELDS = (
    "operation_name",
    "error_message",
    "error_detail",
    "clip_path",
    "video_uri",
    "created_at",
    "updated_at",
)
_OPTION_TYPES: dict[str, tuple[type, ...]] = {
    "model": (str,),
    "aspect_ratio": (str,),
    "resolution": (str,),
    "duration_seconds": (int,),
    "negative_prompt": (str,),
    "person_generation": (str,),
    "enhance_prompt": (bool,),
}


def job_to_dict(job: Veo3Job) -> dict[str, Any]:
    """The JSON form of a job: every field, the status as its string value."""
    data = dataclasses.asdict(job)
    data["status"] = job.status.value
    data["options"] = job.options.to_dict()
    return data


def job_from_dict(data: object) -> Veo3Job:
    """Build a job from its JSON form; raise ``ValueError`` saying which field is wrong.

    Fields added after the first release (``operation_name`` among them) may be missing.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"a job must be an object, got {type(data).__name__}")
    for name in ("variant", "prompt"):
        if not isinstance(data.get(name), str):
            raise ValueError(f"field {name!r} must be a string")
    variant = validate_variant(data["variant"])
    raw_status = data.get("status", JobStatus.PENDING.value)
    try:
        status = JobStatus(raw_status)
    except ValueError:
        raise ValueError(
            f"variant {variant!r}: unknown status {raw_status!r} "
            f"(expected one of {', '.join(s.value for s in JobStatus)})"
        ) from None
    values: dict[str, Any] = {}
    for name in _STR_FIELDS:
        value = data.get(name, "")
        if not isinstance(value, str):
            raise ValueError(f"variant {variant!r}: field {name!r} must be a string")
        values[name] = value
    clip_bytes = data.get("clip_bytes", 0)
    if not isinstance(clip_bytes, int) or isinstance(clip_bytes, bool) or clip_bytes < 0:
        raise ValueError(f"variant {variant!r}: field 'clip_bytes' must be a whole number")
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
        raise ValueError(f"variant {variant!r}: field 'options' must be an object")
    values: dict[str, Any] = {}
    for name, value in raw.items():
        types = _OPTION_TYPES.get(name)
        if types is None:
            continue  # written by a newer release; ignored rather than fatal
        if value is not None and (
            not isinstance(value, types) or (isinstance(value, bool) and bool not in types)
        ):
            raise ValueError(f"variant {variant!r}: option {name!r} has the wrong type")
        values[name] = value
    return GenerationOptions(**values)


def write_jobs_json(path: Path, jobs: Sequence[Veo3Job]) -> None:
    """Write ``{"version": 1, "jobs": [...]}`` to ``path`` atomically, keys sorted."""
    payload = {"version": JOBS_FILE_VERSION, "jobs": [job_to_dict(job) for job in jobs]}
    text = json.dumps(payload, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"))


def read_jobs_json(path: Path) -> list[Veo3Job]:
    """Read jobs.json, current or older shape (a bare list); never modifies the file.

    Raises ``JobsFileNotFoundError`` when it is missing and ``JobsFileError`` naming the file
    and the fault when it is corrupt, of an unknown version, or holds an invalid job.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise JobsFileNotFoundError(path, "no jobs file here (nothing has been run?)") from None
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
    if isinstance(data, list):
        items: list[Any] = data  # the shape before versioning: a bare list of jobs
    elif isinstance(data, dict):
        version = data.get("version")
        if version != JOBS_FILE_VERSION:
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
        except (ValueError, InvalidVariantError) as exc:
            raise JobsFileError(path, f"job #{index + 1} is invalid: {exc}") from exc
        if job.variant in seen:
            raise JobsFileError(path, f"variant {job.variant!r} appears twice")
        seen.add(job.variant)
        jobs.append(job)
    return jobs
