"""The ``veo3`` command: run, resume and inspect pipelines; a demo and an emulator.

``main`` parses the command line and maps what a command raises to an exit code:
:data:`EXIT_OK`, :data:`EXIT_JOB_FAILED` (a job or the check failed), :data:`EXIT_USAGE`
(the user fixes the command, its files or its environment), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from ..emulator import SCENARIO_NAMES
from ..errors import OutputDirInUseError, UnsafeOutputError, Veo3Error
from ..models import DEFAULT_BASE_URL
from ..orchestrator import CONCURRENCY, SUBMIT_RATE
from . import _commands, _demo
from ._backends import BACKENDS, GEMINI, VERTEX_LOCATION
from ._common import (
    EXIT_INTERRUPTED,
    EXIT_JOB_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    one_line,
)
from ._progress import Progress, ProgressView
from ._serve import ListScenarios, cmd_emulator

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
_KEY_NOTE = (
    "The key comes from GEMINI_API_KEY or GOOGLE_API_KEY, never from the command line; "
    "a base URL on loopback (the emulator) needs none."
)
_VERTEX_NOTE = (
    "With --backend vertex, --project uses Application Default Credentials (gcloud auth "
    "application-default login); without --project the key selects Vertex AI express mode."
)
_QUIET_HELP = "no progress; print only the final table"
_RUN_ABOUT = (
    "Generate a clip per variant of the prompts file into OUT/veo3/. A variant whose clip an "
    "earlier run made from the same prompt and options is kept, one still generating is "
    "resumed; --force generates everything again."
)


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
        _error(str(exc))
        return EXIT_USAGE
    except Veo3Error as exc:
        _error(str(exc))
        # Bad input (ValueError) or one of our files the system refused (OSError) is the
        # user's to fix; anything else stopped the whole batch.
        return EXIT_USAGE if isinstance(exc, (ValueError, OSError)) else EXIT_JOB_FAILED
    except OSError as exc:  # the system refused one of our files: a full disk, a read-only dir
        _error(f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("veo3: interrupted; run `veo3 resume` to continue", file=sys.stderr)
        return EXIT_INTERRUPTED


def _error(message: str) -> None:
    print(f"veo3: error: {one_line(message)}", file=sys.stderr)


class _Parser(argparse.ArgumentParser):
    """argparse, with anything key-shaped removed from its error messages."""

    def error(self, message: str) -> NoReturn:
        super().error(one_line(message))


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's help ends with its default, or says that it is required."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "(default" in text or action.default is argparse.SUPPRESS:
            return text
        if action.required and action.option_strings:
            return f"{text} (required)"
        if action.option_strings and action.nargs == 0 and action.default is False:
            return f"{text} (default: off)"
        return super()._get_help_string(action)


def _needs_command(
    parser: argparse.ArgumentParser, commands: argparse._SubParsersAction[_Parser]
) -> Callable[[argparse.Namespace], int]:
    """What runs when ``parser`` is given no subcommand: a usage error listing them."""

    def missing(_: argparse.Namespace) -> int:
        names = ", ".join(commands.choices)
        parser.error(f"a command is needed: {names} (`{parser.prog} --help` says what each does)")

    return missing


def _number(
    unit: str, *, whole: bool = False, least: float = 0.0, above: bool = False
) -> Callable[[str], float]:
    """An argparse ``type`` for a finite number of ``unit`` at least ``least`` (or above it)."""
    kind = "a whole number" if whole else f"a number of {unit}"
    bound = f"more than {least:g}" if above else f"at least {least:g}"

    def parse(text: str) -> float:
        try:
            value = int(text) if whole else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind}") from None
        if not math.isfinite(value) or value < least or (above and value == least):
            raise argparse.ArgumentTypeError(f"{text!r} must be {kind}, {bound}")
        return value

    return parse


_seconds = _number("seconds")
_bandwidth = _number("bytes per second", above=True)
_count = _number("", whole=True, least=1)
_per_minute = _number("requests per minute")


def _pipeline_options(parser: argparse.ArgumentParser, *, base_url: str) -> None:
    parser.add_argument("--base-url", default=None, metavar="URL", help=base_url)
    parser.add_argument(
        "--poll-interval",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help=(
            "seconds between two polls of a job still generating "
            f"(default: {_commands.LIVE_POLL_INTERVAL:g} s; {_commands.LOCAL_POLL_INTERVAL:g} s "
            "when the base URL is on loopback, as the emulator's is)"
        ),
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=_commands.GENERATION_TIMEOUT,
        metavar="SECONDS",
        help="a job still generating this long after its submit fails as timeout, and "
        f"resume waits again (default: {_commands.GENERATION_TIMEOUT:g} s)",
    )
    parser.add_argument(
        "--concurrency",
        type=_count,
        default=CONCURRENCY,
        metavar="N",
        help="requests in flight at once: submits, polls and downloads (half of them at "
        f"most downloads) (default: {CONCURRENCY})",
    )
    parser.add_argument(
        "--submit-rate",
        type=_per_minute,
        default=None,
        metavar="PER_MINUTE",
        help="submits a minute at most, evenly spaced; 0 for no limit; a 429 from the API "
        "slows every request of the run anyway (default: "
        f"{SUBMIT_RATE:g}, under a new project's quota; no limit when the base URL is on "
        "loopback)",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help=_QUIET_HELP)


def _backend_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=GEMINI,
        help="gemini: the Gemini API, with a key; vertex: Vertex AI, with --project and "
        "Application Default Credentials, or express mode with a key",
    )
    parser.add_argument(
        "--project",
        metavar="PROJECT",
        help="Google Cloud project of --backend vertex (default: none, which is express "
        "mode, with the key from GEMINI_API_KEY or GOOGLE_API_KEY)",
    )
    parser.add_argument(
        "--location",
        metavar="REGION",
        help=f"Vertex AI region of --project (default: {VERTEX_LOCATION})",
    )
    parser.add_argument(
        "--output-gcs-uri",
        metavar="gs://BUCKET/PREFIX/",
        help="Cloud Storage prefix where Vertex AI writes the clips, downloaded from there; "
        "better for long or many clips (default: none, the clips come back inline)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``veo3`` command line; each subcommand sets ``func`` to the command it runs."""
    parser = _Parser(
        prog="veo3",
        description="Generate, download and track Veo 3 clips.",
        formatter_class=_HelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", help="one of:")
    parser.set_defaults(func=_needs_command(parser, sub))

    def command(name: str, summary: str, description: str | None = None) -> _Parser:
        return sub.add_parser(
            name, help=summary, description=description or summary, formatter_class=_HelpFormatter
        )

    run = command(
        "run", "generate clips for a prompts file", f"{_RUN_ABOUT} {_KEY_NOTE} {_VERTEX_NOTE}"
    )
    run.add_argument("prompts", help="TOML or JSON file: variant -> prompt or table")
    run.add_argument(
        "--out",
        required=True,
        help="output directory, made if missing (its parent must exist); clips go to OUT/veo3/",
    )
    _pipeline_options(
        run,
        base_url="API base URL: any compatible server, the emulator included; with --backend "
        "vertex the Vertex AI endpoint, whose default is the one of --location "
        f"(default: {DEFAULT_BASE_URL}, the live API)",
    )
    run.add_argument(
        "--force",
        action="store_true",
        help="generate every variant again, even those with a clip from an earlier run",
    )
    _backend_options(run)
    run.set_defaults(func=_commands.cmd_run)

    resume = command(
        "resume",
        "continue a run from its jobs.json",
        "Continue a run on the backend its jobs.json records (the Gemini API, or Vertex AI "
        f"with its project, location, model and bucket). {_KEY_NOTE} {_VERTEX_NOTE}",
    )
    resume.add_argument("dir", metavar="DIR", help="the --out directory of an earlier run")
    _pipeline_options(
        resume,
        base_url="API base URL; one that differs from the recorded one wins, with a warning "
        f"(default: the one recorded in jobs.json, else {DEFAULT_BASE_URL})",
    )
    resume.set_defaults(func=_commands.cmd_resume)

    status = command("status", "show the jobs recorded in DIR/veo3/jobs.json")
    status.add_argument(
        "dir",
        nargs="?",
        default=".",
        metavar="DIR",
        help="the --out directory of a run, read only (default: ., the current directory)",
    )
    status.set_defaults(func=_commands.cmd_status)

    demo = command("demo", "the whole pipeline on the built-in emulator, no key")
    demo.add_argument("--out", default="veo3-demo", help="output directory")
    demo.add_argument("--quiet", "-q", action="store_true", help=_QUIET_HELP)
    demo.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="the emulator's Gemini API routes or its Vertex AI routes (regional, with a "
        "bucket) (default: gemini with google-genai 2.x, vertex with 3.x; here: "
        f"{_demo.default_backend()})",
    )
    demo.set_defaults(func=_demo.cmd_demo)

    emulator = command(
        "emulator",
        "serve the Gemini API emulator",
        "Serve the Gemini API emulator (Veo endpoints) until interrupted. It takes any key, "
        "or only VEO3_EMULATOR_KEY when that is set.",
    )
    emulator.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; anything but loopback serves other machines too",
    )
    emulator.add_argument("--port", type=int, default=8765, help="port of the API origin")
    emulator.add_argument(
        "--download-port",
        type=int,
        metavar="PORT",
        default=0,
        help="port of the second origin (cross_origin_redirect); 0 picks a free port",
    )
    emulator.add_argument(
        "--scenario",
        default="success",
        metavar="NAME",
        help=f"what every generation does, one of: {', '.join(SCENARIO_NAMES)}; "
        "--list-scenarios says what each does",
    )
    emulator.add_argument(
        "--list-scenarios",
        action=ListScenarios,
        help="list the scenarios with what each does, and exit",
    )
    emulator.add_argument(
        "--latency",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="seconds added before every answer, as a far server would take (default: 0)",
    )
    emulator.add_argument(
        "--bandwidth",
        type=_bandwidth,
        default=None,
        metavar="BYTES_PER_S",
        help="bytes per second of each clip download, e.g. 50e6 (default: no limit)",
    )
    emulator.set_defaults(func=cmd_emulator)

    cassettes = command("cassettes", "work with recorded cassettes")
    cassettes_sub = cassettes.add_subparsers(
        dest="cassettes_command", metavar="COMMAND", help="one of:"
    )
    cassettes.set_defaults(func=_needs_command(cassettes, cassettes_sub))
    audit = cassettes_sub.add_parser(
        "audit",
        help="exit 1 if any file holds a key, a key header or a key= parameter",
        description="Exit 1 if any file holds a key, a key header or a key= parameter.",
        formatter_class=_HelpFormatter,
    )
    audit.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")
    audit.set_defaults(func=_commands.cmd_audit)
    return parser
