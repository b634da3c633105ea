"""veo3_adapter.audit: finds keys, key= parameters and unredacted auth headers in files.

Keys are made at run time (``make_api_key``); none is written in this file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from veo3_adapter.audit import Finding, audit_paths


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("uri: https://h/v1beta/files/x:download?alt=media&key=abc\n", ["a key= query parameter"]),
        ("uri: https://h/f?key=abc\n", ["a key= query parameter"]),
        ("uri: https://h/f?alt=media&amp;KEY=abc\n", ["a key= query parameter"]),
        ("uri: https://h/f?key=REDACTED\n", []),
        ("uri: https://h/f?monkey=1\n", []),
        ("x-goog-api-key: abc123\n", ["an unredacted x-goog-api-key header"]),
        ("  Authorization: Bearer ya29.x\n", ["an unredacted authorization header"]),
        ("    x-goog-api-key:\n    - abc123\n", ["an unredacted x-goog-api-key header"]),
        ("x-goog-api-key: REDACTED\n", []),
        ("'x-goog-api-key': 'REDACTED'\n", []),
        ("    x-goog-api-key:\n    - REDACTED\n", []),
        ("x-goog-api-key:\nnext: line\n", []),
        ("x-goog-api-key:", []),
        ("content-type: application/json\n", []),
    ],
)
def test_findings_in_text(tmp_path: Path, text: str, expected: list[str]) -> None:
    path = write(tmp_path / "c.yaml", text)
    assert [f.what for f in audit_paths([path])] == expected


def test_generated_key_found_anywhere_even_in_binary(tmp_path: Path, api_key: str) -> None:
    text = write(tmp_path / "a" / "cassette.yaml", f"ok\nbody: 'echo {api_key}'\n")
    binary = write(tmp_path / "a" / "bodies" / "x.bin", b"\x00\xff" + api_key.encode() + b"\x00")
    write(tmp_path / "a" / "clean.yaml", "nothing here\n")
    findings = audit_paths([tmp_path / "a"])
    assert findings == [
        Finding(binary, 1, "a Google API key (AIza...)"),
        Finding(text, 2, "a Google API key (AIza...)"),
    ]
    assert str(findings[1]) == f"{text}:2: a Google API key (AIza...)"
    assert audit_paths([tmp_path / "a" / "clean.yaml"]) == []


def test_a_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing"):
        audit_paths([tmp_path / "missing"])
