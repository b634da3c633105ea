"""How the scenario recorder drives the emulator, the real adapter and a cassette.

:func:`~pytest_veo3.scenarios.record_scenarios` records each built-in scenario through here:
the Gemini API with a key; Vertex AI with a bearer token, a project and a bucket that are
made up, and that the cassette must not hold (:func:`reveals_nothing` checks it, the
placeholders of :mod:`veo3_adapter._placeholders` stand for them). Heavy imports (httpx,
google-auth, the emulator) happen in the functions: the plugin imports the scenario list
at start-up.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import httpx

    from veo3_adapter import (
        GeminiVeo3Adapter,
        GenerationOptions,
        Veo3Job,
        VertexVeo3Adapter,
        VideoInputs,
    )
    from veo3_adapter.emulator import Emulator, Scenario

    from .cassette import VeoCassette
    from .scenarios import ScenarioCassette

__all__ = [
    "VERTEX_LOCATION",
    "VERTEX_OUTPUT_PREFIX",
    "JobRequest",
    "VertexRecording",
    "as_received",
    "first_frame_png",
    "record_gemini",
    "record_gemini_run",
    "reveals_nothing",
]

VERTEX_LOCATION = "us-central1"
VERTEX_OUTPUT_PREFIX = "renders/"


def _emulator_scenario(spec: ScenarioCassette) -> Any:
    from veo3_adapter.emulator import Scenario

    return Scenario.named(
        spec.emulator_scenario, running_polls=spec.running_polls, **dict(spec.emulator_changes)
    )


def _emulator(key: str, scenarios: Sequence[Scenario], **options: Any) -> Emulator:
    """The emulator answering the submits with ``scenarios``, in order (the last one for any
    submit after them)."""
    from veo3_adapter.emulator import Emulator

    emulator = Emulator(api_key=key, default=scenarios[-1], sleep=_no_wait, **options)
    emulator.queue(*scenarios)
    return emulator


def _open(
    path: Path, threshold: int | None, **options: Any
) -> contextlib.AbstractContextManager[VeoCassette]:
    from .cassette import DEFAULT_BODY_THRESHOLD, RecordMode, open_cassette

    return open_cassette(
        path,
        mode=RecordMode.ALL,
        body_threshold=threshold if threshold is not None else DEFAULT_BODY_THRESHOLD,
        source="veo3 emulator",
        **options,
    )


@dataclass(frozen=True)
class JobRequest:
    """What the recorded run asks besides its prompts: options and inputs per variant."""

    options: Mapping[str, GenerationOptions] | None = None
    inputs: Mapping[str, VideoInputs] | None = None

    @classmethod
    def of(cls, spec: ScenarioCassette, output: Path) -> JobRequest:
        """The scenario's: its first frame written under ``output``, its number of videos."""
        from veo3_adapter import GenerationOptions, VideoInputs

        options = None
        if spec.number_of_videos != 1:
            options = {spec.name: GenerationOptions(number_of_videos=spec.number_of_videos)}
        inputs = None
        if spec.image:
            frame = output / "frames" / "first.png"
            frame.parent.mkdir(parents=True, exist_ok=True)
            frame.write_bytes(first_frame_png())
            inputs = {spec.name: VideoInputs(image=frame)}
        return cls(options, inputs)


def first_frame_png(rgb: tuple[int, int, int] = (58, 110, 165), size: int = 8) -> bytes:
    """A ``size`` x ``size`` PNG of one colour: the first frame the built-in scenarios with
    an image send (the same bytes on every recording)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB
    rows = b"".join(b"\0" + bytes(rgb) * size for _ in range(size))  # filter 0 per row
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def _run(
    cassette: VeoCassette,
    build: Callable[[httpx.Client], Any],
    output: Path,
    prompts: Mapping[str, str],
    request: JobRequest | None,
) -> list[Veo3Job]:
    """The orchestrator running ``prompts`` with ``request``'s options and inputs on the
    adapter ``build`` makes on a client of ``cassette``'s (waits skipped); its jobs."""
    import httpx

    from veo3_adapter import Veo3Orchestrator

    request = request or JobRequest()
    with httpx.Client(transport=cassette.transport, follow_redirects=False) as client:
        orchestrator = Veo3Orchestrator(build(client), output, poll_interval=0, sleep=_no_wait)
        return orchestrator.run(prompts, options=request.options, inputs=request.inputs)


def _no_wait(_seconds: float) -> None:
    pass


def _refuse_leaks(emulator: Emulator, path: Path, what: str) -> None:
    if emulator.key_leaks:
        raise RuntimeError(f"recording {path.name}: {what}")


def record_gemini(
    spec: ScenarioCassette, path: Path, key: str, output: Path, threshold: int | None
) -> Veo3Job:
    [job] = record_gemini_run(
        path,
        key,
        output,
        [_emulator_scenario(spec)],
        {spec.name: spec.prompt},
        threshold,
        request=JobRequest.of(spec, output),
    )
    return job


def record_gemini_run(
    path: Path,
    key: str,
    output: Path,
    scenarios: Sequence[Scenario],
    prompts: Mapping[str, str],
    threshold: int | None = None,
    *,
    request: JobRequest | None = None,
) -> list[Veo3Job]:
    """Record the orchestrator running ``prompts`` (with ``request``'s options and inputs)
    on the Gemini API of the emulator, whose submits get ``scenarios`` in order, into the
    cassette ``path``; the jobs it ended with."""
    import httpx

    from veo3_adapter.compose import LOCAL_PROFILE, gemini_adapter

    emulator = _emulator(key, scenarios)
    # vcrpy records MockTransport traffic, so the in-process emulator is recorded as-is.
    inner = httpx.MockTransport(as_received(emulator.transport()))

    def build(client: httpx.Client) -> GeminiVeo3Adapter:
        return gemini_adapter(
            key,
            base_url=emulator.api_base,
            http_client=client,
            profile=LOCAL_PROFILE,
            sleep=_no_wait,
        )

    with _open(
        path, threshold, secrets=(key,), base_url=emulator.api_base, inner=inner
    ) as cassette:
        jobs = _run(cassette, build, output, prompts, request)
    _refuse_leaks(emulator, path, "the key reached the download origin")
    return jobs


