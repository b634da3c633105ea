"""The emulator on loopback sockets: two threaded HTTP/1.1 servers, one per origin."""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import struct
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, cast

from ._wire import Cut, CutKind, Side

if TYPE_CHECKING:
    from ._core import Emulator

__all__ = ["serve", "serve_forever"]

logger = logging.getLogger("veo3_adapter.emulator")

_POLL_INTERVAL = 0.05  # how soon serve_forever notices shutdown(); keeps test teardown quick
_JOIN_TIMEOUT = 5.0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without TCP_NODELAY, Nagle plus the
    # client's delayed ACK stalls each response ~40 ms.
    disable_nagle_algorithm = True
    server_version = "veo3-emulator"
    sys_version = ""

    def do_GET(self) -> None:
        self._dispatch()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def _dispatch(self) -> None:
        server = cast(_Server, self.server)
        length = self.headers.get("Content-Length", "")
        if self.headers.get("Transfer-Encoding"):
            self.send_error(411, "Length Required")  # our clients always send Content-Length
            return
        body = self.rfile.read(int(length)) if length.isdigit() and int(length) > 0 else b""
        reply = server.emulator.handle(
            server.side, self.command, self.path, list(self.headers.items()), body
        )
        try:
            self.send_response(reply.status)
            for name, value in reply.headers:
                self.send_header(name, value)
            self.end_headers()
            for item in reply.chunks():
                if isinstance(item, Cut):
                    self._cut(item, server)
                    return
                self.wfile.write(item)
        except OSError as exc:  # the client went away mid-body; nothing to answer
            logger.debug("emulator: %s %s: client gone (%s)", self.command, self.path, exc)
            self.close_connection = True
        finally:
            reply.close()

    def _cut(self, cut: Cut, server: _Server) -> None:
        self.close_connection = True
        if cut.kind is CutKind.DROP:
            # Linger 0 makes close() send RST: the client sees "connection reset by peer".
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            server.mark_dropped(self.connection)
        # TRUNCATE: the ordinary close that follows sends FIN before Content-Length is met.

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("emulator %s: " + format, self.address_string(), *args)


class _Server(ThreadingHTTPServer):
    """One origin. Tracks its connections so that stopping closes idle keep-alives too."""

    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], emulator: Emulator, side: Side, family: int
    ) -> None:
        self.address_family = family
        self.emulator = emulator
        self.side = side
        self._conn_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._dropped: set[socket.socket] = set()
        self._workers: list[threading.Thread] = []
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls getfqdn(), a DNS lookup we neither need nor may have.
        socketserver.TCPServer.server_bind(self)
        host, port = self.socket.getsockname()[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    @property
    def url(self) -> str:
        host = self.server_name
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.server_port}"

    def process_request(self, request: Any, client_address: Any) -> None:
        worker = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"veo3-emulator-{self.side.value}",
            daemon=True,
        )
        with self._conn_lock:
            self._connections.add(request)
            self._workers = [t for t in self._workers if t.is_alive()]
            self._workers.append(worker)
        worker.start()

    def mark_dropped(self, request: socket.socket) -> None:
        with self._conn_lock:
            self._dropped.add(request)

    def shutdown_request(self, request: Any) -> None:
        with self._conn_lock:
            self._connections.discard(request)
            dropped = request in self._dropped
            self._dropped.discard(request)
        if dropped:
            self.close_request(request)  # no shutdown(SHUT_WR): that would send FIN, not RST
        else:
            super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("emulator: error while serving %s", client_address, exc_info=True)

    def stop(self) -> None:
        """Stop accepting, close open connections, wait for the workers."""
        self.shutdown()
        with self._conn_lock:
            connections = list(self._connections)
            workers = list(self._workers)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        for worker in workers:
            worker.join(_JOIN_TIMEOUT)
        self.server_close()


def _start(
    emulator: Emulator, side: Side, host: str, port: int
) -> tuple[_Server, threading.Thread]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server = _Server((host, port), emulator, side, family)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": _POLL_INTERVAL},
        name=f"veo3-emulator-{side.value}-accept",
        daemon=True,
    )
    thread.start()
    return server, thread


@contextlib.contextmanager
def serve(emulator: Emulator, *, host: str, port: int, download_port: int) -> Iterator[str]:
    """Run both origins on ``host``; yield the API base URL; stop both on exit."""
    if port and port == download_port:
        raise ValueError("the API and download origins need different ports")
    started: list[tuple[_Server, threading.Thread]] = []
    try:
        started.append(_start(emulator, Side.API, host, port))
        started.append(_start(emulator, Side.DOWNLOAD, host, download_port))
        (api, _), (download, _) = started
        previous = emulator._attach(api.url, download.url)
        try:
            logger.info("emulator: API at %s, downloads at %s", api.url, download.url)
            yield api.url
        finally:
            emulator._detach(previous)
    finally:
        for server, thread in started:
            server.stop()
            thread.join(_JOIN_TIMEOUT)


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
    from ._core import Emulator

    emulator = emulator if emulator is not None else Emulator()
    stop = stop if stop is not None else threading.Event()
    with emulator.serve(host, port, download_port) as base_url:
        logger.info("Veo emulator serving the Gemini API at %s", base_url)
        if ready is not None:
            ready(base_url)
        stop.wait()
    logger.info("Veo emulator stopped")
