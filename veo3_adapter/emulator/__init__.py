"""A local stand-in for the Gemini API's Veo endpoints, scriptable and faithful to the wire.

Three exchanges, as google-genai 2.x and ``GeminiVeo3Adapter`` make them, answered as the live
service was recorded: submit (``:predictLongRunning``), poll (``GET /v1beta/{operation}``)
and download (``/v1beta/files/{id}:download?alt=media``, a 302 to
``/download/v1beta/files/{id}:download?alt=media`` on the same origin, which wants the key
too and serves the MP4 without ranges). In-process::

    emu = Emulator(key)
    client = httpx.Client(transport=emu.transport(), follow_redirects=False)
    adapter = GeminiVeo3Adapter(key, base_url=emu.api_base, http_client=client)

or on loopback sockets: ``with emu.serve() as base_url: ...``.

Modules, one concern each: ``_state`` (what it remembers), ``_api`` and ``_auth`` (the JSON
API), ``_media`` (the media server), ``_models`` (model ids), ``_scenario`` (scripts),
``_body`` (MP4 bodies), ``_wire`` (answers and headers), ``_origin`` (its own origin helper),
``_server`` (sockets), ``_transport`` (httpx), ``_emulator`` (the ``Emulator`` itself).
"""

from __future__ import annotations

from ._emulator import DEFAULT_API_BASE, DEFAULT_DOWNLOAD_BASE, Emulator, serve_forever
from ._models import CURRENT_MODELS, RETIRED_MODELS
from ._scenario import (
    DEFAULT_RAI_REASON,
    SCENARIO_DESCRIPTIONS,
    SCENARIO_NAMES,
    SCENARIOS,
    Scenario,
)
from ._state import Match, OperationState
from ._transport import EmulatorTransport
from ._wire import KeyLeak, RequestRecord, Side

__all__ = [
    "CURRENT_MODELS",
    "DEFAULT_API_BASE",
    "DEFAULT_DOWNLOAD_BASE",
    "DEFAULT_RAI_REASON",
    "RETIRED_MODELS",
    "SCENARIOS",
    "SCENARIO_DESCRIPTIONS",
    "SCENARIO_NAMES",
    "Emulator",
    "EmulatorTransport",
    "KeyLeak",
    "Match",
    "OperationState",
    "RequestRecord",
    "Scenario",
    "Side",
    "serve_forever",
]
