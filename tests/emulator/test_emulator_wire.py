"""The default flow header for header, as the live service was recorded; the key's one
origin; the real 429 and model 404 shapes; and the emulator's own module layout."""

from __future__ import annotations

import ast
import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from _kit.adapters import AdapterFactory
from _kit.emulator import MODEL, Api
from _kit.sdk import gemini_wire, submit_gemini

from veo3_adapter import JobStatus
from veo3_adapter.emulator import Emulator, Scenario
from veo3_adapter.emulator._body import crc32c_of
from veo3_adapter.emulator._origin import Origin, check_base
from veo3_adapter.mp4 import sample_clip

JSON_HEADERS = [
    ("content-type", "application/json; charset=UTF-8"),
    ("vary", "Origin"),
    ("vary", "X-Origin"),
    ("vary", "Referer"),
    ("server", "scaffolding on HTTPServer2"),
    ("x-xss-protection", "0"),
    ("x-frame-options", "SAMEORIGIN"),
    ("x-content-type-options", "nosniff"),
]
SDK_HEADERS = {
    "x-goog-api-client": "google-genai-sdk/2.34.0 gl-python/3.11.2",
    "user-agent": "google-genai-sdk/2.34.0 gl-python/3.11.2",
}


@pytest.fixture(params=["in-process", "sockets"])
def wire(request: pytest.FixtureRequest, emulator: Emulator, key: str) -> Iterator[Api]:
    """Raw calls on the in-process transport, or over loopback sockets."""
    with contextlib.ExitStack() as stack:
        if request.param == "sockets":
            stack.enter_context(emulator.serve())
            http = stack.enter_context(httpx.Client())
        else:
            http = stack.enter_context(httpx.Client(transport=emulator.transport()))
        yield Api(http, emulator, key)


def headers_of(response: httpx.Response) -> list[tuple[str, str]]:
    """The response's headers in order, names lower-cased, without the socket's Date."""
    return [(n.lower(), v) for n, v in response.headers.multi_items() if n.lower() != "date"]


def test_json_answers_are_chunked_with_googles_headers(wire: Api) -> None:
    submitted = wire.submit()
    assert submitted.status_code == 200
    assert headers_of(submitted) == [*JSON_HEADERS, ("transfer-encoding", "chunked")]
    name = submitted.json()["name"]
    assert re.fullmatch(rf"models/{re.escape(MODEL)}/operations/[a-z0-9]{{12}}", name)
    assert submitted.json() == {"name": name}


def test_running_polls_answer_the_name_only(wire: Api, emulator: Emulator) -> None:
    emulator.default = Scenario(running_polls=2)
    name = wire.submit().json()["name"]
    running = [wire.poll(name) for _ in range(2)]
    assert [r.json() for r in running] == [{"name": name}, {"name": name}]
    done = wire.poll(name)
    assert done.json()["done"] is True
    assert headers_of(done) == [*JSON_HEADERS, ("transfer-encoding", "chunked")]


def test_first_hop_is_a_same_origin_302_that_echoes_the_request_headers(
    wire: Api, emulator: Emulator, key: str
) -> None:
    uri = wire.video_uri()
    file_id = re.fullmatch(r".*/v1beta/files/([a-z0-9]+):download\?alt=media", uri)
    assert file_id is not None
    response = wire.http.get(uri, headers={**wire.auth, **SDK_HEADERS})
    assert response.status_code == 302
    assert json.loads(response.content) == {
        "error": {"code": 302, "message": "Unknown Error.", "status": "UNKNOWN"}
    }
    headers = headers_of(response)
    assert headers[: len(JSON_HEADERS)] == JSON_HEADERS
    assert headers[len(JSON_HEADERS)] == (
        "location",
        f"{emulator.api_base}/download/v1beta/files/{file_id.group(1)}:download?alt=media",
    )
    assert headers[-1] == ("transfer-encoding", "chunked")
    assert "content-length" not in response.headers
    echoed = dict(headers[len(JSON_HEADERS) + 1 : -1])
    assert echoed["x-goog-api-key"] == key
    assert echoed["x-goog-api-client"] == SDK_HEADERS["x-goog-api-client"]
    assert echoed["user-agent"] == SDK_HEADERS["user-agent"]
    assert "host" not in echoed and "content-type" not in echoed
    raw_names = [name for name, _ in response.headers.raw]
    assert b"X-Goog-Api-Key" in raw_names and b"X-Goog-Api-Client" in raw_names


