"""Benchmark 2: replaying the ``success`` scenario with a 10 MiB video.

Records the same exchange twice from the in-process emulator, once with our cassette format
(``pytest_veo3.cassette.open_cassette``: YAML plus a content-addressed body file, streamed on
replay) and once with stock vcrpy (one YAML file, the video inline as base64 ``!!binary``),
then times one test per replay (open the cassette, run the orchestrator for one variant on
the replayed adapter) and measures the bytes on disk.

    /work/.venv/bin/python bench/replay.py [--quick]
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import ssl
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx
import vcr
from _common import (
    MiB,
    fmt_bytes,
    fmt_ratio,
    fmt_seconds,
    machine_line,
    median,
    print_table,
)

from pytest_veo3.cassette import RecordMode, open_cassette
from pytest_veo3.scenarios import as_received
from veo3_adapter import GeminiVeo3Adapter, JobStatus, Veo3Orchestrator
from veo3_adapter.emulator import Emulator, Scenario

VIDEO_SIZE = 10 * MiB
VARIANT = "success"
PROMPT = "A paper boat drifting down a rainy street, close-up"
SPEED_TARGET = 10.0  # stock time / ours
DISK_TARGET = 1.05  # our bytes on disk / raw body


def _share_ssl_contexts() -> None:
    """Make ssl.create_default_context return one context per distinct set of arguments."""
    real = ssl.create_default_context
    made: dict[tuple[object, ...], ssl.SSLContext] = {}

    def create_default_context(
        purpose: ssl.Purpose = ssl.Purpose.SERVER_AUTH,
        *,
        cafile: str | None = None,
        capath: str | None = None,
        cadata: str | bytes | None = None,
    ) -> ssl.SSLContext:
        key = (purpose, cafile, capath, cadata)
        if key not in made:
            made[key] = real(purpose, cafile=cafile, capath=capath, cadata=cadata)
        return made[key]

    ssl.create_default_context = create_default_context  # type: ignore[assignment]


def _no_sleep(_seconds: float) -> None:
    return None


def _run_job(client: httpx.Client, key: str, base_url: str, out_dir: Path) -> None:
    """One test: the orchestrator, one variant, on the adapter over ``client``."""
    adapter = GeminiVeo3Adapter(key, base_url=base_url, http_client=client, sleep=_no_sleep)
    orchestrator = Veo3Orchestrator(adapter, out_dir, poll_interval=0, sleep=_no_sleep)
    (job,) = orchestrator.run({VARIANT: PROMPT})
    if job.status is not JobStatus.DOWNLOADED or job.clip_bytes != VIDEO_SIZE:
        raise RuntimeError(f"replay ended {job.status.value}/{job.error_message}: {job}")


# -- recording -----------------------------------------------------------------------------


def _emulator(key: str) -> Emulator:
    scenario = Scenario.named("success", running_polls=2, video_size=VIDEO_SIZE)
    return Emulator(api_key=key, default=scenario, sleep=_no_sleep)


def record_ours(path: Path, work: Path) -> str:
    """Record with open_cassette; return the base URL the cassette remembers."""
    key = "record-" + secrets.token_hex(16)
    emulator = _emulator(key)
    inner = httpx.MockTransport(as_received(emulator.transport()))
    with (
        open_cassette(
            path,
            mode=RecordMode.ALL,
            secrets=(key,),
            source="veo3 emulator",
            base_url=emulator.api_base,
            inner=inner,
        ) as cassette,
        httpx.Client(transport=cassette.transport, follow_redirects=False) as client,
    ):
        _run_job(client, key, emulator.api_base, work / "record-ours")
    return emulator.api_base


def record_stock(path: Path, work: Path) -> str:
    """Record the same exchange with stock vcrpy (key header filtered, as anyone would)."""
    key = "record-" + secrets.token_hex(16)
    emulator = _emulator(key)
    recorder = vcr.VCR(record_mode="all", filter_headers=["x-goog-api-key"])
    transport = httpx.MockTransport(as_received(emulator.transport()))
    with (
        recorder.use_cassette(str(path)),
        httpx.Client(transport=transport, follow_redirects=False) as client,
    ):
        _run_job(client, key, emulator.api_base, work / "record-stock")
    return emulator.api_base


# -- replaying -----------------------------------------------------------------------------


def replay_ours(path: Path, out_dir: Path) -> None:
    with (
        open_cassette(path, mode=RecordMode.NONE) as cassette,
        httpx.Client(transport=cassette.transport, follow_redirects=False) as client,
    ):
        _run_job(client, "replay-" + secrets.token_hex(16), cassette.base_url, out_dir)


def replay_stock(path: Path, out_dir: Path, base_url: str) -> None:
    with (
        vcr.VCR(record_mode="none").use_cassette(str(path)),
        httpx.Client(follow_redirects=False) as client,
    ):
        _run_job(client, "replay-" + secrets.token_hex(16), base_url, out_dir)


def _build_adapter() -> None:
    with httpx.Client(transport=httpx.MockTransport(_refuse), follow_redirects=False) as client:
        GeminiVeo3Adapter(
            "k" * 24, base_url="https://generativelanguage.googleapis.com", http_client=client
        )


def _refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("not used", request=request)


def open_only_ours(path: Path) -> AbstractContextManager[object]:
    return open_cassette(path, mode=RecordMode.NONE)


def open_only_stock(path: Path) -> AbstractContextManager[object]:
    manager: AbstractContextManager[object] = vcr.VCR(record_mode="none").use_cassette(str(path))
    return manager


@contextmanager
def _fresh_dir(root: Path, counter: list[int]) -> Iterator[Path]:
    counter[0] += 1
    path = root / f"run{counter[0]}"
    path.mkdir()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _time(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def disk_usage(cassette: Path) -> tuple[int, int, int]:
    """YAML bytes, body-file bytes (the cassette's bodies/ folder) and body-file count."""
    bodies = cassette.parent / "bodies"
    files = [p for p in bodies.iterdir() if p.is_file()] if bodies.is_dir() else []
    return cassette.stat().st_size, sum(p.stat().st_size for p in files), len(files)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument(
        "--shared-ssl-context",
        action="store_true",
        help="diagnosis: build each distinct SSL context once per process (what caching it "
        "in the adapter and the cassette would save)",
    )
    args = parser.parse_args(argv)
    if args.shared_ssl_context:
        _share_ssl_contexts()
    n_ours, n_stock = (10, 4) if args.quick else (40, 15)
    print(machine_line())
    if args.shared_ssl_context:
        print("DIAGNOSIS: ssl.create_default_context is cached per process in this run")
    print(
        f"scenario 'success' (2 running polls) with a {fmt_bytes(VIDEO_SIZE)} video, recorded "
        f"from the in-process emulator; one test = open the cassette + Veo3Orchestrator.run of "
        f"one variant on the replayed GeminiVeo3Adapter (clip written and fsynced to a fresh "
        f"directory); median of {n_ours} (ours) and {n_stock} (stock vcrpy) tests after one "
        "warm-up each, interleaved"
    )
    with tempfile.TemporaryDirectory(prefix="veo3-bench-replay-") as tmp:
        root = Path(tmp)
        ours_path = root / "ours" / "success.yaml"
        stock_path = root / "stock" / "success.yaml"
        ours_path.parent.mkdir()
        stock_path.parent.mkdir()
        record_ours(ours_path, root)
        stock_base = record_stock(stock_path, root)
        counter = [0]

        def ours() -> None:
            with _fresh_dir(root, counter) as out:
                replay_ours(ours_path, out)

        def stock() -> None:
            with _fresh_dir(root, counter) as out:
                replay_stock(stock_path, out, stock_base)

        def open_ours() -> None:
            with open_only_ours(ours_path):
                pass

        def open_stock() -> None:
            with open_only_stock(stock_path):
                pass

        ours()  # warm-up: imports, first-use costs
        stock()
        t_ours: list[float] = []
        t_stock: list[float] = []
        for i in range(n_ours):
            t_ours.append(_time(ours))
            if i < n_stock:
                t_stock.append(_time(stock))
        o_ours = [_time(open_ours) for _ in range(n_ours)]
        o_stock = [_time(open_stock) for _ in range(n_stock)]
        build = [_time(_build_adapter) for _ in range(n_ours)]
        ours_yaml, ours_bodies, ours_files = disk_usage(ours_path)
        stock_yaml, _, _ = disk_usage(stock_path)

    m_ours, m_stock = median(t_ours), median(t_stock)
    m_build = median(build)
    print()
    print_table(
        ["cassette", "per test", "min", "max", "vs ours", "open only", "build adapter", "rest"],
        [
            [
                "ours: YAML + body file, streamed",
                fmt_seconds(m_ours),
                fmt_seconds(min(t_ours)),
                fmt_seconds(max(t_ours)),
                "1.00x",
                fmt_seconds(median(o_ours)),
                fmt_seconds(m_build),
                fmt_seconds(m_ours - median(o_ours) - m_build),
            ],
            [
                "stock vcrpy: YAML, body inline (base64)",
                fmt_seconds(m_stock),
                fmt_seconds(min(t_stock)),
                fmt_seconds(max(t_stock)),
                fmt_ratio(m_stock / m_ours),
                fmt_seconds(median(o_stock)),
                fmt_seconds(m_build),
                fmt_seconds(m_stock - median(o_stock) - m_build),
            ],
        ],
    )
    print(
        "per test: medians. open only: entering and leaving the cassette, no request. build "
        "adapter: GeminiVeo3Adapter(...) on an injected client (genai.Client inside). rest: "
        "per test minus both (the orchestrator run: SDK calls, replay matching, clip and "
        "jobs.json writes with their fsyncs)."
    )
    print()
    ours_total = ours_yaml + ours_bodies
    print_table(
        ["cassette", "YAML", "body files", "total on disk", "vs raw body"],
        [
            ["raw video body", "-", "-", fmt_bytes(VIDEO_SIZE), "1.000x"],
            [
                "ours",
                fmt_bytes(ours_yaml),
                f"{fmt_bytes(ours_bodies)} ({ours_files} file)",
                fmt_bytes(ours_total),
                f"{ours_total / VIDEO_SIZE:.3f}x",
            ],
            [
                "stock vcrpy",
                fmt_bytes(stock_yaml),
                "-",
                fmt_bytes(stock_yaml),
                f"{stock_yaml / VIDEO_SIZE:.3f}x",
            ],
        ],
    )
    print()
    speedup = m_stock / m_ours
    mark = "PASS" if speedup >= SPEED_TARGET else "MISS"
    print(f"{mark}  ours is {speedup:.1f}x faster per test than stock vcrpy (target >= 10x)")
    ratio = ours_total / VIDEO_SIZE
    mark = "PASS" if ratio <= DISK_TARGET else "MISS"
    print(f"{mark}  ours on disk: {ratio:.3f}x the raw body (target <= {DISK_TARGET}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
