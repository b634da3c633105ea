"""Who the Vertex adapter is: an express-mode key, or Google Cloud credentials for a project.

Application Default Credentials (and the project they name) are loaded on first use, never
at construction, so building an adapter works offline. Every text that leaves the adapter
is scrubbed of the key and of the current access token here.
"""

from __future__ import annotations

import threading

from google.auth import credentials as ga_credentials

from ._secrets import Secret, guard_wire_logs, redact
from ._vertex_wire import PROJECT_RE, checked_key, fresh_token, load_default_credentials
from .errors import ConfigurationError

__all__ = ["VertexAuth"]


class VertexAuth:
    """The key (express mode) or the credentials and project, behind one lock."""

    def __init__(
        self,
        api_key: str | Secret | None,
        credentials: ga_credentials.Credentials | None,
        project: str | None,
    ) -> None:
        if isinstance(api_key, Secret):
            api_key = api_key.reveal()
        self.key = Secret(checked_key(api_key)) if api_key is not None else None
        del api_key
        if self.key is not None and (project is not None or credentials is not None):
            raise ConfigurationError(
                "api_key (express mode) excludes project and credentials: pass one or the other"
            )
        if project is not None and not PROJECT_RE.fullmatch(project):
            raise ConfigurationError(f"project {project!r} is not a Google Cloud project id")
        guard_wire_logs(self.key.reveal() if self.key is not None else None)
        self.project = project
        self._credentials = credentials
        self.lock = threading.Lock()

    @property
    def express(self) -> bool:
        return self.key is not None

    @property
    def loaded(self) -> bool:
        """Whether nothing is left to load (a key, or credentials with a project)."""
        return self.express or (self._credentials is not None and self.project is not None)

    def credentials(self) -> ga_credentials.Credentials:
        """The credentials, Application Default Credentials (and their project) on first use.

        Raises what google-auth raises (``DefaultCredentialsError``), or
        ``ConfigurationError`` when no project can be found.
        """
        if self._credentials is None:
            creds, adc_project = load_default_credentials()
            if self.project is None:
                if adc_project is None:
                    raise ConfigurationError(
                        "no Google Cloud project: pass project= or set one for Application "
                        "Default Credentials (gcloud config set project, GOOGLE_CLOUD_PROJECT)"
                    )
                self.project = adc_project
            self._credentials = creds
        if self.project is None:
            raise ConfigurationError("project is required with credentials (or use api_key=)")
        return self._credentials

    def bearer(self) -> Secret:
        """``Bearer <token>``, the token refreshed first when it expired (or never came)."""
        with self.lock:
            token = fresh_token(self.credentials())
        guard_wire_logs(token)
        return Secret(f"Bearer {token}")

    def problem(self, exc: Exception) -> str:
        """What went wrong with the credentials, and what to do, without any secret."""
        if isinstance(exc, ConfigurationError):
            return str(exc)
        text = " ".join(self.scrub(str(exc)).split())[:300]
        return (
            f"Google Cloud credentials failed ({type(exc).__name__}: {text}). Check them "
            "(gcloud auth application-default login, or credentials=) and run resume"
        )

    def scrub(self, text: str) -> str:
        """``text`` without the key, the current token or anything shaped like a credential."""
        token = getattr(self._credentials, "token", None)
        return redact(text, (self.key, token if isinstance(token, str) else None))
