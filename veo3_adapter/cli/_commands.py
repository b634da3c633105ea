"""The ``veo3`` subcommands: run, resume, status, demo, cassettes audit (``emulator`` is in
``_serve``).

Each takes the parsed arguments and returns the exit code; a problem the user fixes raises
:class:`~._common.UsageError`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .._secrets import key_from_env
from ..compose import LOCAL_PROFILE, gemini_adapter
from ..models import DEFAULT_BASE_URL, ErrorCode, JobStatus, RunSummary, Veo3Job
from ..orchestrator import CLIPS_DIRNAME, JOBS_FILENAME, Veo3Orchestrator
from ..port import VideoGenerationPort
from ..store import read_backend_info, read_jobs_json
from ._common import (
    EXIT_JOB_FAILED,
    EXIT_OK,
    UsageError,
    is_loopback_url,
    one_line,
    size,
    throwaway_key,
)
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
    "cmd_resume",
    "cmd_run",
    "check_out_dir",
    "cmd_status",
    "run_summary",
    "status_table",
]

DEMO_PROMPTS = {
    "sunrise": "A time-lapse of the sun rising over a misty pine forest",
    "harbour": "A slow dolly shot along a harbour at dusk, boats rocking gently",
    "lighthouse": "A lighthouse in a storm, waves crashing over the rocks",
}
DEMO_FAILING_VARIANT = "lighthouse"
DEMO_POLL_INTERVAL = 0.1
LIVE_POLL_INTERVAL = 10.0
"""Seconds between polls of the live API: a generation takes minutes."""
LOCAL_POLL_INTERVAL = 0.2
"""Seconds between polls of a server on loopback: the emulator answers at once."""
GENERATION_TIMEOUT = 900.0
_LISTED = 5  # variants named in the summary line before "and N more"


def cmd_run(args: argparse.Namespace) -> int:
    prompts, options = load_prompts(Path(args.prompts))
    out = Path(args.out)
    check_out_dir(out)
    base_url = args.base_url or DEFAULT_BASE_URL
    key = _key_for(base_url)
    jobs_path = out / CLIPS_DIRNAME / JOBS_FILENAME
    earlier = read_jobs_json(jobs_path) if os.path.lexists(jobs_path) else []
    with reporting(args.quiet, [key]) as view, _adapter(base_url, key, view) as adapter:
        # What an earlier run left is shown as it is: a clip kept is no event of this run.
        view.seed([job for job in earlier if job.variant in prompts])
        orchestrator = _orchestrator(adapter, args, base_url, out, view)
        jobs = orchestrator.run(prompts, options=options, force=args.force)
    line = run_summary(orchestrator.last_run)
    if line and not args.quiet:
        print(line, file=sys.stderr)
    print(status_table(jobs))
    return _exit_code(jobs)


def cmd_resume(args: argparse.Namespace) -> int:
    directory = Path(args.dir)
    recorded = _read_jobs(directory)  # a corrupt file stops here, before anything else
    base_url = _resume_base_url(args.base_url, directory / CLIPS_DIRNAME / JOBS_FILENAME)
    key = _key_for(base_url)
    with reporting(args.quiet, [key]) as view, _adapter(base_url, key, view) as adapter:
        view.seed(recorded)
        jobs = _orchestrator(adapter, args, base_url, directory, view).resume()
    print(status_table(jobs))
    return _exit_code(jobs)


def cmd_status(args: argparse.Namespace) -> int:
    print(status_table(_read_jobs(Path(args.dir))))
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from ..emulator import Emulator, Scenario

    out = Path(args.out)
    check_out_dir(out)
    key = throwaway_key()
    emulator = Emulator(api_key=key, default=Scenario(running_polls=2))
    emulator.rule(DEMO_PROMPTS[DEMO_FAILING_VARIANT], Scenario.named("download_not_found"))
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
    """A plain-text table: variant, status, operation, error, clip size.

    Operation names and errors come from a server: each cell is shown through ``one_line``.
    """
    header = ("VARIANT", "STATUS", "OPERATION", "ERROR", "CLIP")
    rows = [
        (
            one_line(job.variant),
            job.status.value,
            one_line(job.operation_name) or "-",
            one_line(job.error_message) or "-",
            size(job.clip_bytes) if job.status is JobStatus.DOWNLOADED else "-",
        )
        for job in jobs
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    )


def run_summary(summary: RunSummary | None) -> str:
    """One line on what ``run`` kept or resumed from an earlier run, or ``""`` if nothing."""
    if summary is None:
        return ""
    parts = []
    if summary.skipped:
        parts.append(f"{len(summary.skipped)} kept from the last run ({_names(summary.skipped)})")
    if summary.resumed:
        parts.append(f"{len(summary.resumed)} resumed ({_names(summary.resumed)})")
    if not parts:
        return ""
    return one_line(f"veo3: {', '.join(parts)}, {len(summary.submitted)} submitted")


def check_out_dir(out: Path) -> None:
    """Refuse an output directory that is a file, or whose parent is missing (a typo)."""
    if os.path.lexists(out) and not out.is_dir():
        raise UsageError(f"--out {out} is not a directory; pass a directory (or a new name)")
    if not out.exists() and not out.parent.is_dir():
        raise UsageError(
            f"--out {out}: {out.parent} is not an existing directory; "
            "create it first or pick another --out"
        )


def _names(variants: Sequence[str]) -> str:
    shown = ", ".join(variants[:_LISTED])
    return shown if len(variants) <= _LISTED else f"{shown} and {len(variants) - _LISTED} more"


def _key_for(base_url: str) -> str:
    """The key from the environment; a server on loopback (the emulator) does without."""
    key = key_from_env(os.environ)
    if key:
        return key
    if is_loopback_url(base_url):
        return throwaway_key()
    return api_key_from_env()


def _resume_base_url(given: str | None, jobs_path: Path) -> str:
    """``--base-url`` if given (a warning when it is not the recorded one), else the one
    recorded in jobs.json, else the live API's."""
    recorded = read_backend_info(jobs_path).get("base_url", "")
    if given is None:
        trusted = not recorded or is_loopback_url(recorded)
        if not trusted and recorded.rstrip("/") != DEFAULT_BASE_URL.rstrip("/"):
            # jobs.json is data from the output directory: a directory received from someone
            # else must not be able to send this machine's key to a server of their choosing.
            raise UsageError(
                f"jobs.json records the server {recorded}, which is neither the Gemini API nor "
                f"on this machine; to send your key there, say so: --base-url {recorded}"
            )
        return recorded or DEFAULT_BASE_URL
    if recorded and recorded.rstrip("/") != given.rstrip("/"):
        print(
            one_line(
                f"veo3: warning: using --base-url {given}, not {recorded} where this run "
                "was made (recorded in jobs.json)"
            ),
            file=sys.stderr,
        )
    return given


