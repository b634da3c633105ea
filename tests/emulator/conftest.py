"""Fixtures for the emulator's tests: a run-time key, a fake clock, clients on the emulator.

Nothing here waits for real time or leaves 127.0.0.1: the emulator's clock and sleep are
fakes, and in-process clients reach no socket at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from _kit.adapters import AdapterFactory, adapter_factory, retries
from _kit.clock import FakeClock
from _kit.emulator import MODEL, Api, sdk_client
from _kit.keys import make_api_key
from google import genai

from veo3_adapter import GeminiVeo3Adapter
from veo3_adapter.emulator import Emulator


@pytest.fixture
def key() -> str:
    return make_api_key()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=1000.0)


@pytest.fixture
def emulator(key: str, clock: FakeClock) -> Emulator:
    return Emulator(key, clock=clock, sleep=clock.sleep, seed=7)


@pytest.fixture
def http(emulator: Emulator) -> Iterator[httpx.Client]:
    """A client on the in-process transport, as the adapter wants it: no redirects."""
    with httpx.Client(transport=emulator.transport(), follow_redirects=False) as client:
        yield client


@pytest.fixture
def api(http: httpx.Client, emulator: Emulator, key: str) -> Api:
    return Api(http, emulator, key)


@pytest.fixture
def sdk(key: str, emulator: Emulator, http: httpx.Client) -> genai.Client:
    """The real google-genai client on the in-process emulator."""
    return sdk_client(key, emulator.api_base, http)


@pytest.fixture
def make_adapter(key: str) -> Iterator[AdapterFactory]:
    """``make_adapter(base_url, http_client=None, **settings)``: the real adapter on a
    current model, waits skipped, no jitter (unless ``settings`` say otherwise); closed after
    the test."""
    with adapter_factory(
        GeminiVeo3Adapter,
        api_key=key,
        model=MODEL,
        **retries(4),
        timeout=10.0,
    ) as factory:

        def make(
            base_url: str, http_client: httpx.Client | None = None, **settings: Any
        ) -> GeminiVeo3Adapter:
            return factory(base_url=base_url, http_client=http_client, **settings)

        yield make
