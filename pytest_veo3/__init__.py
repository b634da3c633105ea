"""pytest-veo3: test Veo 3 pipelines offline with ``fake_veo3``, ``recorded_veo3`` and
``veo3_emulator``.

Importing this package is cheap: the types below are loaded on first use, so the plugin adds
next to nothing to a session that uses no veo3 fixture.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from veo3_adapter import FakeOutcome, FakeVeo3Adapter, GeminiVeo3Adapter

    from ._emulator_fixture import EmulatorRequest, EmulatorRig
    from ._network import NetworkBlockedError
    from .cassette import CassetteMismatchError, RecordMode, VeoCassette

    FakeVeo3 = FakeVeo3Adapter
    RecordedVeo3 = GeminiVeo3Adapter

__all__ = [
    "CassetteMismatchError",
    "EmulatorRequest",
    "EmulatorRig",
    "FakeOutcome",
    "FakeVeo3",
    "NetworkBlockedError",
    "RecordMode",
    "RecordedVeo3",
    "VeoCassette",
]

_LAZY = {
    "FakeVeo3": ("veo3_adapter", "FakeVeo3Adapter"),
    "RecordedVeo3": ("veo3_adapter", "GeminiVeo3Adapter"),
    "FakeOutcome": ("veo3_adapter", "FakeOutcome"),
    "CassetteMismatchError": ("pytest_veo3.cassette", "CassetteMismatchError"),
    "EmulatorRequest": ("pytest_veo3._emulator_fixture", "EmulatorRequest"),
    "EmulatorRig": ("pytest_veo3._emulator_fixture", "EmulatorRig"),
    "NetworkBlockedError": ("pytest_veo3._network", "NetworkBlockedError"),
    "RecordMode": ("pytest_veo3.cassette", "RecordMode"),
    "VeoCassette": ("pytest_veo3.cassette", "VeoCassette"),
}


def __getattr__(name: str) -> Any:
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'pytest_veo3' has no attribute {name!r}") from None
    import importlib

    return getattr(importlib.import_module(module_name), attribute)
