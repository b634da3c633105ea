"""Veo on Vertex AI: google-genai in Vertex mode for submit and poll, our own download.

Two ways in: a project with Google Cloud credentials (Application Default Credentials
unless given; a bearer token on every request), or express mode with an API key (the key
in ``x-goog-api-key``, never a project or location, which would build a wrong URL). A
finished operation carries its video as a ``gs://`` object (when ``output_gcs_uri`` is
set) or inline, base64 in the answer. The object is streamed from the Cloud Storage JSON
API with the token sent to the storage origin only, inline bytes checked and written the
same atomic way (``_vertex_media``). The flows and error ladders shared with the Gemini
backend are in ``_backend``.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Unpack

from google import genai
from google.auth import credentials as ga_credentials
from google.auth import exceptions as ga_exceptions
from google.genai import errors as genai_errors
from google.genai import types

from ._backend import BackendSettings, Progress, SdkBackend
from ._http import tls_context
from ._operations import error_body
from ._refusal import vertex_submit_refusal
from ._secrets import Secret
from ._vertex_auth import VertexAuth
from ._vertex_media import VertexMedia
from ._vertex_wire import (
    AUTH_ERRORS,
    DEFAULT_LOCATION,
    DEFAULT_STORAGE_BASE_URL,
    LOCATION_RE,
    MODEL_RE,
    check_http_base,
    check_output_gcs_uri,
    default_base_url,
    operation_name_problem,
    poll_transient,
    submit_transient,
)
from .errors import (
    BatchStoppingError,
    ConfigurationError,
    DownloadError,
    PollError,
    SubmitError,
)
from .models import DEFAULT_MODEL
from .retry import Transient

__all__ = ["VertexVeo3Adapter"]

logger = logging.getLogger("veo3_adapter.vertex")


class VertexVeo3Adapter(SdkBackend[types.Video]):
    """Veo on Vertex AI through one ``httpx.Client`` that we control (satisfies the port).

    ``project`` + ``credentials`` (default: Application Default Credentials, loaded on first
    use) or ``api_key`` (express mode). ``base_url`` overrides the Vertex endpoint (an
    emulator, a private endpoint); ``storage_base_url`` the Cloud Storage JSON API. The
    other keywords (client, retries, timeouts, download limits, ``on_download_progress``)
    are those of every backend: :class:`~veo3_adapter._backend.BackendSettings`.
    """

    _name = "vertex"
    _service = "Vertex AI"
    _model_kind = "a Vertex AI model id"
    _credential = "credentials"
    _own_errors = AUTH_ERRORS  # google-auth's TransportError among them
    _log = logger

    def __init__(
        self,
        *,
        project: str | None = None,
        location: str = DEFAULT_LOCATION,
        credentials: ga_credentials.Credentials | None = None,
        api_key: str | Secret | None = None,
        model: str = DEFAULT_MODEL,
        output_gcs_uri: str | None = None,
        base_url: str | None = None,
        storage_base_url: str | None = None,
        **settings: Unpack[BackendSettings],
    ) -> None:
        # First of all, so that no frame of ours holds the key in the clear from here on.
        self._auth = VertexAuth(api_key, credentials, project)
        del api_key
        if self._auth.express and output_gcs_uri is not None:
            raise ConfigurationError(
                "output_gcs_uri needs project credentials to read the bucket; express "
                "mode (api_key) returns videos inline, so leave it unset"
            )
        if not LOCATION_RE.fullmatch(location):
            raise ConfigurationError(f"location {location!r} is not a Google Cloud location")
        self.location = None if self._auth.express else location
        self.output_gcs_uri = (
            check_output_gcs_uri(output_gcs_uri) if output_gcs_uri is not None else None
        )
        self._base_url = check_http_base(
            "base_url", base_url or default_base_url(self.location), self._auth.scrub
        )
        self._custom_base = base_url is not None
        self._storage_base = check_http_base(
            "storage_base_url", storage_base_url or DEFAULT_STORAGE_BASE_URL, self._auth.scrub
        )
        super().__init__(model, settings)
        self._media = VertexMedia(self._http, self._storage_base, self._download)
        self._lock = threading.Lock()
        self._genai: genai.Client | None = None
        if self._auth.loaded:
            self._genai = self._build_sdk()  # nothing to load: build it now, errors surface here

    @property
    def project(self) -> str | None:
        """The Google Cloud project (``None`` in express mode, or until ADC names it)."""
        return self._auth.project

    def __repr__(self) -> str:
        return (
            f"VertexVeo3Adapter(model={self.model!r}, project={self.project!r}, "
            f"location={self.location!r}, base_url={self._base_url!r})"
        )

    def describe(self) -> dict[str, Any]:
        """What this adapter talks to, for a report or a cassette: never a credential."""
        return {
            "backend": "vertex",
            "mode": "express" if self._auth.express else "project",
            "base_url": self._base_url,
            "storage_base_url": self._storage_base,
            "model": self.model,
            "project": self.project,
            "location": self.location,
            "output_gcs_uri": self.output_gcs_uri,
        }

    # -- the SDK and credentials -----------------------------------------------------------

    def _sdk(self) -> genai.Client:
        with self._lock:
            if self._genai is None:
                self._genai = self._build_sdk()
            return self._genai

    def _build_sdk(self) -> genai.Client:
        tls = tls_context()
        http_options = types.HttpOptions(
            base_url=self._base_url if self._custom_base else None,
            httpx_client=self._http,
            timeout=int(self._timeout * 1000),
            # Without a context of ours the SDK loads the CA bundle for clients it never uses.
            client_args={"verify": tls},
            async_client_args={"verify": tls, "ssl": tls},
        )
        try:
            if self._auth.key is not None:  # express: a project or location builds a bad URL
                return genai.Client(
                    vertexai=True, api_key=self._auth.key.reveal(), http_options=http_options
                )
            creds = self._auth.credentials()
            return genai.Client(
                vertexai=True,
                project=self.project,
                location=self.location,
                credentials=creds,
                http_options=http_options,
            )
        except ConfigurationError:
            raise
        except ValueError as exc:
            raise ConfigurationError(
                self._auth.scrub(f"google-genai refused the settings: {exc}")
            ) from None

    def _bearer(self, name: str) -> Secret:
        """``Bearer <token>`` for Cloud Storage, the token refreshed first when expired."""
        try:
            return self._auth.bearer()
        except AUTH_ERRORS as exc:
            raise DownloadError(
                f"download of operation {name} was not sent: {self._auth.problem(exc)}",
                operation_name=name,
            ) from None

    # -- what differs from the Gemini API --------------------------------------------------

    def _scrub(self, text: str) -> str:
        return self._auth.scrub(text)

    def _is_model(self, model: str) -> bool:
        return MODEL_RE.fullmatch(model) is not None

    def _output_gcs_uri(self) -> str | None:
        return self.output_gcs_uri

    def _operation_name_refusal(self, name: str) -> str:
        problem = operation_name_problem(name, location=self.location)
        return f"is refused: {problem}" if problem else ""

    def _submit_transient(self, exc: Exception) -> Transient | None:
        return submit_transient(exc)

    def _poll_transient(self, exc: Exception) -> Transient | None:
        return poll_transient(exc)

    def _refusal(self, what: str, model: str, exc: genai_errors.APIError) -> SubmitError:
        return vertex_submit_refusal(
            what,
            model,
            exc.code,
            self._described(exc),
            error_body(exc),
            project=self.project,
            express=self._auth.express,
        )

    def _submit_failure(self, exc: Exception, what: str, model: str) -> SubmitError:
        if isinstance(exc, ga_exceptions.TransportError):
            return SubmitError(f"{what}: {self._auth.problem(exc)}")
        return BatchStoppingError(f"{what} was not sent: {self._auth.problem(exc)}")

    def _poll_failure(self, exc: Exception, what: str, name: str) -> PollError:
        if isinstance(exc, ga_exceptions.TransportError):
            return PollError(
                f"{what} did not reach {self._service} ({type(exc).__name__})",
                operation_name=name,
            )
        # Not transient: the same credentials fail again.
        return PollError(
            f"{what} was not sent: {self._auth.problem(exc)}",
            operation_name=name,
            status_code=401,
        )

    def _usable(self, video: types.Video) -> bool:
        # A video sent inline has no URI to keep, only its bytes.
        return bool(video.uri or video.video_bytes)

    def _video(self, video: types.Video) -> types.Video:
        return video

    def _write(self, video: types.Video, dest: Path, name: str, progress: Progress | None) -> int:
        return self._media.write(
            video,
            dest,
            operation_name=name,
            bearer=None if self._auth.express else lambda: self._bearer(name),
            progress=progress,
        )
