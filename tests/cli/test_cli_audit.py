"""``veo3 cassettes audit PATH``: exit 1 naming file:line for each secret, 0 when clean."""

from __future__ import annotations

import base64
import codecs
import gzip
from pathlib import Path

from _kit.cli import Veo3
from _kit.keys import make_api_key

CLEAN = """\
interactions:
- request:
    headers:
      x-goog-api-key:
      - REDACTED
    uri: https://generativelanguage.googleapis.com/v1beta/files/abc:download?alt=media
"""


def test_clean_files_pass(veo3: Veo3, tmp_path: Path) -> None:
    cassettes = tmp_path / "cassettes"
    cassettes.mkdir()
    (cassettes / "one.yaml").write_text(CLEAN)
    (cassettes / "two.yaml").write_text("interactions: []\n")

    result = veo3("cassettes", "audit", "cassettes", keyed=False)

    assert result.code == 0, result
    assert result.out == "veo3: no secrets found in cassettes\n"


def test_each_secret_is_named_by_file_and_line_and_never_printed(
    veo3: Veo3, tmp_path: Path
) -> None:
    planted = make_api_key()  # made here, at run time: no key-shaped literal lives in any file
    cassettes = tmp_path / "cassettes"
    cassettes.mkdir()
    (cassettes / "clean.yaml").write_text(CLEAN)
    dirty = cassettes / "dirty.yaml"
    dirty.write_text(
        "interactions:\n"
        f"- note: recorded with {planted}\n"
        "  uri: https://generativelanguage.googleapis.com/v1beta/files/a:download?alt=media"
        "&key=live-value-123\n"
        "  headers:\n"
        "    x-goog-api-key: live-header-value\n"
    )

    result = veo3("cassettes", "audit", "cassettes", keyed=False)

    assert result.code == 1, result
    assert result.out.splitlines() == [
        "cassettes/dirty.yaml:2: a Google API key (AIza...)",
        "cassettes/dirty.yaml:3: a key= query parameter",
        "cassettes/dirty.yaml:5: an unredacted x-goog-api-key header",
    ]
    assert result.err_lines == [
        "veo3: 3 secret-shaped value(s) found; scrub or re-record these files"
    ]
    for secret in (planted, "live-value-123", "live-header-value"):
        assert secret not in result.out + result.err


def test_encoded_keys_are_named_by_file_and_line_or_byte_offset(veo3: Veo3, tmp_path: Path) -> None:
    planted = make_api_key()
    cassettes = tmp_path / "cassettes"
    (cassettes / "bodies").mkdir(parents=True)
    escaped = "\\u0041" + planted[1:]
    (cassettes / "c.yaml").write_text(
        "interactions:\n"
        f"- note: {base64.b64encode(planted.encode()).decode()}\n"
        f"  body: '{escaped}'\n"
        "  string: !!binary |\n"
        f"    {base64.b64encode(bytes(9) + planted.encode()).decode()}\n"
    )
    (cassettes / "bodies" / "sha256-a.bin").write_bytes(gzip.compress(bytes(7) + planted.encode()))
    (cassettes / "bodies" / "sha256-b.json").write_bytes(
        codecs.BOM_UTF16_LE + f'{{\n"k": "{planted}"}}'.encode("utf-16-le")
    )

    result = veo3("cassettes", "audit", "cassettes", keyed=False)

    assert result.code == 1, result
    assert result.out.splitlines() == [
        "cassettes/bodies/sha256-a.bin:byte 7: a Google API key (AIza...) in gzip-compressed data",
        "cassettes/bodies/sha256-b.json:2: a Google API key (AIza...) in UTF-16 text",
        "cassettes/c.yaml:2: a Google API key (AIza...) (base64-encoded)",
        "cassettes/c.yaml:3: a Google API key (AIza...) (\\u-escaped)",
        "cassettes/c.yaml:4: a Google API key (AIza...) in a !!binary body (decoded byte 9)",
        # The scalar's base64 line holds the key's base64 form whole: found as such too.
        "cassettes/c.yaml:5: a Google API key (AIza...) (base64-encoded)",
    ]
    assert result.err_lines == [
        "veo3: 6 secret-shaped value(s) found; scrub or re-record these files"
    ]
    assert planted not in result.out + result.err


def test_a_missing_path_is_a_usage_error(veo3: Veo3) -> None:
    result = veo3("cassettes", "audit", "nowhere", keyed=False)

    assert result.code == 2, result
    assert result.err_lines == ["veo3: error: nowhere: no such file or directory"]
