"""Orchestrated runs in tests: an orchestrator on virtual time, and its jobs by variant."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from _kit.clock import FakeClock
from veo3_adapter import Veo3Job, Veo3Orchestrator


def orchestrator_on(port: Any, out: Path, clock: FakeClock, **settings: Any) -> Veo3Orchestrator:
    """A ``Veo3Orchestrator`` on ``port`` writing under ``out``, polling every 10 s of
    ``clock``'s time (its ``sleep`` only records); ``settings`` add to or replace these."""
    settings = {"poll_interval": 10.0, "sleep": clock.sleep, "clock": clock, **settings}
    return Veo3Orchestrator(port, out, **settings)


def by_variant(jobs: Iterable[Veo3Job]) -> dict[str, Veo3Job]:
    return {job.variant: job for job in jobs}
