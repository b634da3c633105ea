"""Which google-genai is installed: the one place that decides what differs between majors.

On google-genai 3.x the Gemini API no longer generates video (only Vertex AI does); polling,
downloading and everything on Vertex AI work the same on 2.x and 3.x.
"""

from __future__ import annotations

import functools
from importlib import metadata

__all__ = ["GEMINI_SUBMIT_WAYS_OUT", "gemini_submits_video", "sdk_major", "sdk_version"]

GEMINI_SUBMIT_WAYS_OUT = (
    "use Vertex AI instead (VertexVeo3Adapter or `veo3 run --backend vertex`; its express mode "
    "takes the same API key) or install google-genai<3"
)
"""The two ways out when the installed SDK cannot submit on the Gemini API."""


@functools.cache
def sdk_version() -> str:
    """The installed google-genai's version, e.g. ``"2.34.0"``."""
    return metadata.version("google-genai")


def sdk_major() -> int:
    """The installed google-genai's major version."""
    return int(sdk_version().split(".", 1)[0])


def gemini_submits_video() -> bool:
    """Whether the installed SDK can start a video generation on the Gemini API (2.x only)."""
    return sdk_major() < 3
