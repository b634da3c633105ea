"""Refusals on Vertex AI: the clear codes and batch-stopping rules of the Gemini backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import google.auth.exceptions
import httpx
import pytest
import respx
from _kit.adapters import VertexFactory
from _kit.keys import make_api_key
from _kit.vertex import (
    EXPRESS,
    FakeCredentials,
    error_body,
    error_info,
    op_name,
    poll_url,
    submit_url,
)
from google.auth.transport import Request

from veo3_adapter import (
    DEFAULT_MODEL,
    BatchStoppingError,
    ErrorCode,
    JobStatus,
    PollError,
    QuotaExhaustedError,
    SubmitError,
    Veo3Job,
    Veo3Orchestrator,
    read_jobs_json,
)
from veo3_adapter._refusal import is_daily_quota, vertex_submit_refusal

PERMISSION = error_body(
    403,
    "PERMISSION_DENIED",
    "Permission 'aiplatform.endpoints.predict' denied on resource "
    "'//aiplatform.googleapis.com/projects/my-proj/locations/us-central1/publishers/google/"
    "models/veo-3.1-generate-001' (or it may not exist).",
    error_info("IAM_PERMISSION_DENIED", permission="aiplatform.endpoints.predict"),
)
DISABLED = error_body(
    403,
    "PERMISSION_DENIED",
    "Vertex AI API has not been used in project my-proj before or it is disabled.",
    error_info("SERVICE_DISABLED", service="aiplatform.googleapis.com"),
)
UNAUTHENTICATED = error_body(
    401, "UNAUTHENTICATED", "Request had invalid authentication credentials."
)
DAILY = error_body(
    429,
    "RESOURCE_EXHAUSTED",
    "Quota exceeded for aiplatform.googleapis.com/online_prediction_requests_per_base_model.",
    error_info("RATE_LIMIT_EXCEEDED", quota_limit="OnlinePredictionRequestsPerDayPerBaseModel"),
)
PER_MINUTE = error_body(
    429,
    "RESOURCE_EXHAUSTED",
    "Quota exceeded for aiplatform.googleapis.com/online_prediction_requests_per_base_model.",
    error_info("RATE_LIMIT_EXCEEDED", quota_limit="OnlinePredictionRequestsPerMinutePerBaseModel"),
)
UNKNOWN_MODEL = error_body(
    404, "NOT_FOUND", "Publisher Model `projects/my-proj/.../models/veo-9` was not found."
)


@pytest.mark.parametrize(
    ("status", "body", "kind", "advice"),
    [
        (403, PERMISSION, BatchStoppingError, "roles/aiplatform.user"),
        (403, DISABLED, BatchStoppingError, "gcloud services enable aiplatform.googleapis.com"),
        (401, UNAUTHENTICATED, BatchStoppingError, "gcloud auth application-default login"),
        (429, DAILY, QuotaExhaustedError, "per-day quota"),
        (404, UNKNOWN_MODEL, BatchStoppingError, DEFAULT_MODEL),
        (400, error_body(400, "INVALID_ARGUMENT", "bad ratio"), SubmitError, "bad ratio"),
    ],
    ids=["permission-denied", "service-disabled", "unauthenticated", "daily-quota", "model", "bad"],
)
def test_submit_refusals_say_what_to_do_and_are_sent_once(
    make_vertex: VertexFactory,
    router: respx.MockRouter,
    status: int,
    body: dict[str, Any],
    kind: type[SubmitError],
    advice: str,
    token: str,
) -> None:
    route = router.post(submit_url()).respond(status, json=body)
    with pytest.raises(SubmitError) as caught:
        make_vertex().submit_job("clip", "a cat")
    assert type(caught.value) is kind
    assert advice in str(caught.value) and caught.value.status_code == status
    assert token not in str(caught.value)
    assert route.call_count == 1


def test_a_per_minute_quota_is_waited_out(
    make_vertex: VertexFactory, router: respx.MockRouter
) -> None:
    route = router.post(submit_url()).mock(
        side_effect=[
            httpx.Response(429, json=PER_MINUTE),
            httpx.Response(200, json={"name": op_name()}),
        ]
    )
    waits: list[float] = []
    job = make_vertex(sleep=waits.append).submit_job("clip", "a cat")
    assert job.status is JobStatus.SUBMITTED and route.call_count == 2 and waits == [1.0]


def test_express_mode_names_a_refused_key_as_such(
    make_vertex: VertexFactory, router: respx.MockRouter
) -> None:
    key = make_api_key()
    body = error_body(400, "INVALID_ARGUMENT", "API key not valid.", error_info("API_KEY_INVALID"))
    router.post(
        f"{EXPRESS}/v1beta1/publishers/google/models/{DEFAULT_MODEL}:predictLongRunning"
    ).respond(400, json=body)
    with pytest.raises(BatchStoppingError, match="express mode key") as caught:
        make_vertex(api_key=key).submit_job("clip", "a cat")
    assert key not in str(caught.value)


class RefusingCredentials(FakeCredentials):
    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def refresh(self, request: Request) -> None:
        self.refreshes += 1
        raise self.error


def test_credentials_that_cannot_refresh_stop_the_batch_before_sending(
    make_vertex: VertexFactory, router: respx.MockRouter
) -> None:
    secret = "client-secret-" + make_api_key()
    creds = RefusingCredentials(google.auth.exceptions.RefreshError(f"invalid_grant {secret}"))
    adapter = make_vertex(credentials=creds)
    with pytest.raises(BatchStoppingError, match="credentials failed") as caught:
        adapter.submit_job("clip", "a cat")
    assert "RefreshError" in str(caught.value) and secret not in str(caught.value)
    with pytest.raises(PollError) as polled:
        adapter.poll_job(Veo3Job("clip", "a cat", JobStatus.SUBMITTED, operation_name=op_name()))
    assert not polled.value.transient
    assert router.calls.call_count == 0


def test_a_refresh_that_cannot_reach_the_token_endpoint_is_retried(
    make_vertex: VertexFactory, router: respx.MockRouter
) -> None:
    creds = RefusingCredentials(google.auth.exceptions.TransportError("connection refused"))
    waits: list[float] = []
    with pytest.raises(SubmitError) as caught:
        make_vertex(credentials=creds, sleep=waits.append).submit_job("clip", "a cat")
    assert not isinstance(caught.value, BatchStoppingError)
    assert creds.refreshes == 3 and len(waits) == 2 and router.calls.call_count == 0


def test_a_permission_refusal_stops_the_orchestrators_batch(
    make_vertex: VertexFactory, router: respx.MockRouter, tmp_path: Path
) -> None:
    route = router.post(submit_url()).respond(403, json=PERMISSION)
    orchestrator = Veo3Orchestrator(make_vertex(), tmp_path, sleep=lambda s: None)
    jobs = {job.variant: job for job in orchestrator.run({"a": "a cat", "b": "a dog"})}
    assert route.call_count == 1
    assert {v: (j.status, j.batch_stopped_by) for v, j in jobs.items()} == {
        "a": (JobStatus.FAILED, "a"),
        "b": (JobStatus.FAILED, "a"),
    }
    assert jobs["a"].error_message == ErrorCode.SUBMIT_FAILED.value
    assert [j.batch_stopped_by for j in read_jobs_json(orchestrator.jobs_path)] == ["a", "a"]


def test_vertex_quota_shapes_are_read_as_daily_or_not() -> None:
    assert is_daily_quota(DAILY) and not is_daily_quota(PER_MINUTE)
    refusal = vertex_submit_refusal(
        "submit", DEFAULT_MODEL, 429, "HTTP 429", PER_MINUTE, project="p", express=False
    )
    assert type(refusal) is SubmitError


def test_a_poll_refused_for_permission_is_final(
    make_vertex: VertexFactory, router: respx.MockRouter
) -> None:
    router.post(poll_url()).respond(403, json=PERMISSION)
    job = Veo3Job("clip", "a cat", JobStatus.SUBMITTED, operation_name=op_name())
    with pytest.raises(PollError) as caught:
        make_vertex().poll_job(job)
    assert caught.value.status_code == 403 and not caught.value.transient
