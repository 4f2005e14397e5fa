"""Commands compiled to straight-line Python functions, for hot loops.

:class:`~intervm.model.evaluate.Semantics` evaluates an expression as a tree of
closures: one Python call per node. The trace validator evaluates guards and
updates millions of times, so here each guard and each command's update becomes
*one* function generated from Python source, with the same meaning node for node
(the same operators, the same ``bool`` coercions, the same array update), and a
new state is built by slicing the old tuple around the updated positions.
Constants are passed to the generated code as bound names, never spliced in as
text. ``tests/test_codegen.py`` checks every built-in command against
:class:`Semantics` on reachable states.

>>> from intervm.spec.protocols import get_protocol
>>> from intervm.model.compile import compile_spec
>>> from intervm.model.evaluate import Semantics
>>> sys = compile_spec(get_protocol("coalescing").spec("correct"), {"requests": 1}, "sc")
>>> sem, fast = Semantics(sys), compile_commands(sys)
>>> s0 = sem.initial()
>>> i = sem.command_index("C.drain")
>>> fast[i].guard(s0) == sem.enabled(s0, i), fast[i].apply(s0) == sem.apply(s0, i)
(True, True)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, assert_never

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

State = tuple[Any, ...]

_INFIX = {
    BinOp.ADD: "+", BinOp.SUB: "-", BinOp.MUL: "*", BinOp.MOD: "%",
    BinOp.EQ: "==", BinOp.NE: "!=", BinOp.LT: "<", BinOp.LE: "<=",
}


def _upd(arr: tuple[Any, ...], k: int, v: Any) -> tuple[Any, ...]:
    return (*arr[:k], v, *arr[k + 1:])


@dataclass(frozen=True, slots=True)
class FastCommand:
    """One command as two generated functions: ``guard(s)`` and ``apply(s)``."""

    guard: Callable[[State], Any]
    apply: Callable[[State], State]


class _Source:
    """Python source for expressions over a state tuple named ``s``."""

    def __init__(self, pos: Mapping[str, int]):
        self.pos = pos
        self.consts: dict[str, Any] = {}

    def const(self, v: Any) -> str:
        name = f"_k{len(self.consts)}"
        self.consts[name] = v
        return name

    def expr(self, e: Expr) -> str:
        match e:
            case Const(v):
                return self.const(v)
            case Var(name):
                return f"s[{self.pos[name]}]"
            case Select(a, index):
                return f"s[{self.pos[a]}][{self.expr(index)}]"
            case Update(a, index, value):
                return f"_upd(s[{self.pos[a]}], {self.expr(index)}, {self.expr(value)})"
            case Bin(op, a, b):
                x, y = self.expr(a), self.expr(b)
                match op:
                    case BinOp.AND:
                        return f"(bool({x}) and bool({y}))"
                    case BinOp.OR:
                        return f"(bool({x}) or bool({y}))"
                    case BinOp.IMPLIES:
                        return f"((not {x}) or bool({y}))"
                    case _:
                        return f"({x} {_INFIX[op]} {y})"
            case Not(a):
                return f"(not {self.expr(a)})"
            case Ite(c, a, b):
                return f"({self.expr(a)} if {self.expr(c)} else {self.expr(b)})"
            case L() | LocalOf() | G() | Mem() | At() | Param() | Pending():
                raise EngineError(f"spec-level node {e!r} reached the code generator; "
                                  "compile the spec first")
            case _:
                assert_never(e)

    def apply(self, c: Command) -> str:
        """``s`` with every update of ``c`` computed from the old ``s`` (all at once)."""
        if not c.updates:
            return "s"
        vals = {self.pos[v]: self.expr(e) for v, e in c.updates}  # the last update wins
        parts, start = [], 0
        for i in sorted(vals):
            if i > start:
                parts.append(f"s[{start}:{i}]")
            parts.append(f"({vals[i]},)")
            start = i + 1
        parts.append(f"s[{start}:]")
        return " + ".join(parts)


def compile_commands(system: System) -> list[FastCommand]:
    """A :class:`FastCommand` per command of ``system``, in the same order."""
    pos = {v.name: i for i, v in enumerate(system.vars)}
    src = _Source(pos)
    lines = []
    for i, c in enumerate(system.commands):
        lines.append(f"def g{i}(s):\n    return {src.expr(c.guard)}\n")
        lines.append(f"def a{i}(s):\n    return {src.apply(c)}\n")
    namespace: dict[str, Any] = {"_upd": _upd, **src.consts}
    exec(compile("".join(lines), f"<commands of {system.name}>", "exec"), namespace)
    return [FastCommand(namespace[f"g{i}"], namespace[f"a{i}"])
            for i in range(len(system.commands))]


def compile_fn(e: Expr, pos: Mapping[str, int]) -> Callable[[State], Any]:
    """One generated function computing ``e`` on a state laid out by ``pos``."""
    src = _Source(pos)
    code = f"def f(s):\n    return {src.expr(e)}\n"
    namespace: dict[str, Any] = {"_upd": _upd, **src.consts}
    exec(compile(code, "<expression>", "exec"), namespace)
    fn: Callable[[State], Any] = namespace["f"]
    return fn
