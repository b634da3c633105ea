"""The API origin's key check, for the JSON API and the media server behind it alike."""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from ._state import State
from ._wire import API_KEY_HEADER, Reply, google_error

__all__ = ["authenticate"]

_MISSING_KEY_MESSAGE = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)
_INVALID_KEY_MESSAGE = "API key not valid. Please pass a valid API key."


def authenticate(state: State, headers: Sequence[tuple[str, str]]) -> Reply | None:
    """``None`` when the request carries an acceptable key, else the service's refusal.

    No key: 403 PERMISSION_DENIED (401 UNAUTHENTICATED when a bearer token came instead);
    a key other than the emulator's: 400 INVALID_ARGUMENT, reason API_KEY_INVALID.
    """
    keys = [value for name, value in headers if name.lower() == API_KEY_HEADER]
    key = keys[-1] if keys else ""
    if not key:
        if any(name.lower() == "authorization" for name, _ in headers):
            return google_error(401)
        return google_error(403, _MISSING_KEY_MESSAGE)
    if state.api_key is not None and not hmac.compare_digest(key.encode(), state.api_key.encode()):
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
    with state.lock:
        state.seen_keys.add(key)
    return None
