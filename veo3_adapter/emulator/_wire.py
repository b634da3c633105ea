"""What the emulator answers with, the headers Google's servers send, and its error bodies.

The server side of the wire: header names and values here are written as the live service
sends them, independently of what the adapter expects to receive.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from http import HTTPStatus
from typing import Any, NamedTuple, Protocol

__all__ = [
    "API_KEY_HEADER",
    "MEDIA_PREFIX",
    "Cut",
    "CutKind",
    "KeyLeak",
    "Reply",
    "RequestRecord",
    "Responder",
    "Side",
    "echoed",
    "framed",
    "google_error",
    "json_reply",
    "side_for",
    "text_reply",
]

API_KEY_HEADER = "x-goog-api-key"
"""Where the Gemini API reads its key (the ``?key=`` parameter is not taken here)."""

MEDIA_PREFIX = "/download/"
"""Paths under this prefix on the API origin are answered by the media server."""

# Every JSON answer of the API front end, as recorded live; the body is sent chunked.
_JSON_HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Type", "application/json; charset=UTF-8"),
    ("Vary", "Origin"),
    ("Vary", "X-Origin"),
    ("Vary", "Referer"),
    ("Server", "scaffolding on HTTPServer2"),
    ("X-XSS-Protection", "0"),
    ("X-Frame-Options", "SAMEORIGIN"),
    ("X-Content-Type-Options", "nosniff"),
)
MEDIA_SERVER = ("Server", "UploadServer")
"""The media server's ``Server`` header."""

# Request headers a redirect does not echo: framing, routing and its own content type.
_NOT_ECHOED = frozenset(
    {
        "host",
        "content-length",
        "content-type",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "proxy-connection",
    }
)

# google.rpc.Code names and the messages Google's front end uses for them.
_GOOGLE_STATUS: dict[int, tuple[str, str]] = {
    400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
    401: (
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
        "cookie or other valid authentication credential. See "
        "https://developers.google.com/identity/sign-in/web/devconsole-project.",
    ),
    403: ("PERMISSION_DENIED", "The caller does not have permission"),
    404: ("NOT_FOUND", "Requested entity was not found."),
    409: ("ABORTED", "The operation was aborted."),
    429: ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
    499: ("CANCELLED", "The operation was cancelled."),
    500: (
        "INTERNAL",
        "An internal error has occurred. Please retry or report in "
        "https://developers.generativeai.google/guide/troubleshooting",
    ),
    501: ("UNIMPLEMENTED", "Method not implemented."),
    503: ("UNAVAILABLE", "The service is currently unavailable."),
    504: ("DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
}


class Side(StrEnum):
    """Which emulated server answered: the JSON API, or the media server behind downloads.

    The media server is reached on the API origin under ``/download/`` (the recorded flow),
    or on the second origin when a scenario redirects there.
    """

    API = "api"
    DOWNLOAD = "download"


def side_for(path: str, *, on_api_origin: bool) -> Side:
    """The server that answers ``path`` on the API origin or on the second origin."""
    if on_api_origin and not path.startswith(MEDIA_PREFIX):
        return Side.API
    return Side.DOWNLOAD


class CutKind(Enum):
    """How a body stops early: a clean close (short body) or a reset connection."""

    TRUNCATE = "truncate"
    DROP = "drop"


@dataclass(frozen=True)
class Cut:
    """Marker at the end of a body: the connection ends here, before Content-Length."""

    kind: CutKind
    sent: int
    expected: int


@dataclass
class Reply:
    """One response: status, headers, and body chunks that may end with a ``Cut``.

    A reply without ``Content-Length`` goes out chunked (``framed``).
    """

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: Iterable[bytes | Cut] = ()

    def chunks(self) -> Iterator[bytes | Cut]:
        """The body, in order."""
        return iter(self.body)

    def close(self) -> None:
        """Release the body generator (and whatever it holds) if it was not consumed."""
        close = getattr(self.body, "close", None)
        if callable(close):
            close()


class RequestRecord(NamedTuple):
    """One request the emulator answered; no header or query values, so no key.

    ``origin`` names the server that answered (``Side``): "api", or "download" for the
    media server wherever it was reached.
    """

    origin: str
    method: str
    path: str
    status: int


class KeyLeak(NamedTuple):
    """A request that brought the API key to the second origin; the key is not stored."""

    method: str
    path: str
    where: str


class Responder(Protocol):
    """What the transport and the socket server hand requests to."""

    def side_of(self, url: str) -> Side | None: ...

    def handle(
        self,
        side: Side,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]],
        body: bytes = b"",
    ) -> Reply: ...


def framed(reply: Reply, method: str) -> list[tuple[str, str]]:
    """The headers to send: a body without ``Content-Length`` is sent chunked."""
    headers = [(n, v) for n, v in reply.headers if n.lower() != "transfer-encoding"]
    if method == "HEAD" or reply.status in (204, 304) or 100 <= reply.status < 200:
        return headers
    if any(n.lower() == "content-length" for n, _ in headers):
        return headers
    return [*headers, ("Transfer-Encoding", "chunked")]


def echoed(headers: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """A request's headers as the API's download redirect echoes them (key included)."""
    return [
        ("-".join(part.capitalize() for part in name.split("-")), value)
        for name, value in headers
        if name.lower() not in _NOT_ECHOED
    ]


def json_reply(
    status: int, payload: dict[str, Any], extra: Iterable[tuple[str, str]] = ()
) -> Reply:
    """A JSON body, indented and framed as Google's front end sends it (chunked)."""
    data = json.dumps(payload, indent=2).encode()
    return Reply(status, [*_JSON_HEADERS, *extra], [data])


def text_reply(status: int, text: str, extra: Iterable[tuple[str, str]] = ()) -> Reply:
    """A short plain-text body (a media server on its own origin is not a JSON API)."""
    data = text.encode()
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(data))),
    ]
    headers.extend(extra)
    return Reply(status, headers, [data])


def google_error(
    code: int,
    message: str | None = None,
    *,
    details: list[dict[str, Any]] | None = None,
    extra: Iterable[tuple[str, str]] = (),
) -> Reply:
    """``{"error": {"code", "message", "status"[, "details"]}}``, the google.rpc.Status shape."""
    status, default_message = _GOOGLE_STATUS.get(code, ("UNKNOWN", _phrase(code)))
    error: dict[str, Any] = {"code": code, "message": message or default_message, "status": status}
    if details:
        error["details"] = details
    return json_reply(code, {"error": error}, extra)


def _phrase(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return f"HTTP {code}"
