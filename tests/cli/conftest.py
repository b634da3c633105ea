"""Fixtures for the ``veo3`` command's tests: the command as a real subprocess, a run-time
key, and the emulator serving in this process over loopback for ``run`` and ``resume``.

Every run is bounded by a timeout, talks to 127.0.0.1 only and polls every 0.01 s, so no
test waits for long; every result is checked for the key before the test sees it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _kit.cli import Veo3
from _kit.keys import make_api_key

from veo3_adapter.emulator import Emulator


@pytest.fixture
def key() -> str:
    return make_api_key()


@pytest.fixture
def veo3(tmp_path: Path, key: str) -> Veo3:
    """The ``veo3`` command, run as a subprocess in ``tmp_path``."""
    return Veo3(tmp_path, key)


@pytest.fixture
def emulator(key: str) -> Emulator:
    """An emulator that takes only this test's key; script it before the run."""
    return Emulator(api_key=key, seed=11)


@pytest.fixture
def base_url(emulator: Emulator) -> Iterator[str]:
    """The emulator serving both origins on loopback in this process."""
    with emulator.serve() as url:
        yield url


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """The run's --out directory."""
    return tmp_path / "out"
