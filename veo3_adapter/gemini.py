"""The real adapter: google-genai for submit and poll, our own download for the clip."""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from . import clock as _clock
from ._answers import (
    ACCEPT_ENCODING,
    DEFAULT_MAX_ANSWER_BYTES,
    DEFAULT_MAX_ANSWER_DEPTH,
    AnswerLimitError,
    AnswerLimits,
    answer_limits,
    limit_answers,
)
from ._http import Origin, new_client, tls_context
from ._operations import (
    MODEL_ID_HELP,
    OPERATION_NAME_RE,
    error_body,
    is_model_id,
    map_operation,
    poll_mapped,
    poll_transient,
    submit_transient,
    submitted_job,
    video_uri,
)
from ._refusal import submit_refusal
from ._secrets import Secret, guard_wire_logs, redact
from .download import DEFAULT_DOWNLOAD_DEADLINE, DEFAULT_MAX_CLIP_BYTES, ClipDownloader
from .errors import (
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
    GenerationOptions,
    Veo3Job,
)
from .retry import RetryPolicy, Transient, retrying

__all__ = ["DEFAULT_BASE_URL", "GeminiVeo3Adapter"]

logger = logging.getLogger("veo3_adapter.gemini")

_API_VERSION = "v1beta"

T = TypeVar("T")


