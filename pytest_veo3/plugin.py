"""The ``veo3`` pytest plugin: ``fake_veo3`` and ``recorded_veo3`` fixtures (``veo3_emulator``
lives in ``_emulator_fixture``).

Loading this module costs almost nothing: google-genai, httpx and vcrpy are imported only
inside the fixtures, when a test asks for one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ._emulator_fixture import veo3_emulator as veo3_emulator  # registered with the plugin
from ._emulator_fixture import veo3_emulator_backend as veo3_emulator_backend
from ._names import default_cassette_name
from ._network import NetworkBlockedError as NetworkBlockedError  # its historical home
from ._network import loopback_only

if TYPE_CHECKING:
    from veo3_adapter import FakeOutcome, FakeVeo3Adapter, GeminiVeo3Adapter, VertexVeo3Adapter

    from .cassette import VeoCassette

RECORD_MODES = ("none", "once", "new_episodes", "all")
DEFAULT_CASSETTE_DIR = "tests/cassettes"
DEFAULT_BODY_THRESHOLD = 64 * 1024

HELP_RECORD_MODE = (
    "when veo3 cassettes may touch the network: none (replay only, the default), once, "
    "new_episodes, all. Recording needs GEMINI_API_KEY."
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


@dataclass(frozen=True)
class Settings:
    """The plugin's resolved configuration for this session."""

    record_mode: str
    cassette_dir: Path
    base_url: str
    shrink_videos: bool
    body_threshold: int
    allow_unplayed: bool = False


SETTINGS_KEY = pytest.StashKey[Settings]()
CALL_FAILED_KEY = pytest.StashKey[bool]()
"""Whether a test on a cassette did not pass its call phase (failed, skipped, xfailed): a
caught cassette miss or an unplayed recording then adds nothing. Unset if it never ran."""


# -- options ---------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("veo3", "Veo 3 fixtures (pytest-veo3)")
    group.addoption("--veo3-record-mode", choices=RECORD_MODES, help=HELP_RECORD_MODE)
    group.addoption("--veo3-cassette-dir", metavar="DIR", help=HELP_CASSETTE_DIR)
    group.addoption("--veo3-base-url", metavar="URL", help=HELP_BASE_URL)
    group.addoption("--veo3-shrink-videos", action="store_true", default=None, help=HELP_SHRINK)
    group.addoption("--veo3-body-threshold", type=int, metavar="BYTES", help=HELP_BODY_THRESHOLD)
    parser.addini("veo3_record_mode", HELP_RECORD_MODE, default="none")
    parser.addini("veo3_cassette_dir", HELP_CASSETTE_DIR, default=DEFAULT_CASSETTE_DIR)
    parser.addini("veo3_base_url", HELP_BASE_URL, default="")
    parser.addini("veo3_shrink_videos", HELP_SHRINK, type="bool", default=False)
    parser.addini("veo3_body_threshold", HELP_BODY_THRESHOLD, default=str(DEFAULT_BODY_THRESHOLD))
    parser.addini("veo3_allow_unplayed", HELP_ALLOW_UNPLAYED, type="bool", default=False)


def _resolve(config: pytest.Config, name: str, env: str) -> Any:
    """Command line, then environment (VEO3_*), then ini, then the ini default."""
    value = config.getoption(name)
    if value is not None:
        return value
    if os.environ.get(env):
        return os.environ[env]
    return config.getini(name)


def _settings(config: pytest.Config) -> Settings:
    mode = str(_resolve(config, "veo3_record_mode", "VEO3_RECORD_MODE"))
    if mode not in RECORD_MODES:
        raise pytest.UsageError(
            f"veo3: unknown record mode {mode!r}; valid: {', '.join(RECORD_MODES)}"
        )
    directory = Path(str(_resolve(config, "veo3_cassette_dir", "VEO3_CASSETTE_DIR")))
    if not directory.is_absolute():
        directory = config.rootpath / directory
    shrink = _resolve(config, "veo3_shrink_videos", "VEO3_SHRINK_VIDEOS")
    if isinstance(shrink, str):
        shrink = shrink.strip().lower() in ("1", "true", "yes", "on")
    threshold = str(_resolve(config, "veo3_body_threshold", "VEO3_BODY_THRESHOLD"))
    if not threshold.isdigit():
        raise pytest.UsageError(
            f"veo3: body threshold must be a number of bytes, got {threshold!r}"
        )
    return Settings(
        record_mode=mode,
        cassette_dir=directory,
        base_url=str(_resolve(config, "veo3_base_url", "VEO3_BASE_URL") or ""),
        shrink_videos=bool(shrink),
        body_threshold=int(threshold),
        allow_unplayed=bool(config.getini("veo3_allow_unplayed")),  # per project: ini only
    )


def _api_key_from_env() -> str:
    from veo3_adapter._secrets import key_from_env

    return key_from_env()


