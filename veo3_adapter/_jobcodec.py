"""A job and its JSON form: every field checked on the way in, nothing UTF-8 cannot hold."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from .errors import InvalidJobError
from .models import GenerationOptions, JobStatus, Veo3Job, validate_variant

__all__ = [
    "JOBS_FILE_VERSION",
    "JOB_FIELDS",
    "check_options_text",
    "check_text",
    "job_from_dict",
    "job_to_dict",
    "storable",
]

JOBS_FILE_VERSION = 1
"""The ``version`` jobs.json has; a file with a higher one came from a newer release."""
JOB_FIELDS = frozenset(f.name for f in dataclasses.fields(Veo3Job))
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
