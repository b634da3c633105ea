"""Benchmark 5: many clips at once, against the emulator on loopback with a farther network.

Every run gets a fresh emulator in its own process on loopback, 50 ms added before every
answer, a 5 s generation (a poll answers "running" until 5 s after the submit arrived),
2 MiB clips sent at 50 MB/s each; and a fresh client process, so that its peak RSS (VmHWM)
and CPU time are its own. Two clients, both ``Veo3Orchestrator.run`` on the real
``GeminiVeo3Adapter`` (one ``httpx.Client``), both polling every 0.2 s, no submit pacing
(the emulator has no quota):

- serial: ``concurrency=1``, one request at a time, as the orchestrator ran before it
  drove jobs concurrently: the baseline;
- concurrent: ``concurrency=32``, ``downloads=32``: the candidate.

ideal: one clip alone through the serial client, measured in the same run (one submit,
one generation, one download). wall / ideal near 1 means N clips take about as long as one.

    .venv/bin/python bench/scale.py [--quick] [--sizes 20,100,300,1000] [--serial-max 300]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from _common import (
    MiB,
    fmt_bytes,
    fmt_ratio,
    fmt_seconds,
    load_line,
    machine_line,
    print_table,
    read_status_kib,
)

HERE = Path(__file__).resolve()
WALL_TARGET = {20: 1.3, 100: 1.3, 300: 1.3, 1000: 1.5}
RSS_TARGET = 300 * MiB  # at 1,000 clips
RUN_TIMEOUT = 1800.0


@dataclass(frozen=True)
class Network:
    latency: float = 0.05
    generation: float = 5.0
    size: int = 2 * MiB
    bandwidth: float = 50e6
    poll_interval: float = 0.2

    def args(self) -> list[str]:
        return [
            f"--latency={self.latency}",
            f"--generation={self.generation}",
            f"--size={self.size}",
            f"--bandwidth={self.bandwidth}",
            f"--poll-interval={self.poll_interval}",
        ]

    @property
    def formula(self) -> float:
        """The issue's ideal: a submit, the generation, a poll, the download's three hops."""
        download = 3 * self.latency + self.size / self.bandwidth
        return self.latency + self.generation + self.poll_interval + self.latency + download


@dataclass(frozen=True)
class Tuning:
    """The candidate's settings in this benchmark."""

    concurrency: int = 32
    downloads: int = 32

    def args(self) -> list[str]:
        return [f"--concurrency={self.concurrency}", f"--downloads={self.downloads}"]

    def __str__(self) -> str:
        return f"concurrency {self.concurrency}, downloads {self.downloads}"


# -- the server process --------------------------------------------------------------------


def serve(key: str, net: Network) -> None:
    """Serve a generating emulator on loopback; print its URL; stop when stdin closes."""
    from veo3_adapter.emulator import Emulator, Scenario, Side
    from veo3_adapter.emulator._wire import Reply, json_reply

    logging.getLogger("veo3_adapter.emulator").setLevel(logging.ERROR)

    class Generating(Emulator):
        """A poll answers "running" until ``generation`` seconds after its submit arrived."""

        def __init__(self, **settings: Any) -> None:
            super().__init__(**settings)
            self._born: dict[str, float] = {}
            self._born_lock = threading.Lock()

        def handle(
            self,
            side: Side,
            method: str,
            target: str,
            headers: Sequence[tuple[str, str]],
            body: bytes = b"",
        ) -> Reply:
            reply = super().handle(side, method, target, headers, body)
            path = urlsplit(target).path
            if side is not Side.API or reply.status != 200:
                return reply
            if method == "POST" and path.endswith(":predictLongRunning"):
                chunks = list(reply.chunks())  # a JSON answer is one list of bytes
                name = json.loads(b"".join(c for c in chunks if isinstance(c, bytes)))["name"]
                with self._born_lock:
                    self._born[name] = time.monotonic()
                return Reply(reply.status, reply.headers, chunks)
            if method == "GET" and "/operations/" in path:
                name = path.removeprefix("/v1beta/")
                with self._born_lock:
                    born = self._born.get(name)
                if born is not None and time.monotonic() - born < net.generation:
                    reply.close()
                    return json_reply(200, {"name": name})
            return reply

    emulator = Generating(
        api_key=key,
        default=Scenario(video_size=net.size, chunk_size=1 * MiB),
        latency=net.latency,
        bandwidth=net.bandwidth,
    )
    with emulator.serve() as api_base:
        print(json.dumps({"api": api_base}), flush=True)
        sys.stdin.read()  # until the parent closes our stdin
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"cpu": usage.ru_utime + usage.ru_stime}), flush=True)


