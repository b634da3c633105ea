"""Benchmark 4: how the orchestrator's own cost grows with the number of jobs.

Runs ``Veo3Orchestrator.run`` with 50, 100, 200 and 500 jobs on ``FakeVeo3Adapter`` and on
the real ``GeminiVeo3Adapter`` over the in-process emulator (one "running" poll per job,
sleep a no-op, poll_interval 0). Measures wall time, time inside the port (the adapter), the
rest (the orchestrator's own overhead), and every durable write of the job state: jobs.json
snapshots and, when the store has one, journal appends, with their bytes.

    /work/.venv/bin/python bench/overhead.py [--quick] [--repeat N]
"""

from __future__ import annotations

import argparse
import math
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from _common import fmt_bytes, fmt_seconds, load_line, machine_line, median, print_table

import veo3_adapter._files as files_module
import veo3_adapter.orchestrator as orchestrator_module
import veo3_adapter.store as store_module
from veo3_adapter import (
    FakeOutcome,
    FakeVeo3Adapter,
    GeminiVeo3Adapter,
    GenerationOptions,
    JobStatus,
    Veo3Job,
    Veo3Orchestrator,
    VideoGenerationPort,
)
from veo3_adapter.emulator import Emulator, Scenario

LINEAR_EXPONENT_LIMIT = 1.3  # growth exponent above this is not "linear"


def _no_sleep(_seconds: float) -> None:
    return None


# -- instrumentation -----------------------------------------------------------------------


@dataclass
class Counters:
    snapshot_writes: int = 0
    snapshot_bytes: int = 0
    journal_appends: int = 0
    journal_bytes: int = 0
    fsyncs: int = 0
    state_seconds: float = 0.0  # inside write_jobs_json / JobsJournal.append


class _CountingOs:
    """Stands in for ``os`` inside the store and _files modules: counts writes and fsyncs."""

    def __init__(self, counters: Counters, *, journal: bool) -> None:
        self._counters = counters
        self._journal = journal

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def write(self, fd: int, data: bytes | memoryview) -> int:
        written = os.write(fd, data)
        if self._journal:  # the store module writes with os.write only to its journal
            self._counters.journal_bytes += written
        return written

    def fsync(self, fd: int) -> None:
        self._counters.fsyncs += 1
        os.fsync(fd)


