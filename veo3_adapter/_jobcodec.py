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
    SampleClip,
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
    "note",
)
_SAMPLE_TEXTS = ("video_uri", "path")
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
    # Likewise: a job of one video is written as before several existed.
    if job.samples:
        data["samples"] = [dataclasses.asdict(sample) for sample in job.samples]
    else:
        del data["samples"]
    if not job.note:
        del data["note"]
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


def _samples_from_dict(variant: str, raw: object) -> tuple[SampleClip, ...]:
    if not isinstance(raw, list):
        raise InvalidJobError(f"variant {variant!r}: field 'samples' must be a list")
    samples = []
    for i, item in enumerate(raw):
        where = f"samples[{i}]"
        if not isinstance(item, Mapping):
            raise InvalidJobError(f"variant {variant!r}: {where} must be an object")
        texts: dict[str, str] = {}
        for name in _SAMPLE_TEXTS:
            value = item.get(name, "")
            if not isinstance(value, str):
                raise InvalidJobError(f"variant {variant!r}: {where}.{name} must be a string")
            check_text(variant, f"{where}.{name}", value)
            texts[name] = value
        size = _whole_number(variant, f"{where}.clip_bytes", item.get("clip_bytes", 0))
        samples.append(SampleClip(clip_bytes=size, **texts))
    return tuple(samples)


def _whole_number(variant: str, name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidJobError(f"variant {variant!r}: field {name!r} must be a whole number")
    return value


def job_from_dict(data: object) -> Veo3Job:
    """Build a job from its JSON form; raise ``InvalidJobError`` saying which field is wrong.

    Fields added after the first release (``operation_name``, ``inputs``, ``samples`` among
    them) may be missing (a job without ``samples`` has one video: ``clip_path``); fields
    and options added by a newer release are ignored.
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
    clip_bytes = _whole_number(variant, "clip_bytes", data.get("clip_bytes", 0))
    return Veo3Job(
        variant=variant,
        prompt=data["prompt"],
        status=status,
        options=_options_from_dict(variant, data.get("options", {})),
        inputs=_inputs_from_dict(variant, data.get("inputs", {})),
        clip_bytes=clip_bytes,
        samples=_samples_from_dict(variant, data.get("samples", [])),
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
    samples = tuple(
        dataclasses.replace(s, video_uri=_utf8(s.video_uri), path=_utf8(s.path))
        for s in job.samples
    )
    return dataclasses.replace(
        job, **texts, samples=samples, options=dataclasses.replace(job.options, **options)
    )


def _utf8(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text
