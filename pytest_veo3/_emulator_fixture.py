"""The ``veo3_emulator`` fixture: the real adapter on the in-process emulator, scripted per test.

Like the rest of the plugin, loading this module imports neither google-genai nor httpx;
the fixture imports them when a test asks for it.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    import httpx

    from veo3_adapter import GeminiVeo3Adapter, Veo3Orchestrator, VertexVeo3Adapter
    from veo3_adapter._secrets import Secret
    from veo3_adapter.emulator import Emulator, KeyLeak, Match, Scenario

__all__ = ["BACKENDS", "EmulatorRequest", "EmulatorRig", "veo3_emulator", "veo3_emulator_backend"]

Backend = Literal["gemini", "vertex"]
BACKENDS: tuple[Backend, ...] = ("gemini", "vertex")

VERTEX_PROJECT = "veo3-emulator"
VERTEX_LOCATION = "us-central1"
VERTEX_API_BASE = f"https://{VERTEX_LOCATION}-aiplatform.googleapis.com"
VERTEX_BUCKET_URI = "gs://veo3-emulator/renders/"
"""Where the Vertex adapter asks for its videos: the emulator's Cloud Storage route."""


@dataclass(frozen=True)
class EmulatorRequest:
    """One request sent through the rig, as it was sent, credentials replaced by ``REDACTED``.

    ``status`` is the answer's status; ``None`` when nothing answered (a host the emulator
    does not serve).
    """

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    status: int | None

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or ``None``."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    def json(self) -> Any:
        """The body, parsed as JSON (a submit's prompt and parameters)."""
        return json.loads(self.body)

    def __str__(self) -> str:
        answered = "no such host" if self.status is None else str(self.status)
        return f"{self.method} {self.url} -> {answered}"


class EmulatorRig:
    """The real adapter on the in-process Veo emulator: script it, run, read what it was sent.

    ``adapter`` is a ``GeminiVeo3Adapter`` or a ``VertexVeo3Adapter``, as the
    ``veo3_emulator_backend`` fixture says, whose ``httpx.Client`` (``http``)
    talks to ``emulator`` in-process; waits are virtual. Outcomes are emulator scenarios, by
    name (``veo3 emulator --list-scenarios``) or as ``Scenario`` objects:
    :meth:`script_prompt` (first matching rule wins), then :meth:`script` (in submit order),
    then :meth:`script_default` (``"success"`` unless changed).
    """

    def __init__(
        self,
        *,
        backend: Backend,
        emulator: Emulator,
        adapter: GeminiVeo3Adapter | VertexVeo3Adapter,
        http: httpx.Client,
        transport: httpx.BaseTransport,
        api_key: Secret,
        token: Secret | None,
        recorder: _Recorder,
    ) -> None:
        self.backend = backend
        self.emulator = emulator
        self.adapter = adapter
        self.http = http
        """The adapter's client; raw requests sent with it are recorded and checked too."""
        self.transport = transport
        """The recording transport, for a client of your own: ``httpx.Client(transport=...)``."""
        self.api_key = api_key
        """The key the emulator accepts (the Gemini backend's), as a ``Secret``."""
        self.token = token
        """The bearer token the emulator accepts (the Vertex backend's), else ``None``."""
        self._recorder = recorder

    def __repr__(self) -> str:
        return f"EmulatorRig(backend={self.backend!r}, api_base={self.emulator.api_base!r})"

    # -- scripting -------------------------------------------------------------------------

    def script(self, *outcomes: str | Scenario) -> None:
        """The next submits get these outcomes, one each, in submit order."""
        __tracebackhide__ = True
        scenarios = []
        for outcome in outcomes:  # all checked before any is queued
            scenarios.append(scenario(outcome))
        self.emulator.queue(*scenarios)

    def script_prompt(self, match: Match, outcome: str | Scenario) -> None:
        """Every submit whose prompt contains ``match`` (or satisfies it) gets ``outcome``."""
        __tracebackhide__ = True
        self.emulator.rule(match, scenario(outcome))

    def script_default(self, outcome: str | Scenario) -> None:
        """The outcome of a submit that no rule matches once the script is used up."""
        __tracebackhide__ = True
        self.emulator.default = scenario(outcome)

    # -- what the test looks at ------------------------------------------------------------

    @property
    def requests(self) -> list[EmulatorRequest]:
        """Every request sent through ``http`` or ``transport``, in order, secrets redacted."""
        return self._recorder.snapshot()

    @property
    def leaks(self) -> list[str]:
        """Where a credential went that it does not belong (checked at teardown), no values."""
        return [
            self._describe(leak) for leak in self.emulator.key_leaks
        ] + self._recorder.foreign_leaks()

    def orchestrator(self, out_dir: Path | str, **settings: Any) -> Veo3Orchestrator:
        """A ``Veo3Orchestrator`` on this adapter writing under ``out_dir``."""
        from veo3_adapter import Veo3Orchestrator

        return Veo3Orchestrator(self.adapter, out_dir, **settings)

    def _describe(self, leak: KeyLeak) -> str:
        from veo3_adapter.emulator._vertex import STORAGE_PREFIX

        if leak.path.startswith(STORAGE_PREFIX):
            url, place = self.emulator.api_base + leak.path, "Cloud Storage, which takes a token"
        else:
            url, place = self.emulator.download_base + leak.path, "the second origin"
        return f"{leak.method} {url} ({place}), in {leak.where}"


