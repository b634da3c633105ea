"""The emulator's one request-handling core: state, routing and every answer it gives."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import hmac
import json
import logging
import random
import re
import string
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from .._http import Origin
from .._secrets import API_KEY_HEADER
from ._body import iter_video, parse_range, slice_chunks
from ._scenario import Scenario
from ._wire import (
    Cut,
    CutKind,
    KeyLeak,
    Reply,
    RequestRecord,
    Side,
    google_error,
    json_reply,
    text_reply,
)

__all__ = [
    "DEFAULT_API_BASE",
    "DEFAULT_DOWNLOAD_BASE",
    "Emulator",
    "Match",
    "OperationState",
]

logger = logging.getLogger("veo3_adapter.emulator")

DEFAULT_API_BASE = "https://generativelanguage.googleapis.com"
DEFAULT_DOWNLOAD_BASE = "https://veo3-downloads.emulator.invalid"

Match = str | Callable[[str], bool]
"""A rule's test: a substring of the prompt, or a predicate on it."""

_ID_ALPHABET = string.ascii_lowercase + string.digits
_ID_LENGTH = 12
# Shorter "keys" (api_key=None accepts anything) would be found in every URL by chance.
_MIN_KEY_LENGTH_TO_SCAN = 8
_RESPONSE_TYPE = (
    "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse"
)
_SUBMIT_RE = re.compile(r"/v1beta/models/([A-Za-z0-9._-]+):predictLongRunning")
_FILE_RE = re.compile(r"/v1beta/files/([a-z0-9]+):download")
_OPERATION_RE = re.compile(r"/v1beta/((?:models/[A-Za-z0-9._-]+/)?operations/[A-Za-z0-9_-]+)")
_MEDIA_RE = re.compile(r"/files/([a-z0-9]+)")
_MISSING_KEY_MESSAGE = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)
_INVALID_KEY_MESSAGE = "API key not valid. Please pass a valid API key."


@dataclass
class OperationState:
    """One emulated operation and its file, as far as the emulator has taken them."""

    name: str
    model: str
    prompt: str
    parameters: dict[str, Any]
    scenario: Scenario
    file_id: str
    token: str
    polls: int = 0
    """Poll requests answered, failures included."""
    poll_failures_served: int = 0
    running_answered: int = 0
    done_at: float | None = None
    """Emulator clock when a poll first reported the operation done."""
    api_downloads: int = 0
    """Requests for the file on the API origin."""
    media_requests: int = 0
    """Requests for the file on the download origin."""
    media_failures_served: int = 0
    bodies_served: int = 0
    """Responses that started sending the video (200 or 206)."""

    @property
    def done(self) -> bool:
        """True once a poll has reported the operation finished."""
        return self.done_at is not None

    @property
    def has_video(self) -> bool:
        """True when the operation finishes with a video (no error, not safety-filtered)."""
        return self.scenario.operation_error is None and self.scenario.rai_reasons is None


@dataclass
class _Bases:
    api: str
    download: str
    serving: bool = False
    api_origin: Origin = field(init=False)
    download_origin: Origin = field(init=False)

    def __post_init__(self) -> None:
        self.api_origin = Origin.of(httpx.URL(self.api))
        self.download_origin = Origin.of(httpx.URL(self.download))


def _check_base(name: str, value: str) -> str:
    value = value.rstrip("/")
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as exc:
        raise ValueError(f"{name} {value!r} is not a URL") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"{name} {value!r} must be an http(s) URL with a host")
    if url.path not in ("", "/") or url.query or url.userinfo:
        raise ValueError(f"{name} {value!r} must be an origin only (no path, query, user)")
    return value


