"""Refusals certain to repeat stop the batch: the real adapter and SDK on the emulator.

A per-day quota, a retired model and a refused key are each met by the first submit; the
run sends nothing more, records why for every job, and ``resume()`` sends them once the
cause is gone. A per-minute quota is waited out (the ``RetryInfo`` delay) and sent again.
These are Gemini API submits: they run on google-genai 2.x only (``needs_gemini_submit``).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
import yaml
from _kit.adapters import AdapterFactory, adapter_factory, retries
from _kit.emulator import emulator_wire
from _kit.runs import by_variant, orchestrator_on
from _kit.sdk import needs_gemini_submit, submit_gemini

from veo3_adapter import (
    DEFAULT_MODEL,
    BatchStoppingError,
    ErrorCode,
    GeminiVeo3Adapter,
    JobStatus,
    QuotaExhaustedError,
    RetryPolicy,
    SubmitError,
    Veo3Job,
    read_jobs_json,
)
from veo3_adapter.emulator import Emulator, Scenario
from veo3_adapter.mp4 import is_mp4_file

if TYPE_CHECKING:
    from _kit.clock import FakeClock, SleepRecorder

MODEL = "veo-3.1-generate-001"
RETIRED = "veo-3.0-generate-001"
PROMPTS = {"a": "a cat on a boat", "b": "a dog on a bike", "c": "a fox in the snow"}
LIVE_DELAY = 57.238747106  # the live 429's "Please retry in 57.238747106s."


@pytest.fixture
def emulator(api_key: str) -> Emulator:
    return Emulator(api_key, sleep=lambda _s: None, seed=11)


@pytest.fixture
def http(emulator: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(transport=emulator.transport(), follow_redirects=False) as client:
        yield client


@pytest.fixture
def make_adapter(
    api_key: str, emulator: Emulator, http: httpx.Client, noop_sleep: SleepRecorder
) -> Iterator[AdapterFactory]:
    """The real adapter on the in-process emulator; its retry waits land in ``noop_sleep``."""
    with adapter_factory(
        GeminiVeo3Adapter,
        api_key=api_key,
        model=MODEL,
        base_url=emulator.api_base,
        http_client=http,
        **retries(4, noop_sleep),
    ) as factory:
        yield factory


def submits(emulator: Emulator) -> list[int]:
    """The status of every submit the emulator answered, in order."""
    return [
        r.status
        for r in emulator.requests
        if r.method == "POST" and r.path.endswith(":predictLongRunning")
    ]


def assert_stopped(jobs: dict[str, Veo3Job], first: str, code: ErrorCode, out: Path) -> None:
    """``first`` failed with ``code``; every other job failed the same, saying it was not sent."""
    for variant, job in jobs.items():
        assert (job.status, job.error_message) == (JobStatus.FAILED, code.value), variant
        assert job.operation_name == "" and job.video_uri == ""
        assert job.batch_stopped_by == first
        if variant != first:
            assert job.error_detail.startswith("not sent:"), job.error_detail
            assert jobs[first].error_detail in job.error_detail  # and why
    # jobs.json shows it all.
    on_disk = json.loads((out / "veo3" / "jobs.json").read_text(encoding="utf-8"))["jobs"]
    stored = {j["variant"]: (j["error_message"], j["batch_stopped_by"]) for j in on_disk}
    assert stored == dict.fromkeys(jobs, (code.value, first))
    assert read_jobs_json(out / "veo3" / "jobs.json") == list(jobs.values())
    assert sorted(p.name for p in (out / "veo3").iterdir()) == [".veo3.lock", "jobs.json"]


# -- an unknown or retired model ---------------------------------------------------------------


@needs_gemini_submit
def test_a_retired_model_is_one_submit_a_clear_detail_and_the_batch_stops(
    emulator: Emulator,
    make_adapter: AdapterFactory,
    noop_sleep: SleepRecorder,
    fake_clock: FakeClock,
    tmp_path: Path,
) -> None:
    jobs = by_variant(
        orchestrator_on(make_adapter(model=RETIRED), tmp_path, fake_clock).run(PROMPTS)
    )

    assert submits(emulator) == [404]
    assert emulator.operations == {}
    assert_stopped(jobs, "a", ErrorCode.SUBMIT_FAILED, tmp_path)
    detail = jobs["a"].error_detail
    assert f"model {RETIRED!r} is unknown or retired" in detail
    assert f"models/{RETIRED} is not found for API version v1beta" in detail  # the API's words
    assert repr(DEFAULT_MODEL) in detail  # the fix: a current id
    assert "not sent" in jobs["b"].error_detail and "'a'" in jobs["b"].error_detail
    assert noop_sleep.delays == [] and fake_clock.sleep.delays == []


@needs_gemini_submit
def test_a_retired_model_then_resume_with_a_current_one_completes_the_batch(
    emulator: Emulator, make_adapter: AdapterFactory, fake_clock: FakeClock, tmp_path: Path
) -> None:
    orchestrator_on(make_adapter(model=RETIRED), tmp_path, fake_clock).run(PROMPTS)
    jobs = by_variant(orchestrator_on(make_adapter(), tmp_path, fake_clock).resume())

    assert submits(emulator) == [404, 200, 200, 200]
    assert {v: j.status for v, j in jobs.items()} == dict.fromkeys(PROMPTS, JobStatus.DOWNLOADED)
    assert all(j.options.model == MODEL for j in jobs.values())


# -- a per-day quota ---------------------------------------------------------------------------


@needs_gemini_submit
def test_a_daily_quota_is_one_submit_then_resume_completes_every_job(
    emulator: Emulator,
    make_adapter: AdapterFactory,
    noop_sleep: SleepRecorder,
    fake_clock: FakeClock,
    tmp_path: Path,
) -> None:
    emulator.default = Scenario.named("quota_exhausted_daily")
    jobs = by_variant(orchestrator_on(make_adapter(), tmp_path, fake_clock).run(PROMPTS))

    assert submits(emulator) == [429]  # not retried: the quota resets only tomorrow
    assert noop_sleep.delays == []
    assert_stopped(jobs, "a", ErrorCode.QUOTA_EXHAUSTED, tmp_path)
    assert "per-day quota is used up" in jobs["a"].error_detail
    assert "resume" in jobs["a"].error_detail

    emulator.default = Scenario(running_polls=1)  # the quota has reset
    resumed = by_variant(orchestrator_on(make_adapter(), tmp_path, fake_clock).resume())

    assert submits(emulator) == [429, 200, 200, 200]
    assert list(resumed) == list(PROMPTS)
    for variant, job in resumed.items():
        assert job.status is JobStatus.DOWNLOADED, (variant, job.error_detail)
        assert (job.error_message, job.error_detail, job.batch_stopped_by) == ("", "", "")
        assert job.operation_name in emulator.operations
        assert is_mp4_file(tmp_path / "veo3" / f"{variant}.mp4")
    assert read_jobs_json(tmp_path / "veo3" / "jobs.json") == list(resumed.values())
    assert emulator.key_leaks == []


@needs_gemini_submit
def test_a_daily_quota_mid_batch_keeps_what_was_sent_and_resume_sends_only_the_rest(
    emulator: Emulator, make_adapter: AdapterFactory, fake_clock: FakeClock, tmp_path: Path
) -> None:
    emulator.queue(Scenario(), Scenario.named("quota_exhausted_daily"))
    jobs = by_variant(orchestrator_on(make_adapter(), tmp_path, fake_clock).run(PROMPTS))

    assert submits(emulator) == [200, 429]
    assert jobs["a"].status is JobStatus.DOWNLOADED
    assert (jobs["b"].error_message, jobs["b"].batch_stopped_by) == ("quota_exhausted", "b")
    assert (jobs["c"].error_message, jobs["c"].batch_stopped_by) == ("quota_exhausted", "b")
    assert jobs["c"].error_detail.startswith("not sent:")

    resumed = by_variant(orchestrator_on(make_adapter(), tmp_path, fake_clock).resume())
    assert submits(emulator) == [200, 429, 200, 200]
    assert resumed["a"] == jobs["a"]  # its clip is good: untouched
    assert {v: j.status for v, j in resumed.items()} == dict.fromkeys(PROMPTS, JobStatus.DOWNLOADED)


@needs_gemini_submit
def test_resume_while_the_daily_quota_lasts_stops_again_after_one_submit(
    emulator: Emulator, make_adapter: AdapterFactory, fake_clock: FakeClock, tmp_path: Path
) -> None:
    emulator.default = Scenario.named("quota_exhausted_daily")
    orchestrator_on(make_adapter(), tmp_path, fake_clock).run(PROMPTS)
    jobs = by_variant(orchestrator_on(make_adapter(), tmp_path, fake_clock).resume())

    assert submits(emulator) == [429, 429]
    assert_stopped(jobs, "a", ErrorCode.QUOTA_EXHAUSTED, tmp_path)


# -- a per-minute quota ------------------------------------------------------------------------


@needs_gemini_submit
def test_a_per_minute_quota_waits_the_retry_info_delay_and_sends_again(
    emulator: Emulator,
    make_adapter: AdapterFactory,
    noop_sleep: SleepRecorder,
    fake_clock: FakeClock,
    tmp_path: Path,
) -> None:
    # The live shape: no Retry-After header, the delay in RetryInfo and in the message.
    emulator.queue(Scenario(submit_status=429, quota="per_minute", retry_after=LIVE_DELAY))
    jobs = by_variant(orchestrator_on(make_adapter(), tmp_path, fake_clock).run(PROMPTS))

    assert submits(emulator) == [429, 200, 200, 200]
    assert noop_sleep.delays == [LIVE_DELAY]
    assert {v: j.status for v, j in jobs.items()} == dict.fromkeys(PROMPTS, JobStatus.DOWNLOADED)


@needs_gemini_submit
def test_a_per_minute_wait_is_bounded_by_max_retry_after(
    emulator: Emulator, make_adapter: AdapterFactory, noop_sleep: SleepRecorder
) -> None:
    emulator.queue(Scenario(submit_status=429, retry_after=3600.0))
    retry = RetryPolicy(attempts=4, jitter=0.0, max_retry_after=90.0)
    job = make_adapter(retry=retry).submit_job("a", "a cat")

    assert job.status is JobStatus.SUBMITTED
    assert noop_sleep.delays == [90.0]


@needs_gemini_submit
def test_a_per_minute_quota_that_outlasts_every_attempt_is_not_batch_stopping(
    emulator: Emulator, make_adapter: AdapterFactory, noop_sleep: SleepRecorder
) -> None:
    emulator.default = Scenario(submit_status=429, retry_after=2.0)
    with pytest.raises(SubmitError) as caught:
        make_adapter().submit_job("a", "a cat")

    assert not isinstance(caught.value, BatchStoppingError)
    assert caught.value.status_code == 429
    assert submits(emulator) == [429] * 4
    assert noop_sleep.delays == [2.0, 2.0, 4.0]  # the server's wait, or the backoff if longer


def test_the_rate_limited_scenario_waits_its_retry_info_delay_on_poll(
    emulator: Emulator, make_adapter: AdapterFactory, noop_sleep: SleepRecorder, api_key: str
) -> None:
    emulator.default = Scenario.named("rate_limited")
    adapter = make_adapter()
    job = adapter.poll_job(submit_gemini(adapter, "a", "a cat", emulator_wire(emulator, api_key)))

    assert job.status is JobStatus.GENERATED
    assert noop_sleep.delays == [Scenario.named("rate_limited").retry_after]


# -- a key the API refuses ---------------------------------------------------------------------


@needs_gemini_submit
def test_an_invalid_key_is_one_submit_and_the_batch_stops(
    emulator: Emulator,
    make_adapter: AdapterFactory,
    noop_sleep: SleepRecorder,
    fake_clock: FakeClock,
    tmp_path: Path,
) -> None:
    wrong = "wrong-" + secrets.token_hex(16)
    adapter = make_adapter(api_key=wrong)
    jobs = by_variant(orchestrator_on(adapter, tmp_path, fake_clock).run(PROMPTS))

    assert submits(emulator) == [400]
    assert_stopped(jobs, "a", ErrorCode.SUBMIT_FAILED, tmp_path)
    assert "the API key was not accepted" in jobs["a"].error_detail
    assert "API key not valid" in jobs["a"].error_detail  # the API's reason
    assert "GEMINI_API_KEY" in jobs["a"].error_detail  # where to fix it
    assert wrong not in (tmp_path / "veo3" / "jobs.json").read_text(encoding="utf-8")
    assert noop_sleep.delays == []


@pytest.mark.parametrize("status", [401, 403])
@needs_gemini_submit
def test_an_unauthorised_key_stops_the_batch(
    emulator: Emulator,
    make_adapter: AdapterFactory,
    fake_clock: FakeClock,
    tmp_path: Path,
    status: int,
) -> None:
    emulator.default = Scenario(submit_status=status)
    jobs = by_variant(orchestrator_on(make_adapter(), tmp_path, fake_clock).run(PROMPTS))

    assert submits(emulator) == [status]
    assert_stopped(jobs, "a", ErrorCode.SUBMIT_FAILED, tmp_path)
    assert f"HTTP {status}" in jobs["a"].error_detail


# -- refusals that concern one job only --------------------------------------------------------


@pytest.mark.parametrize("status", [400, 500])
@needs_gemini_submit
def test_a_refusal_of_one_job_does_not_stop_the_others(
    emulator: Emulator,
    make_adapter: AdapterFactory,
    fake_clock: FakeClock,
    tmp_path: Path,
    status: int,
) -> None:
    emulator.rule("cat", Scenario(submit_status=status))
    out = orchestrator_on(make_adapter(), tmp_path, fake_clock)
    jobs = by_variant(out.run(PROMPTS))

    assert (jobs["a"].error_message, jobs["a"].batch_stopped_by) == ("submit_failed", "")
    assert jobs["b"].status is jobs["c"].status is JobStatus.DOWNLOADED
    before = submits(emulator)
    assert by_variant(orchestrator_on(make_adapter(), tmp_path, fake_clock).resume()) == jobs
    assert submits(emulator) == before  # a final failure: resume leaves it alone


# -- the adapter's errors, typed ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "model", "error"),
    [
        (Scenario.named("quota_exhausted_daily"), MODEL, QuotaExhaustedError),
        (Scenario(), RETIRED, BatchStoppingError),
        (Scenario(), "veo-9-imaginary", BatchStoppingError),
        (Scenario(submit_status=403), MODEL, BatchStoppingError),
    ],
    ids=["daily-quota", "retired-model", "unknown-model", "forbidden"],
)
@needs_gemini_submit
def test_batch_stopping_refusals_are_typed_and_sent_once(
    emulator: Emulator,
    make_adapter: AdapterFactory,
    noop_sleep: SleepRecorder,
    scenario: Scenario,
    model: str,
    error: type[BatchStoppingError],
) -> None:
    emulator.default = scenario
    with pytest.raises(error) as caught:
        make_adapter(model=model).submit_job("hero", "a cat")
    assert isinstance(caught.value, SubmitError)
    assert caught.value.operation_name == ""
    assert "submit of variant 'hero' was refused" in str(caught.value)
    assert len(submits(emulator)) == 1
    assert noop_sleep.delays == []


# -- the built-in scenario cassette ------------------------------------------------------------


@needs_gemini_submit
def test_the_daily_quota_cassette_records_one_refused_submit(tmp_path: Path) -> None:
    from pytest_veo3.scenarios import SCENARIO_CASSETTES, record_scenarios

    spec = SCENARIO_CASSETTES["quota_exhausted_daily"]
    assert (spec.status, spec.error_message) == ("failed", "quota_exhausted")
    (path,) = record_scenarios(tmp_path, names=["quota_exhausted_daily"], jobs_dir=tmp_path)

    interactions = yaml.safe_load(path.read_text(encoding="utf-8"))["interactions"]
    assert [i["response"]["status"]["code"] for i in interactions] == [429]
    assert interactions[0]["request"]["uri"].endswith(f"/models/{MODEL}:predictLongRunning")
    (job,) = read_jobs_json(tmp_path / "quota_exhausted_daily" / "veo3" / "jobs.json")
    assert (job.error_message, job.batch_stopped_by) == ("quota_exhausted", spec.name)
