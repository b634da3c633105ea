"""The API key never appears in a log record, an error, a traceback or jobs.json.

Every failure below is answered by a server that echoes the key back in its error body, the
worst case: whatever the adapter copies out of an answer must be scrubbed.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
import respx
from _kit.sdk import WireSubmit, needs_gemini_submit, run_gemini

from veo3_adapter import (
    GeminiVeo3Adapter,
    JobStatus,
    Veo3Error,
    Veo3GenerationError,
    Veo3Job,
    Veo3Orchestrator,
)
from veo3_adapter.audit import audit_paths

if TYPE_CHECKING:
    from _kit.adapters import AdapterFactory
    from _kit.clock import FakeClock
    from _kit.wire import Wire

LOGGERS = ["", "httpx", "httpcore", "google_genai", "google", "veo3_adapter", "respx"]
OPS = {"ok": "okokokokokok", "dl403": "dl403dl403dl", "gone": "gonegonegone"}


@pytest.fixture(autouse=True)
def debug_logging(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    yield


def echo(api_key: str, code: int, status: str) -> dict[str, object]:
    return {
        "error": {
            "code": code,
            "message": f"API key not valid. Please pass a valid API key. (got {api_key})",
            "status": status,
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "key": api_key}],
        }
    }


def serve_echoing_server(router: respx.MockRouter, wire: Wire, clip: bytes, api_key: str) -> None:
    def submit(request: httpx.Request) -> httpx.Response:
        prompt = json.loads(request.content)["instances"][0]["prompt"]
        if prompt == "bad":
            return httpx.Response(400, json=echo(api_key, 400, "INVALID_ARGUMENT"))
        return httpx.Response(200, json=wire.submitted(wire.op_name(OPS[prompt])))

    router.post(wire.submit_url()).mock(side_effect=submit)
    for prompt, op_id in OPS.items():
        name = wire.op_name(op_id)
        if prompt == "gone":
            router.get(wire.op_url(name)).respond(404, json=echo(api_key, 404, "NOT_FOUND"))
        else:
            router.get(wire.op_url(name)).respond(200, json=wire.done(name, wire.file_uri(op_id)))
    router.get(wire.file_url(OPS["ok"])).respond(200, content=clip)
    router.get(wire.file_url(OPS["dl403"])).respond(
        403, json=echo(api_key, 403, "PERMISSION_DENIED")
    )


def assert_clean(api_key: str, caplog: pytest.LogCaptureFixture, *texts: str) -> None:
    assert caplog.records, "nothing was logged: the check would prove nothing"
    for record in caplog.records:
        assert api_key not in record.getMessage(), record.name
        assert api_key not in repr(record.args), record.name
    assert api_key not in caplog.text
    for text in texts:
        assert api_key not in text


def error_texts(error: BaseException) -> str:
    """Everything a log of this error could show: str, repr and the full chained traceback."""
    return "\n".join([str(error), repr(error), "".join(traceback.format_exception(error))])


def test_orchestrated_run_with_failures_leaks_nothing(
    router: respx.MockRouter,
    wire: Wire,
    clip: bytes,
    api_key: str,
    make_adapter: AdapterFactory,
    fake_clock: FakeClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    wire_submit: WireSubmit,
) -> None:
    serve_echoing_server(router, wire, clip, api_key)
    orch = Veo3Orchestrator(make_adapter(), tmp_path, sleep=fake_clock.sleep, clock=fake_clock)
    prompts = {v: v for v in ["ok", "dl403", "gone"]}
    jobs = {j.variant: j for j in run_gemini(orch, prompts, wire_submit)}

    assert jobs["ok"].status is JobStatus.DOWNLOADED
    assert jobs["dl403"].error_message == "download_failed"
    assert jobs["gone"].error_message == "operation_not_found"
    assert "REDACTED" in jobs["dl403"].error_detail  # the echo was there, and was scrubbed
    jobs_text = orch.jobs_path.read_text(encoding="utf-8")
    assert_clean(api_key, caplog, jobs_text, repr(list(jobs.values())))
    assert audit_paths([tmp_path]) == []  # jobs.json, clips, lock: nothing key-shaped
    assert any(r.name.startswith("httpx") for r in caplog.records)
    assert any(r.name.startswith("veo3_adapter") for r in caplog.records)


@needs_gemini_submit
def test_an_orchestrated_refused_submit_leaks_nothing(
    router: respx.MockRouter,
    wire: Wire,
    clip: bytes,
    api_key: str,
    make_adapter: AdapterFactory,
    fake_clock: FakeClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    serve_echoing_server(router, wire, clip, api_key)
    orch = Veo3Orchestrator(make_adapter(), tmp_path, sleep=fake_clock.sleep, clock=fake_clock)
    jobs = {j.variant: j for j in orch.run({"ok": "ok", "bad": "bad"})}

    assert jobs["ok"].status is JobStatus.DOWNLOADED
    assert jobs["bad"].error_message == "submit_failed"
    assert "REDACTED" in jobs["bad"].error_detail  # the echo was there, and was scrubbed
    jobs_text = orch.jobs_path.read_text(encoding="utf-8")
    assert_clean(api_key, caplog, jobs_text, repr(list(jobs.values())))
    assert audit_paths([tmp_path]) == []
    assert any(r.name.startswith("httpx") for r in caplog.records)
    assert any(r.name.startswith("veo3_adapter") for r in caplog.records)


def test_raised_errors_and_their_tracebacks_leak_nothing(
    router: respx.MockRouter,
    wire: Wire,
    clip: bytes,
    api_key: str,
    make_adapter: AdapterFactory,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    serve_echoing_server(router, wire, clip, api_key)
    router.get(wire.op_url(wire.op_name("forbidden403"))).respond(
        403, json=echo(api_key, 403, "PERMISSION_DENIED")
    )
    adapter = make_adapter()

    def job(op_id: str) -> Veo3Job:
        name = wire.op_name(op_id)
        return Veo3Job(variant="v", prompt="p", status=JobStatus.GENERATED, operation_name=name)

    calls: list[Callable[[], object]] = [
        lambda: adapter.download_clip(job(OPS["dl403"]), tmp_path / "v.mp4"),
        lambda: adapter.download_clip(job(OPS["gone"]), tmp_path / "v.mp4"),
        lambda: adapter.poll_job(job("forbidden403")),
        lambda: adapter.poll_job(job("../x")),
    ]
    errors: list[Veo3GenerationError] = []
    for call in calls:
        with pytest.raises(Veo3GenerationError) as info:
            call()
        errors.append(info.value)
        logging.getLogger("pipeline").exception("step failed")  # what a pipeline would log
    assert [e.status_code for e in errors] == [403, 404, 403, None]
    assert_clean(api_key, caplog, *(error_texts(e) for e in errors), repr(adapter))


@needs_gemini_submit
def test_a_refused_submit_and_its_traceback_leak_nothing(
    router: respx.MockRouter,
    wire: Wire,
    clip: bytes,
    api_key: str,
    make_adapter: AdapterFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    serve_echoing_server(router, wire, clip, api_key)
    adapter = make_adapter()
    with pytest.raises(Veo3GenerationError) as info:
        adapter.submit_job("bad", "bad")
    logging.getLogger("pipeline").exception("step failed")  # what a pipeline would log
    assert info.value.status_code == 400
    assert_clean(api_key, caplog, error_texts(info.value), repr(adapter))


def test_configuration_errors_do_not_echo_the_key(api_key: str) -> None:
    for bad in (api_key + " ", api_key + "\n", "\t" + api_key):
        with pytest.raises(Veo3Error) as info:
            GeminiVeo3Adapter(bad)
        assert api_key not in error_texts(info.value)
