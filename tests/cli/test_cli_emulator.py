"""``veo3 emulator --port N``: the emulator as a server process, driven by the real adapter.

On google-genai 3.x, which no longer submits to the Gemini API, the Gemini job is submitted
through the wire as 2.x sends it (``submit_gemini``) and the adapter polls and downloads it;
the refusal of another key is seen by the backend that submits (``SUBMITS_WITH_KEY``).
"""

from __future__ import annotations

import logging
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from _kit.cli import RUN_TIMEOUT, SUBMITS_WITH_KEY, Veo3, base_env, veo3_command
from _kit.keys import make_api_key
from _kit.sdk import gemini_wire, submit_gemini

from veo3_adapter import GeminiVeo3Adapter, JobStatus, RetryPolicy
from veo3_adapter.cli._serve import _LogFormat, exposure_warning
from veo3_adapter.emulator import SCENARIO_NAMES
from veo3_adapter.errors import SubmitError
from veo3_adapter.models import DEFAULT_MODEL
from veo3_adapter.mp4 import is_mp4_file

READY_WITHIN = 5.0  # seconds for the server process to start listening


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_listening(process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + READY_WITHIN
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"veo3 emulator exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise AssertionError(f"veo3 emulator did not listen on port {port} within {READY_WITHIN}s")


@pytest.fixture
def served(key: str, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``veo3 emulator`` on a free port, taking only ``key``; stopped after the test."""
    port = _free_port()
    process = subprocess.Popen(
        veo3_command("emulator", "--port", str(port)),
        cwd=tmp_path,
        env=base_env({"VEO3_EMULATOR_KEY": key}),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_until_listening(process, port)
        yield f"http://127.0.0.1:{port}", process
    finally:
        process.terminate()
        try:
            process.wait(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        assert process.stderr is not None
        process.stderr.close()


def _adapter(key: str, base_url: str) -> GeminiVeo3Adapter:
    return GeminiVeo3Adapter(
        key, base_url=base_url, sleep=lambda _: None, retry=RetryPolicy(attempts=1), timeout=5.0
    )


def test_the_emulator_command_serves_submit_poll_and_download_to_the_real_adapter(
    served: tuple[str, subprocess.Popen[bytes]], key: str, tmp_path: Path
) -> None:
    base_url, process = served
    dest = tmp_path / "intro.mp4"
    with _adapter(key, base_url) as adapter, httpx.Client(timeout=RUN_TIMEOUT) as http:
        wire = gemini_wire(http, base_url, key)
        job = submit_gemini(adapter, "intro", "a neon hologram of a cat", wire)
        assert job.operation_name.startswith(f"models/{DEFAULT_MODEL}/operations/")
        polled = adapter.poll_job(job)
        assert polled.status is JobStatus.GENERATED
        assert polled.video_uri.startswith(base_url + "/v1beta/files/")
        assert adapter.download_clip(polled, dest) == dest
    assert is_mp4_file(dest)

    process.terminate()
    process.wait(timeout=RUN_TIMEOUT)
    assert process.stderr is not None
    log = process.stderr.read().decode()
    assert f"veo3 emulator: serving the Gemini API at {base_url}\n" in log
    assert f"veo3 emulator: started {job.operation_name}\n" in log
    assert key not in log
    for line in log.splitlines():
        assert line.startswith("veo3 emulator: "), log
        said = line.removeprefix("veo3 emulator: ").lower()
        assert not said.startswith(("emulator", "veo emulator", "veo3")), log
    assert "warning" not in log  # loopback: nothing to warn about


def test_the_emulator_command_refuses_another_key(
    served: tuple[str, subprocess.Popen[bytes]],
) -> None:
    base_url, _ = served
    adapter = SUBMITS_WITH_KEY.adapter(
        make_api_key(), base_url, sleep=lambda _: None, retry=RetryPolicy(attempts=1), timeout=5.0
    )
    with adapter, pytest.raises(SubmitError) as caught:
        adapter.submit_job("intro", "a cat")
    assert caught.value.status_code == 400
    assert "API key not valid" in str(caught.value)


def test_a_port_in_use_is_a_usage_error(veo3: Veo3) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = veo3("emulator", "--port", str(port))

    assert result.code == 2, result
    assert result.err_lines[-1].startswith(f"veo3: error: cannot listen on 127.0.0.1:{port}: ")
    assert result.err_lines[-1].endswith("; pick another --port")


def test_an_unknown_scenario_is_a_usage_error(veo3: Veo3) -> None:
    result = veo3("emulator", "--port", "0", "--scenario", "sunny")

    assert result.code == 2, result
    assert result.err_lines == [
        f"veo3: error: no scenario named 'sunny'; known: {', '.join(SCENARIO_NAMES)}"
    ]


@pytest.mark.parametrize(
    ("host", "where"),
    [("0.0.0.0", "every network interface (0.0.0.0)"), ("::", "every network interface (::)")],
)
@pytest.mark.parametrize("keyed", [False, True], ids=["any key", "VEO3_EMULATOR_KEY"])
def test_serving_beyond_loopback_warns_first(
    veo3: Veo3, host: str, where: str, keyed: bool
) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        taken = socket.socket(family)
        taken.bind((host, 0))
    except OSError:
        pytest.skip(f"cannot bind {host} here")
    with taken:
        taken.listen()
        port = taken.getsockname()[1]  # taken: the command warns, then cannot listen

        result = veo3(
            "emulator",
            "--host",
            host,
            "--port",
            str(port),
            keyed=False,
            env={"VEO3_EMULATOR_KEY": veo3.key} if keyed else {},
        )

    assert result.code == 2, result
    warning, error = result.err_lines
    assert warning.startswith(
        f"veo3 emulator: warning: serving on {where}, not loopback: any machine that reaches "
        "this one can use the emulator; "
    )
    guard = "travels as plain HTTP, so it guards nothing" if keyed else "it takes any key"
    assert guard in warning
    assert error.startswith(f"veo3: error: cannot listen on {host}:{port}: ")


def test_a_named_address_is_named_in_the_warning() -> None:
    assert exposure_warning("192.0.2.7", keyed=False).startswith(
        "warning: serving on 192.0.2.7 (192.0.2.7), not loopback: "
    )
    assert exposure_warning("127.0.0.1", keyed=False) == ""
    assert exposure_warning("localhost", keyed=True) == ""


def test_emulator_log_lines_carry_one_prefix() -> None:
    formatter = _LogFormat()

    def shown(message: str, level: int = logging.INFO) -> str:
        record = logging.LogRecord("veo3_adapter.emulator", level, __file__, 1, message, (), None)
        return formatter.format(record)

    assert shown("emulator: started models/x/operations/1") == (
        "veo3 emulator: started models/x/operations/1"
    )
    assert shown("Veo emulator stopped") == "veo3 emulator: stopped"
    assert shown("emulator: the API key reached the second origin (path)", logging.WARNING) == (
        "veo3 emulator: warning: the API key reached the second origin (path)"
    )
    assert shown("emulator: op \x1b[2J") == "veo3 emulator: op \\x1b[2J"
