"""Files planted in ``veo3/`` (a shared directory, a run directory received from someone
else): a symbolic link, a directory or a FIFO where veo3 keeps a file is never followed,
written through, waited on or removed. It is an ``UnsafeOutputError`` naming it, or, in
place of one clip, that job's failure while the other jobs complete.

Also here: jobs.json written by a newer release is read but never rewritten, and variants
that differ only in case (one file on macOS and Windows) are refused together.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from _kit.adapters import AdapterFactory
from _kit.emulator import emulator_wire
from _kit.faults import ServedFactory, tree
from _kit.sdk import run_gemini

from veo3_adapter import (
    ErrorCode,
    FakeVeo3Adapter,
    InvalidVariantError,
    JobsFileError,
    JobStatus,
    UnsafeOutputError,
    Veo3Job,
    Veo3Orchestrator,
    read_jobs_json,
)
from veo3_adapter.mp4 import iter_mp4, sample_clip
from veo3_adapter.store import job_to_dict, journal_path

HANG_GUARD = 20.0  # seconds: a hang fails the test this quickly instead of stalling the suite
PRECIOUS = b"someone else's file, with no trailing newline"
_KEY_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "VEO3_EMULATOR_KEY")


def _orchestrator(out: Path, port: FakeVeo3Adapter | None = None) -> Veo3Orchestrator:
    return Veo3Orchestrator(port or FakeVeo3Adapter(), out, poll_interval=0, sleep=lambda _s: None)


def _finished_run(out: Path) -> tuple[FakeVeo3Adapter, Path]:
    """A run of variants a and b, both downloaded; the fake and ``out/veo3``."""
    port = FakeVeo3Adapter()
    jobs = _orchestrator(out, port).run({"a": "clip a", "b": "clip b"})
    assert [j.status for j in jobs] == [JobStatus.DOWNLOADED] * 2
    return port, out / "veo3"


def _entry_points(out: Path, port: FakeVeo3Adapter) -> dict[str, Callable[[], object]]:
    return {
        "resume": lambda: _orchestrator(out, port).resume(),
        "run": lambda: _orchestrator(out, port).run({"c": "clip c"}),
    }


def _assert_refused(
    out: Path, port: FakeVeo3Adapter, planted: Path, kind: str, *, readers: bool = True
) -> None:
    """Every entry point raises ``UnsafeOutputError`` naming ``planted``; no job is touched."""
    attempts = _entry_points(out, port)
    if readers:
        attempts["read_jobs_json"] = lambda: read_jobs_json(out / "veo3" / "jobs.json")
    calls = list(port.calls)
    for name, attempt in attempts.items():
        with pytest.raises(UnsafeOutputError) as info:
            attempt()
        assert info.value.path == planted, name
        assert str(planted) in str(info.value) and kind in str(info.value), name
        assert isinstance(info.value, OSError)
    assert port.calls == calls  # nothing submitted, polled or downloaded


def _in_thread(call: Callable[[], object]) -> object:
    """``call()``'s result; fails (instead of hanging the suite) if it does not return soon."""
    results: list[object] = []
    worker = threading.Thread(target=lambda: results.append(call()), daemon=True)
    worker.start()
    worker.join(HANG_GUARD)
    assert not worker.is_alive(), f"hung for {HANG_GUARD}s"
    assert results, "raised instead of returning"
    return results[0]


# -- the journal and the lock ------------------------------------------------------------------


def test_a_dangling_journal_link_is_refused_and_its_target_never_created(
    out: Path, tmp_path: Path
) -> None:
    port, clips = _finished_run(out)
    (clips / "a.mp4").unlink()  # resume has work to journal
    target = tmp_path / "elsewhere" / "created-by-veo3"
    target.parent.mkdir()
    journal = journal_path(clips / "jobs.json")
    journal.symlink_to(target)

    _assert_refused(out, port, journal, "a symbolic link")

    assert not target.exists()
    assert journal.is_symlink()


def test_a_journal_link_to_a_file_without_newline_leaves_that_file_byte_for_byte(
    out: Path, tmp_path: Path
) -> None:
    port, clips = _finished_run(out)
    (clips / "a.mp4").unlink()
    target = tmp_path / "precious.txt"
    target.write_bytes(PRECIOUS)  # the journal's torn-tail repair would have truncated it
    before = target.stat()
    journal = journal_path(clips / "jobs.json")
    journal.symlink_to(target)

    _assert_refused(out, port, journal, "a symbolic link")

    assert target.read_bytes() == PRECIOUS
    assert target.stat().st_mtime_ns == before.st_mtime_ns


