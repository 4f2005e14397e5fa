"""The learner as scheduler: a state, the numbered moves enabled in it (each VM's next
step, each non-empty store buffer's drain), undo, and a hint toward the nearest
violation. Used by ``intervm play``; no I/O here.

>>> from intervm.spec.protocols import get_protocol
>>> from intervm.model.compile import compile_spec
>>> proto = get_protocol("coalescing")
>>> spec = proto.spec("no_recheck")
>>> game = Game(compile_spec(spec, {"requests": 1, "capacity": 1}, "sc"), spec,
...             target="no_lost_wakeup")
>>> [m.text for m in game.moves()][:2]
['P idle: → space (publish another request, check for a kick, or stop)', 'P idle: → done (publish another request, check for a kick, or stop)']
>>> game.shortest("no_lost_wakeup")
10
>>> for _ in range(10):
...     _ = game.play(game.hint())
>>> game.violated()
('no_lost_wakeup',)
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from intervm.model.budget import MemoryBudget, exceeded, flat_size, state_bytes
from intervm.model.evaluate import Semantics, State
from intervm.model.explicit import StateGraph, check, explore
from intervm.model.narrate import buffer_contents, sentence
from intervm.model.render import memory_text, step_text
from intervm.model.system import CAlways, System
from intervm.model.verdict import Status
from intervm.spec.errors import ParamError
from intervm.spec.syntax import Spec

HINT_LIMIT = 1_000_000


@dataclass(frozen=True, slots=True)
class Move:
    """One enabled move: the command index and how it reads in the menu."""

    command: int
    process: str
    text: str


class Game:
    """A play session over ``system``; ``watch``: the invariants reported when they
    break (default: every ``Always``); ``target``: the one ``hint`` steers toward."""

    def __init__(self, system: System, spec: Spec | None = None,
                 watch: tuple[str, ...] | None = None, target: str | None = None,
                 memory: MemoryBudget | None = None):
        self.system = system
        self.spec = spec
        self.budget = memory or MemoryBudget.default()
        self.per_state = state_bytes(flat_size(system), sum(v.is_array for v in system.vars))
        if self.per_state > self.budget.limit:
            raise ParamError(exceeded(self.budget, self.per_state, 1, system))
        self.sem = Semantics(system)
        always = tuple(p.name for p in system.properties if isinstance(p, CAlways))
        for name in (*(watch or ()), *((target,) if target else ())):
            if name not in always:
                raise ParamError(f"property {name!r} is not an invariant (Always) of "
                                 f"{system.name}; play watches: {', '.join(always)}")
        self.watch = watch or always
        self.target = target
        self.history: list[State] = [self.sem.initial()]
        self._graph: StateGraph | None = None
        self.preds = {n: self.sem.predicate(p.pred) for p in system.properties
                      if isinstance(p, CAlways) and (n := p.name) in self.watch}

    @property
    def state(self) -> State:
        return self.history[-1]

    @property
    def steps(self) -> int:
        return len(self.history) - 1

    def moves(self) -> list[Move]:
        """The enabled moves, VM steps first (in spec order), then store-buffer drains."""
        out: list[Move] = []
        flushes: list[Move] = []
        d = self.sem.as_dict(self.state)
        bufs = dict(buffer_contents(self.system, d))
        for i, c in enumerate(self.system.commands):
            if not self.sem.enabled(self.state, i):
                continue
            if c.kind == "flush":
                ents = bufs.get(c.process, ())
                k = int(c.name.rsplit(",", 1)[1].rstrip(")")) if "," in c.name else 0
                what = ents[k].lstrip("|") if k < len(ents) else "a store"
                flushes.append(Move(i, c.process, f"drain {c.process}'s store buffer: "
                                                  f"{what} reaches memory"))
            else:
                out.append(Move(i, c.process, f"{c.process} {step_text(self.system, c.name)}"))
        return out + flushes

    def play(self, move: Move) -> str:
        """Make ``move``; the sentence saying what happened."""
        before = self.sem.as_dict(self.state)
        self.history.append(self.sem.apply(self.state, move.command))
        return sentence(self.system, self.system.commands[move.command], before,
                        self.sem.as_dict(self.state), self.spec)

    def undo(self) -> bool:
        if len(self.history) == 1:
            return False
        self.history.pop()
        return True

    def memory(self) -> str:
        return memory_text(self.system, self.sem.as_dict(self.state))

    def buffers(self) -> str:
        if not self.system.buffers:
            return ""
        return " ".join(f"{p}:[{', '.join(es)}]"
                        for p, es in buffer_contents(self.system, self.sem.as_dict(self.state)))

    def violated(self) -> tuple[str, ...]:
        """The watched invariants false in the current state."""
        return tuple(n for n, f in self.preds.items() if not f(self.state))

    def shortest(self, prop: str) -> int | None:
        """Steps of the shortest violation of ``prop`` from the initial state; raises
        :class:`ParamError` when the search cannot tell (state limit, memory budget)."""
        if self._graph is None:
            self._graph = explore(self.system, memory=self.budget)
        v = check(self._graph, prop)
        if v.status is Status.UNKNOWN:
            raise ParamError(f"the shortest violation of {prop} is UNKNOWN ({v.reason})")
        return v.depth if v.status is Status.VIOLATED else None

    def hint(self) -> Move:
        """The first move of a shortest path from here to a violation of the target
        (or of any watched invariant); raises :class:`ParamError` if none is reachable."""
        goals = [self.preds[self.target]] if self.target in self.preds else \
            list(self.preds.values())
        start = self.state
        parent: dict[State, tuple[State, int] | None] = {start: None}
        queue = deque([start])
        meter = self.budget.meter()
        every = self.budget.every(self.per_state + 200)
        check_at = every
        while queue:
            s = queue.popleft()
            if s != start and any(not f(s) for f in goals):
                while (p := parent[s]) is not None and p[0] != start:
                    s = p[0]
                assert p is not None
                return next(m for m in self.moves() if m.command == p[1])
            for c, t in self.sem.successors(s):
                if t not in parent:
                    if len(parent) >= HINT_LIMIT:
                        raise ParamError("no hint: the search from here exceeds "
                                         f"{HINT_LIMIT} states")
                    if len(parent) >= check_at:
                        check_at += every
                        if meter.over():
                            raise ParamError("no hint: " + exceeded(
                                self.budget, meter.used, len(parent), self.system))
                    parent[t] = (s, c)
                    queue.append(t)
        raise ParamError("no violation is reachable from here; undo some moves")
