"""Behind a gateway the clip comes through the gateway, and hosts no server can have are refused.

A user behind a proxy or API gateway sets ``base_url``; the API still names its own origin in
the operation's video URI (and in the download's 302). The SDK rebuilds a file download from
the file id on ``base_url``; so do we, and nothing is ever sent to the default origin.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
import respx
from _kit.runs import orchestrator_on
from _kit.sdk import gemini_wire, run_gemini

from veo3_adapter import (
    DEFAULT_BASE_URL,
    GeminiVeo3Adapter,
    JobStatus,
    UnsafeURLError,
    Veo3Job,
)
from veo3_adapter._http import Origin, redact_url
from veo3_adapter.emulator import Emulator, Scenario
from veo3_adapter.emulator._body import iter_video

if TYPE_CHECKING:
    from _kit.adapters import AdapterFactory
    from _kit.clock import FakeClock, SleepRecorder
    from _kit.wire import Wire

GATEWAY = "https://gateway.example.net"
CDN = "https://cdn.example.net"
KEY_HEADER = "x-goog-api-key"
FILE_PATH = "/v1beta/files/3k2j4h5g6f7d:download"


@pytest.fixture
def default_origin(router: respx.MockRouter) -> respx.Route:
    """Anything sent to the default origin: must stay uncalled."""
    return router.route(host="generativelanguage.googleapis.com").respond(500)


def finished(router: respx.MockRouter, wire: Wire, base: str, uri: str) -> Veo3Job:
    name = wire.op_name()
    router.get(f"{base}/v1beta/{name}").respond(200, json=wire.done(name, uri))
    return Veo3Job(variant="a", prompt="p", status=JobStatus.GENERATED, operation_name=name)


def downloads(router: respx.MockRouter) -> list[httpx.Request]:
    return [c.request for c in router.calls if "/operations/" not in c.request.url.path]


@pytest.mark.parametrize(
    ("base_url", "uri_path"),
    [
        (GATEWAY, FILE_PATH),
        (GATEWAY + "/", "/download" + FILE_PATH),
        ("http://127.0.0.1:8765", FILE_PATH),
        (GATEWAY + "/gemini", FILE_PATH),  # an API mounted under a path: the SDK keeps it
    ],
    ids=["files download", "download/ path", "loopback gateway", "gateway under a path"],
)
def test_a_default_origin_download_uri_is_fetched_through_the_gateway(
    router: respx.MockRouter,
    wire: Wire,
    make_adapter: AdapterFactory,
    default_origin: respx.Route,
    dest: Path,
    clip: bytes,
    api_key: str,
    base_url: str,
    uri_path: str,
) -> None:
    base = base_url.rstrip("/")
    job = finished(router, wire, base, f"{DEFAULT_BASE_URL}{uri_path}?alt=media")
    media = router.get(f"{base}{uri_path}").respond(200, content=clip)
    make_adapter(base_url=base_url).download_clip(job, dest)
    assert dest.read_bytes() == clip
    (request,) = downloads(router)
    assert str(request.url) == f"{base}{uri_path}?alt=media"  # same path and query
    assert request.headers[KEY_HEADER] == api_key
    assert "key" not in request.url.params
    assert media.call_count == 1
    assert default_origin.call_count == 0


REFUSED = {
    "foreign origin": "https://evil.example/v1beta/files/abc:download?alt=media",
    "default origin, not a file download": f"{DEFAULT_BASE_URL}/v1beta/models/x:generate",
    "default origin, a file's metadata": f"{DEFAULT_BASE_URL}/v1beta/files/abc",
    "default host over http": "http://generativelanguage.googleapis.com" + FILE_PATH,
    "default host, other port": "https://generativelanguage.googleapis.com:8443" + FILE_PATH,
    "path escape": f"{DEFAULT_BASE_URL}/v1beta/files/../../admin:download",
}


@pytest.mark.parametrize("uri", REFUSED.values(), ids=REFUSED.keys())
def test_other_foreign_uris_are_still_refused_unsent(
    router: respx.MockRouter,
    wire: Wire,
    make_adapter: AdapterFactory,
    dest: Path,
    uri: str,
) -> None:
    job = finished(router, wire, GATEWAY, uri)
    catch_all = router.route().respond(200, content=b"")
    with pytest.raises(UnsafeURLError, match="not the API origin"):
        make_adapter(base_url=GATEWAY).download_clip(job, dest)
    assert catch_all.call_count == 0
    assert downloads(router) == []
    assert not dest.exists()


def test_without_a_gateway_the_default_origin_is_used_as_is(
    router: respx.MockRouter, wire: Wire, make_adapter: AdapterFactory, dest: Path, clip: bytes
) -> None:
    job = finished(router, wire, DEFAULT_BASE_URL, wire.file_uri())
    media = router.get(wire.file_url()).respond(200, content=clip)
    make_adapter().download_clip(job, dest)
    assert media.call_count == 1


# -- redirects behind the gateway --------------------------------------------------------------


REDIRECTS = {
    # Location, where the second hop goes, whether the key goes along
    "same gateway, relative": ("/download" + FILE_PATH, GATEWAY, True),
    "same gateway, absolute": (GATEWAY + "/download" + FILE_PATH, GATEWAY, True),
    "the default origin's download, as live": (
        DEFAULT_BASE_URL + "/download" + FILE_PATH,
        GATEWAY,
        True,
    ),
    "another origin": (CDN + "/v/3k2j4h5g6f7d.mp4", CDN, False),
}


@pytest.mark.parametrize(("location", "goes_to", "keyed"), REDIRECTS.values(), ids=REDIRECTS)
def test_redirects_from_the_gateway(
    router: respx.MockRouter,
    wire: Wire,
    make_adapter: AdapterFactory,
    default_origin: respx.Route,
    dest: Path,
    clip: bytes,
    api_key: str,
    location: str,
    goes_to: str,
    keyed: bool,
) -> None:
    job = finished(router, wire, GATEWAY, f"{DEFAULT_BASE_URL}{FILE_PATH}?alt=media")
    router.get(f"{GATEWAY}{FILE_PATH}").respond(302, headers={"location": f"{location}?alt=media"})
    second = router.get(url__startswith=goes_to).respond(200, content=clip)
    make_adapter(base_url=GATEWAY).download_clip(job, dest)
    assert dest.read_bytes() == clip
    first_hop, second_hop = downloads(router)
    assert first_hop.headers[KEY_HEADER] == api_key
    assert second.call_count == 1
    assert (second_hop.headers.get(KEY_HEADER) == api_key) is keyed
    if not keyed:
        assert all(api_key not in value for value in second_hop.headers.values())
    assert default_origin.call_count == 0


def test_a_key_dropped_on_another_origin_stays_dropped_back_on_the_gateway(
    router: respx.MockRouter,
    wire: Wire,
    make_adapter: AdapterFactory,
    default_origin: respx.Route,
    dest: Path,
    clip: bytes,
) -> None:
    job = finished(router, wire, GATEWAY, f"{DEFAULT_BASE_URL}{FILE_PATH}?alt=media")
    router.get(f"{GATEWAY}{FILE_PATH}").respond(302, headers={"location": f"{CDN}/bounce"})
    back = f"{DEFAULT_BASE_URL}/download{FILE_PATH}?alt=media"
    router.get(f"{CDN}/bounce").respond(307, headers={"location": back})
    final = router.get(f"{GATEWAY}/download{FILE_PATH}").respond(200, content=clip)
    make_adapter(base_url=GATEWAY).download_clip(job, dest)
    assert final.call_count == 1
    assert [KEY_HEADER in r.headers for r in downloads(router)] == [True, False, False]
    assert default_origin.call_count == 0


# -- hosts no server can have ------------------------------------------------------------------

BAD_HOSTS = {
    "A-label ending in a hyphen": "xn--abc-.example",
    "empty A-label": "xn--.example",
    "empty label": "a..b.example",
    "64-character label": "a" * 64 + ".example",
    "leading hyphen": "-cdn.example",
    "two trailing dots": "cdn.example..",
    "space": "cdn%20x.example",
}


@pytest.mark.parametrize("host", BAD_HOSTS.values(), ids=BAD_HOSTS.keys())
def test_a_video_uri_with_an_impossible_host_is_refused_unsent(
    router: respx.MockRouter,
    wire: Wire,
    make_adapter: AdapterFactory,
    dest: Path,
    host: str,
) -> None:
    uri = f"https://{host}/v1beta/files/abc:download?alt=media&sig=s3cr3t"
    job = finished(router, wire, DEFAULT_BASE_URL, uri)
    catch_all = router.route().respond(200, content=b"")
    with pytest.raises(UnsafeURLError) as info:
        make_adapter().download_clip(job, dest)
    assert type(info.value) is UnsafeURLError  # not an IDNA or Unicode error
    assert redact_url(uri) in str(info.value)
    assert "s3cr3t" not in str(info.value)
    assert info.value.operation_name == job.operation_name
    assert catch_all.call_count == 0
    assert not dest.exists()


@pytest.mark.parametrize("host", BAD_HOSTS.values(), ids=BAD_HOSTS.keys())
def test_a_redirect_to_an_impossible_host_is_refused(
    router: respx.MockRouter,
    wire: Wire,
    make_adapter: AdapterFactory,
    dest: Path,
    host: str,
) -> None:
    job = finished(router, wire, DEFAULT_BASE_URL, wire.file_uri())
    location = f"https://{host}/v/x.mp4?sig=s3cr3t"
    router.get(wire.file_url()).respond(302, headers={"location": location})
    catch_all = router.route().respond(200, content=b"")
    with pytest.raises(UnsafeURLError, match="redirected") as info:
        make_adapter().download_clip(job, dest)
    assert type(info.value) is UnsafeURLError
    assert "s3cr3t" not in str(info.value)
    # httpx resolves an A-label while it receives the answer; then the redirecting URL is named
    named = redact_url(location) if not host.startswith("xn--") else redact_url(wire.file_uri())
    assert named in str(info.value)
    assert catch_all.call_count == 0
    assert len(downloads(router)) == 1
    assert not dest.exists()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://xn--abc-.example/v?sig=1", "https://xn--abc-.example/v"),
        ("https://u:p@a..b.example:8443/v/x?sig=1", "https://a..b.example:8443/v/x"),
        ("https://[::1]:8443/v?x=1", "https://[::1]:8443/v"),
        ("https://xn--abc-.example/\x1b[2J", "https://xn--abc-.example/\\x1b[2J"),
    ],
)
def test_redact_url_names_urls_httpx_cannot_resolve(url: str, expected: str) -> None:
    assert redact_url(url) == expected


# -- end to end: the SDK and the emulator behind a gateway -------------------------------------


class Gateway(httpx.BaseTransport):
    """A pass-through gateway to the emulator, which plays the default origin.

    Requests to the gateway are forwarded upstream as they are (the path under ``prefix``);
    answers come back untouched, the 302 naming the default origin included. A request to
    any other origin is recorded and fails as it would behind a firewall.
    """

    def __init__(self, upstream: Emulator, base: str, prefix: str = "") -> None:
        self.inner = upstream.transport()
        self.upstream = upstream.api_base
        self.origin = Origin.of(httpx.URL(base))
        self.prefix = prefix
        self.sent: list[tuple[str, bool]] = []
        self.key = ""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((str(request.url), KEY_HEADER in request.headers))
        if Origin.of(request.url) != self.origin:
            raise httpx.ConnectError("only the gateway is reachable", request=request)
        path = request.url.raw_path.decode("ascii").removeprefix(self.prefix)
        headers = [(n, v) for n, v in request.headers.multi_items() if n.lower() != "host"]
        forwarded = httpx.Request(
            request.method, self.upstream + path, headers=headers, content=request.read()
        )
        return self.inner.handle_request(forwarded)


@pytest.mark.parametrize("prefix", ["", "/veo"], ids=["gateway at its root", "under a path"])
def test_behind_a_gateway_every_request_goes_to_the_gateway(
    api_key: str,
    noop_sleep: SleepRecorder,
    fake_clock: FakeClock,
    tmp_path: Path,
    prefix: str,
) -> None:
    emulator = Emulator(api_key, default=Scenario(video_size=300_000), sleep=noop_sleep)
    assert emulator.api_base == DEFAULT_BASE_URL  # its URIs and its 302 name the default origin
    gateway = Gateway(emulator, GATEWAY, prefix)
    with httpx.Client(transport=gateway, follow_redirects=False) as client:
        adapter = GeminiVeo3Adapter(
            api_key, base_url=GATEWAY + prefix, http_client=client, sleep=noop_sleep
        )
        orchestrator = orchestrator_on(adapter, tmp_path, fake_clock)
        submit = gemini_wire(client, GATEWAY + prefix, api_key)
        (job,) = run_gemini(orchestrator, {"a": "a lighthouse at dusk"}, submit)

    assert job.status is JobStatus.DOWNLOADED, job.error_detail
    assert job.video_uri.startswith(DEFAULT_BASE_URL + "/v1beta/files/")
    scenario = emulator.operations[job.operation_name].scenario
    expected = b"".join(iter_video(scenario.size, job.operation_name, scenario.chunk_size))
    assert orchestrator.clip_path("a").read_bytes() == expected
    assert gateway.sent, "nothing was sent"
    assert all(url.startswith(GATEWAY + prefix + "/") for url, _ in gateway.sent), gateway.sent
    assert all(keyed for _, keyed in gateway.sent)
    media = [r for r in emulator.requests if r.path.endswith(":download")]
    assert [(r.path.startswith("/download/"), r.status) for r in media] == [
        (False, 302),
        (True, 200),
    ]
    assert emulator.key_leaks == []
