"""Compile a spec, its parameters and a memory model into a flat :class:`System`.

Memory models are transformations of the same spec, not rewrites of it:

* ``sc``: every load and store acts on memory at once.
* ``tso`` (x86-TSO, Owens/Sarkar/Sewell): each process gets a FIFO store buffer of
  ``buffer`` entries; a load takes the newest own buffered store to the same
  location (forwarding) or memory; a separate ``flush`` command moves the oldest
  entry to memory; a full fence, a locked RMW, a doorbell write and a wait are
  enabled only when the own buffer is empty; a full buffer stalls the next store.
* ``pso``: as TSO, but any entry may flush unless an older entry writes the same
  location or a store fence separates them (store-store reordering; the fence puts
  a barrier bit on the next buffered store).

>>> from intervm.spec.protocols import get_protocol
>>> spec = get_protocol("coalescing").spec("correct")
>>> sc = compile_spec(spec, {"requests": 1, "capacity": 1}, "sc")
>>> tso = compile_spec(spec, {"requests": 1, "capacity": 1}, "tso")
>>> [c.name for c in tso.commands if c.kind == "flush"]
['flush(P)', 'flush(C)']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import assert_never

from intervm.model.simplify import fold
from intervm.model.system import (
    Access,
    BufferInfo,
    CAlways,
    CEventually,
    Command,
    CProperty,
    CSometimes,
    StateVar,
    System,
)
from intervm.spec.errors import ParamError, SpecError
from intervm.spec.expr import (
    TRUE,
    At,
    Bin,
    Const,
    Expr,
    G,
    Ite,
    L,
    LocalOf,
    Mem,
    Not,
    Param,
    Pending,
    Select,
    Update,
    Var,
    add,
    and_,
    eq,
    ge,
    gt,
    ite,
    lt,
    mod,
    ne,
    not_,
    or_,
    show,
    sub,
)
from intervm.spec.syntax import (
    Always,
    Assign,
    Await,
    Bits,
    Branch,
    Choose,
    Domain,
    Doorbell,
    Eventually,
    Fence,
    Ghost,
    Halt,
    Load,
    Local,
    Nat,
    Notify,
    Process,
    Rmw,
    Shared,
    Sometimes,
    Spec,
    Step,
    Store,
    Wait,
)
from intervm.spec.validate import validate

MEMORY_MODELS = ("sc", "tso", "pso")
HALTED = "⊥"


def pc_var(process: str) -> str:
    return f"pc.{process}"


def local_var(process: str, name: str) -> str:
    return f"{process}.{name}"


def param_var(name: str) -> str:
    return name.upper()


def pending_var(doorbell: str) -> str:
    return f"pending.{doorbell}"


def injected_var(doorbell: str) -> str:
    return f"injected.{doorbell}"


@dataclass(frozen=True, slots=True)
class BufferLayout:
    """Which fields one process's store buffer needs (constant fields are dropped)."""

    process: str
    size: int
    targets: tuple[str, ...]  # shared variables the process stores to
    with_index: bool
    with_barrier: bool = False  # PSO store fences: entries carry a barrier bit
    # sliced-away shared variables the process also stores: their stores still take
    # an entry (tagged with the variable's id, no value) so a bounded buffer fills up
    # exactly as in the whole system; flushing one writes nothing
    phantoms: tuple[str, ...] = ()

    def n(self) -> str:
        return f"sb.{self.process}.n"

    def var(self, k: int) -> str:
        return f"sb.{self.process}.var{k}"

    def idx(self, k: int) -> str:
        return f"sb.{self.process}.idx{k}"

    def val(self, k: int) -> str:
        return f"sb.{self.process}.val{k}"

    def bar(self, k: int) -> str:
        return f"sb.{self.process}.bar{k}"

    def wmb(self) -> str:
        return f"sb.{self.process}.wmb"

    @property
    def with_var(self) -> bool:
        return len(self.targets) + len(self.phantoms) > 1

    def fields(self, k: int) -> list[str]:
        out = [self.val(k)]
        if self.with_var:
            out.append(self.var(k))
        if self.with_index:
            out.append(self.idx(k))
        if self.with_barrier:
            out.append(self.bar(k))
        return out


