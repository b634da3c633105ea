"""What a credential looks like, written any way a recording can hold it: the pure tables.

Only :mod:`._secrets` imports this module; everything else asks ``_secrets`` (which
re-exports what is public here). Key and token shapes (:data:`SHAPES`), the same shapes
with characters percent-encoded or ``\\u``/``\\x``-escaped (:data:`ESCAPED_BYTE_SHAPES`,
:func:`escaped_pattern`), base64 text that may hold one (:data:`BASE64_CANDIDATE`,
:func:`base64_shape`), and a known value's other forms (:func:`encoded_variants`).
"""

from __future__ import annotations

import base64
import binascii
import re
import string
from collections.abc import Iterator

__all__ = [
    "BASE64_CANDIDATE",
    "BYTE_SHAPES",
    "ESCAPED_BYTE_SHAPES",
    "ESCAPED_SHAPES",
    "SHAPES",
    "TEXT_SHAPES",
    "base64_forms",
    "base64_shape",
    "encoded_variants",
    "escaped_pattern",
    "stands_alone",
]

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
TEXT_SHAPES = tuple(p for _what, p in SHAPES)
"""The patterns of :data:`SHAPES` alone."""


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
ESCAPED_SHAPES = tuple(re.compile(p.pattern.decode()) for _what, p in ESCAPED_BYTE_SHAPES)
"""The patterns of :data:`ESCAPED_BYTE_SHAPES`, for text."""

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
