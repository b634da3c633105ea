"""The ``veo3`` subcommands: run, resume, status, demo, emulator, cassettes audit.

Each takes the parsed arguments and returns the exit code; a problem the user fixes raises
:class:`~._common.UsageError`.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .._secrets import key_from_env
from ..compose import LOCAL_PROFILE, gemini_adapter
from ..models import ErrorCode, JobStatus, Veo3Job
from ..orchestrator import CLIPS_DIRNAME, JOBS_FILENAME, Veo3Orchestrator
from ..port import VideoGenerationPort
from ..store import read_jobs_json
from ._common import EXIT_JOB_FAILED, EXIT_OK, UsageError, size
from ._events import reporting, watch
from ._progress import Progress
from ._prompts import load_prompts

if TYPE_CHECKING:
    from ..gemini import GeminiVeo3Adapter

__all__ = [
    "DEMO_FAILING_VARIANT",
    "DEMO_PROMPTS",
    "api_key_from_env",
    "cmd_audit",
    "cmd_demo",
    "cmd_emulator",
    "cmd_resume",
    "cmd_run",
    "cmd_status",
    "status_table",
]

DEMO_PROMPTS = {
    "sunrise": "A time-lapse of the sun rising over a misty pine forest",
    "harbour": "A slow dolly shot along a harbour at dusk, boats rocking gently",
    "lighthouse": "A lighthouse in a storm, waves crashing over the rocks",
}
DEMO_FAILING_VARIANT = "lighthouse"
DEMO_POLL_INTERVAL = 0.1


def cmd_run(args: argparse.Namespace) -> int:
    prompts, options = load_prompts(Path(args.prompts))
    key = api_key_from_env()
    with reporting(args.quiet, [key]) as view, _adapter(args, key, view) as adapter:
        jobs = _orchestrator(adapter, args, Path(args.out), view).run(prompts, options=options)
    print(status_table(jobs))
    return _exit_code(jobs)


def cmd_resume(args: argparse.Namespace) -> int:
    directory = Path(args.dir)
    recorded = _read_jobs(directory)  # a corrupt file stops here, before anything else
    key = api_key_from_env()
    with reporting(args.quiet, [key]) as view, _adapter(args, key, view) as adapter:
        view.seed(recorded)
        jobs = _orchestrator(adapter, args, directory, view).resume()
    print(status_table(jobs))
    return _exit_code(jobs)


def cmd_status(args: argparse.Namespace) -> int:
    print(status_table(_read_jobs(Path(args.dir))))
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from ..emulator import Emulator, Scenario

    # A throwaway key for the emulator only; it is never a real key.
    key = "demo-" + secrets.token_hex(16)
    emulator = Emulator(api_key=key, default=Scenario(running_polls=2))
    emulator.rule(DEMO_PROMPTS[DEMO_FAILING_VARIANT], Scenario.named("download_not_found"))
    out = Path(args.out)
    if not args.quiet:
        print(f"veo3 demo: {len(DEMO_PROMPTS)} variants on the built-in emulator, output in {out}")
        print(f"  ({DEMO_FAILING_VARIANT!r} is scripted to fail its download)", flush=True)
    with emulator.serve() as base_url, reporting(args.quiet, [key]) as view:
        adapter = gemini_adapter(
            key,
            base_url=base_url,
            profile=LOCAL_PROFILE,
            on_download_progress=view.download_progress,
        )
        with adapter:
            orchestrator = Veo3Orchestrator(
                watch(adapter, view),
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
    from ..emulator import Emulator, Scenario, serve_forever

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
    from ..audit import audit_paths

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


def api_key_from_env(environ: Mapping[str, str] = os.environ) -> str:
    """The API key from GEMINI_API_KEY or GOOGLE_API_KEY."""
    key = key_from_env(environ)
    if key:
        return key
    raise UsageError(
        "no API key: set GEMINI_API_KEY (or GOOGLE_API_KEY) in the environment; "
        "keys are never taken from the command line"
    )


def status_table(jobs: Sequence[Veo3Job]) -> str:
    """A plain-text table: variant, status, operation, error, clip size."""
    header = ("VARIANT", "STATUS", "OPERATION", "ERROR", "CLIP")
    rows = [
        (
            job.variant,
            job.status.value,
            job.operation_name or "-",
            job.error_message or "-",
            size(job.clip_bytes) if job.status is JobStatus.DOWNLOADED else "-",
        )
        for job in jobs
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    )


def _adapter(args: argparse.Namespace, key: str, view: Progress) -> GeminiVeo3Adapter:
    return gemini_adapter(key, base_url=args.base_url, on_download_progress=view.download_progress)


def _orchestrator(
    adapter: VideoGenerationPort, args: argparse.Namespace, out: Path, view: Progress
) -> Veo3Orchestrator:
    return Veo3Orchestrator(
        watch(adapter, view),
        out,
        poll_interval=args.poll_interval,
        timeout=args.timeout,
        on_change=view.job_changed,
    )


def _exit_code(jobs: Sequence[Veo3Job]) -> int:
    return EXIT_OK if all(j.status is JobStatus.DOWNLOADED for j in jobs) else EXIT_JOB_FAILED


def _read_jobs(directory: Path) -> list[Veo3Job]:
    """The jobs of an earlier run in ``directory`` (read only; ``JobsFileError`` if corrupt)."""
    path = directory / CLIPS_DIRNAME / JOBS_FILENAME
    if not os.path.lexists(path):  # a link or FIFO there is named by read_jobs_json
        raise UsageError(
            f"{directory} has no veo3/jobs.json; pass the --out directory of an earlier run"
        )
    return read_jobs_json(path)
