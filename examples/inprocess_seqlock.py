"""A user's seqlock timer, tested in-process: ``intervm conformance inprocess
examples.inprocess_seqlock:IMPL`` (and ``:BROKEN``, whose reader never re-reads the version).

The writer and reader below are ordinary functions over a ``SharedAccess``; the
tester runs them under Hypothesis-chosen schedules. See docs/conformance-inprocess.md.
"""

from __future__ import annotations

from intervm.conformance.implementation import Implementation, timer_roles
from intervm.impl.access import Fence, SharedAccess

M32 = 0xFFFF_FFFF


def publish(acc: SharedAccess, tick: int, state: list[int]) -> None:
    seq = state[0] if state else 0
    acc.store("timer_seq", seq + 1)  # odd: writing
    acc.fence(Fence.STORE)
    acc.store("time_lo", tick & M32)
    acc.store("time_hi", tick >> 32)
    acc.fence(Fence.STORE)
    acc.store("timer_seq", seq + 2)  # even: stable
    state[:] = [seq + 2]


def read(acc: SharedAccess, state: list[int]) -> int:
    while True:
        s1 = acc.load("timer_seq")
        if s1 & 1:
            continue
        lo, hi = acc.load("time_lo"), acc.load("time_hi")
        if acc.load("timer_seq") == s1:
            return hi << 32 | lo


def read_no_recheck(acc: SharedAccess, state: list[int]) -> int:
    while acc.load("timer_seq") & 1:  # waits while odd, but never re-reads the version
        pass
    return acc.load("time_hi") << 32 | acc.load("time_lo")


IMPL = Implementation("my-seqlock", "timer", timer_roles(publish, read), "a user's seqlock",
                      "seqlock")
BROKEN = Implementation("my-seqlock-no-recheck", "timer",
                        timer_roles(publish, read_no_recheck),
                        "the reader never re-reads the version after the data")
