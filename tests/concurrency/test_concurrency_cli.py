"""``veo3 run`` interrupted by SIGINT mid-run, as a real process against the emulator over
sockets: it stops sending, exits 130 saying how to continue, and leaves a directory that
``veo3 resume`` finishes without submitting any operation twice."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _kit.cli import RUN_TIMEOUT, SUBMITS, Veo3, parse_table, veo3_command, write_prompts
from _kit.keys import make_api_key

from veo3_adapter._files import TEMP_SUFFIX
from veo3_adapter.emulator import Emulator, Scenario
from veo3_adapter.models import JobStatus
from veo3_adapter.store import read_jobs_json

VARIANTS = ("a", "b", "c", "d")


@pytest.fixture
def key() -> str:
    return make_api_key()


@pytest.fixture
def emulator(key: str) -> Emulator:
    return Emulator(api_key=key, seed=11, default=Scenario(running_polls=2))


@pytest.fixture
def base_url(emulator: Emulator) -> Iterator[str]:
    with emulator.serve() as url:
        yield url


def _submitted(jobs_path: Path) -> int:
    try:
        return sum(1 for job in read_jobs_json(jobs_path) if job.operation_name)
    except Exception:  # not written yet, or being replaced: look again
        return 0


def test_sigint_mid_run_leaves_a_directory_resume_finishes(
    tmp_path: Path, key: str, emulator: Emulator, base_url: str
) -> None:
    veo3 = Veo3(tmp_path, key)
    write_prompts(tmp_path / "p.toml", "".join(f'{v} = "a clip called {v}"\n' for v in VARIANTS))
    out = tmp_path / "out"
    jobs_path = out / "veo3" / "jobs.json"
    args = ("run", "p.toml", "--out", "out", *SUBMITS.args, "--base-url", base_url)
    # One submit every 2 s: the interrupt lands after the second, long before the third.
    pacing = ("--poll-interval", "0.05", "--submit-rate", "30")
    process = subprocess.Popen(
        veo3_command(*args, *pacing),
        cwd=tmp_path,
        env=veo3.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + RUN_TIMEOUT
        while _submitted(jobs_path) < 2:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the run never submitted two jobs"
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=RUN_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == 130, stderr
    assert "veo3: stopped; run `veo3 resume out` to continue" in stderr
    assert key not in stdout + stderr
    jobs = read_jobs_json(jobs_path)
    recorded = {job.operation_name for job in jobs if job.operation_name}
    assert recorded == set(emulator.operations)  # every operation started is recorded
    assert any(job.status is JobStatus.PENDING for job in jobs)  # and some never sent
    assert [row["VARIANT"] for row in parse_table(stdout)] == list(VARIANTS)
    assert not list((out / "veo3").glob(f"*{TEMP_SUFFIX}"))

    resumed = veo3("resume", "out", "--base-url", base_url, "--poll-interval", "0.05")

    assert resumed.code == 0, resumed
    final = read_jobs_json(jobs_path)
    assert {job.status for job in final} == {JobStatus.DOWNLOADED}
    assert len(emulator.operations) == len(VARIANTS)  # no operation submitted twice
    assert {job.operation_name for job in final} == set(emulator.operations)
    assert recorded <= {job.operation_name for job in final}
