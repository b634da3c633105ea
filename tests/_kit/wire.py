"""Gemini Developer API v1beta bodies and URLs, as DESIGN.md "The wire" shows them."""

from __future__ import annotations

from typing import Any

from veo3_adapter import DEFAULT_BASE_URL, DEFAULT_MODEL

API_BASE = DEFAULT_BASE_URL
OP_ID = "2ndklfg582ib"
FILE_ID = "3k2j4h5g6f7d"


class Wire:
    """JSON bodies and URLs of the Gemini Developer API v1beta, as DESIGN.md "The wire"."""

    base = API_BASE
    model = DEFAULT_MODEL

    def op_name(self, op_id: str = OP_ID, model: str = DEFAULT_MODEL) -> str:
        return f"models/{model}/operations/{op_id}"

    def op_url(self, name: str) -> str:
        return f"{API_BASE}/v1beta/{name}"

    def submit_url(self, model: str = DEFAULT_MODEL) -> str:
        return f"{API_BASE}/v1beta/models/{model}:predictLongRunning"

    def file_uri(self, file_id: str = FILE_ID) -> str:
        return f"{API_BASE}/v1beta/files/{file_id}:download?alt=media"

    def file_url(self, file_id: str = FILE_ID) -> str:
        """The download URL without its query, for respx routes (which match any query)."""
        return f"{API_BASE}/v1beta/files/{file_id}:download"

    def submitted(self, name: str) -> dict[str, Any]:
        return {"name": name}

    def running(self, name: str) -> dict[str, Any]:
        return {"name": name, "done": False}

    def done(self, name: str, uri: str) -> dict[str, Any]:
        return {
            "name": name,
            "done": True,
            "response": {
                "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta."
                "PredictLongRunningResponse",
                "generateVideoResponse": {"generatedSamples": [{"video": {"uri": uri}}]},
            },
        }

    def failed(
        self, name: str, message: str, *, code: int = 3, status: str = "INVALID_ARGUMENT"
    ) -> dict[str, Any]:
        return {
            "name": name,
            "done": True,
            "error": {"code": code, "message": message, "status": status},
        }

    def rai_filtered(self, name: str, reasons: list[str]) -> dict[str, Any]:
        return {
            "name": name,
            "done": True,
            "response": {
                "generateVideoResponse": {
                    "raiMediaFilteredCount": len(reasons),
                    "raiMediaFilteredReasons": reasons,
                }
            },
        }

    def done_empty(self, name: str) -> dict[str, Any]:
        return {"name": name, "done": True, "response": {"generateVideoResponse": {}}}

    def api_error(self, code: int, message: str, status: str) -> dict[str, Any]:
        return {"error": {"code": code, "message": message, "status": status}}