# -- the measured client process -----------------------------------------------------------


def client(mode: str, n: int, api: str, key: str, net: Network, tuning: Tuning) -> None:
    """Run ``n`` clips one way and print what it measured as JSON."""
    import httpx

    from veo3_adapter import GeminiVeo3Adapter, JobStatus, Veo3Orchestrator

    limits = httpx.Limits(
        max_connections=tuning.concurrency + 4, max_keepalive_connections=tuning.concurrency
    )
    prompts = {f"clip{i:04d}": f"a short clip, take {i}" for i in range(n)}
    with (
        tempfile.TemporaryDirectory(prefix="veo3-bench-scale-") as tmp,
        httpx.Client(limits=limits, timeout=60.0, follow_redirects=False) as http,
    ):
        adapter = GeminiVeo3Adapter(key, base_url=api, http_client=http)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu0, start = usage.ru_utime + usage.ru_stime, time.perf_counter()
        concurrent = mode == "concurrent"
        orchestrator = Veo3Orchestrator(
            adapter,
            Path(tmp),
            poll_interval=net.poll_interval,
            timeout=RUN_TIMEOUT,
            concurrency=tuning.concurrency if concurrent else 1,
            downloads=tuning.downloads if concurrent else 1,
            submit_rate=None,  # the emulator has no quota to stay under
        )
        final = orchestrator.run(prompts)
        wall = time.perf_counter() - start
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu = usage.ru_utime + usage.ru_stime - cpu0
    result = {
        "wall": wall,
        "cpu": cpu,
        "rss": read_status_kib("VmHWM") * 1024,
        "downloaded": sum(1 for job in final if job.status is JobStatus.DOWNLOADED),
        "failures": sorted(
            {
                f"{j.error_message}: {j.error_detail[:200]}"
                for j in final
                if j.status is JobStatus.FAILED
            }
        )[:5],
        "threads": threading.active_count(),
    }
    print(json.dumps(result), flush=True)


# -- the parent ----------------------------------------------------------------------------


@dataclass
class Result:
    mode: str
    n: int
    wall: float
    cpu: float
    rss: int
    downloaded: int
    server_cpu: float


