"""Compile a spec, its parameters and a memory model into a flat :class:`System`.

Memory models are transformations of the same spec, not rewrites of it. The compiler
keeps control flow (program counters, branches, locals, ghosts, doorbells) and asks the
memory model (``model/memory/``: SC, x86-TSO, PSO) for every shared access: the state
it adds per process, each load, store, fence and RMW as guard + updates, what a
serializing access needs, and its background moves (store-buffer flushes).

>>> from intervm.spec.protocols import get_protocol
>>> spec = get_protocol("coalescing").spec("correct")
>>> sc = compile_spec(spec, {"requests": 1, "capacity": 1}, "sc")
>>> tso = compile_spec(spec, {"requests": 1, "capacity": 1}, "tso")
>>> [c.name for c in tso.commands if c.kind == "flush"]
['flush(P)', 'flush(C)']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, assert_never

from intervm.model import memory
from intervm.model.budget import MAX_FLAT_VARS, MemoryBudget, size_text, state_bytes
from intervm.model.memory.base import Footprint, LoadOption, LoadSite, Location
from intervm.model.memory.buffer import BufferLayout
from intervm.model.simplify import fold
from intervm.model.system import (
    Access,
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
    implies,
    ite,
    mod,
    ne,
    or_,
    show,
    walk,
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

HALTED = "⊥"
# an instance whose states are huge (a parameter made an array enormous) and whose
# budget holds fewer of them than this is refused before the search (unless --force)
MIN_SEARCH_STATES = 10_000
LARGE_STATE = 1024 * 1024


def locals_in(e: Expr) -> frozenset[str]:
    """The locals (``L(name)``) expression ``e`` reads."""
    return frozenset(x.name for x in walk(e) if isinstance(x, L))


def step_locals(step: Step) -> frozenset[str]:
    """Every local a step reads or writes (its op, ``set``, ``branch`` and ghosts)."""
    out: set[str] = set()
    exprs: list[Expr] = [v for _, v in step.set] + [v for _, v in step.ghost]
    out |= {n for n, _ in step.set}
    if step.branch is not None:
        exprs.append(step.branch[0])
    match step.op:
        case Load(dst, _, index, _, deps):
            out |= {dst, *deps}
            exprs += [index] if index is not None else []
        case Store(_, value, index, _, deps):
            out |= set(deps)
            exprs += [value] + ([index] if index is not None else [])
        case Rmw(dst, _, value, index):
            out.add(dst)
            exprs += [value] + ([index] if index is not None else [])
        case Assign(assigns):
            out |= {n for n, _ in assigns}
            exprs += [v for _, v in assigns]
        case Branch(cond, _) | Await(cond):
            exprs.append(cond)
        case Choose(options):
            exprs += [c for c, _ in options]
        case Fence() | Notify() | Wait() | Halt():
            pass
        case _:
            assert_never(step.op)
    for e in exprs:
        out |= locals_in(e)
    return frozenset(out)
FENCE_TEXT = {"full": "full fence (mfence)", "store": "store fence (sfence)",
              "load": "load fence (smp_rmb)"}


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


class _Compiler:
    def __init__(self, spec: Spec, params: Mapping[str, int | None], mm: str, buffer: int,
                 observe: frozenset[str] | None = None, exact_buffer: bool = False):
        self.model = memory.get(mm)
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
        self.sites: dict[tuple[str, str], LoadSite] = {}
        for p in spec.processes:
            stored = {s.op.var for s in p.steps if isinstance(s.op, Store)} - self.dropped
            loaded = {s.op.var for s in p.steps if isinstance(s.op, Load | Rmw)} - self.dropped
            phantoms = ({s.op.var for s in p.steps if isinstance(s.op, Store)} & self.dropped
                        if exact_buffer else set())
            footprint = Footprint(
                p.name,
                stores=tuple(self.location(t) for t in sorted(stored)),
                loads=tuple(self.location(t) for t in sorted(loaded)),
                fences=frozenset(s.op.kind for s in p.steps if isinstance(s.op, Fence))
                | frozenset(s.op.order for s in p.steps
                            if isinstance(s.op, Load | Store) and s.op.order != "plain"),
                phantoms=tuple(self.location(t) for t in sorted(phantoms)),
                **self._dataflow(p))
            for site in footprint.load_sites:
                self.sites[(p.name, site.label)] = site
            lay = self.model.layout(footprint, buffer)
            if lay is not None:
                self.layouts[p.name] = lay
        self.layouts = self.model.finish(
            self.layouts, buffer,
            [self.location(v.name) for v in spec.shared if v.name not in self.dropped])

    def location(self, name: str) -> Location:
        """Shared variable ``name`` as the memory model sees it."""
        var = self.spec.shared_var(name)
        return Location(name, self.var_ids[name], var.length is not None,
                        self.length_of(var))

    def _dataflow(self, proc: Process) -> dict[str, Any]:
        """What a model that tracks dependencies needs to know about ``proc``: which
        locals feed addresses and stored data, how locals are made of each other, and
        which loads the step itself does not use (they may be left pending)."""
        addr: set[str] = set()
        data: set[str] = set()
        flows: list[tuple[str, frozenset[str]]] = []
        sites: list[LoadSite] = []
        serializing = False
        for s in proc.steps:
            after = [v for _, v in s.set] + [v for _, v in s.ghost]
            if s.branch is not None:
                after.append(s.branch[0])
            used_after = frozenset().union(*[locals_in(e) for e in after])
            for name, val in s.set:
                flows.append((name, locals_in(val)))
            match s.op:
                case Load(dst, var, index, order, deps):
                    addr |= set(deps) | (locals_in(index) if index is not None else set())
                    if (var not in self.dropped and order == "plain"
                            and dst not in used_after):
                        v = self.spec.shared_var(var)
                        dom = self._local(proc, dst).domain
                        narrowed = self.narrow(v.domain, dom, Var("·"))
                        sites.append(LoadSite(
                            len(sites) + 1, s.label, self.location(var), dst,
                            local_var(proc.name, dst),
                            dom.modulus if isinstance(dom, Bits) and narrowed != Var("·")
                            else None,
                            None if index is None else
                            self.ring_index(v, self.resolve(index, proc.name))))
                case Store(_, value, index, _, deps):
                    data |= set(deps) | locals_in(value)
                    data |= locals_in(index) if index is not None else set()
                case Rmw(_, _, value, index):
                    serializing = True
                    addr |= locals_in(index) if index is not None else set()
                    data |= locals_in(value)
                case Assign(assigns):
                    flows.extend((name, locals_in(val)) for name, val in assigns)
                case Notify() | Wait():
                    serializing = True
                case _:
                    pass
        return {"serializing": serializing, "addr_deps": frozenset(addr),
                "data_deps": frozenset(data), "flows": tuple(flows),
                "load_sites": tuple(sites)}

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
            if v is not None and p.maximum is not None and v > p.maximum:
                raise ParamError(
                    f"parameter {p.name}={v} of {self.spec.name!r} is above its maximum "
                    f"{p.maximum}; give a value in {p.range_text}"
                    + (f" ({p.doc})" if p.doc else "")
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

    def flush_commands(self, proc: str) -> list[Command]:
        lay = self.layouts.get(proc)
        if lay is None:
            return []
        return [Command(name=m.name, process=proc, group=m.group, guard=m.guard,
                        updates=m.updates, kind="flush", text=m.text)
                for m in self.model.internal(lay, [self.location(t) for t in lay.targets])]

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
        lay = self.layouts.get(p)
        model = self.model
        op = step.op
        text = ""
        options: list[tuple[Expr, str]] = []
        access: Access | None = None
        views: dict[str, Expr] = {}  # locals' new dependency views (models that track them)
        load_options: list[LoadOption] = []
        load_dst = ""
        load_var: Shared | None = None
        load_idx: Expr | None = None
        guard = and_(guard, model.step_guard(lay, step_locals(step)))
        match op:
            case Load(dst, var, index) if var in self.dropped:
                local_ups[dst] = Const(0)
                text = f"{dst} := load {var} (not observed)"
                access = Access("load", var, dst=local_var(p, dst), observed=False)
            case Store(var, value, index) if var in self.dropped:
                text = f"store {var} (not observed)"
                access = Access("store", var, observed=False)
                if lay is not None and var in lay.phantoms:  # a value-less entry
                    eff = model.store(lay, self.location(var),
                                      Const(0) if lay.with_index else None, Const(0))
                    guard = and_(guard, eff.guard)
                    mem_ups.extend(eff.updates)
            case Load(dst, var, index, order, deps):
                v = self.spec.shared_var(var)
                idx = None if index is None else self.ring_index(v, self.resolve(index, p))
                addr_view = model.view_of(lay, (locals_in(index) if index is not None
                                                else frozenset()) | set(deps))
                load_options = model.load_options(lay, self.location(var), idx, order,
                                                  addr_view, self.sites.get((p, step.label)))
                load_dst = dst
                text = f"{dst} := load {var}" + ("" if index is None else f"[{show(index)}]")
                text += " (acquire)" if op.order == "acquire" else ""
                first = load_options[0]
                if len(load_options) == 1 and first.value is not None:
                    guard = and_(guard, first.effect.guard)
                    mem_ups.extend(first.effect.updates)
                    local_ups[dst] = self.narrow(v.domain, self._local(proc, dst).domain,
                                                 first.value)
                    views[dst] = first.view
                    load_options = []
                    access = Access("load", var, idx, local_var(p, dst), first.value)
                else:
                    load_var, load_idx = v, idx
            case Store(var, value, index):
                v = self.spec.shared_var(var)
                idx = None if index is None else self.ring_index(v, self.resolve(index, p))
                stored = self.resolve(value, p)
                data_view = model.view_of(lay, locals_in(value) | set(op.deps) | (
                    locals_in(index) if index is not None else frozenset()))
                eff = model.store(lay, self.location(var), idx, self.wrap(v.domain, stored),
                                  op.order, data_view)
                access = Access("store", var, idx, value=self.wrap(v.domain, stored))
                guard = and_(guard, eff.guard)
                mem_ups.extend(eff.updates)
                text = f"store {var}" + ("" if index is None else f"[{show(index)}]")
                text += f" := {show(value)}" + (" (release)" if op.order == "release" else "")
            case Fence(kind):
                if kind not in model.fence_kinds:
                    raise SpecError(f"{p}.{step.label}: fence kind {kind!r} is not one of "
                                    f"{', '.join(sorted(model.fence_kinds))} under "
                                    f"{model.name}")
                eff = model.fence(lay, kind)
                guard = and_(guard, eff.guard)
                mem_ups.extend(eff.updates)
                text = FENCE_TEXT[kind]
                access = Access("fence", fence=kind)
            case Rmw(dst, var, value, index):
                v = self.spec.shared_var(var)
                idx = None if index is None else self.ring_index(v, self.resolve(index, p))

                def new_value(old: Expr, _v: Shared = v, _e: Expr = value) -> Expr:
                    return self.wrap(_v.domain, self.resolve(_e, p, {dst: old}))

                old, eff = model.rmw(lay, self.location(var), idx, new_value)
                local_ups[dst] = old
                views[dst] = model.rmw_view(lay)
                mem_ups.extend(eff.updates)
                access = Access("rmw", var, idx, local_var(p, dst), new_value(old))
                guard = and_(guard, eff.guard)
                text = f"{dst} := atomic rmw {var} := {show(value)}"
            case Assign(assigns):
                for name, val in assigns:
                    local_ups[name] = self.wrap(
                        self._local(proc, name).domain, self.resolve(val, p)
                    )
                    views[name] = model.view_of(lay, locals_in(val))
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
                eff = model.serializing(lay)
                guard = and_(guard, eff.guard)
                mem_ups.extend(eff.updates)
                text = f"notify {db}"
                access = Access("notify", db)
            case Wait(db):
                guard = and_(guard, ne(Var(pending_var(db)), 0))
                eff = model.serializing(lay)
                guard = and_(guard, eff.guard)
                mem_ups.extend(eff.updates)
                mem_ups.append((pending_var(db), Const(0)))
                text = f"wait {db} (woken)"
                access = Access("wait", db)
            case Halt():
                return []
            case _:
                assert_never(op)

        if load_options:
            assert load_var is not None
            out: list[Command] = []
            for opt in load_options:
                lups = dict(local_ups)
                vws = dict(views)
                acc = (None if opt.value is None else
                       Access("load", load_var.name, load_idx, local_var(p, load_dst),
                              opt.value))
                if opt.value is not None:
                    lups[load_dst] = self.narrow(load_var.domain,
                                                 self._local(proc, load_dst).domain, opt.value)
                    vws[load_dst] = opt.view
                out.extend(self._finish_step(
                    proc, step, and_(guard, opt.effect.guard), lups,
                    [*mem_ups, *opt.effect.updates], pc_next, options,
                    text + (f" — {opt.note}" if opt.note else ""), acc, vws, opt.suffix))
            return out
        return self._finish_step(proc, step, guard, local_ups, mem_ups, pc_next, options,
                                 text, access, views, "")

    def _finish_step(self, proc: Process, step: Step, guard: Expr,
                     local_ups: dict[str, Expr], mem_ups: list[tuple[str, Expr]],
                     pc_next: Expr, options: list[tuple[Expr, str]], text: str,
                     access: Access | None, views: dict[str, Expr], suffix: str
                     ) -> list[Command]:
        """The command(s) of one way a step goes: ``set``, ``branch``, ghosts, the
        locals' views and the program counter (a load left pending writes no local)."""
        p = proc.name
        lay = self.layouts.get(p)
        model = self.model
        if step.set:
            post = dict(local_ups)
            for name, val in step.set:
                if name in local_ups:
                    raise SpecError(f"{p}.{step.label}: local {name!r} is written by the op "
                                    "and by set=; write it once")
                post[name] = self.wrap(self._local(proc, name).domain,
                                       self.resolve(val, p, local_ups))
            local_ups = post
            for name, val in step.set:
                views[name] = model.view_of(lay, locals_in(val), views)
        if step.branch is not None:
            cond, target = step.branch
            pc_next = ite(self.resolve(cond, p, local_ups), self.label_index(p, target), pc_next)
            text += f"; if {show(cond)} goto {target}"
        ghost_ups = [
            (g, self.wrap(self._ghost(g).domain, self.resolve(val, p, local_ups)))
            for g, val in step.ghost
        ]
        base = ([(local_var(p, k), v) for k, v in local_ups.items()] + mem_ups + ghost_ups
                + list(model.register_updates(lay, views)))
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
                name=f"{p}.{step.label}{suffix}",
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
                             length=self.length_of(v), modulus=mod_,
                             length_param=v.length if isinstance(v.length, str) else None)
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
                out.extend(StateVar(f, "sb", owner=p.name) for f in self.model.state_vars(lay))
        out.extend(StateVar(f, "sb") for f in self.model.global_vars(self.layouts))
        return out

    def settled(self, pred: Expr) -> Expr:
        """When the processes whose locals or place ``pred`` reads are settled: a
        model that may leave a load pending has not yet written its register, so a
        property looks at such a process only once its loads are performed."""
        procs = sorted({e.process for e in walk(pred) if isinstance(e, LocalOf | At)})
        return and_(*[self.model.settled(self.layouts.get(q)) for q in procs])

    def properties(self) -> list[CProperty]:
        out: list[CProperty] = []
        for prop in self.spec.properties:
            match prop:
                case Always(name, pred):
                    settled = self.settled(pred)
                    body = self.resolve(pred, None)
                    out.append(CAlways(name, body if settled == TRUE
                                       else implies(settled, body)))
                case Sometimes(name, pred):
                    out.append(CSometimes(name, and_(self.settled(pred),
                                                     self.resolve(pred, None))))
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
        internal: list[Command] = []
        for p in self.spec.processes:
            internal.extend(self.flush_commands(p.name))
        commands.extend(internal)
        init = and_(
            *[ge(Var(param_var(k)), self.spec.param(k).minimum)
              for k, v in self.params.items() if v is None]
        )
        groups = [p.name for p in self.spec.processes if p.fair]
        groups += list(dict.fromkeys(c.group for c in internal if c.group is not None))
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
            buffers=tuple(self.layouts.values()),
        )


