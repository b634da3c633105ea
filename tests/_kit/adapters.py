"""The one adapter factory: the real adapter built with a suite's settings, each test's
overrides on top, and every adapter it built closed afterwards; and the retry settings
tests give it (no jitter, no real wait)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, Protocol, TypeVar

from veo3_adapter import GeminiVeo3Adapter, RetryPolicy, VertexVeo3Adapter

AdapterFactory = Callable[..., GeminiVeo3Adapter]
"""A ``make_adapter`` fixture: builds the Gemini API adapter with settings overridden."""
VertexFactory = Callable[..., VertexVeo3Adapter]
"""The ``make_vertex`` fixture: builds the Vertex AI adapter with settings overridden."""


def skip_wait(_seconds: float) -> None:
    """A ``sleep`` that returns at once."""


def retries(
    attempts: int, sleep: Callable[[float], None] = skip_wait, **policy: float
) -> dict[str, Any]:
    """An adapter's (or downloader's) retry settings in a test: ``attempts`` tries without
    jitter (``policy`` sets the rest of the ``RetryPolicy``), their waits through ``sleep``
    (none by default)."""
    return {
        "sleep": sleep,
        "rand": lambda: 0.0,
        "retry": RetryPolicy(attempts=attempts, jitter=0.0, **policy),
    }


class _Closable(Protocol):
    def close(self) -> None: ...


A = TypeVar("A", bound=_Closable)


@contextlib.contextmanager
def adapter_factory(build: Callable[..., A], **settings: Any) -> Iterator[Callable[..., A]]:
    """``factory(**overrides)`` returns ``build(**settings, **overrides)`` (an override
    replaces a setting of the same name); each adapter built is closed when the block ends."""
    built: list[A] = []

    def factory(**overrides: Any) -> A:
        adapter = build(**{**settings, **overrides})
        built.append(adapter)
        return adapter

    try:
        yield factory
    finally:
        for adapter in built:
            adapter.close()
