"""Veo3Orchestrator with FakeVeo3Adapter: the await gate a pipeline runs, and its resume."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from veo3_adapter import (
    ConfigurationError,
    DownloadError,
    FakeOutcome,
    FakeVeo3Adapter,
    GenerationOptions,
    InvalidJobError,
    InvalidPromptError,
    InvalidVariantError,
    JobsFileError,
    JobsFileNotFoundError,
    JobStatus,
    OutputDirInUseError,
    PollError,
    Veo3Error,
    Veo3GenerationError,
    Veo3Job,
    Veo3Orchestrator,
    read_jobs_json,
    write_jobs_json,
)
from veo3_adapter._files import TEMP_SUFFIX
from veo3_adapter.mp4 import is_mp4_file, sample_clip

if TYPE_CHECKING:
    from _kit.clock import FakeClock


def make(port: object, out: Path, clock: FakeClock, *, timeout: float = 600.0) -> Veo3Orchestrator:
    return Veo3Orchestrator(
        port,  # type: ignore[arg-type]
        out,
        poll_interval=10.0,
        timeout=timeout,
        sleep=clock.sleep,
        clock=clock,
        now=lambda: "2025-01-01T00:00:00+00:00",
    )


def saved(orch: Veo3Orchestrator) -> dict[str, dict[str, Any]]:
    data = json.loads(orch.jobs_path.read_text(encoding="utf-8"))
    assert data["version"] == 1
    return {job["variant"]: job for job in data["jobs"]}


def test_two_variants_one_download_failing(tmp_path: Path, fake_clock: FakeClock) -> None:
    fake = FakeVeo3Adapter({"b": FakeOutcome.download_failed(status_code=403)})
    orch = make(fake, tmp_path, fake_clock)
    jobs = orch.run({"a": "a cat", "b": "a dog"})

    by_variant = {job.variant: job for job in jobs}
    assert by_variant["a"].status is JobStatus.DOWNLOADED
    assert by_variant["b"].status is JobStatus.FAILED
    assert by_variant["b"].error_message == "download_failed"
    assert "403" in by_variant["b"].error_detail
    # AC1: the clip is at output_dir/veo3/{variant}.mp4, a real MP4.
    clip = tmp_path / "veo3" / "a.mp4"
    assert clip.read_bytes() == sample_clip()
    assert by_variant["a"].clip_path == str(clip)
    assert by_variant["a"].clip_bytes == len(sample_clip())
    assert not (tmp_path / "veo3" / "b.mp4").exists()
    # AC8: both operation names are recorded, and the file round-trips.
    on_disk = saved(orch)
    assert on_disk["a"]["operation_name"] == by_variant["a"].operation_name != ""
    assert on_disk["b"]["operation_name"] == by_variant["b"].operation_name != ""
    assert on_disk["b"]["error_message"] == "download_failed"
    assert read_jobs_json(orch.jobs_path) == jobs == orch.jobs()


def test_jobs_json_sorted_keys_version_1_and_no_leftovers(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    orch = make(FakeVeo3Adapter(), tmp_path, fake_clock)
    orch.run({"a": "p"})
    text = orch.jobs_path.read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert json.loads(text)["version"] == 1
    names = sorted(p.name for p in orch.clips_dir.iterdir())
    assert names == [".veo3.lock", "a.mp4", "jobs.json"]


def test_polls_until_done_and_waits_between(tmp_path: Path, fake_clock: FakeClock) -> None:
    fake = FakeVeo3Adapter(default=FakeOutcome.success(polls=3))
    orch = make(fake, tmp_path, fake_clock)
    (job,) = orch.run({"a": "p"})
    assert job.status is JobStatus.DOWNLOADED
    assert len(fake.calls_to("poll_job")) == 4
    assert fake_clock.sleep.delays == [10.0] * 4


@pytest.mark.parametrize(
    ("outcome", "code"),
    [
        (FakeOutcome.generation_failed("boom"), "generation_failed"),
        (FakeOutcome.rai_filtered("filtered"), "rai_filtered"),
    ],
)
def test_generation_failures_are_recorded(
    tmp_path: Path, fake_clock: FakeClock, outcome: FakeOutcome, code: str
) -> None:
    fake = FakeVeo3Adapter({"b": outcome})
    jobs = make(fake, tmp_path, fake_clock).run({"a": "p", "b": "q"})
    assert [(j.status, j.error_message) for j in jobs] == [
        (JobStatus.DOWNLOADED, ""),
        (JobStatus.FAILED, code),
    ]
    assert fake.calls_to("download_clip")[0].variant == "a"
    assert len(fake.calls_to("download_clip")) == 1


def test_submit_failure_is_recorded_and_others_go_on(tmp_path: Path, fake_clock: FakeClock) -> None:
    fake = FakeVeo3Adapter({"a": FakeOutcome.submit_failed(status_code=400, detail="bad prompt")})
    orch = make(fake, tmp_path, fake_clock)
    a, b = orch.run({"a": "p", "b": "q"})
    assert (a.status, a.error_message, a.operation_name) == (JobStatus.FAILED, "submit_failed", "")
    assert "bad prompt" in a.error_detail
    assert b.status is JobStatus.DOWNLOADED
    assert saved(orch)["a"]["error_message"] == "submit_failed"


def test_all_submits_failing_never_waits(tmp_path: Path, fake_clock: FakeClock) -> None:
    fake = FakeVeo3Adapter(default=FakeOutcome.submit_failed())
    (job,) = make(fake, tmp_path, fake_clock).run({"a": "p"})
    assert job.error_message == "submit_failed"
    assert fake_clock.sleep.delays == []


def test_timeout_uses_the_injected_clock_then_resume_finishes(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    fake = FakeVeo3Adapter({"slow": FakeOutcome.success(polls=5)})
    orch = make(fake, tmp_path, fake_clock, timeout=25.0)
    fast, slow = orch.run({"fast": "p", "slow": "q"})
    assert fast.status is JobStatus.DOWNLOADED
    assert (slow.status, slow.error_message) == (JobStatus.FAILED, "timeout")
    assert "25s" in slow.error_detail
    # Each job's timeout runs from its own submit: "slow" went 6 s after "fast" (ten submits
    # a minute) and was given up 25 s later.
    assert fake_clock.now == pytest.approx(6.0 + 25.0)
    assert saved(orch)["slow"]["error_message"] == "timeout"

    resumed = {j.variant: j for j in make(fake, tmp_path, fake_clock).resume()}
    assert resumed["slow"].status is JobStatus.DOWNLOADED
    assert (tmp_path / "veo3" / "slow.mp4").read_bytes() == sample_clip()
    assert resumed["fast"] == fast  # untouched: its clip is fine


def test_options_per_job_reach_the_port(tmp_path: Path, fake_clock: FakeClock) -> None:
    fake = FakeVeo3Adapter(options=GenerationOptions(aspect_ratio="16:9", resolution="720p"))
    orch = make(fake, tmp_path, fake_clock)
    a, b = orch.run({"a": "p", "b": "q"}, options={"b": GenerationOptions(aspect_ratio="9:16")})
    assert (a.options.aspect_ratio, b.options.aspect_ratio) == ("16:9", "9:16")
    assert b.options.resolution == "720p"
    assert saved(orch)["b"]["options"]["aspect_ratio"] == "9:16"


def test_run_keeps_other_variants_already_recorded(tmp_path: Path, fake_clock: FakeClock) -> None:
    fake = FakeVeo3Adapter()
    make(fake, tmp_path, fake_clock).run({"a": "p"})
    make(fake, tmp_path, fake_clock).run({"b": "q"})
    assert {j.variant: j.status for j in read_jobs_json(tmp_path / "veo3" / "jobs.json")} == {
        "a": JobStatus.DOWNLOADED,
        "b": JobStatus.DOWNLOADED,
    }


BAD_VARIANTS = ["a/b", "..", ".hidden", "a\x00b", "x" * 300, ""]


@pytest.mark.parametrize("variant", BAD_VARIANTS)
def test_invalid_variant_refused_before_anything_is_written(
    tmp_path: Path, fake_clock: FakeClock, variant: str
) -> None:
    fake = FakeVeo3Adapter()
    out = tmp_path / "out"
    orch = make(fake, out, fake_clock)
    with pytest.raises(ValueError) as info:
        orch.run({"good": "p", variant: "q"})
    assert isinstance(info.value, InvalidVariantError)
    assert repr(variant[:40]) in str(info.value)
    assert not out.exists()
    assert fake.calls == []
    with pytest.raises(InvalidVariantError):
        orch.clip_path(variant)


@pytest.mark.parametrize("prompt", ["", "   ", None, 7])
def test_empty_prompt_refused(tmp_path: Path, fake_clock: FakeClock, prompt: Any) -> None:
    out = tmp_path / "out"
    with pytest.raises(InvalidPromptError, match="'a'"):
        make(FakeVeo3Adapter(), out, fake_clock).run({"a": prompt})
    assert not out.exists()


BAD_INPUT: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {
    "variant": ({"a/b": "p"}, None),
    "empty prompt": ({"a": " "}, None),
    "prompt not text": ({"a": b"bytes"}, None),
    "prompt UTF-8 cannot hold": ({"a": "x\udc80"}, None),
    "option UTF-8 cannot hold": ({"a": "p"}, {"a": GenerationOptions(model="m\ud800")}),
    "options without a prompt": ({"a": "p"}, {"b": GenerationOptions()}),
}


@pytest.mark.parametrize(("prompts", "options"), BAD_INPUT.values(), ids=list(BAD_INPUT))
def test_bad_input_is_an_invalid_job_error_never_a_bare_value_error(
    tmp_path: Path, fake_clock: FakeClock, prompts: dict[str, Any], options: Any
) -> None:
    out = tmp_path / "out"
    with pytest.raises(ValueError) as info:
        make(FakeVeo3Adapter(), out, fake_clock).run(prompts, options=options)
    assert isinstance(info.value, InvalidJobError) and isinstance(info.value, Veo3Error)
    assert not out.exists()


def test_options_for_unknown_variant_refused(tmp_path: Path, fake_clock: FakeClock) -> None:
    out = tmp_path / "out"
    with pytest.raises(InvalidVariantError, match="'zz'"):
        orch = make(FakeVeo3Adapter(), out, fake_clock)
        orch.run({"a": "p"}, options={"zz": GenerationOptions()})
    assert not out.exists()


def test_negative_settings_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        Veo3Orchestrator(FakeVeo3Adapter(), tmp_path, timeout=-1)
    with pytest.raises(ValueError):
        Veo3Orchestrator(FakeVeo3Adapter(), tmp_path, poll_interval=-1)


@pytest.mark.parametrize(
    "settings",
    [
        {"concurrency": 0},
        {"downloads": 0},
        {"submit_rate": 0.0},
        {"submit_rate": float("nan")},
        {"submit_rate": -6.0},
    ],
)
def test_impossible_pacing_refused(tmp_path: Path, settings: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        Veo3Orchestrator(FakeVeo3Adapter(), tmp_path, **settings)


def test_the_pacing_defaults(tmp_path: Path) -> None:
    orch = Veo3Orchestrator(FakeVeo3Adapter(), tmp_path)
    assert (orch.concurrency, orch.downloads, orch.submit_rate) == (8, 4, 10.0)
    assert Veo3Orchestrator(FakeVeo3Adapter(), tmp_path, concurrency=1).downloads == 1


def test_empty_batch_does_nothing(tmp_path: Path, fake_clock: FakeClock) -> None:
    assert make(FakeVeo3Adapter(), tmp_path / "out", fake_clock).run({}) == []
    assert not (tmp_path / "out").exists()


# -- corrupt jobs.json -------------------------------------------------------------------------

CORRUPT = {
    "bad json": b'{"version": 1, "jobs": [',
    "unknown version": b'{"version": 99, "jobs": []}',
    "variant ../x": b'[{"variant": "../x", "prompt": "p"}]',
    "wrong field type": b'[{"variant": "a", "prompt": "p", "operation_name": 7}]',
}


@pytest.mark.parametrize("raw", CORRUPT.values(), ids=CORRUPT.keys())
@pytest.mark.parametrize("entry", ["run", "resume"])
def test_corrupt_jobs_file_refused_unchanged(
    tmp_path: Path, fake_clock: FakeClock, raw: bytes, entry: str
) -> None:
    fake = FakeVeo3Adapter()
    orch = make(fake, tmp_path, fake_clock)
    orch.clips_dir.mkdir(parents=True)
    orch.jobs_path.write_bytes(raw)
    with pytest.raises(JobsFileError) as info:
        orch.run({"a": "p"}) if entry == "run" else orch.resume()
    assert info.value.path == orch.jobs_path
    assert str(orch.jobs_path) in str(info.value)
    assert orch.jobs_path.read_bytes() == raw
    assert fake.calls == []
    assert not (orch.clips_dir / "a.mp4").exists()


def test_resume_without_jobs_file(tmp_path: Path, fake_clock: FakeClock) -> None:
    with pytest.raises(JobsFileNotFoundError):
        make(FakeVeo3Adapter(), tmp_path, fake_clock).resume()


# -- resume ------------------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["deleted", "not an mp4", "empty"])
def test_resume_fetches_a_missing_or_broken_clip_again(
    tmp_path: Path, fake_clock: FakeClock, damage: str
) -> None:
    fake = FakeVeo3Adapter()
    orch = make(fake, tmp_path, fake_clock)
    (first,) = orch.run({"a": "p"})
    clip = orch.clip_path("a")
    if damage == "deleted":
        clip.unlink()
    else:
        clip.write_bytes(b"<html>error page</html>" if damage == "not an mp4" else b"")
    (job,) = make(fake, tmp_path, fake_clock).resume()
    assert job.status is JobStatus.DOWNLOADED
    assert is_mp4_file(clip) and clip.read_bytes() == sample_clip()
    downloads = fake.calls_to("download_clip")
    assert len(downloads) == 2
    assert downloads[-1].operation_name == first.operation_name
    assert fake.calls_to("submit_job") == fake.calls_to("submit_job")[:1]  # never resubmitted


def test_resume_leaves_good_clips_and_final_failures_alone(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    fake = FakeVeo3Adapter({"bad": FakeOutcome.rai_filtered()})
    orch = make(fake, tmp_path, fake_clock)
    before = orch.run({"good": "p", "bad": "q"})
    calls = len(fake.calls)
    after = make(fake, tmp_path, fake_clock).resume()
    assert after == before
    assert len(fake.calls) == calls


def test_resume_polls_a_submitted_job(tmp_path: Path, fake_clock: FakeClock) -> None:
    fake = FakeVeo3Adapter(default=FakeOutcome.success(polls=1))
    submitted = fake.submit_job("a", "p")  # as if the process died right after submit
    write_jobs_json(tmp_path / "veo3" / "jobs.json", [submitted])
    (job,) = make(fake, tmp_path, fake_clock).resume()
    assert job.status is JobStatus.DOWNLOADED
    assert [c.operation_name for c in fake.calls_to("poll_job")] == [submitted.operation_name] * 2
    assert fake.calls_to("submit_job") == [fake.calls[0]]
    assert fake_clock.sleep.delays == [10.0]


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (JobStatus.SUBMITTED, ""),
        (JobStatus.GENERATED, ""),
        (JobStatus.DOWNLOADED, ""),
        (JobStatus.FAILED, "download_failed"),
        (JobStatus.FAILED, "timeout"),
    ],
)
def test_resume_without_operation_name_fails_the_job(
    tmp_path: Path, fake_clock: FakeClock, status: JobStatus, error: str
) -> None:
    fake = FakeVeo3Adapter()
    old = [{"variant": "a", "prompt": "p", "status": status.value, "error_message": error}]
    (tmp_path / "veo3").mkdir()
    (tmp_path / "veo3" / "jobs.json").write_text(json.dumps(old))  # old shape: no operation_name
    (job,) = make(fake, tmp_path, fake_clock).resume()
    assert (job.status, job.error_message) == (JobStatus.FAILED, "missing_operation_name")
    assert fake.calls == []
    assert saved(make(fake, tmp_path, fake_clock))["a"]["error_message"] == (
        "missing_operation_name"
    )


def test_resume_sends_a_job_that_was_never_sent(tmp_path: Path, fake_clock: FakeClock) -> None:
    # PENDING without an operation name: no submit of it was answered (a stopped run).
    fake = FakeVeo3Adapter()
    write_jobs_json(tmp_path / "veo3" / "jobs.json", [Veo3Job("a", "p")])
    orch = make(fake, tmp_path, fake_clock)
    (job,) = orch.resume()
    assert job.status is JobStatus.DOWNLOADED
    assert [call.variant for call in fake.calls_to("submit_job")] == ["a"]
    assert orch.last_run is not None and orch.last_run.submitted == ("a",)


class FlakyDownload(FakeVeo3Adapter):
    """A fake whose first ``failures`` downloads fail (an expired link, a dropped connection)."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def download_clip(self, job: Veo3Job, dest: Path) -> Path:
        if self.failures:
            self.failures -= 1
            raise DownloadError("HTTP 503", operation_name=job.operation_name, status_code=503)
        return super().download_clip(job, dest)


