"""veo3_adapter.clock: objects built with default sleep/clock can still be run on virtual time."""

from __future__ import annotations

from pathlib import Path

import pytest

from veo3_adapter import FakeOutcome, FakeVeo3Adapter, JobStatus, Veo3Orchestrator, clock


def test_orchestrator_with_defaults_waits_on_the_virtual_clock(tmp_path: Path) -> None:
    fake = FakeVeo3Adapter(default=FakeOutcome.success(polls=2))
    orch = Veo3Orchestrator(fake, tmp_path)  # default sleep and clock, built outside the block
    with clock.virtual_time() as virtual:
        (job,) = orch.run({"a": "p"})
    assert job.status is JobStatus.DOWNLOADED
    assert virtual.slept == [10.0, 10.0, 10.0]
    assert virtual.monotonic() == 30.0


def test_timeout_on_virtual_time(tmp_path: Path) -> None:
    fake = FakeVeo3Adapter(default=FakeOutcome.success(polls=1000))
    orch = Veo3Orchestrator(fake, tmp_path, timeout=60.0)
    with clock.virtual_time(clock.VirtualClock(start=100.0)) as virtual:
        (job,) = orch.run({"a": "p"})
    assert job.error_message == "timeout"
    assert virtual.monotonic() == 160.0


def test_virtual_time_nests_and_restores() -> None:
    with clock.virtual_time() as outer:
        with clock.virtual_time() as inner:
            clock.sleep(2.0)
        clock.sleep(3.0)
        clock.sleep(-1.0)  # recorded, but time never runs backwards
        assert clock.monotonic() == 3.0
    assert (inner.slept, outer.slept) == ([2.0], [3.0, -1.0])
    with pytest.raises(AssertionError, match="real time.sleep"):
        clock.sleep(0.01)  # outside: the real time.sleep (refused by the test guard)
    assert clock.monotonic() > 0
