"""What ``intervm explain`` and ``intervm play`` teach from: a variant, the property
it breaks, the memory model where that first shows, the fixed variant, and the
shortest counterexample (explicit BFS).

>>> from intervm.spec.protocols import get_protocol
>>> les = prepare(get_protocol("coalescing"), "no_producer_fence")
>>> les.prop, les.memory_model, les.fixed, len(les.trace)
('no_lost_wakeup', 'tso', 'correct', 13)
>>> fixed_variant(get_protocol("timer"), "two_words_lo_first", "no_torn_read", "sc")
'seqlock'
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from intervm.model import memory as memory_models
from intervm.model.budget import MemoryBudget
from intervm.model.compile import compile_spec
from intervm.model.explicit import StateGraph, check, explore
from intervm.model.system import CSometimes, System
from intervm.model.trace import Trace
from intervm.model.verdict import Status
from intervm.spec.errors import ParamError
from intervm.spec.protocol import Protocol
from intervm.spec.syntax import Spec

MAX_STATES = 2_000_000


@dataclass(frozen=True, slots=True)
class Lesson:
    """A counterexample ready to narrate, and the variant that fixes it."""

    protocol: Protocol
    variant: str
    prop: str
    memory_model: str
    params: tuple[tuple[str, int | None], ...]
    spec: Spec
    system: System
    trace: Trace
    fixed: str | None
    states: int


def default_property(proto: Protocol, variant: str) -> str:
    """The first property (in spec order, safety before liveness) the variant
    declares violated; raises :class:`ParamError` when it declares none."""
    v = proto.variant(variant)
    spec = proto.spec(variant)
    names = [p.name for p in spec.properties if v.violated.get(p.name)]
    safety = [n for n in names
              if not any(p.name == n and type(p).__name__ == "Eventually"
                         for p in spec.properties)]
    if not names:
        raise ParamError(
            f"variant {variant!r} of {proto.name!r} declares no violated property, so there "
            f"is no counterexample to explain; pick a buggy variant (one that declares "
            f"violations) or name one with --property")
    return (safety or names)[0]


def default_memory_model(proto: Protocol, variant: str, prop: str) -> str:
    """The strongest model (SC before TSO before PSO) under which ``variant`` is declared
    to violate ``prop``: the simplest setting that still shows the bug."""
    under = proto.variant(variant).violated.get(prop, frozenset())
    for mm in memory_models.names():
        if mm in under:
            return mm
    raise ParamError(
        f"variant {variant!r} does not declare {prop!r} violated under any memory model; "
        f"give --memory-model to look for a counterexample anyway")


def _knob_distance(a: Any, b: Any) -> int:
    if type(a) is not type(b) or not dataclasses.is_dataclass(a):
        return 0 if a == b else 1_000
    return sum(getattr(a, f.name) != getattr(b, f.name) for f in dataclasses.fields(a))


def fixed_variant(proto: Protocol, variant: str, prop: str, memory_model: str) -> str | None:
    """The variant that fixes ``variant`` for ``prop`` under ``memory_model``: among the
    variants declared to keep ``prop`` there, one named ``correct``, else the one built
    from the default knobs (the protocol as meant), else the fewest knob changes away.
    """
    cur = proto.variant(variant)
    good = [v for v in proto.variants
            if v.name != variant and v.expected(prop, memory_model) == "holds"
            and memory_model in v.memory_models
            and prop in {p.name for p in proto.spec(v.name).properties}]
    if not good:
        return None
    for v in good:
        if v.name == "correct":
            return v.name
    for v in good:
        try:
            knobs: Any = v.knobs
            cls: Any = type(knobs)
            if dataclasses.is_dataclass(knobs) and knobs == cls():
                return v.name
        except TypeError:  # knobs without defaults
            pass
    return min(good, key=lambda v: _knob_distance(cur.knobs, v.knobs)).name


def compile_variant(proto: Protocol, variant: str, memory_model: str,
                    params: dict[str, int] | None = None,
                    memory: MemoryBudget | None = None) -> tuple[Spec, System]:
    """The spec and compiled system of ``variant`` at its finite-check parameters
    (overridden by ``params``); refused when its initial state does not fit
    ``memory``."""
    if memory_model not in memory_models.names():
        raise ParamError(f"memory model {memory_model!r} is not one of "
                         f"{', '.join(memory_models.names())}")
    spec = proto.spec(variant)
    ps: dict[str, int | None] = proto.params_for(variant, unbounded=False)
    known = {p.name for p in spec.params}
    for k, val in (params or {}).items():
        if k not in known:
            raise ParamError(f"parameter {k!r} is not declared by {proto.name!r}; its "
                             f"parameters are: {', '.join(sorted(known)) or 'none'}")
        ps[k] = val
    return spec, compile_spec(spec, ps, memory_model, budget=memory)


def shortest(system: System, prop: str, variant: str, max_states: int = MAX_STATES,
             memory: MemoryBudget | None = None) -> tuple[Trace | None, StateGraph]:
    """The shortest counterexample to ``prop`` (BFS; for a ``Sometimes`` property the
    shortest witness), or None when there is none."""
    g = explore(system, max_states=max_states, variant=variant, memory=memory)
    v = check(g, prop)
    if v.status is Status.UNKNOWN and g.stopped:
        raise ParamError(f"the search of {system.name}/{variant} is UNKNOWN ({g.stopped})")
    if v.status is Status.UNKNOWN:
        raise ParamError(f"the state space of {system.name}/{variant} ({system.param_text}) "
                         f"exceeds {max_states} states; give smaller --param values")
    found = v.status is (Status.PROVED if isinstance(system.prop(prop), CSometimes)
                         else Status.VIOLATED)
    return (v.trace if found else None), g


def prepare(proto: Protocol, variant: str, prop: str | None = None,
            memory_model: str | None = None, params: dict[str, int] | None = None,
            fixed: str | None = None, memory: MemoryBudget | None = None) -> Lesson:
    """Choose the defaults, compile, and find the shortest counterexample (within the
    memory budget ``memory``)."""
    proto.variant(variant)  # a clear error for an unknown name
    prop = prop or default_property(proto, variant)
    spec0 = proto.spec(variant)
    if prop not in {p.name for p in spec0.properties}:
        raise ParamError(f"property {prop!r} is not declared by {proto.name}/{variant}; its "
                         f"properties are: {', '.join(p.name for p in spec0.properties)}")
    mm = memory_model or default_memory_model(proto, variant, prop)
    if fixed is not None:
        proto.variant(fixed)
    else:
        fixed = fixed_variant(proto, variant, prop, mm)
    spec, system = compile_variant(proto, variant, mm, params, memory)
    trace, g = shortest(system, prop, variant, memory=memory)
    if trace is None:
        raise ParamError(
            f"{proto.name}/{variant} keeps {prop!r} under {mm.upper()} at "
            f"{system.param_text} ({len(g)} states searched): there is no counterexample "
            f"to explain; try another --memory-model, --property or larger --param values")
    return Lesson(proto, variant, prop, mm, system.params, spec, system, trace, fixed, len(g))
