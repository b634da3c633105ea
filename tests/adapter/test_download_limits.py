"""What a media answer may not do: come compressed, grow past a size, or take too long."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import respx
from _kit.download import DownloaderFactory, assert_nothing_left

from veo3_adapter import (
    ConfigurationError,
    DownloadError,
    GeminiVeo3Adapter,
    JobStatus,
    Veo3Job,
)
from veo3_adapter.clock import virtual_time
from veo3_adapter.download import (
    DEFAULT_DOWNLOAD_DEADLINE,
    DEFAULT_MAX_CLIP_BYTES,
)

if TYPE_CHECKING:
    from _kit.adapters import AdapterFactory
    from _kit.clock import FakeClock
    from _kit.wire import Wire


class CountingStream(httpx.SyncByteStream):
    """Yields ``data`` in ``size`` chunks, counting what was taken; ``tick`` runs before each."""

    def __init__(self, data: bytes, size: int, tick: Any = None) -> None:
        self.data = data
        self.size = size
        self.tick = tick
        self.taken = 0

    def __iter__(self) -> Iterator[bytes]:
        for start in range(0, len(self.data), self.size):
            if self.tick is not None:
                self.tick()
            chunk = self.data[start : start + self.size]
            self.taken += len(chunk)
            yield chunk


def test_the_defaults() -> None:
    assert DEFAULT_MAX_CLIP_BYTES == 4 * 1024**3
    assert DEFAULT_DOWNLOAD_DEADLINE == 30 * 60


# -- Content-Encoding ------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gzip", "br", "identity, gzip", "x-\u00e9\x1b"])
def test_a_compressed_media_answer_is_refused(
    router: respx.MockRouter,
    wire: Wire,
    make_downloader: DownloaderFactory,
    dest: Path,
    clip: bytes,
    encoding: str,
) -> None:
    # Really compressed where httpx could decode it (respx reads a mocked body up front).
    body = gzip.compress(clip) if "gzip" in encoding else clip
    headers = {"content-encoding": encoding.encode("latin-1")}
    route = router.get(wire.file_url()).respond(200, headers=headers, content=body)
    with pytest.raises(DownloadError, match="Content-Encoding") as info:
        make_downloader().download(wire.file_uri(), dest, operation_name="operations/x")
    assert ascii(encoding.lower())[1:-1] in str(info.value)
    assert info.value.operation_name == "operations/x"
    assert route.calls.last.request.headers["accept-encoding"] == "identity"
    assert route.call_count == 1
    assert_nothing_left(dest)


def test_identity_encoding_is_accepted(
    router: respx.MockRouter,
    wire: Wire,
    make_downloader: DownloaderFactory,
    dest: Path,
    clip: bytes,
) -> None:
    router.get(wire.file_url()).respond(
        200, content=clip, headers={"content-encoding": " Identity "}
    )
    make_downloader().download(wire.file_uri(), dest)
    assert dest.read_bytes() == clip


# -- max_clip_bytes ----------------------------------------------------------------------------


def test_a_content_length_over_the_limit_is_refused_before_writing(
    router: respx.MockRouter,
    wire: Wire,
    make_downloader: DownloaderFactory,
    dest: Path,
    clip: bytes,
) -> None:
    stream = CountingStream(clip, 256)
    route = router.get(wire.file_url()).mock(
        return_value=httpx.Response(200, headers={"content-length": str(len(clip))}, stream=stream)
    )
    downloader = make_downloader(max_clip_bytes=len(clip) - 1)
    with pytest.raises(DownloadError, match=f"announces {len(clip)} bytes, more than max_clip"):
        downloader.download(wire.file_uri(), dest)
    assert stream.taken == 0
    assert route.call_count == 1
    assert_nothing_left(dest)


def test_a_body_without_length_is_counted_while_writing(
    router: respx.MockRouter,
    wire: Wire,
    make_downloader: DownloaderFactory,
    dest: Path,
    clip: bytes,
) -> None:
    stream = CountingStream(clip, 256)
    router.get(wire.file_url()).mock(return_value=httpx.Response(200, stream=stream))
    downloader = make_downloader(max_clip_bytes=1000)
    with pytest.raises(DownloadError, match=r"passed max_clip_bytes \(1000 bytes\) after 768"):
        downloader.download(wire.file_uri(), dest)
    assert stream.taken == 1024  # it stopped at the chunk that would cross the limit
    assert_nothing_left(dest)


def test_a_clip_at_the_limit_is_fine(
    router: respx.MockRouter,
    wire: Wire,
    make_downloader: DownloaderFactory,
    dest: Path,
    clip: bytes,
) -> None:
    router.get(wire.file_url()).respond(200, content=clip)
    downloader = make_downloader(max_clip_bytes=len(clip))
    assert downloader.download(wire.file_uri(), dest) == len(clip)


@pytest.mark.parametrize(
    "options",
    [
        {"max_clip_bytes": 0},
        {"max_clip_bytes": 1.5},
        {"max_clip_bytes": True},
        {"download_deadline": 0},
        {"download_deadline": float("nan")},
        {"download_deadline": -1.0},
    ],
    ids=str,
)
def test_limits_that_cannot_work_are_refused(
    make_downloader: DownloaderFactory, options: dict[str, Any]
) -> None:
    with pytest.raises(ConfigurationError, match=next(iter(options))):
        make_downloader(**options)


# -- download_deadline -------------------------------------------------------------------------


def test_retries_stop_at_the_deadline_without_waiting_past_it(
    router: respx.MockRouter,
    wire: Wire,
    make_downloader: DownloaderFactory,
    fake_clock: FakeClock,
    dest: Path,
) -> None:
    route = router.get(wire.file_url()).respond(503, headers={"retry-after": "100"})
    downloader = make_downloader(sleep=fake_clock.sleep, clock=fake_clock, download_deadline=150)
    with pytest.raises(DownloadError, match=r"within download_deadline \(150s\)") as info:
        downloader.download(wire.file_uri(), dest, operation_name="operations/x")
    assert "a retry would wait 100.0s more" in str(info.value)
    assert info.value.operation_name == "operations/x"
    assert route.call_count == 2
    assert fake_clock.sleep.delays == [100.0]  # the second wait would have ended past it
    assert_nothing_left(dest)


def test_a_slow_body_is_cut_off_at_the_deadline(
    router: respx.MockRouter,
    wire: Wire,
    make_downloader: DownloaderFactory,
    fake_clock: FakeClock,
    dest: Path,
    clip: bytes,
) -> None:
    def a_minute_per_chunk() -> None:
        fake_clock.now += 60

    stream = CountingStream(clip, 512, tick=a_minute_per_chunk)
    router.get(wire.file_url()).mock(
        return_value=httpx.Response(200, headers={"content-length": str(len(clip))}, stream=stream)
    )
    downloader = make_downloader(sleep=fake_clock.sleep, clock=fake_clock, download_deadline=150)
    with pytest.raises(DownloadError, match=f"1024 of {len(clip)} bytes received"):
        downloader.download(wire.file_uri(), dest)
    assert stream.taken == 3 * 512
    assert fake_clock.sleep.delays == []
    assert_nothing_left(dest)


# -- through the adapter -----------------------------------------------------------------------


@pytest.fixture
def job(router: respx.MockRouter, wire: Wire) -> Veo3Job:
    name = wire.op_name()
    router.get(wire.op_url(name)).respond(200, json=wire.done(name, wire.file_uri()))
    return Veo3Job(variant="a", prompt="p", status=JobStatus.GENERATED, operation_name=name)


def test_the_adapter_passes_max_clip_bytes_on(
    router: respx.MockRouter,
    wire: Wire,
    job: Veo3Job,
    make_adapter: AdapterFactory,
    dest: Path,
    clip: bytes,
) -> None:
    router.get(wire.file_url()).respond(200, content=clip)
    adapter: GeminiVeo3Adapter = make_adapter(max_clip_bytes=100)
    with pytest.raises(DownloadError, match=r"max_clip_bytes \(100\)") as info:
        adapter.download_clip(job, dest)
    assert info.value.operation_name == job.operation_name


def test_the_adapter_passes_download_deadline_on_and_uses_the_package_clock(
    router: respx.MockRouter,
    wire: Wire,
    job: Veo3Job,
    make_adapter: AdapterFactory,
    dest: Path,
) -> None:
    route = router.get(wire.file_url()).respond(429, headers={"retry-after": "30"})
    with virtual_time() as clock:
        adapter = make_adapter(download_deadline=20.0, sleep=clock.sleep)
        with pytest.raises(DownloadError, match=r"download_deadline \(20s\)"):
            adapter.download_clip(job, dest)
    assert route.call_count == 1
    assert clock.slept == []  # a 30 s wait could only end past the deadline: none was made
    assert_nothing_left(dest)
