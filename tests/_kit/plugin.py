"""Helpers for the plugin's pytester tests (imported by conftest and test modules alike)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_veo3.scenarios import builtin_cassette

ENV_VARIABLES = (
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "VEO3_RECORD_MODE",
    "VEO3_CASSETTE_DIR",
    "VEO3_BASE_URL",
    "VEO3_SHRINK_VIDEOS",
    "VEO3_BODY_THRESHOLD",
)
API = "https://generativelanguage.googleapis.com"
OPERATIONS = f"{API}/v1beta/models/veo-3.1-generate-001/operations"
BODY_REF = "veo3-body-file:"


def copy_builtin(name: str, dest_dir: Path, as_name: str | None = None) -> Path:
    """Copy the built-in cassette ``name`` (and its body files) into ``dest_dir``."""
    source = builtin_cassette(name)
    assert source is not None, name
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / f"{as_name or name}.yaml"
    shutil.copyfile(source, dest)
    for ref in body_refs(dest):
        target = dest_dir / ref
        target.parent.mkdir(exist_ok=True)
        shutil.copyfile(source.parent / ref, target)
    return dest


def load_cassette(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), path
    return data


def response_bodies(path: Path) -> list[str]:
    """The response body strings of a cassette, in recorded order."""
    return [str(i["response"]["body"]["string"]) for i in load_cassette(path)["interactions"]]


def body_refs(path: Path) -> list[str]:
    """The body files a cassette references (``bodies/sha256-....ext``), in order."""
    return [b[len(BODY_REF) :] for b in response_bodies(path) if b.startswith(BODY_REF)]


def files_under(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file())


PIPELINE_PROMPT = "a paper boat on a rainy street"
PIPELINE_TEST = f"""
from __future__ import annotations

from veo3_adapter import JobStatus, Veo3Orchestrator
from veo3_adapter.mp4 import is_mp4_file


def test_pipeline(recorded_veo3, tmp_path):
    # poll_interval=0: recording talks to a real server in real time.
    orchestrator = Veo3Orchestrator(recorded_veo3, tmp_path, poll_interval=0)
    [job] = orchestrator.run({{"intro": "{PIPELINE_PROMPT}"}})
    assert job.status is JobStatus.DOWNLOADED, job
    assert is_mp4_file(orchestrator.clip_path("intro"))
"""


def run_subprocess(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """``runpytest_subprocess`` without hypothesis's plugin, which has nothing to do with
    veo3 and costs each fresh interpreter (each xdist worker too) ~0.5 s of imports."""
    return pytester.runpytest_subprocess("-p", "no:hypothesispytest", *args)
