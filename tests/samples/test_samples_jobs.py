"""Several videos per request, without a server: the option, the clip names, jobs.json, the
fake, and the orchestrator with ports that fetch some videos and fail others.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from veo3_adapter import (
    DownloadError,
    ErrorCode,
    FakeVeo3Adapter,
    GenerationOptions,
    InvalidJobError,
    InvalidOptionsError,
    InvalidVariantError,
    JobStatus,
    Veo3Job,
    Veo3Orchestrator,
    read_jobs_json,
    write_jobs_json,
)
from veo3_adapter.cli._commands import status_table
from veo3_adapter.fake import FakeCall
from veo3_adapter.models import SampleClip, validate_variant
from veo3_adapter.mp4 import is_mp4_file
from veo3_adapter.store import job_from_dict, job_to_dict

OP = "models/veo-3.1-generate-001/operations/"


def orchestrator(port: object, out: Path) -> Veo3Orchestrator:
    return Veo3Orchestrator(port, out, poll_interval=0, sleep=lambda s: None)  # type: ignore[arg-type]


# -- the option ------------------------------------------------------------------------------


def test_number_of_videos_is_an_option_from_one_to_four() -> None:
    assert GenerationOptions.schema()["number_of_videos"] is int
    assert GenerationOptions().number_of_videos is None  # unset: one video
    assert GenerationOptions.from_mapping({"number_of_videos": 4}).number_of_videos == 4
    assert "number_of_videos" in GenerationOptions.accepted_by("gemini")
    assert "number_of_videos" in GenerationOptions.accepted_by("vertex")


@pytest.mark.parametrize("value", [0, 5, -1, True, "2", 2.0])
def test_number_of_videos_out_of_range_or_of_another_type_is_refused(value: object) -> None:
    with pytest.raises(InvalidOptionsError, match="number_of_videos"):
        GenerationOptions.from_mapping({"number_of_videos": value})
    with pytest.raises(InvalidOptionsError, match="an integer from 1 to 4"):
        GenerationOptions(number_of_videos=value)  # type: ignore[arg-type]


# -- names -----------------------------------------------------------------------------------


def test_the_other_videos_get_names_no_variant_can_have(tmp_path: Path) -> None:
    orch = orchestrator(FakeVeo3Adapter(), tmp_path)
    assert orch.clip_path("intro") == tmp_path / "veo3" / "intro.mp4"
    assert orch.clip_path("intro", 1) == tmp_path / "veo3" / "intro~2.mp4"
    assert orch.clip_path("intro", 3) == tmp_path / "veo3" / "intro~4.mp4"
    with pytest.raises(InvalidVariantError):
        validate_variant("intro~2")
    assert "~" in (validate_variant.__doc__ or "")


# -- jobs.json -------------------------------------------------------------------------------


def two_video_job(clips: Path) -> Veo3Job:
    return Veo3Job("a", "p", status=JobStatus.DOWNLOADED, operation_name=OP + "x1").with_samples(
        [
            SampleClip("fake://files/x1:download", str(clips / "a.mp4"), 10),
            SampleClip("fake://files/x1-2:download", str(clips / "a~2.mp4"), 0),
        ]
    )


def test_every_clip_path_and_uri_round_trip_through_jobs_json(tmp_path: Path) -> None:
    job = two_video_job(tmp_path)
    assert (job.clip_path, job.video_uri, job.clip_bytes) == (
        str(tmp_path / "a.mp4"),
        "fake://files/x1:download",
        10,
    )
    assert job.clip_paths == (str(tmp_path / "a.mp4"), str(tmp_path / "a~2.mp4"))
    assert job.video_uris == ("fake://files/x1:download", "fake://files/x1-2:download")
    assert job.clips_downloaded == 1
    data = json.loads(json.dumps(job_to_dict(job)))
    assert data["samples"][1] == {
        "video_uri": "fake://files/x1-2:download",
        "path": str(tmp_path / "a~2.mp4"),
        "clip_bytes": 0,
    }
    assert job_from_dict(data) == job
    path = tmp_path / "jobs.json"
    write_jobs_json(path, [job])
    assert read_jobs_json(path) == [job]


def test_a_one_video_job_is_written_and_read_as_before(tmp_path: Path) -> None:
    one = Veo3Job("a", "p", status=JobStatus.DOWNLOADED, clip_path="/o/a.mp4", clip_bytes=3)
    data = job_to_dict(one)
    assert "samples" not in data and "note" not in data
    old = {"variant": "a", "prompt": "p", "status": "downloaded", "clip_path": "/o/a.mp4"}
    path = tmp_path / "jobs.json"
    path.write_text(json.dumps({"version": 1, "jobs": [old]}))
    (job,) = read_jobs_json(path)
    assert job.samples == () and job.clip_paths == ("/o/a.mp4",)
    assert job.clips_downloaded == 1
    assert one.with_samples([SampleClip("u", "/o/a.mp4", 3)]) == Veo3Job(
        "a", "p", status=JobStatus.DOWNLOADED, clip_path="/o/a.mp4", clip_bytes=3, video_uri="u"
    )


@pytest.mark.parametrize(
    ("samples", "needle"),
    [
        ("a.mp4", "field 'samples' must be a list"),
        (["a.mp4"], r"samples\[0\] must be an object"),
        ([{"path": 3}], r"samples\[0\].path must be a string"),
        ([{"clip_bytes": -1}], r"samples\[0\].clip_bytes"),
        ([{"video_uri": "\ud800"}], "unpaired surrogate"),
    ],
)
def test_a_broken_samples_field_is_refused_naming_it(samples: object, needle: str) -> None:
    with pytest.raises(InvalidJobError, match=needle):
        job_from_dict({"variant": "a", "prompt": "p", "samples": samples})


# -- the fake --------------------------------------------------------------------------------


def test_the_fake_writes_one_clip_per_video_asked_for(tmp_path: Path) -> None:
    fake = FakeVeo3Adapter()
    orch = orchestrator(fake, tmp_path)
    (job,) = orch.run({"a": "a cat"}, options={"a": GenerationOptions(number_of_videos=3)})

    assert job.status is JobStatus.DOWNLOADED and job.error_message == ""
    clips = tmp_path / "veo3"
    assert job.clip_paths == tuple(str(clips / n) for n in ("a.mp4", "a~2.mp4", "a~3.mp4"))
    assert all(is_mp4_file(Path(p)) for p in job.clip_paths)
    assert job.clips_downloaded == 3 and len(set(job.video_uris)) == 3
    downloads = [(c.method, c.sample) for c in fake.calls if c.method.startswith("download")]
    assert downloads == [("download_clip", 0), ("download_sample", 1), ("download_sample", 2)]
    assert read_jobs_json(orch.jobs_path) == [job]
    assert "SAMPLES" in status_table([job]) and "3/3" in status_table([job])


def test_a_one_video_run_on_the_fake_is_as_before(tmp_path: Path) -> None:
    fake = FakeVeo3Adapter()
    (job,) = orchestrator(fake, tmp_path).run({"a": "a cat"})
    assert job.samples == () and job.clip_paths == (str(tmp_path / "veo3" / "a.mp4"),)
    assert [c.method for c in fake.calls] == ["submit_job", "poll_job", "download_clip"]
    assert "SAMPLES" not in status_table([job])


# -- ports that fail some videos, or know only one -------------------------------------------


class FlakySamples(FakeVeo3Adapter):
    """The fake, with the download of the videos numbered in ``failing`` (0: the first)
    failing as a 404 would."""

    def __init__(self, failing: set[int]) -> None:
        super().__init__()
        self.failing = failing

    def download_sample(self, job: Veo3Job, sample: int, dest: Path) -> Path:
        if sample in self.failing:
            self.calls.append(FakeCall("download_sample", job.variant, sample=sample))
            raise DownloadError(f"download of video {sample + 1} failed: HTTP 404")
        return super().download_sample(job, sample, dest)


def test_one_failed_video_fails_the_job_and_keeps_the_others(tmp_path: Path) -> None:
    port = FlakySamples({1})
    orch = orchestrator(port, tmp_path)
    options = {"a": GenerationOptions(number_of_videos=3)}
    (job,) = orch.run({"a": "a cat"}, options=options)

    clips = tmp_path / "veo3"
    assert (job.status, job.error_message) == (JobStatus.FAILED, ErrorCode.DOWNLOAD_FAILED)
    assert "video 2 (a~2.mp4): download of video 2 failed: HTTP 404" in job.error_detail
    assert "2 of 3 videos downloaded and kept" in job.error_detail
    assert is_mp4_file(clips / "a.mp4") and is_mp4_file(clips / "a~3.mp4")
    assert not (clips / "a~2.mp4").exists()
    (recorded,) = read_jobs_json(orch.jobs_path)
    assert recorded.clip_paths == tuple(str(clips / n) for n in ("a.mp4", "a~2.mp4", "a~3.mp4"))
    assert [s.clip_bytes > 0 for s in recorded.samples] == [True, False, True]
    assert status_table([recorded]).splitlines()[1].split()[-1] == "2/3"

    port.failing.clear()
    port.calls.clear()
    (resumed,) = orch.resume()
    assert resumed.status is JobStatus.DOWNLOADED and resumed.clips_downloaded == 3
    assert [(c.method, c.sample) for c in port.calls] == [("download_sample", 1)]


def test_a_failed_first_video_keeps_the_later_ones(tmp_path: Path) -> None:
    class FirstFails(FakeVeo3Adapter):
        def download_clip(self, job: Veo3Job, dest: Path) -> Path:
            raise DownloadError("HTTP 500, retries exhausted")

    orch = orchestrator(FirstFails(), tmp_path)
    (job,) = orch.run({"a": "a cat"}, options={"a": GenerationOptions(number_of_videos=2)})
    assert job.error_message == ErrorCode.DOWNLOAD_FAILED
    assert job.error_detail.startswith("video 1 (a.mp4): HTTP 500")
    assert job.clip_bytes == 0 and is_mp4_file(tmp_path / "veo3" / "a~2.mp4")


class OneVideoPort:
    """A port written before several videos existed: submit, poll, ``download_clip``."""

    def __init__(self, samples: int = 1) -> None:
        self._fake = FakeVeo3Adapter()
        self._samples = samples

    def submit_job(
        self, variant: str, prompt: str, options: GenerationOptions | None = None
    ) -> Veo3Job:
        return self._fake.submit_job(variant, prompt, options)

    def poll_job(self, job: Veo3Job) -> Veo3Job:
        return self._fake.poll_job(job)

    def download_clip(self, job: Veo3Job, dest: Path) -> Path:
        return self._fake.download_clip(job, dest)


def test_a_port_with_only_download_clip_works_for_one_video(tmp_path: Path) -> None:
    (job,) = orchestrator(OneVideoPort(), tmp_path).run({"a": "a cat"})
    assert job.status is JobStatus.DOWNLOADED and job.samples == ()
    assert is_mp4_file(tmp_path / "veo3" / "a.mp4")


def test_a_port_reporting_videos_it_cannot_download_fails_as_a_bug(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Its poll (the fake's) reports two videos, but it has no download_sample.
    options = {"a": GenerationOptions(number_of_videos=2)}
    (job,) = orchestrator(OneVideoPort(), tmp_path).run({"a": "a cat"}, options=options)
    assert job.error_message == ErrorCode.INTERNAL_ERROR
    assert "has no download_sample()" in job.error_detail
    assert is_mp4_file(tmp_path / "veo3" / "a.mp4")  # the first video is kept


def test_status_shows_how_many_of_the_videos_asked_for_arrived() -> None:
    asked = GenerationOptions(number_of_videos=2)
    jobs = [
        Veo3Job("one", "p", status=JobStatus.DOWNLOADED, clip_bytes=2048),
        Veo3Job("two", "p", status=JobStatus.DOWNLOADED, options=asked, clip_bytes=2048),
        Veo3Job("later", "p", options=asked),
    ]
    lines = status_table(jobs).splitlines()
    assert lines[0].split() == ["VARIANT", "STATUS", "OPERATION", "ERROR", "CLIP", "SAMPLES"]
    assert [line.split()[-1] for line in lines[1:]] == ["1/1", "1/2", "0/2"]
