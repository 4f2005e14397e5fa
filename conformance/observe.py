"""What the live tester observes, and the named checks over it.

The tester owns both eventfds, so it counts every ring it reads (an eventfd read
returns the number of writes since the last read) and can *peek* whether a ring
is pending (``poll`` for readable does not reset the counter). :class:`Watchdog`
turns samples of the shared state into the lost-wakeup verdict: the observable
bad state (consumer SLEEPING, queue non-empty, no interrupt pending) held for
longer than the watchdog period.

>>> w = Watchdog(0.25)
>>> w.sample(bad=True, now=1.0, what="head 3 tail 4"), w.sample(bad=True, now=1.3, what="head 3 tail 4")
(None, 'bad state for 0.30 s: head 3 tail 4')
>>> check_sequence([0, 1, 2, 3], [0, 1, 3, 3])
'request 2 lost: expected id 2 at position 2, got 3'
>>> check_sequence([0, 1], [0, 1]) is None, torn((7 << 32) | 6)
(True, True)
"""

from __future__ import annotations

import contextlib
import os
import select
from collections.abc import Sequence
from dataclasses import dataclass, field

from intervm.impl.access import Fence
from intervm.impl.region import Region

M32 = 0xFFFF_FFFF


@dataclass
class Bells:
    """The tester's eventfds, with counts of rings sent and rings received."""

    fds: dict[str, int]
    sent: dict[str, int] = field(default_factory=dict)
    received: dict[str, int] = field(default_factory=dict)

    @classmethod
    def create(cls) -> Bells:
        flags = os.EFD_NONBLOCK | os.EFD_CLOEXEC
        return cls({name: os.eventfd(0, flags) for name in ("irq", "done")})

    def notify(self, name: str) -> None:
        with contextlib.suppress(BlockingIOError):  # saturated by a hostile peer: still rung
            os.eventfd_write(self.fds[name], 1)
        self.sent[name] = self.sent.get(name, 0) + 1

    def take(self, name: str) -> int:
        """Read and reset the counter without blocking; the number of rings since last read."""
        try:
            n = os.eventfd_read(self.fds[name])
        except BlockingIOError:
            return 0
        self.received[name] = self.received.get(name, 0) + n
        return n

    def pending(self, name: str) -> bool:
        """True if ``name`` was rung and not yet read (does not reset it)."""
        ready, _, _ = select.select([self.fds[name]], [], [], 0)
        return bool(ready)

    def wait(self, name: str, timeout: float) -> bool:
        ready, _, _ = select.select([self.fds[name]], [], [], max(0.0, timeout))
        return bool(ready) and self.take(name) > 0

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)


class TesterAccess:
    """The tester's side of the region: plain loads/stores, doorbells counted in :class:`Bells`."""

    def __init__(self, region: Region, bells: Bells) -> None:
        self.region = region
        self.bells = bells

    def load(self, field: str, index: int | None = None) -> int:
        return self.region.load(field, index)

    def store(self, field: str, value: int, index: int | None = None) -> None:
        self.region.store(field, value, index)

    def fence(self, kind: Fence = Fence.FULL) -> None:
        self.region.fence(kind)

    def rmw_add(self, field: str, delta: int, index: int | None = None) -> int:
        return self.region.rmw_add(field, delta, index)

    def notify(self, doorbell: str) -> None:
        self.bells.notify(doorbell)

    def wait(self, doorbell: str, timeout: float) -> bool:
        return self.bells.wait(doorbell, timeout)


@dataclass
class Watchdog:
    """Fires when a bad state persists for ``period_s`` across consecutive samples."""

    period_s: float
    since: float | None = None
    what: str = ""

    def sample(self, bad: bool, now: float, what: str = "") -> str | None:
        """Feed one sample; returns a one-line finding once the bad state lasted the period."""
        if not bad or what != self.what:
            self.since = now if bad else None
            self.what = what if bad else ""
            return None
        assert self.since is not None
        held = now - self.since
        return f"bad state for {held:.2f} s: {what}" if held >= self.period_s else None


def check_sequence(expected: Sequence[int], got: Sequence[int]) -> str | None:
    """None if ``got`` is exactly ``expected``; else the first loss, duplicate or reordering."""
    seen: set[int] = set()
    for i, rid in enumerate(got):
        if i >= len(expected):
            what = "duplicated" if rid in seen else "never submitted (or extra)"
            return f"id {rid} at position {i} {what}: only {len(expected)} ids were submitted"
        if rid != expected[i]:
            if rid in seen:
                return f"request {rid} duplicated at position {i} (expected id {expected[i]})"
            if rid in expected[i + 1:]:
                return f"request {expected[i]} lost: expected id {expected[i]} at position {i}, got {rid}"
            return f"id {rid} at position {i} was never submitted (expected {expected[i]})"
        seen.add(rid)
    if len(got) < len(expected):
        return (f"{len(expected) - len(got)} of {len(expected)} requests lost; first missing id "
                f"{expected[len(got)]}")
    return None


def torn(tick: int) -> bool:
    """A published tick is ``k << 32 | k``; a value whose halves differ was torn."""
    return (tick >> 32) != (tick & M32)


def publish_id(tick: int) -> int:
    """The publish number k of a (non-torn) tick."""
    return tick & M32


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-quantile (0..1) by nearest rank; 0.0 for no values."""
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]
