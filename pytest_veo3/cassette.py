"""Veo cassettes: vcrpy recordings with keys scrubbed and video bodies stored beside them.

A cassette is a vcrpy YAML file. This module opens one (:func:`open_cassette`) and puts
together what the private modules add:

- **Scrubbing before anything touches disk** (:mod:`._scrub`): credential headers dropped by
  name (request and response), credential query parameters and the key value replaced, the
  query of signed download URLs blanked.
- **Body files** (:mod:`._bodies`): large or binary bodies, of responses and of requests (a
  submit with inline images), stored content-addressed in ``bodies/`` beside the cassette
  and read back on replay; optionally, recorded MP4s shrunk to a small valid one.
- **Matching by content** (:mod:`._match`): a submit to your own cassette asks for the
  prompt, options and input bytes it recorded; a built-in scenario's, for its shape.
- **A useful miss** (:mod:`._replay`): ``CassetteMismatchError`` names the request, the
  cassette, the closest recorded request (and, for a submit, the prompt, option or input
  that differs: an image by its size and SHA-256) and how to re-record.
- **Provenance** (here): cassette metadata says where and when it was recorded, with
  which SDK, and from which backend (:mod:`._backends`: the Gemini API, or Vertex AI with
  its location and the placeholders standing for the project and bucket), stored through
  vcrpy's cassette metadata. :func:`cassette_backend` reads it from a file.
- **No credential traffic**: requests to the hosts that mint or refresh tokens
  (``TOKEN_HOSTS``) are never recorded; vcrpy lets them through untouched.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import platform
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx

from veo3_adapter._placeholders import CloudNames
from veo3_adapter._secrets import MARKER, TOKEN_HOSTS, Secret

from ._backends import VERTEX, CassetteBackend
from ._bodies import (
    BODIES_DIRNAME,
    BODY_REF_PREFIX,
    DEFAULT_BODY_THRESHOLD,
    BodyFileTransport,
    BodyStore,
    shrink_video,
)
from ._replay import (
    BODY_MATCHER,
    MATCH_ON,
    CassetteMismatchError,
    MissLog,
    ReplayTransport,
    body_matcher,
    missing_cassette,
    no_network,
)
from ._scrub import Scrubber, redact_foreign_query, scrubbed_vcr_logs

__all__ = [
    "BODY_REF_PREFIX",
    "DEFAULT_BODY_THRESHOLD",
    "REDACTED",
    "BodyFileTransport",
    "BodyStore",
    "CassetteBackend",
    "CassetteMismatchError",
    "CloudNames",
    "RecordMode",
    "Scrubber",
    "VeoCassette",
    "cassette_backend",
    "cassette_metadata",
    "open_cassette",
    "provenance",
    "redact_foreign_query",
]

REDACTED = MARKER
"""What a scrubbed value becomes in a cassette (the one marker, from ``_secrets``)."""
METADATA_KEY = "veo3"
"""The key our provenance is stored under in the cassette's metadata."""


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


# -- provenance ------------------------------------------------------------------------------


