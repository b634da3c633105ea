"""Fixtures for the inputs tests: image files told apart by their bytes, a clean Google
environment, offline Vertex AI credentials and adapters on respx.

Nothing here reaches the network or waits for real: respx answers every request made through
``http_client`` (an unmatched one fails the test) and credentials refresh offline.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from _kit.keys import make_token
from _kit.vertex import LOCATION, PROJECT, FakeCredentials, VertexFactory

from veo3_adapter import RetryPolicy, VertexVeo3Adapter

MakeImage = Callable[..., Path]
"""``image(name, kind="png", size=0)``: a file whose bytes are a ``kind`` image."""

MAGIC = {
    "png": b"\x89PNG\r\n\x1a\n",
    "jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    "webp": b"RIFF\x24\x00\x00\x00WEBPVP8 ",
}

# What google-genai and google-auth read from the environment: none may steer a test.
_ENVIRONMENT = (
    "GOOGLE_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_CLOUD_PROJECT",
    "GOOGLE_CLOUD_LOCATION",
    "GOOGLE_GENAI_USE_VERTEXAI",
    "GOOGLE_GENAI_USE_ENTERPRISE",
    "GOOGLE_GENAI_API_VERSION",
    "GOOGLE_GENAI_HTTP_CLIENT",
    "GOOGLE_APPLICATION_CREDENTIALS",
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, no_real_sleep: None) -> None:
    """No Google variable from the machine, and no real ``time.sleep``."""
    for name in _ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def image(tmp_path: Path) -> MakeImage:
    """Write ``images/<name>``: the magic bytes of ``kind``, then bytes of its own (so two
    names are two images), padded to ``size`` bytes when given."""
    folder = tmp_path / "images"
    folder.mkdir()

    def make(name: str, kind: str = "png", size: int = 0) -> Path:
        data = MAGIC[kind] + f"<{name}>".encode() * 8
        path = folder / name
        path.write_bytes(data + b"\0" * max(0, size - len(data)))
        return path

    return make


@pytest.fixture
def token() -> str:
    return make_token()


@pytest.fixture
def creds(token: str) -> FakeCredentials:
    """Credentials whose first refresh (at the first request) mints ``token``."""
    return FakeCredentials([token])


@pytest.fixture
def make_vertex(
    creds: FakeCredentials, http_client: httpx.Client, router: respx.MockRouter
) -> Iterator[VertexFactory]:
    """The real Vertex adapter on the real SDK and ``http_client`` (respx answers it)."""
    built: list[VertexVeo3Adapter] = []

    def factory(**overrides: Any) -> VertexVeo3Adapter:
        kwargs: dict[str, Any] = {
            "project": PROJECT,
            "location": LOCATION,
            "credentials": creds,
            "http_client": http_client,
            "sleep": lambda seconds: None,
            "rand": lambda: 0.0,
            "retry": RetryPolicy(attempts=3, initial=1.0, jitter=0.0),
        }
        kwargs.update(overrides)
        adapter = VertexVeo3Adapter(**kwargs)
        built.append(adapter)
        return adapter

    yield factory
    for adapter in built:
        adapter.close()
