"""Benchmark 1: downloading a large clip from a loopback server.

Compares ``GeminiVeo3Adapter.download_clip`` with ``curl -o``, the SDK's streaming
``client.files.download(file=..., destination=...)`` and the SDK's in-memory
``client.files.download(file=...)``: wall time and peak RSS of each, every variant in a fresh
process, the emulator serving from another process so its memory is not counted.

    /work/.venv/bin/python bench/download.py [--quick] [--repeat N]
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import (
    MiB,
    fmt_bytes,
    fmt_ratio,
    fmt_seconds,
    machine_line,
    median,
    print_table,
    read_status_kib,
    reset_peak_rss,
)

WALL_TARGET = 1.25  # download_clip wall / curl wall
RSS_TARGET = 16 * MiB  # peak RSS growth during the download
SERVER_CHUNK = 1 * MiB  # the emulator's write size: keeps the server from being the bottleneck
HERE = Path(__file__).resolve()


# -- the server process --------------------------------------------------------------------


def serve(key: str, sizes: Sequence[int], tolerate_key: bool, as_shipped: bool) -> None:
    """Serve the emulator on loopback; print its URLs; stop when stdin closes."""
    from veo3_adapter.emulator import Emulator, Scenario, _server

    # The key warnings of the SDK attempts are counted and reported; not printed mid-table.
    logging.getLogger("veo3_adapter.emulator").setLevel(logging.ERROR)
    if not as_shipped:
        # The emulator writes a JSON answer's headers and body in two send()s; with Nagle on,
        # the body waits for the client's delayed ACK: ~40 ms per JSON answer on loopback.
        # The real API has no such stall, so the benchmark turns Nagle off (TCP_NODELAY).
        _server._Handler.disable_nagle_algorithm = True

    class KeyTolerantEmulator(Emulator):
        """Counts requests bringing the key to the download origin instead of refusing them."""

        tolerated = 0

        def _find_key(self, target: str, headers: Sequence[tuple[str, str]]) -> str | None:
            if super()._find_key(target, headers) is not None:
                KeyTolerantEmulator.tolerated += 1
            return None

    cls = KeyTolerantEmulator if tolerate_key else Emulator
    emulator = cls(api_key=key, sleep=lambda _s: None)
    for size in sizes:
        emulator.rule(_size_tag(size), Scenario(video_size=size, chunk_size=SERVER_CHUNK))
    with emulator.serve() as api_base:
        print(json.dumps({"api": api_base, "download": emulator.download_base}), flush=True)
        sys.stdin.read()  # until the parent closes our stdin
    leaks = KeyTolerantEmulator.tolerated if tolerate_key else len(emulator.key_leaks)
    print(json.dumps({"key_requests": leaks}), flush=True)


def _size_tag(size: int) -> str:
    return f"size={size};"  # the ';' keeps 52428800 from matching 524288000


@dataclass
class Server:
    proc: subprocess.Popen[str]
    api: str
    download: str
    tolerate_key: bool

    def stop(self) -> int:
        """Stop the server; return how many requests brought the key to its download origin."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        tail = self.proc.stdout.read()
        self.proc.wait(timeout=30)
        for line in tail.splitlines():
            if line.startswith("{"):
                return int(json.loads(line)["key_requests"])
        return -1


def start_server(
    key: str, sizes: Sequence[int], *, tolerate_key: bool, as_shipped: bool = False
) -> Server:
    cmd = [sys.executable, str(HERE), "--role", "serve", "--key", key]
    cmd += ["--sizes", ",".join(str(s) for s in sizes)]
    if tolerate_key:
        cmd.append("--tolerate-key")
    if as_shipped:
        cmd.append("--emulator-as-shipped")
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError("the emulator server did not start")
    urls = json.loads(line)
    return Server(proc, urls["api"], urls["download"], tolerate_key)


# -- the measured client process -----------------------------------------------------------

OURS = ("download_clip", "clip_downloader", "clip_downloader_nofsync")
LABELS = {
    "curl": "curl -o (download-origin URL, no key)",
    "curl_sync": "curl -o, then `sync FILE` (fsynced too)",
    "download_clip": "GeminiVeo3Adapter.download_clip",
    "clip_downloader": "  its ClipDownloader.download step",
    "clip_downloader_nofsync": "  same, os.fsync patched out (diagnosis)",
    "sdk_stream": "SDK files.download(destination=)",
    "sdk_memory": "SDK files.download() in memory",
}


