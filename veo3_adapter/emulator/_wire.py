"""What the core answers with, and the Google error bodies it answers in."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from http import HTTPStatus
from typing import Any, NamedTuple

__all__ = [
    "Cut",
    "CutKind",
    "KeyLeak",
    "Reply",
    "RequestRecord",
    "Side",
    "google_error",
    "json_reply",
    "text_reply",
]

_JSON_TYPE = "application/json; charset=UTF-8"

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
    """Which of the two emulated origins a request reached."""

    API = "api"
    DOWNLOAD = "download"


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
    """One response: status, headers, and body chunks that may end with a ``Cut``."""

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
    """One request the emulator answered; no header or query values, so no key."""

    origin: str
    method: str
    path: str
    status: int


class KeyLeak(NamedTuple):
    """A request that brought the API key to the download origin; the key is not stored."""

    method: str
    path: str
    where: str


def json_reply(
    status: int, payload: dict[str, Any], extra: Iterable[tuple[str, str]] = ()
) -> Reply:
    """A JSON body, indented as Google's front end sends it."""
    data = json.dumps(payload, indent=2).encode()
    headers = [("Content-Type", _JSON_TYPE), ("Content-Length", str(len(data)))]
    headers.extend(extra)
    return Reply(status, headers, [data])


def text_reply(status: int, text: str, extra: Iterable[tuple[str, str]] = ()) -> Reply:
    """A short plain-text body (the download origin is not a Google JSON API)."""
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
