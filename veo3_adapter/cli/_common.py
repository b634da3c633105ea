"""What every part of the command shares: exit codes, the usage error, safe text, loopback."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from secrets import token_hex
from urllib.parse import urlsplit

from .._secrets import env_secrets, redact

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_JOB_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "UsageError",
    "is_loopback_host",
    "is_loopback_url",
    "one_line",
    "size",
    "throwaway_key",
]

EXIT_OK = 0
EXIT_JOB_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """A problem the user fixes by changing the command, its files or its environment."""


def one_line(text: str, secrets: Sequence[str] = ()) -> str:
    """``text`` on one printable line, with keys (given, from the environment, or
    key-shaped) redacted: the only form in which text reaches the screen.

    Whitespace of any kind becomes one space; any other character a terminal would act on
    (``ESC``, C1 controls, bidirectional overrides) is shown escaped, as ``\\x1b``.
    """
    text = redact(text, (*secrets, *env_secrets()))
    return " ".join("".join(map(_visible, text)).split())


def _visible(char: str) -> str:
    if char.isprintable() or char.isspace():
        return char
    return char.encode("unicode_escape").decode("ascii")


def size(num: int) -> str:
    """A byte count for people: ``512 B``, ``1.5 MB``."""
    value = float(max(num, 0))
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` names this machine only: ``localhost``, 127.0.0.0/8 or ``::1``."""
    host = host.strip().strip("[]").rstrip(".").lower()
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def is_loopback_url(url: str) -> bool:
    """Whether ``url``'s host is on loopback (a server on this machine, the emulator)."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    return bool(host) and is_loopback_host(host or "")


def throwaway_key() -> str:
    """A key made up for a server on this machine; it is never a real key."""
    return "local-" + token_hex(16)
