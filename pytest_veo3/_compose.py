"""Composed cassettes: several recordings replayed as one, one recording per submit.

``@pytest.mark.veo3_cassette("success", "download_not_found", "success")`` replays the
interactions of each named cassette in turn: the first submit is answered from the first
cassette, the second from the second, and so on. :func:`compose` writes that cassette: the
interactions of every part in marker order, each part's operation ids, file ids and Cloud
Storage output folders rewritten with a per-position tag (consistently in every URL, header
and body of that part), so the same cassette may appear more than once without two jobs
sharing an id. The body files the parts reference are copied beside it.

A built-in scenario answers any prompt (a request of its shape), your own cassette the
prompt and inputs it recorded: each request of a built-in part carries
:data:`~._match.ANY_PROMPT_HEADER`, which the body matcher reads. Parts recorded from
different backends, or against different base URLs, cannot be replayed by one adapter and
are refused (:class:`CompositionError`).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from ._backends import GEMINI
from ._bodies import BODIES_DIRNAME, BODY_REF_PREFIX, BodyStore
from ._replay import ANY_PROMPT_HEADER, PART_HEADER, CassetteMismatchError, MissLog
from .cassette import METADATA_KEY

if TYPE_CHECKING:
    import httpx

    from .cassette import VeoCassette

__all__ = [
    "CompositionError",
    "Part",
    "compose",
    "compose_named",
    "composed",
    "is_submit",
    "keep_submit_order",
    "marker_names",
    "read_part",
]

_TAG_WIDTH = 4
"""Digits of the position tag: valid in every id alphabet (Gemini, Vertex UUIDs and numbers)."""
_MAX_PARTS = 10**_TAG_WIDTH - 1
_IDS = re.compile(r"(?<![A-Za-z0-9_.-])(?:operations|files)/(?P<id>[A-Za-z0-9_-]+)")
"""Operation ids (Gemini and Vertex) and Gemini file ids, as URLs and bodies name them."""
_SUBMIT_VERB = ":predictLongRunning"
_GCS_OBJECT = re.compile(r"gs://[a-z0-9._-]+/(?:[^\s\"']*/)?(?P<id>[0-9]{6,32})/[^\s\"'/]+")
"""A Vertex output object ``gs://bucket/prefix/<folder>/sample_0.mp4``: the numeric folder."""
_SEGMENTS = re.compile(r"(?P<lead>/|%2[Ff])(?P<id>[A-Za-z0-9_-]+)")
"""Where a found id is renamed: any path segment, in a URL, a ``gs://`` URI or a quoted
Cloud Storage object name (only the ids found are renamed, in one pass)."""


class CompositionError(ValueError):
    """The named cassettes cannot be replayed together (the message says why)."""


@dataclass(frozen=True)
class Part:
    """One named cassette of a composition, as read from its file."""

    name: str
    path: Path
    builtin: bool
    interactions: list[dict[str, Any]]
    metadata: dict[str, Any]

    @property
    def backend(self) -> str:
        """As the metadata names it; none named is the Gemini API (as before Vertex AI)."""
        return str(self.metadata.get("backend") or GEMINI)

    @property
    def base_url(self) -> str:
        return str(self.metadata.get("base_url") or "")


def read_part(name: str, path: Path, *, builtin: bool) -> Part:
    """Read the cassette ``path`` (vcrpy's YAML) as the part called ``name``."""
    from vcr.serializers import yamlserializer

    data = yamlserializer.deserialize(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("interactions"), list):
        raise CompositionError(f"veo3: cassette {path} is not a vcrpy cassette")
    metadata = data.get("metadata") or {}
    ours = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
    return Part(name, path, builtin, list(data["interactions"]), dict(ours or {}))


