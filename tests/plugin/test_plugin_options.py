"""Options, ini keys, VEO3_* variables, their precedence, the report header, usage errors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from _kit.plugin import BACKEND, run_subprocess

from veo3_adapter import _sdk


@dataclass(frozen=True)
class Header:
    """The ``veo3:`` report header line, built the way the plugin must print it."""

    mode: str = "none"
    base_url: str = ""
    cassettes: str = "tests/cassettes"
    threshold: int = 65536
    shrink: bool = False
    backend: str = BACKEND

    def line(self, root: Path) -> str:
        where = f" against {self.base_url}" if self.base_url else ""
        source = f" from {self.backend}" if self.mode != "none" else ""
        text = f"veo3: record mode {self.mode}{source}{where}, cassettes in {root / self.cassettes}"
        if self.mode != "none":
            text += f", bodies over {self.threshold} bytes to files"
            if self.shrink:
                text += ", videos shrunk"
        return text


@dataclass(frozen=True)
class Level:
    """One option set at one level: ini file, environment, command line."""

    ini: str = ""
    env: str = ""
    cli: tuple[str, ...] = ()


# For each option: what setting it at each level (on top of the levels below) must show.
# Every level changes the header, so a level that is ignored, or read in the wrong order,
# fails its case.
_CASES: dict[str, list[tuple[str, Level, Header]]] = {
    "record_mode": [
        ("default", Level(), Header()),
        ("ini", Level(ini="once"), Header(mode="once")),
        ("env", Level(ini="once", env="new_episodes"), Header(mode="new_episodes")),
        (
            "cli",
            Level(ini="once", env="new_episodes", cli=("--veo3-record-mode=all",)),
            Header(mode="all"),
        ),
    ],
    "cassette_dir": [
        ("default", Level(), Header()),
        ("ini", Level(ini="ini-cassettes"), Header(cassettes="ini-cassettes")),
        ("env", Level(ini="ini-cassettes", env="env-cassettes"), Header(cassettes="env-cassettes")),
        (
            "cli",
            Level(ini="ini-cassettes", env="env-cassettes", cli=("--veo3-cassette-dir=cli-c",)),
            Header(cassettes="cli-c"),
        ),
    ],
    "base_url": [
        ("default", Level(), Header()),
        ("ini", Level(ini="http://127.0.0.1:1111"), Header(base_url="http://127.0.0.1:1111")),
        (
            "env",
            Level(ini="http://127.0.0.1:1111", env="http://127.0.0.1:2222"),
            Header(base_url="http://127.0.0.1:2222"),
        ),
        (
            "cli",
            Level(
                ini="http://127.0.0.1:1111",
                env="http://127.0.0.1:2222",
                cli=("--veo3-base-url", "http://127.0.0.1:3333"),
            ),
            Header(base_url="http://127.0.0.1:3333"),
        ),
    ],
    # Shrinking and the threshold only matter (and only show) while recording.
    "shrink_videos": [
        ("default", Level(), Header(mode="once")),
        ("ini", Level(ini="true"), Header(mode="once", shrink=True)),
        ("env", Level(ini="true", env="0"), Header(mode="once")),
        (
            "cli",
            Level(ini="true", env="0", cli=("--veo3-shrink-videos",)),
            Header(mode="once", shrink=True),
        ),
    ],
    # The backend shows while recording: what the session records from.
    "backend": [
        ("default", Level(), Header(mode="once")),
        ("ini", Level(ini="vertex"), Header(mode="once", backend="vertex")),
        ("env", Level(ini="vertex", env="gemini"), Header(mode="once", backend="gemini")),
        (
            "cli",
            Level(ini="vertex", env="gemini", cli=("--veo3-backend=vertex",)),
            Header(mode="once", backend="vertex"),
        ),
    ],
    "body_threshold": [
        ("default", Level(), Header(mode="once")),
        ("ini", Level(ini="100"), Header(mode="once", threshold=100)),
        ("env", Level(ini="100", env="200"), Header(mode="once", threshold=200)),
        (
            "cli",
            Level(ini="100", env="200", cli=("--veo3-body-threshold", "300")),
            Header(mode="once", threshold=300),
        ),
    ],
}


@pytest.mark.parametrize(
    ("option", "level", "expected"),
    [
        pytest.param(option, level, expected, id=f"{option}-{name}")
        for option, cases in _CASES.items()
        for name, level, expected in cases
    ],
)
def test_option_precedence_is_command_line_then_env_then_ini_then_default(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    canary: str,
    option: str,
    level: Level,
    expected: Header,
) -> None:
    if level.ini:
        pytester.makeini(f"[pytest]\nveo3_{option} = {level.ini}\n")
    if level.env:
        monkeypatch.setenv(f"VEO3_{option.upper()}", level.env)
    args = list(level.cli)
    if expected.mode != "none":
        monkeypatch.setenv("GEMINI_API_KEY", canary)
        if option != "record_mode":
            args.append("--veo3-record-mode=once")
    # --strict-config: every veo3_* ini key is registered.
    result = pytester.runpytest_inprocess("--strict-config", *args)
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED, result.stderr.str()
    header = [line for line in result.stdout.lines if line.startswith("veo3:")]
    assert header == [expected.line(pytester.path)]


def test_help_lists_every_option_in_the_veo3_group_and_every_ini_key(
    pytester: pytest.Pytester,
) -> None:
    result = pytester.runpytest_inprocess("--help")
    result.stdout.fnmatch_lines(
        [
            "Veo 3 fixtures (pytest-veo3):",
            "*--veo3-record-mode={none,once,new_episodes,all}",
            "*--veo3-cassette-dir=DIR*",
            "*--veo3-base-url=URL*",
            "*--veo3-shrink-videos*",
            "*--veo3-body-threshold=BYTES*",
            "*--veo3-backend={gemini,vertex}*",
            "*--veo3-project=PROJECT*",
            "*--veo3-location=REGION*",
            "*--veo3-output-gcs-uri=URI*",
        ]
    )
    for key in (
        "record_mode",
        "cassette_dir",
        "base_url",
        "shrink_videos",
        "body_threshold",
        "backend",
        "project",
        "location",
        "output_gcs_uri",
    ):
        result.stdout.fnmatch_lines([f"  veo3_{key} (*"])


# Vertex AI's settings: the standard Google Cloud variables are their environment level.
_VERTEX_LEVELS = {
    "project": ("GOOGLE_CLOUD_PROJECT", "ini-project", "env-project", "cli-project"),
    "location": ("GOOGLE_CLOUD_LOCATION", "europe-west4", "us-east4", "asia-northeast1"),
    "output_gcs_uri": ("VEO3_OUTPUT_GCS_URI", "gs://ini/a/", "gs://env/b/", "gs://cli/c/"),
}
_SHOW_SETTINGS = """
def test_settings(pytestconfig):
    from pytest_veo3._options import SETTINGS_KEY

    settings = pytestconfig.stash[SETTINGS_KEY]
    print("SETTING", getattr(settings, {name!r}))
