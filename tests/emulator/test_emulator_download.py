"""The download exchange in-process: redirect, bytes, ranges, cuts, expiry and key leaks."""

from __future__ import annotations

import threading
import tracemalloc

import httpx
import pytest
from emulator_testkit import MODEL, Api, FakeClock

from veo3_adapter.emulator import Emulator, Scenario, Side
from veo3_adapter.mp4 import looks_like_mp4, sample_clip

MB = 1024 * 1024


def test_video_uri_redirects_to_the_download_origin(api: Api, emulator: Emulator) -> None:
    uri = api.video_uri()
    assert uri.startswith(f"{emulator.api_base}/v1beta/files/")
    response = api.http.get(uri, headers=api.auth)
    assert response.status_code == 302
    location = httpx.URL(response.headers["location"])
    assert location.host == httpx.URL(emulator.download_base).host != httpx.URL(uri).host
    assert emulator.side_of(location) is Side.DOWNLOAD


def test_download_origin_serves_the_mp4(api: Api, emulator: Emulator) -> None:
    response = api.http.get(api.location())
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["etag"].startswith('"')
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.content == sample_clip()
    assert response.content[4:8] == b"ftyp"
    assert emulator.key_leaks == []


def test_video_size_is_exact_and_deterministic_per_operation(api: Api, emulator: Emulator) -> None:
    emulator.default = Scenario(video_size=300_000)
    first, second = api.location("one"), api.location("two")
    body = api.http.get(first).content
    assert len(body) == 300_000 and looks_like_mp4(body)
    assert api.http.get(first).content == body
    assert api.http.get(second).content != body
    assert api.http.get(first).headers["etag"] != api.http.get(second).headers["etag"]


def test_head_gives_the_headers_only(api: Api) -> None:
    location = api.location()
    response = api.http.head(location)
    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(sample_clip()))
    assert response.content == b""


@pytest.mark.parametrize(
    ("range_header", "start", "end"),
    [("bytes=1000-", 1000, 99_999), ("bytes=10-19", 10, 19), ("bytes=-50", 99_950, 99_999)],
)
def test_range_requests_get_206(
    api: Api, emulator: Emulator, range_header: str, start: int, end: int
) -> None:
    emulator.default = Scenario(video_size=100_000)
    location = api.location()
    whole = api.http.get(location).content
    response = api.http.get(location, headers={"range": range_header})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {start}-{end}/100000"
    assert response.headers["content-length"] == str(end - start + 1)
    assert response.content == whole[start : end + 1]


def test_if_range_with_the_etag_resumes_and_with_another_sends_all(api: Api) -> None:
    location = api.location()
    etag = api.http.head(location).headers["etag"]
    same = api.http.get(location, headers={"range": "bytes=100-", "if-range": etag})
    assert same.status_code == 206 and same.content == sample_clip()[100:]
    changed = api.http.get(location, headers={"range": "bytes=100-", "if-range": '"other"'})
    assert changed.status_code == 200 and changed.content == sample_clip()


def test_unsatisfiable_range_is_416(api: Api) -> None:
    response = api.http.get(api.location(), headers={"range": f"bytes={len(sample_clip())}-"})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(sample_clip())}"


def test_truncated_body_breaks_like_a_closed_socket_then_serves_whole(
    api: Api, emulator: Emulator
) -> None:
    emulator.default = Scenario(video_size=200_000, truncate_at=70_000, truncate_times=2)
    location = api.location()
    for _ in range(2):
        received = bytearray()
        with api.http.stream("GET", location) as response:
            assert response.headers["content-length"] == "200000"
            with pytest.raises(httpx.RemoteProtocolError, match="70000 bytes, expected 200000"):
                for chunk in response.iter_raw():
                    received += chunk
        assert len(received) == 70_000
    whole = api.http.get(location)
    assert whole.status_code == 200 and len(whole.content) == 200_000


def test_truncation_applies_to_ranges_too(api: Api, emulator: Emulator) -> None:
    emulator.default = Scenario(truncate_at=1000)
    location = api.location()
    with api.http.stream("GET", location, headers={"range": "bytes=500-"}) as response:
        assert response.status_code == 206
        with pytest.raises(httpx.RemoteProtocolError):
            response.read()
    resumed = api.http.get(location, headers={"range": "bytes=500-"})
    assert resumed.content == sample_clip()[500:]


def test_dropped_connection_resets_once(api: Api, emulator: Emulator) -> None:
    emulator.default = Scenario.named("dropped_connection")
    location = api.location()
    received = bytearray()
    with (
        api.http.stream("GET", location) as response,
        pytest.raises(httpx.ReadError, match="reset"),
    ):
        for chunk in response.iter_raw():
            received += chunk
    assert bytes(received) == sample_clip()[:1024]
    assert api.http.get(location).content == sample_clip()


