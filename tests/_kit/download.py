"""The clip downloader in tests: one on the Gemini API origin, and what a failed download
must leave behind (nothing)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from _kit.adapters import retries
from veo3_adapter._http import Origin
from veo3_adapter.download import ClipDownloader

API_ORIGIN = Origin.of(httpx.URL("https://generativelanguage.googleapis.com"))

DownloaderFactory = Callable[..., ClipDownloader]
"""The ``make_downloader(**options)`` fixture: ``downloader_on`` the suite's client and key."""


def downloader_on(
    client: httpx.Client, key: str, sleep: Callable[[float], None], **options: Any
) -> ClipDownloader:
    """A downloader for the API origin on ``client``: three attempts, 1 s backoff without
    jitter, waits through ``sleep``; ``options`` add to or replace these."""
    settings = {**retries(3, sleep, initial=1.0), **options}
    return ClipDownloader(client, key, API_ORIGIN, **settings)


def assert_nothing_left(dest: Path) -> None:
    """No clip at ``dest`` and nothing else in its folder (no partial file)."""
    assert not dest.exists()
    assert not dest.parent.exists() or list(dest.parent.iterdir()) == []
