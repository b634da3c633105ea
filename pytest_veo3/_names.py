"""Default cassette names: one file per test, under a folder per test module.

``tests/unit/test_a.py::TestClip::test_clip[a b]``, with cassettes in ``tests/cassettes``,
records to ``tests/cassettes/unit/test_a/TestClip.test_clip[a-b]-<hash>.yaml``: the module's
path is taken relative to the folder that holds the cassette directory (else to the rootdir),
so two modules never share a cassette, and a name that had to be changed to be a safe file
name (``a b`` and ``a-b`` would both be ``a-b``) gets a short hash of what it was.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

__all__ = ["default_cassette_name"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\[\]-]+")
_MAX_PART = 100


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _part(text: str) -> str:
    """``text`` as one safe file name part; with a short hash of ``text`` when it changed."""
    safe = _UNSAFE.sub("-", text).strip("-").lstrip(".")
    if safe == text and len(safe) <= _MAX_PART:
        return safe
    return f"{safe[:_MAX_PART]}-{_digest(text)}" if safe else _digest(text)


def _module_parts(module: Path, cassette_dir: Path, rootdir: Path) -> list[str]:
    for anchor in (cassette_dir.parent, rootdir):
        try:
            relative = module.with_suffix("").relative_to(anchor)
        except ValueError:
            continue
        return [_part(p) for p in relative.parts]
    # Outside both: the module's name, told apart from others of that name by its path.
    return [f"{_part(module.stem)}-{_digest(str(module))}"]


def default_cassette_name(nodeid: str, module: Path, cassette_dir: Path, rootdir: Path) -> str:
    """``<module path>/<test>`` (no ``.yaml``) for the test ``nodeid`` defined in ``module``."""
    test = nodeid.split("::", 1)[1] if "::" in nodeid else nodeid
    # Classes and the function are identifiers: "::" between them becomes "." (a parameter
    # id keeps its own "::", which is not safe and so gets the hash).
    chain, bracket, params = test.partition("[")
    name = _part(chain.replace("::", ".") + bracket + params)
    return "/".join([*_module_parts(module, cassette_dir, rootdir), name])