def test_second_hop_serves_the_mp4_header_for_header(wire: Api) -> None:
    response = wire.media(wire.location())
    assert response.status_code == 200
    assert headers_of(response) == [
        ("content-type", "video/mp4"),
        ("content-disposition", "attachment"),
        ("content-length", str(len(sample_clip()))),
        ("x-goog-hash", crc32c_of([sample_clip()])),
        ("cache-control", "private, max-age=0"),
        ("server", "UploadServer"),
    ]
    assert response.content == sample_clip()


def test_sockets_send_a_date_and_one_server_header(emulator: Emulator, key: str) -> None:
    with emulator.serve(), httpx.Client() as http:
        sockets = Api(http, emulator, key)
        for response in (sockets.submit(), sockets.media(sockets.location())):
            assert len(response.headers.get_list("server")) == 1
            assert response.headers["date"].endswith(" GMT")


# -- the key's one origin ---------------------------------------------------------------------


class Recorder(httpx.BaseTransport):
    """Notes each request's origin and whether it carried the key, then passes it on."""

    def __init__(self, inner: httpx.BaseTransport, key: str) -> None:
        self.inner = inner
        self.key = key
        self.sent: list[tuple[str, str, bool]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        carried = any(self.key in value for _, value in request.headers.multi_items())
        origin = f"{request.url.scheme}://{request.url.host}"
        self.sent.append((origin, request.url.path, carried))
        return self.inner.handle_request(request)


@pytest.mark.parametrize("name", ["success", "cross_origin_redirect"])
def test_the_key_reaches_the_api_origin_on_both_hops_and_nowhere_else(
    emulator: Emulator, make_adapter: AdapterFactory, key: str, tmp_path: Path, name: str
) -> None:
    emulator.default = Scenario.named(name)
    recorder = Recorder(emulator.transport(), key)
    with httpx.Client(transport=recorder, follow_redirects=False) as http:
        adapter = make_adapter(emulator.api_base, http)
        submitted = submit_gemini(
            adapter, "clip", "a cat", gemini_wire(http, emulator.api_base, key)
        )
        job = adapter.poll_job(submitted)
        assert job.status is JobStatus.GENERATED
        adapter.download_clip(job, tmp_path / "clip.mp4")
    assert (tmp_path / "clip.mp4").read_bytes() == sample_clip()
    hops = [sent for sent in recorder.sent if "files/" in sent[1]]
    assert len(hops) == 2
    if name == "success":
        assert hops == [
            (emulator.api_base, hops[0][1], True),
            (emulator.api_base, "/download" + hops[0][1], True),
        ]
    else:
        assert hops[0] == (emulator.api_base, hops[0][1], True)
        assert hops[1][0] == emulator.download_base and hops[1][2] is False
    assert all(origin == emulator.api_base for origin, _, carried in recorder.sent if carried)
    assert emulator.key_leaks == []


# -- 429 and 404 as the API sends them ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "quota_id", "metric"),
    [
        (
            "rate_limited",
            "GenerateRequestsPerMinutePerProjectPerModel",
            "generativelanguage.googleapis.com/generate_requests_per_model",
        ),
        (
            "quota_exhausted_daily",
            "GenerateRequestsPerDayPerProjectPerModel",
            "generativelanguage.googleapis.com/generate_requests_per_model_per_day",
        ),
    ],
)
def test_429_has_the_live_shape(
    wire: Api, emulator: Emulator, name: str, quota_id: str, metric: str
) -> None:
    emulator.default = Scenario.named(name, retry_after=57.238747106)
    if Scenario.named(name).submit_status is None:
        response = wire.poll(wire.submit().json()["name"])
    else:
        response = wire.submit()
    assert response.status_code == 429
    assert headers_of(response) == [*JSON_HEADERS, ("transfer-encoding", "chunked")]
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (429, "RESOURCE_EXHAUSTED")
    assert error["message"].startswith("You exceeded your current quota")
    assert f"* Quota exceeded for metric: {metric}, limit: " in error["message"]
    assert error["message"].endswith(f"model: {MODEL}\nPlease retry in 57.238747106s.")
    help_, quota, retry = error["details"]
    assert help_["@type"] == "type.googleapis.com/google.rpc.Help"
    assert help_["links"][0]["url"].startswith("https://ai.google.dev/")
    assert quota["@type"] == "type.googleapis.com/google.rpc.QuotaFailure"
    (violation,) = quota["violations"]
    assert violation["quotaMetric"] == metric
    assert violation["quotaId"] == quota_id
    assert violation["quotaDimensions"] == {"location": "global", "model": MODEL}
    assert violation["quotaValue"].isdigit()
    assert retry == {
        "@type": "type.googleapis.com/google.rpc.RetryInfo",
        "retryDelay": "57.238747106s",
    }


