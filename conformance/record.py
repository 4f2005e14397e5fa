"""Record the reference implementation's shared accesses as a JSON-lines trace.

:class:`RecordingAccess` wraps any :class:`~intervm.impl.access.SharedAccess` (the
real mmap :class:`~intervm.impl.region.Region`, or :class:`SimMemory`) for one role
and appends every access it makes to a :class:`Sink`. The sink's lock is held
across the access and its append, so the file's order is an order in which the
accesses really happened one at a time (a sequentially consistent interleaving);
waits are recorded when they return.

:func:`record_coalescing` and :func:`record_timer` run the unmodified reference
producer/consumer (``impl/coalescing.py``) and timer writer/reader
(``impl/timer.py``) as threads over :class:`SimMemory` under a seeded
:class:`Baton` scheduler: one thread runs at a time, the next is drawn from the
seed after every access, so a seed reproduces the same trace.

>>> lines = record_coalescing(requests=3, capacity=2, seed=1)
>>> lines[0]
'{"format":"intervm-trace/1","protocol":"coalescing","params":{"capacity":2,"requests":4}}'
>>> sum('"op":"store","field":"slot_id"' in x for x in lines)  # 3 requests + stop
4
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from intervm.conformance.events import FORMAT, Event, event_to_json
from intervm.impl import coalescing as co
from intervm.impl import timer as tm
from intervm.impl.access import Fence, SharedAccess
from intervm.spec import layout as L


class Sink:
    """Where events go, in one global order (a lock and a list of JSON lines)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.lines: list[str] = []

    def add(self, e: Event) -> None:
        self.lines.append(event_to_json(e))


class RecordingAccess:
    """A :class:`SharedAccess` that records every call of role ``process``."""

    def __init__(self, inner: SharedAccess, sink: Sink, process: str):
        self.inner, self.sink, self.process = inner, sink, process

    def _add(self, op: str, **kw: Any) -> None:
        self.sink.add(Event(len(self.sink.lines) + 1, self.process, op, **kw))

    def load(self, field: str, index: int | None = None) -> int:
        with self.sink.lock:
            v = self.inner.load(field, index)
            self._add("load", field=field, index=index, value=v)
            return v

    def store(self, field: str, value: int, index: int | None = None) -> None:
        with self.sink.lock:
            self.inner.store(field, value, index)
            self._add("store", field=field, index=index, value=value)

    def fence(self, kind: Fence = Fence.FULL) -> None:
        with self.sink.lock:
            self.inner.fence(kind)
            self._add("fence", fence=kind.value)

    def rmw_add(self, field: str, delta: int, index: int | None = None) -> int:
        with self.sink.lock:
            old = self.inner.rmw_add(field, delta, index)
            self._add("rmw", field=field, index=index, value=old + delta, old=old)
            return old

    def notify(self, doorbell: str) -> None:
        with self.sink.lock:
            self.inner.notify(doorbell)
            self._add("notify", field=doorbell)

    def wait(self, doorbell: str, timeout: float) -> bool:
        woken = self.inner.wait(doorbell, timeout)
        with self.sink.lock:
            self._add("wait", field=doorbell, value=int(woken))
        return woken


# ---------------------------------------------------------------- deterministic runs


class Baton:
    """Runs registered threads one at a time; the next one is drawn from ``seed``.

    A thread blocked in a wait is runnable again when its doorbell rings; when
    every live thread is blocked, one of them times out (its wait returns False).
    """

    def __init__(self, seed: int, max_steps: int = 5_000_000):
        self.rng = random.Random(seed)
        self.cv = threading.Condition()
        self.current: str | None = ""  # "": not started; None: finished or over budget
        self.live: list[str] = []
        self.blocked: dict[str, str] = {}  # thread -> doorbell
        self.steps = 0
        self.max_steps = max_steps

    def _pass(self) -> None:
        """Choose the next thread (caller holds ``cv``)."""
        self.steps += 1
        runnable = [t for t in self.live if t not in self.blocked]
        pool = runnable or list(self.blocked)
        self.current = self.rng.choice(pool) if pool and self.steps < self.max_steps else None
        self.cv.notify_all()

    def enter(self, me: str, timeout: float = 60.0) -> None:
        with self.cv:
            if not self.cv.wait_for(lambda: self.current == me or self.current is None,
                                    timeout):
                raise TimeoutError(f"thread {me} got no turn in {timeout} s")
            if self.current is None:
                raise TimeoutError(f"the run exceeded {self.max_steps} scheduling steps")

    def leave(self) -> None:
        with self.cv:
            self._pass()

    def block(self, me: str, doorbell: str) -> None:
        """``me`` (holding the turn) blocks on ``doorbell`` until it has the turn again:
        woken by :meth:`wake`, or chosen while every live thread is blocked (a timeout)."""
        with self.cv:
            self.blocked[me] = doorbell
            self._pass()
        self.enter(me)
        with self.cv:
            self.blocked.pop(me, None)

    def wake(self, doorbell: str) -> None:
        with self.cv:
            for t, d in list(self.blocked.items()):
                if d == doorbell:
                    del self.blocked[t]

    def done(self, me: str) -> None:
        with self.cv:
            self.live.remove(me)
            self.blocked.pop(me, None)
            self._pass()


