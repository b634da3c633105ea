"""``veo3 emulator``: the Gemini API emulator as a server process, and its scenario list."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import re
import sys
from collections.abc import Sequence

from ..emulator import SCENARIO_DESCRIPTIONS, SCENARIO_NAMES
from ._common import EXIT_OK, UsageError, is_loopback_host, one_line

__all__ = ["ListScenarios", "cmd_emulator", "exposure_warning"]

KEY_VARIABLE = "VEO3_EMULATOR_KEY"
PREFIX = "veo3 emulator: "


def cmd_emulator(args: argparse.Namespace) -> int:
    from ..emulator import Emulator, Scenario, serve_forever

    try:
        scenario = Scenario.named(args.scenario)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    key = os.environ.get(KEY_VARIABLE) or None
    warning = exposure_warning(args.host, keyed=key is not None)
    if warning:
        print(PREFIX + warning, file=sys.stderr, flush=True)
    emulator = Emulator(
        api_key=key,
        default=scenario,
        latency=args.latency,
        bandwidth=args.bandwidth,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LogFormat())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    try:
        serve_forever(emulator, host=args.host, port=args.port, download_port=args.download_port)
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}; pick another --port"
        ) from exc
    return EXIT_OK


def exposure_warning(host: str, *, keyed: bool) -> str:
    """What serving on ``host`` exposes, or ``""`` on loopback."""
    if is_loopback_host(host):
        return ""
    where = "every network interface" if _every_interface(host) else host
    guard = (
        f"the key it checks ({KEY_VARIABLE}) travels as plain HTTP, so it guards nothing"
        if keyed
        else f"it takes any key ({KEY_VARIABLE} is not set)"
    )
    return (
        f"warning: serving on {where} ({host}), not loopback: any machine that reaches this "
        f"one can use the emulator; {guard}"
    )


def _every_interface(host: str) -> bool:
    if not host.strip("[]"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


class _LogFormat(logging.Formatter):
    """One line per record under the command's own prefix (the emulator's messages say
    "emulator" already), warnings labelled as such."""

    _OWN_NAME = re.compile(r"^(?:veo )?emulator:? ", re.IGNORECASE)

    def format(self, record: logging.LogRecord) -> str:
        message = self._OWN_NAME.sub("", record.getMessage(), count=1)
        level = f"{record.levelname.lower()}: " if record.levelno >= logging.WARNING else ""
        return f"{PREFIX}{level}{one_line(message)}"


class ListScenarios(argparse.Action):
    """``--list-scenarios``: print each scenario's name and what it does, then exit."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[object] | None,
        option_string: str | None = None,
    ) -> None:
        width = max(map(len, SCENARIO_NAMES))
        for name in SCENARIO_NAMES:
            print(f"{name:<{width}}  {SCENARIO_DESCRIPTIONS[name]}")
        parser.exit()
