"""The built-in scenario cassettes, end to end through the plugin's own fixtures."""

from __future__ import annotations

import time

import pytest


@pytest.fixture
def no_real_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything waits for real time (replay must make every wait virtual)."""

    def refuse(seconds: float) -> None:
        raise AssertionError(f"real time.sleep({seconds}) during replay")

    monkeypatch.setattr(time, "sleep", refuse)


_CREDENTIAL_VARIABLES = (
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_CLOUD_PROJECT",
    "GOOGLE_CLOUD_LOCATION",
    "GOOGLE_GENAI_USE_VERTEXAI",
)


@pytest.fixture
def keyless(monkeypatch: pytest.MonkeyPatch) -> None:
    """No key, no project, and Application Default Credentials refused if ever asked for."""
    for name in _CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("replay looked for Application Default Credentials")

    monkeypatch.setattr("google.auth.default", refuse)
