"""The one redaction: whole secrets only, one marker, key shapes known in one place."""

from __future__ import annotations

import secrets

import pytest

from veo3_adapter._secrets import (
    MARKER,
    MIN_SECRET_LENGTH,
    Secret,
    env_secrets,
    key_from_env,
    literal_secrets,
    redact,
    redact_bytes,
)


def _google_key() -> str:
    return "AIza" + secrets.token_urlsafe(27)[:35]


def _oauth_token() -> str:
    return "ya29." + secrets.token_urlsafe(40)


def test_a_value_too_short_to_be_a_key_is_never_replaced_literally() -> None:
    text = "operations/uyadoktahxtg max-age=0 x"
    assert redact(text, ("x",)) == text
    assert redact_bytes(b"\x00ftypmax-age=0x", ("x",)) == b"\x00ftypmax-age=0x"


def test_a_given_secret_is_replaced_wherever_it_appears() -> None:
    key = "k-" + secrets.token_hex(8)
    assert redact(f"GET /v1?key={key} said {key}", (key,)) == f"GET /v1?key={MARKER} said {MARKER}"
    assert redact_bytes(key.encode() + b"|", (key,)) == MARKER.encode() + b"|"


def test_key_and_token_shapes_are_replaced_without_being_given() -> None:
    key, token = _google_key(), _oauth_token()
    out = redact(f"a {key} b Bearer {token}")
    assert key not in out and token not in out
    assert out == f"a {MARKER} b Bearer {MARKER}"
    assert key.encode() not in redact_bytes(key.encode())


def test_longer_secrets_are_replaced_before_their_prefixes() -> None:
    long = "s" + secrets.token_hex(12)
    short = long[:MIN_SECRET_LENGTH]
    assert literal_secrets([short, long, None, "", "ab"]) == (long, short)
    assert redact(long, (short, long)) == MARKER


def test_keys_from_the_environment() -> None:
    one, two = "g-" + secrets.token_hex(8), "o-" + secrets.token_hex(8)
    env = {"GEMINI_API_KEY": f" {one} ", "GOOGLE_API_KEY": two}
    assert key_from_env(env) == one
    assert key_from_env({"GOOGLE_API_KEY": two}) == two
    assert key_from_env({}) == ""
    assert set(env_secrets(env)) == {one, two}
    assert env_secrets({"GEMINI_API_KEY": "x"}) == ()


def test_a_secret_object_never_shows_its_value() -> None:
    value = "v-" + secrets.token_hex(10)
    secret = Secret(value)
    assert value not in repr(secret) and value not in str(secret) and value not in f"{secret!r}"
    assert secret.reveal() == value
    assert secret.redact(f"x{value}y") == f"x{MARKER}y"
    assert bool(secret) and not Secret("")
    assert secret == Secret(value) and hash(secret) == hash(Secret(value))


@pytest.mark.parametrize("marker_in", ["REDACTED", "[REDACTED]"])
def test_redacting_twice_changes_nothing(marker_in: str) -> None:
    key = _google_key()
    once = redact(f"{marker_in} {key}", (key,))
    assert redact(once, (key,)) == once
