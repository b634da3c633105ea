"""The defence scenarios: a redirect to a second origin that must never see the key
(``cross_origin_redirect``), and a media server that resumes with ranges (``ranged_download``)."""

from __future__ import annotations

import httpx
import pytest
from _kit.emulator import Api

from veo3_adapter.emulator import Emulator, Scenario, Side
from veo3_adapter.emulator._body import crc32c_of
from veo3_adapter.mp4 import sample_clip

MB = 1024 * 1024


@pytest.fixture
def cross(emulator: Emulator) -> Emulator:
    emulator.default = Scenario.named("cross_origin_redirect")
    return emulator


@pytest.fixture
def ranged(emulator: Emulator) -> Emulator:
    emulator.default = Scenario.named("ranged_download")
    return emulator


# -- cross_origin_redirect ----------------------------------------------------------------------


def test_cross_origin_redirect_goes_to_the_second_origin(api: Api, cross: Emulator) -> None:
    uri = api.video_uri()
    response = api.http.get(uri, headers=api.auth)
    assert response.status_code == 302
    assert response.json()["error"]["message"] == "Unknown Error."
    location = httpx.URL(response.headers["location"])
    assert location.host == httpx.URL(cross.download_base).host != httpx.URL(uri).host
    assert location.path.startswith("/files/") and "token" in location.params
    assert cross.side_of(location) is Side.DOWNLOAD


def test_second_origin_serves_the_mp4_without_a_key(api: Api, cross: Emulator) -> None:
    response = api.http.get(api.location())
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["etag"].startswith('"')
    assert response.headers["x-goog-hash"] == crc32c_of([sample_clip()])
    assert response.headers["server"] == "UploadServer"
    assert response.content == sample_clip()
    assert cross.key_leaks == []


def test_second_origin_checks_its_signature(api: Api, cross: Emulator) -> None:
    location = httpx.URL(api.location())
    assert api.http.get(location.copy_set_param("token", "forged")).status_code == 403
    assert api.http.get(location.copy_remove_param("token")).status_code == 403
    assert api.http.get(location.copy_with(path="/files/zzzzzzzzzzzz")).status_code == 404
    assert api.http.post(location).status_code == 405


@pytest.mark.parametrize(
    ("where", "recorded"),
    [
        ("api-key-header", "header x-goog-api-key"),
        ("other-header", "header authorization"),
        ("query", "url"),
    ],
)
def test_the_key_at_the_second_origin_is_refused_and_recorded(
    api: Api, cross: Emulator, key: str, where: str, recorded: str
) -> None:
    location = httpx.URL(api.location())
    if where == "api-key-header":
        response = api.http.get(location, headers={"x-goog-api-key": key})
    elif where == "other-header":
        response = api.http.get(location, headers={"authorization": f"Bearer {key}"})
    else:
        response = api.http.get(location.copy_add_param("k", key))
    assert response.status_code == 400
    assert len(cross.key_leaks) == 1
    leak = cross.key_leaks[0]
    assert (leak.method, leak.path, leak.where) == ("GET", location.path, recorded)
    assert key not in repr(cross.key_leaks)


def test_any_api_key_header_at_the_second_origin_is_a_leak(api: Api, cross: Emulator) -> None:
    response = api.http.get(api.location(), headers={"x-goog-api-key": "some-other-key"})
    assert response.status_code == 400
    assert len(cross.key_leaks) == 1


def test_a_following_client_carries_the_key_across_origins(cross: Emulator, api: Api) -> None:
    """httpx keeps x-goog-api-key on a cross-origin redirect (DESIGN fact 3); we catch it."""
    uri = api.video_uri()
    with httpx.Client(transport=cross.transport(), follow_redirects=True) as following:
        response = following.get(uri, headers=api.auth)
    assert response.status_code == 400
    assert [leak.where for leak in cross.key_leaks] == ["header x-goog-api-key"]


