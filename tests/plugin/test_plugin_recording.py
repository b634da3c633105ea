"""Recording: against the emulator on loopback, scrubbed, with body files, then replayed."""

from __future__ import annotations

import base64
import importlib.metadata
import json
import secrets
import shutil
from pathlib import Path

import httpx
import pytest
from _kit.plugin import (
    BODY_REF,
    PIPELINE_PROMPT,
    PIPELINE_TEST,
    body_refs,
    files_under,
    load_cassette,
    run_subprocess,
)

from pytest_veo3.scenarios import as_received
from veo3_adapter import Veo3Orchestrator
from veo3_adapter.audit import audit_paths
from veo3_adapter.compose import LOCAL_PROFILE, gemini_adapter
from veo3_adapter.emulator import Emulator, Scenario
from veo3_adapter.mp4 import is_mp4_file, sample_clip


def test_record_against_the_emulator_then_replay_offline(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, canary: str
) -> None:
    emulator = Emulator(api_key=canary, default=Scenario(running_polls=1))
    pytester.makepyfile(test_pipeline=PIPELINE_TEST)
    monkeypatch.setenv("GEMINI_API_KEY", canary)
    with emulator.serve() as base_url:
        recorded = run_subprocess(
            pytester, "--veo3-record-mode=once", f"--veo3-base-url={base_url}"
        )
    recorded.assert_outcomes(passed=1)
    recorded.stdout.fnmatch_lines([f"veo3: record mode once against {base_url}, cassettes in *"])
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
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, canary: str
) -> None:
    pytester.makepyfile(test_pipeline=PIPELINE_TEST)
    cassette = pytester.path / "tests" / "cassettes" / "test_pipeline" / "test_pipeline.yaml"
    monkeypatch.setenv("GEMINI_API_KEY", canary)
    first, second = Emulator(api_key=canary), Emulator(api_key=canary)
    with first.serve() as first_url, second.serve() as second_url:
        for mode, base_url, recorded_from in (
            ("once", first_url, first_url),
            # The cassette exists: "once" replays it, and neither asks nor rewrites anything.
            ("once", second_url, first_url),
            ("all", second_url, second_url),
        ):
            result = pytester.runpytest_inprocess(
                f"--veo3-record-mode={mode}", f"--veo3-base-url={base_url}"
            )
            result.assert_outcomes(passed=1)
            provenance = load_cassette(cassette)["metadata"]["veo3"]
            assert provenance["base_url"] == recorded_from
            assert provenance["source"] == f"server at {recorded_from}"
            if mode == "once" and base_url == second_url:
                assert second.requests == []

    monkeypatch.delenv("GEMINI_API_KEY")
    pytester.runpytest_inprocess().assert_outcomes(passed=1)


def test_shrink_stores_the_small_sample_instead_of_the_video(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, canary: str
) -> None:
    emulator = Emulator(api_key=canary, default=Scenario(video_size=100_000))
    pytester.makepyfile(test_pipeline=PIPELINE_TEST)
    monkeypatch.setenv("GEMINI_API_KEY", canary)
    with emulator.serve() as base_url:
        for name, extra in (("full", ()), ("shrunk", ("--veo3-shrink-videos",))):
            result = pytester.runpytest_inprocess(
                "--veo3-record-mode=once",
                f"--veo3-base-url={base_url}",
                f"--veo3-cassette-dir={name}",
                *extra,
            )
            result.assert_outcomes(passed=1)
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

    monkeypatch.delenv("GEMINI_API_KEY")
    replayed = pytester.runpytest_inprocess("--veo3-cassette-dir=shrunk")
    replayed.assert_outcomes(passed=1)


