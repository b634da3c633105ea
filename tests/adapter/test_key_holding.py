"""Where the key lives: in a ``Secret`` that no repr shows, revealed only into a header.

And a key the API echoes into a redirect's path never reaches ``error_detail``, a log
record or an exception's text: every URL a download error names is scrubbed of it.
"""

from __future__ import annotations

import json
import logging
import secrets
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
import respx
from _kit.sdk import gemini_wire, run_gemini

from veo3_adapter import (
    DownloadError,
    JobStatus,
    Veo3Job,
    Veo3Orchestrator,
)
from veo3_adapter._http import Origin
from veo3_adapter._secrets import MARKER, Secret
from veo3_adapter.compose import LOCAL_PROFILE, gemini_adapter
from veo3_adapter.download import ClipDownloader

if TYPE_CHECKING:
    from _kit.adapters import AdapterFactory
    from _kit.clock import FakeClock, SleepRecorder
    from _kit.wire import Wire

KEY_HEADER = "x-goog-api-key"
LOGGERS = ["", "httpx", "httpcore", "google_genai", "veo3_adapter", "respx"]


@pytest.fixture(autouse=True)
def debug_logging(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    yield


@pytest.fixture(params=["key-shaped", "plain"])
def key(request: pytest.FixtureRequest, api_key: str) -> str:
    """A key shaped like Google's (redacted by its shape anyway) and one that is not (only
    the literal value tells it)."""
    return api_key if request.param == "key-shaped" else f"plain-{secrets.token_hex(12)}"


def refuse(request: httpx.Request) -> httpx.Response:
    """No connection (raised by the handler itself: respx would chain an error of its own,
    naming the route, to an exception given as the side effect)."""
    raise httpx.ConnectError("connection refused", request=request)


def generated(wire: Wire) -> Veo3Job:
    return Veo3Job(
        variant="a", prompt="p", status=JobStatus.GENERATED, operation_name=wire.op_name()
    )


def with_locals(info: pytest.ExceptionInfo[BaseException]) -> str:
    """What ``pytest -l`` and ``traceback`` with locals print for this error and its chain,
    from the adapter's frame down (the test's own frame holds the key as a fixture)."""
    error = info.value
    assert error.__traceback__ is not None
    info.traceback = info.traceback[1:]
    pytest_view = str(info.getrepr(showlocals=True, style="long", chain=True))
    stdlib_view = traceback.TracebackException(
        type(error), error, error.__traceback__.tb_next, capture_locals=True
    ).format()
    return pytest_view + "".join(stdlib_view)


def error_texts(error: BaseException) -> str:
    return "\n".join([str(error), repr(error), "".join(traceback.format_exception(error))])


def assert_logs_clean(key: str, caplog: pytest.LogCaptureFixture) -> None:
    assert caplog.records
    for record in caplog.records:
        assert key not in record.getMessage(), record.name
        assert key not in repr(record.args), record.name
    assert key not in caplog.text


# -- the key is held, not shown -------------------------------------------------------------


def test_no_repr_of_the_adapter_or_its_downloader_shows_the_key(
    make_adapter: AdapterFactory, api_key: str
) -> None:
    adapter = make_adapter()
    downloader = adapter._downloader
    assert isinstance(adapter._key, Secret) and adapter._key.reveal() == api_key
    views = [
        repr(adapter),
        str(adapter),
        repr(vars(adapter)),
        repr(downloader),
        repr(vars(downloader)),
        repr(vars(downloader._route)),
    ]
    for view in views:
        assert api_key not in view
    assert MARKER in repr(vars(adapter))  # the Secret is there, hidden


@pytest.mark.parametrize("failure", ["404 after a redirect", "503 every time", "no connection"])
def test_a_failing_download_shows_no_key_in_its_traceback_with_locals(
    router: respx.MockRouter,
    wire: Wire,
    make_adapter: AdapterFactory,
    api_key: str,
    tmp_path: Path,
    failure: str,
) -> None:
    name = wire.op_name()
    router.get(wire.op_url(name)).respond(200, json=wire.done(name, wire.file_uri()))
    second_hop = f"{wire.base}/download/v1beta/files/x:download"
    router.get(wire.file_url()).respond(302, headers={"location": f"{second_hop}?alt=media"})
    hop = router.get(second_hop)
    if failure == "404 after a redirect":
        hop.respond(404, text="no such file")
    elif failure == "503 every time":
        hop.respond(503, text="busy")
    else:
        hop.mock(side_effect=refuse)
    with pytest.raises(DownloadError) as info:
        make_adapter().download_clip(generated(wire), tmp_path / "a.mp4")
    assert hop.called and hop.calls[0].request.headers[KEY_HEADER] == api_key  # it was sent
    shown = with_locals(info)
    assert "hop" in shown or "request" in shown  # locals were printed
    assert api_key not in shown


def test_a_secret_can_be_passed_in_and_is_revealed_only_into_the_header(
    router: respx.MockRouter,
    wire: Wire,
    api_key: str,
    http_client: httpx.Client,
    noop_sleep: SleepRecorder,
    clip: bytes,
    tmp_path: Path,
) -> None:
    name = wire.op_name()
    route = router.get(wire.op_url(name)).respond(200, json=wire.running(name))
    adapter = gemini_adapter(
        Secret(api_key), http_client=http_client, profile=LOCAL_PROFILE, sleep=noop_sleep
    )
    adapter.poll_job(
        Veo3Job(variant="a", prompt="p", status=JobStatus.SUBMITTED, operation_name=name)
    )
    assert route.calls[0].request.headers[KEY_HEADER] == api_key
    media = router.get(wire.file_url()).respond(200, content=clip)
    downloader = ClipDownloader(http_client, Secret(api_key), Origin.of(httpx.URL(wire.base)))
    assert downloader.download(wire.file_uri(), tmp_path / "a.mp4") == len(clip)
    assert media.calls[0].request.headers[KEY_HEADER] == api_key
    assert api_key not in repr(vars(downloader))


# -- a key echoed into a redirect's path ----------------------------------------------------

FAILURES = ["404", "503 every time", "no connection", "downgrade", "invalid host"]


class KeyInPathServer:
    """The live download flow, except that the redirect carries the key in its path; the
    hop there fails as ``failure`` says. (A transport of its own rather than respx, which
    chains an error naming its route, URL and all, to any exception it raises.)"""

    def __init__(self, wire: Wire, key: str, failure: str) -> None:
        self.wire, self.failure = wire, failure
        self.name = wire.op_name()
        self.path = f"/download/{key}/files/x:download"
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        wire, path = self.wire, request.url.path
        if request.method == "POST":
            return httpx.Response(200, json=wire.submitted(self.name))
        if path.endswith(self.name):
            return httpx.Response(200, json=wire.done(self.name, wire.file_uri()))
        if path == httpx.URL(wire.file_url()).path:
            location = f"{self.path}?alt=media"
            if self.failure == "invalid host":
                location = f"https://a..b.example{self.path}"
            return httpx.Response(302, headers={"location": location})
        assert path == self.path, path
        if self.failure == "404":
            return httpx.Response(404, text=f"no file at {self.path}")
        if self.failure == "no connection":
            raise httpx.ConnectError("connection refused", request=request)
        if self.failure == "downgrade":
            return httpx.Response(302, headers={"location": f"http://media.example{self.path}"})
        return httpx.Response(503, text="busy")


@pytest.mark.parametrize("failure", FAILURES)
def test_a_key_echoed_into_a_redirect_path_is_in_no_detail_log_or_error(
    wire: Wire,
    make_adapter: AdapterFactory,
    key: str,
    fake_clock: FakeClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    failure: str,
) -> None:
    server = KeyInPathServer(wire, key, failure)
    client = httpx.Client(transport=httpx.MockTransport(server), follow_redirects=False)
    adapter = make_adapter(api_key=key, http_client=client)
    orch = Veo3Orchestrator(adapter, tmp_path, sleep=fake_clock.sleep, clock=fake_clock)
    (job,) = run_gemini(orch, {"a": "a prompt"}, gemini_wire(client, wire.base, key))

    assert (job.status, job.error_message) == (JobStatus.FAILED, "download_failed")
    assert "/download/" in job.error_detail and MARKER in job.error_detail  # named, scrubbed
    jobs_text = orch.jobs_path.read_text(encoding="utf-8")
    assert key not in jobs_text
    assert json.loads(jobs_text)  # still the file it was
    if failure != "invalid host":  # the hop the key was echoed into was requested
        assert any(r.url.path == server.path for r in server.requests)

    with pytest.raises(DownloadError) as info:
        adapter.download_clip(job, tmp_path / "again.mp4")
    assert "/download/" in str(info.value)
    assert key not in error_texts(info.value)
    logging.getLogger("pipeline").exception("download failed")  # what a pipeline would log
    assert_logs_clean(key, caplog)
    client.close()
