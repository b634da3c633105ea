"""Shared fixtures: a run-time API key, a sleep recorder and a clock, Gemini wire bodies, respx
and the adapter on it, an output directory.

Nothing here waits for real time and nothing reaches the network: every HTTP request made
through ``router`` is answered by respx, and an unmatched one fails the test.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import respx
from _kit.adapters import AdapterFactory, adapter_factory, retries
from _kit.clock import FakeClock, SleepRecorder
from _kit.keys import make_api_key
from _kit.sdk import WireSubmit, gemini_wire
from _kit.wire import API_BASE, Wire

from veo3_adapter import GeminiVeo3Adapter
from veo3_adapter.mp4 import sample_clip


@pytest.fixture
def api_key() -> str:
    return make_api_key()


@pytest.fixture
def noop_sleep() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def wire() -> Wire:
    return Wire()


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """An output directory for a run (not created)."""
    return tmp_path / "out"


@pytest.fixture
def clip() -> bytes:
    """A small, real MP4: what a successful download must leave at dest, byte for byte."""
    return sample_clip()


@pytest.fixture
def no_real_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything calls ``time.sleep`` (every wait must be injected)."""

    def refuse(seconds: float) -> None:
        raise AssertionError(f"real time.sleep({seconds}) called; inject sleep instead")

    monkeypatch.setattr(time, "sleep", refuse)


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    """respx on every ``httpx`` transport; a request no route matches fails the test."""
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as mock:
        yield mock


@pytest.fixture
def http_client() -> Iterator[httpx.Client]:
    """The real ``httpx.Client`` the adapter and the SDK share (respx answers it)."""
    client = httpx.Client(follow_redirects=False, timeout=5.0)
    yield client
    client.close()


@pytest.fixture
def make_adapter(
    api_key: str, noop_sleep: SleepRecorder, http_client: httpx.Client, router: respx.MockRouter
) -> Iterator[AdapterFactory]:
    """Build the real adapter on the real SDK and ``http_client``, waits recorded not slept."""
    with adapter_factory(
        GeminiVeo3Adapter,
        api_key=api_key,
        http_client=http_client,
        **retries(3, noop_sleep, initial=1.0, multiplier=2.0),
    ) as factory:
        yield factory


@pytest.fixture
def wire_submit(api_key: str, http_client: httpx.Client) -> WireSubmit:
    """A Gemini API submit through ``http_client`` without the SDK (see ``_kit.sdk``)."""
    return gemini_wire(http_client, API_BASE, api_key)


@pytest.fixture
def key_audit(api_key: str, router: respx.MockRouter) -> Callable[[], list[httpx.Request]]:
    """Check every request respx saw: the key is never in a URL or a body; return them."""

    def audit() -> list[httpx.Request]:
        requests = [call.request for call in router.calls]
        for request in requests:
            url = str(request.url)
            assert api_key not in url, url
            assert "key=" not in url.lower(), url
            assert "key" not in request.url.params, url
            assert api_key.encode() not in request.content
        return requests

    return audit
