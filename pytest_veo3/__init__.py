"""pytest-veo3: test Veo 3 pipelines offline with ``fake_veo3``, ``recorded_veo3`` and
``veo3_emulator``.

Importing this package is cheap: the types below are loaded on first use, so the plugin adds
next to nothing to a session that uses no veo3 fixture.

- ``FakeVeo3``: what ``fake_veo3`` is, a ``FakeVeo3Adapter``.
- ``RecordedVeo3``: what ``recorded_veo3`` is, ``GeminiVeo3Adapter | VertexVeo3Adapter``
  (the backend the cassette was recorded from, or the session records from); both satisfy
  ``VideoGenerationPort``, and ``isinstance(adapter, RecordedVeo3)`` works.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing import TypeAlias

    from veo3_adapter import FakeOutcome, FakeVeo3Adapter, GeminiVeo3Adapter, VertexVeo3Adapter

    from ._emulator_fixture import EmulatorRequest, EmulatorRig
    from ._network import NetworkBlockedError
    from .cassette import CassetteMismatchError, RecordMode, VeoCassette
    from .plugin import Veo3Warning

    FakeVeo3: TypeAlias = FakeVeo3Adapter
    RecordedVeo3: TypeAlias = GeminiVeo3Adapter | VertexVeo3Adapter

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
    "Veo3Warning",
]

_LAZY = {
    "FakeVeo3": ("veo3_adapter", "FakeVeo3Adapter"),
    "FakeOutcome": ("veo3_adapter", "FakeOutcome"),
    "CassetteMismatchError": ("pytest_veo3.cassette", "CassetteMismatchError"),
    "EmulatorRequest": ("pytest_veo3._emulator_fixture", "EmulatorRequest"),
    "EmulatorRig": ("pytest_veo3._emulator_fixture", "EmulatorRig"),
    "NetworkBlockedError": ("pytest_veo3._network", "NetworkBlockedError"),
    "RecordMode": ("pytest_veo3.cassette", "RecordMode"),
    "VeoCassette": ("pytest_veo3.cassette", "VeoCassette"),
    "Veo3Warning": ("pytest_veo3.plugin", "Veo3Warning"),
}


def __getattr__(name: str) -> Any:
    if name == "RecordedVeo3":
        from veo3_adapter import GeminiVeo3Adapter, VertexVeo3Adapter

        return GeminiVeo3Adapter | VertexVeo3Adapter
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'pytest_veo3' has no attribute {name!r}") from None
    import importlib

    return getattr(importlib.import_module(module_name), attribute)
