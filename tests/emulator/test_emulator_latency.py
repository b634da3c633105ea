"""Added latency and bandwidth: a farther network, in virtual time.

Every wait goes through the emulator's injected ``sleep`` (here the fake clock's, which
records it), in-process and on sockets alike: nothing here waits for real.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from _kit.adapters import AdapterFactory
from _kit.clock import FakeClock
from _kit.emulator import Api, emulator_wire
from _kit.sdk import submit_gemini

from veo3_adapter import JobStatus
from veo3_adapter.cli import build_parser
from veo3_adapter.emulator import Emulator, Scenario

LATENCY = 0.05
BANDWIDTH = 1_000_000.0  # bytes per second
CHUNK = 64 * 1024
SIZE = 200_000


@pytest.fixture
def emulator(key: str, clock: FakeClock) -> Emulator:
    emulator = Emulator(
        key, clock=clock, sleep=clock.sleep, seed=7, latency=LATENCY, bandwidth=BANDWIDTH
    )
    emulator.default = Scenario(video_size=SIZE, chunk_size=CHUNK)
    return emulator


def test_every_request_waits_the_latency_before_its_answer(api: Api, clock: FakeClock) -> None:
    response = api.submit()
    assert response.status_code == 200
    assert clock.sleep.delays == [LATENCY]
    api.poll(response.json()["name"])
    assert clock.sleep.delays == [LATENCY, LATENCY]  # a JSON answer is not paced
    assert clock.now == pytest.approx(1000.0 + 2 * LATENCY)


def test_a_refused_request_waits_the_latency_too(api: Api, clock: FakeClock) -> None:
    response = api.http.get(f"{api.emulator.api_base}/v1beta/models")  # no key: 403
    assert response.status_code == 403
    assert clock.sleep.delays == [LATENCY]


def test_the_media_body_is_paced_chunk_by_chunk(api: Api, clock: FakeClock) -> None:
    location = api.location()  # submit, poll, the 302: one latency each
    assert clock.sleep.delays == [LATENCY] * 3
    del clock.sleep.delays[:]
    before = clock.now
    response = api.media(location)
    assert response.status_code == 200
    assert len(response.content) == SIZE
    latency, *chunks = clock.sleep.delays
    assert latency == LATENCY
    assert len(chunks) > 1  # held chunk by chunk, none longer than one chunk's time
    assert max(chunks) <= CHUNK / BANDWIDTH + 1e-12
    assert sum(chunks) == pytest.approx(SIZE / BANDWIDTH)
    assert clock.now - before == pytest.approx(LATENCY + SIZE / BANDWIDTH)


def test_the_adapter_pays_latency_per_request_and_the_clip_at_the_bandwidth(
    emulator: Emulator,
    make_adapter: AdapterFactory,
    http: httpx.Client,
    clock: FakeClock,
    key: str,
    tmp_path: Path,
) -> None:
    adapter = make_adapter(emulator.api_base, http)
    job = submit_gemini(adapter, "clip", "a cat", emulator_wire(emulator, key))
    job = adapter.poll_job(job)
    assert job.status is JobStatus.GENERATED
    del clock.sleep.delays[:]
    served = len(emulator.requests)
    adapter.download_clip(job, tmp_path / "clip.mp4")
    hops = len(emulator.requests) - served  # the operation re-read, the 302, the media body
    assert hops == 3
    assert (tmp_path / "clip.mp4").stat().st_size == SIZE
    assert sum(clock.sleep.delays) == pytest.approx(hops * LATENCY + SIZE / BANDWIDTH)


def test_served_on_sockets_the_waits_go_through_the_injected_sleep(
    emulator: Emulator, key: str, clock: FakeClock
) -> None:
    with emulator.serve() as base_url, httpx.Client() as http:
        response = http.get(f"{base_url}/v1beta/models", headers={"x-goog-api-key": key})
    assert response.status_code in (200, 404)
    assert clock.sleep.delays == [LATENCY]


def test_without_latency_or_bandwidth_nothing_waits(key: str, clock: FakeClock) -> None:
    emulator = Emulator(key, clock=clock, sleep=clock.sleep, seed=7)
    assert (emulator.latency, emulator.bandwidth) == (0.0, None)
    with httpx.Client(transport=emulator.transport(), follow_redirects=False) as http:
        Api(http, emulator, key).media(Api(http, emulator, key).location())
    assert clock.sleep.delays == []


def test_latency_and_bandwidth_are_what_was_given(emulator: Emulator) -> None:
    assert (emulator.latency, emulator.bandwidth) == (LATENCY, BANDWIDTH)


@pytest.mark.parametrize(
    ("settings", "word"),
    [
        ({"latency": -0.1}, "latency"),
        ({"latency": float("nan")}, "latency"),
        ({"bandwidth": 0.0}, "bandwidth"),
        ({"bandwidth": -5.0}, "bandwidth"),
        ({"bandwidth": float("inf")}, "bandwidth"),
    ],
)
def test_impossible_settings_are_refused(settings: dict[str, float], word: str) -> None:
    with pytest.raises(ValueError, match=word):
        Emulator(**settings)  # type: ignore[arg-type]


def test_the_emulator_command_takes_latency_and_bandwidth() -> None:
    args = build_parser().parse_args(["emulator", "--latency", "0.05", "--bandwidth", "50e6"])
    assert (args.latency, args.bandwidth) == (0.05, 50e6)
    defaults = build_parser().parse_args(["emulator"])
    assert (defaults.latency, defaults.bandwidth) == (0.0, None)


@pytest.mark.parametrize("flags", [["--latency", "-1"], ["--bandwidth", "0"], ["--bandwidth", "x"]])
def test_the_emulator_command_refuses_impossible_values(
    flags: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["emulator", *flags])
    assert flags[0] in capsys.readouterr().err
