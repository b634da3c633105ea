"""``run`` twice on the same output directory pays once: recorded clips are kept, recorded
operations resumed, and only what changed (or everything, with ``force``) is submitted again.
jobs.json also records where the jobs ran (the port's ``describe()``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from veo3_adapter import (
    FakeOutcome,
    FakeVeo3Adapter,
    GenerationOptions,
    JobStatus,
    RunSummary,
    Veo3Job,
    Veo3Orchestrator,
    read_jobs_json,
    write_jobs_json,
)
from veo3_adapter.store import check_writable, read_backend_info

if TYPE_CHECKING:
    from _kit.clock import FakeClock

PROMPTS = {"a": "a cat", "b": "a dog", "c": "a fox"}


def make(port: object, out: Path, clock: FakeClock) -> Veo3Orchestrator:
    return Veo3Orchestrator(
        port,  # type: ignore[arg-type]
        out,
        poll_interval=10.0,
        sleep=clock.sleep,
        clock=clock,
        now=lambda: "2025-01-01T00:00:00+00:00",
    )


def submits(fake: FakeVeo3Adapter) -> list[str]:
    return [call.variant for call in fake.calls_to("submit_job")]


def saved_jobs(out: Path) -> dict[str, dict[str, Any]]:
    data = json.loads((out / "veo3" / "jobs.json").read_text(encoding="utf-8"))
    return {job["variant"]: job for job in data["jobs"]}


def test_a_second_run_with_the_same_prompts_submits_nothing(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    fake = FakeVeo3Adapter()
    first = make(fake, tmp_path, fake_clock).run(PROMPTS)
    calls = len(fake.calls)

    orch = make(fake, tmp_path, fake_clock)
    second = orch.run(PROMPTS)

    assert second == first
    assert len(fake.calls) == calls  # not a submit, a poll or a download
    assert orch.last_run == RunSummary(skipped=("a", "b", "c"))
    assert read_jobs_json(orch.jobs_path) == first


def test_options_the_same_as_recorded_including_the_default_model_are_kept(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    options = {"b": GenerationOptions(aspect_ratio="9:16")}
    fake = FakeVeo3Adapter(options=GenerationOptions(resolution="720p"))
    make(fake, tmp_path, fake_clock).run(PROMPTS, options=options)
    assert saved_jobs(tmp_path)["a"]["options"]["model"]  # the backend's default, recorded

    orch = make(fake, tmp_path, fake_clock)
    orch.run(PROMPTS, options=options)

    assert submits(fake) == ["a", "b", "c"]
    assert orch.last_run is not None and orch.last_run.skipped == ("a", "b", "c")


@pytest.mark.parametrize(
    ("prompts", "options"),
    [
        ({**PROMPTS, "b": "a dog, at night"}, {}),
        (PROMPTS, {"b": GenerationOptions(duration_seconds=4)}),
        (PROMPTS, {"b": GenerationOptions(model="veo-3.0-fast-generate-001")}),
    ],
    ids=["prompt", "option", "model"],
)
def test_a_changed_prompt_or_option_regenerates_only_that_variant(
    tmp_path: Path,
    fake_clock: FakeClock,
    prompts: dict[str, str],
    options: dict[str, GenerationOptions],
) -> None:
    fake = FakeVeo3Adapter()
    first = {j.variant: j for j in make(fake, tmp_path, fake_clock).run(PROMPTS)}

    orch = make(fake, tmp_path, fake_clock)
    second = {j.variant: j for j in orch.run(prompts, options=options)}

    assert submits(fake) == ["a", "b", "c", "b"]
    assert orch.last_run == RunSummary(submitted=("b",), skipped=("a", "c"))
    assert second["b"].status is JobStatus.DOWNLOADED
    assert second["b"].operation_name != first["b"].operation_name
    assert (second["a"], second["c"]) == (first["a"], first["c"])


def test_a_removed_option_and_another_default_model_count_as_changes(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    fake = FakeVeo3Adapter()
    make(fake, tmp_path, fake_clock).run(
        {"a": "p", "b": "q"}, options={"a": GenerationOptions(aspect_ratio="9:16")}
    )
    make(fake, tmp_path, fake_clock).run({"a": "p", "b": "q"})  # a's option dropped
    assert submits(fake) == ["a", "b", "a"]

    other = FakeVeo3Adapter(options=GenerationOptions(model="veo-3.0-generate-001"))
    orch = make(other, tmp_path, fake_clock)
    orch.run({"a": "p", "b": "q"})
    assert submits(other) == ["a", "b"]
    assert orch.last_run == RunSummary(submitted=("a", "b"))


def test_force_regenerates_everything(tmp_path: Path, fake_clock: FakeClock) -> None:
    fake = FakeVeo3Adapter()
    first = make(fake, tmp_path, fake_clock).run(PROMPTS)
    orch = make(fake, tmp_path, fake_clock)
    second = orch.run(PROMPTS, force=True)
    assert submits(fake) == ["a", "b", "c"] * 2
    assert orch.last_run == RunSummary(submitted=("a", "b", "c"))
    assert [j.operation_name for j in second] != [j.operation_name for j in first]
    assert all(j.status is JobStatus.DOWNLOADED for j in second)


class Interrupted(FakeVeo3Adapter):
    """The process is stopped (Ctrl-C) the first time ``method`` is called for ``variant``."""

    def __init__(self, method: str, variant: str, *, polls: int = 1) -> None:
        super().__init__(default=FakeOutcome.success(polls=polls))
        self.method = method
        self.variant = variant
        self.armed = True

    def _maybe_stop(self, method: str, variant: str) -> None:
        if self.armed and (method, variant) == (self.method, self.variant):
            self.armed = False
            raise KeyboardInterrupt

    def poll_job(self, job: Veo3Job) -> Veo3Job:
        self._maybe_stop("poll_job", job.variant)
        return super().poll_job(job)

    def download_clip(self, job: Veo3Job, dest: Path) -> Path:
        self._maybe_stop("download_clip", job.variant)
        return super().download_clip(job, dest)


@pytest.mark.parametrize(
    ("method", "status"),
    [("poll_job", JobStatus.SUBMITTED), ("download_clip", JobStatus.GENERATED)],
)
def test_a_live_operation_is_resumed_not_submitted_again(
    tmp_path: Path, fake_clock: FakeClock, method: str, status: JobStatus
) -> None:
    fake = Interrupted(method, "b")
    with pytest.raises(KeyboardInterrupt):
        make(fake, tmp_path, fake_clock).run(PROMPTS)
    recorded = {j.variant: j for j in read_jobs_json(tmp_path / "veo3" / "jobs.json")}
    assert recorded["b"].status is status
    calls = len(fake.calls)

    orch = make(fake, tmp_path, fake_clock)
    jobs = {j.variant: j for j in orch.run(PROMPTS)}

    assert submits(fake) == ["a", "b", "c"]  # nothing sent twice
    later = fake.calls[calls:]
    assert {call.operation_name for call in later} <= {
        job.operation_name for job in recorded.values()
    }
    assert ("download_clip", "b") in [(call.method, call.variant) for call in later]
    assert all(job.status is JobStatus.DOWNLOADED for job in jobs.values())
    assert jobs["b"].operation_name == recorded["b"].operation_name
    assert jobs["b"].created_at == recorded["b"].created_at
    assert orch.last_run is not None and "b" in orch.last_run.resumed
    assert orch.last_run.submitted == ()


@pytest.mark.parametrize("damage", ["deleted", "not an mp4"])
def test_a_missing_or_broken_clip_is_generated_again(
    tmp_path: Path, fake_clock: FakeClock, damage: str
) -> None:
    fake = FakeVeo3Adapter()
    orch = make(fake, tmp_path, fake_clock)
    orch.run(PROMPTS)
    clip = orch.clip_path("c")
    clip.unlink() if damage == "deleted" else clip.write_bytes(b"<html>error</html>")

    orch.run(PROMPTS)

    assert submits(fake) == ["a", "b", "c", "c"]
    assert orch.last_run == RunSummary(submitted=("c",), skipped=("a", "b"))


def test_a_failed_job_is_generated_again(tmp_path: Path, fake_clock: FakeClock) -> None:
    fake = FakeVeo3Adapter({"b": FakeOutcome.rai_filtered()})
    make(fake, tmp_path, fake_clock).run(PROMPTS)
    fake.script("b", FakeOutcome.success())
    orch = make(fake, tmp_path, fake_clock)
    jobs = {j.variant: j for j in orch.run(PROMPTS)}
    assert submits(fake) == ["a", "b", "c", "b"]
    assert jobs["b"].status is JobStatus.DOWNLOADED


def test_variants_not_in_this_run_are_kept_untouched(tmp_path: Path, fake_clock: FakeClock) -> None:
    fake = FakeVeo3Adapter()
    make(fake, tmp_path, fake_clock).run(PROMPTS)
    before = saved_jobs(tmp_path)

    orch = make(fake, tmp_path, fake_clock)
    (job,) = orch.run({"b": "a different dog"})

    after = saved_jobs(tmp_path)
    assert (after["a"], after["c"]) == (before["a"], before["c"])
    assert after["b"]["prompt"] == job.prompt == "a different dog"
    assert orch.last_run == RunSummary(submitted=("b",))


# -- where the jobs ran ------------------------------------------------------------------------


class Described(FakeVeo3Adapter):
    """The fake, saying it is some other server."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url

    def describe(self) -> dict[str, str]:
        return {"backend": "gemini", "base_url": self.base_url, "model": "veo-3.1"}


