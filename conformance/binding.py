"""How an implementation's names and values correspond to a spec's (data, per protocol).

A recorded event names a layout field (``tail``, ``slot_id``), a doorbell and a role
(``consumer``); the spec has shared variables, doorbells and processes. A
:class:`Binding` says which is which, how a spec value looks in the implementation
(:class:`Encoding`), what the implementation does that the spec leaves out (fields
and doorbells outside the spec, extra loads and fences, values it caches), and is
the single place those choices are written down. ``docs/trace-format.md`` explains
each choice.

>>> b = COALESCING
>>> b.process("consumer"), b.field("tail").var, b.encode("tail", 2**32 + 5)
('C', 'tail', 5)
>>> b.ignores_field("slot_stamp"), b.ignores_doorbell("done")
(True, True)
>>> TIMER.encode("time_hi", (7 << 32) + 9), TIMER.encode("time_lo", (7 << 32) + 9)
(7, 9)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from intervm.spec import layout as L
from intervm.spec.errors import TraceError

M32 = 0xFFFF_FFFF


class Encoding(enum.Enum):
    """How a spec value ``v`` is written in the implementation's word."""

    SAME = "same"  # v
    INDEX32 = "index32"  # v mod 2**32: free-running naturals vs u32 indices
    LOW32 = "low32"  # v mod 2**32: the low word of a 64-bit count
    HIGH32 = "high32"  # v >> 32 mod 2**32: the high word of a 64-bit count
    PAYLOAD = "payload"  # v + payload_offset: the spec's payload i+1 vs a request id


@dataclass(frozen=True, slots=True)
class FieldBinding:
    """Implementation field ``field`` is spec variable ``var``, written as ``encoding``."""

    field: str
    var: str
    encoding: Encoding = Encoding.SAME


@dataclass(frozen=True, slots=True)
class Binding:
    """The correspondence between one implementation and one protocol's specs.

    ``processes``: (role, spec process); a spec process name is accepted as a role too.
    Spec processes that no role maps to are the environment: their steps are silent.
    ``silent_steps``: ``"P.space"`` — spec steps the implementation may perform
    without an event (it caches the value, or its instruction implies the step).
    ``omitted_steps``: ``"W.iret"`` — spec *fences* the implementation does not
    make at all: the validator moves past them without their ordering (a silent full
    fence would still demand an empty store buffer, i.e. force the flushes the
    implementation never waits for).
    ``silent_doorbells``: spec doorbells the implementation does not have.
    ``extra_loads``: (spec process, spec variable) loads the implementation may add
    anywhere; each must return what that process could read at that point.
    ``extra_fences``: an unmatched full fence is allowed (it only asserts that the
    process's store buffer is empty); an unmatched store fence is allowed.
    ``redundant_stores``: a store that rewrites the value the storing process already
    sees, to a variable no other process writes, changes nothing and is allowed.
    ``skip_pending_notify``: a spec notify of a latched doorbell that is already
    pending changes no shared state and may be skipped by the implementation.
    ``wildcard``: (field, value) pairs that stand for any spec value (a sentinel).
    """

    protocol: str
    processes: tuple[tuple[str, str], ...]
    fields: tuple[FieldBinding, ...]
    doorbells: tuple[tuple[str, str], ...]
    ignored_fields: frozenset[str] = frozenset()
    ignored_doorbells: frozenset[str] = frozenset()
    silent_steps: frozenset[str] = frozenset()
    omitted_steps: frozenset[str] = frozenset()
    silent_doorbells: frozenset[str] = frozenset()
    extra_loads: frozenset[tuple[str, str]] = frozenset()
    extra_fences: bool = True
    redundant_stores: bool = True
    skip_pending_notify: bool = False
    wildcard: frozenset[tuple[str, int]] = frozenset()
    payload_offset: int = 0

    def process(self, role: str) -> str | None:
        for r, p in self.processes:
            if role in (r, p):
                return p
        return None

    def field(self, name: str) -> FieldBinding:
        for f in self.fields:
            if f.field == name:
                return f
        raise TraceError(
            f"field {name!r} is not part of the {self.protocol} binding; its fields are "
            f"{', '.join(f.field for f in self.fields)} (ignored: "
            f"{', '.join(sorted(self.ignored_fields)) or 'none'})"
        )

    def doorbell(self, name: str) -> str:
        for d, s in self.doorbells:
            if d == name:
                return s
        raise TraceError(
            f"doorbell {name!r} is not part of the {self.protocol} binding; its doorbells "
            f"are {', '.join(d for d, _ in self.doorbells) or 'none'}"
        )

    def ignores_field(self, name: str) -> bool:
        return name in self.ignored_fields

    def ignores_doorbell(self, name: str) -> bool:
        return name in self.ignored_doorbells

    def encode(self, field: str, value: int) -> int:
        """The implementation's word for spec value ``value`` of ``field``'s variable."""
        match self.field(field).encoding:
            case Encoding.SAME:
                return value
            case Encoding.INDEX32 | Encoding.LOW32:
                return value & M32
            case Encoding.HIGH32:
                return (value >> 32) & M32
            case Encoding.PAYLOAD:
                return value + self.payload_offset
        raise AssertionError("unreachable")  # pragma: no cover

    def matches(self, field: str, spec_value: int, impl_value: int) -> bool:
        return (field, impl_value) in self.wildcard or self.encode(field, spec_value) == impl_value

    def field_for(self, var: str) -> str | None:
        """The implementation field bound to spec variable ``var`` (None: none is)."""
        for f in self.fields:
            if f.var == var:
                return f.field
        return None

    def doorbell_for(self, spec_doorbell: str) -> str | None:
        for d, s in self.doorbells:
            if s == spec_doorbell:
                return d
        return None


