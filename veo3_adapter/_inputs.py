"""A job's inputs (images, an extended video): checked, hashed and read, never logged.

``run`` checks every input before anything is submitted: each file exists, is a regular
file, is a PNG, JPEG or WebP by its bytes (not its name) and is within the API's size limit;
a last frame needs a first one; three reference images at most, and not beside a frame or an
extension; an extension names a variant of the same jobs.json whose video is still on the
server. jobs.json records each file as its path and SHA-256 (``JobInputs``), never its
bytes; a backend reads the file again at submit and sends it only if its digest is the
recorded one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import os
import stat
from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta
from pathlib import Path

from .errors import InvalidInputsError, InvalidVariantError
from .models import (
    MAX_REFERENCE_IMAGES,
    GenerationOptions,
    InputFile,
    JobInputs,
    Veo3Job,
    VideoInputs,
    validate_variant,
)
from .port import VideoGenerationPort

__all__ = [
    "IMAGE_TYPES",
    "MAX_IMAGE_BYTES",
    "VIDEO_LIFETIME",
    "check_submits",
    "image_type",
    "read_input",
    "refused_options",
    "resolve_inputs",
    "with_extensions",
]

MAX_IMAGE_BYTES = 20_000_000
"""The largest image sent: Vertex AI's documented 20 MB per image sent in a request, read
as decimal megabytes (the stricter reading)."""
VIDEO_LIFETIME = timedelta(days=2)
"""How long a generated video stays on the server, so how long it can be extended."""
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp")
_CHUNK = 1 << 20


def image_type(head: bytes) -> str | None:
    """The MIME type of an image by its first bytes: PNG, JPEG or WebP, else ``None``."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def _opened(variant: str, field: str, path: Path) -> int:
    """A read-only descriptor of the regular file ``path`` (never a FIFO it would block on)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise InvalidInputsError(variant, field, f"{path} does not exist") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InvalidInputsError(variant, field, f"{path} cannot be read ({reason})") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise InvalidInputsError(variant, field, f"{path} is not a regular file")
    return fd


def _checked_bytes(variant: str, field: str, path: Path) -> tuple[bytes, str]:
    """The file's bytes and MIME type, once it is a regular image file within the limit."""
    fd = _opened(variant, field, path)
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(MAX_IMAGE_BYTES + 1)
    if len(data) > MAX_IMAGE_BYTES:
        raise InvalidInputsError(
            variant, field, f"{path} is larger than the {MAX_IMAGE_BYTES:,}-byte limit of an image"
        )
    mime = image_type(data[:16])
    if mime is None:
        raise InvalidInputsError(
            variant, field, f"{path} is not a PNG, JPEG or WebP image (judged by its bytes)"
        )
    return data, mime


def _file(variant: str, field: str, value: object) -> InputFile:
    if not isinstance(value, (str, os.PathLike)):
        raise InvalidInputsError(variant, field, f"must be a path, got {type(value).__name__}")
    path = Path(value).absolute()  # where it was found: resume may run from elsewhere
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputsError(
            variant, field, "the path is not valid UTF-8, which jobs.json cannot hold"
        ) from None
    data, _mime = _checked_bytes(variant, field, path)
    return InputFile(text, hashlib.sha256(data).hexdigest())


def resolve_inputs(variant: str, inputs: object, prompts: Collection[str] = ()) -> JobInputs:
    """``inputs`` (a :class:`VideoInputs`) checked and hashed, the extension's URI not yet set.

    Raises ``InvalidInputsError`` naming ``variant`` and the field at the first problem.
    """
    if not isinstance(inputs, VideoInputs):
        raise InvalidInputsError(variant, "inputs", f"must be VideoInputs, not {type(inputs)}")
    refs = inputs.reference_images
    if not isinstance(refs, tuple):
        raise InvalidInputsError(variant, "reference_images", "must be a tuple of paths")
    if inputs.last_frame is not None and inputs.image is None:
        raise InvalidInputsError(variant, "last_frame", "a last frame needs a first one (image)")
    if len(refs) > MAX_REFERENCE_IMAGES:
        raise InvalidInputsError(
            variant,
            "reference_images",
            f"{len(refs)} given; the API takes at most {MAX_REFERENCE_IMAGES}",
        )
    if refs and (inputs.image is not None or inputs.extend is not None):
        raise InvalidInputsError(
            variant, "reference_images", "cannot be combined with image, last_frame or extend"
        )
    extend = ""
    if inputs.extend is not None:
        if inputs.image is not None:
            raise InvalidInputsError(variant, "extend", "cannot be combined with an image")
        try:
            extend = validate_variant(inputs.extend)
        except InvalidVariantError as exc:
            raise InvalidInputsError(variant, "extend", str(exc)) from None
        if extend == variant:
            raise InvalidInputsError(
                variant, "extend", "a variant cannot extend itself; give the extension its own name"
            )
    image = _file(variant, "image", inputs.image) if inputs.image is not None else None
    last = (
        _file(variant, "last_frame", inputs.last_frame) if inputs.last_frame is not None else None
    )
    return JobInputs(
        image=image,
        last_frame=last,
        reference_images=tuple(
            _file(variant, f"reference_images[{i}]", r) for i, r in enumerate(refs)
        ),
        extend=extend,
    )


