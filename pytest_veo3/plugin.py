"""The ``veo3`` pytest plugin: ``fake_veo3`` and ``recorded_veo3`` fixtures (``veo3_emulator``
lives in ``_emulator_fixture``).

Loading this module costs almost nothing: google-genai, httpx and vcrpy are imported only
inside the fixtures, when a test asks for one.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ._emulator_fixture import veo3_emulator as veo3_emulator  # registered with the plugin
from ._emulator_fixture import veo3_emulator_backend as veo3_emulator_backend
from ._names import default_cassette_name
from ._network import NetworkBlockedError as NetworkBlockedError  # its historical home
from ._network import loopback_only
from ._options import (
    GEMINI,
    SETTINGS_KEY,
    Settings,
    add_options,
    read_settings,
    recording_problem,
)

if TYPE_CHECKING:
    from veo3_adapter import FakeOutcome, FakeVeo3Adapter

    from . import RecordedVeo3
    from ._recording import Recording
    from .cassette import RecordMode, VeoCassette

MARKER_CASSETTE = (
    "veo3_cassette(*names, allow_unplayed=False): replay the cassette `name` with "
    "recorded_veo3: a file <veo3_cassette_dir>/<name>.yaml, or a built-in scenario "
    "({builtins}). Several names replay one cassette per submit, in submit order (a name may "
    "repeat; replay only). A test that leaves recorded requests unplayed fails at teardown "
    "unless allow_unplayed=True (or the veo3_allow_unplayed ini option)"
)
MARKER_FAKE = (
    "veo3_fake(*, default='success', outcomes=None, polls=0): script fake_veo3; outcomes "
    "maps variant -> 'success' | 'generation_failed' | 'rai_filtered' | 'download_failed' | "
    "'submit_failed' | 'quota_exhausted' | 'poll_failed' | 'operation_not_found' | "
    "'expired' | 'timeout' or a FakeOutcome"
)

_FAKE_MARKER_KWARGS = ("default", "outcomes", "polls")  # _fake_script's parameters

CALL_FAILED_KEY = pytest.StashKey[bool]()
"""Whether a test on a cassette did not pass its call phase (failed, skipped, xfailed): a
caught cassette miss or an unplayed recording then adds nothing. Unset if it never ran."""
RECORDING_KEY = pytest.StashKey["Recording | None"]()
"""What the test's cassette records from; ``None`` while it replays."""


class Veo3Warning(UserWarning):
    """Something about a veo3 cassette or recording the test should know, not fatal."""


# -- options ---------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def _api_key_from_env() -> str:
    from veo3_adapter._secrets import key_from_env

    return key_from_env()


def pytest_configure(config: pytest.Config) -> None:
    from .scenarios import SCENARIO_CASSETTES

    config.addinivalue_line(
        "markers", MARKER_CASSETTE.format(builtins=", ".join(SCENARIO_CASSETTES))
    )
    config.addinivalue_line("markers", MARKER_FAKE)
    settings = read_settings(config)
    if settings.recording:
        problem = recording_problem(settings, _api_key_from_env())
        if problem:
            raise pytest.UsageError(problem)
        if settings.backend == GEMINI:
            from veo3_adapter import _sdk

            if not _sdk.gemini_submits_video():
                config.issue_config_time_warning(
                    Veo3Warning(
                        f"veo3: recording from the Gemini API with google-genai "
                        f"{_sdk.sdk_version()}, which cannot submit there: new submits fail "
                        "(polls and downloads of earlier jobs record); record from Vertex AI "
                        "with --veo3-backend=vertex, or install google-genai<3"
                    ),
                    stacklevel=2,
                )
    config.stash[SETTINGS_KEY] = settings


def pytest_report_header(config: pytest.Config) -> str:
    settings = config.stash[SETTINGS_KEY]
    where = f" against {settings.base_url}" if settings.base_url else ""
    source = f" from {settings.backend}" if settings.recording else ""
    line = (
        f"veo3: record mode {settings.record_mode}{source}{where}, "
        f"cassettes in {settings.cassette_dir}"
    )
    if settings.recording:
        # Only recording stores bodies, so only then do these two settings matter.
        line += f", bodies over {settings.body_threshold} bytes to files"
        if settings.shrink_videos:
            line += ", videos shrunk"
    return line


# -- fixtures: override points ---------------------------------------------------------------


@pytest.fixture
def veo3_cassette_dir(request: pytest.FixtureRequest) -> Path:
    """Directory of your veo3 cassettes (override to change it per module)."""
    return request.config.stash[SETTINGS_KEY].cassette_dir


@pytest.fixture
def veo3_record_mode(request: pytest.FixtureRequest) -> str:
    """The record mode for this test: none, once, new_episodes or all."""
    return request.config.stash[SETTINGS_KEY].record_mode


