"""Recording: against the emulator on loopback, scrubbed, with body files, then replayed.

The mechanics (provenance, body files, shrinking, one cassette per test) are tested on each
backend the plugin records from: the Gemini API with a key, Vertex AI with a project and
Application Default Credentials (a service account's file whose token endpoint is on
loopback), or express mode with a key. google-genai 3.x does not submit to the Gemini API, so
there the Gemini API cases do not run.
"""

from __future__ import annotations

import base64
import importlib.metadata
import json
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from _kit.keys import make_api_key, make_token
from _kit.plugin import (
    BODY_REF,
    PIPELINE_PROMPT,
    PIPELINE_TEST,
    DefaultCredentials,
    body_refs,
    default_credentials,
    files_under,
    load_cassette,
    request_body_refs,
    run_subprocess,
)
from _kit.sdk import needs_gemini_submit

from pytest_veo3.scenarios import as_received
from veo3_adapter import Veo3Orchestrator
from veo3_adapter.audit import audit_paths
from veo3_adapter.compose import LOCAL_PROFILE, gemini_adapter
from veo3_adapter.emulator import Emulator, Scenario
from veo3_adapter.mp4 import is_mp4_file, sample_clip


@dataclass
class Recorder:
    """What a recording session of one backend uses, set in the environment by the fixture
    ``recorder``: a key (the Gemini API, express mode), or a project, an output bucket and
    Application Default Credentials whose token the emulator wants (Vertex AI)."""

    backend: str
    monkeypatch: pytest.MonkeyPatch
    key: str = field(default_factory=make_api_key)
    token: str = field(default_factory=make_token)
    project: str = field(default_factory=lambda: "canary-" + secrets.token_hex(4))
    bucket: str = field(default_factory=lambda: "canary-" + secrets.token_hex(4) + "-renders")
    credentials: DefaultCredentials | None = None

    def emulator(self, **options: object) -> Emulator:
        return Emulator(api_key=self.key, token=self.token, **options)  # type: ignore[arg-type]

    def args(self, base_url: str, mode: str = "once") -> list[str]:
        """The command line recording against ``base_url``."""
        args = [f"--veo3-record-mode={mode}", f"--veo3-base-url={base_url}"]
        if self.backend == "gemini":
            return [*args, "--veo3-backend=gemini"]
        args.append("--veo3-backend=vertex")
        if self.backend == "vertex":
            args.append(f"--veo3-output-gcs-uri=gs://{self.bucket}/renders/")
        return args

    def secrets(self) -> list[str]:
        """What no recorded file may hold."""
        found = [self.key, self.token, self.project, self.bucket]
        return found + (self.credentials.secrets() if self.credentials else [])

    def offline(self) -> None:
        """No key, no project, no credentials: only a cassette can answer now."""
        for name in ("GEMINI_API_KEY", "GOOGLE_CLOUD_PROJECT", "GOOGLE_APPLICATION_CREDENTIALS"):
            self.monkeypatch.delenv(name, raising=False)


@pytest.fixture(params=[pytest.param("gemini", marks=needs_gemini_submit), "vertex", "express"])
def recorder(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Recorder]:
    """A recording session from each backend (``params`` narrows it with indirect=True)."""
    recorder = Recorder(str(request.param), monkeypatch)
    if recorder.backend != "vertex":
        monkeypatch.setenv("GEMINI_API_KEY", recorder.key)
        yield recorder
        return
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", recorder.project)
    with default_credentials(tmp_path, recorder.token) as credentials:
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(credentials.path))
        recorder.credentials = credentials
        yield recorder


def record_gemini(pytester: pytest.Pytester, base_url: str) -> pytest.RunResult:
    """The tests run in a subprocess, recording from the Gemini API at ``base_url``."""
    return run_subprocess(
        pytester, "--veo3-record-mode=once", "--veo3-backend=gemini", f"--veo3-base-url={base_url}"
    )


