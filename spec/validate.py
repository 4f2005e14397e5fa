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

Each message names the object, says what is wrong, and says what to do. When the
object was written in a file (not at a prompt), the message begins with that
``file:line:``, as a compiler's would::

    my_protocol.py:14: spec 'demo', process P, step 's': local 'v' is not declared ...

Besides names, the checks cover widths: a constant ``init`` or a constant stored,
assigned or written to a ghost must lie in the destination's domain (``Bits(w)``:
``0 .. 2**w - 1``; ``NAT``: ``>= 0``, except that NAT ghosts may hold sentinels
such as ``-1``). Computed values are not checked: they wrap.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import assert_never

from intervm.spec._site import show_site
from intervm.spec.errors import SpecError
from intervm.spec.expr import (
    At,
    Bin,
    BinOp,
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
    measure,
    walk,
)
from intervm.spec.syntax import (
    FENCE_KINDS,
    Always,
    Assign,
    Await,
    Bits,
    Branch,
    Choose,
    Domain,
    Eventually,
    Fence,
    Halt,
    Load,
    Local,
    Nat,
    Notify,
    Process,
    Rmw,
    Sometimes,
    Spec,
    Store,
    Wait,
)

MAX_DEPTH = 64  # deepest expression: 4x the built-ins', far below Python's recursion limit
MAX_SIZE = 100_000  # nodes of one expression written out as a tree


def show_domain(d: Domain) -> str:
    """A domain with its values, for messages.

    >>> show_domain(Bits(2)), show_domain(Nat())
    ('Bits(2) (values 0..3)', 'NAT (values 0, 1, 2, …)')
    """
    match d:
        case Bits(w):
            return f"Bits({w}) (values 0..{(1 << w) - 1})"
        case Nat():
            return "NAT (values 0, 1, 2, …)"
        case _:
            assert_never(d)


def constant_value(e: Expr) -> int | None:
    """The integer ``e`` denotes when it is built from constants only, else None.

    >>> from intervm.spec.expr import add, L
    >>> constant_value(add(3, 2)), constant_value(add(L("t"), 1))
    (5, None)
    """
    match e:
        case Const(v):
            return None if isinstance(v, bool) else v
        case Bin(op, a, b) if op in (BinOp.ADD, BinOp.SUB, BinOp.MUL, BinOp.MOD):
            x, y = constant_value(a), constant_value(b)
            if x is None or y is None or (op is BinOp.MOD and y == 0):
                return None
            match op:
                case BinOp.ADD:
                    return x + y
                case BinOp.SUB:
                    return x - y
                case BinOp.MUL:
                    return x * y
                case _:
                    return x % y
        case _:
            return None


def _misfit(value: int, d: Domain, *, ghost: bool = False) -> tuple[str, str] | None:
    """Why ``value`` is not a value of ``d`` and what to do instead (None: it is one).

    Ghosts of domain NAT may hold negative sentinels (``-1``: none yet): ghost state
    is unbounded and never stored in shared memory.
    """
    match d:
        case Bits(w):
            if 0 <= value < (1 << w):
                return None
            top = f"a value in 0..{(1 << w) - 1}"
            if value < 0:
                return f"{show_domain(d)} holds no negative values", top
            return (f"{value} needs {value.bit_length()} bits",
                    f"{top} or declare the variable Bits({value.bit_length()})")
        case Nat():
            if value >= 0 or ghost:
                return None
            return f"{show_domain(d)} holds no negative values", "a value >= 0"
        case _:
            assert_never(d)


