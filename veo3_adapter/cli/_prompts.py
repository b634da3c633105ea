"""The prompts file: TOML or JSON mapping each variant to a prompt or a table.

A table holds the ``prompt``, the variant's inputs (``image``, ``last_frame``,
``reference_images``, ``extend``: :class:`~veo3_adapter.models.VideoInputs`) and any
generation option (:meth:`GenerationOptions.schema`). An image path is relative to the
prompts file's directory unless absolute. Everything that can be told from the file alone
is checked here, naming the file, the variant and the key; the images themselves are
checked by ``Veo3Orchestrator.run`` before anything is sent.
"""

from __future__ import annotations

import difflib
import json
import tomllib
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidOptionsError, InvalidVariantError
from ..models import GenerationOptions, VideoInputs, validate_variant, validate_variants
from ._common import UsageError

__all__ = ["PromptsFile", "load_prompts", "read_prompts_file"]

PROMPT = "prompt"


def _input_kinds() -> dict[str, str]:
    """Each ``VideoInputs`` field and what the file gives for it, from its declared type:
    ``"path"`` (an image), ``"paths"`` (an array of images) or ``"variant"`` (a name)."""
    kinds: dict[str, str] = {}
    for name, hint in typing.get_type_hints(VideoInputs).items():
        if typing.get_origin(hint) is tuple:
            kinds[name] = "paths"
        else:
            kinds[name] = "path" if Path in typing.get_args(hint) else "variant"
    return kinds


_INPUT_KINDS = _input_kinds()


@dataclass(frozen=True)
class PromptsFile:
    """What a prompts file asks for: each variant's prompt, and the options and inputs of
    the variants that set any (a relative image path joined to the file's directory)."""

    prompts: dict[str, str]
    options: dict[str, GenerationOptions]
    inputs: dict[str, VideoInputs]


def load_prompts(path: Path) -> tuple[dict[str, str], dict[str, GenerationOptions]]:
    """The prompts and options of the file at ``path`` (:func:`read_prompts_file`)."""
    read = read_prompts_file(path)
    return read.prompts, read.options


def read_prompts_file(path: Path) -> PromptsFile:
    """Read a TOML or JSON file mapping variant -> prompt or {prompt = ..., inputs, options}.

    Raises ``UsageError`` (one line naming the file, and the variant and key when there is
    one) for a file that cannot be read or parsed, a bad variant name, a missing prompt, an
    unknown key or a value of the wrong type.
    """
    data = _read(path)
    prompts: dict[str, str] = {}
    options: dict[str, GenerationOptions] = {}
    inputs: dict[str, VideoInputs] = {}
    for variant, entry in data.items():
        try:
            validate_variant(variant)
        except InvalidVariantError as exc:
            raise UsageError(f"prompts file {path}: {exc}") from None
        prompt = entry.get(PROMPT) if isinstance(entry, dict) else entry
        if not isinstance(prompt, str) or not prompt.strip():
            raise UsageError(
                f"prompts file {path}: variant {variant!r} needs a non-empty prompt string "
                "(or a table with a 'prompt' key)"
            )
        _refuse_surrogates(path, variant, entry)
        prompts[variant] = prompt
        if not isinstance(entry, dict):
            continue
        given = _inputs(path, variant, {k: v for k, v in entry.items() if k in _INPUT_KINDS})
        if given is not None:
            inputs[variant] = given
        values = {k: v for k, v in entry.items() if k != PROMPT and k not in _INPUT_KINDS}
        if not values:
            continue
        try:
            options[variant] = GenerationOptions.from_mapping(values)
        except InvalidOptionsError as exc:
            raise UsageError(
                f"prompts file {path}: variant {variant!r}: {_explained(exc)}"
            ) from None
    try:
        validate_variants(prompts)
    except InvalidVariantError as exc:
        raise UsageError(f"prompts file {path}: {exc}") from None
    return PromptsFile(prompts, options, inputs)


def _explained(exc: InvalidOptionsError) -> str:
    """An unknown key named with every key a variant's table takes (and the closest one)."""
    if not exc.unknown:
        return str(exc)
    keys, options = [PROMPT, *_INPUT_KINDS], list(GenerationOptions.schema())
    close = difflib.get_close_matches(exc.option, keys + options, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return (
        f"unknown key {exc.option!r} ({hint}a variant's table takes {', '.join(keys)} "
        f"and the options {', '.join(options)})"
    )


def _inputs(path: Path, variant: str, values: dict[str, Any]) -> VideoInputs | None:
    """The variant's inputs, image paths resolved against the prompts file's directory;
    ``None`` when it sets none. A missing key or a ``null`` (JSON) means "not set"."""

    def wrong(key: str, expected: str) -> UsageError:
        got = values[key]
        kind = "an empty string" if got == "" else _kind(got)
        return UsageError(
            f"prompts file {path}: variant {variant!r}: {key} must be {expected}, got {kind}"
        )

    def image_path(text: str) -> Path:
        # Relative to the file, not to where the command runs: the file moves with its frames.
        return path.parent / text

    fields: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        kind = _INPUT_KINDS[key]
        if kind == "path":
            if not isinstance(value, str) or not value:
                raise wrong(key, "the path of an image file (relative to the prompts file)")
            fields[key] = image_path(value)
        elif kind == "paths":
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise wrong(key, "an array of image file paths (relative to the prompts file)")
            fields[key] = tuple(image_path(v) for v in value)
        else:
            if not isinstance(value, str) or not value:
                raise wrong(key, "the name of another variant")
            fields[key] = value
    return VideoInputs(**fields) if fields else None


def _kind(value: object) -> str:
    """What a TOML or JSON value is, in the words of the file's format."""
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array holding something else than paths"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _refuse_surrogates(path: Path, variant: str, entry: object) -> None:
    """JSON's ``\\ud800`` escapes can spell half a character, which no file can hold."""
    values = list(entry.values()) if isinstance(entry, dict) else [entry]
    texts = [v for v in values if isinstance(v, str)]
    texts += [t for v in values if isinstance(v, list) for t in v if isinstance(t, str)]
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
