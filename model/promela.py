"""Promela export of a compiled :class:`~intervm.model.system.System`, for SPIN.

The export works on the flat system, not on the spec, so every memory model comes
for free: TSO/PSO store buffers are already ordinary variables and flushes ordinary
commands. Each fairness group becomes one ``active proctype`` whose ``do`` loop has
one ``d_step { guard -> updates }`` per command (one SPIN transition per intervm
step, so trail lengths count commands). Updates are simultaneous: they are ordered
so that no assignment reads a variable already overwritten, and when that is
impossible the right-hand sides go through temporaries first (reset to zero at the
end of the step, so they never enlarge the state space; SPIN's ``-DBFS`` forbids
``hidden`` variables). Each command prints ``@cmd <number>`` when a trail is
replayed with ``spin -t``, which names the commands of a counterexample without a
``last_cmd`` ghost that would multiply the stored states.

Properties become ``ltl`` blocks:

* ``Always p`` → ``[] (p)``; ``Sometimes p`` → ``[] !(p)`` (a violation is a witness).
* ``Eventually`` (no weakly fair run stays ``pending`` forever without a progress
  command) → ``[] <> (!(pending) || progressed)``, checked with ``pan -a -f``.
  ``progressed`` is set by progress commands and cleared by all others; a
  ``deadlock`` proctype loops on ``timeout`` and clears it, so a run that ends in a
  pending state is an accepting cycle, as it is for the explicit engine.

>>> from intervm.spec.protocols import get_protocol
>>> from intervm.model.compile import compile_spec
>>> p = get_protocol("coalescing")
>>> sys = compile_spec(p.spec("correct"), {"capacity": 1, "requests": 1}, "sc")
>>> text = to_promela(sys, variant="correct")
>>> "active proctype C()" in text, "ltl no_lost_wakeup" in text
(True, True)
>>> build_promela(sys).names["pc.P"]
'pc_P'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import assert_never

from intervm.model.system import CAlways, CEventually, Command, CSometimes, StateVar, System
from intervm.spec.errors import EngineError
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
    walk,
)

STUTTER_PROC = "deadlock"
"""Name of the proctype that loops on ``timeout`` (a run that ends stutters forever)."""

SAFETY_ONLY_MACRO = "SAFETY_ONLY"
"""``spin -DSAFETY_ONLY -a``: keep the liveness ghost ``progressed`` out of the state
vector, so safety searches store exactly the system's states."""

CMD_MARK = "@cmd"
"""Prefix of the ``printf`` each command executes; simulation (``spin -t``) prints it,
verification (``pan``) does not."""

_RESERVED_WORDS = """active assert atomic bit bool break byte chan d_step D_proctype do else empty enabled
    eval fi full goto hidden if init inline int len mtype nempty never nfull od of pc_value
    printf printm priority proctype provided run short skip timeout typedef unless unsigned
    xr xs local show select c_code c_decl c_expr c_state c_track true false ltl for in np_
    get_priority set_priority notrace trace U V W X always eventually until stronguntil
    weakuntil release implies equivalent linux unix main now"""
_RESERVED = frozenset(_RESERVED_WORDS.split())

_GHOSTS = ("progressed", "set_progressed")


@dataclass(frozen=True, slots=True)
class PromelaModel:
    """Generated Promela text and the names it uses.

    ``names`` maps each system variable to its Promela identifier, ``ltl`` each
    property to its ``ltl`` block (for ``pan -N``); ``commands`` lists
    the command names by number (each command prints ``@cmd <number>`` in simulation).
    """

    text: str
    names: Mapping[str, str]
    commands: tuple[str, ...]
    proctypes: Mapping[str, str]
    ltl: Mapping[str, str]  # property name -> ltl block name


def to_promela(system: System, *, variant: str | None = None) -> str:
    """Promela source for ``system`` (see :func:`build_promela`)."""
    return build_promela(system, variant=variant).text


