"""What reaches a progress view besides the orchestrator's state changes: the port's polls
and downloads (:func:`watch`) and the package's log records that carry a retry note
(:func:`reporting`)."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..models import GenerationOptions, JobInputs, Veo3Job
from ..port import VideoGenerationPort
from ..retry import NOTE_ATTR, Note
from ._progress import Progress, ProgressView

__all__ = ["reporting", "watch"]


def watch(port: VideoGenerationPort, view: Progress) -> VideoGenerationPort:
    """``port``, reporting every poll and download start to ``view``."""
    return port if view.mode == "off" else _WatchedPort(port, view)


class _WatchedPort:
    """A port that tells a progress view about polls and downloads, then delegates."""

    def __init__(self, port: VideoGenerationPort, view: Progress) -> None:
        self._port = port
        self._view = view

    def __getattr__(self, name: str) -> Any:
        # What else the port offers (``describe()``, ``options``) is the port's own.
        if name.startswith("__") or name in ("_port", "_view"):
            raise AttributeError(name)
        found = getattr(self._port, name)
        if name == "download_sample":  # only where the port has it: several videos a job
            return self._reported_sample_download(found)
        return found

    def _reported_sample_download(self, download: Any) -> Any:
        def download_sample(job: Veo3Job, sample: int, dest: Path) -> Path:
            self._view.download_started(job.variant)
            return Path(download(job, sample, dest))

        return download_sample

    def submit_job(
        self,
        variant: str,
        prompt: str,
        options: GenerationOptions | None = None,
        inputs: JobInputs | None = None,
    ) -> Veo3Job:
        if inputs:
            return self._port.submit_job(variant, prompt, options, inputs=inputs)
        return self._port.submit_job(variant, prompt, options)

    def poll_job(self, job: Veo3Job) -> Veo3Job:
        try:
            polled = self._port.poll_job(job)
        except Exception:
            self._view.polled(job, answered=False)
            raise
        self._view.polled(polled, answered=True)
        return polled

    def download_clip(self, job: Veo3Job, dest: Path) -> Path:
        self._view.download_started(job.variant)
        return self._port.download_clip(job, dest)


class _NoteHandler(logging.Handler):
    """Passes the records that carry a :class:`~veo3_adapter.retry.Note` to the view.

    Everything else the package logs is a state change the view already shows.
    """

    def __init__(self, view: Progress) -> None:
        super().__init__(logging.INFO)
        self._view = view

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(getattr(record, NOTE_ATTR, None), Note):
            self._view.note(record.getMessage())


@contextlib.contextmanager
def reporting(quiet: bool, redact: Sequence[str]) -> Iterator[Progress]:
    """A view on stderr, with the package's notes routed to it (or every record silenced)."""
    view = ProgressView(sys.stderr, mode="off" if quiet else None, redact=redact)
    logger = logging.getLogger("veo3_adapter")
    # Always a handler of our own: without one, logging's last resort prints warnings.
    handler: logging.Handler = logging.NullHandler() if quiet else _NoteHandler(view)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield view
    finally:
        view.close()
        logger.removeHandler(handler)
        logger.setLevel(level)
