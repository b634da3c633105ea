"""Which backend a cassette was recorded from, and the adapter that replays it.

A cassette's metadata names its backend (``backend: gemini`` or ``vertex``; a cassette
without the field is a Gemini API one, as every cassette was before Vertex AI). A Vertex AI
cassette also says how it was recorded: the location, express mode or not, and the
placeholders that stand for the project and the output bucket
(:mod:`veo3_adapter._placeholders`). Replay builds the adapter from that, through
:mod:`veo3_adapter.compose`, with a credential made up at run time: offline credentials
whose token is random (:class:`ReplayCredentials`), or a throwaway key in express mode.
Nothing real is needed, or sent anywhere: the cassette answers.
"""

from __future__ import annotations

import datetime
import functools
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from veo3_adapter._placeholders import BUCKET_PLACEHOLDER, PROJECT_PLACEHOLDER

if TYPE_CHECKING:
    import httpx
    from google.auth import credentials as ga_credentials

    from veo3_adapter import GeminiVeo3Adapter, VertexVeo3Adapter

__all__ = [
    "BACKENDS",
    "GEMINI",
    "VERTEX",
    "CassetteBackend",
    "replay_adapter",
    "replay_credentials",
]

GEMINI = "gemini"
VERTEX = "vertex"
BACKENDS = (GEMINI, VERTEX)


@dataclass(frozen=True, kw_only=True)
class CassetteBackend:
    """The backend a cassette holds traffic of, as its metadata records it.

    For Vertex AI: ``location`` (``None`` in express mode), ``express``, and the
    placeholders the recording uses: ``project`` (``None`` in express mode) and
    ``output_gcs_uri`` (``gs://<bucket placeholder>/<prefix>/``; ``None`` for videos sent
    inline), ``storage_base_url`` where the video was read from.
    """

    name: str = GEMINI
    location: str | None = None
    express: bool = False
    project: str | None = None
    output_gcs_uri: str | None = None
    storage_base_url: str | None = None

    def __post_init__(self) -> None:
        if self.name not in BACKENDS:
            raise ValueError(f"unknown backend {self.name!r}; valid: {', '.join(BACKENDS)}")

    @classmethod
    def vertex(
        cls,
        *,
        location: str | None = "us-central1",
        express: bool = False,
        prefix: str | None = None,
        storage_base_url: str | None = None,
    ) -> CassetteBackend:
        """A Vertex AI backend with the placeholders: ``prefix`` (``"renders/"``) gives
        the output bucket's object prefix, ``None`` means videos come inline."""
        return cls(
            name=VERTEX,
            location=None if express else location,
            express=express,
            project=None if express else PROJECT_PLACEHOLDER,
            output_gcs_uri=None if prefix is None else f"gs://{BUCKET_PLACEHOLDER}/{prefix}",
            storage_base_url=storage_base_url,
        )

    @property
    def bucket(self) -> str | None:
        """The bucket named by ``output_gcs_uri``, if any."""
        if not self.output_gcs_uri:
            return None
        return self.output_gcs_uri.removeprefix("gs://").partition("/")[0]

    def metadata(self) -> dict[str, str]:
        """What the cassette's metadata records (strings only, as YAML stores them)."""
        if self.name == GEMINI:
            return {"backend": GEMINI}
        fields: dict[str, str | None] = {
            "backend": VERTEX,
            "express": "true" if self.express else "false",
            "location": self.location,
            "project": self.project,
            "bucket": self.bucket,
            "output_gcs_uri": self.output_gcs_uri,
            "storage_base_url": self.storage_base_url,
        }
        return {k: v for k, v in fields.items() if v}

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> CassetteBackend:
        """The backend the metadata records; none recorded is the Gemini API."""
        name = str(metadata.get("backend") or GEMINI)
        if name == GEMINI:
            return cls()

        def text(key: str) -> str | None:
            value = metadata.get(key)
            return str(value) if value not in (None, "") else None

        return cls(
            name=name,
            location=text("location"),
            express=str(metadata.get("express", "false")).lower() == "true",
            project=text("project"),
            output_gcs_uri=text("output_gcs_uri"),
            storage_base_url=text("storage_base_url"),
        )


def replay_credentials() -> ga_credentials.Credentials:
    """Offline Google Cloud credentials for replay: each refresh makes up a random token,
    valid for an hour. No token of theirs was ever real, or leaves the process."""
    return _replay_credentials_type()()


@functools.cache
def _replay_credentials_type() -> type[ga_credentials.Credentials]:
    from google.auth import credentials as ga_credentials

    class ReplayCredentials(ga_credentials.Credentials):
        def __init__(self) -> None:
            super().__init__()  # type: ignore[no-untyped-call]

        def refresh(self, request: object) -> None:
            self.token = "replay-" + secrets.token_hex(16)
            now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)  # google-auth: naive
            self.expiry = now + datetime.timedelta(hours=1)

    return ReplayCredentials


def replay_adapter(
    backend: CassetteBackend, base_url: str, client: httpx.Client
) -> GeminiVeo3Adapter | VertexVeo3Adapter:
    """The adapter that replays a cassette of ``backend`` through ``client``: a throwaway
    key or made-up credentials, the recording's placeholders, its endpoints."""
    from veo3_adapter._secrets import Secret
    from veo3_adapter.compose import gemini_adapter, vertex_adapter

    throwaway = Secret("replay-" + secrets.token_hex(16))
    if backend.name == GEMINI:
        return gemini_adapter(throwaway, base_url=base_url or None, http_client=client)
    if backend.express:
        return vertex_adapter(
            api_key=throwaway,
            base_url=base_url or None,
            storage_base_url=backend.storage_base_url,
            http_client=client,
        )
    return vertex_adapter(
        project=backend.project or PROJECT_PLACEHOLDER,
        location=backend.location,
        credentials=replay_credentials(),
        output_gcs_uri=backend.output_gcs_uri,
        base_url=base_url or None,
        storage_base_url=backend.storage_base_url,
        http_client=client,
    )
