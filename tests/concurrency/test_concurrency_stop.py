"""Stopping a run mid-way (``stop()``, Ctrl-C, SIGINT through the command's handler): every
operation name received is in jobs.json, the partial files are gone, and ``resume()``
finishes without submitting any operation twice. In process, in virtual time."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from _kit.timed import TinyPort

from veo3_adapter import GenerationOptions, JobStatus, Veo3Job, Veo3Orchestrator, read_jobs_json
from veo3_adapter._files import TEMP_SUFFIX
from veo3_adapter._timebase import VirtualTime
from veo3_adapter.cli._signals import stopping_on_signals
from veo3_adapter.models import ErrorCode, JobInputs

Make = Callable[..., Veo3Orchestrator]
PROMPTS = {f"v{i}": f"a clip called v{i}" for i in range(8)}


class Interrupting(TinyPort):
    """Submits take 2 s, generations one poll (v0's none); the submit of ``at`` first calls
    ``hook`` (from its worker). The first download of v0 writes half a clip to a partial
    file and takes 300 s, as a real one would under a long ``Retry-After``."""

    def __init__(self, time: VirtualTime, at: str, hook: Callable[[], None]) -> None:
        super().__init__(time, running=1)
        self.at = at
        self.hook = hook
        self.waits[("submit", "*")] = 2.0
        self.running["v0"] = 0
        self.partial: Path | None = None

    def submit_job(
        self,
        variant: str,
        prompt: str,
        options: GenerationOptions | None = None,
        inputs: JobInputs | None = None,
    ) -> Veo3Job:
        if variant == self.at:
            self.hook()
        return super().submit_job(variant, prompt, options)

    def download_clip(self, job: Veo3Job, dest: Path) -> Path:
        if job.variant != "v0" or self.partial is not None:
            return super().download_clip(job, dest)
        self.partial = partial = dest.with_name(f".{dest.name}.x1y2{TEMP_SUFFIX}")
        partial.write_bytes(b"half a clip")
        self.time.sleep(300.0)
        written = super().download_clip(job, dest)
        partial.unlink(missing_ok=True)  # a finished download leaves no partial file
        return written


def _recorded_names(orchestrator: Veo3Orchestrator) -> set[str]:
    return {job.operation_name for job in read_jobs_json(orchestrator.jobs_path)} - {""}


def _resume_finishes_sending_nothing_twice(
    port: TinyPort, make: Make, orchestrator: Veo3Orchestrator
) -> None:
    port.at = ""  # the cause of the stop is gone
    final = make(port).resume()
    assert read_jobs_json(orchestrator.jobs_path) == final
    assert len(port.names) == len(set(port.names))
    for job in final:
        sent = port.starts("submit", job.variant)
        assert len(sent) == 1, f"{job.variant} was submitted {len(sent)} times"
        assert job.status is JobStatus.DOWNLOADED, job
    assert not list(orchestrator.clips_dir.glob(f"*{TEMP_SUFFIX}"))


def test_stop_from_another_thread_leaves_a_directory_that_resume_finishes(
    vt: VirtualTime, make: Make
) -> None:
    holder: list[Veo3Orchestrator] = []
    port = Interrupting(vt, "v2", lambda: holder[0].stop())
    orchestrator = make(port, submit_rate=6.0)  # v0 at 0 s, v1 at 10 s, v2 at 20 s
    holder.append(orchestrator)

    jobs = {job.variant: job for job in orchestrator.run(PROMPTS)}

    assert orchestrator.stopped
    # v2's submit answered within the grace; v3..v7 were never sent; v0's download (from
    # 12 s on) was abandoned, and its partial file removed.
    assert [v for v, job in jobs.items() if job.status is JobStatus.PENDING] == [
        "v3",
        "v4",
        "v5",
        "v6",
        "v7",
    ]
    assert jobs["v0"].status is JobStatus.GENERATED
    assert port.partial is not None and not port.partial.exists()
    assert _recorded_names(orchestrator) == set(port.names)
    assert len(port.names) == 3
    assert read_jobs_json(orchestrator.jobs_path) == list(jobs.values())
    _resume_finishes_sending_nothing_twice(port, make, orchestrator)


def test_a_submit_still_unanswered_after_the_grace_is_failed_not_sent_again(
    vt: VirtualTime, make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    holder: list[Veo3Orchestrator] = []
    port = Interrupting(vt, "v2", lambda: holder[0].stop())
    port.waits[("submit", "v2")] = 60.0  # its answer comes long after the 5 s of grace
    orchestrator = make(port, submit_rate=60.0)
    holder.append(orchestrator)

    with caplog.at_level(logging.ERROR, logger="veo3_adapter.orchestrator"):
        jobs = {job.variant: job for job in orchestrator.run(PROMPTS)}
        while vt.monotonic() < 100.0:  # let v2's answer arrive, after the run
            vt.pause(100.0)

    late = jobs["v2"]
    assert (late.status, late.error_message) == (JobStatus.FAILED, ErrorCode.SUBMIT_FAILED.value)
    assert "was stopped while this submit was in flight" in late.error_detail
    assert port.names[-1] in caplog.text  # the operation it started is named in the log
    assert _recorded_names(orchestrator) == set(port.names[:-1])
    final = {job.variant: job for job in make(port).resume()}
    assert final["v2"] == late  # not sent again by resume: whether it started is unknown
    assert port.starts("submit", "v2") == [3.0]  # after v0 (alone, 0-2 s) and v1 (2 s)
    assert all(final[v].status is JobStatus.DOWNLOADED for v in PROMPTS if v != "v2")
    assert len(port.names) == len(set(port.names)) == len(PROMPTS)


def test_ctrl_c_in_the_calling_thread_records_every_name_then_propagates(
    vt: VirtualTime, make: Make
) -> None:
    port = TinyPort(vt, running=1)
    port.waits[("submit", "*")] = 2.0
    interrupted: list[str] = []

    def on_change(job: Veo3Job) -> None:
        if job.variant == "v3" and job.status is JobStatus.SUBMITTED and not interrupted:
            interrupted.append(job.operation_name)
            raise KeyboardInterrupt  # Ctrl-C lands while the run writes down v3's submit

    orchestrator = make(port, submit_rate=120.0, on_change=on_change)
    with pytest.raises(KeyboardInterrupt):
        orchestrator.run(PROMPTS)

    assert orchestrator.stopped
    names = _recorded_names(orchestrator)
    assert interrupted[0] in names  # saved before on_change heard of it
    assert names == set(port.names)  # and the submits in flight had their grace
    assert 4 <= len(port.names) < len(PROMPTS)
    _resume_finishes_sending_nothing_twice(port, make, orchestrator)


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="signals reach the main thread only, and this test does not run there",
)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_through_the_commands_handler_stops_the_run(
    vt: VirtualTime, make: Make, signum: signal.Signals
) -> None:
    main = threading.main_thread().ident
    assert main is not None
    port = Interrupting(vt, "v3", lambda: signal.pthread_kill(main, signum))
    orchestrator = make(port, submit_rate=60.0)
    before = signal.getsignal(signum)

    with stopping_on_signals(orchestrator.stop) as stops:
        jobs = orchestrator.run(PROMPTS)

    assert signal.getsignal(signum) is before  # put back
    assert stops.signal == signum
    assert orchestrator.stopped
    assert {job.variant for job in jobs if job.status is JobStatus.PENDING} >= {"v5", "v6", "v7"}
    assert _recorded_names(orchestrator) == set(port.names)
    _resume_finishes_sending_nothing_twice(port, make, orchestrator)


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="signals reach the main thread only, and this test does not run there",
)
def test_a_second_signal_while_submits_have_their_grace_interrupts_at_once(
    vt: VirtualTime, make: Make
) -> None:
    main = threading.main_thread().ident
    assert main is not None
    port = Interrupting(vt, "v3", lambda: signal.pthread_kill(main, signal.SIGTERM))
    # v2 goes at 3 s and answers at 6 s, during the grace that began at 5 s (the first
    # moment the run looked after SIGTERM came, at 4 s); v3 is still in flight then.
    port.waits.update({("submit", "v2"): 3.0, ("submit", "v3"): 60.0})

    def on_change(job: Veo3Job) -> None:
        if job.variant == "v2" and job.status is JobStatus.SUBMITTED:
            signal.pthread_kill(main, signal.SIGINT)

    orchestrator = make(port, submit_rate=60.0, on_change=on_change)
    with pytest.raises(KeyboardInterrupt), stopping_on_signals(orchestrator.stop):
        orchestrator.run(PROMPTS)

    assert vt.monotonic() == 6.0  # not 5 + 5 s of grace: v3's submit was left at once
    jobs = {job.variant: job for job in read_jobs_json(orchestrator.jobs_path)}
    assert jobs["v3"].error_message == ErrorCode.SUBMIT_FAILED.value
    assert _recorded_names(orchestrator) == set(port.names)
    assert len(port.names) == 3


def test_stop_before_a_run_stops_it_at_once_and_only_that_one(vt: VirtualTime, make: Make) -> None:
    port = TinyPort(vt)
    orchestrator = make(port)
    orchestrator.stop()
    jobs = orchestrator.run(PROMPTS)
    assert orchestrator.stopped and port.log == []
    assert {job.status for job in jobs} == {JobStatus.PENDING}
    assert all(job.status is JobStatus.DOWNLOADED for job in orchestrator.resume())
    assert not orchestrator.stopped