@pytest.fixture
def veo3_cassette_name(request: pytest.FixtureRequest, veo3_cassette_dir: Path) -> str:
    """The cassette this test uses: the veo3_cassette marker's name, else <module>/<test>.

    Several marker names (a composition) read as one, joined with ``+``."""
    from ._compose import marker_names

    names, _allow = marker_names(request.node.get_closest_marker("veo3_cassette"))
    if names:
        return "+".join(names)
    return default_cassette_name(
        request.node.nodeid, Path(request.node.path), veo3_cassette_dir, request.config.rootpath
    )


# -- fixtures: the doubles -------------------------------------------------------------------


@pytest.fixture
def fake_veo3(request: pytest.FixtureRequest) -> Iterator[FakeVeo3Adapter]:
    """A fresh in-memory FakeVeo3Adapter, scripted by the veo3_fake marker; waits are virtual."""
    from veo3_adapter import FakeVeo3Adapter
    from veo3_adapter.clock import virtual_time

    marker = request.node.get_closest_marker("veo3_fake")
    default: FakeOutcome | None = None
    outcomes: dict[str, FakeOutcome] = {}
    if marker is not None:
        if marker.args:
            raise pytest.UsageError("veo3_fake takes keyword arguments only")
        unknown = sorted(set(marker.kwargs) - set(_FAKE_MARKER_KWARGS))
        if unknown:
            raise pytest.UsageError(
                f"veo3_fake marker: unknown keyword argument(s) {', '.join(unknown)}; "
                f"valid: {', '.join(_FAKE_MARKER_KWARGS)}"
            )
        try:
            default, outcomes = _fake_script(**marker.kwargs)
        except TypeError as exc:
            raise pytest.UsageError(f"veo3_fake marker: {exc}") from None
    with virtual_time():
        yield FakeVeo3Adapter(outcomes, default=default)


def _fake_script(
    *,
    default: str | FakeOutcome = "success",
    outcomes: Mapping[str, str | FakeOutcome] | None = None,
    polls: int = 0,
) -> tuple[FakeOutcome, dict[str, FakeOutcome]]:
    return _outcome(default, polls), {
        variant: _outcome(value, polls) for variant, value in (outcomes or {}).items()
    }


def _outcome(value: str | FakeOutcome, polls: int) -> FakeOutcome:
    from veo3_adapter import FakeOutcome

    if isinstance(value, FakeOutcome):
        return value
    try:
        return FakeOutcome.named(value, polls=polls)
    except ValueError as exc:  # fake_veo3 reports a TypeError as the marker's misuse
        raise TypeError(str(exc)) from None


@pytest.fixture
def veo3_cassette(
    request: pytest.FixtureRequest,
    veo3_cassette_dir: Path,
    veo3_record_mode: str,
    veo3_cassette_name: str,
) -> Iterator[VeoCassette]:
    """The open cassette behind recorded_veo3 (play counts, provenance, path)."""
    from veo3_adapter._secrets import Secret, env_secrets

    from ._compose import CompositionError, composed, keep_submit_order, marker_names
    from ._recording import gemini_submit_problem
    from ._replay import unplayed, unplayed_failure
    from .cassette import RecordMode, open_cassette
    from .scenarios import builtin_cassette

    settings = request.config.stash[SETTINGS_KEY]
    mode = RecordMode.parse(veo3_record_mode)
    names, allow = marker_names(request.node.get_closest_marker("veo3_cassette"))
    allowed = settings.allow_unplayed if allow is None else allow
    own = veo3_cassette_dir / f"{veo3_cassette_name}.yaml"
    builtin = None
    if mode is RecordMode.NONE and not own.is_file():
        builtin = builtin_cassette(veo3_cassette_name)
    hint: str | Callable[[], str] = _hint(request.node.nodeid, settings, builtin or own)
    owners: Sequence[str] = ()
    with contextlib.ExitStack() as stack:
        if len(names) > 1:  # one cassette per submit: replayed from a composition of them
            try:
                own, owners = composed(names, mode, veo3_cassette_dir, stack)
            except CompositionError as exc:
                raise pytest.UsageError(str(exc)) from None
            builtin, hint = None, ""
        recording = _recording(settings, mode, own)
        request.node.stash[RECORDING_KEY] = recording
        if mode is RecordMode.NONE:
            stack.enter_context(loopback_only(request.node.nodeid))
        cassette = stack.enter_context(
            open_cassette(
                builtin or own,
                mode=mode,
                # Every key in the environment is scrubbed, not only the one in use.
                secrets=recording.secrets if recording else tuple(map(Secret, env_secrets())),
                body_threshold=settings.body_threshold,
                shrink_videos=settings.shrink_videos,
                source=recording.source if recording else "live",
                base_url=recording.base_url if recording else settings.base_url or _gemini_base(),
                rerecord_hint=hint,
                # A built-in scenario answers any prompt; your own cassette, the one recorded.
                match_body=builtin is None,
                backend=recording.backend if recording else None,
                names=recording.names if recording else None,
            )
        )
        if recording is None:
            problem = gemini_submit_problem(cassette, veo3_cassette_name)
            if problem and not allowed:  # its recorded submit stays unplayed: it cannot pass
                pytest.fail(problem, pytrace=False)
            if problem:  # its polls and downloads may be all the test wants
                warnings.warn(Veo3Warning(problem), stacklevel=2)
        if len(names) > 1:
            keep_submit_order(cassette)
        yield cassette
    call_failed = request.node.stash.get(CALL_FAILED_KEY, None)
    if cassette.misses and not call_failed:
        # The miss was caught by the code under test; the test must not pass on it.
        more = len(cassette.misses) - 1
        pytest.fail(
            "veo3: the code under test caught a request the cassette could not answer:\n"
            + cassette.misses[0]
            + (f"\n  ({more} more)" if more else ""),
            pytrace=False,
        )
    left = [] if allowed or call_failed is not False else unplayed(cassette.cassette, owners)
    if left:  # strict replay: the code under test stopped before the recording's end
        pytest.fail(unplayed_failure(cassette.path, left, len(cassette.cassette)), pytrace=False)


