"""Fixtures for the orchestrator's concurrency tests: one virtual clock that the run, the
ports and the emulator all share, so a test of hours takes milliseconds and is exact."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from veo3_adapter import Veo3Orchestrator
from veo3_adapter._timebase import VirtualTime


@pytest.fixture
def vt() -> VirtualTime:
    return VirtualTime()


@pytest.fixture
def make(vt: VirtualTime, tmp_path: Path) -> Callable[..., Veo3Orchestrator]:
    """An orchestrator on ``vt`` writing to ``tmp_path/out``: polls every 10 s, unpaced
    unless a test sets ``submit_rate``; other settings as given."""

    def build(port: object, **settings: Any) -> Veo3Orchestrator:
        chosen: dict[str, Any] = {"poll_interval": 10.0, "submit_rate": None}
        chosen.update(settings)
        return Veo3Orchestrator(
            port,  # type: ignore[arg-type]
            tmp_path / "out",
            sleep=vt.sleep,
            clock=vt.monotonic,
            **chosen,
        )

    return build
