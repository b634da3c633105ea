"""Credentials shaped like real ones, made at run time and never written to a file, and the
other ways a secret may be written (encoded or escaped) where redaction must still find it."""

from __future__ import annotations

import base64
import secrets
import string
from collections.abc import Callable

KEY_ALPHABET = string.ascii_letters + string.digits + "-_"


def make_api_key() -> str:
    """A key shaped like a Google API key (``AIza`` + 35 url-safe characters)."""
    return "AIza" + "".join(secrets.choice(KEY_ALPHABET) for _ in range(35))


def make_token() -> str:
    """An OAuth access token shaped like Google's (``ya29.`` + url-safe characters)."""
    return "ya29." + secrets.token_urlsafe(48)


def u_escaped(text: str, first: int = 0, last: int | None = None) -> str:
    """``text`` with its characters ``first`` to ``last`` (all by default) as ``\\uXXXX``."""
    last = len(text) if last is None else last
    return "".join(f"\\u{ord(c):04x}" if first <= i < last else c for i, c in enumerate(text))


WRITTEN: dict[str, Callable[[str], str]] = {
    "base64": lambda k: base64.b64encode(b'{"key": "' + k.encode() + b'"}').decode(),
    "url-safe": lambda k: base64.urlsafe_b64encode(b"\xfb\xff" + k.encode()).decode(),
    "percent": lambda k: "".join(f"%{b:02x}" for b in k.encode()),
    "percent-upper": lambda k: "".join(f"%{b:02X}" for b in k.encode()),
    "u-escaped": u_escaped,
    "first-escaped": lambda k: u_escaped(k, 0, 1),
    "one-percent": lambda k: k[:5] + "%" + f"{ord(k[5]):02X}" + k[6:],
    "x": lambda k: "".join(f"\\x{b:02X}" for b in k.encode()),
}
"""A secret written another way, by name: inside base64 (standard or url-safe, not aligned on
its first byte), percent-encoded, ``\\u``-escaped (all of it or one character), ``\\x``."""
