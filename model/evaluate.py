"""Concrete semantics of a compiled system: states as tuples, commands as closures.

>>> from intervm.spec.protocols import get_protocol
>>> from intervm.model.compile import compile_spec
>>> proto = get_protocol("coalescing")
>>> sem = Semantics(compile_spec(proto.spec("correct"), {"requests": 1}, "sc"))
>>> s0 = sem.initial()
>>> [sem.system.commands[i].name for i, _ in sem.successors(s0)]
['P.idle->space', 'P.idle->done', 'C.drain']

Arrays are tuples; every value is an int (booleans only inside guards).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, assert_never

from intervm.model.system import Command, System
from intervm.spec.errors import EngineError, TraceError
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

State = tuple[Any, ...]
Fn = Callable[[State], Any]

_ARITH: dict[BinOp, Callable[[Any, Any], Any]] = {
    BinOp.ADD: lambda a, b: a + b,
    BinOp.SUB: lambda a, b: a - b,
    BinOp.MUL: lambda a, b: a * b,
    BinOp.MOD: lambda a, b: a % b,
    BinOp.EQ: lambda a, b: a == b,
    BinOp.NE: lambda a, b: a != b,
    BinOp.LT: lambda a, b: a < b,
    BinOp.LE: lambda a, b: a <= b,
    BinOp.AND: lambda a, b: bool(a) and bool(b),
    BinOp.OR: lambda a, b: bool(a) or bool(b),
    BinOp.IMPLIES: lambda a, b: (not a) or bool(b),
}


def compile_expr(e: Expr, pos: Mapping[str, int]) -> Fn:
    """A closure computing ``e`` on a state tuple laid out by ``pos``."""
    match e:
        case Const(v):
            return lambda s: v
        case Var(name):
            i = pos[name]
            return lambda s: s[i]
        case Select(a, index):
            i = pos[a]
            fi = compile_expr(index, pos)
            return lambda s: s[i][fi(s)]
        case Update(a, index, value):
            i = pos[a]
            fi = compile_expr(index, pos)
            fv = compile_expr(value, pos)

            def upd(s: State) -> tuple[Any, ...]:
                arr: tuple[Any, ...] = s[i]
                k = fi(s)
                return (*arr[:k], fv(s), *arr[k + 1:])

            return upd
        case Bin(op, a, b):
            fa = compile_expr(a, pos)
            fb = compile_expr(b, pos)
            if op is BinOp.AND:
                return lambda s: bool(fa(s)) and bool(fb(s))
            if op is BinOp.OR:
                return lambda s: bool(fa(s)) or bool(fb(s))
            f = _ARITH[op]
            return lambda s: f(fa(s), fb(s))
        case Not(a):
            fa = compile_expr(a, pos)
            return lambda s: not fa(s)
        case Ite(c, a, b):
            fc = compile_expr(c, pos)
            fa = compile_expr(a, pos)
            fb = compile_expr(b, pos)
            return lambda s: fa(s) if fc(s) else fb(s)
        case L() | LocalOf() | G() | Mem() | At() | Param() | Pending():
            raise EngineError(f"spec-level node {e!r} reached the evaluator; compile the spec first")
        case _:
            assert_never(e)


@dataclass(frozen=True, slots=True)
class _Cmd:
    guard: Fn
    updates: tuple[tuple[int, Fn], ...]


class Semantics:
    """Initial state and successor function of a finite :class:`System`."""

    def __init__(self, system: System):
        if not system.is_finite:
            raise EngineError(
                f"system {system.name!r} ({system.param_text}) has symbolic parameters; the "
                "explicit engine needs every parameter fixed: give concrete values"
            )
        self.system = system
        self.pos = {v.name: i for i, v in enumerate(system.vars)}
        self.cmds = [self._compile(c) for c in system.commands]

    def _compile(self, c: Command) -> _Cmd:
        return _Cmd(
            compile_expr(c.guard, self.pos),
            tuple((self.pos[v], compile_expr(e, self.pos)) for v, e in c.updates),
        )

    def initial(self) -> State:
        out: list[Any] = []
        for v in self.system.vars:
            if v.is_array:
                assert v.length is not None
                out.append((v.init,) * v.length)
            else:
                out.append(v.init)
        return tuple(out)

    def enabled(self, state: State, index: int) -> bool:
        return bool(self.cmds[index].guard(state))

    def apply(self, state: State, index: int) -> State:
        c = self.cmds[index]
        vals = [(i, f(state)) for i, f in c.updates]
        new = list(state)
        for i, v in vals:
            new[i] = v
        return tuple(new)

    def successors(self, state: State) -> list[tuple[int, State]]:
        out = []
        for i, c in enumerate(self.cmds):
            if c.guard(state):
                out.append((i, self.apply(state, i)))
        return out

    def predicate(self, e: Expr) -> Fn:
        return compile_expr(e, self.pos)

    def as_dict(self, state: State) -> dict[str, Any]:
        return {v.name: state[i] for i, v in enumerate(self.system.vars)}

    def from_dict(self, values: Mapping[str, Any]) -> State:
        try:
            return tuple(values[v.name] for v in self.system.vars)
        except KeyError as e:
            raise TraceError(f"state has no value for variable {e.args[0]!r}") from None

    def command_index(self, name: str) -> int:
        for i, c in enumerate(self.system.commands):
            if c.name == name:
                return i
        raise TraceError(
            f"command {name!r} does not exist in {self.system.name} "
            f"({self.system.memory_model}); check the trace's protocol, variant and model"
        )