class _Checker:
    def __init__(self, spec: Spec):
        self.spec = spec
        self.shared = {v.name: v for v in spec.shared}
        self.ghosts = {g.name: g for g in spec.ghosts}
        self.params = {p.name for p in spec.params}
        self.doorbells = {d.name for d in spec.doorbells}
        self.procs = {p.name: p for p in spec.processes}

    def fail(self, where: str, what: str, site: str = "") -> SpecError:
        # the file:line prefix, when known, already says where the spec came from
        src = f" ({self.spec.source})" if self.spec.source and not site else ""
        at = f"{show_site(site)}: " if site else ""
        return SpecError(f"{at}spec {self.spec.name!r}{src}, {where}: {what}")

    def check_names(self) -> None:
        decls = (
            [(v.name, v.where) for v in self.spec.shared]
            + [(g.name, g.where) for g in self.spec.ghosts]
            + [(d.name, d.where) for d in self.spec.doorbells]
            + [(p.name, p.where) for p in self.spec.params]
            + [(p.name, p.where) for p in self.spec.processes]
        )
        for name, n in Counter(name for name, _ in decls).items():
            if n > 1:
                site = [w for m, w in decls if m == name][-1]
                raise self.fail(
                    f"name {name!r}",
                    "is declared more than once (shared variables, ghosts, doorbells, "
                    "parameters and processes share one namespace); rename one of them",
                    site,
                )
        for p in self.spec.params:
            if p.maximum is not None and not p.minimum <= p.default <= p.maximum:
                raise self.fail(
                    f"parameter {p.name!r}",
                    f"default={p.default} is outside minimum..maximum {p.range_text}; "
                    "give a default in that range (or a larger maximum)",
                    p.where,
                )
        for v in self.spec.shared:
            if isinstance(v.length, str) and v.length not in self.params:
                raise self.fail(
                    f"shared array {v.name!r}",
                    f"length names parameter {v.length!r}, which is not declared; "
                    f"add ParamDecl({v.length!r}, ...) to the spec's params",
                    v.where,
                )
        for decl, kind in ([(v, "shared variable") for v in self.spec.shared]
                           + [(g, "ghost") for g in self.spec.ghosts]):
            if (why := _misfit(decl.init, decl.domain, ghost=kind == "ghost")) is not None:
                raise self.fail(
                    f"{kind} {decl.name!r}",
                    f"init={decl.init} is outside its domain {show_domain(decl.domain)}: "
                    f"{why[0]}; give init {why[1]}",
                    decl.where,
                )

    def check_fits(self, value: Expr, domain: Domain, dest: str, where: str,
                   site: str, *, ghost: bool = False) -> None:
        """A constant written to ``dest`` (of ``domain``) must be one of its values."""
        c = constant_value(value)
        if c is None:
            return
        if (why := _misfit(c, domain, ghost=ghost)) is not None:
            raise self.fail(where, f"writes the constant {c} to {dest}, of domain "
                            f"{show_domain(domain)}: {why[0]}; write {why[1]}", site)

    def check_expr(
        self, e: Expr, where: str, proc: Process | None, *, allow: Iterable[str],
        site: str = "",
    ) -> None:
        allowed = set(allow)

        def fail(what: str) -> SpecError:
            return self.fail(where, what, site)

        d, size = measure(e)
        if d > MAX_DEPTH:
            raise fail(f"an expression is nested {d} levels deep, more than the {MAX_DEPTH} "
                       "the engines descend; join many conditions with one "
                       "and_(*parts) / or_(*parts) call (kept shallow) instead of "
                       "nesting it in a loop (e = and_(e, part))")
        if size > MAX_SIZE:
            raise fail(f"an expression has {size} nodes when written out, more than the "
                       f"{MAX_SIZE} the engines take; a value used inside itself in a loop "
                       "(e = add(e, e)) doubles at every turn: write the expression you "
                       "mean, or compute it in steps (Assign) into a local")
        for n in walk(e):
            kind = type(n).__name__
            match n:
                case Const() | Bin() | Not() | Ite():
                    continue
                case L(name):
                    if proc is None:
                        raise fail(f"local {name!r} used outside a process; "
                                   f"write LocalOf('<process>', {name!r})")
                    if name not in {v.name for v in proc.locals}:
                        raise fail(f"local {name!r} is not declared in process "
                                   f"{proc.name}; declare it with Local({name!r}, ...) in "
                                   f"{proc.name}'s locals")
                case LocalOf(p, name):
                    if p not in self.procs:
                        raise fail(f"process {p!r} is not declared; processes are "
                                   f"{', '.join(self.procs) or '(none)'}")
                    if name not in {v.name for v in self.procs[p].locals}:
                        raise fail(f"process {p} has no local {name!r}; its locals are "
                                   f"{', '.join(v.name for v in self.procs[p].locals) or '(none)'}")
                case G(name):
                    if name not in self.ghosts:
                        raise fail(f"ghost {name!r} is not declared; add "
                                   f"Ghost({name!r}, ...) to the spec's ghosts")
                case Mem(name, index):
                    if name not in self.shared:
                        raise fail(f"shared variable {name!r} is not declared; add "
                                   f"Shared({name!r}, ...) to the spec or fix the name")
                    if (index is None) != (self.shared[name].length is None):
                        raise fail(f"{name!r} is "
                                   f"{'an array' if index is None else 'a scalar'}; "
                                   "index arrays and only arrays")
                case At(p, label):
                    if p not in self.procs:
                        raise fail(f"process {p!r} is not declared; processes are "
                                   f"{', '.join(self.procs) or '(none)'}")
                    if label not in self.procs[p].labels:
                        raise fail(f"process {p} has no step labelled {label!r}; its "
                                   f"labels are {', '.join(self.procs[p].labels)}")
                case Param(name):
                    if name not in self.params:
                        raise fail(f"parameter {name!r} is not declared; add "
                                   f"ParamDecl({name!r}, ...) to the spec's params")
                case Pending(name):
                    if name not in self.doorbells:
                        raise fail(f"doorbell {name!r} is not declared; add "
                                   f"Doorbell({name!r}) to the spec's doorbells")
                case Var() | Select() | Update():
                    raise fail(f"{kind} nodes belong to compiled systems; "
                               "use L, G, Mem, At, Param or Pending in specs")
                case _:
                    assert_never(n)
            if kind not in allowed and kind not in ("Const", "Bin", "Not", "Ite"):
                raise fail(
                    f"{kind} is not allowed here (allowed: {', '.join(sorted(allowed))}); "
                    "a step touches shared memory only through Load/Store/Rmw",
                )

    def check_process(self, p: Process) -> None:
        for label, n in Counter(p.labels).items():
            if n > 1:
                site = [s.where for s in p.steps if s.label == label][-1]
                raise self.fail(f"process {p.name}", f"label {label!r} is used twice; "
                                "give each step its own label", site)
        if not p.steps:
            raise self.fail(f"process {p.name}", "has no steps; give it at least "
                            "Step('done', Halt())", p.where)
        local_decls = {v.name: v for v in p.locals}
        for v in p.locals:
            if (why := _misfit(v.init, v.domain)) is not None:
                raise self.fail(f"process {p.name}, local {v.name!r}",
                                f"init={v.init} is outside its domain "
                                f"{show_domain(v.domain)}: {why[0]}; give init {why[1]}",
                                v.where or p.where)
        step_vals = ("L", "Param")
        for s in p.steps:
            self.check_step(p, s.label, local_decls, step_vals)

    def check_step(self, p: Process, label: str, local_decls: Mapping[str, Local],
                   step_vals: tuple[str, ...]) -> None:
        s = p.step(label)
        where = f"process {p.name}, step {s.label!r}"
        site = s.where
        op = s.op

        def expr(e: Expr, allow: Iterable[str] = step_vals) -> None:
            self.check_expr(e, where, p, allow=allow, site=site)

        def local(name: str) -> None:
            if name not in local_decls:
                raise self.fail(where, f"local {name!r} is not declared in process {p.name};"
                                f" declare it with Local({name!r}, ...) in {p.name}'s locals",
                                site)

        def local_fits(name: str, value: Expr) -> None:
            local(name)
            self.check_fits(value, _domain_of_local(p, name),
                            f"local {name!r}", where, site)

        def shared(name: str, index: Expr | None) -> None:
            if name not in self.shared:
                raise self.fail(where, f"shared variable {name!r} is not declared; add "
                                f"Shared({name!r}, ...) to the spec", site)
            if (index is None) != (self.shared[name].length is None):
                raise self.fail(where, f"{name!r} is "
                                f"{'an array: give an index' if index is None else 'a scalar: drop the index'}",
                                site)
            if index is not None:
                expr(index)

        def target(label: str) -> None:
            if label not in p.labels:
                raise self.fail(where, f"jumps to {label!r}, which is not a label of "
                                f"{p.name}; labels are {', '.join(p.labels)}", site)

        match op:
            case Load(dst, var, index, _, deps):
                local(dst)
                shared(var, index)
                for d in deps:
                    local(d)
            case Store(var, value, index, _, deps):
                shared(var, index)
                for d in deps:
                    local(d)
                expr(value)
                self.check_fits(value, self.shared[var].domain, f"shared variable {var!r}",
                                where, site)
            case Rmw(dst, var, value, index):
                local(dst)
                shared(var, index)
                expr(value)
                self.check_fits(value, self.shared[var].domain, f"shared variable {var!r}",
                                where, site)
            case Assign(assigns):
                for name, value in assigns:
                    local(name)
                    expr(value)
                    local_fits(name, value)
            case Branch(cond, tgt):
                expr(cond)
                target(tgt)
            case Choose(options):
                if not options:
                    raise self.fail(where, "Choose needs at least one option", site)
                for cond, tgt in options:
                    expr(cond, (*step_vals, "G"))
                    target(tgt)
            case Await(cond):
                expr(cond, (*step_vals, "G"))
            case Notify(db) | Wait(db):
                if db not in self.doorbells:
                    raise self.fail(where, f"doorbell {db!r} is not declared; add "
                                    f"Doorbell({db!r}) to the spec", site)
            case Fence(kind):
                if kind not in FENCE_KINDS:
                    raise self.fail(where, f"fence kind {kind!r} is not 'full', 'store' or "
                                    "'load'; write Fence(), Fence('store') or "
                                    "Fence('load')", site)
            case Halt():
                pass
            case _:
                assert_never(op)
        for name, value in s.set:
            local(name)
            expr(value)
            local_fits(name, value)
        if s.branch is not None:
            expr(s.branch[0])
            target(s.branch[1])
        for g, value in s.ghost:
            if g not in self.ghosts:
                raise self.fail(where, f"writes ghost {g!r}, which is not declared; add "
                                f"Ghost({g!r}, ...) to the spec's ghosts", site)
            expr(value, (*step_vals, "G", "Pending"))
            self.check_fits(value, self.ghosts[g].domain, f"ghost {g!r}", where, site,
                            ghost=True)
        if s.then is not None:
            target(s.then)
        if not isinstance(op, Halt | Choose) and p.successor(s.label) is None:
            raise self.fail(where, "is the last step and falls off the end; end the "
                            "process with Halt() or give the step then='<label>'", site)

    def check_properties(self) -> None:
        for label, n in Counter(p.name for p in self.spec.properties).items():
            if n > 1:
                site = [p.where for p in self.spec.properties if p.name == label][-1]
                raise self.fail(f"property {label!r}", "is declared twice; rename one",
                                site)
        allow = ("LocalOf", "G", "Mem", "At", "Param", "Pending")
        for prop in self.spec.properties:
            match prop:
                case Always(name, e) | Sometimes(name, e) | Eventually(name, e):
                    self.check_expr(e, f"property {name!r}", None, allow=allow,
                                    site=prop.where)
                case _:
                    assert_never(prop)
        if not any(isinstance(p, Sometimes) for p in self.spec.properties):
            raise self.fail(
                "properties",
                "no Sometimes property is declared, so a spec whose steps can never run "
                "would pass every check; add Sometimes(...) for a state the protocol "
                "must reach",
                self.spec.where,
            )

    def run(self) -> None:
        self.check_names()
        for p in self.spec.processes:
            self.check_process(p)
        self.check_properties()


def _domain_of_local(p: Process, name: str) -> Domain:
    return next(v.domain for v in p.locals if v.name == name)


def validate(spec: Spec) -> None:
    """Raise :class:`SpecError` on the first problem found in ``spec``.

    >>> from intervm.spec.syntax import Spec
    >>> validate(Spec("nothing"))
    Traceback (most recent call last):
    ...
    intervm.spec.errors.SpecError: spec 'nothing', properties: no Sometimes property is declared, ...
    """
    if not isinstance(spec, Spec):
        raise SpecError(f"validate() checks a Spec, got {type(spec).__name__} {spec!r:.40}; "
                        "pass the Spec(...) object (for a Protocol, validate "
                        "proto.spec(variant))")
    _Checker(spec).run()