def _fold_access(a: Access | None) -> Access | None:
    if a is None:
        return None
    return replace(a, index=None if a.index is None else fold(a.index),
                   value=None if a.value is None else fold(a.value))


def check_instance_size(spec: Spec, params: Mapping[str, int | None], buffer: int,
                        budget: MemoryBudget | None = None) -> None:
    """Refuse, before anything is allocated, an instance whose state would have more
    than :data:`~intervm.model.budget.MAX_FLAT_VARS` variables after array expansion
    or whose initial state alone would not fit ``budget``; the :class:`ParamError`
    names the parameter (an array length) responsible.

    >>> from intervm.spec.protocols import get_protocol
    >>> check_instance_size(get_protocol("coalescing").spec("correct"),
    ...                     {"capacity": 10**30, "requests": 1}, 2)
    Traceback (most recent call last):
    ...
    intervm.spec.errors.ParamError: parameter capacity=1000000000000000000000000000000 of 'coalescing' makes shared array 'slots' 1000000000000000000000000000000 elements long: more than the 10,000,000 state variables an instance may have; lower capacity
    """
    scalars = 0
    arrays: list[tuple[Shared, int, str | None]] = []
    for v in spec.shared:
        if v.length is None:
            scalars += 1
        else:
            n = v.length if isinstance(v.length, int) else params.get(v.length)
            if n is not None:
                arrays.append((v, n, v.length if isinstance(v.length, str) else None))
    scalars += len(spec.ghosts) + 2 * len(spec.doorbells) + len(params)
    scalars += sum(1 + len(p.locals) + 5 * buffer + 2 for p in spec.processes)
    flat = scalars + sum(n for _, n, _ in arrays)
    per_state = state_bytes(flat, len(arrays))
    too_few = per_state >= LARGE_STATE and per_state * MIN_SEARCH_STATES > (
        budget.limit if budget is not None else 0)
    if flat <= MAX_FLAT_VARS and (budget is None or budget.force
                                  or (per_state <= budget.limit and not too_few)):
        return
    big = max(arrays, key=lambda a: a[1], default=None)
    param = None if big is None else big[2]
    what = (f"parameter {param}={big[1]} of {spec.name!r} makes shared array "
            f"{big[0].name!r} {big[1]} elements long" if big is not None and param else
            f"spec {spec.name!r} has {flat} state variables after array expansion")
    fix = f"lower {param}" if param is not None else "use shorter arrays"
    if flat > MAX_FLAT_VARS:
        raise ParamError(f"{what}: more than the {MAX_FLAT_VARS:,} state variables an "
                         f"instance may have; {fix}")
    assert budget is not None
    if per_state <= budget.limit:
        fits = budget.limit // per_state
        raise ParamError(f"{what}: {flat:,} state variables after array expansion, so "
                         f"one state takes an estimated {size_text(per_state)} and the "
                         f"memory budget {budget.text} holds at most {fits:,} states, far "
                         f"too few to search it (a search needs at least "
                         f"{MIN_SEARCH_STATES:,}); {fix}, raise {budget.option}, or give "
                         f"--force to try anyway (the search still stops at the budget)")
    raise ParamError(f"{what}: {flat:,} state variables after array expansion, "
                     f"so one state takes an estimated {size_text(per_state)} and even the "
                     f"initial state does not fit the memory budget {budget.text}; "
                     f"{fix}, raise {budget.option}, or give --force to try anyway "
                     f"(the search still stops at the budget)")


def compile_spec(
    spec: Spec,
    params: Mapping[str, int | None] | None = None,
    memory_model: str = "sc",
    buffer: int = 2,
    observe: frozenset[str] | None = None,
    budget: MemoryBudget | None = None,
    exact_buffer: bool = False,
) -> System:
    """Compile ``spec`` with ``params`` (None = symbolic) under ``memory_model``.

    ``observe``: when given, only these shared variables are kept (see
    :func:`intervm.model.slicing.compile_sliced`); ``exact_buffer``: their stores
    still take store-buffer entries. ``budget``: refuse an instance whose initial state
    would not fit (see :func:`check_instance_size`)."""
    compiler = _Compiler(spec, params or {}, memory_model, buffer, observe, exact_buffer)
    check_instance_size(spec, compiler.params, buffer, budget)
    return compiler.build()
