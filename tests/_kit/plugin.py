"""Helpers for the plugin's pytester tests (imported by conftest and test modules alike).

Most of what the plugin does (replay, misses, strictness, composition, markers, recording)
does not depend on the backend a cassette holds. google-genai 3.x submits video only to
Vertex AI, so a test of that behaviour replays a Gemini API cassette where the installed SDK
submits there (2.x) and a Vertex AI one otherwise (:func:`for_sdk`), or runs on both
backends (:data:`BACKEND_PARAMS`, the Gemini one marked ``needs_gemini_submit``).
"""

from __future__ import annotations

import contextlib
import http.server
import json
import secrets
import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

# Imported here, before any in-process pytester session: those drop the modules they
# imported, and a key made with a re-imported cryptography fails its own type checks.
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from _kit.sdk import GEMINI_SUBMITS, needs_gemini_submit
from pytest_veo3._recorder import JobRequest, VertexRecording, record_gemini_run
from pytest_veo3.scenarios import SCENARIO_CASSETTES, builtin_cassette
from veo3_adapter import GenerationOptions, Veo3Job, VideoInputs
from veo3_adapter.emulator import Scenario

ENV_VARIABLES = (
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "VEO3_RECORD_MODE",
    "VEO3_CASSETTE_DIR",
    "VEO3_BASE_URL",
    "VEO3_SHRINK_VIDEOS",
    "VEO3_BODY_THRESHOLD",
    "VEO3_BACKEND",
    "VEO3_OUTPUT_GCS_URI",
    "GOOGLE_CLOUD_PROJECT",
    "GOOGLE_CLOUD_LOCATION",
    "GOOGLE_APPLICATION_CREDENTIALS",
)
API = "https://generativelanguage.googleapis.com"
OPERATIONS = f"{API}/v1beta/models/veo-3.1-generate-001/operations"
VERTEX_MODEL = (
    "https://us-central1-aiplatform.googleapis.com/v1beta1/projects/veo3-project/locations/"
    "us-central1/publishers/google/models/veo-3.1-generate-001"
)
"""Where the built-in Vertex AI cassettes submit (``:predictLongRunning``) and poll
(``:fetchPredictOperation``)."""
BODY_REF = "veo3-body-file:"

BACKEND = "gemini" if GEMINI_SUBMITS else "vertex"
"""The plugin's default backend: the one the installed google-genai submits to."""
BACKEND_PARAMS = [pytest.param("gemini", marks=needs_gemini_submit), "vertex"]
"""``@pytest.mark.parametrize("backend", BACKEND_PARAMS)``: on both backends where the
installed google-genai submits to both, on Vertex AI only on 3.x."""


def for_sdk(gemini: str, vertex: str) -> str:
    """The built-in cassette a test of backend-independent behaviour replays: ``gemini``
    where the installed google-genai submits to the Gemini API (2.x), else ``vertex``."""
    return gemini if GEMINI_SUBMITS else vertex


def outcome_of(name: str) -> tuple[str, str]:
    """How the built-in cassette ``name`` leaves its job: (status, error code)."""
    spec = SCENARIO_CASSETTES[name]
    return spec.status, spec.error_message


def prompt(name: str) -> str:
    """The prompt the built-in cassette ``name`` was recorded with."""
    return SCENARIO_CASSETTES[name].prompt


def record_own(
    path: Path,
    backend: str,
    scenarios: Sequence[Scenario],
    prompts: Mapping[str, str],
    *,
    inputs: Mapping[str, VideoInputs] | None = None,
    options: Mapping[str, GenerationOptions] | None = None,
) -> list[Veo3Job]:
    """Record a cassette of one's own from the in-process emulator, as a user records a
    pipeline: the orchestrator runs ``prompts`` (with ``inputs`` and ``options``), the
    submits get ``scenarios`` in order, on the Gemini API or on Vertex AI (made-up token,
    project and bucket, videos in the bucket). No google-genai submits to the emulator's
    Gemini API on 3.x: that needs 2.x."""
    key = "record-" + secrets.token_hex(16)
    request = JobRequest(options, inputs)
    with tempfile.TemporaryDirectory() as out:
        if backend == "gemini":
            return record_gemini_run(path, key, Path(out), scenarios, prompts, request=request)
        vertex = VertexRecording(
            "record-" + secrets.token_hex(16),
            "record-" + secrets.token_hex(5),
            "record-" + secrets.token_hex(5) + "-renders",
        )
        return vertex.record_run(path, key, Path(out), scenarios, prompts, request=request)


