"""End to end on the emulator's Vertex routes: orchestrator, real adapter and SDK, every scenario.

In-process (``EmulatorTransport``) and over loopback sockets (``Emulator.serve()``); the
video comes through the emulator's Cloud Storage route (``output_gcs_uri`` set) or inline.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _kit.adapters import retries
from _kit.clock import FakeClock
from _kit.emulator import EXPECTED, MODEL, variant_of
from _kit.keys import make_api_key
from _kit.pipeline import open_client
from _kit.runs import orchestrator_on
from _kit.vertex import PROJECT, FakeCredentials

from veo3_adapter import (
    ErrorCode,
    JobStatus,
    Veo3Orchestrator,
    VertexVeo3Adapter,
    read_jobs_json,
)
from veo3_adapter.emulator import SCENARIO_NAMES, Emulator, Scenario
from veo3_adapter.emulator._vertex import EXPRESS_PROJECT
from veo3_adapter.mp4 import is_mp4_file, sample_clip

BUCKET_URI = "gs://veo3-emulator/renders/"


class Pipeline:
    """An emulator, and adapters and orchestrators on it, in-process or on sockets."""

    def __init__(self, emulator: Emulator, base: str, http: httpx.Client, clock: FakeClock):
        self.emulator = emulator
        self.base = base
        self.http = http
        self.clock = clock

    def adapter(self, creds: Any = None, **settings: Any) -> VertexVeo3Adapter:
        if "api_key" not in settings:
            settings.setdefault("project", PROJECT)
            settings["credentials"] = creds
        return VertexVeo3Adapter(
            base_url=self.base,
            storage_base_url=self.base,
            http_client=self.http,
            **retries(4, self.clock.sleep),
            **settings,
        )

    def orchestrator(self, adapter: VertexVeo3Adapter, out: Path) -> Veo3Orchestrator:
        return orchestrator_on(adapter, out, self.clock)


@pytest.fixture(params=["in-process", "sockets"])
def pipeline(request: pytest.FixtureRequest, token: str) -> Iterator[Pipeline]:
    clock = FakeClock(start=1000.0)
    emulator = Emulator(make_api_key(), token=token, clock=clock, sleep=clock.sleep, seed=11)
    for name in SCENARIO_NAMES:
        emulator.rule(f"[{name}]", Scenario.named(name, running_polls=1))
    emulator.rule("[permission_denied]", Scenario(submit_status=403))
    with contextlib.ExitStack() as stack:
        base, http = open_client(emulator, stack, sockets=request.param == "sockets")
        yield Pipeline(emulator, base, http, clock)


def test_every_scenario_through_the_orchestrator_via_a_bucket(
    pipeline: Pipeline, creds: FakeCredentials, token: str, tmp_path: Path
) -> None:
    adapter = pipeline.adapter(creds, output_gcs_uri=BUCKET_URI)
    orchestrator = pipeline.orchestrator(adapter, tmp_path)
    prompts = {variant_of(name): f"a test clip [{name}]" for name in EXPECTED}

    jobs = {job.variant: job for job in orchestrator.run(prompts)}

    for name, (status, code) in EXPECTED.items():
        job = jobs[variant_of(name)]
        assert (job.status, job.error_message) == (status, code), (name, job.error_detail)
        clip = orchestrator.clip_path(job.variant)
        if status is JobStatus.DOWNLOADED:
            assert is_mp4_file(clip) and job.clip_bytes == Scenario.named(name).size
            assert job.video_uri.startswith(BUCKET_URI) and job.video_uri.endswith("/sample_0.mp4")
        else:
            assert not clip.exists()
    assert orchestrator.clip_path("success").read_bytes() == sample_clip()
    assert "404" in jobs["download-not-found"].error_detail
    assert "403" in jobs["download-forbidden"].error_detail
    assert pipeline.emulator.key_leaks == []
    assert creds.refreshes == 1

    stored = {j.variant: j for j in read_jobs_json(orchestrator.jobs_path)}
    assert {v: (j.status, j.error_message) for v, j in stored.items()} == {
        variant_of(n): expected for n, expected in EXPECTED.items()
    }
    prefix = f"projects/{PROJECT}/locations/us-central1/publishers/google/models/{MODEL}/"
    assert all(j.operation_name.startswith(prefix + "operations/") for j in stored.values())
    assert token not in orchestrator.jobs_path.read_text()
    ops = pipeline.emulator.operations
    assert ops[jobs["rate-limited"].operation_name].poll_failures_served == 1
    assert ops[jobs["download-server-error"].operation_name].media_failures_served == 2
    assert ops[jobs["truncated-download"].operation_name].bodies_served == 2
    storage = [r for r in pipeline.emulator.requests if r.path.startswith("/storage/")]
    assert storage and {r.origin for r in storage} == {"download"}


def test_inline_videos_through_the_orchestrator(
    pipeline: Pipeline, creds: FakeCredentials, tmp_path: Path
) -> None:
    orchestrator = pipeline.orchestrator(pipeline.adapter(creds), tmp_path)
    names = ("success", "rai_filtered", "operation_error", "rate_limited")
    jobs = {j.variant: j for j in orchestrator.run({variant_of(n): f"[{n}]" for n in names})}
    for name in names:
        job = jobs[variant_of(name)]
        assert (job.status, job.error_message) == EXPECTED[name], job.error_detail
    assert orchestrator.clip_path("success").read_bytes() == sample_clip()
    assert jobs["success"].video_uri == ""
    assert not any(r.path.startswith("/storage/") for r in pipeline.emulator.requests)
    assert pipeline.emulator.key_leaks == []


def test_express_mode_through_the_orchestrator(tmp_path: Path) -> None:
    key = make_api_key()
    emulator = Emulator(key, seed=5)
    with httpx.Client(transport=emulator.transport(), follow_redirects=False) as http:
        express = Pipeline(emulator, emulator.api_base, http, FakeClock(start=1000.0))
        orchestrator = express.orchestrator(express.adapter(api_key=key), tmp_path)
        (job,) = orchestrator.run({"clip": "a cat"})
    assert job.status is JobStatus.DOWNLOADED, job.error_detail
    assert job.operation_name.startswith(f"projects/{EXPRESS_PROJECT}/locations/us-central1/")
    paths = [r.path for r in emulator.requests]
    assert paths[0] == f"/v1beta1/publishers/google/models/{MODEL}:predictLongRunning"
    assert all(key not in p for p in paths) and emulator.key_leaks == []
    assert key not in orchestrator.jobs_path.read_text()


def test_permission_denied_and_daily_quota_stop_the_batch(
    pipeline: Pipeline, creds: FakeCredentials, tmp_path: Path
) -> None:
    for marker, code in (("permission_denied", "submit_failed"), ("quota_exhausted_daily", "")):
        orchestrator = pipeline.orchestrator(pipeline.adapter(creds), tmp_path / marker)
        jobs = orchestrator.run({"first": f"[{marker}]", "second": "a cat"})
        assert [(j.status, j.batch_stopped_by) for j in jobs] == [(JobStatus.FAILED, "first")] * 2
        assert jobs[0].error_message == (code or ErrorCode.QUOTA_EXHAUSTED.value)
    assert pipeline.emulator.operations == {}
    assert {r.status for r in pipeline.emulator.requests} == {403, 429}


def test_a_run_that_timed_out_resumes_from_jobs_json(
    pipeline: Pipeline, creds: FakeCredentials, tmp_path: Path
) -> None:
    pipeline.emulator.rule("[long]", Scenario(running_polls=4))
    first = pipeline.orchestrator(pipeline.adapter(creds, output_gcs_uri=BUCKET_URI), tmp_path)
    first.timeout = 15.0
    (timed_out,) = first.run({"clip": "a long take [long]"})
    assert timed_out.error_message == ErrorCode.TIMEOUT.value

    # A new process: a new adapter (its own credentials) and orchestrator, jobs.json only.
    again = pipeline.orchestrator(
        pipeline.adapter(FakeCredentials([creds.token]), output_gcs_uri=BUCKET_URI), tmp_path
    )
    (job,) = again.resume()
    assert job.status is JobStatus.DOWNLOADED and job.operation_name == timed_out.operation_name
    assert again.clip_path("clip").read_bytes() == sample_clip()


def test_no_token_in_logs_or_errors(
    pipeline: Pipeline,
    creds: FakeCredentials,
    token: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    adapter = pipeline.adapter(creds, output_gcs_uri=BUCKET_URI)
    orchestrator = pipeline.orchestrator(adapter, tmp_path)
    jobs = orchestrator.run(
        {"ok": "[success]", "gone": "[download_not_found]", "leaky": "[cross_origin_redirect]"}
    )
    assert [j.status for j in jobs].count(JobStatus.DOWNLOADED) == 2
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert token not in text and "Bearer" not in text
    assert all(token not in j.error_detail for j in jobs)
    assert token not in repr(adapter) and token not in str(adapter.describe())
    assert pipeline.emulator.key_leaks == []


def test_the_downloads_go_to_the_storage_route_only(
    pipeline: Pipeline, creds: FakeCredentials, tmp_path: Path
) -> None:
    adapter = pipeline.adapter(creds, output_gcs_uri=BUCKET_URI)
    job = adapter.submit_job("clip", "a cat")
    for _ in range(3):
        job = adapter.poll_job(job)
    assert job.status is JobStatus.GENERATED
    before = len(pipeline.emulator.requests)
    adapter.download_clip(job, tmp_path / "clip.mp4")
    hops = [
        (r.origin, r.method, r.path.split("/o/")[0]) for r in pipeline.emulator.requests[before:]
    ]
    assert hops == [
        (
            "api",
            "POST",
            f"/v1beta1/projects/{PROJECT}/locations/us-central1/publishers/google/"
            f"models/{MODEL}:fetchPredictOperation",
        ),
        ("download", "GET", "/storage/v1/b/veo3-emulator"),
    ]
