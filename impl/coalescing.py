"""Interrupt coalescing over a shared ring, written against ``SharedAccess``.

Every shared access is one call on the access object, every shared field is
loaded once per decision into a local and validated before use, and every
wait is bounded. :class:`Variant` knobs select deliberately broken versions
of the same code for the conformance tester.

>>> import tempfile, pathlib
>>> from intervm.impl.doorbell import Doorbells
>>> from intervm.impl.region import Region
>>> bells = Doorbells.create(("irq", "done"))
>>> path = pathlib.Path(tempfile.mkdtemp()) / "ring"
>>> acc = Region.create(path, capacity=4, doorbells=bells)
>>> cap = acc.layout.capacity
>>> prod, cons = ProducerState.attach(acc, cap), ConsumerState.attach(acc, cap)
>>> enter_consumer(acc); prepare_sleep(acc, cons, Variant())   # empty ring: go to sleep
True
>>> submit(acc, prod, Variant(), request_id=7, stamp=0)          # flag SLEEPING: ring
True
>>> got = []; drain(acc, cons, got.append)
False
>>> [r.request_id for r in got], acc.load("head"), prod.irq_notifies
([7], 1, 1)
>>> acc.close(); bells.close(); path.unlink()
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import assert_never

from intervm.impl.access import Fence, SharedAccess
from intervm.impl.errors import PeerTimeout, ProtocolViolation
from intervm.spec import layout as L

M = L.INDEX_MASK


class ProducerFence(enum.Enum):
    """Fence between the producer's tail store and its flag load."""

    FULL = "full"
    STORE = "store"
    NONE = "none"


class Order(enum.Enum):
    """Consumer sleep path: arm (flag=SLEEPING) then re-check, or the reverse."""

    ARM_THEN_CHECK = "arm-then-check"
    CHECK_THEN_ARM = "check-then-arm"


@dataclass(frozen=True)
class Variant:
    """Protocol knobs; the default is the correct protocol."""

    producer_fence: ProducerFence = ProducerFence.FULL
    consumer_fence: bool = True
    recheck: bool = True
    order: Order = Order.ARM_THEN_CHECK
    always_notify: bool = False
    # Skip a kick while the last one (at tail T) is undrained (head < T): sound, but
    # outside the spec, which rings on every SLEEPING flag (docs/trace-format.md).
    skip_undrained_kick: bool = True


@dataclass(frozen=True)
class Bounds:
    """Bounds on every wait: a wait slice and the number of slices before giving up."""

    slice_s: float = 0.05
    max_slices: int = 600


@dataclass(frozen=True)
class Request:
    """One request as the consumer loaded it (ring index, id, submit stamp)."""

    index: int
    request_id: int
    stamp: int


def _flag(value: int, name: str, values: tuple[int, int], meaning: str) -> int:
    if value not in values:
        raise ProtocolViolation(name, value, f"must be {values[0]} or {values[1]} ({meaning})")
    return value


def _distance(a: int, b: int) -> int:
    """(b - a) mod 2**32: how far index b is ahead of index a."""
    return (b - a) & M


# ---------------------------------------------------------------- producer side
@dataclass
class ProducerState:
    """The producer's private copy of the indices plus counters (never shared)."""

    capacity: int
    tail: int
    head: int
    irq_notifies: int = 0
    irq_skipped: int = 0
    done_waits: int = 0
    rung_at: int | None = None

    @classmethod
    def attach(cls, acc: SharedAccess, capacity: int) -> ProducerState:
        """Start from the shared indices; ``capacity`` comes from the validated layout."""
        tail = acc.load("tail")
        head = acc.load("head")
        if _distance(head, tail) > capacity:
            raise ProtocolViolation(
                "head", head, f"tail {tail} is more than capacity {capacity} ahead of it"
            )
        return cls(capacity, tail, head)

    @property
    def outstanding(self) -> int:
        return _distance(self.head, self.tail)


def refresh_head(acc: SharedAccess, st: ProducerState) -> int:
    """Load ``head`` once; it must lie in [last head seen, tail]."""
    head = acc.load("head")
    if _distance(st.head, head) > _distance(st.head, st.tail):
        raise ProtocolViolation(
            "head",
            head,
            f"must lie in [{st.head}, {st.tail}] (mod 2**32): head never moves backwards "
            "nor past tail",
        )
    st.head = head
    return head


