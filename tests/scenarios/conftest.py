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
