"""Benchmark 3: what the veo3 pytest plugin adds to a session that uses none of its fixtures.

Generates a 200-test suite in a temporary directory and times ``pytest --collect-only -q``
with the plugin (as installed: the ``pytest11`` entry point) and with ``-p no:veo3``,
alternating the two, many runs each.

    /work/.venv/bin/python bench/plugin_overhead.py [--quick] [--runs N]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from _common import fmt_seconds, load_line, machine_line, median, print_table

TARGET = 0.020  # seconds added
FILES = 20
TESTS_PER_FILE = 10

_TEST_FILE = '''"""Generated: ordinary tests that use no veo3 fixture."""

import pytest


def helper(value):
    return value * 2

'''


def make_suite(root: Path) -> int:
    """Write FILES test modules of TESTS_PER_FILE tests each; return the test count."""
    (root / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n")
    tests = root / "tests"
    tests.mkdir()
    count = 0
    for f in range(FILES):
        body = [_TEST_FILE]
        for t in range(TESTS_PER_FILE - 2):
            body.append(f"def test_{f}_{t}():\n    assert helper({t}) == {2 * t}\n\n")
            count += 1
        body.append(
            f"@pytest.mark.parametrize('x', [1, 2])\n"
            f"def test_{f}_param(x):\n    assert helper(x) > 0\n"
        )
        count += 2
        (tests / f"test_mod{f:02d}.py").write_text("\n".join(body))
    return count


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "VEO3_"))}


def run_pytest(root: Path, extra: Sequence[str]) -> tuple[float, str]:
    cmd = [sys.executable, "-m", "pytest", "--collect-only", "-q", *extra]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=root, env=_env(), capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    return elapsed, proc.stdout


def plugin_import_time(runs: int) -> float:
    """Median time to import pytest_veo3.plugin in a process that has pytest loaded."""
    code = (
        "import time, pytest\n"
        "t = time.perf_counter()\n"
        "import pytest_veo3.plugin\n"
        "print(time.perf_counter() - t)\n"
    )
    times = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        times.append(float(out.stdout.strip()))
    return median(times)


def bootstrap_ci(diffs: Sequence[float], rounds: int = 2000) -> tuple[float, float]:
    """A 95% interval for the median of ``diffs`` (percentile bootstrap, fixed seed)."""
    rng = random.Random(1234)
    medians = sorted(median(rng.choices(diffs, k=len(diffs))) for _ in range(rounds))
    return medians[int(rounds * 0.025)], medians[int(rounds * 0.975) - 1]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 runs of each")
    parser.add_argument("--runs", type=int, default=0, help="runs of each (default 40)")
    args = parser.parse_args(argv)
    runs = args.runs or (10 if args.quick else 40)
    print(machine_line())
    with tempfile.TemporaryDirectory(prefix="veo3-bench-plugin-") as tmp:
        root = Path(tmp)
        count = make_suite(root)
        # Sanity: the plugin is loaded by default, and -p no:veo3 really removes it.
        _, listing = run_pytest(root, ["--veo3-record-mode=none"])
        if f"{count} tests collected" not in listing:
            raise RuntimeError(f"expected {count} tests, got:\n{listing[-300:]}")
        try:
            run_pytest(root, ["-p", "no:veo3", "--veo3-record-mode=none"])
        except RuntimeError:
            pass
        else:
            raise RuntimeError("-p no:veo3 did not disable the plugin")
        for _ in range(3):  # warm-up: bytecode caches, .pytest_cache, page cache
            run_pytest(root, [])
            run_pytest(root, ["-p", "no:veo3"])
        with_plugin: list[float] = []
        without: list[float] = []
        for i in range(runs):
            order = [True, False] if i % 2 == 0 else [False, True]
            for loaded in order:
                elapsed, _ = run_pytest(root, [] if loaded else ["-p", "no:veo3"])
                (with_plugin if loaded else without).append(elapsed)
    diffs = [a - b for a, b in zip(with_plugin, without, strict=True)]
    low, high = bootstrap_ci(diffs)
    import_time = plugin_import_time(9)
    print(
        f"suite: {count} tests in {FILES} files, no veo3 fixture; `python -m pytest "
        f"--collect-only -q`, {runs} runs of each, alternating; wall time of the whole process"
    )
    print()
    print_table(
        ["pytest --collect-only -q", "median", "min", "max"],
        [
            [
                "with the veo3 plugin",
                fmt_seconds(median(with_plugin)),
                fmt_seconds(min(with_plugin)),
                fmt_seconds(max(with_plugin)),
            ],
            [
                "-p no:veo3",
                fmt_seconds(median(without)),
                fmt_seconds(min(without)),
                fmt_seconds(max(without)),
            ],
            [
                "added (difference of medians)",
                fmt_seconds(median(with_plugin) - median(without)),
                fmt_seconds(min(with_plugin) - min(without)),
                "",
            ],
            [
                "added (median of paired runs)",
                fmt_seconds(median(diffs)),
                f"95% CI {fmt_seconds(low)} .. {fmt_seconds(high)}",
                "",
            ],
        ],
    )
    print()
    print(
        f"import of pytest_veo3.plugin after pytest (median of 9 processes): "
        f"{fmt_seconds(import_time)}"
    )
    print(f"after the runs: {load_line()}")
    added = median(diffs)
    # Judged on the interval: PASS when all of it is within the target, MISS when none is.
    mark = "PASS" if high <= TARGET else ("MISS" if low > TARGET else "UNSURE (more --runs)")
    print(
        f"{mark}  the plugin adds {fmt_seconds(added)} (95% CI up to {fmt_seconds(high)}; "
        f"target <= {fmt_seconds(TARGET)})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
