"""The plugin's tests drive pytest-veo3 only through ``pytester`` (enabled with ``-p pytester``
in pyproject.toml: pytest refuses ``pytest_plugins`` in a conftest below the rootdir's).

Every test starts from an environment with no key and no ``VEO3_*`` variable, so what a
developer has exported cannot change what these tests see.
"""

from __future__ import annotations

import contextlib

import pytest
from _kit.keys import make_api_key
from _kit.plugin import ENV_VARIABLES

# Each in-process pytester session imports hypothesis (its plugin's terminal summary does),
# and pytester then drops every module the session imported: ~0.5 s per run. Imported here
# once, it stays.
with contextlib.suppress(ImportError):
    import hypothesis.internal.observability  # noqa: F401


@pytest.fixture(autouse=True)
def _clean_veo3_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def canary() -> str:
    """A key shaped like a real Google API key, made at run time for this test only."""
    return make_api_key()
