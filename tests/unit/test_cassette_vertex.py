"""Vertex AI cassettes: the backend in the metadata, placeholders for the project and bucket,
bearer tokens scrubbed, token refresh traffic never recorded, replay with made-up credentials.

Tokens and keys are made at run time; none is written in this file.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import google.oauth2.credentials
import httpx
import pytest
import yaml
from _kit.keys import make_api_key, make_token
from vcr.request import Request

from pytest_veo3._backends import CassetteBackend, replay_adapter, replay_credentials
from pytest_veo3.cassette import (
    RecordMode,
    Scrubber,
    cassette_backend,
    cassette_metadata,
    open_cassette,
    provenance,
)
from pytest_veo3.scenarios import as_received
from veo3_adapter import JobStatus, VertexVeo3Adapter
from veo3_adapter._placeholders import CloudNames
from veo3_adapter._secrets import MARKER, TOKEN_HOSTS, redact, redact_bytes
from veo3_adapter.compose import LOCAL_PROFILE, vertex_adapter
from veo3_adapter.emulator import Emulator, Scenario

REGIONAL = "https://us-central1-aiplatform.googleapis.com"
STORAGE = "https://storage.googleapis.com"
MODELS = "publishers/google/models/veo-3.1-generate-001"


# -- the backend in the metadata ---------------------------------------------------------


@pytest.mark.parametrize(
    ("backend", "metadata"),
    [
        (CassetteBackend(), {"backend": "gemini"}),
        (
            CassetteBackend.vertex(prefix="renders/", storage_base_url=STORAGE),
            {
                "backend": "vertex",
                "express": "false",
                "location": "us-central1",
                "project": "veo3-project",
                "bucket": "veo3-bucket",
                "output_gcs_uri": "gs://veo3-bucket/renders/",
                "storage_base_url": STORAGE,
            },
        ),
        (
            CassetteBackend.vertex(location="europe-west4"),
            {
                "backend": "vertex",
                "express": "false",
                "location": "europe-west4",
                "project": "veo3-project",
            },
        ),
        (CassetteBackend.vertex(express=True), {"backend": "vertex", "express": "true"}),
    ],
    ids=["gemini", "vertex-bucket", "vertex-inline", "vertex-express"],
)
def test_the_backend_round_trips_through_the_metadata(
    backend: CassetteBackend, metadata: dict[str, str]
) -> None:
    assert backend.metadata() == metadata
    assert CassetteBackend.from_metadata(metadata) == backend
    recorded = provenance("veo3 emulator", REGIONAL, backend)
    assert {k: recorded[k] for k in metadata} == metadata
    assert recorded["source"] == "veo3 emulator"


def test_no_backend_recorded_is_the_gemini_api() -> None:
    assert CassetteBackend.from_metadata({}) == CassetteBackend()
    assert CassetteBackend.from_metadata({"base_url": "https://x"}).name == "gemini"
    assert provenance("live", "https://x")["backend"] == "gemini"
    with pytest.raises(ValueError, match="unknown backend 'bedrock'"):
        CassetteBackend.from_metadata({"backend": "bedrock"})


def _write_cassette(path: Path, metadata: dict[str, Any] | None) -> Path:
    data: dict[str, Any] = {"interactions": [], "version": 1}
    if metadata is not None:
        data["metadata"] = {"veo3": metadata}
    path.write_text(yaml.safe_dump(data))
    return path


def test_cassette_backend_reads_a_file(tmp_path: Path) -> None:
    old = _write_cassette(tmp_path / "old.yaml", None)
    before = _write_cassette(tmp_path / "before.yaml", {"base_url": "https://x"})
    vertex = _write_cassette(tmp_path / "v.yaml", CassetteBackend.vertex().metadata())
    assert [cassette_backend(p) for p in (old, before, vertex)] == ["gemini", "gemini", "vertex"]
    assert cassette_metadata(old) == {}
    assert cassette_metadata(vertex)["project"] == "veo3-project"


# -- placeholders --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            f"/v1beta1/projects/acme-prod-42/locations/us-central1/{MODELS}:predictLongRunning",
            f"/v1beta1/projects/veo3-project/locations/us-central1/{MODELS}:predictLongRunning",
        ),
        (  # an operation named by project number
            '{"name": "projects/123456789012/locations/us-central1/x/operations/1"}',
            '{"name": "projects/veo3-project/locations/us-central1/x/operations/1"}',
        ),
        (
            '{"storageUri": "gs://acme-renders/out/", "gcsUri": "gs://other-b/o/1/s.mp4"}',
            '{"storageUri": "gs://veo3-bucket/out/", "gcsUri": "gs://veo3-bucket/o/1/s.mp4"}',
        ),
        (
            f"{STORAGE}/storage/v1/b/other-b/o/o%2F1%2Fs.mp4?alt=media",
            f"{STORAGE}/storage/v1/b/veo3-bucket/o/o%2F1%2Fs.mp4?alt=media",
        ),
        (  # a project without the API: its number in the message, the URL and the details
            "API has not been used in project 123456789012 before. "
            "https://console.developers.google.com/apis/api/x/overview?project=123456789012 "
            '{"consumer": "projects/123456789012"}',
            "API has not been used in project veo3-project before. "
            "https://console.developers.google.com/apis/api/x/overview?project=veo3-project "
            '{"consumer": "projects/veo3-project"}',
        ),
        ('{"bucket": "zz-b", "name": "o"}', '{"bucket": "veo3-bucket", "name": "o"}'),
        # Known names anywhere, as whole words; never as a JSON key.
        ("denied on acme-prod-42.", "denied on veo3-project."),
        ('{"acme-renders": 1, "b": "acme-renders"}', '{"acme-renders": 1, "b": "veo3-bucket"}'),
        ("acme-prod-421 xacme-renders", "acme-prod-421 xacme-renders"),
        # Not a project or a bucket.
        (
            "/home/me/projects/app/src the project does",
            "/home/me/projects/app/src the project does",
        ),
        ("projects/veo3-project/locations/x", "projects/veo3-project/locations/x"),
    ],
)
def test_cloud_names_become_placeholders(text: str, expected: str) -> None:
    names = CloudNames(projects=("acme-prod-42",), buckets=("acme-renders",))
    assert names.text(text) == expected
    assert names.data(text.encode()) == expected.encode()


def test_short_known_names_are_left_to_the_structure() -> None:
    names = CloudNames(buckets=("media",))  # a bucket called "media" must not touch alt=media
    assert names.buckets == ()
    url = f"{STORAGE}/storage/v1/b/media/o/x?alt=media"
    assert names.text(url) == f"{STORAGE}/storage/v1/b/veo3-bucket/o/x?alt=media"


# -- bearer tokens -------------------------------------------------------------------------


def test_bearer_tokens_are_redacted_anywhere() -> None:
    opaque = secrets.token_urlsafe(30) + "9"
    token = make_token()
    assert redact(f"h: Bearer {opaque} end") == f"h: {MARKER} end"
    assert redact(f'{{"auth": "Bearer {token}"}}') == f'{{"auth": "Bearer {MARKER}"}}'
    assert redact_bytes(f"x {token} y".encode()) == f"x {MARKER} y".encode()
    for harmless in (f"Bearer {MARKER}", "Bearer tokens are sent", "Bearer <token>"):
        assert redact(harmless) == harmless


def test_the_scrubber_keeps_tokens_and_real_names_out_and_urls_replayable() -> None:
    token = make_token()
    scrubber = Scrubber(
        (token,),
        api_base=REGIONAL,
        own_bases=(STORAGE,),
        names=CloudNames(projects=("acme-prod-42",), buckets=("acme-renders",)),
    )
    options = scrubber.vcr_options()
    assert "authorization" in options["filter_headers"]
    submit = Request(
        "POST",
        f"{REGIONAL}/v1beta1/projects/acme-prod-42/locations/us-central1/{MODELS}:predictLongRunning",
        json.dumps({"parameters": {"storageUri": "gs://acme-renders/r/"}, "t": token}).encode(),
        {"authorization": f"Bearer {token}", "x-goog-user-project": "acme-prod-42"},
    )
    clean = scrubber.request(submit)
    assert "/projects/veo3-project/" in clean.uri
    assert json.loads(clean.body) == {
        "parameters": {"storageUri": "gs://veo3-bucket/r/"},
        "t": MARKER,
    }
    assert clean.headers == {}
    # The object's name stays one percent-encoded segment; the storage origin keeps alt=media.
    get = Request("GET", f"{STORAGE}/storage/v1/b/acme-renders/o/r%2F1%2Fs.mp4?alt=media", b"", {})
    saved, _response = scrubber.interaction(scrubber.request(get), {"headers": {}})
    assert saved.uri == f"{STORAGE}/storage/v1/b/veo3-bucket/o/r%2F1%2Fs.mp4?alt=media"
    foreign = Request("GET", "https://elsewhere.example/v?sig=abc", b"", {})
    assert scrubber.interaction(foreign, {"headers": {}})[0].uri.endswith(f"sig={MARKER}")
    response = scrubber.response(
        {
            "headers": {"Authorization": [f"Bearer {token}"], "x": [f"gs://acme-renders/{token}"]},
            "body": {"string": f'{{"name": "projects/acme-prod-42/locations/l"}} {token}'.encode()},
        }
    )
    assert response["headers"] == {"x": [f"gs://veo3-bucket/{MARKER}"]}
    assert response["body"]["string"] == (
        f'{{"name": "projects/veo3-project/locations/l"}} {MARKER}'.encode()
    )


# -- token refresh is never recorded ------------------------------------------------------


class _TokenEndpoint(BaseHTTPRequestHandler):
    """An OAuth token endpoint on loopback: every refresh gets a new access token."""

    exchanges: list[tuple[bytes, str]]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        token = make_token()
        self.exchanges.append((self.rfile.read(length), token))
        body = json.dumps({"access_token": token, "expires_in": 3600, "token_type": "Bearer"})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def token_endpoint() -> Iterator[tuple[str, list[tuple[bytes, str]]]]:
    exchanges: list[tuple[bytes, str]] = []
    handler = type("Handler", (_TokenEndpoint,), {"exchanges": exchanges})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/token", exchanges
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def expire(creds: google.oauth2.credentials.Credentials) -> None:
    creds.expiry = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def _record_with_refreshes(path: Path, token_uri: str, tmp_path: Path) -> list[str]:
    """Record a Vertex AI run whose credentials refresh on the first request and again after
    they expire mid-run; return the refresh token and client secret it used."""
    refresh_token, client_secret = "1//" + secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    creds = google.oauth2.credentials.Credentials(  # type: ignore[no-untyped-call]
        token=None,
        refresh_token=refresh_token,
        client_id="client-" + secrets.token_hex(4),
        client_secret=client_secret,
        token_uri=token_uri,
    )
    emulator = Emulator(
        make_api_key(), default=Scenario(running_polls=1), sleep=lambda _s: None, api_base=REGIONAL
    )
    inner = httpx.MockTransport(as_received(emulator.transport()))
    with (
        open_cassette(
            path,
            mode=RecordMode.ALL,
            base_url=REGIONAL,
            inner=inner,
            backend=CassetteBackend.vertex(prefix="r/", storage_base_url=REGIONAL),
            names=CloudNames(projects=("acme-prod-42",), buckets=("acme-renders",)),
        ) as cassette,
        httpx.Client(transport=cassette.transport, follow_redirects=False) as client,
    ):
        adapter = vertex_adapter(
            project="acme-prod-42",
            credentials=creds,
            output_gcs_uri="gs://acme-renders/r/",
            base_url=REGIONAL,
            storage_base_url=REGIONAL,  # the emulator serves Cloud Storage on its one origin
            http_client=client,
            profile=LOCAL_PROFILE,
            sleep=lambda _s: None,
        )
        job = adapter.submit_job("intro", "a paper boat")  # google-genai refreshes first
        expire(creds)
        for _ in range(3):
            job = adapter.poll_job(job)
        assert job.status is JobStatus.GENERATED
        expire(creds)
        adapter.download_clip(job, tmp_path / "intro.mp4")  # our own refresh, for the bucket
    return [refresh_token, client_secret]


def test_a_token_refresh_during_recording_leaves_nothing_in_the_cassette(
    token_endpoint: tuple[str, list[tuple[bytes, str]]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token_uri, exchanges = token_endpoint
    # The loopback endpoint stands for oauth2.googleapis.com: ignored the same way.
    monkeypatch.setattr("pytest_veo3.cassette.TOKEN_HOSTS", (*TOKEN_HOSTS, "127.0.0.1"))
    path = tmp_path / "refresh.yaml"
    sent = _record_with_refreshes(path, token_uri, tmp_path)

    assert len(exchanges) == 3  # the first request, then twice again once expired
    text = path.read_text()
    assert text.count("uri: ") >= 2 and "127.0.0.1" not in text and "/token" not in text
    for value in [*sent, *(token for _body, token in exchanges)]:
        assert value not in text
        assert base64.b64encode(value.encode()).decode()[:20] not in text


def test_without_ignoring_its_host_a_refresh_would_be_recorded(
    token_endpoint: tuple[str, list[tuple[bytes, str]]], tmp_path: Path
) -> None:
    # What the test above guards against: vcrpy sees the refresh that google-auth sends
    # through requests, and would store the refresh token and client secret.
    token_uri, exchanges = token_endpoint
    path = tmp_path / "refresh.yaml"
    sent = _record_with_refreshes(path, token_uri, tmp_path)
    assert exchanges
    text = path.read_text()
    assert f"uri: {token_uri}" in text
    assert any(value in text for value in sent)


def test_token_hosts_are_ignored_by_every_cassette(tmp_path: Path) -> None:
    import vcr

    seen: dict[str, Any] = {}
    real = vcr.VCR

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.update(kwargs)
        return real(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(vcr, "VCR", spy)
        with open_cassette(
            tmp_path / "c.yaml",
            mode=RecordMode.ALL,
            inner=httpx.MockTransport(lambda _r: httpx.Response(200)),
        ):
            pass
    assert set(seen["ignore_hosts"]) >= {
        "oauth2.googleapis.com",
        "sts.googleapis.com",
        "metadata.google.internal",
        "169.254.169.254",
    }


# -- replay ----------------------------------------------------------------------------------


def test_replay_credentials_make_their_tokens_at_run_time() -> None:
    first, second = replay_credentials(), replay_credentials()
    assert first.token is None and not first.valid
    first.refresh(None)
    second.refresh(None)
    assert first.valid and first.token.startswith("replay-")
    assert first.token != second.token


@pytest.mark.parametrize(
    ("backend", "described"),
    [
        (
            CassetteBackend.vertex(prefix="renders/"),
            {"mode": "project", "project": "veo3-project", "location": "us-central1"},
        ),
        (CassetteBackend.vertex(express=True), {"mode": "express", "project": None}),
    ],
    ids=["regional", "express"],
)
def test_the_replay_adapter_follows_the_backend(
    backend: CassetteBackend, described: dict[str, Any]
) -> None:
    with contextlib.closing(httpx.Client()) as client:
        adapter = replay_adapter(backend, REGIONAL, client)
        assert isinstance(adapter, VertexVeo3Adapter)
        assert {k: adapter.describe()[k] for k in described} == described
        assert adapter.output_gcs_uri == backend.output_gcs_uri
