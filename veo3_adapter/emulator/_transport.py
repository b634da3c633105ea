"""The emulator as an httpx transport: both origins in-process, bodies streamed."""

from __future__ import annotations

from collections.abc import Iterator
from http import HTTPStatus

import httpx

from ._wire import Cut, CutKind, Reply, Responder, framed

__all__ = ["EmulatorTransport"]


class _ReplyStream(httpx.SyncByteStream):
    """Yields the reply's chunks; a ``Cut`` becomes the error httpx raises on a socket."""

    def __init__(self, reply: Reply) -> None:
        self._reply = reply

    def __iter__(self) -> Iterator[bytes]:
        for item in self._reply.chunks():
            if isinstance(item, Cut):
                # What httpx (h11) raises over a real connection, so clients meet the same.
                if item.kind is CutKind.DROP:
                    raise httpx.ReadError("[Errno 104] Connection reset by peer")
                raise httpx.RemoteProtocolError(
                    "peer closed connection without sending complete message body: "
                    f"received {item.sent} bytes, expected {item.expected}"
                )
            yield item

    def close(self) -> None:
        self._reply.close()


class EmulatorTransport(httpx.BaseTransport):
    """Routes each request to the emulator's API or media server; other hosts do not exist."""

    def __init__(self, emulator: Responder) -> None:
        self._emulator = emulator

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        side = self._emulator.side_of(url)
        if side is None:
            raise httpx.ConnectError(
                f"[Errno -2] Name or service not known: {request.url.host} "
                "(not an origin of the Veo emulator)",
                request=request,
            )
        body = request.read()
        reply = self._emulator.handle(
            side,
            request.method,
            url,
            request.headers.multi_items(),
            body,
        )
        try:
            phrase = HTTPStatus(reply.status).phrase.encode()
        except ValueError:
            phrase = b""
        return httpx.Response(
            reply.status,
            headers=framed(reply, request.method),
            stream=_ReplyStream(reply),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": phrase},
        )
