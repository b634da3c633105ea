"""Shared helpers for the benchmark scripts: machine line, tables, statistics, RSS."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import statistics
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = [
    "MiB",
    "fmt_bytes",
    "fmt_ratio",
    "fmt_seconds",
    "load_line",
    "machine_line",
    "median",
    "print_table",
    "read_status_kib",
    "reset_peak_rss",
]

MiB = 1 << 20
_PACKAGES = ("pytest-veo3", "google-genai", "httpx", "vcrpy", "PyYAML", "pytest")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / (1 << 20):.1f} GiB RAM"
    except OSError:
        pass
    return "RAM unknown"


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def _curl_version() -> str:
    curl = shutil.which("curl")
    if curl is None:
        return "curl absent"
    first = subprocess.run([curl, "--version"], capture_output=True, text=True).stdout
    return " ".join(first.split()[:2]) if first else "curl ?"


def machine_line(extra: Iterable[str] = (), *, curl: bool = False) -> str:
    """One line naming the machine, the interpreter and the versions that matter."""
    versions = ", ".join(f"{name} {_version(name)}" for name in _PACKAGES)
    parts = [
        f"CPU {_cpu_model()}",
        f"{os.cpu_count()} cores",
        _ram(),
        f"Python {platform.python_version()}",
        f"{platform.system()} {platform.release()}",
        versions,
    ]
    if curl:
        parts.append(_curl_version())
    parts.append(load_line())
    parts.extend(extra)
    return "machine: " + "; ".join(parts)


def load_line() -> str:
    """The 1/5/15-minute load averages: other work on the machine skews timings."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "load average unknown"
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def fmt_seconds(seconds: float) -> str:
    if seconds != seconds:  # NaN
        return "-"
    if abs(seconds) < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if abs(seconds) < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def fmt_bytes(size: float) -> str:
    if size != size:
        return "-"
    if abs(size) >= MiB:
        return f"{size / MiB:.1f} MiB"
    if abs(size) >= 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size:.0f} B"


def fmt_ratio(value: float) -> str:
    return "-" if value != value else f"{value:.2f}x"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        out = [cells[0].ljust(widths[0])]
        out.extend(cell.rjust(widths[i + 1]) for i, cell in enumerate(cells[1:]))
        return "  ".join(out).rstrip()

    print(line(headers))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))


def read_status_kib(field: str) -> int:
    """A ``Vm*`` field of /proc/self/status (``VmRSS``, ``VmHWM``) in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def reset_peak_rss() -> bool:
    """Reset this process's VmHWM to its current RSS (Linux >= 4.0); False if impossible."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        return False
    return True
