"""Streaming, authenticated clip download that never sends the key anywhere but the API.

The SDK's own client follows redirects with ``x-goog-api-key`` still attached, whatever host
the redirect names. Here every hop is followed by hand: the key goes only to the API's own
origin and is dropped for good the moment a redirect leaves it.
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
from ._files import atomic_file
from ._http import Origin, redact_url
from ._secrets import API_KEY_HEADER, redact
from .errors import TRANSIENT_STATUS, DownloadError, InvalidClipError, UnsafeURLError
from .mp4 import looks_like_mp4
from .retry import RetryPolicy, Transient, retry_after_seconds, retrying

__all__ = ["ClipDownloader"]

logger = logging.getLogger("veo3_adapter.download")

_CONTENT_RANGE_RE = re.compile(r"^bytes ([0-9]{1,19})-([0-9]{1,19})/([0-9]{1,19}|\*)$")
_ERROR_BODY_LIMIT = 2048
_WRITEBACK_BYTES = 16 << 20


class _Transient(Exception):
    """One attempt failed in a way that another attempt may not."""

    def __init__(
        self,
        reason: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status_code = status_code
        self.retry_after = retry_after


def _transient(exc: Exception) -> Transient | None:
    return Transient(exc.reason, exc.retry_after) if isinstance(exc, _Transient) else None


@dataclass
class _Progress:
    written: int = 0
    total: int | None = None
    resumable: bool = False
    validator: str = ""
    head: bytes = field(default=b"")
    flushed: int = 0
    report: Callable[[int, int | None], None] | None = None

    def reported(self) -> None:
        if self.report is not None:
            self.report(self.written, self.total)


class ClipDownloader:
    """Downloads a video URI into a file, atomically, with bounded retries and resume."""

    def __init__(
        self,
        client: httpx.Client,
        api_key: str,
        api_origin: Origin,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = _clock.sleep,
        rand: Callable[[], float] = random.random,
        max_redirects: int = 5,
    ) -> None:
        self._client = client
        self._key = api_key
        self._origin = api_origin
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._rand = rand
        self._max_redirects = max_redirects

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
        origin, ``InvalidClipError`` for a body that is not a complete MP4 and
        ``DownloadError`` for everything else. ``dest`` is untouched on failure.
        """
        what = f"operation {operation_name}" if operation_name else "video"
        url = self._check_start(uri, what)
        state = _Progress(report=progress)
        with atomic_file(dest) as out:
            try:
                retrying(
                    lambda: self._attempt(url, out, state, what),
                    what=f"download of {what}",
                    classify=_transient,
                    policy=self._retry,
                    logger=logger,
                    sleep=self._sleep,
                    rand=self._rand,
                )
            except _Transient as exc:
                raise DownloadError(
                    f"download of {what} from {redact_url(url)} failed after "
                    f"{self._retry.attempts} attempts: {exc.reason}",
                    operation_name=operation_name,
                    status_code=exc.status_code,
                ) from exc.__cause__ or exc
        return state.written

    def _check_start(self, uri: str, what: str) -> httpx.URL:
        try:
            url = httpx.URL(uri)
        except (httpx.InvalidURL, TypeError) as exc:
            raise UnsafeURLError(f"video URI of {what} is not a valid URL") from exc
        if url.userinfo:
            raise UnsafeURLError(
                f"video URI of {what} carries user info; refusing to send the key there"
            )
        if "key" in url.params:
            raise UnsafeURLError(
                f"video URI of {what} carries a 'key' query parameter; keys go in headers only"
            )
        if Origin.of(url) != self._origin:
            raise UnsafeURLError(
                f"video URI of {what} is on {Origin.of(url)}, not the API origin "
                f"{self._origin}; refusing to send the key there (nothing was sent)"
            )
        return url

    def _attempt(self, url: httpx.URL, out: BinaryIO, progress: _Progress, what: str) -> None:
        headers = {"accept-encoding": "identity"}
        if progress.written and progress.resumable:
            headers["range"] = f"bytes={progress.written}-"
            if progress.validator:
                headers["if-range"] = progress.validator
        elif progress.written:
            _restart(out, progress)
        response = self._open(url, headers, what)
        try:
            self._start_body(response, out, progress, what)
            progress.reported()
            try:
                # No chunk size: httpx hands over what each read returned, so a break loses
                # nothing already received and resume starts from the last byte on disk.
                for chunk in response.iter_bytes():
                    self._write(chunk, out, progress, what)
            except httpx.TransportError as exc:
                raise _Transient(
                    f"connection broke after {progress.written} bytes ({type(exc).__name__})"
                ) from exc
        finally:
            response.close()
        if progress.total is not None and progress.written < progress.total:
            raise _Transient(f"body ended at {progress.written} of {progress.total} bytes")
        if progress.total is not None and progress.written > progress.total:
            raise InvalidClipError(
                f"download of {what} sent {progress.written} bytes, more than the "
                f"{progress.total} announced"
            )
        if len(progress.head) < 8:
            raise InvalidClipError(
                f"download of {what} returned {progress.written} bytes, too short for an MP4"
            )

    def _open(self, url: httpx.URL, headers: dict[str, str], what: str) -> httpx.Response:
        send_key = True
        current = url
        for _hop in range(self._max_redirects + 1):
            hop_headers = dict(headers)
            if send_key:
                hop_headers[API_KEY_HEADER] = self._key
            request = self._client.build_request("GET", current, headers=hop_headers)
            try:
                response = self._client.send(request, stream=True, follow_redirects=False)
            except httpx.TransportError as exc:
                raise _Transient(
                    f"could not reach {redact_url(current)} ({type(exc).__name__})"
                ) from exc
            except httpx.InvalidURL as exc:  # httpx resolves a redirect's Location eagerly
                raise UnsafeURLError(
                    f"download of {what} was redirected to an invalid URL"
                ) from exc
            if response.is_redirect:
                location = response.headers.get("location", "")
                response.close()
                current = self._next_hop(current, location, what)
                if Origin.of(current) != self._origin:
                    send_key = False
                continue
            if response.status_code in (200, 206):
                return response
            self._raise_for_status(response, current, what)
        raise DownloadError(
            f"download of {what} was redirected more than {self._max_redirects} times",
        )

    def _next_hop(self, current: httpx.URL, location: str, what: str) -> httpx.URL:
        try:
            target = current.join(location)
        except (httpx.InvalidURL, TypeError) as exc:
            raise UnsafeURLError(f"download of {what} was redirected to an invalid URL") from exc
        if target.scheme not in ("http", "https"):
            raise UnsafeURLError(
                f"download of {what} was redirected to a {target.scheme!r} URL; refused"
            )
        if current.scheme == "https" and target.scheme != "https":
            raise UnsafeURLError(
                f"download of {what} was redirected from https to {redact_url(target)}; "
                "refusing to downgrade"
            )
        if target.userinfo:
            raise UnsafeURLError(
                f"download of {what} was redirected to a URL with user info; refused"
            )
        return target

    def _raise_for_status(self, response: httpx.Response, url: httpx.URL, what: str) -> None:
        status = response.status_code
        try:
            snippet = _read_snippet(response, self._key)
        finally:
            response.close()
        reason = f"HTTP {status} from {redact_url(url)}"
        if snippet:
            reason += f": {snippet}"
        reason = redact(reason, (self._key,))
        if status in TRANSIENT_STATUS:
            raise _Transient(
                reason,
                status_code=status,
                retry_after=retry_after_seconds(response.headers.get("retry-after")),
            )
        raise DownloadError(f"download of {what} failed: {reason}", status_code=status)

    def _start_body(
        self, response: httpx.Response, out: BinaryIO, progress: _Progress, what: str
    ) -> None:
        headers = response.headers
        if response.status_code == 206:
            match = _CONTENT_RANGE_RE.match(headers.get("content-range", ""))
            if not match or int(match.group(1)) != progress.written:
                # The server answered a range we did not ask for: start over without one.
                progress.resumable = False
                raise _Transient("server answered an unexpected byte range")
            total = match.group(3)
            progress.total = int(total) if total != "*" else None
            return
        if progress.written:
            _restart(out, progress)  # the file changed (If-Range) or ranges are unsupported
        progress.resumable = headers.get("accept-ranges", "").lower() == "bytes"
        etag = headers.get("etag", "")
        progress.validator = (
            etag if etag and not etag.startswith("W/") else headers.get("last-modified", "")
        )
        length = headers.get("content-length", "")
        encoded = "content-encoding" in headers
        # isascii: "²" passes isdigit() but not int(); 19 digits is more than any file.
        number = length.isascii() and length.isdigit() and len(length) <= 19
        progress.total = int(length) if number and not encoded else None

    def _write(self, chunk: bytes, out: BinaryIO, progress: _Progress, what: str) -> None:
        if len(progress.head) < 8:
            progress.head = (progress.head + chunk)[:8]
            if len(progress.head) == 8 and not looks_like_mp4(progress.head):
                raise InvalidClipError(f"download of {what} is not an MP4 (no 'ftyp' box)")
        out.write(chunk)
        progress.written += len(chunk)
        if progress.written - progress.flushed >= _WRITEBACK_BYTES:
            _start_writeback(out, progress.flushed, progress.written - progress.flushed)
            progress.flushed = progress.written
        progress.reported()


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


def _read_snippet(response: httpx.Response, secret: str) -> str:
    """The start of an error body, for the message; never the whole (it may be large).

    ``secret`` is redacted before the text is cut: a cut through it would leave a piece that
    a later ``replace`` no longer finds.
    """
    collected = b""
    try:
        for chunk in response.iter_bytes():
            collected += chunk
            if len(collected) >= _ERROR_BODY_LIMIT:
                break
    except httpx.HTTPError:
        pass
    text = redact(collected.decode("utf-8", "replace"), (secret,))
    return " ".join(text.split())[:300]
