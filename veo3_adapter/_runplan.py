"""What ``run`` and ``resume`` do with each job: start it anew, keep it, or resume it.

In ``run``, a recorded job is kept when it was made from the same prompt, options (the
backend's defaults included, so another default model counts as a change) and inputs (the
images' digests, the extended video) and its clips are valid; a recorded operation still
running or finished is resumed rather than paid for again.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ._files import remove_stale_temp_files
from ._inputs import resolve_inputs
from ._jobcodec import check_options_text, check_text, storable
from ._secrets import env_secrets, redact
from .errors import InvalidPromptError, InvalidVariantError, OutputWriteError
from .models import (
    ErrorCode,
    GenerationOptions,
    JobInputs,
    JobStatus,
    Veo3Job,
    VideoInputs,
    validate_variants,
)
from .port import VideoGenerationPort
from .retry import NOTE_ATTR, Note

__all__ = [
    "Plan",
    "backend_of",
    "checked_input",
    "checked_inputs",
    "new_jobs",
    "plan_run",
    "port_defaults",
    "remove_partial_files",
    "resume_state",
    "same_backend",
    "stopped_unsent",
    "submitted_through",
]

logger = logging.getLogger("veo3_adapter.orchestrator")

_LIVE = (JobStatus.SUBMITTED, JobStatus.GENERATED)
_WHERE = ("backend", "base_url")
# Failures that another look at the server may still turn into a clip.
_RETRY_DOWNLOAD = {ErrorCode.DOWNLOAD_FAILED.value}
_RETRY_POLL = {ErrorCode.TIMEOUT.value, ErrorCode.POLL_FAILED.value}


@dataclass(frozen=True)
class Plan:
    """The variants of one run, each in exactly one group, in the run's order."""

    submit: tuple[str, ...]
    skip: tuple[str, ...]
    resume: tuple[str, ...]


def checked_input(
    prompts: Mapping[str, str], options: Mapping[str, GenerationOptions] | None
) -> dict[str, GenerationOptions]:
    """``options`` as a dict, once every variant, prompt and option can make a job.

    Raises ``InvalidJobError`` (its subclasses) naming the first that cannot.
    """
    options = dict(options or {})
    validate_variants(prompts)  # Intro and intro would be one file on macOS and Windows
    for variant, prompt in prompts.items():
        if not isinstance(prompt, str) or not prompt.strip():
            raise InvalidPromptError(f"prompt of variant {variant!r} is empty")
        check_text(variant, "prompt", prompt, InvalidPromptError)  # jobs.json is UTF-8
    for variant, opts in options.items():
        check_options_text(variant, opts)
    unknown = sorted(set(options) - set(prompts))
    if unknown:
        raise InvalidVariantError(f"options given for variants with no prompt: {unknown}")
    return options


def checked_inputs(
    prompts: Mapping[str, str], inputs: Mapping[str, VideoInputs] | None
) -> dict[str, JobInputs]:
    """Each variant's inputs checked (files read and hashed), before anything is written.

    Raises ``InvalidInputsError`` naming the variant and the field, or ``InvalidVariantError``
    for inputs given to a variant with no prompt.
    """
    unknown = sorted(set(inputs or {}) - set(prompts))
    if unknown:
        raise InvalidVariantError(f"inputs given for variants with no prompt: {unknown}")
    return {variant: resolve_inputs(variant, given) for variant, given in (inputs or {}).items()}


def port_defaults(port: object) -> GenerationOptions | None:
    """The options a port applies where a job sets none (its ``options``), if it says."""
    options = getattr(port, "options", None)
    return options if isinstance(options, GenerationOptions) else None


def backend_of(port: object) -> dict[str, str]:
    """The port's optional ``describe()``: where it sends jobs (``{}`` if it does not say).

    Only string values are kept, each scrubbed of credentials; a ``describe`` that raises
    or answers something else is logged and ignored.
    """
    describe = getattr(port, "describe", None)
    if not callable(describe):
        return {}
    try:
        described = describe()
    except Exception as exc:  # an optional nicety: never a reason to stop a run
        logger.warning("the port's describe() failed (%s); jobs.json records no backend", exc)
        return {}
    if not isinstance(described, Mapping):
        logger.warning("the port's describe() returned %s, not a mapping", type(described))
        return {}
    return {
        key: redact(value, env_secrets()).encode("utf-8", "replace").decode("utf-8")
        for key, value in described.items()
        if isinstance(key, str) and isinstance(value, str)
    }


def same_backend(recorded: Mapping[str, str], current: Mapping[str, str]) -> bool:
    """False only when both are known and name another backend or base URL."""
    if not recorded or not current:
        return True
    return all(recorded.get(key) == current.get(key) for key in _WHERE)


