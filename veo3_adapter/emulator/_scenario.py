"""What the emulator does with one generation request, from submit to the last byte."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from ..mp4 import mp4_size_floor, sample_clip

__all__ = [
    "DEFAULT_RAI_REASON",
    "QUOTAS",
    "SCENARIOS",
    "SCENARIO_DESCRIPTIONS",
    "SCENARIO_NAMES",
    "Quota",
    "Scenario",
]

# Verbatim from googleapis/js-genai#1272 (DESIGN.md, "The wire").
DEFAULT_RAI_REASON = (
    "We encountered an issue with the audio for your prompt, which means we could not create "
    "your video. This can sometimes happen due to our safety filters or other processing "
    "issues. Please modify your request and try again. You have not been charged for this "
    "attempt."
)
DEFAULT_OPERATION_ERROR = "Video generation failed: the request could not be processed."


def _check_status(name: str, status: int, low: int = 400) -> None:
    if not low <= status <= 599:
        raise ValueError(f"Scenario.{name}: {status} is not an HTTP status from {low} to 599")


Quota = Literal["per_minute", "per_day"]
"""Which quota a 429 says was exceeded."""
QUOTAS: tuple[Quota, ...] = ("per_minute", "per_day")


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """A script for one operation; the defaults describe a plain success, as recorded live.

    Submit: ``submit_status`` refuses the submit (each refused submit consumes its scenario).
    Poll: ``poll_failures`` are answered first, one per poll, then ``running_polls`` polls say
    "running", then the operation is done with ``operation_error``, ``rai_reasons`` or a video.
    An API 429 names the ``quota`` exceeded and asks, in its body only, to retry in
    ``retry_after`` seconds; the media server's 429 and 503 say so in ``Retry-After``.
    Download, first hop: ``download_status`` answers every request; after ``file_ttl``
    seconds (emulator clock, from when a poll first reported done) the file is gone (404).
    Otherwise a 302 to the media server: on the API origin, key required (the live flow), or
    with ``cross_origin`` on the second origin, signed URL, no key taken. The media server
    honours ``Range`` (and says so) only with ``ranges``. It answers ``download_failures``
    first, one per GET; the first ``truncate_times`` bodies stop after ``truncate_at`` bytes
    (clean close), the first body breaks after ``drop_at`` bytes (reset);
    ``slow_chunk_delay`` sleeps between chunks.
    Several videos (``sampleCount``): the safety filters remove ``filtered_samples`` of them
    (all of them: as ``rai_reasons``); the download of each video numbered in
    ``failed_samples`` (1 is the first) answers 404 every time.
    """

    running_polls: int = 0
    operation_error: str | None = None
    rai_reasons: tuple[str, ...] | None = None
    poll_failures: tuple[int, ...] = ()
    submit_status: int | None = None
    quota: Quota = "per_minute"
    download_status: int | None = None
    cross_origin: bool = False
    ranges: bool = False
    download_failures: tuple[int, ...] = ()
    file_ttl: float | None = None
    truncate_at: int | None = None
    truncate_times: int = 1
    drop_at: int | None = None
    slow_chunk_delay: float | None = None
    video_size: int | None = None
    chunk_size: int = 64 * 1024
    retry_after: float = 1.0
    filtered_samples: int = 0
    failed_samples: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if any(not 1 <= n <= 4 for n in self.failed_samples):
            raise ValueError("Scenario.failed_samples numbers videos from 1 to 4")
        for name in ("running_polls", "truncate_times", "retry_after", "filtered_samples"):
            if getattr(self, name) < 0:
                raise ValueError(f"Scenario.{name} must not be negative")
        for name in ("truncate_at", "drop_at", "file_ttl", "slow_chunk_delay"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"Scenario.{name} must not be negative")
        if self.quota not in QUOTAS:
            raise ValueError(f"Scenario.quota must be one of {', '.join(QUOTAS)}")
        if self.chunk_size < 1:
            raise ValueError("Scenario.chunk_size must be at least 1")
        if self.operation_error is not None and self.rai_reasons is not None:
            raise ValueError("Scenario: operation_error and rai_reasons exclude each other")
        if self.operation_error is not None and not self.operation_error:
            raise ValueError("Scenario.operation_error must be a message, or None")
        if self.rai_reasons is not None and not isinstance(self.rai_reasons, tuple):
            raise TypeError("Scenario.rai_reasons must be a tuple of strings")
        for status in self.poll_failures:
            _check_status("poll_failures", status)
        for status in self.download_failures:
            _check_status("download_failures", status)
        if self.submit_status is not None:
            _check_status("submit_status", self.submit_status)
        if self.download_status is not None:
            _check_status("download_status", self.download_status)
        size = self.video_size
        if size is not None and size != len(sample_clip()) and size < mp4_size_floor():
            raise ValueError(
                f"Scenario.video_size {size} is too small for an MP4: use the sample size "
                f"({len(sample_clip())}) or at least {mp4_size_floor()} bytes"
            )

    @property
    def size(self) -> int:
        """The MP4's size in bytes."""
        return self.video_size if self.video_size is not None else len(sample_clip())

    @classmethod
    def named(cls, name: str, **changes: Any) -> Scenario:
        """The registered scenario ``name``, with ``changes`` applied (``running_polls=3``)."""
        try:
            base = SCENARIOS[name]
        except KeyError:
            raise ValueError(
                f"no scenario named {name!r}; known: {', '.join(SCENARIO_NAMES)}"
            ) from None
        return dataclasses.replace(base, **changes) if changes else base


