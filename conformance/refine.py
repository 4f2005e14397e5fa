"""Trace validation: is a recorded run a behaviour of the spec (TLA+-style)?

The :class:`Validator` keeps the *set* of spec states consistent with the events so
far. Before each event it closes that set under silent steps (local steps, store
buffer flushes, the environment's steps, steps the binding lets the implementation
skip); then an event of process X must be matched by an enabled step of X's spec
process whose access (kind, variable, index, value) is the event's, under the
:class:`~intervm.conformance.binding.Binding`'s translation. The first event that
no state allows is a :class:`Divergence`, with the spec states just before it, the
events before it and why each candidate step did not match.

``merge_dead=True`` (what ``check-trace`` uses) treats states that differ only in
variables no guard, access or binding check can observe (property ghosts, locals
no later step reads) as one: the same events are accepted and rejected, the state
sets are smaller, and a divergence counts and shows states up to those variables.

>>> from intervm.spec.protocols import get_protocol
>>> from intervm.model.compile import compile_spec
>>> from intervm.conformance.binding import COALESCING
>>> from intervm.conformance.events import parse_line
>>> sys = compile_spec(get_protocol("coalescing").spec("correct"),
...                    {"capacity": 2, "requests": 3}, "sc")
>>> lines = ['{"process":"consumer","op":"load","field":"tail","value":0}',
...          '{"process":"consumer","op":"store","field":"flag","value":1}',
...          '{"process":"consumer","op":"wait","field":"irq","value":1}']
>>> d = validate((parse_line(t, n) for n, t in enumerate(lines, 1)), sys, COALESCING)
>>> d.event.line
3
>>> print(d.reasons[0])
C's next spec step is 'cfence: full fence (mfence)', but the trace shows consumer: wait irq (woken)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from intervm.conformance.binding import Binding
from intervm.conformance.events import Event
from intervm.model import memory as memory_models
from intervm.model.budget import (
    BudgetExceeded,
    MemoryBudget,
    exceeded,
    flat_size,
    state_bytes,
)
from intervm.model.codegen import (
    Expander,
    compile_commands,
    compile_expanders,
    compile_fn,
    compile_projection,
)
from intervm.model.evaluate import Fn, Semantics, State
from intervm.model.memory.base import Location
from intervm.model.memory.buffer import count_var, is_buffer_var
from intervm.model.render import buffers_text, interrupt_text, memory_text, step_text
from intervm.model.system import Access, Command, System
from intervm.spec.errors import EngineError, TraceError
from intervm.spec.expr import Expr, Var, eq

MAX_CLOSURE = 50_000
ENCODED = 4096  # per field, the encoded values remembered
SHOW_STATES = 3
HISTORY = 6


@dataclass(frozen=True, slots=True)
class Divergence:
    """The first event no spec behaviour allows."""

    event: Event
    position: int  # 0-based index among the events fed
    states: tuple[str, ...]  # the spec states just before it (rendered, at most a few)
    state_count: int
    previous: tuple[Event, ...]
    reasons: tuple[str, ...]

    @property
    def headline(self) -> str:
        why = self.reasons[0] if self.reasons else "no spec step matches"
        return f"line {self.event.line} ({self.event.describe()}): {why}"

    def text(self) -> str:
        """Several lines: the event, why, the spec states, the events before it."""
        out = [f"first event no spec behaviour allows: line {self.event.line}: "
               f"{self.event.describe()}"]
        out += [f"  why: {r}" for r in self.reasons]
        more = self.state_count - len(self.states)
        out.append(f"spec states just before it ({self.state_count}):")
        out += [f"  {s}" for s in self.states]
        if more > 0:
            out.append(f"  … and {more} more")
        out.append("events before it:")
        out += [f"  line {e.line}: {e.describe()}" for e in self.previous] or ["  (none)"]
        return "\n".join(out)


@dataclass(frozen=True, slots=True)
class _Cmd:
    index: int
    cmd: Command
    guard: Fn
    apply: Callable[[State], State]
    acc: Access | None
    idx: Fn | None
    val: Fn | None
    old: Fn | None  # rmw: the value returned
    after: Callable[[State], Any]  # the merge key of apply(s) (merge_dead) or apply


_NONE, _ALWAYS = -1, -2  # _Plan.extra: no extra access; always allowed


@dataclass(frozen=True, slots=True)
class _Plan:
    """Events of one shape: the spec process and target (None: outside the spec),
    the pc position, per pc the steps that could match (None: none anywhere), for
    loads and stores the field's encoder and, if the binding allows the access as
    an extra one, the process's view of the variable; for others ``extra`` is
    :data:`_NONE`, :data:`_ALWAYS` or the position of a store buffer count that
    must be 0."""

    proc: str
    target: str | None
    pci: int
    steps: tuple[tuple[_Cmd, ...], ...] | None
    enc: Callable[[Any], Any] | None
    view: Fn | None
    extra: int


class Validator:
    """Feed events one at a time; the first :class:`Divergence` is returned.

    The hot path works on precomputed tables: per (process, pc) one generated
    function adding the successors of its silent moves (and one per store buffer
    for its flushes, skipped while the buffer is empty), and per event shape a
    remembered :class:`_Plan` with the steps that could match. States are kept by
    merge key; a successor's key is generated from the old state and looked up
    before the successor itself is built (two thirds of the successors in a
    closure are states already seen). Guards and updates are generated Python
    (:mod:`intervm.model.codegen`). The meaning, the order of the states
    included, is that of the plain algorithm in the module docstring
    (``tests/test_trace_perf.py`` checks it against a direct implementation).
    """

    def __init__(self, system: System, binding: Binding, merge_dead: bool = False,
                 memory: MemoryBudget | None = None):
        system = omit_steps(system, binding)
        self.system = system
        self.model = memory_models.get(system.memory_model)
        self.binding = binding
        # the memory budget: the initial state must fit, and the state sets may grow the
        # process by at most ``memory`` (sampled every ``_every`` states of a closure)
        self.memory = memory or MemoryBudget.default()
        per_state = state_bytes(flat_size(system), sum(v.is_array for v in system.vars))
        if per_state > self.memory.limit:
            raise BudgetExceeded(exceeded(self.memory, per_state, 1, system,
                                          "spec states"))
        self._every = self.memory.every(2 * per_state + 200)
        self.meter = self.memory.meter()
        self.sem = Semantics(system)
        pos = self.sem.pos
        self.pos = pos
        roles = {p for _, p in binding.processes}
        unknown = sorted(p for p in roles if p not in system.processes)
        if unknown:
            raise TraceError(
                f"binding {binding.protocol!r} names spec process {unknown[0]!r}, which "
                f"{system.name} does not have (processes: {', '.join(system.processes)})")
        self.pc = {p: pos[f"pc.{p}"] for p in system.processes}
        labels = dict(system.labels)
        self.at: dict[str, list[list[_Cmd]]] = {p: [[] for _ in labels[p]]
                                                for p in system.processes}
        self.flushes: dict[str, list[_Cmd]] = {p: [] for p in system.processes}
        self.silent: dict[int, bool] = {}
        writers: dict[str, set[str]] = {}
        fast = compile_commands(system)
        # merge_dead: states equal on every variable the validator can observe are one
        # state (see _relevant); the kept state is the first reached
        rel = _relevant(system) if merge_dead else None
        proj = (None if rel is None or len(rel) == len(system.vars)
                else compile_projection(system, sorted(pos[v] for v in rel)))
        self._key: Callable[[State], Any] | None = None if proj is None else proj.key
        self._key_positions = None if proj is None else sorted(pos[v] for v in rel or ())
        for i, c in enumerate(system.commands):
            a = c.access
            old: Fn | None = None
            if a is not None and a.kind == "rmw" and a.var is not None:
                old = compile_fn(_old_expr(a), pos)
            rc = _Cmd(i, c, fast[i].guard, fast[i].apply, a,
                      None if a is None or a.index is None else compile_fn(a.index, pos),
                      None if a is None or a.value is None else compile_fn(a.value, pos),
                      old, fast[i].apply if proj is None else proj.after[i])
            if c.kind == "flush":
                self.flushes[c.process].append(rc)
            else:
                assert c.label is not None
                self.at[c.process][labels[c.process].index(c.label)].append(rc)
            self.silent[i] = self._is_silent(c, roles)
            if a is not None and a.kind in ("store", "rmw") and a.var is not None:
                writers.setdefault(a.var, set()).add(c.process)
        self.writers = writers
        s0 = self.sem.initial()
        # the spec states consistent with the events so far, by merge key (the state
        # itself without merge_dead); ordered: states reached by a spec step first,
        # then those kept by an extra access
        self._current: dict[Any, State] = {s0 if proj is None else proj.key(s0): s0}
        self.history: deque[Event] = deque(maxlen=HISTORY)
        self.count = 0
        # feed's lookups, remembered per event shape and per (process, variable)
        self._plans: dict[tuple[str, str, str | None, bool, str | None], _Plan] = {}
        self._view_fns: dict[tuple[str, str], Fn] = {}
        self.pending_pos = {v.name.split(".", 1)[1]: pos[v.name]
                            for v in system.vars if v.role == "pending"}
        self._moves = self._silent_table()
        self._matches = self._match_table()
        # per process and (access kind, spec target): per pc the steps that could match
        self._by_access: dict[str, dict[tuple[str, str], tuple[tuple[_Cmd, ...], ...]]] = {
            p: {k: tuple(t.get(k, ()) for t in tables)
                for k in {k for t in tables for k in t}}
            for p, tables in self._matches.items()}

    def _is_silent(self, c: Command, roles: set[str]) -> bool:
        a = c.access
        if c.kind == "flush" or a is None or not a.observed:
            return True
        if c.process not in roles:
            return True  # the environment
        if f"{c.process}.{c.label}" in self.binding.silent_steps | self.binding.omitted_steps:
            return True
        return a.kind in ("notify", "wait") and a.var in self.binding.silent_doorbells

    def _silent_table(self) -> tuple[tuple[int, int, tuple[Expander | None, ...],
                                           Expander | None], ...]:
        """Per process (in order): its pc position, its store buffer's count position
        (-1: no buffer), per pc the generated expansion by its silent moves (command
        order; None: it has none), and the expansion by its flushes. A flush needs a
        non-empty buffer (its guard says count > its slot), so the closure skips the
        flushes of an empty buffer."""
        pend = self.pending_pos
        groups: list[list[tuple[int, int | None]]] = []
        shape: list[tuple[int, int, list[int], int]] = []  # group numbers, -1: none
        for p, pci in self.pc.items():
            per_pc = []
            for cmds in self.at[p]:
                moves: list[tuple[int, int | None]] = []
                for rc in cmds:
                    if self.silent[rc.index]:
                        moves.append((rc.index, None))
                    elif (self.binding.skip_pending_notify and rc.acc is not None
                          and rc.acc.kind == "notify" and rc.acc.var in pend):
                        # a notify the implementation may skip while the doorbell is
                        # already pending: only then is it a move
                        moves.append((rc.index, pend[rc.acc.var]))
                per_pc.append(len(groups) if moves else -1)
                if moves:
                    groups.append(moves)
            flushes: list[tuple[int, int | None]] = [(rc.index, None) for rc in self.flushes[p]]
            shape.append((pci, self.pos[count_var(p)] if flushes else -1, per_pc,
                          len(groups) if flushes else -1))
            if flushes:
                groups.append(flushes)
        xs = compile_expanders(self.system, groups, self._key_positions)
        return tuple((pci, npos, tuple(None if g < 0 else xs[g] for g in per_pc),
                      None if f < 0 else xs[f]) for pci, npos, per_pc, f in shape)

    def _match_table(self) -> dict[str, list[dict[tuple[str, str], tuple[_Cmd, ...]]]]:
        """Per process and pc, the observable steps by (access kind, spec target):
        the only steps :meth:`_try` does not reject as ``"kind"`` (command order)."""
        out: dict[str, list[dict[tuple[str, str], tuple[_Cmd, ...]]]] = {}
        for p, per_pc in self.at.items():
            tables = []
            for cmds in per_pc:
                table: dict[tuple[str, str], list[_Cmd]] = {}
                for rc in cmds:
                    a = rc.acc
                    if a is None or self.silent[rc.index]:
                        continue
                    key = (a.kind, "" if a.kind == "fence" else (a.var or ""))
                    table.setdefault(key, []).append(rc)
                tables.append({k: tuple(v) for k, v in table.items()})
            out[p] = tables
        return out

    # ------------------------------------------------------------------ closure

    @property
    def states(self) -> dict[State, None]:
        """The spec states consistent with the events so far (an ordered set; with
        ``merge_dead``, one state per merge key: the first reached)."""
        return dict.fromkeys(self._current.values())

    def closure(self, states: Iterable[State]) -> dict[State, None]:
        """Every state reachable by silent steps, in breadth-first order (an ordered set;
        with ``merge_dead``, states merged by key, the first one reached kept)."""
        start: dict[Any, State] = {}
        for s in states:
            start.setdefault(s if self._key is None else self._key(s), s)
        return dict.fromkeys(self._close(start).values())

    def _close(self, start: dict[Any, State]) -> dict[Any, State]:
        """:meth:`closure` of the states ``start`` maps their keys to, keyed the same
        way. A successor's key is computed first (without the whole state when
        merging) and the state itself only when the key is new."""
        seen = dict(start)
        order = list(seen.values())
        append = order.append
        plan = self._moves
        check_at = min(MAX_CLOSURE, self._every)
        for s in order:  # grows while it is walked: a breadth-first queue
            for pci, npos, per_pc, flushes in plan:
                x = per_pc[s[pci]]
                if x is not None:
                    x(s, seen, append)
                if flushes is not None and s[npos]:
                    flushes(s, seen, append)
            if len(seen) > check_at:
                check_at = self._grown(len(seen))
        return seen

    def _grown(self, n: int) -> int:
        """A closure reached ``n`` states: stop past the limit or the memory budget,
        else the size at which to look again."""
        if n > MAX_CLOSURE:
            self._too_many()
        if self.meter.over():
            raise BudgetExceeded(exceeded(self.memory, self.meter.used, n, self.system,
                                          "spec states"))
        return min(MAX_CLOSURE, n + self._every)

    def _too_many(self) -> None:
        raise EngineError(
            f"more than {MAX_CLOSURE} spec states are consistent with the "
            f"trace before event {self.count + 1}; the silent steps do not "
            "converge: bound the spec's parameters (e.g. --param requests=N)")

    # ------------------------------------------------------------------ matching

    def _spec_target(self, e: Event) -> str | None:
        """The spec variable or doorbell the event touches; None: ignored by the binding."""
        b = self.binding
        if e.op == "fence":
            return ""
        assert e.field is not None
        if e.op in ("notify", "wait"):
            if b.ignores_doorbell(e.field):
                return None
            return b.doorbell(e.field)
        if b.ignores_field(e.field):
            return None
        return b.field(e.field).var

    def _try(self, rc: _Cmd, s: State, e: Event, target: str) -> str | None:
        """None if ``rc`` matches ``e`` in ``s``; else why not (one phrase)."""
        a = rc.acc
        assert a is not None
        kind = e.op
        if a.kind != kind or (kind != "fence" and a.var != target):
            return "kind"
        if kind == "fence":
            # a full fence's guard says the store buffer is empty: the flushes come first
            if a.fence != e.fence:
                return "kind"
            return None if rc.guard(s) else "blocked"
        if kind in ("notify", "wait"):
            return None if rc.guard(s) else "blocked"
        if not rc.guard(s):
            return "blocked"
        assert e.field is not None and e.value is not None
        if rc.idx is not None:
            if e.index is None:
                return f"the spec accesses {a.var}[{rc.idx(s)}] but the event has no index"
            if rc.idx(s) != e.index:
                return f"the spec accesses {e.field}[{rc.idx(s)}], the trace [{e.index}]"
        if kind == "rmw":
            assert rc.old is not None and rc.val is not None and e.old is not None
            old, new = rc.old(s), rc.val(s)
            if not self.binding.matches(e.field, old, e.old):
                return f"it would return {self.binding.encode(e.field, old)}, the trace {e.old}"
            if not self.binding.matches(e.field, new, e.value):
                return f"it would write {self.binding.encode(e.field, new)}, the trace {e.value}"
            return None
        assert rc.val is not None
        v = rc.val(s)
        if self.binding.matches(e.field, v, e.value):
            return None
        verb = "read" if kind == "load" else "store"
        return f"it would {verb} {e.field} = {self.binding.encode(e.field, v)} here"

    def feed(self, e: Event) -> Divergence | None:
        """Advance by one event; a :class:`Divergence` if no spec state allows it."""
        shape = (e.process, e.op, e.field, e.index is None, e.fence)
        plan = self._plans.get(shape)
        if plan is None:
            plan = self._plans[shape] = self._plan(e)
        self.count += 1
        if plan.target is None or (e.op == "wait" and e.value == 0):
            self.history.append(e)  # outside the spec, or a timed-out wait: no step
            return None
        closed = self._close(self._current)
        merged = self._key is not None
        nxt: dict[Any, State] = {}
        kept: list[tuple[Any, State]] = []
        pci, steps, extra = plan.pci, plan.steps, plan.extra
        if plan.enc is not None:  # a load or a store: what _try checks, directly
            enc, view, index, value = plan.enc, plan.view, e.index, e.value
            wild = (e.field, value) in self.binding.wildcard
            for k0, s in closed.items():
                if steps is not None:
                    for rc in steps[s[pci]]:
                        if (rc.guard(s)
                                and (rc.idx is None or (index is not None
                                                        and rc.idx(s) == index))
                                and (wild or enc(rc.val(s)) == value)):  # type: ignore[misc]
                            k = rc.after(s)
                            if k not in nxt:
                                nxt[k] = rc.apply(s) if merged else k
                if view is not None and (wild or enc(view(s)) == value):
                    kept.append((k0, s))
        else:
            target = plan.target
            for k0, s in closed.items():
                if steps is not None:
                    for rc in steps[s[pci]]:
                        if self._try(rc, s, e, target) is None:
                            k = rc.after(s)
                            if k not in nxt:
                                nxt[k] = rc.apply(s) if merged else k
                if extra == _ALWAYS or (extra >= 0 and s[extra] == 0):
                    kept.append((k0, s))
        for k, s in kept:  # after every spec step's successor, as in the docstring
            nxt.setdefault(k, s)
        if not nxt:
            return self._diverge(e, list(closed.values()), plan.proc, plan.target)
        self._current = nxt
        self.history.append(e)
        return None

    def _plan(self, e: Event) -> _Plan:
        """What :meth:`feed` needs for every event shaped like ``e`` (same process,
        op, field, fence kind, with or without an index); remembered per shape."""
        b = self.binding
        proc = b.process(e.process)
        if proc is None:
            raise TraceError(
                f"line {e.line}: process {e.process!r} is not a role of the "
                f"{b.protocol} binding (roles: {', '.join(r for r, _ in b.processes)})")
        try:
            target = self._spec_target(e)
        except TraceError as exc:
            raise TraceError(f"line {e.line}: {exc}") from None
        pci = self.pc[proc]
        if target is None:
            return _Plan(proc, None, pci, None, None, None, _NONE)
        steps = self._by_access[proc].get((e.op, target))
        match e.op:
            case "load" | "store":
                assert e.field is not None
                if e.op == "load":
                    extra = (proc, target) in b.extra_loads and e.index is None
                else:  # a store of the value the process already sees
                    extra = (b.redundant_stores and e.index is None
                             and self.writers.get(target, set()) <= {proc})
                return _Plan(proc, target, pci, steps, self._encoder(e.field),
                             self._view_fn(proc, target) if extra else None, _NONE)
            case "fence" if b.extra_fences:
                # an unmatched store fence is allowed; a full one asserts an empty buffer
                npos = self.pos.get(count_var(proc))
                drains = e.fence is not None and self.model.fence_drains(e.fence)
                return _Plan(proc, target, pci, steps, None, None,
                             npos if drains and npos is not None else _ALWAYS)
            case _:
                return _Plan(proc, target, pci, steps, None, None, _NONE)

    def _encoder(self, fld: str) -> Callable[[Any], Any]:
        """``binding.encode(fld, ·)``, remembered for the last few thousand values (the
        binding is frozen, so the answer for a value never changes)."""
        cache: dict[Any, Any] = {}
        encode = self.binding.encode

        def enc(v: Any) -> Any:
            w = cache.get(v, cache)
            if w is cache:
                if len(cache) >= ENCODED:
                    cache.clear()
                w = cache[v] = encode(fld, v)
            return w
        return enc

    def _view_fn(self, proc: str, var: str) -> Fn:
        """:meth:`_view_expr` of ``proc`` and ``var`` as one generated function."""
        fn = self._view_fns.get((proc, var))
        if fn is None:
            fn = self._view_fns[(proc, var)] = compile_fn(self._view_expr(proc, var), self.pos)
        return fn

    def _view_expr(self, proc: str, var: str) -> Expr:
        """What ``proc`` would load from scalar ``var`` now, as the memory model says
        (under TSO/PSO: its newest buffered store to it, or memory)."""
        lay = next((b for b in self.system.buffers if b.process == proc), None)
        return self.model.view(lay, Location(var, self.system.shared.index(var) + 1, False))

    # ------------------------------------------------------------------ reporting

    def describe_state(self, s: State) -> str:
        d = self.sem.as_dict(s)
        labels = dict(self.system.labels)
        pcs = []
        for p in self.system.processes:
            locs = " ".join(f"{v.name.split('.', 1)[1]}={d[v.name]}"
                            for v in self.system.vars if v.role == "local" and v.owner == p)
            pcs.append(f"{p}@{labels[p][d[f'pc.{p}']]}" + (f"({locs})" if locs else ""))
        parts = [" ".join(pcs), memory_text(self.system, d)]
        if self.system.buffers:
            parts.append("buffers " + buffers_text(self.system, d))
        parts.append("irq: " + interrupt_text(d))
        return " | ".join(parts)

    def _diverge(self, e: Event, ordered: list[State], proc: str,
                 target: str) -> Divergence:
        reasons: list[str] = []
        pci = self.pc[proc]
        idle: list[str] = []
        labels = dict(self.system.labels)[proc]
        for s in ordered:
            cands = [rc for rc in self.at[proc][s[pci]]
                     if rc.acc is not None and not self.silent[rc.index]]
            if not cands:
                r = f"{proc} is at '{labels[s[pci]]}', where the spec has no access to match"
                if r not in idle:
                    idle.append(r)
            for rc in cands:
                why = self._try(rc, s, e, target)
                step = step_text(self.system, rc.cmd.name)
                if why == "kind":
                    r = f"{proc}'s next spec step is '{step}', but the trace shows {e.describe()}"
                elif why == "blocked":
                    r = f"{proc}'s step '{step}' is not enabled here (blocked)"
                else:
                    r = f"{proc}'s step '{step}' matches the access, but {why}"
                if r not in reasons:
                    reasons.append(r)
        reasons += idle
        if e.op == "load" and (proc, target) in self.binding.extra_loads:
            reasons.append(f"as an extra load, {proc} could not read {e.field} = {e.value} "
                           "in any of these states")
        return Divergence(e, self.count - 1,
                          tuple(self.describe_state(s) for s in ordered[:SHOW_STATES]),
                          len(ordered), tuple(self.history), tuple(reasons[:4]))

    def finish(self) -> Divergence | None:
        """End of trace. Every prefix of a spec run is a spec run, so nothing more is
        checked here (liveness needs more than a finite trace); always None."""
        return None


def omit_steps(system: System, binding: Binding) -> System:
    """``system`` with each fence the binding says the implementation omits turned into
    a plain move to the next step: no empty-buffer guard, no barrier bit (the spec's
    ordering is exactly what the implementation does not provide)."""
    if not binding.omitted_steps:
        return system
    from intervm.spec.expr import Const

    found: set[str] = set()
    cmds = []
    for c in system.commands:
        name = f"{c.process}.{c.label}"
        if c.kind != "step" or name not in binding.omitted_steps:
            cmds.append(c)
            continue
        if c.access is None or c.access.kind != "fence":
            raise TraceError(
                f"binding {binding.protocol!r} omits spec step {name!r}, which is "
                f"'{c.text}', not a fence; only a fence can be omitted (list a step the "
                "implementation performs without an event in silent_steps instead)")
        found.add(name)
        pc = eq(Var(f"pc.{c.process}"), Const(system.label_names(c.process).index(c.label)))
        cmds.append(replace(c, guard=pc, updates=tuple(
            (v, e) for v, e in c.updates if not is_buffer_var(v))))
    missing = sorted(binding.omitted_steps - found)
    if missing:
        raise TraceError(
            f"binding {binding.protocol!r} omits spec step {missing[0]!r}, which "
            f"{system.name} does not have; name a step as PROCESS.LABEL")
    return replace(system, commands=tuple(cmds))


def _old_expr(a: Access) -> Any:
    from intervm.spec.expr import Select

    assert a.var is not None
    return Var(a.var) if a.index is None else Select(a.var, a.index)


def _relevant(system: System) -> set[str]:
    """The variables the validator can observe, directly or through their effect.

    Seeds: every pc, shared variable, store buffer and pending doorbell (matching and
    the binding's extra accesses read those) and every variable a guard or an access
    expression reads; closed under "an update of a relevant variable reads it".
    The rest (ghosts kept for properties, locals no later step reads) never
    changes which events match, so states that differ only there behave alike.
    """
    rel = {v.name for v in system.vars if v.role in ("pc", "shared", "sb", "pending")}
    for c in system.commands:
        rel |= _reads(c.guard)
        a = c.access
        if a is not None:
            for x in (a.index, a.value):
                if x is not None:
                    rel |= _reads(x)
            if a.kind == "rmw" and a.var is not None:
                rel.add(a.var)
    grew = True
    while grew:
        grew = False
        for c in system.commands:
            for var, expr in c.updates:
                if var in rel and not _reads(expr) <= rel:
                    rel |= _reads(expr)
                    grew = True
    return rel


def _reads(e: Any) -> set[str]:
    from intervm.spec.expr import Bin, Const, Ite, Not, Select, Update

    match e:
        case Var(name):
            return {name}
        case Select(a, i):
            return {a} | _reads(i)
        case Update(a, i, v):
            return {a} | _reads(i) | _reads(v)
        case Bin(_, a, b):
            return _reads(a) | _reads(b)
        case Not(a):
            return _reads(a)
        case Ite(c, a, b):
            return _reads(c) | _reads(a) | _reads(b)
        case Const():
            return set()
        case _:
            raise EngineError(f"spec-level node {e!r} reached the trace validator; "
                              "compile the spec first")


def validate(events: Iterable[Event], system: System, binding: Binding) -> Divergence | None:
    """The first :class:`Divergence` of ``events`` against ``system``, or None."""
    v = Validator(system, binding)
    for e in events:
        d = v.feed(e)
        if d is not None:
            return d
    return v.finish()
