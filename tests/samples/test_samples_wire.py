"""Several videos on the wire of each backend: the submit asks for them as google-genai does
(``parameters.sampleCount``), a finished operation's videos become the job's samples, and
each is downloaded from its own URI (Gemini API files, Cloud Storage objects, inline bytes).

The reference submit is made by the SDK itself on a client whose transport only records;
the adapter's goes through respx. Gemini API submits run on google-genai 2.x only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from _kit.adapters import AdapterFactory, VertexFactory
from _kit.sdk import needs_gemini_submit
from _kit.vertex import (
    BUCKET,
    LOCATION,
    PROJECT,
    STORAGE,
    FakeCredentials,
    bucket_video,
    goog_hash,
    inline_video,
    op_name,
    operation_done,
    poll_url,
    submit_url,
)
from _kit.wire import Wire
from google import genai
from google.genai import types

from veo3_adapter import DEFAULT_MODEL, GenerationOptions, JobStatus, Veo3Job
from veo3_adapter.mp4 import iter_mp4, sample_clip

REASON = "The video was removed by the safety filters."


def clip(seed: str) -> bytes:
    """A valid MP4 of its own: other seeds, other bytes."""
    return b"".join(iter_mp4(len(sample_clip()) + 64, seed=seed))


def sdk_submit(client: Callable[[httpx.Client], genai.Client], count: int) -> tuple[str, Any]:
    """The URL and body google-genai sends for ``number_of_videos=count``."""
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"name": "operations/x"})

    with httpx.Client(transport=httpx.MockTransport(record)) as http:
        client(http).models.generate_videos(
            model=DEFAULT_MODEL,
            source=types.GenerateVideosSource(prompt="a cat"),
            config=types.GenerateVideosConfig(number_of_videos=count),
        )
    (request,) = seen
    return str(request.url), json.loads(request.content)


@needs_gemini_submit
@pytest.mark.parametrize("count", [2, 4])
def test_gemini_asks_for_several_videos_as_the_sdk_does(
    count: int, make_adapter: AdapterFactory, router: respx.MockRouter, wire: Wire, api_key: str
) -> None:
    expected = sdk_submit(
        lambda http: genai.Client(
            api_key=api_key, http_options=types.HttpOptions(api_version="v1beta", httpx_client=http)
        ),
        count,
    )
    route = router.post(wire.submit_url()).respond(200, json=wire.submitted(wire.op_name()))

    job = make_adapter().submit_job("v", "a cat", GenerationOptions(number_of_videos=count))

    request = route.calls.last.request
    assert (str(request.url), json.loads(request.content)) == expected
    assert expected[1]["parameters"] == {"sampleCount": count}
    assert job.options.number_of_videos == count


@pytest.mark.parametrize("count", [2, 3])
def test_vertex_asks_for_several_videos_as_the_sdk_does(
    count: int, make_vertex: VertexFactory, router: respx.MockRouter
) -> None:
    expected = sdk_submit(
        lambda http: genai.Client(
            vertexai=True,
            project=PROJECT,
            location=LOCATION,
            credentials=FakeCredentials(),
            http_options=types.HttpOptions(httpx_client=http),
        ),
        count,
    )
    route = router.post(submit_url()).respond(200, json={"name": op_name()})

    adapter = make_vertex(options=GenerationOptions(number_of_videos=count))
    job = adapter.submit_job("v", "a cat")

    request = route.calls.last.request
    assert (str(request.url), json.loads(request.content)) == expected
    assert expected[1]["parameters"] == {"sampleCount": count}
    assert job.options.number_of_videos == count


def submitted(name: str, count: int) -> Veo3Job:
    return Veo3Job(
        "v",
        "a cat",
        status=JobStatus.SUBMITTED,
        operation_name=name,
        options=GenerationOptions(model=DEFAULT_MODEL, number_of_videos=count),
    )


def gemini_done(name: str, uris: list[str], filtered: int = 0) -> dict[str, Any]:
    body = Wire().done(name, uris[0])
    answer = body["response"]["generateVideoResponse"]
    answer["generatedSamples"] = [{"video": {"uri": uri}} for uri in uris]
    if filtered:
        answer["raiMediaFilteredCount"] = filtered
        answer["raiMediaFilteredReasons"] = [REASON]
    return body


def test_gemini_downloads_each_video_from_its_own_file(
    make_adapter: AdapterFactory, router: respx.MockRouter, wire: Wire, tmp_path: Path
) -> None:
    name = wire.op_name()
    ids = ["aaaa1111", "bbbb2222"]
    router.get(wire.op_url(name)).respond(
        200, json=gemini_done(name, [wire.file_uri(i) for i in ids])
    )
    files = {i: router.get(wire.file_url(i)).respond(200, content=clip(i)) for i in ids}
    adapter = make_adapter()

    job = adapter.poll_job(submitted(name, 2))

    assert job.status is JobStatus.GENERATED and job.note == ""
    assert job.video_uris == tuple(wire.file_uri(i) for i in ids)
    assert job.video_uri == wire.file_uri(ids[0])
    adapter.download_sample(job, 1, tmp_path / "v~2.mp4")
    adapter.download_clip(job, tmp_path / "v.mp4")
    assert (tmp_path / "v~2.mp4").read_bytes() == clip(ids[1])
    assert (tmp_path / "v.mp4").read_bytes() == clip(ids[0])
    assert [files[i].call_count for i in ids] == [1, 1]


def test_a_video_the_operation_does_not_have_is_a_download_error(
    make_adapter: AdapterFactory, router: respx.MockRouter, wire: Wire, tmp_path: Path
) -> None:
    name = wire.op_name()
    router.get(wire.op_url(name)).respond(200, json=gemini_done(name, [wire.file_uri()]))
    with pytest.raises(Exception, match=r"has no video 3 to download \(it has 1\)"):
        make_adapter().download_sample(submitted(name, 3), 2, tmp_path / "v~3.mp4")
    assert not (tmp_path / "v~3.mp4").exists()


def test_fewer_videos_than_asked_for_is_generated_with_a_note(
    make_adapter: AdapterFactory,
    router: respx.MockRouter,
    wire: Wire,
    caplog: pytest.LogCaptureFixture,
) -> None:
    name = wire.op_name()
    router.get(wire.op_url(name)).respond(
        200, json=gemini_done(name, [wire.file_uri()], filtered=1)
    )

    job = make_adapter().poll_job(submitted(name, 2))

    assert job.status is JobStatus.GENERATED and job.samples == ()
    assert job.video_uris == (wire.file_uri(),)
    assert (
        job.note == f"1 of the 2 videos asked for arrived; the safety filters removed 1: {REASON}"
    )
    assert job.note in caplog.text


def test_vertex_writes_each_inline_video(
    make_vertex: VertexFactory, router: respx.MockRouter, tmp_path: Path
) -> None:
    name = op_name()
    body = operation_done(name, inline_video(clip("first")), inline_video(clip("second")))
    router.post(poll_url()).respond(200, json=body)
    adapter = make_vertex()

    job = adapter.poll_job(submitted(name, 2))

    assert job.status is JobStatus.GENERATED and job.video_uris == ("", "")
    adapter.download_sample(job, 1, tmp_path / "v~2.mp4")
    assert (tmp_path / "v~2.mp4").read_bytes() == clip("second")


def test_vertex_streams_each_bucket_object(
    make_vertex: VertexFactory, router: respx.MockRouter, tmp_path: Path
) -> None:
    name = op_name()
    objects = [f"out/123/sample_{i}.mp4" for i in range(2)]
    videos = [bucket_video(f"gs://{BUCKET}/{o}") for o in objects]
    router.post(poll_url()).respond(200, json=operation_done(name, *videos))
    routes = [
        router.get(f"{STORAGE}/storage/v1/b/{BUCKET}/o/{o.replace('/', '%2F')}").respond(
            200, content=clip(o), headers=goog_hash(clip(o))
        )
        for o in objects
    ]
    adapter = make_vertex(output_gcs_uri=f"gs://{BUCKET}/out/")

    job = adapter.poll_job(submitted(name, 2))
    adapter.download_sample(job, 1, tmp_path / "v~2.mp4")

    assert job.video_uris == tuple(f"gs://{BUCKET}/{o}" for o in objects)
    assert (tmp_path / "v~2.mp4").read_bytes() == clip(objects[1])
    assert [route.call_count for route in routes] == [0, 1]
