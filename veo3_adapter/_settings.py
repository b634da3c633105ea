"""The settings every backend takes, and the download part of them.

:class:`BackendSettings` are the keyword arguments shared by the Gemini and Vertex AI
adapters; :class:`DownloadSettings` what one clip download is bounded and retried by.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from typing import TypedDict

import httpx

from . import clock as _clock
from .download import DEFAULT_DOWNLOAD_DEADLINE, DEFAULT_MAX_CLIP_BYTES
from .models import GenerationOptions
from .retry import RetryPolicy

__all__ = [
    "BackendSettings",
    "DownloadSettings",
    "Progress",
    "download_settings",
    "variant_progress",
]

Progress = Callable[[int, int | None], None]
"""``progress(bytes_so_far, total_or_None)`` during one download."""


class DownloadSettings(TypedDict):
    """How a clip download retries and what bounds it (keywords of ``ClipDownloader``)."""

    retry: RetryPolicy
    sleep: Callable[[float], None]
    rand: Callable[[], float]
    max_redirects: int
    max_clip_bytes: int
    download_deadline: float


class BackendSettings(TypedDict, total=False):
    """The keyword arguments every backend takes, each optional.

    - ``http_client``: the ``httpx.Client`` for every request (built with
      ``follow_redirects=False``); default: one of ours, closed by ``close()``.
    - ``sleep``, ``rand``: the waits between retries and their jitter (injectable).
    - ``options``: default :class:`GenerationOptions` for every submit.
    - ``retry``: the :class:`RetryPolicy` of submit, poll and download.
    - ``timeout`` (default 60 s): one request.
    - ``max_redirects`` (default 5), ``max_clip_bytes`` (default 4 GiB) and
      ``download_deadline`` (default 30 minutes, retries included): one download.
    - ``on_download_progress(variant, bytes_so_far, total_or_None)`` watches each download.
    """

    http_client: httpx.Client | None
    sleep: Callable[[float], None]
    options: GenerationOptions | None
    retry: RetryPolicy | None
    timeout: float
    max_redirects: int
    max_clip_bytes: int
    download_deadline: float
    rand: Callable[[], float]
    on_download_progress: Callable[[str, int, int | None], None] | None


def download_settings(settings: BackendSettings, retry: RetryPolicy) -> DownloadSettings:
    """The download part of ``settings``, defaults filled in."""
    return DownloadSettings(
        retry=retry,
        sleep=settings.get("sleep", _clock.sleep),
        rand=settings.get("rand", random.random),
        max_redirects=settings.get("max_redirects", 5),
        max_clip_bytes=settings.get("max_clip_bytes", DEFAULT_MAX_CLIP_BYTES),
        download_deadline=settings.get("download_deadline", DEFAULT_DOWNLOAD_DEADLINE),
    )


def variant_progress(
    report: Callable[[str, int, int | None], None] | None, variant: str
) -> Progress | None:
    """``report(variant, bytes_so_far, total_or_None)`` as a download's progress callback."""
    return None if report is None else functools.partial(report, variant)
