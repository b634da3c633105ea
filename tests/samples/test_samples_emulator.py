"""End to end on the emulator, both backends: a request for several videos through the
orchestrator, the real adapter and google-genai. In-process; over loopback sockets too.

The emulator answers ``sampleCount`` with that many videos, each with bytes of its own, and
its scenarios remove some (``filtered_samples``) or fail the download of some
(``failed_samples``). On google-genai 3.x, which submits to Vertex AI only, a Gemini API job
is submitted on the wire as 2.x sends it (``sampleCount`` included) and the run resumes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from _kit.pipeline import Pipeline
from _kit.sdk import GEMINI_SUBMITS, needs_gemini_submit

from veo3_adapter import (
    ErrorCode,
    GeminiVeo3Adapter,
    GenerationOptions,
    JobStatus,
    Veo3Job,
    Veo3Orchestrator,
    VideoInputs,
    read_jobs_json,
    write_jobs_json,
)
from veo3_adapter.cli._commands import status_table
from veo3_adapter.emulator import Scenario
from veo3_adapter.mp4 import is_mp4_file

BUCKET_URI = "gs://veo3-emulator/takes/"
TWO = {"a": GenerationOptions(number_of_videos=2)}


class SamplesPipeline(Pipeline):
    """An emulator whose ``[flaky]`` prompts fail the download of their second video,
    ``[filtered]`` ones lose one video to the filters, ``[signed]`` ones redirect to a second
    origin; and one backend's adapter on it (Vertex AI: ``bucket`` or inline)."""

    def __init__(self, backend: str, *, bucket: bool = True, sockets: bool = False) -> None:
        super().__init__(
            backend,
            seed=3,
            attempts=2,
            bucket_uri=BUCKET_URI if bucket else None,
            rules={
                "[flaky]": Scenario(failed_samples=(2,)),
                "[filtered]": Scenario(filtered_samples=1),
                "[signed]": Scenario(cross_origin=True, running_polls=2),
            },
            sockets=sockets,
        )
        self.bucket = bucket

    def first_run(
        self,
        orch: Veo3Orchestrator,
        prompts: Mapping[str, str],
        options: Mapping[str, GenerationOptions],
    ) -> list[Veo3Job]:
        """``orch.run`` on a new output directory; on google-genai 3.x a Gemini API job is
        first submitted on the wire, with its ``sampleCount``, and recorded, so the run
        resumes it."""
        if self.backend == "gemini" and not GEMINI_SUBMITS:
            assert not orch.jobs_path.exists()
            port = orch.port
            assert isinstance(port, GeminiVeo3Adapter)
            jobs = []
            for variant, prompt in prompts.items():
                opts = port.options.merged(options.get(variant))
                answer = self.http.post(
                    f"{self.base}/v1beta/models/{port.model}:predictLongRunning",
                    json={
                        "instances": [{"prompt": prompt}],
                        "parameters": {"sampleCount": opts.number_of_videos or 1},
                    },
                    headers={"x-goog-api-key": self.key},
                )
                name = answer.json()["name"]
                jobs.append(Veo3Job(variant, prompt, JobStatus.SUBMITTED, name, options=opts))
            orch.jobs_path.parent.mkdir(parents=True)
            write_jobs_json(orch.jobs_path, jobs)
        return orch.run(prompts, options=options)

    def bodies(self, job: Veo3Job) -> dict[int, int]:
        """The videos of ``job``'s operation the emulator has sent, by video (0: the first)."""
        return dict(self.emulator.operations[job.operation_name].sample_bodies)


PIPELINES = [
    pytest.param(("gemini", True), id="gemini"),
    pytest.param(("vertex", True), id="vertex-bucket"),
    pytest.param(("vertex", False), id="vertex-inline"),
]


@pytest.fixture(params=PIPELINES)
def pipeline(request: pytest.FixtureRequest) -> Iterator[SamplesPipeline]:
    backend, bucket = request.param
    built = SamplesPipeline(backend, bucket=bucket)
    yield built
    built.close()


@pytest.fixture(params=PIPELINES[:2])
def fetching(request: pytest.FixtureRequest) -> Iterator[SamplesPipeline]:
    """A pipeline whose videos are downloaded, not sent inline in the operation."""
    backend, bucket = request.param
    built = SamplesPipeline(backend, bucket=bucket)
    yield built
    built.close()


def clips(out: Path, *names: str) -> list[bytes]:
    return [(out / "veo3" / name).read_bytes() for name in names]


