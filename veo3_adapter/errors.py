"""Errors raised by veo3_adapter.

Every error the package raises on purpose derives from ``Veo3Error``; where a stdlib type
fits, the error inherits it too, so ``except ValueError`` still catches bad input::

    Veo3Error
    ├── ConfigurationError (ValueError)          a missing or malformed key, base URL, setting
    ├── InvalidJobError (ValueError)             a job the caller asked for cannot be made
    │   ├── InvalidVariantError                  a variant name that cannot be a file name
    │   ├── InvalidOptionsError                  an unknown option, or a value of the wrong type
    │   ├── InvalidPromptError                   an empty prompt, or one jobs.json cannot hold
    │   └── InvalidInputsError                   an image, reference or extension that cannot
    │                                            be sent, or an option the backend refuses
    ├── JobsFileError (ValueError)               jobs.json is corrupt or of an unknown version
    │   └── JobsFileNotFoundError (FileNotFoundError)
    ├── OutputDirInUseError (RuntimeError)       another orchestrator holds the output directory
    ├── OutputWriteError (OSError)               jobs.json, its journal or the lock not writable
    ├── UnsafeOutputError (OSError)              a link, FIFO... where veo3/ keeps a file
    └── Veo3GenerationError                      one job could not be submitted, polled or fetched
        ├── SubmitError
        │   └── BatchStoppingError               every other submit would be refused the same way
        │       └── QuotaExhaustedError          a per-day quota is used up
        ├── PollError
        │   └── InvalidOperationNameError (ValueError)
        └── DownloadError
            ├── UnsafeURLError (ValueError)      refused before anything was sent
            ├── InvalidClipError                 the body was short or not an MP4
            └── IntegrityError                   the body's checksum is not the X-Goog-Hash one

``Veo3Orchestrator.run`` and ``resume`` raise nothing else on purpose: bad input is an
``InvalidJobError`` before anything is written, a bad jobs.json (or one a newer release
wrote) a ``JobsFileError``, a busy directory ``OutputDirInUseError``, a link or other
non-file planted in ``veo3/`` an ``UnsafeOutputError``, a full disk or a read-only directory
where jobs.json, its journal or the lock is written an ``OutputWriteError`` naming the file
(and any operation started but not recorded); a job that fails is recorded as FAILED, not
raised: a clip that cannot be written fails its job as ``download_failed``, and an
exception that is no ``Veo3Error`` (a bug) as ``internal_error``.

No message ever contains the API key.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "BatchStoppingError",
    "ConfigurationError",
    "DownloadError",
    "IntegrityError",
    "InvalidClipError",
    "InvalidInputsError",
    "InvalidJobError",
    "InvalidOperationNameError",
    "InvalidOptionsError",
    "InvalidPromptError",
    "InvalidVariantError",
    "JobsFileError",
    "JobsFileNotFoundError",
    "OutputDirInUseError",
    "OutputWriteError",
    "PollError",
    "QuotaExhaustedError",
    "SubmitError",
    "UnsafeOutputError",
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


class InvalidInputsError(InvalidJobError):
    """A job's input that cannot be sent: checked by ``run`` before anything is submitted.

    A missing, unreadable, too large or non-image file (PNG, JPEG or WebP, told by its
    bytes), a last frame without a first one, more than three reference images, an extension
    of a variant with no video (or an expired one), or an option the backend does not accept.
    ``variant`` and ``field`` (``"image"``, ``"reference_images[2]"``, ``"extend"``,
    ``"options.seed"``) name it; ``reason`` says what is wrong.
    """

    def __init__(self, variant: str, field: str, reason: str) -> None:
        self.variant = variant
        self.field = field
        self.reason = reason
        super().__init__(f"variant {variant!r}: {field}: {reason}")


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


class OutputWriteError(Veo3Error, OSError):
    """A file of the output directory's own (jobs.json, its journal, the lock) cannot be written.

    ``path`` names the file, ``reason`` gives the operating system's answer ("No space left on
    device", "Read-only file system") and ``errno`` its number. ``operation_names`` lists the
    operations the backend started whose names could not be recorded: this error (and the
    log) is then the only place they are kept.
    """

    def __init__(
        self,
        path: Path,
        reason: str,
        *,
        errno: int | None = None,
        operation_names: tuple[str, ...] = (),
    ) -> None:
        self.path = path
        self.reason = reason
        self.operation_names = operation_names
        message = f"{path} cannot be written ({reason})."
        if operation_names:
            message += (
                " These operations were started but could not be recorded, so keep their "
                f"names to fetch the clips: {', '.join(operation_names)}."
            )
        super().__init__(message + " Free space or fix permissions, then run resume.")
        self.errno = errno

    @classmethod
    def of(cls, path: Path, exc: OSError) -> OutputWriteError:
        """The error for ``exc`` (an ``OSError``) raised while writing ``path``."""
        return cls(path, exc.strerror or str(exc) or type(exc).__name__, errno=exc.errno)


class UnsafeOutputError(Veo3Error, OSError):
    """Something other than a regular file where ``veo3/`` keeps one of its files.

    A symbolic link, a directory, a FIFO, a socket or a device (or ``veo3/`` itself being a
    link) is never followed, waited on, written through or removed; ``path`` names it and
    ``kind`` says what it is.
    """

    def __init__(self, path: Path, kind: str, *, expected: str = "a regular file") -> None:
        self.path = path
        self.kind = kind
        super().__init__(
            f"{path} is {kind}, not {expected}; veo3 neither follows nor replaces it. "
            "Move it out of the output directory and run again."
        )


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


class BatchStoppingError(SubmitError):
    """A refusal that every other submit would meet too, so sending them is pointless.

    An unknown or retired model, a key the API refuses, a per-day quota: nothing was started,
    and the orchestrator sends no more jobs of its run (``resume()`` sends them later).
    """


class QuotaExhaustedError(BatchStoppingError):
    """A per-day quota is used up: no submit succeeds until it resets."""


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


class IntegrityError(DownloadError):
    """The downloaded bytes do not have the checksum the server announced; nothing was kept.

    ``mismatches`` holds ``(algorithm, expected, actual)`` with the digests in base64, as
    ``X-Goog-Hash`` writes them.
    """

    def __init__(
        self,
        message: str,
        *,
        mismatches: tuple[tuple[str, str, str], ...] = (),
        operation_name: str = "",
    ) -> None:
        self.mismatches = mismatches
        super().__init__(message, operation_name=operation_name)


TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
