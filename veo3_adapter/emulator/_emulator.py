"""The ``Emulator``: scripting, what tests look at, and routing each request to its server."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from urllib.parse import urlsplit

import httpx

from . import _server
from ._api import ApiAnswers
from ._link import Link
from ._media import MediaAnswers, find_key
from ._origin import Origin, check_base
from ._scenario import Scenario
from ._state import Bases, Match, OperationState, State
from ._transport import EmulatorTransport
from ._vertex import VertexAnswers
from ._wire import MEDIA_PREFIX, KeyLeak, Reply, RequestRecord, Side, side_for

__all__ = ["DEFAULT_API_BASE", "DEFAULT_DOWNLOAD_BASE", "Emulator", "serve_forever"]

logger = logging.getLogger("veo3_adapter.emulator")

DEFAULT_API_BASE = "https://generativelanguage.googleapis.com"
DEFAULT_DOWNLOAD_BASE = "https://veo3-downloads.emulator.invalid"


class Emulator:
    """A local Gemini API (Veo endpoints): the API origin, and a second origin for defences.

    By default it answers as the live service was recorded: chunked JSON, a download that
    302s to the media server on the same origin (``/download/v1beta/files/...``, key
    required there too) and a 200 MP4 without ranges. The ``cross_origin_redirect``
    scenario sends the 302 to the second origin instead, which takes no key.

    Scripted with ``Scenario``s: ``rule`` (by prompt) wins, then ``queue`` (in order), then
    ``default``. Serve it in-process with ``transport()`` or on loopback with ``serve()``; both
    go through ``handle``. Thread-safe.

    With ``api_key`` set, the API origin wants exactly that key in ``x-goog-api-key``; with
    ``None`` it takes any non-empty key. Like the real service it answers a missing key with
    403 PERMISSION_DENIED, a wrong one with 400 INVALID_ARGUMENT (reason API_KEY_INVALID),
    and a bearer token instead of a key with 401 UNAUTHENTICATED. A ``?key=`` query parameter
    is not taken (the service takes it, but keys belong in headers). The key may reach the
    API origin on both download hops and nowhere else: a request bringing it to the second
    origin is answered 400 and recorded in ``key_leaks``. A submit for a model outside
    ``CURRENT_MODELS`` gets the API's 404.

    The same origin serves Vertex AI (``/v1beta1/...``, regional with a bearer token, express
    mode with the key) and Cloud Storage (``/storage/v1/b/...``) for the video a submit with
    ``storageUri`` leaves in a bucket; see ``_vertex``. With ``token`` set, Vertex AI and
    Cloud Storage want exactly that bearer token; with ``None`` any non-empty one. A token
    reaching the second origin, or the key reaching Cloud Storage, is a leak too.

    ``latency`` (seconds) is added before every answer and ``bandwidth`` (bytes per second)
    paces every body the media server sends, each download on its own (``None``: as fast as
    the transport goes), to stand in for a network farther than loopback.

    ``clock`` times file expiry, ``sleep`` paces slow bodies and the added latency, ``seed``
    fixes the ids.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        token: str | None = None,
        default: Scenario | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        api_base: str = DEFAULT_API_BASE,
        download_base: str = DEFAULT_DOWNLOAD_BASE,
        seed: int | None = None,
        latency: float = 0.0,
        bandwidth: float | None = None,
    ) -> None:
        if api_key is not None and (not api_key or not api_key.isprintable()):
            raise ValueError("api_key must be a non-empty printable string, or None")
        if token is not None and (not token or not token.isprintable()):
            raise ValueError("token must be a non-empty printable string, or None")
        bases = Bases(check_base("api_base", api_base), check_base("download_base", download_base))
        if bases.api_origin == bases.download_origin:
            raise ValueError("api_base and download_base must be different origins")
        self._state = State(
            api_key,
            default if default is not None else Scenario(),
            bases,
            clock=clock,
            sleep=sleep,
            seed=seed,
        )
        self._link = Link(latency, bandwidth)
        self._api = ApiAnswers(self._state)
        self._media = MediaAnswers(self._state, self._find_key)
        self._vertex = VertexAnswers(self._state, self._media, token)

    def __repr__(self) -> str:
        keyed = "a fixed key" if self._state.api_key is not None else "any key"
        return (
            f"Emulator(api_base={self.api_base!r}, download_base={self.download_base!r}, {keyed})"
        )

    # -- scripting -------------------------------------------------------------------------

    @property
    def default(self) -> Scenario:
        """The scenario of a submit that no rule matches when the queue is empty."""
        return self._state.default

    @default.setter
    def default(self, scenario: Scenario) -> None:
        with self._state.lock:
            self._state.default = scenario

    def queue(self, *scenarios: Scenario) -> None:
        """Give the next submits these scenarios, one each, in order (after rules)."""
        with self._state.lock:
            self._state.queue.extend(scenarios)

    def rule(self, match: Match, scenario: Scenario) -> None:
        """Give every submit whose prompt contains ``match`` (or satisfies it) ``scenario``.

        Rules are tried in the order they were added; the first that matches wins.
        """
        if isinstance(match, str) and not match:
            raise ValueError("a rule's substring must not be empty (it would match everything)")
        with self._state.lock:
            self._state.rules.append((match, scenario))

    @property
    def latency(self) -> float:
        """Seconds added before every answer."""
        return self._link.latency

    @property
    def bandwidth(self) -> float | None:
        """Bytes per second of each media body (``None``: no limit)."""
        return self._link.bandwidth

    # -- what tests look at ----------------------------------------------------------------

    @property
    def api_base(self) -> str:
        """The API origin, ``https://...`` in-process or ``http://127.0.0.1:PORT`` serving."""
        with self._state.lock:
            return self._state.bases.api

    @property
    def download_base(self) -> str:
        """The second origin, where ``cross_origin_redirect`` sends file requests."""
        with self._state.lock:
            return self._state.bases.download

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request answered, in order: ``(server, method, path, status)``, no values."""
        with self._state.lock:
            return list(self._state.requests)

    @property
    def key_leaks(self) -> list[KeyLeak]:
        """Requests that brought a credential where it does not belong (should stay empty):
        the key or a bearer token to the second origin, the key to Cloud Storage."""
        with self._state.lock:
            return list(self._state.key_leaks)

    @property
    def operations(self) -> dict[str, OperationState]:
        """A snapshot of every operation by name."""
        with self._state.lock:
            return {name: dataclasses.replace(op) for name, op in self._state.operations.items()}

    # -- running ---------------------------------------------------------------------------

    def transport(self) -> httpx.BaseTransport:
        """An httpx transport that answers both origins in-process, streaming bodies."""
        return EmulatorTransport(self)

    @contextlib.contextmanager
    def serve(
        self, host: str = "127.0.0.1", port: int = 0, download_port: int = 0
    ) -> Iterator[str]:
        """Serve both origins on sockets; the context yields the API base URL.

        While serving, ``api_base`` and ``download_base`` are the socket URLs.
        """
        with _server.serve(self, host=host, port=port, download_port=download_port) as urls:
            with self._state.lock:
                if self._state.bases.serving:
                    raise RuntimeError("this emulator is already serving on sockets")
                previous = self._state.bases
                self._state.bases = Bases(*urls, serving=True)
            try:
                logger.info("emulator: API at %s, second origin at %s", *urls)
                yield urls[0]
            finally:
                with self._state.lock:
                    self._state.bases = previous

    def side_of(self, url: httpx.URL | str) -> Side | None:
        """Which server answers ``url``, or ``None`` for a host the emulator does not serve."""
        text = str(url)
        origin = Origin.parse(text)
        with self._state.lock:
            bases = self._state.bases
        if origin is not None and origin == bases.api_origin:
            return side_for(urlsplit(text).path, on_api_origin=True)
        if origin is not None and origin == bases.download_origin:
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
        """Answer one request; ``target`` is the whole URL, or its path and query.

        For a path alone, the origin is taken to be the API's unless ``side`` is the media
        server and the path is not under ``/download/``.
        """
        method = method.upper()
        split = urlsplit(target)
        path = split.path or "/"
        self._link.delay(self._state.sleep)
        if side is Side.API and self._vertex.serves(path):
            reply = self._vertex.answer(method, path, split.query, headers, body)
            side = self._vertex.side(path)
        elif side is Side.API:
            reply = self._api.answer(method, path, split.query, headers, body)
        else:
            reply = self._media.answer(self._on_api_origin(target), method, target, headers)
        if side is Side.DOWNLOAD:
            reply = self._link.paced(reply, self._state.sleep)
        self._state.record(RequestRecord(side.value, method, path, reply.status))
        logger.debug("%s %s %s -> %d", side.value, method, path, reply.status)
        return reply

    def _on_api_origin(self, target: str) -> bool:
        origin = Origin.parse(target)
        with self._state.lock:
            bases = self._state.bases
        if origin == bases.api_origin:
            return True
        if origin == bases.download_origin:
            return False
        return urlsplit(target).path.startswith(MEDIA_PREFIX)

    def _find_key(self, target: str, headers: Sequence[tuple[str, str]]) -> str | None:
        """Where a request to the second origin carries the API key or a token, or ``None``."""
        return find_key(self._state, target, headers) or self._vertex.find_token(target, headers)


def serve_forever(
    emulator: Emulator | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    download_port: int = 0,
    stop: threading.Event | None = None,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve until ``stop`` is set (or the process is interrupted), then shut down cleanly.

    Builds an ``Emulator()`` that accepts any key unless one is given. ``ready`` is called
    with the API base URL once both origins listen. Output goes through ``logging`` only.
    """
    emulator = emulator if emulator is not None else Emulator()
    stop = stop if stop is not None else threading.Event()
    with emulator.serve(host, port, download_port) as base_url:
        logger.info("Veo emulator serving the Gemini API at %s", base_url)
        if ready is not None:
            ready(base_url)
        stop.wait()
    logger.info("Veo emulator stopped")
