"""Signed download URLs (another origin's query) never reach a cassette."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytest_veo3.cassette import REDACTED, redact_foreign_query
from pytest_veo3.scenarios import SCENARIO_CASSETTES, builtin_cassette

API = "https://generativelanguage.googleapis.com"


FILE = f"{API}/v1beta/files/abc:download?alt=media"


@pytest.mark.parametrize(
    ("uri", "api_base", "expected"),
    [
        (
            "https://storage.example.net/v/abc?Expires=1&Signature=s3cr3t",
            API,
            f"https://storage.example.net/v/abc?Expires={REDACTED}&Signature={REDACTED}",
        ),
        # Same host, another port: another origin, as the emulator's download origin is.
        (
            "http://127.0.0.1:9/f?token=t",
            "http://127.0.0.1:8",
            f"http://127.0.0.1:9/f?token={REDACTED}",
        ),
        (FILE, API, FILE),
        ("https://storage.example.net/v/abc", API, "https://storage.example.net/v/abc"),
    ],
)
def test_only_foreign_queries_are_blanked(uri: str, api_base: str, expected: str) -> None:
    assert redact_foreign_query(uri, api_base) == expected


@pytest.mark.parametrize("name", list(SCENARIO_CASSETTES))
def test_shipped_cassettes_hold_no_signed_download_url(name: str) -> None:
    path = builtin_cassette(name)
    assert path is not None
    foreign = [
        url
        for url in re.findall(r"https?://[^\s'\"]+", Path(path).read_text())
        if not url.startswith(API)
    ]
    for url in foreign:
        query = url.partition("?")[2]
        values = [pair.partition("=")[2] for pair in query.split("&") if pair]
        assert all(v == REDACTED for v in values), url
