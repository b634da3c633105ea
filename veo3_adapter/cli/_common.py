"""What every part of the command shares: exit codes, the usage error, safe text."""

from __future__ import annotations

from collections.abc import Sequence

from .._secrets import env_secrets, redact

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_JOB_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "UsageError",
    "one_line",
    "size",
]

EXIT_OK = 0
EXIT_JOB_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """A problem the user fixes by changing the command, its files or its environment."""


def one_line(text: str, secrets: Sequence[str] = ()) -> str:
    """``text`` on one printable line, with keys (given, from the environment, or
    key-shaped) redacted: the only form in which text reaches the screen."""
    text = redact(text, (*secrets, *env_secrets()))
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def size(num: int) -> str:
    """A byte count for people: ``512 B``, ``1.5 MB``."""
    value = float(max(num, 0))
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
