"""Veo cassettes: vcrpy recordings with keys scrubbed and video bodies stored beside them.

A cassette is a vcrpy YAML file. What this module adds:

- **Scrubbing before anything touches disk** (``Scrubber``): the request headers
  ``x-goog-api-key``, ``authorization``, ``x-goog-user-project`` and ``cookie``, the response
  header ``set-cookie``, ``key`` query parameters, and the literal key value wherever it
  appears (URLs, headers, bodies) are removed or replaced with ``REDACTED``.
- **Body files** (``BodyStore``): a body above a size threshold is written to
  ``bodies/sha256-<hex>.<ext>`` beside the cassette (content-addressed, so identical bodies
  are stored once) and the YAML keeps only a reference; replay streams the file back
  (``BodyFileTransport``) instead of holding it in memory.
- **Shrinking** (optional): recorded MP4 bodies are replaced by a small valid MP4.
- **Provenance**: cassette metadata says where and when it was recorded, and with which SDK.
- **A useful miss**: a request the cassette does not hold raises ``CassetteMismatchError``
  naming the request, the cassette, the closest recorded request and how to re-record.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import importlib.metadata
import platform
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from veo3_adapter._files import atomic_write_bytes
from veo3_adapter._secrets import (
    MARKER,
    SECRET_QUERY_PARAMS,
    SECRET_REQUEST_HEADERS,
    SECRET_RESPONSE_HEADERS,
    redact,
    redact_bytes,
)

__all__ = [
    "BODY_REF_PREFIX",
    "BodyFileTransport",
    "BodyStore",
    "CassetteMismatchError",
    "RecordMode",
    "Scrubber",
    "VeoCassette",
    "open_cassette",
    "provenance",
    "redact_foreign_query",
]

REDACTED = MARKER
BODY_REF_PREFIX = b"veo3-body-file:"
DEFAULT_BODY_THRESHOLD = 64 * 1024
BODIES_DIRNAME = "bodies"
_METADATA_KEY = "veo3"
_EXTENSIONS = {"video/mp4": ".mp4", "application/json": ".json"}


class RecordMode(StrEnum):
    """When a cassette may talk to the network (vcrpy's modes, minus ``none``'s surprises)."""

    NONE = "none"
    ONCE = "once"
    NEW_EPISODES = "new_episodes"
    ALL = "all"

    @classmethod
    def parse(cls, value: str) -> RecordMode:
        try:
            return cls(value)
        except ValueError:
            valid = ", ".join(m.value for m in cls)
            raise ValueError(f"unknown veo3 record mode {value!r}; valid: {valid}") from None


class CassetteMismatchError(AssertionError):
    """The code under test made a request the cassette has no (unplayed) answer for."""


# -- scrubbing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scrubber:
    """Removes secrets from vcrpy requests and responses; the key value is known up front."""

    secrets: tuple[str, ...] = ()

    def text(self, value: str) -> str:
        return redact(value, self.secrets)

    def data(self, value: bytes) -> bytes:
        return redact_bytes(value, self.secrets)

    def url(self, uri: str) -> str:
        parts = urlsplit(uri)
        query = [
            (k, REDACTED if k.lower() in SECRET_QUERY_PARAMS else v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ]
        netloc = parts.netloc.rsplit("@", 1)[-1]  # user info never belongs in a cassette
        rebuilt = urlunsplit(
            (parts.scheme, netloc, parts.path, urlencode(query, safe=":/"), parts.fragment)
        )
        return self.text(rebuilt)

    def request(self, request: Any) -> Any:
        """A scrubbed copy of a ``vcr.request.Request`` (vcrpy also uses this for matching)."""
        clean = copy.copy(request)
        clean.headers = {
            name: self.text(str(value))
            for name, value in request.headers.items()
            if name.lower() not in SECRET_REQUEST_HEADERS
        }
        clean.uri = self.url(request.uri)
        body = request.body
        if isinstance(body, bytes):
            clean.body = self.data(body)
        elif isinstance(body, str):
            clean.body = self.text(body)
        return clean

    def response(self, response: dict[str, Any]) -> dict[str, Any]:
        """Scrub a vcrpy response dict in place (vcrpy hands this hook a deep copy)."""
        headers = response.get("headers", {})
        response["headers"] = {
            self.text(name): [self.text(str(v)) for v in values]
            for name, values in headers.items()
            if name.lower() not in SECRET_RESPONSE_HEADERS
        }
        body = response.get("body", {})
        if isinstance(body.get("string"), bytes):
            body["string"] = self.data(body["string"])
        elif isinstance(body.get("string"), str):
            body["string"] = self.text(body["string"])
        return response


def redact_foreign_query(uri: str, api_base: str) -> str:
    """Blank every query value of a URL that is not on the API's origin.

    The download redirect names a signed URL on another host: its query is a short-lived
    credential for the video. Both the recorded ``Location`` and the recorded request get the
    same treatment, so a replay follows the redacted ``Location`` and still matches.
    """
    if not api_base:
        return uri
    from veo3_adapter._http import Origin

    parts = urlsplit(uri)
    try:
        same = Origin.of(httpx.URL(uri)) == Origin.of(httpx.URL(api_base))
    except (httpx.InvalidURL, TypeError):
        same = False
    if not parts.query or same:
        return uri
    query = [(k, REDACTED) for k, _v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def _header(response: Mapping[str, Any], name: str) -> str:
    for key, values in response.get("headers", {}).items():
        if key.lower() == name and values:
            return str(values[0])
    return ""


def _set_header(response: dict[str, Any], name: str, value: str) -> None:
    headers = response.setdefault("headers", {})
    for key in list(headers):
        if key.lower() == name:
            headers[key] = [value]
            return
    headers[name] = [value]


def shrink_video(response: dict[str, Any]) -> dict[str, Any]:
    """Replace an MP4 body with the small sample clip, fixing ``Content-Length``."""
    from veo3_adapter.mp4 import looks_like_mp4, sample_clip

    body = response.get("body", {}).get("string")
    if isinstance(body, bytes) and looks_like_mp4(body[:8]):
        clip = sample_clip()
        response["body"]["string"] = clip
        _set_header(response, "content-length", str(len(clip)))
        headers = response.get("headers", {})
        for key in list(headers):
            if key.lower() in ("content-range", "etag"):
                del headers[key]
    return response


# -- body files ------------------------------------------------------------------------------


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


class _FileStream(httpx.SyncByteStream):
    def __init__(self, path: Path, chunk_size: int = 1 << 20) -> None:
        self._path = path
        self._chunk_size = chunk_size

    def __iter__(self) -> Iterator[bytes]:
        with self._path.open("rb") as handle:
            while chunk := handle.read(self._chunk_size):
                yield chunk


class BodyFileTransport(httpx.BaseTransport):
    """Wraps the (vcrpy-patched) transport: streams body files back, explains misses."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        store: BodyStore,
        *,
        cassette: Any = None,
        rerecord_hint: str = "",
        scrubber: Scrubber | None = None,
    ) -> None:
        self._inner = inner
        self._store = store
        self._cassette = cassette
        self._hint = rerecord_hint
        self._scrubber = scrubber or Scrubber()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        from vcr.errors import CannotOverwriteExistingCassetteException

        try:
            response = self._inner.handle_request(request)
        except CannotOverwriteExistingCassetteException as exc:
            raise CassetteMismatchError(self._mismatch_message(request, exc)) from None
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

    def _mismatch_message(self, request: httpx.Request, exc: Any) -> str:
        cassette = getattr(exc, "cassette", None) or self._cassette
        path = getattr(cassette, "_path", "?")
        # The scrubbed URL, query included (it is matched on), "?" only when there is one.
        lines = [
            f"veo3: cassette {path} has no unplayed answer for "
            f"{request.method} {self._scrubber.url(str(request.url))}",
        ]
        reason = getattr(exc, "reason", "")
        if reason == "already_played":
            lines.append(
                "  every matching recorded request has been played already (the code under "
                "test asked more often than when it was recorded)"
            )
        similar = getattr(exc, "similar_requests", None) or []
        if similar:
            stored, _ok, failed = similar[0]
            lines.append(f"  closest recorded request: {stored.method} {stored.uri}")
            for matcher, message in failed:
                lines.append(f"    differs in {matcher}: {' '.join(str(message).split())[:200]}")
        elif cassette is not None and len(cassette) == 0:
            lines.append("  the cassette is empty or missing")
        if self._hint:
            lines.append(f"  to re-record: {self._hint}")
        return "\n".join(lines)


