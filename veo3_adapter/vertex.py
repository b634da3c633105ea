"""Veo on Vertex AI: google-genai in Vertex mode for submit and poll, our own download.

Two ways in: a project with Google Cloud credentials (Application Default Credentials
unless given; a bearer token on every request), or express mode with an API key (the key
in ``x-goog-api-key``, never a project or location, which would build a wrong URL). A
finished operation carries its video as a ``gs://`` object (when ``output_gcs_uri`` is
set) or inline, base64 in the answer. The object is streamed from the Cloud Storage JSON
API with the token sent to the storage origin only, inline bytes checked and written the
same atomic way (``_vertex_media``).
"""

from __future__ import annotations

import dataclasses
import logging
import random
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
from google import genai
from google.auth import credentials as ga_credentials
from google.auth import exceptions as ga_exceptions
from google.genai import errors as genai_errors
from google.genai import types

from . import clock as _clock
from ._http import new_client, tls_context
from ._operations import error_body, map_operation, poll_mapped, submitted_job
from ._refusal import vertex_submit_refusal
from ._secrets import Secret
from ._vertex_auth import VertexAuth
from ._vertex_media import VertexMedia, variant_progress
from ._vertex_wire import (
    AUTH_ERRORS,
    DEFAULT_LOCATION,
    DEFAULT_STORAGE_BASE_URL,
    LOCATION_RE,
    MODEL_RE,
    check_http_base,
    check_output_gcs_uri,
    default_base_url,
    describe_api_error,
    first_video,
    operation_name_problem,
    poll_transient,
    submit_transient,
)
from .download import DEFAULT_DOWNLOAD_DEADLINE, DEFAULT_MAX_CLIP_BYTES
from .errors import (
    BatchStoppingError,
    ConfigurationError,
    DownloadError,
    InvalidOperationNameError,
    PollError,
    SubmitError,
    Veo3GenerationError,
)
from .models import DEFAULT_MODEL, GenerationOptions, JobStatus, Veo3Job
from .retry import RetryPolicy, Transient, retrying

__all__ = ["VertexVeo3Adapter"]

logger = logging.getLogger("veo3_adapter.vertex")

T = TypeVar("T")