@dataclass
class SimMemory:
    """Sequentially consistent in-memory fields and latched doorbells."""

    mem: dict[tuple[str, int | None], int] = field(default_factory=dict)
    pending: dict[str, int] = field(default_factory=dict)

    def load(self, field: str, index: int | None = None) -> int:
        return self.mem.get((field, index), 0)

    def store(self, field: str, value: int, index: int | None = None) -> None:
        self.mem[(field, index)] = value

    def fence(self, kind: Fence = Fence.FULL) -> None:
        pass

    def rmw_add(self, field: str, delta: int, index: int | None = None) -> int:
        old = self.load(field, index)
        self.store(field, old + delta, index)
        return old

    def notify(self, doorbell: str) -> None:
        self.pending[doorbell] = 1

    def wait(self, doorbell: str, timeout: float) -> bool:
        if self.pending.get(doorbell):
            self.pending[doorbell] = 0
            return True
        return False


class _Turn:
    """One thread's view: every access takes the baton first and passes it after."""

    def __init__(self, baton: Baton, me: str, mem: SimMemory, rec: RecordingAccess):
        self.baton, self.me, self.mem, self.rec = baton, me, mem, rec

    def _do(self, f: Callable[[], Any]) -> Any:
        self.baton.enter(self.me)
        try:
            return f()
        finally:
            self.baton.leave()

    def load(self, field: str, index: int | None = None) -> int:
        v: int = self._do(lambda: self.rec.load(field, index))
        return v

    def store(self, field: str, value: int, index: int | None = None) -> None:
        self._do(lambda: self.rec.store(field, value, index))

    def fence(self, kind: Fence = Fence.FULL) -> None:
        self._do(lambda: self.rec.fence(kind))

    def rmw_add(self, field: str, delta: int, index: int | None = None) -> int:
        v: int = self._do(lambda: self.rec.rmw_add(field, delta, index))
        return v

    def notify(self, doorbell: str) -> None:
        def ring() -> None:
            self.rec.notify(doorbell)
            self.baton.wake(doorbell)
        self._do(ring)

    def wait(self, doorbell: str, timeout: float) -> bool:
        self.baton.enter(self.me)
        if not self.mem.pending.get(doorbell):
            self.baton.block(self.me, doorbell)
        # holding the turn (woken, or timed out): consume the doorbell and record
        try:
            return self.rec.wait(doorbell, 0.0)
        finally:
            self.baton.leave()


