"""The clip download on the wire: key only to the API origin, atomic, retried, resumed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
import respx

from veo3_adapter import (
    DownloadError,
    GeminiVeo3Adapter,
    InvalidClipError,
    JobStatus,
    UnsafeURLError,
    Veo3Job,
)
from veo3_adapter._http import redact_url
from veo3_adapter.mp4 import iter_mp4

if TYPE_CHECKING:
    from _kit.adapters import AdapterFactory
    from _kit.clock import SleepRecorder
    from _kit.wire import Wire

CDN = "https://cdn.example.net"
KEY_HEADER = "x-goog-api-key"


class BrokenStream(httpx.SyncByteStream):
    """A body that sends ``data[:fail_after]`` and then loses the connection."""

    def __init__(self, data: bytes, fail_after: int) -> None:
        self.data = data
        self.fail_after = fail_after

    def __iter__(self) -> Iterator[bytes]:
        yield self.data[: self.fail_after]
        raise httpx.ReadError("connection reset by peer")


@pytest.fixture
def job(router: respx.MockRouter, wire: Wire) -> Veo3Job:
    """A finished job whose operation points at ``wire.file_uri()``."""
    name = wire.op_name()
    router.get(wire.op_url(name)).respond(200, json=wire.done(name, wire.file_uri()))
    return Veo3Job(variant="a", prompt="p", status=JobStatus.GENERATED, operation_name=name)


@pytest.fixture
def adapter(make_adapter: AdapterFactory) -> GeminiVeo3Adapter:
    return make_adapter()


def downloads(router: respx.MockRouter) -> list[httpx.Request]:
    """Every request except the operation polls."""
    return [c.request for c in router.calls if "/operations/" not in c.request.url.path]


def test_success_key_only_in_header(
    router: respx.MockRouter,
    wire: Wire,
    job: Veo3Job,
    adapter: GeminiVeo3Adapter,
    dest: Path,
    clip: bytes,
    api_key: str,
    key_audit: Callable[[], list[httpx.Request]],
) -> None:
    router.get(wire.file_url()).respond(200, content=clip, headers={"content-type": "video/mp4"})
    assert adapter.download_clip(job, dest) == dest
    assert dest.read_bytes() == clip
    assert sorted(p.name for p in dest.parent.iterdir()) == ["a.mp4"]
    (request,) = downloads(router)
    assert request.headers[KEY_HEADER] == api_key
    assert request.headers["accept-encoding"] == "identity"
    assert str(request.url) == wire.file_uri()
    assert len(key_audit()) == 2


def test_cross_origin_redirect_target_gets_no_key(
    router: respx.MockRouter,
    wire: Wire,
    job: Veo3Job,
    adapter: GeminiVeo3Adapter,
    dest: Path,
    clip: bytes,
    api_key: str,
    key_audit: Callable[[], list[httpx.Request]],
) -> None:
    target = f"{CDN}/v/3k2j4h5g6f7d.mp4?sig=abc"
    router.get(wire.file_url()).respond(302, headers={"location": target})
    cdn = router.get(f"{CDN}/v/3k2j4h5g6f7d.mp4").respond(200, content=clip)
    adapter.download_clip(job, dest)
    assert dest.read_bytes() == clip
    api_hop, cdn_hop = downloads(router)
    assert api_hop.headers[KEY_HEADER] == api_key
    assert cdn.call_count == 1
    assert str(cdn_hop.url) == target
    assert KEY_HEADER not in cdn_hop.headers
    assert all(api_key not in value for value in cdn_hop.headers.values())
    key_audit()


def test_key_stays_dropped_after_leaving_the_origin(
    router: respx.MockRouter,
    wire: Wire,
    job: Veo3Job,
    adapter: GeminiVeo3Adapter,
    dest: Path,
    clip: bytes,
    api_key: str,
) -> None:
    router.get(wire.file_url()).respond(302, headers={"location": f"{CDN}/bounce"})
    router.get(f"{CDN}/bounce").respond(307, headers={"location": f"{wire.base}/v1beta/back"})
    router.get(f"{wire.base}/v1beta/back").respond(200, content=clip)
    adapter.download_clip(job, dest)
    first, second, third = downloads(router)
    assert first.headers[KEY_HEADER] == api_key
    assert KEY_HEADER not in second.headers
    assert KEY_HEADER not in third.headers
    assert dest.read_bytes() == clip


def test_same_origin_relative_redirect_keeps_the_key(
    router: respx.MockRouter,
    wire: Wire,
    job: Veo3Job,
    adapter: GeminiVeo3Adapter,
    dest: Path,
    clip: bytes,
    api_key: str,
) -> None:
    router.get(wire.file_url()).respond(302, headers={"location": "/v1beta/media/abc"})
    router.get(f"{wire.base}/v1beta/media/abc").respond(200, content=clip)
    adapter.download_clip(job, dest)
    assert [r.headers[KEY_HEADER] for r in downloads(router)] == [api_key, api_key]


UNSAFE_URIS = {
    "foreign origin": "https://evil.example/v1beta/files/x:download?alt=media",
    "lookalike host": "https://generativelanguage.googleapis.com.evil.example/v1beta/files/x",
    "http downgrade": "http://generativelanguage.googleapis.com/v1beta/files/x:download",
    "other port": "https://generativelanguage.googleapis.com:8443/v1beta/files/x:download",
    "userinfo": "https://user:pw@generativelanguage.googleapis.com/v1beta/files/x:download",
    "key param": "https://generativelanguage.googleapis.com/v1beta/files/x:download?alt=media&key=k",
    "not a url": "files/x:download",
    "unparseable": "https://[::1/x",
}


@pytest.mark.parametrize("uri", UNSAFE_URIS.values(), ids=UNSAFE_URIS.keys())
def test_unsafe_video_uri_refused_and_nothing_sent(
    router: respx.MockRouter,
    wire: Wire,
    adapter: GeminiVeo3Adapter,
    dest: Path,
    uri: str,
) -> None:
    name = wire.op_name()
    router.get(wire.op_url(name)).respond(200, json=wire.done(name, uri))
    catch_all = router.route().respond(200, content=b"")
    job = Veo3Job(variant="a", prompt="p", status=JobStatus.GENERATED, operation_name=name)
    with pytest.raises(UnsafeURLError) as info:
        adapter.download_clip(job, dest)
    assert isinstance(info.value, ValueError)
    assert info.value.operation_name == name
    assert catch_all.call_count == 0
    assert [str(r.url) for r in downloads(router)] == []
    assert not dest.exists()


REDIRECTS = {
    "https to http": "http://cdn.example.net/v/x.mp4",
    "https to http same host": "http://generativelanguage.googleapis.com/v1beta/x",
    "ftp": "ftp://cdn.example.net/x.mp4",
    "userinfo": "https://u:p@cdn.example.net/x.mp4",
    "javascript": "javascript:alert(1)",
}


@pytest.mark.parametrize("location", REDIRECTS.values(), ids=REDIRECTS.keys())
def test_unsafe_redirect_refused(
    router: respx.MockRouter,
    wire: Wire,
    job: Veo3Job,
    adapter: GeminiVeo3Adapter,
    dest: Path,
    location: str,
) -> None:
    router.get(wire.file_url()).respond(302, headers={"location": location})
    catch_all = router.route().respond(200, content=b"")
    with pytest.raises(UnsafeURLError):
        adapter.download_clip(job, dest)
    assert catch_all.call_count == 0
    assert len(downloads(router)) == 1
    assert not dest.exists()


def test_too_many_redirects(
    router: respx.MockRouter,
    wire: Wire,
    job: Veo3Job,
    make_adapter: AdapterFactory,
    dest: Path,
    noop_sleep: SleepRecorder,
) -> None:
    loop = router.get(wire.file_url()).respond(302, headers={"location": wire.file_uri()})
    with pytest.raises(DownloadError, match="redirected more than 3 times"):
        make_adapter(max_redirects=3).download_clip(job, dest)
    assert loop.call_count == 4
    assert noop_sleep.delays == []
    assert not dest.exists()


# -- bodies that must never become the clip ------------------------------------------------------


def _short(clip: bytes) -> httpx.Response:
    return httpx.Response(
        200, headers={"content-length": str(len(clip) + 100)}, stream=httpx.ByteStream(clip)
    )


def _long(clip: bytes) -> httpx.Response:
    return httpx.Response(
        200, headers={"content-length": str(len(clip) - 100)}, stream=httpx.ByteStream(clip)
    )


def _broken(clip: bytes) -> httpx.Response:
    return httpx.Response(
        200, headers={"content-length": str(len(clip))}, stream=BrokenStream(clip, 500)
    )


BAD_BODIES: dict[str, tuple[Callable[[bytes], httpx.Response], type[Exception], int]] = {
    "short body": (_short, DownloadError, 3),
    "longer than announced": (_long, InvalidClipError, 1),
    "mid-stream break": (_broken, DownloadError, 3),
    "not an mp4": (lambda c: httpx.Response(200, content=b"<html>" + c), InvalidClipError, 1),
    "too short for an mp4": (lambda c: httpx.Response(200, content=b"\0\0"), InvalidClipError, 1),
    "empty": (lambda c: httpx.Response(200, content=b""), InvalidClipError, 1),
    "404": (lambda c: httpx.Response(404, json={"error": {"code": 404}}), DownloadError, 1),
}


@pytest.mark.parametrize("existing", [None, b"\0\0\0\x08ftypGOOD-OLD-CLIP"], ids=["new", "old"])
@pytest.mark.parametrize(
    ("respond", "error", "attempts"), BAD_BODIES.values(), ids=BAD_BODIES.keys()
)
def test_bad_body_leaves_no_file_and_no_temp(
    router: respx.MockRouter,
    wire: Wire,
    job: Veo3Job,
    adapter: GeminiVeo3Adapter,
    dest: Path,
    clip: bytes,
    respond: Callable[[bytes], httpx.Response],
    error: type[Exception],
    attempts: int,
    existing: bytes | None,
) -> None:
    if existing is not None:
        dest.parent.mkdir(parents=True)
        dest.write_bytes(existing)
    route = router.get(wire.file_url()).mock(side_effect=lambda request: respond(clip))
    with pytest.raises(error) as info:
        adapter.download_clip(job, dest)
    assert info.value.operation_name == job.operation_name  # type: ignore[attr-defined]
    assert route.call_count == attempts
    if existing is None:
        assert not dest.exists()
        assert not dest.parent.exists() or list(dest.parent.iterdir()) == []
    else:
        assert dest.read_bytes() == existing
        assert [p.name for p in dest.parent.iterdir()] == ["a.mp4"]


# -- retries -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "expected_delays"),
    [
        (httpx.Response(429, headers={"retry-after": "7"}), [7.0]),
        (httpx.Response(503), [1.0]),
        (httpx.Response(500, headers={"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}), [1.0]),
        (httpx.Response(502), [1.0]),
    ],
    ids=["429 retry-after", "503", "500 past date", "502"],
)
def test_transient_statuses_are_retried_without_waiting(
    router: respx.MockRouter,
    wire: Wire,
    job: Veo3Job,
    adapter: GeminiVeo3Adapter,
    dest: Path,
    clip: bytes,
    noop_sleep: SleepRecorder,
    first: httpx.Response,
    expected_delays: list[float],
) -> None:
    route = router.get(wire.file_url()).mock(side_effect=[first, httpx.Response(200, content=clip)])
    adapter.download_clip(job, dest)
    assert route.call_count == 2
    assert noop_sleep.delays == expected_delays
    assert dest.read_bytes() == clip


def test_retry_after_beyond_the_cap_is_capped(
    router: respx.MockRouter,
    wire: Wire,
    job: Veo3Job,
    adapter: GeminiVeo3Adapter,
    dest: Path,
    clip: bytes,
    noop_sleep: SleepRecorder,
) -> None:
    router.get(wire.file_url()).mock(
        side_effect=[
            httpx.Response(429, headers={"retry-after": "86400"}),
            httpx.Response(200, content=clip),
        ]
    )
    adapter.download_clip(job, dest)
    assert noop_sleep.delays == [120.0]


def test_retries_are_bounded(
    router: respx.MockRouter,
    wire: Wire,
    job: Veo3Job,
    adapter: GeminiVeo3Adapter,
    dest: Path,
    noop_sleep: SleepRecorder,
) -> None:
    route = router.get(wire.file_url()).respond(503, text="overloaded")
    with pytest.raises(DownloadError, match="after 3 attempts") as info:
        adapter.download_clip(job, dest)
    assert info.value.status_code == 503
    assert route.call_count == 3
    assert noop_sleep.delays == [1.0, 2.0]
    assert not dest.exists()


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
def test_permanent_statuses_are_not_retried(
    router: respx.MockRouter,
    wire: Wire,
    job: Veo3Job,
    adapter: GeminiVeo3Adapter,
    dest: Path,
    noop_sleep: SleepRecorder,
    status: int,
) -> None:
    route = router.get(wire.file_url()).respond(
        status, json=wire.api_error(status, "no", "PERMISSION_DENIED")
    )
    with pytest.raises(DownloadError) as info:
        adapter.download_clip(job, dest)
    assert info.value.status_code == status
    assert f"HTTP {status}" in str(info.value)
    assert route.call_count == 1
    assert noop_sleep.delays == []


def test_connection_failure_is_retried(
    router: respx.MockRouter,
    wire: Wire,
    job: Veo3Job,
    adapter: GeminiVeo3Adapter,
    dest: Path,
    clip: bytes,
    noop_sleep: SleepRecorder,
) -> None:
    route = router.get(wire.file_url()).mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(200, content=clip)]
    )
    adapter.download_clip(job, dest)
    assert route.call_count == 2
    assert len(noop_sleep.delays) == 1
    assert dest.read_bytes() == clip


# -- resume after a broken connection ------------------------------------------------------------
# The downloader writes in 1 MiB chunks, so the body must be larger than that for a break to
# leave bytes on disk; the server below answers whatever Range the client asks for.

BIG = (5 << 19) + 123  # 2.5 MiB and a bit
CUT = 3 << 19  # the connection breaks after 1.5 MiB


@pytest.fixture(scope="module")
def big_clip() -> bytes:
    return b"".join(iter_mp4(BIG, seed="resume"))


def _resumable_first(body: bytes, validators: dict[str, str] | None = None) -> httpx.Response:
    headers = {"content-length": str(len(body)), "accept-ranges": "bytes"}
    headers.update({"etag": '"v1"'} if validators is None else validators)
    return httpx.Response(200, headers=headers, stream=BrokenStream(body, CUT))


def _ranged(body: bytes, request: httpx.Request) -> httpx.Response:
    start = int(request.headers["range"].removeprefix("bytes=").removesuffix("-"))
    return httpx.Response(
        206,
        headers={"content-range": f"bytes {start}-{len(body) - 1}/{len(body)}"},
        content=body[start:],
    )


LAST_MODIFIED = "Wed, 21 Oct 2015 07:28:00 GMT"


@pytest.mark.parametrize(
    ("validators", "if_range"),
    [
        ({"etag": '"v1"'}, '"v1"'),
        ({"etag": 'W/"v1"', "last-modified": LAST_MODIFIED}, LAST_MODIFIED),
    ],
    ids=["strong etag", "weak etag uses last-modified"],
)
def test_resume_with_range_after_a_break(
    router: respx.MockRouter,
    wire: Wire,
    job: Veo3Job,
    adapter: GeminiVeo3Adapter,
    dest: Path,
    big_clip: bytes,
    noop_sleep: SleepRecorder,
    validators: dict[str, str],
    if_range: str,
) -> None:
    answers: Iterator[Callable[[httpx.Request], httpx.Response]] = iter(
        [lambda r: _resumable_first(big_clip, validators), lambda r: _ranged(big_clip, r)]
    )
    route = router.get(wire.file_url()).mock(side_effect=lambda request: next(answers)(request))
    adapter.download_clip(job, dest)
    assert dest.read_bytes() == big_clip
    first_request, second_request = (c.request for c in route.calls)
    assert "range" not in first_request.headers
    start = int(second_request.headers["range"].removeprefix("bytes=").removesuffix("-"))
    assert 0 < start <= CUT
    assert second_request.headers.get("if-range") == if_range
    assert len(noop_sleep.delays) == 1
    assert [p.name for p in dest.parent.iterdir()] == ["a.mp4"]


def test_restart_when_the_server_ignores_the_range(
    router: respx.MockRouter,
    wire: Wire,
    job: Veo3Job,
    adapter: GeminiVeo3Adapter,
    dest: Path,
    big_clip: bytes,
) -> None:
    route = router.get(wire.file_url()).mock(
        side_effect=[_resumable_first(big_clip), httpx.Response(200, content=big_clip)]
    )
    adapter.download_clip(job, dest)
    assert dest.read_bytes() == big_clip  # not the first part twice
    assert route.calls[1].request.headers["range"].startswith("bytes=")


def test_restart_when_the_server_answers_another_range(
    router: respx.MockRouter,
    wire: Wire,
    job: Veo3Job,
    adapter: GeminiVeo3Adapter,
    dest: Path,
    big_clip: bytes,
) -> None:
    wrong = httpx.Response(
        206,
        headers={"content-range": f"bytes 0-{len(big_clip) - 1}/{len(big_clip)}"},
        content=big_clip,
    )
    route = router.get(wire.file_url()).mock(
        side_effect=[_resumable_first(big_clip), wrong, httpx.Response(200, content=big_clip)]
    )
    adapter.download_clip(job, dest)
    assert dest.read_bytes() == big_clip
    assert route.call_count == 3
    assert "range" in route.calls[1].request.headers
    assert "range" not in route.calls[2].request.headers


def test_no_range_without_accept_ranges(
    router: respx.MockRouter,
    wire: Wire,
    job: Veo3Job,
    adapter: GeminiVeo3Adapter,
    dest: Path,
    big_clip: bytes,
) -> None:
    route = router.get(wire.file_url()).mock(
        side_effect=[
            httpx.Response(200, stream=BrokenStream(big_clip, CUT)),
            httpx.Response(200, content=big_clip),
        ]
    )
    adapter.download_clip(job, dest)
    assert dest.read_bytes() == big_clip
    assert "range" not in route.calls[1].request.headers


# -- what is downloaded, and when ----------------------------------------------------------------


def test_still_running_operation_has_nothing_to_download(
    router: respx.MockRouter, wire: Wire, adapter: GeminiVeo3Adapter, dest: Path
) -> None:
    name = wire.op_name()
    router.get(wire.op_url(name)).respond(200, json=wire.running(name))
    job = Veo3Job(variant="a", prompt="p", status=JobStatus.GENERATED, operation_name=name)
    with pytest.raises(DownloadError, match="still running") as info:
        adapter.download_clip(job, dest)
    assert info.value.operation_name == name
    assert len(router.calls) == 1


def test_finished_operation_without_video(
    router: respx.MockRouter, wire: Wire, adapter: GeminiVeo3Adapter, dest: Path
) -> None:
    name = wire.op_name()
    router.get(wire.op_url(name)).respond(200, json=wire.done_empty(name))
    job = Veo3Job(variant="a", prompt="p", status=JobStatus.GENERATED, operation_name=name)
    with pytest.raises(DownloadError, match="finished without one"):
        adapter.download_clip(job, dest)


def test_job_without_operation_name_sends_nothing(
    router: respx.MockRouter, adapter: GeminiVeo3Adapter, dest: Path
) -> None:
    job = Veo3Job(variant="a", prompt="p", status=JobStatus.GENERATED)
    with pytest.raises(DownloadError, match="no operation name"):
        adapter.download_clip(job, dest)
    assert len(router.calls) == 0


def test_custom_base_url_binds_the_key_to_that_origin(
    router: respx.MockRouter,
    wire: Wire,
    make_adapter: AdapterFactory,
    clip: bytes,
    dest: Path,
    api_key: str,
) -> None:
    base = "http://127.0.0.1:8765"
    name = wire.op_name()
    adapter = make_adapter(base_url=base + "/")
    for uri, ok in [
        (f"{base}/v1beta/files/abc:download?alt=media", True),
        ("https://evil.example/v1beta/files/abc:download?alt=media", False),
        (f"{wire.base}/v1beta/models", False),  # the default origin, not a file download
    ]:
        router.get(f"{base}/v1beta/{name}").respond(200, json=wire.done(name, uri))
        router.get(f"{base}/v1beta/files/abc:download").respond(200, content=clip)
        job = Veo3Job(variant="a", prompt="p", status=JobStatus.GENERATED, operation_name=name)
        if ok:
            adapter.download_clip(job, dest)
            assert dest.read_bytes() == clip
            assert router.calls.last.request.headers[KEY_HEADER] == api_key
        else:
            with pytest.raises(UnsafeURLError, match="not the API origin"):
                adapter.download_clip(job, dest)
    assert all(c.request.url.host == "127.0.0.1" for c in router.calls)


def test_error_body_that_breaks_still_reports_the_status(
    router: respx.MockRouter, wire: Wire, job: Veo3Job, adapter: GeminiVeo3Adapter, dest: Path
) -> None:
    body = b'{"error": {"code": 403, "message": "denied"}}'
    router.get(wire.file_url()).respond(403, stream=BrokenStream(body, 10))
    with pytest.raises(DownloadError, match="HTTP 403") as info:
        adapter.download_clip(job, dest)
    assert info.value.status_code == 403


def test_huge_error_body_is_cut_short_in_the_message(
    router: respx.MockRouter, wire: Wire, job: Veo3Job, adapter: GeminiVeo3Adapter, dest: Path
) -> None:
    router.get(wire.file_url()).respond(403, text="denied " * 50_000)
    with pytest.raises(DownloadError) as info:
        adapter.download_clip(job, dest)
    assert str(info.value).count("denied") < 50


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://u:p@cdn.example.net:8443/v/x.mp4?sig=secret",
            "https://cdn.example.net:8443/v/x.mp4",
        ),
        ("https://cdn.example.net:443/v?key=k", "https://cdn.example.net/v"),
        ("http://[::1", "<unparseable URL>"),
    ],
)
def test_redact_url_keeps_only_origin_and_path(url: str, expected: str) -> None:
    assert redact_url(url) == expected
