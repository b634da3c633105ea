"""The real adapter: google-genai for submit and poll, our own download for the clip."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar, Unpack

import httpx
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from . import _sdk
from ._answers import (
    ACCEPT_ENCODING,
    DEFAULT_MAX_ANSWER_BYTES,
    DEFAULT_MAX_ANSWER_DEPTH,
    AnswerLimitError,
    AnswerLimits,
    answer_limits,
    limit_answers,
)
from ._backend import BackendSettings, Progress, SdkBackend
from ._http import Origin, tls_context
from ._operations import MODEL_ID_HELP, OPERATION_NAME_RE, error_body, is_model_id
from ._refusal import submit_refusal
from ._secrets import Secret, guard_wire_logs, redact
from .download import ClipDownloader
from .errors import ConfigurationError, PollError, SubmitError
from .models import DEFAULT_BASE_URL, DEFAULT_MODEL
from .retry import Transient

__all__ = ["DEFAULT_BASE_URL", "GeminiVeo3Adapter"]

logger = logging.getLogger("veo3_adapter.gemini")

_API_VERSION = "v1beta"

T = TypeVar("T")


class GeminiVeo3Adapter(SdkBackend[str]):
    """Veo on the Gemini Developer API, through one ``httpx.Client`` that we control.

    The SDK is built on that client (so respx, vcrpy and timeouts all see one place), and the
    clip is downloaded by ``ClipDownloader``: key in the header, only to the API's origin.
    The other keywords (client, retries, timeouts, download limits, ``on_download_progress``)
    are those of every backend: :class:`~veo3_adapter._backend.BackendSettings`.

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

    _name = "gemini"
    _service = "the API"
    _model_kind = f"a model id{MODEL_ID_HELP}"
    _credential = "the API key"
    # An answer past a limit, undecodable or too deep (after transport errors are taken).
    _own_errors = (AnswerLimitError, httpx.HTTPError, RecursionError)
    _log = logger

    def __init__(
        self,
        api_key: str | Secret,
        *,
        model: str = DEFAULT_MODEL,
        base_url: str | None = None,
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
        max_answer_depth: int = DEFAULT_MAX_ANSWER_DEPTH,
        **settings: Unpack[BackendSettings],
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
        super().__init__(model, settings)
        tls = tls_context()
        limit_answers(self._http)
        self._client = genai.Client(
            api_key=self._key.reveal(),
            vertexai=False,
            http_options=types.HttpOptions(
                base_url=self._base_url,
                api_version=_API_VERSION,
                # The encodings whose decoded size the answer limits can count.
                headers={"accept-encoding": ACCEPT_ENCODING},
                httpx_client=self._http,
                timeout=int(self._timeout * 1000),
                # Without a context of ours the SDK loads the CA bundle twice per client
                # (~30 ms), for clients it never uses here.
                client_args={"verify": tls},
                async_client_args={"verify": tls, "ssl": tls},
            ),
        )
        self._downloader = ClipDownloader(
            self._http, self._key, Origin.of(parsed), api_base_path=parsed.path, **self._download
        )

    def __repr__(self) -> str:
        return f"GeminiVeo3Adapter(model={self.model!r}, base_url={self._base_url!r})"

    def describe(self) -> dict[str, str]:
        """Where jobs go, for jobs.json: never the key (``base_url`` holds no credentials)."""
        return {"backend": "gemini", "base_url": self._base_url, "model": self.model}

    # -- what differs from Vertex AI -------------------------------------------------------

    def _sdk(self) -> genai.Client:
        return self._client

    def _scrub(self, text: str) -> str:
        return redact(text, (self._key,))

    def _is_model(self, model: str) -> bool:
        return is_model_id(model)

    def _submit_unavailable(self) -> str | None:
        if _sdk.gemini_submits_video():
            return None
        return (
            f"google-genai {_sdk.sdk_version()} generates video only through Vertex AI, not the "
            f"Gemini API; {_sdk.GEMINI_SUBMIT_WAYS_OUT}"
        )

    def _operation_name_refusal(self, name: str) -> str:
        if OPERATION_NAME_RE.fullmatch(name):
            return ""
        return (
            "is not a Gemini operation path (expected models/<model>/operations/<id>); "
            "refusing to request it"
        )

    def _refusal(self, what: str, model: str, exc: genai_errors.APIError) -> SubmitError:
        return submit_refusal(what, model, exc.code, self._described(exc), error_body(exc))

    def _submit_failure(self, exc: Exception, what: str, model: str) -> SubmitError:
        if isinstance(exc, AnswerLimitError):
            return SubmitError(
                f"{what} (model {model}): {exc}; the generation may have started, but its "
                "operation name is unknown",
                status_code=exc.status_code,
            )
        return SubmitError(f"{what}: the answer could not be read ({type(exc).__name__})")

    def _poll_failure(self, exc: Exception, what: str, name: str) -> PollError:
        if isinstance(exc, AnswerLimitError):
            # status_code is the answer's: a 200 past a limit fails the job, not polled again.
            return PollError(f"{what}: {exc}", operation_name=name, status_code=exc.status_code)
        return PollError(
            f"{what}: the answer could not be read ({type(exc).__name__})", operation_name=name
        )

    def _usable(self, video: types.Video) -> bool:
        return bool(video.uri)

    def _video(self, video: types.Video) -> str:
        return video.uri or ""

    def _write(self, video: str, dest: Path, name: str, progress: Progress | None) -> int:
        return self._downloader.download(video, dest, operation_name=name, progress=progress)

    def _retrying(
        self, call: Callable[[], T], what: str, classify: Callable[[Exception], Transient | None]
    ) -> T:
        def limited() -> T:
            with answer_limits(self._limits):
                return call()

        return super()._retrying(limited, what, classify)