def test_two_videos_give_two_valid_different_clips(
    pipeline: SamplesPipeline, tmp_path: Path
) -> None:
    orch = pipeline.orchestrator(tmp_path)
    (job,) = pipeline.first_run(orch, {"a": "a lighthouse at dusk"}, TWO)

    veo3 = tmp_path / "veo3"
    assert (job.status, job.error_message, job.note) == (JobStatus.DOWNLOADED, "", "")
    assert job.clip_paths == (str(veo3 / "a.mp4"), str(veo3 / "a~2.mp4"))
    assert all(is_mp4_file(Path(p)) for p in job.clip_paths)
    first, second = clips(tmp_path, "a.mp4", "a~2.mp4")
    assert first != second
    assert [s.clip_bytes for s in job.samples] == [len(first), len(second)]
    if pipeline.backend == "gemini" or pipeline.bucket:
        assert len(set(job.video_uris)) == 2 and all(job.video_uris)
    else:
        assert job.video_uris == ("", "")  # sent inline: nothing to keep
    assert read_jobs_json(orch.jobs_path) == [job]
    assert pipeline.bodies(job) == ({0: 1, 1: 1} if pipeline.bucket else {})
    assert pipeline.emulator.key_leaks == []


def test_one_of_two_videos_failing_fails_the_job_and_keeps_the_other(
    fetching: SamplesPipeline, tmp_path: Path
) -> None:
    pipeline = fetching
    orch = pipeline.orchestrator(tmp_path)
    (job,) = pipeline.first_run(orch, {"a": "a lighthouse [flaky]"}, TWO)

    veo3 = tmp_path / "veo3"
    assert (job.status, job.error_message) == (JobStatus.FAILED, ErrorCode.DOWNLOAD_FAILED)
    assert "video 2 (a~2.mp4)" in job.error_detail and "404" in job.error_detail
    assert is_mp4_file(veo3 / "a.mp4") and not (veo3 / "a~2.mp4").exists()
    (recorded,) = read_jobs_json(orch.jobs_path)
    assert recorded.clip_paths == (str(veo3 / "a.mp4"), str(veo3 / "a~2.mp4"))
    assert [s.clip_bytes > 0 for s in recorded.samples] == [True, False]
    kept = (veo3 / "a.mp4").stat()

    (again,) = pipeline.orchestrator(tmp_path).resume()  # only the missing one is fetched

    assert again.error_message == ErrorCode.DOWNLOAD_FAILED  # the server still fails it
    assert pipeline.bodies(job) == {0: 1}
    assert (veo3 / "a.mp4").stat().st_ino == kept.st_ino  # never written again


DAMAGES: dict[str, Callable[[Path], object]] = {
    "lost": Path.unlink,
    "broken": lambda clip: clip.write_bytes(b"not a video"),
}


@pytest.mark.parametrize("damage", DAMAGES.values(), ids=DAMAGES.keys())
def test_resume_fetches_only_a_lost_or_broken_second_clip(
    pipeline: SamplesPipeline, tmp_path: Path, damage: Callable[[Path], object]
) -> None:
    orch = pipeline.orchestrator(tmp_path)
    (job,) = pipeline.first_run(orch, {"a": "a lighthouse at dawn"}, TWO)
    first, second = tmp_path / "veo3" / "a.mp4", tmp_path / "veo3" / "a~2.mp4"
    kept, data = first.stat(), second.read_bytes()
    damage(second)

    orch = pipeline.orchestrator(tmp_path)
    (resumed,) = orch.resume()

    assert resumed.status is JobStatus.DOWNLOADED and second.read_bytes() == data
    assert first.stat().st_ino == kept.st_ino  # the first clip is not fetched again
    assert pipeline.bodies(job) == ({0: 1, 1: 2} if pipeline.bucket else {})
    assert orch.last_run is not None and orch.last_run.resumed == ("a",)


def test_running_again_with_every_clip_valid_sends_nothing(
    pipeline: SamplesPipeline, tmp_path: Path
) -> None:
    prompts = {"a": "a lighthouse at night"}
    (job,) = pipeline.first_run(pipeline.orchestrator(tmp_path), prompts, TWO)
    seen = len(pipeline.emulator.requests)

    orch = pipeline.orchestrator(tmp_path)
    (again,) = orch.run(prompts, options=TWO)

    assert again == job and orch.last_run is not None and orch.last_run.skipped == ("a",)
    assert len(pipeline.emulator.requests) == seen


@pytest.mark.parametrize("backend", [pytest.param("gemini", marks=needs_gemini_submit), "vertex"])
def test_running_again_with_a_clip_missing_generates_again(backend: str, tmp_path: Path) -> None:
    pipeline = SamplesPipeline(backend)
    try:
        prompts = {"a": "a lighthouse by the sea"}
        (job,) = pipeline.orchestrator(tmp_path).run(prompts, options=TWO)
        (tmp_path / "veo3" / "a~2.mp4").unlink()

        orch = pipeline.orchestrator(tmp_path)
        (again,) = orch.run(prompts, options=TWO)

        assert orch.last_run is not None and orch.last_run.submitted == ("a",)
        assert again.status is JobStatus.DOWNLOADED and again.operation_name != job.operation_name
        assert all(is_mp4_file(Path(p)) for p in again.clip_paths)
    finally:
        pipeline.close()


