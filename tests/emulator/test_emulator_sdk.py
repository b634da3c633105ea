"""The real google-genai SDK judges the wire: every scenario, parsed into the SDK's types.

google-genai 3.x sends no Gemini API submit; there the submit goes through the wire and the
SDK's own parsers judge its answer (``_kit.emulator.generate_videos``).
"""

from __future__ import annotations

import re

import httpx
import pytest
from _kit.emulator import MODEL, Api, generate_videos, sdk_client
from _kit.keys import make_api_key
from _kit.sdk import needs_gemini_submit
from google import genai
from google.genai import errors, types

from veo3_adapter.emulator import (
    CURRENT_MODELS,
    DEFAULT_RAI_REASON,
    RETIRED_MODELS,
    SCENARIO_NAMES,
    Emulator,
    Scenario,
)
from veo3_adapter.mp4 import sample_clip

OP_NAME_RE = re.compile(rf"models/{re.escape(MODEL)}/operations/[a-z0-9]{{12}}")
REFUSED = {name for name in SCENARIO_NAMES if Scenario.named(name).submit_status is not None}
GETS_A_VIDEO = {
    name
    for name in SCENARIO_NAMES
    if name not in ("rai_filtered", "operation_error") and name not in REFUSED
}


def submit(
    sdk: genai.Client, api: Api, prompt: str = "a cat surfing"
) -> types.GenerateVideosOperation:
    return generate_videos(sdk, api, prompt)


def poll_until_done(
    sdk: genai.Client, op: types.GenerateVideosOperation, limit: int = 10
) -> tuple[types.GenerateVideosOperation, list[int | bool]]:
    """Poll as a client would; return the finished operation and what each poll saw."""
    seen: list[int | bool] = []
    for _ in range(limit):
        try:
            op = sdk.operations.get(operation=op)
        except errors.APIError as exc:
            seen.append(exc.code)
            continue
        seen.append(bool(op.done))
        if op.done:
            return op, seen
    raise AssertionError(f"the operation never finished: {seen}")


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_every_scenario_parses_in_the_sdk(
    name: str, emulator: Emulator, sdk: genai.Client, api: Api
) -> None:
    emulator.queue(Scenario.named(name, running_polls=1))
    if name in REFUSED:
        with pytest.raises(errors.ClientError) as caught:
            submit(sdk, api)
        assert (caught.value.code, caught.value.status) == (429, "RESOURCE_EXHAUSTED")
        assert emulator.operations == {}
        return
    started = submit(sdk, api)
    assert started.name is not None and OP_NAME_RE.fullmatch(started.name)
    assert not started.done

    finished, seen = poll_until_done(sdk, started)

    assert seen == ([429] if name == "rate_limited" else []) + [False, True]
    assert finished.name == started.name
    assert finished.done is True
    if name == "operation_error":
        assert finished.error == {
            "code": 3,
            "message": Scenario.named(name).operation_error,
            "status": "INVALID_ARGUMENT",
        }
        assert finished.result is None
        return
    assert finished.error is None
    assert finished.result is not None
    if name == "rai_filtered":
        assert finished.result.generated_videos is None
        assert finished.result.rai_media_filtered_count == 1
        assert finished.result.rai_media_filtered_reasons == [DEFAULT_RAI_REASON]
        return
    assert name in GETS_A_VIDEO
    videos = finished.result.generated_videos
    assert videos is not None and len(videos) == 1 and videos[0].video is not None
    uri = videos[0].video.uri
    assert uri is not None
    assert re.fullmatch(
        re.escape(emulator.api_base) + r"/v1beta/files/[a-z0-9]{12}:download\?alt=media", uri
    )
    assert finished.result.rai_media_filtered_count is None


def test_rate_limited_poll_raises_a_429_the_sdk_understands(
    emulator: Emulator, sdk: genai.Client, api: Api
) -> None:
    emulator.queue(Scenario.named("rate_limited", retry_after=57.238747106))
    started = submit(sdk, api)
    with pytest.raises(errors.ClientError) as caught:
        sdk.operations.get(operation=started)
    exc = caught.value
    assert exc.code == 429
    assert exc.status == "RESOURCE_EXHAUSTED"
    assert exc.message is not None and exc.message.endswith("Please retry in 57.238747106s.")
    assert "retry-after" not in exc.response.headers
    details = exc.details["error"]["details"]
    assert [d["@type"].rsplit(".", 1)[-1] for d in details] == [
        "Help",
        "QuotaFailure",
        "RetryInfo",
    ]
    assert details[1]["violations"][0]["quotaId"] == "GenerateRequestsPerMinutePerProjectPerModel"
    assert details[2] == {
        "@type": "type.googleapis.com/google.rpc.RetryInfo",
        "retryDelay": "57.238747106s",
    }
    assert sdk.operations.get(operation=started).done is True


