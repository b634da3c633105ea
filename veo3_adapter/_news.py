"""What a scheduler's workers do and post back: one request of one job (:func:`step`), its
:class:`News` for the dispatcher, and what becomes of an answer no one records (:func:`late`).
"""

from __future__ import annotations

import logging
from enum import Enum
from typing import NamedTuple

from ._samples import ClipPath
from ._steps import THROTTLED, Step, download_step, poll_step, submit_step
from .models import Veo3Job
from .port import VideoGenerationPort

__all__ = ["THROTTLED_REASON", "Abandoned", "Kind", "News", "late", "received", "step"]

logger = logging.getLogger("veo3_adapter.orchestrator")

THROTTLED_REASON = f"HTTP {THROTTLED}"
"""The reason of a backend's ``Transient`` for a 429."""


class Abandoned(BaseException):
    """Raised in a request of a run that is stopping or over, instead of its next attempt.

    A ``BaseException``, as ``KeyboardInterrupt`` is: no job's failure handling takes it for
    the job's fault; it only unwinds the request (a partial file is removed on the way).
    """


class Kind(Enum):
    SUBMIT = "submit"
    POLL = "poll"
    DOWNLOAD = "download"


class News(NamedTuple):
    """What a worker posts: its request's result, or (``kind`` None) a wait to hold for."""

    kind: Kind | None
    variant: str
    result: Step | BaseException | None = None
    hold: float = 0.0


def step(port: VideoGenerationPort, kind: Kind, job: Veo3Job, clip_path: ClipPath) -> Step:
    """Make ``job``'s request of this ``kind`` through ``port``."""
    if kind is Kind.SUBMIT:
        return submit_step(port, job)
    if kind is Kind.POLL:
        return poll_step(port, job)
    return download_step(port, job, clip_path)


def received(item: News) -> Veo3Job | None:
    """The job of a submit's answer that carries an operation name, if ``item`` is one."""
    result = item.result
    if item.kind is Kind.SUBMIT and isinstance(result, Step) and result.job is not None:
        return result.job if result.job.operation_name else None
    return None


def late(item: News) -> None:
    """An answer that was not recorded: an operation name in it must not be lost."""
    job = received(item)
    if job is not None:
        logger.error(
            "variant %r was submitted as operation %s, which jobs.json does not have (the "
            "run ended first): keep this operation name",
            item.variant,
            job.operation_name,
        )
