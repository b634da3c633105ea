"""A job's videos on disk: where each clip goes, whether all are there, fetching what is not.

The first video of a job is ``veo3/{variant}.mp4``, the path a one-video job has always had;
the second to fourth of a request for several (``number_of_videos``) are ``{variant}~2.mp4``
to ``{variant}~4.mp4``: no variant contains ``~``, so no variant's own clip has such a name.
Every video is fetched; one that fails fails the job (``download_failed``) and the others
are kept, so that fetching again (``resume``) brings only what is missing or broken.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import NamedTuple, Protocol

from ._failures import clip_write_failure, internal_failure, scrubbed
from .errors import Veo3Error
from .models import ErrorCode, JobStatus, SampleClip, Veo3Job
from .mp4 import is_mp4_file
from .port import VideoGenerationPort

__all__ = ["SAMPLE_MARK", "ClipPath", "clip_name", "clips_ok", "download_clips", "sample_count"]

logger = logging.getLogger("veo3_adapter.orchestrator")

SAMPLE_MARK = "~"
"""What separates a variant from the number of its second, third or fourth video."""


class ClipPath(Protocol):
    """Where a video of a variant goes: ``clip_path(variant)`` for its first, ``clip_path(
    variant, sample)`` for the others (``sample`` from 1)."""

    def __call__(self, variant: str, sample: int = 0, /) -> Path: ...


class _Failed(NamedTuple):
    code: ErrorCode
    detail: str


def clip_name(variant: str, sample: int = 0) -> str:
    """``{variant}.mp4`` for the first video (``sample`` 0), ``{variant}~{n}.mp4`` for the
    n-th (n from 2)."""
    return f"{variant}.mp4" if sample == 0 else f"{variant}{SAMPLE_MARK}{sample + 1}.mp4"


def sample_count(job: Veo3Job) -> int:
    """How many videos the job's operation generated (1 until it says otherwise)."""
    return max(len(job.samples), 1)


def clips_ok(job: Veo3Job, clips_dir: Path) -> bool:
    """True when ``job`` is DOWNLOADED and every one of its clips is an MP4 in ``clips_dir``."""
    return job.status is JobStatus.DOWNLOADED and all(
        is_mp4_file(clips_dir / clip_name(job.variant, sample))
        for sample in range(sample_count(job))
    )


def download_clips(port: VideoGenerationPort, job: Veo3Job, clip_path: ClipPath) -> Veo3Job:
    """``job`` after fetching each of its videos not already at its ``clip_path``.

    DOWNLOADED when every clip is there; otherwise FAILED (``download_failed``, or
    ``internal_error`` for a bug), the detail naming each video that failed, and the clips
    that arrived recorded (``samples``) and kept.
    """
    if not job.samples:
        dest = clip_path(job.variant)
        got = _fetch(port, job, 0, dest)
        if isinstance(got, _Failed):
            return job.failed(got.code, got.detail)
        return dataclasses.replace(
            job.with_samples([dataclasses.replace(got, video_uri=job.video_uri)]),
            status=JobStatus.DOWNLOADED,
            error_message="",
            error_detail="",
        )
    count = len(job.samples)
    samples: list[SampleClip] = []
    failed: list[_Failed] = []
    for sample, recorded in enumerate(job.samples):
        dest = clip_path(job.variant, sample) if sample else clip_path(job.variant)
        if _arrived(recorded, dest):
            samples.append(dataclasses.replace(recorded, path=str(dest)))
            continue
        got = _fetch(port, job, sample, dest)
        if isinstance(got, _Failed):
            failed.append(got._replace(detail=f"video {sample + 1} ({dest.name}): {got.detail}"))
            samples.append(dataclasses.replace(recorded, path=str(dest), clip_bytes=0))
        else:
            samples.append(dataclasses.replace(got, video_uri=recorded.video_uri))
    done = job.with_samples(samples)
    if not failed:
        return dataclasses.replace(
            done, status=JobStatus.DOWNLOADED, error_message="", error_detail=""
        )
    codes = {failure.code for failure in failed}
    code = ErrorCode.INTERNAL_ERROR if ErrorCode.INTERNAL_ERROR in codes else failed[0].code
    kept = count - len(failed)
    details = "; ".join(failure.detail for failure in failed)
    return done.failed(code, f"{details} ({kept} of {count} videos downloaded and kept)")


def _arrived(recorded: SampleClip, dest: Path) -> bool:
    """Whether the clip ``recorded`` as downloaded is still at ``dest``, whole."""
    if not recorded.clip_bytes or not is_mp4_file(dest):
        return False
    try:
        return dest.stat().st_size == recorded.clip_bytes
    except OSError:
        return False


def _fetch(
    port: VideoGenerationPort, job: Veo3Job, sample: int, dest: Path
) -> SampleClip | _Failed:
    """Download one video to ``dest``: the clip written, or the failure's code and detail."""
    variant = job.variant
    try:
        if sample == 0:
            written = Path(port.download_clip(job, dest))
        else:
            download_sample = getattr(port, "download_sample", None)
            if not callable(download_sample):
                raise TypeError(
                    f"the port reported {len(job.samples)} videos but has no download_sample()"
                )
            written = Path(download_sample(job, sample, dest))
        size = written.stat().st_size
    except Veo3Error as exc:
        # The adapter has logged the cause at WARNING; here only the job's new state.
        logger.info("variant %r: %s", variant, ErrorCode.DOWNLOAD_FAILED.value)
        return _Failed(ErrorCode.DOWNLOAD_FAILED, scrubbed(str(exc)))
    except OSError as exc:  # the clip's file: a full disk, a read-only directory
        return _Failed(ErrorCode.DOWNLOAD_FAILED, clip_write_failure(variant, dest, exc))
    except Exception as exc:
        return _Failed(ErrorCode.INTERNAL_ERROR, internal_failure("download", variant, exc))
    return SampleClip(path=str(written), clip_bytes=size)
