"""What reaches a cassette: no key (in any header, echoed or sent), no signed download URL,
and nothing else touched, however short the key."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import vcr
import yaml
from _kit.keys import WRITTEN
from vcr.request import Request

from pytest_veo3.cassette import (
    REDACTED,
    RecordMode,
    Scrubber,
    cassette_backend,
    cassette_metadata,
    open_cassette,
    redact_foreign_query,
)
from pytest_veo3.scenarios import SCENARIO_CASSETTES, builtin_cassette
from veo3_adapter._secrets import API_KEY_HEADER, Secret

API = "https://generativelanguage.googleapis.com"


FILE = f"{API}/v1beta/files/abc:download?alt=media"
# The live API's download redirect: same origin, the request's headers echoed back.
MEDIA = f"{API}/download/v1beta/files/abc:download?alt=media"
REDIRECT_BODY = b'{"error": {"code": 302, "message": "Unknown Error.", "status": "UNKNOWN"}}'


@pytest.mark.parametrize(
    ("uri", "api_base", "expected"),
    [
        (
            "https://storage.example.net/v/abc?Expires=1&Signature=s3cr3t",
            API,
            f"https://storage.example.net/v/abc?Expires={REDACTED}&Signature={REDACTED}",
        ),
        # Same host, another port: another origin, as the emulator's download origin is.
        (
            "http://127.0.0.1:9/f?token=t",
            "http://127.0.0.1:8",
            f"http://127.0.0.1:9/f?token={REDACTED}",
        ),
        (FILE, API, FILE),
        ("https://storage.example.net/v/abc", API, "https://storage.example.net/v/abc"),
    ],
)
def test_only_foreign_queries_are_blanked(uri: str, api_base: str, expected: str) -> None:
    assert redact_foreign_query(uri, api_base) == expected


@pytest.mark.parametrize(
    "host",
    [
        "xn--abc-.example",  # an invalid punycode label
        "a..b.example",  # an empty label
        "a" * 64 + ".example",  # a label over 63 characters
        "b\u00fccher..example",  # Unicode with an empty label
    ],
)
def test_a_hostile_host_is_foreign_and_loses_its_query(host: str) -> None:
    uri = f"https://{host}/v/abc?Signature=s3cr3t&Expires=1"
    assert redact_foreign_query(uri, API) == (
        f"https://{host}/v/abc?Signature={REDACTED}&Expires={REDACTED}"
    )


def test_an_unparseable_url_keeps_no_query() -> None:
    uri = "https://[::1/v/abc?Signature=s3cr3t#frag"
    assert redact_foreign_query(uri, API) == f"https://[::1/v/abc?{REDACTED}#frag"
    assert Scrubber(api_base=API).url(uri) == f"https://[::1/v/abc?{REDACTED}#frag"


def _redirect(key: str, location: str = MEDIA) -> dict[str, Any]:
    """A vcrpy response dict for the live download redirect, the key echoed back."""
    return {
        "status": {"code": 302, "message": "Found"},
        "headers": {
            "X-Goog-Api-Key": [key],
            "Location": [location],
            "Content-Type": ["application/json; charset=UTF-8"],
            "Cache-Control": ["private, max-age=0"],
            "Set-Cookie": ["NID=x"],
        },
        "body": {"string": REDIRECT_BODY},
    }


@pytest.mark.parametrize("short", [True, False], ids=["one-character key", "real-shaped key"])
def test_a_key_echoed_in_response_headers_is_dropped_by_name(short: bool, api_key: str) -> None:
    key = "x" if short else api_key
    recorder = vcr.VCR(**Scrubber((key,), api_base=API).vcr_options())
    before_record_response = recorder.get_merged_config()["before_record_response"]

    response = before_record_response(_redirect(key))

    assert response["headers"] == {
        "Location": [MEDIA],
        "Content-Type": ["application/json; charset=UTF-8"],
        "Cache-Control": ["private, max-age=0"],
    }
    # A value too short to be a key is never replaced literally: nothing else changes.
    assert response["body"]["string"] == REDIRECT_BODY


def test_a_foreign_location_loses_its_query_and_a_long_key_its_value(api_key: str) -> None:
    location = f"https://storage.example.net/v?token=t&k={api_key}"
    redirect = _redirect(api_key, location)
    redirect["body"]["string"] = b'{"echo": "' + api_key.encode() + b'"}'
    scrubber = Scrubber((api_key,), api_base=API)

    recorded = scrubber.response(redirect)
    assert recorded["headers"]["Location"] == [
        f"https://storage.example.net/v?token=t&k={REDACTED}"
    ]
    assert recorded["body"]["string"] == b'{"echo": "' + REDACTED.encode() + b'"}'
    # The signed URL's query goes when the cassette is saved.
    request = Request("GET", location, b"", {})
    saved_request, saved = scrubber.interaction(scrubber.request(request), recorded)
    expected = f"https://storage.example.net/v?token={REDACTED}&k={REDACTED}"
    assert (saved_request.uri, saved["headers"]["Location"]) == (expected, [expected])


@pytest.mark.parametrize("short", [True, False], ids=["one-character key", "real-shaped key"])
def test_credential_request_headers_and_parameters_are_dropped(short: bool, api_key: str) -> None:
    key = "x" if short else api_key
    recorder = vcr.VCR(**Scrubber((key,), api_base=API).vcr_options())
    before_record_request = recorder.get_merged_config()["before_record_request"]
    body = b'{"instances": [{"prompt": "a fox, max speed"}]}'
    headers = {
        "X-Goog-Api-Key": key,
        "Authorization": "Bearer t",
        "Cookie": "c=1",
        "User-Agent": "google-genai-sdk/x",
    }

    request = before_record_request(Request("POST", f"{FILE}&key={key}", body, headers))

    assert dict(request.headers) == {"User-Agent": "google-genai-sdk/x"}
    assert request.uri == f"{FILE}&key={REDACTED}"
    assert request.body == body


@contextlib.contextmanager
def recording(
    path: Path, key: str, serve: Callable[[httpx.Request], httpx.Response]
) -> Iterator[httpx.Client]:
    """A client whose requests ``serve`` answers, recorded into the cassette ``path`` with
    ``key`` scrubbed."""
    with (
        open_cassette(
            path,
            mode=RecordMode.ONCE,
            secrets=(key,),
            base_url=API,
            inner=httpx.MockTransport(serve),
        ) as cassette,
        httpx.Client(transport=cassette.transport) as client,
    ):
        yield client


def test_a_recording_holds_no_echoed_key_and_every_body_as_served(tmp_path: Path) -> None:
    """The live download flow recorded with a one-character key: the echoed key header is
    gone, and the bodies and headers that contain the letter are stored untouched."""
    key = "x"
    video = b"\x00\x00\x00\x18ftypmp42\xff" + b"x" * 100  # not UTF-8: a body file

    def serve(request: httpx.Request) -> httpx.Response:
        echoed = {API_KEY_HEADER: request.headers[API_KEY_HEADER]}
        if request.url.path.startswith("/download/"):
            return httpx.Response(200, headers={"Content-Type": "video/mp4"}, content=video)
        return httpx.Response(302, headers={"Location": MEDIA, **echoed}, content=REDIRECT_BODY)

    path = tmp_path / "download.yaml"
    with recording(path, key, serve) as client:
        assert client.get(FILE, headers={API_KEY_HEADER: key}).status_code == 302
        assert client.get(MEDIA, headers={API_KEY_HEADER: key}).content == video

    text = path.read_text()
    assert API_KEY_HEADER not in text.lower()
    assert REDACTED not in text
    interactions = yaml.safe_load(text)["interactions"]
    assert interactions[0]["response"]["body"]["string"] == REDIRECT_BODY.decode()
    [ref] = [i["response"]["body"]["string"] for i in interactions[1:]]
    assert (tmp_path / ref.removeprefix("veo3-body-file:")).read_bytes() == video

    with (
        open_cassette(path, base_url=API) as replay,
        httpx.Client(transport=replay.transport) as client,
    ):
        redirect = client.get(FILE)
        assert (redirect.status_code, redirect.content) == (302, REDIRECT_BODY)
        assert API_KEY_HEADER not in redirect.headers
        assert client.get(redirect.headers["location"]).content == video
        assert replay.all_played


def test_vcrpy_logs_no_echoed_key(
    tmp_path: Path, api_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    """vcrpy logs each response as received, before any hook: its records are scrubbed too."""

    def serve(request: httpx.Request) -> httpx.Response:
        echoed = {API_KEY_HEADER: request.headers[API_KEY_HEADER]}
        return httpx.Response(302, headers={"Location": MEDIA, **echoed}, content=REDIRECT_BODY)

    caplog.set_level(logging.DEBUG)
    with recording(tmp_path / "c.yaml", api_key, serve) as client:
        assert client.get(FILE, headers={API_KEY_HEADER: api_key}).status_code == 302

    assert any(r.name == "vcr.cassette" and "Appending" in r.getMessage() for r in caplog.records)
    assert api_key not in caplog.text
    assert not [r for r in caplog.records if API_KEY_HEADER in r.getMessage().lower()]
    # The filters are gone with the cassette.
    assert not logging.getLogger("vcr.cassette").filters


@pytest.mark.parametrize("name", list(SCENARIO_CASSETTES))
def test_shipped_cassettes_hold_no_signed_download_url(name: str) -> None:
    path = builtin_cassette(name)
    assert path is not None
    # Where a download URL is stored: request URIs and Location header values (not links
    # inside error bodies, such as the quota help page).
    stored = re.findall(r"^\s*(?:uri: |- )(https?://\S+)$", Path(path).read_text(), re.M)
    # The service's own origins: the Gemini API, or Vertex AI and its Cloud Storage.
    metadata = cassette_metadata(path)
    own = (
        (API,)
        if cassette_backend(path) == "gemini"
        else (
            metadata["base_url"],
            metadata["storage_base_url"],
        )
    )
    foreign = [url for url in stored if not url.startswith(own)]
    assert foreign or name != "cross_origin_redirect"
    for url in foreign:
        query = url.partition("?")[2]
        values = [pair.partition("=")[2] for pair in query.split("&") if pair]
        assert all(v == REDACTED for v in values), url


WRITTEN_HERE = ("base64", "url-safe", "percent-upper", "u-escaped", "first-escaped")


@pytest.mark.parametrize("encode", [WRITTEN[name] for name in WRITTEN_HERE], ids=WRITTEN_HERE)
def test_the_key_is_scrubbed_in_every_encoding(encode: object) -> None:
    """Bodies, header values and URIs: the known key (here not key-shaped, so only its value
    can find it) base64-encoded, percent-encoded or \\u-escaped becomes the marker."""
    assert callable(encode)
    key = "k-" + secrets.token_hex(16)
    written = encode(key)
    scrubber = Scrubber((key,), api_base=API)
    body = json.dumps({"prompt": f"a cat {written}"}).encode()
    uri = f"{API}/v1beta/{quote(written, safe='')}/x?state={quote(written, safe='')}&alt=media"
    request = scrubber.request(Request("POST", uri, body, {"X-Trace": written}))
    response = scrubber.response(
        {
            "status": {"code": 200, "message": "OK"},
            "headers": {"X-Echo": [written], "Location": [uri]},
            "body": {"string": written.encode()},
        }
    )
    stored = [request.uri, str(request.body), str(request.headers), str(response)]
    for text in stored:
        for form in (key, written, quote(written, safe="")):
            assert form not in text, text
    assert REDACTED in request.uri and REDACTED.encode() in request.body
    assert REDACTED.encode() in response["body"]["string"]
    assert REDACTED in request.headers["X-Trace"]


def test_the_scrubber_never_shows_its_secrets() -> None:
    key = "k-" + secrets.token_hex(16)
    scrubber = Scrubber((key,), api_base=API)
    assert key not in repr(scrubber) and key not in repr(scrubber.secrets)
    assert scrubber.secrets == (Secret(key),)