def check_exportable(system: System) -> None:
    """Raise :class:`EngineError` unless every parameter and array size is concrete."""
    symbolic = [k for k, v in system.params if v is None]
    rigid = [v.name for v in system.vars if v.rigid]
    if symbolic or rigid:
        name = (symbolic or rigid)[0]
        raise EngineError(
            f"system {system.name!r} ({system.memory_model}) has symbolic parameter "
            f"{name!r}; Promela needs every parameter fixed: give it a value "
            f"(e.g. --param {name}=2 or params_for(..., unbounded=False))"
        )
    for v in system.vars:
        if v.is_array and v.length is None:
            raise EngineError(
                f"array {v.name!r} of system {system.name!r} has no fixed length; give "
                "the parameter that sizes it (the ring capacity) a value"
            )


def _sanitize(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_")
    if not s or not s[0].isalpha():
        s = "v" + s
    return s


class _Names:
    """Unique, Promela-safe identifiers (no keyword, no clash)."""

    def __init__(self) -> None:
        self.used: set[str] = set(_RESERVED) | set(_GHOSTS) | {STUTTER_PROC}

    def fresh(self, name: str) -> str:
        base = _sanitize(name)
        if re.fullmatch(r"tmp\d+", base):  # the update temporaries
            base = "v_" + base
        out, n = base, 1
        while out in self.used:
            n += 1
            out = f"{base}_{n}"
        self.used.add(out)
        return out


def _comment(text: str) -> str:
    return text.replace("*/", "* /").replace("/*", "/ *")


def _maybe_negative(system: System) -> frozenset[str]:
    """Variables that may hold a negative value (then ``%`` needs a sign fix in C)."""
    neg = {v.name for v in system.vars if v.init < 0}
    changed = True
    while changed:
        changed = False
        for c in system.commands:
            for var, e in c.updates:
                if var not in neg and _neg(e, neg):
                    neg.add(var)
                    changed = True
    return frozenset(neg)


def _neg(e: Expr, neg: set[str] | frozenset[str]) -> bool:
    match e:
        case Const(v):
            return not isinstance(v, bool) and v < 0
        case Var(name) | Select(name, _):
            return name in neg
        case Update(a, _, value):
            return a in neg or _neg(value, neg)
        case Bin(op, a, b):
            if op is BinOp.SUB:
                return True
            if op is BinOp.MOD:
                return False
            if op in (BinOp.ADD, BinOp.MUL):
                return _neg(a, neg) or _neg(b, neg)
            return False
        case Not():
            return False
        case Ite(_, a, b):
            return _neg(a, neg) or _neg(b, neg)
        case L() | LocalOf() | G() | Mem() | At() | Param() | Pending():
            raise _spec_node(e)
        case _:
            assert_never(e)


def _spec_node(e: Expr) -> EngineError:
    return EngineError(
        f"spec-level node {e!r} reached the Promela export; export a compiled System "
        "(intervm.model.compile.compile_spec), not a spec"
    )


@dataclass(frozen=True, slots=True)
class _Printer:
    names: Mapping[str, str]
    arrays: frozenset[str]
    negative: frozenset[str]
    ltl: bool = False  # no conditional expressions inside ltl formulas

    def expr(self, e: Expr) -> str:
        match e:
            case Const(v):
                if isinstance(v, bool):
                    return "true" if v else "false"
                return str(v) if v >= 0 else f"({v})"
            case Var(name):
                if name in self.arrays:
                    raise EngineError(
                        f"array {name!r} is used as a scalar; the Promela export supports "
                        "arrays only through element reads and single-element updates"
                    )
                return self.names[name]
            case Select(a, index):
                return f"{self.names[a]}[{self.expr(index)}]"
            case Update(a, _, _):
                raise EngineError(
                    f"array update of {a!r} inside a scalar expression cannot be exported; "
                    "arrays may only be assigned as a whole"
                )
            case Bin(op, a, b):
                if op is BinOp.IMPLIES:
                    return f"(!{self.atom(a)} || {self.atom(b)})"
                if op is BinOp.MOD and _neg(a, self.negative):
                    x, m = self.atom(a), self.atom(b)
                    return f"((({x} % {m}) + {m}) % {m})"
                return f"{self.atom(a)} {op.value} {self.atom(b)}"
            case Not(a):
                return f"!{self.atom(a)}"
            case Ite(c, a, b):
                if self.ltl:
                    raise AssertionError("conditional expression left in an ltl formula")
                return f"({self.expr(c)} -> {self.expr(a)} : {self.expr(b)})"
            case L() | LocalOf() | G() | Mem() | At() | Param() | Pending():
                raise _spec_node(e)
            case _:
                assert_never(e)

    def atom(self, e: Expr) -> str:
        s = self.expr(e)
        return f"({s})" if isinstance(e, Bin) else s

    def pred(self, e: Expr) -> str:
        """A boolean expression with every conditional lifted to && / || (ltl-safe).

        Lifting copies the formula once per case of each conditional, 2**n copies for
        n of them: more than ``MAX_LIFTED`` is an :class:`EngineError`, not a hang.
        """
        if (n := sum(isinstance(x, Ite) for x in walk(e))) > MAX_LIFTED:
            raise EngineError(
                f"a property holds {n} conditional expressions (ite); an ltl formula "
                f"cannot contain them, and expanding each into its two cases would copy "
                f"the formula up to 2**{n} times (the limit is {MAX_LIFTED}); check this "
                "property with another engine (explicit, spacer)")
        return _Printer(self.names, self.arrays, self.negative, ltl=True).expr(_lift_ite(e))


MAX_LIFTED = 10  # conditionals lifted out of one ltl formula (2**10 copies at most)


def _replace(e: Expr, old: Expr, new: Expr) -> Expr:
    if e == old:
        return new
    match e:
        case Const() | Var() | L() | LocalOf() | G() | At() | Param() | Pending():
            return e
        case Mem(name, index):
            return e if index is None else Mem(name, _replace(index, old, new))
        case Select(a, index):
            return Select(a, _replace(index, old, new))
        case Update(a, index, value):
            return Update(a, _replace(index, old, new), _replace(value, old, new))
        case Bin(op, a, b):
            return Bin(op, _replace(a, old, new), _replace(b, old, new))
        case Not(a):
            return Not(_replace(a, old, new))
        case Ite(c, a, b):
            return Ite(_replace(c, old, new), _replace(a, old, new), _replace(b, old, new))
        case _:
            assert_never(e)


def _lift_ite(e: Expr) -> Expr:
    """``P[ite(c, a, b)]`` → ``(c && P[a]) || (!c && P[b])`` for a boolean ``P``."""
    ite = next((n for n in walk(e) if isinstance(n, Ite)), None)
    if ite is None:
        return e
    c = _lift_ite(ite.cond)
    yes = _lift_ite(_replace(e, ite, ite.then))
    no = _lift_ite(_replace(e, ite, ite.other))
    return Bin(BinOp.OR, Bin(BinOp.AND, c, yes), Bin(BinOp.AND, Not(c), no))


def _reads(e: Expr) -> set[str]:
    out: set[str] = set()
    for n in walk(e):
        match n:
            case Var(name) | Select(name, _) | Update(name, _, _):
                out.add(name)
            case _:
                pass
    return out


@dataclass(frozen=True, slots=True)
class _Write:
    """One array element write ``array[index] = value`` guarded by ``conds``."""

    conds: tuple[Expr, ...]
    source: str | None  # whole-array copy from this variable first (None: none)
    index: Expr | None
    value: Expr | None


def _array_writes(target: str, e: Expr, conds: tuple[Expr, ...] = ()) -> list[_Write]:
    match e:
        case Var(name):
            return [] if name == target else [_Write(conds, name, None, None)]
        case Update(a, index, value):
            return [_Write(conds, None if a == target else a, index, value)]
        case Ite(c, a, b):
            return _array_writes(target, a, (*conds, c)) + _array_writes(
                target, b, (*conds, Not(c))
            )
        case _:
            raise EngineError(
                f"array {target!r} is assigned {type(e).__name__} expression; the Promela "
                "export supports array variables, single-element updates and conditionals"
            )


class _Emitter:
    def __init__(self, system: System, names: Mapping[str, str]):
        self.system = system
        self.names = names
        self.arrays = frozenset(v.name for v in system.vars if v.is_array)
        self.lengths = {v.name: v.length or 0 for v in system.vars}
        self.p = _Printer(names, self.arrays, _maybe_negative(system))
        self.max_tmp = 0

    def updates(self, cmd: Command) -> list[str]:
        """Statements performing ``cmd``'s simultaneous assignment."""
        ups = list(cmd.updates)
        reads = [_reads(e) for _, e in ups]
        # a write to v must come after every other update that reads v
        order: list[int] = []
        left = list(range(len(ups)))
        while left:
            ready = next(
                (i for i in left
                 if not any(ups[i][0] in reads[j] for j in left if j != i)),
                None,
            )
            if ready is None:
                break
            order.append(ready)
            left.remove(ready)
        out: list[str] = []
        tmp = 0

        def new_tmp() -> str:
            nonlocal tmp
            tmp += 1
            self.max_tmp = max(self.max_tmp, tmp)
            return f"tmp{tmp - 1}"

        # updates on a dependency cycle: evaluate every operand first, then assign
        staged: list[str] = []
        for i in left:
            var, e = ups[i]
            if var in self.arrays:
                for w in _array_writes(var, e):
                    cond_t = new_tmp() if w.conds else None
                    if cond_t is not None:
                        out.append(f"{cond_t} = {' && '.join(self.p.atom(c) for c in w.conds)}")
                    if w.source is not None:
                        raise EngineError(
                            f"command {cmd.name!r} copies array {w.source!r} into {var!r} "
                            "inside a cyclic simultaneous update; this is not exportable"
                        )
                    assert w.index is not None and w.value is not None
                    it, vt = new_tmp(), new_tmp()
                    out.append(f"{it} = {self.p.expr(w.index)}")
                    out.append(f"{vt} = {self.p.expr(w.value)}")
                    stmt = f"{self.names[var]}[{it}] = {vt}"
                    staged.append(stmt if cond_t is None else
                                  f"if :: {cond_t} -> {stmt} :: else -> skip fi")
            else:
                t = new_tmp()
                out.append(f"{t} = {self.p.expr(e)}")
                staged.append(f"{self.names[var]} = {t}")
        # operands of the cycle are in temporaries (pre-state values); the ordered
        # updates may read the cycle's targets, so they go before the staged writes
        for i in order:
            var, e = ups[i]
            if var in self.arrays:
                out.extend(self._array_assign(var, e))
            else:
                out.append(f"{self.names[var]} = {self.p.expr(e)}")
        out.extend(staged)
        out.extend(f"tmp{i} = 0" for i in range(tmp))  # keep temporaries out of the state
        return out

    def _array_assign(self, var: str, e: Expr) -> list[str]:
        """Element writes of one array update; the conditions of an ``ite`` tree are
        mutually exclusive, so they become the branches of one ``if`` (all guards are
        read in the pre-state)."""
        branches: list[tuple[tuple[Expr, ...], list[str]]] = []
        for w in _array_writes(var, e):
            stmts: list[str] = []
            if w.source is not None:
                if w.index is not None and var in _reads(w.index) | _reads(w.value or w.index):
                    raise EngineError(
                        f"array {var!r} is overwritten with {w.source!r} and then updated "
                        "from its own old value; the Promela export cannot express that"
                    )
                src, dst = self.names[w.source], self.names[var]
                stmts.extend(f"{dst}[{k}] = {src}[{k}]" for k in range(self.lengths[var]))
            if w.index is not None and w.value is not None:
                idx = self.p.expr(w.index)
                stmts.append(f"{self.names[var]}[{idx}] = {self.p.expr(w.value)}")
            if stmts:
                branches.append((w.conds, stmts))
        if len(branches) == 1 and not branches[0][0]:
            return branches[0][1]
        if not branches:
            return []
        arms = " ".join(
            f":: {' && '.join(self.p.atom(c) for c in conds) or 'true'} -> {'; '.join(stmts)}"
            for conds, stmts in branches
        )
        return [f"if {arms} :: else -> skip fi"]


def _var_decl(v: StateVar, name: str) -> str:
    if v.is_array:
        return f"int {name}[{v.length}]" + (f" = {v.init}" if v.init else "")
    return f"int {name}" + (f" = {v.init}" if v.init else "")


def build_promela(system: System, *, variant: str | None = None) -> PromelaModel:
    """Promela source for the finite ``system``, with its name maps.

    Raises :class:`EngineError` for symbolic parameters or unbounded arrays."""
    check_exportable(system)
    alloc = _Names()
    names = {v.name: alloc.fresh(v.name) for v in system.vars}
    used = {c.group if c.group is not None else "unfair" for c in system.commands}
    groups = [g for g in (*system.groups, "unfair") if g in used]
    procs = {g: alloc.fresh(g) for g in groups}
    em = _Emitter(system, names)
    variant = system.variant if variant is None else variant

    body: list[str] = []
    for g in groups:
        body.append("")
        fair = "weakly fair" if g != "unfair" else "UNFAIR commands (pan -f makes them fair)"
        body.append(f"/* fairness group {_comment(g)}: {fair} */")
        body.append(f"active proctype {procs[g]}() {{")
        body.append("  do")
        for k, c in enumerate(system.commands):
            if (c.group if c.group is not None else "unfair") != g:
                continue
            note = f" -- {_comment(c.text)}" if c.text else ""
            flag = " [progress]" if c.progress else ""
            body.append(f"  :: /* {k}: {_comment(c.name)}{flag}{note} */")
            stmts = [*em.updates(c), f"set_progressed({1 if c.progress else 0})",
                     f'printf("{CMD_MARK} {k}\\n")']
            body.append(f"     d_step {{ {em.p.expr(c.guard)} ->")
            for s in stmts[:-1]:
                body.append(f"       {s};")
            body.append(f"       {stmts[-1]}")
            body.append("     }")
        body.append("  od")
        body.append("}")
    body.append("")
    body.append("/* a run that ends stutters forever: lets liveness claims see deadlocks */")
    body.append(f"active proctype {STUTTER_PROC}() {{")
    body.append("  do")
    body.append("  :: atomic { timeout -> set_progressed(0) }")
    body.append("  od")
    body.append("}")

    props: list[str] = []
    ltl = {p.name: alloc.fresh(p.name) for p in system.properties}
    for prop in system.properties:
        match prop:
            case CAlways(name, pred):
                props.append(f"/* Always {name}: violated = a reachable state breaks it */")
                props.append(f"ltl {ltl[name]} {{ [] ({em.p.pred(pred)}) }}")
            case CSometimes(name, pred):
                props.append(f"/* Sometimes {name}: a violation of this claim is a witness */")
                props.append(f"ltl {ltl[name]} {{ [] !({em.p.pred(pred)}) }}")
            case CEventually(name, pending):
                props.append(f"/* Eventually {name}: check with pan -a -f (weak fairness) */")
                props.append(
                    f"ltl {ltl[name]} {{ [] <> (!({em.p.pred(pending)}) || progressed) }}"
                )
            case _:
                assert_never(prop)

    head = [
        "/*",
        f" * intervm Promela export: protocol {system.name}"
        + (f", variant {variant}" if variant else ""),
        f" * memory model: {system.memory_model}",
        f" * params: {system.param_text or '(none)'}",
        f" * {len(system.commands)} commands in {len(groups)} fairness groups; "
        f"{len(system.vars)} state variables",
        " * Generated from the compiled system by intervm.model.promela; do not edit.",
        " *",
        " * safety:   spin -DSAFETY_ONLY -a model.pml && gcc -O2 -DSAFETY -DBFS -o pan pan.c",
        " *           ./pan -N <property>",
        " * liveness: spin -a model.pml && gcc -O2 -o pan pan.c && ./pan -a -f -N <property>",
        " */",
        "",
    ]
    decls = [f"{_var_decl(v, names[v.name])};  /* {_comment(v.name)} ({v.role}) */"
             if names[v.name] != v.name else f"{_var_decl(v, names[v.name])};  /* {v.role} */"
             for v in system.vars]
    ghosts = [
        "",
        "bit progressed;  /* ghost: the last command was a progress command (liveness) */",
        f"#ifdef {SAFETY_ONLY_MACRO}",
        "#define set_progressed(b) skip  /* safety: the state vector is the system's own */",
        "#else",
        "#define set_progressed(b) progressed = b",
        "#endif",
    ]
    if em.max_tmp:
        ghosts.append("/* temporaries for simultaneous updates, zero between steps */")
        ghosts.extend(f"int tmp{i};" for i in range(em.max_tmp))
    text = "\n".join([*head, *decls, *ghosts, *body, "", *props]) + "\n"
    return PromelaModel(text, names, tuple(c.name for c in system.commands), procs, ltl)

