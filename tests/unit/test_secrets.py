"""The one redaction: whole secrets only, one marker, key shapes known in one place."""

from __future__ import annotations

import base64
import secrets

import pytest
from _kit.keys import WRITTEN, make_api_key, make_token, u_escaped

from veo3_adapter._secrets import (
    BASE64_CANDIDATE,
    ESCAPED_BYTE_SHAPES,
    MARKER,
    MIN_SECRET_LENGTH,
    Secret,
    base64_forms,
    base64_shape,
    encoded_variants,
    env_secrets,
    key_from_env,
    literal_secrets,
    redact,
    redact_bytes,
    stands_alone,
)


def test_a_value_too_short_to_be_a_key_is_never_replaced_literally() -> None:
    text = "operations/uyadoktahxtg max-age=0 x"
    assert redact(text, ("x",)) == text
    assert redact_bytes(b"\x00ftypmax-age=0x", ("x",)) == b"\x00ftypmax-age=0x"


def test_a_given_secret_is_replaced_wherever_it_appears() -> None:
    key = "k-" + secrets.token_hex(8)
    assert redact(f"GET /v1?key={key} said {key}", (key,)) == f"GET /v1?key={MARKER} said {MARKER}"
    assert redact_bytes(key.encode() + b"|", (key,)) == MARKER.encode() + b"|"


def test_key_and_token_shapes_are_replaced_without_being_given() -> None:
    key, token = make_api_key(), make_token()
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
    key = make_api_key()
    once = redact(f"{marker_in} {key}", (key,))
    assert redact(once, (key,)) == once


# -- the same secret written another way -----------------------------------------------------


def test_encoded_variants_of_a_secret() -> None:
    key = make_api_key()
    variants = list(encoded_variants(key))
    assert base64.b64encode(key.encode()).decode() in variants  # 39 bytes: whole groups
    assert "".join(f"%{b:02X}" for b in key.encode()) in variants
    assert u_escaped(key) in variants
    for padding in (b"", b"x", b"xy"):  # any alignment inside a longer base64 text
        encoded = base64.b64encode(padding + key.encode() + b"tail").decode()
        assert any(form in encoded for form in base64_forms(key.encode()))
        url_safe = base64.urlsafe_b64encode(b"\xfb\xff" + padding + key.encode()).decode()
        assert any(form in url_safe for form in variants)


WRITTEN_HERE = ("base64", "url-safe", "percent", "u-escaped", "first-escaped", "one-percent", "x")


@pytest.mark.parametrize("write", [WRITTEN[name] for name in WRITTEN_HERE], ids=WRITTEN_HERE)
def test_a_given_secret_is_replaced_in_every_encoding(write: object) -> None:
    assert callable(write)
    secret = "k-" + secrets.token_hex(12)  # no key shape: only the literal can find it
    written = write(secret)
    assert secret not in written
    out = redact(f"[{written}]", (secret,))
    assert MARKER in out and written not in out
    assert redact_bytes(f"[{written}]".encode(), (Secret(secret),)) == out.encode()


def test_escaped_key_and_token_shapes_are_replaced_without_being_given() -> None:
    key, token = make_api_key(), make_token()
    text = f"a \\u0041{key[1:]} b %79%61{token[2:]} c {'%41' + key[1:]}"
    assert redact(text) == f"a {MARKER} b {MARKER} c {MARKER}"
    for what, pattern in ESCAPED_BYTE_SHAPES:
        assert pattern.search(text.encode()), what


def test_pem_private_keys_are_shapes() -> None:
    body = base64.b64encode(secrets.token_bytes(600)).decode()
    label = "RSA " + "PRIVATE KEY"  # built here: no key-shaped header sits in the source
    block = f"-----BEGIN {label}-----\n{body}\n-----END {label}-----"
    assert redact(f"key: {block}\nnext") == f"key: {MARKER}\nnext"
    header = "-----BEGIN " + "PRIVATE KEY-----"
    assert redact(header) == MARKER  # no END: the header at least
    assert redact("-----BEGIN CERTIFICATE-----") == "-----BEGIN CERTIFICATE-----"


def test_base64_candidates_are_confirmed_by_decoding() -> None:
    key = make_api_key()
    for padding in (b"", b"x", b"xy"):
        encoded = base64.b64encode(padding + key.encode() + b"!").decode().encode()
        match = BASE64_CANDIDATE.search(encoded)
        assert match is not None
        assert base64_shape(encoded[max(0, match.start() - 8) : match.end() + 16]) == (
            "a Google API key (AIza...)"
        )
    assert base64_shape(base64.b64encode(b"A" + b"Iz" * 40)) is None


def test_a_shape_inside_a_longer_run_does_not_stand_alone() -> None:
    key = make_api_key().encode()
    assert stands_alone(b"=" + key + b"&", 1, 40)
    assert stands_alone(b"%3D" + key, 3, 42)  # after an escape
    assert stands_alone(b"\\u003d" + key, 6, 45)
    assert not stands_alone(b"x" + key, 1, 40)  # inside base64 text
    assert not stands_alone(key + b"Q", 0, 39)


def test_secret_objects_are_accepted_wherever_a_secret_is() -> None:
    value = "v-" + secrets.token_hex(10)
    assert literal_secrets([Secret(value), None]) == (value,)
    assert redact(f"x {value}", (Secret(value),)) == f"x {MARKER}"