def scenario(outcome: str | Scenario) -> Scenario:
    """The emulator scenario ``outcome`` names, or ``outcome`` itself."""
    __tracebackhide__ = True
    from veo3_adapter.emulator import Scenario

    if isinstance(outcome, Scenario):
        return outcome
    if isinstance(outcome, str):
        try:
            return Scenario.named(outcome)
        except ValueError as exc:
            raise ValueError(str(exc)) from None  # the caller's line, not the lookup's
    raise TypeError(f"an outcome is a scenario name or a Scenario, not {type(outcome).__name__}")


@pytest.fixture
def veo3_emulator_backend(request: pytest.FixtureRequest) -> str:
    """The backend veo3_emulator builds: "gemini" or "vertex"; override or parametrize.

    By default the session's (``--veo3-backend``): the Gemini API on google-genai 2.x,
    Vertex AI on 3.x, which submits only there."""
    from ._options import SETTINGS_KEY

    return request.config.stash[SETTINGS_KEY].backend


@pytest.fixture
def veo3_emulator(veo3_emulator_backend: str) -> Iterator[EmulatorRig]:
    """The real adapter on the in-process Veo emulator, scripted per test; waits are virtual.

    ``veo3_emulator.script("success", "download_not_found")`` gives the next submits these
    outcomes in order, ``script_prompt("a boat", "rai_filtered")`` by prompt (any emulator
    scenario, by name or as a ``Scenario``); ``.adapter`` is the real adapter,
    ``.orchestrator(tmp_path)`` a ``Veo3Orchestrator`` on it, ``.requests`` what it sent
    (credentials redacted), ``.emulator`` the ``Emulator``. At teardown the test fails if
    the key or token reached anything but the API origin.
    """
    if veo3_emulator_backend not in BACKENDS:
        raise pytest.UsageError(
            f"veo3_emulator_backend: unknown backend {veo3_emulator_backend!r}; "
            f"valid: {', '.join(BACKENDS)}"
        )
    import httpx

    from veo3_adapter import clock
    from veo3_adapter._secrets import Secret
    from veo3_adapter.compose import (
        LOCAL_PROFILE,
        gemini_adapter,
        static_token_credentials,
        vertex_adapter,
    )
    from veo3_adapter.emulator import DEFAULT_API_BASE, Emulator

    key = Secret("emulator-key-" + secrets.token_hex(16))
    vertex = veo3_emulator_backend == "vertex"
    token = Secret("emulator-token-" + secrets.token_hex(16)) if vertex else None
    with clock.virtual_time():
        # The emulator reads the package clock at call time: file expiry and slow bodies
        # follow the virtual clock as well.
        emulator = Emulator(
            key.reveal(),
            token=token.reveal() if token is not None else None,
            clock=clock.monotonic,
            sleep=clock.sleep,
            api_base=VERTEX_API_BASE if vertex else DEFAULT_API_BASE,
        )
        recorder = _Recorder(emulator, (key, token))
        transport = httpx.MockTransport(recorder.handle)
        client = httpx.Client(transport=transport, follow_redirects=False)
        adapter: GeminiVeo3Adapter | VertexVeo3Adapter
        with client:
            if token is not None:
                adapter = vertex_adapter(
                    project=VERTEX_PROJECT,
                    location=VERTEX_LOCATION,
                    credentials=static_token_credentials(token.reveal()),
                    output_gcs_uri=VERTEX_BUCKET_URI,
                    base_url=emulator.api_base,
                    storage_base_url=emulator.api_base,
                    http_client=client,
                    profile=LOCAL_PROFILE,
                )
            else:
                adapter = gemini_adapter(
                    key, base_url=emulator.api_base, http_client=client, profile=LOCAL_PROFILE
                )
            rig = EmulatorRig(
                backend="vertex" if vertex else "gemini",
                emulator=emulator,
                adapter=adapter,
                http=client,
                transport=transport,
                api_key=key,
                token=token,
                recorder=recorder,
            )
            yield rig
    leaks = rig.leaks
    if leaks:
        pytest.fail(
            f"veo3_emulator: the API key or token was sent to a server other than the API "
            f"({emulator.api_base}):\n"
            + "".join(f"  {leak}\n" for leak in leaks)
            + "Credentials go to the API origin only: follow a redirect to another origin "
            "without them.",
            pytrace=False,
        )