def compose(parts: Sequence[Part], directory: Path) -> Path:
    """Write the cassette replaying ``parts`` in order into ``directory``; return its path.

    Each part's ids get the tag of its position (1, 2, ...); the body files the parts
    reference are copied to ``directory/bodies``. Raises :class:`CompositionError` for parts
    of different backends or base URLs, or ids the tags cannot keep apart.
    """
    if not 1 < len(parts) <= _MAX_PARTS:
        raise CompositionError(f"veo3: a composition takes 2 to {_MAX_PARTS} cassettes")
    _check_compatible(parts)
    store = BodyStore(directory / BODIES_DIRNAME)
    interactions: list[dict[str, Any]] = []
    taken: dict[str, tuple[int, str]] = {}
    for position, part in enumerate(parts, start=1):
        renamed = _renaming(part, position)
        for old, new in renamed.items():
            other = taken.setdefault(new, (position, old))
            if other != (position, old):
                raise CompositionError(
                    f"veo3: cannot compose {_names(parts)}: ids {old!r} and {other[1]!r} "
                    f"would both become {new!r}; record these jobs in one cassette instead"
                )
        label = f"{position}:{part.name}"
        for interaction in part.interactions:
            interactions.append(_rewritten(interaction, renamed, part.builtin, label))
            _copy_body(interaction, part, store)
    base_url = next((part.base_url for part in parts if part.base_url), "")
    metadata = {**parts[0].metadata, "composed_of": _names(parts)}
    if base_url:  # where the adapter is pointed: the one base URL the parts recorded
        metadata["base_url"] = base_url
    from vcr.serializers import yamlserializer

    path = directory / f"{'+'.join(p.name.replace('/', '_') for p in parts)[:150]}.yaml"
    cassette = {"interactions": interactions, "metadata": {METADATA_KEY: metadata}, "version": 1}
    path.write_text(yamlserializer.serialize(cassette), encoding="utf-8")
    return path


def _names(parts: Iterable[Part]) -> str:
    return ", ".join(part.name for part in parts)


def _check_compatible(parts: Sequence[Part]) -> None:
    backends = {part.backend for part in parts}
    if len(backends) > 1:
        which = ", ".join(f"{part.name} ({part.backend})" for part in parts)
        raise CompositionError(
            f"veo3: cannot replay cassettes of different backends together: {which}"
        )
    bases = {part.base_url for part in parts if part.base_url}
    if len(bases) > 1:
        which = ", ".join(f"{part.name} ({part.base_url})" for part in parts if part.base_url)
        raise CompositionError(
            f"veo3: cannot replay cassettes recorded against different base URLs together: {which}"
        )


# -- ids ---------------------------------------------------------------------------------------


def _strings(interaction: Mapping[str, Any]) -> Iterable[str]:
    """Every URL, header value and text body of an interaction."""
    request, response = interaction.get("request", {}), interaction.get("response", {})
    yield str(request.get("uri", ""))
    for side in (request, response):
        for values in (side.get("headers") or {}).values():
            yield from (v for v in _as_list(values) if isinstance(v, str))
    if isinstance(request.get("body"), str):
        yield request["body"]
    body = (response.get("body") or {}).get("string")
    if isinstance(body, str):
        yield body


def _as_list(values: Any) -> list[Any]:
    return list(values) if isinstance(values, list | tuple) else [values]


def _renaming(part: Part, position: int) -> dict[str, str]:
    """Every id the part's interactions name, mapped to its tagged form."""
    found: dict[str, None] = {}
    for interaction in part.interactions:
        for text in _strings(interaction):
            found.update((m.group("id"), None) for m in _IDS.finditer(text))
            found.update((m.group("id"), None) for m in _GCS_OBJECT.finditer(text))
    return {old: _tagged(old, position) for old in found}


def _tagged(old: str, position: int) -> str:
    """``old`` with the position's digits: in place of its last ones when it is long enough
    (its length and alphabet kept: a Vertex id is a UUID or a number), else appended."""
    tag = f"{position:0{_TAG_WIDTH}d}"
    return old[:-_TAG_WIDTH] + tag if len(old) >= 3 * _TAG_WIDTH else old + tag


def _rewriter(renamed: Mapping[str, str]) -> Callable[[str], str]:
    def swap(match: re.Match[str]) -> str:
        return match.group("lead") + renamed.get(match.group("id"), match.group("id"))

    def rewrite(text: str) -> str:
        if text.startswith(BODY_REF_PREFIX.decode()):
            return text
        return _SEGMENTS.sub(swap, text)

    return rewrite


def _rewritten(
    interaction: Mapping[str, Any], renamed: Mapping[str, str], any_prompt: bool, label: str
) -> dict[str, Any]:
    """A copy of ``interaction`` with its ids renamed everywhere they appear, a submit
    marked with its part's ``label``, and every request of a built-in part with
    :data:`~._match.ANY_PROMPT_HEADER`."""
    rewrite = _rewriter(renamed)
    request = dict(interaction.get("request", {}))
    response = dict(interaction.get("response", {}))
    request["uri"] = rewrite(str(request.get("uri", "")))
    if isinstance(request.get("body"), str):
        request["body"] = rewrite(request["body"])
    for side in (request, response):
        side["headers"] = {
            name: [rewrite(v) if isinstance(v, str) else v for v in _as_list(values)]
            for name, values in (side.get("headers") or {}).items()
        }
    if any_prompt:
        request["headers"][ANY_PROMPT_HEADER] = ["1"]
    if is_submit(str(request.get("method", "")), request["uri"]):
        request["headers"][PART_HEADER] = [label]
    body = dict(response.get("body") or {})
    if isinstance(body.get("string"), str):
        body["string"] = rewrite(body["string"])
    response["body"] = body
    return {**interaction, "request": request, "response": response}