def test_resume_retries_a_failed_download(tmp_path: Path, fake_clock: FakeClock) -> None:
    port = FlakyDownload(failures=1)
    (failed,) = make(port, tmp_path, fake_clock).run({"a": "p"})
    assert (failed.status, failed.error_message) == (JobStatus.FAILED, "download_failed")
    (job,) = make(port, tmp_path, fake_clock).resume()
    assert job.status is JobStatus.DOWNLOADED
    assert job.operation_name == failed.operation_name
    assert (job.error_message, job.error_detail) == ("", "")
    assert len(port.calls_to("submit_job")) == 1
    assert port.calls_to("download_clip")[-1].operation_name == failed.operation_name


# -- poll errors -------------------------------------------------------------------------------


class FlakyPoll(FakeVeo3Adapter):
    """A fake whose first ``failures`` polls raise the given PollError."""

    def __init__(self, error: Veo3GenerationError, failures: int) -> None:
        super().__init__()
        self.error = error
        self.failures = failures

    def poll_job(self, job: Veo3Job) -> Veo3Job:
        if self.failures:
            self.failures -= 1
            raise self.error
        return super().poll_job(job)


def test_transient_poll_error_keeps_waiting(tmp_path: Path, fake_clock: FakeClock) -> None:
    port = FlakyPoll(PollError("HTTP 503", status_code=503), failures=2)
    (job,) = make(port, tmp_path, fake_clock).run({"a": "p"})
    assert job.status is JobStatus.DOWNLOADED
    assert fake_clock.sleep.delays == [10.0] * 3


