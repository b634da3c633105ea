"""A base URL on loopback (the emulator): no key needed, and a poll interval that suits it.

``run`` goes to the backend that submits with the installed google-genai and takes a key
(``SUBMITS_WITH_KEY``); ``resume`` continues a Gemini API run (on 3.x its jobs are submitted
through the wire first, ``gemini_submitted``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _kit.cli import POLL, SUBMITS_WITH_KEY, Veo3, gemini_submitted, parse_table, write_prompts
from _kit.keys import make_api_key

from veo3_adapter.cli import _commands, main
from veo3_adapter.cli._common import is_loopback_host, is_loopback_url
from veo3_adapter.emulator import Emulator


@pytest.fixture
def any_key_url() -> Iterator[str]:
    """An emulator that takes any key, as ``veo3 emulator`` does without VEO3_EMULATOR_KEY."""
    with Emulator(seed=5).serve() as url:
        yield url


def test_run_on_loopback_needs_no_key(veo3: Veo3, any_key_url: str, tmp_path: Path) -> None:
    prompts = write_prompts(tmp_path / "p.toml", 'a = "a cat"\n')

    result = veo3(
        "run",
        str(prompts),
        "--out",
        "out",
        *SUBMITS_WITH_KEY.args,
        "--base-url",
        any_key_url,
        *POLL,
        keyed=False,
    )

    assert result.code == 0, result
    assert [r["STATUS"] for r in parse_table(result.out)] == ["downloaded"]


def test_resume_on_loopback_needs_no_key(veo3: Veo3, any_key_url: str, tmp_path: Path) -> None:
    prompts = write_prompts(tmp_path / "p.toml", 'a = "a cat"\n')
    gemini_submitted(tmp_path / "out", prompts, any_key_url, veo3.key)
    first = veo3("run", str(prompts), "--out", "out", "--base-url", any_key_url, *POLL)
    assert first.code == 0, first
    (tmp_path / "out" / "veo3" / "a.mp4").unlink()

    result = veo3("resume", "out", "--base-url", any_key_url, *POLL, keyed=False)

    assert result.code == 0, result
    assert (tmp_path / "out" / "veo3" / "a.mp4").is_file()


def test_a_live_base_url_still_needs_the_key(veo3: Veo3, tmp_path: Path) -> None:
    prompts = write_prompts(tmp_path / "p.toml", 'a = "a cat"\n')

    result = veo3(
        "run", str(prompts), "--out", "out", "--base-url", "https://veo.example", keyed=False
    )

    assert result.code == 2, result
    assert result.err_lines[-1].startswith("veo3: error: no API key: ")


class _Stop(Exception):
    pass


@pytest.fixture
def chosen(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What ``run`` hands the orchestrator; the run itself stops before sending anything."""
    seen: dict[str, Any] = {}

    class Spy:
        def __init__(self, port: object, out: Path, **kwargs: Any) -> None:
            seen.update(kwargs)

        def run(self, *args: object, **kwargs: object) -> list[object]:
            raise _Stop

        def stop(self) -> None:  # what the command's SIGINT and SIGTERM handlers call
            raise AssertionError("no signal was sent")

    monkeypatch.setattr(_commands, "Veo3Orchestrator", Spy)
    monkeypatch.setenv("GEMINI_API_KEY", make_api_key())
    return seen


@pytest.mark.parametrize(
    ("base_url", "extra", "interval"),
    [
        ("http://127.0.0.1:9", (), _commands.LOCAL_POLL_INTERVAL),
        ("http://localhost:9/", (), _commands.LOCAL_POLL_INTERVAL),
        ("http://[::1]:9", (), _commands.LOCAL_POLL_INTERVAL),
        ("https://veo.example", (), _commands.LIVE_POLL_INTERVAL),
        (None, (), _commands.LIVE_POLL_INTERVAL),
        ("http://127.0.0.1:9", ("--poll-interval", "3"), 3.0),
        ("https://veo.example", ("--poll-interval", "0.5"), 0.5),
    ],
)
def test_the_default_poll_interval_follows_the_base_url(
    chosen: dict[str, Any],
    tmp_path: Path,
    base_url: str | None,
    extra: tuple[str, ...],
    interval: float,
) -> None:
    prompts = write_prompts(tmp_path / "p.toml", 'a = "a cat"\n')
    url = ("--base-url", base_url) if base_url else ()

    with pytest.raises(_Stop):
        main(["run", str(prompts), "--out", str(tmp_path / "out"), "-q", *url, *extra])

    assert chosen["poll_interval"] == interval
    assert _commands.LOCAL_POLL_INTERVAL <= 0.2 < 10.0 == _commands.LIVE_POLL_INTERVAL


@pytest.mark.parametrize(
    ("base_url", "extra", "rate", "concurrency"),
    [
        ("http://127.0.0.1:9", (), None, 8),  # the emulator has no quota: no pacing
        ("https://veo.example", (), 10.0, 8),
        (None, ("--submit-rate", "2.5", "--concurrency", "3"), 2.5, 3),
        ("http://127.0.0.1:9", ("--submit-rate", "30"), 30.0, 8),
        ("https://veo.example", ("--submit-rate", "0"), None, 8),  # 0: no limit
    ],
)
def test_the_default_submit_rate_follows_the_base_url(
    chosen: dict[str, Any],
    tmp_path: Path,
    base_url: str | None,
    extra: tuple[str, ...],
    rate: float | None,
    concurrency: int,
) -> None:
    prompts = write_prompts(tmp_path / "p.toml", 'a = "a cat"\n')
    url = ("--base-url", base_url) if base_url else ()

    with pytest.raises(_Stop):
        main(["run", str(prompts), "--out", str(tmp_path / "out"), "-q", *url, *extra])

    assert (chosen["submit_rate"], chosen["concurrency"]) == (rate, concurrency)


@pytest.mark.parametrize(
    "host",
    ["localhost", "LOCALHOST.", "127.0.0.1", "127.8.9.10", "::1", "[::1]", "::ffff:127.0.0.1"],
)
def test_loopback_hosts(host: str) -> None:
    assert is_loopback_host(host)


@pytest.mark.parametrize(
    "host", ["0.0.0.0", "::", "", "128.0.0.1", "10.0.0.1", "localhost.example", "example.com"]
)
def test_hosts_that_are_not_loopback(host: str) -> None:
    assert not is_loopback_host(host)


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8765", True),
        ("http://localhost", True),
        ("https://[::1]:443/v1", True),
        ("https://generativelanguage.googleapis.com", False),
        ("http://127.0.0.1.example.com", False),
        ("http://user@example.com@127.0.0.1", True),
        ("http://[::1", False),
        ("not a url", False),
    ],
)
def test_loopback_urls(url: str, loopback: bool) -> None:
    assert is_loopback_url(url) is loopback