def test_download_failures_come_before_the_clip(api: Api, emulator: Emulator) -> None:
    emulator.default = Scenario(download_failures=(500, 503, 429), retry_after=4)
    location = api.location()
    answers = [api.http.get(location) for _ in range(4)]
    assert [r.status_code for r in answers] == [500, 503, 429, 200]
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
    assert api.http.get(location).status_code == 200
    clock.advance(1)
    expired = api.http.get(uri, headers=api.auth)
    assert expired.status_code == 404
    assert expired.json()["error"]["status"] == "NOT_FOUND"
    assert api.http.get(location).status_code == 404


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


def test_download_needs_alt_media(api: Api) -> None:
    uri = httpx.URL(api.video_uri()).copy_remove_param("alt")
    assert api.http.get(uri, headers=api.auth).status_code == 400


def test_download_origin_checks_its_signature(api: Api) -> None:
    location = httpx.URL(api.location())
    assert api.http.get(location.copy_set_param("token", "forged")).status_code == 403
    assert api.http.get(location.copy_remove_param("token")).status_code == 403
    assert api.http.get(location.copy_with(path="/files/zzzzzzzzzzzz")).status_code == 404


@pytest.mark.parametrize(
    ("where", "recorded"),
    [
        ("api-key-header", "header x-goog-api-key"),
        ("other-header", "header authorization"),
        ("query", "url"),
    ],
)
def test_the_key_at_the_download_origin_is_refused_and_recorded(
    api: Api, emulator: Emulator, key: str, where: str, recorded: str
) -> None:
    location = httpx.URL(api.location())
    if where == "api-key-header":
        response = api.http.get(location, headers={"x-goog-api-key": key})
    elif where == "other-header":
        response = api.http.get(location, headers={"authorization": f"Bearer {key}"})
    else:
        response = api.http.get(location.copy_add_param("k", key))
    assert response.status_code == 400
    assert len(emulator.key_leaks) == 1
    leak = emulator.key_leaks[0]
    assert (leak.method, leak.path, leak.where) == ("GET", location.path, recorded)
    assert key not in repr(emulator.key_leaks)


def test_any_api_key_header_at_the_download_origin_is_a_leak(api: Api, emulator: Emulator) -> None:
    response = api.http.get(api.location(), headers={"x-goog-api-key": "some-other-key"})
    assert response.status_code == 400
    assert len(emulator.key_leaks) == 1


def test_a_following_client_carries_the_key_across_origins(emulator: Emulator, api: Api) -> None:
    """httpx keeps x-goog-api-key on a cross-origin redirect (DESIGN fact 3); we catch it."""
    uri = api.video_uri()
    with httpx.Client(transport=emulator.transport(), follow_redirects=True) as following:
        response = following.get(uri, headers=api.auth)
    assert response.status_code == 400
    assert [leak.where for leak in emulator.key_leaks] == ["header x-goog-api-key"]


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
        ("download", "GET", 400),
    ]
    assert log[0].path == f"/v1beta/models/{MODEL}:predictLongRunning"
    assert all("?" not in r.path for r in log)
    assert key not in repr(log) and "token" not in repr(log)
    assert key not in repr(emulator) and key not in repr(emulator.operations)


def test_unknown_hosts_do_not_exist(http: httpx.Client) -> None:
    with pytest.raises(httpx.ConnectError):
        http.get("https://example.com/")


def test_unknown_paths_are_google_404s(api: Api, emulator: Emulator) -> None:
    response = api.http.get(f"{emulator.api_base}/v1beta/models", headers=api.auth)
    assert response.status_code == 404
    assert response.json()["error"]["status"] == "NOT_FOUND"
    assert api.http.get(f"{emulator.download_base}/").status_code == 404


def test_slow_download_sleeps_between_chunks_on_the_injected_sleep(
    api: Api, emulator: Emulator, clock: FakeClock
) -> None:
    emulator.default = Scenario.named("slow_download")
    location = api.location()
    with api.http.stream("GET", location) as response:
        chunks = [len(chunk) for chunk in response.iter_raw()]
    assert sum(chunks) == 256 * 1024
    assert clock.sleeps == [0.5] * (len(chunks) - 1)
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
        with api.http.stream("GET", location) as response:
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
    tail = api.http.get(location, headers={"range": f"bytes={size - 10}-"})
    assert tail.status_code == 206 and len(tail.content) == 10
