"""jobs.json (AC8): operation_name for every job, round-trips, old shapes load, bad files refused.

A refused file is never modified: the user fixes or moves it and runs again. A link, a
directory or a FIFO in place of jobs.json or its journal is never followed or waited on; the
output directory's lock; a file a newer release wrote is read but refused for writing.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from veo3_adapter import (
    GenerationOptions,
    JobsFileError,
    JobsFileNotFoundError,
    JobStatus,
    OutputDirInUseError,
    UnsafeOutputError,
    Veo3Job,
    _jsonstream,
    read_jobs_json,
    write_jobs_json,
)
from veo3_adapter.store import (
    JOBS_FILE_VERSION,
    LOCK_FILENAME,
    check_writable,
    job_to_dict,
    journal_path,
    locked_for_writing,
    read_backend_info,
)

OP_A = "models/veo-3.1-generate-001/operations/aaaaaaaaaaaa"
OP_B = "models/veo-3.1-generate-001/operations/bbbbbbbbbbbb"


def sample_jobs() -> list[Veo3Job]:
    return [
        Veo3Job(
            variant="hero",
            prompt="a cat on a skateboard",
            status=JobStatus.DOWNLOADED,
            operation_name=OP_A,
            clip_path="/out/veo3/hero.mp4",
            clip_bytes=2048,
            video_uri="https://generativelanguage.googleapis.com/v1beta/files/abc:download?alt=media",
            options=GenerationOptions(aspect_ratio="9:16", duration_seconds=8, enhance_prompt=True),
            created_at="2025-01-01T00:00:00+00:00",
            updated_at="2025-01-01T00:05:00+00:00",
        ),
        Veo3Job(
            variant="alt.2",
            prompt="a dog, ünïcödé ✓",
            status=JobStatus.FAILED,
            operation_name=OP_B,
            error_message="download_failed",
            error_detail="HTTP 403",
        ),
        Veo3Job(variant="pending", prompt="p"),
    ]


def test_ac8_every_job_has_operation_name_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "jobs.json"
    jobs = sample_jobs()
    write_jobs_json(path, jobs)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["version"] == JOBS_FILE_VERSION == 1
    assert [j["operation_name"] for j in data["jobs"]] == [OP_A, OP_B, ""]
    assert read_jobs_json(path) == jobs


def test_file_is_sorted_indented_utf8_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "jobs.json"
    write_jobs_json(path, sample_jobs())
    text = path.read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert "ünïcödé ✓" in text
    assert json.loads(text)["jobs"][0]["status"] == "downloaded"
    first = path.read_bytes()
    write_jobs_json(path, read_jobs_json(path))
    assert path.read_bytes() == first
    assert [p.name for p in tmp_path.iterdir()] == ["jobs.json"]


def test_old_shape_bare_list_without_operation_name_loads(tmp_path: Path) -> None:
    path = tmp_path / "jobs.json"
    old = [
        {"variant": "a", "prompt": "p", "status": "submitted"},
        {"variant": "b", "prompt": "q", "status": "downloaded", "clip_path": "veo3/b.mp4"},
        {"variant": "c", "prompt": "r"},
    ]
    raw = json.dumps(old).encode()
    path.write_bytes(raw)
    jobs = read_jobs_json(path)
    assert [(j.variant, j.status, j.operation_name) for j in jobs] == [
        ("a", JobStatus.SUBMITTED, ""),
        ("b", JobStatus.DOWNLOADED, ""),
        ("c", JobStatus.PENDING, ""),
    ]
    assert path.read_bytes() == raw


def test_unknown_fields_and_options_from_newer_releases_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "jobs.json"
    job = job_to_dict(Veo3Job(variant="a", prompt="p", operation_name=OP_A))
    job["future_field"] = {"x": 1}
    job["options"] = {"aspect_ratio": "16:9", "fps": 24, "negative_prompt": None}
    path.write_text(json.dumps({"version": 1, "jobs": [job]}))
    (loaded,) = read_jobs_json(path)
    assert loaded.options == GenerationOptions(aspect_ratio="16:9")
    assert loaded.operation_name == OP_A


def _job(**fields: Any) -> dict[str, Any]:
    return {"variant": "a", "prompt": "p", **fields}


CORRUPT: list[tuple[str, bytes, str]] = [
    ("bad json", b'{"version": 1, "jobs": [', "not valid JSON"),
    ("not utf-8", b'{"version": 1, "jobs": []}\xff', "UTF-8"),
    ("empty", b"", "not valid JSON"),
    ("unknown version", b'{"version": 0, "jobs": []}', "version 0"),
    ("version a string", b'{"version": "2", "jobs": []}', "version '2'"),
    ("no version", b'{"jobs": []}', "version None"),
    ("jobs not a list", b'{"version": 1, "jobs": {}}', "'jobs' list"),
    ("a string", b'"jobs"', "str"),
    ("a number", b"42", "int"),
    ("huge number", b"1" * 5000, "jobs"),
    ("deep nesting", b"[" * 100_000 + b"]" * 100_000, "jobs"),
    ("job not an object", b"[1]", "must be an object"),
    ("variant ../x", json.dumps([_job(variant="../x")]).encode(), "'../x'"),
    ("variant with slash", json.dumps([_job(variant="a/b")]).encode(), "'a/b'"),
    ("variant missing", json.dumps([{"prompt": "p"}]).encode(), "'variant'"),
    ("variant not str", json.dumps([_job(variant=7)]).encode(), "'variant'"),
    ("prompt not str", json.dumps([_job(prompt=None)]).encode(), "'prompt'"),
    ("bad status", json.dumps([_job(status="done")]).encode(), "unknown status 'done'"),
    ("status a list", json.dumps([_job(status=["x"])]).encode(), "unknown status"),
    ("operation_name int", json.dumps([_job(operation_name=5)]).encode(), "'operation_name'"),
    ("clip_bytes str", json.dumps([_job(clip_bytes="5")]).encode(), "'clip_bytes'"),
    ("clip_bytes bool", json.dumps([_job(clip_bytes=True)]).encode(), "'clip_bytes'"),
    ("clip_bytes negative", json.dumps([_job(clip_bytes=-1)]).encode(), "'clip_bytes'"),
    ("options a list", json.dumps([_job(options=[])]).encode(), "'options'"),
    ("option wrong type", json.dumps([_job(options={"duration_seconds": "8"})]).encode(), "'dur"),
    ("option bool as int", json.dumps([_job(options={"duration_seconds": True})]).encode(), "'dur"),
    ("duplicate variant", json.dumps([_job(), _job()]).encode(), "appears twice"),
]


@pytest.mark.parametrize(("raw", "needle"), [c[1:] for c in CORRUPT], ids=[c[0] for c in CORRUPT])
def test_corrupt_files_raise_jobs_file_error_naming_path_and_stay_unchanged(
    tmp_path: Path, raw: bytes, needle: str
) -> None:
    path = tmp_path / "jobs.json"
    path.write_bytes(raw)
    with pytest.raises(JobsFileError) as info:
        read_jobs_json(path)
    assert info.value.path == path
    assert str(path) in str(info.value)
    assert needle in str(info.value)
    assert path.read_bytes() == raw
    assert [p.name for p in tmp_path.iterdir()] == ["jobs.json"]


def test_missing_file_is_a_file_not_found_jobs_error(tmp_path: Path) -> None:
    path = tmp_path / "jobs.json"
    with pytest.raises(JobsFileNotFoundError) as info:
        read_jobs_json(path)
    assert isinstance(info.value, FileNotFoundError)
    assert str(path) in str(info.value)
    assert not path.exists()


def test_unreadable_file_is_a_jobs_file_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "jobs.json"
    write_jobs_json(path, sample_jobs())

    def refuse(_path: Path, _flags: int, _mode: int = 0o666) -> int:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(_jsonstream, "open_regular", refuse)
    with pytest.raises(JobsFileError, match="cannot be read .Permission denied"):
        read_jobs_json(path)


# -- planted files: links, directories, FIFOs ---------------------------------------------------


def _plant(path: Path, kind: str, target: Path) -> None:
    if kind == "link":
        path.symlink_to(target)
    elif kind == "dangling link":
        path.symlink_to(target.with_name("nowhere"))
    elif kind == "directory":
        path.mkdir()
    else:
        os.mkfifo(path)


_KINDS = {
    "link": "a symbolic link",
    "dangling link": "a symbolic link",
    "directory": "a directory",
    "fifo": "a FIFO",
}


@pytest.mark.parametrize("kind", list(_KINDS))
@pytest.mark.parametrize("journal", [False, True], ids=["jobs.json", "journal"])
def test_reading_never_follows_or_waits_on_a_planted_file(
    tmp_path: Path, kind: str, journal: bool
) -> None:
    path = tmp_path / "veo3" / "jobs.json"
    target = tmp_path / "elsewhere.json"
    write_jobs_json(target, sample_jobs())  # a valid jobs file: following it would "work"
    path.parent.mkdir()
    if journal:
        write_jobs_json(path, sample_jobs())
    planted = journal_path(path) if journal else path
    _plant(planted, kind, target)

    with pytest.raises(UnsafeOutputError) as info:
        read_jobs_json(path)  # a FIFO opened for reading would block here forever

    assert info.value.path == planted
    assert _KINDS[kind] in str(info.value) and str(planted) in str(info.value)
    assert isinstance(info.value, OSError) and not isinstance(info.value, JobsFileError)
    with pytest.raises(UnsafeOutputError):
        check_writable(path)


@pytest.mark.parametrize("kind", list(_KINDS))
def test_writing_refuses_a_planted_journal_before_writing_anything(
    tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "jobs.json"
    target = tmp_path / "target"
    target.write_bytes(b"no newline at the end")
    _plant(journal_path(path), kind, target)

    with pytest.raises(UnsafeOutputError, match=_KINDS[kind]):
        write_jobs_json(path, sample_jobs())

    assert not path.exists()
    assert target.read_bytes() == b"no newline at the end"
    assert os.path.lexists(journal_path(path))  # not removed either


def test_writing_over_a_link_replaces_the_link_not_its_target(tmp_path: Path) -> None:
    path = tmp_path / "jobs.json"
    target = tmp_path / "target"
    target.write_bytes(b"theirs")
    path.symlink_to(target)

    write_jobs_json(path, sample_jobs())

    assert not path.is_symlink() and read_jobs_json(path) == sample_jobs()
    assert target.read_bytes() == b"theirs"


def test_the_lock_makes_its_directory_and_refuses_a_second_holder(tmp_path: Path) -> None:
    path = tmp_path / "out" / "veo3" / "jobs.json"
    with locked_for_writing(path):
        assert (path.parent / LOCK_FILENAME).is_file()
        with pytest.raises(OutputDirInUseError, match="in use"), locked_for_writing(path):
            pass
    with locked_for_writing(path):  # released
        pass


def test_the_lock_never_makes_its_directory_through_a_link(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "veo3").symlink_to(elsewhere)

    with (
        pytest.raises(UnsafeOutputError, match="not a directory"),
        locked_for_writing(tmp_path / "out" / "veo3" / "jobs.json"),
    ):
        pass

    assert not elsewhere.exists()


# -- files a newer release wrote ----------------------------------------------------------------


def test_a_newer_version_is_read_as_far_as_it_is_understood(tmp_path: Path) -> None:
    path = tmp_path / "jobs.json"
    job = {**job_to_dict(sample_jobs()[0]), "thumbnail": "hero.png"}
    raw = json.dumps({"version": 2, "jobs": [job], "settings": {}}).encode()
    path.write_bytes(raw)

    assert read_jobs_json(path) == sample_jobs()[:1]
    with pytest.raises(JobsFileError) as info:
        check_writable(path)

    assert info.value.path == path
    message = str(info.value)
    assert "version 2" in message and "newer release" in message and "upgrade" in message
    assert path.read_bytes() == raw


def test_a_newer_version_with_a_job_this_release_cannot_read_says_so(tmp_path: Path) -> None:
    path = tmp_path / "jobs.json"
    path.write_text(json.dumps({"version": 3, "jobs": [_job(status="queued")]}))

    with pytest.raises(JobsFileError, match="unknown status 'queued'.*version 3, from a newer"):
        read_jobs_json(path)


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"thumbnail": "x.png"}, "'thumbnail'"),
        ({"options": {"fps": 24, "aspect_ratio": "16:9"}}, "options.'fps'"),
        ({f"f{i}": i for i in range(8)}, "and 3 more"),
    ],
    ids=["job field", "option", "many fields"],
)
def test_fields_a_newer_release_wrote_are_refused_for_writing(
    tmp_path: Path, extra: dict[str, Any], needle: str
) -> None:
    path = tmp_path / "jobs.json"
    path.write_text(json.dumps({"version": 1, "jobs": [_job(**extra)]}))

    (job,) = read_jobs_json(path)  # read: the unknown names are skipped
    assert job.variant == "a"
    with pytest.raises(JobsFileError, match="newer release") as info:
        check_writable(path)
    assert needle in str(info.value) and "job 'a'" in str(info.value)


def test_a_journal_record_a_newer_release_wrote_is_refused_for_writing(tmp_path: Path) -> None:
    path = tmp_path / "jobs.json"
    write_jobs_json(path, sample_jobs())
    journal = journal_path(path)
    journal.write_text(json.dumps(_job(variant="hero", thumbnail="x")) + "\n")

    with pytest.raises(JobsFileError, match="'thumbnail'") as info:
        check_writable(path)
    assert info.value.path == journal


def test_files_this_release_wrote_or_cannot_parse_pass_the_writing_check(tmp_path: Path) -> None:
    path = tmp_path / "jobs.json"
    check_writable(path)  # nothing there yet
    write_jobs_json(path, sample_jobs())
    journal_path(path).write_text(json.dumps(job_to_dict(sample_jobs()[2])) + "\n{torn")
    check_writable(path)
    path.write_bytes(b"[" * 100_000)  # corrupt: read_jobs_json reports it, not this check
    check_writable(path)
    path.write_text(json.dumps([_job(legacy="x")]))  # the shape before versioning
    check_writable(path)


# -- fuzzing -----------------------------------------------------------------------------------

_JOB_KEYS = [
    "variant",
    "prompt",
    "status",
    "operation_name",
    "error_message",
    "clip_bytes",
    "options",
    "video_uri",
]
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["a", "../x", "pending", "submitted", "downloaded", "failed", ""])
)
_json_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(_JOB_KEYS) | st.text(max_size=6), inner, max_size=6)
    ),
    max_leaves=20,
)
_job_like = st.fixed_dictionaries(
    {"variant": st.sampled_from(["a", "b", "../x", "", ".h"]) | _scalars, "prompt": _scalars},
    optional=dict.fromkeys(_JOB_KEYS[2:], _json_values),
)
_documents = (
    _json_values
    | st.lists(_job_like, max_size=4)
    | st.fixed_dictionaries(
        {"version": st.sampled_from([1, 2, "1", None, 1.0]), "jobs": st.lists(_job_like) | _scalars}
    )
)


def _check_read_never_modifies(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "jobs.json"
        path.write_bytes(raw)
        try:
            jobs = read_jobs_json(path)
        except JobsFileError as exc:
            assert exc.path == path
        else:
            assert isinstance(jobs, list)
            assert all(isinstance(job, Veo3Job) for job in jobs)
            assert len({job.variant for job in jobs}) == len(jobs)
        assert path.read_bytes() == raw
        assert [p.name for p in Path(tmp).iterdir()] == ["jobs.json"]


@settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(_documents)
def test_fuzz_read_jobs_json_json_values(document: Any) -> None:
    _check_read_never_modifies(json.dumps(document, allow_nan=True).encode())


@settings(max_examples=200, deadline=None, database=None)
@given(st.binary(max_size=200))
def test_fuzz_read_jobs_json_raw_bytes(raw: bytes) -> None:
    _check_read_never_modifies(raw)


_variant_names = st.from_regex(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,20}", fullmatch=True)
_texts = st.text(max_size=30)
_opt_texts = st.none() | _texts
_options = st.builds(
    GenerationOptions,
    model=_opt_texts,
    aspect_ratio=_opt_texts,
    resolution=_opt_texts,
    duration_seconds=st.none() | st.integers(min_value=0, max_value=60),
    negative_prompt=_opt_texts,
    person_generation=_opt_texts,
    enhance_prompt=st.none() | st.booleans(),
)
_jobs = st.builds(
    Veo3Job,
    variant=_variant_names,
    prompt=_texts,
    status=st.sampled_from(JobStatus),
    operation_name=_texts,
    error_message=_texts,
    error_detail=_texts,
    clip_path=_texts,
    options=_options,
    video_uri=_texts,
    clip_bytes=st.integers(min_value=0, max_value=2**40),
    created_at=_texts,
    updated_at=_texts,
)


@settings(max_examples=100, deadline=None, database=None)
@given(st.lists(_jobs, max_size=4, unique_by=lambda job: job.variant))
def test_fuzz_any_valid_jobs_round_trip(jobs: list[Veo3Job]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "jobs.json"
        write_jobs_json(path, jobs)
        assert read_jobs_json(path) == jobs


# -- where the jobs ran: the top-level "backend" object ----------------------------------------


def test_backend_info_is_written_read_and_ignored_by_job_readers(tmp_path: Path) -> None:
    path = tmp_path / "jobs.json"
    backend = {"backend": "gemini", "base_url": "http://127.0.0.1:8765", "model": "veo-3.1"}
    write_jobs_json(path, sample_jobs(), backend=backend)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert (data["version"], data["backend"]) == (JOBS_FILE_VERSION, backend)
    assert read_backend_info(path) == backend
    assert read_jobs_json(path) == sample_jobs()
    check_writable(path)  # a known top-level key: not a newer release's file
    write_jobs_json(path, sample_jobs())
    assert "backend" not in json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"version": 1, "jobs": []}, {}),
        ({"version": 1, "jobs": [], "backend": "gemini"}, {}),
        ({"version": 1, "jobs": [], "backend": {"backend": "x", "port": 8765}}, {"backend": "x"}),
        ([], {}),
    ],
    ids=["absent", "not an object", "non-string values", "bare list"],
)
def test_backend_info_is_empty_or_only_strings(
    tmp_path: Path, document: Any, expected: dict[str, str]
) -> None:
    path = tmp_path / "jobs.json"
    path.write_text(json.dumps(document))
    assert read_backend_info(path) == expected


def test_backend_info_without_a_file_is_empty_and_of_a_corrupt_one_an_error(
    tmp_path: Path,
) -> None:
    path = tmp_path / "jobs.json"
    assert read_backend_info(path) == {}
    path.write_bytes(b'{"backend": {"backend": ')
    with pytest.raises(JobsFileError, match="not valid JSON"):
        read_backend_info(path)
    path.unlink()
    path.symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(UnsafeOutputError):
        read_backend_info(path)
