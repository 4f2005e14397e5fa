"""Expressions of the spec language: small immutable trees, built with plain functions.

A step's values and conditions, a property's predicate and the compiled transition
relation are all written with these nodes; every engine interprets the same tree.

>>> from intervm.spec.expr import L, eq, add, show
>>> show(eq(add(L("t"), 1), L("h")))
'(t + 1) == h'

Comparison helpers (``eq``, ``lt`` …) are functions rather than overloaded
operators, so that ``==`` keeps its ordinary meaning on the frozen nodes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TypeAlias, assert_never

from intervm.spec import _check
from intervm.spec.errors import SpecError


class BinOp(enum.Enum):
    """Binary operators; arithmetic is on mathematical integers, wrap happens on store."""

    ADD = "+"
    SUB = "-"
    MUL = "*"
    MOD = "%"
    EQ = "=="
    NE = "!="
    LT = "<"
    LE = "<="
    AND = "&&"
    OR = "||"
    IMPLIES = "->"


ARITH_OPS = frozenset({BinOp.ADD, BinOp.SUB, BinOp.MUL, BinOp.MOD})
COMPARE_OPS = frozenset({BinOp.EQ, BinOp.NE, BinOp.LT, BinOp.LE})
BOOL_OPS = frozenset({BinOp.AND, BinOp.OR, BinOp.IMPLIES})


@dataclass(frozen=True, slots=True)
class Const:
    """An integer or boolean constant (plain ints and bools are lifted to it).

    >>> show(Const(3)), show(TRUE), add(L("t"), 1).right
    ('3', 'true', Const(value=1))
    """

    value: int | bool

    def __post_init__(self) -> None:
        if not isinstance(self.value, int):
            raise _check.fail(self, "value", _check.Mismatch(
                "an int or a bool", self.value, _const_hint(self.value)))


@dataclass(frozen=True, slots=True)
class L:
    """A local variable of the process whose step this expression belongs to.

    >>> show(add(L("t"), 1))
    't + 1'
    """

    name: str

    def __post_init__(self) -> None:
        if type(self.name) is not str or not self.name:
            _name_error(self, "name")


@dataclass(frozen=True, slots=True)
class LocalOf:
    """A local variable of a named process (for properties).

    >>> show(eq(LocalOf("C", "h"), 2))
    'C.h == 2'
    """

    process: str
    name: str

    def __post_init__(self) -> None:
        if type(self.process) is not str or not self.process:
            _name_error(self, "process")
        if type(self.name) is not str or not self.name:
            _name_error(self, "name")


@dataclass(frozen=True, slots=True)
class G:
    """A ghost variable: specification-only state, updated instantly, never buffered.

    >>> show(le(G("notifies"), add(G("sleeps"), 1)))
    'notifies <= (sleeps + 1)'
    """

    name: str

    def __post_init__(self) -> None:
        if type(self.name) is not str or not self.name:
            _name_error(self, "name")


@dataclass(frozen=True, slots=True)
class Mem:
    """The value of a shared variable in memory (properties only; steps use Load).

    >>> show(Mem("tail")), show(Mem("slots", L("h")))
    ('tail', 'slots[h]')

    Under TSO/PSO this is the value in memory, not a value still in a store buffer.
    """

    name: str
    index: Expr | None = None

    def __post_init__(self) -> None:
        if type(self.name) is not str or not self.name:
            _name_error(self, "name")
        if self.index is not None and not isinstance(self.index, _EXPR_TYPES):
            try:
                object.__setattr__(self, "index", as_expr(self.index))
            except _check.Mismatch as m:
                raise _check.fail(self, "index", m) from None


@dataclass(frozen=True, slots=True)
class At:
    """True when ``process`` is about to execute the step labelled ``label``.

    >>> show(and_(At("C", "block"), not_(Pending("irq"))))
    'C@block && !pending(irq)'
    """

    process: str
    label: str

    def __post_init__(self) -> None:
        if type(self.process) is not str or not self.process:
            _name_error(self, "process")
        if type(self.label) is not str or not self.label:
            _name_error(self, "label")


@dataclass(frozen=True, slots=True)
class Param:
    """A protocol parameter (ring capacity, request count …).

    >>> show(lt(L("n"), Param("requests")))
    'n < REQUESTS'
    """

    name: str

    def __post_init__(self) -> None:
        if type(self.name) is not str or not self.name:
            _name_error(self, "name")


@dataclass(frozen=True, slots=True)
class Pending:
    """True when the doorbell ``name`` has a latched, undelivered interrupt.

    >>> show(Pending("irq"))
    'pending(irq)'
    """

    name: str

    def __post_init__(self) -> None:
        if type(self.name) is not str or not self.name:
            _name_error(self, "name")


@dataclass(frozen=True, slots=True)
class Var:
    """A flat state variable of a compiled system (engines only; not for spec authors)."""

    name: str


@dataclass(frozen=True, slots=True)
class Select:
    """Element ``index`` of the array-valued flat variable ``array`` (engines only)."""

    array: str
    index: Expr


@dataclass(frozen=True, slots=True)
class Update:
    """The array ``array`` with element ``index`` replaced by ``value`` (engines only)."""

    array: str
    index: Expr
    value: Expr


@dataclass(frozen=True, slots=True)
class Bin:
    op: BinOp
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Not:
    arg: Expr


@dataclass(frozen=True, slots=True)
class Ite:
    cond: Expr
    then: Expr
    other: Expr


Expr: TypeAlias = (
    Const | L | LocalOf | G | Mem | At | Param | Pending | Var | Select | Update | Bin | Not | Ite
)
ExprLike: TypeAlias = "Expr | int | bool"

TRUE = Const(True)
FALSE = Const(False)
ZERO = Const(0)


_EXPR_TYPES = (Const, L, LocalOf, G, Mem, At, Param, Pending, Var, Select, Update, Bin, Not, Ite)
EXPR_WHAT = ("an expression (an int, a bool, or a node such as L('r'), G('g'), Mem('x'), "
             "Param('n'), eq(...))")


def _expr_hint(value: object) -> str:
    """What to write instead of ``value`` where an expression belongs."""
    if isinstance(value, str) and value.isidentifier():
        return (f"write L({value!r}) for a local, G({value!r}) for a ghost or "
                f"Mem({value!r}) for shared memory, or a constant such as 1")
    if isinstance(value, float):
        return "expressions are over integers: write an int"
    if isinstance(value, tuple | list):
        return "combine conditions with and_(...) or or_(...)"
    if isinstance(value, type):
        return f"call it: {value.__name__}(...)"
    if callable(value):
        return f"call it: {getattr(value, '__name__', 'f')}(...)"
    return "write a constant such as 1 or build one with L, G, Mem, add, eq, and_ ..."


def _const_hint(value: object) -> str:
    if isinstance(value, float):
        return "expressions are over integers: write an int"
    if isinstance(value, str):
        return "a name is not a constant: write L(name), G(name) or Mem(name)"
    return "write an int such as 1, or True/False"


def _name_error(obj: object, field: str) -> None:
    raise _check.fail(obj, field, _check.Mismatch("a non-empty str (a name)",
                                                  getattr(obj, field),
                                                  "give the name as a string"))


def as_expr(value: object) -> Expr:
    """``value`` as an expression (ints and bools lifted), else :class:`_check.Mismatch`.

    >>> as_expr(3), as_expr(L("t"))
    (Const(value=3), L(name='t'))
    """
    if isinstance(value, _EXPR_TYPES):
        return value
    if isinstance(value, int):
        return Const(value)
    raise _check.Mismatch(EXPR_WHAT, value, _expr_hint(value))


def lift(e: ExprLike) -> Expr:
    """Turn a Python int or bool into a Const; leave expressions alone.

    >>> lift(3), lift(L("t"))
    (Const(value=3), L(name='t'))

    Anything else is a :class:`~intervm.spec.errors.SpecError`.
    """
    if isinstance(e, _EXPR_TYPES):
        return e
    if isinstance(e, int):
        return Const(e)
    m = _check.Mismatch(EXPR_WHAT, e, _expr_hint(e))
    raise SpecError(_check.message("lift(...)", "the value", m, _check.caller_site()))


def _arg(fn: str, args: tuple[object, ...], i: int) -> Expr:
    """Argument ``i`` of the smart constructor ``fn`` as an expression."""
    value = args[i]
    if isinstance(value, _EXPR_TYPES):
        return value
    if isinstance(value, int):
        return Const(value)
    m = _check.Mismatch(EXPR_WHAT, value, _expr_hint(value))
    shown = ", ".join(_check.short(a, 1) for a in args[:4]) + (", ..." if len(args) > 4 else "")
    raise SpecError(_check.message(f"{fn}({shown})", f"argument {i + 1}", m,
                                   _check.caller_site()))


def _bin(fn: str, op: BinOp, a: ExprLike, b: ExprLike, *, swap: bool = False) -> Expr:
    x, y = _arg(fn, (a, b), 0), _arg(fn, (a, b), 1)  # checked in the order written
    return Bin(op, y, x) if swap else Bin(op, x, y)


def add(a: ExprLike, b: ExprLike) -> Expr:
    """``a + b`` on mathematical integers (a store into ``Bits(w)`` wraps).

    >>> show(add(L("t"), 1))
    't + 1'
    """
    return _bin("add", BinOp.ADD, a, b)


def sub(a: ExprLike, b: ExprLike) -> Expr:
    """``a - b`` (may be negative; distances between free-running indices).

    >>> show(sub(L("t"), L("h")))
    't - h'
    """
    return _bin("sub", BinOp.SUB, a, b)


def mul(a: ExprLike, b: ExprLike) -> Expr:
    """``a * b``.

    >>> show(mul(L("n"), 2))
    'n * 2'
    """
    return _bin("mul", BinOp.MUL, a, b)


def mod(a: ExprLike, b: ExprLike) -> Expr:
    """``a mod b`` with a non-negative result for positive ``b`` (Python and SMT agree).

    >>> show(mod(sub(L("t"), 1), 4))
    '(t - 1) % 4'
    """
    return _bin("mod", BinOp.MOD, a, b)


def eq(a: ExprLike, b: ExprLike) -> Expr:
    """``a == b``: true when ``a`` is equal ``b``.

    >>> show(eq(L("f"), 0))
    'f == 0'
    """
    return _bin("eq", BinOp.EQ, a, b)


def ne(a: ExprLike, b: ExprLike) -> Expr:
    """``a != b``: true when ``a`` is different ``b``.

    >>> show(ne(L("f"), 0))
    'f != 0'
    """
    return _bin("ne", BinOp.NE, a, b)


def lt(a: ExprLike, b: ExprLike) -> Expr:
    """``a < b``: true when ``a`` is less than ``b``.

    >>> show(lt(L("f"), 0))
    'f < 0'
    """
    return _bin("lt", BinOp.LT, a, b)


def le(a: ExprLike, b: ExprLike) -> Expr:
    """``a <= b``: true when ``a`` is at most ``b``.

    >>> show(le(L("f"), 0))
    'f <= 0'
    """
    return _bin("le", BinOp.LE, a, b)


def gt(a: ExprLike, b: ExprLike) -> Expr:
    """``a > b``, written as ``b < a``.

    >>> show(gt(L("n"), 0))
    '0 < n'
    """
    return _bin("gt", BinOp.LT, a, b, swap=True)


def ge(a: ExprLike, b: ExprLike) -> Expr:
    """``a >= b``, written as ``b <= a``.

    >>> show(ge(G("consumed"), 1))
    '1 <= consumed'
    """
    return _bin("ge", BinOp.LE, a, b, swap=True)


def implies(a: ExprLike, b: ExprLike) -> Expr:
    """``a -> b``: false only when ``a`` holds and ``b`` does not.

    >>> show(implies(At("C", "block"), eq(Mem("flag"), 1)))
    'C@block -> (flag == 1)'
    """
    return _bin("implies", BinOp.IMPLIES, a, b)


def not_(a: ExprLike) -> Expr:
    """Negation.

    >>> show(not_(Pending("irq")))
    '!pending(irq)'
    """
    return Not(_arg("not_", (a,), 0))


def ite(c: ExprLike, a: ExprLike, b: ExprLike) -> Expr:
    """If-then-else: ``a`` when ``c`` holds, else ``b``.

    >>> show(ite(ne(L("d"), 1), 1, G("bad")))
    '(d != 1 ? 1 : bad)'
    """
    args = (c, a, b)
    return Ite(_arg("ite", args, 0), _arg("ite", args, 1), _arg("ite", args, 2))


def and_(*args: ExprLike) -> Expr:
    """Conjunction; ``and_()`` is TRUE and ``and_(x)`` is ``x`` (mypyvy's smart constructor).

    >>> show(and_(At("P", "done"), At("C", "block"))), and_() == TRUE
    ('P@done && C@block', True)
    """
    parts = [e for i in range(len(args)) if (e := _arg("and_", args, i)) != TRUE]
    return _chain(BinOp.AND, parts) if parts else TRUE


def or_(*args: ExprLike) -> Expr:
    """Disjunction; ``or_()`` is FALSE and ``or_(x)`` is ``x``.

    >>> show(or_(At("P", "done"), At("P", "idle"))), or_() == FALSE
    ('P@done || P@idle', True)
    """
    parts = [e for i in range(len(args)) if (e := _arg("or_", args, i)) != FALSE]
    return _chain(BinOp.OR, parts) if parts else FALSE


CHAIN = 32  # longer and_/or_ argument lists are built as balanced trees


def _chain(op: BinOp, parts: list[Expr]) -> Expr:
    """``parts`` joined by ``op``: left-nested (``(a && b) && c``) up to ``CHAIN``
    parts; longer lists as a balanced tree, so that the depth grows with the
    logarithm of the length (``and_(*10_000 conditions)`` is 16 levels deep, not
    10,000 nested nodes that every recursive walk would have to descend).
    """
    if len(parts) <= CHAIN:
        out = parts[0]
        for p in parts[1:]:
            out = Bin(op, out, p)
        return out
    half = len(parts) // 2
    return Bin(op, _chain(op, parts[:half]), _chain(op, parts[half:]))


def children(e: Expr) -> tuple[Expr, ...]:
    """The direct sub-expressions of ``e``."""
    match e:
        case Const() | L() | LocalOf() | G() | At() | Param() | Pending() | Var():
            return ()
        case Mem(_, index):
            return () if index is None else (index,)
        case Select(_, index):
            return (index,)
        case Update(_, index, value):
            return (index, value)
        case Bin(_, a, b):
            return (a, b)
        case Not(a):
            return (a,)
        case Ite(c, a, b):
            return (c, a, b)
        case _:
            assert_never(e)


def walk(e: Expr) -> list[Expr]:
    """All nodes of ``e``, pre-order."""
    out: list[Expr] = []
    stack = [e]
    while stack:
        n = stack.pop()
        out.append(n)
        stack.extend(reversed(children(n)))
    return out


def measure(e: Expr) -> tuple[int, int]:
    """``(depth, size)`` of ``e`` written out as a tree (a leaf is ``(1, 1)``), in time
    linear in the number of distinct nodes: a node used twice (``e = add(e, e)``) is
    measured once, although it counts twice in the size.

    >>> e = add(L("t"), 1)
    >>> measure(L("t")), measure(e), measure(add(e, e))
    ((1, 1), (2, 3), (3, 7))
    """
    done: dict[int, tuple[int, int]] = {}
    stack: list[tuple[Expr, bool]] = [(e, False)]
    while stack:
        n, ready = stack.pop()
        if id(n) in done:
            continue
        kids = children(n)
        if ready or not kids:
            parts = [done[id(k)] for k in kids]
            done[id(n)] = (1 + max((d for d, _ in parts), default=0),
                           1 + sum(z for _, z in parts))
        else:
            stack.append((n, True))
            stack.extend((k, False) for k in kids if id(k) not in done)
    return done[id(e)]


def depth(e: Expr) -> int:
    """The nesting depth of ``e`` (a leaf is 1), computed without recursion.

    >>> depth(L("t")), depth(add(L("t"), 1)), depth(and_(*[eq(L("t"), i) for i in range(1000)]))
    (1, 2, 38)
    """
    return measure(e)[0]


def show(e: Expr) -> str:
    """Render ``e`` in a C-like syntax, for traces, errors and docs.

    >>> show(ne(sub(Mem("tail"), LocalOf("C", "h")), 0))
    '(tail - C.h) != 0'
    """
    return _show(_arg("show", (e,), 0))


def _show(e: Expr) -> str:
    match e:
        case Const(v):
            if isinstance(v, bool):
                return "true" if v else "false"
            return str(v)
        case L(name):
            return name
        case LocalOf(p, name):
            return f"{p}.{name}"
        case G(name):
            return name
        case Mem(name, index):
            return name if index is None else f"{name}[{_show(index)}]"
        case At(p, label):
            return f"{p}@{label}"
        case Param(name):
            return name.upper()
        case Pending(name):
            return f"pending({name})"
        case Var(name):
            return name
        case Select(a, i):
            return f"{a}[{_show(i)}]"
        case Update(a, i, v):
            return f"{a}{{{_show(i)} := {_show(v)}}}"
        case Bin(op, a, b):
            return f"{_atom(a)} {op.value} {_atom(b)}"
        case Not(a):
            return f"!{_atom(a)}"
        case Ite(c, a, b):
            return f"({_show(c)} ? {_show(a)} : {_show(b)})"
        case _:
            assert_never(e)


def _atom(e: Expr) -> str:
    s = _show(e)
    return f"({s})" if isinstance(e, Bin) else s
