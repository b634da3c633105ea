"""Fixtures for the several-videos tests: a clean Google environment, no real sleep, and the
real Vertex AI adapter on respx with offline credentials.

Nothing here reaches the network or waits for real: respx answers every request made through
``http_client`` (an unmatched one fails the test) and credentials refresh offline.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from _kit.keys import make_token
from _kit.vertex import LOCATION, PROJECT, FakeCredentials, VertexFactory

from veo3_adapter import RetryPolicy, VertexVeo3Adapter

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
def make_vertex(http_client: httpx.Client, router: respx.MockRouter) -> Iterator[VertexFactory]:
    """The real Vertex adapter on the real SDK and ``http_client`` (respx answers it)."""
    built: list[VertexVeo3Adapter] = []

    def factory(**overrides: Any) -> VertexVeo3Adapter:
        kwargs: dict[str, Any] = {
            "project": PROJECT,
            "location": LOCATION,
            "credentials": FakeCredentials([make_token()]),
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