def is_submit(method: str, url: str) -> bool:
    """A submit, on either backend: ``POST .../models/<model>:predictLongRunning``."""
    return method.upper() == "POST" and urlsplit(url).path.endswith(_SUBMIT_VERB)


def keep_submit_order(cassette: VeoCassette) -> None:
    """Mark each submit the code under test makes with the part whose turn it is: the one
    of the first recorded submit not played yet (a part may hold several)."""
    recorded = cassette.cassette

    def mark(request: httpx.Request) -> None:
        if not is_submit(request.method, str(request.url)):
            return
        for index, stored in enumerate(recorded.requests):
            label = stored.headers.get(PART_HEADER)
            if label and not recorded.play_counts.get(index, 0):
                request.headers[PART_HEADER] = str(label)
                return

    if isinstance(cassette.transport, MissLog):
        cassette.transport.prepare = mark


# -- body files --------------------------------------------------------------------------------


def _copy_body(interaction: Mapping[str, Any], part: Part, store: BodyStore) -> None:
    """Copy the body files the interaction's request (a submit with inline images) and
    response reference beside the composition."""
    request = (interaction.get("request") or {}).get("body")
    response = ((interaction.get("response") or {}).get("body") or {}).get("string")
    for body in (request, response):
        reference = body.encode() if isinstance(body, str) else body
        if not isinstance(reference, bytes) or not reference.startswith(BODY_REF_PREFIX):
            continue
        # Resolved as replay would: refused outside the part's bodies folder, named if missing.
        source = BodyStore(part.path.parent / BODIES_DIRNAME).resolve(reference)
        target = store.directory / source.name
        if not target.is_file():
            store.directory.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)


# -- by name -----------------------------------------------------------------------------------


def marker_names(marker: pytest.Mark | None) -> tuple[tuple[str, ...], bool | None]:
    """The veo3_cassette marker's names (none without one) and its allow_unplayed."""
    if marker is None:
        return (), None
    unknown = sorted(set(marker.kwargs) - {"allow_unplayed"})
    allow = marker.kwargs.get("allow_unplayed")
    if unknown or not isinstance(allow, bool | None):
        raise pytest.UsageError(
            "veo3_cassette marker takes cassette names and allow_unplayed=True|False only: "
            "veo3_cassette('x', 'y', allow_unplayed=True)"
        )
    if not all(isinstance(name, str) and name for name in marker.args) or (
        not marker.args and allow is None
    ):
        raise pytest.UsageError(
            "veo3_cassette marker takes one or more cassette names: veo3_cassette('x') or "
            "veo3_cassette('x', 'y')"
        )
    return tuple(marker.args), allow


def compose_named(names: Sequence[str], own_dir: Path, directory: Path) -> tuple[Path, list[str]]:
    """Compose the cassettes called ``names`` (each ``own_dir/<name>.yaml``, else the
    built-in scenario) into ``directory``; returns its path and, for each interaction, the
    name of the cassette it comes from."""
    from .scenarios import SCENARIO_CASSETTES, builtin_cassette

    parts = []
    for name in names:
        own = own_dir / f"{name}.yaml"
        builtin = None if own.is_file() else builtin_cassette(name)
        if builtin is None and not own.is_file():
            raise CassetteMismatchError(
                f"veo3: no cassette {name!r}: {own} does not exist and no built-in scenario "
                f"has that name ({', '.join(SCENARIO_CASSETTES)})"
            )
        parts.append(read_part(name, builtin or own, builtin=builtin is not None))
    owners = [part.name for part in parts for _interaction in part.interactions]
    return compose(parts, directory), owners


def composed(
    names: Sequence[str], mode: str, own_dir: Path, stack: contextlib.ExitStack
) -> tuple[Path, list[str]]:
    """:func:`compose_named` into a temporary directory ``stack`` removes; replay only."""
    if mode != "none":
        raise CompositionError(
            f"veo3_cassette marker with several names ({', '.join(names)}) only replays; "
            f"record each cassette with a test of its own (--veo3-record-mode={mode})"
        )
    where = stack.enter_context(tempfile.TemporaryDirectory(prefix="veo3-composed-"))
    return compose_named(names, own_dir, Path(where))
