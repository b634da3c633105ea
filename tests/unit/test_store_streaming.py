"""jobs.json and its journal are read streaming: memory follows the largest line or job, not
the file, and the streaming parser reads every document exactly as ``json.loads`` does."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from veo3_adapter import (
    ErrorCode,
    JobsFileError,
    JobStatus,
    Veo3Job,
    _jsonstream,
    read_jobs_json,
    write_jobs_json,
)
from veo3_adapter._jsonstream import STREAMED, end_of_last_line, parse_streaming
from veo3_adapter.store import (
    JobsJournal,
    check_writable,
    job_from_dict,
    job_to_dict,
    journal_path,
)


@pytest.fixture
def small_chunks() -> Iterator[None]:
    """Read 7 bytes at a time, so values, numbers and UTF-8 sequences straddle reads."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_jsonstream, "_CHUNK", 7)
        yield


def _streamed(text: str, key: str = "jobs") -> tuple[object, list[object]]:
    items: list[object] = []
    return parse_streaming(io.BytesIO(text.encode("utf-8")), items.append, key=key), items


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
_FIXTURE = [HealthCheck.function_scoped_fixture]
_documents = (
    _json
    | st.lists(_json, max_size=5)
    | st.fixed_dictionaries({"jobs": st.lists(_json, max_size=5)}, optional={"version": _json})
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(document=_documents, indent=st.sampled_from([None, 0, 2]), ascii_only=st.booleans())
def test_the_streaming_parser_reads_what_json_loads_reads(
    small_chunks: None, document: Any, indent: int | None, ascii_only: bool
) -> None:
    text = json.dumps(document, indent=indent, ensure_ascii=ascii_only) + " \n"
    result, items = _streamed(text)
    if isinstance(document, list):
        assert (result, items) == (STREAMED, document)
    elif isinstance(document, dict) and isinstance(document.get("jobs"), list):
        assert result == {**document, "jobs": STREAMED}
        assert items == document["jobs"]
    else:
        assert (result, items) == (document, [])


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(_documents, st.integers(min_value=0), st.sampled_from(["", "x", "]", ","]))
def test_a_broken_document_fails_where_json_loads_says(
    small_chunks: None, document: Any, cut: int, junk: str
) -> None:
    text = json.dumps(document, indent=1)
    broken = text[: cut % (len(text) + 1)] + junk
    try:
        json.loads(broken)
    except json.JSONDecodeError as expected:
        with pytest.raises(json.JSONDecodeError) as info:
            _streamed(broken)
        assert (info.value.lineno, info.value.colno) == (expected.lineno, expected.colno)
    else:
        _streamed(broken)  # a cut that leaves a whole document (a number's first digits...)


def test_a_bom_or_bytes_that_are_not_utf8_are_refused(small_chunks: None) -> None:
    with pytest.raises(json.JSONDecodeError, match="BOM"):
        _streamed("\ufeff[]")
    with pytest.raises(UnicodeDecodeError):
        parse_streaming(io.BytesIO(b'{"jobs": ["caf\xc3"]}'), lambda _i: None, key="jobs")


@pytest.mark.parametrize("size", [0, 1, 100, 70_000, 200_000])
def test_the_end_of_the_last_line_is_found_reading_backwards(tmp_path: Path, size: int) -> None:
    path = tmp_path / "j"
    path.write_bytes(b"first\n" + b"x" * size + (b"\nlast without newline" if size else b""))
    fd = os.open(path, os.O_RDONLY)
    try:
        expected = path.read_bytes().rfind(b"\n") + 1
        assert end_of_last_line(fd) == expected
    finally:
        os.close(fd)
    path.write_bytes(b"no newline at all" * size)
    fd = os.open(path, os.O_RDONLY)
    try:
        assert end_of_last_line(fd) == 0
    finally:
        os.close(fd)


def _peak(action: Any) -> int:
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_large_journal_is_read_one_line_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "jobs.json"
    jobs = [Veo3Job(variant=f"v{i}", prompt="p") for i in range(10)]
    write_jobs_json(path, jobs)
    line = (json.dumps(job_to_dict(jobs[3])) + "\n").encode()
    with journal_path(path).open("wb") as journal:
        journal.write(line * (3_000_000 // len(line)))  # 3 MB of changes to ten jobs
        journal.write(line[:-10])  # and a torn last record

    assert read_jobs_json(path) == jobs
    assert _peak(lambda: read_jobs_json(path)) < 1_000_000
    assert _peak(lambda: check_writable(path)) < 1_000_000


def test_jobs_json_is_read_one_job_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "jobs.json"
    jobs = [Veo3Job(variant=f"v{i}", prompt="p" * 200, error_detail="d" * 200) for i in range(2000)]
    write_jobs_json(path, jobs)

    def whole_file() -> None:  # what reading cost before: the bytes, the text, then the jobs
        [job_from_dict(item) for item in json.loads(path.read_bytes().decode())["jobs"]]

    assert read_jobs_json(path) == jobs
    assert _peak(lambda: read_jobs_json(path)) < 0.8 * _peak(whole_file)
    assert _peak(lambda: check_writable(path)) < 0.2 * _peak(whole_file)


def test_appending_after_a_large_torn_tail_cuts_only_the_tail(tmp_path: Path) -> None:
    path = tmp_path / "jobs.json"
    journal = JobsJournal(path)
    journal.snapshot([Veo3Job(variant="a", prompt="p")])
    done = dataclasses.replace(Veo3Job(variant="a", prompt="p"), status=JobStatus.SUBMITTED)
    journal_path(path).write_bytes(
        (json.dumps(job_to_dict(done)) + "\n").encode() + b'{"variant": "a", ' + b"x" * 300_000
    )
    failed = done.failed(ErrorCode.TIMEOUT)
    journal.append(failed, lambda: [failed])
    journal.close()
    lines = journal_path(path).read_bytes().splitlines()
    assert len(lines) == 2
    assert read_jobs_json(path) == [failed]


def test_an_unreadable_journal_is_a_jobs_file_error(tmp_path: Path) -> None:
    path = tmp_path / "jobs.json"
    write_jobs_json(path, [Veo3Job(variant="a", prompt="p")])
    journal_path(path).write_bytes(b'{"variant": "a", "prompt": 1}\n')
    with pytest.raises(JobsFileError, match="record 1"):
        read_jobs_json(path)
