"""Fixtures for the suites on the Vertex AI backend (vertex, inputs, samples): a clean Google
environment, offline credentials, and the real adapter on respx.

A suite's conftest imports them by name (``from _kit.vertex_fixtures import make_vertex``),
which makes them its own fixtures; the environment one is ``autouse`` there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from _kit.adapters import VertexFactory, adapter_factory, retries
from _kit.keys import make_token
from _kit.vertex import LOCATION, PROJECT, FakeCredentials
from veo3_adapter import VertexVeo3Adapter

__all__ = ["GOOGLE_ENVIRONMENT", "clean_google_environment", "creds", "make_vertex", "token"]

GOOGLE_ENVIRONMENT = (
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
"""What google-genai and google-auth read from the environment: none may steer a test."""


@pytest.fixture(autouse=True)
def clean_google_environment(monkeypatch: pytest.MonkeyPatch, no_real_sleep: None) -> None:
    """No Google variable from the machine, and no real ``time.sleep``."""
    for name in GOOGLE_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


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
    """The real Vertex adapter on the real SDK and ``http_client`` (respx answers it): on
    ``PROJECT`` with ``creds``, or in express mode when given ``api_key``."""
    with adapter_factory(
        VertexVeo3Adapter,
        location=LOCATION,
        http_client=http_client,
        **retries(3, initial=1.0),
    ) as factory:

        def make(**overrides: Any) -> VertexVeo3Adapter:
            if "api_key" not in overrides:
                overrides = {"project": PROJECT, "credentials": creds, **overrides}
            return factory(**overrides)

        yield make
