"""The built-in scenario cassettes: what they hold, where they are, how they are recorded.

Regenerate them all (from the emulator, with a throwaway key, scrubbed) with::

    python -m pytest_veo3.scenarios cassettes/
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx  # noqa: F401  (annotations only; imported lazily at run time)

__all__ = [
    "SCENARIO_CASSETTES",
    "ScenarioCassette",
    "as_received",
    "builtin_cassette",
    "record_scenarios",
]


@dataclass(frozen=True)
class ScenarioCassette:
    """One built-in cassette: the emulator scenario it comes from and how the job ends."""

    name: str
    emulator_scenario: str
    running_polls: int
    status: str
    error_message: str = ""
    prompt: str = "A paper boat drifting down a rainy street, close-up"


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
        )
    }
)


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
) -> list[Path]:
    """Record the scenario cassettes into ``out_dir`` from the in-process emulator.

    Each run drives the real adapter and orchestrator; the emulator checks the key on every
    API call and that none reached its download origin. Returns the cassette paths.
    ``jobs_dir`` keeps each run's output (``<jobs_dir>/<name>/veo3/``: jobs.json and clip)
    for inspection; by default it goes to a temporary directory that is removed.
    """
    import httpx

    from veo3_adapter import Veo3Orchestrator
    from veo3_adapter.compose import LOCAL_PROFILE, gemini_adapter
    from veo3_adapter.emulator import Emulator, Scenario

    from .cassette import DEFAULT_BODY_THRESHOLD, RecordMode, open_cassette

    key = key or "record-" + secrets.token_hex(16)
    written: list[Path] = []
    for name in names or list(SCENARIO_CASSETTES):
        spec = SCENARIO_CASSETTES[name]
        scenario = Scenario.named(spec.emulator_scenario, running_polls=spec.running_polls)
        emulator = Emulator(api_key=key, default=scenario, sleep=lambda _s: None)
        # vcrpy records MockTransport traffic, so the in-process emulator is recorded as-is.
        inner = httpx.MockTransport(as_received(emulator.transport()))
        path = out_dir / f"{name}.yaml"
        path.unlink(missing_ok=True)
        with open_cassette(
            path,
            mode=RecordMode.ALL,
            secrets=(key,),
            body_threshold=body_threshold if body_threshold is not None else DEFAULT_BODY_THRESHOLD,
            source="veo3 emulator",
            base_url=emulator.api_base,
            inner=inner,
        ) as cassette:
            client = httpx.Client(transport=cassette.transport, follow_redirects=False)
            with client, contextlib.ExitStack() as stack:
                if jobs_dir is None:
                    output = Path(stack.enter_context(tempfile.TemporaryDirectory()))
                else:
                    output = jobs_dir / name
                adapter = gemini_adapter(
                    key,
                    base_url=emulator.api_base,
                    http_client=client,
                    profile=LOCAL_PROFILE,
                    sleep=lambda _s: None,
                )
                jobs = Veo3Orchestrator(
                    adapter, output, poll_interval=0, sleep=lambda _s: None
                ).run({name: spec.prompt})
        if emulator.key_leaks:
            raise RuntimeError(f"scenario {name}: the key reached the download origin")
        job = jobs[0]
        if (job.status.value, job.error_message) != (spec.status, spec.error_message):
            raise RuntimeError(
                f"scenario {name} ended {job.status.value}/{job.error_message!r}, expected "
                f"{spec.status}/{spec.error_message!r}"
            )
        written.append(path)
    return written


def as_received(transport: httpx.BaseTransport) -> Callable[[httpx.Request], httpx.Response]:
    """A handler that returns what a client received, even when the body broke off.

    vcrpy records nothing for a response whose body raises; a socket client would have kept
    the bytes read before the break, with the full ``Content-Length``. Recording that makes a
    truncated download replay as a truncated download.
    """
    import httpx

    def handle(request: httpx.Request) -> httpx.Response:
        response = transport.handle_request(request)
        received = bytearray()
        try:
            for chunk in response.stream:  # type: ignore[union-attr]
                received += chunk
        except httpx.TransportError:
            pass
        finally:
            response.close()
        return httpx.Response(
            response.status_code, headers=response.headers, content=bytes(received)
        )

    return handle


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
    for path in record_scenarios(args.out_dir, names=args.names or None):
        print(f"recorded {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