"""


@pytest.mark.parametrize("levels", [1, 2, 3])
@pytest.mark.parametrize("name", list(_VERTEX_LEVELS))
def test_vertex_settings_come_from_the_command_line_then_the_environment_then_the_ini(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, name: str, levels: int
) -> None:
    variable, ini, env, cli = _VERTEX_LEVELS[name]
    pytester.makeini(f"[pytest]\nveo3_{name} = {ini}\n")
    args: list[str] = []
    if levels > 1:
        monkeypatch.setenv(variable, env)
    if levels > 2:
        args.append(f"--veo3-{name.replace('_', '-')}={cli}")
    pytester.makepyfile(_SHOW_SETTINGS.format(name=name))
    result = pytester.runpytest_inprocess("-s", "--strict-config", *args)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*SETTING {(ini, env, cli)[levels - 1]}"])


def test_env_shrink_flag_accepts_the_usual_spellings(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, canary: str
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", canary)
    for value, shrunk in (("1", True), ("yes", True), ("TRUE", True), ("no", False)):
        monkeypatch.setenv("VEO3_SHRINK_VIDEOS", value)
        result = pytester.runpytest_inprocess("--veo3-record-mode=once")
        assert (", videos shrunk" in result.stdout.str()) is shrunk, value


# -- usage errors ----------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["cli", "env", "ini"])
def test_record_mode_without_a_key_is_a_usage_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    args: list[str] = []
    if where == "cli":
        args.append("--veo3-record-mode=once")
    elif where == "env":
        monkeypatch.setenv("VEO3_RECORD_MODE", "once")
    else:
        pytester.makeini("[pytest]\nveo3_record_mode = once\n")
    pytester.makepyfile("def test_never_runs(): pass")
    args.append("--veo3-backend=gemini")
    # Once as a real process: the exit code is what a shell or CI sees.
    if where == "cli":
        result = run_subprocess(pytester, *args)
    else:
        result = pytester.runpytest_inprocess(*args)
    assert int(result.ret) == 4  # pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*veo3: --veo3-record-mode=once records real traffic and needs a key: "
            "set GEMINI_API_KEY (against the emulator any value works)"
        ]
    )
    result.stdout.no_fnmatch_line("*test_never_runs*")


@pytest.mark.parametrize(
    ("args", "key", "message"),
    [
        (
            (),
            False,
            "veo3: --veo3-record-mode=once records real traffic from Vertex AI and needs a "
            "project (--veo3-project or GOOGLE_CLOUD_PROJECT; credentials from Application "
            "Default Credentials) or, for express mode, a key in GEMINI_API_KEY",
        ),
        (
            ("--veo3-project=p", "--veo3-output-gcs-uri=my-bucket/renders"),
            False,
            "veo3: output GCS URI my-bucket/renders is not a Cloud Storage URI; "
            "pass gs://BUCKET/PREFIX/",
        ),
        (
            ("--veo3-location=europe-west4",),
            True,
            "veo3: a location (europe-west4) needs a project: Vertex AI express mode (a key, "
            "no project) has no location or bucket; set --veo3-project or GOOGLE_CLOUD_PROJECT",
        ),
        (
            ("--veo3-output-gcs-uri=gs://b/",),
            True,
            "veo3: an output GCS URI (gs://b/) needs a project: *",
        ),
    ],
    ids=["no-credential", "not-gs", "express-location", "express-bucket"],
)
def test_recording_from_vertex_needs_a_project_or_a_key_and_settings_that_fit(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    canary: str,
    args: tuple[str, ...],
    key: bool,
    message: str,
) -> None:
    if key:
        monkeypatch.setenv("GEMINI_API_KEY", canary)
    result = pytester.runpytest_inprocess("--veo3-record-mode=once", "--veo3-backend=vertex", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}"])
    assert canary not in result.stdout.str() + result.stderr.str()


@pytest.mark.parametrize("version", ["2.34.0", "3.6.1"])
def test_recording_from_the_gemini_api_on_google_genai_3_warns_that_submits_fail(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, canary: str, version: str
) -> None:
    monkeypatch.setattr(_sdk, "sdk_version", lambda: version)
    monkeypatch.setenv("GEMINI_API_KEY", canary)
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest_inprocess("--veo3-record-mode=once", "--veo3-backend=gemini")
    result.assert_outcomes(passed=1)
    warned = (
        f"*Veo3Warning: veo3: recording from the Gemini API with google-genai {version}, "
        "which cannot submit there: new submits fail *"
    )
    if version.startswith("3."):
        result.stdout.fnmatch_lines([warned])
    else:
        result.stdout.no_fnmatch_line(warned)


def test_an_unknown_backend_in_the_environment_lists_the_valid_ones(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VEO3_BACKEND", "bedrock")
    result = pytester.runpytest_inprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*veo3: unknown backend 'bedrock'; valid: gemini, vertex"])


def test_google_api_key_also_satisfies_record_mode(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, canary: str
) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", canary)
    result = pytester.runpytest_inprocess("--veo3-record-mode=once")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert canary not in result.stdout.str() + result.stderr.str()


def test_unknown_record_mode_on_the_command_line_lists_the_valid_ones(
    pytester: pytest.Pytester,
) -> None:
    result = pytester.runpytest_inprocess("--veo3-record-mode=sometimes")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--veo3-record-mode: invalid choice: 'sometimes' (choose from *none*once*all*)"]
    )


@pytest.mark.parametrize("where", ["env", "ini"])
def test_unknown_record_mode_from_env_or_ini_lists_the_valid_ones(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    if where == "env":
        monkeypatch.setenv("VEO3_RECORD_MODE", "sometimes")
    else:
        pytester.makeini("[pytest]\nveo3_record_mode = sometimes\n")
    result = pytester.runpytest_inprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*veo3: unknown record mode 'sometimes'; valid: none, once, new_episodes, all"]
    )


@pytest.mark.parametrize("where", ["env", "ini"])
def test_a_body_threshold_that_is_not_a_number_is_a_usage_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    if where == "env":
        monkeypatch.setenv("VEO3_BODY_THRESHOLD", "lots")
    else:
        pytester.makeini("[pytest]\nveo3_body_threshold = lots\n")
    result = pytester.runpytest_inprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*veo3: body threshold must be a number of bytes, got 'lots'"])


def test_a_negative_body_threshold_on_the_command_line_is_refused(
    pytester: pytest.Pytester,
) -> None:
    result = pytester.runpytest_inprocess("--veo3-body-threshold=-5")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*veo3: body threshold must be a number of bytes, got '-5'"])