class _Recorder:
    """Sits in front of the emulator's transport: keeps each request, secrets redacted, and
    notes a credential headed for a host the emulator does not serve."""

    def __init__(self, emulator: Emulator, credentials: Iterable[Secret | None]) -> None:
        self._emulator = emulator
        self._inner = emulator.transport()
        self._secrets = tuple(c.reveal() for c in credentials if c is not None)
        self._lock = threading.Lock()
        self._requests: list[EmulatorRequest] = []
        self._foreign: list[str] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        from veo3_adapter._secrets import redact, redact_bytes

        url = str(request.url)
        headers = request.headers.multi_items()
        seen = EmulatorRequest(
            request.method,
            redact(url, self._secrets),
            tuple((name, redact(value, self._secrets)) for name, value in headers),
            redact_bytes(request.read(), self._secrets),
            None,
        )
        if self._emulator.side_of(url) is None:
            where = self._carried(url, headers)
            if where is not None:
                with self._lock:
                    self._foreign.append(
                        f"{seen.method} {seen.url} (a host the emulator does not serve), in {where}"
                    )
        try:
            response = self._inner.handle_request(request)
        except Exception:
            self._keep(seen)
            raise
        self._keep(dataclasses.replace(seen, status=response.status_code))
        return response

    def _carried(self, url: str, headers: Iterable[tuple[str, str]]) -> str | None:
        for name, value in headers:
            if any(secret in value for secret in self._secrets):
                return f"header {name.lower()}"
        return "url" if any(secret in url for secret in self._secrets) else None

    def _keep(self, seen: EmulatorRequest) -> None:
        with self._lock:
            self._requests.append(seen)

    def snapshot(self) -> list[EmulatorRequest]:
        with self._lock:
            return list(self._requests)

    def foreign_leaks(self) -> list[str]:
        with self._lock:
            return list(self._foreign)
