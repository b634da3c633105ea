"""Find secrets in recorded files: API keys, key headers, ``key=`` query parameters."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ._secrets import BYTE_SHAPES, SECRET_REQUEST_HEADERS, SECRET_RESPONSE_HEADERS

__all__ = ["Finding", "audit_paths"]

_KEY_PARAM = re.compile(rb"[?&](?:amp;)?key=(?!\[?REDACTED\b)[^&\s'\"]+", re.IGNORECASE)
_SECRET_HEADER = re.compile(
    rb"^\s*-?\s*['\"]?("
    + b"|".join(
        re.escape(h.encode()) for h in sorted(SECRET_REQUEST_HEADERS | SECRET_RESPONSE_HEADERS)
    )
    + rb")['\"]?\s*:\s*(.*)$",
    re.IGNORECASE,
)
_LIST_ITEM = re.compile(rb"^\s*-\s*(.*)$")
_CLEAN_VALUES = {b"", b"redacted", b"'redacted'", b'"redacted"', b"[redacted]", b"['redacted']"}


@dataclass(frozen=True)
class Finding:
    """One secret-shaped thing in a file."""

    path: Path
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def _files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file())
        else:
            yield path


def _is_redacted(value: bytes) -> bool:
    return value.strip().lower() in _CLEAN_VALUES


def audit_file(path: Path) -> list[Finding]:
    """Every finding in one file (binary files are scanned too)."""
    findings: list[Finding] = []
    lines = path.read_bytes().split(b"\n")
    for number, line in enumerate(lines, start=1):
        findings.extend(Finding(path, number, what) for what, p in BYTE_SHAPES if p.search(line))
        if _KEY_PARAM.search(line):
            findings.append(Finding(path, number, "a key= query parameter"))
        header = _SECRET_HEADER.match(line)
        if header is None:
            continue
        name = header.group(1).decode().lower()
        value = header.group(2)
        if not value.strip() and number < len(lines):
            item = _LIST_ITEM.match(lines[number])  # YAML: the value list on the next line
            value = item.group(1) if item else b""
            if not item:
                continue  # a header name with no value is not a secret
        if not _is_redacted(value):
            findings.append(Finding(path, number, f"an unredacted {name} header"))
    return findings


def audit_paths(paths: Iterable[Path]) -> list[Finding]:
    """Audit files and directories (recursively); raises ``FileNotFoundError`` for a bad path."""
    findings: list[Finding] = []
    for path in _files(paths):
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file or directory")
        findings.extend(audit_file(path))
    return findings
