"""HTTP plumbing shared by the backends: origins, URL checks, the TLS context, our client."""

from __future__ import annotations

import functools
import ipaddress
import os
import re
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

import certifi
import httpx

__all__ = ["Origin", "new_client", "parse_url", "redact_url", "tls_context"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
# One DNS label as it reaches the wire (IDNA already applied): letters, digits, hyphens and,
# as some CDNs use them, underscores; never a hyphen at either end.
_LABEL_RE = re.compile(r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?")
_MAX_LABEL = 63
_MAX_NAME = 253


@dataclass(frozen=True)
class Origin:
    """Scheme, host and port: the unit a credential is bound to."""

    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: httpx.URL) -> Origin:
        port = url.port if url.port is not None else _DEFAULT_PORTS.get(url.scheme, -1)
        return cls(url.scheme, url.host.lower(), port)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        if _DEFAULT_PORTS.get(self.scheme) == self.port:
            return f"{self.scheme}://{host}"
        return f"{self.scheme}://{host}:{self.port}"


def redact_url(url: httpx.URL | str) -> str:
    """``scheme://host[:port]/path`` only: no user info, no query (it may carry a signature).

    A URL that httpx will not parse (a malformed internationalised host) is still named, read
    the same way by the standard library, so an error can say which URL it refused.
    """
    try:
        parsed = httpx.URL(url) if isinstance(url, str) else url
        return f"{Origin.of(parsed)}{parsed.path}"
    except (httpx.InvalidURL, TypeError, ValueError):  # UnicodeError/IDNA errors included
        pass
    try:
        parts = urlsplit(str(url))
        port = parts.port
        host = parts.hostname
    except ValueError:
        return "<unparseable URL>"
    if not host or not parts.scheme:
        return "<unparseable URL>"
    text = f"{parts.scheme.lower()}://{host}{f':{port}' if port is not None else ''}{parts.path}"
    # Only printable ASCII reaches a message: a control character could forge a log line.
    return text if text.isascii() and text.isprintable() else ascii(text)[1:-1]


def parse_url(value: str | httpx.URL, base: httpx.URL | None = None) -> httpx.URL:
    """``value`` (resolved against ``base`` when given) as a URL whose host is a valid name.

    Raises ``httpx.InvalidURL`` for anything httpx, IDNA or DNS would refuse: an empty label
    (``a..b.example``; one trailing dot is fine), a label over 63 characters, a malformed
    A-label (``xn--abc-``), a character no host name may hold. The reason names the host
    only, never a query.
    """
    try:
        url = base.join(value) if base is not None else httpx.URL(value)
        host = url.host  # decodes A-labels ("xn--..."), which raises for a malformed one
    except httpx.InvalidURL:
        raise
    except (TypeError, ValueError) as exc:  # idna.IDNAError and UnicodeError are ValueErrors
        raise httpx.InvalidURL(f"{type(exc).__name__}: {exc}") from exc
    if host:
        problem = _host_problem(url)
        if problem:
            raise httpx.InvalidURL(problem)
    return url


def _host_problem(url: httpx.URL) -> str:
    """Why ``url``'s host can be no server's name ("" if it can)."""
    try:
        raw = url.raw_host.decode("ascii").lower()
    except UnicodeDecodeError:
        return "its host is not ASCII after IDNA encoding"
    if ":" in raw:  # an IPv6 literal, brackets already removed
        try:
            ipaddress.IPv6Address(raw.split("%", 1)[0])
        except ValueError:
            return f"its host {raw!r} is not a valid IPv6 address"
        return ""
    raw = raw.removesuffix(".")  # "example.com." is the same name, fully qualified
    if len(raw) > _MAX_NAME:
        return f"its host is {len(raw)} characters long, more than {_MAX_NAME}"
    for label in raw.split("."):
        if not label:
            return f"its host {ascii(raw)} has an empty label"
        if len(label) > _MAX_LABEL:
            return f"its host has a label of {len(label)} characters, more than {_MAX_LABEL}"
        if not _LABEL_RE.fullmatch(label):
            return f"its host {ascii(raw)} has a label that is not a valid name ({ascii(label)})"
    return ""


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process, built as the SDK builds its own."""
    return ssl.create_default_context(
        cafile=os.environ.get("SSL_CERT_FILE", certifi.where()),
        capath=os.environ.get("SSL_CERT_DIR"),
    )


def new_client(timeout: float) -> httpx.Client:
    """Our own client: never follows redirects (we follow them by hand), bounded connect."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)),
        follow_redirects=False,
        verify=tls_context(),
    )