def submit(
    acc: SharedAccess, st: ProducerState, variant: Variant, request_id: int, stamp: int
) -> bool:
    """Publish one request; returns True if the ``irq`` doorbell was rung."""
    if st.outstanding >= st.capacity:
        raise RuntimeError(
            f"ring full ({st.outstanding}/{st.capacity} outstanding): call wait_for_head "
            "before submit"
        )
    slot = st.tail % st.capacity
    acc.store("slot_id", request_id, slot)
    acc.store("slot_stamp", stamp, slot)
    st.tail = (st.tail + 1) & M
    acc.store("tail", st.tail)
    match variant.producer_fence:
        case ProducerFence.FULL:
            acc.fence()
        case ProducerFence.STORE:
            acc.fence(Fence.STORE)
        case ProducerFence.NONE:
            pass
        case _:
            assert_never(variant.producer_fence)
    if not variant.always_notify:
        flag = _flag(acc.load("flag"), "flag", (L.FLAG_ACTIVE, L.FLAG_SLEEPING), "ACTIVE/SLEEPING")
        if flag == L.FLAG_ACTIVE:
            return False
        if st.rung_at is not None and variant.skip_undrained_kick:
            # The doorbell rung at tail T is latched; until head reaches T the consumer
            # has not drained past that wake-up, so it will see this request too.
            pending = _distance(refresh_head(acc, st), st.rung_at)
            if 0 < pending <= st.capacity:
                st.irq_skipped += 1
                return False
    acc.notify("irq")
    st.irq_notifies += 1
    st.rung_at = st.tail
    return True


def wait_for_head(
    acc: SharedAccess, st: ProducerState, max_outstanding: int, bounds: Bounds = Bounds()
) -> None:
    """Block until at most ``max_outstanding`` requests are uncommitted."""
    for _ in range(bounds.max_slices):
        refresh_head(acc, st)
        if st.outstanding <= max_outstanding:
            return
        acc.store("pwait", L.PWAIT_WAITING)
        acc.fence()
        refresh_head(acc, st)
        if st.outstanding > max_outstanding:
            st.done_waits += 1
            acc.wait("done", bounds.slice_s)
        acc.store("pwait", L.PWAIT_RUNNING)
    raise PeerTimeout(
        f"consumer committed nothing for {bounds.slice_s * bounds.max_slices:.1f} s "
        f"(head {st.head}, tail {st.tail}): is the consumer VM running?"
    )


def push(
    acc: SharedAccess,
    st: ProducerState,
    variant: Variant,
    request_ids: Iterable[int],
    window: int,
    stamp: Callable[[], int],
    bounds: Bounds = Bounds(),
) -> None:
    """Submit ``request_ids`` keeping at most ``window`` requests outstanding."""
    if not 1 <= window <= st.capacity:
        raise ValueError(f"window {window} must be in 1..capacity ({st.capacity})")
    for rid in request_ids:
        if st.outstanding >= window:
            wait_for_head(acc, st, window - 1, bounds)
        submit(acc, st, variant, rid, stamp())