def client(spec: dict[str, Any]) -> None:
    """Run one download variant and print what it measured as JSON."""
    variant: str = spec["variant"]
    key: str = spec["key"]
    dest = Path(spec["dest"])
    run: Callable[[], object]
    if variant in OURS:
        from veo3_adapter import GeminiVeo3Adapter, JobStatus, Veo3Job

        adapter = GeminiVeo3Adapter(key, base_url=spec["api"], sleep=lambda _s: None)
        job = Veo3Job(
            variant="bench",
            prompt="bench",
            status=JobStatus.GENERATED,
            operation_name=spec["operation"],
            video_uri=spec["uri"],
        )
        adapter.poll_job(job)  # warm-up: the same SDK call download_clip makes first
        if variant == "download_clip":

            def run() -> object:
                return adapter.download_clip(job, dest)

        else:
            if variant == "clip_downloader_nofsync":
                from veo3_adapter import _files

                _files.os = _NoFsyncOs()  # type: ignore[attr-defined,assignment]
            downloader = adapter._downloader

            def run() -> object:
                return downloader.download(spec["uri"], dest, operation_name=spec["operation"])

    else:
        from google import genai
        from google.genai import types

        # The SDK's own client (no injected httpx client): it follows the 302 itself.
        sdk = genai.Client(
            api_key=key,
            http_options=types.HttpOptions(base_url=spec["api"], api_version="v1beta"),
        )
        ref = types.GenerateVideosOperation(name=spec["operation"])  # type: ignore[call-arg]
        sdk.operations.get(operation=ref)  # warm-up, as above
        # t_file_name only parses https:// URIs; the loopback URI is http://, so pass the id.
        file_id: str = spec["file_id"]
        if variant == "sdk_stream":

            def run() -> object:
                return sdk.files.download(file=file_id, destination=str(dest))

        else:

            def run() -> object:
                return sdk.files.download(file=file_id)

    gc.collect()
    rss_before = read_status_kib("VmRSS")
    reset = reset_peak_rss()
    hwm_before = read_status_kib("VmHWM")
    error = ""
    start = time.perf_counter()
    try:
        result = run()
    except Exception as exc:  # reported, not raised: a blocked variant is a result
        result = None
        error = _describe(exc).replace(key, "[KEY]")
    wall = time.perf_counter() - start
    hwm = read_status_kib("VmHWM")
    in_memory = len(result) if isinstance(result, bytes) else 0
    del result
    out = {
        "ok": not error,
        "error": error,
        "wall": wall,
        "rss_before_kib": rss_before,
        # Without a reset, VmHWM may predate the call: then only what it rose by counts.
        "hwm_kib": hwm if reset else max(hwm - hwm_before, 0) + rss_before,
        "in_memory_bytes": in_memory,
    }
    print(json.dumps(out), flush=True)


class _NoFsyncOs:
    """``os`` for veo3_adapter._files with fsync a no-op: shows what the fsync costs."""

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    @staticmethod
    def fsync(_fd: int) -> None:
        return None


def _describe(exc: Exception) -> str:
    code = getattr(exc, "code", None)
    message = getattr(exc, "message", None)
    if isinstance(code, int) and message:
        return f"{type(exc).__name__} {code}: {' '.join(str(message).split())}"
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:300]


# -- the driver ----------------------------------------------------------------------------


@dataclass
class Clip:
    size: int
    server: Server
    operation: str
    uri: str
    file_id: str
    media_url: str


@dataclass
class Variant:
    name: str
    clip: Clip
    runs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return LABELS[self.name]

    @property
    def ok_runs(self) -> list[dict[str, Any]]:
        return [r for r in self.runs if r["ok"]]

    @property
    def wall(self) -> float:
        return median([r["wall"] for r in self.ok_runs])

    @property
    def peak(self) -> float:
        return median([r["peak_kib"] * 1024 for r in self.ok_runs])

    @property
    def growth(self) -> float:
        return median([r["growth_kib"] * 1024 for r in self.ok_runs])


