"""``veo3 resume DIR``: continue from jobs.json against the same emulator, on the Gemini API.

google-genai 3.x still polls and downloads a Gemini API job; there the jobs of the first run
are submitted through the wire before it (``gemini_submitted``), and the run takes them up.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _kit.cli import (
    POLL,
    TABLE_HEADER,
    Veo3,
    files_in,
    gemini_submitted,
    parse_table,
    write_prompts,
)

from veo3_adapter.emulator import Emulator, Scenario
from veo3_adapter.models import DEFAULT_BASE_URL, DEFAULT_MODEL, Veo3Job
from veo3_adapter.mp4 import is_mp4_file
from veo3_adapter.store import read_jobs_json, write_jobs_json


def _operation(out: Path, variant: str) -> str:
    [job] = [j for j in read_jobs_json(out / "veo3" / "jobs.json") if j.variant == variant]
    return job.operation_name


def test_resume_fetches_a_deleted_clip_again_and_only_that_one(
    veo3: Veo3, emulator: Emulator, base_url: str, tmp_path: Path, out: Path
) -> None:
    prompts = write_prompts(tmp_path / "p.toml", 'a = "a cat"\nb = "a dog"\n')
    gemini_submitted(out, prompts, base_url, veo3.key)
    first = veo3("run", str(prompts), "--out", "out", "--base-url", base_url, *POLL)
    assert first.code == 0, first
    original = (out / "veo3" / "a.mp4").read_bytes()
    (out / "veo3" / "a.mp4").unlink()

    result = veo3("resume", "out", "--base-url", base_url, *POLL)

    assert result.code == 0, result
    assert (out / "veo3" / "a.mp4").read_bytes() == original
    operations = emulator.operations
    assert operations[_operation(out, "a")].api_downloads == 2
    assert operations[_operation(out, "b")].api_downloads == 1
    rows = {r["VARIANT"]: r["STATUS"] for r in parse_table(result.out)}
    assert rows == {"a": "downloaded", "b": "downloaded"}
    assert "veo3: a: fetching the clip again" in result.err


def test_resume_retries_a_failed_download_and_exits_0_once_every_clip_is_there(
    veo3: Veo3, emulator: Emulator, base_url: str, tmp_path: Path, out: Path
) -> None:
    emulator.rule("dog", Scenario(download_failures=(404,)))  # the first GET only
    prompts = write_prompts(tmp_path / "p.toml", 'a = "a cat"\nb = "a dog"\n')
    gemini_submitted(out, prompts, base_url, veo3.key)
    first = veo3("run", str(prompts), "--out", "out", "--base-url", base_url, *POLL)
    assert first.code == 1, first
    assert {j.variant: j.error_message for j in read_jobs_json(out / "veo3" / "jobs.json")} == {
        "a": "",
        "b": "download_failed",
    }

    result = veo3("resume", "out", "--base-url", base_url, *POLL)

    assert result.code == 0, result
    assert is_mp4_file(out / "veo3" / "b.mp4")
    jobs = {j.variant: j for j in read_jobs_json(out / "veo3" / "jobs.json")}
    assert [(j.status.value, j.error_message) for j in jobs.values()] == [
        ("downloaded", ""),
        ("downloaded", ""),
    ]
    assert emulator.operations[jobs["a"].operation_name].api_downloads == 1


def test_resume_exits_1_while_a_job_still_fails(
    veo3: Veo3, emulator: Emulator, base_url: str, tmp_path: Path, out: Path
) -> None:
    emulator.rule("dog", Scenario.named("download_not_found"))  # every time
    prompts = write_prompts(tmp_path / "p.toml", 'b = "a dog"\n')
    gemini_submitted(out, prompts, base_url, veo3.key)
    assert veo3("run", str(prompts), "--out", "out", "--base-url", base_url, *POLL).code == 1

    result = veo3("resume", "out", "--base-url", base_url, "--quiet", *POLL)

    assert result.code == 1, result
    assert result.err == ""
    assert result.out.splitlines()[0].split() == TABLE_HEADER
    assert [(r["STATUS"], r["ERROR"]) for r in parse_table(result.out)] == [
        ("failed", "download_failed")
    ]


def test_resume_without_jobs_file_names_the_fix(veo3: Veo3, out: Path) -> None:
    out.mkdir()

    result = veo3("resume", "out")

    assert result.code == 2, result
    assert result.err_lines == [
        "veo3: error: out has no veo3/jobs.json; pass the --out directory of an earlier run"
    ]
    assert files_in(out) == {}


@pytest.mark.parametrize(
    "content",
    [b'{"version": 1, "jobs": [', b'{"version": 1, "jobs": [{"variant": 3}]}\n'],
    ids=["truncated", "invalid job"],
)
def test_resume_on_a_corrupt_jobs_file_changes_nothing(
    veo3: Veo3, emulator: Emulator, base_url: str, out: Path, content: bytes
) -> None:
    (out / "veo3").mkdir(parents=True)
    (out / "veo3" / "jobs.json").write_bytes(content)
    before = files_in(out)

    result = veo3("resume", "out", "--base-url", base_url, *POLL)

    assert result.code == 2, result
    [line] = result.err_lines
    assert line.startswith("veo3: error: out/veo3/jobs.json: "), line
    assert line.endswith("The file was not changed; fix or move it, then run again."), line
    assert files_in(out) == before  # byte for byte, and no lock or journal file either
    assert emulator.requests == []


def test_resume_of_a_live_run_without_a_key_is_a_usage_error(veo3: Veo3, out: Path) -> None:
    (out / "veo3").mkdir(parents=True)
    write_jobs_json(out / "veo3" / "jobs.json", [Veo3Job("a", "a cat")])
    before = files_in(out)

    result = veo3("resume", "out", keyed=False)

    assert result.code == 2, result
    assert result.err_lines == [
        "veo3: error: no API key: set GEMINI_API_KEY (or GOOGLE_API_KEY) in the environment; "
        "keys are never taken from the command line"
    ]
    assert files_in(out) == before


# -- where the run was made: jobs.json remembers the base URL ---------------------------------


def _record_backend(out: Path, base_url: str) -> None:
    """jobs.json as a run against ``base_url`` leaves it."""
    path = out / "veo3" / "jobs.json"
    backend = {"backend": "gemini", "base_url": base_url, "model": DEFAULT_MODEL}
    write_jobs_json(path, read_jobs_json(path), backend=backend)


def _first_run(veo3: Veo3, tmp_path: Path, out: Path, base_url: str) -> None:
    prompts = write_prompts(tmp_path / "p.toml", 'a = "a cat"\n')
    gemini_submitted(out, prompts, base_url, veo3.key)
    first = veo3("run", str(prompts), "--out", "out", "--base-url", base_url, *POLL)
    assert first.code == 0, first
    (out / "veo3" / "a.mp4").unlink()


def test_resume_goes_back_to_the_recorded_base_url(
    veo3: Veo3, emulator: Emulator, base_url: str, tmp_path: Path, out: Path
) -> None:
    _first_run(veo3, tmp_path, out, base_url)
    _record_backend(out, base_url)

    result = veo3("resume", "out", *POLL)

    assert result.code == 0, result
    assert "warning" not in result.err
    [operation] = emulator.operations.values()
    assert operation.api_downloads == 2
    assert is_mp4_file(out / "veo3" / "a.mp4")


def test_a_recorded_loopback_base_url_needs_no_key(veo3: Veo3, tmp_path: Path, out: Path) -> None:
    with Emulator(seed=3).serve() as any_key:  # takes any key, as `veo3 emulator` does
        _first_run(veo3, tmp_path, out, any_key)
        _record_backend(out, any_key)

        result = veo3("resume", "out", *POLL, keyed=False)

    assert result.code == 0, result
    assert is_mp4_file(out / "veo3" / "a.mp4")


def test_an_explicit_base_url_that_differs_wins_with_a_warning(
    veo3: Veo3, emulator: Emulator, base_url: str, tmp_path: Path, out: Path
) -> None:
    _first_run(veo3, tmp_path, out, base_url)
    _record_backend(out, "http://127.0.0.1:1")

    result = veo3("resume", "out", "--base-url", base_url, *POLL)

    assert result.code == 0, result
    assert result.err_lines[0] == (
        f"veo3: warning: using --base-url {base_url}, not http://127.0.0.1:1 where this run "
        "was made (recorded in jobs.json)"
    )
    assert is_mp4_file(out / "veo3" / "a.mp4")


def test_the_recorded_base_url_given_again_is_no_warning(
    veo3: Veo3, emulator: Emulator, base_url: str, tmp_path: Path, out: Path
) -> None:
    _first_run(veo3, tmp_path, out, base_url)
    _record_backend(out, base_url)

    result = veo3("resume", "out", "--base-url", base_url + "/", "-q", *POLL)

    assert result.code == 0, result
    assert result.err == ""


def test_a_recorded_live_base_url_still_needs_the_key(veo3: Veo3, out: Path) -> None:
    (out / "veo3").mkdir(parents=True)
    write_jobs_json(
        out / "veo3" / "jobs.json",
        [Veo3Job("a", "a cat")],
        backend={"backend": "gemini", "base_url": DEFAULT_BASE_URL, "model": DEFAULT_MODEL},
    )

    result = veo3("resume", "out", keyed=False)

    assert result.code == 2, result
    assert result.err_lines[-1].startswith("veo3: error: no API key: ")


def test_a_recorded_foreign_server_gets_no_key_unless_named(
    veo3: Veo3, emulator: Emulator, base_url: str, tmp_path: Path, out: Path
) -> None:
    _first_run(veo3, tmp_path, out, base_url)
    _record_backend(out, "https://gateway.example.net")  # a run directory from someone else
    requests_before = len(emulator.requests)
    before = files_in(out)

    result = veo3("resume", "out", *POLL)

    assert result.code == 2, result
    assert result.err_lines == [
        "veo3: error: jobs.json records the server https://gateway.example.net, which is "
        "neither the Gemini API nor on this machine; to send your key there, say so: "
        "--base-url https://gateway.example.net"
    ]
    assert len(emulator.requests) == requests_before
    assert files_in(out) == before