def pytest_configure(config: pytest.Config) -> None:
    from .scenarios import SCENARIO_CASSETTES

    config.addinivalue_line(
        "markers", MARKER_CASSETTE.format(builtins=", ".join(SCENARIO_CASSETTES))
    )
    config.addinivalue_line("markers", MARKER_FAKE)
    settings = _settings(config)
    if settings.record_mode != "none" and not _api_key_from_env():
        raise pytest.UsageError(
            f"veo3: --veo3-record-mode={settings.record_mode} records real traffic and needs a "
            "key: set GEMINI_API_KEY (against the emulator any value works)"
        )
    config.stash[SETTINGS_KEY] = settings


def pytest_report_header(config: pytest.Config) -> str:
    settings = config.stash[SETTINGS_KEY]
    where = f" against {settings.base_url}" if settings.base_url else ""
    line = f"veo3: record mode {settings.record_mode}{where}, cassettes in {settings.cassette_dir}"
    if settings.record_mode != "none":
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
    from ._replay import unplayed, unplayed_failure
    from .cassette import RecordMode, open_cassette
    from .scenarios import builtin_cassette

    settings = request.config.stash[SETTINGS_KEY]
    mode = RecordMode.parse(veo3_record_mode)
    names, allow = marker_names(request.node.get_closest_marker("veo3_cassette"))
    own = veo3_cassette_dir / f"{veo3_cassette_name}.yaml"
    builtin = None
    if mode is RecordMode.NONE and not own.is_file():
        builtin = builtin_cassette(veo3_cassette_name)
    flag = "all" if own.is_file() else "once"
    hint = f"GEMINI_API_KEY=... pytest '{request.node.nodeid}' --veo3-record-mode={flag}"
    owners: Sequence[str] = ()
    with contextlib.ExitStack() as stack:
        if len(names) > 1:  # one cassette per submit: replayed from a composition of them
            try:
                own, owners = composed(names, mode, veo3_cassette_dir, stack)
            except CompositionError as exc:
                raise pytest.UsageError(str(exc)) from None
            builtin, hint = None, ""
        if mode is RecordMode.NONE:
            stack.enter_context(loopback_only(request.node.nodeid))
        cassette = stack.enter_context(
            open_cassette(
                builtin or own,
                mode=mode,
                # Every key in the environment is scrubbed, not only the one in use.
                secrets=tuple(Secret(s) for s in env_secrets()),
                body_threshold=settings.body_threshold,
                shrink_videos=settings.shrink_videos,
                source="live" if not settings.base_url else f"server at {settings.base_url}",
                base_url=settings.base_url or _default_base_url(),
                rerecord_hint=hint,
                # A built-in scenario answers any prompt; your own cassette, the one recorded.
                match_body=builtin is None,
            )
        )
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
    allowed = settings.allow_unplayed if allow is None else allow
    left = [] if allowed or call_failed is not False else unplayed(cassette.cassette, owners)
    if left:  # strict replay: the code under test stopped before the recording's end
        pytest.fail(unplayed_failure(cassette.path, left, len(cassette.cassette)), pytrace=False)


@pytest.fixture
def recorded_veo3(
    veo3_cassette: VeoCassette, veo3_record_mode: str
) -> Iterator[GeminiVeo3Adapter | VertexVeo3Adapter]:
    """A real GeminiVeo3Adapter whose HTTP traffic is replayed (or recorded) by vcrpy.

    A VertexVeo3Adapter for a cassette whose metadata says it was recorded from Vertex AI,
    built with its location and the placeholders for the project and bucket."""
    import httpx

    from veo3_adapter._secrets import Secret
    from veo3_adapter.clock import virtual_time
    from veo3_adapter.compose import gemini_adapter

    from ._backends import GEMINI, replay_adapter
    from .cassette import RecordMode

    replay = veo3_record_mode == "none"
    backend = veo3_cassette.backend  # (``all`` refuses to record over another backend)
    if not replay and backend.name != GEMINI and veo3_cassette.mode is not RecordMode.ONCE:
        raise pytest.UsageError(
            f"veo3: {veo3_cassette.path} was recorded from {backend.name}; recorded_veo3 "
            "records the Gemini API only: replay it (--veo3-record-mode=none or once), or "
            "record the built-in scenarios again with python -m pytest_veo3.scenarios"
        )
    replay = replay or backend.name != GEMINI  # a Vertex AI cassette is only ever replayed
    client = httpx.Client(transport=veo3_cassette.transport, follow_redirects=False)
    timing = virtual_time() if replay else contextlib.nullcontext()
    with timing, client:
        if replay:
            # Nothing real is needed: a throwaway key, or credentials whose token is made up
            # at run time (Vertex AI), with the cassette's placeholders and endpoints.
            yield replay_adapter(backend, veo3_cassette.base_url, client)
            return
        # Held as a Secret: a failing setup shown with its locals (pytest -l) does not show it.
        key = Secret(_api_key_from_env())
        yield gemini_adapter(
            key.reveal(), base_url=veo3_cassette.base_url or _default_base_url(), http_client=client
        )


def _default_base_url() -> str:
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
