"""What the emulator remembers: its origins, scripts, operations and what it was sent."""

from __future__ import annotations

import hashlib
import random
import string
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._body import crc32c_of, iter_video
from ._origin import Origin
from ._scenario import Scenario
from ._wire import KeyLeak, RequestRecord

__all__ = ["Bases", "Match", "OperationState", "State"]

Match = str | Callable[[str], bool]
"""A rule's test: a substring of the prompt, or a predicate on it."""

_ID_ALPHABET = string.ascii_lowercase + string.digits  # the SDK rebuilds file URLs with [a-z0-9]+
_ID_LENGTH = 12


@dataclass
class OperationState:
    """One emulated operation and its file, as far as the emulator has taken them."""

    name: str
    model: str
    prompt: str
    parameters: dict[str, Any]
    scenario: Scenario
    file_id: str
    token: str
    inputs: str = ""
    """A digest of the submit's image and video inputs ("" without any): the video's bytes
    are made from it (``video_seed``), so two requests with other inputs get other clips."""
    polls: int = 0
    """Poll requests answered, failures included."""
    poll_failures_served: int = 0
    running_answered: int = 0
    done_at: float | None = None
    """Emulator clock when a poll first reported the operation done."""
    api_downloads: int = 0
    """Requests for the file's URI on the API (the first hop)."""
    media_requests: int = 0
    """Requests for the file at the media server (the hop the redirect names)."""
    media_failures_served: int = 0
    bodies_served: int = 0
    """Responses that started sending the video (200 or 206)."""

    @property
    def video_seed(self) -> str:
        """What the video's bytes are made from: the inputs' digest, else the name."""
        return self.inputs or self.name

    @property
    def done(self) -> bool:
        """True once a poll has reported the operation finished."""
        return self.done_at is not None

    @property
    def has_video(self) -> bool:
        """True when the operation finishes with a video (no error, not safety-filtered)."""
        return self.scenario.operation_error is None and self.scenario.rai_reasons is None


@dataclass
class Bases:
    """The API origin and the second origin, as URLs and as origins."""

    api: str
    download: str
    serving: bool = False
    api_origin: Origin = field(init=False)
    download_origin: Origin = field(init=False)

    def __post_init__(self) -> None:
        api, download = Origin.parse(self.api), Origin.parse(self.download)
        if api is None or download is None:
            raise ValueError(f"not http(s) origins: {self.api!r}, {self.download!r}")
        self.api_origin, self.download_origin = api, download


class State:
    """Everything one emulator holds, behind one re-entrant lock (``lock``)."""

    def __init__(
        self,
        api_key: str | None,
        default: Scenario,
        bases: Bases,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        seed: int | None,
    ) -> None:
        self.api_key = api_key
        self.default = default
        self.bases = bases
        self.clock = clock
        self.sleep = sleep
        self.lock = threading.RLock()
        self.random = random.Random(seed)
        self.queue: deque[Scenario] = deque()
        self.rules: list[tuple[Match, Scenario]] = []
        self.operations: dict[str, OperationState] = {}
        self.files: dict[str, OperationState] = {}
        self.requests: list[RequestRecord] = []
        self.key_leaks: list[KeyLeak] = []
        self.seen_keys: set[str] = set()
        self._hashes: dict[str, str] = {}

    def choose(self, prompt: str) -> Scenario:
        """The scenario for a new submit: a matching rule, else the queue, else the default."""
        with self.lock:
            for match, scenario in self.rules:
                if match(prompt) if callable(match) else match in prompt:
                    return scenario
            if self.queue:
                return self.queue.popleft()
            return self.default

    def start(
        self,
        model: str,
        prompt: str,
        parameters: dict[str, Any],
        scenario: Scenario,
        *,
        name: str | None = None,
        inputs: str = "",
    ) -> OperationState:
        """Register a new operation (and its file) for ``model``.

        ``name`` replaces the Gemini API's ``models/{model}/operations/{id}`` (Vertex AI's
        operations are named under their project and location); ``inputs`` is the digest of
        the submit's inputs.
        """
        with self.lock:
            op_id = self._new_id()
            file_id = self._new_id()
            name = name or f"models/{model}/operations/{op_id}"
            state = OperationState(
                name=name,
                model=model,
                prompt=prompt,
                parameters=dict(parameters),
                scenario=scenario,
                file_id=file_id,
                token=hashlib.sha256(f"{name}:{file_id}".encode()).hexdigest()[:32],
                inputs=inputs,
            )
            self.operations[name] = state
            self.files[file_id] = state
            return state

    def _new_id(self) -> str:
        while True:
            candidate = "".join(self.random.choices(_ID_ALPHABET, k=_ID_LENGTH))
            if candidate not in self.files and not any(
                name.endswith("/" + candidate) for name in self.operations
            ):
                return candidate

    def expired(self, state: OperationState) -> bool:
        """True once the file's time to live has passed on the emulator clock."""
        ttl = state.scenario.file_ttl
        return ttl is not None and state.done_at is not None and self.clock() - state.done_at >= ttl

    def video_hash(self, state: OperationState) -> str:
        """The ``X-Goog-Hash`` of the operation's video, computed once."""
        with self.lock:
            cached = self._hashes.get(state.file_id)
            if cached is None:
                scenario = state.scenario
                cached = crc32c_of(iter_video(scenario.size, state.video_seed, scenario.chunk_size))
                self._hashes[state.file_id] = cached
            return cached

    def record(self, record: RequestRecord) -> None:
        with self.lock:
            self.requests.append(record)
