"""Polling: how each operation state on the wire maps onto the job, and what is retried."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import respx

from veo3_adapter import (
    GeminiVeo3Adapter,
    InvalidOperationNameError,
    JobStatus,
    PollError,
    Veo3Job,
)

if TYPE_CHECKING:
    from _kit.adapters import AdapterFactory
    from _kit.clock import SleepRecorder
    from _kit.wire import Wire

RAI_REASON = (
    "We encountered an issue with the audio for your prompt, which means we could not create "
    "your video. This can sometimes happen due to our safety filters or other processing "
    "issues. Please modify your request and try again. You have not been charged for this "
    "attempt."
)


@pytest.fixture
def adapter(make_adapter: AdapterFactory) -> GeminiVeo3Adapter:
    return make_adapter()


def submitted_job(name: str) -> Veo3Job:
    return Veo3Job(variant="a", prompt="p", status=JobStatus.SUBMITTED, operation_name=name)


@pytest.mark.parametrize(
    "body",
    [
        lambda w, n: w.submitted(n),
        lambda w, n: w.running(n),
        lambda w, n: {"name": n, "done": False, "metadata": {"progress": 40}},
    ],
    ids=["name only", "done false", "with metadata"],
)
def test_running_stays_submitted(
    router: respx.MockRouter, wire: Wire, adapter: GeminiVeo3Adapter, body: Any
) -> None:
    name = wire.op_name()
    route = router.get(wire.op_url(name)).respond(200, json=body(wire, name))
    job = adapter.poll_job(submitted_job(name))
    assert job.status is JobStatus.SUBMITTED
    assert (job.error_message, job.video_uri) == ("", "")
    assert job == submitted_job(name)  # nothing changed, so nothing for jobs.json to record
    assert route.call_count == 1


def test_done_with_video_is_generated_with_its_uri(
    router: respx.MockRouter, wire: Wire, adapter: GeminiVeo3Adapter
) -> None:
    name, uri = wire.op_name(), wire.file_uri("zz9zz9zz9zz9")
    router.get(wire.op_url(name)).respond(200, json=wire.done(name, uri))
    stale = dataclasses.replace(submitted_job(name), error_message="timeout", error_detail="x")
    job = adapter.poll_job(stale)  # a job that timed out before comes back clean
    assert (job.status, job.video_uri) == (JobStatus.GENERATED, uri)
    assert (job.error_message, job.error_detail) == ("", "")
    assert job.operation_name == name


def test_done_with_error_is_generation_failed_with_the_api_message(
    router: respx.MockRouter, wire: Wire, adapter: GeminiVeo3Adapter
) -> None:
    name = wire.op_name()
    message = "Veo could not generate a video for this prompt."
    router.get(wire.op_url(name)).respond(200, json=wire.failed(name, message))
    job = adapter.poll_job(submitted_job(name))
    assert (job.status, job.error_message) == (JobStatus.FAILED, "generation_failed")
    assert job.error_detail == message


@pytest.mark.parametrize("reasons", [[RAI_REASON], ["first", "second"], []])
def test_safety_filtered_is_rai_filtered_with_the_reason(
    router: respx.MockRouter, wire: Wire, adapter: GeminiVeo3Adapter, reasons: list[str]
) -> None:
    name = wire.op_name()
    body = wire.rai_filtered(name, reasons)
    body["response"]["generateVideoResponse"]["raiMediaFilteredCount"] = max(1, len(reasons))
    router.get(wire.op_url(name)).respond(200, json=body)
    job = adapter.poll_job(submitted_job(name))
    assert (job.status, job.error_message) == (JobStatus.FAILED, "rai_filtered")
    for reason in reasons:
        assert reason in job.error_detail
    if not reasons:
        assert job.error_detail == "no reason given"


@pytest.mark.parametrize(
    "body",
    [
        lambda w, n: w.done_empty(n),
        lambda w, n: {"name": n, "done": True},
        lambda w, n: {
            "name": n,
            "done": True,
            "response": {"generateVideoResponse": {"generatedSamples": [{"video": {}}]}},
        },
    ],
    ids=["empty response", "no response", "video without uri"],
)
def test_done_with_nothing_is_generation_failed(
    router: respx.MockRouter, wire: Wire, adapter: GeminiVeo3Adapter, body: Any
) -> None:
    name = wire.op_name()
    router.get(wire.op_url(name)).respond(200, json=body(wire, name))
    job = adapter.poll_job(submitted_job(name))
    assert (job.status, job.error_message) == (JobStatus.FAILED, "generation_failed")
    assert job.error_detail


def test_404_is_operation_not_found(
    router: respx.MockRouter, wire: Wire, adapter: GeminiVeo3Adapter, noop_sleep: SleepRecorder
) -> None:
    name = wire.op_name()
    route = router.get(wire.op_url(name)).respond(
        404, json=wire.api_error(404, "Operation not found.", "NOT_FOUND")
    )
    job = adapter.poll_job(submitted_job(name))
    assert (job.status, job.error_message) == (JobStatus.FAILED, "operation_not_found")
    assert "404" in job.error_detail and "Operation not found." in job.error_detail
    assert route.call_count == 1
    assert noop_sleep.delays == []


def test_job_without_operation_name_fails_without_a_request(
    router: respx.MockRouter, adapter: GeminiVeo3Adapter
) -> None:
    job = adapter.poll_job(Veo3Job(variant="a", prompt="p", status=JobStatus.SUBMITTED))
    assert (job.status, job.error_message) == (JobStatus.FAILED, "missing_operation_name")
    assert len(router.calls) == 0


@pytest.mark.parametrize(
    ("first", "expected_delay"),
    [
        (httpx.Response(429, headers={"retry-after": "7"}, json={"error": {"code": 429}}), 7.0),
        (httpx.Response(503, json={"error": {"code": 503, "status": "UNAVAILABLE"}}), 1.0),
        (httpx.Response(500, json={"error": {"code": 500}}), 1.0),
        (
            httpx.Response(
                429,
                json={
                    "error": {
                        "code": 429,
                        "status": "RESOURCE_EXHAUSTED",
                        "details": [
                            {
                                "@type": "type.googleapis.com/google.rpc.RetryInfo",
                                "retryDelay": "30s",
                            }
                        ],
                    }
                },
            ),
            30.0,
        ),
    ],
    ids=["429 retry-after", "503", "500", "429 RetryInfo"],
)
def test_transient_poll_failures_are_retried(
    router: respx.MockRouter,
    wire: Wire,
    adapter: GeminiVeo3Adapter,
    noop_sleep: SleepRecorder,
    first: httpx.Response,
    expected_delay: float,
) -> None:
    name = wire.op_name()
    route = router.get(wire.op_url(name)).mock(
        side_effect=[first, httpx.Response(200, json=wire.done(name, wire.file_uri()))]
    )
    job = adapter.poll_job(submitted_job(name))
    assert job.status is JobStatus.GENERATED
    assert route.call_count == 2
    assert noop_sleep.delays == [expected_delay]


def test_poll_retries_are_bounded_and_transient(
    router: respx.MockRouter, wire: Wire, adapter: GeminiVeo3Adapter, noop_sleep: SleepRecorder
) -> None:
    name = wire.op_name()
    route = router.get(wire.op_url(name)).respond(503, json={"error": {"code": 503}})
    with pytest.raises(PollError) as info:
        adapter.poll_job(submitted_job(name))
    assert (info.value.status_code, info.value.transient) == (503, True)
    assert info.value.operation_name == name
    assert route.call_count == 3
    assert noop_sleep.delays == [1.0, 2.0]


def test_a_daily_quota_on_poll_is_not_retried_in_place(
    router: respx.MockRouter, wire: Wire, adapter: GeminiVeo3Adapter, noop_sleep: SleepRecorder
) -> None:
    """Sending again within seconds only meets the quota again; the orchestrator polls later."""
    name = wire.op_name()
    quota = {
        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
        "violations": [{"quotaId": "GetRequestsPerDayPerProject"}],
    }
    retry = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "30s"}
    body = {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "details": [quota, retry]}}
    route = router.get(wire.op_url(name)).respond(429, json=body)
    with pytest.raises(PollError) as info:
        adapter.poll_job(submitted_job(name))
    assert (info.value.status_code, info.value.transient) == (429, True)
    assert route.call_count == 1
    assert noop_sleep.delays == []


@pytest.mark.parametrize("status", [400, 401, 403])
def test_permanent_poll_failures_raise_once(
    router: respx.MockRouter,
    wire: Wire,
    adapter: GeminiVeo3Adapter,
    noop_sleep: SleepRecorder,
    status: int,
) -> None:
    name = wire.op_name()
    route = router.get(wire.op_url(name)).respond(
        status, json=wire.api_error(status, "nope", "PERMISSION_DENIED")
    )
    with pytest.raises(PollError) as info:
        adapter.poll_job(submitted_job(name))
    assert (info.value.status_code, info.value.transient) == (status, False)
    assert route.call_count == 1
    assert noop_sleep.delays == []


@pytest.mark.parametrize(
    "side_effect", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow")], ids=repr
)
def test_network_failures_on_poll_are_retried(
    router: respx.MockRouter,
    wire: Wire,
    adapter: GeminiVeo3Adapter,
    noop_sleep: SleepRecorder,
    side_effect: Exception,
) -> None:
    name = wire.op_name()
    route = router.get(wire.op_url(name)).mock(
        side_effect=[side_effect, httpx.Response(200, json=wire.running(name))]
    )
    assert adapter.poll_job(submitted_job(name)).status is JobStatus.SUBMITTED
    assert route.call_count == 2
    assert len(noop_sleep.delays) == 1


def test_network_failure_after_retries_is_a_transient_poll_error(
    router: respx.MockRouter, wire: Wire, adapter: GeminiVeo3Adapter
) -> None:
    name = wire.op_name()
    router.get(wire.op_url(name)).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(PollError, match="did not reach") as info:
        adapter.poll_job(submitted_job(name))
    assert info.value.transient


@pytest.mark.parametrize(
    "body", [b"<html>proxy login</html>", b"{"], ids=["html", "truncated json"]
)
def test_unreadable_answer_is_a_poll_error(
    router: respx.MockRouter, wire: Wire, adapter: GeminiVeo3Adapter, body: bytes
) -> None:
    name = wire.op_name()
    router.get(wire.op_url(name)).respond(200, content=body)
    with pytest.raises(PollError) as info:
        adapter.poll_job(submitted_job(name))
    assert info.value.operation_name == name


HOSTILE_NAMES = [
    "../x",
    "operations/../../etc",
    "operations/..%2F..%2Fetc",
    "https://evil.example/operations/x",
    "//evil.example/operations/x",
    "models/../operations/x",
    "models/./operations/x",
    "models/veo/operations/a%2e%2e",
    "models/veo/operations/x/../../y",
    "operations/x?alt=media",
    "operations/x#frag",
    "operations/x:cancel",
    "operations/",
    " operations/x",
    "operations/x\n",
    "files/x",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_operation_name_is_refused_before_sending(
    router: respx.MockRouter, adapter: GeminiVeo3Adapter, name: str, tmp_path: Path
) -> None:
    catch_all = router.route().respond(200, json={"name": "x", "done": True})
    with pytest.raises(InvalidOperationNameError) as info:
        adapter.poll_job(submitted_job(name))
    assert isinstance(info.value, ValueError)
    assert not info.value.transient
    assert catch_all.call_count == 0
    with pytest.raises(InvalidOperationNameError):  # download_clip re-polls: same guard
        adapter.download_clip(submitted_job(name), tmp_path / "unused.mp4")
    assert catch_all.call_count == 0
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "name",
    [
        "models/veo-3.0-generate-001/operations/2ndklfg582ib",
        "models/veo-3.0-fast-generate-preview/operations/a_b-c",
        "operations/abc123",
    ],
)
def test_real_operation_names_are_accepted(
    router: respx.MockRouter, wire: Wire, adapter: GeminiVeo3Adapter, name: str
) -> None:
    route = router.get(wire.op_url(name)).respond(200, json=wire.running(name))
    assert adapter.poll_job(submitted_job(name)).status is JobStatus.SUBMITTED
    assert route.calls[0].request.url.path == f"/v1beta/{name}"


def test_an_answer_that_does_not_decode_is_a_poll_error(
    router: respx.MockRouter, wire: Wire, adapter: GeminiVeo3Adapter
) -> None:
    name = wire.op_name()
    router.get(wire.op_url(name)).respond(
        200, stream=httpx.ByteStream(b"this is not gzip"), headers={"content-encoding": "gzip"}
    )
    with pytest.raises(PollError, match="could not be read \\(DecodingError\\)") as info:
        adapter.poll_job(submitted_job(name))
    assert info.value.operation_name == name
