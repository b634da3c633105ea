"""Vertex AI specifics that need no SDK client: names, URLs, ``gs://`` objects, credentials.

Operation names decide where a poll goes (the SDK derives the poll URL from the name, not
from the client), so a stored name is checked before it is sent. A ``gs://bucket/object``
video is read from the Cloud Storage JSON API with the object name as one path segment.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
from google.auth import credentials as ga_credentials
from google.auth import exceptions as ga_exceptions
from google.genai import types

from ._operations import poll_transient as _poll_transient
from ._operations import submit_transient as _submit_transient
from .errors import ConfigurationError
from .retry import Transient

__all__ = [
    "AUTH_ERRORS",
    "CLOUD_PLATFORM_SCOPE",
    "DEFAULT_LOCATION",
    "DEFAULT_STORAGE_BASE_URL",
    "EXPRESS_BASE_URL",
    "LOCATION_RE",
    "MODEL_RE",
    "PROJECT_RE",
    "check_http_base",
    "checked_key",
    "check_output_gcs_uri",
    "default_base_url",
    "first_video",
    "fresh_token",
    "load_default_credentials",
    "operation_name_problem",
    "parse_gs_uri",
    "poll_transient",
    "storage_media_url",
    "submit_transient",
]

DEFAULT_LOCATION = "us-central1"
DEFAULT_STORAGE_BASE_URL = "https://storage.googleapis.com"
EXPRESS_BASE_URL = "https://aiplatform.googleapis.com"
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
# The multi-region locations the SDK sends to aiplatform.{location}.rep.googleapis.com.
_MULTI_REGIONS = frozenset({"us", "eu"})

_PROJECT = r"[A-Za-z0-9](?:[A-Za-z0-9.:_-]{0,126}[A-Za-z0-9])?"  # ids, numbers, example.com:id
_LOCATION = r"[a-z][a-z0-9-]{0,62}"
_MODEL = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
_OPERATION_ID = r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}|[0-9]{1,32}"
PROJECT_RE = re.compile(_PROJECT)
LOCATION_RE = re.compile(_LOCATION)
MODEL_RE = re.compile(_MODEL)
_REGIONAL_NAME_RE = re.compile(
    rf"projects/{_PROJECT}/locations/(?P<location>{_LOCATION})"
    rf"/publishers/google/models/{_MODEL}/operations/(?:{_OPERATION_ID})"
)
_EXPRESS_NAME_RE = re.compile(rf"publishers/google/models/{_MODEL}/operations/(?:{_OPERATION_ID})")
# Cloud Storage bucket names: 3-222 characters, lower-case letters, digits, '-', '_', '.'.
_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")
_MAX_OBJECT_BYTES = 1024

AUTH_ERRORS: tuple[type[Exception], ...] = (
    ga_exceptions.GoogleAuthError,
    RuntimeError,  # the SDK's "Could not resolve API token from the environment"
    ConfigurationError,  # no project to be found
)
"""Credentials that could not be loaded or refreshed: the same ones fail the same way again."""


def checked_key(api_key: str) -> str:
    """``api_key`` if it can go into a header; else ``ConfigurationError`` (never quoting it)."""
    if not isinstance(api_key, str) or not api_key.strip():
        raise ConfigurationError("api_key is empty: pass a Vertex AI express mode key or omit it")
    if any(c.isspace() for c in api_key) or not (api_key.isprintable() and api_key.isascii()):
        raise ConfigurationError("api_key contains whitespace, control or non-ASCII characters")
    return api_key


def default_base_url(location: str | None) -> str:
    """The Vertex AI endpoint the SDK picks for ``location`` (``None``: express mode)."""
    if location is None or location == "global":
        return EXPRESS_BASE_URL
    if location in _MULTI_REGIONS:
        return f"https://aiplatform.{location}.rep.googleapis.com"
    return f"https://{location}-aiplatform.googleapis.com"


def check_http_base(name: str, value: str, scrub: Callable[[str], str]) -> str:
    """``value`` without a trailing slash; ``ConfigurationError`` (scrubbed) if no endpoint."""
    value = value.rstrip("/")
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as exc:
        raise ConfigurationError(scrub(f"{name} {value!r} is not a URL ({exc})")) from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError(scrub(f"{name} {value!r} must be an http(s) URL with a host"))
    if url.userinfo or url.query or url.fragment:
        raise ConfigurationError(f"{name} must not carry user info, a query string or a fragment")
    return value


def operation_name_problem(name: str, *, location: str | None) -> str:
    """Why ``name`` is not a Vertex Veo operation this adapter may poll ("" when it is).

    Regional names (``projects/<p>/locations/<l>/publishers/google/models/<m>/operations/
    <uuid or digits>``) must be of the adapter's ``location``: the endpoint is regional. In
    express mode (``location=None``) the shorter ``publishers/google/models/...`` form is
    accepted too. No ``..``, no escapes, no host: the name becomes the poll's URL path.
    """
    if ".." in name:
        return "it contains '..'"
    match = _REGIONAL_NAME_RE.fullmatch(name)
    if match is None:
        if location is None and _EXPRESS_NAME_RE.fullmatch(name):
            return ""
        return (
            "it is not a Vertex AI operation path (expected projects/<project>/locations/"
            "<location>/publishers/google/models/<model>/operations/<id>)"
        )
    if location is not None and match.group("location") != location:
        return (
            f"it belongs to location {match.group('location')!r}, not this adapter's "
            f"{location!r}; build the adapter with location={match.group('location')!r}"
        )
    return ""


def parse_gs_uri(uri: str) -> tuple[str, str]:
    """``(bucket, object)`` of ``gs://bucket/object``; ``ValueError`` saying why not."""
    if not uri.startswith("gs://"):
        raise ValueError("it is not a gs:// URI")
    bucket, _, name = uri[len("gs://") :].partition("/")
    if not _BUCKET_RE.fullmatch(bucket) or ".." in bucket:
        raise ValueError("its bucket is not a valid Cloud Storage bucket name")
    if not name or name in (".", ".."):
        raise ValueError("it names no object")
    if not name.isprintable() or len(name.encode("utf-8", "surrogatepass")) > _MAX_OBJECT_BYTES:
        raise ValueError("its object name holds control characters or is too long")
    return bucket, name


