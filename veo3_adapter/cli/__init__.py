"""The ``veo3`` command: run, resume and inspect pipelines; a demo and an emulator.

``main`` parses the command line and maps what a command raises to an exit code:
:data:`EXIT_OK`, :data:`EXIT_JOB_FAILED` (a job or the check failed), :data:`EXIT_USAGE`
(the user fixes the command, its files or its environment), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from typing import NoReturn

from ..errors import OutputDirInUseError, UnsafeOutputError, Veo3Error
from ..models import DEFAULT_BASE_URL
from . import _commands
from ._common import (
    EXIT_INTERRUPTED,
    EXIT_JOB_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    one_line,
)
from ._progress import Progress, ProgressView

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_JOB_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "Progress",
    "ProgressView",
    "UsageError",
    "build_parser",
    "main",
]

# Options people reach for to pass a key; refused without echoing the value.
_KEY_FLAGS = frozenset({"--api-key", "--api_key", "--apikey", "--key", "--gemini-api-key"})
_KEY_NOTE = "The key comes from GEMINI_API_KEY or GOOGLE_API_KEY, never from the command line."
_QUIET_HELP = "no progress; print only the final table"


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
    except (UsageError, OutputDirInUseError, UnsafeOutputError) as exc:
        _error(exc)
        return EXIT_USAGE
    except Veo3Error as exc:
        _error(exc)
        return EXIT_USAGE if isinstance(exc, ValueError) else EXIT_JOB_FAILED
    except KeyboardInterrupt:
        print("veo3: interrupted; run `veo3 resume` to continue", file=sys.stderr)
        return EXIT_INTERRUPTED


def _error(exc: BaseException) -> None:
    print(f"veo3: error: {one_line(str(exc))}", file=sys.stderr)


class _Parser(argparse.ArgumentParser):
    """argparse, with anything key-shaped removed from its error messages."""

    def error(self, message: str) -> NoReturn:
        super().error(one_line(message))


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a non-negative number of seconds")
    return value


def _pipeline_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--base-url",
        default=DEFAULT_BASE_URL,
        help="API base URL (any compatible server, the emulator included)",
    )
    parser.add_argument("--poll-interval", type=_seconds, default=10.0, metavar="SECONDS")
    parser.add_argument("--timeout", type=_seconds, default=900.0, metavar="SECONDS")
    parser.add_argument("--quiet", "-q", action="store_true", help=_QUIET_HELP)


def build_parser() -> argparse.ArgumentParser:
    """The ``veo3`` command line; each subcommand sets ``func`` to the command it runs."""
    parser = _Parser(prog="veo3", description="Generate, download and track Veo 3 clips.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run", help="generate clips for a prompts file (live API)", description=_KEY_NOTE
    )
    run.add_argument("prompts", help="TOML or JSON file: variant -> prompt or table")
    run.add_argument("--out", required=True, help="output directory (clips go to OUT/veo3/)")
    _pipeline_options(run)
    run.set_defaults(func=_commands.cmd_run)

    resume = sub.add_parser(
        "resume", help="continue a run from its jobs.json", description=_KEY_NOTE
    )
    resume.add_argument("dir", help="the --out directory of an earlier run")
    _pipeline_options(resume)
    resume.set_defaults(func=_commands.cmd_resume)

    status = sub.add_parser("status", help="show the jobs recorded in DIR/veo3/jobs.json")
    status.add_argument("dir")
    status.set_defaults(func=_commands.cmd_status)

    demo = sub.add_parser("demo", help="the whole pipeline on the built-in emulator, no key")
    demo.add_argument("--out", default="veo3-demo", help="output directory")
    demo.add_argument("--quiet", "-q", action="store_true", help=_QUIET_HELP)
    demo.set_defaults(func=_commands.cmd_demo)

    emulator = sub.add_parser("emulator", help="serve the Gemini API emulator on loopback")
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--port", type=int, default=8765)
    emulator.add_argument("--download-port", type=int, default=0, help="0 picks a free port")
    emulator.add_argument("--scenario", default="success", help="default scenario name")
    emulator.set_defaults(func=_commands.cmd_emulator)

    cassettes = sub.add_parser("cassettes", help="work with recorded cassettes")
    cassettes_sub = cassettes.add_subparsers(dest="cassettes_command", required=True)
    audit = cassettes_sub.add_parser(
        "audit", help="exit 1 if any file holds a key, a key header or a key= parameter"
    )
    audit.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")
    audit.set_defaults(func=_commands.cmd_audit)
    return parser