class _Compiler:
    def __init__(self, spec: Spec, params: Mapping[str, int | None], mm: str, buffer: int,
                 observe: frozenset[str] | None = None, exact_buffer: bool = False):
        if mm not in MEMORY_MODELS:
            raise ParamError(
                f"memory model {mm!r} is unknown; choose one of {', '.join(MEMORY_MODELS)}"
            )
        if buffer < 1:
            raise ParamError(f"store buffer size {buffer} must be at least 1")
        validate(spec)
        self.spec = spec
        self.mm = mm
        self.buffer = buffer
        self.params = self._resolve_params(params)
        self.var_ids = {v.name: i + 1 for i, v in enumerate(spec.shared)}
        # shared variables outside ``observe`` are dropped: their stores and loads
        # still take a step and touch no memory; with ``exact_buffer`` a store by a
        # process that also stores an observed variable takes a value-less buffer
        # entry, so the bounded buffer fills up exactly as in the whole system
        self.dropped = (
            frozenset() if observe is None else frozenset(self.var_ids) - observe
        )
        self.layouts: dict[str, BufferLayout] = {}
        if mm != "sc":
            for p in spec.processes:
                targets = sorted({s.op.var for s in p.steps if isinstance(s.op, Store)}
                                 - self.dropped)
                phantoms = sorted({s.op.var for s in p.steps if isinstance(s.op, Store)}
                                  & self.dropped) if exact_buffer else []
                if targets:
                    with_index = any(spec.shared_var(t).length is not None for t in targets)
                    barrier = mm == "pso" and any(
                        isinstance(s.op, Fence) and s.op.kind == "store" for s in p.steps
                    )
                    self.layouts[p.name] = BufferLayout(
                        p.name, buffer, tuple(targets), with_index, barrier, tuple(phantoms)
                    )

    # ------------------------------------------------------------ parameters

    def _resolve_params(self, given: Mapping[str, int | None]) -> dict[str, int | None]:
        known = {p.name for p in self.spec.params}
        for k in given:
            if k not in known:
                raise ParamError(
                    f"parameter {k!r} is not declared by protocol {self.spec.name!r}; "
                    f"its parameters are: {', '.join(sorted(known)) or 'none'}"
                )
        out: dict[str, int | None] = {}
        for p in self.spec.params:
            v = given.get(p.name, p.default)
            if v is None and not p.symbolic_ok:
                raise ParamError(
                    f"parameter {p.name!r} of {self.spec.name!r} cannot be left symbolic; "
                    f"give it a value >= {p.minimum}"
                )
            if v is not None and v < p.minimum:
                raise ParamError(
                    f"parameter {p.name}={v} of {self.spec.name!r} is below its minimum "
                    f"{p.minimum}"
                )
            out[p.name] = v
        return out

    def param_expr(self, name: str) -> Expr:
        v = self.params[name]
        return Var(param_var(name)) if v is None else Const(v)

    def length_of(self, var: Shared) -> int | None:
        if var.length is None:
            return None
        if isinstance(var.length, int):
            return var.length
        return self.params[var.length]

    # ------------------------------------------------------------ expressions

    def ring_index(self, var: Shared, index: Expr) -> Expr:
        n = self.length_of(var)
        return index if n is None else mod(index, n)

    def resolve(self, e: Expr, proc: str | None, subst: Mapping[str, Expr] | None = None) -> Expr:
        """Replace spec-level nodes by flat variables; ``subst`` maps locals to values."""
        r = self.resolve
        match e:
            case Const() | Var():
                return e
            case L(name):
                if proc is None:
                    raise SpecError(f"local {name!r} used outside a process; use LocalOf")
                if subst is not None and name in subst:
                    return subst[name]
                return Var(local_var(proc, name))
            case LocalOf(p, name):
                return Var(local_var(p, name))
            case G(name):
                return Var(name)
            case Mem(name, index):
                v = self.spec.shared_var(name)
                if index is None:
                    return Var(name)
                return Select(name, self.ring_index(v, r(index, proc, subst)))
            case At(p, label):
                return eq(Var(pc_var(p)), self.label_index(p, label))
            case Param(name):
                return self.param_expr(name)
            case Pending(name):
                return ne(Var(pending_var(name)), 0)
            case Select(a, i):
                return Select(a, r(i, proc, subst))
            case Update(a, i, v):
                return Update(a, r(i, proc, subst), r(v, proc, subst))
            case Bin(op, a, b):
                return Bin(op, r(a, proc, subst), r(b, proc, subst))
            case Not(a):
                return Not(r(a, proc, subst))
            case Ite(c, a, b):
                return Ite(r(c, proc, subst), r(a, proc, subst), r(b, proc, subst))
            case _:
                assert_never(e)

    def label_index(self, process: str, label: str) -> int:
        if label == HALTED:
            return len(self.spec.process(process).steps)
        return self.spec.process(process).labels.index(label)

    @staticmethod
    def wrap(domain: Domain, value: Expr) -> Expr:
        match domain:
            case Bits():
                return mod(value, domain.modulus)
            case Nat():
                return value
            case _:
                assert_never(domain)

    def narrow(self, src: Domain, dst: Domain, value: Expr) -> Expr:
        """Wrap a loaded value only when the destination cannot hold every source value."""
        match (src, dst):
            case (_, Nat()):
                return value
            case (Bits(w1), Bits(w2)) if w1 <= w2:
                return value
            case _:
                return self.wrap(dst, value)

    # ------------------------------------------------------------ memory model

    def load_value(self, proc: str, var: Shared, index: Expr | None) -> Expr:
        mem: Expr = Var(var.name) if index is None else Select(var.name, index)
        lay = self.layouts.get(proc)
        if lay is None or var.name not in lay.targets:
            return mem
        out = mem
        for k in range(lay.size):  # newest matching entry wins: outermost is newest
            conds = [gt(Var(lay.n()), k)]
            if lay.with_var:
                conds.append(eq(Var(lay.var(k)), self.var_ids[var.name]))
            if lay.with_index:
                conds.append(eq(Var(lay.idx(k)), index if index is not None else Const(0)))
            out = ite(and_(*conds), Var(lay.val(k)), out)
        return out

    def empty_buffer(self, proc: str) -> Expr:
        lay = self.layouts.get(proc)
        return TRUE if lay is None else eq(Var(lay.n()), 0)

    def store_updates(
        self, proc: str, var: Shared, index: Expr | None, value: Expr
    ) -> tuple[Expr, list[tuple[str, Expr]]]:
        """(extra guard, updates) of one store under the memory model."""
        value = self.wrap(var.domain, value)
        lay = self.layouts.get(proc)
        if lay is None:
            if index is None:
                return TRUE, [(var.name, value)]
            return TRUE, [(var.name, Update(var.name, index, value))]
        n = Var(lay.n())
        ups: list[tuple[str, Expr]] = []
        for k in range(lay.size):
            at_k = eq(n, k)
            ups.append((lay.val(k), ite(at_k, value, Var(lay.val(k)))))
            if lay.with_var:
                ups.append((lay.var(k), ite(at_k, self.var_ids[var.name], Var(lay.var(k)))))
            if lay.with_index:
                idx = index if index is not None else Const(0)
                ups.append((lay.idx(k), ite(at_k, idx, Var(lay.idx(k)))))
            if lay.with_barrier:
                ups.append((lay.bar(k), ite(at_k, Var(lay.wmb()), Var(lay.bar(k)))))
        if lay.with_barrier:
            ups.append((lay.wmb(), Const(0)))
        ups.append((lay.n(), add(n, 1)))
        return lt(n, lay.size), ups

    def flush_commands(self, proc: str) -> list[Command]:
        lay = self.layouts.get(proc)
        if lay is None:
            return []
        slots = [0] if self.mm == "tso" else list(range(lay.size))
        out: list[Command] = []
        for j in slots:
            guard_parts = [gt(Var(lay.n()), j)]
            for k in range(j):  # PSO: same location must stay in order
                same: list[Expr] = [TRUE]
                if lay.with_var:
                    same.append(eq(Var(lay.var(k)), Var(lay.var(j))))
                if lay.with_index:
                    same.append(eq(Var(lay.idx(k)), Var(lay.idx(j))))
                guard_parts.append(not_(and_(*same)))
            if lay.with_barrier:  # a store fence between entries keeps them in order
                guard_parts.extend(eq(Var(lay.bar(i)), 0) for i in range(1, j + 1))
            ups: list[tuple[str, Expr]] = []
            for t in lay.targets:
                v = self.spec.shared_var(t)
                new: Expr
                if v.length is None:
                    new = Var(lay.val(j))
                else:
                    new = Update(t, Var(lay.idx(j)), Var(lay.val(j)))
                if lay.with_var:
                    new = ite(eq(Var(lay.var(j)), self.var_ids[t]), new, Var(t))
                ups.append((t, new))
            for k in range(j, lay.size):
                nexts: list[str | None] = (
                    list(lay.fields(k + 1)) if k + 1 < lay.size else [None] * len(lay.fields(k))
                )
                for f_k, f_next in zip(lay.fields(k), nexts, strict=True):
                    ups.append((f_k, Var(f_next) if f_next is not None else Const(0)))
            ups.append((lay.n(), sub(Var(lay.n()), 1)))
            if lay.with_barrier:
                ups.append((lay.wmb(), ite(eq(Var(lay.n()), 1), 0, Var(lay.wmb()))))
            name = f"flush({proc})" if self.mm == "tso" else f"flush({proc},{j})"
            out.append(
                Command(
                    name=name,
                    process=proc,
                    group=f"flush.{proc}",
                    guard=and_(*guard_parts),
                    updates=tuple(ups),
                    kind="flush",
                    text=f"{proc}'s oldest buffered store reaches memory"
                    if self.mm == "tso"
                    else f"{proc}'s buffered store #{j} reaches memory",
                )
            )
        return out

    # ------------------------------------------------------------ steps

    def compile_step(self, proc: Process, step: Step) -> list[Command]:
        p = proc.name
        pc = Var(pc_var(p))
        here = eq(pc, self.label_index(p, step.label))
        nxt_label = proc.successor(step.label)
        nxt: Expr = Const(
            self.label_index(p, nxt_label) if nxt_label is not None else self.label_index(p, HALTED)
        )
        guard: Expr = here
        local_ups: dict[str, Expr] = {}
        mem_ups: list[tuple[str, Expr]] = []
        pc_next: Expr = nxt
        weak = self.mm != "sc"
        op = step.op
        text = ""
        options: list[tuple[Expr, str]] = []
        access: Access | None = None
        match op:
            case Load(dst, var, index) if var in self.dropped:
                local_ups[dst] = Const(0)
                text = f"{dst} := load {var} (not observed)"
                access = Access("load", var, dst=local_var(p, dst), observed=False)
            case Store(var, value, index) if var in self.dropped:
                text = f"store {var} (not observed)"
                access = Access("store", var, observed=False)
                lay = self.layouts.get(p)
                if lay is not None and var in lay.phantoms:  # a value-less entry
                    g, ups = self.store_updates(p, self.spec.shared_var(var), Const(0),
                                                Const(0))
                    guard = and_(guard, g)
                    mem_ups.extend(ups)
            case Load(dst, var, index):
                v = self.spec.shared_var(var)
                idx = None if index is None else self.ring_index(v, self.resolve(index, p))
                loaded = self.load_value(p, v, idx)
                local_ups[dst] = self.narrow(v.domain, self._local(proc, dst).domain, loaded)
                access = Access("load", var, idx, local_var(p, dst), loaded)
                text = f"{dst} := load {var}" + ("" if index is None else f"[{show(index)}]")
            case Store(var, value, index):
                v = self.spec.shared_var(var)
                idx = None if index is None else self.ring_index(v, self.resolve(index, p))
                stored = self.resolve(value, p)
                g, ups = self.store_updates(p, v, idx, stored)
                access = Access("store", var, idx, value=self.wrap(v.domain, stored))
                guard = and_(guard, g)
                mem_ups.extend(ups)
                text = f"store {var}" + ("" if index is None else f"[{show(index)}]")
                text += f" := {show(value)}"
            case Fence(kind):
                if kind not in ("full", "store"):
                    raise SpecError(f"{p}.{step.label}: fence kind {kind!r} is not full or store")
                lay = self.layouts.get(p)
                if kind == "full":
                    guard = and_(guard, self.empty_buffer(p))
                elif lay is not None and lay.with_barrier:
                    mem_ups.append((lay.wmb(), ite(gt(Var(lay.n()), 0), 1, 0)))
                text = "full fence (mfence)" if kind == "full" else "store fence (sfence)"
                access = Access("fence", fence=kind)
            case Rmw(dst, var, value, index):
                v = self.spec.shared_var(var)
                idx = None if index is None else self.ring_index(v, self.resolve(index, p))
                old: Expr = Var(var) if idx is None else Select(var, idx)
                local_ups[dst] = old
                new = self.wrap(v.domain, self.resolve(value, p, {dst: old}))
                mem_ups.append((var, new if idx is None else Update(var, idx, new)))
                access = Access("rmw", var, idx, local_var(p, dst), new)
                if weak:
                    guard = and_(guard, self.empty_buffer(p))
                text = f"{dst} := atomic rmw {var} := {show(value)}"
            case Assign(assigns):
                for name, val in assigns:
                    local_ups[name] = self.wrap(
                        self._local(proc, name).domain, self.resolve(val, p)
                    )
                text = ", ".join(f"{n} := {show(v)}" for n, v in assigns) or "skip"
            case Branch(cond, target):
                pc_next = ite(self.resolve(cond, p), self.label_index(p, target), nxt)
                text = f"if {show(cond)} goto {target}"
            case Choose(opts):
                options = list(opts)
            case Await(cond):
                guard = and_(guard, self.resolve(cond, p))
                text = f"await {show(cond)}"
            case Notify(db):
                d = self._doorbell(db)
                pend = Var(pending_var(db))
                if d.latched:
                    delivered: Expr = TRUE
                else:
                    delivered = or_(*[At(q.name, s.label) for q in self.spec.processes
                                      for s in q.steps if isinstance(s.op, Wait)
                                      and s.op.doorbell == db])
                    delivered = self.resolve(delivered, p)
                mem_ups.append((pending_var(db), ite(delivered, 1, pend)))
                mem_ups.append(
                    (
                        injected_var(db),
                        add(Var(injected_var(db)), ite(and_(delivered, eq(pend, 0)), 1, 0)),
                    )
                )
                if weak:
                    guard = and_(guard, self.empty_buffer(p))
                text = f"notify {db}"
                access = Access("notify", db)
            case Wait(db):
                guard = and_(guard, ne(Var(pending_var(db)), 0))
                if weak:
                    guard = and_(guard, self.empty_buffer(p))
                mem_ups.append((pending_var(db), Const(0)))
                text = f"wait {db} (woken)"
                access = Access("wait", db)
            case Halt():
                return []
            case _:
                assert_never(op)

        if step.set:
            post = dict(local_ups)
            for name, val in step.set:
                if name in local_ups:
                    raise SpecError(f"{p}.{step.label}: local {name!r} is written by the op "
                                    "and by set=; write it once")
                post[name] = self.wrap(self._local(proc, name).domain,
                                       self.resolve(val, p, local_ups))
            local_ups = post
        if step.branch is not None:
            cond, target = step.branch
            pc_next = ite(self.resolve(cond, p, local_ups), self.label_index(p, target), pc_next)
            text += f"; if {show(cond)} goto {target}"
        ghost_ups = [
            (g, self.wrap(self._ghost(g).domain, self.resolve(val, p, local_ups)))
            for g, val in step.ghost
        ]
        base = [(local_var(p, k), v) for k, v in local_ups.items()] + mem_ups + ghost_ups
        group = p if proc.fair else None
        if options:
            out = []
            for cond, target in options:
                out.append(
                    Command(
                        name=f"{p}.{step.label}->{target}",
                        process=p,
                        group=group,
                        guard=and_(guard, self.resolve(cond, p)),
                        updates=(*base, (pc_var(p), Const(self.label_index(p, target)))),
                        kind="step",
                        label=step.label,
                        text=f"→ {target}" + (f" ({step.doc})" if step.doc else ""),
                        progress=step.progress,
                    )
                )
            return out
        return [
            Command(
                name=f"{p}.{step.label}",
                process=p,
                group=group,
                guard=guard,
                updates=(*base, (pc_var(p), pc_next)),
                kind="step",
                label=step.label,
                text=text,
                progress=step.progress,
                access=access,
            )
        ]

    def _local(self, proc: Process, name: str) -> Local:
        for v in proc.locals:
            if v.name == name:
                return v
        raise SpecError(f"{proc.name}: local {name!r} is not declared")

    def _ghost(self, name: str) -> Ghost:
        for g in self.spec.ghosts:
            if g.name == name:
                return g
        raise SpecError(f"ghost {name!r} is not declared")

    def _doorbell(self, name: str) -> Doorbell:
        for d in self.spec.doorbells:
            if d.name == name:
                return d
        raise SpecError(f"doorbell {name!r} is not declared")

    # ------------------------------------------------------------ whole system

    def variables(self) -> list[StateVar]:
        out: list[StateVar] = []
        for name, val in self.params.items():
            if val is None:
                out.append(
                    StateVar(param_var(name), "param", rigid=True,
                             minimum=self.spec.param(name).minimum)
                )
        for v in self.spec.shared:
            if v.name in self.dropped:
                continue
            mod_ = v.domain.modulus if isinstance(v.domain, Bits) else None
            if v.length is None:
                out.append(StateVar(v.name, "shared", v.init, modulus=mod_))
            else:
                out.append(
                    StateVar(v.name, "shared", v.init, is_array=True,
                             length=self.length_of(v), modulus=mod_)
                )
        for d in self.spec.doorbells:
            out.append(StateVar(pending_var(d.name), "pending"))
            out.append(StateVar(injected_var(d.name), "injected"))
        for g in self.spec.ghosts:
            mod_ = g.domain.modulus if isinstance(g.domain, Bits) else None
            out.append(StateVar(g.name, "ghost", g.init, modulus=mod_))
        for p in self.spec.processes:
            out.append(StateVar(pc_var(p.name), "pc", owner=p.name))
            for loc in p.locals:
                mod_ = loc.domain.modulus if isinstance(loc.domain, Bits) else None
                out.append(
                    StateVar(local_var(p.name, loc.name), "local", loc.init, modulus=mod_,
                             owner=p.name)
                )
            lay = self.layouts.get(p.name)
            if lay is not None:
                out.append(StateVar(lay.n(), "sb", owner=p.name))
                if lay.with_barrier:
                    out.append(StateVar(lay.wmb(), "sb", owner=p.name))
                for k in range(lay.size):
                    for f in lay.fields(k):
                        out.append(StateVar(f, "sb", owner=p.name))
        return out

    def properties(self) -> list[CProperty]:
        out: list[CProperty] = []
        for prop in self.spec.properties:
            match prop:
                case Always(name, pred):
                    out.append(CAlways(name, self.resolve(pred, None)))
                case Sometimes(name, pred):
                    out.append(CSometimes(name, self.resolve(pred, None)))
                case Eventually(name, pending):
                    out.append(CEventually(name, self.resolve(pending, None)))
                case _:
                    assert_never(prop)
        return out

    def build(self) -> System:
        commands: list[Command] = []
        for p in self.spec.processes:
            for s in p.steps:
                commands.extend(self.compile_step(p, s))
        for p in self.spec.processes:
            commands.extend(self.flush_commands(p.name))
        init = and_(
            *[ge(Var(param_var(k)), self.spec.param(k).minimum)
              for k, v in self.params.items() if v is None]
        )
        groups = [p.name for p in self.spec.processes if p.fair]
        groups += [f"flush.{p}" for p in self.layouts]
        commands = [
            replace(c, guard=fold(c.guard), updates=tuple((v, fold(e)) for v, e in c.updates),
                    access=_fold_access(c.access))
            for c in commands
        ]
        return System(
            name=self.spec.name,
            memory_model=self.mm,
            params=tuple(self.params.items()),
            vars=tuple(self.variables()),
            commands=tuple(commands),
            init_constraint=init,
            properties=tuple(self.properties()),
            processes=tuple(p.name for p in self.spec.processes),
            labels=tuple((p.name, (*p.labels, HALTED)) for p in self.spec.processes),
            groups=tuple(groups),
            shared=tuple(v.name for v in self.spec.shared),
            buffers=tuple(
                BufferInfo(lay.process, lay.size, lay.targets, lay.with_var, lay.with_index)
                for lay in self.layouts.values()
            ),
        )


def _fold_access(a: Access | None) -> Access | None:
    if a is None:
        return None
    return replace(a, index=None if a.index is None else fold(a.index),
                   value=None if a.value is None else fold(a.value))


def compile_spec(
    spec: Spec,
    params: Mapping[str, int | None] | None = None,
    memory_model: str = "sc",
    buffer: int = 2,
    observe: frozenset[str] | None = None,
    exact_buffer: bool = False,
) -> System:
    """Compile ``spec`` with ``params`` (None = symbolic) under ``memory_model``.

    ``observe``: when given, only these shared variables are kept (see
    :func:`intervm.model.slicing.compile_sliced`); ``exact_buffer``: their stores
    still take store-buffer entries."""
    return _Compiler(spec, params or {}, memory_model, buffer, observe, exact_buffer).build()
