from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_real_sleep(no_real_sleep: None) -> None:
    """Every test here must inject its waits; a real ``time.sleep`` fails it."""
