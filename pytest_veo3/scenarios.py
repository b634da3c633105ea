"""The built-in scenario cassettes: what they hold, where they are, how they are recorded.

Regenerate them all (from the emulator, with a throwaway key, scrubbed) with::

    python -m pytest_veo3.scenarios cassettes/

or some of them by name (``... cassettes/ vertex_success vertex_inline``). The Gemini API
ones are recorded with a key; the Vertex AI ones (``vertex_*``) from the emulator's Vertex
routes with made-up credentials, a made-up project and bucket, which the cassettes keep as
placeholders only (``veo3-project``, ``veo3-bucket``); the recorder checks that neither
name, nor the token, nor the key is in what it wrote. Recording the Gemini API ones takes
google-genai 2.x (3.x does not submit there): on 3.x they are refused before anything is
written.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ._backends import GEMINI, VERTEX
from ._recorder import as_received

__all__ = [
    "SCENARIO_CASSETTES",
    "ScenarioCassette",
    "as_received",
    "builtin_cassette",
    "record_scenarios",
]


@dataclass(frozen=True)
class ScenarioCassette:
    """One built-in cassette: the emulator scenario it comes from and how the job ends.

    ``backend`` is the service recorded (``gemini`` or ``vertex``). A Vertex AI cassette
    gets its video through a bucket (``via_bucket``: a ``gs://`` URI read from Cloud
    Storage) or inline. ``emulator_changes`` adjust the named emulator scenario;
    ``body_threshold`` overrides the size above which bodies go to body files. The submit
    carries a first frame with ``image`` (a small PNG: ``_recorder.first_frame_png``) and
    asks for ``number_of_videos``. Replay answers a request of the same shape: any prompt,
    options and image bytes, but the same kinds of input and number of videos.
    """

    name: str
    emulator_scenario: str
    running_polls: int
    status: str
    error_message: str = ""
    prompt: str = "A paper boat drifting down a rainy street, close-up"
    backend: str = GEMINI
    via_bucket: bool = False
    emulator_changes: tuple[tuple[str, Any], ...] = ()
    body_threshold: int | None = None
    image: bool = False
    number_of_videos: int = 1


_FRAME_PROMPT = "The paper boat of the first frame sails off down the rainy street"
_TAKES_PROMPT = "A paper boat drifting down a rainy street, two takes"
_TAKES: tuple[tuple[str, Any], ...] = (("video_size", 4096),)

SCENARIO_CASSETTES: Mapping[str, ScenarioCassette] = MappingProxyType(
    {
        s.name: s
        for s in (
            ScenarioCassette("success", "success", 2, "downloaded"),
            ScenarioCassette("rai_filtered", "rai_filtered", 0, "failed", "rai_filtered"),
            ScenarioCassette(
                "operation_error", "operation_error", 0, "failed", "generation_failed"
            ),
            ScenarioCassette(
                "download_not_found", "download_not_found", 0, "failed", "download_failed"
            ),
            ScenarioCassette(
                "download_forbidden", "download_forbidden", 0, "failed", "download_failed"
            ),
            ScenarioCassette("download_server_error", "download_server_error", 0, "downloaded"),
            ScenarioCassette("rate_limited", "rate_limited", 0, "downloaded"),
            ScenarioCassette("truncated_download", "truncated_download", 0, "downloaded"),
            # A defence, not the live flow: the download redirects to a second origin,
            # which must never see the key.
            ScenarioCassette("cross_origin_redirect", "cross_origin_redirect", 0, "downloaded"),
            # One submit, refused with a per-day quota's 429: not retried, nothing started.
            ScenarioCassette(
                "quota_exhausted_daily", "quota_exhausted_daily", 0, "failed", "quota_exhausted"
            ),
            # Vertex AI: the video in a bucket, read from Cloud Storage (X-Goog-Hash checked).
            ScenarioCassette(
                "vertex_success", "success", 2, "downloaded", backend=VERTEX, via_bucket=True
            ),
            # No bucket: the video comes base64 in the done answer, stored as a body file.
            ScenarioCassette(
                "vertex_inline", "success", 0, "downloaded", backend=VERTEX, body_threshold=1024
            ),
            ScenarioCassette(
                "vertex_rai_filtered",
                "rai_filtered",
                0,
                "failed",
                "rai_filtered",
                backend=VERTEX,
                via_bucket=True,
            ),
            # 403 PERMISSION_DENIED on the submit: the batch stops, nothing started.
            ScenarioCassette(
                "vertex_permission_denied",
                "success",
                0,
                "failed",
                "submit_failed",
                backend=VERTEX,
                via_bucket=True,
                emulator_changes=(("submit_status", 403),),
            ),
            # Vertex AI twins of the Gemini API's failures (google-genai 3.x submits only
            # there): the same emulator scenarios, the video (when there is one) in the bucket.
            ScenarioCassette(
                "vertex_operation_error",
                "operation_error",
                0,
                "failed",
                "generation_failed",
                backend=VERTEX,
                via_bucket=True,
            ),
            ScenarioCassette(
                "vertex_download_not_found",
                "download_not_found",
                0,
                "failed",
                "download_failed",
                backend=VERTEX,
                via_bucket=True,
            ),
            ScenarioCassette(
                "vertex_download_forbidden",
                "download_forbidden",
                0,
                "failed",
                "download_failed",
                backend=VERTEX,
                via_bucket=True,
            ),
            ScenarioCassette(
                "vertex_quota_exhausted_daily",
                "quota_exhausted_daily",
                0,
                "failed",
                "quota_exhausted",
                backend=VERTEX,
                via_bucket=True,
            ),
            # Inputs, on each backend: a first frame (image-to-video); two videos of one
            # request, larger than the sample clip so that each is bytes of its own.
            ScenarioCassette(
                "image_to_video", "success", 0, "downloaded", prompt=_FRAME_PROMPT, image=True
            ),
            ScenarioCassette(
                "two_samples",
                "success",
                0,
                "downloaded",
                prompt=_TAKES_PROMPT,
                emulator_changes=_TAKES,
                number_of_videos=2,
            ),
            ScenarioCassette(
                "vertex_image_to_video",
                "success",
                0,
                "downloaded",
                prompt=_FRAME_PROMPT,
                backend=VERTEX,
                via_bucket=True,
                image=True,
            ),
            ScenarioCassette(
                "vertex_two_samples",
                "success",
                0,
                "downloaded",
                prompt=_TAKES_PROMPT,
                backend=VERTEX,
                via_bucket=True,
                emulator_changes=_TAKES,
                number_of_videos=2,
            ),
        )
    }
)
"""Every built-in cassette by name; ``vertex_*`` are Vertex AI's, the others the Gemini API's."""


def builtin_cassette(name: str) -> Path | None:
    """The shipped cassette called ``name``, if there is one."""
    if name not in SCENARIO_CASSETTES:
        return None
    path = Path(str(resources.files("pytest_veo3.cassettes").joinpath(f"{name}.yaml")))
    return path if path.is_file() else None


def record_scenarios(
    out_dir: Path,
    *,
    key: str | None = None,
    names: Sequence[str] | None = None,
    body_threshold: int | None = None,
    jobs_dir: Path | None = None,
    token: str | None = None,
    project: str | None = None,
    bucket: str | None = None,
) -> list[Path]:
    """Record the scenario cassettes into ``out_dir`` from the in-process emulator.

    Each run drives the real adapter and orchestrator; the emulator checks the key (or the
    bearer token) on every API call and that none reached where it does not belong.
    ``token``, ``project`` and ``bucket`` are what the Vertex AI runs use (made up when not
    given); the cassettes hold placeholders instead. Returns the cassette paths.
    ``jobs_dir`` keeps each run's output (``<jobs_dir>/<name>/veo3/``: jobs.json and clip)
    for inspection; by default it goes to a temporary directory that is removed.
    """
    from ._recorder import VertexRecording, record_gemini, reveals_nothing

    wanted = list(names or SCENARIO_CASSETTES)
    _check_sdk_records(wanted)
    key = key or "record-" + secrets.token_hex(16)
    vertex = VertexRecording(
        # Shaped like a Google access token, so the shape rules are exercised as well.
        token or "ya29." + secrets.token_urlsafe(40),
        project or "record-" + secrets.token_hex(5),
        bucket or "record-" + secrets.token_hex(5) + "-renders",
    )
    written: list[Path] = []
    for name in wanted:
        spec = SCENARIO_CASSETTES[name]
        path = out_dir / f"{name}.yaml"
        path.unlink(missing_ok=True)
        threshold = spec.body_threshold if body_threshold is None else body_threshold
        with contextlib.ExitStack() as stack:
            if jobs_dir is None:
                output = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            else:
                output = jobs_dir / name
            if spec.backend == VERTEX:
                job = vertex.record(spec, path, key, output, threshold)
            else:
                job = record_gemini(spec, path, key, output, threshold)
        if (job.status.value, job.error_message) != (spec.status, spec.error_message):
            raise RuntimeError(
                f"scenario {name} ended {job.status.value}/{job.error_message!r}, expected "
                f"{spec.status}/{spec.error_message!r}"
            )
        if spec.backend == VERTEX:
            reveals_nothing(path, (key, *vertex.real_names()))
        written.append(path)
    return written


def _check_sdk_records(names: Sequence[str]) -> None:
    """Refuse, before anything is written, Gemini API scenarios the installed google-genai
    cannot record (3.x does not submit to the Gemini API)."""
    from veo3_adapter import _sdk

    gemini = [name for name in names if SCENARIO_CASSETTES[name].backend == GEMINI]
    if gemini and not _sdk.gemini_submits_video():
        vertex = [name for name, spec in SCENARIO_CASSETTES.items() if spec.backend == VERTEX]
        raise RuntimeError(
            f"recording {', '.join(gemini)} submits to the Gemini API, which google-genai "
            f"{_sdk.sdk_version()} does not do: record them with google-genai<3, or name only "
            f"Vertex AI scenarios ({', '.join(vertex)})"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pytest_veo3.scenarios",
        description="Record the built-in scenario cassettes from the veo3 emulator.",
    )
    parser.add_argument("out_dir", type=Path, help="where to write them (the repo's cassettes/)")
    parser.add_argument(
        "names", nargs="*", help=f"scenarios (default: all of {list(SCENARIO_CASSETTES)})"
    )
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in SCENARIO_CASSETTES]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    try:
        written = record_scenarios(args.out_dir, names=args.names or None)
    except RuntimeError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(f"recorded {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