def _no_network() -> httpx.BaseTransport:
    """What replay stands on: vcrpy answers every request before this is reached.

    A real ``HTTPTransport`` would load the CA bundle (~15 ms) for nothing; vcrpy patches
    ``MockTransport`` as it patches ``HTTPTransport``.
    """

    def refuse(request: httpx.Request) -> httpx.Response:
        raise CassetteMismatchError(f"veo3: replay tried to send {request.method} to the network")

    return httpx.MockTransport(refuse)


# -- provenance ------------------------------------------------------------------------------


def provenance(source: str, base_url: str) -> dict[str, str]:
    """Where, when and with what a cassette was recorded."""
    return {
        "source": source,
        "base_url": base_url,
        "google_genai": _version("google-genai"),
        "vcrpy": _version("vcrpy"),
        "pytest_veo3": _version("pytest-veo3"),
        "python": platform.python_version(),
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


# -- opening a cassette ----------------------------------------------------------------------


@dataclass
class VeoCassette:
    """An open cassette: the vcrpy cassette, its transport, and what it was recorded from."""

    path: Path
    mode: RecordMode
    cassette: Any
    transport: httpx.BaseTransport
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return self.metadata.get("base_url", "")

    @property
    def play_count(self) -> int:
        return int(self.cassette.play_count)

    @property
    def all_played(self) -> bool:
        return bool(self.cassette.all_played)


@contextlib.contextmanager
def open_cassette(
    path: Path,
    *,
    mode: RecordMode = RecordMode.NONE,
    secrets: tuple[str, ...] = (),
    body_threshold: int = DEFAULT_BODY_THRESHOLD,
    shrink_videos: bool = False,
    source: str = "live",
    base_url: str = "",
    inner: httpx.BaseTransport | None = None,
    rerecord_hint: str = "",
) -> Iterator[VeoCassette]:
    """Open ``path`` with vcrpy and yield a transport to build the adapter's client on.

    ``inner`` is what vcrpy patches and records: a real ``httpx.HTTPTransport`` by default,
    or an ``httpx.MockTransport`` around an in-process server.
    """
    import vcr

    scrubber = Scrubber(tuple(s for s in secrets if s))
    store = BodyStore(path.parent / BODIES_DIRNAME, body_threshold)

    def before_record_response(response: dict[str, Any]) -> dict[str, Any]:
        response = scrubber.response(response)
        return shrink_video(response) if shrink_videos else response

    def before_save(request: Any, response: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        # vcrpy hands these hooks copies; scrub again in case a hook elsewhere added a value.
        request = scrubber.request(request)
        request.uri = redact_foreign_query(request.uri, base_url)
        response = scrubber.response(response)
        for name, values in response.get("headers", {}).items():
            if name.lower() == "location":
                response["headers"][name] = [redact_foreign_query(v, base_url) for v in values]
        return request, store.externalize(response)

    if mode is RecordMode.NONE and not path.is_file():
        raise CassetteMismatchError(
            f"veo3: cassette {path} does not exist"
            + (f"; record it with: {rerecord_hint}" if rerecord_hint else "")
        )
    recorder = vcr.VCR(
        record_mode=mode.value,
        match_on=("method", "scheme", "host", "port", "path", "query"),
        before_record_request=scrubber.request,
        before_record_response=before_record_response,
        before_save_interaction=before_save,
        decode_compressed_response=True,
    )
    with recorder.use_cassette(str(path)) as cassette:
        metadata: dict[str, str] = dict(cassette._metadata.get(_METADATA_KEY, {}))
        if mode is not RecordMode.NONE and (not metadata or mode is RecordMode.ALL):
            metadata = provenance(source, base_url)
            cassette._metadata[_METADATA_KEY] = metadata
            cassette.dirty = True
        transport = BodyFileTransport(
            inner or (_no_network() if mode is RecordMode.NONE else httpx.HTTPTransport()),
            store,
            cassette=cassette,
            rerecord_hint=rerecord_hint,
            scrubber=scrubber,
        )
        yield VeoCassette(path, mode, cassette, transport, metadata)
