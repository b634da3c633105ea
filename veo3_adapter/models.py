"""Domain types: a generation job and its options. Nothing here knows the SDK or HTTP."""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .errors import InvalidOptionsError, InvalidVariantError

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MODEL",
    "ErrorCode",
    "GenerationOptions",
    "JobStatus",
    "RunSummary",
    "Veo3Job",
    "validate_variant",
    "validate_variants",
]

DEFAULT_MODEL = "veo-3.1-generate-001"
DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
MAX_VARIANT_LENGTH = 100
_VARIANT_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


class JobStatus(StrEnum):
    """Where a job is in its life: pending -> submitted -> generated -> downloaded, or failed."""

    PENDING = "pending"
    SUBMITTED = "submitted"
    GENERATED = "generated"
    DOWNLOADED = "downloaded"
    FAILED = "failed"


class ErrorCode(StrEnum):
    """Machine codes stored in ``Veo3Job.error_message`` when a job fails."""

    DOWNLOAD_FAILED = "download_failed"
    GENERATION_FAILED = "generation_failed"
    RAI_FILTERED = "rai_filtered"
    SUBMIT_FAILED = "submit_failed"
    QUOTA_EXHAUSTED = "quota_exhausted"
    POLL_FAILED = "poll_failed"
    TIMEOUT = "timeout"
    OPERATION_NOT_FOUND = "operation_not_found"
    MISSING_OPERATION_NAME = "missing_operation_name"
    # An exception that is no Veo3Error: a bug here or in the backend, not the job's fault.
    INTERNAL_ERROR = "internal_error"


def validate_variant(variant: object) -> str:
    """Return ``variant`` if it can be a file name, else raise ``InvalidVariantError`` naming it."""
    if not isinstance(variant, str):
        raise InvalidVariantError(f"variant name must be a string, got {type(variant).__name__}")
    if len(variant) > MAX_VARIANT_LENGTH:
        raise InvalidVariantError(
            f"variant name {variant[:40]!r}... is {len(variant)} characters long; "
            f"the limit is {MAX_VARIANT_LENGTH}"
        )
    if not _VARIANT_RE.fullmatch(variant):
        raise InvalidVariantError(
            f"variant name {variant!r} is not allowed: it becomes veo3/<variant>.mp4, so use "
            "letters, digits, '.', '_' and '-' only, not starting with '.'"
        )
    return variant


def validate_variants(variants: Iterable[object], *, kept: Iterable[str] = ()) -> list[str]:
    """``validate_variant`` on each; two names equal ignoring case are refused, naming both.

    ``veo3/Intro.mp4`` and ``veo3/intro.mp4`` are one file on macOS and Windows. ``kept``
    are variants already recorded that stay beside these (jobs.json's other jobs).
    """
    names = [validate_variant(variant) for variant in variants]
    seen: dict[str, str] = {}
    for name in names:
        other = seen.setdefault(name.casefold(), name)
        if other != name:
            raise _same_file(other, name)
    for name in kept:
        other = seen.get(name.casefold(), name)
        if other != name:
            raise _same_file(name, other)
    return names


def _same_file(first: str, second: str) -> InvalidVariantError:
    return InvalidVariantError(
        f"variants {first!r} and {second!r} differ only in case, so they would be one file "
        "on macOS and Windows; rename one of them"
    )


@dataclass(frozen=True, kw_only=True)
class GenerationOptions:
    """Per-adapter or per-job generation settings; ``None`` means "not set here"."""

    model: str | None = None
    aspect_ratio: str | None = None
    resolution: str | None = None
    duration_seconds: int | None = None
    negative_prompt: str | None = None
    person_generation: str | None = None
    enhance_prompt: bool | None = None

    def merged(self, override: GenerationOptions | None) -> GenerationOptions:
        """Return these options with every field that ``override`` sets replaced."""
        if override is None:
            return self
        changes = {
            f.name: getattr(override, f.name)
            for f in dataclasses.fields(override)
            if getattr(override, f.name) is not None
        }
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The fields that are set, by name (what ``from_mapping`` reads back)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    @classmethod
    def schema(cls) -> Mapping[str, type]:
        """Every option's name and the type of its value, in declaration order."""
        return _SCHEMA

    @classmethod
    def from_mapping(
        cls, values: Mapping[str, object], *, ignore_unknown: bool = False
    ) -> GenerationOptions:
        """Options from plain data (a prompts file, jobs.json); ``None`` means "not set".

        Raises ``InvalidOptionsError`` naming the first option whose name is unknown or whose
        value has the wrong type (``True`` is not an integer). ``ignore_unknown`` skips names
        this release does not know, for files written by a newer one.
        """
        checked: dict[str, Any] = {}
        for name, value in values.items():
            kind = _SCHEMA.get(name)
            if kind is None:
                if ignore_unknown:
                    continue
                raise InvalidOptionsError(name, "one of " + ", ".join(_SCHEMA), unknown=True)
            if value is not None and (
                not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool)
            ):
                expected = _TYPE_NAMES.get(kind, f"a {kind.__name__}")
                raise InvalidOptionsError(name, expected, got=type(value).__name__)
            checked[name] = value
        return cls(**checked)


def _option_types() -> dict[str, type]:
    """Each field's declared type without its ``| None``: the annotations are the schema."""
    hints = typing.get_type_hints(GenerationOptions)
    schema: dict[str, type] = {}
    for f in dataclasses.fields(GenerationOptions):
        hint = hints[f.name]
        args = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        (kind,) = [a for a in args if a is not type(None)]
        schema[f.name] = kind
    return schema


_SCHEMA: Mapping[str, type] = types.MappingProxyType(_option_types())
_TYPE_NAMES: Mapping[type, str] = {str: "a string", int: "an integer", bool: "true or false"}


@dataclass(frozen=True)
class Veo3Job:
    """One clip to generate. Frozen: changes return a new job (``dataclasses.replace``)."""

    variant: str
    prompt: str
    status: JobStatus = JobStatus.PENDING
    operation_name: str = ""
    error_message: str = ""
    error_detail: str = ""
    clip_path: str = ""
    options: GenerationOptions = field(default_factory=GenerationOptions)
    video_uri: str = ""
    clip_bytes: int = 0
    created_at: str = ""
    updated_at: str = ""
    # The variant whose refused submit stopped its run (a per-day quota, a retired model, a
    # refused key): set on that job and on the jobs not sent because of it; resume sends them.
    batch_stopped_by: str = ""

    @property
    def finished(self) -> bool:
        """True when nothing more will happen to this job in this run."""
        return self.status in (JobStatus.DOWNLOADED, JobStatus.FAILED)

    def failed(self, code: ErrorCode, detail: str = "") -> Veo3Job:
        """This job marked FAILED with a machine code and a human reason."""
        return dataclasses.replace(
            self, status=JobStatus.FAILED, error_message=code.value, error_detail=detail
        )


@dataclass(frozen=True)
class RunSummary:
    """What one ``run`` (or ``resume``) did with each of its variants, in their order.

    ``submitted``: started anew (the job's state says whether the backend accepted it);
    ``skipped``: kept as recorded (a valid clip, or a final state ``resume`` leaves alone);
    ``resumed``: a recorded operation polled or downloaded, not submitted again.
    """

    submitted: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    resumed: tuple[str, ...] = ()