def check_output_gcs_uri(uri: str) -> str:
    """``uri`` if it is ``gs://bucket/`` or ``gs://bucket/prefix/``; else ``ConfigurationError``."""
    if not isinstance(uri, str) or not uri.startswith("gs://"):
        raise ConfigurationError(f"output_gcs_uri {uri!r} must start with gs://")
    bucket, _, prefix = uri[len("gs://") :].partition("/")
    if not _BUCKET_RE.fullmatch(bucket) or ".." in bucket:
        raise ConfigurationError(f"output_gcs_uri {uri!r} does not name a valid bucket")
    if (
        not prefix.isprintable()
        or "//" in prefix
        or any(part in (".", "..") for part in prefix.split("/"))
    ):
        raise ConfigurationError(f"output_gcs_uri {uri!r} has an unusable object prefix")
    return uri


def storage_media_url(storage_base: str, bucket: str, name: str) -> str:
    """The JSON API URL that serves the object's bytes (the whole name is one segment)."""
    return f"{storage_base}/storage/v1/b/{bucket}/o/{quote(name, safe='')}?alt=media"


def first_video(op: types.GenerateVideosOperation) -> types.Video | None:
    """The first generated video of a finished operation, if it has one."""
    result = op.result or op.response
    if not op.done or result is None or not result.generated_videos:
        return None
    return result.generated_videos[0].video


def load_default_credentials() -> tuple[ga_credentials.Credentials, str | None]:
    """Application Default Credentials and their project, as the SDK would load them."""
    import google.auth

    loaded: tuple[Any, Any] = google.auth.default(scopes=[CLOUD_PLATFORM_SCOPE])
    creds, project = loaded
    return creds, (str(project) if project else None)


def fresh_token(creds: ga_credentials.Credentials) -> str:
    """A valid access token of ``creds``, refreshed first when expired or missing.

    The refresh goes through google-auth's ``requests`` transport, as the SDK's does.
    """
    if not creds.valid:
        from google.auth.transport.requests import Request

        creds.refresh(Request())  # type: ignore[no-untyped-call]
    token: Any = creds.token
    if not isinstance(token, str) or not token:
        raise RuntimeError("the credentials gave no access token after a refresh")
    return token


def _auth_transient(exc: Exception) -> Transient | None:
    # A token refresh that did not reach the token endpoint sent nothing to Vertex either.
    if isinstance(exc, ga_exceptions.TransportError):
        return Transient(f"token refresh failed ({type(exc).__name__})")
    return None


def submit_transient(exc: Exception) -> Transient | None:
    """Gemini's submit rule (429, 503, no connection) plus a token refresh that broke off."""
    return _auth_transient(exc) or _submit_transient(exc)


def poll_transient(exc: Exception) -> Transient | None:
    """Gemini's poll rule (any transient status or broken link) plus a broken refresh."""
    return _auth_transient(exc) or _poll_transient(exc)
