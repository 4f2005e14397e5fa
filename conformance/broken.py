"""Deliberately broken Python implementations, one per buggy spec variant.

Each is real code over :class:`~intervm.impl.access.SharedAccess`; where
``impl/coalescing.py`` has a knob for the bug it is reused, otherwise the bug is
written out here in a few lines. ``variant`` names the spec variant it embodies, so
the tester's shrunk schedule can be compared with the model checker's shortest
counterexample of that variant.

>>> [b.variant for b in BROKEN if b.protocol == "coalescing"][:3]
['no_producer_fence', 'no_consumer_fence', 'no_recheck']
>>> by_name("timer/two_words_lo_first").instance_params()
{'ticks': 2, 'lag': 1, 'reads': 2}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from intervm.conformance.implementation import (
    M32,
    RING_BUFFER,
    START,
    Implementation,
    coalescing_roles,
    latency64,
    timer_roles,
)
from intervm.conformance.sched import Emit, Role
from intervm.impl import coalescing as co
from intervm.impl.access import Fence, SharedAccess
from intervm.spec import layout as L
from intervm.spec.errors import ParamError

RoleMaker = Callable[[Mapping[str, int]], dict[str, Role]]

ONE = {"requests": 1}
# two requests in a ring of two: the producer finishes after one unchecked window of
# 2^1, so the run ends where the oracle can judge it (a producer polling a full ring
# never finishes, and "it would have kicked next" is not observable from outside)
EVENT_WRAP = {"capacity": 2, "requests": 2}  # one request shows every lost wake-up (the checker needs no more)


def _co(variant: str, knobs: co.Variant, doc: str, *,
        doorbells: dict[str, bool] | None = None) -> Implementation:
    return Implementation(f"coalescing/{variant}", "coalescing", coalescing_roles(knobs), doc,
                          variant, ONE, doorbells or {}, buffer=RING_BUFFER)


# ------------------------------------------------------------ event index (Xen/virtio)
def event_index_roles(bits: int) -> RoleMaker:
    """A virtio-style event-index ring with ``bits``-bit event indices and *no* forced
    kick: the producer adds requests while the ring has room and checks
    ``need_event(event, new, old)`` only when the ring is full or it has nothing left
    to add. After 2^bits unchecked requests the window wraps and need_event says no."""
    mask = (1 << bits) - 1

    def make(params: Mapping[str, int]) -> dict[str, Role]:
        cap, n = params["capacity"], params["requests"]

        def producer(acc: SharedAccess, emit: Emit) -> None:
            tail = old = head = 0

            def kick_check() -> None:
                nonlocal old
                acc.fence()
                event = acc.load("event")
                if (tail - event - 1) & mask < (tail - old) & mask:  # need_event
                    acc.notify("irq")
                old = tail

            for rid in range(1, n + 1):
                while tail - head >= cap:  # full: kick for what is unchecked, then poll
                    if tail != old:
                        kick_check()
                    head = acc.load("head")
                acc.store("slot_id", rid, tail % cap)
                acc.fence(Fence.STORE)
                tail += 1
                acc.store("tail", tail)
            if tail != old:
                kick_check()

        def consumer(acc: SharedAccess, emit: Emit) -> None:
            head = 0
            while True:
                while (tail := acc.load("tail")) != head:
                    while head != tail:
                        emit(acc.load("slot_id", head % cap))
                        head += 1
                        acc.store("head", head)
                    if head >= n:
                        return
                acc.store("event", head & mask)  # doorbell at the next request
                acc.fence()
                if acc.load("tail") == head:
                    acc.wait("irq", 1.0)

        return {"P": producer, "C": consumer}

    return make


# ------------------------------------------------------------ two producers
def producer_clears_roles() -> RoleMaker:
    """Two producers reserve slots with a fetch-add and publish in reservation order;
    the producer that sees SLEEPING sets the flag ACTIVE before ringing (Xen's 2005
    netfront), so the consumer does not clear it on wake-up. ``requests`` is per
    producer; slot ``t`` carries request ``t + 1``."""

    def make(params: Mapping[str, int]) -> dict[str, Role]:
        cap, n = params["capacity"], params["requests"]

        def producer(acc: SharedAccess, emit: Emit) -> None:
            for _ in range(n):
                t = acc.rmw_add("reserve", 1)
                while t - acc.load("head") >= cap:  # ring full: poll head
                    pass
                acc.store("slot_id", t + 1, t % cap)
                while acc.load("tail") != t:  # earlier reservations publish first
                    pass
                acc.fence(Fence.STORE)
                acc.store("tail", t + 1)
                acc.fence()
                if acc.load("flag") == L.FLAG_SLEEPING:
                    acc.store("flag", L.FLAG_ACTIVE)
                    acc.notify("irq")

        def consumer(acc: SharedAccess, emit: Emit) -> None:
            head, total = 0, 2 * n
            while True:
                while (tail := acc.load("tail")) != head:
                    while head != tail:
                        emit(acc.load("slot_id", head % cap))
                        head += 1
                        acc.store("head", head)
                    if head >= total:
                        return
                acc.store("flag", L.FLAG_SLEEPING)
                acc.fence()
                if acc.load("tail") != head:
                    acc.store("flag", L.FLAG_ACTIVE)
                    continue
                acc.wait("irq", 1.0)  # woken: the producer already set ACTIVE

        return {"P1": producer, "P2": producer, "C": consumer}

    return make


# ------------------------------------------------------------ timer writers and readers
def _store_words(acc: SharedAccess, tick: int, hi_first: bool) -> None:
    words = [("time_lo", tick & M32), ("time_hi", tick >> 32)]
    for name, value in reversed(words) if hi_first else words:
        acc.store(name, value)


def w_lo_first(acc: SharedAccess, tick: int, state: list[int]) -> None:
    """Two words, no protection, low word first."""
    _store_words(acc, tick, hi_first=False)


def w_hi_first(acc: SharedAccess, tick: int, state: list[int]) -> None:
    """Two words, no protection, high word first."""
    _store_words(acc, tick, hi_first=True)


def r_plain(acc: SharedAccess, state: list[int]) -> int:
    """Two plain loads."""
    lo = acc.load("time_lo")
    return acc.load("time_hi") << 32 | lo


def r_hi_lo_hi(acc: SharedAccess, state: list[int]) -> int:
    """hi, lo, hi; retry while hi changed (right only for a counter whose halves change
    together)."""
    hi = acc.load("time_hi")
    while True:
        lo = acc.load("time_lo")
        hi2 = acc.load("time_hi")
        if hi2 == hi:
            return hi << 32 | lo
        hi = hi2


def _seqlock_writer(bits: int = 32, fences: bool = True) -> object:
    mask = (1 << bits) - 1

    def write(acc: SharedAccess, tick: int, state: list[int]) -> None:
        seq = state[0] if state else 0
        seq = (seq + 1) & mask
        acc.store("timer_seq", seq)
        if fences:
            acc.fence(Fence.STORE)
        _store_words(acc, tick, hi_first=False)
        if fences:
            acc.fence(Fence.STORE)
        seq = (seq + 1) & mask
        acc.store("timer_seq", seq)
        state[:] = [seq]

    return write


def r_seqlock(acc: SharedAccess, state: list[int]) -> int:
    """The full seqlock reader: wait while odd, retry if the version changed."""
    while True:
        s1 = acc.load("timer_seq")
        if s1 & 1:
            continue
        lo = acc.load("time_lo")
        hi = acc.load("time_hi")
        if acc.load("timer_seq") == s1:
            return hi << 32 | lo


def r_no_odd_check(acc: SharedAccess, state: list[int]) -> int:
    """The seqlock reader without the odd check (OSv pvclock before the fix)."""
    while True:
        s1 = acc.load("timer_seq")
        lo = acc.load("time_lo")
        hi = acc.load("time_hi")
        if acc.load("timer_seq") == s1:
            return hi << 32 | lo


def w_bump_at_end(acc: SharedAccess, tick: int, state: list[int]) -> None:
    """Data first, then the version raised once."""
    seq = state[0] if state else 0
    _store_words(acc, tick, hi_first=False)
    acc.fence(Fence.STORE)
    acc.store("timer_seq", seq + 1)
    state[:] = [seq + 1]


def w_shared_seq(acc: SharedAccess, tick: int, state: list[int]) -> None:
    """seq++ from memory (load, store) around the data: unserialized when two run."""
    acc.store("timer_seq", acc.load("timer_seq") + 1)
    acc.fence(Fence.STORE)
    _store_words(acc, tick, hi_first=False)
    acc.fence(Fence.STORE)
    acc.store("timer_seq", acc.load("timer_seq") + 1)


# ------------------------------------------------------------ Hyper-V TSC page
# The reference counter MSR is the hypervisor's own count, not guest memory: it is a
# register ``ref_counter`` (never buffered) that runs from boot (initially START) and
# that the hypervisor advances as it begins each publish, right after invalidating.
HV_SEQ0 = M32  # the version starts one below its wrap (as after 2^32 - 1 updates)
HV_REGISTERS = {"ref_counter": START}


def _hyperv_writer(skip_zero: bool) -> object:
    def write(acc: SharedAccess, tick: int, state: list[int]) -> None:
        seq = state[0] if state else HV_SEQ0
        acc.store("timer_seq", 0)  # invalidate: readers fall back to the MSR
        acc.store("ref_counter", tick)  # the hypervisor's count: visible at once
        acc.fence(Fence.STORE)
        _store_words(acc, tick, hi_first=False)
        acc.fence(Fence.STORE)
        seq = (seq + 1) & M32
        if skip_zero and seq == 0:
            seq = 1
        acc.store("timer_seq", seq)  # revalidate
        state[:] = [seq]

    return write


def r_hyperv(acc: SharedAccess, state: list[int]) -> int:
    """Linux's TSC-page read: version 0 means invalid, read the reference counter MSR;
    otherwise read the data and retry if the version changed."""
    while True:
        s1 = acc.load("timer_seq")
        if s1 == 0:
            return acc.load("ref_counter")
        lo = acc.load("time_lo")
        hi = acc.load("time_hi")
        if acc.load("timer_seq") == s1:
            return hi << 32 | lo


# ------------------------------------------------------------ a 32-bit jiffies word
def w_jiffies32(acc: SharedAccess, tick: int, state: list[int]) -> None:
    """One store of the tick's low 32 bits (jiffies is the low word of jiffies_64)."""
    acc.store("time_lo", tick & M32)


