"""Forks worker processes on request, for the tests that SIGKILL them.

Run as ``python fork_helper.py``; one JSON request per stdin line, one JSON answer per line:

    {"start": task, "args": {...}}  ->  {"pid": n}       a forked child runs TASKS[task](**args)
    {"reap": pid}                   ->  {"pid": n, "status": s}   os.waitpid's status
    end of input                    ->  the helper exits

veo3_adapter (and the SDK) are imported once, here, and no thread is ever started, so
``fork()`` is safe and a worker runs within a millisecond or two instead of after a
half-second interpreter start. Workers write nothing to stdout (that is the answer channel).
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from veo3_adapter import (
    FakeOutcome,
    FakeVeo3Adapter,
    GeminiVeo3Adapter,
    JobStatus,
    RetryPolicy,
    Veo3Job,
    Veo3Orchestrator,
    read_jobs_json,
    write_jobs_json,
)


def _no_wait(_seconds: float) -> None:
    return None


def job_list(count: int, prompt_size: int) -> list[Veo3Job]:
    """The first ``count`` jobs of one fixed sequence: job ``i`` depends on ``i`` alone."""
    return [
        Veo3Job(
            variant=f"v{i:05d}",
            prompt=f"{i}:" + "ü" * prompt_size,
            status=JobStatus.SUBMITTED,
            operation_name=f"models/veo-3.1-generate-001/operations/op{i:09d}",
            created_at="2025-01-01T00:00:00+00:00",
            updated_at="2025-01-01T00:00:00+00:00",
        )
        for i in range(count)
    ]


def download(base_url: str, key: str, out: str, variant: str, prompt: str) -> None:
    """One variant, start to clip, through the real adapter on a served emulator."""
    with GeminiVeo3Adapter(
        key,
        base_url=base_url,
        sleep=_no_wait,
        rand=lambda: 0.0,
        retry=RetryPolicy(attempts=2, jitter=0.0),
        timeout=30.0,
    ) as adapter:
        Veo3Orchestrator(adapter, out, poll_interval=0, sleep=_no_wait).run({variant: prompt})


def write_jobs(path: str, first: int, prompt_size: int) -> None:
    """Rewrite jobs.json for ever, one job longer each time, from what is there."""
    target = Path(path)
    count = len(read_jobs_json(target)) if target.exists() else first
    while True:
        count += 1
        write_jobs_json(target, job_list(count, prompt_size))


def orchestrate(out: str, prompt_size: int, batch: int) -> None:
    """Resume what is there, then run batch after batch for ever (journal appends and folds)."""
    fake = FakeVeo3Adapter(default=FakeOutcome.success(polls=1))
    orchestrator = Veo3Orchestrator(fake, out, poll_interval=0, sleep=_no_wait)
    if orchestrator.jobs_path.exists():
        orchestrator.resume()
    round_ = 0
    while True:
        round_ += 1
        prompts = {f"p{os.getpid()}-{round_}-{i}": "x" * prompt_size for i in range(batch)}
        orchestrator.run(prompts)


class _HoldingPort(FakeVeo3Adapter):
    """Signals through ``marker`` that the run is under way, then never returns from poll."""

    def __init__(self, marker: Path) -> None:
        super().__init__()
        self.marker = marker

    def poll_job(self, job: Veo3Job) -> Veo3Job:
        self.marker.write_text(str(os.getpid()))
        while True:
            time.sleep(60)


def hold_lock(out: str, marker: str) -> None:
    """Hold ``out``'s lock inside a run until killed."""
    Veo3Orchestrator(_HoldingPort(Path(marker)), out, poll_interval=0, sleep=_no_wait).run(
        {"holder": "a clip nobody will see"}
    )


TASKS: dict[str, Callable[..., None]] = {
    "download": download,
    "write_jobs": write_jobs,
    "orchestrate": orchestrate,
    "hold_lock": hold_lock,
}


def _child(task: str, args: dict[str, Any]) -> None:
    os.dup2(2, 1)  # stdout is the answer channel: a worker's prints go to the log
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    code = 0
    try:
        TASKS[task](**args)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        sys.stderr.flush()
        os._exit(code)


def _warm_up() -> None:
    """Build (and drop) one adapter: pydantic's lazy schemas are then built once, here."""
    GeminiVeo3Adapter("warm-up-key", base_url="http://127.0.0.1:9").close()


def main() -> None:
    _warm_up()
    for line in sys.stdin.buffer:
        request = json.loads(line)
        if "start" in request:
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                _child(request["start"], request.get("args", {}))
            answer: dict[str, int] = {"pid": pid}
        else:
            pid, status = os.waitpid(int(request["reap"]), 0)
            answer = {"pid": pid, "status": status}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
