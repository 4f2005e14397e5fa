"""What an in-process implementation under test is, what it must report, and our own.

An :class:`Implementation` names the built-in protocol it implements and gives, for
the instance's parameters, one *role* per spec process: a plain function
``role(acc, emit)`` that touches shared memory only through ``acc`` (a
:class:`~intervm.impl.access.SharedAccess`) and reports what it delivered through
``emit``:

* coalescing (roles ``P`` and ``C``): the producer publishes request ids
  ``1..requests`` in order and returns; the consumer ``emit``\\ s every request id it
  delivers and returns after ``requests`` deliveries. Doorbell ``irq``.
* timer (roles ``W`` — or ``W1``/``W2`` — and readers ``S``, ``C``): a writer
  ``emit``\\ s each tick *before* it publishes it, ticks ``START, START+1, …``
  (``ticks + 1`` of them; ``START`` is one below a carry into the high word); each
  reader makes ``reads`` reads and ``emit``\\ s every value it accepts.

Initial shared memory is zero. The oracles here judge a run from those reports and
the emulated memory (:class:`CoalescingOracle`, :class:`TimerOracle`).

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

from intervm.conformance.sched import Role, Run
from intervm.impl import coalescing as co
from intervm.impl import timer as tm
from intervm.impl.access import SharedAccess
from intervm.spec.protocols import get_protocol

START = (1 << 33) - 1  # low word all ones: the next tick carries into the high word
M32 = 0xFFFF_FFFF


@dataclass(frozen=True, slots=True)
class Implementation:
    """A Python implementation of a built-in protocol, as the tester runs it.

    ``roles(params)`` returns one role function per spec process. ``variant`` is the
    spec variant the code embodies (``correct``/``seqlock`` for a correct one; for a
    deliberately broken one, the buggy variant, used to compare against the model
    checker). ``params`` override the protocol's finite parameters for the tested
    instance; ``doorbells`` says which doorbells the platform latches (default: all).
    """

    name: str
    protocol: str
    roles: Callable[[Mapping[str, int]], Mapping[str, Role]]
    doc: str = ""
    variant: str = ""
    params: Mapping[str, int] = field(default_factory=dict)
    doorbells: Mapping[str, bool] = field(default_factory=dict)

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


class TimerOracle:
    """Judges timer runs: no_torn_read, reader_monotonic."""

    properties = ("no_torn_read", "reader_monotonic")
    writers = ("W", "W1", "W2")

    def check(self, run: Run, prop: str) -> Violation | None:
        begun = {t for w in self.writers for t in run.outputs.get(w, [])}
        for reader in ("S", "C"):
            values = run.outputs.get(reader, [])
            match prop:
                case "no_torn_read":
                    # a value mixing a publish with the zeroed page is a pre-initialisation
                    # read (no_uninitialised_read, which the correct seqlock also allows)
                    # (hi word 0: no tick has one). A zero low word is a pre-initialisation
                    # read only if no begun tick has a zero low word of its own.
                    zero_mix = {t & M32 for t in begun}
                    if all(t & M32 for t in begun):
                        zero_mix |= {t & ~M32 for t in begun}
                    for v in values:
                        if v != 0 and v not in begun and v not in zero_mix:
                            return Violation(prop, f"reader {reader} accepted {v:#x}, which no "
                                                   f"publish wrote (begun: "
                                                   f"{', '.join(hex(t) for t in sorted(begun))})"
                                                   ": it mixes words of different publishes")
                case "reader_monotonic":
                    for a, b in itertools.pairwise(values):
                        if b < a:
                            return Violation(prop, f"reader {reader} accepted {b:#x} after "
                                                   f"{a:#x}: time went backwards")
        return None


Oracle = CoalescingOracle | TimerOracle


def oracle_for(protocol: str, params: Mapping[str, int]) -> Oracle:
    """The oracle judging runs of ``protocol``."""
    return CoalescingOracle(params) if protocol == "coalescing" else TimerOracle()


# ------------------------------------------------------------ coalescing adapters
def coalescing_roles(variant: co.Variant) -> Callable[[Mapping[str, int]], dict[str, Role]]:
    """Roles running ``impl.coalescing``'s functions with ``variant``'s knobs.

    The kick-skipping optimisation (``skip_undrained_kick``) is turned off: it is sound
    but outside the spec, so with it every run would diverge from the spec.
    """
    variant = dataclasses.replace(variant, skip_undrained_kick=False)

    def make(params: Mapping[str, int]) -> dict[str, Role]:
        cap, n = params["capacity"], params["requests"]

        def producer(acc: SharedAccess, emit: Callable[[int], None]) -> None:
            st = co.ProducerState(cap, tail=0, head=0)
            for rid in range(1, n + 1):
                while st.outstanding >= cap:  # ring full: poll head (the schedule bounds it)
                    co.refresh_head(acc, st)
                co.submit(acc, st, variant, rid, stamp=0)

        def consumer(acc: SharedAccess, emit: Callable[[int], None]) -> None:
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
def timer_roles(
    writer: Callable[[SharedAccess, int, list[int]], None],
    reader: Callable[[SharedAccess, list[int]], int],
    writers: tuple[str, ...] = ("W",),
) -> Callable[[Mapping[str, int]], dict[str, Role]]:
    """Roles from a ``writer(acc, tick, state)`` publish and a ``reader(acc, state)``
    read; each role keeps its private state in a list. With two writers, ``W1``
    publishes the even and ``W2`` the odd offsets from ``START``."""

    def make(params: Mapping[str, int]) -> dict[str, Role]:
        ticks, reads = params["ticks"], params["reads"]

        def write_role(offsets: range) -> Role:
            def role(acc: SharedAccess, emit: Callable[[int], None]) -> None:
                state: list[int] = []
                for i in offsets:
                    emit(START + i)
                    writer(acc, START + i, state)
            return role

        def read_role(acc: SharedAccess, emit: Callable[[int], None]) -> None:
            state: list[int] = []
            for _ in range(reads):
                emit(reader(acc, state))

        roles: dict[str, Role] = {}
        if len(writers) == 1:
            roles[writers[0]] = write_role(range(ticks + 1))
        else:
            for k, w in enumerate(writers):
                roles[w] = write_role(range(k, ticks + 1 + k, len(writers)))
        roles["S"] = read_role
        roles["C"] = read_role
        return roles

    return make


def _ref_publish(acc: SharedAccess, tick: int, state: list[int]) -> None:
    if not state:
        state.append(0)
    st = tm.WriterState(state[0])
    tm.publish(acc, st, tick)
    state[0] = st.seq


def _ref_read_seqlock(acc: SharedAccess, state: list[int]) -> int:
    st = tm.ReaderState(last=state[0] if state else 0, max_attempts=1_000_000)
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
                              "impl/coalescing.py with the correct knobs", "correct")
    read = _ref_read_seqlock if reader == "seqlock" else _ref_read_word
    return Implementation(f"reference-{reader}", "timer", timer_roles(_ref_publish, read),
                          f"impl/timer.py publish + read_{reader}",
                          "seqlock" if reader == "seqlock" else "single_word")


REFERENCE_COALESCING = reference("coalescing")
REFERENCE_TIMER = reference("timer")
REFERENCE_TIMER_WORD = reference("timer", "word")
