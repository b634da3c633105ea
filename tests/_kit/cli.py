"""Helpers for the ``veo3`` command's tests: run it as a subprocess (optionally with a
terminal for stderr), read its status table, replay what it drew on a terminal, and the
backend a run submits on with the installed google-genai.

google-genai 3.x no longer submits video generations to the Gemini API. A test whose subject
holds on every backend (idempotent runs, progress, inputs, loopback, exit codes) runs
``veo3 run`` with :data:`SUBMITS`: the Gemini API on 2.x, Vertex AI on 3.x. A test whose
subject is the Gemini API after the submit (resume, where a run was made) first records the
jobs as a run stopped right after its submits leaves them (:func:`gemini_submitted`, on 3.x
only), so that ``veo3 run`` on the Gemini API polls and downloads them.
"""

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
from typing import TYPE_CHECKING, Unpack

import httpx

from _kit.keys import make_api_key, make_token
from _kit.sdk import GEMINI_SUBMITS, before_gemini_run, gemini_wire
from veo3_adapter import GeminiVeo3Adapter, Veo3Orchestrator, VertexVeo3Adapter, write_jobs_json
from veo3_adapter._backend import BackendSettings
from veo3_adapter.cli._prompts import load_prompts
from veo3_adapter.compose import gemini_adapter, static_token_credentials

if TYPE_CHECKING:
    from veo3_adapter.emulator._state import OperationState

__all__ = [
    "CLI_BUCKET",
    "CLI_PROJECT",
    "GEMINI",
    "POLL",
    "RUN_TIMEOUT",
    "SUBMITS",
    "SUBMITS_WITH_KEY",
    "TABLE_HEADER",
    "VERTEX_BUCKET",
    "VERTEX_EXPRESS",
    "Backend",
    "Result",
    "Veo3",
    "base_env",
    "files_in",
    "gemini_submitted",
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
    """The rows of the status table in ``text`` (columns are separated by 2+ spaces), with
    the columns shown only when needed (SAMPLES, INPUTS) when the table has them."""
    lines = text.splitlines()
    n = len(TABLE_HEADER)
    starts = [i for i, line in enumerate(lines) if line.split()[:n] == TABLE_HEADER]
    assert len(starts) == 1, f"expected one status table in:\n{text}"
    header = lines[starts[0]].split()
    rows = []
    for line in lines[starts[0] + 1 :]:
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) != len(header):
            break
        rows.append(dict(zip(header, cells, strict=True)))
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


# -- the backend a run submits on ------------------------------------------------------------

CLI_PROJECT = "cli-proj"
CLI_BUCKET = "gs://cli-bucket/renders/"


@dataclass(frozen=True)
class Backend:
    """A backend ``veo3 run`` submits on in these tests, on a server on loopback: its options,
    the adapter they make, and what the emulator records of its submits and downloads."""

    name: str
    project: str | None = None
    """Vertex AI: the project (a token made up for loopback); ``None`` is express mode."""
    bucket: str | None = None
    """Vertex AI with a project: where the clips go, read back through Cloud Storage."""

    @property
    def args(self) -> tuple[str, ...]:
        """The options of ``veo3 run`` that select it (none: the default, the Gemini API)."""
        if self.name == "gemini":
            return ()
        project = ("--project", self.project) if self.project else ()
        bucket = ("--output-gcs-uri", self.bucket) if self.bucket else ()
        return ("--backend", self.name, *project, *bucket)

    @property
    def parameters(self) -> dict[str, object]:
        """What every submit's ``parameters`` hold besides the prompt's own options."""
        return {"sampleCount": 1, **({"storageUri": self.bucket} if self.bucket else {})}

    def fetches(self, operation: OperationState) -> int:
        """Requests for the clip of ``operation``: for its file on the API origin (the
        Gemini API), for its object on the Cloud Storage route (Vertex AI with a bucket)."""
        if self.name == "gemini":
            return operation.api_downloads
        assert self.bucket, "Vertex AI without a bucket sends the clip inline"
        return operation.media_requests

    def adapter(
        self, key: str, base_url: str, **settings: Unpack[BackendSettings]
    ) -> GeminiVeo3Adapter | VertexVeo3Adapter:
        """In process, the adapter ``veo3 run`` makes with these options for the server at
        ``base_url``, which takes ``key`` (and any token)."""
        if self.name == "gemini":
            return GeminiVeo3Adapter(key, base_url=base_url, **settings)
        if self.project is None:
            return VertexVeo3Adapter(api_key=key, base_url=base_url, **settings)
        return VertexVeo3Adapter(
            project=self.project,
            credentials=static_token_credentials(make_token()),
            output_gcs_uri=self.bucket,
            base_url=base_url,
            storage_base_url=base_url,
            **settings,
        )


GEMINI = Backend("gemini")
VERTEX_BUCKET = Backend("vertex", project=CLI_PROJECT, bucket=CLI_BUCKET)
"""Vertex AI with a project (a token made up for loopback), clips through Cloud Storage."""
VERTEX_EXPRESS = Backend("vertex")
"""Vertex AI express mode: the key (or one made up for loopback), clips inline."""

SUBMITS = GEMINI if GEMINI_SUBMITS else VERTEX_BUCKET
"""The backend ``veo3 run`` submits on with the installed google-genai, each clip downloaded
from the server: the Gemini API on 2.x, Vertex AI with a bucket on 3.x."""
SUBMITS_WITH_KEY = GEMINI if GEMINI_SUBMITS else VERTEX_EXPRESS
"""The same, authenticated with the key: the Gemini API on 2.x, Vertex AI express mode on 3.x."""


def gemini_submitted(out: Path, prompts: Path, base_url: str, key: str) -> None:
    """Before a ``veo3 run PROMPTS --out OUT --base-url BASE_URL`` on the Gemini API whose
    subject comes after the submit: on google-genai 3.x, each prompt of the file is submitted
    to the server at ``base_url`` through the wire (as 2.x sends it) and recorded in
    OUT/veo3/jobs.json as a run stopped right after its submits leaves it, so that the run
    polls and downloads it instead of refusing to submit. Nothing on 2.x."""
    if GEMINI_SUBMITS:
        return
    texts, options = load_prompts(prompts)
    with (
        httpx.Client(timeout=RUN_TIMEOUT) as http,
        gemini_adapter(key, base_url=base_url, http_client=http) as adapter,
    ):
        orchestrator = Veo3Orchestrator(adapter, out)
        if not orchestrator.jobs_path.exists():  # what the run records of where it was made
            orchestrator.jobs_path.parent.mkdir(parents=True, exist_ok=True)
            write_jobs_json(orchestrator.jobs_path, [], backend=adapter.describe())
        before_gemini_run(orchestrator, texts, gemini_wire(http, base_url, key), options=options)