@pytest.mark.parametrize("dangling", [True, False], ids=["dangling", "to a file"])
def test_a_lock_link_is_refused_and_its_target_never_created_or_changed(
    out: Path, tmp_path: Path, dangling: bool
) -> None:
    port, clips = _finished_run(out)
    target = tmp_path / "lock-target"
    if not dangling:
        target.write_bytes(PRECIOUS)
    lock = clips / ".veo3.lock"
    lock.unlink()
    lock.symlink_to(target)
    jobs_before = (clips / "jobs.json").read_bytes()

    _assert_refused(out, port, lock, "a symbolic link", readers=False)

    assert target.exists() is not dangling
    if not dangling:
        assert target.read_bytes() == PRECIOUS
    assert (clips / "jobs.json").read_bytes() == jobs_before


@pytest.mark.parametrize("dangling", [True, False], ids=["dangling", "to a directory"])
def test_veo3_itself_a_link_is_refused_and_nothing_is_written_through_it(
    out: Path, tmp_path: Path, dangling: bool
) -> None:
    elsewhere = tmp_path / "elsewhere"
    if not dangling:
        elsewhere.mkdir()
        (elsewhere / "keep.txt").write_bytes(PRECIOUS)
    out.mkdir()
    (out / "veo3").symlink_to(elsewhere, target_is_directory=True)
    before = tree(tmp_path / "elsewhere") if not dangling else {}
    port = FakeVeo3Adapter()

    _assert_refused(out, port, out / "veo3", "a symbolic link", readers=False)

    if dangling:
        assert not elsewhere.exists()
    else:
        assert tree(elsewhere) == before
    with pytest.raises(UnsafeOutputError, match="not a directory"):
        _orchestrator(out, port).run({"a": "clip a"})


@pytest.mark.parametrize("kind", ["a directory", "a FIFO"])
@pytest.mark.parametrize("name", ["jobs.json", "jobs.json.journal", ".veo3.lock"])
def test_a_directory_or_fifo_in_place_of_our_files_is_refused_at_once(
    out: Path, name: str, kind: str
) -> None:
    port, clips = _finished_run(out)
    planted = clips / name
    planted.unlink(missing_ok=True)
    if kind == "a directory":
        planted.mkdir()
        (planted / "keep.txt").write_bytes(PRECIOUS)
    else:
        os.mkfifo(planted)
    attempts = _entry_points(out, port)
    if name != ".veo3.lock":
        attempts["read_jobs_json"] = lambda: read_jobs_json(clips / "jobs.json")
    for what, attempt in attempts.items():

        def refused(attempt: Callable[[], object] = attempt) -> object:
            try:
                attempt()
            except UnsafeOutputError as exc:
                return exc
            return None

        error = _in_thread(refused)
        assert isinstance(error, UnsafeOutputError), what
        assert error.path == planted and kind in str(error), what
    mode = planted.lstat().st_mode
    assert stat.S_ISDIR(mode) if kind == "a directory" else stat.S_ISFIFO(mode)


def test_a_directory_named_like_a_partial_file_is_left_alone(out: Path) -> None:
    port, clips = _finished_run(out)
    planted = clips / ".a.mp4.0123456789ab.veo3-partial"
    planted.mkdir()
    (clips / "a.mp4").unlink()

    (a, b) = _orchestrator(out, port).resume()

    assert (a.status, b.status) == (JobStatus.DOWNLOADED, JobStatus.DOWNLOADED)
    assert planted.is_dir()


# -- clips on resume ---------------------------------------------------------------------------


def test_a_directory_in_place_of_a_clip_fails_that_job_and_the_others_complete(
    out: Path,
) -> None:
    port, clips = _finished_run(out)
    clip = clips / "a.mp4"
    clip.unlink()
    clip.mkdir()
    (clip / "keep.txt").write_bytes(PRECIOUS)
    (clips / "b.mp4").unlink()  # b has to be fetched again in the same resume

    jobs = {j.variant: j for j in _orchestrator(out, port).resume()}

    assert jobs["a"].status is JobStatus.FAILED
    assert jobs["a"].error_message == ErrorCode.DOWNLOAD_FAILED.value
    assert str(clip) in jobs["a"].error_detail and "a directory" in jobs["a"].error_detail
    assert jobs["b"].status is JobStatus.DOWNLOADED
    assert (clips / "b.mp4").read_bytes() == sample_clip()
    assert (clip / "keep.txt").read_bytes() == PRECIOUS  # neither removed nor followed
    assert {j.variant: j for j in read_jobs_json(clips / "jobs.json")} == jobs


