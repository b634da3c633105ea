"""Which backend ``run`` and ``resume`` talk to, where, and with which credential.

``run`` takes it from its options (``--backend``, ``--project``, ``--location``,
``--output-gcs-uri``, ``--base-url``); ``resume`` from what jobs.json recorded (never a
credential is recorded). A server on loopback (the emulator) needs no credential: a key or a
token is made up for it, and its Cloud Storage route is on the same origin. jobs.json lives in
an output directory, which may come from someone else: a server it names that is neither
Google's nor on this machine gets no credential unless the user names it with ``--base-url``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .._secrets import key_from_env
from ..compose import gemini_adapter, static_token_credentials, vertex_adapter
from ..models import DEFAULT_BASE_URL
from ..store import read_backend_info
from ._common import UsageError, is_loopback_url, one_line, throwaway_key
from ._progress import Progress

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

    from ..gemini import GeminiVeo3Adapter
    from ..vertex import VertexVeo3Adapter

__all__ = [
    "BACKENDS",
    "GEMINI",
    "VERTEX",
    "VERTEX_LOCATION",
    "Access",
    "Target",
    "access_for",
    "api_key_from_env",
    "open_adapter",
    "resume_target",
    "run_target",
]

GEMINI = "gemini"
VERTEX = "vertex"
BACKENDS = (GEMINI, VERTEX)
VERTEX_LOCATION = "us-central1"
"""The region of ``--backend vertex`` when ``--location`` is not given."""
_VERTEX_FLAGS = (
    ("project", "--project"),
    ("location", "--location"),
    ("output_gcs_uri", "--output-gcs-uri"),
)
_NO_VERTEX_CREDENTIAL = (
    "--backend vertex needs --project PROJECT (credentials from Application Default "
    "Credentials) or, for express mode, a key in GEMINI_API_KEY or GOOGLE_API_KEY"
)


@dataclass(frozen=True, kw_only=True)
class Target:
    """Where jobs go: the backend and its settings (no credential)."""

    backend: str
    base_url: str | None
    """``None``: the backend's own endpoint (the Gemini API always has one here)."""
    project: str | None = None
    location: str | None = None
    model: str | None = None
    output_gcs_uri: str | None = None
    express: bool = False
    """Vertex AI with an API key instead of a project."""

    @property
    def local(self) -> bool:
        """Whether the server is on this machine (the emulator)."""
        return self.base_url is not None and is_loopback_url(self.base_url)


@dataclass(frozen=True)
class Access:
    """What a target is reached with: a key (the Gemini API, express mode) or a token made
    up for loopback (``secret``, kept out of every output), or Google Cloud credentials."""

    secret: str | None
    credentials: Credentials | None = None

    @property
    def secrets(self) -> list[str]:
        return [self.secret] if self.secret else []


def run_target(args: argparse.Namespace) -> Target:
    """The target of ``veo3 run``'s options; ``UsageError`` for options that do not fit."""
    given = [flag for dest, flag in _VERTEX_FLAGS if getattr(args, dest) is not None]
    if args.backend == GEMINI:
        if given:
            raise UsageError(
                f"{', '.join(given)}: only with --backend vertex (the Gemini API has no "
                "project, location or bucket)"
            )
        return Target(backend=GEMINI, base_url=args.base_url or DEFAULT_BASE_URL)
    uri = args.output_gcs_uri
    if uri is not None and not uri.startswith("gs://"):
        raise UsageError(
            f"--output-gcs-uri {uri} is not a Cloud Storage URI; pass gs://BUCKET/PREFIX/"
        )
    target = Target(
        backend=VERTEX,
        base_url=args.base_url,
        project=args.project,
        location=args.location or VERTEX_LOCATION,
        output_gcs_uri=uri,
    )
    if args.project is not None:
        return target
    if not key_from_env(os.environ) and not target.local:
        raise UsageError(_NO_VERTEX_CREDENTIAL)
    # Express mode: the key's project, no location, videos inline.
    for dest, flag in _VERTEX_FLAGS[1:]:
        if getattr(args, dest) is not None:
            raise UsageError(
                f"{flag} needs --project: express mode (a key, no project) has "
                f"{'no location' if dest == 'location' else 'no bucket, videos come inline'}"
            )
    return Target(backend=VERTEX, base_url=args.base_url, express=True)


