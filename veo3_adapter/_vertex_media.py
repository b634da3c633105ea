"""A finished Vertex operation's video into a file: a ``gs://`` object, or bytes sent inline.

The object is streamed from the Cloud Storage JSON API by ``ClipDownloader``: the bearer
token goes in ``Authorization`` to the storage origin only (never to another origin, not
even after a redirect), and the body is checked against ``X-Goog-Hash`` (crc32c, md5) and
written atomically. Inline bytes are checked (size, ``ftyp``) and written the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
from google.genai import types

from ._backend import DownloadSettings, Progress
from ._files import atomic_write_bytes
from ._http import Origin
from ._secrets import Secret
from ._vertex_wire import parse_gs_uri, storage_media_url
from .download import ClipDownloader
from .errors import DownloadError, InvalidClipError, UnsafeURLError
from .mp4 import looks_like_mp4

__all__ = ["AUTHORIZATION_HEADER", "VertexMedia"]

AUTHORIZATION_HEADER = "authorization"


class VertexMedia:
    """Writes videos of finished operations; ``storage_base`` is the JSON API's base URL."""

    def __init__(self, client: httpx.Client, storage_base: str, settings: DownloadSettings) -> None:
        self._client = client
        self._storage_base = storage_base
        self._origin = Origin.of(httpx.URL(storage_base))
        self._settings = settings
        self._max_bytes = settings["max_clip_bytes"]
        self._downloader(Secret("Bearer unused"))  # refuses bad limits now, not at a download

    def write(
        self,
        video: types.Video,
        dest: Path,
        *,
        operation_name: str,
        bearer: Callable[[], Secret] | None,
        progress: Progress | None = None,
    ) -> int:
        """Write ``video`` to ``dest``; return its size in bytes.

        ``bearer`` gives ``Bearer <token>`` for Cloud Storage (``None``: no credentials, as
        in express mode, so a ``gs://`` video cannot be read).
        """
        if video.uri:
            return self._download(video.uri, dest, operation_name, bearer, progress)
        if video.video_bytes:
            return self._write_inline(video.video_bytes, dest, operation_name, progress)
        raise DownloadError(
            f"operation {operation_name} has no video", operation_name=operation_name
        )

    def _download(
        self,
        uri: str,
        dest: Path,
        name: str,
        bearer: Callable[[], Secret] | None,
        progress: Progress | None,
    ) -> int:
        try:
            bucket, obj = parse_gs_uri(uri)
        except ValueError as exc:
            raise UnsafeURLError(
                f"video URI of operation {name} is refused: {exc} (nothing was sent)",
                operation_name=name,
            ) from None
        if bearer is None:
            raise DownloadError(
                f"operation {name} put its video in gs://{bucket}/, which an API key cannot "
                "read; use project credentials, or no output bucket in express mode",
                operation_name=name,
            )
        url = storage_media_url(self._storage_base, bucket, obj)
        return self._downloader(bearer()).download(
            url, dest, operation_name=name, progress=progress
        )

    def _downloader(self, bearer: Secret) -> ClipDownloader:
        # One per download: the token may have been refreshed since the last one.
        return ClipDownloader(
            self._client,
            bearer,
            self._origin,
            credential_header=AUTHORIZATION_HEADER,
            files_gateway=False,
            **self._settings,
        )

    def _write_inline(self, data: bytes, dest: Path, name: str, progress: Progress | None) -> int:
        if len(data) > self._max_bytes:
            raise DownloadError(
                f"the inline video of operation {name} has {len(data)} bytes, more than "
                f"max_clip_bytes ({self._max_bytes}); refused",
                operation_name=name,
            )
        if not looks_like_mp4(data[:8]):
            raise InvalidClipError(
                f"the inline video of operation {name} is not an MP4 (no 'ftyp' box)",
                operation_name=name,
            )
        atomic_write_bytes(dest, data)
        if progress is not None:
            progress(len(data), len(data))
        return len(data)
