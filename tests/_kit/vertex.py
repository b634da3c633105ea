"""Helpers for the Vertex AI tests: offline credentials, run-time secrets, wire bodies."""

from __future__ import annotations

import base64
import datetime
import hashlib
from collections.abc import Sequence
from typing import Any

import google.auth.credentials
import google_crc32c
from google.auth.transport import Request

from _kit.keys import make_token
from veo3_adapter import DEFAULT_MODEL

PROJECT = "my-proj"
LOCATION = "us-central1"
BUCKET = "my-bucket"
OP_UUID = "0f3c2b1a-1111-2222-3333-444455556666"
REGIONAL = "https://us-central1-aiplatform.googleapis.com"
EXPRESS = "https://aiplatform.googleapis.com"
STORAGE = "https://storage.googleapis.com"
OBJECT = "out/123/sample_0.mp4"
GCS_URI = f"gs://{BUCKET}/{OBJECT}"
OBJECT_URL = f"{STORAGE}/storage/v1/b/{BUCKET}/o/out%2F123%2Fsample_0.mp4"
RESPONSE_TYPE = "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse"


def utcnow() -> datetime.datetime:
    """Naive UTC, as google-auth compares expiry times."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


class FakeCredentials(google.auth.credentials.Credentials):
    """Offline credentials: each refresh mints a new token and counts itself."""

    def __init__(self, tokens: list[str] | None = None) -> None:
        super().__init__()
        self.refreshes = 0
        self._tokens = tokens

    def refresh(self, request: Request) -> None:
        self.refreshes += 1
        self.token = self._tokens.pop(0) if self._tokens else make_token()
        self.expiry = utcnow() + datetime.timedelta(hours=1)

    def expire(self) -> None:
        """Make the current token expired, as an hour later."""
        self.expiry = utcnow() - datetime.timedelta(seconds=1)


def model_path(model: str = DEFAULT_MODEL, project: str = PROJECT) -> str:
    return f"projects/{project}/locations/{LOCATION}/publishers/google/models/{model}"


def op_name(op_id: str = OP_UUID, model: str = DEFAULT_MODEL, project: str = PROJECT) -> str:
    return f"{model_path(model, project)}/operations/{op_id}"


def submit_url(base: str = REGIONAL, model: str = DEFAULT_MODEL) -> str:
    return f"{base}/v1beta1/{model_path(model)}:predictLongRunning"


def poll_url(base: str = REGIONAL, model: str = DEFAULT_MODEL, project: str = PROJECT) -> str:
    return f"{base}/v1beta1/{model_path(model, project)}:fetchPredictOperation"


def bucket_video(uri: str = GCS_URI) -> dict[str, str]:
    """A video the operation left in Cloud Storage."""
    return {"gcsUri": uri, "mimeType": "video/mp4"}


def inline_video(data: bytes) -> dict[str, str]:
    """A video sent in the operation itself."""
    return {"bytesBase64Encoded": base64.b64encode(data).decode(), "mimeType": "video/mp4"}


def operation_done(
    name: str, *videos: dict[str, str], filtered: Sequence[str] = ()
) -> dict[str, Any]:
    """Operation ``name``, done: its ``videos``, and the reasons of those the filters removed."""
    response: dict[str, Any] = {"@type": RESPONSE_TYPE, "raiMediaFilteredCount": len(filtered)}
    if filtered:
        response["raiMediaFilteredReasons"] = list(filtered)
    if videos:
        response["videos"] = list(videos)
    return {"name": name, "done": True, "response": response}


def done_bucket(name: str, uri: str = GCS_URI) -> dict[str, Any]:
    return operation_done(name, bucket_video(uri))


def done_inline(name: str, data: bytes) -> dict[str, Any]:
    return operation_done(name, inline_video(data))


def done_filtered(name: str, reasons: list[str]) -> dict[str, Any]:
    return operation_done(name, filtered=reasons)


def error_body(code: int, status: str, message: str, *details: dict[str, Any]) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = list(details)
    return {"error": error}


def error_info(reason: str, **metadata: str) -> dict[str, Any]:
    return {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": "googleapis.com",
        "metadata": metadata,
    }


def goog_hash(data: bytes) -> list[tuple[str, str]]:
    """``X-Goog-Hash`` as Cloud Storage sends it: crc32c and md5 on two header lines."""
    crc = base64.b64encode(google_crc32c.Checksum(data).digest()).decode()
    md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
    return [("x-goog-hash", f"crc32c={crc}"), ("x-goog-hash", f"md5={md5}")]
