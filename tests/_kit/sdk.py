"""Which google-genai major is installed, the mark for what only 2.x can do, and how a test
reaches a submitted Gemini API job on either major.

google-genai 3.x no longer submits video generations to the Gemini API (it refuses before
sending anything), while polling, downloading and resuming a job submitted there still work.
A test whose subject is the poll, the download or the run after the submit therefore starts,
on 3.x, from a job submitted through the wire: the request 2.x's ``generate_videos`` sends,
sent with plain httpx (``gemini_wire``). On 2.x the adapter submits, as before.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
from collections.abc import Callable, Mapping
from typing import Protocol

import httpx
import pytest

from veo3_adapter import GenerationOptions, JobStatus, Veo3Job, Veo3Orchestrator, write_jobs_json
from veo3_adapter.store import journal_path, read_jobs_and_backend

SDK_VERSION = importlib.metadata.version("google-genai")
SDK_MAJOR = int(SDK_VERSION.split(".", 1)[0])

GEMINI_SUBMITS = SDK_MAJOR < 3
"""Whether the installed google-genai submits video generations to the Gemini API."""

needs_gemini_submit = pytest.mark.skipif(
    not GEMINI_SUBMITS,
    reason=(
        f"google-genai {SDK_VERSION} generates video only through Vertex AI, so a Gemini API "
        "submit fails by design (tested on its own); CI runs this on google-genai 2.x"
    ),
)
"""For a test whose subject is a Gemini API submit: it runs on google-genai 2.x only."""

WireSubmit = Callable[[str, str], "str | None"]
"""``submit(prompt, model)``: start a generation; its operation name, ``None`` if refused."""


class GeminiPort(Protocol):
    """What the helpers read of an adapter: its model and its default options."""

    model: str
    options: GenerationOptions

    def submit_job(
        self, variant: str, prompt: str, options: GenerationOptions | None = None
    ) -> Veo3Job: ...


def gemini_wire(http: httpx.Client, base_url: str | Callable[[], str], key: str) -> WireSubmit:
    """Submits as google-genai 2.x's ``generate_videos`` does without options (same URL, key
    header and body), through ``http``; ``base_url`` may be a callable, read at each submit
    (the emulator's, which changes while it serves on sockets)."""

    def submit(prompt: str, model: str) -> str | None:
        base = base_url() if callable(base_url) else base_url
        response = http.post(
            f"{base}/v1beta/models/{model.removeprefix('models/')}:predictLongRunning",
            json={"instances": [{"prompt": prompt}], "parameters": {"sampleCount": 1}},
            headers={"x-goog-api-key": key},
        )
        if response.status_code != 200:
            return None
        name = response.json().get("name")
        return name if isinstance(name, str) else None

    return submit


def as_submitted(
    port: GeminiPort,
    variant: str,
    prompt: str,
    name: str,
    options: GenerationOptions | None = None,
) -> Veo3Job:
    """The job ``port.submit_job(variant, prompt, options)`` returns when the server names
    the operation ``name``: SUBMITTED, with the port's defaults merged into its options."""
    merged = port.options.merged(options)
    return Veo3Job(
        variant=variant,
        prompt=prompt,
        status=JobStatus.SUBMITTED,
        operation_name=name,
        options=dataclasses.replace(merged, model=merged.model or port.model),
    )


def _model_of(job: Veo3Job) -> str:
    """The job's model; it must set no other option, as a submit through the wire sends none."""
    others = job.options.to_dict()
    model = others.pop("model")
    assert not others, f"a submit through the wire sends no options, not {others}"
    assert isinstance(model, str)
    return model


def submit_gemini(
    port: GeminiPort,
    variant: str,
    prompt: str,
    wire: WireSubmit,
    options: GenerationOptions | None = None,
) -> Veo3Job:
    """``port.submit_job(variant, prompt, options)`` where the installed google-genai can
    submit to the Gemini API; on 3.x the same submit through ``wire`` (which must accept it)."""
    if GEMINI_SUBMITS:
        return port.submit_job(variant, prompt, options)
    job = as_submitted(port, variant, prompt, "", options)
    name = wire(prompt, _model_of(job))
    assert name, f"the server refused the submit of {prompt!r}"
    return dataclasses.replace(job, operation_name=name)


def record_submitted(
    orchestrator: Veo3Orchestrator,
    prompts: Mapping[str, str],
    wire: WireSubmit,
    options: Mapping[str, GenerationOptions] | None = None,
) -> dict[str, Veo3Job]:
    """Submit ``prompts`` through ``wire`` and record the accepted ones in jobs.json (beside
    the jobs already there, replacing those of the same variants) as a run stopped right
    after submitting would have left them: ``run`` with these prompts resumes them, and so
    does ``resume``. A refused prompt is not recorded: ``run`` submits it itself."""
    port: GeminiPort = orchestrator.port  # type: ignore[assignment]
    path = orchestrator.jobs_path
    recorded_before = path.exists() or journal_path(path).exists()
    jobs, backend = read_jobs_and_backend(path) if recorded_before else ([], {})
    by_variant = {job.variant: job for job in jobs}
    recorded: dict[str, Veo3Job] = {}
    for variant, prompt in prompts.items():
        job = as_submitted(port, variant, prompt, "", (options or {}).get(variant))
        name = wire(prompt, _model_of(job))
        if name is not None:
            recorded[variant] = by_variant[variant] = dataclasses.replace(job, operation_name=name)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_jobs_json(path, list(by_variant.values()), backend=backend)
    return recorded


def before_gemini_run(
    orchestrator: Veo3Orchestrator,
    prompts: Mapping[str, str],
    wire: WireSubmit,
    *,
    options: Mapping[str, GenerationOptions] | None = None,
) -> None:
    """What ``run_gemini`` does before ``run``, for a run made elsewhere (another process):
    on 3.x, ``record_submitted``; nothing on 2.x."""
    if not GEMINI_SUBMITS:
        record_submitted(orchestrator, prompts, wire, options)


def run_gemini(
    orchestrator: Veo3Orchestrator,
    prompts: Mapping[str, str],
    wire: WireSubmit,
    *,
    options: Mapping[str, GenerationOptions] | None = None,
) -> list[Veo3Job]:
    """``orchestrator.run(prompts)`` on the Gemini API, on either major. On 3.x the jobs are
    first submitted through ``wire`` (``record_submitted``), so the run resumes them: it
    polls and downloads as after its own submits, but does not wait before its first poll."""
    before_gemini_run(orchestrator, prompts, wire, options=options)
    return orchestrator.run(prompts, options=options)