def copy_builtin(name: str, dest_dir: Path, as_name: str | None = None) -> Path:
    """Copy the built-in cassette ``name`` (and its body files) into ``dest_dir``."""
    source = builtin_cassette(name)
    assert source is not None, name
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / f"{as_name or name}.yaml"
    shutil.copyfile(source, dest)
    for ref in body_refs(dest) + request_body_refs(dest):
        target = dest_dir / ref
        target.parent.mkdir(exist_ok=True)
        shutil.copyfile(source.parent / ref, target)
    return dest


def load_cassette(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), path
    return data


def response_bodies(path: Path) -> list[str]:
    """The response body strings of a cassette, in recorded order."""
    return [str(i["response"]["body"]["string"]) for i in load_cassette(path)["interactions"]]


def body_refs(path: Path) -> list[str]:
    """The body files a cassette's responses reference (``bodies/sha256-....ext``), in order."""
    return [b[len(BODY_REF) :] for b in response_bodies(path) if b.startswith(BODY_REF)]


def request_bodies(path: Path) -> list[str]:
    """The request body strings of a cassette, in recorded order."""
    return [str(i["request"]["body"]) for i in load_cassette(path)["interactions"]]


def request_body_refs(path: Path) -> list[str]:
    """The body files a cassette's requests reference (a large submit's), in order."""
    return [b[len(BODY_REF) :] for b in request_bodies(path) if b.startswith(BODY_REF)]


def files_under(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file())


PIPELINE_PROMPT = "a paper boat on a rainy street"
PIPELINE_TEST = f"""
from __future__ import annotations

from veo3_adapter import JobStatus, Veo3Orchestrator
from veo3_adapter.mp4 import is_mp4_file


def test_pipeline(recorded_veo3, tmp_path):
    # poll_interval=0: recording talks to a real server in real time.
    orchestrator = Veo3Orchestrator(recorded_veo3, tmp_path, poll_interval=0)
    [job] = orchestrator.run({{"intro": "{PIPELINE_PROMPT}"}})
    assert job.status is JobStatus.DOWNLOADED, job
    assert is_mp4_file(orchestrator.clip_path("intro"))
"""


def run_subprocess(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """``runpytest_subprocess`` without hypothesis's plugin, which has nothing to do with
    veo3 and costs each fresh interpreter (each xdist worker too) ~0.5 s of imports."""
    return pytester.runpytest_subprocess("-p", "no:hypothesispytest", *args)


@dataclass(frozen=True)
class DefaultCredentials:
    """An Application Default Credentials file (a service account's, its key made now)
    whose token endpoint is a server on loopback: what ``google.auth.default()`` loads and
    refreshes, offline. Point ``GOOGLE_APPLICATION_CREDENTIALS`` at ``path``."""

    path: Path
    refreshes: list[str]
    """The body of each token request the server answered (a signed assertion each)."""

    def secrets(self) -> list[str]:
        """What the file holds that no recording may: the key's body, and what was sent."""
        info = json.loads(self.path.read_text())
        pem_body = "".join(info["private_key"].splitlines()[1:-1])
        return [pem_body[:64], info["private_key_id"], *self.refreshes]


@contextlib.contextmanager
def default_credentials(directory: Path, token: str) -> Iterator[DefaultCredentials]:
    """Serve ``token`` to whoever refreshes the credentials of the file this writes."""
    refreshes: list[str] = []

    class TokenEndpoint(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the http.server API)
            length = int(self.headers.get("content-length", "0"))
            refreshes.append(self.rfile.read(length).decode())
            body = json.dumps({"access_token": token, "expires_in": 3600, "token_type": "Bearer"})
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), TokenEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    path = directory / "application_default_credentials.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "adc-" + secrets.token_hex(4),
                "private_key_id": secrets.token_hex(20),
                "private_key": pem,
                "client_email": "recorder@example.iam.gserviceaccount.com",
                "client_id": str(secrets.randbelow(10**20)),
                "token_uri": f"http://{host!s}:{port}/token",
            }
        )
    )
    try:
        yield DefaultCredentials(path, refreshes)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
