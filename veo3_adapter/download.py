"""Streaming, authenticated clip download that never sends the key anywhere but the API.

Where requests go (the API origin or its gateway, redirects by hand, the key only to the API)
is ``_route``'s concern; this module writes the body: atomically, retried, resumed, checked.
The bytes written are checked against ``X-Goog-Hash`` (crc32c, md5) when the answer has one.
A broken body is resumed with ``Range`` only when the first answer offered ranges and named
the file (``ETag`` or ``Last-Modified``) and its size; a range answer for a file of another
size, ETag or checksum starts the file over: two files are never spliced. ``max_clip_bytes``
bounds the file's size and ``download_deadline`` the whole download, retries included.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import httpx

from . import clock as _clock
from ._checksums import Digests, crc32c_implementation, parse_goog_hash
from ._files import atomic_file
from ._http import Origin
from ._route import Job, Retryable, Route
from ._secrets import API_KEY_HEADER, Secret
from .errors import ConfigurationError, DownloadError, IntegrityError, InvalidClipError
from .mp4 import looks_like_mp4
from .retry import RetryPolicy, Transient, retrying

__all__ = ["DEFAULT_DOWNLOAD_DEADLINE", "DEFAULT_MAX_CLIP_BYTES", "ClipDownloader"]

logger = logging.getLogger("veo3_adapter.download")

DEFAULT_MAX_CLIP_BYTES = 4 << 30
"""The largest clip accepted (4 GiB); an answer announcing more is refused before writing."""
DEFAULT_DOWNLOAD_DEADLINE = 30 * 60.0
"""Seconds one download may take, retries and their waits included."""

_CONTENT_RANGE_RE = re.compile(r"^bytes ([0-9]{1,19})-([0-9]{1,19})/([0-9]{1,19}|\*)$")
_WRITEBACK_BYTES = 16 << 20


def _transient(exc: Exception) -> Transient | None:
    return Transient(exc.reason, exc.retry_after) if isinstance(exc, Retryable) else None


@dataclass
class _Progress:
    written: int = 0
    total: int | None = None
    resumable: bool = False
    validator: str = ""  # the first answer's strong ETag, else its Last-Modified
    etag: str = ""
    hashes: dict[str, frozenset[bytes]] = field(default_factory=dict)
    digests: Digests = field(default_factory=Digests)
    head: bytes = b""
    flushed: int = 0
    report: Callable[[int, int | None], None] | None = None

    def reported(self) -> None:
        if self.report is not None:
            self.report(self.written, self.total)


class ClipDownloader:
    """Downloads a video URI into a file, atomically, with bounded retries and resume.

    ``max_clip_bytes`` bounds the file (from ``Content-Length`` before writing, and while
    writing); ``download_deadline`` bounds one download in seconds of ``clock``, retries
    included. ``api_base_path`` is the path of ``base_url`` (a gateway may mount the API
    under one); it prefixes a files-download path rebuilt for the gateway.

    The key is kept in a :class:`~veo3_adapter._secrets.Secret` and revealed only into the
    header of a request to the API's origin; every message is scrubbed of it, URLs included
    (a server may echo the key into a redirect's path). ``credential_header`` names that
    header (``x-goog-api-key``; ``authorization`` for a ``Bearer`` credential);
    ``files_gateway=False`` turns off the rebuilding of default-origin files-download URLs
    for a gateway ``api_origin`` (a storage origin is no gateway of the Gemini API).
    """

    def __init__(
        self,
        client: httpx.Client,
        api_key: str | Secret,
        api_origin: Origin,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = _clock.sleep,
        rand: Callable[[], float] = random.random,
        max_redirects: int = 5,
        max_clip_bytes: int = DEFAULT_MAX_CLIP_BYTES,
        download_deadline: float = DEFAULT_DOWNLOAD_DEADLINE,
        clock: Callable[[], float] = _clock.monotonic,
        api_base_path: str = "",
        credential_header: str = API_KEY_HEADER,
        files_gateway: bool = True,
    ) -> None:
        if isinstance(max_clip_bytes, bool) or not isinstance(max_clip_bytes, int):
            raise ConfigurationError("max_clip_bytes must be an integer number of bytes")
        if max_clip_bytes < 1:
            raise ConfigurationError(f"max_clip_bytes must be positive, got {max_clip_bytes}")
        if not download_deadline > 0:  # also refuses NaN
            raise ConfigurationError(
                f"download_deadline must be a positive number of seconds, got {download_deadline}"
            )
        self._key = api_key if isinstance(api_key, Secret) else Secret(api_key)
        del api_key
        self._route = Route(
            client,
            self._key,
            api_origin,
            max_redirects=max_redirects,
            api_base_path=api_base_path,
            credential_header=credential_header,
            files_gateway=files_gateway,
        )
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._rand = rand
        self._clock = clock
        self._max_bytes = max_clip_bytes
        self._deadline = float(download_deadline)

    def download(
        self,
        uri: str,
        dest: Path,
        *,
        operation_name: str = "",
        progress: Callable[[int, int | None], None] | None = None,
    ) -> int:
        """Stream ``uri`` into ``dest``; return the number of bytes written.

        ``progress`` is called with (bytes in the file so far, expected total or ``None``)
        when a body starts and after every chunk; a restarted body reports from 0 again.
        Raises ``UnsafeURLError`` before sending anything when the URI is not on the API's
        origin, ``InvalidClipError`` for a body that is not a complete MP4,
        ``IntegrityError`` when its checksum is not the announced one and ``DownloadError``
        for everything else. ``dest`` is untouched on failure.
        """
        what = f"operation {operation_name}" if operation_name else "video"
        job = Job(what, operation_name, self._clock() + self._deadline, self._key)
        url = self._route.start(uri, job)
        state = _Progress(report=progress)
        with atomic_file(dest) as out:
            try:
                retrying(
                    lambda: self._attempt(url, out, state, job),
                    what=f"download of {what}",
                    classify=_transient,
                    policy=self._retry,
                    logger=logger,
                    sleep=lambda delay: self._wait(delay, job, state),
                    rand=self._rand,
                )
            except Retryable as exc:
                raise DownloadError(
                    job.scrub(
                        f"download of {what} from {self._route.show(url)} failed after "
                        f"{self._retry.attempts} attempts: {exc.reason}"
                    ),
                    operation_name=operation_name,
                    status_code=exc.status_code,
                ) from exc.__cause__ or exc
        return state.written

    # -- one attempt -----------------------------------------------------------------------

    def _attempt(self, url: httpx.URL, out: BinaryIO, progress: _Progress, job: Job) -> None:
        self._check_deadline(job, progress)
        headers = {"accept-encoding": "identity"}
        if progress.written and progress.resumable:
            headers["range"] = f"bytes={progress.written}-"
            headers["if-range"] = progress.validator
        elif progress.written:
            _restart(out, progress)
        response = self._route.open(
            url, headers, job, before_hop=lambda: self._check_deadline(job, progress)
        )
        try:
            expected = self._start_body(response, out, progress, job)
            progress.reported()
            try:
                # No chunk size: httpx hands over what each read returned, so a break loses
                # nothing already received and resume starts from the last byte on disk.
                for chunk in response.iter_bytes():
                    self._write(chunk, out, progress, job)
            except httpx.TransportError as exc:
                raise Retryable(
                    f"connection broke after {progress.written} bytes ({type(exc).__name__})"
                ) from exc
        finally:
            response.close()
        if progress.total is not None and progress.written < progress.total:
            raise Retryable(f"body ended at {progress.written} of {progress.total} bytes")
        if progress.total is not None and progress.written > progress.total:
            raise job.error(
                InvalidClipError,
                f"download of {job.what} sent {progress.written} bytes, more than the "
                f"{progress.total} announced",
            )
        if len(progress.head) < 8:
            raise job.error(
                InvalidClipError,
                f"download of {job.what} returned {progress.written} bytes, too short for an MP4",
            )
        self._verify(expected, out, progress, job)

    def _start_body(
        self, response: httpx.Response, out: BinaryIO, progress: _Progress, job: Job
    ) -> dict[str, frozenset[bytes]]:
        """Check the answer's headers and get the file ready; return the checksums announced.

        A 206 without ``X-Goog-Hash`` is checked against what the first answer announced.
        """
        headers = response.headers
        encoding = headers.get("content-encoding", "").strip().lower()
        if encoding not in ("", "identity"):
            raise job.error(
                DownloadError,
                f"download of {job.what} came with Content-Encoding {ascii(encoding[:40])} "
                "although identity was asked for; refused (a proxy may be compressing it)",
            )
        hashes = parse_goog_hash(headers.get_list("x-goog-hash"))
        if response.status_code == 206 and progress.written:
            self._continue_body(headers, hashes, out, progress, job)
            return hashes or progress.hashes
        if progress.written:
            _restart(out, progress)  # the file changed (If-Range) or ranges are unsupported
        length = headers.get("content-length", "")
        if response.status_code == 206:  # unasked for: fine if it is the whole file
            match = _CONTENT_RANGE_RE.match(headers.get("content-range", ""))
            if not match or match.group(1) != "0" or str(int(match.group(2)) + 1) != match[3]:
                raise Retryable("server answered a byte range that was not asked for")
            length = match.group(3)
        # isascii: "²" passes isdigit() but not int(); 19 digits is more than any file.
        number = length.isascii() and length.isdigit() and len(length) <= 19
        progress.total = int(length) if number else None
        self._check_size(progress.total, job)
        etag = headers.get("etag", "")
        progress.etag = etag if etag and not etag.startswith("W/") else ""
        progress.validator = progress.etag or headers.get("last-modified", "")
        progress.hashes = hashes
        # Resuming needs the server's word that it serves ranges, and a way to tell that the
        # file it resumes is this one: a validator for If-Range and the size to compare.
        progress.resumable = (
            headers.get("accept-ranges", "").strip().lower() == "bytes"
            and bool(progress.validator)
            and progress.total is not None
        )
        self._want_digests(hashes, out, progress)
        return hashes

    def _continue_body(
        self,
        headers: httpx.Headers,
        hashes: dict[str, frozenset[bytes]],
        out: BinaryIO,
        progress: _Progress,
        job: Job,
    ) -> None:
        """Check that a 206 continues the very file already on disk; else start over."""
        match = _CONTENT_RANGE_RE.match(headers.get("content-range", ""))
        if not match or int(match.group(1)) != progress.written:
            # The server answered a range we did not ask for: start over without one.
            progress.resumable = False
            raise Retryable("server answered an unexpected byte range")
        total = match.group(3)
        etag = headers.get("etag", "")
        changed = ""
        if total == "*" or int(total) != progress.total:
            changed = f"its size ({progress.total} bytes, now {total})"
        elif etag and not etag.startswith("W/") and progress.etag and etag != progress.etag:
            changed = "its ETag"
        elif hashes and progress.hashes and hashes != progress.hashes:
            changed = "its X-Goog-Hash"
        if changed:
            _restart(out, progress)
            progress.resumable = False
            raise Retryable(f"the file changed between answers ({changed}); starting over")
        self._want_digests(hashes, out, progress)

    def _want_digests(
        self, hashes: dict[str, frozenset[bytes]], out: BinaryIO, progress: _Progress
    ) -> None:
        if "crc32c" in hashes and "crc32c" not in progress.digests.algorithms:
            logger.debug("crc32c by google-crc32c (%s implementation)", crc32c_implementation())
        progress.digests.want(hashes, out, progress.written)

    def _write(self, chunk: bytes, out: BinaryIO, progress: _Progress, job: Job) -> None:
        self._check_deadline(job, progress)
        if progress.written + len(chunk) > self._max_bytes:
            raise job.error(
                DownloadError,
                f"download of {job.what} passed max_clip_bytes ({self._max_bytes} bytes) "
                f"after {progress.written} bytes; refused",
            )
        if len(progress.head) < 8:
            progress.head = (progress.head + chunk)[:8]
            if len(progress.head) == 8 and not looks_like_mp4(progress.head):
                raise job.error(
                    InvalidClipError, f"download of {job.what} is not an MP4 (no 'ftyp' box)"
                )
        out.write(chunk)
        progress.digests.update(chunk)
        progress.written += len(chunk)
        if progress.written - progress.flushed >= _WRITEBACK_BYTES:
            _start_writeback(out, progress.flushed, progress.written - progress.flushed)
            progress.flushed = progress.written
        progress.reported()

    def _verify(
        self,
        expected: dict[str, frozenset[bytes]],
        out: BinaryIO,
        progress: _Progress,
        job: Job,
    ) -> None:
        if not expected:
            logger.debug("download of %s: no X-Goog-Hash, checksum not verified", job.what)
            return
        self._want_digests(expected, out, progress)  # a no-op unless the header just appeared
        wrong = progress.digests.mismatches(expected)
        if wrong:
            found = "; ".join(f"{name} expected {want}, got {got}" for name, want, got in wrong)
            raise IntegrityError(
                job.scrub(
                    f"download of {job.what} failed its integrity check over "
                    f"{progress.written} bytes ({found}); the file was not kept, download it again"
                ),
                mismatches=tuple(wrong),
                operation_name=job.operation_name,
            )
        logger.debug("download of %s: %s verified", job.what, ", ".join(sorted(expected)))

    # -- limits ----------------------------------------------------------------------------

    def _check_size(self, total: int | None, job: Job) -> None:
        if total is not None and total > self._max_bytes:
            raise job.error(
                DownloadError,
                f"download of {job.what} announces {total} bytes, more than max_clip_bytes "
                f"({self._max_bytes}); refused before writing",
            )

    def _check_deadline(self, job: Job, progress: _Progress, wait: float = 0.0) -> None:
        if self._clock() + wait < job.deadline:
            return
        total = "?" if progress.total is None else str(progress.total)
        after = f" (a retry would wait {wait:.1f}s more)" if wait else ""
        raise job.error(
            DownloadError,
            f"download of {job.what} did not finish within download_deadline "
            f"({self._deadline:g}s){after}; {progress.written} of {total} bytes received",
        )

    def _wait(self, delay: float, job: Job, progress: _Progress) -> None:
        self._check_deadline(job, progress, delay)
        self._sleep(delay)


def _start_writeback(out: BinaryIO, offset: int, length: int) -> None:
    """Hand a written block to the kernel now, so the final fsync has little left to do.

    On Linux, ``POSIX_FADV_DONTNEED`` starts writing the block back without waiting and keeps
    a large clip from filling the page cache; elsewhere this is a flush only.
    """
    out.flush()
    fadvise = getattr(os, "posix_fadvise", None)
    if fadvise is not None:
        with contextlib.suppress(OSError):
            fadvise(out.fileno(), offset, length, os.POSIX_FADV_DONTNEED)


def _restart(out: BinaryIO, progress: _Progress) -> None:
    out.seek(0)
    out.truncate()
    progress.written = 0
    progress.flushed = 0
    progress.head = b""
    progress.digests.reset()
