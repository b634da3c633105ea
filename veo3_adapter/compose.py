"""The one place that builds adapters: the CLI, the pytest plugin and the scenario recorder
all come here, so timeouts, retries and clients are chosen once. It also says which
google-genai major is installed (:func:`sdk_major`), for what differs between 2.x and 3.x.

A new backend adds one ``*_adapter`` function here and one ``Backend`` value; nothing else
that builds adapters changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from ._sdk import sdk_major, sdk_version
from .retry import RetryPolicy

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

    from ._secrets import Secret
    from ._settings import BackendSettings
    from .gemini import GeminiVeo3Adapter
    from .vertex import VertexVeo3Adapter

__all__ = [
    "LOCAL_PROFILE",
    "LIVE_PROFILE",
    "Profile",
    "gemini_adapter",
    "sdk_major",
    "sdk_version",
    "static_token_credentials",
    "vertex_adapter",
]


@dataclass(frozen=True, kw_only=True)
class Profile:
    """How patient an adapter is: per-request timeout and retry policy."""

    timeout: float
    retry: RetryPolicy


LIVE_PROFILE = Profile(timeout=60.0, retry=RetryPolicy())
"""The live service: minutes-long generations, quotas, transient 5xx."""

LOCAL_PROFILE = Profile(timeout=10.0, retry=RetryPolicy(attempts=3, initial=0.05, maximum=0.2))
"""A server on this machine (the emulator): answers at once, so fail and retry fast."""


def gemini_adapter(
    api_key: str | Secret,
    *,
    base_url: str | None = None,
    http_client: httpx.Client | None = None,
    profile: Profile = LIVE_PROFILE,
    sleep: Callable[[float], None] | None = None,
    on_download_progress: Callable[[str, int, int | None], None] | None = None,
) -> GeminiVeo3Adapter:
    """A :class:`~veo3_adapter.gemini.GeminiVeo3Adapter` (imports google-genai on first use).

    Pass the key as a :class:`~veo3_adapter._secrets.Secret` to keep it out of every
    traceback with locals from here on; a string is wrapped in one by the adapter.
    """
    from .gemini import GeminiVeo3Adapter

    settings = _settings(profile, http_client, sleep, on_download_progress)
    return GeminiVeo3Adapter(api_key, base_url=base_url, **settings)


def vertex_adapter(
    *,
    project: str | None = None,
    location: str | None = None,
    credentials: Credentials | None = None,
    api_key: str | Secret | None = None,
    output_gcs_uri: str | None = None,
    base_url: str | None = None,
    storage_base_url: str | None = None,
    http_client: httpx.Client | None = None,
    profile: Profile = LIVE_PROFILE,
    sleep: Callable[[float], None] | None = None,
    on_download_progress: Callable[[str, int, int | None], None] | None = None,
    model: str | None = None,
) -> VertexVeo3Adapter:
    """A :class:`~veo3_adapter.vertex.VertexVeo3Adapter` (imports google-genai on first use).

    ``project`` with ``credentials`` (Application Default Credentials when ``None``, loaded
    at the first request), or ``api_key`` alone for express mode. ``location`` ``None`` is
    the adapter's default region, ``model`` ``None`` the default model.
    """
    from ._vertex_wire import DEFAULT_LOCATION
    from .models import DEFAULT_MODEL
    from .vertex import VertexVeo3Adapter

    settings = _settings(profile, http_client, sleep, on_download_progress)
    return VertexVeo3Adapter(
        model=model or DEFAULT_MODEL,
        project=project,
        location=location or DEFAULT_LOCATION,
        credentials=credentials,
        api_key=api_key,
        output_gcs_uri=output_gcs_uri,
        base_url=base_url,
        storage_base_url=storage_base_url,
        **settings,
    )


def _settings(
    profile: Profile,
    http_client: httpx.Client | None,
    sleep: Callable[[float], None] | None,
    on_download_progress: Callable[[str, int, int | None], None] | None,
) -> BackendSettings:
    """What every backend is given here: the client, the profile's patience, the waits (the
    package clock's unless ``sleep``) and the download watcher."""
    from . import clock

    return {
        "http_client": http_client,
        "sleep": sleep or clock.sleep,
        "retry": profile.retry,
        "timeout": profile.timeout,
        "on_download_progress": on_download_progress,
    }


def static_token_credentials(token: str) -> Credentials:
    """Google credentials that always present ``token`` and never refresh (nothing to
    load, no network): for a server on this machine, such as the emulator."""
    from google.oauth2.credentials import Credentials as TokenCredentials

    return TokenCredentials(token=token)  # type: ignore[no-untyped-call]
