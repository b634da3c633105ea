"""A local stand-in for the Gemini API's Veo endpoints, scriptable and faithful to the wire.

Three exchanges, as google-genai 2.x and ``GeminiVeo3Adapter`` make them: submit
(``:predictLongRunning``), poll (``GET /v1beta/{operation}``) and download
(``/v1beta/files/{id}:download?alt=media``, a 302 to a second origin that serves the MP4 with
ranges). In-process::

    emu = Emulator(key)
    client = httpx.Client(transport=emu.transport(), follow_redirects=False)
    adapter = GeminiVeo3Adapter(key, base_url=emu.api_base, http_client=client)

or on loopback sockets: ``with emu.serve() as base_url: ...``.
"""

from __future__ import annotations

from ._core import DEFAULT_API_BASE, DEFAULT_DOWNLOAD_BASE, Emulator, Match, OperationState
from ._scenario import DEFAULT_RAI_REASON, SCENARIO_NAMES, SCENARIOS, Scenario
from ._server import serve_forever
from ._transport import EmulatorTransport
from ._wire import KeyLeak, RequestRecord, Side

__all__ = [
    "DEFAULT_API_BASE",
    "DEFAULT_DOWNLOAD_BASE",
    "DEFAULT_RAI_REASON",
    "SCENARIOS",
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