def _same_request(
    job: Veo3Job,
    prompt: str,
    requested: GenerationOptions,
    defaults: GenerationOptions | None,
    inputs: JobInputs,
) -> bool:
    # Another image (by its digest) or another extended video is another request.
    if job.prompt != prompt or job.inputs.key() != inputs.key():
        return False
    if job.options == requested:
        return True
    if defaults is None:
        # A port that does not tell its defaults: what this run sets must be what was used.
        recorded = job.options.to_dict()
        return all(recorded.get(name) == value for name, value in requested.to_dict().items())
    effective = defaults.merged(requested)
    return (
        job.options == storable(Veo3Job(variant=job.variant, prompt="", options=effective)).options
    )


def plan_run(
    recorded: Mapping[str, Veo3Job],
    prompts: Mapping[str, str],
    options: Mapping[str, GenerationOptions],
    *,
    inputs: Mapping[str, JobInputs],
    defaults: GenerationOptions | None,
    clip_ok: Callable[[Veo3Job], bool],
    resumable: bool,
    force: bool,
) -> Plan:
    """Sort ``prompts`` into submit / skip / resume against the ``recorded`` jobs.

    ``resumable``: the recorded operations belong to the backend this run uses.
    """
    submit: list[str] = []
    skip: list[str] = []
    resume: list[str] = []
    for variant, prompt in prompts.items():
        job = recorded.get(variant)
        requested = options.get(variant, GenerationOptions())
        given = inputs.get(variant, JobInputs())
        if force or job is None or not _same_request(job, prompt, requested, defaults, given):
            submit.append(variant)
        elif job.status is JobStatus.DOWNLOADED and clip_ok(job):
            logger.info("variant %r: its clip is already there; kept", variant)
            skip.append(variant)
        elif job.status in _LIVE and job.operation_name and resumable:
            logger.info("variant %r: resuming operation %s", variant, job.operation_name)
            resume.append(variant)
        else:
            submit.append(variant)
    return Plan(tuple(submit), tuple(skip), tuple(resume))


def new_jobs(
    variants: Iterable[str],
    prompts: Mapping[str, str],
    options: Mapping[str, GenerationOptions],
    inputs: Mapping[str, JobInputs],
    stamp: str,
) -> dict[str, Veo3Job]:
    """The PENDING jobs ``run`` makes for ``variants``, created and updated at ``stamp``."""
    return {
        variant: Veo3Job(
            variant=variant,
            prompt=prompts[variant],
            options=options.get(variant, GenerationOptions()),
            inputs=inputs.get(variant, JobInputs()),
            created_at=stamp,
            updated_at=stamp,
        )
        for variant in variants
    }


def submitted_through(port: VideoGenerationPort, job: Veo3Job) -> object:
    """The port's answer to submitting ``job``; ``inputs`` is passed only to a job that has
    some, so a port without the parameter keeps working for the others."""
    if job.inputs:
        return port.submit_job(job.variant, job.prompt, job.options, inputs=job.inputs)
    return port.submit_job(job.variant, job.prompt, job.options)


def remove_partial_files(clips_dir: Path) -> None:
    """Remove the partial files an interrupted run left in ``clips_dir`` (logged as a
    cleanup); ``OutputWriteError`` when they cannot be removed."""
    try:
        removed = remove_stale_temp_files(clips_dir)
    except OSError as exc:
        raise OutputWriteError.of(clips_dir, exc) from exc
    if removed:
        logger.info(
            "removed %d partial file(s) left by an interrupted run",
            len(removed),
            extra={NOTE_ATTR: Note("cleanup", f"partial files in {clips_dir}")},
        )


def stopped_unsent(job: Veo3Job) -> bool:
    """A job ``resume`` sends: one a stopped run left unsent, still PENDING (no submit of it
    was answered), or one a batch-stopping refusal failed (that refusal's, or one not sent
    after it). Nothing was started for either: it has no operation name."""
    if job.operation_name:
        return False
    if job.status is JobStatus.PENDING:
        return True
    return job.status is JobStatus.FAILED and bool(job.batch_stopped_by)


def resume_state(job: Veo3Job, *, clip_ok: bool) -> Veo3Job:
    """The state ``resume`` continues ``job`` from (``job`` itself when it is left alone)."""
    status = job.status
    if clip_ok:
        return job
    if status is JobStatus.FAILED:
        if job.error_message in _RETRY_DOWNLOAD:
            status = JobStatus.GENERATED
        elif job.error_message in _RETRY_POLL:
            status = JobStatus.SUBMITTED
        else:
            return job
    elif status is JobStatus.DOWNLOADED:
        logger.info("clip of variant %r is missing or broken; fetching it again", job.variant)
        status = JobStatus.GENERATED
    elif status is JobStatus.PENDING:
        status = JobStatus.SUBMITTED
    if not job.operation_name:
        return job.failed(
            ErrorCode.MISSING_OPERATION_NAME,
            "jobs.json has no operation name for this job, so the server cannot be asked "
            "about it; run the variant again",
        )
    return dataclasses.replace(job, status=status, error_message="", error_detail="")