class Emulator:
    """A local Gemini API (Veo endpoints) on two origins: the API, and a download origin.

    Scripted with ``Scenario``s: ``rule`` (by prompt) wins, then ``queue`` (in order), then
    ``default``. Serve it in-process with ``transport()`` or on loopback with ``serve()``; both
    go through ``handle``. Thread-safe.

    With ``api_key`` set, the API origin wants exactly that key in ``x-goog-api-key``; with
    ``None`` it takes any non-empty key. Like the real service it answers a missing key with
    403 PERMISSION_DENIED, a wrong one with 400 INVALID_ARGUMENT (reason API_KEY_INVALID),
    and a bearer token instead of a key with 401 UNAUTHENTICATED. A ``?key=`` query parameter
    is not taken (the service takes it, but keys belong in headers). The download origin takes
    no key: a request bringing one is answered 400 and recorded in ``key_leaks``.

    ``clock`` times file expiry, ``sleep`` paces slow bodies, ``seed`` fixes the ids.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        default: Scenario | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        api_base: str = DEFAULT_API_BASE,
        download_base: str = DEFAULT_DOWNLOAD_BASE,
        seed: int | None = None,
    ) -> None:
        if api_key is not None and (not api_key or not api_key.isprintable()):
            raise ValueError("api_key must be a non-empty printable string, or None")
        self._api_key = api_key
        self.default = default if default is not None else Scenario()
        self._clock = clock
        self._sleep = sleep
        self._bases = _Bases(
            _check_base("api_base", api_base), _check_base("download_base", download_base)
        )
        if self._bases.api_origin == self._bases.download_origin:
            raise ValueError("api_base and download_base must be different origins")
        self._lock = threading.RLock()
        self._random = random.Random(seed)
        self._queue: deque[Scenario] = deque()
        self._rules: list[tuple[Match, Scenario]] = []
        self._operations: dict[str, OperationState] = {}
        self._files: dict[str, OperationState] = {}
        self._requests: list[RequestRecord] = []
        self._key_leaks: list[KeyLeak] = []
        self._seen_keys: set[str] = set()

    def __repr__(self) -> str:
        keyed = "a fixed key" if self._api_key is not None else "any key"
        return (
            f"Emulator(api_base={self.api_base!r}, download_base={self.download_base!r}, {keyed})"
        )

    # -- scripting -------------------------------------------------------------------------

    def queue(self, *scenarios: Scenario) -> None:
        """Give the next submits these scenarios, one each, in order (after rules)."""
        with self._lock:
            self._queue.extend(scenarios)

    def rule(self, match: Match, scenario: Scenario) -> None:
        """Give every submit whose prompt contains ``match`` (or satisfies it) ``scenario``.

        Rules are tried in the order they were added; the first that matches wins.
        """
        if isinstance(match, str) and not match:
            raise ValueError("a rule's substring must not be empty (it would match everything)")
        with self._lock:
            self._rules.append((match, scenario))

    # -- what tests look at ----------------------------------------------------------------

    @property
    def api_base(self) -> str:
        """The API origin, ``https://...`` in-process or ``http://127.0.0.1:PORT`` serving."""
        with self._lock:
            return self._bases.api

    @property
    def download_base(self) -> str:
        """The download origin that file requests are redirected to."""
        with self._lock:
            return self._bases.download

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request answered, in order: ``(origin, method, path, status)``, no values."""
        with self._lock:
            return list(self._requests)

    @property
    def key_leaks(self) -> list[KeyLeak]:
        """Requests that brought the API key to the download origin (should stay empty)."""
        with self._lock:
            return list(self._key_leaks)

    @property
    def operations(self) -> dict[str, OperationState]:
        """A snapshot of every operation by name."""
        with self._lock:
            return {name: dataclasses.replace(op) for name, op in self._operations.items()}

    # -- running ---------------------------------------------------------------------------

    def transport(self) -> httpx.BaseTransport:
        """An httpx transport that answers both origins in-process, streaming bodies."""
        from ._transport import EmulatorTransport

        return EmulatorTransport(self)

    def serve(
        self, host: str = "127.0.0.1", port: int = 0, download_port: int = 0
    ) -> contextlib.AbstractContextManager[str]:
        """Serve both origins on sockets; the context yields the API base URL.

        While serving, ``api_base`` and ``download_base`` are the socket URLs.
        """
        from ._server import serve

        return serve(self, host=host, port=port, download_port=download_port)

    def side_of(self, url: httpx.URL) -> Side | None:
        """Which origin ``url`` is on, or ``None`` for a host the emulator does not serve."""
        origin = Origin.of(url)
        with self._lock:
            if origin == self._bases.api_origin:
                return Side.API
            if origin == self._bases.download_origin:
                return Side.DOWNLOAD
        return None

    def handle(
        self,
        side: Side,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]],
        body: bytes = b"",
    ) -> Reply:
        """Answer one request; ``target`` is the path and query (or a whole URL)."""
        method = method.upper()
        split = urlsplit(target)
        path = split.path or "/"
        if side is Side.API:
            reply = self._handle_api(method, path, split.query, headers, body)
        else:
            reply = self._handle_download(method, target, path, split.query, headers)
        record = RequestRecord(side.value, method, path, reply.status)
        with self._lock:
            self._requests.append(record)
        logger.debug("%s %s %s -> %d", side.value, method, path, reply.status)
        return reply

    def _attach(self, api_base: str, download_base: str) -> _Bases:
        """Point the emulator at the sockets; return what to restore."""
        with self._lock:
            if self._bases.serving:
                raise RuntimeError("this emulator is already serving on sockets")
            previous = self._bases
            self._bases = _Bases(api_base, download_base, serving=True)
            return previous

    def _detach(self, previous: _Bases) -> None:
        with self._lock:
            self._bases = previous

    # -- the API origin --------------------------------------------------------------------

    def _handle_api(
        self,
        method: str,
        path: str,
        query: str,
        headers: Sequence[tuple[str, str]],
        body: bytes,
    ) -> Reply:
        refused = self._authenticate(headers)
        if refused is not None:
            return refused
        path = unquote(path)
        if method == "POST" and (match := _SUBMIT_RE.fullmatch(path)):
            return self._submit(match.group(1), body)
        if method in ("GET", "HEAD") and (match := _FILE_RE.fullmatch(path)):
            return self._api_download(match.group(1), query)
        if method == "GET" and (match := _OPERATION_RE.fullmatch(path)):
            return self._poll(match.group(1))
        return google_error(404, f"Method not found: {method} {path}")

    def _authenticate(self, headers: Sequence[tuple[str, str]]) -> Reply | None:
        keys = [value for name, value in headers if name.lower() == API_KEY_HEADER]
        key = keys[-1] if keys else ""
        if not key:
            if any(name.lower() == "authorization" for name, _ in headers):
                return google_error(401)
            return google_error(403, _MISSING_KEY_MESSAGE)
        if self._api_key is not None and not hmac.compare_digest(
            key.encode(), self._api_key.encode()
        ):
            return google_error(
                400,
                _INVALID_KEY_MESSAGE,
                details=[
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com",
                        "metadata": {"service": "generativelanguage.googleapis.com"},
                    },
                    {
                        "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                        "locale": "en-US",
                        "message": _INVALID_KEY_MESSAGE,
                    },
                ],
            )
        with self._lock:
            self._seen_keys.add(key)
        return None

    def _submit(self, model: str, body: bytes) -> Reply:
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            return google_error(400, "Invalid JSON payload received. Unexpected token.")
        if not isinstance(payload, dict):
            return google_error(400, "Invalid JSON payload received. Expected an object.")
        instances = payload.get("instances")
        instance = instances[0] if isinstance(instances, list) and instances else None
        prompt = instance.get("prompt") if isinstance(instance, dict) else None
        if not isinstance(prompt, str) or not prompt.strip():
            return google_error(400, "instances[0].prompt is required and must not be empty.")
        parameters = payload.get("parameters", {})
        if not isinstance(parameters, dict):
            return google_error(
                400, "Invalid JSON payload received. 'parameters' is not an object."
            )
        scenario = self._choose(prompt)
        if scenario.submit_status is not None:
            return self._failure(scenario.submit_status, scenario)
        with self._lock:
            op_id = self._new_id()
            file_id = self._new_id()
            name = f"models/{model}/operations/{op_id}"
            state = OperationState(
                name=name,
                model=model,
                prompt=prompt,
                parameters=dict(parameters),
                scenario=scenario,
                file_id=file_id,
                token=hashlib.sha256(f"{name}:{file_id}".encode()).hexdigest()[:32],
            )
            self._operations[name] = state
            self._files[file_id] = state
        logger.info("emulator: started %s", name)
        return json_reply(200, {"name": name})

    def _choose(self, prompt: str) -> Scenario:
        with self._lock:
            for match, scenario in self._rules:
                if match(prompt) if callable(match) else match in prompt:
                    return scenario
            if self._queue:
                return self._queue.popleft()
            return self.default

    def _new_id(self) -> str:
        while True:
            candidate = "".join(self._random.choices(_ID_ALPHABET, k=_ID_LENGTH))
            if candidate not in self._files and not any(
                name.endswith("/" + candidate) for name in self._operations
            ):
                return candidate

    def _poll(self, name: str) -> Reply:
        with self._lock:
            state = self._operations.get(name)
            if state is None:
                return google_error(404)
            state.polls += 1
            scenario = state.scenario
            if state.poll_failures_served < len(scenario.poll_failures):
                status = scenario.poll_failures[state.poll_failures_served]
                state.poll_failures_served += 1
                return self._failure(status, scenario)
            if state.running_answered < scenario.running_polls:
                state.running_answered += 1
                return json_reply(200, {"name": name})
            if state.done_at is None:
                state.done_at = self._clock()
            return json_reply(200, self._done_payload(state))

    def _done_payload(self, state: OperationState) -> dict[str, Any]:
        scenario = state.scenario
        if scenario.operation_error is not None:
            error = {"code": 3, "message": scenario.operation_error, "status": "INVALID_ARGUMENT"}
            return {"name": state.name, "done": True, "error": error}
        if scenario.rai_reasons is not None:
            result: dict[str, Any] = {
                "raiMediaFilteredCount": max(len(scenario.rai_reasons), 1),
                "raiMediaFilteredReasons": list(scenario.rai_reasons),
            }
        else:
            uri = f"{self._bases.api}/v1beta/files/{state.file_id}:download?alt=media"
            result = {"generatedSamples": [{"video": {"uri": uri}}]}
        return {
            "name": state.name,
            "done": True,
            "response": {"@type": _RESPONSE_TYPE, "generateVideoResponse": result},
        }

    def _failure(self, status: int, scenario: Scenario) -> Reply:
        """A Google error for a scripted failure; 429 says when to come back, twice."""
        if status != 429:
            return google_error(status)
        return google_error(
            429,
            details=[
                {
                    "@type": "type.googleapis.com/google.rpc.RetryInfo",
                    "retryDelay": f"{scenario.retry_after}s",
                }
            ],
            extra=[("Retry-After", str(scenario.retry_after))],
        )

    def _expired(self, state: OperationState) -> bool:
        ttl = state.scenario.file_ttl
        return (
            ttl is not None and state.done_at is not None and self._clock() - state.done_at >= ttl
        )

    def _api_download(self, file_id: str, query: str) -> Reply:
        with self._lock:
            state = self._files.get(file_id)
            if state is None or not state.done or not state.has_video:
                return google_error(404)
            state.api_downloads += 1
            if parse_qs(query).get("alt") != ["media"]:
                return google_error(400, "Only alt=media is supported for file downloads.")
            if state.scenario.download_status is not None:
                return self._failure(state.scenario.download_status, state.scenario)
            if self._expired(state):
                return google_error(404)
            location = f"{self._bases.download}/files/{file_id}?token={state.token}"
        return Reply(
            302,
            [
                ("Location", location),
                ("Content-Type", "text/html; charset=UTF-8"),
                ("Content-Length", "0"),
            ],
        )

    # -- the download origin ---------------------------------------------------------------

    def _handle_download(
        self,
        method: str,
        target: str,
        path: str,
        query: str,
        headers: Sequence[tuple[str, str]],
    ) -> Reply:
        where = self._find_key(target, headers)
        if where is not None:
            with self._lock:
                self._key_leaks.append(KeyLeak(method, path, where))
            logger.warning("emulator: the API key reached the download origin (%s)", where)
            return text_reply(400, "Bad Request: the download origin takes no API key.\n")
        match = _MEDIA_RE.fullmatch(unquote(path))
        if match is None:
            return text_reply(404, "Not Found\n")
        if method not in ("GET", "HEAD"):
            return text_reply(405, "Method Not Allowed\n", [("Allow", "GET, HEAD")])
        fields = {name.lower(): value for name, value in headers}
        with self._lock:
            state = self._files.get(match.group(1))
            if state is None or not state.done or not state.has_video:
                return text_reply(404, "Not Found\n")
            state.media_requests += 1
            if parse_qs(query).get("token") != [state.token]:
                return text_reply(403, "Forbidden: the signature does not match.\n")
            if self._expired(state):
                return text_reply(404, "Not Found\n")
            scenario = state.scenario
            if state.media_failures_served < len(scenario.download_failures):
                status = scenario.download_failures[state.media_failures_served]
                state.media_failures_served += 1
                extra = [("Retry-After", str(scenario.retry_after))] if status in (429, 503) else []
                return text_reply(status, f"HTTP {status}\n", extra)
            return self._media(state, method, fields)

    def _media(self, state: OperationState, method: str, fields: dict[str, str]) -> Reply:
        """The video, whole or one range; called with the lock held, streams after it."""
        scenario = state.scenario
        size = scenario.size
        etag = '"' + hashlib.sha256(f"{state.name}:{size}".encode()).hexdigest()[:32] + '"'
        wanted = parse_range(fields.get("range"), size)
        if_range = fields.get("if-range")
        if wanted is not None and if_range is not None and if_range != etag:
            wanted = None  # the file changed since the client's first byte: send it all
        if wanted is False:
            return Reply(416, [("Content-Range", f"bytes */{size}"), ("Content-Length", "0")])
        start, end = wanted if wanted else (0, size - 1)
        length = end - start + 1
        headers = [
            ("Content-Type", "video/mp4"),
            ("Content-Length", str(length)),
            ("Accept-Ranges", "bytes"),
            ("ETag", etag),
            ("Cache-Control", "private, max-age=0"),
        ]
        status = 200
        if wanted:
            status = 206
            headers.append(("Content-Range", f"bytes {start}-{end}/{size}"))
        if method == "HEAD":
            return Reply(status, headers)
        state.bodies_served += 1
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
        body = self._media_body(
            state.name, size, start, end + 1, scenario.chunk_size, scenario.slow_chunk_delay, cut
        )
        return Reply(status, headers, body)

    def _media_body(
        self,
        seed: str,
        size: int,
        start: int,
        stop: int,
        chunk_size: int,
        delay: float | None,
        cut: tuple[int, CutKind] | None,
    ) -> Iterator[bytes | Cut]:
        chunks = slice_chunks(iter_video(size, seed, chunk_size), start, stop)
        sent = 0
        for index, chunk in enumerate(chunks):
            if delay and index:
                self._sleep(delay)
            if cut is not None and sent + len(chunk) >= cut[0]:
                piece = chunk[: cut[0] - sent]
                if piece:
                    yield piece
                yield Cut(cut[1], sent + len(piece), stop - start)
                return
            yield chunk
            sent += len(chunk)

    def _find_key(self, target: str, headers: Sequence[tuple[str, str]]) -> str | None:
        """Where the request carries the API key, or ``None``; the value is never kept."""
        with self._lock:
            keys = set(self._seen_keys)
            if self._api_key is not None:
                keys.add(self._api_key)
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
