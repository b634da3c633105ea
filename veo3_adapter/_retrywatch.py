"""Who hears of a retry inside a backend: the hook that lets a run slow down as a whole.

A backend retries a throttled request itself (``retry.retrying``), so whoever drives many
jobs would otherwise never learn that the service asked for a wait. ``retrying`` tells
:func:`retry_seen` about every retry; a driver that wants to know sets a watcher for the
requests its thread makes (:func:`watching`). Context-local: each worker thread watches its
own requests, and code outside a watched block pays one lookup.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .retry import Transient

__all__ = ["RetryWatcher", "retry_seen", "watching"]

RetryWatcher = Callable[["Transient", float], None]
"""Called with the failure (its reason and the wait the server asked for) and the delay."""

_WATCHER: ContextVar[RetryWatcher | None] = ContextVar("veo3_retry_watcher", default=None)


@contextlib.contextmanager
def watching(watcher: RetryWatcher) -> Iterator[None]:
    """Tell ``watcher`` of every retry made in this context while the block runs."""
    token = _WATCHER.set(watcher)
    try:
        yield
    finally:
        _WATCHER.reset(token)


def retry_seen(failure: Transient, delay: float) -> None:
    """A request is about to wait ``delay`` seconds before its next attempt."""
    watcher = _WATCHER.get()
    if watcher is not None:
        watcher(failure, delay)