@pytest.mark.parametrize("output", ["bucket", "inline"])
def test_record_from_vertex_on_the_emulator_then_replay_offline(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, output: str
) -> None:
    """Application Default Credentials are loaded and refreshed before the cassette opens;
    the cassette holds neither the token nor the project or bucket, nor anything of the
    credentials file; replay needs none of them."""
    token, project = make_token(), "canary-" + secrets.token_hex(4)
    bucket = "canary-" + secrets.token_hex(4) + "-renders"
    emulator = Emulator(api_key=make_api_key(), token=token, default=Scenario(running_polls=1))
    pytester.makepyfile(test_pipeline=PIPELINE_TEST)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", project)
    args = ["--veo3-record-mode=once", "--veo3-backend=vertex"]
    if output == "bucket":
        args.append(f"--veo3-output-gcs-uri=gs://{bucket}/renders/")
    with default_credentials(tmp_path, token) as credentials, emulator.serve() as base_url:
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(credentials.path))
        recorded = run_subprocess(pytester, *args, f"--veo3-base-url={base_url}")
    recorded.assert_outcomes(passed=1)
    recorded.stdout.fnmatch_lines([f"veo3: record mode once from vertex against {base_url}, *"])
    assert len(credentials.refreshes) == 1  # once, for the whole recording
    # The emulator wanted exactly that token (and the project) on every call.
    seen = [(r.method, r.path.rsplit(":", 1)[-1], r.status) for r in emulator.requests]
    assert seen[0] == ("POST", "predictLongRunning", 200)
    assert {s[1] for s in seen[1:3]} == {"fetchPredictOperation"}
    assert all(f"/projects/{project}/" in r.path for r in emulator.requests[:3])
    if output == "bucket":
        assert seen[-1][0] == "GET" and f"/b/{bucket}/o/renders%2F" in seen[-1][1]
    assert emulator.key_leaks == []

    directory = pytester.path / "tests" / "cassettes"
    cassette = directory / "test_pipeline" / "test_pipeline.yaml"
    written = files_under(directory)
    assert cassette in written and any(p.suffix == ".mp4" for p in written) is (output == "bucket")
    for path in written:
        data = path.read_bytes()
        for value in (token, project, bucket, *credentials.secrets()):
            assert value.encode() not in data, (path, value[:12])
    assert audit_paths([directory]) == []
    provenance = load_cassette(cassette)["metadata"]["veo3"]
    assert {k: provenance.get(k) for k in ("backend", "project", "location", "base_url")} == {
        "backend": "vertex",
        "project": "veo3-project",
        "location": "us-central1",
        "base_url": base_url,
    }
    expected_uri = "gs://veo3-bucket/renders/" if output == "bucket" else None
    assert provenance.get("output_gcs_uri") == expected_uri
    assert provenance["storage_base_url"] == base_url  # the emulator's Cloud Storage route

    # The emulator and the token endpoint are gone; no project, no credentials file.
    for name in ("GOOGLE_CLOUD_PROJECT", "GOOGLE_APPLICATION_CREDENTIALS"):
        monkeypatch.delenv(name)
    replayed = pytester.runpytest_inprocess()
    replayed.assert_outcomes(passed=1)


def test_recording_from_vertex_without_default_credentials_says_how_to_get_them(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    pytester.makepyfile(test_pipeline=PIPELINE_TEST)
    result = pytester.runpytest_inprocess(
        "--veo3-record-mode=once", "--veo3-backend=vertex", "--veo3-project=my-project"
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "E * veo3: recording from Vertex AI with a project uses Application Default "
            "Credentials, and none could be used (DefaultCredentialsError: *); run `gcloud "
            "auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS"
        ]
    )
    assert not (pytester.path / "tests" / "cassettes").exists()


