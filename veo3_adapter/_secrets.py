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
:data:`BASE64_CANDIDATE` for values that are not known).
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
import os
import re
import string
import threading
from collections.abc import Iterable, Iterator, Mapping

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

_KEY_CHARS = string.ascii_letters + string.digits + "_-"
_TOKEN_CHARS = _KEY_CHARS + "."
# (what, prefix, characters after it, how many): the shapes written in any encoding.
_PREFIXED = (
    ("a Google API key (AIza...)", "AIza", _KEY_CHARS, 35, 35),
    ("an OAuth access token (ya29.)", "ya29.", _TOKEN_CHARS, 20, None),
)
_PEM_TYPE = r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----"
_PEM_WHAT = "a PEM private key"
# A whole block when its END line follows within 16 KiB (an RSA-8192 key is ~6.5 KB),
# else the BEGIN line alone.
_PEM = rf"{_PEM_TYPE}(?:[\s\S]{{0,16384}}?-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----)?"
# An opaque token after the scheme (16+ characters, a digit among them): "Bearer REDACTED"
# and prose are not one, and an access token is found by its own shape. The literal prefix
# keeps the engine's fast scan.
_BEARER = r"Bearer (?!ya29\.)(?=[A-Za-z._~+/-]*[0-9])[A-Za-z0-9._~+/-]{16,}=*"


def _count(low: int, high: int | None) -> str:
    return f"{{{low}}}" if low == high else f"{{{low},{'' if high is None else high}}}"


SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    *(
        (what, re.compile(re.escape(prefix) + f"[{re.escape(chars)}]" + _count(low, high)))
        for what, prefix, chars, low, high in _PREFIXED
    ),
    (_PEM_WHAT, re.compile(_PEM)),
    ("a bearer token (Bearer ...)", re.compile(_BEARER)),
)
"""What a credential looks like when its value is not known: (description, pattern)."""
BYTE_SHAPES: tuple[tuple[str, re.Pattern[bytes]], ...] = tuple(
    (what, re.compile(p.pattern.encode())) for what, p in SHAPES
)
_SHAPES = tuple(p for _what, p in SHAPES)


# -- the same credentials written another way ------------------------------------------------

# Each starts with a literal character, which keeps the engine's fast scan (see below).
_ESCAPES = ("%(?:25)*", r"\\\\*u00", r"\\\\*x")
"""How one ASCII character can be written by its code: ``%7A``, ``\\u007a``, ``\\x7a``, or
escaped once more (``%257A``, ``\\\\u007a`` as JSON writes a backslash)."""


def _hex_codes(chars: str) -> str:
    """A pattern for the two hex digits of any of ``chars`` (ASCII), in either case."""
    by_high: dict[str, set[str]] = {}
    for char in chars:
        code = f"{ord(char):02x}"
        by_high.setdefault(code[0], set()).add(code[1])
    parts = []
    for high, lows in sorted(by_high.items()):
        digits = "".join(sorted({d for low in lows for d in {low, low.upper()}}))
        high_digits = high if high.isdigit() else f"[{high}{high.upper()}]"
        parts.append(f"{high_digits}[{digits}]")
    return f"(?:{'|'.join(parts)})"


def _any_char_of(chars: str) -> str:
    """One of ``chars``, written as itself or by its code (percent or backslash escape)."""
    ascii_chars = "".join(c for c in chars if c.isascii())
    raw = f"[{re.escape(chars)}]" if len(chars) > 1 else re.escape(chars)
    if not ascii_chars:
        return raw
    codes = _hex_codes(ascii_chars)
    # Each alternative starts with a literal character or a set, which lets the regular
    # expression engine skip ahead to where a match can start (several times faster).
    return "(?:" + "|".join([raw, *(f"{escape}{codes}" for escape in _ESCAPES)]) + ")"


def escaped_pattern(literal: str) -> str:
    """A pattern for ``literal`` with any of its characters percent-encoded (``%41``) or
    backslash-escaped (``\\u0041``, ``\\x41``), in any mix; the plain text matches too."""
    return "".join(_any_char_of(char) for char in literal)


ESCAPED_BYTE_SHAPES: tuple[tuple[str, re.Pattern[bytes]], ...] = tuple(
    (
        what,
        re.compile(
            (escaped_pattern(prefix) + f"{_any_char_of(chars)}{_count(low, high)}").encode()
        ),
    )
    for what, prefix, chars, low, high in _PREFIXED
)
"""Key and token shapes with any character percent-encoded or ``\\u``/``\\x``-escaped (the
plain shapes match too): ``\\u0041Iza...`` is a key."""
_ESCAPED_SHAPES = tuple(re.compile(p.pattern.decode()) for _what, p in ESCAPED_BYTE_SHAPES)

