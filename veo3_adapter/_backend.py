"""What the Gemini and Vertex backends share: one google-genai client, one flow per call.

:class:`SdkBackend` holds the settings both take (:class:`BackendSettings`), the client's
lifecycle, and the submit, poll and download flows with their error ladders. A backend
supplies what really differs: its name in messages, which model ids and operation names it
accepts, how a refusal reads, which of its own failures (answer limits, credentials) become
which error, and how a finished operation's video reaches a file.
"""

from __future__ import annotations

import dataclasses
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, Generic, Self, TypeVar

import httpx
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from ._http import new_client
from ._operations import (
    describe_api_error,
    map_operation,
    poll_mapped,
    poll_transient,
    submit_transient,
    submitted_job,
    videos_of,
)
from ._request import sdk_request
from ._settings import (
    BackendSettings,
    DownloadSettings,
    Progress,
    download_settings,
    variant_progress,
)
from .errors import (
    BatchStoppingError,
    ConfigurationError,
    DownloadError,
    InvalidInputsError,
    InvalidOperationNameError,
    PollError,
    SubmitError,
    Veo3GenerationError,
)
from .models import GenerationOptions, JobInputs, Veo3Job
from .retry import RetryPolicy, Transient, retrying

__all__ = [
    "BackendSettings",
    "DownloadSettings",
    "Progress",
    "SdkBackend",
    "download_settings",
    "variant_progress",
]

T = TypeVar("T")
V = TypeVar("V")


