"""Commands compiled to straight-line Python functions, for hot loops.

:class:`~intervm.model.evaluate.Semantics` evaluates an expression as a tree of
closures: one Python call per node. The trace validator evaluates guards and
updates millions of times, so here each guard and each command's update becomes
*one* function generated from Python source, with the same meaning node for node
(the same operators and array update; ``bool`` coercions where a value is kept,
plain truth tests in guards), and a new state is built from a few slices of the
old tuple and one tuple display per stretch of updated positions. Two fused forms
serve a search that keys states by a projection: :func:`compile_projection` (the
key of a command's successor without building the successor) and
:func:`compile_expanders` (one function adding every new successor of a group of
moves). Constants are passed to the generated code as bound names, never spliced
in as text. ``tests/test_trace_perf.py`` checks all three against
:class:`Semantics` on reachable states of every built-in protocol.

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

from collections.abc import Callable, Iterable, Mapping, Sequence
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

# kept positions in a row longer than this are copied as one slice of the old state;
# shorter runs go into the tuple display element by element (CPython 3.11: a slice
# and its concatenation cost about as much as a dozen element loads)
SLICE_RUN = 12

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

    def cond(self, e: Expr) -> str:
        """Source with the truth value of ``e`` (a guard): the connectives need no
        ``bool`` coercion where only truth is asked, so none is generated there."""
        match e:
            case Bin(BinOp.AND, a, b):
                return f"({self.cond(a)} and {self.cond(b)})"
            case Bin(BinOp.OR, a, b):
                return f"({self.cond(a)} or {self.cond(b)})"
            case Bin(BinOp.IMPLIES, a, b):
                return f"((not {self.cond(a)}) or {self.cond(b)})"
            case Not(a):
                return f"(not {self.cond(a)})"
            case _:
                return self.expr(e)

    def apply(self, c: Command) -> str:
        """``s`` with every update of ``c`` computed from the old ``s`` (all at once)."""
        if not c.updates:
            return "s"
        return self.tuple_of(range(len(self.pos)), self.updates(c))

    def updates(self, c: Command) -> dict[int, str]:
        """Position -> source of its new value (the last update of a variable wins)."""
        return {self.pos[v]: self.expr(e) for v, e in c.updates}

    def tuple_of(self, positions: Iterable[int], vals: Mapping[int, str]) -> str:
        """A tuple of the given positions of ``s``, those in ``vals`` replaced.

        Runs of more than :data:`SLICE_RUN` consecutive kept positions are slices of
        ``s``; everything else goes into one tuple display per stretch (a tuple
        concatenation per single element costs more than the element)."""
        parts: list[str] = []
        items: list[str] = []
        run: list[int] = []

        def end_run() -> None:
            if len(run) > SLICE_RUN:
                if items:
                    parts.append(f"({', '.join(items)},)")
                    items.clear()
                parts.append(f"s[{run[0]}:{run[-1] + 1}]")
            else:
                items.extend(f"s[{i}]" for i in run)
            run.clear()

        for i in positions:
            if i in vals:
                end_run()
                items.append(vals[i])
            elif run and i != run[-1] + 1:
                end_run()
                run.append(i)
            else:
                run.append(i)
        end_run()
        if items:
            parts.append(f"({', '.join(items)},)")
        return " + ".join(parts) if parts else "()"


def compile_commands(system: System) -> list[FastCommand]:
    """A :class:`FastCommand` per command of ``system``, in the same order."""
    pos = {v.name: i for i, v in enumerate(system.vars)}
    src = _Source(pos)
    lines = []
    for i, c in enumerate(system.commands):
        lines.append(f"def g{i}(s):\n    return {src.cond(c.guard)}\n")
        lines.append(f"def a{i}(s):\n    return {src.apply(c)}\n")
    namespace: dict[str, Any] = {"_upd": _upd, **src.consts}
    exec(compile("".join(lines), f"<commands of {system.name}>", "exec"), namespace)
    return [FastCommand(namespace[f"g{i}"], namespace[f"a{i}"])
            for i in range(len(system.commands))]


@dataclass(frozen=True, slots=True)
class Projection:
    """A state's values at some positions, and the same of each command's successor.

    ``key(s)`` is the tuple of ``s`` at the positions (in the order given);
    ``after[i](s)`` equals ``key(apply_i(s))`` but builds only the projected tuple,
    so a caller that keys states by the projection can test whether a successor is
    new before paying for the whole successor state.
    """

    key: Callable[[State], tuple[Any, ...]]
    after: tuple[Callable[[State], tuple[Any, ...]], ...]


def compile_projection(system: System, positions: Sequence[int]) -> Projection:
    """The :class:`Projection` of ``system``'s states and commands onto ``positions``."""
    pos = {v.name: i for i, v in enumerate(system.vars)}
    bad = [i for i in positions if not 0 <= i < len(pos)]
    if bad:
        raise EngineError(f"projection position {bad[0]} is outside {system.name}'s "
                          f"{len(pos)} state variables; pass positions of its variables")
    src = _Source(pos)
    lines = [f"def key(s):\n    return {src.tuple_of(positions, {})}\n"]
    for i, c in enumerate(system.commands):
        lines.append(f"def p{i}(s):\n    return {src.tuple_of(positions, src.updates(c))}\n")
    namespace: dict[str, Any] = {"_upd": _upd, **src.consts}
    exec(compile("".join(lines), f"<projected commands of {system.name}>", "exec"), namespace)
    return Projection(namespace["key"],
                      tuple(namespace[f"p{i}"] for i in range(len(system.commands))))


