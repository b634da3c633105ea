"""The default download exchange in-process, as recorded live: a same-origin 302, then the
media server on the API origin, key required, no ranges; cuts, failures and expiry on it."""

from __future__ import annotations

import threading
import tracemalloc

import httpx
import pytest
from _kit.clock import FakeClock
from _kit.emulator import MODEL, Api

from veo3_adapter.emulator import Emulator, Scenario, Side
from veo3_adapter.emulator._body import crc32c_of
from veo3_adapter.mp4 import looks_like_mp4, sample_clip

MB = 1024 * 1024


def test_video_uri_redirects_to_the_media_server_on_the_same_origin(
    api: Api, emulator: Emulator
) -> None:
    uri = api.video_uri()
    assert uri.startswith(f"{emulator.api_base}/v1beta/files/")
    response = api.http.get(uri, headers=api.auth)
    assert response.status_code == 302
    file_id = httpx.URL(uri).path.split("/")[-1].split(":")[0]
    assert response.headers["location"] == (
        f"{emulator.api_base}/download/v1beta/files/{file_id}:download?alt=media"
    )
    assert emulator.side_of(httpx.URL(uri)) is Side.API
    assert emulator.side_of(httpx.URL(response.headers["location"])) is Side.DOWNLOAD


def test_media_server_serves_the_mp4_to_the_key(api: Api, emulator: Emulator) -> None:
    response = api.media(api.location())
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.content == sample_clip()
    assert response.content[4:8] == b"ftyp"
    assert response.headers["x-goog-hash"] == crc32c_of([sample_clip()])
    assert "accept-ranges" not in response.headers and "etag" not in response.headers
    assert emulator.key_leaks == []


@pytest.mark.parametrize(
    ("headers", "code", "status"),
    [
        ({}, 403, "PERMISSION_DENIED"),
        ({"x-goog-api-key": "not-the-key"}, 400, "INVALID_ARGUMENT"),
        ({"authorization": "Bearer not-a-token"}, 401, "UNAUTHENTICATED"),
    ],
)
def test_media_server_wants_the_key_like_the_api(
    api: Api, emulator: Emulator, headers: dict[str, str], code: int, status: str
) -> None:
    location = api.location()
    response = api.http.get(location, headers=headers)
    assert response.status_code == code
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    assert response.json()["error"]["status"] == status
    assert emulator.key_leaks == []


def test_video_size_is_exact_and_deterministic_per_operation(api: Api, emulator: Emulator) -> None:
    emulator.default = Scenario(video_size=300_000)
    first, second = api.location("one"), api.location("two")
    body = api.media(first).content
    assert len(body) == 300_000 and looks_like_mp4(body)
    assert api.media(first).content == body
    assert api.media(second).content != body
    assert api.media(first).headers["x-goog-hash"] == crc32c_of([body])
    assert api.media(first).headers["x-goog-hash"] != api.media(second).headers["x-goog-hash"]


def test_head_gives_the_headers_only(api: Api) -> None:
    response = api.http.head(api.location(), headers=api.auth)
    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(sample_clip()))
    assert response.headers["x-goog-hash"] == crc32c_of([sample_clip()])
    assert response.content == b""


@pytest.mark.parametrize("headers", [{"range": "bytes=1000-"}, {"range": "bytes=-50"}])
def test_ranges_are_ignored_the_whole_video_comes_back(
    api: Api, emulator: Emulator, headers: dict[str, str]
) -> None:
    emulator.default = Scenario(video_size=100_000)
    response = api.media(api.location(), **headers)
    assert response.status_code == 200
    assert "content-range" not in response.headers and "accept-ranges" not in response.headers
    assert len(response.content) == 100_000


def test_unsatisfiable_range_is_ignored_too(api: Api) -> None:
    response = api.media(api.location(), range=f"bytes={len(sample_clip())}-")
    assert response.status_code == 200 and response.content == sample_clip()


def test_truncated_body_breaks_like_a_closed_socket_then_serves_whole(
    api: Api, emulator: Emulator
) -> None:
    emulator.default = Scenario(video_size=200_000, truncate_at=70_000, truncate_times=2)
    location = api.location()
    for _ in range(2):
        received = bytearray()
        with api.http.stream("GET", location, headers=api.auth) as response:
            assert response.headers["content-length"] == "200000"
            with pytest.raises(httpx.RemoteProtocolError, match="70000 bytes, expected 200000"):
                for chunk in response.iter_raw():
                    received += chunk
        assert len(received) == 70_000
    whole = api.media(location)
    assert whole.status_code == 200 and len(whole.content) == 200_000