def prepare(server: Server, key: str, size: int) -> Clip:
    """Submit and poll through the adapter until the operation is done; find its URLs."""
    import httpx

    from veo3_adapter import GeminiVeo3Adapter, JobStatus

    with GeminiVeo3Adapter(key, base_url=server.api, sleep=lambda _s: None) as adapter:
        job = adapter.submit_job(f"clip{size}", f"a benchmark clip {_size_tag(size)}")
        for _ in range(10):
            job = adapter.poll_job(job)
            if job.status is JobStatus.GENERATED:
                break
        if job.status is not JobStatus.GENERATED:
            raise RuntimeError(f"the emulator did not finish the {size}-byte clip: {job}")
    with httpx.Client(follow_redirects=False) as http:
        hop = http.get(job.video_uri, headers={"x-goog-api-key": key})
    media_url = hop.headers.get("location", "")
    match = re.search(r"/files/([a-z0-9]+):download", job.video_uri)
    if hop.status_code != 302 or not media_url or match is None:
        raise RuntimeError(f"unexpected video URI answer: {hop.status_code}")
    return Clip(size, server, job.operation_name, job.video_uri, match.group(1), media_url)


def run_python(variant: Variant, key: str, dest: Path) -> dict[str, Any]:
    clip = variant.clip
    spec = {
        "variant": variant.name,
        "key": key,
        "api": clip.server.api,
        "operation": clip.operation,
        "uri": clip.uri,
        "file_id": clip.file_id,
        "dest": str(dest),
    }
    cmd = [sys.executable, str(HERE), "--role", "client", "--spec", json.dumps(spec)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"ok": False, "error": f"client exited {proc.returncode}", "wall": float("nan")}
    result: dict[str, Any] = json.loads(lines[-1])
    result["peak_kib"] = result["hwm_kib"]
    result["growth_kib"] = result["hwm_kib"] - result["rss_before_kib"]
    if result["ok"] and variant.name != "sdk_memory":
        _check_file(dest, clip.size)
    elif result["ok"] and result["in_memory_bytes"] != clip.size:
        result["ok"] = False
        result["error"] = f"got {result['in_memory_bytes']} bytes, expected {clip.size}"
    return result