def _adapter(base_url: str, key: str, view: Progress) -> GeminiVeo3Adapter:
    return gemini_adapter(key, base_url=base_url, on_download_progress=view.download_progress)


def _orchestrator(
    adapter: VideoGenerationPort,
    args: argparse.Namespace,
    base_url: str,
    out: Path,
    view: Progress,
) -> Veo3Orchestrator:
    interval = args.poll_interval
    if interval is None:
        interval = LOCAL_POLL_INTERVAL if is_loopback_url(base_url) else LIVE_POLL_INTERVAL
    return Veo3Orchestrator(
        watch(adapter, view),
        out,
        poll_interval=interval,
        timeout=args.timeout,
        on_change=view.job_changed,
    )


def _exit_code(jobs: Sequence[Veo3Job]) -> int:
    return EXIT_OK if all(j.status is JobStatus.DOWNLOADED for j in jobs) else EXIT_JOB_FAILED


def _read_jobs(directory: Path) -> list[Veo3Job]:
    """The jobs of an earlier run in ``directory`` (read only; ``JobsFileError`` if corrupt)."""
    path = directory / CLIPS_DIRNAME / JOBS_FILENAME
    if not os.path.lexists(path):  # a link or FIFO there is named by read_jobs_json
        where = "the current directory" if directory == Path() else str(directory)
        raise UsageError(
            f"{where} has no veo3/jobs.json; pass the --out directory of an earlier run"
        )
    return read_jobs_json(path)
