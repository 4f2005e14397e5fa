"""Static checks on a :class:`~intervm.spec.syntax.Spec`, run before any engine.

>>> from intervm.spec.syntax import Spec, Process, Step, Store, Halt, Shared, NAT
>>> from intervm.spec.expr import L
>>> bad = Spec("demo", shared=(Shared("x", NAT),), processes=(
...     Process("P", steps=(Step("s", Store("x", L("v"))), Step("h", Halt()))),))
>>> try:
...     validate(bad)
... except SpecError as e:
...     print(e)
spec 'demo', process P, step 's': local 'v' is not declared in process P; declare it with Local('v', ...) in P's locals

Each message names the object, says what is wrong, and says what to do.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import assert_never

from intervm.spec.errors import SpecError
from intervm.spec.expr import (
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
    walk,
)
from intervm.spec.syntax import (
    Always,
    Assign,
    Await,
    Branch,
    Choose,
    Eventually,
    Fence,
    Halt,
    Load,
    Notify,
    Process,
    Rmw,
    Sometimes,
    Spec,
    Store,
    Wait,
)


class _Checker:
    def __init__(self, spec: Spec):
        self.spec = spec
        self.shared = {v.name: v for v in spec.shared}
        self.ghosts = {g.name for g in spec.ghosts}
        self.params = {p.name for p in spec.params}
        self.doorbells = {d.name for d in spec.doorbells}
        self.procs = {p.name: p for p in spec.processes}

    def fail(self, where: str, what: str) -> SpecError:
        src = f" ({self.spec.source})" if self.spec.source else ""
        return SpecError(f"spec {self.spec.name!r}{src}, {where}: {what}")

    def check_names(self) -> None:
        names = (
            [v.name for v in self.spec.shared]
            + [g.name for g in self.spec.ghosts]
            + [d.name for d in self.spec.doorbells]
            + [p.name for p in self.spec.params]
            + [p.name for p in self.spec.processes]
        )
        for name, n in Counter(names).items():
            if n > 1:
                raise self.fail(
                    f"name {name!r}",
                    "is declared more than once (shared variables, ghosts, doorbells, "
                    "parameters and processes share one namespace); rename one of them",
                )
        for v in self.spec.shared:
            if isinstance(v.length, str) and v.length not in self.params:
                raise self.fail(
                    f"shared array {v.name!r}",
                    f"length names parameter {v.length!r}, which is not declared; "
                    f"add ParamDecl({v.length!r}, ...) to the spec's params",
                )

    def check_expr(
        self, e: Expr, where: str, proc: Process | None, *, allow: Iterable[str]
    ) -> None:
        allowed = set(allow)
        for n in walk(e):
            kind = type(n).__name__
            match n:
                case Const() | Bin() | Not() | Ite():
                    continue
                case L(name):
                    if proc is None:
                        raise self.fail(where, f"local {name!r} used outside a process; "
                                        f"write LocalOf('<process>', {name!r})")
                    if name not in {v.name for v in proc.locals}:
                        raise self.fail(where, f"local {name!r} is not declared in process "
                                        f"{proc.name}; declare it with Local({name!r}, ...) in "
                                        f"{proc.name}'s locals")
                case LocalOf(p, name):
                    if p not in self.procs:
                        raise self.fail(where, f"process {p!r} is not declared")
                    if name not in {v.name for v in self.procs[p].locals}:
                        raise self.fail(where, f"process {p} has no local {name!r}")
                case G(name):
                    if name not in self.ghosts:
                        raise self.fail(where, f"ghost {name!r} is not declared; add "
                                        f"Ghost({name!r}, ...) to the spec's ghosts")
                case Mem(name, index):
                    if name not in self.shared:
                        raise self.fail(where, f"shared variable {name!r} is not declared")
                    if (index is None) != (self.shared[name].length is None):
                        raise self.fail(where, f"{name!r} is "
                                        f"{'an array' if index is None else 'a scalar'}; "
                                        "index arrays and only arrays")
                case At(p, label):
                    if p not in self.procs:
                        raise self.fail(where, f"process {p!r} is not declared")
                    if label not in self.procs[p].labels:
                        raise self.fail(where, f"process {p} has no step labelled {label!r}")
                case Param(name):
                    if name not in self.params:
                        raise self.fail(where, f"parameter {name!r} is not declared")
                case Pending(name):
                    if name not in self.doorbells:
                        raise self.fail(where, f"doorbell {name!r} is not declared")
                case Var() | Select() | Update():
                    raise self.fail(where, f"{kind} nodes belong to compiled systems; "
                                    "use L, G, Mem, At, Param or Pending in specs")
                case _:
                    assert_never(n)
            if kind not in allowed and kind not in ("Const", "Bin", "Not", "Ite"):
                raise self.fail(
                    where,
                    f"{kind} is not allowed here (allowed: {', '.join(sorted(allowed))}); "
                    "a step touches shared memory only through Load/Store/Rmw",
                )

    def check_process(self, p: Process) -> None:
        for label, n in Counter(p.labels).items():
            if n > 1:
                raise self.fail(f"process {p.name}", f"label {label!r} is used twice")
        if not p.steps:
            raise self.fail(f"process {p.name}", "has no steps")
        local_names = {v.name for v in p.locals}
        step_vals = ("L", "Param")
        for s in p.steps:
            where = f"process {p.name}, step {s.label!r}"
            op = s.op

            def local(name: str, where: str = where) -> None:
                if name not in local_names:
                    raise self.fail(where, f"local {name!r} is not declared in process {p.name};"
                                    f" declare it with Local({name!r}, ...) in {p.name}'s locals")

            def shared(name: str, index: Expr | None, where: str = where) -> None:
                if name not in self.shared:
                    raise self.fail(where, f"shared variable {name!r} is not declared; add "
                                    f"Shared({name!r}, ...) to the spec")
                if (index is None) != (self.shared[name].length is None):
                    raise self.fail(where, f"{name!r} is "
                                    f"{'an array: give an index' if index is None else 'a scalar: drop the index'}")
                if index is not None:
                    self.check_expr(index, where, p, allow=step_vals)

            def target(label: str, where: str = where) -> None:
                if label not in p.labels:
                    raise self.fail(where, f"jumps to {label!r}, which is not a label of "
                                    f"{p.name}; labels are {', '.join(p.labels)}")

            match op:
                case Load(dst, var, index):
                    local(dst)
                    shared(var, index)
                case Store(var, value, index):
                    shared(var, index)
                    self.check_expr(value, where, p, allow=step_vals)
                case Rmw(dst, var, value, index):
                    local(dst)
                    shared(var, index)
                    self.check_expr(value, where, p, allow=step_vals)
                case Assign(assigns):
                    for name, value in assigns:
                        local(name)
                        self.check_expr(value, where, p, allow=step_vals)
                case Branch(cond, tgt):
                    self.check_expr(cond, where, p, allow=step_vals)
                    target(tgt)
                case Choose(options):
                    if not options:
                        raise self.fail(where, "Choose needs at least one option")
                    for cond, tgt in options:
                        self.check_expr(cond, where, p, allow=(*step_vals, "G"))
                        target(tgt)
                case Await(cond):
                    self.check_expr(cond, where, p, allow=(*step_vals, "G"))
                case Notify(db) | Wait(db):
                    if db not in self.doorbells:
                        raise self.fail(where, f"doorbell {db!r} is not declared; add "
                                        f"Doorbell({db!r}) to the spec")
                case Fence(kind):
                    if kind not in ("full", "store"):
                        raise self.fail(where, f"fence kind {kind!r} is not 'full' or 'store'")
                case Halt():
                    pass
                case _:
                    assert_never(op)
            for name, value in s.set:
                local(name)
                self.check_expr(value, where, p, allow=step_vals)
            if s.branch is not None:
                self.check_expr(s.branch[0], where, p, allow=step_vals)
                target(s.branch[1])
            for g, value in s.ghost:
                if g not in self.ghosts:
                    raise self.fail(where, f"writes ghost {g!r}, which is not declared; add "
                                    f"Ghost({g!r}, ...) to the spec's ghosts")
                self.check_expr(value, where, p, allow=(*step_vals, "G", "Pending"))
            if s.then is not None:
                target(s.then)
            if not isinstance(op, Halt | Choose) and p.successor(s.label) is None:
                raise self.fail(where, "is the last step and falls off the end; end the "
                                "process with Halt() or give the step then='<label>'")

    def check_properties(self) -> None:
        for label, n in Counter(p.name for p in self.spec.properties).items():
            if n > 1:
                raise self.fail(f"property {label!r}", "is declared twice")
        allow = ("LocalOf", "G", "Mem", "At", "Param", "Pending")
        for prop in self.spec.properties:
            match prop:
                case Always(name, e) | Sometimes(name, e) | Eventually(name, e):
                    self.check_expr(e, f"property {name!r}", None, allow=allow)
                case _:
                    assert_never(prop)
        if not any(isinstance(p, Sometimes) for p in self.spec.properties):
            raise self.fail(
                "properties",
                "no Sometimes property is declared, so a spec whose steps can never run "
                "would pass every check; add Sometimes(...) for a state the protocol "
                "must reach",
            )

    def run(self) -> None:
        self.check_names()
        for p in self.spec.processes:
            self.check_process(p)
        self.check_properties()


def validate(spec: Spec) -> None:
    """Raise :class:`SpecError` on the first problem found in ``spec``."""
    _Checker(spec).run()
