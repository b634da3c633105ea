"""Record the Vertex AI scenarios with a canary token, project and bucket: none may end up in a
cassette or a log record, the audit finds nothing there, yet finds each of them planted."""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from _kit.keys import make_api_key, make_token
from _kit.logs import every_log_line

from pytest_veo3.scenarios import SCENARIO_CASSETTES, record_scenarios
from veo3_adapter import cli
from veo3_adapter._placeholders import CloudNames
from veo3_adapter.audit import audit_paths

VERTEX = [name for name, spec in SCENARIO_CASSETTES.items() if spec.backend == "vertex"]
PROJECT_FOUND = "a Google Cloud project id (recordings keep veo3-project) in a recorded URL"
BUCKET_FOUND = "a Cloud Storage bucket name (recordings keep veo3-bucket) in a recorded URL"


@dataclass(frozen=True)
class Recorded:
    out: Path
    key: str
    token: str
    project: str
    bucket: str
    lines: list[str]

    @property
    def cassettes(self) -> Path:
        return self.out / "cassettes"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    out = tmp_path_factory.mktemp("vertex-canary")
    canary = Recorded(
        out,
        make_api_key(),
        make_token(),
        "canary-" + secrets.token_hex(4),
        "canary-" + secrets.token_hex(4) + "-renders",
        [],
    )

    with every_log_line() as lines:
        written = record_scenarios(
            canary.cassettes,
            key=canary.key,
            token=canary.token,
            project=canary.project,
            bucket=canary.bucket,
            names=VERTEX,
            jobs_dir=out / "jobs",
        )
    canary.lines.extend(lines)
    assert sorted(p.stem for p in written) == sorted(VERTEX)
    return canary


def test_no_canary_is_in_a_cassette_or_body_file(recorded: Recorded) -> None:
    files = sorted(p for p in recorded.cassettes.rglob("*") if p.is_file())
    assert {p.suffix for p in files} == {".yaml", ".mp4", ".json"}
    for path in files:
        data = path.read_bytes()
        for value in (recorded.key, recorded.token, recorded.project, recorded.bucket):
            assert value.encode() not in data, (path, value)
    # The runs did use them: the real names are in their own jobs.json (which stays local).
    jobs = (recorded.out / "jobs" / "vertex_success" / "veo3" / "jobs.json").read_text()
    assert f"projects/{recorded.project}/" in jobs
    assert f"gs://{recorded.bucket}/renders/" in jobs


def test_no_credential_is_in_a_log_record(recorded: Recorded) -> None:
    assert len(recorded.lines) > 3 * len(VERTEX)
    for line in recorded.lines:
        assert recorded.token not in line
        assert recorded.key not in line


def test_the_audit_finds_nothing_in_what_was_recorded(
    recorded: Recorded, capsys: pytest.CaptureFixture[str]
) -> None:
    assert audit_paths([recorded.out]) == []  # jobs.json naming the project is not a finding
    assert cli.main(["cassettes", "audit", str(recorded.cassettes)]) == 0
    assert "veo3: no secrets found" in capsys.readouterr().out


def test_the_audit_finds_a_planted_token_project_and_bucket(
    recorded: Recorded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "cassettes"
    shutil.copytree(recorded.cassettes, copy)
    success = copy / "vertex_success.yaml"
    text = success.read_text()
    text = text.replace("/projects/veo3-project/", f"/projects/{recorded.project}/", 1)
    text = text.replace("/b/veo3-bucket/o/", f"/b/{recorded.bucket}/o/", 1)
    text = text.replace("      user-agent:\n", f"      user-agent:\n      - {recorded.token}\n", 1)
    success.write_text(text)
    opaque = "Bearer " + secrets.token_urlsafe(24) + "7"
    rai = copy / "vertex_rai_filtered.yaml"
    rai.write_text(rai.read_text().replace("\nversion: 1", f"\nnote: '{opaque}'\nversion: 1"))

    assert cli.main(["cassettes", "audit", str(copy)]) == 1
    found = {line.split(": ", 1)[1] for line in capsys.readouterr().out.splitlines()}
    assert found == {
        PROJECT_FOUND,
        BUCKET_FOUND,
        "an OAuth access token (ya29.)",
        "a bearer token (Bearer ...)",
    }


def test_the_recorder_refuses_a_cassette_that_names_the_real_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Were the names not replaced, the recorder would not leave the cassette behind.
    monkeypatch.setattr(CloudNames, "text", lambda _self, value: value)
    monkeypatch.setattr(CloudNames, "data", lambda _self, value: value)
    project = "canary-" + secrets.token_hex(4)
    with pytest.raises(RuntimeError, match="holds a real name or credential"):
        record_scenarios(tmp_path, project=project, names=["vertex_rai_filtered"])
    assert not (tmp_path / "vertex_rai_filtered.yaml").exists()
