"""``veo3 run``'s Vertex AI options: what they take, one-line usage errors (exit 2, nothing
written, nothing sent) for what does not fit, and their help."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from _kit.cli import Veo3, no_adc_env, write_prompts

from veo3_adapter.cli import build_parser, main
from veo3_adapter.emulator import Emulator

RUN = ("run", "p.toml", "--out", "out")  # the prompts fixture's file, in the command's directory
VERTEX = ("--backend", "vertex")


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    return write_prompts(tmp_path / "p.toml", 'a = "a cat"\n')


def _refused(result: object, line: str, tmp_path: Path) -> None:
    assert getattr(result, "code", None) == 2, result
    assert getattr(result, "err_lines", None) == [f"veo3: error: {line}"], result
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (("--project", "p1"), "--project"),
        (("--location", "europe-west4"), "--location"),
        (("--output-gcs-uri", "gs://b/x/"), "--output-gcs-uri"),
        (("--project", "p1", "--output-gcs-uri", "gs://b/x/"), "--project, --output-gcs-uri"),
    ],
)
def test_vertex_options_with_the_gemini_backend_are_refused(
    veo3: Veo3, prompts: Path, tmp_path: Path, options: tuple[str, ...], named: str
) -> None:
    result = veo3(*RUN, "--backend", "gemini", *options)

    _refused(
        result,
        f"{named}: only with --backend vertex (the Gemini API has no project, location or bucket)",
        tmp_path,
    )


def test_the_gemini_backend_is_the_default_of_run(
    veo3: Veo3, prompts: Path, tmp_path: Path
) -> None:
    result = veo3(*RUN, "--project", "p1")

    assert result.code == 2, result
    assert result.err_lines[-1].startswith("veo3: error: --project: only with --backend vertex")
    assert build_parser().parse_args(["run", "p.toml", "--out", "o"]).backend == "gemini"


def test_vertex_without_a_project_or_a_key_is_refused(
    veo3: Veo3, prompts: Path, tmp_path: Path
) -> None:
    result = veo3(*RUN, *VERTEX, keyed=False, env=no_adc_env(tmp_path))

    _refused(
        result,
        "--backend vertex needs --project PROJECT (credentials from Application Default "
        "Credentials) or, for express mode, a key in GEMINI_API_KEY or GOOGLE_API_KEY",
        tmp_path,
    )


@pytest.mark.parametrize("uri", ["bucket/prefix/", "https://storage.googleapis.com/b/", "s3://b/"])
def test_an_output_uri_that_is_not_gs_is_refused(
    veo3: Veo3, prompts: Path, tmp_path: Path, uri: str
) -> None:
    result = veo3(*RUN, *VERTEX, "--project", "p1", "--output-gcs-uri", uri)

    _refused(
        result,
        f"--output-gcs-uri {uri} is not a Cloud Storage URI; pass gs://BUCKET/PREFIX/",
        tmp_path,
    )


def test_a_gs_uri_that_names_no_valid_bucket_is_refused_before_anything_is_sent(
    veo3: Veo3, prompts: Path, tmp_path: Path
) -> None:
    emulator = Emulator()
    with emulator.serve() as url:
        result = veo3(
            *RUN, *VERTEX, "--project", "p1", "--output-gcs-uri", "gs://B/x/", "--base-url", url
        )

    assert result.code == 2, result
    assert result.err_lines == [
        "veo3: error: output_gcs_uri 'gs://B/x/' does not name a valid bucket"
    ]
    assert emulator.requests == []


@pytest.mark.parametrize(
    ("options", "line"),
    [
        (
            ("--location", "europe-west4"),
            "--location needs --project: express mode (a key, no project) has no location",
        ),
        (
            ("--output-gcs-uri", "gs://bucket/x/"),
            "--output-gcs-uri needs --project: express mode (a key, no project) has no "
            "bucket, videos come inline",
        ),
    ],
)
def test_express_mode_takes_no_location_or_bucket(
    veo3: Veo3, prompts: Path, tmp_path: Path, options: tuple[str, ...], line: str
) -> None:
    result = veo3(*RUN, *VERTEX, *options)

    _refused(result, line, tmp_path)


def test_a_project_without_application_default_credentials_is_a_usage_error(
    veo3: Veo3, prompts: Path, tmp_path: Path
) -> None:
    result = veo3(*RUN, *VERTEX, "--project", "p1", env=no_adc_env(tmp_path))

    assert result.code == 2, result
    [line] = result.err_lines
    assert line.startswith(
        "veo3: error: --backend vertex with a project uses Application Default Credentials"
    )
    assert "gcloud auth application-default login" in line
    assert not (tmp_path / "out").exists()


def test_a_credentials_file_that_is_missing_is_named(
    veo3: Veo3, prompts: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "sa.json"
    env = {**no_adc_env(tmp_path), "GOOGLE_APPLICATION_CREDENTIALS": str(missing)}

    result = veo3(*RUN, *VERTEX, "--project", "p1", env=env)

    assert result.code == 2, result
    assert str(missing) in result.err and len(result.err_lines) == 1


def test_an_unknown_backend_is_an_argparse_error(veo3: Veo3, prompts: Path) -> None:
    result = veo3(*RUN, "--backend", "sora")

    assert result.code == 2, result
    assert "argument --backend: invalid choice: 'sora'" in result.err_lines[-1]


def _help(*words: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main([*words, "--help"])
    return " ".join(out.getvalue().split())


def test_the_run_help_describes_the_vertex_options_and_their_defaults() -> None:
    text = _help("run")

    assert "--backend {gemini,vertex}" in text
    assert "express mode with a key (default: gemini)" in text
    assert "(default: us-central1)" in text
    assert "(default: none, which is express mode, with the key from GEMINI_API_KEY" in text
    assert "--output-gcs-uri gs://BUCKET/PREFIX/" in text
    assert "(default: none, the clips come back inline)" in text
    assert "Application Default Credentials (gcloud auth application-default login)" in text


def test_the_resume_help_says_it_rebuilds_the_recorded_backend() -> None:
    text = _help("resume")

    assert "on the backend its jobs.json records" in text
    assert "project, location, model and bucket" in text
