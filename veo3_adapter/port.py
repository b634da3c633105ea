"""The port every video generation backend satisfies (structurally, without inheriting)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol, runtime_checkable

from .models import GenerationOptions, JobInputs, Veo3Job

__all__ = ["DescribedPort", "SampledPort", "VideoGenerationPort"]


@runtime_checkable
class VideoGenerationPort(Protocol):
    """What the orchestrator needs from a Veo backend: submit, poll, download.

    Three more members are optional, looked up with ``getattr`` so that a port without them
    keeps working: ``describe()`` (see :class:`DescribedPort`); ``options``, the
    ``GenerationOptions`` the port applies where a job sets none (its model among them),
    which lets ``run`` tell that a recorded job was made with the same options; and
    ``accepted_options``, the set of option names it sends (``run`` refuses a job setting
    another before anything is submitted). A port whose generations may return several
    videos (``number_of_videos``) reports them in the polled job's ``samples`` and has
    ``download_sample`` (see :class:`SampledPort`); ``download_clip`` fetches the first.
    """

    def submit_job(
        self,
        variant: str,
        prompt: str,
        options: GenerationOptions | None = None,
        inputs: JobInputs | None = None,
    ) -> Veo3Job:
        """Start generating; returns a SUBMITTED job carrying the server's ``operation_name``.

        ``inputs`` (images by path and SHA-256, an extended video's URI) is passed only when
        the job has some, so a port without the parameter keeps working for the others.
        Raises ``SubmitError`` when the request is refused.
        """
        ...

    def poll_job(self, job: Veo3Job) -> Veo3Job:
        """Read the job's operation; returns it SUBMITTED (still running), GENERATED or FAILED.

        Raises ``PollError`` when the operation's state cannot be read.
        """
        ...

    def download_clip(self, job: Veo3Job, dest: Path) -> Path:
        """Write the finished clip to the file ``dest`` atomically and return ``dest``.

        Raises ``Veo3GenerationError`` (usually ``DownloadError``) on failure, or the
        ``OSError`` of writing ``dest`` (a full disk); ``dest`` is then left as it was.
        """
        ...


@runtime_checkable
class DescribedPort(Protocol):
    """A port that says where it sends jobs; the orchestrator records it in jobs.json."""

    def describe(self) -> Mapping[str, str]:
        """Plain facts about the backend, e.g. ``{"backend": "gemini", "base_url": ...,
        "model": ...}``; never a credential. ``backend`` and ``base_url`` name where the
        recorded operations live."""
        ...


@runtime_checkable
class SampledPort(Protocol):
    """A port that downloads each of several videos one request generated."""

    def download_sample(self, job: Veo3Job, sample: int, dest: Path) -> Path:
        """Write video ``sample`` (0 is the first, ``job.samples`` order) to the file
        ``dest`` atomically and return ``dest``; fails as ``download_clip`` does."""
        ...
