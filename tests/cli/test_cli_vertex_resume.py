"""``veo3 resume`` and ``veo3 status`` on a Vertex AI run: the backend comes back from what
jobs.json recorded (project, location, model, bucket, server; never a credential), and a
recorded server gets credentials only when it is Google's, on loopback, or named again."""

from __future__ import annotations

from pathlib import Path

import pytest
from _kit.cli import POLL, Veo3, files_in, no_adc_env, parse_table, write_prompts

from veo3_adapter.emulator import Emulator, Scenario
from veo3_adapter.models import DEFAULT_MODEL, ErrorCode, JobStatus, Veo3Job
from veo3_adapter.mp4 import is_mp4_file
from veo3_adapter.store import read_backend_info, read_jobs_json, write_jobs_json

PROJECT = "cli-proj"
BUCKET = "gs://cli-bucket/renders/"
OTHER_MODEL = "veo-3.1-fast-generate-001"


def _run(veo3: Veo3, tmp_path: Path, base_url: str, *extra: str, prompts: str = "") -> None:
    path = write_prompts(tmp_path / "p.toml", prompts or 'a = "a cat"\nb = "a dog"\n')
    vertex = ("--backend", "vertex", "--project", PROJECT, "--output-gcs-uri", BUCKET)
    veo3("run", str(path), "--out", "out", *vertex, "--base-url", base_url, *POLL, *extra)


def _storage_gets(emulator: Emulator) -> int:
    return sum(r.path.startswith("/storage/v1/b/cli-bucket/") for r in emulator.requests)


def _record(out: Path, **backend: str) -> None:
    path = out / "veo3" / "jobs.json"
    write_jobs_json(path, read_jobs_json(path), backend={**read_backend_info(path), **backend})


def test_resume_fetches_a_deleted_clip_again_from_the_bucket_with_no_credential_at_hand(
    veo3: Veo3, emulator: Emulator, base_url: str, tmp_path: Path, out: Path
) -> None:
    _run(veo3, tmp_path, base_url)
    original = (out / "veo3" / "a.mp4").read_bytes()
    (out / "veo3" / "a.mp4").unlink()
    gets = _storage_gets(emulator)

    result = veo3("resume", "out", *POLL, keyed=False, env=no_adc_env(tmp_path))

    assert result.code == 0, result
    assert "warning" not in result.err
    assert (out / "veo3" / "a.mp4").read_bytes() == original
    assert _storage_gets(emulator) == gets + 1
    assert {r["VARIANT"]: r["STATUS"] for r in parse_table(result.out)} == {
        "a": "downloaded",
        "b": "downloaded",
    }
    assert read_backend_info(out / "veo3" / "jobs.json")["project"] == PROJECT


def test_resume_polls_in_the_recorded_location(
    veo3: Veo3, emulator: Emulator, base_url: str, tmp_path: Path, out: Path
) -> None:
    emulator.default = Scenario(running_polls=3)  # still generating when the run gives up
    _run(veo3, tmp_path, base_url, "--location", "europe-west4", "--timeout", "0")
    assert {j.error_message for j in read_jobs_json(out / "veo3" / "jobs.json")} == {
        ErrorCode.TIMEOUT.value
    }
    before = len(emulator.requests)

    result = veo3("resume", "out", *POLL, keyed=False)

    assert result.code == 0, result
    polls = [r.path for r in emulator.requests[before:] if "fetchPredictOperation" in r.path]
    assert polls and all(
        p.startswith(f"/v1beta1/projects/{PROJECT}/locations/europe-west4/") for p in polls
    )


def test_resume_submits_the_jobs_a_stopped_run_left_unsent_with_the_recorded_model_and_bucket(
    veo3: Veo3, emulator: Emulator, base_url: str, tmp_path: Path, out: Path
) -> None:
    emulator.queue(Scenario.named("quota_exhausted_daily"))
    _run(veo3, tmp_path, base_url)
    jobs = read_jobs_json(out / "veo3" / "jobs.json")
    assert all(j.status is JobStatus.FAILED and j.batch_stopped_by for j in jobs)
    _record(out, model=OTHER_MODEL)
    before = len(emulator.requests)

    result = veo3("resume", "out", *POLL, keyed=False)

    assert result.code == 0, result
    submits = [r.path for r in emulator.requests[before:] if "predictLongRunning" in r.path]
    assert len(submits) == 2
    assert all(f"/models/{OTHER_MODEL}:" in p for p in submits)
    assert _storage_gets(emulator) == 2
    assert is_mp4_file(out / "veo3" / "a.mp4") and is_mp4_file(out / "veo3" / "b.mp4")


def test_an_explicit_base_url_that_differs_wins_with_a_warning(
    veo3: Veo3, emulator: Emulator, base_url: str, tmp_path: Path, out: Path
) -> None:
    _run(veo3, tmp_path, base_url)
    (out / "veo3" / "b.mp4").unlink()
    _record(out, base_url="http://127.0.0.1:1", storage_base_url="http://127.0.0.1:1")

    result = veo3("resume", "out", "--base-url", base_url, *POLL)

    assert result.code == 0, result
    assert result.err_lines[0] == (
        f"veo3: warning: using --base-url {base_url}, not http://127.0.0.1:1 where this run "
        "was made (recorded in jobs.json)"
    )
    assert is_mp4_file(out / "veo3" / "b.mp4")


