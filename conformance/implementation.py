"""What an in-process implementation under test is, what it must report, and our own.

An :class:`Implementation` names the built-in protocol it implements and gives, for
the instance's parameters, one *role* per spec process: a plain function
``role(acc, emit)`` that touches shared memory only through ``acc`` (a
:class:`~intervm.impl.access.SharedAccess`) and reports what it delivered through
``emit``:

* coalescing (roles ``P`` and ``C``): the producer publishes request ids
  ``1..requests`` in order and returns; the consumer ``emit``\\ s every request id it
  delivers and returns after ``requests`` deliveries. Doorbell ``irq``.
* timer (roles ``W`` — or ``W1``/``W2`` — submitter ``S`` and completer ``C``): a
  writer ``emit``\\ s each tick *before* it publishes it, ticks ``START, START+1, …``
  (``ticks + 1`` of them; ``START`` is one below a carry into the high word), and
  ``emit(tick, "done")`` after the publish; ``S`` reads the time, ``emit``\\ s it and
  sends a request (``notify req``), then waits for its completion (``wait cpl``),
  ``reads`` times; ``C`` waits for a request, reads the time, ``emit``\\ s it and
  ``emit(latency, "latency")``, and completes it (``notify cpl``).
  :func:`timer_roles` builds all of this from a publish and a read function.

Initial shared memory is zero (registers aside). The oracles here
judge a run from those reports and the emulated memory (:class:`CoalescingOracle`,
:class:`TimerOracle`).

>>> impl = reference("coalescing")
>>> sorted(impl.roles(impl.instance_params()))
['C', 'P']
>>> impl.instance_params()
{'capacity': 2, 'requests': 3}
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from intervm.conformance.sched import Emit, Role, Run
from intervm.impl import coalescing as co
from intervm.impl import timer as tm
from intervm.impl.access import SharedAccess
from intervm.spec.protocols import get_protocol

START = (1 << 33) - 1  # low word all ones: the next tick carries into the high word
M32 = 0xFFFF_FFFF
M64 = (1 << 64) - 1
SENTINELS = ("odd", "zero", "none")
SPEC_BUFFER = 2  # store buffer entries per process: the spec compiler's default
RING_BUFFER = SPEC_BUFFER + 1  # impl/coalescing.py: a slot is two words (id, stamp)


@dataclass(frozen=True, slots=True)
class Implementation:
    """A Python implementation of a built-in protocol, as the tester runs it.

    ``roles(params)`` returns one role function per spec process. ``variant`` is the
    spec variant the code embodies (``correct``/``seqlock`` for a correct one; for a
    deliberately broken one, the buggy variant, used to compare against the model
    checker). ``params`` override the protocol's finite parameters for the tested
    instance; ``doorbells`` says which doorbells the platform latches (default: all);
    ``registers`` names fields that are a device's or the hypervisor's registers
    rather than memory, with their initial values (a store to one is never buffered;
    e.g. a reference counter that runs from boot). Timer only: ``width`` is the bits
    of the time value the readers return (64, or 32 for a 32-bit jiffies word) and
    ``sentinel`` the version value that means "do not use the page" (``odd``,
    ``zero`` or ``none``). ``buffer`` is
    the store-buffer entries per role under TSO and PSO: the checker's 2 by default;
    code that writes one spec variable as several words needs more, so that its
    buffer can hold the stores the spec's can (our ring slot is two words, id and
    stamp, where the spec's is one: slot and tail take 3 entries, not 2).
    """

    name: str
    protocol: str
    roles: Callable[[Mapping[str, int]], Mapping[str, Role]]
    doc: str = ""
    variant: str = ""
    params: Mapping[str, int] = field(default_factory=dict)
    doorbells: Mapping[str, bool] = field(default_factory=dict)
    registers: Mapping[str, int] = field(default_factory=dict)
    width: int = 64
    sentinel: str = "odd"
    buffer: int = SPEC_BUFFER

    def instance_params(self) -> dict[str, int]:
        """The parameters of the tested instance (protocol defaults + overrides)."""
        proto = get_protocol(self.protocol)
        base = proto.params_for(self.variant or proto.variants[0].name, unbounded=False)
        out = {k: v for k, v in base.items() if v is not None}
        out.update(self.params)
        return out


@dataclass(frozen=True, slots=True)
class Violation:
    """A property the run violated, and what was seen (one line)."""

    prop: str
    detail: str


class CoalescingOracle:
    """Judges coalescing runs: fifo, no_unpublished_read, no_lost_wakeup."""

    properties = ("no_unpublished_read", "fifo", "no_lost_wakeup")
    producers = ("P", "P1", "P2")

    def __init__(self, params: Mapping[str, int]):
        self.requests = params["requests"]

    def check(self, run: Run, prop: str) -> Violation | None:
        delivered = run.outputs.get("C", [])
        match prop:
            case "no_unpublished_read" | "fifo":
                for k, v in enumerate(delivered):
                    if v == k + 1:
                        continue
                    if v == 0 and prop == "no_unpublished_read":
                        return Violation(prop, f"the consumer delivered request {k + 1} "
                                               "from a slot still holding 0: it read the "
                                               "slot before its payload was visible")
                    if v != 0 and prop == "fifo":
                        return Violation(prop, f"delivery {k + 1} was request {v}: requests "
                                               f"must arrive in order 1..{self.requests}")
                    return None
                return None
            case "no_lost_wakeup":
                op = run.pending("C")
                prods = [p for p in self.producers if p in run.roles]
                # idle as the spec's property says: finished, or not started (a second
                # producer that has not reserved yet: at its spec step "idle")
                started = {a.role for a in run.log}
                if (op is None or op.kind != "wait" or run.pending_irq.get(op.field, False)
                        or not all(run.finished(p) or p not in started for p in prods)):
                    return None
                published = run.read("tail")
                if published > len(delivered):
                    return Violation(prop, f"the consumer sleeps on {op.field} with no "
                                           f"interrupt pending while {published - len(delivered)}"
                                           f" published request(s) wait and every producer has "
                                           "finished: a lost wake-up")
                return None
            case _:
                return None


@dataclass(frozen=True, slots=True)
class _Read:
    """One accepted read: the log index of its first access, the position of its
    report, the value, and what it is: a begun tick's value (``tick``), the zeroed
    page (``uninit``) or neither (``torn``)."""

    begin: int
    end: int
    value: int
    kind: str  # tick | uninit | torn
    tick: int = 0

    @property
    def key(self) -> int:
        """What time order compares: the tick, or the raw value of a torn read."""
        return self.tick if self.kind == "tick" else self.value


class TimerOracle:
    """Judges timer runs from the reports and the emulated memory.

    ``width``: the bits of the time value the readers return (64, or 32 for a 32-bit
    jiffies word); ``sentinel``: the version value that means "do not use the page"
    (``odd``: a seqlock update in progress; ``zero``: Hyper-V's invalid page).
    The true time is the last tick a writer began (it reports a tick when it takes the
    interrupt, before publishing; the tester adds the interrupt return's full fence
    after each publish, so the time runs at most ``LAG`` = 1 tick ahead of the last
    completed publish, as in the spec with lag = 1).
    """

    properties = ("no_torn_read", "reader_monotonic", "cross_reader_monotonic",
                  "latency_nonnegative", "latency_within_lag", "wrap_safe_latency",
                  "no_sentinel_at_rest")
    writers = ("W", "W1", "W2")
    readers = ("S", "C")
    LAG = 1

    def __init__(self, width: int = 64, sentinel: str = "odd"):
        if sentinel not in SENTINELS:
            raise ValueError(f"sentinel {sentinel!r} is not one of {', '.join(SENTINELS)}")
        self.width = width
        self.mask = (1 << width) - 1
        self.sentinel = sentinel
        # the reads of the run as it stands, computed once per step, not per property
        self._run: Run | None = None
        self._seen: tuple[int, int] = (-1, -1)
        self._reads: dict[str, list[_Read]] = {}
        self._begun: list[tuple[int, int]] | None = None

    # ------------------------------------------------------------ what the run shows
    def _ticks(self, run: Run) -> list[tuple[int, int]]:
        """(position, tick) of every tick a writer began, in schedule order."""
        self._fresh(run)
        if self._begun is None:
            self._begun = [(r.position, r.value) for r in run.reports
                           if r.role in self.writers and not r.channel]
        return self._begun

    def _classify(self, v: int, begun: list[int]) -> tuple[str, int]:
        valid = {t & self.mask: t for t in begun}
        if v in valid:
            return "tick", valid[v]
        if v == 0:
            return "uninit", 0
        if self.width == 64:
            # a value mixing a publish with the zeroed page (hi word 0, or lo word 0
            # when no begun tick has a zero low word of its own) is a
            # pre-initialisation read, which the correct seqlock also allows
            zero_mix = {t & M32 for t in begun}
            if all(t & M32 for t in begun):
                zero_mix |= {t & ~M32 for t in begun}
            if v in zero_mix:
                return "uninit", 0
        return "torn", 0

    def reads(self, run: Run, reader: str) -> list[_Read]:
        """``reader``'s accepted reads; each begins at its first load after the
        previous report (doorbell accesses are not part of a read)."""
        self._fresh(run)
        if reader not in self._reads:
            self._reads[reader] = self._compute_reads(run, reader)
        return self._reads[reader]

    def _fresh(self, run: Run) -> None:
        """Drop what was computed for an earlier step (or another run)."""
        key = (len(run.log), len(run.reports))
        if run is not self._run or key != self._seen:
            self._run, self._seen, self._reads, self._begun = run, key, {}, None

    def _compute_reads(self, run: Run, reader: str) -> list[_Read]:
        ticks = self._ticks(run)
        reports = [r for r in run.reports if r.role == reader and not r.channel]
        own = [a for a in run.log if a.role == reader and a.kind not in ("notify", "wait",
                                                                            "sleep")]
        out: list[_Read] = []
        prev, k = 0, 0
        for r in reports:
            while k < len(own) and own[k].step < prev:
                k += 1
            begin = own[k].step if k < len(own) and own[k].step < r.position else r.position
            kind, tick = self._classify(r.value, [t for p, t in ticks if p <= r.position])
            out.append(_Read(begin, r.position, r.value, kind, tick))
            prev = r.position
        return out

    def now(self, run: Run, position: int) -> int:
        """The true time at ``position``: the last tick begun by then."""
        return max((t for p, t in self._ticks(run) if p <= position), default=START - 1)

    def _at_rest(self, run: Run) -> bool:
        """Every writer is between publishes: it reported one done (after the interrupt
        return's fence) and has made no access since, or it has finished."""
        writers = [w for w in self.writers if w in run.roles]
        for w in writers:
            if run.finished(w):
                continue
            done = [r.position for r in run.reports if r.role == w and r.channel == "done"]
            last = max((a.step for a in run.log if a.role == w), default=-1)
            if not done or last >= done[-1]:
                return False
        return bool(writers)

    # ------------------------------------------------------------ the properties
    def check(self, run: Run, prop: str) -> Violation | None:
        match prop:
            case "no_torn_read":
                for reader in self.readers:
                    for rd in self.reads(run, reader):
                        if rd.kind == "torn":
                            begun = sorted(t for p, t in self._ticks(run) if p <= rd.end)
                            return Violation(prop, f"reader {reader} accepted {rd.value:#x}, "
                                                   "which no publish wrote (begun: "
                                                   f"{', '.join(hex(t) for t in begun)}): "
                                                   "it mixes words of different publishes")
                return None
            case "reader_monotonic":
                for reader in self.readers:
                    seen = [rd for rd in self.reads(run, reader) if rd.kind != "uninit"]
                    for a, b in itertools.pairwise(seen):
                        if b.key < a.key:
                            return Violation(prop, f"reader {reader} accepted {b.value:#x} "
                                                   f"after {a.value:#x}: time went backwards")
                return None
            case "cross_reader_monotonic":
                return self._cross(run)
            case "latency_nonnegative" | "latency_within_lag" | "wrap_safe_latency":
                return self._latency(run, prop)
            case "no_sentinel_at_rest":
                seq = run.read("timer_seq")
                bad = seq & 1 if self.sentinel == "odd" else seq & M32 == 0
                if self.sentinel != "none" and bad and self._at_rest(run):
                    what = ("odd: readers wait for an update that is not happening"
                            if self.sentinel == "odd" else
                            "0, the invalid page: readers fall back for good")
                    return Violation(prop, f"no writer is publishing, yet the version "
                                           f"reads {seq:#x}, {what}")
                return None
            case _:
                return None

    def _cross(self, run: Run) -> Violation | None:
        """A read that began after another VM's read ended returned a smaller time."""
        prop = "cross_reader_monotonic"
        reads = {r: [rd for rd in self.reads(run, r) if rd.kind != "uninit"]
                 for r in self.readers}
        for x, y in (("S", "C"), ("C", "S")):
            for rd in reads[x]:
                before = [o for o in reads[y] if o.end <= rd.begin]
                if before and rd.key < before[-1].key:
                    o = before[-1]
                    return Violation(prop, f"reader {x} accepted {rd.value:#x} after reader "
                                           f"{y} had accepted {o.value:#x}: time went "
                                           "backwards from one VM to the next")
        return None

    def _latency(self, run: Run, prop: str) -> Violation | None:
        """The completer's latencies, each against its request's two reads."""
        subs, cpls = self.reads(run, "S"), self.reads(run, "C")
        for i, lat in enumerate(run.outputs.get("C.latency", [])):
            if i >= len(subs) or i >= len(cpls):
                return None
            s, c = subs[i], cpls[i]
            if "uninit" in (s.kind, c.kind):
                continue
            what = (f"request {i + 1}: the completer computed latency {lat} from "
                    f"{s.value:#x} (submitted) and {c.value:#x} (completed)")
            match prop:
                case "latency_nonnegative":
                    if lat < 0:
                        return Violation(prop, f"{what}: negative")
                case "latency_within_lag":
                    low = self.now(run, c.begin) - self.now(run, s.end) - self.LAG
                    high = self.now(run, c.end) - self.now(run, s.begin) + self.LAG
                    if lat < 0 or not low <= lat <= high:
                        return Violation(prop, f"{what}, outside [{max(low, 0)}, {high}], "
                                               "the ticks that truly passed between the "
                                               f"two reads ± the lag bound {self.LAG}")
                case "wrap_safe_latency":
                    if s.kind == c.kind == "tick":
                        d = c.tick - s.tick
                        if 0 <= d <= self.mask and lat != d:
                            return Violation(prop, f"{what}, but {d} tick(s) passed between "
                                                   "the two values: the difference was not "
                                                   f"taken modulo 2^{self.width}")
        return None


Oracle = CoalescingOracle | TimerOracle


def oracle_for(impl: Implementation) -> Oracle:
    """The oracle judging runs of ``impl``."""
    if impl.protocol == "coalescing":
        return CoalescingOracle(impl.instance_params())
    return TimerOracle(impl.width, impl.sentinel)


# ------------------------------------------------------------ coalescing adapters
def coalescing_roles(variant: co.Variant) -> Callable[[Mapping[str, int]], dict[str, Role]]:
    """Roles running ``impl.coalescing``'s functions with ``variant``'s knobs.

    The kick-skipping optimisation (``skip_undrained_kick``) is turned off: it is sound
    but outside the spec, so with it every run would diverge from the spec.
    """
    variant = dataclasses.replace(variant, skip_undrained_kick=False)

    def make(params: Mapping[str, int]) -> dict[str, Role]:
        cap, n = params["capacity"], params["requests"]

        def producer(acc: SharedAccess, emit: Emit) -> None:
            st = co.ProducerState(cap, tail=0, head=0)
            for rid in range(1, n + 1):
                while st.outstanding >= cap:  # ring full: poll head (the schedule bounds it)
                    co.refresh_head(acc, st)
                co.submit(acc, st, variant, rid, stamp=0)

        def consumer(acc: SharedAccess, emit: Emit) -> None:
            st = co.ConsumerState(cap, head=0, tail=0, check_every=n + 1)  # no pwait checks
            delivered = 0
            while True:
                while (tail := co.load_tail(acc, st)) != st.head:  # drain: reload until empty
                    while st.head != tail:
                        emit(co.take(acc, st).request_id)
                        delivered += 1
                        co.commit(acc, st)
                    if delivered >= n:
                        return
                if not co.prepare_sleep(acc, st, variant):
                    continue
                acc.wait("irq", 1.0)
                co.enter_consumer(acc)

        return {"P": producer, "C": consumer}

    return make


# ------------------------------------------------------------ timer adapters
def latency64(c: int, s: int) -> int:
    """``(int64_t)(c - s)``: the tick difference modulo 2^64, as a signed number."""
    d = (c - s) & M64
    return d - (1 << 64) if d >> 63 else d


def latency32(c: int, s: int) -> int:
    """``(int32_t)(c - s)`` for 32-bit time values: wrap-safe (time_after style)."""
    d = (c - s) & M32
    return d - (1 << 32) if d >> 31 else d


def timer_roles(
    writer: Callable[[SharedAccess, int, list[int]], None],
    reader: Callable[[SharedAccess, list[int]], int],
    writers: tuple[str, ...] = ("W",),
    latency: Callable[[int, int], int] = latency64,
) -> Callable[[Mapping[str, int]], dict[str, Role]]:
    """Roles from a ``writer(acc, tick, state)`` publish, a ``reader(acc, state)`` read
    and the completer's ``latency(completed, submitted)``; each role keeps its private
    state in a list. With two writers, ``W1`` publishes the even and ``W2`` the odd
    offsets from ``START``.

    As in the spec, the submitter ``S`` reads the time, sends a request stamped with it
    (``notify req``) and waits for the completion (``wait cpl``), ``reads`` times; the
    completer ``C`` waits for a request, reads the time, reports it and the latency,
    and completes (``notify cpl``). The stamp travels in the request (a Python list
    both roles share: the request's header). After each publish the writer returns
    from the interrupt: a full fence (``iret`` is serializing), then it reports the
    publish done.
    """

    def make(params: Mapping[str, int]) -> dict[str, Role]:
        ticks, reads = params["ticks"], params["reads"]
        stamps: list[int] = []  # requests in flight: the submitter's time stamps

        def write_role(offsets: range) -> Role:
            def role(acc: SharedAccess, emit: Emit) -> None:
                state: list[int] = []
                for i in offsets:
                    emit(START + i)
                    writer(acc, START + i, state)
                    acc.fence()  # iret
                    emit(START + i, "done")
            return role

        def submitter(acc: SharedAccess, emit: Emit) -> None:
            state: list[int] = []
            for _ in range(reads):
                v = reader(acc, state)
                emit(v)
                stamps.append(v)
                acc.notify("req")
                acc.wait("cpl", 1.0)

        def completer(acc: SharedAccess, emit: Emit) -> None:
            state: list[int] = []
            for _ in range(reads):
                acc.wait("req", 1.0)
                v = reader(acc, state)
                emit(v)
                emit(latency(v, stamps.pop(0)), "latency")
                acc.notify("cpl")

        roles: dict[str, Role] = {}
        if len(writers) == 1:
            roles[writers[0]] = write_role(range(ticks + 1))
        else:
            for k, w in enumerate(writers):
                roles[w] = write_role(range(k, ticks + 1 + k, len(writers)))
        roles["S"] = submitter
        roles["C"] = completer
        return roles

    return make


def _ref_publish(acc: SharedAccess, tick: int, state: list[int]) -> None:
    if not state:
        state.append(0)
    st = tm.WriterState(state[0])
    tm.publish(acc, st, tick)
    state[0] = st.seq


def _ref_read_seqlock(acc: SharedAccess, state: list[int]) -> int:
    st = tm.ReaderState(last=state[0] if state else 0, max_attempts=1_000_000,
                        min_wait_s=0.0)  # in process the clock must not matter
    v = tm.read_seqlock(acc, st)
    state[:] = [st.last]
    return v


def _ref_read_word(acc: SharedAccess, state: list[int]) -> int:
    st = tm.ReaderState(last=state[0] if state else 0)
    v = tm.read_word(acc, st)
    state[:] = [st.last]
    return v


def reference(protocol: str, reader: str = "seqlock") -> Implementation:
    """Our reference code (``impl/coalescing.py``, ``impl/timer.py``) as an implementation."""
    if protocol == "coalescing":
        return Implementation("reference", "coalescing", coalescing_roles(co.Variant()),
                              "impl/coalescing.py with the correct knobs", "correct",
                              buffer=RING_BUFFER)
    read = _ref_read_seqlock if reader == "seqlock" else _ref_read_word
    return Implementation(f"reference-{reader}", "timer", timer_roles(_ref_publish, read),
                          f"impl/timer.py publish + read_{reader}",
                          "seqlock" if reader == "seqlock" else "single_word")


REFERENCE_COALESCING = reference("coalescing")
REFERENCE_TIMER = reference("timer")
REFERENCE_TIMER_WORD = reference("timer", "word")
