from __future__ import annotations

import functools
from pathlib import Path

import httpx
import pytest
from _kit.clock import SleepRecorder
from _kit.download import DownloaderFactory, downloader_on


@pytest.fixture(autouse=True)
def _no_real_sleep(no_real_sleep: None) -> None:
    """Every test here must inject its waits; a real ``time.sleep`` fails it."""


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    """Where a download writes its clip."""
    return tmp_path / "veo3" / "a.mp4"


@pytest.fixture
def make_downloader(
    http_client: httpx.Client, api_key: str, noop_sleep: SleepRecorder
) -> DownloaderFactory:
    """``make_downloader(**options)``: a downloader for the API origin on ``http_client``,
    its waits recorded by ``noop_sleep`` unless ``sleep`` is given."""
    return functools.partial(downloader_on, http_client, api_key, sleep=noop_sleep)