def test_a_recorded_foreign_endpoint_gets_no_credentials_unless_named(
    veo3: Veo3, emulator: Emulator, base_url: str, tmp_path: Path, out: Path
) -> None:
    _run(veo3, tmp_path, base_url)
    (out / "veo3" / "a.mp4").unlink()
    _record(out, base_url="https://vertex.example.net")  # a run directory from someone else
    requests_before = len(emulator.requests)
    before = files_in(out)

    result = veo3("resume", "out", *POLL)

    assert result.code == 2, result
    assert result.err_lines == [
        "veo3: error: jobs.json records the server https://vertex.example.net, which is "
        "neither a Google Cloud endpoint nor on this machine; to send your credentials "
        "there, say so: --base-url https://vertex.example.net"
    ]
    assert len(emulator.requests) == requests_before
    assert files_in(out) == before


@pytest.mark.parametrize(
    "server",
    [
        "https://europe-west4-aiplatform.googleapis.com",
        "https://us-central1-aiplatform.googleapis.com/",
        "https://aiplatform.eu.rep.googleapis.com",
    ],
)
def test_a_recorded_google_endpoint_is_trusted_and_uses_application_default_credentials(
    veo3: Veo3, tmp_path: Path, out: Path, server: str
) -> None:
    (out / "veo3").mkdir(parents=True)
    name = f"projects/{PROJECT}/locations/europe-west4/publishers/google/models/{DEFAULT_MODEL}"
    write_jobs_json(
        out / "veo3" / "jobs.json",
        [Veo3Job("a", "a cat", status=JobStatus.SUBMITTED, operation_name=f"{name}/operations/1")],
        backend={
            "backend": "vertex",
            "mode": "project",
            "base_url": server,
            "project": PROJECT,
            "location": "europe-west4",
            "model": DEFAULT_MODEL,
        },
    )
    before = files_in(out)

    result = veo3("resume", "out", env=no_adc_env(tmp_path))  # this machine has none

    assert result.code == 2, result
    [line] = result.err_lines
    assert line.startswith(
        "veo3: error: --backend vertex with a project uses Application Default Credentials, "
        "and none could be loaded (DefaultCredentialsError: "
    ), line
    assert line.endswith(
        "run `gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS"
    )
    assert files_in(out) == before


def test_an_express_run_resumes_with_the_key(
    veo3: Veo3, emulator: Emulator, base_url: str, tmp_path: Path, out: Path
) -> None:
    prompts = write_prompts(tmp_path / "p.toml", 'a = "a cat"\n')
    first = veo3(
        "run", str(prompts), "--out", "out", "--backend", "vertex", "--base-url", base_url, *POLL
    )
    assert first.code == 0, first
    (out / "veo3" / "a.mp4").unlink()

    result = veo3("resume", "out", *POLL)

    assert result.code == 0, result
    assert is_mp4_file(out / "veo3" / "a.mp4")
    assert read_backend_info(out / "veo3" / "jobs.json")["mode"] == "express"


def test_an_express_run_on_google_needs_the_key(veo3: Veo3, out: Path) -> None:
    (out / "veo3").mkdir(parents=True)
    write_jobs_json(
        out / "veo3" / "jobs.json",
        [Veo3Job("a", "a cat")],
        backend={
            "backend": "vertex",
            "mode": "express",
            "base_url": "https://aiplatform.googleapis.com",
            "model": DEFAULT_MODEL,
        },
    )
    before = files_in(out)

    result = veo3("resume", "out", keyed=False)

    assert result.code == 2, result
    assert result.err_lines == [
        "veo3: error: jobs.json records a Vertex AI express-mode run: set GEMINI_API_KEY (or "
        "GOOGLE_API_KEY) to its key; keys are never taken from the command line"
    ]
    assert files_in(out) == before


def test_status_shows_a_vertex_run_read_only(
    veo3: Veo3, emulator: Emulator, base_url: str, tmp_path: Path, out: Path
) -> None:
    emulator.rule("dog", Scenario.named("rai_filtered"))
    _run(veo3, tmp_path, base_url)
    jobs = {j.variant: j for j in read_jobs_json(out / "veo3" / "jobs.json")}
    before = files_in(out)
    requests = len(emulator.requests)

    result = veo3("status", "out", keyed=False)

    assert result.code == 0, result
    assert result.err == ""
    assert parse_table(result.out) == [
        {
            "VARIANT": "a",
            "STATUS": "downloaded",
            "OPERATION": jobs["a"].operation_name,
            "ERROR": "-",
            "CLIP": "2.1 KB",
        },
        {
            "VARIANT": "b",
            "STATUS": "failed",
            "OPERATION": jobs["b"].operation_name,
            "ERROR": "rai_filtered",
            "CLIP": "-",
        },
    ]
    assert jobs["a"].operation_name.startswith(f"projects/{PROJECT}/locations/us-central1/")
    assert files_in(out) == before and len(emulator.requests) == requests