def test_a_fifo_in_place_of_a_clip_fails_that_job_without_hanging(out: Path) -> None:
    port, clips = _finished_run(out)
    clip = clips / "a.mp4"
    clip.unlink()
    os.mkfifo(clip)
    (clips / "b.mp4").unlink()

    resumed = _in_thread(lambda: _orchestrator(out, port).resume())

    assert isinstance(resumed, list)
    jobs = {j.variant: j for j in resumed}
    assert jobs["a"].status is JobStatus.FAILED
    assert jobs["a"].error_message == ErrorCode.DOWNLOAD_FAILED.value
    assert str(clip) in jobs["a"].error_detail and "a FIFO" in jobs["a"].error_detail
    assert jobs["b"].status is JobStatus.DOWNLOADED
    assert stat.S_ISFIFO(clip.lstat().st_mode)  # still there, never opened for reading


@pytest.mark.parametrize("target_is_mp4", [False, True], ids=["to a file", "to a real MP4"])
def test_a_link_in_place_of_a_clip_is_replaced_and_its_target_untouched(
    out: Path, tmp_path: Path, target_is_mp4: bool
) -> None:
    port, clips = _finished_run(out)
    target = tmp_path / "elsewhere.mp4"
    content = b"".join(iter_mp4(4096, seed="theirs")) if target_is_mp4 else PRECIOUS
    target.write_bytes(content)
    clip = clips / "a.mp4"
    clip.unlink()
    clip.symlink_to(target)

    jobs = {j.variant: j for j in _orchestrator(out, port).resume()}

    # A link is never trusted as our clip, even to a valid MP4: the clip is fetched again
    # and renamed over the link itself.
    assert jobs["a"].status is JobStatus.DOWNLOADED
    assert not clip.is_symlink() and clip.read_bytes() == sample_clip()
    assert target.read_bytes() == content
    assert [c.variant for c in port.calls_to("download_clip")] == ["a", "b", "a"]


# -- veo3 status ---------------------------------------------------------------------------------


def _status(out: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in _KEY_VARIABLES}
    return subprocess.run(
        [sys.executable, "-m", "veo3_adapter.cli", "status", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=HANG_GUARD,
        check=False,
    )


@pytest.mark.parametrize("name", ["jobs.json.journal", "jobs.json"])
def test_status_on_a_fifo_is_one_line_and_exit_2_without_hanging(out: Path, name: str) -> None:
    _, clips = _finished_run(out)
    fifo = clips / name
    fifo.unlink(missing_ok=True)
    os.mkfifo(fifo)

    result = _status(out)

    assert result.returncode == 2, result
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("veo3: error: ") and str(fifo) in line and "a FIFO" in line


# -- jobs.json from a newer release --------------------------------------------------------------


def _newer_jobs(clips: Path, how: str) -> Path:
    """Make jobs.json (or its journal) look written by a newer release; return that file."""
    path = clips / "jobs.json"
    job = job_to_dict(Veo3Job("a", "clip a", status=JobStatus.SUBMITTED, operation_name="op/a"))
    if how == "version":
        path.write_text(f'{{"version": 2, "jobs": [{_json(job)}]}}\n')
        return path
    if how == "job field":
        path.write_text(f'{{"version": 1, "jobs": [{_json({**job, "thumbnail": "a.png"})}]}}\n')
        return path
    if how == "option":
        job["options"] = {"fps": 24}
        path.write_text(f'{{"version": 1, "jobs": [{_json(job)}]}}\n')
        return path
    path.write_text(f'{{"version": 1, "jobs": [{_json(job)}]}}\n')
    journal = journal_path(path)
    journal.write_text(_json({**job, "status": "generated", "thumbnail": "a.png"}) + "\n")
    return journal


def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True)


