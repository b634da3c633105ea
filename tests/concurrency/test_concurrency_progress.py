"""The progress views under a run of many jobs: the live block stays one screen (a summary
line and the jobs under way, busiest first), plain lines stay one per change, and hooks
called from many threads at once leave every view consistent."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from pathlib import Path

from _kit.cli import render_terminal
from _kit.timed import TinyPort

from veo3_adapter import JobStatus, Veo3Job, Veo3Orchestrator
from veo3_adapter._timebase import VirtualTime
from veo3_adapter.cli import ProgressView
from veo3_adapter.cli._events import watch

OP = "models/veo-3.1-generate-001/operations/"


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _job(variant: str, status: JobStatus) -> Veo3Job:
    return Veo3Job(variant, "p", status=status, operation_name=OP + variant)


def test_a_thousand_jobs_take_one_screen_the_busiest_shown_first() -> None:
    stream = Tty()  # no real terminal behind it: the view assumes 100 x 24
    view = ProgressView(stream, clock=lambda: 0.0)
    view.seed([Veo3Job(f"j{n:04d}", "p") for n in range(1000)])
    for n in range(0, 300):
        view.job_changed(_job(f"j{n:04d}", JobStatus.SUBMITTED))
    for n in range(0, 100):
        view.job_changed(_job(f"j{n:04d}", JobStatus.DOWNLOADED))
    for n in range(250, 253):
        view.job_changed(_job(f"j{n:04d}", JobStatus.GENERATED))
        view.download_started(f"j{n:04d}")

    screen = render_terminal(stream.getvalue())

    assert len(screen) == 22  # the terminal's 24 lines, less the cursor's and one spare
    shown = [line.split()[0] for line in screen[:-1]]
    # The three downloads, then the jobs generating; none of those waiting to be sent.
    assert {"j0250", "j0251", "j0252"} <= set(shown)
    assert all(100 <= int(name[1:]) < 300 for name in shown)
    assert screen[-1] == "... and 979 more (100 downloaded, 179 submitted, 700 pending)"


def test_plain_lines_stay_one_per_change_under_a_concurrent_run(
    vt: VirtualTime, tmp_path: Path
) -> None:
    stream = io.StringIO()
    view = ProgressView(stream)  # not a terminal: one line per event
    port = TinyPort(vt)
    port.waits.update({("submit", "*"): 1.0, ("download", "*"): 3.0})
    changes: list[Veo3Job] = []

    def on_change(job: Veo3Job) -> None:
        changes.append(job)
        view.job_changed(job)

    orchestrator = Veo3Orchestrator(
        watch(port, view),
        tmp_path,
        poll_interval=2.0,
        concurrency=5,
        submit_rate=None,
        sleep=vt.sleep,
        clock=vt.monotonic,
        on_change=on_change,
    )
    jobs = orchestrator.run({f"v{i:02d}": "p" for i in range(20)})
    view.close()

    assert {job.status for job in jobs} == {JobStatus.DOWNLOADED}
    lines = stream.getvalue().splitlines()
    events = [line for line in lines if "downloading" not in line]
    moved = [job for job in changes if job.status is not JobStatus.PENDING]
    assert len(events) == len(moved) == 3 * 20  # submitted, generated, downloaded: a line each
    for variant in (f"v{i:02d}" for i in range(20)):
        mine = [line for line in events if line.startswith(f"veo3: {variant}: ")]
        assert [line.split(": ")[2].split()[0] for line in mine] == [
            "submitted",
            "generated",
            "downloaded",
        ]


def test_hooks_from_many_threads_at_once_leave_the_view_consistent() -> None:
    stream = Tty()
    view = ProgressView(stream)
    variants = [f"v{i}" for i in range(8)]
    for variant in variants:
        view.job_changed(_job(variant, JobStatus.GENERATED))
    start = threading.Barrier(len(variants))

    def hammer(variant: str) -> Callable[[], None]:
        def go() -> None:
            start.wait()
            view.download_started(variant)
            for written in range(0, 64 * 1024 + 1, 1024):
                view.download_progress(variant, written, 64 * 1024)
                view.polled(_job(variant, JobStatus.GENERATED), answered=True)
            view.job_changed(_job(variant, JobStatus.DOWNLOADED))
            view.note(f"{variant} done")

        return go

    threads = [threading.Thread(target=hammer(v)) for v in variants]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    view.close()

    screen = render_terminal(stream.getvalue())
    assert sorted(line for line in screen if line.startswith("veo3: ")) == sorted(
        f"veo3: {v} done" for v in variants
    )
    block = [line for line in screen if not line.startswith("veo3: ")]
    assert [line.split()[:2] for line in block] == [[v, "downloaded"] for v in variants]
