"""HTTP plumbing shared by the backends: origins, URL checks, the TLS context, our client."""

from __future__ import annotations

import functools
import os
import ssl
from dataclasses import dataclass

import certifi
import httpx

__all__ = ["Origin", "new_client", "redact_url", "tls_context"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


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
        if _DEFAULT_PORTS.get(self.scheme) == self.port:
            return f"{self.scheme}://{self.host}"
        return f"{self.scheme}://{self.host}:{self.port}"


def redact_url(url: httpx.URL | str) -> str:
    """``scheme://host[:port]/path`` only: no user info, no query (it may carry a signature)."""
    try:
        parsed = httpx.URL(url) if isinstance(url, str) else url
        return f"{Origin.of(parsed)}{parsed.path}"
    except (httpx.InvalidURL, TypeError, ValueError):  # UnicodeError/IDNA errors included
        return "<unparseable URL>"


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
