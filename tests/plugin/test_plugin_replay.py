"""Replay: what a miss says, no network but loopback, and no real waiting."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from _kit.plugin import (
    BACKEND,
    BACKEND_PARAMS,
    OPERATIONS,
    VERTEX_MODEL,
    copy_builtin,
    record_own,
    run_subprocess,
)

from pytest_veo3.scenarios import builtin_cassette
from veo3_adapter.emulator import Scenario

_POLL_UNKNOWN = """
from __future__ import annotations

import pytest
from veo3_adapter import JobStatus, Veo3Job

# A poll by hand: the rest of the recording is not this test's subject.
@pytest.mark.veo3_cassette({name!r}, allow_unplayed=True)
def test_unmatched(recorded_veo3):
    job = Veo3Job("intro", "a cat", status=JobStatus.SUBMITTED, operation_name={operation!r})
    recorded_veo3.poll_job(job)
"""
_UNKNOWN_VERTEX_ID = "00000000-0000-4000-8000-000000000000"
_VERTEX_OPERATION = (
    "projects/veo3-project/locations/us-central1/publishers/google/models/"
    "veo-3.1-generate-001/operations/"
)


def _recorded_operation_id(cassette: Path) -> str:
    """The operation id the cassette's polls name (it changes whenever it is re-recorded)."""
    found = re.search(
        r"(?:uri: \S+|operationName.:.+?)/operations/([a-z0-9-]+)", cassette.read_text()
    )
    assert found is not None, cassette
    return found.group(1)


def _unmatched(pytester: pytest.Pytester, name: str, whose: str) -> tuple[Path, str]:
    """The cassette the poll is asked of, and the record mode the hint must name."""
    if whose == "own":
        return copy_builtin(name, pytester.path / "tests" / "cassettes"), "all"  # re-record it
    found = builtin_cassette(name)
    assert found is not None
    return found, "once"  # record the user's own cassette of that name


@pytest.mark.parametrize("whose", ["built-in", "own"])
def test_an_unmatched_gemini_poll_names_request_cassette_closest_and_the_rerecord_command(
    pytester: pytest.Pytester, whose: str
) -> None:
    """Polling works on every google-genai: so does the miss it may end in."""
    cassette, flag = _unmatched(pytester, "success", whose)
    recorded = _recorded_operation_id(cassette)
    operation = "models/veo-3.1-generate-001/operations/zzzzzzzzzzzz"
    pytester.makepyfile(test_unmatched=_POLL_UNKNOWN.format(name="success", operation=operation))
    result = pytester.runpytest_inprocess("-W", "always::pytest_veo3.Veo3Warning")
    result.assert_outcomes(failed=1)
    other = "" if BACKEND == "gemini" else " --veo3-backend=gemini"
    result.stdout.fnmatch_lines(
        [
            f"E * veo3: cassette {cassette} has no unplayed answer for "
            f"GET {OPERATIONS}/zzzzzzzzzzzz",
            f"E * closest recorded request: GET {OPERATIONS}/{recorded}",
            f"E * differs in path: */operations/zzzzzzzzzzzz != */operations/{recorded}",
            "E * to re-record: GEMINI_API_KEY=... pytest "
            f"'test_unmatched.py::test_unmatched' --veo3-record-mode={flag}{other}",
        ]
    )
    # On google-genai 3.x the test may go on (it allows unplayed requests), told once why
    # the cassette's submit will never be replayed.
    warned = "*Veo3Warning: veo3: success is a Gemini API cassette and google-genai *"
    if BACKEND == "gemini":
        result.stdout.no_fnmatch_line(warned)
    else:
        result.stdout.fnmatch_lines([warned])


@pytest.mark.parametrize("whose", ["built-in", "own"])
def test_an_unmatched_vertex_poll_names_the_operation_and_the_project_to_record_with(
    pytester: pytest.Pytester, whose: str
) -> None:
    """A Vertex AI poll names its operation in the body: a built-in cassette, which answers
    any prompt, still answers only the operation it recorded."""
    cassette, flag = _unmatched(pytester, "vertex_success", whose)
    recorded = _recorded_operation_id(cassette)
    operation = _VERTEX_OPERATION + _UNKNOWN_VERTEX_ID
    pytester.makepyfile(
        test_unmatched=_POLL_UNKNOWN.format(name="vertex_success", operation=operation)
    )
    result = pytester.runpytest_inprocess()
    result.assert_outcomes(failed=1)
    other = "" if BACKEND == "vertex" else " --veo3-backend=vertex"
    result.stdout.fnmatch_lines(
        [
            f"E * veo3: cassette {cassette} has no unplayed answer for "
            f"POST {VERTEX_MODEL}:fetchPredictOperation",
            f"E * closest recorded request: POST {VERTEX_MODEL}:fetchPredictOperation",
            f"E * differs in body: operationName: asked '*{_UNKNOWN_VERTEX_ID}', "
            f"recorded '*{recorded}'",
            "E * to re-record: GOOGLE_CLOUD_PROJECT=... pytest "
            f"'test_unmatched.py::test_unmatched' --veo3-record-mode={flag}{other}",
        ]
    )


