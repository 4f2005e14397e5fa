"""Translate a compiled :class:`System` into Z3 terms, one state copy per time step.

Every symbol goes through :func:`at_step` (``"tail@3"``); ``Trans(s, t)`` is the
disjunction of the guarded commands, each with its frame derived from the variables
it does not update (pySMT's ``model_checking.py`` vocabulary).

>>> from intervm.spec.protocols import get_protocol
>>> from intervm.model.compile import compile_spec
>>> enc = Encoder(compile_spec(get_protocol("coalescing").spec("correct"), {}, "sc"))
>>> str(enc.state(3)["tail"])
'tail@3'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, assert_never

import z3

from intervm.model.system import Command, System
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
)

Z = Any  # a z3.ExprRef; z3 ships no type information
StateMap = Mapping[str, Z]


def at_step(name: str, k: int | str) -> str:
    """The Z3 name of variable ``name`` at time step ``k``."""
    return f"{name}@{k}"


class Encoder:
    """Z3 terms for the states, initial condition and transitions of ``system``."""

    def __init__(self, system: System, ctx: z3.Context | None = None, *, bits: int | None = None):
        """``bits``: encode integers as signed bit-vectors of that width (finite
        instances only: much faster BMC; values must stay within the width)."""
        self.system = system
        self.ctx = ctx or z3.Context()
        self.bits = bits
        self._states: dict[int | str, dict[str, Z]] = {}

    def num_sort(self) -> Z:
        if self.bits is not None:
            return z3.BitVecSort(self.bits, self.ctx)
        return z3.IntSort(self.ctx)

    def num(self, v: int) -> Z:
        if self.bits is not None:
            return z3.BitVecVal(v, self.bits, self.ctx)
        return z3.IntVal(v, self.ctx)

    # ------------------------------------------------------------ symbols

    def sort(self, name: str) -> Z:
        v = self.system.var(name)
        if v.is_array:
            return z3.ArraySort(self.num_sort(), self.num_sort())
        return self.num_sort()

    def state(self, k: int | str) -> dict[str, Z]:
        """The constants of state ``k`` (created once, then cached)."""
        st = self._states.get(k)
        if st is None:
            st = {v.name: z3.Const(at_step(v.name, k), self.sort(v.name)) for v in self.system.vars}
            self._states[k] = st
        return st

    def act(self, k: int) -> Z:
        return z3.Const(at_step("act", k), self.num_sort())

    # ------------------------------------------------------------ expressions

    def expr(self, e: Expr, st: StateMap) -> Z:
        c = self.ctx
        match e:
            case Const(v):
                if isinstance(v, bool):
                    return z3.BoolVal(v, c)
                return self.num(v)
            case Var(name):
                return st[name]
            case Select(a, i):
                return z3.Select(st[a], self.as_int(i, st))
            case Update(a, i, v):
                return z3.Store(st[a], self.as_int(i, st), self.as_int(v, st))
            case Bin(op, a, b):
                return self.binop(op, a, b, st)
            case Not(a):
                return z3.Not(self.as_bool(a, st))
            case Ite(cond, a, b):
                x, y = self.expr(a, st), self.expr(b, st)
                if z3.is_bool(x) and not z3.is_bool(y):
                    x = z3.If(x, self.num(1), self.num(0))
                if z3.is_bool(y) and not z3.is_bool(x):
                    y = z3.If(y, self.num(1), self.num(0))
                return z3.If(self.as_bool(cond, st), x, y)
            case L() | LocalOf() | G() | Mem() | At() | Param() | Pending():
                raise EngineError(f"spec-level node {e!r} reached the Z3 encoder; compile first")
            case _:
                assert_never(e)

    def as_int(self, e: Expr, st: StateMap) -> Z:
        x = self.expr(e, st)
        if z3.is_bool(x):
            return z3.If(x, self.num(1), self.num(0))
        return x

    def as_bool(self, e: Expr, st: StateMap) -> Z:
        x = self.expr(e, st)
        if z3.is_bool(x):
            return x
        return x != self.num(0)

    def binop(self, op: BinOp, a: Expr, b: Expr, st: StateMap) -> Z:
        match op:
            case BinOp.AND:
                return z3.And(self.as_bool(a, st), self.as_bool(b, st))
            case BinOp.OR:
                return z3.Or(self.as_bool(a, st), self.as_bool(b, st))
            case BinOp.IMPLIES:
                return z3.Implies(self.as_bool(a, st), self.as_bool(b, st))
            case BinOp.ADD:
                return self.as_int(a, st) + self.as_int(b, st)
            case BinOp.SUB:
                return self.as_int(a, st) - self.as_int(b, st)
            case BinOp.MUL:
                return self.as_int(a, st) * self.as_int(b, st)
            case BinOp.MOD:
                if self.bits is not None:  # bvsmod: the sign of the divisor, as Python
                    return self.as_int(a, st) % self.as_int(b, st)
                return self.as_int(a, st) % self.as_int(b, st)
            case BinOp.EQ:
                return self.as_int(a, st) == self.as_int(b, st)
            case BinOp.NE:
                return self.as_int(a, st) != self.as_int(b, st)
            case BinOp.LT:
                return self.as_int(a, st) < self.as_int(b, st)
            case BinOp.LE:
                return self.as_int(a, st) <= self.as_int(b, st)
            case _:
                assert_never(op)

    # ------------------------------------------------------------ system

    def init(self, st: StateMap) -> Z:
        parts = [self.as_bool(self.system.init_constraint, st)]
        for v in self.system.vars:
            if v.rigid:
                continue
            if v.is_array:
                parts.append(st[v.name] == z3.K(self.num_sort(), self.num(v.init)))
            else:
                parts.append(st[v.name] == self.num(v.init))
        return z3.And(parts)

    def command(self, cmd: Command, s: StateMap, t: StateMap) -> Z:
        """``guard(s) ∧ t = updates(s) ∧ frame``."""
        written = {name for name, _ in cmd.updates}
        parts = [self.as_bool(cmd.guard, s)]
        for name, e in cmd.updates:
            parts.append(t[name] == self.expr_as(name, e, s))
        for var in self.system.vars:
            if var.name not in written:
                parts.append(t[var.name] == s[var.name])
        return z3.And(parts)

    def expr_as(self, var: str, e: Expr, st: StateMap) -> Z:
        return self.expr(e, st) if self.system.var(var).is_array else self.as_int(e, st)

    def enabled(self, cmd: Command, s: StateMap) -> Z:
        return self.as_bool(cmd.guard, s)

    def stutter(self, s: StateMap, t: StateMap) -> Z:
        """Deadlock stutter: no command enabled, nothing changes."""
        return z3.And(
            z3.Not(z3.Or([self.enabled(c, s) for c in self.system.commands])),
            *[t[v.name] == s[v.name] for v in self.system.vars],
        )

    def trans(self, s: StateMap, t: StateMap, act: Z | None = None) -> Z:
        """``Trans(s, t)`` as a disjunction of guarded commands with their frames; with
        ``act`` each disjunct also fixes ``act`` to the command's index."""
        parts = []
        for i, cmd in enumerate(self.system.commands):
            body = self.command(cmd, s, t)
            parts.append(z3.And(act == i, body) if act is not None else body)
        return z3.Or(parts)

    def trans_by_var(self, s: StateMap, t: StateMap, act: Z, *, stutter: bool = False) -> Z:
        """The same relation, written per variable: ``act`` picks a command whose guard
        holds, and each variable's next value is an if-then-else over the commands that
        write it (its frame is the final else). Much faster for BMC."""
        cmds = self.system.commands
        n = len(cmds)
        parts = [act >= 0, act <= n if stutter else act < n]
        for i, cmd in enumerate(cmds):
            parts.append(z3.Implies(act == i, self.as_bool(cmd.guard, s)))
        if stutter:  # act == n: deadlock stutter, only where nothing else is enabled
            parts.append(z3.Implies(act == n, z3.Not(z3.Or([self.enabled(c, s) for c in cmds]))))
        writers: dict[str, list[tuple[int, Expr]]] = {}
        for i, cmd in enumerate(cmds):
            for name, e in cmd.updates:
                writers.setdefault(name, []).append((i, e))
        for var in self.system.vars:
            nxt = s[var.name]
            for i, e in reversed(writers.get(var.name, [])):
                nxt = z3.If(act == i, self.expr_as(var.name, e, s), nxt)
            parts.append(t[var.name] == nxt)
        return z3.And(parts)

    def prop(self, e: Expr, st: StateMap) -> Z:
        return self.as_bool(e, st)

    def domain(self, st: StateMap) -> Z:
        """Facts every reachable state satisfies by construction of the compiler
        (wrapped stores, counters and program counters in range)."""
        c = self.ctx
        parts: list[Z] = []
        for v in self.system.vars:
            if v.is_array:
                continue
            x = st[v.name]
            if v.rigid:
                parts.append(x >= v.minimum)
            elif v.modulus is not None:
                parts += [x >= 0, x < v.modulus]
            elif v.role == "pc":
                assert v.owner is not None
                parts += [x >= 0, x < len(self.system.label_names(v.owner))]
            elif v.role in ("sb", "pending"):
                parts.append(x >= 0)
        return z3.And(parts) if parts else z3.BoolVal(True, c)

    def equal_states(self, a: StateMap, b: StateMap) -> Z:
        return z3.And([a[v.name] == b[v.name] for v in self.system.vars])

    # ------------------------------------------------------------ models to values

    def value(self, model: Z, term: Z, *, length: int | None = None, cells: int = 0) -> Any:
        if z3.is_array(term):
            n = length if length is not None else cells
            return tuple(
                self._long(model.eval(z3.Select(term, self.num(i)), model_completion=True))
                for i in range(n)
            )
        val = model.eval(term, model_completion=True)
        if z3.is_true(val):
            return 1
        if z3.is_false(val):
            return 0
        return self._long(val)

    def _long(self, val: Z) -> int:
        if self.bits is not None:
            return int(val.as_signed_long())
        return int(val.as_long())

    def state_values(self, model: Z, st: StateMap, cells: int) -> dict[str, Any]:
        return {
            v.name: self.value(model, st[v.name], length=v.length, cells=cells)
            for v in self.system.vars
        }


def command_names(system: System, indices: Sequence[int]) -> list[str]:
    return [system.commands[i].name for i in indices]
