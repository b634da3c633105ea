"""Veo 3 video generation for production pipelines: submit, poll, download, resume."""

from __future__ import annotations

from .errors import (
    ConfigurationError,
    DownloadError,
    InvalidClipError,
    InvalidOperationNameError,
    InvalidVariantError,
    JobsFileError,
    JobsFileNotFoundError,
    OutputDirInUseError,
    PollError,
    SubmitError,
    UnsafeURLError,
    Veo3Error,
    Veo3GenerationError,
)
from .fake import FakeCall, FakeOutcome, FakeVeo3Adapter, Outcome
from .gemini import DEFAULT_BASE_URL, GeminiVeo3Adapter
from .models import DEFAULT_MODEL, ErrorCode, GenerationOptions, JobStatus, Veo3Job
from .orchestrator import Veo3Orchestrator
from .port import VideoGenerationPort
from .retry import RetryPolicy
from .store import read_jobs_json, write_jobs_json

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MODEL",
    "ConfigurationError",
    "DownloadError",
    "ErrorCode",
    "FakeCall",
    "FakeOutcome",
    "FakeVeo3Adapter",
    "GeminiVeo3Adapter",
    "GenerationOptions",
    "InvalidClipError",
    "InvalidOperationNameError",
    "InvalidVariantError",
    "JobStatus",
    "JobsFileError",
    "JobsFileNotFoundError",
    "Outcome",
    "OutputDirInUseError",
    "PollError",
    "RetryPolicy",
    "SubmitError",
    "UnsafeURLError",
    "Veo3Error",
    "Veo3GenerationError",
    "Veo3Job",
    "Veo3Orchestrator",
    "VideoGenerationPort",
    "read_jobs_json",
    "write_jobs_json",
]
