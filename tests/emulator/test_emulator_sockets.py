"""The same emulator on loopback sockets: real HTTP/1.1, real closes and resets."""

from __future__ import annotations

import threading
import tracemalloc
from pathlib import Path

import httpx
import pytest
from _kit.adapters import AdapterFactory
from _kit.clock import FakeClock
from _kit.emulator import Api, emulator_wire
from _kit.sdk import WireSubmit, submit_gemini

from veo3_adapter import DownloadError, JobStatus
from veo3_adapter.emulator import DEFAULT_API_BASE, Emulator, Scenario, serve_forever
from veo3_adapter.mp4 import looks_like_mp4, sample_clip

MB = 1024 * 1024


@pytest.fixture
def wire(emulator: Emulator, key: str) -> WireSubmit:
    return emulator_wire(emulator, key)


def run_adapter(
    make_adapter: AdapterFactory,
    base_url: str,
    dest: Path,
    wire: WireSubmit,
    prompt: str = "a cat",
) -> int:
    """Submit (through the wire where the SDK cannot), poll until generated and download
    with the real adapter; return the size."""
    adapter = make_adapter(base_url)
    job = submit_gemini(adapter, "clip", prompt, wire)
    for _ in range(10):
        job = adapter.poll_job(job)
        if job.status is not JobStatus.SUBMITTED:
            break
    assert job.status is JobStatus.GENERATED, job
    adapter.download_clip(job, dest)
    return dest.stat().st_size


def test_serve_points_the_emulator_at_two_sockets(emulator: Emulator) -> None:
    with emulator.serve() as base_url:
        assert base_url == emulator.api_base
        api, download = httpx.URL(base_url), httpx.URL(emulator.download_base)
        assert api.host == download.host == "127.0.0.1"
        assert api.port != download.port
        assert api.port and download.port
    assert emulator.api_base == DEFAULT_API_BASE


def test_adapter_end_to_end_over_sockets(
    emulator: Emulator, make_adapter: AdapterFactory, wire: WireSubmit, tmp_path: Path
) -> None:
    emulator.default = Scenario(running_polls=2)
    dest = tmp_path / "clip.mp4"
    with emulator.serve() as base_url:
        assert run_adapter(make_adapter, base_url, dest, wire) == len(sample_clip())
    assert dest.read_bytes() == sample_clip()
    assert emulator.key_leaks == []
    assert [(r.origin, r.status) for r in emulator.requests][-2:] == [
        ("api", 302),
        ("download", 200),
    ]


def test_video_uri_and_redirect_name_the_sockets(api: Api, emulator: Emulator) -> None:
    with emulator.serve() as base_url, httpx.Client() as http:
        sockets = Api(http, emulator, api.key)
        uri = sockets.video_uri()
        assert uri.startswith(f"{base_url}/v1beta/files/")
        location = sockets.location()
        assert location.startswith(f"{base_url}/download/v1beta/files/")
        response = sockets.media(location)
        assert response.status_code == 200 and response.content == sample_clip()
        assert response.headers["content-type"] == "video/mp4"


def test_dropped_connection_over_sockets(
    api: Api, emulator: Emulator, make_adapter: AdapterFactory, wire: WireSubmit, tmp_path: Path
) -> None:
    emulator.default = Scenario(video_size=2 * MB, drop_at=MB)
    with emulator.serve(), httpx.Client() as http:
        sockets = Api(http, emulator, api.key)
        location = sockets.location()
        received = 0
        with (
            pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)),
            http.stream("GET", location, headers=sockets.auth) as response,
        ):
            assert response.headers["content-length"] == str(2 * MB)
            for chunk in response.iter_raw():
                received += len(chunk)
        assert received <= MB
        assert len(sockets.media(location).content) == 2 * MB  # once only

        emulator.default = Scenario(video_size=2 * MB, drop_at=MB)
        dest = tmp_path / "clip.mp4"
        assert run_adapter(make_adapter, emulator.api_base, dest, wire) == 2 * MB
    assert looks_like_mp4(dest.read_bytes()[:8])
    assert emulator.key_leaks == []