# The adapter driven step by step: a cassette miss reaches the test as it is raised.
_DOWNLOAD_SUCCESS = """
import pytest
from pytest_veo3.scenarios import SCENARIO_CASSETTES
from veo3_adapter import JobStatus

@pytest.mark.veo3_cassette({name!r})
def test_download(recorded_veo3, tmp_path):
    job = recorded_veo3.submit_job("intro", SCENARIO_CASSETTES[{name!r}].prompt)
    while job.status is not JobStatus.GENERATED:
        job = recorded_veo3.poll_job(job)
    recorded_veo3.download_clip(job, tmp_path / "intro.mp4")
"""
_SUCCESS = {"gemini": "success", "vertex": "vertex_success"}
_FILTERED = {"gemini": "rai_filtered", "vertex": "vertex_rai_filtered"}
_SUBMIT_URL = {
    "gemini": "https://generativelanguage.googleapis.com/v1beta/models/"
    "veo-3.1-generate-001:predictLongRunning",
    "vertex": f"{VERTEX_MODEL}:predictLongRunning",
}


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_asking_more_often_than_recorded_says_everything_was_played(
    pytester: pytest.Pytester, backend: str
) -> None:
    name = _FILTERED[backend]
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.veo3_cassette({name!r})
        def test_twice(recorded_veo3):
            recorded_veo3.submit_job("intro", "a cat")
            recorded_veo3.submit_job("intro", "a cat")
        """
    )
    result = pytester.runpytest_inprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            f"E * veo3: cassette */{name}.yaml has no unplayed answer for "
            f"POST {_SUBMIT_URL[backend]}",
            "E * every matching recorded request has been played already*",
            "E * to re-record: *",
        ]
    )


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_a_miss_the_code_under_test_catches_still_fails_the_test(
    pytester: pytest.Pytester, backend: str
) -> None:
    name = _FILTERED[backend]
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.veo3_cassette({name!r})
        def test_swallowed(recorded_veo3):
            recorded_veo3.submit_job("intro", "a cat")
            try:  # a pipeline that turns every exception into a failed job
                recorded_veo3.submit_job("outro", "a dog")
            except Exception:
                pass

        @pytest.mark.veo3_cassette({name!r})
        def test_failing_anyway(recorded_veo3):
            recorded_veo3.submit_job("intro", "a cat")
            recorded_veo3.submit_job("outro", "a dog")  # fails the test: reported once
        """
    )
    result = pytester.runpytest_inprocess()
    result.assert_outcomes(passed=1, failed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_swallowed*",
            "veo3: the code under test caught a request the cassette could not answer:",
            f"veo3: cassette */{name}.yaml has no unplayed answer for POST *",
        ]
    )
    assert result.stdout.str().count("ERROR at teardown") == 1