@pytest.mark.parametrize(
    "error",
    [
        PollError("HTTP 403 PERMISSION_DENIED", status_code=403),
        Veo3GenerationError("HTTP 403 from a backend with its own errors", status_code=403),
    ],
    ids=["PollError", "other Veo3Error"],
)
def test_permanent_poll_error_fails_the_job_and_resume_polls_again(
    tmp_path: Path, fake_clock: FakeClock, error: Veo3GenerationError
) -> None:
    port = FlakyPoll(error, failures=1)
    (job,) = make(port, tmp_path, fake_clock).run({"a": "p"})
    assert (job.status, job.error_message) == (JobStatus.FAILED, "poll_failed")
    assert "403" in job.error_detail
    (job,) = make(port, tmp_path, fake_clock).resume()
    assert job.status is JobStatus.DOWNLOADED


# -- the output directory ----------------------------------------------------------------------


class Intruder(FakeVeo3Adapter):
    """While the first orchestrator holds the directory, a second one tries to use it."""

    def __init__(self, out: Path, clock: FakeClock) -> None:
        super().__init__()
        self.out = out
        self.clock = clock
        self.errors: list[Exception] = []

    def submit_job(
        self, variant: str, prompt: str, options: GenerationOptions | None = None
    ) -> Veo3Job:
        for attempt in ("run", "resume"):
            second = make(FakeVeo3Adapter(), self.out, self.clock)
            try:
                second.run({"intruder": "x"}) if attempt == "run" else second.resume()
            except OutputDirInUseError as exc:
                self.errors.append(exc)
        return super().submit_job(variant, prompt, options)


