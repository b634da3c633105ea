"""What ``recorded_veo3`` records from: the session's backend, where, with which credential.

- The Gemini API: the key in ``GEMINI_API_KEY`` (or ``GOOGLE_API_KEY``).
- Vertex AI with a project: Application Default Credentials, loaded and refreshed before the
  cassette opens, so the token exchange is never recorded; the project, region and output
  bucket from the plugin's options (or ``GOOGLE_CLOUD_PROJECT`` / ``GOOGLE_CLOUD_LOCATION``).
- Vertex AI express mode (no project): the key, as for the Gemini API.

The adapter is built through :mod:`veo3_adapter.compose`. The cassette records the backend
with the placeholders for the project and bucket (:mod:`veo3_adapter._placeholders`), and the
recorder replaces the real names with them, as the scenario recorder does. Against a server
on loopback (the emulator) Cloud Storage is read from that server too.

Also here: the command a miss suggests to re-record, and why a Gemini API cassette's submit
cannot be replayed on the installed google-genai.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ._backends import CassetteBackend
from ._options import GEMINI, VERTEX, Settings

if TYPE_CHECKING:
    import httpx
    from google.auth.credentials import Credentials

    from veo3_adapter import GeminiVeo3Adapter, VertexVeo3Adapter
    from veo3_adapter._placeholders import CloudNames
    from veo3_adapter._secrets import Secret

    from .cassette import VeoCassette

__all__ = [
    "Recording",
    "RecordingError",
    "gemini_submit_problem",
    "recording_for",
    "rerecord_hint",
    "session_backend",
]


class RecordingError(Exception):
    """This session cannot record (the message says why and what to do)."""


@dataclass(frozen=True, kw_only=True)
class Recording:
    """What a recording talks to, and what it must keep out of the cassette."""

    backend: CassetteBackend
    """As the cassette records it: placeholders instead of the project and bucket."""
    base_url: str
    """Where the API requests go (the backend's own endpoint unless a base URL was given)."""
    source: str
    key: Secret | None = field(default=None, repr=False)
    credentials: Credentials | None = field(default=None, repr=False)
    project: str | None = None
    output_gcs_uri: str | None = None
    secrets: tuple[Secret, ...] = field(default=(), repr=False)
    names: CloudNames | None = field(default=None, repr=False)

    def adapter(self, client: httpx.Client) -> GeminiVeo3Adapter | VertexVeo3Adapter:
        """The real adapter, talking through ``client`` (the cassette's)."""
        from veo3_adapter.compose import gemini_adapter, vertex_adapter

        if self.backend.name == GEMINI:
            assert self.key is not None
            return gemini_adapter(self.key, base_url=self.base_url, http_client=client)
        return vertex_adapter(
            project=self.project,
            location=self.backend.location,
            credentials=self.credentials,
            api_key=self.key,
            output_gcs_uri=self.output_gcs_uri,
            base_url=self.base_url,
            storage_base_url=self.backend.storage_base_url,
            http_client=client,
        )


def recording_for(settings: Settings) -> Recording:
    """The recording this session makes; :class:`RecordingError` when it cannot."""
    from veo3_adapter._secrets import Secret, env_secrets, key_from_env

    known = tuple(Secret(s) for s in env_secrets())  # every key in the environment
    source = f"server at {settings.base_url}" if settings.base_url else "live"
    if settings.backend == GEMINI:
        from veo3_adapter import DEFAULT_BASE_URL

        return Recording(
            backend=CassetteBackend(),
            base_url=settings.base_url or DEFAULT_BASE_URL,
            source=source,
            key=Secret(key_from_env()),
            secrets=known,
        )
    from veo3_adapter._vertex_wire import (
        DEFAULT_LOCATION,
        DEFAULT_STORAGE_BASE_URL,
        default_base_url,
    )

    from ._network import is_loopback_url

    # A server on this machine (the emulator) serves Cloud Storage on its own origin.
    local = bool(settings.base_url) and is_loopback_url(settings.base_url)
    storage = settings.base_url if local else DEFAULT_STORAGE_BASE_URL
    if settings.project is None:  # express mode: the key, no project, location or bucket
        return Recording(
            backend=CassetteBackend.vertex(express=True, storage_base_url=storage),
            base_url=settings.base_url or default_base_url(None),
            source=source,
            key=Secret(key_from_env()),
            secrets=known,
        )
    from veo3_adapter._placeholders import CloudNames

    location = settings.location or DEFAULT_LOCATION
    bucket, prefix = _bucket_and_prefix(settings.output_gcs_uri)
    credentials, token = _default_credentials(known)
    return Recording(
        backend=CassetteBackend.vertex(location=location, prefix=prefix, storage_base_url=storage),
        base_url=settings.base_url or default_base_url(location),
        source=source,
        credentials=credentials,
        project=settings.project,
        output_gcs_uri=settings.output_gcs_uri,
        secrets=(*known, token),
        names=CloudNames(projects=(settings.project,), buckets=(bucket,) if bucket else ()),
    )


def _bucket_and_prefix(uri: str | None) -> tuple[str | None, str | None]:
    """``gs://bucket/renders/`` -> (``bucket``, ``renders/``); no URI -> (None, None)."""
    if uri is None:
        return None, None
    bucket, _slash, prefix = uri.removeprefix("gs://").partition("/")
    return bucket, prefix


def _default_credentials(known: tuple[Secret, ...]) -> tuple[Credentials, Secret]:
    """Application Default Credentials with a fresh token, refreshed now: before the cassette
    opens, so no token exchange can be recorded (the token hosts are never recorded either)."""
    from google.auth import exceptions

    from veo3_adapter._secrets import Secret, redact
    from veo3_adapter._vertex_wire import fresh_token, load_default_credentials

    try:
        credentials, _project = load_default_credentials()
        token = fresh_token(credentials)
    except (exceptions.GoogleAuthError, RuntimeError) as exc:
        detail = " ".join(redact(str(exc), known).split())[:300]
        raise RecordingError(
            "veo3: recording from Vertex AI with a project uses Application Default "
            f"Credentials, and none could be used ({type(exc).__name__}: {detail}); run "
            "`gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS"
        ) from None
    return credentials, Secret(token)


def rerecord_hint(nodeid: str, flag: str, backend: CassetteBackend, settings: Settings) -> str:
    """The command that records this test's cassette from ``backend``, naming the variables
    that backend needs: the key (the Gemini API, express mode) or the project."""
    if backend.name == GEMINI or backend.express:
        needs = "GEMINI_API_KEY=... "
    elif settings.project is None:
        needs = "GOOGLE_CLOUD_PROJECT=... "  # credentials: Application Default Credentials
    else:
        needs = ""
    other = "" if backend.name == settings.backend else f" --veo3-backend={backend.name}"
    return f"{needs}pytest '{nodeid}' --veo3-record-mode={flag}{other}"


def session_backend(settings: Settings, key: Callable[[], str]) -> CassetteBackend:
    """The backend a recording of this session would record (for a hint: no credential
    is loaded)."""
    if settings.backend == GEMINI:
        return CassetteBackend()
    return CassetteBackend.vertex(express=settings.project is None and bool(key()))


def gemini_submit_problem(cassette: VeoCassette, name: str) -> str:
    """Why the Gemini API cassette ``name`` cannot be replayed whole on the installed
    google-genai ("" when it can): 3.x does not submit to the Gemini API, so a recorded
    submit is never asked for (its polls and downloads still replay). A built-in names its
    Vertex AI twin (``vertex_<name>``) when there is one, anything else every Vertex AI
    built-in."""
    from veo3_adapter import _sdk

    from ._compose import is_submit
    from .scenarios import SCENARIO_CASSETTES

    if cassette.backend.name != GEMINI or _sdk.gemini_submits_video():
        return ""
    if not any(is_submit(r.method, r.uri) for r in cassette.cassette.requests):
        return ""
    twin = f"vertex_{name}"
    if twin in SCENARIO_CASSETTES:  # a built-in recorded from the same scenario
        vertex = f"its twin {twin}, another built-in vertex_* one"
    else:
        vertex = ", ".join(n for n, spec in SCENARIO_CASSETTES.items() if spec.backend == VERTEX)
    return (
        f"veo3: {name} is a Gemini API cassette and google-genai {_sdk.sdk_version()} cannot "
        "submit to the Gemini API, so its recorded submit can never be replayed: replay a "
        f"Vertex AI cassette ({vertex}, or one recorded with --veo3-backend=vertex) or "
        "install google-genai<3"
    )
