"""The plugin's options: command line, environment, ini file, and what they resolve to.

Each option is read from the command line first, then the environment, then the ini file,
then its default. The backend that ``recorded_veo3`` records from (and ``veo3_emulator``
builds) defaults to the one the installed google-genai generates video on: the Gemini API on
2.x, Vertex AI on 3.x. Loading this module imports neither google-genai nor vcrpy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "BACKENDS",
    "GEMINI",
    "RECORD_MODES",
    "SETTINGS_KEY",
    "VERTEX",
    "Settings",
    "add_options",
    "default_backend",
    "read_settings",
    "recording_problem",
]

GEMINI = "gemini"
VERTEX = "vertex"
BACKENDS = (GEMINI, VERTEX)
RECORD_MODES = ("none", "once", "new_episodes", "all")
DEFAULT_CASSETTE_DIR = "tests/cassettes"
DEFAULT_BODY_THRESHOLD = 64 * 1024

HELP_RECORD_MODE = (
    "when veo3 cassettes may touch the network: none (replay only, the default), once, "
    "new_episodes, all. Recording needs GEMINI_API_KEY (the Gemini API, Vertex AI express "
    "mode) or a Google Cloud project with Application Default Credentials (Vertex AI)."
)
HELP_CASSETTE_DIR = f"directory of your veo3 cassettes (default: {DEFAULT_CASSETTE_DIR})"
HELP_BASE_URL = "API base URL to record against (any compatible server, the emulator included)"
HELP_SHRINK = "replace recorded MP4 bodies with a small valid MP4"
HELP_BODY_THRESHOLD = (
    f"bodies larger than this many bytes are stored in body files beside the cassette "
    f"(default {DEFAULT_BODY_THRESHOLD})"
)
HELP_ALLOW_UNPLAYED = (
    "let a test leave recorded veo3 interactions unplayed (by default a replayed test that "
    "makes fewer requests than its cassette holds fails at teardown, naming them)"
)
HELP_BACKEND = (
    "the backend recorded_veo3 records from and veo3_emulator builds: gemini or vertex "
    "(default: gemini on google-genai 2.x, vertex on 3.x, which generates video only there)"
)
HELP_PROJECT = (
    "Vertex AI: the Google Cloud project to record with (credentials from Application "
    "Default Credentials; without a project, express mode with GEMINI_API_KEY)"
)
HELP_LOCATION = "Vertex AI: the region to record in (default: us-central1)"
HELP_OUTPUT_GCS_URI = (
    "Vertex AI: gs://BUCKET/PREFIX/ where recorded videos are left (default: none, videos "
    "come inline)"
)

# Each option's environment variable (its command line option is --veo3-<name with dashes>).
_VARIABLES = {
    "veo3_record_mode": "VEO3_RECORD_MODE",
    "veo3_cassette_dir": "VEO3_CASSETTE_DIR",
    "veo3_base_url": "VEO3_BASE_URL",
    "veo3_shrink_videos": "VEO3_SHRINK_VIDEOS",
    "veo3_body_threshold": "VEO3_BODY_THRESHOLD",
    "veo3_backend": "VEO3_BACKEND",
    "veo3_project": "GOOGLE_CLOUD_PROJECT",
    "veo3_location": "GOOGLE_CLOUD_LOCATION",
    "veo3_output_gcs_uri": "VEO3_OUTPUT_GCS_URI",
}


@dataclass(frozen=True)
class Settings:
    """The plugin's resolved configuration for this session."""

    record_mode: str
    cassette_dir: Path
    base_url: str
    shrink_videos: bool
    body_threshold: int
    allow_unplayed: bool = False
    backend: str = GEMINI
    project: str | None = None
    """Vertex AI: the project to record with; ``None`` is express mode (a key)."""
    location: str | None = None
    output_gcs_uri: str | None = None

    @property
    def recording(self) -> bool:
        return self.record_mode != "none"