@pytest.mark.parametrize("mode", ["new_episodes", "all"])
def test_new_episodes_and_all_record_vertex_into_a_vertex_cassette(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """Express mode (a key, no project): recorded once, then again with the mode."""
    key = make_api_key()
    monkeypatch.setenv("GEMINI_API_KEY", key)
    pytester.makepyfile(test_pipeline=PIPELINE_TEST)
    cassette = pytester.path / "tests" / "cassettes" / "test_pipeline" / "test_pipeline.yaml"
    emulator = Emulator(api_key=key)
    sent = []
    with emulator.serve() as base_url:
        for flag in ("once", mode):
            result = pytester.runpytest_inprocess(
                f"--veo3-record-mode={flag}", "--veo3-backend=vertex", f"--veo3-base-url={base_url}"
            )
            result.assert_outcomes(passed=1)
            sent.append(len(emulator.requests))
    metadata = load_cassette(cassette)["metadata"]["veo3"]
    assert (metadata["backend"], metadata["express"]) == ("vertex", "true")
    # all records the run again; new_episodes finds every request recorded already.
    assert sent[1] == (2 * sent[0] if mode == "all" else sent[0])
    assert key.encode() not in cassette.read_bytes()
    monkeypatch.delenv("GEMINI_API_KEY")
    pytester.runpytest_inprocess().assert_outcomes(passed=1)


@needs_gemini_submit
def test_record_against_the_emulator_then_replay_offline(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, canary: str
) -> None:
    emulator = Emulator(api_key=canary, default=Scenario(running_polls=1))
    pytester.makepyfile(test_pipeline=PIPELINE_TEST)
    monkeypatch.setenv("GEMINI_API_KEY", canary)
    with emulator.serve() as base_url:
        recorded = record_gemini(pytester, base_url)
    recorded.assert_outcomes(passed=1)
    recorded.stdout.fnmatch_lines(
        [f"veo3: record mode once from gemini against {base_url}, cassettes in *"]
    )
    # The emulator really answered (it checks the key on every call) and the key never
    # reached its download origin.
    assert [(r.origin, r.method, r.status) for r in emulator.requests] == [
        ("api", "POST", 200),
        ("api", "GET", 200),
        ("api", "GET", 200),
        ("api", "GET", 200),
        ("api", "GET", 302),
        ("download", "GET", 200),
    ]
    assert emulator.key_leaks == []
    assert canary not in recorded.stdout.str() + recorded.stderr.str()

    directory = pytester.path / "tests" / "cassettes"
    # <cassette dir>/<module>/<test>.yaml
    cassette = directory / "test_pipeline" / "test_pipeline.yaml"
    written = files_under(directory)
    assert cassette in written
    assert any(p.suffix == ".mp4" for p in written)
    for path in written:
        assert canary.encode() not in path.read_bytes(), path
    text = cassette.read_text()
    assert "x-goog-api-key" not in text.lower()
    assert audit_paths([directory]) == []
    provenance = load_cassette(cassette)["metadata"]["veo3"]
    assert provenance["source"] == f"server at {base_url}"
    assert provenance["base_url"] == base_url
    assert provenance["google_genai"] == importlib.metadata.version("google-genai")
    assert provenance["recorded_at"]

    # The emulator is gone and there is no key: only the cassette can answer now.
    monkeypatch.delenv("GEMINI_API_KEY")
    replayed = pytester.runpytest_inprocess()
    replayed.assert_outcomes(passed=1)
    replayed.stdout.fnmatch_lines([f"veo3: record mode none, cassettes in {directory}"])


def test_provenance_is_kept_by_once_and_replaced_by_all(
    pytester: pytest.Pytester, recorder: Recorder
) -> None:
    pytester.makepyfile(test_pipeline=PIPELINE_TEST)
    cassette = pytester.path / "tests" / "cassettes" / "test_pipeline" / "test_pipeline.yaml"
    first, second = recorder.emulator(), recorder.emulator()
    with first.serve() as first_url, second.serve() as second_url:
        for mode, base_url, recorded_from in (
            ("once", first_url, first_url),
            # The cassette exists: "once" replays it, and neither asks nor rewrites anything.
            ("once", second_url, first_url),
            ("all", second_url, second_url),
        ):
            result = pytester.runpytest_inprocess(*recorder.args(base_url, mode))
            result.assert_outcomes(passed=1)
            provenance = load_cassette(cassette)["metadata"]["veo3"]
            assert provenance["base_url"] == recorded_from
            assert provenance["source"] == f"server at {recorded_from}"
            assert provenance["backend"] == recorder.backend.replace("express", "vertex")
            if mode == "once" and base_url == second_url:
                assert second.requests == []

    recorder.offline()
    pytester.runpytest_inprocess().assert_outcomes(passed=1)


def test_shrink_stores_the_small_sample_instead_of_the_video(
    pytester: pytest.Pytester, recorder: Recorder
) -> None:
    emulator = recorder.emulator(default=Scenario(video_size=100_000))
    pytester.makepyfile(test_pipeline=PIPELINE_TEST)
    with emulator.serve() as base_url:
        for name, extra in (("full", ()), ("shrunk", ("--veo3-shrink-videos",))):
            result = pytester.runpytest_inprocess(
                *recorder.args(base_url), f"--veo3-cassette-dir={name}", *extra
            )
            result.assert_outcomes(passed=1)
    if recorder.backend == "express":  # the video comes inline: nothing to shrink
        assert body_refs(pytester.path / "full" / "test_pipeline" / "test_pipeline.yaml")
        return
    full_cassette = pytester.path / "full" / "test_pipeline" / "test_pipeline.yaml"
    [full] = body_refs(full_cassette)
    assert (full_cassette.parent / full).stat().st_size == 100_000
    shrunk_cassette = pytester.path / "shrunk" / "test_pipeline" / "test_pipeline.yaml"
    [shrunk] = body_refs(shrunk_cassette)
    assert (shrunk_cassette.parent / shrunk).read_bytes() == sample_clip()
    [download] = [
        i["response"]
        for i in load_cassette(shrunk_cassette)["interactions"]
        if i["response"]["status"]["code"] == 200 and "video/mp4" in str(i["response"]["headers"])
    ]
    assert download["headers"]["content-length"] == [str(len(sample_clip()))]

    recorder.offline()
    replayed = pytester.runpytest_inprocess("--veo3-cassette-dir=shrunk")
    replayed.assert_outcomes(passed=1)


def test_body_threshold_moves_json_bodies_to_files_and_identical_bodies_are_stored_once(
    pytester: pytest.Pytester, recorder: Recorder
) -> None:
    emulator = recorder.emulator(default=Scenario(running_polls=2))
    # Two tests of one module: their cassettes (and body files) share the module's folder.
    again = PIPELINE_TEST.split("\n\n\n", 1)[1].replace("def test_pipeline", "def test_again")
    pytester.makepyfile(test_pipeline=PIPELINE_TEST + "\n\n" + again)
    with emulator.serve() as base_url:
        result = pytester.runpytest_inprocess(*recorder.args(base_url), "--veo3-body-threshold=10")
    result.assert_outcomes(passed=2)
    directory = pytester.path / "tests" / "cassettes" / "test_pipeline"
    refs = body_refs(directory / "test_pipeline.yaml") + body_refs(directory / "test_again.yaml")
    answers = {ref: json.loads((directory / ref).read_text()) for ref in refs if ".json" in ref}
    operation_refs = [
        ref for ref in refs if "operations/" in str(answers.get(ref, {}).get("name", ""))
    ]
    # Submit, three polls, the re-read before the download: 5 operation answers per
    # cassette, all in files (beside them, the Gemini download redirect's JSON body when the
    # server sends one).
    assert len(operation_refs) == 10
    # The submit answer equals the "running" polls' answer, the done answers are equal too.
    assert len(set(operation_refs)) == 4
    # Both downloads got the same sample clip: one file, two references.
    mp4_refs = [ref for ref in refs if ref.endswith(".mp4")]
    if recorder.backend != "express":  # inline videos are in the done answers
        assert len(mp4_refs) == 2
        assert len(set(mp4_refs)) == 1
        assert is_mp4_file(directory / mp4_refs[0])
    # Over 10 bytes, the requests' bodies (the submit, Vertex AI's polls) go to files too.
    sent = request_body_refs(directory / "test_pipeline.yaml")
    sent += request_body_refs(directory / "test_again.yaml")
    assert sent
    assert sorted(
        p.relative_to(directory).as_posix() for p in files_under(directory / "bodies")
    ) == (sorted(set(refs + sent)))
    for cassette in ("test_pipeline.yaml", "test_again.yaml"):
        assert f"string: {BODY_REF}" in (directory / cassette).read_text()
        assert f"body: {BODY_REF}" in (directory / cassette).read_text()

    recorder.offline()
    replayed = pytester.runpytest_inprocess()
    replayed.assert_outcomes(passed=2)


_WITH_A_KEY = [pytest.param("gemini", marks=needs_gemini_submit), "express"]
"""The backends recording with the key in the environment."""


@pytest.mark.parametrize("recorder", _WITH_A_KEY, indirect=True)
def test_the_key_value_is_scrubbed_wherever_it_appears(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, recorder: Recorder
) -> None:
    """The key in the environment, in any encoding, however it is shaped."""
    key = "k-" + secrets.token_hex(16)  # not key-shaped: only its value can find it
    recorder.key = key
    pytester.makepyfile(
        test_prompt="""
        import base64, os, urllib.parse

        def test_key_in_the_prompt(recorded_veo3):
            # Code under test that lets the key slip into a request body, in many forms.
            key = os.environ["GEMINI_API_KEY"]
            forms = [
                key,
                base64.b64encode(b"k=" + key.encode()).decode(),
                urllib.parse.quote(key, safe="").replace("-", "%2D"),
                "".join(f"\\\\u{ord(c):04x}" for c in key),
            ]
            recorded_veo3.submit_job("intro", "a cat, " + " ".join(forms))
        """
    )
    monkeypatch.setenv("GEMINI_API_KEY", key)
    with recorder.emulator().serve() as base_url:
        result = pytester.runpytest_inprocess(*recorder.args(base_url))
    result.assert_outcomes(passed=1)
    cassette = pytester.path / "tests" / "cassettes" / "test_prompt" / "test_key_in_the_prompt.yaml"
    [interaction] = load_cassette(cassette)["interactions"]
    [instance] = json.loads(interaction["request"]["body"])["instances"]
    prompt = instance["prompt"]
    assert prompt.startswith("a cat, REDACTED ") and prompt.count("REDACTED") == 4, prompt
    text = cassette.read_text()
    for form in (key, base64.b64encode(key.encode()).decode()[4:-4], key.replace("-", "%2D")):
        assert form not in text
    assert audit_paths([cassette.parent]) == []


@needs_gemini_submit
def test_a_one_character_key_records_every_body_as_the_emulator_served_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A key too short to be a real one ("any value works" against the emulator) is never
    replaced literally: operation names and the video keep every letter ``x``."""
    key, seed, scenario = "x", 8, Scenario(running_polls=1)
    emulator = Emulator(api_key=key, default=scenario, seed=seed)
    pytester.makepyfile(test_pipeline=PIPELINE_TEST)
    monkeypatch.setenv("GEMINI_API_KEY", key)
    with emulator.serve() as base_url:
        download_base = emulator.download_base
        recorded = record_gemini(pytester, base_url)
    recorded.assert_outcomes(passed=1)
    assert emulator.key_leaks == []

    # What the emulator served, answer for answer: its twin (same seed, same origins) asked
    # the same questions by the same adapter and orchestrator.
    twin = Emulator(
        api_key=key, default=scenario, seed=seed, api_base=base_url, download_base=download_base
    )
    served: list[tuple[int, bytes]] = []
    receive = as_received(twin.transport())

    def capture(request: httpx.Request) -> httpx.Response:
        response = receive(request)
        served.append((response.status_code, response.content))
        return response

    with httpx.Client(transport=httpx.MockTransport(capture)) as client:
        adapter = gemini_adapter(
            key, base_url=base_url, http_client=client, profile=LOCAL_PROFILE, sleep=lambda _s: None
        )
        Veo3Orchestrator(adapter, tmp_path, poll_interval=0, sleep=lambda _s: None).run(
            {"intro": PIPELINE_PROMPT}
        )
    assert twin.operations.keys() == emulator.operations.keys()

    directory = pytester.path / "tests" / "cassettes" / "test_pipeline"
    stored = [
        (i["response"]["status"]["code"], _body(directory, i["response"]["body"]["string"]))
        for i in load_cassette(directory / "test_pipeline.yaml")["interactions"]
    ]
    assert stored == served
    # The check means something: the video served holds the letter a literal scrub hits.
    assert b"x" in sample_clip()
    assert (200, sample_clip()) in served

    monkeypatch.delenv("GEMINI_API_KEY")
    replayed = pytester.runpytest_inprocess()
    replayed.assert_outcomes(passed=1)


def _body(directory: Path, recorded: str | bytes) -> bytes:
    """A recorded body as bytes, read from its body file when it is stored in one."""
    data = recorded.encode() if isinstance(recorded, str) else recorded
    if data.startswith(BODY_REF.encode()):
        return (directory / data[len(BODY_REF) :].decode()).read_bytes()
    return data


_CLIP_TEST = """
def test_clip(recorded_veo3):
    recorded_veo3.submit_job("intro", "{prompt}")
"""


def test_same_named_tests_record_apart_and_never_replay_each_other(
    pytester: pytest.Pytester, recorder: Recorder
) -> None:
    pytester.makepyfile(
        test_a=_CLIP_TEST.format(prompt="a cat"), test_b=_CLIP_TEST.format(prompt="a dog")
    )
    with recorder.emulator().serve() as base_url:
        recorded = pytester.runpytest_inprocess(*recorder.args(base_url))
    recorded.assert_outcomes(passed=2)
    directory = pytester.path / "tests" / "cassettes"
    cat, dog = directory / "test_a" / "test_clip.yaml", directory / "test_b" / "test_clip.yaml"
    assert "a cat" in cat.read_text() and "a dog" in dog.read_text()

    recorder.offline()
    pytester.runpytest_inprocess().assert_outcomes(passed=2)
    # test_b replaying test_a's recording: the submit asks for another prompt.
    shutil.rmtree(dog.parent)
    shutil.copytree(cat.parent, dog.parent)
    result = pytester.runpytest_inprocess("test_b.py")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            f"E * veo3: cassette {dog} has no unplayed answer for POST *:predictLongRunning",
            "E * closest recorded request: POST *:predictLongRunning",
            "E * differs in body: instances?0?.prompt: asked 'a dog', recorded 'a cat'",
        ]
    )


@pytest.mark.parametrize("recorder", _WITH_A_KEY, indirect=True)
def test_pytest_showlocals_while_recording_shows_no_key(
    pytester: pytest.Pytester, recorder: Recorder
) -> None:
    """A test that fails in a recording session, shown with -l: the test's own locals, logs
    and output hold the key; the SDK's frames hold a key in their locals too (the request
    headers: a throwaway one, the cassette existing); none reaches the output."""
    canary = recorder.key
    pytester.makepyfile(test_leak=_CLIP_TEST.format(prompt="a cat"))
    with recorder.emulator().serve() as base_url:
        args = (*recorder.args(base_url), "-l", "-rA")
        pytester.runpytest_inprocess(*args).assert_outcomes(passed=1)
        # Now the cassette exists and "once" cannot add to it: asking for another prompt
        # fails deep inside the SDK's call, every frame's locals printed.
        pytester.makepyfile(
            test_leak=_CLIP_TEST.format(prompt="a dog").replace(
                "def test_clip(recorded_veo3):",
                "def test_clip(recorded_veo3):\n"
                "    import logging, os\n"
                "    key = os.environ['GEMINI_API_KEY']\n"
                "    logging.getLogger('test').warning('using %s', key)\n"
                "    print('key', key)",
            )
        )
        result = pytester.runpytest_inprocess(*args)
    result.assert_outcomes(failed=1)
    output = result.stdout.str() + result.stderr.str()
    assert canary not in output
    assert "http_request" in output  # the SDK frame's locals were shown
    assert "differs in body" in output
    assert "key = " in output and "REDACTED" in output