def test_dropped_connection_resets_once(api: Api, emulator: Emulator) -> None:
    emulator.default = Scenario.named("dropped_connection")
    location = api.location()
    received = bytearray()
    with (
        api.http.stream("GET", location, headers=api.auth) as response,
        pytest.raises(httpx.ReadError, match="reset"),
    ):
        for chunk in response.iter_raw():
            received += chunk
    assert bytes(received) == sample_clip()[:1024]
    assert api.media(location).content == sample_clip()


def test_download_failures_come_before_the_clip(api: Api, emulator: Emulator) -> None:
    emulator.default = Scenario(download_failures=(500, 503, 429), retry_after=3.5)
    location = api.location()
    answers = [api.media(location) for _ in range(4)]
    assert [r.status_code for r in answers] == [500, 503, 429, 200]
    assert [r.json()["error"]["code"] for r in answers[:3]] == [500, 503, 429]
    assert "retry-after" not in answers[0].headers
    assert answers[1].headers["retry-after"] == answers[2].headers["retry-after"] == "4"
    assert answers[3].content == sample_clip()


@pytest.mark.parametrize(
    ("name", "code", "status"),
    [("download_not_found", 404, "NOT_FOUND"), ("download_forbidden", 403, "PERMISSION_DENIED")],
)
def test_download_status_is_permanent_and_google_shaped(
    api: Api, emulator: Emulator, name: str, code: int, status: str
) -> None:
    emulator.default = Scenario.named(name)
    uri = api.video_uri()
    for _ in range(3):
        response = api.http.get(uri, headers=api.auth)
        assert response.status_code == code
        assert response.json()["error"]["status"] == status


def test_file_expires_after_its_ttl_on_the_emulator_clock(
    api: Api, emulator: Emulator, clock: FakeClock
) -> None:
    emulator.default = Scenario(file_ttl=172_800)  # the service keeps videos two days
    uri = api.video_uri()
    location = api.location()  # a second operation, same ttl: both finished "now"
    clock.advance(172_799)
    assert api.http.get(uri, headers=api.auth).status_code == 302
    assert api.media(location).status_code == 200
    clock.advance(1)
    expired = api.http.get(uri, headers=api.auth)
    assert expired.status_code == 404
    assert expired.json()["error"]["status"] == "NOT_FOUND"
    gone = api.media(location)
    assert gone.status_code == 404 and gone.json()["error"]["status"] == "NOT_FOUND"


def test_expired_scenario_is_gone_at_once(api: Api, emulator: Emulator) -> None:
    emulator.default = Scenario.named("expired")
    assert api.http.get(api.video_uri(), headers=api.auth).status_code == 404


def test_no_file_before_done_nor_for_a_filtered_video(api: Api, emulator: Emulator) -> None:
    emulator.queue(Scenario(running_polls=5), Scenario.named("rai_filtered"))
    name = api.submit().json()["name"]
    file_id = emulator.operations[name].file_id
    url = f"{emulator.api_base}/v1beta/files/{file_id}:download?alt=media"
    assert api.http.get(url, headers=api.auth).status_code == 404
    filtered, _ = api.finish()
    filtered_id = emulator.operations[filtered].file_id
    url = f"{emulator.api_base}/v1beta/files/{filtered_id}:download?alt=media"
    assert api.http.get(url, headers=api.auth).status_code == 404


def test_both_hops_need_alt_media(api: Api) -> None:
    uri = httpx.URL(api.video_uri()).copy_remove_param("alt")
    assert api.http.get(uri, headers=api.auth).status_code == 400
    location = httpx.URL(api.location()).copy_set_param("alt", "json")
    assert api.media(location).status_code == 400


def test_media_server_knows_only_finished_files(api: Api, emulator: Emulator) -> None:
    location = httpx.URL(api.location())
    other = location.copy_with(path="/download/v1beta/files/zzzzzzzzzzzz:download")
    assert api.media(other).status_code == 404
    assert api.media(location.copy_with(path="/download/v1beta/models")).status_code == 404
    assert api.http.post(location, headers=api.auth).status_code == 404


def test_a_following_client_gets_the_clip_and_the_key_stays_on_the_api_origin(
    emulator: Emulator, api: Api
) -> None:
    """The SDK's own client follows redirects with the key: on the live flow that is fine."""
    uri = api.video_uri()
    with httpx.Client(transport=emulator.transport(), follow_redirects=True) as following:
        response = following.get(uri, headers=api.auth)
    assert response.status_code == 200 and response.content == sample_clip()
    assert [r.status_code for r in response.history] == [302]
    assert emulator.key_leaks == []


def test_request_log_keeps_no_header_or_query_values(
    api: Api, emulator: Emulator, key: str
) -> None:
    location = api.location()
    api.http.get(location, headers={"x-goog-api-key": key})
    log = emulator.requests
    assert [(r.origin, r.method, r.status) for r in log] == [
        ("api", "POST", 200),
        ("api", "GET", 200),
        ("api", "GET", 302),
        ("download", "GET", 200),
    ]
    assert log[0].path == f"/v1beta/models/{MODEL}:predictLongRunning"
    assert log[3].path == httpx.URL(location).path
    assert all("?" not in r.path for r in log)
    assert key not in repr(log) and "alt=media" not in repr(log)
    assert key not in repr(emulator) and key not in repr(emulator.operations)


