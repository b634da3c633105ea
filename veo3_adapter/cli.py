"""The ``veo3`` command: run, resume and inspect pipelines; a demo and an emulator."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import re
import secrets
import sys
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, NoReturn

from ._secrets import env_secrets, key_from_env, redact
from .compose import LOCAL_PROFILE, gemini_adapter
from .errors import InvalidVariantError, OutputDirInUseError, Veo3Error
from .models import (
    DEFAULT_BASE_URL,
    ErrorCode,
    GenerationOptions,
    JobStatus,
    Veo3Job,
    validate_variant,
)
from .orchestrator import CLIPS_DIRNAME, JOBS_FILENAME, Veo3Orchestrator
from .port import VideoGenerationPort
from .store import read_jobs_json

if TYPE_CHECKING:
    from .gemini import GeminiVeo3Adapter

__all__ = ["ProgressView", "main"]

EXIT_OK = 0
EXIT_JOB_FAILED = 1
EXIT_USAGE = 2
# Options people reach for to pass a key; refused without echoing the value.
_KEY_FLAGS = frozenset({"--api-key", "--api_key", "--apikey", "--key", "--gemini-api-key"})
_TYPE_NAMES = {str: "a string", int: "an integer", bool: "true or false"}
_OPTION_FIELDS: dict[str, type] = {
    "model": str,
    "aspect_ratio": str,
    "resolution": str,
    "duration_seconds": int,
    "negative_prompt": str,
    "person_generation": str,
    "enhance_prompt": bool,
}
DEMO_PROMPTS = {
    "sunrise": "A time-lapse of the sun rising over a misty pine forest",
    "harbour": "A slow dolly shot along a harbour at dusk, boats rocking gently",
    "lighthouse": "A lighthouse in a storm, waves crashing over the rocks",
}
DEMO_FAILING_VARIANT = "lighthouse"
DEMO_POLL_INTERVAL = 0.1


class UsageError(Exception):
    """A problem the user fixes by changing the command, its files or its environment."""


# -- input -----------------------------------------------------------------------------------


def load_prompts(path: Path) -> tuple[dict[str, str], dict[str, GenerationOptions]]:
    """Read a TOML or JSON file mapping variant -> prompt or {prompt = ..., options...}."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(
            f"cannot read prompts file {path}: {exc.strerror or exc}; "
            "pass a TOML or JSON file mapping variant names to prompts"
        ) from exc
    is_toml = path.suffix.lower() == ".toml"
    fmt = "TOML" if is_toml else "JSON"
    try:
        text = raw.decode("utf-8")
        data: Any = tomllib.loads(text) if is_toml else json.loads(text)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, ValueError, RecursionError) as exc:
        how = "" if is_toml or path.suffix.lower() == ".json" else " (read as JSON: not *.toml)"
        raise UsageError(
            f"prompts file {path} is not valid {fmt}{how}: {exc}; fix it and run again"
        ) from exc
    if not isinstance(data, dict) or not data:
        raise UsageError(
            f"prompts file {path} must map variant names to prompts, "
            'e.g. intro = "a neon hologram of a cat"'
        )
    prompts: dict[str, str] = {}
    options: dict[str, GenerationOptions] = {}
    for variant, entry in data.items():
        try:
            validate_variant(variant)
        except InvalidVariantError as exc:
            raise UsageError(f"prompts file {path}: {exc}") from None
        prompt = entry.get("prompt") if isinstance(entry, dict) else entry
        if not isinstance(prompt, str) or not prompt.strip():
            raise UsageError(
                f"prompts file {path}: variant {variant!r} needs a non-empty prompt string "
                "(or a table with a 'prompt' key)"
            )
        prompts[variant] = prompt
        if not isinstance(entry, dict):
            continue
        values: dict[str, Any] = {}
        for option, value in entry.items():
            if option == "prompt":
                continue
            kind = _OPTION_FIELDS.get(option)
            if kind is None:
                raise UsageError(
                    f"prompts file {path}: variant {variant!r} has unknown option {option!r} "
                    f"(known: prompt, {', '.join(_OPTION_FIELDS)})"
                )
            if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
                raise UsageError(
                    f"prompts file {path}: option {option!r} of variant {variant!r} must be "
                    f"{_TYPE_NAMES[kind]}"
                )
            values[option] = value
        if values:
            options[variant] = GenerationOptions(**values)
    return prompts, options