def with_extensions(
    inputs: Mapping[str, JobInputs], recorded: Mapping[str, Veo3Job]
) -> dict[str, JobInputs]:
    """``inputs`` with each extension's URI: the extended variant's recorded video, if any."""
    done: dict[str, JobInputs] = {}
    for variant, job_inputs in inputs.items():
        source = recorded.get(job_inputs.extend) if job_inputs.extend else None
        uri = source.video_uri if source is not None else ""
        done[variant] = dataclasses.replace(job_inputs, extend_uri=uri)
    return done


def refused_options(port: object, options: GenerationOptions) -> list[str]:
    """The options set in ``options`` that ``port`` says it does not accept (its optional
    ``accepted_options``); none when it does not say."""
    accepted = getattr(port, "accepted_options", None)
    if not isinstance(accepted, (set, frozenset)):
        return []
    return [name for name in options.to_dict() if name not in accepted]


def _takes_inputs(port: VideoGenerationPort) -> bool:
    try:
        parameters = inspect.signature(port.submit_job).parameters
    except (TypeError, ValueError):
        return False
    return "inputs" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )


def check_submits(
    jobs: Mapping[str, Veo3Job],
    recorded: Mapping[str, Veo3Job],
    *,
    port: VideoGenerationPort,
    defaults: GenerationOptions | None,
    now: str,
    same_backend: bool,
    submitting: Collection[str],
    backend: str = "",
) -> None:
    """Refuse, before any submit, a job about to be sent that the backend cannot take.

    ``jobs`` are the new jobs by variant; ``recorded`` what jobs.json held before this run.
    An option the port does not accept, inputs for a port that takes none, or an extension
    of a variant whose video is missing, expired (``now``, the orchestrator's time stamp,
    past its job's ``created_at`` plus :data:`VIDEO_LIFETIME`), on another backend, or
    about to be replaced in this run. ``backend`` (the port's ``describe()["backend"]``)
    names the port in messages; without it, its class does.
    """
    who = f"the {backend} backend" if backend else type(port).__name__
    for variant, job in jobs.items():
        effective = (defaults or GenerationOptions()).merged(job.options)
        for name in refused_options(port, effective):
            only = GenerationOptions.only_on().get(name)
            raise InvalidInputsError(
                variant,
                f"options.{name}",
                f"{who} does not accept it"
                + (f" (only the {only} backend does)" if only else "")
                + "; nothing was sent",
            )
        if job.inputs and not _takes_inputs(port):
            raise InvalidInputsError(
                variant, "inputs", f"{type(port).__name__}.submit_job takes no inputs"
            )
        if job.inputs.extend:
            _check_extension(
                variant, job.inputs.extend, recorded, _parsed(now), same_backend, submitting
            )


def _check_extension(
    variant: str,
    extend: str,
    recorded: Mapping[str, Veo3Job],
    now: datetime | None,
    same_backend: bool,
    submitting: Collection[str],
) -> None:
    def refuse(reason: str) -> InvalidInputsError:
        return InvalidInputsError(variant, "extend", f"variant {extend!r} {reason}")

    if extend in submitting:
        raise refuse("is submitted anew in this run, so its video is not there yet; run it first")
    source = recorded.get(extend)
    if source is None:
        raise refuse("is not in jobs.json")
    if not source.video_uri:
        raise refuse(
            "has no video on the server to extend (none generated, or it came inline: "
            "on Vertex AI set output_gcs_uri so that videos are kept in a bucket)"
        )
    if not same_backend:
        raise refuse("was generated on another backend than this run's")
    born = _parsed(source.created_at) or _parsed(source.updated_at)
    if now is not None and born is not None and now >= born + VIDEO_LIFETIME:
        raise refuse(
            f"was generated at {source.created_at or source.updated_at}; videos stay on the "
            "server two days, so it has expired: run it again, then extend it"
        )


def _parsed(stamp: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def read_input(
    variant: str, field: str, recorded: InputFile, scrub: Callable[[str], str] = str
) -> tuple[bytes, str]:
    """The bytes and MIME type of a recorded input, read again for a submit.

    Raises ``InvalidInputsError`` when the file is gone, no longer an image, or no longer has
    the recorded SHA-256 (it changed since the job was made: run the variant again).
    """
    data, mime = _checked_bytes(variant, field, Path(recorded.path))
    if hashlib.sha256(data).hexdigest() != recorded.sha256:
        raise InvalidInputsError(
            variant,
            field,
            scrub(
                f"{recorded.path} changed since the job was made (its SHA-256 is not the "
                "recorded one); nothing was sent: run the variant again to send the new image"
            ),
        )
    return data, mime