def test_unknown_hosts_do_not_exist(http: httpx.Client) -> None:
    with pytest.raises(httpx.ConnectError):
        http.get("https://example.com/")


def test_unknown_paths_are_google_404s(api: Api, emulator: Emulator) -> None:
    response = api.http.get(f"{emulator.api_base}/v1beta/models", headers=api.auth)
    assert response.status_code == 404
    assert response.json()["error"]["status"] == "NOT_FOUND"
    assert api.http.get(f"{emulator.download_base}/").status_code == 404
    media = api.http.get(f"{emulator.api_base}/download/nothing", headers=api.auth)
    assert media.status_code == 404 and media.json()["error"]["status"] == "NOT_FOUND"


def test_slow_download_sleeps_between_chunks_on_the_injected_sleep(
    api: Api, emulator: Emulator, clock: FakeClock
) -> None:
    emulator.default = Scenario.named("slow_download")
    location = api.location()
    with api.http.stream("GET", location, headers=api.auth) as response:
        chunks = [len(chunk) for chunk in response.iter_raw()]
    assert sum(chunks) == 256 * 1024
    assert clock.sleep.delays == [0.5] * (len(chunks) - 1)
    assert len(chunks) > 5


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [("a red [fail] fox", 404), ("a red fox", 200), ("a blue fox", 403)],
)
def test_rules_match_by_substring_or_predicate(
    api: Api, emulator: Emulator, prompt: str, expected: int
) -> None:
    emulator.rule("[fail]", Scenario(download_status=404))
    emulator.rule(lambda p: "blue" in p, Scenario(download_status=403))
    uri = api.video_uri(prompt)
    status = api.http.get(uri, headers=api.auth).status_code
    assert status == (302 if expected == 200 else expected)


def test_rules_win_over_the_queue_which_wins_over_the_default(api: Api, emulator: Emulator) -> None:
    emulator.default = Scenario(running_polls=9)
    emulator.rule("special", Scenario(running_polls=1))
    emulator.queue(Scenario(running_polls=2), Scenario(running_polls=3))
    names = [api.submit(p).json()["name"] for p in ("a", "special b", "c", "d")]
    polls = [emulator.operations[n].scenario.running_polls for n in names]
    assert polls == [2, 1, 3, 9]


def test_a_refused_submit_consumes_its_queued_scenario(api: Api, emulator: Emulator) -> None:
    emulator.queue(Scenario(submit_status=503), Scenario(running_polls=4))
    assert api.submit().status_code == 503
    name = api.submit().json()["name"]
    assert emulator.operations[name].scenario.running_polls == 4


def test_empty_rule_is_refused(emulator: Emulator) -> None:
    with pytest.raises(ValueError, match="empty"):
        emulator.rule("", Scenario())


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"instances": []}',
        b'{"instances": [{"prompt": " "}]}',
        b'{"instances": [{"prompt": "x"}], "parameters": []}',
    ],
)
def test_malformed_submits_are_400(api: Api, emulator: Emulator, body: bytes) -> None:
    response = api.http.post(
        f"{emulator.api_base}/v1beta/models/{MODEL}:predictLongRunning",
        content=body,
        headers={**api.auth, "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_concurrent_submits_get_distinct_operations(api: Api, emulator: Emulator) -> None:
    names: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            name = api.submit().json()["name"]
            with lock:
                names.append(name)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(names)) == 80 == len(emulator.operations)
    assert len({op.file_id for op in emulator.operations.values()}) == 80


def test_constructor_checks_its_origins() -> None:
    with pytest.raises(ValueError, match="different origins"):
        Emulator(api_base="http://a.test", download_base="http://a.test/")
    with pytest.raises(ValueError, match="origin only"):
        Emulator(api_base="http://a.test/v1beta")
    with pytest.raises(ValueError, match="http"):
        Emulator(download_base="ftp://files.test")
    with pytest.raises(ValueError, match="api_key"):
        Emulator("")


def test_500_mb_streams_in_flat_memory(api: Api, emulator: Emulator) -> None:
    size = 500 * MB
    emulator.default = Scenario(video_size=size)
    location = api.location()
    tracemalloc.start()
    try:
        total, head = 0, b""
        with api.http.stream("GET", location, headers=api.auth) as response:
            assert response.headers["content-length"] == str(size)
            for chunk in response.iter_raw():
                if not head:
                    head = chunk[:8]
                total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == size and looks_like_mp4(head)
    assert peak < 8 * MB
