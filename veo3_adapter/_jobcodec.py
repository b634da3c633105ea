"""A job and its JSON form: every field checked on the way in, nothing UTF-8 cannot hold."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from .errors import InvalidJobError
from .models import (
    GenerationOptions,
    InputFile,
    JobInputs,
    JobStatus,
    Veo3Job,
    validate_variant,
)

__all__ = [
    "JOBS_FILE_VERSION",
    "JOB_FIELDS",
    "check_options_text",
    "check_text",
    "inputs_to_dict",
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
_SHA256_RE = re.compile(r"[0-9a-f]{64}")


def job_to_dict(job: Veo3Job) -> dict[str, Any]:
    """The JSON form of a job: every field, the status as its string value."""
    data = dataclasses.asdict(job)
    data["status"] = job.status.value
    data["options"] = job.options.to_dict()
    if job.inputs:
        data["inputs"] = inputs_to_dict(job.inputs)
    else:
        # Absent, not empty: a release without inputs still reads and writes such a file.
        del data["inputs"]
    return data


def inputs_to_dict(inputs: JobInputs) -> dict[str, Any]:
    """The JSON form of a job's inputs: the fields that are set, files as path and sha256."""
    data: dict[str, Any] = {}
    for name in ("image", "last_frame"):
        file = getattr(inputs, name)
        if file is not None:
            data[name] = {"path": file.path, "sha256": file.sha256}
    if inputs.reference_images:
        data["reference_images"] = [
            {"path": r.path, "sha256": r.sha256} for r in inputs.reference_images
        ]
    if inputs.extend:
        data["extend"] = inputs.extend
    if inputs.extend_uri:
        data["extend_uri"] = inputs.extend_uri
    return data


def _inputs_from_dict(variant: str, raw: object) -> JobInputs:
    if not isinstance(raw, Mapping):
        raise InvalidJobError(f"variant {variant!r}: field 'inputs' must be an object")

    def file(name: str, value: object) -> InputFile:
        if not isinstance(value, Mapping):
            raise InvalidJobError(f"variant {variant!r}: inputs.{name} must be an object")
        path, digest = value.get("path"), value.get("sha256")
        if not isinstance(path, str) or not path:
            raise InvalidJobError(f"variant {variant!r}: inputs.{name}.path must be a path")
        if not isinstance(digest, str) or not _SHA256_RE.fullmatch(digest):
            raise InvalidJobError(f"variant {variant!r}: inputs.{name}.sha256 is not a SHA-256")
        check_text(variant, f"inputs.{name}.path", path)
        return InputFile(path, digest)

    refs = raw.get("reference_images", [])
    if not isinstance(refs, list):
        raise InvalidJobError(f"variant {variant!r}: inputs.reference_images must be a list")
    texts: dict[str, str] = {}
    for name in ("extend", "extend_uri"):
        value = raw.get(name, "")
        if not isinstance(value, str):
            raise InvalidJobError(f"variant {variant!r}: inputs.{name} must be a string")
        check_text(variant, f"inputs.{name}", value)
        texts[name] = value
    if texts["extend"]:
        validate_variant(texts["extend"])
    # Keys a newer release added are ignored, as for a job's fields.
    return JobInputs(
        image=file("image", raw["image"]) if raw.get("image") is not None else None,
        last_frame=(
            file("last_frame", raw["last_frame"]) if raw.get("last_frame") is not None else None
        ),
        reference_images=tuple(file(f"reference_images[{i}]", r) for i, r in enumerate(refs)),
        **texts,
    )


def job_from_dict(data: object) -> Veo3Job:
    """Build a job from its JSON form; raise ``InvalidJobError`` saying which field is wrong.

    Fields added after the first release (``operation_name``, ``inputs`` among them) may be
    missing; fields and options added by a newer release are ignored.
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
        inputs=_inputs_from_dict(variant, data.get("inputs", {})),
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