Expander = Callable[[State, dict[Any, State], Callable[[State], None]], None]


def compile_expanders(system: System, groups: Sequence[Sequence[tuple[int, int | None]]],
                      key_positions: Sequence[int] | None = None) -> list[Expander]:
    """Per group of moves, one generated ``x(s, seen, append)`` adding the new successors.

    A move is (command index, position or None): with a position, the move is taken
    only while ``s`` is truthy there as well as the command's guard. For each move
    in the group's order whose guard holds, ``x`` computes the successor's key (the
    successor projected onto ``key_positions``, or the successor itself when None)
    and, when ``seen`` lacks it, builds the successor ``t``, sets ``seen[key] = t``
    and calls ``append(t)``: one breadth-first expansion step with no call per
    guard, key or update.
    """
    pos = {v.name: i for i, v in enumerate(system.vars)}
    src = _Source(pos)
    lines = []
    for g, moves in enumerate(groups):
        body = [f"def x{g}(s, seen, append):"]
        for i, extra in moves:
            c = system.commands[i]
            test = src.cond(c.guard) + ("" if extra is None else f" and s[{extra}]")
            body.append(f"    if {test}:")
            if key_positions is None:
                body += [f"        t = {src.apply(c)}",
                         "        if t not in seen:",
                         "            seen[t] = t",
                         "            append(t)"]
            else:
                body += [f"        k = {src.tuple_of(key_positions, src.updates(c))}",
                         "        if k not in seen:",
                         f"            t = {src.apply(c)}",
                         "            seen[k] = t",
                         "            append(t)"]
        body.append("    return None\n")
        lines.append("\n".join(body))
    namespace: dict[str, Any] = {"_upd": _upd, **src.consts}
    exec(compile("\n".join(lines), f"<moves of {system.name}>", "exec"), namespace)
    return [namespace[f"x{g}"] for g in range(len(groups))]


def compile_fn(e: Expr, pos: Mapping[str, int]) -> Callable[[State], Any]:
    """One generated function computing ``e`` on a state laid out by ``pos``."""
    src = _Source(pos)
    code = f"def f(s):\n    return {src.expr(e)}\n"
    namespace: dict[str, Any] = {"_upd": _upd, **src.consts}
    exec(compile(code, "<expression>", "exec"), namespace)
    fn: Callable[[State], Any] = namespace["f"]
    return fn
