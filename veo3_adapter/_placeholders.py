"""Google Cloud names a recording must not reveal, and the placeholders that stand for them.

A recording made against Vertex AI names the project (operation names, URL paths, IAM
messages) and the output bucket (``gs://`` URIs, Cloud Storage URLs). Neither is a
credential, but a committed recording should not tell who made it. Here they become
:data:`PROJECT_PLACEHOLDER` and :data:`BUCKET_PLACEHOLDER`:

- wherever the wire's structure says what a name is (:data:`REFERENCES`): ``projects/<p>``,
  ``?project=<p>``, a project number in a message (``project 123456789``), ``gs://<b>``,
  ``/storage/v1/b/<b>``, a ``"bucket": "<b>"`` field;
- and, for the names the recorder knows, anywhere they stand as a whole word (not a JSON
  key). Names shorter than :data:`MIN_LITERAL_LENGTH` are left to the structural rules: a
  bucket called ``media`` must not rewrite ``alt=media``.

A replay builds its adapter with the placeholders, so its requests match the recording. The
audit (:mod:`.audit`) reports a recorded request URL whose reference names anything else.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import AnyStr

__all__ = [
    "BUCKET_PLACEHOLDER",
    "MIN_LITERAL_LENGTH",
    "PROJECT_PLACEHOLDER",
    "REFERENCES",
    "CloudNames",
    "Reference",
]

PROJECT_PLACEHOLDER = "veo3-project"
BUCKET_PLACEHOLDER = "veo3-bucket"
MIN_LITERAL_LENGTH = 6

_PROJECT = r"[A-Za-z0-9](?:[A-Za-z0-9.:_-]{0,126}[A-Za-z0-9])?"
_BUCKET = r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]"
_STOP = r"""["'\s,;)\]}<>\\]|$"""  # where a name in a message, a URL or JSON ends

_PROJECT_WHAT = f"a Google Cloud project id (recordings keep {PROJECT_PLACEHOLDER})"
_BUCKET_WHAT = f"a Cloud Storage bucket name (recordings keep {BUCKET_PLACEHOLDER})"


@dataclass(frozen=True)
class Reference:
    """One place the wire names a project or a bucket: ``pattern``'s group ``name``.

    ``needle`` is a literal every match holds: data without it is not searched (most of a
    recording, an inline video above all, names nothing).
    """

    what: str
    placeholder: str
    needle: str
    source: str

    @functools.cached_property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(self.source, re.MULTILINE)

    @functools.cached_property
    def byte_pattern(self) -> re.Pattern[bytes]:
        return re.compile(self.source.encode(), re.MULTILINE)

    def named(self, name: bytes | str) -> bool:
        """Whether ``name`` (a match's group) is something else than the placeholder."""
        return (name.decode() if isinstance(name, bytes) else name) != self.placeholder


REFERENCES: tuple[Reference, ...] = (
    Reference(
        _PROJECT_WHAT,
        PROJECT_PLACEHOLDER,
        "projects/",
        rf"\bprojects/(?P<name>{_PROJECT})(?=/(?:locations|operations|global)/|{_STOP})",
    ),
    Reference(
        _PROJECT_WHAT,
        PROJECT_PLACEHOLDER,
        "project=",
        rf"[?&]project=(?P<name>{_PROJECT})(?=[&#]|{_STOP})",
    ),
    Reference(_PROJECT_WHAT, PROJECT_PLACEHOLDER, "roject ", r"\b[Pp]roject (?P<name>[0-9]{6,})\b"),
    Reference(
        _BUCKET_WHAT, BUCKET_PLACEHOLDER, "gs://", rf"\bgs://(?P<name>{_BUCKET})(?=/|{_STOP})"
    ),
    Reference(
        _BUCKET_WHAT,
        BUCKET_PLACEHOLDER,
        "/storage/v1/b/",
        rf"/storage/v1/b/(?P<name>{_BUCKET})(?=[/?#]|{_STOP})",
    ),
    Reference(_BUCKET_WHAT, BUCKET_PLACEHOLDER, '"bucket"', rf'"bucket":\s*"(?P<name>{_BUCKET})"'),
)
"""Where the wire names a project or a bucket."""


def _literal(name: str) -> str:
    """``name`` as a whole word: not inside a longer name, not a JSON object's key."""
    return rf"""(?<![A-Za-z0-9._-]){re.escape(name)}(?![A-Za-z0-9_-])(?!"\s*:)"""


def _in_group(placeholder: str, match: re.Match[AnyStr]) -> AnyStr:
    """The match with its group ``name`` replaced by ``placeholder``."""
    start, end = match.span("name")
    offset = match.start()
    whole = match.group(0)
    value = placeholder if isinstance(whole, str) else placeholder.encode()
    return whole[: start - offset] + value + whole[end - offset :]


@dataclass(frozen=True)
class CloudNames:
    """Rewrites Google Cloud project and bucket names to the placeholders.

    ``projects`` and ``buckets`` are the real names known up front (ids, numbers): they are
    replaced wherever they stand as a word, besides every structural :data:`REFERENCES`.
    """

    projects: tuple[str, ...] = ()
    buckets: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "projects", _usable(self.projects, PROJECT_PLACEHOLDER))
        object.__setattr__(self, "buckets", _usable(self.buckets, BUCKET_PLACEHOLDER))

    def _literals(self) -> list[tuple[str, str]]:
        pairs = [(n, PROJECT_PLACEHOLDER) for n in self.projects]
        pairs += [(n, BUCKET_PLACEHOLDER) for n in self.buckets]
        return sorted(pairs, key=lambda pair: -len(pair[0]))

    def text(self, value: str) -> str:
        """``value`` with every project and bucket name replaced by its placeholder."""
        for ref in REFERENCES:
            if ref.needle in value:
                value = ref.pattern.sub(functools.partial(_in_group, ref.placeholder), value)
        for name, placeholder in self._literals():
            if name in value:
                value = re.sub(_literal(name), placeholder, value)
        return value

    def data(self, value: bytes) -> bytes:
        """:meth:`text` for bytes (bodies of recorded answers)."""
        for ref in REFERENCES:
            if ref.needle.encode() in value:
                value = ref.byte_pattern.sub(functools.partial(_in_group, ref.placeholder), value)
        for name, placeholder in self._literals():
            if name.encode() in value:
                value = re.sub(_literal(name).encode(), placeholder.encode(), value)
        return value


def _usable(names: Iterable[str], placeholder: str) -> tuple[str, ...]:
    kept = {n.strip() for n in names if n and len(n.strip()) >= MIN_LITERAL_LENGTH}
    kept.discard(placeholder)
    return tuple(sorted(kept))
