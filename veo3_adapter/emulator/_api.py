"""The JSON API's answers: submit, poll, the download redirect, and its errors."""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ._auth import authenticate
from ._lifecycle import Headers, poll_reply, start, submit_request, video_problem
from ._models import CURRENT_MODELS, model_not_found
from ._scenario import Scenario
from ._state import OperationState, State
from ._wire import Reply, echoed, google_error, json_reply

__all__ = ["ApiAnswers", "duration", "quota_error"]

logger = logging.getLogger("veo3_adapter.emulator")

_RESPONSE_TYPE = (
    "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse"
)
_SUBMIT_RE = re.compile(r"/v1beta/models/([A-Za-z0-9._-]+):predictLongRunning")
_FILE_RE = re.compile(r"/v1beta/files/([a-z0-9]+):download")
_OPERATION_RE = re.compile(r"/v1beta/((?:models/[A-Za-z0-9._-]+/)?operations/[A-Za-z0-9_-]+)")
_RATE_LIMITS_URL = "https://ai.google.dev/gemini-api/docs/rate-limits"
# quota -> (metric, quota id, limit), as the QuotaFailure of a live 429 names them.
_QUOTAS: dict[str, tuple[str, str, str]] = {
    "per_minute": (
        "generativelanguage.googleapis.com/generate_requests_per_model",
        "GenerateRequestsPerMinutePerProjectPerModel",
        "2",
    ),
    "per_day": (
        "generativelanguage.googleapis.com/generate_requests_per_model_per_day",
        "GenerateRequestsPerDayPerProjectPerModel",
        "10",
    ),
}


def duration(seconds: float) -> str:
    """A google.protobuf.Duration in JSON: ``"57.238747106s"``, ``"2s"``."""
    return f"{seconds:.9f}".rstrip("0").rstrip(".") + "s"


def quota_error(scenario: Scenario, model: str) -> Reply:
    """A 429 as the live API sends it: no ``Retry-After``; the delay is in the body, twice."""
    metric, quota_id, limit = _QUOTAS[scenario.quota]
    delay = duration(scenario.retry_after)
    message = (
        "You exceeded your current quota, please check your plan and billing details. For "
        f"more information on this error, head to: {_RATE_LIMITS_URL}. To monitor your "
        "current usage, head to: https://ai.dev/usage?tab=rate-limit. \n"
        f"* Quota exceeded for metric: {metric}, limit: {limit}, model: {model}\n"
        f"Please retry in {delay}."
    )
    details: list[dict[str, Any]] = [
        {
            "@type": "type.googleapis.com/google.rpc.Help",
            "links": [
                {"description": "Learn more about Gemini API quotas", "url": _RATE_LIMITS_URL}
            ],
        },
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [
                {
                    "quotaMetric": metric,
                    "quotaId": quota_id,
                    "quotaDimensions": {"location": "global", "model": model},
                    "quotaValue": limit,
                }
            ],
        },
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay},
    ]
    return google_error(429, message, details=details)


def _failure(status: int, scenario: Scenario, model: str) -> Reply:
    """A Google error for a scripted failure."""
    return quota_error(scenario, model) if status == 429 else google_error(status)


class ApiAnswers:
    """Answers requests to the JSON API on the API origin."""

    def __init__(self, state: State) -> None:
        self._state = state

    def answer(self, method: str, path: str, query: str, headers: Headers, body: bytes) -> Reply:
        refused = authenticate(self._state, headers)
        if refused is not None:
            return refused
        path = unquote(path)
        if method == "POST" and (match := _SUBMIT_RE.fullmatch(path)):
            return self._submit(match.group(1), body)
        if method in ("GET", "HEAD") and (match := _FILE_RE.fullmatch(path)):
            return self._redirect(match.group(1), query, headers)
        if method == "GET" and (match := _OPERATION_RE.fullmatch(path)):
            return poll_reply(
                self._state,
                match.group(1),
                not_found=google_error(404),
                failure=_failure,
                response=self._response,
            )
        return google_error(404, f"Method not found: {method} {path}")

    def _submit(self, model: str, body: bytes) -> Reply:
        if model not in CURRENT_MODELS:
            return model_not_found(model)
        request = submit_request(
            body,
            undecodable="Invalid JSON payload received. Unexpected token.",
            dialect="gemini",
            video=self._video_problem,
        )
        if isinstance(request, Reply):
            return request
        scenario = self._state.choose(request.prompt)
        if scenario.submit_status is not None:
            return _failure(scenario.submit_status, scenario, model)
        state = start(self._state, model, request, scenario)
        logger.info("emulator: started %s", state.name)
        return json_reply(200, {"name": state.name})

    def _video_problem(self, uri: str) -> str | None:
        """Why the video at ``uri`` (a file URI this API answered) cannot be extended."""
        match = _FILE_RE.fullmatch(unquote(urlsplit(uri).path))
        with self._state.lock:
            state = self._state.files.get(match.group(1)) if match else None
        return video_problem(self._state, state, uri)

    def _response(self, state: OperationState) -> dict[str, Any]:
        result: dict[str, Any] = {}
        if state.has_video:
            api = self._state.bases.api
            result["generatedSamples"] = [
                {"video": {"uri": f"{api}/v1beta/files/{file_id}:download?alt=media"}}
                for file_id in state.file_ids
            ]
        if state.filtered:
            result["raiMediaFilteredCount"] = state.filtered
            result["raiMediaFilteredReasons"] = state.filter_reasons
        return {"@type": _RESPONSE_TYPE, "generateVideoResponse": result}

    def _redirect(self, file_id: str, query: str, headers: Headers) -> Reply:
        """The first download hop: a 302 to the media server, request headers echoed."""
        with self._state.lock:
            state = self._state.files.get(file_id)
            if state is None or not state.done or not state.has_video:
                return google_error(404)
            state.api_downloads += 1
            if parse_qs(query).get("alt") != ["media"]:
                return google_error(400, "Only alt=media is supported for file downloads.")
            scenario = state.scenario
            if scenario.download_status is not None:
                return _failure(scenario.download_status, scenario, state.model)
            sample = state.sample_of(file_id)
            if self._state.expired(state) or sample + 1 in scenario.failed_samples:
                return google_error(404)
            bases = self._state.bases
            if scenario.cross_origin:
                location = f"{bases.download}/files/{file_id}?token={state.token_of(sample)}"
            else:
                location = f"{bases.api}/download/v1beta/files/{file_id}:download?alt=media"
        return json_reply(
            302,
            {"error": {"code": 302, "message": "Unknown Error.", "status": "UNKNOWN"}},
            [("Location", location), *echoed(headers)],
        )