class SdkBackend(ABC, Generic[V]):
    """A Veo backend on google-genai; ``V`` is what a finished operation's video is to it.

    Subclasses check their own settings first, then call ``super().__init__`` (which checks
    ``http_client`` and ``model``), then build their SDK client and downloader.
    """

    _name: ClassVar[str]
    """The backend as ``describe()`` and ``GenerationOptions.only_on()`` name it."""
    _service: ClassVar[str]
    """The backend as messages name it: "did not reach {_service}"."""
    _model_kind: ClassVar[str]
    """What a model id must be, for "model 'x' is not {_model_kind}"."""
    _credential: ClassVar[str]
    """What a redirect would carry away, for the ``http_client`` refusal."""
    _own_errors: ClassVar[tuple[type[Exception], ...]] = ()
    """Failures of a call that :meth:`_submit_failure` and :meth:`_poll_failure` translate."""
    _log: ClassVar[logging.Logger]

    def __init__(self, model: str, settings: BackendSettings) -> None:
        unknown = sorted(settings.keys() - BackendSettings.__optional_keys__)
        if unknown:
            raise TypeError(f"{type(self).__name__}() got unexpected keyword arguments {unknown}")
        http_client = settings.get("http_client")
        if http_client is not None and http_client.follow_redirects:
            raise ConfigurationError(
                f"http_client follows redirects, which would send {self._credential} to "
                "whatever host a redirect names; build it with follow_redirects=False"
            )
        if not self._is_model(model):
            raise ConfigurationError(f"model {ascii(model)} is not {self._model_kind}")
        self.model = model
        self.options = GenerationOptions(model=model).merged(settings.get("options"))
        if refused := self._unaccepted(self.options):
            raise ConfigurationError(refused)
        self._timeout = settings.get("timeout", 60.0)
        self._owns_client = http_client is None
        self._http = http_client or new_client(self._timeout)
        self._retry = settings.get("retry") or RetryPolicy()
        self._download = download_settings(settings, self._retry)
        self._sleep = self._download["sleep"]
        self._rand = self._download["rand"]
        self._on_download_progress = settings.get("on_download_progress")

    # -- what a backend supplies -----------------------------------------------------------

    @abstractmethod
    def _sdk(self) -> genai.Client:
        """The google-genai client on ``self._http``."""

    @abstractmethod
    def _scrub(self, text: str) -> str:
        """``text`` without any credential of this backend."""

    @abstractmethod
    def _is_model(self, model: str) -> bool:
        """Whether ``model`` may go into a request path as it is."""

    @abstractmethod
    def _operation_name_refusal(self, name: str) -> str:
        """Why ``name`` may not be polled ("is not ...; refusing ..."), or "" when it may."""

    @abstractmethod
    def _refusal(self, what: str, model: str, exc: genai_errors.APIError) -> SubmitError:
        """The error for a submit the service refused."""

    @abstractmethod
    def _submit_failure(self, exc: Exception, what: str, model: str) -> SubmitError:
        """The error for one of ``_own_errors`` in a submit."""

    @abstractmethod
    def _poll_failure(self, exc: Exception, what: str, name: str) -> PollError:
        """The error for one of ``_own_errors`` in a poll."""

    @abstractmethod
    def _usable(self, video: types.Video) -> bool:
        """Whether this backend can download ``video``: each usable one is a sample."""

    @abstractmethod
    def _video(self, video: types.Video) -> V:
        """A usable video as ``_write`` takes it."""

    @abstractmethod
    def _write(self, video: V, dest: Path, name: str, progress: Progress | None) -> int:
        """Write ``video`` to ``dest`` atomically; its size in bytes."""

    def _output_gcs_uri(self) -> str | None:
        """Where the service should write the video (``None``: it answers with it)."""
        return None

    def _submit_transient(self, exc: Exception) -> Transient | None:
        return submit_transient(exc)

    def _poll_transient(self, exc: Exception) -> Transient | None:
        return poll_transient(exc)

    def _map_operation(self, job: Veo3Job, op: types.GenerateVideosOperation) -> Veo3Job:
        return map_operation(job, op, self._scrub, self._usable)

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP client if this adapter created it."""
        if self._owns_client:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the port --------------------------------------------------------------------------

    @property
    def accepted_options(self) -> frozenset[str]:
        """The names of the options this backend sends; it refuses any other that is set."""
        return GenerationOptions.accepted_by(self._name)

    def _unaccepted(self, options: GenerationOptions) -> str:
        refused = ", ".join(sorted(set(options.to_dict()) - self.accepted_options))
        return f"{type(self).__name__} does not accept the option(s) {refused}" if refused else ""

    def submit_job(
        self,
        variant: str,
        prompt: str,
        options: GenerationOptions | None = None,
        inputs: JobInputs | None = None,
    ) -> Veo3Job:
        """Start generating ``prompt`` from ``inputs`` (if any); the returned job carries
        ``operation.name`` and the inputs."""
        opts = self.options.merged(options)
        model = opts.model or self.model
        what = f"submit of variant {variant!r}"
        if not self._is_model(model):
            # httpx would refuse the URL (a newline) or send it somewhere else ("a/../b").
            raise SubmitError(
                self._scrub(
                    f"{what}: model {ascii(model)} is not {self._model_kind}; nothing was sent"
                )
            )
        if refused := self._unaccepted(opts):
            raise SubmitError(f"{what}: {refused}; nothing was sent")

        refusal = self._submit_unavailable()
        if refusal is not None:
            # Certain to repeat for every job of the run: stop the batch, send nothing.
            raise BatchStoppingError(f"{what}: {refusal}; nothing was sent")

        def call() -> types.GenerateVideosOperation:
            # Built here, inside the try below, so invalid options become a SubmitError;
            # the input files are read (and their digests checked) for each attempt.
            source, config = sdk_request(
                variant,
                prompt,
                opts,
                inputs,
                output_gcs_uri=self._output_gcs_uri(),
                scrub=self._scrub,
            )
            return self._sdk().models.generate_videos(model=model, source=source, config=config)

        try:
            operation = self._retrying(call, what, self._submit_transient)
        except genai_errors.APIError as exc:
            # from None: the SDK error's text is the raw answer, which may echo a credential.
            raise self._refusal(what, model, exc) from None
        except httpx.TransportError as exc:
            raise SubmitError(
                f"{what} did not reach {self._service} ({type(exc).__name__})"
            ) from exc
        except self._own_errors as exc:
            raise self._submit_failure(exc, what, model) from None
        except InvalidInputsError:
            raise
        except (ValueError, TypeError) as exc:  # pydantic validation of the options
            raise SubmitError(f"{what}: invalid request: {self._scrub(str(exc))}") from exc
        job = submitted_job(
            variant,
            prompt,
            dataclasses.replace(opts, model=model),
            operation.name,
            what,
            self._service,
            self._log,
        )
        return dataclasses.replace(job, inputs=inputs) if inputs else job

    def _submit_unavailable(self) -> str | None:
        """Why this backend cannot start a generation with the installed SDK, or None."""
        return None

    def poll_job(self, job: Veo3Job) -> Veo3Job:
        """Read the operation once and map it onto the job's status."""
        # Unchanged stays equal, so a still-running poll costs the caller no jobs.json write.
        return poll_mapped(job, self._get_operation, self._map_operation, self._log)

    def download_clip(self, job: Veo3Job, dest: Path) -> Path:
        """Re-read the finished operation, then write its (first) video to ``dest`` atomically."""
        return self.download_sample(job, 0, dest)

    def download_sample(self, job: Veo3Job, sample: int, dest: Path) -> Path:
        """Like ``download_clip``, for video ``sample`` (0: the first) of the operation."""
        name = job.operation_name
        which = f"variant {job.variant!r}" + (f" (video {sample + 1})" if sample else "")
        try:
            if not name:
                raise DownloadError(
                    f"variant {job.variant!r} has no operation name, so its clip cannot be "
                    "fetched; submit it again"
                )
            operation = self._get_operation(name)
            videos = [video for video in videos_of(operation) if self._usable(video)]
            if not 0 <= sample < len(videos):
                state = "still running" if not operation.done else "finished without one"
                raise DownloadError(
                    f"operation {name} has no video{f' {sample + 1}' if sample else ''} to "
                    f"download ({state if not videos else f'it has {len(videos)}'})",
                    operation_name=name,
                )
            progress = variant_progress(self._on_download_progress, job.variant)
            size = self._write(self._video(videos[sample]), dest, name, progress)
        except Veo3GenerationError as exc:
            if not exc.operation_name:
                exc.operation_name = name
            # The messages are scrubbed where they are made; this is the last net for a
            # credential a server echoed into a URL or a reason.
            exc.args = tuple(self._scrub(a) if isinstance(a, str) else a for a in exc.args)
            self._log.warning("download of %s failed: %s", which, exc)
            raise
        self._log.info("downloaded %s (%d bytes) to %s", which, size, dest)
        return dest

    # -- internals -------------------------------------------------------------------------

    def _get_operation(self, name: str) -> types.GenerateVideosOperation:
        refusal = self._operation_name_refusal(name)
        if refusal:
            raise InvalidOperationNameError(
                self._scrub(f"operation name {name!r} {refusal}"),
                operation_name=self._scrub(name),
            )

        def call() -> types.GenerateVideosOperation:
            # The SDK declares `name` on an ABC mixin that mypy does not see as a field.
            ref = types.GenerateVideosOperation(name=name)  # type: ignore[call-arg]
            return self._sdk().operations.get(operation=ref)

        what = f"poll of operation {name}"
        try:
            return self._retrying(call, what, self._poll_transient)
        except genai_errors.APIError as exc:
            raise PollError(  # from None: as in submit_job, the SDK error may echo a credential
                f"{what} failed: {self._described(exc)}",
                operation_name=name,
                status_code=exc.code,
            ) from None
        except httpx.TransportError as exc:
            raise PollError(
                f"{what} did not reach {self._service} ({type(exc).__name__})",
                operation_name=name,
            ) from exc
        except self._own_errors as exc:
            raise self._poll_failure(exc, what, name) from None
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
            logger=self._log,
            sleep=self._sleep,
            rand=self._rand,
        )

    def _described(self, exc: genai_errors.APIError) -> str:
        """The SDK error as ``HTTP 404 NOT_FOUND: <message>``, scrubbed."""
        return self._scrub(describe_api_error(exc))