@dataclass(frozen=True)
class VertexRecording:
    """What a Vertex AI recording really uses: none of it may reach the cassette."""

    token: str
    project: str
    bucket: str

    def real_names(self) -> tuple[str, str, str]:
        return self.token, self.project, self.bucket

    def record(
        self, spec: ScenarioCassette, path: Path, key: str, output: Path, threshold: int | None
    ) -> Veo3Job:
        [job] = self.record_run(
            path,
            key,
            output,
            [_emulator_scenario(spec)],
            {spec.name: spec.prompt},
            via_bucket=spec.via_bucket,
            threshold=threshold,
            request=JobRequest.of(spec, output),
        )
        return job

    def record_run(
        self,
        path: Path,
        key: str,
        output: Path,
        scenarios: Sequence[Scenario],
        prompts: Mapping[str, str],
        *,
        via_bucket: bool = True,
        threshold: int | None = None,
        request: JobRequest | None = None,
    ) -> list[Veo3Job]:
        """Record the orchestrator running ``prompts`` (with ``request``'s options and
        inputs) on the emulator's Vertex AI routes (videos left in the bucket, or inline),
        whose submits get ``scenarios`` in order."""
        import httpx

        from veo3_adapter._placeholders import CloudNames
        from veo3_adapter._vertex_wire import DEFAULT_STORAGE_BASE_URL, default_base_url
        from veo3_adapter.compose import LOCAL_PROFILE, static_token_credentials, vertex_adapter

        from ._backends import CassetteBackend

        api_base = default_base_url(VERTEX_LOCATION)
        emulator = _emulator(key, scenarios, token=self.token, api_base=api_base)
        # The cassette holds the real hosts: Cloud Storage requests go to the emulator's
        # storage route, on its API origin.
        storage = httpx.URL(DEFAULT_STORAGE_BASE_URL).host
        inner = httpx.MockTransport(
            as_received(_Aliased(emulator.transport(), {storage: httpx.URL(api_base).host}))
        )
        prefix = VERTEX_OUTPUT_PREFIX if via_bucket else None
        backend = CassetteBackend.vertex(
            location=VERTEX_LOCATION, prefix=prefix, storage_base_url=DEFAULT_STORAGE_BASE_URL
        )

        def build(client: httpx.Client) -> VertexVeo3Adapter:
            return vertex_adapter(
                project=self.project,
                location=VERTEX_LOCATION,
                # A token that never expires: nothing to refresh while recording.
                credentials=static_token_credentials(self.token),
                output_gcs_uri=f"gs://{self.bucket}/{prefix}" if prefix else None,
                base_url=api_base,
                storage_base_url=DEFAULT_STORAGE_BASE_URL,
                http_client=client,
                profile=LOCAL_PROFILE,
                sleep=_no_wait,
            )

        with _open(
            path,
            threshold,
            secrets=(key, self.token),
            base_url=api_base,
            inner=inner,
            backend=backend,
            names=CloudNames(projects=(self.project,), buckets=(self.bucket,)),
        ) as cassette:
            jobs = _run(cassette, build, output, prompts, request)
        _refuse_leaks(emulator, path, "a credential went where it does not belong")
        return jobs


def reveals_nothing(path: Path, values: Sequence[str]) -> None:
    """Refuse a cassette (or a body file of it) holding any of ``values``."""
    from ._bodies import BODY_REF_PREFIX

    refs = re.findall(re.escape(BODY_REF_PREFIX) + rb"(\S+)", path.read_bytes())
    files = [path, *(path.parent / ref.decode() for ref in refs)]
    for file in files:
        content = file.read_bytes()
        if any(value.encode() in content for value in values if value):
            path.unlink()
            raise RuntimeError(f"{file} holds a real name or credential; removed {path}")


class _Aliased:
    """A transport that sends requests for some hosts to another host (same scheme, port)."""

    def __init__(self, inner: httpx.BaseTransport, aliases: Mapping[str, str]) -> None:
        self._inner = inner
        self._aliases = dict(aliases)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        import httpx

        host = self._aliases.get(request.url.host)
        if host is not None:
            request = httpx.Request(
                request.method,
                request.url.copy_with(host=host),
                headers=request.headers,
                content=request.read(),
            )
        return self._inner.handle_request(request)


class _Transport(Protocol):
    def handle_request(self, request: httpx.Request) -> httpx.Response: ...


def as_received(transport: _Transport) -> Callable[[httpx.Request], httpx.Response]:
    """A handler that returns what a client received, even when the body broke off.

    vcrpy records nothing for a response whose body raises; a socket client would have kept
    the bytes read before the break, with the full ``Content-Length``. Recording that makes a
    truncated download replay as a truncated download.
    """
    import httpx

    def handle(request: httpx.Request) -> httpx.Response:
        response = transport.handle_request(request)
        received = bytearray()
        try:
            for chunk in response.stream:  # type: ignore[union-attr]
                received += chunk
        except httpx.TransportError:
            pass
        finally:
            response.close()
        return httpx.Response(
            response.status_code, headers=response.headers, content=bytes(received)
        )

    return handle
