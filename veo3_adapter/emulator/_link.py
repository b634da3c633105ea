"""A slower network than loopback: time added before each answer, and a bandwidth per body.

The live service is 150-300 ms away and sends a clip at tens of MB/s; a benchmark or a test
of many jobs at once needs that cost to be there. Every wait goes through the emulator's
``sleep``, so a test with a recording sleep stays in virtual time and a served emulator
(real ``time.sleep``) really is that slow.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ._wire import Cut, Reply

__all__ = ["Link"]


@dataclass(frozen=True)
class Link:
    """``latency`` seconds before each answer; each body at ``bandwidth`` bytes per second.

    ``bandwidth`` ``None`` sends bodies as fast as the transport takes them. A body is held
    ``len(chunk) / bandwidth`` before each of its chunks goes out, per request: two
    downloads at once each get the whole bandwidth, as two connections to a CDN would.
    """

    latency: float = 0.0
    bandwidth: float | None = None

    def __post_init__(self) -> None:
        if not math.isfinite(self.latency) or self.latency < 0:
            raise ValueError(
                f"latency must be a non-negative number of seconds, got {self.latency}"
            )
        if self.bandwidth is not None and (
            not math.isfinite(self.bandwidth) or self.bandwidth <= 0
        ):
            raise ValueError(
                f"bandwidth must be a positive number of bytes per second, got {self.bandwidth}"
            )

    def delay(self, sleep: Callable[[float], None]) -> None:
        """Wait the added latency of one request (nothing when it is 0)."""
        if self.latency:
            sleep(self.latency)

    def paced(self, reply: Reply, sleep: Callable[[float], None]) -> Reply:
        """``reply`` with its body held to ``bandwidth`` (itself when there is no limit)."""
        if self.bandwidth is None:
            return reply
        return Reply(reply.status, reply.headers, _Paced(reply, self.bandwidth, sleep))


class _Paced:
    """A body that waits for each chunk's time on the wire before handing it over."""

    def __init__(self, reply: Reply, bandwidth: float, sleep: Callable[[float], None]) -> None:
        self._reply = reply
        self._bandwidth = bandwidth
        self._sleep = sleep

    def __iter__(self) -> Iterator[bytes | Cut]:
        for item in self._reply.chunks():
            if isinstance(item, bytes) and item:
                self._sleep(len(item) / self._bandwidth)
            yield item

    def close(self) -> None:
        self._reply.close()