def measure(mode: str, n: int, net: Network, tuning: Tuning) -> Result:
    key = "bench-" + secrets.token_hex(16)
    server = subprocess.Popen(
        [sys.executable, str(HERE), "--role", "serve", "--key", key, *net.args()],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdin is not None and server.stdout is not None
    try:
        api = json.loads(server.stdout.readline())["api"]
        cmd = [sys.executable, str(HERE), "--role", "client", "--mode", mode, "--n", str(n)]
        cmd += ["--api", api, "--key", key, *tuning.args(), *net.args()]
        env = {**os.environ, "PYTHONPATH": str(HERE.parent.parent)}
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT, env=env, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{mode} x{n} failed:\n{done.stderr[-3000:]}")
        measured = json.loads(done.stdout.strip().splitlines()[-1])
        for failure in measured["failures"]:
            print(f"  {mode} x{n}: a job failed: {failure}", file=sys.stderr)
    finally:
        server.stdin.close()
        tail = server.stdout.read()
        server.wait(timeout=60)
    server_cpu = next((json.loads(x)["cpu"] for x in tail.splitlines() if x.startswith("{")), 0)
    return Result(
        mode,
        n,
        measured["wall"],
        measured["cpu"],
        measured["rss"],
        measured["downloaded"],
        server_cpu,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--role", choices=("main", "serve", "client"), default="main")
    parser.add_argument("--quick", action="store_true", help="20 and 100 clips only")
    parser.add_argument("--sizes", default="", help="comma-separated clip counts")
    parser.add_argument(
        "--serial-max", type=int, default=300, help="largest run of the serial baseline"
    )
    parser.add_argument("--concurrency", type=int, default=Tuning.concurrency)
    parser.add_argument("--downloads", type=int, default=Tuning.downloads)
    parser.add_argument("--mode", default="concurrent")
    parser.add_argument("--n", type=int, default=1)
    parser.add_argument("--api", default="")
    parser.add_argument("--key", default="")
    parser.add_argument("--latency", type=float, default=Network.latency)
    parser.add_argument("--generation", type=float, default=Network.generation)
    parser.add_argument("--size", type=int, default=Network.size)
    parser.add_argument("--bandwidth", type=float, default=Network.bandwidth)
    parser.add_argument("--poll-interval", type=float, default=Network.poll_interval)
    args = parser.parse_args(argv)
    net = Network(args.latency, args.generation, args.size, args.bandwidth, args.poll_interval)
    tuning = Tuning(args.concurrency, args.downloads)
    if args.role == "serve":
        serve(args.key, net)
        return 0
    if args.role == "client":
        client(args.mode, args.n, args.api, args.key, net, tuning)
        return 0
    sizes = [int(s) for s in args.sizes.split(",") if s] or (
        [20, 100] if args.quick else [20, 100, 300, 1000]
    )
    print(machine_line())
    print(
        f"emulator in its own process on loopback: {net.latency * 1e3:g} ms per request, "
        f"{net.generation:g} s generation, {fmt_bytes(net.size)} clips at "
        f"{net.bandwidth / 1e6:g} MB/s; poll interval {net.poll_interval:g} s; concurrent: "
        f"{tuning}, no submit pacing; serial baseline (concurrency 1) up to "
        f"{args.serial_max} clips"
    )
    ideal = measure("serial", 1, net, tuning)
    results: list[Result] = []
    for n in sizes:
        for mode in ("serial", "concurrent"):
            if mode == "serial" and n > args.serial_max:
                continue
            started = time.perf_counter()
            results.append(measure(mode, n, net, tuning))
            print(f"  {mode} x{n}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    rows = [
        [
            r.mode,
            str(r.n),
            fmt_seconds(r.wall),
            fmt_ratio(r.wall / ideal.wall),
            fmt_bytes(r.rss),
            fmt_seconds(r.cpu),
            fmt_seconds(r.cpu / r.n),
            fmt_seconds(r.server_cpu),
            f"{r.downloaded}/{r.n}",
        ]
        for r in [ideal, *results]
    ]
    print()
    print_table(
        ["client", "clips", "wall", "wall/ideal", "peak RSS", "CPU", "CPU/job", "server CPU", "ok"],
        rows,
    )
    print(
        f"ideal: one clip alone, serial ({fmt_seconds(ideal.wall)}; the sum of its waits is "
        f"{fmt_seconds(net.formula)}). peak RSS: the client process's VmHWM (interpreter and "
        "imports included). CPU: the client's user + system time; server CPU: the emulator's."
    )
    print()
    print(f"after the runs: {load_line()}")
    for r in results:
        if r.mode != "concurrent":
            continue
        ratio = r.wall / ideal.wall
        target = WALL_TARGET.get(r.n)
        if target is not None:
            verdict = "PASS" if ratio <= target and r.downloaded == r.n else "MISS"
            print(f"{verdict}  concurrent x{r.n}: wall / ideal {ratio:.2f} (target {target})")
        if r.n == 1000:
            verdict = "PASS" if r.rss < RSS_TARGET else "MISS"
            print(f"{verdict}  concurrent x1000: peak RSS {fmt_bytes(r.rss)} (target < 300 MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