_B64_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_B64_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")
_B64_RUN = rb"[A-Za-z0-9+/_-]"


def _base64_cores(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(characters before it, core) for each of the three byte alignments of ``data``."""
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + data)
        total = pad + len(data)
        # A character mixing a padding byte's bits (at the start) or an unknown next byte's
        # (at the end) is not part of the form.
        start = (0, 2, 3)[pad]
        end = total // 3 * 4 + total % 3
        if end > start:
            yield start, encoded[start:end]


def base64_forms(data: bytes) -> tuple[str, ...]:
    """What ``data`` looks like inside any base64 text: for each of the three byte
    alignments, the characters that depend on ``data`` alone, in the standard and the
    URL-safe alphabet (distinct strings, longest first)."""
    forms: set[str] = set()
    for _start, core in _base64_cores(data):
        forms.update((core.decode(), core.translate(_B64_TO_URLSAFE).decode()))
    return tuple(sorted(forms, key=lambda f: (-len(f), f)))


def _base64_candidates(prefix: str, length: int) -> Iterator[str]:
    """For each base64 form of ``prefix``: the form, then as many base64 characters as the
    rest of a ``length``-character credential takes at that alignment."""
    for start, core in _base64_cores(prefix.encode()):
        padding = (0, 2, 3).index(start)
        rest = -(-(padding + length) * 4 // 3) - start - len(core)  # ceil(bytes * 4 / 3)
        for form in {core, core.translate(_B64_TO_URLSAFE)}:
            yield f"{re.escape(form.decode())}{_B64_RUN.decode()}{{{rest}}}"


BASE64_CANDIDATE: re.Pattern[bytes] = re.compile(
    "|".join(
        [
            *(
                c
                for _what, prefix, _chars, low, _high in _PREFIXED
                for c in _base64_candidates(prefix, len(prefix) + low)
            ),
            *_base64_candidates("-----BEGIN ", len("-----BEGIN ") + len("PRIVATE KEY-----")),
        ]
    ).encode()
)
"""Base64 text (standard or URL-safe) that may hold a key, a token or a PEM private key:
a candidate only, :func:`base64_shape` decodes it and says what it holds. (One alternation
of literals, so the engine scans for their first characters.)"""


def base64_shape(candidate: bytes) -> str | None:
    """What credential the base64 text ``candidate`` decodes to (at any alignment), if any.

    Give a few characters of context on each side of a :data:`BASE64_CANDIDATE` match.
    """
    text = re.sub(rb"[^A-Za-z0-9+/_-]", b"", candidate).translate(_B64_FROM_URLSAFE)
    for skip in range(4):
        group = text[skip:]
        group = group[: len(group) - 1] if len(group) % 4 == 1 else group
        decoded = binascii.a2b_base64(group + b"=" * (-len(group) % 4))
        for what, shape in BYTE_SHAPES:
            if shape.search(decoded):
                return what
    return None


_ESCAPE_BEFORE = re.compile(rb"(?:%[0-9A-Fa-f]{2}|\\u[0-9A-Fa-f]{4}|\\x[0-9A-Fa-f]{2})\Z")


def stands_alone(data: bytes | bytearray, start: int, end: int) -> bool:
    """Whether a shape found at ``data[start:end]`` is delimited rather than a piece of a
    longer run of letters and digits: base64 text holds something key-shaped every ~50 MB by
    chance. An escape just before it (``%3D``, ``\\u003d``) counts as a delimiter."""
    before = bytes(data[max(0, start - 6) : start])
    if before[-1:].isalnum() and not _ESCAPE_BEFORE.search(before):
        return False
    after = bytes(data[end : end + 1])
    return not (after.isalnum() or after in (b"_", b"-"))


def encoded_variants(secret: str) -> Iterator[str]:
    """``secret`` written the ways a recording can hold it besides plainly: its base64 forms
    (:func:`base64_forms`), every character percent-encoded, every character
    ``\\u``-escaped (lower- and upper-case hex). A mix of plain and escaped characters is
    matched by :func:`escaped_pattern`."""
    data = secret.encode()
    yield from base64_forms(data)
    percent = "".join(f"%{b:02X}" for b in data)
    yield from (percent, percent.lower())
    escaped = "".join(f"\\u{ord(c):04x}" for c in secret)
    yield from (escaped, escaped.upper().replace("\\U", "\\u"))


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
    for shape in (*_ESCAPED_SHAPES, *_SHAPES):
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
        for shape in _SHAPES:
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