SETTINGS_KEY = pytest.StashKey[Settings]()


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("veo3", "Veo 3 fixtures (pytest-veo3)")
    group.addoption("--veo3-record-mode", choices=RECORD_MODES, help=HELP_RECORD_MODE)
    group.addoption("--veo3-cassette-dir", metavar="DIR", help=HELP_CASSETTE_DIR)
    group.addoption("--veo3-base-url", metavar="URL", help=HELP_BASE_URL)
    group.addoption("--veo3-shrink-videos", action="store_true", default=None, help=HELP_SHRINK)
    group.addoption("--veo3-body-threshold", type=int, metavar="BYTES", help=HELP_BODY_THRESHOLD)
    group.addoption("--veo3-backend", choices=BACKENDS, help=HELP_BACKEND)
    group.addoption("--veo3-project", metavar="PROJECT", help=HELP_PROJECT)
    group.addoption("--veo3-location", metavar="REGION", help=HELP_LOCATION)
    group.addoption("--veo3-output-gcs-uri", metavar="URI", help=HELP_OUTPUT_GCS_URI)
    parser.addini("veo3_record_mode", HELP_RECORD_MODE, default="none")
    parser.addini("veo3_cassette_dir", HELP_CASSETTE_DIR, default=DEFAULT_CASSETTE_DIR)
    parser.addini("veo3_base_url", HELP_BASE_URL, default="")
    parser.addini("veo3_shrink_videos", HELP_SHRINK, type="bool", default=False)
    parser.addini("veo3_body_threshold", HELP_BODY_THRESHOLD, default=str(DEFAULT_BODY_THRESHOLD))
    parser.addini("veo3_allow_unplayed", HELP_ALLOW_UNPLAYED, type="bool", default=False)
    parser.addini("veo3_backend", HELP_BACKEND, default="")
    parser.addini("veo3_project", HELP_PROJECT, default="")
    parser.addini("veo3_location", HELP_LOCATION, default="")
    parser.addini("veo3_output_gcs_uri", HELP_OUTPUT_GCS_URI, default="")


def _resolve(config: pytest.Config, name: str) -> Any:
    """Command line, then environment, then ini, then the ini default."""
    value = config.getoption(name)
    if value is not None:
        return value
    env = _VARIABLES[name]
    if os.environ.get(env):
        return os.environ[env]
    return config.getini(name)


def _text(config: pytest.Config, name: str) -> str | None:
    value = str(_resolve(config, name) or "").strip()
    return value or None


def default_backend() -> str:
    """The backend the installed google-genai generates video on."""
    from veo3_adapter import _sdk

    return GEMINI if _sdk.gemini_submits_video() else VERTEX


def read_settings(config: pytest.Config) -> Settings:
    mode = str(_resolve(config, "veo3_record_mode"))
    if mode not in RECORD_MODES:
        raise pytest.UsageError(
            f"veo3: unknown record mode {mode!r}; valid: {', '.join(RECORD_MODES)}"
        )
    backend = _text(config, "veo3_backend") or default_backend()
    if backend not in BACKENDS:
        raise pytest.UsageError(f"veo3: unknown backend {backend!r}; valid: {', '.join(BACKENDS)}")
    directory = Path(str(_resolve(config, "veo3_cassette_dir")))
    if not directory.is_absolute():
        directory = config.rootpath / directory
    shrink = _resolve(config, "veo3_shrink_videos")
    if isinstance(shrink, str):
        shrink = shrink.strip().lower() in ("1", "true", "yes", "on")
    threshold = str(_resolve(config, "veo3_body_threshold"))
    if not threshold.isdigit():
        raise pytest.UsageError(
            f"veo3: body threshold must be a number of bytes, got {threshold!r}"
        )
    return Settings(
        record_mode=mode,
        cassette_dir=directory,
        base_url=str(_resolve(config, "veo3_base_url") or ""),
        shrink_videos=bool(shrink),
        body_threshold=int(threshold),
        allow_unplayed=bool(config.getini("veo3_allow_unplayed")),  # per project: ini only
        backend=backend,
        project=_text(config, "veo3_project"),
        location=_text(config, "veo3_location"),
        output_gcs_uri=_text(config, "veo3_output_gcs_uri"),
    )


def recording_problem(settings: Settings, key: str) -> str:
    """Why this session cannot record ("" when it can): the credential it would need, or
    Vertex AI settings that do not fit together. ``key`` is the key in the environment."""
    flag = f"--veo3-record-mode={settings.record_mode}"
    if settings.backend == GEMINI:
        if key:
            return ""
        return (
            f"veo3: {flag} records real traffic and needs a key: set GEMINI_API_KEY "
            "(against the emulator any value works)"
        )
    uri = settings.output_gcs_uri
    if uri is not None and not uri.startswith("gs://"):
        return f"veo3: output GCS URI {uri} is not a Cloud Storage URI; pass gs://BUCKET/PREFIX/"
    if settings.project is not None:
        return ""
    if not key:
        return (
            f"veo3: {flag} records real traffic from Vertex AI and needs a project "
            "(--veo3-project or GOOGLE_CLOUD_PROJECT; credentials from Application Default "
            "Credentials) or, for express mode, a key in GEMINI_API_KEY"
        )
    for value, what in ((settings.location, "a location"), (uri, "an output GCS URI")):
        if value is not None:
            return (
                f"veo3: {what} ({value}) needs a project: Vertex AI express mode (a key, no "
                "project) has no location or bucket; set --veo3-project or GOOGLE_CLOUD_PROJECT"
            )
    return ""