def test_daily_quota_refuses_every_submit(emulator: Emulator, sdk: genai.Client, api: Api) -> None:
    emulator.default = Scenario.named("quota_exhausted_daily")
    for _ in range(3):
        with pytest.raises(errors.ClientError) as caught:
            submit(sdk, api)
        violation = caught.value.details["error"]["details"][1]["violations"][0]
        assert violation["quotaId"] == "GenerateRequestsPerDayPerProjectPerModel"
        assert violation["quotaDimensions"]["model"] == MODEL
    assert emulator.operations == {}
    assert [r.status for r in emulator.requests] == [429, 429, 429]


@pytest.mark.parametrize("model", sorted(RETIRED_MODELS) + ["veo-9-imaginary"])
def test_a_retired_or_unknown_model_is_a_404_like_the_api(
    emulator: Emulator, sdk: genai.Client, api: Api, model: str
) -> None:
    with pytest.raises(errors.ClientError) as caught:
        generate_videos(sdk, api, "a cat", model)
    exc = caught.value
    assert (exc.code, exc.status) == (404, "NOT_FOUND")
    assert exc.message == (
        f"models/{model} is not found for API version v1beta, or is not supported for "
        "predictLongRunning. Call ListModels to see the list of available models and their "
        "supported methods."
    )
    assert emulator.operations == {}


@pytest.mark.parametrize("model", sorted(CURRENT_MODELS))
def test_every_current_model_starts_an_operation_named_after_it(
    emulator: Emulator, sdk: genai.Client, api: Api, model: str
) -> None:
    op = generate_videos(sdk, api, "a", model)
    assert op.name is not None
    assert re.fullmatch(rf"models/{re.escape(model)}/operations/[a-z0-9]{{12}}", op.name)
    assert emulator.operations[op.name].model == model


def test_running_polls_report_not_done_then_done(
    emulator: Emulator, sdk: genai.Client, api: Api
) -> None:
    emulator.queue(Scenario(running_polls=3))
    op = submit(sdk, api)
    seen = [bool(sdk.operations.get(operation=op).done) for _ in range(4)]
    assert seen == [False, False, False, True]
    assert emulator.operations[op.name or ""].polls == 4


@pytest.mark.parametrize(
    ("failures", "error_type", "status"),
    [
        ((503, 503), errors.ServerError, "UNAVAILABLE"),
        ((500,), errors.ServerError, "INTERNAL"),
        ((504,), errors.ServerError, "DEADLINE_EXCEEDED"),
    ],
)
def test_poll_failures_come_first_then_the_answer(
    emulator: Emulator,
    sdk: genai.Client,
    api: Api,
    failures: tuple[int, ...],
    error_type: type[errors.APIError],
    status: str,
) -> None:
    emulator.queue(Scenario(poll_failures=failures))
    op = submit(sdk, api)
    for code in failures:
        with pytest.raises(error_type) as caught:
            sdk.operations.get(operation=op)
        assert (caught.value.code, caught.value.status) == (code, status)
    assert sdk.operations.get(operation=op).done is True


def test_unknown_operation_is_a_404(sdk: genai.Client) -> None:
    ghost = types.GenerateVideosOperation(name=f"models/{MODEL}/operations/abcdefghijkl")  # type: ignore[call-arg]
    with pytest.raises(errors.ClientError) as caught:
        sdk.operations.get(operation=ghost)
    assert caught.value.code == 404
    assert caught.value.status == "NOT_FOUND"
    assert caught.value.message


@pytest.mark.parametrize(
    ("status", "error_type", "google_status"),
    [
        (400, errors.ClientError, "INVALID_ARGUMENT"),
        (403, errors.ClientError, "PERMISSION_DENIED"),
        (429, errors.ClientError, "RESOURCE_EXHAUSTED"),
        (503, errors.ServerError, "UNAVAILABLE"),
    ],
)
def test_refused_submit(
    emulator: Emulator,
    sdk: genai.Client,
    api: Api,
    status: int,
    error_type: type[errors.APIError],
    google_status: str,
) -> None:
    emulator.queue(Scenario(submit_status=status))
    with pytest.raises(error_type) as caught:
        submit(sdk, api)
    assert (caught.value.code, caught.value.status) == (status, google_status)
    assert emulator.operations == {}


