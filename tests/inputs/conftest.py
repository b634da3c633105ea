"""Fixtures for the inputs tests: image files told apart by their bytes; a clean Google
environment, offline Vertex AI credentials and adapters on respx (from ``_kit.vertex_fixtures``).

Nothing here reaches the network or waits for real: respx answers every request made through
``http_client`` (an unmatched one fails the test) and credentials refresh offline.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _kit.images import MakeImage
from _kit.vertex_fixtures import clean_google_environment, creds, make_vertex, token

__all__ = ["clean_google_environment", "creds", "image", "make_vertex", "token"]

MAGIC = {
    "png": b"\x89PNG\r\n\x1a\n",
    "jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    "webp": b"RIFF\x24\x00\x00\x00WEBPVP8 ",
}


@pytest.fixture
def image(tmp_path: Path) -> MakeImage:
    """Write ``images/<name>``: the magic bytes of ``kind``, then bytes of its own (so two
    names are two images), padded to ``size`` bytes when given."""
    folder = tmp_path / "images"
    folder.mkdir()

    def make(name: str, kind: str = "png", size: int = 0) -> Path:
        data = MAGIC[kind] + f"<{name}>".encode() * 8
        path = folder / name
        path.write_bytes(data + b"\0" * max(0, size - len(data)))
        return path

    return make
