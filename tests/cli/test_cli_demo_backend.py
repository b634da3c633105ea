"""``veo3 demo --backend``: the pipeline on the emulator's Vertex AI routes (a bucket, so the
clips come through its Cloud Storage route), and the default the installed google-genai
picks: gemini on 2.x, vertex on 3.x, said on the first line."""

from __future__ import annotations

import contextlib
import io
from importlib import metadata
from pathlib import Path

import pytest
from _kit.cli import TABLE_HEADER, Veo3, no_adc_env, parse_table

from veo3_adapter import compose
from veo3_adapter.cli import _demo, main
from veo3_adapter.mp4 import is_mp4_file
from veo3_adapter.store import read_backend_info, read_jobs_json

SDK = metadata.version("google-genai")


def test_demo_on_vertex_runs_the_pipeline_through_the_bucket_offline(
    veo3: Veo3, tmp_path: Path
) -> None:
    result = veo3(
        "demo", "--backend", "vertex", "--out", "demo", keyed=False, env=no_adc_env(tmp_path)
    )

    assert result.code == 0, result
    assert result.out.splitlines()[0] == (
        "veo3 demo: 3 variants on the built-in emulator's Vertex AI routes (regional, clips "
        "from a Cloud Storage bucket), output in demo"
    )
    clips = tmp_path / "demo" / "veo3"
    assert is_mp4_file(clips / "sunrise.mp4") and is_mp4_file(clips / "harbour.mp4")
    assert not (clips / "lighthouse.mp4").exists()
    jobs = read_jobs_json(clips / "jobs.json")
    assert {j.variant: (j.status.value, j.error_message) for j in jobs} == {
        "sunrise": ("downloaded", ""),
        "harbour": ("downloaded", ""),
        "lighthouse": ("failed", "download_failed"),
    }
    backend = read_backend_info(clips / "jobs.json")
    assert backend["backend"] == "vertex" and backend["mode"] == "project"
    assert backend["output_gcs_uri"] == _demo.DEMO_BUCKET
    assert backend["storage_base_url"] == backend["base_url"]
    rows = parse_table(result.out)
    assert all(
        r["OPERATION"].startswith(f"projects/{_demo.DEMO_PROJECT}/locations/us-central1/")
        for r in rows
    )
    assert "/storage/v1/b/veo3-demo/o/" in result.err  # the scripted 404 came from the bucket
    assert "ran as designed" in result.out


def test_demo_on_vertex_quiet_prints_only_the_table(veo3: Veo3) -> None:
    result = veo3("demo", "--backend", "vertex", "--quiet", "--out", "demo", keyed=False)

    assert result.code == 0, result
    assert result.err == ""
    lines = result.out.splitlines()
    assert lines[0].split() == TABLE_HEADER and len(lines) == 4


def test_demo_without_backend_picks_the_one_for_the_installed_sdk_and_says_so(
    veo3: Veo3, tmp_path: Path
) -> None:
    result = veo3("demo", "--out", "demo", keyed=False)

    assert result.code == 0, result
    first = result.out.splitlines()[0]
    on_3 = int(SDK.split(".")[0]) >= 3
    picked, other = ("Vertex AI", "gemini") if on_3 else ("Gemini API", "vertex")
    assert first.startswith(f"veo3 demo: 3 variants on the built-in emulator's {picked} routes")
    assert f"the default with google-genai {SDK}; --backend {other} for the " in first
    expected = "vertex" if picked == "Vertex AI" else "gemini"
    assert read_backend_info(tmp_path / "demo" / "veo3" / "jobs.json")["backend"] == expected


@pytest.mark.parametrize(("major", "backend"), [(2, "gemini"), (3, "vertex"), (4, "vertex")])
def test_the_default_backend_follows_the_sdk_major(
    monkeypatch: pytest.MonkeyPatch, major: int, backend: str
) -> None:
    monkeypatch.setattr(_demo, "sdk_major", lambda: major)

    assert _demo.default_backend() == backend


def test_the_sdk_major_is_the_installed_one() -> None:
    assert compose.sdk_version() == SDK
    assert compose.sdk_major() == int(SDK.split(".")[0])


def test_the_gemini_demo_on_sdk_3_is_a_usage_error_naming_the_way_out(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(_demo, "sdk_major", lambda: 3)
    monkeypatch.setattr(_demo, "sdk_version", lambda: "3.6.1")
    err = io.StringIO()

    with contextlib.redirect_stderr(err):
        code = main(["demo", "--backend", "gemini", "--out", str(tmp_path / "demo")])

    assert code == 2
    assert err.getvalue() == (
        "veo3: error: --backend gemini needs google-genai 2.x to submit (installed: 3.6.1, "
        "which generates video only through Vertex AI); use --backend vertex\n"
    )
    assert not (tmp_path / "demo").exists()


def test_the_demo_help_shows_the_default_for_this_sdk() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main(["demo", "--help"])
    text = " ".join(out.getvalue().split())

    assert "--backend {gemini,vertex}" in text
    assert (
        f"(default: gemini with google-genai 2.x, vertex with 3.x; here: {_demo.default_backend()})"
    ) in text