@pytest.mark.parametrize(
    ("args", "env", "needs"),
    [
        (("--veo3-backend=gemini",), {}, "GEMINI_API_KEY=... "),
        (("--veo3-backend=vertex",), {}, "GOOGLE_CLOUD_PROJECT=... "),
        (("--veo3-backend=vertex", "--veo3-project=my-project"), {}, ""),
        (("--veo3-backend=vertex",), {"GEMINI_API_KEY": "any"}, "GEMINI_API_KEY=... "),
    ],
    ids=["gemini", "vertex", "vertex-project-set", "vertex-express"],
)
def test_a_missing_cassette_says_where_it_looked_and_how_to_record_it(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    env: dict[str, str],
    needs: str,
) -> None:
    """The command names what recording from the session's backend needs: a key (the Gemini
    API, Vertex AI express mode) or a project (Vertex AI, with Application Default
    Credentials), unless the project is set already."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    pytester.makepyfile(
        test_missing="""
        def test_without_cassette(recorded_veo3):
            pass
        """
    )
    result = pytester.runpytest_inprocess(*args)
    result.assert_outcomes(errors=1)
    expected = pytester.path / "tests" / "cassettes" / "test_missing" / "test_without_cassette.yaml"
    result.stdout.fnmatch_lines(
        [
            f"E * veo3: cassette {expected} does not exist; record it with: "
            f"{needs}pytest 'test_missing.py::test_without_cassette' --veo3-record-mode=once"
        ]
    )


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_a_missing_body_file_says_to_commit_the_bodies_folder(
    pytester: pytest.Pytester, backend: str
) -> None:
    directory = pytester.path / "tests" / "cassettes"
    copy_builtin(_SUCCESS[backend], directory)
    shutil.rmtree(directory / "bodies")
    pytester.makepyfile(_DOWNLOAD_SUCCESS.format(name=_SUCCESS[backend]))
    result = pytester.runpytest_inprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            f"E * cassette body file {directory}/bodies/sha256-*.mp4 is missing; "
            "commit the cassette's bodies/ folder with it, or re-record"
        ]
    )


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_a_body_reference_outside_the_bodies_folder_is_refused(
    pytester: pytest.Pytester, backend: str
) -> None:
    directory = pytester.path / "tests" / "cassettes"
    cassette = copy_builtin(_SUCCESS[backend], directory)
    (pytester.path / "secret.txt").write_text("not a video")
    text = cassette.read_text()
    [ref] = [line.split("veo3-body-file:")[1] for line in text.splitlines() if "body-file" in line]
    cassette.write_text(text.replace(ref, "../../secret.txt"))
    pytester.makepyfile(_DOWNLOAD_SUCCESS.format(name=_SUCCESS[backend]))
    result = pytester.runpytest_inprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["E * cassette body reference '../../secret.txt' is not a body file"]
    )


def test_replay_blocks_every_address_but_loopback(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_net="""
        from __future__ import annotations

        import socket

        import pytest
        from pytest_veo3 import NetworkBlockedError

        REAL = {
            name: getattr(socket.socket, name)
            for name in ("connect", "connect_ex", "sendto", "sendmsg")
        }
        REAL_LOOKUPS = {
            name: getattr(socket, name)
            for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr",
                         "getnameinfo")
        }
        BLOCKED = r"192\\.0\\.2\\.1.*blocked while test_net.py::test_{} replays"

        @pytest.mark.veo3_cassette("success", allow_unplayed=True)  # no request made
        def test_tcp(recorded_veo3):
            with pytest.raises(NetworkBlockedError, match=BLOCKED.format("tcp")):
                socket.create_connection(("192.0.2.1", 80), timeout=2)
            with socket.socket() as sock:
                with pytest.raises(NetworkBlockedError, match="2001:db8::1"):
                    sock.connect_ex(("2001:db8::1", 80, 0, 0))
            with socket.socket() as sock:
                with pytest.raises(NetworkBlockedError, match="example.invalid"):
                    sock.connect(("example.invalid", 80))  # resolved inside connect

        @pytest.mark.veo3_cassette("success", allow_unplayed=True)  # no request made
        def test_udp_and_fast_open(recorded_veo3):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                with pytest.raises(NetworkBlockedError, match=BLOCKED.format("udp_and_fast_open")):
                    udp.sendto(b"x", ("192.0.2.1", 53))
                with pytest.raises(NetworkBlockedError, match="sendto"):
                    udp.sendto(b"x", 0, ("192.0.2.1", 53))
                if hasattr(udp, "sendmsg"):
                    with pytest.raises(NetworkBlockedError, match="sendmsg"):
                        udp.sendmsg([b"x"], [], 0, ("192.0.2.1", 53))
            fast_open = getattr(socket, "MSG_FASTOPEN", None)
            if fast_open is not None:
                with socket.socket() as tcp:
                    with pytest.raises(NetworkBlockedError, match="192"):
                        tcp.sendto(b"GET / HTTP/1.1", fast_open, ("192.0.2.1", 80))
            netlink = getattr(socket, "AF_NETLINK", None)
            if netlink is not None:
                with socket.socket(netlink, socket.SOCK_RAW) as other:
                    with pytest.raises(NetworkBlockedError):
                        other.connect((0, 0))

        @pytest.mark.veo3_cassette("success", allow_unplayed=True)  # no request made
        def test_dns(recorded_veo3):
            for lookup in (
                lambda: socket.getaddrinfo("example.com", 443),
                lambda: socket.getaddrinfo(b"example.com", 443),
                lambda: socket.gethostbyname("example.com"),
                lambda: socket.gethostbyname_ex("example.com"),
                lambda: socket.gethostbyaddr("192.0.2.1"),
                lambda: socket.getnameinfo(("192.0.2.1", 80), 0),
            ):
                with pytest.raises(NetworkBlockedError, match="DNS lookup.*test_net.py::test_dns"):
                    lookup()

        @pytest.mark.veo3_cassette("success", allow_unplayed=True)  # no request made
        def test_loopback_works(recorded_veo3):
            for host in ("127.0.0.1", "localhost"):
                with socket.create_server(("127.0.0.1", 0)) as server:
                    port = server.getsockname()[1]
                    with socket.create_connection((host, port), timeout=2):
                        pass
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.bind(("127.0.0.1", 0))
                assert udp.sendto(b"x", udp.getsockname()) == 1
            assert socket.getaddrinfo("localhost", 80)
            assert socket.getaddrinfo("192.0.2.1", 80)  # numeric: no lookup, connect decides
            assert socket.getaddrinfo(None, 80)  # a passive socket's address
            try:
                socket.gethostbyname(socket.gethostname())  # this machine's own name
            except socket.gaierror:
                pass  # not resolvable here: what matters is that it is not blocked
            assert socket.gethostbyname("localhost")
            assert socket.getnameinfo(("192.0.2.1", 80), socket.NI_NUMERICHOST)
            if hasattr(socket, "AF_UNIX"):
                one, two = socket.socketpair()
                with one, two:
                    one.sendall(b"x")
                    assert two.recv(1) == b"x"

        def test_the_guard_is_gone_after_the_fixture():
            for name, method in REAL.items():
                assert getattr(socket.socket, name) is method
            for name, function in REAL_LOOKUPS.items():
                assert getattr(socket, name) is function
        """
    )
    result = run_subprocess(pytester, "-v")
    result.assert_outcomes(passed=5)


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_replay_makes_every_default_wait_virtual(pytester: pytest.Pytester, backend: str) -> None:
    # A retried poll: the built-in on the Gemini API, a cassette of one's own on Vertex AI.
    retried = "rate_limited"
    if backend == "vertex":
        retried = "retried"
        record_own(
            pytester.path / "tests" / "cassettes" / f"{retried}.yaml",
            backend,
            [Scenario.named("rate_limited")],
            {"intro": "a cat"},
        )
    pytester.makepyfile(
        f"""
        from __future__ import annotations

        import time

        import pytest
        from veo3_adapter import JobStatus, Veo3Orchestrator, clock

        @pytest.fixture
        def no_real_sleep(monkeypatch):
            def refuse(seconds):
                raise AssertionError(f"real time.sleep({{seconds}})")
            monkeypatch.setattr(time, "sleep", refuse)

        @pytest.mark.veo3_cassette({_SUCCESS[backend]!r})
        def test_recorded(no_real_sleep, recorded_veo3, tmp_path):
            start = clock.monotonic()
            [job] = Veo3Orchestrator(recorded_veo3, tmp_path).run({{"intro": "a cat"}})
            assert job.status is JobStatus.DOWNLOADED
            # The default 10 s interval, three times (first wait and two "running" polls),
            # passed on the virtual clock, which starts at 0 for each test.
            assert (start, clock.monotonic()) == (0.0, 30.0)

        @pytest.mark.veo3_cassette({retried!r})
        def test_retry_waits_too(no_real_sleep, recorded_veo3, tmp_path):
            [job] = Veo3Orchestrator(recorded_veo3, tmp_path).run({{"intro": "a cat"}})
            assert job.status is JobStatus.DOWNLOADED
            assert clock.monotonic() > 10.0  # the poll interval plus the 429's Retry-After

        @pytest.mark.veo3_fake(polls=2)
        def test_fake(no_real_sleep, fake_veo3, tmp_path):
            [job] = Veo3Orchestrator(fake_veo3, tmp_path).run({{"intro": "a cat"}})
            assert job.status is JobStatus.DOWNLOADED
            assert clock.monotonic() == 30.0

        def test_time_is_real_again_afterwards():
            assert abs(clock.monotonic() - time.monotonic()) < 60
        """
    )
    result = pytester.runpytest_inprocess()
    result.assert_outcomes(passed=4)