def test_the_media_path_on_the_api_origin_never_counts_as_a_leak(api: Api, cross: Emulator) -> None:
    file_id = httpx.URL(api.location()).path.rsplit("/", 1)[-1]
    response = api.media(f"{cross.api_base}/download/v1beta/files/{file_id}:download?alt=media")
    assert response.status_code == 200 and cross.key_leaks == []


def test_second_origin_failures_are_plain_text(api: Api, cross: Emulator) -> None:
    cross.default = Scenario.named("cross_origin_redirect", download_failures=(503,))
    location = api.location()
    failed = api.http.get(location)
    assert failed.status_code == 503 and failed.text == "HTTP 503\n"
    assert failed.headers["retry-after"] == "1"
    assert api.http.get(location).status_code == 200


def test_a_request_log_names_the_second_origin_as_the_media_server(
    api: Api, cross: Emulator
) -> None:
    api.http.get(api.location())
    assert [(r.origin, r.status) for r in cross.requests][-2:] == [("api", 302), ("download", 200)]


# -- ranged_download ----------------------------------------------------------------------------


def test_ranged_download_stays_on_the_api_origin_and_says_it_takes_ranges(
    api: Api, ranged: Emulator
) -> None:
    location = api.location()
    assert location.startswith(f"{ranged.api_base}/download/v1beta/files/")
    response = api.media(location)
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["etag"].startswith('"')
    assert response.headers["x-goog-hash"] == crc32c_of([sample_clip()])


@pytest.mark.parametrize(
    ("range_header", "start", "end"),
    [("bytes=1000-", 1000, 99_999), ("bytes=10-19", 10, 19), ("bytes=-50", 99_950, 99_999)],
)
def test_range_requests_get_206(
    api: Api, ranged: Emulator, range_header: str, start: int, end: int
) -> None:
    ranged.default = Scenario.named("ranged_download", video_size=100_000)
    location = api.location()
    whole = api.media(location)
    response = api.media(location, range=range_header)
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {start}-{end}/100000"
    assert response.headers["content-length"] == str(end - start + 1)
    assert response.content == whole.content[start : end + 1]
    # The hash is the whole object's, on a part as on the whole.
    assert response.headers["x-goog-hash"] == whole.headers["x-goog-hash"]


def test_if_range_with_the_etag_resumes_and_with_another_sends_all(
    api: Api, ranged: Emulator
) -> None:
    location = api.location()
    etag = api.http.head(location, headers=api.auth).headers["etag"]
    same = api.media(location, range="bytes=100-", **{"if-range": etag})
    assert same.status_code == 206 and same.content == sample_clip()[100:]
    changed = api.media(location, range="bytes=100-", **{"if-range": '"other"'})
    assert changed.status_code == 200 and changed.content == sample_clip()


def test_unsatisfiable_range_is_416(api: Api, ranged: Emulator) -> None:
    response = api.media(api.location(), range=f"bytes={len(sample_clip())}-")
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(sample_clip())}"


def test_truncation_applies_to_ranges_too(api: Api, ranged: Emulator) -> None:
    ranged.default = Scenario.named("ranged_download", truncate_at=1000)
    location = api.location()
    with api.http.stream("GET", location, headers={**api.auth, "range": "bytes=500-"}) as response:
        assert response.status_code == 206
        with pytest.raises(httpx.RemoteProtocolError):
            response.read()
    resumed = api.media(location, range="bytes=500-")
    assert resumed.content == sample_clip()[500:]


def test_etag_differs_per_operation(api: Api, ranged: Emulator) -> None:
    ranged.default = Scenario.named("ranged_download", video_size=300_000)
    first, second = api.location("one"), api.location("two")
    assert api.media(first).headers["etag"] == api.media(first).headers["etag"]
    assert api.media(first).headers["etag"] != api.media(second).headers["etag"]


def test_500_mb_tail_range(api: Api, ranged: Emulator) -> None:
    size = 500 * MB
    ranged.default = Scenario.named("ranged_download", video_size=size)
    tail = api.media(api.location(), range=f"bytes={size - 10}-")
    assert tail.status_code == 206 and len(tail.content) == 10
