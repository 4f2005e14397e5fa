"""Replay a trace, step by step, on the explicit semantics of a compiled system.

Every counterexample, whichever engine found it, must replay here: the first
command that is not enabled, or the first state that differs, is reported with its
step number.

>>> from intervm.spec.protocols import get_protocol
>>> from intervm.model.compile import compile_spec
>>> from intervm.model.bmc import bmc
>>> sys = compile_spec(get_protocol("coalescing").spec("no_recheck"), {"requests": 1}, "sc")
>>> v = bmc(sys, "no_lost_wakeup", max_depth=12)
>>> replay(v.trace, sys)
10
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from intervm.model.evaluate import Semantics, State
from intervm.model.system import CAlways, CEventually, CSometimes, System
from intervm.model.trace import Trace
from intervm.spec.errors import TraceError


def _diff(expected: Mapping[str, Any], got: Mapping[str, Any]) -> str:
    out = []
    for k, v in expected.items():
        if k in got and got[k] != v:
            out.append(f"{k}: trace has {v!r}, the spec gives {got[k]!r}")
    return "; ".join(out)


def replay(trace: Trace, system: System, *, check_states: bool = True) -> int:
    """Replay ``trace`` on ``system``; return the number of steps replayed.

    Raises :class:`TraceError` naming the first step that the spec does not allow.
    With ``check_states`` every variable recorded in the trace must match.
    """
    sem = Semantics(system)
    state: State = sem.initial()
    if check_states and (d := _diff(trace.init, sem.as_dict(state))):
        raise TraceError(f"trace {trace.prop!r}: the initial state differs: {d}")
    for n, step in enumerate(trace.steps, start=1):
        if step.command == "stutter":
            if sem.successors(state):
                raise TraceError(f"step {n}: the trace stutters, but the spec can still "
                                 "move there (it is not a deadlock)")
            continue
        i = sem.command_index(step.command)
        if not sem.enabled(state, i):
            raise TraceError(
                f"step {n}: command {step.command!r} is not enabled in the state the trace "
                f"reached; the spec does not allow this step"
            )
        state = sem.apply(state, i)
        if check_states and (d := _diff(step.state, sem.as_dict(state))):
            raise TraceError(f"step {n} ({step.command}): the state differs: {d}")
    return len(trace.steps)


def violates(trace: Trace, system: System) -> bool:
    """True when the trace's final state shows its property's violation (or, for a
    Sometimes property, its witness)."""
    sem = Semantics(system)
    state = sem.initial()
    for step in trace.steps:
        if step.command != "stutter":
            state = sem.apply(state, sem.command_index(step.command))
    p = system.prop(trace.prop)
    match p:
        case CAlways(_, pred):
            return not sem.predicate(pred)(state)
        case CSometimes(_, pred):
            return bool(sem.predicate(pred)(state))
        case CEventually(_, pending):
            return bool(sem.predicate(pending)(state)) and trace.loop_start is not None
