"""The prompts file: TOML or JSON mapping each variant to a prompt or a table of options."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from ..errors import InvalidOptionsError, InvalidVariantError
from ..models import GenerationOptions, validate_variant, validate_variants
from ._common import UsageError

__all__ = ["load_prompts"]


def load_prompts(path: Path) -> tuple[dict[str, str], dict[str, GenerationOptions]]:
    """Read a TOML or JSON file mapping variant -> prompt or {prompt = ..., options...}."""
    data = _read(path)
    prompts: dict[str, str] = {}
    options: dict[str, GenerationOptions] = {}
    for variant, entry in data.items():
        try:
            validate_variant(variant)
        except InvalidVariantError as exc:
            raise UsageError(f"prompts file {path}: {exc}") from None
        prompt = entry.get("prompt") if isinstance(entry, dict) else entry
        if not isinstance(prompt, str) or not prompt.strip():
            raise UsageError(
                f"prompts file {path}: variant {variant!r} needs a non-empty prompt string "
                "(or a table with a 'prompt' key)"
            )
        _refuse_surrogates(path, variant, entry)
        prompts[variant] = prompt
        values = (
            {k: v for k, v in entry.items() if k != "prompt"} if isinstance(entry, dict) else {}
        )
        if not values:
            continue
        try:
            options[variant] = GenerationOptions.from_mapping(values)
        except InvalidOptionsError as exc:
            raise UsageError(f"prompts file {path}: variant {variant!r}: {exc}") from None
    try:
        validate_variants(prompts)
    except InvalidVariantError as exc:
        raise UsageError(f"prompts file {path}: {exc}") from None
    return prompts, options


def _refuse_surrogates(path: Path, variant: str, entry: object) -> None:
    """JSON's ``\\ud800`` escapes can spell half a character, which no file can hold."""
    texts = [entry] if isinstance(entry, str) else []
    if isinstance(entry, dict):
        texts = [v for v in entry.values() if isinstance(v, str)]
    for text in texts:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            half = text[exc.start : exc.end].encode("unicode_escape").decode("ascii")
            raise UsageError(
                f"prompts file {path}: variant {variant!r} holds an unpaired surrogate "
                f"({half}), which is not text; fix the escape in the file"
            ) from None


def _read(path: Path) -> dict[str, Any]:
    """The file's top-level mapping, or a ``UsageError`` saying what to fix."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(
            f"cannot read prompts file {path}: {exc.strerror or exc}; "
            "pass a TOML or JSON file mapping variant names to prompts"
        ) from exc
    is_toml = path.suffix.lower() == ".toml"
    fmt = "TOML" if is_toml else "JSON"
    try:
        # A byte order mark is what some editors put first; it says nothing but "UTF-8".
        text = raw.decode("utf-8-sig")
        data: Any = tomllib.loads(text) if is_toml else json.loads(text)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, ValueError, RecursionError) as exc:
        how = "" if is_toml or path.suffix.lower() == ".json" else " (read as JSON: not *.toml)"
        raise UsageError(
            f"prompts file {path} is not valid {fmt}{how}: {exc}; fix it and run again"
        ) from exc
    if not isinstance(data, dict) or not data:
        raise UsageError(
            f"prompts file {path} must map variant names to prompts, "
            'e.g. intro = "a neon hologram of a cat"'
        )
    return data