def api_key_from_env(environ: Mapping[str, str] = os.environ) -> str:
    """The API key from GEMINI_API_KEY or GOOGLE_API_KEY."""
    key = key_from_env(environ)
    if key:
        return key
    raise UsageError(
        "no API key: set GEMINI_API_KEY (or GOOGLE_API_KEY) in the environment; "
        "keys are never taken from the command line"
    )


def _scrub(text: str, secrets_: Sequence[str] = ()) -> str:
    """``text`` on one line, printable, with keys (given, from the environment, or
    key-shaped) replaced."""
    text = redact(text, (*secrets_, *env_secrets()))
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


# -- output ----------------------------------------------------------------------------------


def _size(num: int) -> str:
    value = float(max(num, 0))
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def status_table(jobs: Sequence[Veo3Job]) -> str:
    """A plain-text table: variant, status, operation, error, clip size."""
    header = ("VARIANT", "STATUS", "OPERATION", "ERROR", "CLIP")
    rows = [
        (
            job.variant,
            job.status.value,
            job.operation_name or "-",
            job.error_message or "-",
            _size(job.clip_bytes) if job.status is JobStatus.DOWNLOADED else "-",
        )
        for job in jobs
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    )


# -- progress --------------------------------------------------------------------------------

_BAR_WIDTH = 24
_REDRAW_INTERVAL = 0.1  # seconds between redraws caused by download bytes alone
_DETAIL_LIMIT = 300
_NAME_LIMIT = 32
_FINISHED = (JobStatus.DOWNLOADED, JobStatus.FAILED)
_HTTP_STATUS = re.compile(r"\bHTTP [1-5]\d\d\b")
_QUARTER_LINES_FROM = 1024 * 1024  # plain output reports 25 % steps of downloads this big
Mode = Literal["live", "lines", "off"]


@dataclass
class _Row:
    """What the view knows about one job."""

    variant: str
    status: JobStatus
    started: float
    operation: str = ""
    error: str = ""
    detail: str = ""
    clip_bytes: int = 0
    polls: int = 0
    ended: float | None = None
    downloading: bool = False
    written: int = 0
    total: int | None = None
    announced: bool = False
    quarter: int = 0
    timed: bool = True
    """False for a finished job read from jobs.json: this run did not time it."""