def r_jiffies32(acc: SharedAccess, state: list[int]) -> int:
    """One load of the 32-bit word."""
    return acc.load("time_lo")


def naive_latency(c: int, s: int) -> int:
    """``(long)c - (long)s`` on two 32-bit stamps: negative across the wrap."""
    return c - s


def _tm(variant: str, writer: object, reader: object, doc: str,
        writers: tuple[str, ...] = ("W",), params: dict[str, int] | None = None,
        latency: Callable[[int, int], int] = latency64, **extra: object) -> Implementation:
    return Implementation(f"timer/{variant}", "timer",
                          timer_roles(writer, reader, writers,  # type: ignore[arg-type]
                                      latency),
                          doc, variant, params or {}, **extra)  # type: ignore[arg-type]


BROKEN: tuple[Implementation, ...] = (
    _co("no_producer_fence", co.Variant(producer_fence=co.ProducerFence.NONE),
        "submit without the fence between publishing tail and reading the flag"),
    _co("no_consumer_fence", co.Variant(consumer_fence=False),
        "prepare_sleep without the fence between arming and re-reading tail"),
    _co("no_recheck", co.Variant(recheck=False), "prepare_sleep never re-reads tail"),
    _co("check_then_arm", co.Variant(order=co.Order.CHECK_THEN_ARM),
        "prepare_sleep checks tail, then arms"),
    _co("store_fence_producer", co.Variant(producer_fence=co.ProducerFence.STORE),
        "submit with a store fence where a full fence is needed"),
    _co("edge_interrupt", co.Variant(),
        "the correct code on a doorbell that is lost unless the consumer already waits",
        doorbells={"irq": False}),
    _co("no_publish_fence", co.Variant(),
        "the correct code, which relies on release stores, with plain (PSO) stores: no "
        "store fence between the slot and tail"),
    Implementation("coalescing/event_index_wrap", "coalescing", event_index_roles(1),
                   "event index with 1-bit indices and no forced kick before a window of "
                   "2 unchecked requests", "event_index_wrap", EVENT_WRAP),
    Implementation("coalescing/producer_clears_edge", "coalescing", producer_clears_roles(),
                   "two producers; the one that sees SLEEPING sets ACTIVE, then rings an "
                   "edge doorbell", "producer_clears_edge", doorbells={"irq": False}),
    _tm("two_words_lo_first", w_lo_first, r_plain, "two words, low first, plain loads"),
    _tm("two_words_hi_first", w_hi_first, r_plain, "two words, high first, plain loads"),
    _tm("hi_lo_hi_two_stores", w_lo_first, r_hi_lo_hi,
        "a hi-lo-hi reader against a writer storing the two words separately"),
    _tm("seqlock_no_odd_check", _seqlock_writer(), r_no_odd_check,
        "the seqlock reader without the odd check"),
    _tm("seqlock_no_wmb", _seqlock_writer(fences=False), r_seqlock,
        "the seqlock writer without store fences"),
    _tm("seqlock_aba", _seqlock_writer(bits=2), r_seqlock,
        "the full seqlock with a 2-bit version"),
    _tm("bump_at_end", w_bump_at_end, r_no_odd_check,
        "the version raised once, after the data", sentinel="none"),  # no busy value
    _tm("two_writers", w_shared_seq, r_seqlock,
        "two unserialized writers, each doing seq++ from memory", writers=("W1", "W2")),
    _tm("hyperv", _hyperv_writer(skip_zero=True), r_hyperv,
        "the Hyper-V TSC page: invalidate, publish, revalidate (skipping 0); readers fall "
        "back to the reference counter MSR, which runs ahead of a buffered invalidation",
        registers=HV_REGISTERS, sentinel="zero"),
    _tm("hyperv_no_skip", _hyperv_writer(skip_zero=False), r_hyperv,
        "the Hyper-V TSC page writer without the skip of 0: its version wraps onto the "
        "invalid value", registers=HV_REGISTERS, sentinel="zero"),
    _tm("naive_latency", w_jiffies32, r_jiffies32,
        "a 32-bit jiffies word; the completer computes c - s without reducing it modulo "
        "2^32", latency=naive_latency, width=32, sentinel="none"),
)


def by_name(name: str) -> Implementation:
    """The broken implementation called ``name`` (``protocol/variant``)."""
    for b in BROKEN:
        if b.name == name:
            return b
    raise ParamError(f"no broken implementation {name!r}; choose one of "
                     f"{', '.join(b.name for b in BROKEN)}")