SCENARIOS: Mapping[str, Scenario] = MappingProxyType(
    {
        "success": Scenario(),
        "rai_filtered": Scenario(rai_reasons=(DEFAULT_RAI_REASON,)),
        "operation_error": Scenario(operation_error=DEFAULT_OPERATION_ERROR),
        "download_not_found": Scenario(download_status=404),
        "download_forbidden": Scenario(download_status=403),
        "download_server_error": Scenario(download_failures=(500, 503)),
        "rate_limited": Scenario(poll_failures=(429,), retry_after=1.25),
        "truncated_download": Scenario(truncate_at=1024),
        "expired": Scenario(file_ttl=0.0),
        "slow_download": Scenario(
            video_size=256 * 1024, chunk_size=32 * 1024, slow_chunk_delay=0.5
        ),
        "dropped_connection": Scenario(drop_at=1024),
        "cross_origin_redirect": Scenario(cross_origin=True, ranges=True),
        "ranged_download": Scenario(ranges=True),
        "quota_exhausted_daily": Scenario(submit_status=429, quota="per_day"),
    }
)
"""Named scenarios: the failure modes a Veo client meets, one each.

``cross_origin_redirect`` and ``ranged_download`` are defences the live flow does not need
today: a redirect to another origin (the key must not follow) and a media server that
resumes with ranges.
"""

SCENARIO_NAMES: tuple[str, ...] = tuple(SCENARIOS)

SCENARIO_DESCRIPTIONS: Mapping[str, str] = MappingProxyType(
    {
        "success": "the clip is generated and downloaded, as recorded live",
        "rai_filtered": "done without a video: the safety filters refused the prompt",
        "operation_error": "the operation ends with an error instead of a video",
        "download_not_found": "the download answers 404",
        "download_forbidden": "the download answers 403",
        "download_server_error": "the download answers 500, then 503, then the clip",
        "rate_limited": "the first poll answers 429 (per-minute quota), retry in 1.25 s",
        "truncated_download": "the first download stops after 1 KiB (a clean close)",
        "expired": "the file is gone (404) as soon as the operation is done",
        "slow_download": "a 256 KiB clip sent in 32 KiB chunks, 0.5 s apart",
        "dropped_connection": "the first download's connection breaks after 1 KiB",
        "cross_origin_redirect": "the download redirects to a second origin that takes no key",
        "ranged_download": "the media server honours Range, so a broken download resumes",
        "quota_exhausted_daily": "the submit answers 429: the per-day quota is used up",
    }
)
"""One line per named scenario, for ``veo3 emulator --list-scenarios``."""