def resume_target(given: str | None, jobs_path: Path) -> Target:
    """The target jobs.json recorded, ``--base-url`` (``given``) instead of its server.

    A recorded server that is neither the backend's own nor on loopback is refused unless
    named again with ``--base-url``: a run directory from someone else must not be able to
    send this machine's credentials to a server of their choosing.
    """
    info = read_backend_info(jobs_path)
    recorded = info.get("base_url", "")
    if info.get("backend") != VERTEX:
        return Target(backend=GEMINI, base_url=_base_url(given, recorded, _gemini_trusts))
    express = info.get("mode") == "express"
    location = None if express else info.get("location") or VERTEX_LOCATION
    base_url = _base_url(given, recorded, _vertex_trusts)
    if base_url is not None and _same_url(base_url, _vertex_default(location)):
        base_url = None  # Google's own endpoint: the SDK picks it, as on the first run
    return Target(
        backend=VERTEX,
        base_url=base_url,
        project=None if express else info.get("project"),
        location=location,
        model=info.get("model"),
        output_gcs_uri=None if express else info.get("output_gcs_uri"),
        express=express,
    )


def access_for(target: Target) -> Access:
    """The credential for ``target``: from the environment, made up for loopback, or
    Application Default Credentials. ``UsageError`` when there is none to be had."""
    if target.backend == GEMINI or target.express:
        key = key_from_env(os.environ)
        if key:
            return Access(key)
        if target.local:
            return Access(throwaway_key())
        if target.backend == VERTEX:
            raise UsageError(
                "jobs.json records a Vertex AI express-mode run: set GEMINI_API_KEY (or "
                "GOOGLE_API_KEY) to its key; keys are never taken from the command line"
            )
        return Access(api_key_from_env())
    if target.local:
        token = throwaway_key()
        return Access(token, static_token_credentials(token))
    return Access(None, _default_credentials())


def open_adapter(
    target: Target, access: Access, view: Progress
) -> GeminiVeo3Adapter | VertexVeo3Adapter:
    """The adapter for ``target`` (a context manager that closes its client)."""
    if target.backend == GEMINI:
        assert access.secret is not None and target.base_url is not None
        return gemini_adapter(
            access.secret, base_url=target.base_url, on_download_progress=view.download_progress
        )
    return vertex_adapter(
        project=target.project,
        location=target.location,
        credentials=access.credentials,
        api_key=access.secret if target.express else None,
        model=target.model,
        output_gcs_uri=target.output_gcs_uri,
        base_url=target.base_url,
        # The emulator serves Cloud Storage on its own origin; anywhere else it is Google's.
        storage_base_url=target.base_url if target.local else None,
        on_download_progress=view.download_progress,
    )


def api_key_from_env(environ: Mapping[str, str] = os.environ) -> str:
    """The API key from GEMINI_API_KEY or GOOGLE_API_KEY."""
    key = key_from_env(environ)
    if key:
        return key
    raise UsageError(
        "no API key: set GEMINI_API_KEY (or GOOGLE_API_KEY) in the environment; "
        "keys are never taken from the command line"
    )


def _default_credentials() -> Credentials:
    """Application Default Credentials, loaded now so that a missing one is a usage error."""
    from google.auth import exceptions

    from .._vertex_wire import load_default_credentials

    try:
        credentials, _project = load_default_credentials()
    except exceptions.GoogleAuthError as exc:
        raise UsageError(
            "--backend vertex with a project uses Application Default Credentials, and none "
            f"could be loaded ({type(exc).__name__}: {exc}); run `gcloud auth "
            "application-default login` or set GOOGLE_APPLICATION_CREDENTIALS"
        ) from None
    return credentials


def _base_url(given: str | None, recorded: str, trusts: _Trust) -> str | None:
    """``--base-url`` if given (a warning when it is not the recorded one), else the
    recorded one if ``trusts`` it, else ``UsageError``; ``None`` when neither says."""
    if given is None:
        if recorded and not is_loopback_url(recorded) and not trusts.check(recorded):
            raise UsageError(
                f"jobs.json records the server {recorded}, which is neither {trusts.service} "
                f"nor on this machine; to send your {trusts.credential} there, say so: "
                f"--base-url {recorded}"
            )
        return recorded or trusts.default
    if recorded and not _same_url(recorded, given):
        print(
            one_line(
                f"veo3: warning: using --base-url {given}, not {recorded} where this run "
                "was made (recorded in jobs.json)"
            ),
            file=sys.stderr,
        )
    return given


@dataclass(frozen=True)
class _Trust:
    service: str
    credential: str
    default: str | None

    def check(self, url: str) -> bool:
        if self.default is not None:
            return _same_url(url, self.default)
        # Vertex AI's endpoints: regional, multi-region, express; all Google's, over https.
        try:
            parts = urlsplit(url)
            host = parts.hostname or ""
        except ValueError:
            return False
        return parts.scheme == "https" and not parts.username and host.endswith(".googleapis.com")


_gemini_trusts = _Trust("the Gemini API", "key", DEFAULT_BASE_URL)
_vertex_trusts = _Trust("a Google Cloud endpoint", "credentials", None)


def _vertex_default(location: str | None) -> str:
    from .._vertex_wire import default_base_url

    return default_base_url(location)


def _same_url(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")