class VertexVeo3Adapter:
    """Veo on Vertex AI through one ``httpx.Client`` that we control (satisfies the port).

    ``project`` + ``credentials`` (default: Application Default Credentials, loaded on first
    use) or ``api_key`` (express mode). ``base_url`` overrides the Vertex endpoint (an
    emulator, a private endpoint); ``storage_base_url`` the Cloud Storage JSON API.
    ``on_download_progress(variant, bytes_so_far, total_or_None)`` watches each download.
    """

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
        http_client: httpx.Client | None = None,
        sleep: Callable[[float], None] = _clock.sleep,
        options: GenerationOptions | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
        max_redirects: int = 5,
        max_clip_bytes: int = DEFAULT_MAX_CLIP_BYTES,
        download_deadline: float = DEFAULT_DOWNLOAD_DEADLINE,
        rand: Callable[[], float] = random.random,
        on_download_progress: Callable[[str, int, int | None], None] | None = None,
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
        if http_client is not None and http_client.follow_redirects:
            raise ConfigurationError(
                "http_client follows redirects, which would send credentials to whatever "
                "host a redirect names; build it with follow_redirects=False"
            )
        if not MODEL_RE.fullmatch(model):
            raise ConfigurationError(f"model {ascii(model)} is not a Vertex AI model id")
        self.model = model
        self.options = GenerationOptions(model=model).merged(options)
        self._owns_client = http_client is None
        self._http = http_client or new_client(timeout)
        self._timeout = timeout
        self._sleep = sleep
        self._rand = rand
        self._retry = retry or RetryPolicy()
        self._on_download_progress = on_download_progress
        self._media = VertexMedia(
            self._http,
            self._storage_base,
            retry=self._retry,
            sleep=sleep,
            rand=rand,
            max_redirects=max_redirects,
            max_clip_bytes=max_clip_bytes,
            download_deadline=download_deadline,
        )
        self._lock = threading.Lock()
        self._sdk: genai.Client | None = None
        if self._auth.loaded:
            self._sdk = self._build_sdk()  # nothing to load: build it now, errors surface here

    @property
    def project(self) -> str | None:
        """The Google Cloud project (``None`` in express mode, or until ADC names it)."""
        return self._auth.project

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP client if this adapter created it."""
        if self._owns_client:
            self._http.close()

    def __enter__(self) -> VertexVeo3Adapter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

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

    # -- the port --------------------------------------------------------------------------

    def submit_job(
        self, variant: str, prompt: str, options: GenerationOptions | None = None
    ) -> Veo3Job:
        """Start generating ``prompt``; the returned job carries ``operation.name``."""
        opts = self.options.merged(options)
        model = opts.model or self.model
        what = f"submit of variant {variant!r}"
        if not MODEL_RE.fullmatch(model):
            # The id goes into the request path: "a/../b" would send it somewhere else.
            raise SubmitError(
                f"{what}: model {ascii(model)} is not a Vertex AI model id; nothing was sent"
            )

        def call() -> types.GenerateVideosOperation:
            # Built inside the try below, so invalid options become a SubmitError.
            config = types.GenerateVideosConfig(
                number_of_videos=1,
                aspect_ratio=opts.aspect_ratio,
                resolution=opts.resolution,
                duration_seconds=opts.duration_seconds,
                negative_prompt=opts.negative_prompt,
                person_generation=opts.person_generation,
                enhance_prompt=opts.enhance_prompt,
                output_gcs_uri=self.output_gcs_uri,
            )
            return self._client().models.generate_videos(
                model=model, source=types.GenerateVideosSource(prompt=prompt), config=config
            )

        try:
            operation = self._retrying(call, what, submit_transient)
        except genai_errors.APIError as exc:
            # from None: the SDK error's text is the raw answer, which may echo a credential.
            raise vertex_submit_refusal(
                what,
                model,
                exc.code,
                self._auth.scrub(describe_api_error(exc)),
                error_body(exc),
                project=self.project,
                express=self._auth.express,
            ) from None
        except httpx.TransportError as exc:
            raise SubmitError(f"{what} did not reach Vertex AI ({type(exc).__name__})") from exc
        except ga_exceptions.TransportError as exc:
            raise SubmitError(f"{what}: {self._auth.problem(exc)}") from None
        except AUTH_ERRORS as exc:
            raise BatchStoppingError(f"{what} was not sent: {self._auth.problem(exc)}") from None
        except (ValueError, TypeError) as exc:  # pydantic validation of the options
            raise SubmitError(f"{what}: invalid request: {self._auth.scrub(str(exc))}") from exc
        return submitted_job(
            variant,
            prompt,
            dataclasses.replace(opts, model=model),
            operation.name,
            what,
            "Vertex AI",
            logger,
        )

    def poll_job(self, job: Veo3Job) -> Veo3Job:
        """Read the operation once and map it onto the job's status."""
        return poll_mapped(job, self._get_operation, self._map_operation, logger)

    def download_clip(self, job: Veo3Job, dest: Path) -> Path:
        """Re-read the finished operation, then write its video to ``dest`` atomically."""
        name = job.operation_name
        try:
            if not name:
                raise DownloadError(
                    f"variant {job.variant!r} has no operation name, so its clip cannot be "
                    "fetched; submit it again"
                )
            operation = self._get_operation(name)
            video = first_video(operation)
            if video is None or not (video.uri or video.video_bytes):
                raise DownloadError(
                    f"operation {name} has no video to download "
                    f"({'still running' if not operation.done else 'finished without one'})",
                    operation_name=name,
                )
            size = self._media.write(
                video,
                dest,
                operation_name=name,
                bearer=None if self._auth.express else lambda: self._bearer(name),
                progress=variant_progress(self._on_download_progress, job.variant),
            )
        except Veo3GenerationError as exc:
            if not exc.operation_name:
                exc.operation_name = name
            logger.warning("download of variant %r failed: %s", job.variant, exc)
            raise
        logger.info("downloaded variant %r (%d bytes) to %s", job.variant, size, dest)
        return dest

    # -- the SDK and credentials -----------------------------------------------------------

    def _client(self) -> genai.Client:
        with self._lock:
            if self._sdk is None:
                self._sdk = self._build_sdk()
            return self._sdk

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

    # -- internals -------------------------------------------------------------------------

    def _get_operation(self, name: str) -> types.GenerateVideosOperation:
        problem = operation_name_problem(name, location=self.location)
        if problem:
            raise InvalidOperationNameError(
                self._auth.scrub(f"operation name {name!r} is refused: {problem}"),
                operation_name=self._auth.scrub(name),
            )

        def call() -> types.GenerateVideosOperation:
            # The SDK declares `name` on an ABC mixin that mypy does not see as a field.
            ref = types.GenerateVideosOperation(name=name)  # type: ignore[call-arg]
            return self._client().operations.get(operation=ref)

        what = f"poll of operation {name}"
        try:
            return self._retrying(call, what, poll_transient)
        except genai_errors.APIError as exc:
            raise PollError(
                f"{what} failed: {self._auth.scrub(describe_api_error(exc))}",
                operation_name=name,
                status_code=exc.code,
            ) from None
        except (httpx.TransportError, ga_exceptions.TransportError) as exc:
            raise PollError(
                f"{what} did not reach Vertex AI ({type(exc).__name__})", operation_name=name
            ) from None
        except AUTH_ERRORS as exc:  # not transient: the same credentials fail again
            raise PollError(
                f"{what} was not sent: {self._auth.problem(exc)}",
                operation_name=name,
                status_code=401,
            ) from None
        except ValueError as exc:  # a 200 whose body is not an operation (a proxy's page)
            raise PollError(
                f"{what}: the answer is not an operation ({type(exc).__name__})",
                operation_name=name,
            ) from exc

    def _map_operation(self, job: Veo3Job, op: types.GenerateVideosOperation) -> Veo3Job:
        video = first_video(op)
        if not op.error and video is not None and not video.uri and video.video_bytes:
            return dataclasses.replace(  # a video sent inline has no URI to keep
                job, status=JobStatus.GENERATED, video_uri="", error_message="", error_detail=""
            )
        return map_operation(job, op, self._auth.scrub)

    def _retrying(
        self, call: Callable[[], T], what: str, classify: Callable[[Exception], Transient | None]
    ) -> T:
        return retrying(
            call,
            what=what,
            classify=classify,
            policy=self._retry,
            logger=logger,
            sleep=self._sleep,
            rand=self._rand,
        )
