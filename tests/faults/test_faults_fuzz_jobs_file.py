"""jobs.json and its journal fuzzed with hypothesis, through ``Veo3Orchestrator.resume()``
and ``run()``: either the typed ``JobsFileError`` (and nothing written), or a run whose
result is exactly what jobs.json then holds.

tests/unit/test_store.py already fuzzes ``read_jobs_json`` with arbitrary JSON and bytes;
here the documents are valid jobs with a few fields broken (wrong types, wrong values,
unpaired surrogates, deep nesting), the kind of damage a hand edit or another tool leaves,
and the whole orchestrator reads them.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from veo3_adapter import (
    ErrorCode,
    FakeVeo3Adapter,
    JobsFileError,
    JobStatus,
    Veo3Job,
    Veo3Orchestrator,
    read_jobs_json,
)
from veo3_adapter.store import job_to_dict, journal_path

# A tmpfs, where there is one: each example fsyncs several times.
_TMP = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None

_FIELDS = [
    "variant",
    "prompt",
    "status",
    "operation_name",
    "error_message",
    "error_detail",
    "clip_path",
    "video_uri",
    "clip_bytes",
    "created_at",
    "updated_at",
    "options",
]
_OPTIONS = [
    "model",
    "aspect_ratio",
    "resolution",
    "duration_seconds",
    "negative_prompt",
    "person_generation",
    "enhance_prompt",
]
_texts = st.text(max_size=10) | st.sampled_from(
    [
        "\ud800",  # unpaired surrogates: valid JSON escapes, not valid UTF-8
        "a\udfffb",
        "\x00",
        "../x",
        "..",
        "/etc/passwd",
        *[s.value for s in JobStatus],
        *[c.value for c in ErrorCode],
        "models/veo-3.1-generate-001/operations/abc",
        "https://evil.example/operations/x",
    ]
)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | _texts
)
_values = _texts | st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_texts, inner, max_size=3),
    max_leaves=8,
)
_valid_jobs = st.builds(
    Veo3Job,
    variant=st.from_regex(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,8}", fullmatch=True),
    prompt=st.text(max_size=10),
    status=st.sampled_from(JobStatus),
    operation_name=st.sampled_from(
        ["", "models/veo-3.1-generate-001/operations/abc123", "operations/x", "../x"]
    ),
    error_message=st.sampled_from(["", *[c.value for c in ErrorCode]]),
    clip_bytes=st.integers(min_value=0, max_value=2**40),
)


@st.composite
def _broken_job(draw: st.DrawFn) -> dict[str, Any]:
    job = job_to_dict(draw(_valid_jobs))
    for name in draw(st.lists(st.sampled_from(_FIELDS), max_size=3, unique=True)):
        if draw(st.booleans()):
            job.pop(name, None)
        else:
            job[name] = draw(_values)
    if isinstance(job.get("options"), dict):
        for name in draw(st.lists(st.sampled_from(_OPTIONS), max_size=2, unique=True)):
            job["options"][name] = draw(_values)
    return job


_documents = st.fixed_dictionaries(
    {
        "version": st.sampled_from([1, 1, 1, 2, "1", None]),
        "jobs": st.lists(_broken_job(), max_size=4),
    }
) | st.lists(_broken_job(), max_size=3)


def _check(
    document: Any, journal_lines: list[Any], entry: Callable[[Veo3Orchestrator], object]
) -> None:
    with tempfile.TemporaryDirectory(dir=_TMP) as tmp:
        out = Path(tmp) / "out"
        jobs_path = out / "veo3" / "jobs.json"
        jobs_path.parent.mkdir(parents=True)
        jobs_path.write_text(json.dumps(document))  # ensure_ascii: surrogates stay escapes
        if journal_lines:
            journal_path(jobs_path).write_text("".join(json.dumps(r) + "\n" for r in journal_lines))
        files = {p.name: p.read_bytes() for p in jobs_path.parent.iterdir()}
        port = FakeVeo3Adapter()
        orchestrator = Veo3Orchestrator(
            port, out, poll_interval=0, timeout=0, sleep=lambda _s: None
        )
        try:
            entry(orchestrator)
        except JobsFileError as exc:
            assert exc.path in (jobs_path, journal_path(jobs_path))
            after = {p.name: p.read_bytes() for p in jobs_path.parent.iterdir()}
            assert after == {**files, ".veo3.lock": b""}  # nothing written but the lock
            assert port.calls == []
            return
        stored = read_jobs_json(jobs_path)  # what the run left is readable, and complete
        assert all(isinstance(job, Veo3Job) for job in stored)
        assert not journal_path(jobs_path).exists()


_SETTINGS = settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@_SETTINGS
@given(_documents)
def test_fuzz_resume_on_a_broken_jobs_json(document: Any) -> None:
    _check(document, [], lambda orchestrator: orchestrator.resume())


@_SETTINGS
@given(_documents)
def test_fuzz_run_on_a_broken_jobs_json(document: Any) -> None:
    _check(document, [], lambda orchestrator: orchestrator.run({"fresh": "a new clip"}))


@_SETTINGS
@given(
    st.lists(_valid_jobs, max_size=2, unique_by=lambda j: j.variant),
    st.lists(_broken_job(), min_size=1, max_size=3),
)
def test_fuzz_resume_on_a_broken_journal(snapshot: list[Veo3Job], records: list[Any]) -> None:
    document = {"version": 1, "jobs": [job_to_dict(job) for job in snapshot]}
    _check(document, records, lambda orchestrator: orchestrator.resume())


def test_an_unpaired_surrogate_is_refused_on_read_not_when_writing(tmp_path: Path) -> None:
    # What hypothesis found first: "\ud800" is a valid JSON escape, but jobs.json is UTF-8,
    # which cannot hold it; resume() read it, then crashed with UnicodeEncodeError writing.
    path = tmp_path / "out" / "veo3" / "jobs.json"
    job = job_to_dict(Veo3Job(variant="a", prompt="p", status=JobStatus.SUBMITTED))
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"version": 1, "jobs": [{**job, "error_detail": "x\ud800"}]}))
    raw = path.read_bytes()
    port = FakeVeo3Adapter()
    with pytest.raises(JobsFileError, match="'error_detail' holds an unpaired surrogate"):
        Veo3Orchestrator(port, tmp_path / "out", sleep=lambda _s: None).resume()
    assert path.read_bytes() == raw
    assert port.calls == []