def _hint(nodeid: str, settings: Settings, path: Path) -> Callable[[], str]:
    """How to record the cassette at ``path`` (a built-in: your own of that name) from the
    backend it holds, or from the session's when it does not exist; worked out on a miss."""

    def hint() -> str:
        from ._backends import CassetteBackend
        from ._recording import rerecord_hint, session_backend
        from .cassette import cassette_metadata
        from .scenarios import builtin_cassette

        exists = path.is_file()
        if exists:
            backend = CassetteBackend.from_metadata(cassette_metadata(path))
        else:
            backend = session_backend(settings, _api_key_from_env)
        flag = "all" if exists and path != builtin_cassette(path.stem) else "once"
        return rerecord_hint(nodeid, flag, backend, settings)

    return hint


def _recording(settings: Settings, mode: RecordMode, path: Path) -> Recording | None:
    """What the cassette at ``path`` records from, ``None`` when it replays (``none``, or
    ``once`` on a cassette that exists); a usage error for one it must not record into."""
    from ._recording import RecordingError, recording_for
    from .cassette import RecordMode, cassette_backend

    exists = path.is_file()
    if mode is RecordMode.NONE or (mode is RecordMode.ONCE and exists):
        return None
    was = cassette_backend(path) if exists else settings.backend
    if was != settings.backend:  # checked before any credential is loaded
        if mode is RecordMode.ALL:
            why = f"recording {settings.backend} over it would lose that recording"
        else:
            why = f"recording {settings.backend} into it would mix two backends in one cassette"
        raise pytest.UsageError(
            f"veo3: {path} was recorded from {was}; {why}: record it with "
            f"--veo3-backend={was}, replay it, or delete it first"
        )
    try:
        return recording_for(settings)
    except RecordingError as exc:
        raise pytest.UsageError(str(exc)) from None


@pytest.fixture
def recorded_veo3(
    request: pytest.FixtureRequest, veo3_cassette: VeoCassette
) -> Iterator[RecordedVeo3]:
    """The real adapter (GeminiVeo3Adapter or VertexVeo3Adapter) on vcrpy-replayed HTTP.

    Replay builds the adapter the cassette's metadata names (Vertex AI: its location and the
    placeholders for the project and bucket); recording, the session's backend."""
    import httpx

    from veo3_adapter.clock import virtual_time

    from ._backends import replay_adapter

    recording = request.node.stash.get(RECORDING_KEY, None)
    client = httpx.Client(transport=veo3_cassette.transport, follow_redirects=False)
    with client:
        if recording is None:
            # Nothing real is needed: a throwaway key, or credentials whose token is made up
            # at run time (Vertex AI), with the cassette's placeholders and endpoints.
            with virtual_time():
                yield replay_adapter(veo3_cassette.backend, veo3_cassette.base_url, client)
            return
        yield recording.adapter(client)


def _gemini_base() -> str:
    from veo3_adapter import DEFAULT_BASE_URL

    return DEFAULT_BASE_URL


# -- no key in what pytest reports ------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A test on a veo3 cassette reports no key: the SDK's frames hold it in locals that
    ``pytest -l`` prints, and a failure can echo it."""
    report = yield
    if "veo3_cassette" in getattr(item, "fixturenames", ()):
        from ._scrub import scrub_report

        scrub_report(report)
        if report.when == "call":
            item.stash[CALL_FAILED_KEY] = not report.passed
    return report