@pytest.mark.parametrize("ranges", [False, True], ids=["live-flow", "ranged_download"])
def test_truncated_body_over_sockets(
    api: Api,
    emulator: Emulator,
    make_adapter: AdapterFactory,
    wire: WireSubmit,
    tmp_path: Path,
    ranges: bool,
) -> None:
    # Past 1 MiB: the adapter hands bytes to the file in 1 MiB pieces and resumes from there.
    emulator.default = Scenario(video_size=3 * MB, truncate_at=MB + MB // 2, ranges=ranges)
    with emulator.serve(), httpx.Client() as http:
        sockets = Api(http, emulator, api.key)
        location = sockets.location()
        received = 0
        with (
            pytest.raises(httpx.RemoteProtocolError, match="incomplete|without sending complete"),
            http.stream("GET", location, headers=sockets.auth) as response,
        ):
            for chunk in response.iter_raw():
                received += len(chunk)
        assert received == MB + MB // 2  # a clean close delivers every byte before it

        dest = tmp_path / "clip.mp4"
        assert run_adapter(make_adapter, emulator.api_base, dest, wire) == 3 * MB
    media = [r.status for r in emulator.requests if r.origin == "download"]
    if ranges:  # the adapter resumed with a range after the cut instead of starting over
        assert media[-2:] == [200, 206]
    else:  # no ranges advertised: the same GET again, from the first byte
        assert media[-2:] == [200, 200]
    assert emulator.key_leaks == []


def test_five_megabytes_over_sockets_with_ranges(
    api: Api, emulator: Emulator, make_adapter: AdapterFactory, wire: WireSubmit, tmp_path: Path
) -> None:
    size = 5 * MB
    emulator.default = Scenario.named("ranged_download", video_size=size)
    dest = tmp_path / "big.mp4"
    with emulator.serve() as base_url, httpx.Client() as http:
        assert run_adapter(make_adapter, base_url, dest, wire) == size
        sockets = Api(http, emulator, api.key)
        location = sockets.location()
        whole = sockets.media(location).content
        part = sockets.media(location, range=f"bytes={size - 1000}-")
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes {size - 1000}-{size - 1}/{size}"
    data = dest.read_bytes()
    assert len(data) == size == len(whole) and looks_like_mp4(data[:8])
    assert part.content == whole[-1000:]


def test_permanent_download_error_over_sockets(
    emulator: Emulator, make_adapter: AdapterFactory, wire: WireSubmit, tmp_path: Path
) -> None:
    emulator.default = Scenario.named("download_forbidden")
    with emulator.serve() as base_url, pytest.raises(DownloadError) as caught:
        run_adapter(make_adapter, base_url, tmp_path / "clip.mp4", wire)
    assert caught.value.status_code == 403
    assert not (tmp_path / "clip.mp4").exists()


def test_key_leak_over_sockets(api: Api, emulator: Emulator, key: str) -> None:
    emulator.default = Scenario.named("cross_origin_redirect")
    with emulator.serve(), httpx.Client() as http:
        location = Api(http, emulator, api.key).location()
        assert location.startswith(f"{emulator.download_base}/files/")
        assert http.get(location, headers={"x-goog-api-key": key}).status_code == 400
        assert http.get(location).status_code == 200
    assert [leak.where for leak in emulator.key_leaks] == ["header x-goog-api-key"]


def test_cross_origin_redirect_end_to_end_over_sockets(
    emulator: Emulator, make_adapter: AdapterFactory, wire: WireSubmit, tmp_path: Path
) -> None:
    emulator.default = Scenario.named("cross_origin_redirect")
    dest = tmp_path / "clip.mp4"
    with emulator.serve() as base_url:
        assert run_adapter(make_adapter, base_url, dest, wire) == len(sample_clip())
    assert dest.read_bytes() == sample_clip()
    assert emulator.key_leaks == []


def test_500_mb_over_sockets_in_flat_memory(api: Api, emulator: Emulator) -> None:
    size = 500 * MB
    emulator.default = Scenario(video_size=size, chunk_size=MB)
    with emulator.serve(), httpx.Client() as http:
        sockets = Api(http, emulator, api.key)
        location = sockets.location()
        tracemalloc.start()
        try:
            total = 0
            with http.stream("GET", location, headers=sockets.auth) as response:
                for chunk in response.iter_raw():
                    total += len(chunk)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert total == size
    assert peak < 16 * MB  # both the server thread and the client are traced


def test_slow_download_over_sockets_uses_the_injected_sleep(
    api: Api, emulator: Emulator, clock: FakeClock
) -> None:
    emulator.default = Scenario.named("slow_download")
    with emulator.serve(), httpx.Client() as http:
        sockets = Api(http, emulator, api.key)
        assert len(sockets.media(sockets.location()).content) == 256 * 1024
    assert clock.sleep.delays and set(clock.sleep.delays) == {0.5}


def test_client_going_away_mid_body_prints_nothing(
    api: Api, emulator: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    emulator.default = Scenario.named("ranged_download", video_size=50 * MB)
    with emulator.serve(), httpx.Client() as http:
        sockets = Api(http, emulator, api.key)
        location = sockets.location()
        with http.stream("GET", location, headers=sockets.auth) as response:
            next(response.iter_raw())
        # Leaving the block closed the connection mid-body; the server must cope quietly.
        assert sockets.media(location, range="bytes=0-9").status_code == 206
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_serve_refuses_twice_at_once_and_equal_ports(emulator: Emulator) -> None:
    with (
        emulator.serve(),
        pytest.raises(RuntimeError, match="already serving"),
        emulator.serve(),
    ):
        pass  # pragma: no cover
    with (
        pytest.raises(ValueError, match="different ports"),
        emulator.serve(port=40123, download_port=40123),
    ):
        pass  # pragma: no cover


def test_serve_forever_runs_until_stopped(key: str) -> None:
    emulator = Emulator(key, sleep=lambda seconds: None)
    stop = threading.Event()
    urls: list[str] = []
    ready = threading.Event()

    def on_ready(url: str) -> None:
        urls.append(url)
        ready.set()

    thread = threading.Thread(
        target=serve_forever,
        args=(emulator,),
        kwargs={
            "host": "127.0.0.1",
            "port": 0,
            "download_port": 0,
            "stop": stop,
            "ready": on_ready,
        },
        daemon=True,
    )
    thread.start()
    assert ready.wait(10)
    with httpx.Client() as http:
        response = Api(http, emulator, key).submit()
    assert response.status_code == 200
    stop.set()
    thread.join(10)
    assert not thread.is_alive()
    assert emulator.api_base == DEFAULT_API_BASE
    with httpx.Client() as http, pytest.raises(httpx.ConnectError):
        http.get(urls[0])