@pytest.mark.parametrize(("seconds", "text"), [(1.0, "1s"), (1.25, "1.25s"), (0, "0s")])
def test_retry_delay_is_written_as_a_protobuf_duration(
    wire: Api, emulator: Emulator, seconds: float, text: str
) -> None:
    emulator.default = Scenario(submit_status=429, retry_after=seconds)
    error = wire.submit().json()["error"]
    assert error["details"][2]["retryDelay"] == text
    assert error["message"].endswith(f"Please retry in {text}.")


@pytest.mark.parametrize("model", ["veo-3.0-generate-001", "veo-2.0-generate-001", "nope"])
def test_a_retired_model_is_404_not_found(wire: Api, emulator: Emulator, model: str) -> None:
    emulator.queue(Scenario(running_polls=3))
    response = wire.submit(model=model)
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "code": 404,
            "message": f"models/{model} is not found for API version v1beta, or is not "
            "supported for predictLongRunning. Call ListModels to see the list of available "
            "models and their supported methods.",
            "status": "NOT_FOUND",
        }
    }
    # The queued scenario is still there for the next, valid submit.
    name = wire.submit().json()["name"]
    assert emulator.operations[name].scenario.running_polls == 3


# -- the emulator's own origin helper and layout ------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://Example.COM", Origin("https", "example.com", 443)),
        ("HTTP://h:8080/x?y", Origin("http", "h", 8080)),
        ("http://[::1]:9/", Origin("http", "::1", 9)),
        ("ftp://h", None),
        ("/v1beta/files", None),
        ("http://h:port", None),
    ],
)
def test_origin_of_a_url(url: str, expected: Origin | None) -> None:
    assert Origin.parse(url) == expected


def test_origin_prints_without_its_default_port() -> None:
    assert str(Origin("https", "h.test", 443)) == "https://h.test"
    assert str(Origin("http", "::1", 9)) == "http://[::1]:9"
    with pytest.raises(ValueError, match="not a URL"):
        check_base("api_base", "http://h.test:port")


PACKAGE = Path(__file__).resolve().parents[2] / "veo3_adapter" / "emulator"
# The adapter modules the emulator must not share code with: a bug there would hide on
# both sides of every test.
FORBIDDEN = {"_http", "_secrets", "download", "gemini", "compose"}


def _imports(path: Path) -> tuple[set[str], set[str]]:
    """(modules of this package, modules of the parent package) that ``path`` imports."""
    own: set[str] = set()
    parent: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                own.add(node.module)
            else:
                own.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 2:
            parent.add((node.module or "").split(".")[0])
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [alias.name for alias in getattr(node, "names", [])]
            for name in names:
                if name.startswith("veo3_adapter."):
                    parent.add(name.split(".")[1])
    return own, parent


def test_emulator_modules_have_no_import_circle_and_stay_small() -> None:
    modules = {path.stem: path for path in PACKAGE.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        own, parent = _imports(path)
        assert own <= set(modules), (name, own - set(modules))
        assert not parent & FORBIDDEN, (name, parent & FORBIDDEN)
        graph[name] = own - {"__init__"}
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 400, name

    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        assert state.get(name) != 1, "import circle: " + " -> ".join([*path, name])
        state[name] = 1
        for target in sorted(graph[name]):
            visit(target, [*path, name])
        state[name] = 2

    for name in sorted(graph):
        visit(name, [])
