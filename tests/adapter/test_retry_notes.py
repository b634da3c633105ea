"""Submit, poll and download retry through one loop, and every retry is a note for a view.

The submit's note needs a Gemini API submit: that test runs on google-genai 2.x only.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
import respx
from _kit.sdk import needs_gemini_submit

from veo3_adapter import JobStatus, Veo3Job
from veo3_adapter.retry import NOTE_ATTR, Note

if TYPE_CHECKING:
    from _kit.adapters import AdapterFactory
    from _kit.clock import SleepRecorder
    from _kit.wire import Wire


def notes(caplog: pytest.LogCaptureFixture) -> list[tuple[str, Note]]:
    return [(r.name, getattr(r, NOTE_ATTR)) for r in caplog.records if hasattr(r, NOTE_ATTR)]


def test_every_retry_of_poll_and_download_is_a_note(
    router: respx.MockRouter,
    wire: Wire,
    make_adapter: AdapterFactory,
    noop_sleep: SleepRecorder,
    clip: bytes,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    name = wire.op_name()
    router.get(wire.op_url(name)).mock(
        side_effect=[
            httpx.Response(429, headers={"retry-after": "7"}, json={"error": {"code": 429}}),
            httpx.Response(200, json=wire.done(name, wire.file_uri())),
            httpx.Response(200, json=wire.done(name, wire.file_uri())),
        ]
    )
    router.get(wire.file_url()).mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(200, content=clip)]
    )
    adapter = make_adapter()
    job = Veo3Job(variant="a", prompt="a cat", status=JobStatus.SUBMITTED, operation_name=name)
    with caplog.at_level(logging.INFO, logger="veo3_adapter"):
        job = adapter.poll_job(job)
        assert job.status is JobStatus.GENERATED
        adapter.download_clip(job, tmp_path / "a.mp4")

    assert noop_sleep.delays == [7.0, 1.0]
    assert notes(caplog) == [
        ("veo3_adapter.gemini", Note(kind="retry", what=f"poll of operation {name}", delay=7.0)),
        (
            "veo3_adapter.download",
            Note(kind="retry", what=f"download of operation {name}", delay=1.0),
        ),
    ]
    messages = [r.getMessage() for r in caplog.records if hasattr(r, NOTE_ATTR)]
    assert messages[0] == f"poll of operation {name}: HTTP 429; retry 1 of 2 in 7.0s"
    assert messages[1].startswith(f"download of operation {name}: could not reach ")
    assert messages[1].endswith("(ConnectError); retry 1 of 2 in 1.0s")


@needs_gemini_submit
def test_every_retry_of_submit_is_a_note(
    router: respx.MockRouter,
    wire: Wire,
    make_adapter: AdapterFactory,
    noop_sleep: SleepRecorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    unavailable = httpx.Response(503, json=wire.api_error(503, "busy", "UNAVAILABLE"))
    router.post(wire.submit_url()).mock(
        side_effect=[unavailable, httpx.Response(200, json=wire.submitted(wire.op_name()))]
    )
    with caplog.at_level(logging.INFO, logger="veo3_adapter"):
        make_adapter().submit_job("a", "a cat")

    assert noop_sleep.delays == [1.0]
    assert notes(caplog) == [
        ("veo3_adapter.gemini", Note(kind="retry", what="submit of variant 'a'", delay=1.0)),
    ]
    messages = [r.getMessage() for r in caplog.records if hasattr(r, NOTE_ATTR)]
    assert messages == ["submit of variant 'a': HTTP 503; retry 1 of 2 in 1.0s"]


@pytest.mark.parametrize(
    ("header", "delay"),
    [("\u00b2", 1.0), ("\u0663", 1.0), ("9" * 5000, 120.0)],
    ids=["superscript two", "arabic-indic three", "5000 digits"],
)
def test_a_number_python_reads_but_http_does_not_is_no_crash(
    router: respx.MockRouter,
    wire: Wire,
    make_adapter: AdapterFactory,
    noop_sleep: SleepRecorder,
    clip: bytes,
    tmp_path: Path,
    header: str,
    delay: float,
) -> None:
    # "²".isdigit() is True but float("²") fails; 5000 digits are past int()'s limit.
    name = wire.op_name()
    router.get(wire.op_url(name)).respond(200, json=wire.done(name, wire.file_uri()))
    refused = httpx.Response(503, headers={"retry-after": header.encode()})
    served = httpx.Response(200, headers={"content-length": header.encode()}, content=clip)
    router.get(wire.file_url()).mock(side_effect=[refused, served])
    job = Veo3Job(variant="a", prompt="p", status=JobStatus.GENERATED, operation_name=name)
    dest = tmp_path / "a.mp4"
    make_adapter().download_clip(job, dest)
    assert dest.read_bytes() == clip
    assert noop_sleep.delays == [delay]  # backoff, or the cap: never a crash
