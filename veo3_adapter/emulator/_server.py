"""Loopback sockets for the emulator: two threaded HTTP/1.1 servers, one per origin."""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import struct
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import urlsplit

from ._wire import Cut, CutKind, Reply, Responder, framed, side_for

__all__ = ["serve"]

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
        target = self.path if "://" in self.path else server.url + self.path
        side = side_for(urlsplit(target).path, on_api_origin=server.is_api)
        reply = server.responder.handle(
            side, self.command, target, list(self.headers.items()), body
        )
        try:
            self._send(reply, server)
        except OSError as exc:  # the client went away mid-body; nothing to answer
            logger.debug("emulator: %s %s: client gone (%s)", self.command, self.path, exc)
            self.close_connection = True
        finally:
            reply.close()

    def _send(self, reply: Reply, server: _Server) -> None:
        headers = framed(reply, self.command)
        self.log_request(reply.status)
        self.send_response_only(reply.status)
        if not any(name.lower() == "server" for name, _ in headers):
            self.send_header("Server", self.version_string())
        self.send_header("Date", self.date_time_string())
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        chunked = any(name.lower() == "transfer-encoding" for name, _ in headers)
        for item in reply.chunks():
            if isinstance(item, Cut):
                self._cut(item, server)
                return
            if chunked and item:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(item), item))
            elif not chunked:
                self.wfile.write(item)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

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
        self, address: tuple[str, int], responder: Responder, is_api: bool, family: int
    ) -> None:
        self.address_family = family
        self.responder = responder
        self.is_api = is_api
        self.role = "api" if is_api else "download"
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
            name=f"veo3-emulator-{self.role}",
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
    responder: Responder, is_api: bool, host: str, port: int
) -> tuple[_Server, threading.Thread]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server = _Server((host, port), responder, is_api, family)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": _POLL_INTERVAL},
        name=f"veo3-emulator-{server.role}-accept",
        daemon=True,
    )
    thread.start()
    return server, thread


@contextlib.contextmanager
def serve(
    responder: Responder, *, host: str, port: int, download_port: int
) -> Iterator[tuple[str, str]]:
    """Run the API origin and the second origin on ``host``; yield both base URLs.

    Both servers stop on exit, open connections included.
    """
    if port and port == download_port:
        raise ValueError("the API and download origins need different ports")
    started: list[tuple[_Server, threading.Thread]] = []
    try:
        started.append(_start(responder, True, host, port))
        started.append(_start(responder, False, host, download_port))
        (api, _), (download, _) = started
        yield api.url, download.url
    finally:
        for server, thread in started:
            server.stop()
            thread.join(_JOIN_TIMEOUT)
