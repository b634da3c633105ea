"""``veo3 ... --help`` explains every option and its default; a missing subcommand is a
clean usage error; ``veo3 emulator --list-scenarios``."""

from __future__ import annotations

import argparse
import contextlib
import io
import re

import pytest
from _kit.cli import Veo3

from veo3_adapter.cli import build_parser, main
from veo3_adapter.emulator import SCENARIO_DESCRIPTIONS, SCENARIO_NAMES, SCENARIOS

# Options that print something and exit: they have no value, so no default to show.
PRINT_AND_EXIT = {"-h", "--help", "--list-scenarios"}
_OPTION_LINE = re.compile(r"^  (-\S.*?)(?:  +(\S.*))?$")


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> dict[tuple[str, ...], argparse.ArgumentParser]:
    """Every (sub)command of ``parser`` by its words, ``()`` being ``veo3`` itself."""
    found = {path: parser}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.update(_commands(sub, (*path, name)))
    return found


COMMANDS = _commands(build_parser())


def _help(*words: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as done:
        main([*words, "--help"])
    assert done.value.code == 0
    return out.getvalue()


def _options_section(text: str) -> dict[str, str]:
    """Each option's invocation (``--port PORT``) -> its help text, from ``--help`` output."""
    lines = text.splitlines()
    start = lines.index("options:") + 1
    entries: dict[str, str] = {}
    current = ""
    for line in lines[start:]:
        if not line.strip():
            break
        match = _OPTION_LINE.match(line)
        if match:
            current = match.group(1)
            entries[current] = match.group(2) or ""
        else:
            entries[current] += " " + line.strip()
    return {name: " ".join(text.split()) for name, text in entries.items()}


@pytest.mark.parametrize("words", list(COMMANDS), ids=lambda w: " ".join(("veo3", *w)))
def test_every_option_has_help_and_shows_its_default(words: tuple[str, ...]) -> None:
    entries = _options_section(_help(*words))
    parser = COMMANDS[words]

    expected = {s for a in parser._actions for s in a.option_strings}
    shown = {s.rstrip(",") for name in entries for s in name.split() if s.startswith("-")}
    assert shown == expected  # no option hidden from --help
    for name, text in entries.items():
        if PRINT_AND_EXIT & set(name.replace(",", "").split()):
            assert text, f"{name}: no help"
            continue
        assert re.search(r"\w.*\((default: .+|required)\)$", text), (
            f"veo3 {' '.join(words)}: {name} lacks help text or its default: {text!r}"
        )
        assert "(default: None)" not in text, f"{name}: say what happens without it"


@pytest.mark.parametrize("words", list(COMMANDS), ids=lambda w: " ".join(("veo3", *w)))
def test_every_argument_has_help(words: tuple[str, ...]) -> None:
    for action in COMMANDS[words]._actions:
        assert action.help, f"veo3 {' '.join(words)}: {action.dest} has no help"


def test_the_defaults_shown_are_the_ones_used() -> None:
    run = " ".join(_help("run").split())
    emulator = " ".join(_help("emulator").split())
    status = " ".join(_help("status").split())

    assert "(default: 10 s; 0.2 s when the base URL is on loopback" in run
    assert "(default: 900 s)" in run
    assert "(default: https://generativelanguage.googleapis.com, the live API)" in run
    assert "(default: 127.0.0.1)" in emulator and "(default: 8765)" in emulator
    assert "(default: ., the current directory)" in status
    args = build_parser().parse_args(["run", "p.toml", "--out", "o"])
    assert (args.timeout, args.poll_interval, args.force, args.quiet) == (900.0, None, False, False)
    assert build_parser().parse_args(["status"]).dir == "."


def test_the_emulator_help_names_every_scenario() -> None:
    text = " ".join(_help("emulator").split())

    for name in SCENARIO_NAMES:
        assert re.search(rf"\b{name}\b", text), name
    assert "--list-scenarios" in text


def test_list_scenarios_prints_each_name_with_one_line(veo3: Veo3) -> None:
    result = veo3("emulator", "--list-scenarios", keyed=False)

    assert result.code == 0, result
    assert result.err == ""
    lines = result.out.splitlines()
    assert [line.split()[0] for line in lines] == list(SCENARIO_NAMES)
    for line, name in zip(lines, SCENARIO_NAMES, strict=True):
        assert line.removeprefix(name).strip() == SCENARIO_DESCRIPTIONS[name]


def test_every_scenario_has_a_one_line_description() -> None:
    assert set(SCENARIO_DESCRIPTIONS) == set(SCENARIOS)
    for name, text in SCENARIO_DESCRIPTIONS.items():
        assert text.strip() and "\n" not in text and len(text) < 80, name


@pytest.mark.parametrize(
    ("words", "prog", "names"),
    [
        ((), "veo3", "run, resume, status, demo, emulator, cassettes"),
        (("cassettes",), "veo3 cassettes", "audit"),
    ],
    ids=["veo3", "veo3 cassettes"],
)
def test_a_missing_subcommand_lists_the_subcommands(
    veo3: Veo3, words: tuple[str, ...], prog: str, names: str
) -> None:
    result = veo3(*words, keyed=False)

    assert result.code == 2, result
    assert result.out == ""
    assert result.err_lines[0].startswith(f"usage: {prog} ")
    assert result.err_lines[-1] == (
        f"{prog}: error: a command is needed: {names} (`{prog} --help` says what each does)"
    )
    assert "required" not in result.err and "_command" not in result.err


def test_every_subcommand_is_listed_when_one_is_missing() -> None:
    """The list in the message is the parser's own, so a new command appears there too."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit):
        main([])
    top = {words[0] for words in COMMANDS if words}
    assert set(err.getvalue().split(": ")[-1].split(" (")[0].split(", ")) == top
