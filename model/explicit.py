"""Explicit-state engine: breadth-first exploration into a networkx graph.

Shortest counterexamples come from BFS parents; liveness from fair strongly
connected components of the pending, non-progress subgraph (exact for weak fairness:
an SCC holds a fair cycle iff every fairness group moves inside it or is disabled at
one of its states). Deadlocks with work pending count as violations (the run
stutters there forever).

>>> from intervm.spec.protocols import get_protocol
>>> from intervm.model.compile import compile_spec
>>> proto = get_protocol("coalescing")
>>> g = explore(compile_spec(proto.spec("no_recheck"), {"requests": 1}, "sc"))
>>> check(g, "no_lost_wakeup").text
'VIOLATED (10 steps)'
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from intervm.model.budget import MemoryBudget, exceeded, flat_size, state_bytes
from intervm.model.evaluate import Semantics, State
from intervm.model.system import CAlways, CEventually, CSometimes, System
from intervm.model.trace import Trace, TraceStep
from intervm.model.verdict import Status, Verdict

DEFAULT_MAX_STATES = 3_000_000


@dataclass
class StateGraph:
    """Every reachable state (ids in BFS order), its parent and its successors."""

    sem: Semantics
    states: list[State] = field(default_factory=list)
    parent: list[tuple[int, int] | None] = field(default_factory=list)
    succ: list[list[tuple[int, int]]] = field(default_factory=list)
    complete: bool = True
    seconds: float = 0.0
    variant: str = ""
    stopped: str = ""  # why exploration stopped early ("" : finished or the state limit)

    @property
    def system(self) -> System:
        return self.sem.system

    def __len__(self) -> int:
        return len(self.states)

    def to_networkx(self, nodes: Sequence[int] | None = None) -> Any:
        """A networkx DiGraph (edge attribute ``cmd``), restricted to ``nodes``."""
        g = nx.DiGraph()
        keep = range(len(self.states)) if nodes is None else nodes
        ks = set(keep)
        g.add_nodes_from(keep)
        for i in keep:
            for c, j in self.succ[i]:
                if j in ks:
                    g.add_edge(i, j, cmd=c)
        return g

    def path_to(self, target: int) -> list[tuple[int, int]]:
        """(command, state id) steps from the initial state to ``target``."""
        out: list[tuple[int, int]] = []
        cur = target
        while (p := self.parent[cur]) is not None:
            prev, cmd = p
            out.append((cmd, cur))
            cur = prev
        out.reverse()
        return out

    def trace(self, steps: Sequence[tuple[int, int]], prop: str,
              loop_start: int | None = None) -> Trace:
        sys = self.system
        return Trace(
            system=sys.name,
            variant=self.variant,
            memory_model=sys.memory_model,
            params=sys.params,
            prop=prop,
            init=self.sem.as_dict(self.states[0]),
            steps=tuple(
                TraceStep(
                    sys.commands[c].name if c >= 0 else "stutter",
                    sys.commands[c].process if c >= 0 else "-",
                    self.sem.as_dict(self.states[i]),
                )
                for c, i in steps
            ),
            loop_start=loop_start,
            engine="explicit",
        )


def explore(system: System, max_states: int = DEFAULT_MAX_STATES, variant: str = "",
            memory: MemoryBudget | None = None) -> StateGraph:
    """Breadth-first exploration of every reachable state (up to ``max_states``, and
    while the growth of the process stays within ``memory``, default
    :meth:`MemoryBudget.default`; past it the graph is incomplete and ``stopped``
    says why)."""
    t0 = time.perf_counter()
    budget = memory or MemoryBudget.default()
    sem = Semantics(system)
    g = StateGraph(sem, variant=variant)
    per_state = state_bytes(flat_size(system), sum(v.is_array for v in system.vars))
    if per_state > budget.limit:  # the initial state alone does not fit
        g.complete = False
        g.stopped = exceeded(budget, per_state, 1, system)
        g.seconds = time.perf_counter() - t0
        return g
    meter = budget.meter()
    every = budget.every(per_state + 200)  # + index entry, parent and successor lists
    check_at = every
    index: dict[State, int] = {}
    s0 = sem.initial()
    index[s0] = 0
    g.states.append(s0)
    g.parent.append(None)
    queue: deque[int] = deque([0])
    while queue:
        i = queue.popleft()
        out: list[tuple[int, int]] = []
        for c, t in sem.successors(g.states[i]):
            j = index.get(t)
            if j is None:
                if len(g.states) >= max_states or g.stopped:
                    g.complete = False
                    continue
                if len(g.states) >= check_at:
                    check_at += every
                    if meter.over():
                        g.complete = False
                        g.stopped = exceeded(budget, meter.used, len(g.states), system)
                        continue
                j = len(g.states)
                index[t] = j
                g.states.append(t)
                g.parent.append((i, c))
                queue.append(j)
            out.append((c, j))
        g.succ.append(out)
        if g.stopped:
            break  # over budget: expand nothing more
    # states never expanded because of the limit get empty successor lists
    while len(g.succ) < len(g.states):
        g.succ.append([])
    g.seconds = time.perf_counter() - t0
    return g


def _scope(g: StateGraph) -> str:
    params = g.system.param_text
    return f"{params}; {len(g)} states" if params else f"{len(g)} states"


def check(g: StateGraph, prop: str) -> Verdict:
    """The verdict on property ``prop`` from the explored graph ``g``."""
    t0 = time.perf_counter()
    p = g.system.prop(prop)
    verdict: Verdict
    match p:
        case CAlways(name, pred):
            f = g.sem.predicate(pred)
            bad = next((i for i, s in enumerate(g.states) if not f(s)), None)
            if bad is not None:
                steps = g.path_to(bad)
                verdict = Verdict(Status.VIOLATED, name, "explicit", 0.0, depth=len(steps),
                                  states=len(g), trace=g.trace(steps, name))
            else:
                verdict = _exhausted(g, name)
        case CSometimes(name, pred):
            f = g.sem.predicate(pred)
            good = next((i for i, s in enumerate(g.states) if f(s)), None)
            if good is not None:
                steps = g.path_to(good)
                verdict = Verdict(Status.PROVED, name, "explicit", 0.0, depth=len(steps),
                                  states=len(g), scope=f"reached in {len(steps)} steps",
                                  trace=g.trace(steps, name))
            elif g.complete:
                verdict = Verdict(Status.VIOLATED, name, "explicit", 0.0, states=len(g),
                                  reason="unreachable", scope=_scope(g))
            else:
                verdict = _limit(g, name)
        case CEventually(name, _) if g.stopped:  # a partial graph proves no lasso
            verdict = _limit(g, name)
        case CEventually(name, pending):
            verdict = _check_eventually(g, name, pending)
    return _timed(verdict, g.seconds + time.perf_counter() - t0)


def _timed(v: Verdict, seconds: float) -> Verdict:
    return Verdict(v.status, v.prop, v.engine, seconds, v.depth, v.states, v.scope, v.reason,
                   v.invariant, v.trace)


def _exhausted(g: StateGraph, name: str) -> Verdict:
    if not g.complete:
        return _limit(g, name)
    return Verdict(Status.HOLDS, name, "explicit", 0.0, states=len(g), scope=_scope(g))


def _limit(g: StateGraph, name: str) -> Verdict:
    return Verdict(Status.UNKNOWN, name, "explicit", 0.0, states=len(g),
                   reason=g.stopped or
                   f"state limit {len(g)} reached before exploration finished")


def _check_eventually(g: StateGraph, name: str, pending: Any) -> Verdict:
    sys = g.system
    f = g.sem.predicate(pending)
    pend = [i for i, s in enumerate(g.states) if f(s)]
    # a deadlock with work pending: the run stutters there forever
    for i in pend:
        if not g.succ[i] and g.complete:
            steps = g.path_to(i)
            return Verdict(Status.VIOLATED, name, "explicit", 0.0, depth=len(steps) + 1,
                           states=len(g),
                           trace=g.trace([*steps, (-1, i)], name, loop_start=len(steps)))
    pset = set(pend)
    sub = nx.DiGraph()
    sub.add_nodes_from(pend)
    for i in pend:
        for c, j in g.succ[i]:
            if j in pset and not sys.commands[c].progress:
                sub.add_edge(i, j, cmd=c)
    group_of = [c.group for c in sys.commands]
    best: tuple[int, list[tuple[int, int]], int] | None = None
    for scc in nx.strongly_connected_components(sub):
        if len(scc) == 1:
            (only,) = scc
            if not sub.has_edge(only, only):
                continue
        cycle = _fair_cycle(g, sub, scc, group_of)
        if cycle is None:
            continue
        entry, loop = cycle
        stem = g.path_to(entry)
        if best is None or len(stem) + len(loop) < best[2]:
            best = (entry, [*stem, *loop], len(stem) + len(loop))
            best_stem = len(stem)
    if best is not None:
        return Verdict(Status.VIOLATED, name, "explicit", 0.0, depth=best[2], states=len(g),
                       trace=g.trace(best[1], name, loop_start=best_stem))
    return _exhausted(g, name)


def _fair_cycle(
    g: StateGraph, sub: Any, scc: set[int], group_of: list[str | None]
) -> tuple[int, list[tuple[int, int]]] | None:
    """A cycle inside ``scc`` that is weakly fair to every group, or None."""
    groups = g.system.groups
    inner = sub.subgraph(scc)
    witnesses: list[tuple[str, int, int | None]] = []  # (kind, state, edge target)
    for grp in groups:
        moved = next(((u, v) for u, v, d in inner.edges(data=True)
                      if group_of[d["cmd"]] == grp), None)
        if moved is not None:
            witnesses.append(("edge", moved[0], moved[1]))
            continue
        disabled = next((i for i in sorted(scc)
                         if not any(group_of[c] == grp for c, _ in g.succ[i])), None)
        if disabled is None:
            return None
        witnesses.append(("state", disabled, None))
    entry = min(scc)  # smallest BFS id: the shortest stem
    loop: list[tuple[int, int]] = []
    cur = entry

    def walk_to(target: int) -> None:
        nonlocal cur
        path = nx.shortest_path(inner, cur, target)
        for a, b in itertools.pairwise(path):
            loop.append((inner.edges[a, b]["cmd"], b))
        cur = target

    for kind, s, t in witnesses:
        walk_to(s)
        if kind == "edge" and t is not None:
            loop.append((inner.edges[s, t]["cmd"], t))
            cur = t
    if cur != entry or not loop:
        if cur == entry:  # no step yet: take any edge out and come back
            nxt = next(iter(inner.successors(entry)))
            loop.append((inner.edges[entry, nxt]["cmd"], nxt))
            cur = nxt
        walk_to(entry)
    return entry, loop
