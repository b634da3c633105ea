"""``veo3 demo``: the whole pipeline on the built-in emulator, offline, with no credential.

On the Gemini API's routes or on Vertex AI's (regional, with an output bucket, so the clips
come through the emulator's Cloud Storage route). Without ``--backend`` the installed
google-genai decides: 2.x submits on the Gemini API, 3.x only on Vertex AI.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..compose import (
    LOCAL_PROFILE,
    gemini_adapter,
    sdk_major,
    sdk_version,
    static_token_credentials,
    vertex_adapter,
)
from ..models import ErrorCode, JobStatus
from ..orchestrator import Veo3Orchestrator
from ._backends import GEMINI, VERTEX, VERTEX_LOCATION
from ._commands import check_out_dir, status_table
from ._common import EXIT_JOB_FAILED, EXIT_OK, UsageError, throwaway_key
from ._events import reporting, watch

if TYPE_CHECKING:
    from ..gemini import GeminiVeo3Adapter
    from ..vertex import VertexVeo3Adapter

__all__ = [
    "DEMO_BUCKET",
    "DEMO_FAILING_VARIANT",
    "DEMO_PROJECT",
    "DEMO_PROMPTS",
    "cmd_demo",
    "default_backend",
]

DEMO_PROMPTS = {
    "sunrise": "A time-lapse of the sun rising over a misty pine forest",
    "harbour": "A slow dolly shot along a harbour at dusk, boats rocking gently",
    "lighthouse": "A lighthouse in a storm, waves crashing over the rocks",
}
DEMO_FAILING_VARIANT = "lighthouse"
DEMO_POLL_INTERVAL = 0.1
DEMO_PROJECT = "veo3-demo"
DEMO_BUCKET = "gs://veo3-demo/renders/"


def default_backend() -> str:
    """The demo's backend for the installed google-genai: gemini on 2.x, vertex on 3.x
    (where the Gemini API no longer submits video generations)."""
    return GEMINI if sdk_major() < 3 else VERTEX


def cmd_demo(args: argparse.Namespace) -> int:
    from ..emulator import Emulator, Scenario

    backend = args.backend or default_backend()
    if backend == GEMINI and sdk_major() >= 3:
        raise UsageError(
            f"--backend gemini needs google-genai 2.x to submit (installed: {sdk_version()}, "
            "which generates video only through Vertex AI); use --backend vertex"
        )
    out = Path(args.out)
    check_out_dir(out)
    secret = throwaway_key()  # the key (Gemini API) or the bearer token (Vertex AI)
    emulator = Emulator(
        api_key=secret if backend == GEMINI else None,
        token=secret if backend == VERTEX else None,
        default=Scenario(running_polls=2),
    )
    emulator.rule(DEMO_PROMPTS[DEMO_FAILING_VARIANT], Scenario.named("download_not_found"))
    if not args.quiet:
        print(
            f"veo3 demo: {len(DEMO_PROMPTS)} variants on "
            f"{_picked(backend, chosen=args.backend is not None)}, output in {out}"
        )
        print(f"  ({DEMO_FAILING_VARIANT!r} is scripted to fail its download)", flush=True)
    with emulator.serve() as base_url, reporting(args.quiet, [secret]) as view:
        adapter: GeminiVeo3Adapter | VertexVeo3Adapter
        if backend == GEMINI:
            adapter = gemini_adapter(
                secret,
                base_url=base_url,
                profile=LOCAL_PROFILE,
                on_download_progress=view.download_progress,
            )
        else:
            adapter = vertex_adapter(
                project=DEMO_PROJECT,
                location=VERTEX_LOCATION,
                credentials=static_token_credentials(secret),
                output_gcs_uri=DEMO_BUCKET,
                base_url=base_url,
                storage_base_url=base_url,
                profile=LOCAL_PROFILE,
                on_download_progress=view.download_progress,
            )
        with adapter:
            orchestrator = Veo3Orchestrator(
                watch(adapter, view),
                out,
                poll_interval=DEMO_POLL_INTERVAL,
                timeout=60.0,
                submit_rate=None,  # the emulator has no quota to stay under
                on_change=view.job_changed,
            )
            jobs = orchestrator.run(DEMO_PROMPTS)
    print(status_table(jobs))
    if emulator.key_leaks:
        print("veo3 demo: a credential reached an origin it must not reach", file=sys.stderr)
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


def _picked(backend: str, *, chosen: bool) -> str:
    """Which routes the demo runs on, and why when the installed google-genai picked them."""
    service = {GEMINI: "Gemini API", VERTEX: "Vertex AI"}
    notes = ["regional, clips from a Cloud Storage bucket"] if backend == VERTEX else []
    if not chosen:
        other = GEMINI if backend == VERTEX else VERTEX
        notes.append(
            f"the default with google-genai {sdk_version()}; --backend {other} "
            f"for the {service[other]} routes"
        )
    detail = f" ({'; '.join(notes)})" if notes else ""
    return f"the built-in emulator's {service[backend]} routes{detail}"
