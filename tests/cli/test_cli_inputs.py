"""Odd input is one line and exit 2, never a traceback: a prompt JSON cannot turn into text,
an ``--out`` that is a file or has no parent, a disk that refuses; a byte order mark at the
start of a prompts file is accepted."""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import NoReturn

import pytest
from _kit.cli import POLL, SUBMITS, Veo3, parse_table

from veo3_adapter.cli import _commands, main
from veo3_adapter.emulator import Emulator

BOM = "\ufeff"


@pytest.mark.parametrize(
    ("name", "text"),
    [("p.toml", f'{BOM}a = "a cat"\n'), ("p.json", f'{BOM}{{"a": "a cat"}}')],
    ids=["toml", "json"],
)
def test_a_byte_order_mark_is_accepted(
    veo3: Veo3, emulator: Emulator, base_url: str, tmp_path: Path, name: str, text: str
) -> None:
    prompts = tmp_path / name
    prompts.write_text(text, encoding="utf-8")

    result = veo3("run", str(prompts), "--out", "out", *SUBMITS.args, "--base-url", base_url, *POLL)

    assert result.code == 0, result
    assert [(r["VARIANT"], r["STATUS"]) for r in parse_table(result.out)] == [("a", "downloaded")]
    assert [op.prompt for op in emulator.operations.values()] == ["a cat"]


@pytest.mark.parametrize(
    "entry",
    [
        '"\\ud800"',
        '{"prompt": "a cat \\udfff"}',
        '{"prompt": "a cat", "negative_prompt": "\\ud800"}',
    ],
    ids=["prompt", "prompt in a table", "option"],
)
def test_an_unpaired_surrogate_is_one_line_naming_the_file(
    veo3: Veo3, tmp_path: Path, entry: str
) -> None:
    prompts = tmp_path / "p.json"
    prompts.write_text(f'{{"a": {entry}}}', encoding="ascii")

    result = veo3("run", str(prompts), "--out", "out", keyed=False)

    assert result.code == 2, result
    [line] = result.err_lines
    assert line.startswith(f"veo3: error: prompts file {prompts}: variant 'a' holds an unpaired ")
    assert "fix the escape in the file" in line
    assert not (tmp_path / "out").exists()


def test_an_out_that_is_a_file_is_one_line(veo3: Veo3, tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text(json.dumps({"a": "a cat"}))
    (tmp_path / "taken").write_text("mine")

    result = veo3("run", "p.json", "--out", "taken", keyed=False)

    assert result.code == 2, result
    assert result.err_lines == [
        "veo3: error: --out taken is not a directory; pass a directory (or a new name)"
    ]
    assert (tmp_path / "taken").read_text() == "mine"


@pytest.mark.parametrize("command", ["run", "demo"])
def test_an_out_whose_parent_is_missing_is_one_line(
    veo3: Veo3, tmp_path: Path, command: str
) -> None:
    (tmp_path / "p.json").write_text(json.dumps({"a": "a cat"}))
    args = ("p.json",) if command == "run" else ()

    result = veo3(command, *args, "--out", "no/such/out", keyed=False)

    assert result.code == 2, result
    assert result.err_lines == [
        "veo3: error: --out no/such/out: no/such is not an existing directory; "
        "create it first or pick another --out"
    ]
    assert not (tmp_path / "no").exists()


def test_an_os_error_is_one_line_naming_the_file(
    out: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (out / "veo3").mkdir(parents=True)
    (out / "veo3" / "jobs.json").write_text("{}")
    jobs = out / "veo3" / "jobs.json"

    def unreadable(path: Path) -> NoReturn:
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(_commands, "read_jobs_json", unreadable)

    assert main(["status", str(out)]) == 2
    assert capsys.readouterr().err == f"veo3: error: {jobs}: Permission denied\n"