@pytest.mark.parametrize("how", ["version", "job field", "option", "journal record"])
def test_a_newer_releases_jobs_file_is_read_but_never_rewritten(out: Path, how: str) -> None:
    clips = out / "veo3"
    clips.mkdir(parents=True)
    newer = _newer_jobs(clips, how)
    files = {p.name: p.read_bytes() for p in clips.iterdir()}
    needle = {"version": "version 2", "option": "'fps'"}.get(how, "'thumbnail'")

    (job,) = read_jobs_json(clips / "jobs.json")  # status still works
    assert job.variant == "a"
    port = FakeVeo3Adapter()
    for name, attempt in _entry_points(out, port).items():
        with pytest.raises(JobsFileError) as info:
            attempt()
        assert info.value.path == newer, name
        assert str(newer) in str(info.value) and needle in str(info.value), name
        assert "newer release" in str(info.value), name
    assert port.calls == []
    after = {p.name: p.read_bytes() for p in clips.iterdir()}
    assert after == {**files, ".veo3.lock": b""}  # nothing written but the lock
    result = _status(out)
    assert result.returncode == 0, result
    assert "submitted" in result.stdout or "generated" in result.stdout


# -- variants that are one file on macOS and Windows ----------------------------------------------


def test_variants_equal_ignoring_case_are_refused_together_naming_both(out: Path) -> None:
    port = FakeVeo3Adapter()
    with pytest.raises(InvalidVariantError) as info:
        _orchestrator(out, port).run({"Intro": "clip 1", "b": "clip b", "intro": "clip 2"})
    assert "'Intro'" in str(info.value) and "'intro'" in str(info.value)
    assert not out.exists()
    assert port.calls == []


def test_a_variant_equal_ignoring_case_to_a_kept_job_is_refused(out: Path) -> None:
    port, clips = _finished_run(out)
    before = tree(clips)
    calls = list(port.calls)

    with pytest.raises(InvalidVariantError) as info:
        _orchestrator(out, port).run({"A": "another clip a"})

    assert "'A'" in str(info.value) and "'a'" in str(info.value)
    assert tree(clips) == before
    assert port.calls == calls
    (again,) = _orchestrator(out, port).run({"a": "the same name is a replacement"})
    assert again.status is JobStatus.DOWNLOADED


def test_the_cli_refuses_a_prompts_file_with_intro_and_intro(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.toml"
    prompts.write_text('Intro = "a neon cat"\nintro = "a neon dog"\n')
    env = {k: v for k, v in os.environ.items() if k not in _KEY_VARIABLES}
    result = subprocess.run(
        [sys.executable, "-m", "veo3_adapter.cli", "run", str(prompts), "--out", "out"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=HANG_GUARD,
        check=False,
    )
    assert result.returncode == 2, result
    (line,) = result.stderr.splitlines()
    assert "'Intro'" in line and "'intro'" in line and str(prompts) in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kind", ["a directory", "a FIFO"])
def test_the_real_adapter_fails_only_that_job_before_fetching_its_body(
    served: ServedFactory, make_adapter: AdapterFactory, out: Path, kind: str, api_key: str
) -> None:
    emulator = served()
    adapter = make_adapter(emulator.api_base, transport=emulator.transport())
    orchestrator = Veo3Orchestrator(adapter, out, poll_interval=0, sleep=lambda _s: None)
    jobs = run_gemini(
        orchestrator, {"a": "clip a", "b": "clip b"}, emulator_wire(emulator, api_key)
    )
    assert [j.status for j in jobs] == [JobStatus.DOWNLOADED] * 2
    clip = out / "veo3" / "a.mp4"
    clip.unlink()
    if kind == "a directory":
        clip.mkdir()
    else:
        os.mkfifo(clip)
    (out / "veo3" / "b.mp4").unlink()

    resumed = _in_thread(orchestrator.resume)

    assert isinstance(resumed, list)
    jobs = {j.variant: j for j in resumed}
    assert jobs["a"].error_message == ErrorCode.DOWNLOAD_FAILED.value
    assert str(clip) in jobs["a"].error_detail and kind in jobs["a"].error_detail
    assert jobs["b"].status is JobStatus.DOWNLOADED
    assert stat.S_ISDIR(clip.lstat().st_mode) or stat.S_ISFIFO(clip.lstat().st_mode)
    assert not list((out / "veo3").glob("*.veo3-partial"))
