"""The emulator's own notion of an origin, kept apart from the adapter's on purpose.

Tests run the adapter against the emulator: if both sides shared one origin helper, a bug in
it would agree with itself on both sides of the wire and no test would see it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["Origin", "check_base"]

_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Origin:
    """Scheme, lower-cased host and port, default port filled in."""

    scheme: str
    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> Origin | None:
        """The origin of an absolute http(s) URL, or ``None`` for anything else."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return None
        scheme = parts.scheme.lower()
        if scheme not in _PORTS or not parts.hostname:
            return None
        return cls(scheme, parts.hostname.lower(), port if port is not None else _PORTS[scheme])

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        if _PORTS.get(self.scheme) == self.port:
            return f"{self.scheme}://{host}"
        return f"{self.scheme}://{host}:{self.port}"


def check_base(name: str, value: str) -> str:
    """``value`` without a trailing slash, if it is an http(s) origin and nothing more."""
    value = value.rstrip("/")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise ValueError(f"{name} {value!r} is not a URL") from exc
    if parts.scheme not in _PORTS or not parts.hostname:
        raise ValueError(f"{name} {value!r} must be an http(s) URL with a host")
    if parts.path or parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(f"{name} {value!r} must be an origin only (no path, query, user)")
    return value
