"""The Vertex AI backend on the real wire (respx): submit, poll, every outcome, downloads.

URLs, bodies and answers are written out here as DESIGN.md ("Vertex AI") records them, not
derived from the adapter, so a drift on either side fails a test.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import respx
from _kit.adapters import VertexFactory
from _kit.keys import make_api_key
from _kit.vertex import (
    BUCKET,
    EXPRESS,
    GCS_URI,
    OBJECT_URL,
    STORAGE,
    FakeCredentials,
    done_bucket,
    done_filtered,
    done_inline,
    goog_hash,
    model_path,
    op_name,
    poll_url,
    submit_url,
)

from veo3_adapter import (
    DEFAULT_MODEL,
    DownloadError,
    ErrorCode,
    IntegrityError,
    InvalidClipError,
    InvalidOperationNameError,
    JobStatus,
    UnsafeURLError,
    Veo3Job,
)

NAME = op_name()


def submitted_job(name: str = NAME) -> Veo3Job:
    return Veo3Job(variant="clip", prompt="a cat", status=JobStatus.SUBMITTED, operation_name=name)


def bearer(request: httpx.Request) -> str:
    return request.headers.get("authorization", "")


def test_submit_with_a_bucket_sends_the_documented_request(
    make_vertex: VertexFactory, router: respx.MockRouter, token: str
) -> None:
    route = router.post(submit_url()).respond(200, json={"name": NAME})
    adapter = make_vertex(output_gcs_uri=f"gs://{BUCKET}/out/")

    job = adapter.submit_job("clip", "a cat")

    assert (job.status, job.operation_name) == (JobStatus.SUBMITTED, NAME)
    request = route.calls.last.request
    assert json.loads(request.content) == {
        "instances": [{"prompt": "a cat"}],
        "parameters": {"sampleCount": 1, "storageUri": f"gs://{BUCKET}/out/"},
    }
    assert bearer(request) == f"Bearer {token}"
    assert "x-goog-api-key" not in request.headers


def test_bucket_output_is_streamed_from_cloud_storage_with_the_token(
    make_vertex: VertexFactory, router: respx.MockRouter, token: str, clip: bytes, tmp_path: Path
) -> None:
    polls = router.post(poll_url()).respond(200, json=done_bucket(NAME))
    media = router.get(OBJECT_URL).respond(200, content=clip, headers=goog_hash(clip))
    adapter = make_vertex(output_gcs_uri=f"gs://{BUCKET}/out/")

    job = adapter.poll_job(submitted_job())
    assert (job.status, job.video_uri) == (JobStatus.GENERATED, GCS_URI)
    assert json.loads(polls.calls.last.request.content) == {"operationName": NAME}

    dest = tmp_path / "clip.mp4"
    assert adapter.download_clip(job, dest) == dest
    assert dest.read_bytes() == clip
    request = media.calls.last.request
    # The object name is one path segment: its slashes are percent-encoded.
    assert request.url.raw_path == b"/storage/v1/b/my-bucket/o/out%2F123%2Fsample_0.mp4?alt=media"
    assert bearer(request) == f"Bearer {token}"
    assert "x-goog-api-key" not in request.headers


def test_inline_output_is_decoded_and_written_atomically(
    make_vertex: VertexFactory, router: respx.MockRouter, clip: bytes, tmp_path: Path
) -> None:
    router.post(poll_url()).respond(200, json=done_inline(NAME, clip))
    progress: list[tuple[str, int, int | None]] = []
    adapter = make_vertex(on_download_progress=lambda *seen: progress.append(seen))

    job = adapter.poll_job(submitted_job())
    assert (job.status, job.video_uri) == (JobStatus.GENERATED, "")
    dest = tmp_path / "clip.mp4"
    adapter.download_clip(job, dest)

    assert dest.read_bytes() == clip
    assert progress == [("clip", len(clip), len(clip))]
    assert [c.request.url.host for c in router.calls] == [
        "us-central1-aiplatform.googleapis.com"
    ] * 2
    assert list(tmp_path.iterdir()) == [dest]


def test_inline_bytes_that_are_not_an_mp4_are_refused(
    make_vertex: VertexFactory, router: respx.MockRouter, tmp_path: Path
) -> None:
    router.post(poll_url()).respond(200, json=done_inline(NAME, b"<html>not a video</html>"))
    dest = tmp_path / "clip.mp4"
    with pytest.raises(InvalidClipError, match="not an MP4"):
        make_vertex().download_clip(submitted_job(), dest)
    assert list(tmp_path.iterdir()) == []


def test_express_mode_sends_the_key_in_its_header_only(
    make_vertex: VertexFactory, router: respx.MockRouter, clip: bytes, tmp_path: Path
) -> None:
    key = make_api_key()
    name = op_name(project="100000000001")
    submit = router.post(
        f"{EXPRESS}/v1beta1/publishers/google/models/{DEFAULT_MODEL}:predictLongRunning"
    ).respond(200, json={"name": name})
    router.post(poll_url(EXPRESS, project="100000000001")).respond(
        200, json=done_inline(name, clip)
    )
    adapter = make_vertex(api_key=key)
    assert adapter.describe()["location"] is None and adapter.describe()["project"] is None

    job = adapter.poll_job(adapter.submit_job("clip", "a cat"))
    adapter.download_clip(job, tmp_path / "clip.mp4")

    assert json.loads(submit.calls.last.request.content) == {
        "instances": [{"prompt": "a cat"}],
        "parameters": {"sampleCount": 1},
    }
    for call in router.calls:
        request = call.request
        assert request.headers["x-goog-api-key"] == key
        assert "authorization" not in request.headers
        assert key not in str(request.url) and "key=" not in str(request.url)
        assert key.encode() not in request.content
    assert (tmp_path / "clip.mp4").read_bytes() == clip


def test_express_mode_accepts_a_publisher_scoped_operation_name(
    make_vertex: VertexFactory, router: respx.MockRouter
) -> None:
    name = f"publishers/google/models/{DEFAULT_MODEL}/operations/1234567890"
    route = router.post(
        f"{EXPRESS}/v1beta1/publishers/google/models/{DEFAULT_MODEL}:fetchPredictOperation"
    ).respond(200, json={"name": name})
    job = make_vertex(api_key=make_api_key()).poll_job(submitted_job(name))
    assert job.status is JobStatus.SUBMITTED and route.called


@pytest.mark.parametrize(
    ("answer", "code", "detail"),
    [
        (done_filtered(NAME, ["Support codes: 58061214"]), ErrorCode.RAI_FILTERED, "58061214"),
        (
            {"name": NAME, "done": True, "error": {"code": 3, "message": "bad prompt"}},
            ErrorCode.GENERATION_FAILED,
            "bad prompt",
        ),
        ({"name": NAME, "done": True, "response": {}}, ErrorCode.GENERATION_FAILED, "without"),
    ],
    ids=["safety-filter", "operation-error", "nothing"],
)
def test_finished_operations_without_a_video_fail_the_job(
    make_vertex: VertexFactory,
    router: respx.MockRouter,
    answer: dict[str, object],
    code: ErrorCode,
    detail: str,
) -> None:
    router.post(poll_url()).respond(200, json=answer)
    job = make_vertex().poll_job(submitted_job())
    assert (job.status, job.error_message) == (JobStatus.FAILED, code.value)
    assert detail in job.error_detail


def test_running_operation_stays_submitted_and_404_is_operation_not_found(
    make_vertex: VertexFactory, router: respx.MockRouter
) -> None:
    router.post(poll_url()).mock(
        side_effect=[
            httpx.Response(200, json={"name": NAME}),
            httpx.Response(404, json={"error": {"code": 404, "status": "NOT_FOUND"}}),
        ]
    )
    adapter = make_vertex()
    job = submitted_job()
    assert adapter.poll_job(job) == job
    failed = adapter.poll_job(job)
    assert (failed.status, failed.error_message) == (
        JobStatus.FAILED,
        ErrorCode.OPERATION_NOT_FOUND.value,
    )


def test_an_expired_token_is_refreshed_before_each_use(
    make_vertex: VertexFactory, router: respx.MockRouter, clip: bytes, tmp_path: Path
) -> None:
    tokens = ["ya29." + "a" * 30, "ya29." + "b" * 30, "ya29." + "c" * 30]
    creds = FakeCredentials(list(tokens))
    router.post(submit_url()).respond(200, json={"name": NAME})
    router.post(poll_url()).respond(200, json=done_bucket(NAME))
    router.get(OBJECT_URL).respond(200, content=clip, headers=goog_hash(clip))
    adapter = make_vertex(credentials=creds, output_gcs_uri=f"gs://{BUCKET}/out/")
    assert creds.refreshes == 0  # nothing is fetched at construction

    job = adapter.submit_job("clip", "a cat")
    job = adapter.poll_job(job)  # still valid: no refresh
    creds.expire()
    job = adapter.poll_job(job)
    creds.expire()
    adapter.download_clip(job, tmp_path / "clip.mp4")

    assert creds.refreshes == 3
    seen = [bearer(call.request) for call in router.calls]
    # submit, poll, poll after expiry, the download's poll and its Cloud Storage request
    expected = [tokens[0], tokens[0], tokens[1], tokens[2], tokens[2]]
    assert seen == [f"Bearer {t}" for t in expected]


def test_a_gs_uri_is_fetched_from_the_storage_origin_only(
    make_vertex: VertexFactory, router: respx.MockRouter, token: str, clip: bytes, tmp_path: Path
) -> None:
    private = "https://storage.internal.example"
    router.post(poll_url()).respond(200, json=done_bucket(NAME))
    media = router.get(OBJECT_URL.replace(STORAGE, private)).respond(
        302, headers={"location": "https://cdn.example.test/object.mp4"}
    )
    cdn = router.get("https://cdn.example.test/object.mp4").respond(
        200, content=clip, headers=goog_hash(clip)
    )
    adapter = make_vertex(storage_base_url=private)

    adapter.download_clip(submitted_job(), tmp_path / "clip.mp4")

    assert bearer(media.calls.last.request) == f"Bearer {token}"
    # The redirect left the storage origin: the token stayed behind.
    assert "authorization" not in cdn.calls.last.request.headers
    assert token not in str(cdn.calls.last.request.url)
    hosts = {call.request.url.host for call in router.calls}
    assert hosts == {
        "us-central1-aiplatform.googleapis.com",
        "storage.internal.example",
        "cdn.example.test",
    }


@pytest.mark.parametrize(
    "uri",
    [
        "https://evil.example/video.mp4",
        f"{STORAGE}/storage/v1/b/{BUCKET}/o/x.mp4",
        "gs://Not_A_Bucket/x.mp4",
        f"gs://{BUCKET}/",
        f"gs://{BUCKET}/a\nb.mp4",
    ],
)
def test_a_video_uri_that_is_no_gs_object_is_refused_before_sending(
    make_vertex: VertexFactory, router: respx.MockRouter, uri: str, tmp_path: Path
) -> None:
    router.post(poll_url()).respond(200, json=done_bucket(NAME, uri))
    with pytest.raises(UnsafeURLError, match="nothing was sent"):
        make_vertex().download_clip(submitted_job(), tmp_path / "clip.mp4")
    assert [call.request.method for call in router.calls] == ["POST"]


@pytest.mark.parametrize("algorithm", ["crc32c", "md5"])
def test_a_checksum_mismatch_fails_and_keeps_nothing(
    make_vertex: VertexFactory,
    router: respx.MockRouter,
    clip: bytes,
    tmp_path: Path,
    algorithm: str,
) -> None:
    corrupted = clip[:-1] + bytes([clip[-1] ^ 1])
    headers = [(n, v) for n, v in goog_hash(clip) if v.startswith(algorithm)]
    router.post(poll_url()).respond(200, json=done_bucket(NAME))
    router.get(OBJECT_URL).respond(200, content=corrupted, headers=headers)
    dest = tmp_path / "clip.mp4"
    with pytest.raises(IntegrityError) as caught:
        make_vertex().download_clip(submitted_job(), dest)
    assert [m[0] for m in caught.value.mismatches] == [algorithm]
    assert list(tmp_path.iterdir()) == []


def test_storage_refusing_the_token_fails_the_download_once(
    make_vertex: VertexFactory, router: respx.MockRouter, token: str, tmp_path: Path
) -> None:
    router.post(poll_url()).respond(200, json=done_bucket(NAME))
    media = router.get(OBJECT_URL).respond(
        401, json={"error": {"code": 401, "message": "Invalid Credentials"}}
    )
    with pytest.raises(DownloadError) as caught:
        make_vertex().download_clip(submitted_job(), tmp_path / "clip.mp4")
    assert caught.value.status_code == 401 and media.call_count == 1
    assert token not in str(caught.value)


@pytest.mark.parametrize(
    "name",
    [
        f"{model_path()}/operations/../../../v1/x",
        f"{model_path()}/operations/abc%2F..",
        f"models/{DEFAULT_MODEL}/operations/2ndklfg582ib",
        # the express form, on an adapter with a project and location
        f"publishers/google/models/{DEFAULT_MODEL}/operations/123",
        op_name().replace("us-central1", "europe-west4"),
        "https://evil.example/" + op_name(),
    ],
)
def test_operation_names_are_checked_before_anything_is_sent(
    make_vertex: VertexFactory, router: respx.MockRouter, name: str
) -> None:
    with pytest.raises(InvalidOperationNameError):
        make_vertex().poll_job(submitted_job(name))
    assert router.calls.call_count == 0
