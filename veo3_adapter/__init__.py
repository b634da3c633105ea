"""Veo 3 video generation for production pipelines: submit, poll, download, resume."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    BatchStoppingError,
    ConfigurationError,
    DownloadError,
    IntegrityError,
    InvalidClipError,
    InvalidInputsError,
    InvalidJobError,
    InvalidOperationNameError,
    InvalidOptionsError,
    InvalidPromptError,
    InvalidVariantError,
    JobsFileError,
    JobsFileNotFoundError,
    OutputDirInUseError,
    OutputWriteError,
    PollError,
    QuotaExhaustedError,
    SubmitError,
    UnsafeOutputError,
    UnsafeURLError,
    Veo3Error,
    Veo3GenerationError,
)
from .fake import FakeCall, FakeOutcome, FakeOutcomeKind, FakeVeo3Adapter
from .models import (
    DEFAULT_BASE_URL,
    DEFAULT_MODEL,
    ErrorCode,
    GenerationOptions,
    InputFile,
    JobInputs,
    JobStatus,
    RunSummary,
    SampleClip,
    Veo3Job,
    VideoInputs,
)
from .orchestrator import Veo3Orchestrator
from .port import VideoGenerationPort
from .retry import RetryPolicy
from .store import read_jobs_json, write_jobs_json

if TYPE_CHECKING:
    from .gemini import GeminiVeo3Adapter
    from .vertex import VertexVeo3Adapter

    __version__: str

__all__ = [
    "__version__",
    "DEFAULT_BASE_URL",
    "DEFAULT_MODEL",
    "BatchStoppingError",
    "ConfigurationError",
    "DownloadError",
    "ErrorCode",
    "FakeCall",
    "FakeOutcome",
    "FakeOutcomeKind",
    "FakeVeo3Adapter",
    "GeminiVeo3Adapter",
    "GenerationOptions",
    "InputFile",
    "IntegrityError",
    "InvalidClipError",
    "InvalidInputsError",
    "InvalidJobError",
    "InvalidOperationNameError",
    "InvalidOptionsError",
    "InvalidPromptError",
    "InvalidVariantError",
    "JobInputs",
    "JobStatus",
    "JobsFileError",
    "JobsFileNotFoundError",
    "OutputDirInUseError",
    "OutputWriteError",
    "PollError",
    "QuotaExhaustedError",
    "RetryPolicy",
    "RunSummary",
    "SampleClip",
    "SubmitError",
    "UnsafeOutputError",
    "UnsafeURLError",
    "Veo3Error",
    "Veo3GenerationError",
    "Veo3Job",
    "Veo3Orchestrator",
    "VertexVeo3Adapter",
    "VideoGenerationPort",
    "VideoInputs",
    "read_jobs_json",
    "write_jobs_json",
]


def __getattr__(name: str) -> Any:
    # The Gemini adapter pulls in google-genai (a few hundred ms); load it on first use, so
    # the fake, the store and `veo3 status` start fast.
    if name == "GeminiVeo3Adapter":
        from .gemini import GeminiVeo3Adapter

        return GeminiVeo3Adapter
    if name == "VertexVeo3Adapter":
        from .vertex import VertexVeo3Adapter

        return VertexVeo3Adapter
    if name == "__version__":  # one source: the installed distribution's metadata
        from importlib.metadata import version

        return version("pytest-veo3")
    if name == "Outcome":  # deprecated alias of FakeOutcomeKind, left out of __all__
        return FakeOutcomeKind
    raise AttributeError(f"module 'veo3_adapter' has no attribute {name!r}")