class GeminiVeo3Adapter:
    """Veo on the Gemini Developer API, through one ``httpx.Client`` that we control.

    The SDK is built on that client (so respx, vcrpy and timeouts all see one place), and the
    clip is downloaded by ``ClipDownloader``: key in the header, only to the API's origin.
    ``on_download_progress(variant, bytes_so_far, total_or_None)`` watches each download.

    The key is kept in a :class:`~veo3_adapter._secrets.Secret` (pass one, or a string), so
    no ``repr``, debugger or traceback with locals shows it.

    Limits, each a keyword argument:

    - ``max_answer_bytes`` (default 8 MiB): the largest JSON answer to a submit or a poll,
      counted while it streams in (on the wire and once decoded), before the SDK parses it.
    - ``max_answer_depth`` (default 64): the deepest nesting of arrays and objects in such
      an answer, checked on its bytes before parsing.
    - ``max_clip_bytes`` (default 4 GiB) and ``download_deadline`` (default 30 minutes):
      the size of a clip and the time one download may take, retries included.

    An answer past a limit fails that job's submit (``SubmitError``) or poll
    (``PollError``), naming the variant or operation and the limit. Both limits apply to the
    client this adapter builds and to an injected ``http_client`` alike: the adapter adds a
    response hook to it that acts only during this adapter's own API calls.
    """

    def __init__(
        self,
        api_key: str | Secret,
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
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
        max_answer_depth: int = DEFAULT_MAX_ANSWER_DEPTH,
        rand: Callable[[], float] = random.random,
        on_download_progress: Callable[[str, int, int | None], None] | None = None,
    ) -> None:
        # First of all, so that no frame of ours holds the key in the clear from here on.
        self._key = api_key if isinstance(api_key, Secret) else Secret(api_key)
        del api_key
        key = self._key.reveal()
        if not isinstance(key, str) or not key.strip():
            raise ConfigurationError(
                "api_key is empty: set GEMINI_API_KEY (or pass api_key=) to use the Gemini API"
            )
        if any(c.isspace() for c in key) or not (key.isprintable() and key.isascii()):
            # An HTTP header carries ASCII only: anything else would fail on every request.
            raise ConfigurationError("api_key contains whitespace, control or non-ASCII characters")
        guard_wire_logs(key)
        del key
        self._limits = AnswerLimits.checked(max_answer_bytes, max_answer_depth)
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
        if not is_model_id(model):
            raise ConfigurationError(f"model {ascii(model)} is not a model id{MODEL_ID_HELP}")
        self.model = model
        self.options = GenerationOptions(model=model).merged(options)
        self._owns_client = http_client is None
        tls = tls_context()
        self._http = http_client or new_client(timeout)
        limit_answers(self._http)
        self._sleep = sleep
        self._rand = rand
        self._retry = retry or RetryPolicy()
        self._on_download_progress = on_download_progress
        self._client = genai.Client(
            api_key=self._key.reveal(),
            vertexai=False,
            http_options=types.HttpOptions(
                base_url=self._base_url,
                api_version=_API_VERSION,
                # The encodings whose decoded size the answer limits can count.
                headers={"accept-encoding": ACCEPT_ENCODING},
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
            self._key,
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

    def describe(self) -> dict[str, str]:
        """Where jobs go, for jobs.json: never the key (``base_url`` holds no credentials)."""
        return {"backend": "gemini", "base_url": self._base_url, "model": self.model}

    # -- the port --------------------------------------------------------------------------

    def submit_job(
        self, variant: str, prompt: str, options: GenerationOptions | None = None
    ) -> Veo3Job:
        """Start generating ``prompt``; the returned job carries ``operation.name``."""
        opts = self.options.merged(options)
        model = opts.model or self.model
        what = f"submit of variant {variant!r}"
        if not is_model_id(model):
            # httpx would refuse the URL (a newline) or send it somewhere else ("a/../b").
            raise SubmitError(
                self._scrub(
                    f"{what}: model {ascii(model)} is not a model id{MODEL_ID_HELP}; "
                    "nothing was sent"
                )
            )

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

        try:
            operation = self._retrying(call, what, submit_transient)
        except genai_errors.APIError as exc:
            # from None: the SDK error's text is the raw answer, which may echo the key.
            raise submit_refusal(
                what, model, exc.code, self._describe(exc), error_body(exc)
            ) from None
        except httpx.TransportError as exc:
            raise SubmitError(f"{what} did not reach the API ({type(exc).__name__})") from exc
        except AnswerLimitError as exc:
            raise SubmitError(
                f"{what} (model {model}): {exc}; the generation may have started, but its "
                "operation name is unknown",
                status_code=exc.status_code,
            ) from None
        except (httpx.HTTPError, RecursionError) as exc:  # an undecodable or too deep answer
            raise SubmitError(
                f"{what}: the answer could not be read ({type(exc).__name__})"
            ) from None
        except (ValueError, TypeError) as exc:  # pydantic validation of the options
            raise SubmitError(f"{what}: invalid request: {self._scrub(str(exc))}") from exc
        return submitted_job(
            variant,
            prompt,
            dataclasses.replace(opts, model=model),
            operation.name,
            what,
            "the API",
            logger,
        )

    def poll_job(self, job: Veo3Job) -> Veo3Job:
        """Read the operation once and map it onto the job's status."""
        # Unchanged stays equal, so a still-running poll costs the caller no jobs.json write.
        return poll_mapped(
            job, self._get_operation, lambda j, op: map_operation(j, op, self._scrub), logger
        )

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
            uri = video_uri(operation)
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
            # The messages are scrubbed where they are made; this is the last net for a key
            # a server echoed into a URL or a reason.
            exc.args = tuple(self._scrub(a) if isinstance(a, str) else a for a in exc.args)
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
        if not OPERATION_NAME_RE.fullmatch(name):
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
            return self._retrying(call, what, poll_transient)
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
        except AnswerLimitError as exc:
            # status_code is the answer's: a 200 past a limit fails the job, not polled again.
            raise PollError(
                f"{what}: {exc}", operation_name=name, status_code=exc.status_code
            ) from None
        except (httpx.HTTPError, RecursionError) as exc:  # an undecodable or too deep answer
            raise PollError(
                f"{what}: the answer could not be read ({type(exc).__name__})",
                operation_name=name,
            ) from None
        except ValueError as exc:  # a 200 whose body is not an operation (a proxy's page)
            raise PollError(
                f"{what}: the answer is not an operation ({type(exc).__name__})",
                operation_name=name,
            ) from exc

    def _retrying(
        self, call: Callable[[], T], what: str, classify: Callable[[Exception], Transient | None]
    ) -> T:
        def limited() -> T:
            with answer_limits(self._limits):
                return call()

        return retrying(
            limited,
            what=what,
            classify=classify,
            policy=self._retry,
            logger=logger,
            sleep=self._sleep,
            rand=self._rand,
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
