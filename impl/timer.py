"""The shared timer: a seqlock-protected two-word tick and a single-word tick.

The timer VM is the only writer. Readers load each word once per attempt,
retry a bounded number of times, and reject time going backwards.

>>> import tempfile, pathlib
>>> from intervm.impl.region import Region
>>> path = pathlib.Path(tempfile.mkdtemp()) / "timer"
>>> acc = Region.create(path, capacity=1)
>>> w = WriterState.attach(acc)
>>> publish(acc, w, (1 << 32) + 5)
>>> r = ReaderState()
>>> read_seqlock(acc, r), read_word(acc, r), acc.load("timer_seq")
(4294967301, 4294967301, 2)
>>> acc.close(); path.unlink()
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from intervm.impl.access import Fence, SharedAccess
from intervm.impl.errors import ProtocolViolation

M32 = 0xFFFF_FFFF


@dataclass
class WriterState:
    """The timer VM's private copy of its sequence word."""

    seq: int

    @classmethod
    def attach(cls, acc: SharedAccess) -> WriterState:
        """Resume from the shared seq, forcing it even (a previous writer may have died mid-write)."""
        seq = acc.load("timer_seq")
        return cls(seq + (seq & 1))


def start(acc: SharedAccess, tick_ns: int) -> None:
    """Announce the tick period (``tick_ns`` > 0) before the first publish."""
    if tick_ns <= 0:
        raise ValueError(f"tick period {tick_ns} ns must be positive")
    acc.store("tick_ns", tick_ns)


def publish(acc: SharedAccess, st: WriterState, tick: int) -> None:
    """Publish ``tick`` in both variants (seqlock words, then the single word)."""
    st.seq = (st.seq + 1) & M32
    acc.store("timer_seq", st.seq)  # odd: writing
    acc.fence(Fence.STORE)
    acc.store("time_lo", tick & M32)
    acc.store("time_hi", (tick >> 32) & M32)
    acc.fence(Fence.STORE)
    st.seq = (st.seq + 1) & M32
    acc.store("timer_seq", st.seq)  # even: stable
    acc.store("time64", tick)


@dataclass
class ReaderState:
    """A reader's last accepted tick (for the monotonicity check) and retry bound.

    A read gives up (a protocol violation) only after ``max_attempts`` attempts *and*
    ``min_wait_s`` seconds without a stable even ``timer_seq``: on a loaded machine a
    writer preempted between its two ``timer_seq`` stores can stay off the CPU for
    far longer than 20,000 attempts take, and that is not a broken writer."""

    last: int = 0
    max_attempts: int = 20_000
    min_wait_s: float = 1.0
    yield_every: int = 32
    retries: int = 0


def _accept(st: ReaderState, field: str, value: int) -> int:
    if value < st.last:
        raise ProtocolViolation(
            field, value, f"time went backwards from {st.last}; the timer writer must be monotone"
        )
    st.last = value
    return value


def read_seqlock(acc: SharedAccess, st: ReaderState) -> int:
    """Read the two-word tick under the seqlock.

    Per attempt each word is loaded once; ``timer_seq`` is loaded twice by
    design (before and after the data), and only those locals are compared.
    """
    seq = 0
    attempt = 0
    gave_up_at: float | None = None  # the clock is read only once the attempts run out
    while True:
        if attempt >= st.max_attempts:
            now = time.monotonic()
            if gave_up_at is None:
                gave_up_at = now
            elif now - gave_up_at >= st.min_wait_s:
                break
        if attempt and attempt % st.yield_every == 0:
            os.sched_yield()  # let a preempted writer finish
        attempt += 1
        seq = acc.load("timer_seq")
        if seq & 1:
            st.retries += 1
            continue
        lo = acc.load("time_lo")
        hi = acc.load("time_hi")
        if acc.load("timer_seq") != seq:
            st.retries += 1
            continue
        return _accept(st, "time_lo/time_hi", hi << 32 | lo)
    raise ProtocolViolation(
        "timer_seq",
        seq,
        f"no stable even value in {attempt} attempts over at least {st.min_wait_s:g} s "
        "(stuck odd or always changing): "
        "the timer writer died mid-publish or is hostile",
    )


def read_word(acc: SharedAccess, st: ReaderState) -> int:
    """Read the single-word 64-bit tick (one load)."""
    value = acc.load("time64")
    if value < st.last:
        return _accept(st, "time64", value)  # raises
    st.last = value
    return value
