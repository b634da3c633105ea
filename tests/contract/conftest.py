"""The contract tests' marker: the setup (emulator scenario, cassette) a test runs on."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "port_contract(setup): the emulator scenario (and built-in cassette, if any) "
        "a port contract test runs every double on",
    )
