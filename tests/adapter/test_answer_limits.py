"""Limits on the JSON answers to submit and poll: size and nesting, checked before parsing.

A hostile or broken server must not be able to make the SDK buffer an endless answer or the
JSON parser recurse to death: either fails that one job with a typed error that names the
job and the limit, and the run goes on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import json
import random
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import respx
from _kit.adapters import adapter_factory, retries
from _kit.sdk import WireSubmit, needs_gemini_submit, run_gemini

from veo3_adapter import (
    ConfigurationError,
    GeminiVeo3Adapter,
    JobStatus,
    PollError,
    SubmitError,
    Veo3Job,
    Veo3Orchestrator,
)
from veo3_adapter._answers import (
    DEFAULT_MAX_ANSWER_BYTES,
    DEFAULT_MAX_ANSWER_DEPTH,
    AnswerLimits,
    _DepthScan,
)

if TYPE_CHECKING:
    from _kit.adapters import AdapterFactory
    from _kit.clock import FakeClock, SleepRecorder
    from _kit.wire import Wire

NAME = "models/veo-3.1-generate-001/operations/lim1t5lim1t5"
BLOCK = 1 << 20


def nested(depth: int) -> bytes:
    """An operation answer nested ``depth`` levels deep (6 KB at 3000)."""
    arrays = depth - 2
    return b'{"name": "%s", "metadata": {"x": %s%s}}' % (
        NAME.encode(),
        b"[" * arrays,
        b"]" * arrays,
    )


class Body(httpx.SyncByteStream):
    """A streamed body made of ``head``, ``blocks`` blocks of filler, then ``tail``; it
    records how much of it was read."""

    def __init__(self, head: bytes, blocks: int = 0, tail: bytes = b"") -> None:
        self.head, self.blocks, self.tail = head, blocks, tail
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        for _ in range(self.blocks):
            if not self.sent:
                self.sent += len(self.head)
                yield self.head
            self.sent += BLOCK
            yield b"x" * BLOCK
        self.sent += len(self.tail)
        yield self.tail if self.blocks else self.head + self.tail


Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def adapter_on(
    api_key: str, noop_sleep: SleepRecorder
) -> Iterator[Callable[..., GeminiVeo3Adapter]]:
    """The real adapter on a client whose transport is ``handler`` (no respx in between)."""
    with (
        contextlib.ExitStack() as clients,
        adapter_factory(
            GeminiVeo3Adapter, api_key=api_key, **retries(2, noop_sleep, initial=1.0)
        ) as factory,
    ):

        def build(handler: Handler, **kwargs: Any) -> GeminiVeo3Adapter:
            client = httpx.Client(transport=httpx.MockTransport(handler), follow_redirects=False)
            clients.callback(client.close)
            return factory(http_client=client, **kwargs)

        yield build


def submitted(name: str = NAME) -> Veo3Job:
    return Veo3Job(variant="a", prompt="p", status=JobStatus.SUBMITTED, operation_name=name)


def answer(body: bytes, *, streamed: bool, status: int = 200, **headers: str) -> httpx.Response:
    if streamed:
        return httpx.Response(status, headers=headers, stream=Body(body))
    return httpx.Response(status, headers=headers, content=body)


# -- nesting --------------------------------------------------------------------------------


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "read"])
def test_a_poll_answer_nested_3000_deep_is_a_typed_poll_error(
    adapter_on: Callable[..., GeminiVeo3Adapter], streamed: bool
) -> None:
    body = nested(3000)
    assert len(body) < 6100
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return answer(body, streamed=streamed)

    with pytest.raises(PollError) as info:
        adapter_on(handler).poll_job(submitted())
    message = str(info.value)
    assert NAME in message and "max_answer_depth (64)" in message
    assert info.value.operation_name == NAME
    assert info.value.status_code == 200 and not info.value.transient  # fails the job
    assert len(calls) == 1  # a limit is not retried
    assert info.value.__cause__ is None and info.value.__suppress_context__


@needs_gemini_submit
def test_a_submit_answer_nested_3000_deep_is_a_typed_submit_error(
    adapter_on: Callable[..., GeminiVeo3Adapter],
) -> None:
    adapter = adapter_on(lambda request: answer(nested(3000), streamed=True))
    with pytest.raises(SubmitError) as info:
        adapter.submit_job("deep", "a prompt")
    assert "variant 'deep'" in str(info.value) and "max_answer_depth" in str(info.value)


def test_a_deep_error_answer_is_refused_with_its_status(
    adapter_on: Callable[..., GeminiVeo3Adapter],
) -> None:
    body = b'{"error": {"code": 400, "details": %s%s}}' % (b"{" * 10 + b"[" * 3000, b"]" * 3000)
    adapter = adapter_on(lambda request: answer(body, streamed=True, status=400))
    with pytest.raises(PollError) as info:
        adapter.poll_job(submitted())
    assert info.value.status_code == 400 and "max_answer_depth" in str(info.value)


def test_nesting_up_to_the_limit_and_brackets_inside_strings_are_fine(
    adapter_on: Callable[..., GeminiVeo3Adapter],
) -> None:
    text = "[" * 5000 + '\\" {{{{' + "\\\\" + "]"
    body = b'{"name": "%s", "metadata": {"a": %s"%s"%s}}' % (
        NAME.encode(),
        b"[" * 60,
        text.encode(),
        b"]" * 60,
    )
    assert json.loads(body)["metadata"]["a"]  # valid JSON, 62 levels deep
    adapter = adapter_on(lambda request: answer(body, streamed=True))
    assert adapter.poll_job(submitted()).status is JobStatus.SUBMITTED


@pytest.mark.parametrize(
    "body",
    [
        nested(65),
        nested(63),
        b'{"s": "\\\\", "t": "\\"[[[", "u": [[{"v": "]]]]"}]]}',
        b'["\\u005b", "\\\\\\"", {"a": [1, 2, {"b": []}]}]',
        b'"[[[[[[[[" [[[["',
    ],
)
def test_the_depth_scan_does_not_depend_on_how_the_answer_is_cut(body: bytes) -> None:
    whole = _DepthScan(8).feed(body)
    for cut in range(len(body) + 1):
        scan = _DepthScan(8)
        assert (scan.feed(body[:cut]) and scan.feed(body[cut:])) == whole, cut
    pieces = _DepthScan(8)
    assert all(pieces.feed(body[i : i + 1]) for i in range(len(body))) == whole


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


def _random_value(rand: random.Random, level: int = 0) -> object:
    pieces = ['"', "\\", "[", "]", "{", "}", "a", '\\"', "\\\\", "\u00e9"]
    text = "".join(rand.choice(pieces) for _ in range(rand.randint(0, 5)))
    roll = rand.random()
    if level > 5 or roll < 0.3:
        return text
    if roll < 0.65:
        return [_random_value(rand, level + 1) for _ in range(rand.randint(0, 3))]
    return {text + str(i): _random_value(rand, level + 1) for i in range(rand.randint(0, 3))}


def test_the_depth_scan_agrees_with_the_parser_however_the_answer_is_cut() -> None:
    rand = random.Random(7)
    for _ in range(300):
        value = _random_value(rand)
        depth = _depth(value)
        data = json.dumps(value, ensure_ascii=rand.random() < 0.5).encode()
        for cut in range(len(data) + 1):
            for limit in (depth, depth - 1) if depth else (0,):
                scan = _DepthScan(limit)
                fits = scan.feed(data[:cut]) and scan.feed(data[cut:])
                assert fits == (depth <= limit), (data, cut, limit)


def test_the_depth_scan_matches_the_real_depth() -> None:
    assert _DepthScan(64).feed(nested(64)) and not _DepthScan(64).feed(nested(65))
    assert _DepthScan(2).feed(b'{"a": [1], "b": {"c": 2}}')
    assert not _DepthScan(2).feed(b'{"a": [[1]]}')


# -- size -----------------------------------------------------------------------------------


def test_a_150_mb_poll_answer_is_cut_off_at_max_answer_bytes(
    adapter_on: Callable[..., GeminiVeo3Adapter],
) -> None:
    bodies: list[Body] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(Body(b'{"name": "%s", "metadata": {"pad": "' % NAME.encode(), 143, b'"}}'))
        return httpx.Response(200, stream=bodies[-1])  # chunked, no Content-Length

    with pytest.raises(PollError) as info:
        adapter_on(handler).poll_job(submitted())
    assert f"max_answer_bytes ({DEFAULT_MAX_ANSWER_BYTES})" in str(info.value)
    assert NAME in str(info.value)
    (body,) = bodies
    assert body.sent <= DEFAULT_MAX_ANSWER_BYTES + BLOCK  # stopped at the first block past it


@needs_gemini_submit
def test_an_announced_length_over_the_limit_is_refused_unread(
    adapter_on: Callable[..., GeminiVeo3Adapter],
) -> None:
    body = Body(b"{}")
    adapter = adapter_on(
        lambda request: httpx.Response(200, headers={"content-length": "9000000"}, stream=body)
    )
    with pytest.raises(SubmitError) as info:
        adapter.submit_job("big", "p")
    assert "announces 9000000 bytes" in str(info.value) and "variant 'big'" in str(info.value)
    assert body.sent == 0


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "read"])
def test_max_answer_bytes_and_depth_are_adapter_settings(
    adapter_on: Callable[..., GeminiVeo3Adapter], streamed: bool
) -> None:
    body = json.dumps({"name": NAME, "metadata": {"pad": "x" * 200}}).encode()
    small = adapter_on(lambda r: answer(body, streamed=streamed), max_answer_bytes=200)
    with pytest.raises(PollError, match=r"max_answer_bytes \(200\)"):
        small.poll_job(submitted())
    shallow = adapter_on(lambda r: answer(nested(5), streamed=streamed), max_answer_depth=4)
    with pytest.raises(PollError, match=r"max_answer_depth \(4\)"):
        shallow.poll_job(submitted())
    roomy = adapter_on(lambda r: answer(nested(5), streamed=streamed), max_answer_depth=5)
    assert roomy.poll_job(submitted()).status is JobStatus.SUBMITTED


@pytest.mark.parametrize(
    "setting", [{"max_answer_bytes": 0}, {"max_answer_depth": -1}, {"max_answer_bytes": True}]
)
def test_limits_that_are_not_positive_integers_are_configuration_errors(
    api_key: str, setting: dict[str, Any]
) -> None:
    with pytest.raises(ConfigurationError, match=next(iter(setting))):
        GeminiVeo3Adapter(api_key, **setting)
    assert AnswerLimits() == AnswerLimits(DEFAULT_MAX_ANSWER_BYTES, DEFAULT_MAX_ANSWER_DEPTH)


# -- encodings ------------------------------------------------------------------------------


def test_a_gzip_bomb_is_refused_once_decoded(
    adapter_on: Callable[..., GeminiVeo3Adapter],
) -> None:
    plain = b'{"name": "%s", "metadata": {"pad": "%s"}}' % (NAME.encode(), b"0" * (16 << 20))
    bomb = gzip.compress(plain, compresslevel=9)
    assert len(bomb) < 200_000
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, headers={"content-encoding": "gzip"}, stream=Body(bomb))

    with pytest.raises(PollError, match="once decoded"):
        adapter_on(handler).poll_job(submitted())
    assert requests[0].headers["accept-encoding"] == "gzip, deflate"


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_compressed_answer_within_the_limits_is_read(
    adapter_on: Callable[..., GeminiVeo3Adapter], encoding: str
) -> None:
    plain = json.dumps({"name": NAME, "done": True, "error": {"message": "no"}}).encode()
    data = gzip.compress(plain) if encoding == "gzip" else zlib.compress(plain)
    adapter = adapter_on(
        lambda r: httpx.Response(200, headers={"content-encoding": encoding}, stream=Body(data))
    )
    job = adapter.poll_job(submitted())
    assert (job.status, job.error_detail) == (JobStatus.FAILED, "no")


def test_an_encoding_that_was_not_asked_for_is_refused(
    adapter_on: Callable[..., GeminiVeo3Adapter],
) -> None:
    adapter = adapter_on(
        lambda r: httpx.Response(200, headers={"content-encoding": "br"}, stream=Body(b"{}"))
    )
    with pytest.raises(PollError, match="Content-Encoding 'br'"):
        adapter.poll_job(submitted())


# -- scope and backstops --------------------------------------------------------------------


def test_the_limits_apply_to_the_adapters_own_calls_only(
    router: respx.MockRouter,
    wire: Wire,
    make_adapter: AdapterFactory,
    http_client: httpx.Client,
    clip: bytes,
    tmp_path: Path,
) -> None:
    adapter = make_adapter(max_answer_bytes=1024)
    make_adapter()  # a second adapter on the same client adds no second hook
    assert len(http_client.event_hooks["response"]) == 1
    name = wire.op_name()
    router.get(wire.op_url(name)).respond(200, json=wire.done(name, wire.file_uri()))
    router.get(wire.file_url()).respond(200, content=clip)
    assert len(clip) > 1024
    job = dataclasses.replace(submitted(name), status=JobStatus.GENERATED)
    assert adapter.download_clip(job, tmp_path / "a.mp4").read_bytes() == clip
    big = router.get("https://other.example/big").respond(200, json={"pad": "x" * 4096})
    assert len(http_client.get("https://other.example/big").content) > 4096  # not ours
    assert big.called


def recurse(*args: object, **kwargs: object) -> None:
    raise RecursionError("maximum recursion depth exceeded")


def test_a_recursion_error_inside_the_sdk_is_a_typed_error(
    make_adapter: AdapterFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapter = make_adapter()
    monkeypatch.setattr(adapter._client.operations, "get", recurse)
    with pytest.raises(PollError, match="RecursionError") as info:
        adapter.poll_job(submitted())
    assert info.value.operation_name == NAME


@needs_gemini_submit
def test_a_recursion_error_inside_the_sdks_submit_is_a_typed_error(
    make_adapter: AdapterFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapter = make_adapter()
    monkeypatch.setattr(adapter._client.models, "generate_videos", recurse)
    with pytest.raises(SubmitError, match="variant 'a'.*RecursionError"):
        adapter.submit_job("a", "p")


def test_a_run_with_a_hostile_answer_goes_on(
    router: respx.MockRouter,
    wire: Wire,
    make_adapter: AdapterFactory,
    fake_clock: FakeClock,
    clip: bytes,
    tmp_path: Path,
    wire_submit: WireSubmit,
) -> None:
    names = {"good": wire.op_name("g00dg00dg00d"), "deep": wire.op_name("deepdeepdeep")}

    def submit(request: httpx.Request) -> httpx.Response:
        prompt = json.loads(request.content)["instances"][0]["prompt"]
        return httpx.Response(200, json=wire.submitted(names[prompt]))

    router.post(wire.submit_url()).mock(side_effect=submit)
    router.get(wire.op_url(names["good"])).respond(
        200, json=wire.done(names["good"], wire.file_uri())
    )
    router.get(wire.op_url(names["deep"])).respond(200, content=nested(3000))
    router.get(wire.file_url()).respond(200, content=clip)
    orch = Veo3Orchestrator(make_adapter(), tmp_path, sleep=fake_clock.sleep, clock=fake_clock)
    jobs = {j.variant: j for j in run_gemini(orch, {"good": "good", "deep": "deep"}, wire_submit)}
    assert jobs["good"].status is JobStatus.DOWNLOADED
    assert (jobs["deep"].status, jobs["deep"].error_message) == (JobStatus.FAILED, "poll_failed")
    assert "max_answer_depth" in jobs["deep"].error_detail
    assert names["deep"] in jobs["deep"].error_detail
