"""Helpers for the ``veo3`` command's tests: run it as a subprocess (optionally with a
terminal for stderr), read its status table, and replay what it drew on a terminal."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from _kit.keys import make_api_key

__all__ = [
    "POLL",
    "RUN_TIMEOUT",
    "TABLE_HEADER",
    "Result",
    "Veo3",
    "base_env",
    "files_in",
    "make_api_key",
    "no_adc_env",
    "parse_table",
    "render_terminal",
    "veo3_command",
    "write_prompts",
]

POLL = ("--poll-interval", "0.01", "--timeout", "5")
RUN_TIMEOUT = 20.0  # a hung subprocess fails its test instead of the whole session
TABLE_HEADER = ["VARIANT", "STATUS", "OPERATION", "ERROR", "CLIP"]
_KEY_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "VEO3_EMULATOR_KEY")
# What else google-genai and google-auth read: a project, region or backend from the
# environment, and where Application Default Credentials come from.
_GOOGLE_VARIABLES = (
    "GOOGLE_CLOUD_PROJECT",
    "GOOGLE_CLOUD_LOCATION",
    "GOOGLE_GENAI_USE_VERTEXAI",
    "GOOGLE_GENAI_USE_ENTERPRISE",
    "GOOGLE_GENAI_API_VERSION",
    "GOOGLE_APPLICATION_CREDENTIALS",
)
# A key or token the command makes up for a server on loopback (``throwaway_key``).
_MADE_UP = re.compile(r"local-[0-9a-f]{32}")


def base_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any API key or Google Cloud setting, plus ``extra``."""
    dropped = {*_KEY_VARIABLES, *_GOOGLE_VARIABLES}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1")
    env.update(extra or {})
    return env


def no_adc_env(directory: Path) -> dict[str, str]:
    """Environment for a machine without Application Default Credentials: no gcloud
    configuration (an empty one in ``directory``) and no probe of a metadata server."""
    config = directory / "gcloud-config"
    config.mkdir(exist_ok=True)
    return {"CLOUDSDK_CONFIG": str(config), "NO_GCE_CHECK": "True"}


def _check_secrets(result: Result, key: str) -> Result:
    """``result``, once neither ``key`` nor a made-up key or token is in its output."""
    printed = result.out + result.err
    assert key not in printed, f"the key was printed:\n{result}"
    assert not _MADE_UP.search(printed), f"a made-up credential was printed:\n{result}"
    return result


def veo3_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "veo3_adapter.cli", *args]


@dataclass
class Result:
    """One finished ``veo3`` process."""

    args: tuple[str, ...]
    code: int
    out: str
    err: str

    def __str__(self) -> str:
        return (
            f"veo3 {' '.join(self.args)} -> exit {self.code}\n"
            f"--- stdout\n{self.out}--- stderr\n{self.err}"
        )

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()


class Veo3:
    """Runs ``python -m veo3_adapter.cli`` in ``cwd`` with an environment holding no key
    unless asked; fails if the key, or a key or token the command made up for loopback,
    shows up in anything the command printed."""

    def __init__(self, cwd: Path, key: str) -> None:
        self.cwd = cwd
        self.key = key

    def env(self, *, keyed: bool = True, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return base_env({**({"GEMINI_API_KEY": self.key} if keyed else {}), **(extra or {})})

    def __call__(
        self, *args: str, keyed: bool = True, env: Mapping[str, str] | None = None
    ) -> Result:
        """``veo3 ARGS``; ``keyed`` puts the test's key in GEMINI_API_KEY."""
        done = subprocess.run(
            veo3_command(*args),
            cwd=self.cwd,
            env=self.env(keyed=keyed, extra=env),
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        return _check_secrets(
            Result(tuple(args), done.returncode, done.stdout, done.stderr), self.key
        )

    def with_terminal(self, *args: str, columns: int = 100) -> Result:
        """``veo3 ARGS`` with a pseudo-terminal as stderr (stdout stays a pipe)."""
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
        try:
            process = subprocess.Popen(
                veo3_command(*args),
                cwd=self.cwd,
                env=self.env(extra={"TERM": "xterm"}),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=slave,
            )
        finally:
            os.close(slave)
        drawn = b""
        deadline = time.monotonic() + RUN_TIMEOUT
        try:
            while time.monotonic() < deadline:
                ready, _, _ = select.select([master], [], [], 0.5)
                if not ready:
                    if process.poll() is not None:
                        break
                    continue
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed its end of the terminal
                    break
                if not chunk:
                    break
                drawn += chunk
            assert process.stdout is not None
            out = process.stdout.read().decode()
            code = process.wait(timeout=RUN_TIMEOUT)
        finally:
            os.close(master)
            if process.poll() is None:
                process.kill()
                process.wait()
            with contextlib.suppress(Exception):
                assert process.stdout is not None
                process.stdout.close()
        return _check_secrets(Result(tuple(args), code, out, drawn.decode()), self.key)


def parse_table(text: str) -> list[dict[str, str]]:
    """The rows of the status table in ``text`` (columns are separated by 2+ spaces)."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.split() == TABLE_HEADER]
    assert len(starts) == 1, f"expected one status table in:\n{text}"
    rows = []
    for line in lines[starts[0] + 1 :]:
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) != len(TABLE_HEADER):
            break
        rows.append(dict(zip(TABLE_HEADER, cells, strict=True)))
    return rows


_CSI = re.compile(r"\x1b\[(\d*)([A-Za-z])")


def render_terminal(drawn: str) -> list[str]:
    """What a terminal shows after ``drawn``: the subset of ANSI the view uses (CR, LF,
    cursor up ``ESC[nA``, erase line ``ESC[2K``, erase below ``ESC[J``). Anything else fails."""
    screen: list[str] = [""]
    row = col = 0
    i = 0
    while i < len(drawn):
        char = drawn[i]
        if char == "\x1b":
            match = _CSI.match(drawn, i)
            assert match, f"unexpected escape at {i}: {drawn[i : i + 10]!r}"
            number, command = match.group(1), match.group(2)
            if command == "A":
                row = max(0, row - int(number or "1"))
            elif command == "K" and number == "2":
                screen[row] = ""
            elif command == "J" and number in ("", "0"):
                screen[row] = screen[row][:col]
                del screen[row + 1 :]
            else:
                raise AssertionError(f"unexpected escape sequence {match.group(0)!r}")
            i = match.end()
            continue
        if char == "\r":
            col = 0
        elif char == "\n":  # as a terminal with ONLCR (the default) shows it: CR, LF
            row, col = row + 1, 0
            if row == len(screen):
                screen.append("")
        else:
            line = screen[row].ljust(col)
            screen[row] = line[:col] + char + line[col + 1 :]
            col += 1
        i += 1
    while screen and not screen[-1]:
        screen.pop()
    return screen


def write_prompts(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def files_in(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` by relative path, with its bytes."""
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }
