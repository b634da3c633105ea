"""End to end on the emulator: a client on it (in-process or over loopback sockets), and a
``Pipeline`` of an emulator and one backend's real adapter and orchestrator on it."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from _kit.adapters import retries
from _kit.clock import FakeClock
from _kit.keys import make_api_key, make_token
from _kit.runs import orchestrator_on
from _kit.vertex import PROJECT, FakeCredentials
from veo3_adapter import GeminiVeo3Adapter, Veo3Orchestrator, VertexVeo3Adapter
from veo3_adapter.emulator import Emulator, Scenario


def open_client(
    emulator: Emulator, stack: contextlib.ExitStack, *, sockets: bool = False
) -> tuple[str, httpx.Client]:
    """The API base URL and a client for ``emulator``, both good until ``stack`` closes: the
    in-process transport, or (``sockets``) the emulator served on loopback sockets."""
    if sockets:
        base = stack.enter_context(emulator.serve())
        http = httpx.Client(follow_redirects=False, timeout=10.0)
    else:
        base = emulator.api_base
        http = httpx.Client(transport=emulator.transport(), follow_redirects=False)
    stack.callback(http.close)
    return base, http


class Pipeline:
    """An emulator (on a fake clock, answering ``rules``) and one backend's adapter on it;
    ``orchestrator(out)`` runs jobs there. Vertex AI asks for its videos in ``bucket_uri``,
    or inline when it is ``None``. ``close()`` when done."""

    def __init__(
        self,
        backend: str,
        *,
        seed: int,
        attempts: int,
        bucket_uri: str | None,
        rules: Mapping[str, Scenario] | None = None,
        sockets: bool = False,
    ) -> None:
        self.backend = backend
        self.bucket_uri = bucket_uri
        self.attempts = attempts
        self.key = make_api_key()
        self.token = make_token()
        self.clock = FakeClock(start=1000.0)
        self.emulator = Emulator(
            self.key, token=self.token, clock=self.clock, sleep=self.clock.sleep, seed=seed
        )
        for match, scenario in (rules or {}).items():
            self.emulator.rule(match, scenario)
        self._stack = contextlib.ExitStack()
        self.base, self.http = open_client(self.emulator, self._stack, sockets=sockets)

    def adapter(self) -> GeminiVeo3Adapter | VertexVeo3Adapter:
        common = {"http_client": self.http, **retries(self.attempts, self.clock.sleep)}
        if self.backend == "gemini":
            return GeminiVeo3Adapter(self.key, base_url=self.base, **common)
        return VertexVeo3Adapter(
            project=PROJECT,
            credentials=FakeCredentials([self.token]),
            base_url=self.base,
            storage_base_url=self.base,
            output_gcs_uri=self.bucket_uri,
            **common,
        )

    def orchestrator(self, out: Path, **settings: Any) -> Veo3Orchestrator:
        return orchestrator_on(self.adapter(), out, self.clock, **settings)

    def close(self) -> None:
        self._stack.close()