def _spawn_curl(url: str, dest: str) -> tuple[int, int, str]:
    """Run curl; return its exit code, its peak RSS in KiB (-1: unknown) and its stdout.

    Under /usr/bin/time: a child forked from this (large) process would report this process's
    RSS at the fork as its own ru_maxrss; /usr/bin/time's child does not.
    """
    cmd = ["curl", "-s", "-S", "-o", dest, "-w", "%{time_total} %{size_download}", url]
    timed = Path("/usr/bin/time").is_file()
    if timed:
        cmd = ["/usr/bin/time", "-f", "maxrss=%M", *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    match = re.search(r"maxrss=(\d+)", proc.stderr) if timed else None
    return proc.returncode, int(match.group(1)) if match else -1, proc.stdout


def run_curl(variant: Variant, dest: Path, baseline_kib: int) -> dict[str, Any]:
    size = variant.clip.size
    code, maxrss, output = _spawn_curl(variant.clip.media_url, str(dest))
    if code != 0:
        return {"ok": False, "error": f"curl exited {code}", "wall": float("nan")}
    total, downloaded = output.split()
    if int(downloaded) != size:
        return {"ok": False, "error": f"curl got {downloaded} bytes", "wall": float("nan")}
    start = time.perf_counter()  # the same durability as download_clip: fsync the file
    synced = subprocess.run(["sync", str(dest)]).returncode == 0
    sync_wall = time.perf_counter() - start if synced else float("nan")
    _check_file(dest, size)
    known = maxrss >= 0 and baseline_kib >= 0
    return {
        "ok": True,
        "error": "",
        "wall": float(total),
        "sync_wall": sync_wall,
        "peak_kib": maxrss if maxrss >= 0 else float("nan"),
        "growth_kib": max(maxrss - baseline_kib, 0) if known else float("nan"),
    }


def _check_file(path: Path, size: int) -> None:
    with path.open("rb") as handle:
        head = handle.read(8)
    actual = path.stat().st_size
    if actual != size or head[4:8] != b"ftyp":
        raise RuntimeError(f"{path}: {actual} bytes, head {head!r}; expected a {size}-byte MP4")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--quick", action="store_true", help="100 MiB and 10 MiB, one run each")
    parser.add_argument("--repeat", type=int, default=0, help="runs per variant (default 5)")
    parser.add_argument(
        "--emulator-as-shipped",
        action="store_true",
        help="keep the emulator's ~40 ms Nagle stall on JSON answers (see the output)",
    )
    parser.add_argument("--role", default="main", help=argparse.SUPPRESS)
    parser.add_argument("--key", default="", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="", help=argparse.SUPPRESS)
    parser.add_argument("--tolerate-key", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--spec", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role == "serve":
        sizes = [int(s) for s in args.sizes.split(",")]
        serve(args.key, sizes, args.tolerate_key, args.emulator_as_shipped)
        return 0
    if args.role == "client":
        client(json.loads(args.spec))
        return 0
    if shutil.which("curl") is None:
        parser.error("curl is needed for the baseline")
    large, small = (100 * MiB, 10 * MiB) if args.quick else (500 * MiB, 50 * MiB)
    repeat = args.repeat or (1 if args.quick else 5)
    return bench(large, small, repeat, as_shipped=args.emulator_as_shipped)


def bench(large: int, small: int, repeat: int, *, as_shipped: bool = False) -> int:
    key = "bench-" + secrets.token_hex(16)
    print(machine_line(curl=True))
    print(
        f"clips: {fmt_bytes(large)} and {fmt_bytes(small)} from the emulator on loopback "
        f"(a separate process, {fmt_bytes(SERVER_CHUNK)} writes); every variant in a fresh "
        f"process; median of {repeat} run(s); files written to {tempfile.gettempdir()}, "
        "os.sync() between runs"
    )
    strict = start_server(key, [large, small], tolerate_key=False, as_shipped=as_shipped)
    tolerant = start_server(key, [large], tolerate_key=True, as_shipped=as_shipped)
    try:
        big = prepare(strict, key, large)
        little = prepare(strict, key, small)
        big_tolerant = prepare(tolerant, key, large)
        _code, baseline, _out = _spawn_curl(f"{strict.api}/v1beta/models", os.devnull)
        v = {name: Variant(name, big) for name in ("curl", *OURS)}
        v["sdk_stream"] = Variant("sdk_stream", big_tolerant)
        v["sdk_memory"] = Variant("sdk_memory", big_tolerant)
        curl_small = Variant("curl", little)
        ours_small = Variant("download_clip", little)
        blocked = [Variant("sdk_stream", big), Variant("sdk_memory", big)]
        measured = [*v.values(), curl_small, ours_small]
        with tempfile.TemporaryDirectory(prefix="veo3-bench-") as tmp:
            dest = Path(tmp) / "clip.mp4"

            def once(variant: Variant) -> None:
                if variant.name == "curl":
                    result = run_curl(variant, dest, baseline)
                else:
                    result = run_python(variant, key, dest)
                dest.unlink(missing_ok=True)
                os.sync()  # no writeback of this run's file lands on the next run
                variant.runs.append(result)
                if not result["ok"] and variant not in blocked:
                    print(f"  {variant.label} ({fmt_bytes(variant.clip.size)}): {result['error']}")

            for variant in blocked:  # they fail at the redirect: once is enough
                once(variant)
            for round_no in range(repeat):
                shift = round_no % len(measured)  # rotate, so no variant always goes first
                for variant in measured[shift:] + measured[:shift]:
                    once(variant)
    finally:
        strict_leaks = strict.stop()
        tolerated = tolerant.stop()
    curl_synced = Variant("curl_sync", big)
    curl_synced.runs = [
        {**run, "wall": run["wall"] + run["sync_wall"]} for run in v["curl"].runs if run["ok"]
    ]

    def row(variant: Variant, server: str, versus: Variant | None) -> list[str]:
        size = variant.clip.size
        if not variant.ok_runs:
            return [variant.label, fmt_bytes(size), server, "blocked (a)"] + ["-"] * 5
        wall = variant.wall
        return [
            variant.label,
            fmt_bytes(size),
            server,
            "ok",
            fmt_seconds(wall),
            f"{size / MiB / wall:.0f} MiB/s",
            fmt_ratio(wall / versus.wall) if versus is not None else "1.00x",
            fmt_bytes(variant.peak),
            fmt_bytes(variant.growth),
        ]

    headers = ["variant", "size", "server", "outcome", "wall", "rate", "vs curl"]
    headers += ["peak RSS", "RSS growth"]
    curl_big = v["curl"]
    rows = [row(curl_big, "strict", None), row(curl_synced, "strict", curl_big)]
    rows += [row(v[name], "strict", curl_big) for name in OURS]
    rows += [row(variant, "strict", curl_big) for variant in blocked]
    rows += [row(v[name], "key-tolerant", curl_big) for name in ("sdk_stream", "sdk_memory")]
    rows += [row(curl_small, "strict", None), row(ours_small, "strict", curl_small)]
    print()
    print_table(headers, rows)
    print()
    errors = sorted({variant.runs[0]["error"] for variant in blocked if variant.runs})
    from veo3_adapter.emulator import _server

    if getattr(_server._Handler, "disable_nagle_algorithm", False):
        nagle = "sets TCP_NODELAY itself, as shipped"
    elif as_shipped:
        nagle = "as shipped, Nagle on: every JSON answer stalls ~40 ms (delayed ACK)"
    else:
        nagle = (
            "TCP_NODELAY set by the benchmark's server process (as shipped, Nagle is on and "
            "every JSON answer stalls ~40 ms; --emulator-as-shipped keeps that)"
        )
    notes = [
        f"(a) the SDK's own httpx client follows the 302 with x-goog-api-key still attached "
        f"(DESIGN.md fact 3); the strict download origin refuses it: {'; '.join(errors)}",
        "strict = the emulator's download origin as shipped: 400 to any request that carries "
        f"the key. It recorded {strict_leaks} key leak(s): {len(blocked)} from the SDK "
        f"attempts (a), {strict_leaks - len(blocked)} from download_clip and curl.",
        "key-tolerant = the same emulator with that check off so that the SDK variants finish; "
        f"it saw the key at its download origin on {tolerated} request(s), every SDK run.",
        f"emulator: {nagle}.",
        "wall: the call only (download_clip includes its operation re-read and the 302 hop; "
        "curl's is its time_total, download-origin URL directly). peak RSS: VmHWM, reset just "
        "before the call (curl: /usr/bin/time %M). RSS growth: peak minus RSS just before the "
        "call (curl: minus curl's peak for a tiny body).",
    ]
    print("\n".join(notes))
    print()
    ours_big = v["download_clip"]
    if ours_big.ok_runs and curl_big.ok_runs:
        ratio = ours_big.wall / curl_big.wall
        _verdict(
            ratio <= WALL_TARGET,
            f"download_clip wall at {fmt_bytes(large)}: {fmt_ratio(ratio)} curl's "
            f"(target <= {WALL_TARGET:.2f}x)",
        )
    if ours_big.ok_runs and curl_synced.ok_runs:
        print(
            f"      download_clip wall at {fmt_bytes(large)}: "
            f"{fmt_ratio(ours_big.wall / curl_synced.wall)} that of curl + sync FILE "
            "(like for like: both end with the clip fsynced)"
        )
    if ours_small.ok_runs and curl_small.ok_runs:
        print(
            f"      download_clip wall at {fmt_bytes(small)}: "
            f"{fmt_ratio(ours_small.wall / curl_small.wall)} curl's (fixed costs weigh more)"
        )
    for ours in (ours_big, ours_small):
        if ours.ok_runs:
            _verdict(
                ours.growth <= RSS_TARGET,
                f"download_clip peak RSS growth at {fmt_bytes(ours.clip.size)}: "
                f"{fmt_bytes(ours.growth)} (target <= {fmt_bytes(RSS_TARGET)})",
            )
    if ours_big.ok_runs and ours_small.ok_runs:
        print(
            f"      download_clip RSS growth, {fmt_bytes(large)} minus {fmt_bytes(small)}: "
            f"{fmt_bytes(ours_big.growth - ours_small.growth)} for {large // small}x the bytes"
        )
    stream, nofsync = v["clip_downloader"], v["clip_downloader_nofsync"]
    if stream.ok_runs and nofsync.ok_runs and curl_big.ok_runs:
        print(
            f"      of download_clip's {fmt_seconds(ours_big.wall)}: operation re-read "
            f"{fmt_seconds(ours_big.wall - stream.wall)}, fsync of the clip "
            f"{fmt_seconds(stream.wall - nofsync.wall)}, the transfer itself "
            f"{fmt_seconds(nofsync.wall)} ({fmt_ratio(nofsync.wall / curl_big.wall)} curl's)"
        )
    return 0


def _verdict(passed: bool, text: str) -> None:
    print(("PASS  " if passed else "MISS  ") + text)


if __name__ == "__main__":
    sys.exit(main())
