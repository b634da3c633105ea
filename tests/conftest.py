"""Shared fixtures: a run-time API key, a sleep recorder, Gemini wire bodies, respx + adapter.

Nothing here waits for real time and nothing reaches the network: every HTTP request made
through ``router`` is answered by respx, and an unmatched one fails the test.
"""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import respx

from veo3_adapter import DEFAULT_BASE_URL, DEFAULT_MODEL, GeminiVeo3Adapter, RetryPolicy
from veo3_adapter.mp4 import sample_clip

API_BASE = DEFAULT_BASE_URL
OP_ID = "2ndklfg582ib"
FILE_ID = "3k2j4h5g6f7d"
_KEY_ALPHABET = string.ascii_letters + string.digits + "-_"


def make_api_key() -> str:
    """A key shaped like a Google API key, made in this process and never written down."""
    return "AIza" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(35))


class SleepRecorder:
    """A ``sleep`` that records what it was asked to wait and returns at once."""

    def __init__(self, on_sleep: Callable[[float], None] | None = None) -> None:
        self.delays: list[float] = []
        self._on_sleep = on_sleep

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        if self._on_sleep is not None:
            self._on_sleep(seconds)

    @property
    def total(self) -> float:
        return sum(self.delays)


class FakeClock:
    """A monotonic clock that only moves when ``sleep`` is called."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleep = SleepRecorder(self._advance)

    def _advance(self, seconds: float) -> None:
        self.now += seconds

    def __call__(self) -> float:
        return self.now


class Wire:
    """JSON bodies and URLs of the Gemini Developer API v1beta, as DESIGN.md "The wire"."""

    base = API_BASE
    model = DEFAULT_MODEL

    def op_name(self, op_id: str = OP_ID, model: str = DEFAULT_MODEL) -> str:
        return f"models/{model}/operations/{op_id}"

    def op_url(self, name: str) -> str:
        return f"{API_BASE}/v1beta/{name}"

    def submit_url(self, model: str = DEFAULT_MODEL) -> str:
        return f"{API_BASE}/v1beta/models/{model}:predictLongRunning"

    def file_uri(self, file_id: str = FILE_ID) -> str:
        return f"{API_BASE}/v1beta/files/{file_id}:download?alt=media"

    def file_url(self, file_id: str = FILE_ID) -> str:
        """The download URL without its query, for respx routes (which match any query)."""
        return f"{API_BASE}/v1beta/files/{file_id}:download"

    def submitted(self, name: str) -> dict[str, Any]:
        return {"name": name}

    def running(self, name: str) -> dict[str, Any]:
        return {"name": name, "done": False}

    def done(self, name: str, uri: str) -> dict[str, Any]:
        return {
            "name": name,
            "done": True,
            "response": {
                "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta."
                "PredictLongRunningResponse",
                "generateVideoResponse": {"generatedSamples": [{"video": {"uri": uri}}]},
            },
        }

    def failed(
        self, name: str, message: str, *, code: int = 3, status: str = "INVALID_ARGUMENT"
    ) -> dict[str, Any]:
        return {
            "name": name,
            "done": True,
            "error": {"code": code, "message": message, "status": status},
        }

    def rai_filtered(self, name: str, reasons: list[str]) -> dict[str, Any]:
        return {
            "name": name,
            "done": True,
            "response": {
                "generateVideoResponse": {
                    "raiMediaFilteredCount": len(reasons),
                    "raiMediaFilteredReasons": reasons,
                }
            },
        }

    def done_empty(self, name: str) -> dict[str, Any]:
        return {"name": name, "done": True, "response": {"generateVideoResponse": {}}}

    def api_error(self, code: int, message: str, status: str) -> dict[str, Any]:
        return {"error": {"code": code, "message": message, "status": status}}


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


AdapterFactory = Callable[..., GeminiVeo3Adapter]


@pytest.fixture
def make_adapter(
    api_key: str, noop_sleep: SleepRecorder, http_client: httpx.Client, router: respx.MockRouter
) -> Iterator[AdapterFactory]:
    """Build the real adapter on the real SDK and ``http_client``, waits recorded not slept."""
    built: list[GeminiVeo3Adapter] = []

    def factory(**overrides: Any) -> GeminiVeo3Adapter:
        kwargs: dict[str, Any] = {
            "http_client": http_client,
            "sleep": noop_sleep,
            "rand": lambda: 0.0,
            "retry": RetryPolicy(attempts=3, initial=1.0, multiplier=2.0, jitter=0.0),
        }
        kwargs.update(overrides)
        adapter = GeminiVeo3Adapter(kwargs.pop("api_key", api_key), **kwargs)
        built.append(adapter)
        return adapter

    yield factory
    for adapter in built:
        adapter.close()


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