def _elapsed(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def _bar(written: int, total: int | None) -> str:
    if not total:
        return _size(written) if written else "starting"
    fraction = min(max(written / total, 0.0), 1.0)
    filled = math.floor(fraction * _BAR_WIDTH)
    return (
        f"[{'#' * filled}{'-' * (_BAR_WIDTH - filled)}] {math.floor(fraction * 100)}% "
        f"{_size(written)} of {_size(total)}"
    )


class ProgressView:
    """The pipeline's progress on ``stream`` (stderr): a block redrawn in place on a terminal,
    one plain line per event otherwise, nothing when ``mode="off"``.

    Hooks: ``job_changed`` (the orchestrator's ``on_change``), ``download_progress`` (the
    adapter's ``on_download_progress``), ``note`` (retries), and ``watch(port)`` to count
    polls. Every text shown passes through ``_scrub``, so no key reaches the screen.
    """

    def __init__(
        self,
        stream: IO[str],
        *,
        mode: Mode | None = None,
        redact: Sequence[str] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self.mode: Mode = mode if mode is not None else ("live" if _isatty(stream) else "lines")
        self._redact = [value for value in redact if value]
        self._clock = clock
        self._rows: dict[str, _Row] = {}
        self._drawn = 0
        self._last_draw = -math.inf

    # -- hooks -----------------------------------------------------------------------------

    def seed(self, jobs: Sequence[Veo3Job]) -> None:
        """Show jobs already recorded (``resume``) without reporting them as events."""
        for job in jobs:
            row = self._row(job)
            self._update(row, job)
            row.timed = not job.finished
        self._refresh()

    def watch(self, port: VideoGenerationPort) -> VideoGenerationPort:
        """``port``, reporting every poll and download start to this view."""
        return port if self.mode == "off" else _WatchedPort(port, self)

    def job_changed(self, job: Veo3Job) -> None:
        """Record a saved change of ``job``; for the orchestrator's ``on_change``."""
        if self.mode == "off":
            return
        row = self._rows.get(job.variant)
        before = row.status if row is not None else None
        row = row if row is not None else self._row(job)
        self._update(row, job)
        if self.mode == "live":
            if job.status is not JobStatus.PENDING:  # the block appears at the first submit
                self._draw()
        elif before is not job.status:
            event = self._event(row, before)
            if event:
                self._line(f"{row.variant}: {event}")

    def polled(self, job: Veo3Job, *, answered: bool) -> None:
        """One poll of ``job`` happened (``answered``: the server said where it is)."""
        if self.mode == "off":
            return
        row = self._rows.get(job.variant) or self._row(job)
        row.polls += 1
        if self.mode == "live":
            self._draw()
        elif answered and job.status is JobStatus.SUBMITTED:
            self._line(
                f"{row.variant}: poll {row.polls}: still generating "
                f"({_elapsed(self._clock() - row.started)})"
            )

    def download_started(self, variant: str) -> None:
        """A download of ``variant`` begins (before any byte)."""
        row = self._rows.get(variant)
        if self.mode == "off" or row is None:
            return
        row.downloading = True
        row.written, row.total, row.announced, row.quarter = 0, None, False, 0
        self._refresh()

    def download_progress(self, variant: str, written: int, total: int | None) -> None:
        """Bytes of ``variant``'s clip so far; for the adapter's ``on_download_progress``."""
        row = self._rows.get(variant)
        if self.mode == "off" or row is None:
            return
        row.downloading = True
        row.written, row.total = written, total
        if self.mode == "live":
            done = total is not None and written >= total
            if done or self._clock() - self._last_draw >= _REDRAW_INTERVAL:
                self._draw()
            return
        if not row.announced:
            row.announced = True
            size = _size(total) if total is not None else "size unknown"
            self._line(f"{variant}: downloading ({size})")
        if total and total >= _QUARTER_LINES_FROM:
            quarter = min(4 * written // total, 3)
            if quarter > row.quarter:
                row.quarter = quarter
                self._line(f"{variant}: {_bar(written, total)}")

    def note(self, message: str) -> None:
        """A remark that belongs to no single state change (a retry, a cleanup)."""
        if self.mode == "off":
            return
        if self.mode == "live" and self._drawn:
            # Print the note where the block was, then draw the block again below it.
            self._write(f"\r\x1b[{self._drawn}A\x1b[J")
            self._drawn = 0
            self._line(message)
            self._draw()
        else:
            self._line(message)

    def close(self) -> None:
        """Leave the final state on screen, and below it why each job of this run failed."""
        if self.mode != "live" or not self._rows:
            return
        self._draw()
        for row in self._rows.values():
            if row.status is JobStatus.FAILED and row.timed:
                self._line(f"{row.variant}: failed: {self._failure(row)}")

    # -- rendering -------------------------------------------------------------------------

    def _row(self, job: Veo3Job) -> _Row:
        row = _Row(job.variant, job.status, started=self._clock())
        self._rows[job.variant] = row
        return row

    def _update(self, row: _Row, job: Veo3Job) -> None:
        if job.status is not row.status:
            row.timed = True
            if job.status is not JobStatus.GENERATED:
                row.downloading = False
        if job.finished and (row.ended is None or row.status is not job.status):
            row.ended = self._clock()
        elif not job.finished:
            row.ended = None
        row.status = job.status
        row.operation = job.operation_name
        row.error = job.error_message
        row.detail = job.error_detail
        row.clip_bytes = job.clip_bytes

    def _event(self, row: _Row, before: JobStatus | None) -> str:
        took = _elapsed((row.ended or self._clock()) - row.started)
        status = row.status
        if status is JobStatus.SUBMITTED:
            if before in (None, JobStatus.PENDING):
                return f"submitted as {row.operation}"
            return f"waiting for {row.operation} again"
        if status is JobStatus.GENERATED:
            if before is JobStatus.SUBMITTED:
                return f"generated after {row.polls} poll(s), {took}"
            return "fetching the clip again"
        if status is JobStatus.DOWNLOADED:
            return f"downloaded {_size(row.clip_bytes)} ({took})"
        if status is JobStatus.FAILED:
            return f"failed: {self._failure(row)}"
        return ""

    def _failure(self, row: _Row) -> str:
        detail = self._clean(row.detail)
        if len(detail) > _DETAIL_LIMIT:
            detail = detail[: _DETAIL_LIMIT - 3] + "..."
        return f"{row.error}: {detail}" if detail else row.error

    def _short_failure(self, row: _Row) -> str:
        # A block line is cut at the terminal's width: keep the HTTP status in view; the
        # whole reason is printed below the block at the end.
        status = _HTTP_STATUS.search(row.detail)
        return f"{row.error}, {status.group(0)}" if status else self._failure(row)

    def _block(self) -> list[str]:
        width, height = _terminal_size(self._stream)
        rows = list(self._rows.values())
        hidden: list[_Row] = []
        room = max(height - 2, 3)
        if len(rows) > room:
            # Cursor movement cannot reach above the screen's top line, so the block must
            # fit: jobs still under way first, the rest counted on one line.
            shown = [r for r in rows if r.status not in _FINISHED][: room - 1]
            hidden = [r for r in rows if r not in shown]
            rows = shown
        name_width = min(max((len(r.variant) for r in rows), default=0), _NAME_LIMIT)
        now = self._clock()
        lines = []
        for row in rows:
            took = _elapsed((row.ended or now) - row.started) if row.timed else ""
            status = row.status
            if status is JobStatus.PENDING:
                label, text = "pending", ""
            elif status is JobStatus.SUBMITTED:
                label = "generating"
                text = f"poll {row.polls}, {took}" if row.polls else f"submitted, {took}"
            elif status is JobStatus.GENERATED and row.downloading:
                label, text = "downloading", _bar(row.written, row.total)
            elif status is JobStatus.GENERATED:
                label, text = "generated", f"after {row.polls} poll(s), {took}"
            elif status is JobStatus.DOWNLOADED:
                label = "downloaded"
                text = f"{_size(row.clip_bytes)}, {took}" if took else _size(row.clip_bytes)
            else:
                label, text = "failed", self._short_failure(row)
            name = row.variant if len(row.variant) <= name_width else row.variant[:name_width]
            line = f"{name:<{name_width}}  {label:<11}  {text}".rstrip()
            lines.append(line[: width - 1])
        if hidden:
            counts = Counter(r.status.value for r in hidden)
            summary = ", ".join(f"{n} {status}" for status, n in counts.items())
            lines.append(f"... and {len(hidden)} more ({summary})"[: width - 1])
        return lines

    def _draw(self) -> None:
        lines = self._block()
        # Back to the block's first line, rewrite every line, clear whatever is left below.
        up = f"\r\x1b[{self._drawn}A" if self._drawn else ""
        self._write(up + "".join(f"\x1b[2K{line}\n" for line in lines) + "\x1b[J")
        self._drawn = len(lines)
        self._last_draw = self._clock()

    def _refresh(self) -> None:
        if self.mode == "live" and self._rows:
            self._draw()

    def _line(self, message: str) -> None:
        self._write(f"veo3: {self._clean(message)}\n")

    def _clean(self, text: str) -> str:
        return _scrub(text, self._redact)

    def _write(self, text: str) -> None:
        if self.mode == "off":
            return
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):
            self.mode = "off"  # stderr went away; the run itself carries on


class _WatchedPort:
    """A port that tells a ``ProgressView`` about polls and downloads, then delegates."""

    def __init__(self, port: VideoGenerationPort, view: ProgressView) -> None:
        self._port = port
        self._view = view

    def submit_job(
        self, variant: str, prompt: str, options: GenerationOptions | None = None
    ) -> Veo3Job:
        return self._port.submit_job(variant, prompt, options)

    def poll_job(self, job: Veo3Job) -> Veo3Job:
        try:
            polled = self._port.poll_job(job)
        except Exception:
            self._view.polled(job, answered=False)
            raise
        self._view.polled(polled, answered=True)
        return polled

    def download_clip(self, job: Veo3Job, dest: Path) -> Path:
        self._view.download_started(job.variant)
        return self._port.download_clip(job, dest)


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _terminal_size(stream: IO[str]) -> tuple[int, int]:
    """(columns, lines) of the terminal behind ``stream``; 100 x 24 when it will not say."""
    try:
        size = os.get_terminal_size(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return 100, 24
    return (size.columns if size.columns >= 20 else 100), (size.lines if size.lines >= 5 else 24)


class _NoteHandler(logging.Handler):
    """Passes the package's retry and clean-up messages to the view; drops the rest.

    Everything else the package logs is a state change the view already shows.
    """

    _WANTED = ("retry", "try again", "partial file")

    def __init__(self, view: ProgressView) -> None:
        super().__init__(logging.INFO)
        self._view = view

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("veo3_adapter.emulator"):
            return  # the demo's stand-in server is not part of the pipeline's progress
        template = record.msg if isinstance(record.msg, str) else ""
        if any(word in template for word in self._WANTED):
            self._view.note(record.getMessage())


@contextlib.contextmanager
def _reporting(quiet: bool, redact: Sequence[str]) -> Iterator[ProgressView]:
    """A view on stderr, with the package's log records routed to it (or silenced)."""
    view = ProgressView(sys.stderr, mode="off" if quiet else None, redact=redact)
    logger = logging.getLogger("veo3_adapter")
    # Always a handler of our own: without one, logging's last resort prints warnings.
    handler: logging.Handler = logging.NullHandler() if quiet else _NoteHandler(view)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield view
    finally:
        view.close()
        logger.removeHandler(handler)
        logger.setLevel(level)


def _exit_code(jobs: Sequence[Veo3Job]) -> int:
    return EXIT_OK if all(j.status is JobStatus.DOWNLOADED for j in jobs) else EXIT_JOB_FAILED


# -- commands --------------------------------------------------------------------------------


def _adapter(args: argparse.Namespace, key: str, view: ProgressView) -> GeminiVeo3Adapter:
    return gemini_adapter(key, base_url=args.base_url, on_download_progress=view.download_progress)


def _orchestrator(
    adapter: VideoGenerationPort, args: argparse.Namespace, out: Path, view: ProgressView
) -> Veo3Orchestrator:
    return Veo3Orchestrator(
        view.watch(adapter),
        out,
        poll_interval=args.poll_interval,
        timeout=args.timeout,
        on_change=view.job_changed,
    )


def cmd_run(args: argparse.Namespace) -> int:
    prompts, options = load_prompts(Path(args.prompts))
    key = api_key_from_env()
    with _reporting(args.quiet, [key]) as view, _adapter(args, key, view) as adapter:
        jobs = _orchestrator(adapter, args, Path(args.out), view).run(prompts, options=options)
    print(status_table(jobs))
    return _exit_code(jobs)


def cmd_resume(args: argparse.Namespace) -> int:
    directory = Path(args.dir)
    recorded = _read_jobs(directory)  # a corrupt file stops here, before anything else
    key = api_key_from_env()
    with _reporting(args.quiet, [key]) as view, _adapter(args, key, view) as adapter:
        view.seed(recorded)
        jobs = _orchestrator(adapter, args, directory, view).resume()
    print(status_table(jobs))
    return _exit_code(jobs)


def cmd_status(args: argparse.Namespace) -> int:
    print(status_table(_read_jobs(Path(args.dir))))
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from .emulator import Emulator, Scenario

    # A throwaway key for the emulator only; it is never a real key.
    key = "demo-" + secrets.token_hex(16)
    emulator = Emulator(api_key=key, default=Scenario(running_polls=2))
    emulator.rule(DEMO_PROMPTS[DEMO_FAILING_VARIANT], Scenario.named("download_not_found"))
    out = Path(args.out)
    if not args.quiet:
        print(f"veo3 demo: {len(DEMO_PROMPTS)} variants on the built-in emulator, output in {out}")
        print(f"  ({DEMO_FAILING_VARIANT!r} is scripted to fail its download)", flush=True)
    with emulator.serve() as base_url, _reporting(args.quiet, [key]) as view:
        adapter = gemini_adapter(
            key,
            base_url=base_url,
            profile=LOCAL_PROFILE,
            on_download_progress=view.download_progress,
        )
        with adapter:
            orchestrator = Veo3Orchestrator(
                view.watch(adapter),
                out,
                poll_interval=DEMO_POLL_INTERVAL,
                timeout=60.0,
                on_change=view.job_changed,
            )
            jobs = orchestrator.run(DEMO_PROMPTS)
    print(status_table(jobs))
    if emulator.key_leaks:
        print("veo3 demo: the API key reached the download origin", file=sys.stderr)
        return EXIT_JOB_FAILED
    expected = {
        v: (
            (JobStatus.FAILED, ErrorCode.DOWNLOAD_FAILED.value)
            if v == DEMO_FAILING_VARIANT
            else (JobStatus.DOWNLOADED, "")
        )
        for v in DEMO_PROMPTS
    }
    actual = {j.variant: (j.status, j.error_message) for j in jobs}
    if actual != expected:
        print("veo3 demo: the pipeline did not end as designed", file=sys.stderr)
        return EXIT_JOB_FAILED
    if not args.quiet:
        print(f"jobs.json: {orchestrator.jobs_path}")
        print("veo3 demo: ran as designed (two clips downloaded, one download_failed)")
    return EXIT_OK


def cmd_emulator(args: argparse.Namespace) -> int:
    from .emulator import Emulator, Scenario, serve_forever

    try:
        scenario = Scenario.named(args.scenario)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    key = os.environ.get("VEO3_EMULATOR_KEY") or None
    emulator = Emulator(api_key=key, default=scenario)
    logging.basicConfig(level=logging.INFO, format="veo3 emulator: %(message)s")
    try:
        serve_forever(emulator, host=args.host, port=args.port, download_port=args.download_port)
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}; pick another --port"
        ) from exc
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    from .audit import audit_paths

    try:
        findings = audit_paths(Path(p) for p in args.paths)
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from None
    for finding in findings:
        print(finding)
    if findings:
        print(
            f"veo3: {len(findings)} secret-shaped value(s) found; scrub or re-record these files",
            file=sys.stderr,
        )
        return EXIT_JOB_FAILED
    print(f"veo3: no secrets found in {', '.join(args.paths)}")
    return EXIT_OK


def _read_jobs(directory: Path) -> list[Veo3Job]:
    """The jobs of an earlier run in ``directory`` (read only; ``JobsFileError`` if corrupt)."""
    path = directory / CLIPS_DIRNAME / JOBS_FILENAME
    if not path.is_file():
        raise UsageError(
            f"{directory} has no veo3/jobs.json; pass the --out directory of an earlier run"
        )
    return read_jobs_json(path)


# -- parser ----------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, with anything key-shaped removed from its error messages."""

    def error(self, message: str) -> NoReturn:
        super().error(_scrub(message))


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a non-negative number of seconds")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="veo3", description="Generate, download and track Veo 3 clips.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def pipeline_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--base-url",
            default=DEFAULT_BASE_URL,
            help="API base URL (any compatible server, the emulator included)",
        )
        p.add_argument("--poll-interval", type=_seconds, default=10.0, metavar="SECONDS")
        p.add_argument("--timeout", type=_seconds, default=900.0, metavar="SECONDS")
        p.add_argument(
            "--quiet", "-q", action="store_true", help="no progress; print only the final table"
        )

    key_note = "The key comes from GEMINI_API_KEY or GOOGLE_API_KEY, never from the command line."
    run = sub.add_parser(
        "run", help="generate clips for a prompts file (live API)", description=key_note
    )
    run.add_argument("prompts", help="TOML or JSON file: variant -> prompt or table")
    run.add_argument("--out", required=True, help="output directory (clips go to OUT/veo3/)")
    pipeline_options(run)
    run.set_defaults(func=cmd_run)

    resume = sub.add_parser(
        "resume", help="continue a run from its jobs.json", description=key_note
    )
    resume.add_argument("dir", help="the --out directory of an earlier run")
    pipeline_options(resume)
    resume.set_defaults(func=cmd_resume)

    status = sub.add_parser("status", help="show the jobs recorded in DIR/veo3/jobs.json")
    status.add_argument("dir")
    status.set_defaults(func=cmd_status)

    demo = sub.add_parser("demo", help="the whole pipeline on the built-in emulator, no key")
    demo.add_argument("--out", default="veo3-demo", help="output directory")
    demo.add_argument(
        "--quiet", "-q", action="store_true", help="no progress; print only the final table"
    )
    demo.set_defaults(func=cmd_demo)

    emulator = sub.add_parser("emulator", help="serve the Gemini API emulator on loopback")
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--port", type=int, default=8765)
    emulator.add_argument("--download-port", type=int, default=0, help="0 picks a free port")
    emulator.add_argument("--scenario", default="success", help="default scenario name")
    emulator.set_defaults(func=cmd_emulator)

    cassettes = sub.add_parser("cassettes", help="work with recorded cassettes")
    cassettes_sub = cassettes.add_subparsers(dest="cassettes_command", required=True)
    audit = cassettes_sub.add_parser(
        "audit", help="exit 1 if any file holds a key, a key header or a key= parameter"
    )
    audit.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")
    audit.set_defaults(func=cmd_audit)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``veo3`` console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    for token in argv:
        if token.split("=", 1)[0] in _KEY_FLAGS:
            print(
                "veo3: error: keys are never taken from the command line; "
                "set GEMINI_API_KEY (or GOOGLE_API_KEY) in the environment instead",
                file=sys.stderr,
            )
            return EXIT_USAGE
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except (UsageError, OutputDirInUseError) as exc:
        _error(exc)
        return EXIT_USAGE
    except Veo3Error as exc:
        _error(exc)
        return EXIT_USAGE if isinstance(exc, ValueError) else EXIT_JOB_FAILED
    except KeyboardInterrupt:
        print("veo3: interrupted; run `veo3 resume` to continue", file=sys.stderr)
        return 130


def _error(exc: BaseException) -> None:
    print(f"veo3: error: {_scrub(str(exc))}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
