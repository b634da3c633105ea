"""The real adapter: google-genai for submit and poll, our own download for the clip."""

from __future__ import annotations

import dataclasses
import logging
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from . import clock as _clock
from ._http import Origin, new_client, tls_context
from ._refusal import is_daily_quota, submit_refusal
from ._secrets import guard_wire_logs, redact
from .download import DEFAULT_DOWNLOAD_DEADLINE, DEFAULT_MAX_CLIP_BYTES, ClipDownloader
from .errors import (
    TRANSIENT_STATUS,
    ConfigurationError,
    DownloadError,
    InvalidOperationNameError,
    PollError,
    SubmitError,
    Veo3GenerationError,
)
from .models import (
    DEFAULT_BASE_URL,
    DEFAULT_MODEL,
    ErrorCode,
    GenerationOptions,
    JobStatus,
    Veo3Job,
)
from .retry import (
    RetryPolicy,
    Transient,
    retry_after_seconds,
    retry_delay_from_error_body,
    retrying,
)

__all__ = ["DEFAULT_BASE_URL", "GeminiVeo3Adapter"]

logger = logging.getLogger("veo3_adapter.gemini")

_API_VERSION = "v1beta"
# models/<model>/operations/<id> (Gemini) or operations/<id>: no "..", no escapes, no host.
_OPERATION_NAME_RE = re.compile(
    r"(?:models/[A-Za-z0-9_-][A-Za-z0-9._-]*/)?operations/[A-Za-z0-9_-]+"
)
# A submit that failed with these was certainly not started, so sending it again is safe.
_SUBMIT_RETRY_STATUS = frozenset({429, 503})

T = TypeVar("T")