# ---------------------------------------------------------------- consumer side
@dataclass
class ConsumerState:
    """The consumer's private copy of the indices plus counters (never shared)."""

    capacity: int
    head: int
    tail: int
    check_every: int
    since_check: int = 0
    sleeps: int = 0
    wakeups: int = 0
    timeout_finds: int = 0
    done_notifies: int = 0

    @classmethod
    def attach(cls, acc: SharedAccess, capacity: int) -> ConsumerState:
        """Start (or restart after a crash) from the committed ``head``."""
        head = acc.load("head")
        tail = acc.load("tail")
        if _distance(head, tail) > capacity:
            raise ProtocolViolation(
                "tail", tail, f"is more than capacity {capacity} ahead of head {head}"
            )
        return cls(capacity, head, tail, check_every=max(1, capacity // 4))


def load_tail(acc: SharedAccess, st: ConsumerState) -> int:
    """Load ``tail`` once; it must lie in [last tail seen, head + capacity]."""
    tail = acc.load("tail")
    limit = (st.head + st.capacity) & M
    if _distance(st.tail, tail) > _distance(st.tail, limit):
        raise ProtocolViolation(
            "tail",
            tail,
            f"must lie in [{st.tail}, {limit}] (mod 2**32): tail never moves backwards nor "
            f"more than capacity {st.capacity} past head {st.head}",
        )
    st.tail = tail
    return tail


def take(acc: SharedAccess, st: ConsumerState) -> Request:
    """Load the request at ``head`` (each slot word once)."""
    slot = st.head % st.capacity
    return Request(st.head, acc.load("slot_id", slot), acc.load("slot_stamp", slot))


def check_pwait(acc: SharedAccess, st: ConsumerState) -> None:
    """After commits: FULL FENCE, load pwait once, ring ``done`` if the producer waits."""
    st.since_check = 0
    acc.fence()
    pwait = _flag(acc.load("pwait"), "pwait", (L.PWAIT_RUNNING, L.PWAIT_WAITING), "RUNNING/WAITING")
    if pwait == L.PWAIT_WAITING:
        acc.notify("done")
        st.done_notifies += 1


def commit(acc: SharedAccess, st: ConsumerState) -> None:
    """Store head+1: the commit point of the request at ``head``."""
    st.head = (st.head + 1) & M
    acc.store("head", st.head)
    st.since_check += 1
    if st.since_check >= st.check_every:
        check_pwait(acc, st)


def drain(acc: SharedAccess, st: ConsumerState, handle: Callable[[Request], None]) -> bool:
    """Process requests until a tail load shows the ring empty.

    Returns True if a stop request was committed (the consumer should finish).
    """
    stopped = False
    while not stopped:
        tail = load_tail(acc, st)
        if tail == st.head:
            break
        while st.head != tail:
            req = take(acc, st)
            if req.request_id == L.STOP_REQUEST_ID:
                commit(acc, st)
                stopped = True
                break
            handle(req)
            commit(acc, st)
    check_pwait(acc, st)
    return stopped


def enter_consumer(acc: SharedAccess) -> None:
    """The consumer is running: producers need not ring ``irq``."""
    acc.store("flag", L.FLAG_ACTIVE)


def prepare_sleep(acc: SharedAccess, st: ConsumerState, variant: Variant) -> bool:
    """Arm the doorbell; True if the consumer may block, False if work arrived."""
    match variant.order:
        case Order.ARM_THEN_CHECK:
            acc.store("flag", L.FLAG_SLEEPING)
            if variant.consumer_fence:
                acc.fence()
            if variant.recheck and load_tail(acc, st) != st.head:
                acc.store("flag", L.FLAG_ACTIVE)
                return False
            return True
        case Order.CHECK_THEN_ARM:
            if variant.recheck and load_tail(acc, st) != st.head:
                return False
            acc.store("flag", L.FLAG_SLEEPING)
            if variant.consumer_fence:
                acc.fence()
            return True
        case _:
            assert_never(variant.order)


def poll_idle(acc: SharedAccess, st: ConsumerState, polls: int) -> bool:
    """Load tail up to ``polls`` times; True as soon as work appears."""
    return any(load_tail(acc, st) != st.head for _ in range(polls))


def block(acc: SharedAccess, st: ConsumerState, bounds: Bounds) -> bool:
    """Block on ``irq`` in bounded slices; False if ``bounds`` ran out while idle.

    After each timed-out slice the tail is re-checked; finding work then means a
    notification was lost or never sent (counted in ``timeout_finds``).
    """
    st.sleeps += 1
    for _ in range(bounds.max_slices):
        if acc.wait("irq", bounds.slice_s):
            st.wakeups += 1
            return True
        if load_tail(acc, st) != st.head:
            st.timeout_finds += 1
            return True
    return False


def run_consumer(
    acc: SharedAccess,
    st: ConsumerState,
    variant: Variant,
    handle: Callable[[Request], None],
    bounds: Bounds = Bounds(),
    idle_polls: int = 0,
) -> bool:
    """Serve until a stop request (True) or until idle for all of ``bounds`` (False).

    ``idle_polls`` empty tail loads are made before arming the doorbell (like
    io_uring's ``sq_thread_idle`` or NAPI busy polling): a consumer that keeps
    up with the producer then sleeps, and costs a doorbell, less often.
    """
    enter_consumer(acc)
    while True:
        if drain(acc, st, handle):
            return True
        if poll_idle(acc, st, idle_polls):
            continue
        if not prepare_sleep(acc, st, variant):
            continue
        if not block(acc, st, bounds):
            return False
        enter_consumer(acc)
