"""The Veo model ids the emulated Gemini API serves, and those it has shut down."""

from __future__ import annotations

from ._wire import Reply, google_error

__all__ = ["CURRENT_MODELS", "RETIRED_MODELS", "model_not_found"]

CURRENT_MODELS: frozenset[str] = frozenset(
    {
        "veo-3.1-generate-001",
        "veo-3.1-fast-generate-001",
        "veo-3.1-generate-preview",
        "veo-3.1-fast-generate-preview",
        "veo-3.1-lite-generate-preview",
    }
)
"""Model ids a submit may name."""

RETIRED_MODELS: frozenset[str] = frozenset(
    {
        "veo-2.0-generate-001",
        "veo-3.0-generate-preview",
        "veo-3.0-fast-generate-preview",
        "veo-3.0-generate-001",
        "veo-3.0-fast-generate-001",
    }
)
"""Model ids shut down on the Gemini API (2026-06-30); answered like unknown ones."""


def model_not_found(model: str) -> Reply:
    """The API's answer to a submit for a retired or unknown model."""
    return google_error(
        404,
        f"models/{model} is not found for API version v1beta, or is not supported for "
        "predictLongRunning. Call ListModels to see the list of available models and their "
        "supported methods.",
    )
