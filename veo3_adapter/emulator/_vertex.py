"""Vertex AI on the emulator's API origin: the Veo routes and a Cloud Storage media route.

As google-genai sends them in Vertex mode (``api_version`` ``v1beta1``):

- regional: ``POST /v1beta1/projects/{p}/locations/{l}/publishers/google/models/{m}:
  predictLongRunning`` and ``...:fetchPredictOperation`` (body ``{"operationName": ...}``),
  with ``Authorization: Bearer <token>``;
- express mode: ``POST /v1beta1/publishers/google/models/{m}:predictLongRunning`` (and
  ``:fetchPredictOperation``) with the key in ``x-goog-api-key``; its operations are named
  under project :data:`EXPRESS_PROJECT`, so they are polled on the regional path, key again;
- Cloud Storage JSON API: ``GET /storage/v1/b/{bucket}/o/{object}?alt=media`` (the object
  name percent-encoded as one segment), bearer token only; ``X-Goog-Hash`` carries crc32c
  and md5, as two header lines.

A submit whose ``parameters.storageUri`` is ``gs://bucket/prefix/`` finishes with
``videos: [{"gcsUri": "gs://bucket/prefix/<n>/sample_0.mp4"}]`` (``sample_1.mp4`` and on for
a ``sampleCount`` above 1), served by the storage route; without it the videos come inline
(``bytesBase64Encoded``). Scenarios mean what they
mean on the Gemini API; the download ones act on the storage route (``cross_origin`` there
is a 302 to the second origin, where neither the key nor the token may follow).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import uuid
from typing import Any
from urllib.parse import parse_qs, unquote

from ._auth import authenticate
from ._body import iter_video
from ._lifecycle import Headers, poll_reply, start, submit_request, video_problem
from ._media import MediaAnswers
from ._models import CURRENT_MODELS
from ._scenario import Scenario
from ._state import OperationState, State
from ._wire import API_KEY_HEADER, MEDIA_SERVER, KeyLeak, Reply, Side, google_error, json_reply

__all__ = ["EXPRESS_PROJECT", "RESPONSE_TYPE", "STORAGE_PREFIX", "VERTEX_PREFIX", "VertexAnswers"]

VERTEX_PREFIX = "/v1beta1/"
STORAGE_PREFIX = "/storage/v1/b/"
EXPRESS_PROJECT = "100000000001"
"""The project number express-mode operations are named under (the key's project)."""
EXPRESS_LOCATION = "us-central1"
RESPONSE_TYPE = "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse"

_ROUTE_RE = re.compile(
    r"/v1beta1/(?:projects/(?P<project>[^/]+)/locations/(?P<location>[a-z0-9-]+)/)?"
    r"publishers/google/models/(?P<model>[^/:]+):(?P<verb>predictLongRunning|fetchPredictOperation)"
)
_OBJECT_RE = re.compile(r"/storage/v1/b/([^/]+)/o/([^/]+)")  # on the path as sent (quoted)
_GS_RE = re.compile(r"gs://([a-z0-9][a-z0-9._-]{1,220}[a-z0-9])(?:/(.*))?")
_MIN_TOKEN_LENGTH_TO_SCAN = 8
_MISSING_CREDENTIALS = (
    "Request is missing required authentication credential. Expected OAuth 2 access token, "
    "login cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)
_QUOTA_URL = "https://cloud.google.com/vertex-ai/docs/generative-ai/quotas-genai"


class VertexAnswers:
    """Answers the Vertex AI and Cloud Storage paths on the API origin.

    ``token`` is the bearer token accepted (``None``: any non-empty one); the express-mode
    key is the emulator's API key, checked as on the Gemini API.
    """

    def __init__(self, state: State, media: MediaAnswers, token: str | None) -> None:
        self._state = state
        self._media = media
        self._token = token
        self._seen_tokens: set[str] = set()
        # (bucket, object) -> the operation and which of its videos the object is
        self._objects: dict[tuple[str, str], tuple[OperationState, int]] = {}
        self._gcs: dict[str, list[str]] = {}  # operation name -> its videos' gs:// URIs
        self._md5: dict[tuple[str, int], str] = {}

    @staticmethod
    def serves(path: str) -> bool:
        """Whether ``path`` (on the API origin) is a Vertex AI or Cloud Storage path."""
        return path.startswith((VERTEX_PREFIX, STORAGE_PREFIX))

    @staticmethod
    def side(path: str) -> Side:
        """The server that answers ``path``: Cloud Storage counts as the media server."""
        return Side.DOWNLOAD if path.startswith(STORAGE_PREFIX) else Side.API

    def answer(self, method: str, path: str, query: str, headers: Headers, body: bytes) -> Reply:
        if path.startswith(STORAGE_PREFIX):
            return self._storage(method, path, query, headers)
        route = _ROUTE_RE.fullmatch(unquote(path))
        express = route is not None and route.group("project") is None
        refused = self._authenticate(headers, express=express)
        if refused is not None:
            return refused
        if route is None or method != "POST":
            return google_error(404, f"Method not found: {method} {unquote(path)}")
        if express:
            scope = f"projects/{EXPRESS_PROJECT}/locations/{EXPRESS_LOCATION}"
            resource = f"publishers/google/models/{route['model']}"
        else:
            scope = f"projects/{route['project']}/locations/{route['location']}"
            resource = f"{scope}/publishers/google/models/{route['model']}"
        if route["verb"] == "predictLongRunning":
            return self._submit(scope, route["model"], body)
        return self._fetch(resource, body)

    # -- credentials -----------------------------------------------------------------------

    def _authenticate(self, headers: Headers, *, express: bool) -> Reply | None:
        if express or any(name.lower() == API_KEY_HEADER for name, _ in headers):
            return authenticate(self._state, headers)
        token = _bearer(headers)
        if not token:
            return google_error(401, _MISSING_CREDENTIALS, details=[_info("CREDENTIALS_MISSING")])
        if self._token is not None and not hmac.compare_digest(
            token.encode(), self._token.encode()
        ):
            return google_error(401, details=[_info("ACCESS_TOKEN_TYPE_UNSUPPORTED")])
        with self._state.lock:
            self._seen_tokens.add(token)
        return None

    def find_token(self, target: str, headers: Headers) -> str | None:
        """Where a request to the second origin carries a bearer token, or ``None``."""
        with self._state.lock:
            tokens = set(self._seen_tokens) | ({self._token} if self._token else set())
        tokens = {t for t in tokens if len(t) >= _MIN_TOKEN_LENGTH_TO_SCAN}
        for name, value in headers:
            if name.lower() == "authorization" or any(t in value for t in tokens):
                return f"header {name.lower()}"
        if any(t in target or t in unquote(target) for t in tokens):
            return "url"
        return None

    # -- Vertex AI -------------------------------------------------------------------------

    def _submit(self, scope: str, model: str, body: bytes) -> Reply:
        if model not in CURRENT_MODELS:
            return google_error(
                404,
                f"Publisher Model `{scope}/publishers/google/models/{model}` was not found or "
                "your project does not have access to it. Please ensure you are using a valid "
                "model version. For more information, see: "
                "https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions",
            )
        request = submit_request(
            body,
            undecodable="Invalid JSON payload received. Expected an object.",
            dialect="vertex",
            video=self._video_problem,
        )
        if isinstance(request, Reply):
            return request
        storage = request.parameters.get("storageUri")
        target = _GS_RE.fullmatch(storage) if isinstance(storage, str) else None
        if storage is not None and target is None:
            return google_error(400, f"storageUri {storage!r} is not a valid gs:// URI.")
        scenario = self._state.choose(request.prompt)
        if scenario.submit_status is not None:
            resource = f"{scope}/publishers/google/models/{model}"
            return self._failure(scenario.submit_status, scenario, resource, model)
        with self._state.lock:
            op_id = uuid.UUID(int=self._state.random.getrandbits(128), version=4)
            name = f"{scope}/publishers/google/models/{model}/operations/{op_id}"
            state = start(self._state, model, request, scenario, name)
            if target is not None:
                prefix = (target.group(2) or "").rstrip("/")
                folder = self._state.random.randrange(10**18, 10**19)
                folder_path = f"{prefix}/{folder}" if prefix else f"{folder}"
                for sample in range(max(state.videos, 1)):
                    obj = f"{folder_path}/sample_{sample}.mp4"
                    self._objects[(target.group(1), obj)] = (state, sample)
                    self._gcs.setdefault(name, []).append(f"gs://{target.group(1)}/{obj}")
        return json_reply(200, {"name": name})

    def _video_problem(self, gcs_uri: str) -> str | None:
        """Why the object ``gcs_uri`` (a video this emulator wrote) cannot be extended."""
        match = _GS_RE.fullmatch(gcs_uri)
        with self._state.lock:
            found = self._objects.get((match.group(1), match.group(2) or "")) if match else None
        return video_problem(self._state, found[0] if found else None, gcs_uri)

    def _fetch(self, resource: str, body: bytes) -> Reply:
        payload = _json_object(body)
        name = payload.get("operationName") if payload is not None else None
        if not isinstance(name, str) or not name.startswith(f"{resource}/operations/"):
            return google_error(400, "operationName must name an operation of this model.")
        return poll_reply(
            self._state,
            name,
            not_found=google_error(404, f"Operation {name} not found."),
            failure=lambda status, scenario, model: self._failure(
                status, scenario, resource, model
            ),
            response=self._response,
        )

    def _response(self, state: OperationState) -> dict[str, Any]:
        response: dict[str, Any] = {"@type": RESPONSE_TYPE, "raiMediaFilteredCount": state.filtered}
        if state.filtered:
            response["raiMediaFilteredReasons"] = state.filter_reasons
        if state.has_video and state.name in self._gcs:
            uris = self._gcs[state.name][: state.videos]
            response["videos"] = [{"gcsUri": uri, "mimeType": "video/mp4"} for uri in uris]
        elif state.has_video:
            size, chunk = state.scenario.size, state.scenario.chunk_size
            response["videos"] = [
                {
                    "bytesBase64Encoded": base64.b64encode(
                        b"".join(iter_video(size, state.seed_of(sample), chunk))
                    ).decode("ascii"),
                    "mimeType": "video/mp4",
                }
                for sample in range(state.videos)
            ]
        return response

    def _failure(self, status: int, scenario: Scenario, resource: str, model: str) -> Reply:
        """A scripted refusal of a request about ``resource`` (the model's path), as Vertex
        AI words it."""
        if status == 403:
            permission = "aiplatform.endpoints.predict"
            return google_error(
                403,
                f"Permission '{permission}' denied on resource "
                f"'//aiplatform.googleapis.com/{resource}' (or it may not exist).",
                details=[
                    _info(
                        "IAM_PERMISSION_DENIED",
                        {"permission": permission, "resource": resource},
                    )
                ],
            )
        if status == 429:
            per = "Day" if scenario.quota == "per_day" else "Minute"
            return google_error(
                429,
                "Quota exceeded for aiplatform.googleapis.com/"
                f"online_prediction_requests_per_base_model with base model: {model}. "
                f"Please submit a quota increase request. {_QUOTA_URL}.",
                details=[
                    _info(
                        "RATE_LIMIT_EXCEEDED",
                        {
                            "quota_metric": "aiplatform.googleapis.com/"
                            "online_prediction_requests_per_base_model",
                            "quota_limit": f"OnlinePredictionRequestsPer{per}PerBaseModel",
                            "service": "aiplatform.googleapis.com",
                        },
                    )
                ],
            )
        return google_error(status)

    # -- Cloud Storage ---------------------------------------------------------------------

    def _storage(self, method: str, path: str, query: str, headers: Headers) -> Reply:
        if any(name.lower() == API_KEY_HEADER for name, _ in headers):
            with self._state.lock:
                self._state.key_leaks.append(
                    KeyLeak(method, unquote(path), f"header {API_KEY_HEADER}")
                )
            return _storage_error(400, "Cloud Storage takes no API key here.", "invalid")
        token = _bearer(headers)
        if not token:
            return _storage_error(
                401,
                "Anonymous caller does not have storage.objects.get access to the Google "
                "Cloud Storage object.",
                "required",
            )
        if self._token is not None and not hmac.compare_digest(
            token.encode(), self._token.encode()
        ):
            return _storage_error(401, "Invalid Credentials", "authError")
        match = _OBJECT_RE.fullmatch(path)
        if match is None:
            return _storage_error(404, "Not Found", "notFound")
        if method not in ("GET", "HEAD"):
            return _storage_error(405, "Method Not Allowed", "methodNotAllowed")
        bucket, obj = unquote(match.group(1)), unquote(match.group(2))
        missing = _storage_error(404, f"No such object: {bucket}/{obj}", "notFound")
        with self._state.lock:
            self._seen_tokens.add(token)
            state, sample = self._objects.get((bucket, obj)) or (None, 0)
            if state is None or not state.done or not state.has_video:
                return missing
            state.media_requests += 1
            if self._state.expired(state) or sample + 1 in state.scenario.failed_samples:
                return missing
            scenario = state.scenario
            if parse_qs(query).get("alt") != ["media"]:
                return json_reply(200, self._metadata(state, sample, bucket, obj))
            if scenario.download_status is not None:
                return _storage_error(scenario.download_status, "Scripted failure.", "scripted")
            failures = scenario.download_failures
            if state.media_failures_served < len(failures):
                status = failures[state.media_failures_served]
                state.media_failures_served += 1
                wait = str(math.ceil(scenario.retry_after))
                retry = [("Retry-After", wait)] if status in (429, 503) else []
                return _storage_error(status, "Scripted failure.", "backendError", retry)
            if scenario.cross_origin:
                file_id, token = state.file_ids[sample], state.token_of(sample)
                location = f"{self._state.bases.download}/files/{file_id}?token={token}"
                return Reply(302, [("Location", location), ("Content-Length", "0"), MEDIA_SERVER])
            reply = self._media._video(state, method, headers, sample)
            extra = [
                ("X-Goog-Hash", f"md5={self._md5_of(state, sample)}"),
                ("X-Goog-Generation", str(int(state.token_of(sample)[:13], 16))),
                ("X-Goog-Metageneration", "1"),
                ("X-Goog-Stored-Content-Encoding", "identity"),
                ("X-Goog-Stored-Content-Length", str(scenario.size)),
                ("X-Goog-Storage-Class", "STANDARD"),
            ]
        at = next(i for i, (name, _) in enumerate(reply.headers) if name == "X-Goog-Hash") + 1
        reply.headers[at:at] = extra
        return reply

    def _md5_of(self, state: OperationState, sample: int) -> str:
        with self._state.lock:
            cached = self._md5.get((state.name, sample))
            if cached is None:
                digest = hashlib.md5(usedforsecurity=False)
                scenario = state.scenario
                for chunk in iter_video(scenario.size, state.seed_of(sample), scenario.chunk_size):
                    digest.update(chunk)
                cached = base64.b64encode(digest.digest()).decode()
                self._md5[(state.name, sample)] = cached
            return cached

    def _metadata(
        self, state: OperationState, sample: int, bucket: str, obj: str
    ) -> dict[str, Any]:
        crc = self._state.video_hash(state, sample).removeprefix("crc32c=")
        return {
            "kind": "storage#object",
            "bucket": bucket,
            "name": obj,
            "contentType": "video/mp4",
            "size": str(state.scenario.size),
            "crc32c": crc,
            "md5Hash": self._md5_of(state, sample),
        }


def _bearer(headers: Headers) -> str:
    values = [value for name, value in headers if name.lower() == "authorization"]
    scheme, _, token = (values[-1] if values else "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _info(reason: str, metadata: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": "googleapis.com",
        "metadata": {"service": "aiplatform.googleapis.com", **(metadata or {})},
    }


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        payload = json.loads(body or b"null")
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _storage_error(status: int, message: str, reason: str, extra: Headers = ()) -> Reply:
    """An error of the Cloud Storage JSON API (``errors`` list, no ``status`` name)."""
    error = {
        "code": status,
        "message": message,
        "errors": [{"message": message, "domain": "global", "reason": reason}],
    }
    data = json.dumps({"error": error}, indent=2).encode()
    headers = [
        ("Content-Type", "application/json; charset=UTF-8"),
        ("Content-Length", str(len(data))),
        *extra,
        MEDIA_SERVER,
    ]
    return Reply(status, headers, [data])
