"""The ``veo3`` command: run, resume and inspect pipelines; a demo and an emulator."""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import sys
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from .errors import JobsFileError, Veo3Error
from .gemini import DEFAULT_BASE_URL, GeminiVeo3Adapter
from .models import ErrorCode, GenerationOptions, JobStatus, Veo3Job
from .orchestrator import Veo3Orchestrator
from .port import VideoGenerationPort
from .retry import RetryPolicy

__all__ = ["main"]

EXIT_OK = 0
EXIT_JOB_FAILED = 1
EXIT_USAGE = 2
KEY_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
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
    try:
        text = raw.decode("utf-8")
        data: Any = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        fmt = "TOML" if path.suffix == ".toml" else "JSON"
        raise UsageError(f"prompts file {path} is not valid {fmt}: {exc}") from exc
    if not isinstance(data, dict) or not data:
        raise UsageError(f"prompts file {path} must map variant names to prompts")
    prompts: dict[str, str] = {}
    options: dict[str, GenerationOptions] = {}
    for variant, entry in data.items():
        if isinstance(entry, str):
            prompts[variant] = entry
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("prompt"), str):
            raise UsageError(
                f"prompts file {path}: variant {variant!r} needs a prompt string "
                "(or a table with a 'prompt' key)"
            )
        prompts[variant] = entry["prompt"]
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
                    f"a {kind.__name__}"
                )
            values[option] = value
        if values:
            options[variant] = GenerationOptions(**values)
    return prompts, options


def api_key_from_env(environ: Mapping[str, str] = os.environ) -> str:
    """The API key from GEMINI_API_KEY or GOOGLE_API_KEY."""
    for name in KEY_VARIABLES:
        value = environ.get(name, "").strip()
        if value:
            return value
    raise UsageError(
        "no API key: set GEMINI_API_KEY (or GOOGLE_API_KEY) in the environment; "
        "keys are never taken from the command line"
    )


# -- output ----------------------------------------------------------------------------------


def _size(num: int) -> str:
    if num <= 0:
        return "-"
    value = float(num)
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


