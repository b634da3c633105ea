"""Body files: large or binary bodies live beside the cassette, not in its YAML.

A body above a size threshold (or not UTF-8 text) is written to
``bodies/sha256-<hex>.<ext>`` beside the cassette (content-addressed, so identical bodies are
stored once) and the YAML keeps only a reference. That holds for responses (a video, an
operation answer with the video inline) and for requests (a submit with inline images is
megabytes of base64). Replay streams a response's file back (:class:`BodyFileTransport`)
instead of holding it in memory; a request's is read back when the cassette is loaded
(:meth:`BodyStore.internalize_request`), so a replayed submit is compared with what was
sent, by content. Optionally, a recorded MP4 is replaced by a small valid one
(:func:`shrink_video`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from veo3_adapter._files import atomic_write_bytes

from ._replay import CassetteMismatchError

__all__ = [
    "BODIES_DIRNAME",
    "BODY_REF_PREFIX",
    "DEFAULT_BODY_THRESHOLD",
    "BodyFileTransport",
    "BodyStore",
    "shrink_video",
]

BODY_REF_PREFIX = b"veo3-body-file:"
DEFAULT_BODY_THRESHOLD = 64 * 1024
BODIES_DIRNAME = "bodies"
_EXTENSIONS = {"video/mp4": ".mp4", "application/json": ".json"}


@dataclass(frozen=True)
class BodyStore:
    """Content-addressed body files in ``directory`` (``sha256-<hex>.<ext>``)."""

    directory: Path
    threshold: int = DEFAULT_BODY_THRESHOLD

    def put(self, data: bytes, content_type: str = "") -> str:
        """Store ``data`` (once) and return its name relative to the cassette directory."""
        digest = hashlib.sha256(data).hexdigest()
        ext = _EXTENSIONS.get(content_type.split(";")[0].strip().lower(), ".bin")
        name = f"sha256-{digest}{ext}"
        path = self.directory / name
        if not (path.is_file() and path.stat().st_size == len(data)):
            atomic_write_bytes(path, data)
        return f"{BODIES_DIRNAME}/{name}"

    def externalize(self, response: dict[str, Any]) -> dict[str, Any]:
        """Move a large or binary body out of the response dict, leaving a reference."""
        body = response.get("body", {}).get("string")
        if isinstance(body, bytes) and (len(body) > self.threshold or not _is_text(body)):
            ref = self.put(body, _header(response, "content-type"))
            response["body"]["string"] = BODY_REF_PREFIX + ref.encode()
        return response

    def externalize_request(self, request: Any) -> Any:
        """Move a large or binary body out of a vcrpy request, leaving a reference."""
        body = request.body
        if isinstance(body, bytes) and (len(body) > self.threshold or not _is_text(body)):
            ref = self.put(body, _request_header(request, "content-type"))
            request.body = BODY_REF_PREFIX + ref.encode()
        return request

    def internalize_request(self, request: Any) -> Any:
        """Put the body a loaded vcrpy request references back in it (refused, naming the
        file, when the reference or the file is wrong)."""
        body = request.body
        if isinstance(body, bytes) and body.startswith(BODY_REF_PREFIX):
            request.body = self.resolve(body).read_bytes()
        return request

    def resolve(self, reference: bytes) -> Path:
        """The file a body reference names; refuses anything outside the bodies directory."""
        name = reference[len(BODY_REF_PREFIX) :].decode("ascii", "replace").strip()
        path = (self.directory.parent / name).resolve()
        if path.parent != self.directory.resolve() or not path.name.startswith("sha256-"):
            raise CassetteMismatchError(f"cassette body reference {name!r} is not a body file")
        if not path.is_file():
            raise CassetteMismatchError(
                f"cassette body file {path} is missing; commit the cassette's bodies/ folder "
                "with it, or re-record"
            )
        return path


def _is_text(data: bytes) -> bool:
    """UTF-8 text stays readable in YAML; anything else would become base64 there."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _header(response: Mapping[str, Any], name: str) -> str:
    for key, values in response.get("headers", {}).items():
        if key.lower() == name and values:
            return str(values[0])
    return ""


def _request_header(request: Any, name: str) -> str:
    for key, value in (getattr(request, "headers", None) or {}).items():
        if str(key).lower() == name:
            return str(value[0] if isinstance(value, list | tuple) and value else value)
    return ""


def _set_header(response: dict[str, Any], name: str, value: str) -> None:
    headers = response.setdefault("headers", {})
    for key in list(headers):
        if key.lower() == name:
            headers[key] = [value]
            return
    headers[name] = [value]


def shrink_video(response: dict[str, Any]) -> dict[str, Any]:
    """Replace an MP4 body with the small sample clip, fixing ``Content-Length``; headers
    that describe the recorded video (range, ETag, ``X-Goog-Hash`` checksums) go."""
    from veo3_adapter.mp4 import looks_like_mp4, sample_clip

    body = response.get("body", {}).get("string")
    if isinstance(body, bytes) and looks_like_mp4(body[:8]):
        clip = sample_clip()
        response["body"]["string"] = clip
        _set_header(response, "content-length", str(len(clip)))
        headers = response.get("headers", {})
        for key in list(headers):
            if key.lower() in ("content-range", "etag", "x-goog-hash"):
                del headers[key]
    return response


class _FileStream(httpx.SyncByteStream):
    def __init__(self, path: Path, chunk_size: int = 1 << 20) -> None:
        self._path = path
        self._chunk_size = chunk_size

    def __iter__(self) -> Iterator[bytes]:
        with self._path.open("rb") as handle:
            while chunk := handle.read(self._chunk_size):
                yield chunk


class BodyFileTransport(httpx.BaseTransport):
    """Wraps the replaying transport: a replayed body reference streams its file back."""

    def __init__(self, inner: httpx.BaseTransport, store: BodyStore) -> None:
        self._inner = inner
        self._store = store

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        stream = response.stream
        if isinstance(stream, httpx.ByteStream):
            # A replayed body: small (a reference or a JSON answer), already in memory.
            body = b"".join(stream)
            if body.startswith(BODY_REF_PREFIX):
                response.stream = _FileStream(self._store.resolve(body))
            else:
                response.stream = httpx.ByteStream(body)
        return response

    def close(self) -> None:
        self._inner.close()
