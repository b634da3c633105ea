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
from ._scenario import DEFAULT_RAI_REASON, Scenario
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
    samples: int = 1
    """The videos the submit asked for (``sampleCount``)."""
    file_ids: tuple[str, ...] = ()
    """The file of each video generated, ``file_id`` first (more than one: ``sampleCount``)."""
    sample_bodies: dict[int, int] = field(default_factory=dict)
    """Responses that started sending a video, by video (0 is the first)."""
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

    def seed_of(self, sample: int) -> str:
        """What video ``sample``'s bytes are made from: each video has bytes of its own."""
        return self.video_seed if sample == 0 else f"{self.video_seed}~{sample + 1}"

    def token_of(self, sample: int) -> str:
        """The signature of video ``sample``'s URL on the second origin."""
        if sample == 0:
            return self.token
        return hashlib.sha256(f"{self.name}:{self.file_ids[sample]}".encode()).hexdigest()[:32]

    def sample_of(self, file_id: str) -> int:
        """Which of the operation's videos the file ``file_id`` is (0: the first)."""
        return self.file_ids.index(file_id) if file_id in self.file_ids else 0

    @property
    def filtered(self) -> int:
        """How many of the videos asked for the safety filters removed."""
        if self.scenario.operation_error is not None:
            return 0
        if self.scenario.rai_reasons is not None:
            return max(self.samples, len(self.scenario.rai_reasons), 1)
        return min(self.scenario.filtered_samples, self.samples)

    @property
    def filter_reasons(self) -> list[str]:
        """Why the safety filters removed videos, as the answer lists it."""
        reasons = self.scenario.rai_reasons
        return list(reasons if reasons is not None else (DEFAULT_RAI_REASON,))

    @property
    def videos(self) -> int:
        """How many videos the operation finishes with."""
        if self.scenario.operation_error is not None or self.scenario.rai_reasons is not None:
            return 0
        return self.samples - self.filtered

    @property
    def done(self) -> bool:
        """True once a poll has reported the operation finished."""
        return self.done_at is not None

    @property
    def has_video(self) -> bool:
        """True when the operation finishes with a video (no error, not safety-filtered)."""
        return self.videos > 0


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
        samples: int = 1,
    ) -> OperationState:
        """Register a new operation (and the file of each of its videos) for ``model``.

        ``name`` replaces the Gemini API's ``models/{model}/operations/{id}`` (Vertex AI's
        operations are named under their project and location); ``inputs`` is the digest of
        the submit's inputs; ``samples`` the number of videos asked for.
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
                samples=samples,
                file_ids=(file_id,),
            )
            self.files[file_id] = state
            # The ids of the other videos come after the operation's: a one-video operation
            # draws the ids it always did.
            for _ in range(1, state.videos):
                state.file_ids += (self._new_id(),)
                self.files[state.file_ids[-1]] = state
            self.operations[name] = state
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

    def video_hash(self, state: OperationState, sample: int = 0) -> str:
        """The ``X-Goog-Hash`` of the operation's video ``sample``, computed once."""
        with self.lock:
            file_id = state.file_ids[sample] if state.file_ids else state.file_id
            cached = self._hashes.get(file_id)
            if cached is None:
                scenario = state.scenario
                seed = state.seed_of(sample)
                cached = crc32c_of(iter_video(scenario.size, seed, scenario.chunk_size))
                self._hashes[file_id] = cached
            return cached

    def record(self, record: RequestRecord) -> None:
        with self.lock:
            self.requests.append(record)