class GeminiVeo3Adapter:
    """Veo on the Gemini Developer API, through one ``httpx.Client`` that we control.

    The SDK is built on that client (so respx, vcrpy and timeouts all see one place), and the
    clip is downloaded by ``ClipDownloader``: key in the header, only to the API's origin.
    ``on_download_progress(variant, bytes_so_far, total_or_None)`` watches each download.
    """

    def __init__(
        self,
        api_key: str,
        *,
        model: str = DEFAULT_MODEL,
        base_url: str | None = None,
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
        if not isinstance(api_key, str) or not api_key.strip():
            raise ConfigurationError(
                "api_key is empty: set GEMINI_API_KEY (or pass api_key=) to use the Gemini API"
            )
        if any(c.isspace() for c in api_key) or not (api_key.isprintable() and api_key.isascii()):
            # An HTTP header carries ASCII only: anything else would fail on every request.
            raise ConfigurationError("api_key contains whitespace, control or non-ASCII characters")
        self._key = api_key
        guard_wire_logs(api_key)
        self._base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        try:
            parsed = httpx.URL(self._base_url)
        except httpx.InvalidURL as exc:
            # from None, and scrubbed: a pasted "...?key=<key>" URL is echoed by httpx too.
            raise ConfigurationError(
                self._scrub(f"base_url {self._base_url!r} is not a URL ({exc})")
            ) from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ConfigurationError(
                self._scrub(f"base_url {self._base_url!r} must be an http(s) URL with a host")
            )
        if parsed.userinfo or parsed.query:
            raise ConfigurationError("base_url must not carry user info or a query string")
        if http_client is not None and http_client.follow_redirects:
            raise ConfigurationError(
                "http_client follows redirects, which would send the API key to whatever host "
                "a redirect names; build it with follow_redirects=False"
            )
        self.model = model
        self.options = GenerationOptions(model=model).merged(options)
        self._owns_client = http_client is None
        tls = tls_context()
        self._http = http_client or new_client(timeout)
        self._sleep = sleep
        self._rand = rand
        self._retry = retry or RetryPolicy()
        self._on_download_progress = on_download_progress
        self._client = genai.Client(
            api_key=api_key,
            vertexai=False,
            http_options=types.HttpOptions(
                base_url=self._base_url,
                api_version=_API_VERSION,
                httpx_client=self._http,
                timeout=int(timeout * 1000),
                # Without a context of ours the SDK loads the CA bundle twice per client
                # (~30 ms), for clients it never uses here.
                client_args={"verify": tls},
                async_client_args={"verify": tls, "ssl": tls},
            ),
        )
        self._downloader = ClipDownloader(
            self._http,
            api_key,
            Origin.of(parsed),
            retry=self._retry,
            sleep=sleep,
            rand=rand,
            max_redirects=max_redirects,
            max_clip_bytes=max_clip_bytes,
            download_deadline=download_deadline,
            api_base_path=parsed.path,
        )

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP client if this adapter created it."""
        if self._owns_client:
            self._http.close()

    def __enter__(self) -> GeminiVeo3Adapter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"GeminiVeo3Adapter(model={self.model!r}, base_url={self._base_url!r})"

    # -- the port --------------------------------------------------------------------------

    def submit_job(
        self, variant: str, prompt: str, options: GenerationOptions | None = None
    ) -> Veo3Job:
        """Start generating ``prompt``; the returned job carries ``operation.name``."""
        opts = self.options.merged(options)
        model = opts.model or self.model

        def call() -> types.GenerateVideosOperation:
            # Built here, inside the try below, so invalid options become a SubmitError.
            config = types.GenerateVideosConfig(
                number_of_videos=1,
                aspect_ratio=opts.aspect_ratio,
                resolution=opts.resolution,
                duration_seconds=opts.duration_seconds,
                negative_prompt=opts.negative_prompt,
                person_generation=opts.person_generation,
                enhance_prompt=opts.enhance_prompt,
            )
            return self._client.models.generate_videos(
                model=model, source=types.GenerateVideosSource(prompt=prompt), config=config
            )

        what = f"submit of variant {variant!r}"
        try:
            operation = self._retrying(call, what, _submit_transient)
        except genai_errors.APIError as exc:
            # from None: the SDK error's text is the raw answer, which may echo the key.
            raise submit_refusal(
                what, model, exc.code, self._describe(exc), _error_body(exc)
            ) from None
        except httpx.TransportError as exc:
            raise SubmitError(f"{what} did not reach the API ({type(exc).__name__})") from exc
        except (ValueError, TypeError) as exc:  # pydantic validation of the options
            raise SubmitError(f"{what}: invalid request: {self._scrub(str(exc))}") from exc
        if not operation.name:
            raise SubmitError(f"{what}: the API answered without an operation name")
        logger.info("submitted variant %r as %s", variant, operation.name)
        return Veo3Job(
            variant=variant,
            prompt=prompt,
            status=JobStatus.SUBMITTED,
            operation_name=operation.name,
            options=dataclasses.replace(opts, model=model),
        )

    def poll_job(self, job: Veo3Job) -> Veo3Job:
        """Read the operation once and map it onto the job's status."""
        if not job.operation_name:
            return job.failed(ErrorCode.MISSING_OPERATION_NAME, "the job has no operation name")
        try:
            operation = self._get_operation(job.operation_name)
        except PollError as exc:
            if exc.status_code == 404:
                logger.warning("operation %s not found", job.operation_name)
                return job.failed(ErrorCode.OPERATION_NOT_FOUND, str(exc))
            raise
        # Unchanged stays equal, so a still-running poll costs the caller no jobs.json write.
        return self._map_operation(job, operation)

    def download_clip(self, job: Veo3Job, dest: Path) -> Path:
        """Re-read the finished operation, then stream its video to ``dest`` atomically."""
        name = job.operation_name
        try:
            if not name:
                raise DownloadError(
                    f"variant {job.variant!r} has no operation name, so its clip cannot be "
                    "fetched; submit it again"
                )
            operation = self._get_operation(name)
            uri = _video_uri(operation)
            if not uri:
                raise DownloadError(
                    f"operation {name} has no video to download "
                    f"({'still running' if not operation.done else 'finished without one'})",
                    operation_name=name,
                )
            size = self._downloader.download(
                uri, dest, operation_name=name, progress=self._progress_of(job.variant)
            )
        except Veo3GenerationError as exc:
            if not exc.operation_name:
                exc.operation_name = name
            logger.warning("download of variant %r failed: %s", job.variant, exc)
            raise
        logger.info("downloaded variant %r (%d bytes) to %s", job.variant, size, dest)
        return dest

    # -- internals -------------------------------------------------------------------------

    def _progress_of(self, variant: str) -> Callable[[int, int | None], None] | None:
        report = self._on_download_progress
        if report is None:
            return None

        def progress(written: int, total: int | None) -> None:
            report(variant, written, total)

        return progress

    def _get_operation(self, name: str) -> types.GenerateVideosOperation:
        if not _OPERATION_NAME_RE.fullmatch(name):
            raise InvalidOperationNameError(
                self._scrub(
                    f"operation name {name!r} is not a Gemini operation path "
                    "(expected models/<model>/operations/<id>); refusing to request it"
                ),
                operation_name=self._scrub(name),
            )

        def call() -> types.GenerateVideosOperation:
            # The SDK declares `name` on an ABC mixin that mypy does not see as a field.
            ref = types.GenerateVideosOperation(name=name)  # type: ignore[call-arg]
            return self._client.operations.get(operation=ref)

        what = f"poll of operation {name}"
        try:
            return self._retrying(call, what, _poll_transient)
        except genai_errors.APIError as exc:
            raise PollError(  # from None: as in submit_job, the SDK error may echo the key
                f"{what} failed: {self._describe(exc)}",
                operation_name=name,
                status_code=exc.code,
            ) from None
        except httpx.TransportError as exc:
            raise PollError(
                f"{what} did not reach the API ({type(exc).__name__})", operation_name=name
            ) from exc
        except ValueError as exc:  # a 200 whose body is not an operation (a proxy's page)
            raise PollError(
                f"{what}: the answer is not an operation ({type(exc).__name__})",
                operation_name=name,
            ) from exc

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

    def _map_operation(self, job: Veo3Job, op: types.GenerateVideosOperation) -> Veo3Job:
        if not op.done:
            return dataclasses.replace(job, status=JobStatus.SUBMITTED)
        if op.error:
            message = str(op.error.get("message") or op.error)
            logger.warning("operation %s failed: %s", job.operation_name, message)
            return job.failed(ErrorCode.GENERATION_FAILED, self._scrub(message))
        result = op.result or op.response
        uri = _video_uri(op)
        if uri:
            return dataclasses.replace(
                job,
                status=JobStatus.GENERATED,
                video_uri=self._scrub(uri),  # jobs.json keeps it; a "key=" URI is refused anyway
                error_message="",
                error_detail="",
            )
        if result is not None and result.rai_media_filtered_count:
            reasons = "; ".join(result.rai_media_filtered_reasons or []) or "no reason given"
            logger.warning("operation %s was safety-filtered: %s", job.operation_name, reasons)
            return job.failed(ErrorCode.RAI_FILTERED, reasons)
        logger.warning("operation %s finished without a video", job.operation_name)
        return job.failed(
            ErrorCode.GENERATION_FAILED, "the operation finished without a video or an error"
        )

    def _describe(self, exc: genai_errors.APIError) -> str:
        text = f"HTTP {exc.code}"
        if exc.status:
            text += f" {exc.status}"
        if exc.message:
            text += f": {exc.message}"
        return self._scrub(text)

    def _scrub(self, text: str) -> str:
        return redact(text, (self._key,))


def _video_uri(op: types.GenerateVideosOperation) -> str:
    result = op.result or op.response
    if not op.done or result is None or not result.generated_videos:
        return ""
    video = result.generated_videos[0].video
    return (video.uri or "") if video is not None else ""


def _submit_transient(exc: Exception) -> Transient | None:
    """A submit is sent again only when it certainly started nothing: 429, 503, no connection."""
    if isinstance(exc, genai_errors.APIError):
        return _api_transient(exc) if exc.code in _SUBMIT_RETRY_STATUS else None
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        return Transient(type(exc).__name__)
    return None


def _poll_transient(exc: Exception) -> Transient | None:
    """Reading an operation changes nothing, so any transient status or broken link retries."""
    if isinstance(exc, genai_errors.APIError):
        return _api_transient(exc) if exc.code in TRANSIENT_STATUS else None
    if isinstance(exc, httpx.TransportError):
        return Transient(type(exc).__name__)
    return None


def _api_transient(exc: genai_errors.APIError) -> Transient | None:
    """The wait the server asked for: ``Retry-After``, else the body's ``RetryInfo`` or text.

    ``None`` for a per-day quota: sending again before it resets only meets it again.
    """
    body = _error_body(exc)
    if exc.code == 429 and is_daily_quota(body):
        return None
    response: Any = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    retry_after = retry_after_seconds(headers.get("retry-after")) if headers is not None else None
    if retry_after is None:
        retry_after = retry_delay_from_error_body(body)
    return Transient(f"HTTP {exc.code}", retry_after)


def _error_body(exc: genai_errors.APIError) -> dict[str, Any] | None:
    details: Any = exc.details  # the answer's JSON as the SDK parsed it: {"error": {...}}
    return details if isinstance(details, dict) else None
