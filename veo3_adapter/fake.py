"""An in-memory stand-in for the Gemini adapter: same port, no network, scriptable.

Each outcome leaves a job in the state the real adapters leave it in for the same server
behaviour. Outcomes are scripted as :class:`FakeOutcome` values or by name, and a name is
checked when it is given (``_fake_outcomes``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ._fake_outcomes import (
    DOWNLOAD_ERRORS,
    HAS_VIDEO,
    POLL_ERRORS,
    REFUSED,
    FakeOutcome,
    FakeOutcomeKind,
    Outcome,
    poll_error,
    refused,
    scripted,
)
from ._files import atomic_write_bytes
from .errors import DownloadError
from .models import (
    DEFAULT_MODEL,
    ErrorCode,
    GenerationOptions,
    JobInputs,
    JobStatus,
    SampleClip,
    Veo3Job,
)
from .mp4 import sample_clip

__all__ = [
    "FakeCall",
    "FakeOutcome",
    "FakeOutcomeKind",
    "FakeVeo3Adapter",
    "Outcome",
]


@dataclass(frozen=True)
class FakeCall:
    """One call made to the fake, for assertions."""

    method: str
    variant: str
    operation_name: str = ""
    dest: Path | None = None
    inputs: JobInputs | None = None  # what a submit_job was given
    sample: int = 0  # which video a download fetched (0: the first)


@dataclass
class _Operation:
    variant: str
    outcome: FakeOutcome
    samples: int = 1
    polls_seen: int = 0

    @property
    def running(self) -> bool:
        never_done = self.outcome.outcome is FakeOutcomeKind.TIMEOUT
        return never_done or self.polls_seen <= self.outcome.polls


class FakeVeo3Adapter:
    """Satisfies ``VideoGenerationPort`` in memory. Downloads write a small real MP4.

    A job asking for several videos (``number_of_videos``) gets that many ``samples`` when
    done, each downloaded (``download_sample``) as the same clip.

    ``outcomes`` (variant -> outcome) and ``default`` take :class:`FakeOutcome` values or
    outcome names (:class:`FakeOutcomeKind`); an unknown name raises ``ValueError`` here.
    """

    def __init__(
        self,
        outcomes: Mapping[str, FakeOutcome | str] | None = None,
        *,
        default: FakeOutcome | str | None = None,
        options: GenerationOptions | None = None,
        clip: bytes | None = None,
    ) -> None:
        self._outcomes: dict[str, FakeOutcome] = {
            variant: scripted(outcome) for variant, outcome in (outcomes or {}).items()
        }
        self.default = scripted(default) if default is not None else FakeOutcome.success()
        self.options = GenerationOptions(model=DEFAULT_MODEL).merged(options)
        self.clip = clip if clip is not None else sample_clip()
        self.calls: list[FakeCall] = []
        self._operations: dict[str, _Operation] = {}
        self._lock = threading.Lock()

    def script(self, variant: str, outcome: FakeOutcome | str, *, polls: int | None = None) -> None:
        """Decide what happens to ``variant`` from its next submit on.

        ``outcome`` is a :class:`FakeOutcome` or an outcome's name (``"rai_filtered"``,
        with ``polls=`` the polls that report running first); an unknown name raises
        ``ValueError`` at once, naming the valid ones.
        """
        self._outcomes[variant] = scripted(outcome, polls)

    def calls_to(self, method: str) -> list[FakeCall]:
        """The recorded calls of one method, in order."""
        return [call for call in self.calls if call.method == method]

    @property
    def operations(self) -> list[str]:
        """Names of the operations this fake has started."""
        return list(self._operations)

    def describe(self) -> dict[str, str]:
        """Where jobs go, for jobs.json: this in-memory fake."""
        return {"backend": "fake"}

    # -- the port --------------------------------------------------------------------------

    def submit_job(
        self,
        variant: str,
        prompt: str,
        options: GenerationOptions | None = None,
        inputs: JobInputs | None = None,
    ) -> Veo3Job:
        outcome = self._outcomes.get(variant, self.default)
        opts = self.options.merged(options)
        with self._lock:
            self.calls.append(FakeCall("submit_job", variant, inputs=inputs))
            if outcome.outcome in REFUSED:
                raise refused(variant, opts.model or DEFAULT_MODEL, outcome)
            digest = hashlib.sha256(f"{len(self._operations)}:{variant}".encode()).hexdigest()
            # Named like the API's: the model (DEFAULT_MODEL unless set), then a 12-char id.
            name = f"models/{opts.model or DEFAULT_MODEL}/operations/{digest[:12]}"
            self._operations[name] = _Operation(variant, outcome, opts.number_of_videos or 1)
        return Veo3Job.submitted(variant, prompt, name, opts)

    def poll_job(self, job: Veo3Job) -> Veo3Job:
        self.calls.append(FakeCall("poll_job", job.variant, job.operation_name))
        name = job.operation_name
        if not name:
            return job.failed(ErrorCode.MISSING_OPERATION_NAME, "the job has no operation name")
        operation = self._operations.get(name)
        if operation is None:
            unknown = poll_error(name, FakeOutcome.operation_not_found())
            return job.failed(ErrorCode.OPERATION_NOT_FOUND, str(unknown))
        operation.polls_seen += 1
        outcome = operation.outcome
        if operation.running:
            return dataclasses.replace(job, status=JobStatus.SUBMITTED)
        if outcome.outcome is FakeOutcomeKind.POLL_FAILED:
            raise poll_error(name, outcome)
        if outcome.outcome is FakeOutcomeKind.OPERATION_NOT_FOUND:
            return job.failed(ErrorCode.OPERATION_NOT_FOUND, str(poll_error(name, outcome)))
        if outcome.outcome is FakeOutcomeKind.GENERATION_FAILED:
            return job.failed(ErrorCode.GENERATION_FAILED, outcome.detail)
        if outcome.outcome is FakeOutcomeKind.RAI_FILTERED:
            return job.failed(ErrorCode.RAI_FILTERED, outcome.detail)
        uris = [f"{_file_url(name, sample)}?alt=media" for sample in range(operation.samples)]
        return dataclasses.replace(
            job,
            status=JobStatus.GENERATED,
            video_uri=uris[0],
            samples=tuple(SampleClip(video_uri=uri) for uri in uris) if uris[1:] else (),
            error_message="",
            error_detail="",
        )

    def download_clip(self, job: Veo3Job, dest: Path) -> Path:
        return self._download(job, 0, dest)

    def download_sample(self, job: Veo3Job, sample: int, dest: Path) -> Path:
        return self._download(job, sample, dest)

    def _download(self, job: Veo3Job, sample: int, dest: Path) -> Path:
        method = "download_sample" if sample else "download_clip"
        self.calls.append(FakeCall(method, job.variant, job.operation_name, dest, sample=sample))
        name = job.operation_name
        operation = self._operations.get(name)
        if operation is None:
            raise DownloadError(
                f"operation {name or '(none)'} of variant {job.variant!r} is "
                "unknown to this fake, so it has no video",
                operation_name=name,
                status_code=404,
            )
        outcome = operation.outcome
        if outcome.outcome in POLL_ERRORS and not operation.running:
            # A download reads the operation again first, as the real adapters do.
            raise poll_error(name, outcome)
        if operation.running or outcome.outcome not in HAS_VIDEO:
            state = "still running" if operation.running else "finished without one"
            raise DownloadError(
                f"operation {name} has no video to download ({state})", operation_name=name
            )
        if not 0 <= sample < operation.samples:
            raise DownloadError(
                f"operation {name} has no video {sample + 1} to download "
                f"(it has {operation.samples})",
                operation_name=name,
            )
        if outcome.outcome in DOWNLOAD_ERRORS:
            code = outcome.status_code or 404
            reason = f"HTTP {code} from {_file_url(name, sample)}"
            raise DownloadError(
                f"download of operation {name} failed: "
                + (f"{reason}: {outcome.detail}" if outcome.detail else reason),
                operation_name=name,
                status_code=code,
            )
        atomic_write_bytes(dest, self.clip)
        return dest


def _file_url(operation_name: str, sample: int = 0) -> str:
    """Where the fake's video ``sample`` of ``operation_name`` is, as a job's ``video_uri``
    names it."""
    file_id = operation_name.rsplit("/", 1)[-1] + (f"-{sample + 1}" if sample else "")
    return f"fake://files/{file_id}:download"