def test_jobs_json_records_the_backend_and_old_readers_accept_it(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    orch = make(Described("http://127.0.0.1:8765"), tmp_path, fake_clock)
    orch.run({"a": "p"})
    data = json.loads(orch.jobs_path.read_text(encoding="utf-8"))
    assert data["version"] == 1
    expected = {"backend": "gemini", "base_url": "http://127.0.0.1:8765", "model": "veo-3.1"}
    assert data["backend"] == expected
    assert read_backend_info(orch.jobs_path) == expected
    check_writable(orch.jobs_path)  # not taken for a newer release's file

    make(FakeVeo3Adapter(), tmp_path, fake_clock).resume()  # the fake describes itself
    assert read_backend_info(orch.jobs_path) == {"backend": "fake"}


def test_an_operation_of_another_backend_is_not_resumed(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    first = Described("http://127.0.0.1:8765")
    live = first.submit_job("a", "p")  # still running on that server when the run stopped
    write_jobs_json(tmp_path / "veo3" / "jobs.json", [live], backend=first.describe())

    other = Described("https://generativelanguage.googleapis.com")
    orch = make(other, tmp_path, fake_clock)
    (job,) = orch.run({"a": "p"})
    assert submits(other) == ["a"]  # this run uses another server: submitted there
    assert job.status is JobStatus.DOWNLOADED
    assert orch.last_run == RunSummary(submitted=("a",))


class Minimal:
    """A port with the three methods only: no ``describe``, no ``options``."""

    def __init__(self) -> None:
        self.fake = FakeVeo3Adapter()

    def submit_job(
        self, variant: str, prompt: str, options: GenerationOptions | None = None
    ) -> Veo3Job:
        return self.fake.submit_job(variant, prompt, options)

    def poll_job(self, job: Veo3Job) -> Veo3Job:
        return self.fake.poll_job(job)

    def download_clip(self, job: Veo3Job, dest: Path) -> Path:
        return self.fake.download_clip(job, dest)


def test_a_port_without_describe_or_options_still_works_and_is_idempotent(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    port = Minimal()
    options = {"a": GenerationOptions(aspect_ratio="9:16")}
    make(port, tmp_path, fake_clock).run(PROMPTS, options=options)
    assert "backend" not in json.loads((tmp_path / "veo3" / "jobs.json").read_text())
    assert read_backend_info(tmp_path / "veo3" / "jobs.json") == {}

    orch = make(port, tmp_path, fake_clock)
    orch.run(PROMPTS, options=options)
    assert submits(port.fake) == ["a", "b", "c"]
    orch.run(PROMPTS, options={"a": GenerationOptions(aspect_ratio="16:9")})
    assert submits(port.fake) == ["a", "b", "c", "a"]


class BadDescribe(FakeVeo3Adapter):
    def __init__(self, answer: object) -> None:
        super().__init__()
        self.answer = answer

    def describe(self) -> object:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_describe_that_fails_is_ignored_and_credentials_are_never_recorded(
    tmp_path: Path, fake_clock: FakeClock, api_key: str
) -> None:
    (job,) = make(BadDescribe(RuntimeError("no")), tmp_path, fake_clock).run({"a": "p"})
    assert job.status is JobStatus.DOWNLOADED
    assert read_backend_info(tmp_path / "veo3" / "jobs.json") == {}
    make(BadDescribe(["not", "a", "mapping"]), tmp_path, fake_clock).run({"a": "p"})
    assert read_backend_info(tmp_path / "veo3" / "jobs.json") == {}

    leaky = {"backend": "x", "base_url": f"https://h.example/?key={api_key}", "n": 5}
    make(BadDescribe(leaky), tmp_path, fake_clock).run({"a": "p"})
    recorded = read_backend_info(tmp_path / "veo3" / "jobs.json")
    assert set(recorded) == {"backend", "base_url"}
    assert api_key not in (tmp_path / "veo3" / "jobs.json").read_text()


def test_resume_reports_what_it_did(tmp_path: Path, fake_clock: FakeClock) -> None:
    fake = Interrupted("poll_job", "b", polls=0)  # a is done before b's poll is interrupted
    with pytest.raises(KeyboardInterrupt):
        make(fake, tmp_path, fake_clock).run(PROMPTS)
    orch = make(fake, tmp_path, fake_clock)
    orch.resume()
    assert orch.last_run is not None
    assert set(orch.last_run.resumed) == {"b", "c"}
    assert orch.last_run.skipped == ("a",)
    assert orch.last_run.submitted == ()