def test_second_orchestrator_on_same_directory_is_refused(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    port = Intruder(tmp_path, fake_clock)
    (job,) = make(port, tmp_path, fake_clock).run({"a": "p"})
    assert len(port.errors) == 2
    assert all(isinstance(e, RuntimeError) for e in port.errors)
    assert str(tmp_path / "veo3") in str(port.errors[0])
    assert job.status is JobStatus.DOWNLOADED
    assert [j.variant for j in read_jobs_json(tmp_path / "veo3" / "jobs.json")] == ["a"]
    # Released afterwards: the next orchestrator gets in.
    assert make(FakeVeo3Adapter(), tmp_path, fake_clock).run({"b": "q"})[0].status is (
        JobStatus.DOWNLOADED
    )


class SeesTempFiles(FakeVeo3Adapter):
    """Records, at each poll, which temporary files are in the clips directory."""

    def __init__(self, clips: Path) -> None:
        super().__init__()
        self.clips = clips
        self.seen: list[list[str]] = []

    def poll_job(self, job: Veo3Job) -> Veo3Job:
        self.seen.append(sorted(p.name for p in self.clips.glob(f"*{TEMP_SUFFIX}")))
        return super().poll_job(job)


@pytest.mark.parametrize("entry", ["run", "resume"])
def test_stale_temp_files_are_cleaned_at_start(
    tmp_path: Path, fake_clock: FakeClock, entry: str
) -> None:
    clips = tmp_path / "veo3"
    port = SeesTempFiles(clips)
    if entry == "resume":
        write_jobs_json(clips / "jobs.json", [port.submit_job("a", "p")])
    stale = [clips / f".a.mp4.x1y2{TEMP_SUFFIX}", clips / f".jobs.json.q{TEMP_SUFFIX}"]
    clips.mkdir(exist_ok=True)
    for path in stale:
        path.write_bytes(b"half a clip")
    (clips / "keep.txt").write_text("mine")
    orch = make(port, tmp_path, fake_clock)
    (job,) = orch.run({"a": "p"}) if entry == "run" else orch.resume()
    assert job.status is JobStatus.DOWNLOADED
    assert port.seen == [[]]  # already gone when the first poll happened
    assert not any(path.exists() for path in stale)
    assert (clips / "keep.txt").read_text() == "mine"
    assert not list(clips.glob(f"*{TEMP_SUFFIX}"))


def test_created_at_survives_submit(tmp_path: Path, fake_clock: FakeClock) -> None:
    stamps = iter(f"2025-01-01T00:00:{i:02d}+00:00" for i in range(60))
    orch = Veo3Orchestrator(
        FakeVeo3Adapter(),
        tmp_path,
        sleep=fake_clock.sleep,
        clock=fake_clock,
        now=lambda: next(stamps),
    )
    (job,) = orch.run({"a": "p"})
    assert job.created_at == "2025-01-01T00:00:00+00:00"
    assert job.updated_at > job.created_at
    assert read_jobs_json(orch.jobs_path)[0].created_at == job.created_at


class StampingPort(FakeVeo3Adapter):
    """A backend that stamps its own times and answers with text UTF-8 cannot hold."""

    def submit_job(
        self, variant: str, prompt: str, options: GenerationOptions | None = None
    ) -> Veo3Job:
        job = super().submit_job(variant, prompt, options)
        return dataclasses.replace(job, created_at="1999-01-01", updated_at="1999-01-01")

    def poll_job(self, job: Veo3Job) -> Veo3Job:
        polled = super().poll_job(job)
        return dataclasses.replace(polled, updated_at="1999-01-02")


def test_the_orchestrator_owns_the_time_stamps(tmp_path: Path, fake_clock: FakeClock) -> None:
    stamps = iter(f"2025-01-01T00:00:{i:02d}+00:00" for i in range(60))
    orch = Veo3Orchestrator(
        StampingPort(), tmp_path, sleep=fake_clock.sleep, clock=fake_clock, now=lambda: next(stamps)
    )
    (job,) = orch.run({"a": "p"})
    assert job.created_at == "2025-01-01T00:00:00+00:00"
    assert job.updated_at.startswith("2025-01-01T00:00:") and job.updated_at > job.created_at
    assert read_jobs_json(orch.jobs_path) == [job]


def test_the_default_time_stamps_are_utc_iso_seconds(tmp_path: Path, fake_clock: FakeClock) -> None:
    orch = Veo3Orchestrator(FakeVeo3Adapter(), tmp_path, sleep=fake_clock.sleep, clock=fake_clock)
    (job,) = orch.run({"a": "p"})
    for stamp in (job.created_at, job.updated_at):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", stamp), stamp


def test_text_from_the_backend_that_utf8_cannot_hold_is_stored_not_raised(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    # A server's JSON can carry "\\ud800"; jobs.json (UTF-8) cannot, and run() must not crash.
    fake = FakeVeo3Adapter(
        {"a": FakeOutcome.generation_failed("broken \ud800 reason")},
        options=GenerationOptions(negative_prompt="blur \udfff"),  # the backend's own setting
    )
    orch = make(fake, tmp_path, fake_clock)
    a, b = orch.run({"a": "p", "b": "q"})
    assert (a.status, a.error_detail) == (JobStatus.FAILED, "broken ? reason")
    assert b.status is JobStatus.DOWNLOADED and b.options.negative_prompt == "blur ?"
    assert read_jobs_json(orch.jobs_path) == [a, b]