def provenance(
    source: str, base_url: str, backend: CassetteBackend | None = None
) -> dict[str, str]:
    """Where, when, with what and from which backend a cassette was recorded."""
    return {
        **(backend or CassetteBackend()).metadata(),
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


def cassette_metadata(path: Path) -> dict[str, str]:
    """The provenance stored in the cassette at ``path`` (``{}`` when it has none)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open("rb") as handle:
        data = yaml.load(handle, Loader=loader)  # a safe loader: plain data only
    metadata = data.get("metadata") if isinstance(data, dict) else None
    stored = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
    return {str(k): str(v) for k, v in stored.items()} if isinstance(stored, dict) else {}


def cassette_backend(path: Path) -> str:
    """The backend the cassette at ``path`` was recorded from: ``"gemini"`` or ``"vertex"``
    (a cassette that names none is a Gemini API one)."""
    return CassetteBackend.from_metadata(cassette_metadata(path)).name


def _cassette_provenance(
    cassette: Any, mode: RecordMode, fresh: dict[str, str], path: Path
) -> dict[str, str]:
    """The provenance this session works with, stored in the cassette when it may change.

    Replay reads what was recorded; ``once`` and ``new_episodes`` add ``fresh`` to a
    cassette that has none; ``all`` (a re-recording) replaces it, from the same backend
    only: re-recording a Vertex AI cassette with a Gemini API session (or the other way
    round) is refused before anything is lost. ``once`` never changes a cassette that
    exists, so one recorded elsewhere keeps having none.
    """
    from vcr.errors import MissingMetadataError

    if mode is RecordMode.ALL:
        was = CassetteBackend.from_metadata(cassette.get_metadata(METADATA_KEY, fresh)).name
        now = CassetteBackend.from_metadata(fresh).name
        if was != now:
            cassette.dirty = False  # vcrpy must not save it on the way out
            raise ValueError(
                f"veo3: {path} was recorded from {was}; recording {now} over it "
                f"would lose that recording: replay it, or delete it first"
            )
        _replace_metadata(cassette, METADATA_KEY, fresh)
        return fresh
    try:
        stored = cassette.get_metadata(METADATA_KEY, {} if mode is RecordMode.NONE else fresh)
    except MissingMetadataError:  # the record mode does not allow adding it
        return {} if mode is RecordMode.NONE else fresh
    return {str(k): str(v) for k, v in dict(stored).items()}


def _replace_metadata(cassette: Any, key: str, value: dict[str, str]) -> None:
    """Store ``value`` under ``key`` in the cassette's metadata, replacing what is there.

    vcrpy's public metadata API, ``Cassette.get_metadata(key, default)``, stores a value only
    when the key is missing and has no setter. The value it returns is the stored object
    itself, so an existing one is updated in place; ``dirty`` (public) makes vcrpy save the
    cassette even when nothing new is recorded.
    """
    stored = cassette.get_metadata(key, value)
    if stored is not value:
        stored.clear()
        stored.update(value)
    cassette.dirty = True


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
    def backend(self) -> CassetteBackend:
        """The backend the cassette was recorded from (the Gemini API when it names none)."""
        return CassetteBackend.from_metadata(self.metadata)

    @property
    def play_count(self) -> int:
        return int(self.cassette.play_count)

    @property
    def all_played(self) -> bool:
        return bool(self.cassette.all_played)

    @property
    def misses(self) -> list[str]:
        """What every request the cassette could not answer was told (caught or not)."""
        return list(self.transport.misses) if isinstance(self.transport, MissLog) else []


@contextlib.contextmanager
def open_cassette(
    path: Path,
    *,
    mode: RecordMode = RecordMode.NONE,
    secrets: Iterable[str | Secret] = (),
    body_threshold: int = DEFAULT_BODY_THRESHOLD,
    shrink_videos: bool = False,
    source: str = "live",
    base_url: str = "",
    inner: httpx.BaseTransport | None = None,
    rerecord_hint: str | Callable[[], str] = "",
    match_body: bool = True,
    backend: CassetteBackend | None = None,
    names: CloudNames | None = None,
) -> Iterator[VeoCassette]:
    """Open ``path`` with vcrpy and yield a transport to build the adapter's client on.

    ``inner`` is what vcrpy patches and records: a real ``httpx.HTTPTransport`` by default,
    or an ``httpx.MockTransport`` around an in-process server. ``secrets`` are best given as
    :class:`~veo3_adapter._secrets.Secret` (no ``repr`` shows them). With ``match_body``
    (the default) a submit must ask for the prompt, options and inputs (by content) that
    were recorded; without it (a built-in scenario) any prompt, options and image bytes are
    answered, with the recorded kinds of input and number of videos, and a poll still only
    of the operation it recorded.
    ``rerecord_hint`` (a command, or a function asked on a miss) says how to record it again.
    ``backend`` is what a recording records as its backend (the Gemini API by default);
    ``names`` the real project and bucket names the recording replaces with placeholders.
    """
    import vcr

    if mode is RecordMode.NONE and not path.is_file():
        raise missing_cassette(path, rerecord_hint)
    scrubber = Scrubber(
        tuple(secrets),
        api_base=base_url,
        own_bases=_own_bases(backend),
        names=names or CloudNames(),
    )
    store = BodyStore(path.parent / BODIES_DIRNAME, body_threshold)
    options = scrubber.vcr_options()
    if shrink_videos:
        options["before_record_response"] = (scrubber.response, shrink_video)

    def write_bodies(request: Any, response: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        return store.externalize_request(request), store.externalize(response)

    def read_bodies(request: Any, response: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        return store.internalize_request(request), response

    # vcrpy runs each list of hooks in order: scrubbed first, then the bodies written. A
    # request's body file is read back on load (matched by content); a response's, on replay.
    options["before_save_interaction"] = (options["before_save_interaction"], write_bodies)
    options["after_load_interaction"] = read_bodies
    match_on = (*MATCH_ON, BODY_MATCHER)
    recorder = vcr.VCR(
        record_mode=mode.value,
        match_on=match_on,
        decode_compressed_response=True,
        ignore_hosts=TOKEN_HOSTS,
        # Re-recording replaces the cassette: nothing stale is left for replay to owe.
        drop_unused_requests=mode is RecordMode.ALL,
        **options,
    )
    recorder.register_matcher(BODY_MATCHER, body_matcher(any_prompt=not match_body))
    with scrubbed_vcr_logs(scrubber), recorder.use_cassette(str(path)) as cassette:
        fresh = provenance(source, base_url, backend)
        metadata = _cassette_provenance(cassette, mode, fresh, path)
        replay = ReplayTransport(
            inner or (no_network() if mode is RecordMode.NONE else httpx.HTTPTransport()),
            cassette=cassette,
            rerecord_hint=rerecord_hint,
            scrubber=scrubber,
        )
        transport = MissLog(BodyFileTransport(replay, store))
        yield VeoCassette(path, mode, cassette, transport, metadata)


def _own_bases(backend: CassetteBackend | None) -> tuple[str, ...]:
    """The origins besides the API's whose URLs keep their query: Cloud Storage's for Vertex."""
    if backend is None or backend.name != VERTEX:
        return ()
    from veo3_adapter._vertex_wire import DEFAULT_STORAGE_BASE_URL

    return (backend.storage_base_url or DEFAULT_STORAGE_BASE_URL,)
