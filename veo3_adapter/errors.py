"""Errors raised by veo3_adapter.

Every error the package raises on purpose derives from ``Veo3Error``; where a stdlib type
fits, the error inherits it too, so ``except ValueError`` still catches bad input::

    Veo3Error
    ├── ConfigurationError (ValueError)          a missing or malformed key, base URL, setting
    ├── InvalidJobError (ValueError)             a job the caller asked for cannot be made
    │   ├── InvalidVariantError                  a variant name that cannot be a file name
    │   ├── InvalidOptionsError                  an unknown option, or a value of the wrong type
    │   └── InvalidPromptError                   an empty prompt, or one jobs.json cannot hold
    ├── JobsFileError (ValueError)               jobs.json is corrupt or of an unknown version
    │   └── JobsFileNotFoundError (FileNotFoundError)
    ├── OutputDirInUseError (RuntimeError)       another orchestrator holds the output directory
    └── Veo3GenerationError                      one job could not be submitted, polled or fetched
        ├── SubmitError
        ├── PollError
        │   └── InvalidOperationNameError (ValueError)
        └── DownloadError
            ├── UnsafeURLError (ValueError)      refused before anything was sent
            └── InvalidClipError                 the body was short or not an MP4

``Veo3Orchestrator.run`` and ``resume`` raise nothing else on purpose: bad input is an
``InvalidJobError`` before anything is written, a bad jobs.json a ``JobsFileError``, a busy
directory ``OutputDirInUseError``; a job that fails is recorded as FAILED, not raised. Only
the operating system's own errors (``OSError``: a full disk, a read-only directory) pass
through unchanged.

No message ever contains the API key.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "ConfigurationError",
    "DownloadError",
    "InvalidClipError",
    "InvalidJobError",
    "InvalidOperationNameError",
    "InvalidOptionsError",
    "InvalidPromptError",
    "InvalidVariantError",
    "JobsFileError",
    "JobsFileNotFoundError",
    "OutputDirInUseError",
    "PollError",
    "SubmitError",
    "UnsafeURLError",
    "Veo3Error",
    "Veo3GenerationError",
]


class Veo3Error(Exception):
    """Base class of every error raised by veo3_adapter."""


class ConfigurationError(Veo3Error, ValueError):
    """The adapter was given a setting it cannot work with."""


class InvalidJobError(Veo3Error, ValueError):
    """A job cannot be made from what was given: its variant, prompt or options."""


class InvalidVariantError(InvalidJobError):
    """A variant name that cannot safely become ``veo3/{variant}.mp4``."""


class InvalidOptionsError(InvalidJobError):
    """A generation option with an unknown name or a value of the wrong type.

    ``option`` is the name as given, ``expected`` says what would have been accepted (a type
    such as "an integer", or the known names when ``unknown``), ``got`` the type found.
    """

    def __init__(self, option: str, expected: str, *, got: str = "", unknown: bool = False) -> None:
        self.option = option
        self.expected = expected
        self.got = got
        self.unknown = unknown
        if unknown:
            message = f"unknown option {option!r} (expected {expected})"
        else:
            message = f"option {option!r} must be {expected}, got {got or 'something else'}"
        super().__init__(message)


class InvalidPromptError(InvalidJobError):
    """A prompt that is empty, not a string, or not text that jobs.json can hold."""


class JobsFileError(Veo3Error, ValueError):
    """jobs.json could not be read; the file is left exactly as it was."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(
            f"{path}: {reason}. The file was not changed; fix or move it, then run again."
        )


class JobsFileNotFoundError(JobsFileError, FileNotFoundError):
    """There is no jobs.json to resume from."""


class OutputDirInUseError(Veo3Error, RuntimeError):
    """Another orchestrator is working in the same output directory."""


class Veo3GenerationError(Veo3Error):
    """A job could not be submitted, polled or downloaded."""

    def __init__(
        self,
        message: str,
        *,
        operation_name: str = "",
        status_code: int | None = None,
    ) -> None:
        self.operation_name = operation_name
        self.status_code = status_code
        super().__init__(message)


class SubmitError(Veo3GenerationError):
    """The generation request was refused or never reached the API."""


class PollError(Veo3GenerationError):
    """The operation's state could not be read."""

    @property
    def transient(self) -> bool:
        """True when polling again later may succeed."""
        return self.status_code is None or self.status_code in TRANSIENT_STATUS


class InvalidOperationNameError(PollError, ValueError):
    """An operation name that is not a Gemini operation path (it would leave the API's path)."""

    @property
    def transient(self) -> bool:
        return False


class DownloadError(Veo3GenerationError):
    """The finished clip could not be downloaded."""


class UnsafeURLError(DownloadError, ValueError):
    """A video or redirect URL the key must not be sent to; nothing was sent."""


class InvalidClipError(DownloadError):
    """The downloaded body is not a complete MP4."""


TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