COALESCING = Binding(
    protocol="coalescing",
    processes=(("producer", "P"), ("consumer", "C")),
    fields=(
        FieldBinding("tail", "tail", Encoding.INDEX32),
        FieldBinding("head", "head", Encoding.INDEX32),
        FieldBinding("flag", "flag"),
        FieldBinding("slot_id", "slots", Encoding.PAYLOAD),
    ),
    doorbells=(("irq", "irq"),),
    # slot_stamp is a latency stamp, pwait/done the producer's back-pressure wait:
    # neither exists in the spec, and no spec decision depends on them.
    ignored_fields=frozenset({"slot_stamp", "pwait", "magic", "version", "capacity"}),
    ignored_doorbells=frozenset({"done"}),
    # P.space: the producer keeps its last head and reloads it only when its copy says
    # the ring is full (head only grows, so a fresh load would also find space).
    # C.drain: the consumer loads tail once and takes every request up to it.
    # P.wmb: impl stores are release stores, which order the slot before tail.
    silent_steps=frozenset({"P.space", "C.drain", "P.wmb"}),
    # attach() loads both indices; the consumer re-polls tail (after unarming, when
    # idle polling, after a timed-out wait); the producer reloads head while it
    # waits for space and before skipping a kick.
    extra_loads=frozenset({("P", "head"), ("P", "tail"), ("C", "head"), ("C", "tail")}),
    skip_pending_notify=True,
    # the stop request's id replaces the spec payload of the last request
    wildcard=frozenset({("slot_id", L.STOP_REQUEST_ID)}),
)

TIMER = Binding(
    protocol="timer",
    processes=(("writer", "W"), ("reader", "S")),
    fields=(
        FieldBinding("timer_seq", "seq", Encoding.INDEX32),
        FieldBinding("time_lo", "lo", Encoding.LOW32),
        FieldBinding("time_hi", "hi", Encoding.HIGH32),
    ),
    doorbells=(),
    # time64 is the single-word variant's word; tick_ns is configuration
    ignored_fields=frozenset({"time64", "tick_ns", "magic", "version", "capacity"}),
    # W.iret: the spec's interrupt return is a full fence the impl's publish lacks
    # (the writer then sleeps until its next tick). Omitted, not silent: as a silent
    # step it would still drain W's buffer before the next publish, so a reader that
    # still sees the old version while the even one waits in the writer's buffer
    # behind the next odd one (TSO without `time64`, PSO) would be rejected; the
    # reader's request/completion doorbells (S.send, S.back and the completer C) are
    # the spec's environment.
    omitted_steps=frozenset({"W.iret"}),
    silent_doorbells=frozenset({"req", "cpl"}),
)

# The in-process tester runs the spec's three timer processes, with the request and
# completion doorbells as real accesses: every role is checked, doorbells included.
TIMER_ROLES = replace(
    TIMER,
    processes=(("writer", "W"), ("submitter", "S"), ("completer", "C")),
    doorbells=(("req", "req"), ("cpl", "cpl")),
    silent_doorbells=frozenset(),
)

BINDINGS = {"coalescing": COALESCING, "timer": TIMER}


def binding_for(protocol: str) -> Binding:
    """The binding of a built-in protocol; raises :class:`TraceError` otherwise."""
    try:
        return BINDINGS[protocol]
    except KeyError:
        raise TraceError(
            f"protocol {protocol!r} has no implementation binding; trace validation "
            f"supports {', '.join(BINDINGS)}"
        ) from None
