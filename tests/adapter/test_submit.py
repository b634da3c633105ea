"""Submit on the wire: what the request carries, and which failures may be sent again.

A Gemini API submit is what most tests here check: they run on google-genai 2.x only
(``needs_gemini_submit``); configuration and what is refused before sending run on every major.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import respx
from _kit.sdk import needs_gemini_submit

from veo3_adapter import (
    DEFAULT_MODEL,
    BatchStoppingError,
    ConfigurationError,
    GeminiVeo3Adapter,
    GenerationOptions,
    JobStatus,
    QuotaExhaustedError,
    RetryPolicy,
    SubmitError,
    Veo3Orchestrator,
)
from veo3_adapter.retry import retry_delay_from_error_body

if TYPE_CHECKING:
    from _kit.adapters import AdapterFactory
    from _kit.clock import FakeClock, SleepRecorder
    from _kit.wire import Wire


def body_of(route: respx.Route, index: int = 0) -> dict[str, Any]:
    return json.loads(route.calls[index].request.content)  # type: ignore[no-any-return]


@needs_gemini_submit
def test_request_carries_prompt_and_merged_options(
    router: respx.MockRouter, wire: Wire, make_adapter: AdapterFactory
) -> None:
    name = wire.op_name()
    route = router.post(wire.submit_url()).respond(200, json=wire.submitted(name))
    adapter = make_adapter(
        options=GenerationOptions(aspect_ratio="16:9", resolution="720p", negative_prompt="blurry")
    )
    job = adapter.submit_job(
        "hero",
        "a cat on a skateboard",
        GenerationOptions(
            aspect_ratio="9:16",
            duration_seconds=8,
            person_generation="allow_adult",
            enhance_prompt=True,
        ),
    )
    assert body_of(route) == {
        "instances": [{"prompt": "a cat on a skateboard"}],
        "parameters": {
            "sampleCount": 1,
            "aspectRatio": "9:16",
            "resolution": "720p",
            "durationSeconds": 8,
            "negativePrompt": "blurry",
            "personGeneration": "allow_adult",
            "enhancePrompt": True,
        },
    }
    assert route.calls[0].request.headers["content-type"] == "application/json"
    assert job.options == GenerationOptions(
        model=DEFAULT_MODEL,
        aspect_ratio="9:16",
        resolution="720p",
        duration_seconds=8,
        negative_prompt="blurry",
        person_generation="allow_adult",
        enhance_prompt=True,
    )
    assert (job.status, job.operation_name, job.variant) == (JobStatus.SUBMITTED, name, "hero")
    assert job.created_at == job.updated_at == ""  # time stamps are the orchestrator's


@needs_gemini_submit
def test_two_argument_submit_uses_adapter_defaults(
    router: respx.MockRouter, wire: Wire, make_adapter: AdapterFactory
) -> None:
    route = router.post(wire.submit_url()).respond(200, json=wire.submitted(wire.op_name()))
    job = make_adapter().submit_job("a", "a cat")
    assert body_of(route) == {"instances": [{"prompt": "a cat"}], "parameters": {"sampleCount": 1}}
    assert job.operation_name == wire.op_name()
    assert job.options == GenerationOptions(model=DEFAULT_MODEL)


@pytest.mark.parametrize(
    ("adapter_model", "job_model", "expected"),
    [
        ("veo-3.1-fast-generate-001", None, "veo-3.1-fast-generate-001"),
        (DEFAULT_MODEL, "veo-3.1-fast-generate-001", "veo-3.1-fast-generate-001"),
    ],
)
@needs_gemini_submit
def test_model_selects_the_endpoint(
    router: respx.MockRouter,
    wire: Wire,
    make_adapter: AdapterFactory,
    adapter_model: str,
    job_model: str | None,
    expected: str,
) -> None:
    route = router.post(wire.submit_url(expected)).respond(
        200, json=wire.submitted(wire.op_name(model=expected))
    )
    job = make_adapter(model=adapter_model).submit_job("a", "p", GenerationOptions(model=job_model))
    assert route.call_count == 1
    assert job.options.model == expected


@pytest.mark.parametrize("status", [400, 401, 403, 404])
@needs_gemini_submit
def test_client_errors_raise_submit_error_with_status(
    router: respx.MockRouter,
    wire: Wire,
    make_adapter: AdapterFactory,
    noop_sleep: SleepRecorder,
    status: int,
) -> None:
    route = router.post(wire.submit_url()).respond(
        status, json=wire.api_error(status, "Request contains an invalid argument.", "BAD")
    )
    with pytest.raises(SubmitError) as info:
        make_adapter().submit_job("a", "p")
    assert info.value.status_code == status
    assert "'a'" in str(info.value) and "invalid argument" in str(info.value)
    assert route.call_count == 1
    assert noop_sleep.delays == []


@pytest.mark.parametrize("status", [500, 502, 504])
@needs_gemini_submit
def test_server_errors_are_not_retried_on_submit(
    router: respx.MockRouter,
    wire: Wire,
    make_adapter: AdapterFactory,
    noop_sleep: SleepRecorder,
    status: int,
) -> None:
    """The generation may have started: sending it again could pay for two videos."""
    route = router.post(wire.submit_url()).respond(status, json=wire.api_error(status, "x", "X"))
    with pytest.raises(SubmitError) as info:
        make_adapter().submit_job("a", "p")
    assert info.value.status_code == status
    assert route.call_count == 1
    assert noop_sleep.delays == []


@pytest.mark.parametrize(
    ("first", "expected_delay"),
    [
        (httpx.Response(429, headers={"retry-after": "7"}, json={"error": {"code": 429}}), 7.0),
        (httpx.Response(503, json={"error": {"code": 503}}), 1.0),
    ],
    ids=["429", "503"],
)
@needs_gemini_submit
def test_quota_and_unavailable_are_retried_on_submit(
    router: respx.MockRouter,
    wire: Wire,
    make_adapter: AdapterFactory,
    noop_sleep: SleepRecorder,
    first: httpx.Response,
    expected_delay: float,
) -> None:
    route = router.post(wire.submit_url()).mock(
        side_effect=[first, httpx.Response(200, json=wire.submitted(wire.op_name()))]
    )
    job = make_adapter().submit_job("a", "p")
    assert job.operation_name == wire.op_name()
    assert route.call_count == 2
    assert body_of(route, 0) == body_of(route, 1)
    assert noop_sleep.delays == [expected_delay]


@needs_gemini_submit
def test_429_retries_are_bounded(
    router: respx.MockRouter, wire: Wire, make_adapter: AdapterFactory, noop_sleep: SleepRecorder
) -> None:
    route = router.post(wire.submit_url()).respond(429, json={"error": {"code": 429}})
    with pytest.raises(SubmitError) as info:
        make_adapter().submit_job("a", "p")
    assert info.value.status_code == 429
    assert route.call_count == 3
    assert noop_sleep.delays == [1.0, 2.0]


@needs_gemini_submit
def test_connect_error_is_retried_because_nothing_was_sent(
    router: respx.MockRouter, wire: Wire, make_adapter: AdapterFactory
) -> None:
    route = router.post(wire.submit_url()).mock(
        side_effect=[
            httpx.ConnectError("refused"),
            httpx.Response(200, json=wire.submitted(wire.op_name())),
        ]
    )
    assert make_adapter().submit_job("a", "p").operation_name == wire.op_name()
    assert route.call_count == 2


@pytest.mark.parametrize(
    "error", [httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("eof")], ids=repr
)
@needs_gemini_submit
def test_failure_after_sending_is_not_retried(
    router: respx.MockRouter, wire: Wire, make_adapter: AdapterFactory, error: Exception
) -> None:
    route = router.post(wire.submit_url()).mock(side_effect=error)
    with pytest.raises(SubmitError, match="did not reach the API") as info:
        make_adapter().submit_job("a", "p")
    assert info.value.status_code is None
    assert route.call_count == 1


@needs_gemini_submit
def test_answer_without_operation_name_is_a_submit_error(
    router: respx.MockRouter, wire: Wire, make_adapter: AdapterFactory
) -> None:
    router.post(wire.submit_url()).respond(200, json={})
    with pytest.raises(SubmitError, match="without an operation name"):
        make_adapter().submit_job("a", "p")


@needs_gemini_submit
def test_invalid_option_is_refused_before_sending(
    router: respx.MockRouter, wire: Wire, make_adapter: AdapterFactory
) -> None:
    route = router.post(wire.submit_url()).respond(200, json=wire.submitted(wire.op_name()))
    bad = GenerationOptions(duration_seconds="eight")  # type: ignore[arg-type]
    with pytest.raises(SubmitError, match="invalid request"):
        make_adapter().submit_job("a", "p", bad)
    assert route.call_count == 0


# -- refusals that every other submit would meet too ------------------------------------------

LIVE_QUOTA_MESSAGE = (
    "You exceeded your current quota, please check your plan and billing details. \n"
    "* Quota exceeded for metric: generativelanguage.googleapis.com/generate_requests_per_model"
    "{per}, limit: 2, model: veo-3.1-generate-001\nPlease retry in 57.238747106s."
)


def quota_429(
    quota_id: str | None, *, retry_info: bool = True, message: str | None = None
) -> dict[str, Any]:
    """A 429 body as the live API sends it (no Retry-After header: the wait is in the body)."""
    details: list[dict[str, Any]] = [
        {"@type": "type.googleapis.com/google.rpc.Help", "links": []},
    ]
    if quota_id is not None:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [
                    {
                        "quotaMetric": "generativelanguage.googleapis.com/x",
                        "quotaId": quota_id,
                        "quotaDimensions": {"location": "global", "model": DEFAULT_MODEL},
                        "quotaValue": "10",
                    }
                ],
            }
        )
    if retry_info:
        details.append(
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "57.238747106s"}
        )
    per = "_per_day" if quota_id and "PerDay" in quota_id else ""
    return {
        "error": {
            "code": 429,
            "message": message if message is not None else LIVE_QUOTA_MESSAGE.format(per=per),
            "status": "RESOURCE_EXHAUSTED",
            "details": details,
        }
    }


@pytest.mark.parametrize(
    "quota_id",
    [
        "GenerateRequestsPerDayPerProjectPerModel",
        "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
    ],
)
@needs_gemini_submit
def test_a_daily_quota_is_sent_once_and_raises_quota_exhausted(
    router: respx.MockRouter,
    wire: Wire,
    make_adapter: AdapterFactory,
    noop_sleep: SleepRecorder,
    quota_id: str,
) -> None:
    route = router.post(wire.submit_url()).respond(429, json=quota_429(quota_id))
    with pytest.raises(QuotaExhaustedError) as info:
        make_adapter().submit_job("a", "p")
    assert isinstance(info.value, BatchStoppingError)
    assert info.value.status_code == 429
    assert "the per-day quota is used up (HTTP 429 RESOURCE_EXHAUSTED" in str(info.value)
    assert "midnight Pacific time" in str(info.value)
    assert route.call_count == 1
    assert noop_sleep.delays == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (quota_429("GenerateRequestsPerMinutePerProjectPerModel"), 57.238747106),
        (quota_429(None), 57.238747106),  # no QuotaFailure: per-minute
        (quota_429("GenerateRequestsPerMinutePerProjectPerModel", retry_info=False), 57.238747106),
        (
            quota_429(None, retry_info=False, message="Please retry in 627.5ms."),
            1.0,  # shorter than the backoff: the backoff wins
        ),
        (quota_429(None, retry_info=False, message="Resource has been exhausted."), 1.0),
    ],
    ids=["per-minute", "no-quota-failure", "message-only", "milliseconds", "no-delay"],
)
@needs_gemini_submit
def test_a_per_minute_quota_waits_the_delay_the_body_asks_for(
    router: respx.MockRouter,
    wire: Wire,
    make_adapter: AdapterFactory,
    noop_sleep: SleepRecorder,
    body: dict[str, Any],
    expected: float,
) -> None:
    route = router.post(wire.submit_url()).mock(
        side_effect=[
            httpx.Response(429, json=body),
            httpx.Response(200, json=wire.submitted(wire.op_name())),
        ]
    )
    assert make_adapter().submit_job("a", "p").operation_name == wire.op_name()
    assert route.call_count == 2
    assert noop_sleep.delays == [expected]


@needs_gemini_submit
def test_a_per_minute_wait_is_capped_by_max_retry_after(
    router: respx.MockRouter, wire: Wire, make_adapter: AdapterFactory, noop_sleep: SleepRecorder
) -> None:
    router.post(wire.submit_url()).mock(
        side_effect=[
            httpx.Response(429, json=quota_429(None)),
            httpx.Response(200, json=wire.submitted(wire.op_name())),
        ]
    )
    retry = RetryPolicy(attempts=3, jitter=0.0, max_retry_after=20.0)
    make_adapter(retry=retry).submit_job("a", "p")
    assert noop_sleep.delays == [20.0]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"error": {"message": "Please retry in 57.238747106s."}}, 57.238747106),
        ({"error": {"message": "please RETRY IN 3s"}}, 3.0),
        ({"error": {"message": "Please retry in 250ms."}}, 0.25),
        ({"message": "Please retry in 2s."}, 2.0),  # without the wrapper
        ({"error": {"message": "Please retry in a while."}}, None),
        ({"error": {"message": "no retry in 5 minutes"}}, None),
        ({"error": {"message": 7}}, None),
        (
            {
                "error": {
                    "message": "Please retry in 9s.",
                    "details": [{"@type": "x/google.rpc.RetryInfo", "retryDelay": "4s"}],
                }
            },
            4.0,  # RetryInfo first
        ),
    ],
)
def test_the_wait_falls_back_to_the_message(body: dict[str, Any], expected: float | None) -> None:
    assert retry_delay_from_error_body(body) == pytest.approx(expected)


@needs_gemini_submit
def test_a_retired_model_is_sent_once_and_the_error_names_it_and_the_fix(
    router: respx.MockRouter, wire: Wire, make_adapter: AdapterFactory, noop_sleep: SleepRecorder
) -> None:
    retired = "veo-3.0-generate-001"
    message = (
        f"models/{retired} is not found for API version v1beta, or is not supported for "
        "predictLongRunning. Call ListModels to see the list of available models and their "
        "supported methods."
    )
    route = router.post(wire.submit_url(retired)).respond(
        404, json=wire.api_error(404, message, "NOT_FOUND")
    )
    with pytest.raises(BatchStoppingError) as info:
        make_adapter(model=retired).submit_job("a", "p")
    text = str(info.value)
    assert not isinstance(info.value, QuotaExhaustedError)
    assert info.value.status_code == 404
    assert f"model {retired!r} is unknown or retired" in text
    assert f"HTTP 404 NOT_FOUND: {message}" in text
    assert f"such as {DEFAULT_MODEL!r}" in text
    assert route.call_count == 1
    assert noop_sleep.delays == []


@pytest.mark.parametrize(
    ("status", "reason", "stops"),
    [
        (400, "API_KEY_INVALID", True),
        (400, "API_KEY_EXPIRED", True),
        (400, "", False),  # an invalid argument: this job's, not the batch's
        (401, "", True),
        (403, "", True),
        (403, "API_KEY_SERVICE_BLOCKED", True),
    ],
)
@needs_gemini_submit
def test_a_refused_key_stops_the_batch(
    router: respx.MockRouter,
    wire: Wire,
    make_adapter: AdapterFactory,
    status: int,
    reason: str,
    stops: bool,
) -> None:
    error: dict[str, Any] = {"code": status, "message": "API key not valid.", "status": "X"}
    if reason:
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason}]
    route = router.post(wire.submit_url()).respond(status, json={"error": error})
    with pytest.raises(SubmitError) as info:
        make_adapter().submit_job("a", "p")
    assert isinstance(info.value, BatchStoppingError) is stops
    assert ("the API key was not accepted" in str(info.value)) is stops
    assert route.call_count == 1


# -- configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"api_key": ""}, "api_key is empty"),
        ({"api_key": "   "}, "api_key is empty"),
        ({"api_key": "AIza key"}, "whitespace"),
        ({"api_key": "AIza\x00"}, "control"),
        ({"api_key": "AIza\u00e9t\u00e9"}, "non-ASCII"),  # a header cannot carry it
        ({"base_url": "ftp://example.com"}, "http(s)"),
        ({"base_url": "https://"}, "http(s)"),
        ({"base_url": "https://u:p@example.com"}, "user info"),
        ({"base_url": "https://example.com/?key=x"}, "query"),
        ({"base_url": "http://[::1"}, "not a URL"),
    ],
)
def test_bad_configuration_is_refused(api_key: str, kwargs: dict[str, Any], message: str) -> None:
    kwargs = {"api_key": api_key, **kwargs}
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        GeminiVeo3Adapter(kwargs.pop("api_key"), **kwargs)


def test_client_that_follows_redirects_is_refused(api_key: str) -> None:
    with (
        httpx.Client(follow_redirects=True) as client,
        pytest.raises(ConfigurationError, match="follow_redirects=False"),
    ):
        GeminiVeo3Adapter(api_key, http_client=client)


def test_repr_and_lifecycle(api_key: str, http_client: httpx.Client) -> None:
    with GeminiVeo3Adapter(api_key) as owned:
        assert api_key not in repr(owned)
        assert "generativelanguage.googleapis.com" in repr(owned)
        own_client = owned._http
    assert own_client.is_closed
    GeminiVeo3Adapter(api_key, http_client=http_client).close()
    assert not http_client.is_closed  # someone else's client is left open


BAD_MODELS = ["veo\n3", "veo 3", "a/../b", "models/", "veo-3?alt=media", "véo", "x" * 200]


@pytest.mark.parametrize("model", BAD_MODELS)
def test_a_model_that_is_no_model_id_is_refused_before_sending(
    router: respx.MockRouter, make_adapter: AdapterFactory, model: str
) -> None:
    catch_all = router.route().respond(200, json={"name": "models/m/operations/x"})
    adapter = make_adapter()
    with pytest.raises(SubmitError) as info:
        adapter.submit_job("hero", "p", GenerationOptions(model=model))
    message = str(info.value)
    assert "variant 'hero'" in message and ascii(model)[:60] in message
    assert "nothing was sent" in message
    assert not catch_all.called
    with pytest.raises(ConfigurationError, match="is not a model id"):
        make_adapter(model=model)


@pytest.mark.parametrize("model", ["veo-3.1-generate-001", "models/veo-3.1-fast-generate-001"])
@needs_gemini_submit
def test_model_ids_with_or_without_the_models_prefix_are_sent(
    router: respx.MockRouter, wire: Wire, make_adapter: AdapterFactory, model: str
) -> None:
    plain = model.removeprefix("models/")
    route = router.post(wire.submit_url(plain)).respond(200, json=wire.submitted(wire.op_name()))
    make_adapter().submit_job("a", "p", GenerationOptions(model=model))
    assert route.called


@needs_gemini_submit
def test_a_run_with_a_bad_model_in_one_job_fails_that_job_only(
    router: respx.MockRouter,
    wire: Wire,
    make_adapter: AdapterFactory,
    fake_clock: FakeClock,
    clip: bytes,
    tmp_path: Path,
) -> None:
    name = wire.op_name()
    router.post(wire.submit_url()).respond(200, json=wire.submitted(name))
    router.get(wire.op_url(name)).respond(200, json=wire.done(name, wire.file_uri()))
    router.get(wire.file_url()).respond(200, content=clip)
    orch = Veo3Orchestrator(make_adapter(), tmp_path, sleep=fake_clock.sleep, clock=fake_clock)
    jobs = orch.run({"bad": "p", "good": "p"}, options={"bad": GenerationOptions(model="veo\n3")})
    by_variant = {job.variant: job for job in jobs}
    assert by_variant["good"].status is JobStatus.DOWNLOADED
    bad = by_variant["bad"]
    assert (bad.status, bad.error_message) == (JobStatus.FAILED, "submit_failed")
    assert "'veo\\n3'" in bad.error_detail and not bad.operation_name
