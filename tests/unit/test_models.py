"""The domain: Veo3Job (AC3), its options, variant names and the error hierarchy."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from veo3_adapter import (
    ConfigurationError,
    DownloadError,
    ErrorCode,
    GenerationOptions,
    InvalidClipError,
    InvalidJobError,
    InvalidOperationNameError,
    InvalidOptionsError,
    InvalidPromptError,
    InvalidVariantError,
    JobsFileError,
    JobsFileNotFoundError,
    JobStatus,
    PollError,
    SubmitError,
    UnsafeURLError,
    Veo3Error,
    Veo3GenerationError,
    Veo3Job,
    errors,
)
from veo3_adapter.models import MAX_VARIANT_LENGTH, validate_variant

BAD_VARIANTS = ["a/b", "..", ".hidden", "a\x00b", "x" * 300, "", "a b", "a\\b", "é"]


def test_ac3_operation_name_is_a_field_defaulting_to_empty() -> None:
    fields = {f.name: f for f in dataclasses.fields(Veo3Job)}
    assert "operation_name" in fields
    assert fields["operation_name"].type in ("str", str)
    job = Veo3Job(variant="a", prompt="a cat")
    assert job.operation_name == ""
    assert job.status is JobStatus.PENDING
    named = Veo3Job(variant="a", prompt="a cat", operation_name="models/m/operations/x")
    assert named.operation_name == "models/m/operations/x"


def test_job_is_frozen_and_changes_make_new_jobs() -> None:
    job = Veo3Job(variant="a", prompt="p")
    with pytest.raises(dataclasses.FrozenInstanceError):
        job.operation_name = "x"  # type: ignore[misc]
    changed = dataclasses.replace(job, operation_name="operations/x")
    assert job.operation_name == "" and changed.operation_name == "operations/x"


def test_failed_sets_status_code_and_detail_and_keeps_the_rest() -> None:
    job = Veo3Job(variant="a", prompt="p", operation_name="operations/x", video_uri="u")
    failed = job.failed(ErrorCode.DOWNLOAD_FAILED, "HTTP 403")
    assert failed.status is JobStatus.FAILED
    assert failed.error_message == "download_failed"
    assert failed.error_detail == "HTTP 403"
    assert failed.operation_name == "operations/x" and failed.video_uri == "u"
    assert failed.finished


@pytest.mark.parametrize(
    ("status", "finished"),
    [
        (JobStatus.PENDING, False),
        (JobStatus.SUBMITTED, False),
        (JobStatus.GENERATED, False),
        (JobStatus.DOWNLOADED, True),
        (JobStatus.FAILED, True),
    ],
)
def test_finished(status: JobStatus, finished: bool) -> None:
    assert Veo3Job(variant="a", prompt="p", status=status).finished is finished


def test_error_codes_are_the_strings_pipelines_match_on() -> None:
    assert {c.value for c in ErrorCode} == {
        "download_failed",
        "generation_failed",
        "rai_filtered",
        "submit_failed",
        "quota_exhausted",
        "poll_failed",
        "timeout",
        "operation_not_found",
        "missing_operation_name",
        "internal_error",
    }


def test_options_merge_override_wins_only_where_set() -> None:
    base = GenerationOptions(model="m", aspect_ratio="16:9", negative_prompt="blurry")
    merged = base.merged(GenerationOptions(aspect_ratio="9:16", duration_seconds=8))
    assert merged == GenerationOptions(
        model="m", aspect_ratio="9:16", negative_prompt="blurry", duration_seconds=8
    )
    assert base.merged(None) is base
    assert merged.to_dict() == {
        "model": "m",
        "aspect_ratio": "9:16",
        "negative_prompt": "blurry",
        "duration_seconds": 8,
    }
    assert GenerationOptions(enhance_prompt=False).to_dict() == {"enhance_prompt": False}


def test_the_options_schema_is_the_dataclass_fields_and_their_types() -> None:
    schema = GenerationOptions.schema()
    assert list(schema) == [f.name for f in dataclasses.fields(GenerationOptions)]
    assert schema["duration_seconds"] is int and schema["enhance_prompt"] is bool
    assert schema["model"] is str


def test_from_mapping_reads_back_what_to_dict_wrote() -> None:
    options = GenerationOptions(
        model="m", aspect_ratio="9:16", duration_seconds=8, enhance_prompt=False
    )
    assert GenerationOptions.from_mapping(options.to_dict()) == options
    assert GenerationOptions.from_mapping({}) == GenerationOptions()
    assert GenerationOptions.from_mapping({"resolution": None}) == GenerationOptions()


@pytest.mark.parametrize(
    ("values", "option", "expected", "message"),
    [
        ({"duration_seconds": "8"}, "duration_seconds", "an integer", "got str"),
        ({"duration_seconds": True}, "duration_seconds", "an integer", "got bool"),
        ({"duration_seconds": 8.0}, "duration_seconds", "an integer", "got float"),
        ({"enhance_prompt": 1}, "enhance_prompt", "true or false", "got int"),
        ({"aspect_ratio": ["9:16"]}, "aspect_ratio", "a string", "got list"),
        ({"model": "m", "fps": 24}, "fps", "one of model, aspect_ratio", "unknown option 'fps'"),
    ],
)
def test_from_mapping_names_the_field_and_what_was_expected(
    values: dict[str, Any], option: str, expected: str, message: str
) -> None:
    with pytest.raises(InvalidOptionsError) as info:
        GenerationOptions.from_mapping(values)
    error = info.value
    assert isinstance(error, Veo3Error) and isinstance(error, ValueError)
    assert error.option == option and error.expected.startswith(expected)
    assert error.unknown is (option == "fps")
    assert repr(option) in str(error) and expected in str(error) and message in str(error)


def test_from_mapping_can_skip_names_a_newer_release_wrote() -> None:
    values = {"aspect_ratio": "16:9", "fps": 24}
    assert GenerationOptions.from_mapping(values, ignore_unknown=True) == GenerationOptions(
        aspect_ratio="16:9"
    )
    with pytest.raises(InvalidOptionsError, match="'duration_seconds'"):
        GenerationOptions.from_mapping({"duration_seconds": "x"}, ignore_unknown=True)


@pytest.mark.parametrize("variant", ["a", "hero_1", "B-2", "v1.final", "_x", "-x", "x" * 100])
def test_valid_variants(variant: str) -> None:
    assert validate_variant(variant) == variant


@pytest.mark.parametrize("variant", BAD_VARIANTS)
def test_invalid_variants_raise_value_error_naming_them(variant: str) -> None:
    with pytest.raises(ValueError) as info:
        validate_variant(variant)
    assert isinstance(info.value, InvalidVariantError)
    assert repr(variant[:40]) in str(info.value)


def test_variant_length_limit_and_type() -> None:
    with pytest.raises(InvalidVariantError, match=str(MAX_VARIANT_LENGTH)):
        validate_variant("x" * (MAX_VARIANT_LENGTH + 1))
    with pytest.raises(InvalidVariantError, match="must be a string"):
        validate_variant(3)


@pytest.mark.parametrize(
    ("error", "bases"),
    [
        (ConfigurationError("x"), (Veo3Error, ValueError)),
        (InvalidVariantError("x"), (InvalidJobError, ValueError)),
        (InvalidOptionsError("fps", "one of model"), (InvalidJobError, ValueError)),
        (InvalidPromptError("x"), (InvalidJobError, ValueError)),
        (JobsFileNotFoundError(Path("jobs.json"), "x"), (JobsFileError, OSError)),
        (SubmitError("x"), (Veo3GenerationError,)),
        (InvalidOperationNameError("x"), (PollError, ValueError)),
        (UnsafeURLError("x"), (DownloadError, ValueError)),
        (InvalidClipError("x"), (DownloadError,)),
    ],
)
def test_error_hierarchy_lets_callers_catch_broadly(
    error: Exception, bases: tuple[type[Exception], ...]
) -> None:
    for base in bases:
        assert isinstance(error, base)
    assert isinstance(error, Veo3Error)


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (PollError("x"), True),
        (PollError("x", status_code=503), True),
        (PollError("x", status_code=429), True),
        (PollError("x", status_code=403), False),
        (InvalidOperationNameError("x"), False),
    ],
)
def test_poll_error_transience(error: PollError, transient: bool) -> None:
    assert error.transient is transient


def test_generation_error_carries_operation_and_status() -> None:
    error = DownloadError("boom", operation_name="operations/x", status_code=403)
    assert (error.operation_name, error.status_code, str(error)) == ("operations/x", 403, "boom")


_TREE_LINE = re.compile(r"^[ │├└─]*(?P<name>[A-Z][A-Za-z0-9]+)\b")


def test_the_error_tree_in_the_docstring_is_the_class_tree() -> None:
    doc = errors.__doc__ or ""
    drawn: dict[str, str | None] = {}
    parents: list[str] = []
    for line in doc.splitlines():
        match = _TREE_LINE.match(line.removeprefix("    "))
        if not line.startswith("    ") or match is None:  # the drawing is indented
            continue
        depth = match.start("name") // 4  # "Veo3Error" at 0, "├── X" at 4, "│   ├── Y" at 8
        del parents[depth:]
        drawn[match.group("name")] = parents[-1] if parents else None
        parents.append(match.group("name"))
    classes = {
        name: cls
        for name in errors.__all__
        if isinstance(cls := getattr(errors, name), type) and issubclass(cls, Veo3Error)
    }
    assert set(drawn) == set(classes)
    for name, parent in drawn.items():
        base = next((b for b in classes[name].__bases__ if issubclass(b, Veo3Error)), None)
        assert (base.__name__ if base else None) == parent, name