def test_body_threshold_moves_json_bodies_to_files_and_identical_bodies_are_stored_once(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, canary: str
) -> None:
    emulator = Emulator(api_key=canary, default=Scenario(running_polls=2))
    # Two tests of one module: their cassettes (and body files) share the module's folder.
    again = PIPELINE_TEST.split("\n\n\n", 1)[1].replace("def test_pipeline", "def test_again")
    pytester.makepyfile(test_pipeline=PIPELINE_TEST + "\n\n" + again)
    monkeypatch.setenv("GEMINI_API_KEY", canary)
    with emulator.serve() as base_url:
        result = pytester.runpytest_inprocess(
            "--veo3-record-mode=once", f"--veo3-base-url={base_url}", "--veo3-body-threshold=10"
        )
    result.assert_outcomes(passed=2)
    directory = pytester.path / "tests" / "cassettes" / "test_pipeline"
    refs = body_refs(directory / "test_pipeline.yaml") + body_refs(directory / "test_again.yaml")
    answers = {ref: json.loads((directory / ref).read_text()) for ref in refs if ".json" in ref}
    operation_refs = [
        ref for ref in refs if "operations/" in str(answers.get(ref, {}).get("name", ""))
    ]
    # Submit, three polls, the download's re-read: 5 operation answers per cassette, all in
    # files (beside them, the download redirect's JSON body when the server sends one).
    assert len(operation_refs) == 10
    # The submit answer equals the "running" polls' answer, the done answers are equal too.
    assert len(set(operation_refs)) == 4
    # Both downloads got the same sample clip: one file, two references.
    mp4_refs = [ref for ref in refs if ref.endswith(".mp4")]
    assert len(mp4_refs) == 2
    assert len(set(mp4_refs)) == 1
    assert is_mp4_file(directory / mp4_refs[0])
    assert sorted(
        p.relative_to(directory).as_posix() for p in files_under(directory / "bodies")
    ) == (sorted(set(refs)))
    for cassette in ("test_pipeline.yaml", "test_again.yaml"):
        assert f"string: {BODY_REF}" in (directory / cassette).read_text()

    monkeypatch.delenv("GEMINI_API_KEY")
    replayed = pytester.runpytest_inprocess()
    replayed.assert_outcomes(passed=2)


def test_the_key_value_is_scrubbed_wherever_it_appears(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key in the environment, in any encoding, however it is shaped."""
    key = "k-" + secrets.token_hex(16)  # not key-shaped: only its value can find it
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
    with Emulator(api_key=key).serve() as base_url:
        result = pytester.runpytest_inprocess(
            "--veo3-record-mode=once", f"--veo3-base-url={base_url}"
        )
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
        recorded = run_subprocess(
            pytester, "--veo3-record-mode=once", f"--veo3-base-url={base_url}"
        )
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
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, canary: str
) -> None:
    pytester.makepyfile(
        test_a=_CLIP_TEST.format(prompt="a cat"), test_b=_CLIP_TEST.format(prompt="a dog")
    )
    monkeypatch.setenv("GEMINI_API_KEY", canary)
    with Emulator(api_key=canary).serve() as base_url:
        recorded = pytester.runpytest_inprocess(
            "--veo3-record-mode=once", f"--veo3-base-url={base_url}"
        )
    recorded.assert_outcomes(passed=2)
    directory = pytester.path / "tests" / "cassettes"
    cat, dog = directory / "test_a" / "test_clip.yaml", directory / "test_b" / "test_clip.yaml"
    assert "a cat" in cat.read_text() and "a dog" in dog.read_text()

    monkeypatch.delenv("GEMINI_API_KEY")
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


def test_pytest_showlocals_while_recording_shows_no_key(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, canary: str
) -> None:
    """A test that fails while recording, shown with -l: the SDK's frames hold the key in
    their locals (the request headers), the test's own locals may too; none reaches the
    output."""
    pytester.makepyfile(test_leak=_CLIP_TEST.format(prompt="a cat"))
    monkeypatch.setenv("GEMINI_API_KEY", canary)
    with Emulator(api_key=canary).serve() as base_url:
        args = ("--veo3-record-mode=once", f"--veo3-base-url={base_url}", "-l", "-rA")
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