def test_wrong_key_is_refused_like_google(emulator: Emulator, http: httpx.Client) -> None:
    wrong = make_api_key()
    intruder = sdk_client(wrong, emulator.api_base, http)
    with pytest.raises(errors.ClientError) as caught:
        submit(intruder, Api(http, emulator, wrong))
    exc = caught.value
    # The real service answers a bad API key with 400, not 401 (reason API_KEY_INVALID).
    assert (exc.code, exc.status) == (400, "INVALID_ARGUMENT")
    assert exc.message == "API key not valid. Please pass a valid API key."
    assert exc.details["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    assert emulator.operations == {}


@pytest.mark.parametrize(
    ("headers", "code", "status", "message"),
    [
        ({}, 403, "PERMISSION_DENIED", "unregistered callers"),
        ({"x-goog-api-key": ""}, 403, "PERMISSION_DENIED", "unregistered callers"),
        ({"authorization": "Bearer not-a-token"}, 401, "UNAUTHENTICATED", "credentials"),
    ],
)
def test_missing_key_is_refused_in_the_google_error_shape(
    emulator: Emulator,
    http: httpx.Client,
    headers: dict[str, str],
    code: int,
    status: str,
    message: str,
) -> None:
    response = http.post(
        f"{emulator.api_base}/v1beta/models/{MODEL}:predictLongRunning",
        json={"instances": [{"prompt": "a cat"}]},
        headers=headers,
    )
    assert response.status_code == code
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert (body["error"]["code"], body["error"]["status"]) == (code, status)
    assert message in body["error"]["message"]
    # ... and the SDK's own error parser reads it as such.
    with pytest.raises(errors.APIError) as caught:
        errors.APIError.raise_for_response(response)
    assert (caught.value.code, caught.value.status) == (code, status)


def test_every_endpoint_wants_the_key(
    emulator: Emulator, sdk: genai.Client, api: Api, http: httpx.Client
) -> None:
    op = submit(sdk, api)
    done = sdk.operations.get(operation=op)
    assert done.result is not None and done.result.generated_videos
    uri = done.result.generated_videos[0].video.uri  # type: ignore[union-attr]
    assert uri is not None
    for url in (f"{emulator.api_base}/v1beta/{op.name}", uri):
        assert http.get(url).status_code == 403


def test_without_a_fixed_key_any_key_is_accepted() -> None:
    emulator = Emulator(None, seed=1)
    with httpx.Client(transport=emulator.transport()) as http:
        any_key = make_api_key()
        op = submit(sdk_client(any_key, emulator.api_base, http), Api(http, emulator, any_key))
        assert op.name in emulator.operations
        response = http.get(f"{emulator.api_base}/v1beta/{op.name}")
        assert response.status_code == 403


@needs_gemini_submit
def test_the_sdk_sends_its_config_as_parameters(emulator: Emulator, sdk: genai.Client) -> None:
    op = sdk.models.generate_videos(
        model=MODEL,
        source=types.GenerateVideosSource(prompt="a cat"),
        config=types.GenerateVideosConfig(
            number_of_videos=1, aspect_ratio="9:16", negative_prompt="blurry", duration_seconds=8
        ),
    )
    state = emulator.operations[op.name or ""]
    assert state.prompt == "a cat"
    assert state.model == MODEL
    assert state.parameters == {
        "sampleCount": 1,
        "aspectRatio": "9:16",
        "negativePrompt": "blurry",
        "durationSeconds": 8,
    }


def _video(sdk: genai.Client, api: Api) -> types.Video:
    done = sdk.operations.get(operation=submit(sdk, api))
    assert done.result is not None and done.result.generated_videos
    video = done.result.generated_videos[0].video
    assert video is not None
    return video


def test_sdk_download_stops_at_the_redirect_unless_its_client_follows(
    emulator: Emulator, key: str, sdk: genai.Client, api: Api
) -> None:
    """DESIGN facts 3 and 4: a client that does not follow redirects meets the 302 (as
    python-genai#1946 reports); one that follows gets the video, key kept on one origin."""
    video = _video(sdk, api)
    with pytest.raises(errors.APIError) as caught:
        sdk.files.download(file=video)  # our client does not follow redirects
    assert caught.value.code == 302

    following = httpx.Client(transport=emulator.transport(), follow_redirects=True)
    with following:
        data = sdk_client(key, emulator.api_base, following).files.download(file=video)
    assert data == sample_clip()
    assert emulator.key_leaks == []


def test_sdk_following_a_cross_origin_redirect_leaks_the_key(
    emulator: Emulator, key: str, sdk: genai.Client, api: Api
) -> None:
    emulator.default = Scenario.named("cross_origin_redirect")
    video = _video(sdk, api)
    following = httpx.Client(transport=emulator.transport(), follow_redirects=True)
    with following, pytest.raises(errors.ClientError) as leaked:
        sdk_client(key, emulator.api_base, following).files.download(file=video)
    assert leaked.value.code == 400
    assert [leak.where for leak in emulator.key_leaks] == ["header x-goog-api-key"]


def test_model_comes_from_the_path(emulator: Emulator, sdk: genai.Client, api: Api) -> None:
    op = generate_videos(sdk, api, "a dog", "veo-3.1-fast-generate-001")
    assert op.name is not None and op.name.startswith(
        "models/veo-3.1-fast-generate-001/operations/"
    )
    assert emulator.operations[op.name].model == "veo-3.1-fast-generate-001"