def _run(baton: Baton, bodies: dict[str, Callable[[], None]], timeout: float) -> None:
    errors: list[BaseException] = []

    def wrap(name: str, body: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                body()
            except BaseException as e:  # reported to the caller below
                errors.append(e)
            finally:
                baton.done(name)
        return run

    baton.live = list(bodies)
    threads = [threading.Thread(target=wrap(n, b), daemon=True) for n, b in bodies.items()]
    for t in threads:
        t.start()
    baton.leave()  # hand out the first turn
    for t in threads:
        t.join(timeout)
        if t.is_alive():
            raise TimeoutError(f"recording did not finish in {timeout} s")
    if errors:
        raise errors[0]


def _header(protocol: str, params: dict[str, int]) -> str:
    return json.dumps({"format": FORMAT, "protocol": protocol, "params": params},
                      separators=(",", ":"))


def record_coalescing(requests: int, capacity: int, seed: int,
                      variant: co.Variant | None = None, window: int | None = None,
                      timeout: float = 120.0) -> list[str]:
    """Lines of a trace of the reference producer and consumer (requests 1..N, then
    the stop request) under the seeded scheduler; the first line is the header.

    The default ``variant`` is the correct one with ``skip_undrained_kick`` off: that
    optimisation skips kicks the spec requires (see docs/trace-format.md)."""
    variant = co.Variant(skip_undrained_kick=False) if variant is None else variant
    mem, sink, baton = SimMemory(), Sink(), Baton(seed)
    for f in ("tail", "head", "flag", "pwait"):
        mem.store(f, 0)
    prod = _Turn(baton, "producer", mem, RecordingAccess(mem, sink, "producer"))
    cons = _Turn(baton, "consumer", mem, RecordingAccess(mem, sink, "consumer"))
    bounds = co.Bounds(slice_s=0.0, max_slices=10)
    win = capacity if window is None else window

    def producer() -> None:
        st = co.ProducerState.attach(prod, capacity)
        co.push(prod, st, variant, range(1, requests + 1), win, lambda: 0, bounds)
        co.push(prod, st, variant, [L.STOP_REQUEST_ID], win, lambda: 0, bounds)

    def consumer() -> None:
        st = co.ConsumerState.attach(cons, capacity)
        co.run_consumer(cons, st, variant, lambda r: None, bounds)

    _run(baton, {"producer": producer, "consumer": consumer}, timeout)
    return [_header("coalescing", {"capacity": capacity, "requests": requests + 1}),
            *sink.lines]


@dataclass(frozen=True)
class TimerBugs:
    """Deliberate bugs for recording broken timer runs (all off: the reference code).

    ``no_odd_check``: the reader goes on reading the words while seq is odd (it only
    compares its two seq loads, so a torn value passes when a whole publish fits
    between them). ``no_recheck``: the reader never re-loads seq after the words.
    ``no_seq``: the writer stores the words without making seq odd and even again.
    ``backwards_at``: publish number k (0-based) publishes the previous tick again
    minus one (time goes backwards).
    """

    no_odd_check: bool = False
    no_recheck: bool = False
    no_seq: bool = False
    backwards_at: int | None = None

    @property
    def any(self) -> bool:
        return self != TimerBugs()


def _publish_buggy(acc: SharedAccess, st: tm.WriterState, tick: int, bugs: TimerBugs) -> None:
    """:func:`intervm.impl.timer.publish` with ``bugs`` (the seqlock words only)."""
    if not bugs.no_seq:
        st.seq = (st.seq + 1) & tm.M32
        acc.store("timer_seq", st.seq)
        acc.fence(Fence.STORE)
    acc.store("time_lo", tick & tm.M32)
    acc.store("time_hi", (tick >> 32) & tm.M32)
    if not bugs.no_seq:
        acc.fence(Fence.STORE)
        st.seq = (st.seq + 1) & tm.M32
        acc.store("timer_seq", st.seq)


def _read_buggy(acc: SharedAccess, bugs: TimerBugs, attempts: int = 1000) -> int:
    """:func:`intervm.impl.timer.read_seqlock` with ``bugs`` (no monotonicity check)."""
    for _ in range(attempts):
        seq = acc.load("timer_seq")
        if seq & 1 and not bugs.no_odd_check:
            continue
        lo = acc.load("time_lo")
        hi = acc.load("time_hi")
        if not bugs.no_recheck and acc.load("timer_seq") != seq:
            continue
        return hi << 32 | lo
    raise TimeoutError(f"the buggy reader found no stable value in {attempts} attempts")


def record_timer(publishes: int, reads: int, seed: int, first_tick: int = 1,
                 timeout: float = 120.0, bugs: TimerBugs | None = None) -> list[str]:
    """Lines of a trace of the reference timer writer (ticks ``first_tick``, +1, …)
    and one seqlock reader under the seeded scheduler; with ``bugs``, a writer and
    reader that have those bugs (:class:`TimerBugs`)."""
    bugs = TimerBugs() if bugs is None else bugs
    mem, sink, baton = SimMemory(), Sink(), Baton(seed)
    w = _Turn(baton, "writer", mem, RecordingAccess(mem, sink, "writer"))
    r = _Turn(baton, "reader", mem, RecordingAccess(mem, sink, "reader"))

    def writer() -> None:
        st = tm.WriterState(0)
        tick = first_tick
        for k in range(publishes):
            if k == bugs.backwards_at:
                tick -= 2
            if bugs.any:
                _publish_buggy(w, st, tick, bugs)
            else:
                tm.publish(w, st, tick)
            tick += 1

    def reader() -> None:
        st = tm.ReaderState()
        for _ in range(reads):
            if bugs.any:
                _read_buggy(r, bugs)
            else:
                tm.read_seqlock(r, st)

    _run(baton, {"writer": writer, "reader": reader}, timeout)
    return [_header("timer", {"start": first_tick}), *sink.lines]
