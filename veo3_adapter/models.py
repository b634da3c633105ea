"""Domain types: a generation job and its options. Nothing here knows the SDK or HTTP."""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from ._variants import MAX_VARIANT_LENGTH, validate_variant, validate_variants
from .errors import InvalidOptionsError

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MODEL",
    "ErrorCode",
    "GenerationOptions",
    "InputFile",
    "JobInputs",
    "JobStatus",
    "MAX_VARIANT_LENGTH",
    "MAX_SAMPLES",
    "RunSummary",
    "SampleClip",
    "Veo3Job",
    "VideoInputs",
    "validate_variant",
    "validate_variants",
]

DEFAULT_MODEL = "veo-3.1-generate-001"
DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"


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


_VERTEX_ONLY = {"only_on": "vertex"}
MAX_SAMPLES = 4
"""The most videos one request may ask for (``number_of_videos``)."""


@dataclass(frozen=True, kw_only=True)
class GenerationOptions:
    """Per-adapter or per-job generation settings; ``None`` means "not set here".

    ``seed`` (0 to 2**32-1), ``generate_audio``, ``compression_quality`` ("optimized" or
    "lossless") and ``resize_mode`` ("crop" or "pad", how an input image is fitted) are
    accepted by Vertex AI only (``only_on()``); the Gemini API refuses them. Choices are
    stored lower-case. ``number_of_videos`` (1 to 4; unset means 1) asks one request for
    several videos of the same prompt and inputs.
    """

    model: str | None = None
    aspect_ratio: str | None = None
    resolution: str | None = None
    duration_seconds: int | None = None
    negative_prompt: str | None = None
    person_generation: str | None = None
    enhance_prompt: bool | None = None
    number_of_videos: int | None = field(default=None, metadata={"range": (1, MAX_SAMPLES)})
    seed: int | None = field(default=None, metadata={**_VERTEX_ONLY, "range": (0, 2**32 - 1)})
    generate_audio: bool | None = field(default=None, metadata=_VERTEX_ONLY)
    compression_quality: str | None = field(
        default=None, metadata={**_VERTEX_ONLY, "choices": ("optimized", "lossless")}
    )
    resize_mode: str | None = field(
        default=None, metadata={**_VERTEX_ONLY, "choices": ("crop", "pad")}
    )

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            choices = f.metadata.get("choices")
            if choices and isinstance(value, str):
                if value.lower() not in choices:
                    expected = "one of " + ", ".join(repr(c) for c in choices)
                    raise InvalidOptionsError(f.name, expected, got=repr(value))
                object.__setattr__(self, f.name, value.lower())
            bounds = f.metadata.get("range")
            if bounds and (
                isinstance(value, bool)
                or not isinstance(value, int)
                or not bounds[0] <= value <= bounds[1]
            ):
                expected = f"an integer from {bounds[0]} to {bounds[1]}"
                raise InvalidOptionsError(f.name, expected, got=repr(value))

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
    def only_on(cls) -> Mapping[str, str]:
        """The options a single backend accepts, and that backend (``"vertex"``)."""
        return _ONLY_ON

    @classmethod
    def accepted_by(cls, backend: str) -> frozenset[str]:
        """The options ``backend`` ("gemini", "vertex") accepts: all but another's own."""
        return frozenset(name for name in _SCHEMA if _ONLY_ON.get(name, backend) == backend)

    @classmethod
    def from_mapping(
        cls, values: Mapping[str, object], *, ignore_unknown: bool = False
    ) -> GenerationOptions:
        """Options from plain data (a prompts file, jobs.json); ``None`` means "not set".

        Raises ``InvalidOptionsError`` naming the first option whose name is unknown or whose
        value has the wrong type (``True`` is not an integer) or is out of its range or
        choices. ``ignore_unknown`` skips names this release does not know, for files written
        by a newer one.
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
_ONLY_ON: Mapping[str, str] = types.MappingProxyType(
    {
        f.name: f.metadata["only_on"]
        for f in dataclasses.fields(GenerationOptions)
        if "only_on" in f.metadata
    }
)
_TYPE_NAMES: Mapping[type, str] = {str: "a string", int: "an integer", bool: "true or false"}

MAX_REFERENCE_IMAGES = 3


@dataclass(frozen=True, kw_only=True)
class VideoInputs:
    """What a generation starts from besides its prompt; every field is optional.

    ``image`` is the first frame (image-to-video); ``last_frame`` the last one (it needs
    ``image``); ``reference_images`` up to three "asset" images of a subject to keep;
    ``extend`` a variant of the same jobs.json whose video (at most two days old) the new
    clip continues. Images are PNG, JPEG or WebP files, sent inline; a path may be given as
    a string.
    """

    image: Path | None = None
    last_frame: Path | None = None
    reference_images: tuple[Path, ...] = ()
    extend: str | None = None

    def __post_init__(self) -> None:
        # Strings and path-likes become Paths; anything else is left for run() to refuse,
        # naming the variant.
        for name in ("image", "last_frame"):
            value = getattr(self, name)
            if isinstance(value, (str, os.PathLike)):
                object.__setattr__(self, name, Path(value))
        refs = self.reference_images
        if isinstance(refs, (list, tuple)):
            object.__setattr__(
                self,
                "reference_images",
                tuple(Path(r) if isinstance(r, (str, os.PathLike)) else r for r in refs),
            )


@dataclass(frozen=True)
class InputFile:
    """An input image as jobs.json records it: its path and the SHA-256 of its bytes."""

    path: str
    sha256: str


@dataclass(frozen=True, kw_only=True)
class JobInputs:
    """A job's inputs as recorded and sent: files by path and digest, never their bytes.

    ``extend`` is the extended variant and ``extend_uri`` its video's URI when this job was
    made. Two jobs ask for the same thing when their digests, ``extend`` and ``extend_uri``
    are equal (``key``); where a file lies does not matter.
    """

    image: InputFile | None = None
    last_frame: InputFile | None = None
    reference_images: tuple[InputFile, ...] = ()
    extend: str = ""
    extend_uri: str = ""

    def __bool__(self) -> bool:
        return self != _NO_INPUTS

    def files(self) -> list[tuple[str, InputFile]]:
        """Each file with its field name (``"reference_images[1]"``), in request order."""
        named = [("image", self.image), ("last_frame", self.last_frame)]
        named += [(f"reference_images[{i}]", r) for i, r in enumerate(self.reference_images)]
        return [(name, file) for name, file in named if file is not None]

    def key(self) -> tuple[object, ...]:
        """What the request depends on: the digests in place, the extended video."""
        return (
            self.image and self.image.sha256,
            self.last_frame and self.last_frame.sha256,
            tuple(r.sha256 for r in self.reference_images),
            self.extend,
            self.extend_uri,
        )


_NO_INPUTS = JobInputs()


@dataclass(frozen=True)
class SampleClip:
    """One of the videos a request generated, and its clip.

    ``video_uri`` is where the server keeps it ("" for a video sent inline); ``path`` where
    its clip is written; ``clip_bytes`` the clip's size once downloaded, 0 until then.
    """

    video_uri: str = ""
    path: str = ""
    clip_bytes: int = 0


@dataclass(frozen=True)
class Veo3Job:
    """One clip to generate. Frozen: changes return a new job (``dataclasses.replace``).

    A request for several videos (``number_of_videos``) records each in ``samples``, in the
    server's order; ``clip_path``, ``video_uri`` and ``clip_bytes`` are always the first's
    (``veo3/{variant}.mp4``), and ``samples`` stays empty when one video came back.
    ``note`` says what a person should know about a job that did not fail, such as fewer
    videos than asked for because the safety filters removed some.
    """

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
    inputs: JobInputs = field(default_factory=JobInputs)
    samples: tuple[SampleClip, ...] = ()
    note: str = ""

    @classmethod
    def submitted(
        cls, variant: str, prompt: str, operation_name: str, options: GenerationOptions
    ) -> Veo3Job:
        """The job of a submit the backend accepted as ``operation_name``."""
        return cls(
            variant=variant,
            prompt=prompt,
            status=JobStatus.SUBMITTED,
            operation_name=operation_name,
            options=options,
        )

    @property
    def clip_paths(self) -> tuple[str, ...]:
        """Every video's clip path, the first one's first ("" for none recorded yet)."""
        if self.samples:
            return tuple(sample.path for sample in self.samples)
        return (self.clip_path,) if self.clip_path else ()

    @property
    def video_uris(self) -> tuple[str, ...]:
        """Every video's URI on the server, in the server's order ("" for one sent inline)."""
        if self.samples:
            return tuple(sample.video_uri for sample in self.samples)
        return (self.video_uri,) if self.video_uri else ()

    @property
    def clips_downloaded(self) -> int:
        """How many of the job's videos have been downloaded to their clip paths."""
        if self.samples:
            return sum(1 for sample in self.samples if sample.clip_bytes)
        return 1 if self.status is JobStatus.DOWNLOADED else 0

    def with_samples(self, samples: Iterable[SampleClip]) -> Veo3Job:
        """This job with ``samples`` as its videos: the first is also ``clip_path``,
        ``video_uri`` and ``clip_bytes``; ``samples`` is kept only when there are several."""
        videos = tuple(samples)
        first = videos[0] if videos else SampleClip()
        return dataclasses.replace(
            self,
            clip_path=first.path,
            video_uri=first.video_uri,
            clip_bytes=first.clip_bytes,
            samples=videos if len(videos) > 1 else (),
        )

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
