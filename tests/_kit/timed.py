"""Ports whose requests take virtual time, for the scheduler's and the orchestrator's
concurrency tests.

``TinyPort`` makes each request take the (virtual) time a test gives it, on a
``veo3_adapter._timebase.VirtualTime``; ``Through`` forwards every request to a real adapter
and logs its virtual start and end.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path

from veo3_adapter import (
    GeminiVeo3Adapter,
    GenerationOptions,
    JobStatus,
    Veo3Job,
    VertexVeo3Adapter,
)
from veo3_adapter._retrywatch import retry_seen
from veo3_adapter._timebase import VirtualTime
from veo3_adapter.models import JobInputs
from veo3_adapter.mp4 import sample_clip
from veo3_adapter.retry import Transient

__all__ = ["Through", "TinyPort"]

SUBMITTED, GENERATED = JobStatus.SUBMITTED, JobStatus.GENERATED


class TinyPort:
    """A port whose requests take virtual time; per variant: refusals, failures, waits."""

    def __init__(self, time: VirtualTime, *, running: int = 0) -> None:
        self.time = time
        self.running: dict[str, int] = {}
        self.default_running = running
        self.waits: dict[tuple[str, str], float] = {}  # (method, variant or "*") -> seconds
        self.retries: dict[tuple[str, str], float] = {}  # an adapter's own retry after a 429
        self.refusals: dict[str, list[Exception]] = {}
        self.poll_failures: dict[str, list[Exception]] = {}
        self.log: list[tuple[str, str, float, float]] = []  # method, variant, start, end
        self.names: list[str] = []
        self.active = self.peak = self.downloading = self.peak_downloads = 0
        self._polls: dict[str, int] = {}
        self._lock = threading.Lock()

    def starts(self, method: str, variant: str | None = None) -> list[float]:
        return [s for m, v, s, _ in self.log if m == method and variant in (None, v)]

    @contextlib.contextmanager
    def _request(self, method: str, variant: str) -> Iterator[None]:
        with self._lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
            if method == "download":
                self.downloading += 1
                self.peak_downloads = max(self.peak_downloads, self.downloading)
        start = self.time.monotonic()
        try:
            retry = self.retries.pop((method, variant), None)
            if retry is not None:  # what retry.retrying does before it waits
                retry_seen(Transient("HTTP 429", retry), retry)
                self.time.sleep(retry)
            wait = self.waits.get((method, variant), self.waits.get((method, "*"), 0.0))
            if wait:
                self.time.sleep(wait)
            yield
        finally:
            with self._lock:
                self.active -= 1
                self.downloading -= method == "download"
                self.log.append((method, variant, start, self.time.monotonic()))

    def submit_job(
        self,
        variant: str,
        prompt: str,
        options: GenerationOptions | None = None,
        inputs: JobInputs | None = None,
    ) -> Veo3Job:
        with self._request("submit", variant):
            if self.refusals.get(variant):
                raise self.refusals[variant].pop(0)
            name = f"operations/{variant}-{len(self.names)}"
            self.names.append(name)
            return Veo3Job(variant=variant, prompt=prompt, status=SUBMITTED, operation_name=name)

    def poll_job(self, job: Veo3Job) -> Veo3Job:
        with self._request("poll", job.variant):
            if self.poll_failures.get(job.variant):
                raise self.poll_failures[job.variant].pop(0)
            seen = self._polls.get(job.variant, 0)
            self._polls[job.variant] = seen + 1
            if seen < self.running.get(job.variant, self.default_running):
                return job
            return dataclasses.replace(job, status=GENERATED, video_uri=f"fake://{job.variant}")

    def download_clip(self, job: Veo3Job, dest: Path) -> Path:
        with self._request("download", job.variant):
            dest.write_bytes(sample_clip())
            return dest


class Through(TinyPort):
    """Every request forwarded to a real adapter, logged with its virtual times."""

    def __init__(self, time: VirtualTime, inner: GeminiVeo3Adapter | VertexVeo3Adapter) -> None:
        super().__init__(time)
        self.inner = inner

    def submit_job(
        self,
        variant: str,
        prompt: str,
        options: GenerationOptions | None = None,
        inputs: JobInputs | None = None,
    ) -> Veo3Job:
        with self._request("submit", variant):
            if inputs:
                return self.inner.submit_job(variant, prompt, options, inputs=inputs)
            return self.inner.submit_job(variant, prompt, options)

    def poll_job(self, job: Veo3Job) -> Veo3Job:
        with self._request("poll", job.variant):
            return self.inner.poll_job(job)

    def download_clip(self, job: Veo3Job, dest: Path) -> Path:
        with self._request("download", job.variant):
            return self.inner.download_clip(job, dest)
