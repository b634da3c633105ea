"""The hooks the command's progress is built on, in process on the emulator's transport:
``Veo3Orchestrator(on_change=)``, the adapter's ``on_download_progress``, and the notes the
package's retry log records carry; with the adapter of the backend that submits with the
installed google-genai (``SUBMITS``)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from _kit.cli import SUBMITS

from veo3_adapter import JobStatus, RetryPolicy, Veo3Job, Veo3Orchestrator
from veo3_adapter.cli._events import reporting
from veo3_adapter.emulator import Emulator, Scenario
from veo3_adapter.store import read_jobs_json

Report = tuple[str, int, int | None]


def _orchestrator(
    emulator: Emulator,
    key: str,
    out: Path,
    *,
    on_change: Callable[[Veo3Job], None] | None = None,
    on_download_progress: Callable[[str, int, int | None], None] | None = None,
) -> Veo3Orchestrator:
    http = httpx.Client(transport=emulator.transport(), follow_redirects=False)
    adapter = SUBMITS.adapter(
        key,
        emulator.api_base,
        http_client=http,
        sleep=lambda _: None,
        rand=lambda: 0.0,
        retry=RetryPolicy(attempts=3, jitter=0.0),
        on_download_progress=on_download_progress,
    )
    return Veo3Orchestrator(
        adapter, out, poll_interval=0, sleep=lambda _: None, on_change=on_change
    )


def test_on_change_sees_every_state_after_it_is_saved(
    emulator: Emulator, key: str, out: Path
) -> None:
    emulator.default = Scenario(running_polls=1)
    seen: list[JobStatus] = []

    def on_change(job: Veo3Job) -> None:
        saved = {j.variant: j.status for j in read_jobs_json(out / "veo3" / "jobs.json")}
        assert saved[job.variant] is job.status  # already durable when we hear of it
        seen.append(job.status)

    _orchestrator(emulator, key, out, on_change=on_change).run({"a": "a cat"})

    assert [status for status, _ in itertools.groupby(seen)] == [
        JobStatus.PENDING,
        JobStatus.SUBMITTED,
        JobStatus.GENERATED,
        JobStatus.DOWNLOADED,
    ]


def test_on_download_progress_counts_up_to_the_clip_size_across_a_resumed_body(
    emulator: Emulator, key: str, out: Path
) -> None:
    size = 64 * 1024
    emulator.default = Scenario(
        video_size=size, chunk_size=8 * 1024, truncate_at=20 * 1024, ranges=True
    )
    reports: list[Report] = []

    def record(variant: str, written: int, total: int | None) -> None:
        reports.append((variant, written, total))

    [job] = _orchestrator(emulator, key, out, on_download_progress=record).run({"c": "a cat"})

    assert job.status is JobStatus.DOWNLOADED
    assert {variant for variant, _, _ in reports} == {"c"}
    assert {total for _, _, total in reports} == {size}
    assert reports[0] == ("c", 0, size)
    assert reports[-1] == ("c", size, size)
    written = [w for _, w, _ in reports]
    assert 20 * 1024 in written  # where the first body broke off; the second resumed there
    assert written == sorted(written)


def test_retries_of_a_poll_and_a_download_reach_the_progress_as_notes(
    emulator: Emulator, key: str, out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.default = Scenario(poll_failures=(503,), download_failures=(500,))

    with reporting(quiet=False, redact=[key]) as view:
        orchestrator = _orchestrator(emulator, key, out, on_change=view.job_changed)
        [job] = orchestrator.run({"a": "a cat"})

    assert job.status is JobStatus.DOWNLOADED
    notes = [line for line in capsys.readouterr().err.splitlines() if "; retry 1 " in line]
    assert [note.split(":")[1].split()[0] for note in notes] == ["poll", "download"], notes
