"""Fixtures for the fault-injection tests: a forking helper, emulators on loopback sockets.

Nothing here leaves 127.0.0.1, and waits are injected except where a real socket or a real
killed process is the point (each such wait is bounded and short).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from _kit.adapters import AdapterFactory, adapter_factory, retries, skip_wait
from _kit.faults import FaultyEmulator, ForkServer, ServedFactory

from veo3_adapter import GeminiVeo3Adapter


@pytest.fixture(scope="session")
def fork_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForkServer]:
    server = ForkServer(tmp_path_factory.mktemp("fork-helper") / "helper.log")
    yield server
    server.close()


@pytest.fixture
def served(api_key: str) -> Iterator[ServedFactory]:
    """Start a ``FaultyEmulator`` on loopback sockets (one per call); stopped afterwards."""
    stack = contextlib.ExitStack()
    emulators: list[FaultyEmulator] = []

    def start(**kwargs: Any) -> FaultyEmulator:
        kwargs.setdefault("sleep", lambda _s: None)
        kwargs.setdefault("seed", len(emulators))
        emulator = FaultyEmulator(kwargs.pop("api_key", api_key), **kwargs)
        stack.enter_context(emulator.serve())
        emulators.append(emulator)
        return emulator

    with stack:
        yield start
        for emulator in emulators:  # a held body must not keep a server thread alive
            emulator.release_all()


@pytest.fixture
def make_adapter(api_key: str) -> Iterator[AdapterFactory]:
    """The real adapter on a client of our own; waits recorded by ``sleep``, not slept."""
    with (
        contextlib.ExitStack() as clients,
        adapter_factory(GeminiVeo3Adapter, api_key=api_key) as factory,
    ):

        def make(
            base_url: str,
            *,
            sleep: Callable[[float], None] = skip_wait,
            read_timeout: float = 10.0,
            attempts: int = 3,
            transport: httpx.BaseTransport | None = None,
            **kwargs: Any,
        ) -> GeminiVeo3Adapter:
            client = httpx.Client(
                timeout=httpx.Timeout(read_timeout), follow_redirects=False, transport=transport
            )
            clients.callback(client.close)
            return factory(
                base_url=base_url,
                http_client=client,
                **retries(attempts, sleep),
                **kwargs,
            )

        yield make
