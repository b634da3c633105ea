"""Everything that knows what a secret looks like, and the one way to hide it.

Every piece of text that leaves the package (exception messages, ``error_detail`` in
jobs.json, log records, CLI output, cassettes) passes through :func:`redact` or
:func:`redact_bytes`. Nothing else in either package knows key shapes, the variables keys
live in, or which headers and query parameters carry credentials.

Redaction replaces whole secrets only. A literal value shorter than
:data:`MIN_SECRET_LENGTH` cannot be a real credential (Google API keys are 39 characters,
OAuth tokens longer) and is never used as a literal to replace: scrubbing ``x`` would rewrite
every letter ``x`` in a cassette, an operation name or a video. Such a value is still never
written anywhere, because the headers that carry it are dropped by name.

A credential is recognised in every form a recording can hold it: plain, with any of its
characters percent-encoded or ``\\u``/``\\x``-escaped, and base64-encoded
(:func:`encoded_variants` of a known value; :data:`ESCAPED_BYTE_SHAPES` and
:data:`BASE64_CANDIDATE` for values that are not known). Those shape tables live in
:mod:`._secret_shapes` and are imported from here.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping

from ._secret_shapes import (
    BASE64_CANDIDATE,
    BYTE_SHAPES,
    ESCAPED_BYTE_SHAPES,
    ESCAPED_SHAPES,
    SHAPES,
    TEXT_SHAPES,
    base64_forms,
    base64_shape,
    encoded_variants,
    escaped_pattern,
    stands_alone,
)

__all__ = [
    "API_KEY_HEADER",
    "BASE64_CANDIDATE",
    "BYTE_SHAPES",
    "ESCAPED_BYTE_SHAPES",
    "KEY_VARIABLES",
    "MARKER",
    "MIN_SECRET_LENGTH",
    "SECRET_QUERY_PARAMS",
    "SECRET_REQUEST_HEADERS",
    "SECRET_RESPONSE_HEADERS",
    "SHAPES",
    "Secret",
    "TOKEN_HOSTS",
    "base64_forms",
    "base64_shape",
    "encoded_variants",
    "env_secrets",
    "escaped_pattern",
    "guard_wire_logs",
    "key_from_env",
    "literal_secrets",
    "redact",
    "redact_bytes",
    "stands_alone",
]

MARKER = "REDACTED"
"""What a secret becomes, everywhere (URL-safe, so a redacted query stays a valid URL)."""

MIN_SECRET_LENGTH = 8

KEY_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
"""Environment variables an API key is read from, in order of preference."""

API_KEY_HEADER = "x-goog-api-key"

SECRET_REQUEST_HEADERS = frozenset(
    {API_KEY_HEADER, "authorization", "proxy-authorization", "x-goog-user-project", "cookie"}
)
# The live API echoes the request's headers on its download redirect, the key included.
SECRET_RESPONSE_HEADERS = frozenset({"set-cookie", API_KEY_HEADER, "authorization"})
SECRET_QUERY_PARAMS = frozenset({"key", "access_token"})
TOKEN_HOSTS = (
    "oauth2.googleapis.com",
    "sts.googleapis.com",
    "iamcredentials.googleapis.com",
    "metadata.google.internal",
    "169.254.169.254",
)
"""Hosts that mint or refresh Google Cloud credentials (OAuth, Security Token Service,
service account impersonation, the metadata server): no recording may hold their traffic."""


@functools.lru_cache(maxsize=32)
def _secret_patterns(secret: str) -> tuple[tuple[re.Pattern[str], re.Pattern[bytes]], ...]:
    """Patterns for ``secret`` in every form: plain or escaped in any mix, then its other
    :func:`encoded_variants` (two patterns: each alternation starting with literals keeps
    the engine's fast scan)."""
    sources = (
        escaped_pattern(secret),
        "|".join(re.escape(v) for v in encoded_variants(secret)),
    )
    return tuple((re.compile(src), re.compile(src.encode())) for src in sources)


def literal_secrets(values: Iterable[str | Secret | None]) -> tuple[str, ...]:
    """The values worth replacing literally: long enough to be a credential, longest first."""
    plain = (v.reveal() if isinstance(v, Secret) else v for v in values)
    kept = {v.strip() for v in plain if v and len(v.strip()) >= MIN_SECRET_LENGTH}
    return tuple(sorted(kept, key=len, reverse=True))


def env_secrets(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Every key in the environment (both variables may be set)."""
    env = os.environ if environ is None else environ
    return literal_secrets(env.get(name) for name in KEY_VARIABLES)


def key_from_env(environ: Mapping[str, str] | None = None) -> str:
    """The API key from ``GEMINI_API_KEY`` or ``GOOGLE_API_KEY``; ``""`` when neither is set."""
    env = os.environ if environ is None else environ
    for name in KEY_VARIABLES:
        value = env.get(name, "").strip()
        if value:
            return value
    return ""


def redact(text: str, secrets: Iterable[str | Secret | None] = ()) -> str:
    """``text`` with every given secret (long enough to be one, in any of its
    :func:`encoded_variants` too) and every credential-shaped string (escaped ones too)
    replaced by :data:`MARKER`."""
    for secret in literal_secrets(secrets):
        for pattern, _bytes_pattern in _secret_patterns(secret):
            text = pattern.sub(MARKER, text)
    for shape in (*ESCAPED_SHAPES, *TEXT_SHAPES):
        text = shape.sub(MARKER, text)
    return text


def redact_bytes(data: bytes, secrets: Iterable[str | Secret | None] = ()) -> bytes:
    """:func:`redact` for bytes (bodies of recorded answers)."""
    marker = MARKER.encode()
    for secret in literal_secrets(secrets):
        for _pattern, bytes_pattern in _secret_patterns(secret):
            data = bytes_pattern.sub(marker, data)
    for _what, shape in (*ESCAPED_BYTE_SHAPES, *BYTE_SHAPES):
        data = shape.sub(marker, data)
    return data


class Secret:
    """A credential whose ``repr`` and ``str`` never show it (tracebacks with locals,
    ``pytest -l``, debuggers); :meth:`reveal` is the only way to the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def redact(self, text: str) -> str:
        return redact(text, (self._value,))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return f"Secret({MARKER})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


# -- the HTTP stack's own log records --------------------------------------------------------

_WIRE_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)
# A URL's query may be a signature (a signed media URL): never logged.
_URL_QUERY = re.compile(r"(\bhttps?://[^\s?\"'<>]+)\?[^\s\"'<>]*")
# The keys of the adapters made recently (insertion-ordered, bounded: a process that builds
# many adapters must not make every log record slower and slower).
_guarded: dict[str, None] = {}
_GUARDED_MAX = 64
_guard_lock = threading.Lock()


class _WireLogFilter(logging.Filter):
    """Rewrites httpx/httpcore records: no known key, no key shape, no URL query.

    httpcore's DEBUG trace prints response headers, and the API echoes the request's
    ``x-goog-api-key`` on its download redirect; httpx's INFO line prints full URLs.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        text = _URL_QUERY.sub(rf"\1?{MARKER}", record.getMessage())
        # The wire carries keys as they were sent: plain replacement is enough here, and
        # cheap enough for httpcore's per-chunk DEBUG trace.
        for secret in tuple(_guarded):
            text = text.replace(secret, MARKER)
        for shape in TEXT_SHAPES:
            text = shape.sub(MARKER, text)
        record.msg = text
        record.args = ()
        return True


_WIRE_FILTER = _WireLogFilter()


def guard_wire_logs(secret: str | Secret | None = None) -> None:
    """Make sure the HTTP stack's log records never carry ``secret`` (or any key shape)."""
    with _guard_lock:
        for value in literal_secrets((secret,)):
            _guarded.pop(value, None)
            _guarded[value] = None
            while len(_guarded) > _GUARDED_MAX:
                del _guarded[next(iter(_guarded))]
        for name in _WIRE_LOGGERS:
            logger = logging.getLogger(name)
            if _WIRE_FILTER not in logger.filters:
                logger.addFilter(_WIRE_FILTER)
