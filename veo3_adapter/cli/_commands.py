"""The ``veo3`` subcommands: run, resume, status, cassettes audit (``demo`` is in ``_demo``,
``emulator`` in ``_serve``, how a backend is chosen and reached in ``_backends``).

Each takes the parsed arguments and returns the exit code; a problem the user fixes raises
:class:`~._common.UsageError`.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path, PurePath

from ..errors import InvalidInputsError
from ..models import GenerationOptions, JobInputs, JobStatus, RunSummary, Veo3Job
from ..orchestrator import CLIPS_DIRNAME, JOBS_FILENAME, SUBMIT_RATE, Veo3Orchestrator
from ..port import VideoGenerationPort
from ..store import read_jobs_json
from ._backends import Target, access_for, api_key_from_env, open_adapter, resume_target, run_target
from ._common import EXIT_INTERRUPTED, EXIT_JOB_FAILED, EXIT_OK, UsageError, one_line, size
from ._events import reporting, watch
from ._progress import Progress
from ._prompts import read_prompts_file
from ._signals import stopping_on_signals

__all__ = [
    "api_key_from_env",
    "cmd_audit",
    "cmd_resume",
    "cmd_run",
    "check_out_dir",
    "cmd_status",
    "inputs_cell",
    "run_summary",
    "status_table",
]

LIVE_POLL_INTERVAL = 10.0
"""Seconds between polls of the live API: a generation takes minutes."""
LOCAL_POLL_INTERVAL = 0.2
"""Seconds between polls of a server on loopback: the emulator answers at once."""
GENERATION_TIMEOUT = 900.0
_LISTED = 5  # variants named in the summary line before "and N more"


def cmd_run(args: argparse.Namespace) -> int:
    target = run_target(args)
    asked = read_prompts_file(Path(args.prompts))
    prompts = asked.prompts
    out = Path(args.out)
    check_out_dir(out)
    access = access_for(target)
    jobs_path = out / CLIPS_DIRNAME / JOBS_FILENAME
    earlier = read_jobs_json(jobs_path) if os.path.lexists(jobs_path) else []
    with (
        reporting(args.quiet, access.secrets) as view,
        open_adapter(target, access, view) as adapter,
    ):
        # What an earlier run left is shown as it is: a clip kept is no event of this run.
        view.seed([job for job in earlier if job.variant in prompts])
        orchestrator = _orchestrator(adapter, args, target, out, view)
        try:
            with stopping_on_signals(orchestrator.stop):
                jobs = orchestrator.run(
                    prompts, options=asked.options, inputs=asked.inputs, force=args.force
                )
        except InvalidInputsError as exc:  # an image, extension or option of the file's
            raise UsageError(f"prompts file {args.prompts}: {_refusal(exc, target)}") from None
    line = run_summary(orchestrator.last_run)
    if line and not args.quiet:
        print(line, file=sys.stderr)
    print(status_table(jobs))
    return _exit_code(jobs, orchestrator, out)


def cmd_resume(args: argparse.Namespace) -> int:
    directory = Path(args.dir)
    recorded = _read_jobs(directory)  # a corrupt file stops here, before anything else
    target = resume_target(args.base_url, directory / CLIPS_DIRNAME / JOBS_FILENAME)
    access = access_for(target)
    with (
        reporting(args.quiet, access.secrets) as view,
        open_adapter(target, access, view) as adapter,
    ):
        view.seed(recorded)
        orchestrator = _orchestrator(adapter, args, target, directory, view)
        with stopping_on_signals(orchestrator.stop):
            jobs = orchestrator.resume()
    print(status_table(jobs))
    return _exit_code(jobs, orchestrator, directory)


def cmd_status(args: argparse.Namespace) -> int:
    print(status_table(_read_jobs(Path(args.dir))))
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


def status_table(jobs: Sequence[Veo3Job]) -> str:
    """A plain-text table: variant, status, operation, error, clip size (the first clip's).

    When a job asks for several videos, a SAMPLES column says how many of those asked for
    were downloaded ("1/2"). When a job has inputs, an INPUTS column names them
    (:func:`inputs_cell`). Operation names and errors come from a server: each cell is
    shown through ``one_line``.
    """
    header: tuple[str, ...] = ("VARIANT", "STATUS", "OPERATION", "ERROR", "CLIP")
    rows: list[tuple[str, ...]] = [
        (
            one_line(job.variant),
            job.status.value,
            one_line(job.operation_name) or "-",
            one_line(job.error_message) or "-",
            size(job.clip_bytes) if job.status is JobStatus.DOWNLOADED else "-",
        )
        for job in jobs
    ]
    asked = [job.options.number_of_videos or 1 for job in jobs]
    if any(n > 1 for n in asked) or any(job.samples for job in jobs):
        header += ("SAMPLES",)
        rows = [
            (*row, f"{job.clips_downloaded}/{n}")
            for row, job, n in zip(rows, jobs, asked, strict=True)
        ]
    if any(job.inputs for job in jobs):
        header += ("INPUTS",)
        rows = [(*row, inputs_cell(job.inputs)) for row, job in zip(rows, jobs, strict=True)]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    )


def inputs_cell(inputs: JobInputs) -> str:
    """A job's inputs in a few words: the frames' file names, how many reference images,
    the variant extended (``image a.png, last_frame b.jpg``), or ``-`` for none."""
    frames = (("image", inputs.image), ("last_frame", inputs.last_frame))
    parts = [f"{name} {PurePath(file.path).name}" for name, file in frames if file is not None]
    if inputs.reference_images:
        count = len(inputs.reference_images)
        parts.append(f"{count} reference image{'s' if count > 1 else ''}")
    if inputs.extend:
        parts.append(f"extends {inputs.extend}")
    return one_line(", ".join(parts)) or "-"


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


def _orchestrator(
    adapter: VideoGenerationPort,
    args: argparse.Namespace,
    target: Target,
    out: Path,
    view: Progress,
) -> Veo3Orchestrator:
    interval = args.poll_interval
    if interval is None:
        interval = LOCAL_POLL_INTERVAL if target.local else LIVE_POLL_INTERVAL
    rate = args.submit_rate
    if rate is None:  # the emulator has no quota to stay under
        rate = 0.0 if target.local else SUBMIT_RATE
    return Veo3Orchestrator(
        watch(adapter, view),
        out,
        poll_interval=interval,
        timeout=args.timeout,
        concurrency=args.concurrency,
        submit_rate=rate or None,
        on_change=view.job_changed,
    )


def _refusal(exc: InvalidInputsError, target: Target) -> str:
    """``exc`` in the command's terms: an option the backend refuses names ``--backend``."""
    option = exc.field.removeprefix("options.")
    if option == exc.field:
        return str(exc)
    only = GenerationOptions.only_on().get(option)
    return (
        f"variant {exc.variant!r}: {exc.field}: --backend {target.backend} does not take it"
        + (f" (only --backend {only} does)" if only else "")
        + "; nothing was sent"
    )


def _exit_code(jobs: Sequence[Veo3Job], orchestrator: Veo3Orchestrator, out: Path) -> int:
    if orchestrator.stopped:
        again = one_line(f"veo3 resume {shlex.quote(str(out))}")
        print(f"veo3: stopped; run `{again}` to continue", file=sys.stderr)
        return EXIT_INTERRUPTED
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
