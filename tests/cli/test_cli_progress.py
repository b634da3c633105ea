"""Progress on a terminal: a block redrawn in place, with a bar per download (on the backend
that submits with the installed google-genai, ``SUBMITS``)."""

from __future__ import annotations

import re
from pathlib import Path

from _kit.cli import POLL, SUBMITS, Veo3, parse_table, render_terminal, write_prompts

from veo3_adapter.emulator import Emulator, Scenario

BAR = re.compile(r"\[(#*)(-*)\]\s+(\d+)%")


def test_a_terminal_gets_a_redrawn_block_with_download_bars(
    veo3: Veo3, emulator: Emulator, base_url: str, tmp_path: Path
) -> None:
    emulator.default = Scenario(running_polls=1, video_size=256 * 1024, chunk_size=16 * 1024)
    emulator.rule("storm", Scenario.named("download_forbidden"))
    prompts = write_prompts(
        tmp_path / "p.toml", 'calm = "a calm sea"\nbreeze = "a breeze"\nrough = "a storm"\n'
    )

    result = veo3.with_terminal(
        "run", str(prompts), "--out", "out", *SUBMITS.args, "--base-url", base_url, *POLL
    )

    assert result.code == 1, result
    drawn = result.err
    # Redrawn in place: the cursor goes back up over the three lines of the block.
    assert "\r\x1b[3A" in drawn
    assert "\x1b[2K" in drawn
    bars = BAR.findall(drawn)
    assert ("#" * 24, "", "100") in bars, drawn
    assert all(len(full) + len(empty) == 24 for full, empty, _ in bars)
    assert "generating   poll 1, " in drawn
    # What stays on screen: one line per job in its final state, then why the failure failed.
    screen = render_terminal(drawn)
    assert len(screen) == 4, "\n".join(screen)
    assert re.fullmatch(r"calm    downloaded   256\.0 KB, \d+\.\ds", screen[0]), screen
    assert re.fullmatch(r"breeze  downloaded   256\.0 KB, \d+\.\ds", screen[1]), screen
    assert screen[2] == "rough   failed       download_failed, HTTP 403"
    assert screen[3].startswith("veo3: rough: failed: download_failed: ")
    assert "HTTP 403" in screen[3]
    # The table went to stdout, untouched by escapes.
    assert "\x1b" not in result.out
    assert [r["STATUS"] for r in parse_table(result.out)] == ["downloaded", "downloaded", "failed"]


def test_quiet_on_a_terminal_draws_nothing(
    veo3: Veo3, emulator: Emulator, base_url: str, tmp_path: Path
) -> None:
    prompts = write_prompts(tmp_path / "p.toml", 'a = "a cat"\n')

    result = veo3.with_terminal(
        "run",
        str(prompts),
        "--out",
        "out",
        *SUBMITS.args,
        "--base-url",
        base_url,
        "--quiet",
        *POLL,
    )

    assert result.code == 0, result
    assert result.err == ""
    assert len(parse_table(result.out)) == 1
