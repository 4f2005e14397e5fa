"""How deep a store buffer has to be before a TSO/PSO verdict stops depending on it.

A compiled system gives every process a store buffer of a fixed number of entries
(``--buffer``); a full buffer stalls the next store, so a bounded buffer can hide an
outcome that real hardware (dozens of entries) allows. Two ways to make the bound
stop mattering, used by :class:`~intervm.model.check.Checker`:

* :func:`store_bound` — when no process has a loop, the most stores one process can
  issue on any path. A buffer of that many entries never fills, so it behaves as an
  unbounded one: exact (litmus tests are like this).
* :func:`projection` — the set of values that the property's variables take over
  the reachable states. The checker grows the buffer until this set is the same at
  depth d and d+1 and calls d *sufficient*. That is a heuristic: the set could
  still change at d+2 (a behaviour needing d+2 entries that leaves no trace at d+1).

>>> from intervm.spec.api import *
>>> p = Process("P", steps=(Step("a", Store("x", 1)), Step("b", Store("y", 1)),
...                         Step("done", Halt())))
>>> loop = Process("Q", steps=(Step("a", Store("x", 1), then="a"),))
>>> store_bound(Spec("s", shared=(Shared("x", BIT), Shared("y", BIT)), processes=(p,),
...                  properties=(Sometimes("d", At("P", "done")),)))
2
>>> store_bound(Spec("s", shared=(Shared("x", BIT),), processes=(loop,),
...                  properties=(Sometimes("d", At("Q", "a")),))) is None
True
"""

from __future__ import annotations

from functools import cache

from intervm.model.explicit import StateGraph
from intervm.model.slicing import expr_vars
from intervm.model.system import CAlways, CEventually, CSometimes
from intervm.spec.errors import EngineError
from intervm.spec.syntax import Branch, Choose, Halt, Process, Rmw, Spec, Store


def _next_labels(proc: Process, label: str) -> list[str]:
    step = proc.steps[proc.labels.index(label)]
    match step.op:
        case Halt():
            return []
        case Choose(options):
            out = [target for _, target in options]
        case Branch(_, target):
            out = [target]
            if (fall := proc.successor(label)) is not None:
                out.append(fall)
        case _:
            fall = proc.successor(label)
            out = [] if fall is None else [fall]
    if step.branch is not None:
        out.append(step.branch[1])
    return [t for t in out if t in proc.labels]


def process_store_bound(proc: Process, rmw: bool = False) -> int | None:
    """The most ``Store`` (and with ``rmw``, ``Rmw``) steps on one path of ``proc``;
    None when it can loop."""
    on_path: set[str] = set()

    @cache
    def most(label: str) -> int:
        if label in on_path:
            raise _Loop
        on_path.add(label)
        step = proc.steps[proc.labels.index(label)]
        counted = (Store, Rmw) if rmw else (Store,)
        here = 1 if isinstance(step.op, counted) else 0
        best = max((most(t) for t in _next_labels(proc, label)), default=0)
        on_path.discard(label)
        return here + best

    if not proc.steps:
        return 0
    try:
        return most(proc.steps[0].label)
    except _Loop:
        return None


class _Loop(Exception):
    """A cycle in a process's control flow (internal to :func:`process_store_bound`)."""


def store_bound(spec: Spec, scope: str = "per VM") -> int | None:
    """The most stores any one process can issue (``scope="per VM"``), or all
    processes together, RMWs included (``"in all"``: what a model with a history of
    writes needs); None when some process loops."""
    bounds = [process_store_bound(p, rmw=scope != "per VM") for p in spec.processes]
    if any(b is None for b in bounds):
        return None
    known = [b for b in bounds if b is not None]
    return max(known, default=0) if scope == "per VM" else sum(known)


def projection(g: StateGraph, prop: str) -> frozenset[tuple[object, ...]]:
    """The values of ``prop``'s variables over every state of ``g``."""
    match g.system.prop(prop):
        case CAlways(_, pred) | CSometimes(_, pred):
            names = sorted(expr_vars(pred))
        case CEventually():
            raise EngineError(f"property {prop!r} is a liveness property; the buffer "
                              "projection is for safety properties only")
    idx = [g.sem.pos[n] for n in names if n in g.sem.pos]
    return frozenset(tuple(s[i] for i in idx) for s in g.states)