def test_fewer_videos_than_asked_for_is_downloaded_with_a_note(
    pipeline: SamplesPipeline, tmp_path: Path
) -> None:
    prompts = {"a": "a lighthouse [filtered]"}
    orch = pipeline.orchestrator(tmp_path)
    (job,) = pipeline.first_run(orch, prompts, TWO)

    assert (job.status, job.error_message) == (JobStatus.DOWNLOADED, "")
    assert job.note.startswith("1 of the 2 videos asked for arrived; the safety filters removed 1")
    assert job.clip_paths == (str(tmp_path / "veo3" / "a.mp4"),)
    assert not (tmp_path / "veo3" / "a~2.mp4").exists()
    assert read_jobs_json(orch.jobs_path) == [job]
    assert status_table([job]).splitlines()[1].split()[-1] == "1/2"

    seen = len(pipeline.emulator.requests)
    (again,) = pipeline.orchestrator(tmp_path).run(prompts, options=TWO)
    assert again == job and len(pipeline.emulator.requests) == seen  # complete as it is


@pytest.mark.parametrize("backend", [pytest.param("gemini", marks=needs_gemini_submit), "vertex"])
def test_an_extension_continues_the_first_video(backend: str, tmp_path: Path) -> None:
    pipeline = SamplesPipeline(backend)
    try:
        orch = pipeline.orchestrator(tmp_path)
        (first,) = orch.run({"a": "a lighthouse at dusk"}, options=TWO)
        (more,) = orch.run({"b": "the light turns on"}, inputs={"b": VideoInputs(extend="a")})
        assert more.status is JobStatus.DOWNLOADED
        assert more.inputs.extend_uri == first.video_uris[0] == first.video_uri
    finally:
        pipeline.close()


@pytest.mark.parametrize("backend", ["gemini", "vertex"])
def test_two_videos_over_sockets(backend: str, tmp_path: Path) -> None:
    pipeline = SamplesPipeline(backend, sockets=True)
    try:
        orch = pipeline.orchestrator(tmp_path)
        prompts = {"a": "a lighthouse [signed]", "b": "a lighthouse [flaky]"}
        options = {**TWO, "b": GenerationOptions(number_of_videos=2)}
        a, b = pipeline.first_run(orch, prompts, options)

        assert a.status is JobStatus.DOWNLOADED
        assert len(set(clips(tmp_path, "a.mp4", "a~2.mp4"))) == 2
        assert b.error_message == ErrorCode.DOWNLOAD_FAILED
        assert is_mp4_file(tmp_path / "veo3" / "b.mp4")
        assert not (tmp_path / "veo3" / "b~2.mp4").exists()
        assert pipeline.emulator.key_leaks == []
    finally:
        pipeline.close()


def gemini_submit(pipeline: SamplesPipeline, parameters: dict[str, Any]) -> httpx.Response:
    return pipeline.http.post(
        f"{pipeline.base}/v1beta/models/veo-3.1-generate-001:predictLongRunning",
        json={"instances": [{"prompt": "a lighthouse"}], "parameters": parameters},
        headers={"x-goog-api-key": pipeline.key},
    )


@pytest.mark.parametrize("count", [0, 5, "2", True, 1.5])
def test_the_emulator_refuses_a_sample_count_the_api_does_not_take(count: object) -> None:
    pipeline = SamplesPipeline("gemini")
    try:
        answer = gemini_submit(pipeline, {"sampleCount": count})
        assert answer.status_code == 400
        assert "sampleCount must be an integer from 1 to 4" in answer.text
    finally:
        pipeline.close()


def test_the_emulator_answers_each_video_with_a_file_of_its_own() -> None:
    pipeline = SamplesPipeline("gemini")
    try:
        name = gemini_submit(pipeline, {"sampleCount": 3}).json()["name"]
        done = pipeline.http.get(
            f"{pipeline.base}/v1beta/{name}", headers={"x-goog-api-key": pipeline.key}
        ).json()
        samples = done["response"]["generateVideoResponse"]["generatedSamples"]
        uris = [sample["video"]["uri"] for sample in samples]
        assert len(set(uris)) == 3
        assert all(uri.endswith(":download?alt=media") for uri in uris)
        assert pipeline.emulator.operations[name].file_ids == tuple(
            uri.rsplit("/", 1)[-1].split(":")[0] for uri in uris
        )
    finally:
        pipeline.close()


def test_scenario_failed_samples_numbers_videos_from_one() -> None:
    with pytest.raises(ValueError, match="failed_samples"):
        Scenario(failed_samples=(0,))
    with pytest.raises(ValueError, match="filtered_samples"):
        Scenario(filtered_samples=-1)
