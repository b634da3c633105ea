"""Tools for the fault-injection tests: an emulator that can hold or rewrite its answers, a
transport that records what was sent, tree snapshots and a forking helper process.

Imported by conftest and by the test modules (like ``_kit.emulator``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from veo3_adapter.emulator import Emulator, OperationState, Side
from veo3_adapter.emulator._body import iter_video
from veo3_adapter.emulator._wire import Cut, Reply

HELPER = Path(__file__).parents[1] / "faults" / "fork_helper.py"

ServedFactory = Callable[..., "FaultyEmulator"]
"""The ``served`` fixture: start a ``FaultyEmulator`` on loopback sockets."""
TEMP_GLOB = "*.veo3-partial"


# -- an emulator with holds and rewrites --------------------------------------------------------


@dataclass
class Hold:
    """Stops download bodies after ``offset`` bytes until ``release`` is set.

    ``times`` bodies are held (then the hold is spent); ``reached`` is set each time one is.
    The offset counts from the first byte of each body (of a range, for a 206).
    """

    offset: int
    times: int = 1
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    held: int = 0

    def wrap(self, chunks: Iterable[bytes | Cut]) -> Iterator[bytes | Cut]:
        sent = 0
        done = False
        try:
            for item in chunks:
                if not done and isinstance(item, bytes) and sent + len(item) >= self.offset:
                    cut = self.offset - sent
                    if cut:
                        yield item[:cut]
                    self._stop()
                    done = True
                    item = item[cut:]
                    sent += cut
                    if not item:
                        continue
                if isinstance(item, bytes):
                    sent += len(item)
                yield item
            if not done:
                self._stop()
        finally:
            close = getattr(chunks, "close", None)
            if callable(close):
                close()

    def _stop(self) -> None:
        self.held += 1
        self.reached.set()
        # Bounded: a test that forgets to release must not hang the emulator's shutdown.
        self.release.wait(timeout=30)


Rewrite = Callable[[Reply], Reply]


class FaultyEmulator(Emulator):
    """The emulator, plus per-prompt faults that its ``Scenario`` cannot script.

    ``hold(match, offset)`` stops the download body of an operation whose prompt contains
    ``match`` at a byte offset (only when served on sockets: in-process, the hold would stop
    the client's own thread). ``rewrite(match, side, fn)`` replaces the answers to such an
    operation's requests on one side (its submit included). ``echo_key`` makes every API
    error quote the key it was sent.
    """

    def __init__(self, *args: Any, echo_key: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.echo_key = echo_key
        self._holds: list[tuple[str, Hold]] = []
        self._rewrites: list[tuple[str, Side, Rewrite]] = []
        self._fault_lock = threading.Lock()

    def hold(self, match: str, offset: int, times: int = 1) -> Hold:
        hold = Hold(offset, times)
        with self._fault_lock:
            self._holds.append((match, hold))
        return hold

    def rewrite(self, match: str, side: Side, fn: Rewrite) -> None:
        with self._fault_lock:
            self._rewrites.append((match, side, fn))

    def release_all(self) -> None:
        with self._fault_lock:
            for _, hold in self._holds:
                hold.release.set()

    def operation_for(self, target: str) -> OperationState | None:
        """The operation a request path names (by operation or file id), if any."""
        path = target.split("?", 1)[0]
        last = path.rsplit("/", 1)[-1]
        for state in self.operations.values():
            if path.endswith("/" + state.name) or last.split(":")[0] == state.file_id:
                return state
        return None

    def handle(
        self,
        side: Side,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]],
        body: bytes = b"",
    ) -> Reply:
        reply = super().handle(side, method, target, headers, body)
        if side is Side.API and self.echo_key and reply.status >= 400:
            reply = _echo(reply, headers)
        state = self.operation_for(target)
        prompt = state.prompt if state is not None else _submitted_prompt(method, body)
        if prompt is None:
            return reply
        with self._fault_lock:
            rewrites = [fn for match, on, fn in self._rewrites if on is side and match in prompt]
            hold = None
            if side is Side.DOWNLOAD and method == "GET" and reply.status in (200, 206):
                for match, candidate in self._holds:
                    if match in prompt and candidate.times > 0:
                        candidate.times -= 1
                        hold = candidate
                        break
        for fn in rewrites:
            reply = fn(reply)
        if hold is not None:
            reply.body = hold.wrap(reply.chunks())
        return reply


def _submitted_prompt(method: str, body: bytes) -> str | None:
    if method != "POST":
        return None
    try:
        prompt = json.loads(body)["instances"][0]["prompt"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    return prompt if isinstance(prompt, str) else None


def _echo(reply: Reply, headers: Sequence[tuple[str, str]]) -> Reply:
    """The worst server: its error message and details quote the key it was sent."""
    key = next((v for n, v in headers if n.lower() == "x-goog-api-key"), "")
    raw = b"".join(c for c in reply.chunks() if isinstance(c, bytes))
    try:
        payload = json.loads(raw)
        error = payload["error"]
    except (ValueError, KeyError, TypeError):
        return Reply(reply.status, reply.headers, [raw])
    error["message"] = f"{error.get('message', '')} (API key {key} was used)"
    error.setdefault("details", []).append(
        {"@type": "type.googleapis.com/google.rpc.DebugInfo", "detail": f"key={key}"}
    )
    data = json.dumps(payload).encode()
    kept = [(n, v) for n, v in reply.headers if n.lower() != "content-length"]
    return Reply(reply.status, [*kept, ("Content-Length", str(len(data)))], [data])


def json_rewrite(change: Callable[[dict[str, Any]], None]) -> Rewrite:
    """A rewrite that edits a 200 JSON answer (a done operation, say) in place."""

    def apply(reply: Reply) -> Reply:
        if reply.status != 200:
            return reply
        raw = b"".join(c for c in reply.chunks() if isinstance(c, bytes))
        payload = json.loads(raw)
        change(payload)
        data = json.dumps(payload).encode()
        kept = [(n, v) for n, v in reply.headers if n.lower() != "content-length"]
        return Reply(200, [*kept, ("Content-Length", str(len(data)))], [data])

    return apply


def set_video_uri(uri: str) -> Rewrite:
    """Make a done operation point at ``uri`` instead of the emulator's file."""

    def change(payload: dict[str, Any]) -> None:
        if payload.get("done") and "response" in payload:
            samples = payload["response"]["generateVideoResponse"]["generatedSamples"]
            samples[0]["video"]["uri"] = uri

    return json_rewrite(change)


def expected_clip(emulator: Emulator, operation_name: str) -> bytes:
    """The exact bytes the emulator serves for an operation's video."""
    scenario = emulator.operations[operation_name].scenario
    return b"".join(iter_video(scenario.size, operation_name, scenario.chunk_size))


# -- what was sent ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    url: str
    host: str
    with_key: bool


class RecordingTransport(httpx.BaseTransport):
    """Records every request (URL, and whether the key rode along anywhere) before passing it
    on; a request to a host the inner transport does not serve is still recorded."""

    def __init__(self, inner: httpx.BaseTransport, key: str) -> None:
        self.inner = inner
        self.key = key
        self.sent: list[Sent] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raw = str(request.url) + "".join(f"{n}:{v}" for n, v in request.headers.multi_items())
        carried = self.key in raw or self.key.encode() in request.read()
        self.sent.append(Sent(str(request.url), request.url.host, carried))
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


# -- files ------------------------------------------------------------------------------------


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root``: relative path -> (size, mtime_ns)."""
    found: dict[str, tuple[int, int]] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() or path.is_symlink():
            st = path.lstat()
            found[str(path.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return found


def partials(root: Path) -> list[Path]:
    return sorted(root.rglob(TEMP_GLOB))


def secret_forms(secret: str) -> list[bytes]:
    """The secret as bytes, and the base64 runs it leaves inside any base64 text."""
    raw = secret.encode()
    forms = [raw]
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw + b"\0\0\0")
        first = -(-8 * shift // 6)  # the first 6-bit group that starts inside the secret
        last = (8 * (shift + len(raw))) // 6  # the first group that runs past its end
        forms.append(encoded[first:last])
    return forms


def files_holding(root: Path, secret: str) -> list[str]:
    forms = secret_forms(secret)
    return [
        str(path)
        for path in sorted(root.rglob("*"))
        if path.is_file() and any(form in path.read_bytes() for form in forms)
    ]


def wait_until(condition: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        time.sleep(0.001)


# -- the forking helper -----------------------------------------------------------------------


class ForkServer:
    """A ``fork_helper.py`` process: starts pre-imported workers in a millisecond or two."""

    def __init__(self, log: Path) -> None:
        self._log: IO[bytes] = log.open("ab")
        self.log_path = log
        self._proc = subprocess.Popen(
            [sys.executable, str(HELPER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
        )
        self._lock = threading.Lock()

    def _ask(self, request: dict[str, Any], timeout: float = 20.0) -> dict[str, Any]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        with self._lock:
            self._proc.stdin.write(json.dumps(request).encode() + b"\n")
            self._proc.stdin.flush()
            ready, _, _ = select.select([self._proc.stdout], [], [], timeout)
            line = self._proc.stdout.readline() if ready else b""
        if not line:
            raise RuntimeError(f"fork helper did not answer {request!r}; see {self.log_path}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def start(self, task: str, **args: Any) -> int:
        pid: int = self._ask({"start": task, "args": args})["pid"]
        return pid

    def reap(self, pid: int) -> int:
        """Wait for a worker to end; return its wait status."""
        status: int = self._ask({"reap": pid})["status"]
        return status

    def kill(self, pid: int) -> int:
        """SIGKILL a worker and reap it; return its wait status."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        return self.reap(pid)

    def log_text(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def close(self) -> None:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - a stuck helper
            self._proc.kill()
            self._proc.wait()
        self._proc.stdout.close()
        self._log.close()
