"""Atomic writes and MP4 recognition: the guarantees resume and download rely on."""

from __future__ import annotations

import itertools
import struct
from pathlib import Path

import pytest

from veo3_adapter._files import (
    TEMP_SUFFIX,
    atomic_file,
    atomic_write_bytes,
    remove_stale_temp_files,
)
from veo3_adapter.mp4 import is_mp4_file, iter_mp4, looks_like_mp4, mp4_size_floor, sample_clip


def test_atomic_write_creates_parents_and_leaves_no_temp(tmp_path: Path) -> None:
    dest = tmp_path / "deep" / "a.mp4"
    atomic_write_bytes(dest, b"hello")
    assert dest.read_bytes() == b"hello"
    assert sorted(p.name for p in dest.parent.iterdir()) == ["a.mp4"]


def test_atomic_file_failure_leaves_dest_untouched_and_no_temp(tmp_path: Path) -> None:
    dest = tmp_path / "a.mp4"
    dest.write_bytes(b"good")
    with pytest.raises(RuntimeError), atomic_file(dest) as handle:
        handle.write(b"half")
        raise RuntimeError("killed")
    assert dest.read_bytes() == b"good"
    assert [p.name for p in tmp_path.iterdir()] == ["a.mp4"]


def test_remove_stale_temp_files_removes_only_ours(tmp_path: Path) -> None:
    stale = tmp_path / f".a.mp4.abc{TEMP_SUFFIX}"
    stale.write_bytes(b"x")
    keep = [tmp_path / "a.mp4", tmp_path / ".veo3.lock", tmp_path / "jobs.json"]
    for path in keep:
        path.write_bytes(b"x")
    assert remove_stale_temp_files(tmp_path) == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in keep)
    assert remove_stale_temp_files(tmp_path / "missing") == []


def test_sample_clip_is_an_mp4() -> None:
    clip = sample_clip()
    assert looks_like_mp4(clip[:8])
    assert len(clip) > 1000


@pytest.mark.parametrize(
    ("head", "expected"),
    [(b"\x00\x00\x00\x18ftypisom", True), (b"<html><b", False), (b"\x00\x00", False), (b"", False)],
)
def test_looks_like_mp4(head: bytes, expected: bool) -> None:
    assert looks_like_mp4(head) is expected


def test_is_mp4_file(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.mp4", tmp_path / "bad.mp4"
    good.write_bytes(sample_clip())
    bad.write_bytes(b"<html>not a video</html>")
    assert is_mp4_file(good)
    assert not is_mp4_file(bad)
    assert not is_mp4_file(tmp_path / "missing.mp4")
    assert not is_mp4_file(tmp_path)


@pytest.mark.parametrize("extra", [9, 5000, (1 << 16) + 3])
def test_iter_mp4_exact_size_valid_and_deterministic(extra: int) -> None:
    size = len(sample_clip()) + extra
    data = b"".join(iter_mp4(size, seed="s", chunk_size=4096))
    assert len(data) == size
    assert looks_like_mp4(data[:8])
    assert data == b"".join(iter_mp4(size, seed="s", chunk_size=1000))
    assert data != b"".join(iter_mp4(size, seed="other"))


def test_iter_mp4_without_seed_at_sample_size_is_the_sample() -> None:
    assert b"".join(iter_mp4(len(sample_clip()))) == sample_clip()


def test_iter_mp4_refuses_sizes_it_cannot_pad() -> None:
    with pytest.raises(ValueError, match=str(mp4_size_floor())):
        list(iter_mp4(len(sample_clip()) + 3, seed="x"))


def test_iter_mp4_uses_a_64_bit_box_for_huge_padding() -> None:
    size = len(sample_clip()) + 2**32 + 100
    clip, header = itertools.islice(iter_mp4(size), 2)
    assert clip == sample_clip()
    assert struct.unpack(">I4sQ", header) == (1, b"free", 2**32 + 100)
