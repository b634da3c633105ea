"""Scenario scripting and the streaming body helpers, without HTTP."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from veo3_adapter.emulator import DEFAULT_RAI_REASON, SCENARIO_NAMES, SCENARIOS, Scenario
from veo3_adapter.emulator._body import (
    crc32c_of,
    iter_video,
    parse_range,
    served_body,
    slice_chunks,
)
from veo3_adapter.emulator._wire import Cut, CutKind
from veo3_adapter.mp4 import looks_like_mp4, mp4_size_floor, sample_clip

EXPECTED_NAMES = (
    "success",
    "rai_filtered",
    "operation_error",
    "download_not_found",
    "download_forbidden",
    "download_server_error",
    "rate_limited",
    "truncated_download",
    "expired",
    "slow_download",
    "dropped_connection",
    "cross_origin_redirect",
    "ranged_download",
    "quota_exhausted_daily",
)


def test_every_named_scenario_is_registered() -> None:
    assert SCENARIO_NAMES == EXPECTED_NAMES
    assert set(SCENARIOS) == set(EXPECTED_NAMES)


@pytest.mark.parametrize("name", EXPECTED_NAMES)
def test_named_returns_the_registered_scenario(name: str) -> None:
    assert Scenario.named(name) is SCENARIOS[name]


def test_named_scenarios_script_what_their_names_say() -> None:
    assert Scenario.named("success") == Scenario()
    assert Scenario.named("rai_filtered").rai_reasons == (DEFAULT_RAI_REASON,)
    assert Scenario.named("operation_error").operation_error
    assert Scenario.named("download_not_found").download_status == 404
    assert Scenario.named("download_forbidden").download_status == 403
    failures = Scenario.named("download_server_error").download_failures
    assert len(failures) == 2 and all(500 <= s <= 599 for s in failures)
    assert Scenario.named("rate_limited").poll_failures == (429,)
    assert Scenario.named("rate_limited").quota == "per_minute"
    assert Scenario.named("quota_exhausted_daily").submit_status == 429
    assert Scenario.named("quota_exhausted_daily").quota == "per_day"
    assert Scenario.named("truncated_download").truncate_at is not None
    assert Scenario.named("expired").file_ttl == 0.0
    assert Scenario.named("slow_download").slow_chunk_delay
    assert Scenario.named("dropped_connection").drop_at is not None
    cross = Scenario.named("cross_origin_redirect")
    assert (cross.cross_origin, cross.ranges) == (True, True)
    ranged = Scenario.named("ranged_download")
    assert (ranged.cross_origin, ranged.ranges) == (False, True)


def test_the_default_is_the_live_flow() -> None:
    scenario = Scenario()
    assert (scenario.cross_origin, scenario.ranges, scenario.quota) == (False, False, "per_minute")
    assert scenario.retry_after == 1.0


def test_named_applies_changes() -> None:
    scenario = Scenario.named("rate_limited", running_polls=3, retry_after=7)
    assert (scenario.poll_failures, scenario.running_polls, scenario.retry_after) == ((429,), 3, 7)


def test_named_refuses_an_unknown_name_and_lists_the_known() -> None:
    with pytest.raises(ValueError, match="no scenario named 'nope'.*success"):
        Scenario.named("nope")


def test_scenario_is_frozen_and_keyword_only() -> None:
    scenario = Scenario()
    with pytest.raises(dataclasses.FrozenInstanceError):
        scenario.running_polls = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        Scenario(1)  # type: ignore[call-arg]


def test_default_size_is_the_sample_clip() -> None:
    assert Scenario().size == len(sample_clip())
    assert Scenario(video_size=10_000).size == 10_000


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"running_polls": -1}, "running_polls"),
        ({"truncate_at": -1}, "truncate_at"),
        ({"file_ttl": -0.5}, "file_ttl"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"poll_failures": (200,)}, "poll_failures"),
        ({"download_failures": (600,)}, "download_failures"),
        ({"submit_status": 302}, "submit_status"),
        ({"download_status": 99}, "download_status"),
        ({"operation_error": "x", "rai_reasons": ("y",)}, "exclude each other"),
        ({"operation_error": ""}, "operation_error"),
        ({"video_size": 100}, "too small"),
        ({"retry_after": -0.5}, "retry_after"),
        ({"quota": "per_hour"}, "per_minute, per_day"),
    ],
)
def test_scenario_refuses_nonsense(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Scenario(**changes)


def test_rai_reasons_must_be_a_tuple() -> None:
    with pytest.raises(TypeError, match="tuple"):
        Scenario(rai_reasons=["a list"])  # type: ignore[arg-type]


# -- bodies ----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [len(sample_clip()), mp4_size_floor(), 100_000, 1_000_003])
def test_iter_video_is_a_valid_mp4_of_exactly_the_size(size: int) -> None:
    data = b"".join(iter_video(size, "models/m/operations/abc", 4096))
    assert len(data) == size
    assert looks_like_mp4(data[:8])


def test_iter_video_is_deterministic_per_seed() -> None:
    first = b"".join(iter_video(50_000, "op-a", 1000))
    assert first == b"".join(iter_video(50_000, "op-a", 7777))
    assert first != b"".join(iter_video(50_000, "op-b", 1000))


def test_iter_video_never_yields_more_than_a_chunk() -> None:
    # iter_mp4 yields the sample clip (the MP4's head) whole, then chunk-sized padding.
    assert max(len(c) for c in iter_video(1_000_000, "s", 1000)) <= len(sample_clip())
    assert max(len(c) for c in iter_video(1_000_000, "s", 10_000)) <= 10_000
    assert max(len(c) for c in iter_video(len(sample_clip()), "s", 100)) <= 100


@pytest.mark.parametrize(
    ("start", "stop"),
    [(0, 1), (0, 30_000), (5, 6), (999, 1001), (1000, 2000), (2101, 2110), (29_000, 30_000)],
)
def test_slice_chunks_is_a_byte_slice(start: int, stop: int) -> None:
    whole = b"".join(iter_video(30_000, "slice", 1000))
    sliced = list(slice_chunks(iter_video(30_000, "slice", 1000), start, stop))
    assert b"".join(sliced) == whole[start:stop]
    assert all(sliced)


def test_slice_chunks_stops_pulling_once_past_the_end() -> None:
    pulled: list[int] = []

    def chunks() -> Any:
        for index in range(100):
            pulled.append(index)
            yield bytes(10)

    assert b"".join(slice_chunks(chunks(), 5, 25)) == bytes(20)
    assert pulled == [0, 1, 2]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("bytes=0-", (0, 999)),
        ("bytes=10-", (10, 999)),
        ("bytes=10-19", (10, 19)),
        ("bytes=990-5000", (990, 999)),
        ("bytes=-100", (900, 999)),
        ("bytes=-5000", (0, 999)),
        ("Bytes = 5 - 9", (5, 9)),
        ("bytes=1000-", False),
        ("bytes=-0", False),
        ("bytes=20-10", None),
        ("bytes=0-1,5-9", None),
        ("items=0-1", None),
        ("bytes=-", None),
    ],
)
def test_parse_range(header: str | None, expected: object) -> None:
    assert parse_range(header, 1000) == expected


def test_crc32c_of_is_googles_value_in_base64() -> None:
    # The CRC-32C check value of "123456789" is 0xe3069283 (RFC 3720, B.4).
    assert crc32c_of([b"1234", b"56789"]) == "crc32c=4waSgw=="
    assert crc32c_of([]) == "crc32c=AAAAAA=="


def test_served_body_paces_and_cuts() -> None:
    slept: list[float] = []
    chunks = [bytes(10)] * 5
    whole = list(served_body(chunks, expected=50, delay=0.5, sleep=slept.append, cut=None))
    assert whole == chunks and slept == [0.5] * 4
    cut = list(
        served_body(chunks, expected=50, delay=None, sleep=slept.append, cut=(25, CutKind.DROP))
    )
    assert cut == [bytes(10), bytes(10), bytes(5), Cut(CutKind.DROP, 25, 50)]
