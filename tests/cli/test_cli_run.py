"""``veo3 run PROMPTS --out DIR``: the real pipeline against the emulator over loopback, on
the backend that submits with the installed google-genai (``SUBMITS``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _kit.cli import (
    POLL,
    SUBMITS,
    SUBMITS_WITH_KEY,
    TABLE_HEADER,
    Veo3,
    parse_table,
    write_prompts,
)
from _kit.keys import make_api_key

from veo3_adapter.emulator import Emulator, Scenario
from veo3_adapter.models import DEFAULT_MODEL
from veo3_adapter.mp4 import is_mp4_file
from veo3_adapter.store import read_jobs_json

TOML_PROMPTS = """\
intro = "a neon hologram of a cat"

[outro]
prompt = "a lighthouse at dusk"
model = "veo-3.1-fast-generate-001"
aspect_ratio = "9:16"
resolution = "1080p"
duration_seconds = 6
negative_prompt = "blurry"
person_generation = "allow_adult"
enhance_prompt = true
"""


def _parameters_by_variant(emulator: Emulator, out: Path) -> dict[str, dict[str, object]]:
    operations = emulator.operations
    return {
        job.variant: operations[job.operation_name].parameters
        for job in read_jobs_json(out / "veo3" / "jobs.json")
    }


def test_run_toml_generates_every_clip_and_sends_per_variant_options(
    veo3: Veo3, emulator: Emulator, base_url: str, tmp_path: Path, out: Path
) -> None:
    prompts = write_prompts(tmp_path / "prompts.toml", TOML_PROMPTS)

    result = veo3("run", str(prompts), "--out", "out", *SUBMITS.args, "--base-url", base_url, *POLL)

    assert result.code == 0, result
    assert is_mp4_file(out / "veo3" / "intro.mp4")
    assert is_mp4_file(out / "veo3" / "outro.mp4")
    assert _parameters_by_variant(emulator, out) == {
        "intro": {**SUBMITS.parameters},
        "outro": {
            **SUBMITS.parameters,
            "aspectRatio": "9:16",
            "resolution": "1080p",
            "durationSeconds": 6,
            "negativePrompt": "blurry",
            "personGeneration": "allow_adult",
            "enhancePrompt": True,
        },
    }
    models = {op.prompt: op.model for op in emulator.operations.values()}
    assert models == {
        "a neon hologram of a cat": DEFAULT_MODEL,
        "a lighthouse at dusk": "veo-3.1-fast-generate-001",
    }
    rows = parse_table(result.out)
    assert [(r["VARIANT"], r["STATUS"], r["CLIP"]) for r in rows] == [
        ("intro", "downloaded", "2.1 KB"),
        ("outro", "downloaded", "2.1 KB"),
    ]
    assert emulator.key_leaks == []


def test_run_json_prompts_with_options(
    veo3: Veo3, emulator: Emulator, base_url: str, tmp_path: Path, out: Path
) -> None:
    prompts = write_prompts(
        tmp_path / "prompts.json",
        json.dumps({"a": "a cat", "b": {"prompt": "a dog", "aspect_ratio": "16:9"}}),
    )

    result = veo3("run", str(prompts), "--out", "out", *SUBMITS.args, "--base-url", base_url, *POLL)

    assert result.code == 0, result
    assert _parameters_by_variant(emulator, out) == {
        "a": {**SUBMITS.parameters},
        "b": {**SUBMITS.parameters, "aspectRatio": "16:9"},
    }
    assert sorted(p.name for p in (out / "veo3").glob("*.mp4")) == ["a.mp4", "b.mp4"]


def test_run_exits_1_when_a_job_fails_and_keeps_the_others(
    veo3: Veo3, emulator: Emulator, base_url: str, tmp_path: Path, out: Path
) -> None:
    emulator.rule("storm", Scenario.named("operation_error"))
    prompts = write_prompts(tmp_path / "p.toml", 'calm = "a calm sea"\nrough = "a storm"\n')

    result = veo3("run", str(prompts), "--out", "out", *SUBMITS.args, "--base-url", base_url, *POLL)

    assert result.code == 1, result
    rows = {r["VARIANT"]: (r["STATUS"], r["ERROR"]) for r in parse_table(result.out)}
    assert rows == {"calm": ("downloaded", "-"), "rough": ("failed", "generation_failed")}
    assert is_mp4_file(out / "veo3" / "calm.mp4")
    assert not (out / "veo3" / "rough.mp4").exists()


def test_run_takes_the_key_from_google_api_key_too(
    veo3: Veo3, emulator: Emulator, base_url: str, tmp_path: Path
) -> None:
    prompts = write_prompts(tmp_path / "p.toml", 'a = "a cat"\n')

    result = veo3(
        "run",
        str(prompts),
        "--out",
        "out",
        *SUBMITS_WITH_KEY.args,
        "--base-url",
        base_url,
        *POLL,
        keyed=False,
        env={"GOOGLE_API_KEY": veo3.key},
    )

    assert result.code == 0, result


def test_run_quiet_prints_only_the_table(
    veo3: Veo3, emulator: Emulator, base_url: str, tmp_path: Path
) -> None:
    prompts = write_prompts(tmp_path / "p.toml", 'a = "a cat"\nb = "a dog"\n')

    result = veo3(
        "run", str(prompts), "--out", "out", *SUBMITS.args, "--base-url", base_url, "-q", *POLL
    )

    assert result.code == 0, result
    assert result.err == ""
    lines = result.out.splitlines()
    assert lines[0].split() == TABLE_HEADER
    assert len(lines) == 3


def test_run_reports_each_event_as_a_plain_line_on_stderr_when_not_a_terminal(
    veo3: Veo3, emulator: Emulator, base_url: str, tmp_path: Path
) -> None:
    emulator.default = Scenario(running_polls=2)
    prompts = write_prompts(tmp_path / "p.toml", 'a = "a cat"\n')

    result = veo3("run", str(prompts), "--out", "out", *SUBMITS.args, "--base-url", base_url, *POLL)

    assert result.code == 0, result
    [operation] = emulator.operations
    assert all(line.startswith("veo3: a: ") for line in result.err_lines), result
    events = [line.removeprefix("veo3: a: ") for line in result.err_lines]
    assert len(events) == 6, result
    assert events[0] == f"submitted as {operation}"
    assert events[1].startswith("poll 1: still generating (")
    assert events[2].startswith("poll 2: still generating (")
    assert events[3].startswith("generated after 3 poll(s), ")
    assert events[4] == "downloading (2.1 KB)"
    assert events[5].startswith("downloaded 2.1 KB (")
    assert "\x1b" not in result.err
    assert "veo3:" not in result.out


# -- usage errors: exit 2, one line naming the fix, nothing sent ------------------------------


def test_run_on_the_live_api_without_a_key_names_both_variables_and_sends_nothing(
    veo3: Veo3, tmp_path: Path, out: Path
) -> None:
    prompts = write_prompts(tmp_path / "p.toml", 'a = "a cat"\n')

    result = veo3("run", str(prompts), "--out", "out", keyed=False)

    assert result.code == 2, result
    assert result.err_lines == [
        "veo3: error: no API key: set GEMINI_API_KEY (or GOOGLE_API_KEY) in the environment; "
        "keys are never taken from the command line"
    ]
    assert not out.exists()


@pytest.mark.parametrize("style", ["--api-key", "--api-key=", "--key="])
def test_a_key_on_the_command_line_is_refused_without_echoing_it(
    veo3: Veo3, tmp_path: Path, style: str
) -> None:
    prompts = write_prompts(tmp_path / "p.toml", 'a = "a cat"\n')
    key_args = [style + veo3.key] if style.endswith("=") else [style, veo3.key]

    result = veo3("run", str(prompts), "--out", "out", *key_args, keyed=False)

    assert result.code == 2, result
    assert result.err_lines == [
        "veo3: error: keys are never taken from the command line; "
        "set GEMINI_API_KEY (or GOOGLE_API_KEY) in the environment instead"
    ]


def test_a_stray_key_shaped_argument_is_redacted_from_the_usage_error(
    veo3: Veo3, tmp_path: Path
) -> None:
    planted = make_api_key()
    prompts = write_prompts(tmp_path / "p.toml", 'a = "a cat"\n')

    result = veo3("run", str(prompts), "--out", "out", planted, keyed=False)

    assert result.code == 2, result
    assert planted not in result.err
    assert "unrecognized arguments: REDACTED" in result.err


BAD_PROMPTS = {
    "missing": ("p.toml", None, "cannot read prompts file {path}: No such file or directory; "),
    "directory": ("p.toml", "<dir>", "cannot read prompts file {path}: Is a directory; "),
    "invalid toml": ("p.toml", 'a = "unterminated\n', "prompts file {path} is not valid TOML: "),
    "invalid json": ("p.json", '{"a": "a cat",}', "prompts file {path} is not valid JSON: "),
    "bad variant": ("p.toml", '"../x" = "a cat"\n', "prompts file {path}: variant name '../x'"),
    "unknown option": (
        "p.toml",
        '[a]\nprompt = "x"\nfps = 24\n',
        "prompts file {path}: variant 'a': unknown key 'fps' (a variant's table takes prompt, ",
    ),
    "wrong option type": (
        "p.toml",
        '[a]\nprompt = "x"\nduration_seconds = "6"\n',
        "prompts file {path}: variant 'a': option 'duration_seconds' must be an integer, got str",
    ),
    "empty prompt": ("p.json", '{"a": " "}', "variant 'a' needs a non-empty prompt string"),
    "not a mapping": ("p.json", "[1, 2]", "must map variant names to prompts"),
}


@pytest.mark.parametrize(
    ("name", "content", "message"), BAD_PROMPTS.values(), ids=list(BAD_PROMPTS)
)
def test_a_bad_prompts_file_is_a_one_line_usage_error(
    veo3: Veo3,
    emulator: Emulator,
    base_url: str,
    tmp_path: Path,
    out: Path,
    name: str,
    content: str | None,
    message: str,
) -> None:
    path = tmp_path / name
    if content == "<dir>":
        path.mkdir()
    elif content is not None:
        path.write_text(content)

    result = veo3("run", str(path), "--out", "out", "--base-url", base_url, *POLL)

    assert result.code == 2, result
    assert len(result.err_lines) == 1, result
    [line] = result.err_lines
    assert line.startswith("veo3: error: "), line
    assert message.format(path=path) in line
    assert emulator.requests == []
    assert not out.exists()


@pytest.mark.parametrize(
    "args",
    [
        ("run",),
        ("run", "p.toml"),
        ("run", "p.toml", "--out", "o", "--poll-interval", "-1"),
        ("run", "p.toml", "--out", "o", "--timeout", "soon"),
        ("nonsense",),
        (),
    ],
    ids=["no prompts", "no --out", "negative interval", "bad timeout", "unknown command", "none"],
)
def test_bad_command_lines_exit_2(veo3: Veo3, args: tuple[str, ...]) -> None:
    result = veo3(*args)

    assert result.code == 2, result
    assert "usage: veo3" in result.err
    assert "Traceback" not in result.err


def test_an_unusable_base_url_is_a_usage_error(veo3: Veo3, tmp_path: Path) -> None:
    prompts = write_prompts(tmp_path / "p.toml", 'a = "a cat"\n')

    result = veo3("run", str(prompts), "--out", "out", "--base-url", "ftp://example.invalid")

    assert result.code == 2, result
    assert result.err_lines == [
        "veo3: error: base_url 'ftp://example.invalid' must be an http(s) URL with a host"
    ]


def test_help_lists_every_command_and_says_where_the_key_comes_from(veo3: Veo3) -> None:
    top = veo3("--help")
    run = veo3("run", "--help")

    assert top.code == 0 and run.code == 0
    for command in ("run", "resume", "status", "demo", "emulator", "cassettes"):
        assert command in top.out
    assert "GEMINI_API_KEY or GOOGLE_API_KEY, never from the command line" in " ".join(
        run.out.split()
    )
    assert "--quiet" in run.out
