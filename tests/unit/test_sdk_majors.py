"""The Gemini API on google-genai 3.x: no new submit (a clear, batch-stopping refusal with no
request sent), while jobs submitted earlier still poll and download to a clip.

On 3.x these run as they are; on 2.x the installed version is reported as 3.6.1 so the same
refusal path runs (the 2.x SDK itself could still submit, which the tests rule out by
counting the requests the emulator saw).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from _kit.clock import FakeClock
from _kit.keys import make_api_key
from _kit.sdk import SDK_MAJOR

from veo3_adapter import ErrorCode, JobStatus, Veo3Job, Veo3Orchestrator, _sdk
from veo3_adapter.compose import gemini_adapter
from veo3_adapter.emulator import Emulator
from veo3_adapter.mp4 import is_mp4_file
from veo3_adapter.store import write_jobs_json


@pytest.fixture
def sdk3(monkeypatch: pytest.MonkeyPatch) -> str:
    """google-genai 3.x: installed, or reported as installed."""
    if SDK_MAJOR < 3:
        monkeypatch.setattr(_sdk, "sdk_version", lambda: "3.6.1")
    return _sdk.sdk_version()


@pytest.fixture
def rig(tmp_path: Path) -> tuple[Emulator, httpx.Client, str]:
    key = make_api_key()
    clock = FakeClock()
    emulator = Emulator(key, sleep=clock.sleep, clock=clock)
    http = httpx.Client(transport=emulator.transport(), follow_redirects=False)
    return emulator, http, key


def _orchestrator(emulator: Emulator, http: httpx.Client, key: str, out: Path) -> Veo3Orchestrator:
    adapter = gemini_adapter(key, base_url=emulator.api_base, http_client=http)
    clock = FakeClock()
    return Veo3Orchestrator(adapter, out, poll_interval=1.0, sleep=clock.sleep, clock=clock)


def test_a_gemini_submit_on_sdk_3_fails_the_batch_naming_both_ways_out_and_sends_nothing(
    sdk3: str, rig: tuple[Emulator, httpx.Client, str], tmp_path: Path
) -> None:
    emulator, http, key = rig
    jobs = _orchestrator(emulator, http, key, tmp_path).run({"intro": "a boat", "outro": "a bay"})

    assert [j.status for j in jobs] == [JobStatus.FAILED, JobStatus.FAILED]
    assert [j.error_message for j in jobs] == [ErrorCode.SUBMIT_FAILED] * 2
    first = jobs[0]
    assert f"google-genai {sdk3}" in first.error_detail
    assert "Vertex AI" in first.error_detail and "express mode" in first.error_detail
    assert "google-genai<3" in first.error_detail
    assert "nothing was sent" in first.error_detail
    assert "ValueError" not in first.error_detail and "Traceback" not in first.error_detail
    # The refusal stops the batch: the second job was never tried.
    assert [j.batch_stopped_by for j in jobs] == ["intro", "intro"]
    assert emulator.requests == []
    assert key not in (tmp_path / "veo3" / "jobs.json").read_text()


def test_a_gemini_job_submitted_before_the_upgrade_resumes_to_a_clip(
    sdk3: str, rig: tuple[Emulator, httpx.Client, str], tmp_path: Path
) -> None:
    emulator, http, key = rig
    # What google-genai 2.x sent for this job before the upgrade, on the wire.
    answer = http.post(
        f"{emulator.api_base}/v1beta/models/veo-3.1-generate-001:predictLongRunning",
        headers={"x-goog-api-key": key},
        json={"instances": [{"prompt": "a boat"}], "parameters": {"sampleCount": 1}},
    )
    assert answer.status_code == 200, answer.text
    name = answer.json()["name"]
    jobs_json = tmp_path / "veo3" / "jobs.json"
    jobs_json.parent.mkdir()
    write_jobs_json(
        jobs_json,
        [Veo3Job("intro", "a boat", JobStatus.SUBMITTED, operation_name=name)],
        backend={"backend": "gemini", "base_url": emulator.api_base},
    )

    (job,) = _orchestrator(emulator, http, key, tmp_path).resume()

    assert job.status is JobStatus.DOWNLOADED, job.error_detail
    assert job.operation_name == name
    assert is_mp4_file(Path(job.clip_path))
    # Only the one submit made above: resume polled and downloaded, and sent no new job.
    submits = [r for r in emulator.requests if r.path.endswith(":predictLongRunning")]
    assert len(submits) == 1
    assert emulator.key_leaks == []
