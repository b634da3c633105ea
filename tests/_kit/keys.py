"""Credentials shaped like real ones, made at run time and never written to a file."""

from __future__ import annotations

import secrets
import string

KEY_ALPHABET = string.ascii_letters + string.digits + "-_"


def make_api_key() -> str:
    """A key shaped like a Google API key (``AIza`` + 35 url-safe characters)."""
    return "AIza" + "".join(secrets.choice(KEY_ALPHABET) for _ in range(35))


def make_token() -> str:
    """An OAuth access token shaped like Google's (``ya29.`` + url-safe characters)."""
    return "ya29." + secrets.token_urlsafe(48)
