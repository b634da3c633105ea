"""``veo3 run --backend vertex`` against the emulator's Vertex AI routes over loopback sockets:
project mode (a made-up token), with a bucket (the Cloud Storage route) or inline, and
express mode (the key, or one made up for loopback)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _kit.cli import POLL, Result, Veo3, parse_table, write_prompts

from veo3_adapter.emulator import Emulator, Scenario
from veo3_adapter.emulator._vertex import EXPRESS_PROJECT
from veo3_adapter.models import DEFAULT_MODEL
from veo3_adapter.mp4 import is_mp4_file
from veo3_adapter.store import read_backend_info, read_jobs_json

PROJECT = "cli-proj"
BUCKET = "gs://cli-bucket/renders/"
VERTEX = ("--backend", "vertex")
PROJECT_MODE = (*VERTEX, "--project", PROJECT)
TO_BUCKET = ("--output-gcs-uri", BUCKET)


def run(veo3: Veo3, prompts: Path, *options: str, **kw: Any) -> Result:
    """``veo3 run PROMPTS --out out OPTIONS``, polling fast."""
    return veo3("run", str(prompts), "--out", "out", *options, *POLL, **kw)


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    return write_prompts(tmp_path / "p.toml", 'a = "a cat"\nb = "a dog"\n')


@pytest.fixture
def any_key_url() -> Iterator[tuple[Emulator, str]]:
    """An emulator that takes any key and any token, as ``veo3 emulator`` does."""
    emulator = Emulator(seed=17)
    with emulator.serve() as url:
        yield emulator, url


def _vertex_paths(emulator: Emulator) -> list[str]:
    return [request.path for request in emulator.requests]


def test_run_with_a_project_and_a_bucket_downloads_through_cloud_storage(
    veo3: Veo3, emulator: Emulator, base_url: str, prompts: Path, out: Path
) -> None:
    result = run(veo3, prompts, *PROJECT_MODE, *TO_BUCKET, "--base-url", base_url)

    assert result.code == 0, result
    rows = parse_table(result.out)
    assert [r["STATUS"] for r in rows] == ["downloaded", "downloaded"]
    prefix = f"projects/{PROJECT}/locations/us-central1/publishers/google/models/"
    assert all(r["OPERATION"].startswith(prefix + DEFAULT_MODEL) for r in rows)
    assert is_mp4_file(out / "veo3" / "a.mp4") and is_mp4_file(out / "veo3" / "b.mp4")
    paths = _vertex_paths(emulator)
    assert sum(p.startswith("/storage/v1/b/cli-bucket/o/renders%2F") for p in paths) == 2
    assert all(p.startswith(("/v1beta1/projects/cli-proj/", "/storage/")) for p in paths)
    assert emulator.key_leaks == []


def test_jobs_json_records_where_the_run_was_made_and_no_credential(
    veo3: Veo3, base_url: str, prompts: Path, out: Path
) -> None:
    result = run(
        veo3,
        prompts,
        *PROJECT_MODE,
        "--location",
        "us-central1",
        *TO_BUCKET,
        "--base-url",
        base_url,
    )

    assert result.code == 0, result
    jobs_json = out / "veo3" / "jobs.json"
    assert read_backend_info(jobs_json) == {
        "backend": "vertex",
        "mode": "project",
        "base_url": base_url,
        "storage_base_url": base_url,
        "model": DEFAULT_MODEL,
        "project": PROJECT,
        "location": "us-central1",
        "output_gcs_uri": BUCKET,
    }
    text = jobs_json.read_text()
    assert "local-" not in text and "token" not in text.lower() and veo3.key not in text


def test_run_without_a_bucket_writes_the_inline_video(
    veo3: Veo3, emulator: Emulator, base_url: str, prompts: Path, out: Path
) -> None:
    result = run(veo3, prompts, *PROJECT_MODE, "--base-url", base_url, "-q")

    assert result.code == 0, result
    assert result.err == ""
    assert is_mp4_file(out / "veo3" / "a.mp4")
    assert not any(p.startswith("/storage/") for p in _vertex_paths(emulator))
    assert "output_gcs_uri" not in read_backend_info(out / "veo3" / "jobs.json")


def test_a_project_on_loopback_needs_neither_a_key_nor_google_credentials(
    veo3: Veo3, any_key_url: tuple[Emulator, str], prompts: Path, tmp_path: Path
) -> None:
    emulator, url = any_key_url
    env = {"GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path / "missing.json")}

    result = run(veo3, prompts, *PROJECT_MODE, *TO_BUCKET, "--base-url", url, keyed=False, env=env)

    assert result.code == 0, result
    assert emulator.key_leaks == []


def test_express_mode_takes_the_key_from_the_environment(
    veo3: Veo3, emulator: Emulator, base_url: str, prompts: Path, out: Path
) -> None:
    result = run(veo3, prompts, *VERTEX, "--base-url", base_url)

    assert result.code == 0, result
    rows = parse_table(result.out)
    assert all(r["OPERATION"].startswith(f"projects/{EXPRESS_PROJECT}/") for r in rows)
    assert _vertex_paths(emulator)[0].startswith("/v1beta1/publishers/google/models/")
    backend = read_backend_info(out / "veo3" / "jobs.json")
    assert backend["mode"] == "express" and "project" not in backend
    assert "location" not in backend


def test_express_mode_on_loopback_needs_no_key(
    veo3: Veo3, any_key_url: tuple[Emulator, str], prompts: Path, out: Path
) -> None:
    _emulator, url = any_key_url

    result = run(veo3, prompts, *VERTEX, "--base-url", url, keyed=False)

    assert result.code == 0, result
    assert [j.status.value for j in read_jobs_json(out / "veo3" / "jobs.json")] == [
        "downloaded",
        "downloaded",
    ]


def test_a_failed_download_from_the_bucket_fails_that_job_only(
    veo3: Veo3, emulator: Emulator, base_url: str, prompts: Path
) -> None:
    emulator.rule("dog", Scenario.named("download_not_found"))

    result = run(veo3, prompts, *PROJECT_MODE, *TO_BUCKET, "--base-url", base_url)

    assert result.code == 1, result
    assert {r["VARIANT"]: r["ERROR"] for r in parse_table(result.out)} == {
        "a": "-",
        "b": "download_failed",
    }
    assert "veo3: b: failed: download_failed: " in result.err


def test_the_progress_and_table_carry_no_token(
    veo3: Veo3, base_url: str, prompts: Path, out: Path
) -> None:
    result = run(veo3, prompts, *PROJECT_MODE, *TO_BUCKET, "--base-url", base_url)

    assert result.code == 0, result
    assert "Bearer" not in result.out + result.err
    journal = out / "veo3" / "jobs.json.journal"
    stored = (out / "veo3" / "jobs.json").read_text()
    stored += journal.read_text() if journal.exists() else ""
    assert "Bearer" not in stored and "local-" not in stored
    json.loads((out / "veo3" / "jobs.json").read_text())  # a complete file
