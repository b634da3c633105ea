"""The media server's answers: the video, whole or ranged, its failures, and key leaks.

It is reached two ways. On the API origin, ``/download/v1beta/files/{id}:download`` wants the
API key like the rest of the API (the live flow). On the second origin, ``/files/{id}`` wants
a signed ``token`` and no key: a key arriving there is a leak, refused and recorded.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from collections.abc import Callable, Sequence
from urllib.parse import parse_qs, unquote, urlsplit

from ._auth import authenticate
from ._body import iter_video, parse_range, served_body, slice_chunks
from ._state import OperationState, State
from ._wire import (
    API_KEY_HEADER,
    MEDIA_SERVER,
    CutKind,
    KeyLeak,
    Reply,
    google_error,
    text_reply,
)

__all__ = ["FindKey", "MediaAnswers", "find_key"]

logger = logging.getLogger("veo3_adapter.emulator")

FindKey = Callable[[str, Sequence[tuple[str, str]]], "str | None"]
"""Where a request carries the API key (``None`` if nowhere): ``(target, headers)``."""

_KEYED_RE = re.compile(r"/download/v1beta/files/([a-z0-9]+):download")
_SIGNED_RE = re.compile(r"/files/([a-z0-9]+)")
# Shorter "keys" (api_key=None accepts anything) would be found in every URL by chance.
_MIN_KEY_LENGTH_TO_SCAN = 8


class MediaAnswers:
    """Answers requests to the media server, on either origin."""

    def __init__(self, state: State, find: FindKey) -> None:
        self._state = state
        self._find = find

    def answer(
        self,
        on_api_origin: bool,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]],
    ) -> Reply:
        split = urlsplit(target)
        path = unquote(split.path or "/")
        if on_api_origin:
            return self._keyed(method, path, split.query, headers)
        return self._signed(method, target, path, split.query, headers)

    def _keyed(
        self, method: str, path: str, query: str, headers: Sequence[tuple[str, str]]
    ) -> Reply:
        refused = authenticate(self._state, headers)
        if refused is not None:
            return refused
        match = _KEYED_RE.fullmatch(path)
        if match is None or method not in ("GET", "HEAD"):
            return google_error(404, f"Method not found: {method} {path}")
        with self._state.lock:
            state = self._state.files.get(match.group(1))
            if state is None or not state.done or not state.has_video:
                return google_error(404)
            state.media_requests += 1
            if parse_qs(query).get("alt") != ["media"]:
                return google_error(400, "Only alt=media is supported for file downloads.")
            sample = state.sample_of(match.group(1))
            if self._state.expired(state) or sample + 1 in state.scenario.failed_samples:
                return google_error(404)
            status = self._scripted_failure(state)
            if status is not None:
                return google_error(status, extra=self._retry_after(state, status))
            return self._video(state, method, headers, sample)

    def _signed(
        self,
        method: str,
        target: str,
        path: str,
        query: str,
        headers: Sequence[tuple[str, str]],
    ) -> Reply:
        where = self._find(target, headers)
        if where is not None:
            with self._state.lock:
                self._state.key_leaks.append(KeyLeak(method, path, where))
            logger.warning("emulator: the API key reached the second origin (%s)", where)
            return _text(400, "Bad Request: this origin takes no API key.\n")
        match = _SIGNED_RE.fullmatch(path)
        if match is None:
            return _text(404, "Not Found\n")
        if method not in ("GET", "HEAD"):
            return _text(405, "Method Not Allowed\n", [("Allow", "GET, HEAD")])
        with self._state.lock:
            state = self._state.files.get(match.group(1))
            if state is None or not state.done or not state.has_video:
                return _text(404, "Not Found\n")
            state.media_requests += 1
            sample = state.sample_of(match.group(1))
            if parse_qs(query).get("token") != [state.token_of(sample)]:
                return _text(403, "Forbidden: the signature does not match.\n")
            if self._state.expired(state) or sample + 1 in state.scenario.failed_samples:
                return _text(404, "Not Found\n")
            status = self._scripted_failure(state)
            if status is not None:
                return _text(status, f"HTTP {status}\n", self._retry_after(state, status))
            return self._video(state, method, headers, sample)

    @staticmethod
    def _scripted_failure(state: OperationState) -> int | None:
        failures = state.scenario.download_failures
        if state.media_failures_served >= len(failures):
            return None
        state.media_failures_served += 1
        return failures[state.media_failures_served - 1]

    @staticmethod
    def _retry_after(state: OperationState, status: int) -> list[tuple[str, str]]:
        if status not in (429, 503):
            return []
        return [("Retry-After", str(math.ceil(state.scenario.retry_after)))]

    def _video(
        self,
        state: OperationState,
        method: str,
        headers: Sequence[tuple[str, str]],
        sample: int = 0,
    ) -> Reply:
        """Video ``sample``, whole or one range; called with the lock held, streams after it."""
        scenario = state.scenario
        size = scenario.size
        fields = {name.lower(): value for name, value in headers}
        tag = f"{state.name}:{size}" + (f":{sample}" if sample else "")
        etag = '"' + hashlib.sha256(tag.encode()).hexdigest()[:32] + '"'
        wanted = parse_range(fields.get("range"), size) if scenario.ranges else None
        if_range = fields.get("if-range")
        if wanted is not None and if_range is not None and if_range != etag:
            wanted = None  # the file changed since the client's first byte: send it all
        if wanted is False:
            return Reply(
                416,
                [("Content-Range", f"bytes */{size}"), ("Content-Length", "0"), MEDIA_SERVER],
            )
        start, end = wanted if wanted else (0, size - 1)
        length = end - start + 1
        reply_headers = [
            ("Content-Type", "video/mp4"),
            ("Content-Disposition", "attachment"),
            ("Content-Length", str(length)),
            ("X-Goog-Hash", self._state.video_hash(state, sample)),
            ("Cache-Control", "private, max-age=0"),
        ]
        if scenario.ranges:
            reply_headers += [("Accept-Ranges", "bytes"), ("ETag", etag)]
        reply_headers.append(MEDIA_SERVER)
        status = 200
        if wanted:
            status = 206
            reply_headers.append(("Content-Range", f"bytes {start}-{end}/{size}"))
        if method == "HEAD":
            return Reply(status, reply_headers)
        state.bodies_served += 1
        state.sample_bodies[sample] = state.sample_bodies.get(sample, 0) + 1
        cut: tuple[int, CutKind] | None = None
        if scenario.drop_at is not None and state.bodies_served == 1 and scenario.drop_at < length:
            cut = (scenario.drop_at, CutKind.DROP)
        if (
            scenario.truncate_at is not None
            and state.bodies_served <= scenario.truncate_times
            and scenario.truncate_at < length
            and (cut is None or scenario.truncate_at < cut[0])
        ):
            cut = (scenario.truncate_at, CutKind.TRUNCATE)
        chunks = slice_chunks(
            iter_video(size, state.seed_of(sample), scenario.chunk_size), start, end + 1
        )
        body = served_body(
            chunks,
            expected=length,
            delay=scenario.slow_chunk_delay,
            sleep=self._state.sleep,
            cut=cut,
        )
        return Reply(status, reply_headers, body)


def _text(status: int, text: str, extra: Sequence[tuple[str, str]] = ()) -> Reply:
    return text_reply(status, text, [*extra, MEDIA_SERVER])


def find_key(state: State, target: str, headers: Sequence[tuple[str, str]]) -> str | None:
    """Where the request carries the API key, or ``None``; the value is never kept."""
    with state.lock:
        keys = set(state.seen_keys)
        if state.api_key is not None:
            keys.add(state.api_key)
    keys = {key for key in keys if len(key) >= _MIN_KEY_LENGTH_TO_SCAN}
    for name, _value in headers:
        if name.lower() == API_KEY_HEADER:
            return f"header {API_KEY_HEADER}"
    for name, value in headers:
        if any(key in value for key in keys):
            return f"header {name.lower()}"
    decoded = unquote(target)
    if any(key in target or key in decoded for key in keys):
        return "url"
    if "key" in parse_qs(urlsplit(target).query):
        return "url query parameter 'key'"
    return None
