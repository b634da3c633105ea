"""Story 18-2's eight acceptance criteria, on the real adapter, SDK and httpx (respx answers).

Each test fails if its criterion is broken: the wire is checked, not the adapter's own account.
On google-genai 3.x, which sends no Gemini API submit, a run starts from jobs submitted
through the wire (``_kit.sdk.run_gemini``) and the submit's own criterion is not tested.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import respx
from _kit.sdk import WireSubmit, needs_gemini_submit, run_gemini
from google.genai import operations as genai_operations
from google.genai import types

from veo3_adapter import (
    DownloadError,
    JobStatus,
    Veo3Job,
    Veo3Orchestrator,
    read_jobs_json,
    write_jobs_json,
)
from veo3_adapter.store import read_backend_info

if TYPE_CHECKING:
    from _kit.adapters import AdapterFactory
    from _kit.clock import FakeClock, SleepRecorder
    from _kit.wire import Wire


def new_id() -> str:
    """A fresh server-side id, so nothing can pass by being hard-coded."""
    return secrets.token_hex(6)


def serve_generation(
    router: respx.MockRouter, wire: Wire, clip: bytes, *, fail_download: Collection[str] = ()
) -> dict[str, dict[str, str]]:
    """Answer submit, poll and download for any prompt; a prompt in ``fail_download`` gets 403.

    Returns, per prompt, the operation name and the video URI the server handed out.
    """
    issued: dict[str, dict[str, str]] = {}
    by_op: dict[str, dict[str, str]] = {}

    def submit(request: httpx.Request) -> httpx.Response:
        prompt = json.loads(request.content)["instances"][0]["prompt"]
        entry = {"name": wire.op_name(new_id()), "file": new_id(), "prompt": prompt}
        entry["uri"] = wire.file_uri(entry["file"])
        issued[prompt] = by_op[entry["name"]] = entry
        return httpx.Response(200, json=wire.submitted(entry["name"]))

    def poll(request: httpx.Request) -> httpx.Response:
        name = request.url.path.removeprefix("/v1beta/")
        return httpx.Response(200, json=wire.done(name, by_op[name]["uri"]))

    def download(request: httpx.Request) -> httpx.Response:
        file_id = request.url.path.rsplit("/", 1)[-1].removesuffix(":download")
        entry = next(e for e in by_op.values() if e["file"] == file_id)
        if entry["prompt"] in fail_download:
            return httpx.Response(403, json=wire.api_error(403, "denied", "PERMISSION_DENIED"))
        return httpx.Response(200, content=clip, headers={"content-type": "video/mp4"})

    router.post(wire.submit_url()).mock(side_effect=submit)
    router.get(url__regex=rf"^{wire.base}/v1beta/models/[^/]+/operations/\w+$").mock(
        side_effect=poll
    )
    router.get(url__regex=rf"^{wire.base}/v1beta/files/\w+:download").mock(side_effect=download)
    return issued


@pytest.fixture
def orchestrate(
    make_adapter: AdapterFactory, tmp_path: Path, fake_clock: FakeClock
) -> Callable[[], Veo3Orchestrator]:
    def build() -> Veo3Orchestrator:
        return Veo3Orchestrator(
            make_adapter(), tmp_path, sleep=fake_clock.sleep, clock=fake_clock, poll_interval=5
        )

    return build


def test_ac1_clip_downloaded_to_output_dir_veo3_variant_mp4(
    router: respx.MockRouter,
    wire: Wire,
    clip: bytes,
    orchestrate: Callable[[], Veo3Orchestrator],
    tmp_path: Path,
    wire_submit: WireSubmit,
) -> None:
    serve_generation(router, wire, clip)
    (job,) = run_gemini(orchestrate(), {"hero": "a cat"}, wire_submit)
    dest = tmp_path / "veo3" / "hero.mp4"
    assert dest.read_bytes() == clip
    assert (job.status, job.clip_path, job.clip_bytes) == (
        JobStatus.DOWNLOADED,
        str(dest),
        len(clip),
    )


def test_ac2_key_goes_in_the_header_and_never_in_a_url(
    router: respx.MockRouter,
    wire: Wire,
    clip: bytes,
    api_key: str,
    orchestrate: Callable[[], Veo3Orchestrator],
    key_audit: Callable[[], list[httpx.Request]],
    wire_submit: WireSubmit,
) -> None:
    serve_generation(router, wire, clip)
    run_gemini(orchestrate(), {"a": "a cat", "b": "a dog"}, wire_submit)
    requests = key_audit()
    kinds = {r.url.path.rsplit("/", 1)[-1].split(":")[-1] for r in requests}
    assert {"predictLongRunning", "download"} <= kinds
    assert len(requests) >= 6  # two submits, polls, two downloads
    for request in requests:
        assert request.headers["x-goog-api-key"] == api_key, request.url


@needs_gemini_submit
def test_ac3_and_ac4_submit_returns_the_servers_operation_name(
    router: respx.MockRouter, wire: Wire, make_adapter: AdapterFactory
) -> None:
    name = wire.op_name(new_id())
    router.post(wire.submit_url()).respond(200, json=wire.submitted(name))
    job = make_adapter().submit_job("a", "a cat")
    assert isinstance(job, Veo3Job)
    assert job.operation_name == name
    assert job.status is JobStatus.SUBMITTED
    assert (job.variant, job.prompt) == ("a", "a cat")


def test_ac5_download_polls_with_generate_videos_operation(
    router: respx.MockRouter,
    wire: Wire,
    clip: bytes,
    make_adapter: AdapterFactory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    name = wire.op_name(new_id())
    poll = router.get(wire.op_url(name)).respond(200, json=wire.done(name, wire.file_uri()))
    router.get(wire.file_url()).respond(200, content=clip)
    seen: list[Any] = []
    original = genai_operations.Operations.get

    def spy(self: genai_operations.Operations, operation: Any, **kwargs: Any) -> Any:
        seen.append(operation)
        return original(self, operation, **kwargs)

    monkeypatch.setattr(genai_operations.Operations, "get", spy)
    job = Veo3Job(variant="a", prompt="p", status=JobStatus.GENERATED, operation_name=name)
    make_adapter().download_clip(job, tmp_path / "a.mp4")

    assert poll.call_count == 1
    assert poll.calls[0].request.method == "GET"
    assert poll.calls[0].request.url.path == f"/v1beta/{name}"
    assert len(seen) == 1
    assert type(seen[0]) is types.GenerateVideosOperation
    assert seen[0].name == name


def test_ac6_downloads_the_uri_of_the_first_generated_video(
    router: respx.MockRouter, wire: Wire, clip: bytes, make_adapter: AdapterFactory, tmp_path: Path
) -> None:
    name, first, second = wire.op_name(new_id()), new_id(), new_id()
    body = wire.done(name, wire.file_uri(first))
    samples = body["response"]["generateVideoResponse"]["generatedSamples"]
    samples.append({"video": {"uri": wire.file_uri(second)}})
    router.get(wire.op_url(name)).respond(200, json=body)
    first_route = router.get(wire.file_url(first)).respond(200, content=clip)
    second_route = router.get(wire.file_url(second)).respond(200, content=b"\0\0\0\x08ftypXXXX")
    job = Veo3Job(variant="a", prompt="p", status=JobStatus.GENERATED, operation_name=name)
    dest = make_adapter().download_clip(job, tmp_path / "a.mp4")
    assert first_route.call_count == 1 and second_route.call_count == 0
    assert str(first_route.calls[0].request.url) == wire.file_uri(first)
    assert dest.read_bytes() == clip


def test_ac7_failed_download_marks_the_job_and_the_other_variant_finishes(
    router: respx.MockRouter,
    wire: Wire,
    clip: bytes,
    orchestrate: Callable[[], Veo3Orchestrator],
    tmp_path: Path,
    wire_submit: WireSubmit,
) -> None:
    issued = serve_generation(router, wire, clip, fail_download={"a dog"})
    good, bad = run_gemini(orchestrate(), {"good": "a cat", "bad": "a dog"}, wire_submit)
    assert good.status is JobStatus.DOWNLOADED
    assert (tmp_path / "veo3" / "good.mp4").read_bytes() == clip
    assert (bad.status, bad.error_message) == (JobStatus.FAILED, "download_failed")
    assert "403" in bad.error_detail
    assert not (tmp_path / "veo3" / "bad.mp4").exists()
    assert bad.operation_name == issued["a dog"]["name"]


def test_ac7_adapter_raises_download_error_naming_the_operation(
    router: respx.MockRouter, wire: Wire, make_adapter: AdapterFactory, tmp_path: Path
) -> None:
    name = wire.op_name(new_id())
    router.get(wire.op_url(name)).respond(200, json=wire.done(name, wire.file_uri()))
    router.get(wire.file_url()).respond(404, json=wire.api_error(404, "gone", "NOT_FOUND"))
    job = Veo3Job(variant="a", prompt="p", status=JobStatus.GENERATED, operation_name=name)
    with pytest.raises(DownloadError) as info:
        make_adapter().download_clip(job, tmp_path / "a.mp4")
    assert (info.value.status_code, info.value.operation_name) == (404, name)


def test_ac8_jobs_json_has_every_operation_name_and_round_trips(
    router: respx.MockRouter,
    wire: Wire,
    clip: bytes,
    orchestrate: Callable[[], Veo3Orchestrator],
    tmp_path: Path,
    wire_submit: WireSubmit,
) -> None:
    issued = serve_generation(router, wire, clip, fail_download={"a dog"})
    jobs = run_gemini(orchestrate(), {"good": "a cat", "bad": "a dog"}, wire_submit)
    path = tmp_path / "veo3" / "jobs.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert {j["variant"]: j["operation_name"] for j in data["jobs"]} == {
        "good": issued["a cat"]["name"],
        "bad": issued["a dog"]["name"],
    }
    assert read_jobs_json(path) == jobs
    write_jobs_json(tmp_path / "copy.json", jobs, backend=read_backend_info(path))
    assert (tmp_path / "copy.json").read_bytes() == path.read_bytes()


def test_resume_with_real_adapter_refetches_a_deleted_clip(
    router: respx.MockRouter,
    wire: Wire,
    clip: bytes,
    orchestrate: Callable[[], Veo3Orchestrator],
    tmp_path: Path,
    noop_sleep: SleepRecorder,
    wire_submit: WireSubmit,
) -> None:
    issued = serve_generation(router, wire, clip)
    run_gemini(orchestrate(), {"a": "a cat"}, wire_submit)
    dest = tmp_path / "veo3" / "a.mp4"
    dest.unlink()
    submits = len([c for c in router.calls if c.request.method == "POST"])
    (job,) = orchestrate().resume()
    assert job.status is JobStatus.DOWNLOADED
    assert dest.read_bytes() == clip
    assert len([c for c in router.calls if c.request.method == "POST"]) == submits == 1
    downloads = [c.request for c in router.calls if c.request.url.path.endswith(":download")]
    assert str(downloads[-1].url) == issued["a cat"]["uri"]
    assert noop_sleep.delays == []
