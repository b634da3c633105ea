"""Helpers for the emulator's tests (imported by conftest and test modules alike)."""

from __future__ import annotations

from typing import Any

import httpx
from google import genai
from google.genai import errors, types

from _kit.sdk import GEMINI_SUBMITS, WireSubmit, gemini_wire
from veo3_adapter import ErrorCode, JobStatus
from veo3_adapter.emulator import Emulator

MODEL = "veo-3.1-generate-001"
"""A current model id, named here so that no test depends on the adapter's default."""

REFUSING = ("quota_exhausted_daily",)
"""Scenarios that refuse every submit: run alone, since such an error may stop a whole batch."""
EXPECTED: dict[str, tuple[JobStatus, str]] = {
    "success": (JobStatus.DOWNLOADED, ""),
    "rai_filtered": (JobStatus.FAILED, ErrorCode.RAI_FILTERED.value),
    "operation_error": (JobStatus.FAILED, ErrorCode.GENERATION_FAILED.value),
    "download_not_found": (JobStatus.FAILED, ErrorCode.DOWNLOAD_FAILED.value),
    "download_forbidden": (JobStatus.FAILED, ErrorCode.DOWNLOAD_FAILED.value),
    "download_server_error": (JobStatus.DOWNLOADED, ""),
    "rate_limited": (JobStatus.DOWNLOADED, ""),
    "truncated_download": (JobStatus.DOWNLOADED, ""),
    "expired": (JobStatus.FAILED, ErrorCode.DOWNLOAD_FAILED.value),
    "slow_download": (JobStatus.DOWNLOADED, ""),
    "dropped_connection": (JobStatus.DOWNLOADED, ""),
    "cross_origin_redirect": (JobStatus.DOWNLOADED, ""),
    "ranged_download": (JobStatus.DOWNLOADED, ""),
}
"""What each other named scenario ends as, on either backend: (status, error code or "")."""


def variant_of(name: str) -> str:
    """The variant that runs scenario ``name`` in an orchestrated run of every scenario."""
    return name.replace("_", "-")


class Api:
    """Raw wire calls on an ``httpx.Client``, for tests that check bytes, not the SDK."""

    def __init__(self, http: httpx.Client, emulator: Emulator, key: str) -> None:
        self.http = http
        self.emulator = emulator
        self.key = key

    @property
    def auth(self) -> dict[str, str]:
        return {"x-goog-api-key": self.key}

    def submit(self, prompt: str = "a cat", model: str = MODEL) -> httpx.Response:
        return self.http.post(
            f"{self.emulator.api_base}/v1beta/models/{model}:predictLongRunning",
            json={"instances": [{"prompt": prompt}], "parameters": {"sampleCount": 1}},
            headers=self.auth,
        )

    def poll(self, name: str) -> httpx.Response:
        return self.http.get(f"{self.emulator.api_base}/v1beta/{name}", headers=self.auth)

    def finish(self, prompt: str = "a cat") -> tuple[str, dict[str, Any]]:
        """Submit and poll until done (at most 20 polls); return the name and last body."""
        response = self.submit(prompt)
        assert response.status_code == 200, response.text
        name = response.json()["name"]
        for _ in range(20):
            polled = self.poll(name)
            if polled.status_code == 200 and polled.json().get("done"):
                return name, polled.json()
        raise AssertionError(f"{name} never finished")

    def video_uri(self, prompt: str = "a cat") -> str:
        _, body = self.finish(prompt)
        uri = body["response"]["generateVideoResponse"]["generatedSamples"][0]["video"]["uri"]
        assert isinstance(uri, str)
        return uri

    def location(self, prompt: str = "a cat") -> str:
        """The media server's URL that the video URI redirects to."""
        response = self.http.get(self.video_uri(prompt), headers=self.auth)
        assert response.status_code == 302, response.text
        return response.headers["location"]

    def media(self, url: str | httpx.URL, **headers: str) -> httpx.Response:
        """GET from the media server on the API origin, with the key (as the live flow wants)."""
        return self.http.get(url, headers={**self.auth, **headers})


def sdk_client(key: str, base_url: str, http: httpx.Client) -> genai.Client:
    return genai.Client(
        api_key=key,
        vertexai=False,
        http_options=types.HttpOptions(base_url=base_url, api_version="v1beta", httpx_client=http),
    )


def emulator_wire(emulator: Emulator, key: str) -> WireSubmit:
    """``gemini_wire`` on ``emulator``: in-process, whether or not it also serves on sockets."""

    def submit(prompt: str, model: str) -> str | None:
        with httpx.Client(transport=emulator.transport()) as http:
            return gemini_wire(http, lambda: emulator.api_base, key)(prompt, model)

    return submit


def generate_videos(
    sdk: genai.Client, api: Api, prompt: str = "a cat", model: str = MODEL
) -> types.GenerateVideosOperation:
    """``sdk.models.generate_videos`` where the installed google-genai submits to the Gemini
    API (2.x). On 3.x the same request goes through ``api`` and the SDK judges the answer
    with its own parsers: ``APIError.raise_for_response``, then the operation's converter."""
    if GEMINI_SUBMITS:
        return sdk.models.generate_videos(
            model=model, source=types.GenerateVideosSource(prompt=prompt)
        )
    response = api.submit(prompt, model)
    errors.APIError.raise_for_response(response)
    return types.GenerateVideosOperation.from_api_response(response.json())
