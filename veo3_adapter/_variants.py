"""Variant names: each becomes a file name, ``veo3/{variant}.mp4``."""

from __future__ import annotations

import re
from collections.abc import Iterable

from .errors import InvalidVariantError

__all__ = ["MAX_VARIANT_LENGTH", "validate_variant", "validate_variants"]

MAX_VARIANT_LENGTH = 100
_VARIANT_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


def validate_variant(variant: object) -> str:
    """Return ``variant`` if it can be a file name, else raise ``InvalidVariantError`` naming it.

    Letters, digits, ``.``, ``_`` and ``-`` only, so no variant contains ``~``: the second
    to fourth videos of a request are written as ``{variant}~2.mp4`` to ``{variant}~4.mp4``,
    names no variant's own clip can have.
    """
    if not isinstance(variant, str):
        raise InvalidVariantError(f"variant name must be a string, got {type(variant).__name__}")
    if len(variant) > MAX_VARIANT_LENGTH:
        raise InvalidVariantError(
            f"variant name {variant[:40]!r}... is {len(variant)} characters long; "
            f"the limit is {MAX_VARIANT_LENGTH}"
        )
    if not _VARIANT_RE.fullmatch(variant):
        raise InvalidVariantError(
            f"variant name {variant!r} is not allowed: it becomes veo3/<variant>.mp4, so use "
            "letters, digits, '.', '_' and '-' only, not starting with '.'"
        )
    return variant


def validate_variants(variants: Iterable[object], *, kept: Iterable[str] = ()) -> list[str]:
    """``validate_variant`` on each; two names equal ignoring case are refused, naming both.

    ``veo3/Intro.mp4`` and ``veo3/intro.mp4`` are one file on macOS and Windows. ``kept``
    are variants already recorded that stay beside these (jobs.json's other jobs).
    """
    names = [validate_variant(variant) for variant in variants]
    seen: dict[str, str] = {}
    for name in names:
        other = seen.setdefault(name.casefold(), name)
        if other != name:
            raise _same_file(other, name)
    for name in kept:
        other = seen.get(name.casefold(), name)
        if other != name:
            raise _same_file(name, other)
    return names


def _same_file(first: str, second: str) -> InvalidVariantError:
    return InvalidVariantError(
        f"variants {first!r} and {second!r} differ only in case, so they would be one file "
        "on macOS and Windows; rename one of them"
    )