class _Progress(logging.Handler):
    """Shows the pipeline's progress on stderr: plain lines, or one live line on a terminal."""

    def __init__(self, stream: IO[str]) -> None:
        super().__init__(logging.INFO)
        self.stream = stream
        self.live = stream.isatty()
        self._dirty = False

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("veo3_adapter.emulator"):
            return  # the demo's stand-in server is not part of the pipeline's progress
        message = self.format(record)
        if self.live and record.levelno < logging.WARNING:
            self.stream.write("\r\033[K" + message[: _terminal_width() - 1])
            self._dirty = True
        else:
            if self._dirty:
                self.stream.write("\n")
                self._dirty = False
            self.stream.write(message + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self._dirty:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self._dirty = False


def _terminal_width() -> int:
    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns
    except OSError:
        return 100


def _with_progress(quiet: bool, body: Callable[[], int]) -> int:
    logger = logging.getLogger("veo3_adapter")
    handler = None
    if not quiet:
        handler = _Progress(sys.stderr)
        handler.setFormatter(logging.Formatter("veo3: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        return body()
    finally:
        if handler is not None:
            handler.finish()
            logger.removeHandler(handler)


def _exit_code(jobs: Sequence[Veo3Job]) -> int:
    return EXIT_OK if all(j.status is JobStatus.DOWNLOADED for j in jobs) else EXIT_JOB_FAILED


# -- commands --------------------------------------------------------------------------------


def _adapter(args: argparse.Namespace) -> GeminiVeo3Adapter:
    return GeminiVeo3Adapter(api_key_from_env(), base_url=args.base_url)


def cmd_run(args: argparse.Namespace) -> int:
    prompts, options = load_prompts(Path(args.prompts))
    with _adapter(args) as adapter:
        orchestrator = _orchestrator(adapter, args)

        def body() -> int:
            jobs = orchestrator.run(prompts, options=options)
            print(status_table(jobs))
            return _exit_code(jobs)

        return _with_progress(args.quiet, body)


def cmd_resume(args: argparse.Namespace) -> int:
    _require_jobs_file(Path(args.dir))
    with _adapter(args) as adapter:
        orchestrator = _orchestrator(adapter, args, Path(args.dir))

        def body() -> int:
            jobs = orchestrator.resume()
            print(status_table(jobs))
            return _exit_code(jobs)

        return _with_progress(args.quiet, body)


def cmd_status(args: argparse.Namespace) -> int:
    jobs = Veo3Orchestrator(_NoPort(), Path(args.dir)).jobs()
    print(status_table(jobs))
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from .emulator import Emulator, Scenario

    # A throwaway key for the emulator only; it is never a real key.
    key = "demo-" + secrets.token_hex(16)
    emulator = Emulator(api_key=key, default=Scenario(running_polls=2))
    emulator.rule(DEMO_PROMPTS[DEMO_FAILING_VARIANT], Scenario.named("download_not_found"))
    out = Path(args.out)
    print(f"veo3 demo: {len(DEMO_PROMPTS)} variants on the built-in emulator, output in {out}")
    print(f"  ({DEMO_FAILING_VARIANT!r} is scripted to fail its download)")
    with emulator.serve() as base_url:
        adapter = GeminiVeo3Adapter(
            key,
            base_url=base_url,
            retry=RetryPolicy(attempts=3, initial=0.05, maximum=0.2),
            timeout=10.0,
        )
        with adapter:
            orchestrator = Veo3Orchestrator(adapter, out, poll_interval=0.2, timeout=60.0)
            jobs: list[Veo3Job] = []

            def body() -> int:
                jobs.extend(orchestrator.run(DEMO_PROMPTS))
                return EXIT_OK

            _with_progress(args.quiet, body)
    print(status_table(jobs))
    print(f"jobs.json: {orchestrator.jobs_path}")
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
    print("veo3 demo: ran as designed (two clips downloaded, one download_failed)")
    return EXIT_OK


def cmd_emulator(args: argparse.Namespace) -> int:
    from .emulator import Emulator, Scenario, serve_forever

    key = os.environ.get("VEO3_EMULATOR_KEY") or None
    emulator = Emulator(api_key=key, default=Scenario.named(args.scenario))
    logging.basicConfig(level=logging.INFO, format="veo3 emulator: %(message)s")
    serve_forever(emulator, host=args.host, port=args.port, download_port=args.download_port)
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


def _orchestrator(
    adapter: VideoGenerationPort, args: argparse.Namespace, out: Path | None = None
) -> Veo3Orchestrator:
    return Veo3Orchestrator(
        adapter,
        out if out is not None else Path(args.out),
        poll_interval=args.poll_interval,
        timeout=args.timeout,
    )


def _require_jobs_file(directory: Path) -> None:
    if not (directory / "veo3" / "jobs.json").is_file():
        raise UsageError(
            f"{directory} has no veo3/jobs.json; pass the --out directory of an earlier run"
        )


class _NoPort:
    """A port for read-only commands: using it is a bug."""

    def submit_job(self, *a: object, **k: object) -> Veo3Job:
        raise AssertionError("status does not submit")

    def poll_job(self, job: Veo3Job) -> Veo3Job:
        raise AssertionError("status does not poll")

    def download_clip(self, job: Veo3Job, dest: Path) -> Path:
        raise AssertionError("status does not download")


# -- parser ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="veo3", description="Generate, download and track Veo 3 clips."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def pipeline_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--base-url",
            default=DEFAULT_BASE_URL,
            help="API base URL (any compatible server, the emulator included)",
        )
        p.add_argument("--poll-interval", type=float, default=10.0, metavar="SECONDS")
        p.add_argument("--timeout", type=float, default=900.0, metavar="SECONDS")
        p.add_argument("--quiet", "-q", action="store_true", help="print only the final table")

    run = sub.add_parser("run", help="generate clips for a prompts file (live API)")
    run.add_argument("prompts", help="TOML or JSON file: variant -> prompt or table")
    run.add_argument("--out", required=True, help="output directory (clips go to OUT/veo3/)")
    pipeline_options(run)
    run.set_defaults(func=cmd_run)

    resume = sub.add_parser("resume", help="continue a run from its jobs.json")
    resume.add_argument("dir", help="the --out directory of an earlier run")
    pipeline_options(resume)
    resume.set_defaults(func=cmd_resume)

    status = sub.add_parser("status", help="show the jobs recorded in DIR/veo3/jobs.json")
    status.add_argument("dir")
    status.set_defaults(func=cmd_status)

    demo = sub.add_parser("demo", help="the whole pipeline on the built-in emulator, no key")
    demo.add_argument("--out", default="veo3-demo", help="output directory")
    demo.add_argument("--quiet", "-q", action="store_true")
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
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except UsageError as exc:
        print(f"veo3: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except JobsFileError as exc:
        print(f"veo3: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Veo3Error as exc:
        print(f"veo3: error: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, ValueError) else EXIT_JOB_FAILED
    except KeyboardInterrupt:
        print("veo3: interrupted; run `veo3 resume` to continue", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