@contextmanager
def instrumented() -> Iterator[Counters]:
    """Count every durable write of job state while the block runs, then undo the patches."""
    counters = Counters()
    undo: list[Callable[[], None]] = []

    def patch(target: object, name: str, value: object) -> None:
        old = getattr(target, name)
        setattr(target, name, value)
        undo.append(lambda: setattr(target, name, old))

    real_write = store_module.write_jobs_json

    def write_jobs_json(path: Path, jobs: Sequence[Veo3Job]) -> None:
        start = time.perf_counter()
        real_write(path, jobs)
        counters.state_seconds += time.perf_counter() - start
        counters.snapshot_writes += 1
        counters.snapshot_bytes += path.stat().st_size

    patch(store_module, "write_jobs_json", write_jobs_json)
    if hasattr(orchestrator_module, "write_jobs_json"):  # releases before the journal
        patch(orchestrator_module, "write_jobs_json", write_jobs_json)
    journal_cls = getattr(store_module, "JobsJournal", None)
    if journal_cls is not None:
        real_append = journal_cls.append

        def append(self: Any, *args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            before = counters.state_seconds
            try:
                return real_append(self, *args, **kwargs)
            finally:
                # A fold inside append is a snapshot, already timed: count it once.
                folded = counters.state_seconds - before
                counters.state_seconds += time.perf_counter() - start - folded
                counters.journal_appends += 1

        patch(journal_cls, "append", append)
    patch(store_module, "os", _CountingOs(counters, journal=True))
    patch(files_module, "os", _CountingOs(counters, journal=False))
    try:
        yield counters
    finally:
        for step in reversed(undo):
            step()


class TimedPort:
    """Forwards to an adapter and adds up the time spent inside it."""

    def __init__(self, inner: VideoGenerationPort) -> None:
        self.inner = inner
        self.seconds = 0.0
        self.cpu_seconds = 0.0
        self.calls = 0

    def _timed(self, call: Callable[[], Any]) -> Any:
        start, cpu = time.perf_counter(), time.process_time()
        try:
            return call()
        finally:
            self.seconds += time.perf_counter() - start
            self.cpu_seconds += time.process_time() - cpu
            self.calls += 1

    def submit_job(
        self, variant: str, prompt: str, options: GenerationOptions | None = None
    ) -> Veo3Job:
        job: Veo3Job = self._timed(lambda: self.inner.submit_job(variant, prompt, options))
        return job

    def poll_job(self, job: Veo3Job) -> Veo3Job:
        polled: Veo3Job = self._timed(lambda: self.inner.poll_job(job))
        return polled

    def download_clip(self, job: Veo3Job, dest: Path) -> Path:
        path: Path = self._timed(lambda: self.inner.download_clip(job, dest))
        return path


# -- one run -------------------------------------------------------------------------------


@dataclass
class Result:
    wall: float
    port: float
    cpu: float
    port_cpu: float
    port_calls: int
    counters: Counters

    @property
    def overhead(self) -> float:
        return self.wall - self.port

    @property
    def cpu_overhead(self) -> float:
        return self.cpu - self.port_cpu

    @property
    def writes(self) -> int:
        return self.counters.snapshot_writes + self.counters.journal_appends

    @property
    def bytes(self) -> int:
        return self.counters.snapshot_bytes + self.counters.journal_bytes


def make_fake() -> tuple[VideoGenerationPort, Callable[[], None]]:
    return FakeVeo3Adapter(default=FakeOutcome.success(polls=1)), lambda: None


def make_emulated() -> tuple[VideoGenerationPort, Callable[[], None]]:
    key = "bench-" + secrets.token_hex(16)
    emulator = Emulator(api_key=key, default=Scenario(running_polls=1), sleep=_no_sleep)
    client = httpx.Client(transport=emulator.transport(), follow_redirects=False)
    adapter = GeminiVeo3Adapter(
        key, base_url=emulator.api_base, http_client=client, sleep=_no_sleep
    )
    return adapter, client.close


@contextmanager
def rewrite_every_change() -> Iterator[None]:
    """The control: every change rewrites all of jobs.json (the store before the journal)."""
    journal_cls: Any = getattr(store_module, "JobsJournal", None)
    if journal_cls is None:  # the store has no journal: it already rewrites every time
        yield
        return
    real_append = journal_cls.append

    def append(self: Any, job: Veo3Job, jobs: Callable[[], Sequence[Veo3Job]]) -> None:
        self.snapshot(jobs())

    journal_cls.append = append
    try:
        yield
    finally:
        journal_cls.append = real_append


Maker = Callable[[], tuple[VideoGenerationPort, Callable[[], None]]]


def run_once(make: Maker, n: int, *, control: bool = False) -> Result:
    adapter, close = make()
    port = TimedPort(adapter)
    prompts = {f"variant{i:04d}": f"a short clip, take {i}" for i in range(n)}
    with tempfile.TemporaryDirectory(prefix="veo3-bench-scale-") as tmp:
        orchestrator = Veo3Orchestrator(port, Path(tmp), poll_interval=0, sleep=_no_sleep)
        with instrumented() as counters, rewrite_every_change() if control else nullcontext():
            start, cpu = time.perf_counter(), time.process_time()
            jobs = orchestrator.run(prompts)
            wall = time.perf_counter() - start
            cpu = time.process_time() - cpu
    close()
    bad = [job for job in jobs if job.status is not JobStatus.DOWNLOADED]
    if bad:
        raise RuntimeError(f"{len(bad)} of {n} jobs did not finish: {bad[0]}")
    return Result(wall, port.seconds, cpu, port.cpu_seconds, port.calls, counters)


@dataclass
class Series:
    name: str
    make: Maker
    control: bool = False
    repeat: int = 0  # 0: the run's default
    results: dict[int, list[Result]] = field(default_factory=dict)

    def med(self, n: int, metric: Callable[[Result], float]) -> float:
        return median([metric(r) for r in self.results[n]])

    def best(self, n: int, metric: Callable[[Result], float]) -> float:
        """Times: the fastest run (another process's I/O only ever adds fsync stalls)."""
        return min(metric(r) for r in self.results[n])


def exponent(n0: int, n1: int, v0: float, v1: float) -> float:
    """k in v ~ n**k between two points (1: linear, 2: quadratic)."""
    if v0 <= 0 or v1 <= 0:
        return float("nan")
    return math.log(v1 / v0) / math.log(n1 / n0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="50, 100, 200 jobs, one run each")
    parser.add_argument("--repeat", type=int, default=0, help="runs per size (default 3)")
    parser.add_argument(
        "--no-control",
        action="store_true",
        help="skip the control (jobs.json rewritten on every change, one run per size)",
    )
    args = parser.parse_args(argv)
    sizes = [50, 100, 200] if args.quick else [50, 100, 200, 500]
    repeat = args.repeat or (1 if args.quick else 3)
    print(machine_line())
    print(
        f"Veo3Orchestrator.run of N variants, poll_interval 0, sleep a no-op, one 'running' "
        f"poll per job; {repeat} run(s) per size ({repeat} x {sizes[-2]}/N for smaller N): "
        "times are the fastest run, counts the median; store: "
        + ("jobs.json + journal" if hasattr(store_module, "JobsJournal") else "jobs.json only")
        + "; the control (one run per size) patches JobsJournal.append to rewrite jobs.json "
        "on every change, as the store did before the journal, to show what quadratic looks "
        "like here"
    )
    series = [Series("fake", make_fake), Series("emulator", make_emulated)]
    if not args.no_control:
        series.append(Series("control: fake, rewrite per change", make_fake, True, 1))
    run_once(make_fake, 5)  # warm-up: imports, first-use costs
    run_once(make_emulated, 5)
    for n in sizes:
        for s in series:
            # Small runs are short and fsync latency is noisy: give them more runs.
            runs = s.repeat or repeat * max(1, sizes[-2] // n if len(sizes) > 1 else 1)
            s.results[n] = [run_once(s.make, n, control=s.control) for _ in range(runs)]

    rows: list[list[str]] = []
    for s in series:
        for n in sizes:
            rows.append(
                [
                    s.name,
                    str(n),
                    fmt_seconds(s.best(n, lambda r: r.wall)),
                    fmt_seconds(s.best(n, lambda r: r.port)),
                    fmt_seconds(s.best(n, lambda r: r.overhead)),
                    f"{s.best(n, lambda r: r.overhead) / n * 1e3:.2f} ms",
                    fmt_seconds(s.best(n, lambda r: r.cpu_overhead)),
                    fmt_seconds(s.best(n, lambda r: r.counters.state_seconds)),
                    str(int(s.med(n, lambda r: r.counters.snapshot_writes))),
                    str(int(s.med(n, lambda r: r.counters.journal_appends))),
                    fmt_bytes(s.med(n, lambda r: r.bytes)),
                    str(int(s.med(n, lambda r: r.counters.fsyncs))),
                ]
            )
    print()
    print_table(
        [
            "port",
            "jobs",
            "wall",
            "in port",
            "overhead",
            "per job",
            "overhead CPU",
            "state I/O",
            "jobs.json writes",
            "journal appends",
            "state bytes",
            "fsyncs",
        ],
        rows,
    )
    print(
        "Times are the fastest run: fsync latency on a shared VM is noisy and other "
        "processes' I/O only adds to it. The verdicts use CPU time and counts.\n"
        "in port: time inside submit/poll/download (the adapter; for the emulator also the "
        "emulator itself). overhead: wall minus in port, the orchestrator's own cost; "
        "overhead CPU: the same in process CPU time (fsync waits excluded). state "
        "I/O: time inside write_jobs_json and JobsJournal.append. state bytes: bytes written "
        "to jobs.json and its journal. fsyncs: all (clips, jobs.json, journal, directories)."
    )
    lo, hi = sizes[0], sizes[-1]
    scale = hi / lo
    print()
    print(
        f"growth {lo} -> {hi} jobs (linear would be {scale:.0f}x, quadratic {scale**2:.0f}x); "
        "exponent k in cost ~ jobs**k"
    )
    growth_rows: list[list[str]] = []
    verdicts: list[tuple[bool, str]] = []
    metrics: list[tuple[str, bool, Callable[[Result], float]]] = [
        ("wall", True, lambda r: r.wall),
        ("overhead", True, lambda r: r.overhead),
        ("overhead CPU", True, lambda r: r.cpu_overhead),
        ("state I/O time", True, lambda r: r.counters.state_seconds),
        ("state writes", False, lambda r: float(r.writes)),
        ("state bytes", False, lambda r: float(r.bytes)),
    ]
    for s in series:
        for label, is_time, metric in metrics:
            pick = s.best if is_time else s.med
            v0, v1 = pick(lo, metric), pick(hi, metric)
            k = exponent(lo, hi, v0, v1)
            growth_rows.append([s.name, label, f"{v1 / v0:.1f}x", f"{k:.2f}"])
            if label in ("overhead CPU", "state writes", "state bytes") and not s.control:
                verdicts.append(
                    (
                        k <= LINEAR_EXPONENT_LIMIT,
                        f"{s.name}: {label} grows {v1 / v0:.1f}x for {scale:.0f}x the jobs "
                        f"(k = {k:.2f}; linear is 1, quadratic 2)",
                    )
                )
    print_table(["port", "metric", f"{lo}->{hi}", "k"], growth_rows)
    print()
    print(f"after the runs: {load_line()}")
    for passed, text in verdicts:
        print(("PASS  " if passed else "MISS  ") + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
