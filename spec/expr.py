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


@dataclass(frozen=True, slots=True)
class L:
    """A local variable of the process whose step this expression belongs to.

    >>> show(add(L("t"), 1))
    't + 1'
    """

    name: str


@dataclass(frozen=True, slots=True)
class LocalOf:
    """A local variable of a named process (for properties).

    >>> show(eq(LocalOf("C", "h"), 2))
    'C.h == 2'
    """

    process: str
    name: str


@dataclass(frozen=True, slots=True)
class G:
    """A ghost variable: specification-only state, updated instantly, never buffered.

    >>> show(le(G("notifies"), add(G("sleeps"), 1)))
    'notifies <= (sleeps + 1)'
    """

    name: str


@dataclass(frozen=True, slots=True)
class Mem:
    """The value of a shared variable in memory (properties only; steps use Load).

    >>> show(Mem("tail")), show(Mem("slots", L("h")))
    ('tail', 'slots[h]')

    Under TSO/PSO this is the value in memory, not a value still in a store buffer.
    """

    name: str
    index: Expr | None = None


@dataclass(frozen=True, slots=True)
class At:
    """True when ``process`` is about to execute the step labelled ``label``.

    >>> show(and_(At("C", "block"), not_(Pending("irq"))))
    'C@block && !pending(irq)'
    """

    process: str
    label: str


@dataclass(frozen=True, slots=True)
class Param:
    """A protocol parameter (ring capacity, request count …).

    >>> show(lt(L("n"), Param("requests")))
    'n < REQUESTS'
    """

    name: str


@dataclass(frozen=True, slots=True)
class Pending:
    """True when the doorbell ``name`` has a latched, undelivered interrupt.

    >>> show(Pending("irq"))
    'pending(irq)'
    """

    name: str


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


def lift(e: ExprLike) -> Expr:
    """Turn a Python int or bool into a Const; leave expressions alone.

    >>> lift(3), lift(L("t"))
    (Const(value=3), L(name='t'))
    """
    if isinstance(e, bool | int):
        return Const(e)
    return e


def _bin(op: BinOp, a: ExprLike, b: ExprLike) -> Expr:
    return Bin(op, lift(a), lift(b))


def add(a: ExprLike, b: ExprLike) -> Expr:
    """``a + b`` on mathematical integers (a store into ``Bits(w)`` wraps).

    >>> show(add(L("t"), 1))
    't + 1'
    """
    return _bin(BinOp.ADD, a, b)


def sub(a: ExprLike, b: ExprLike) -> Expr:
    """``a - b`` (may be negative; distances between free-running indices).

    >>> show(sub(L("t"), L("h")))
    't - h'
    """
    return _bin(BinOp.SUB, a, b)


def mul(a: ExprLike, b: ExprLike) -> Expr:
    """``a * b``.

    >>> show(mul(L("n"), 2))
    'n * 2'
    """
    return _bin(BinOp.MUL, a, b)


def mod(a: ExprLike, b: ExprLike) -> Expr:
    """``a mod b`` with a non-negative result for positive ``b`` (Python and SMT agree).

    >>> show(mod(sub(L("t"), 1), 4))
    '(t - 1) % 4'
    """
    return _bin(BinOp.MOD, a, b)


def eq(a: ExprLike, b: ExprLike) -> Expr:
    """``a == b``: true when ``a`` is equal ``b``.

    >>> show(eq(L("f"), 0))
    'f == 0'
    """
    return _bin(BinOp.EQ, a, b)


def ne(a: ExprLike, b: ExprLike) -> Expr:
    """``a != b``: true when ``a`` is different ``b``.

    >>> show(ne(L("f"), 0))
    'f != 0'
    """
    return _bin(BinOp.NE, a, b)


def lt(a: ExprLike, b: ExprLike) -> Expr:
    """``a < b``: true when ``a`` is less than ``b``.

    >>> show(lt(L("f"), 0))
    'f < 0'
    """
    return _bin(BinOp.LT, a, b)


def le(a: ExprLike, b: ExprLike) -> Expr:
    """``a <= b``: true when ``a`` is at most ``b``.

    >>> show(le(L("f"), 0))
    'f <= 0'
    """
    return _bin(BinOp.LE, a, b)


def gt(a: ExprLike, b: ExprLike) -> Expr:
    """``a > b``, written as ``b < a``.

    >>> show(gt(L("n"), 0))
    '0 < n'
    """
    return _bin(BinOp.LT, b, a)


def ge(a: ExprLike, b: ExprLike) -> Expr:
    """``a >= b``, written as ``b <= a``.

    >>> show(ge(G("consumed"), 1))
    '1 <= consumed'
    """
    return _bin(BinOp.LE, b, a)


def implies(a: ExprLike, b: ExprLike) -> Expr:
    """``a -> b``: false only when ``a`` holds and ``b`` does not.

    >>> show(implies(At("C", "block"), eq(Mem("flag"), 1)))
    'C@block -> (flag == 1)'
    """
    return _bin(BinOp.IMPLIES, a, b)


def not_(a: ExprLike) -> Expr:
    """Negation.

    >>> show(not_(Pending("irq")))
    '!pending(irq)'
    """
    return Not(lift(a))


def ite(c: ExprLike, a: ExprLike, b: ExprLike) -> Expr:
    """If-then-else: ``a`` when ``c`` holds, else ``b``.

    >>> show(ite(ne(L("d"), 1), 1, G("bad")))
    '(d != 1 ? 1 : bad)'
    """
    return Ite(lift(c), lift(a), lift(b))


def and_(*args: ExprLike) -> Expr:
    """Conjunction; ``and_()`` is TRUE and ``and_(x)`` is ``x`` (mypyvy's smart constructor).

    >>> show(and_(At("P", "done"), At("C", "block"))), and_() == TRUE
    ('P@done && C@block', True)
    """
    parts = [lift(a) for a in args if lift(a) != TRUE]
    if not parts:
        return TRUE
    out = parts[0]
    for p in parts[1:]:
        out = Bin(BinOp.AND, out, p)
    return out


def or_(*args: ExprLike) -> Expr:
    """Disjunction; ``or_()`` is FALSE and ``or_(x)`` is ``x``.

    >>> show(or_(At("P", "done"), At("P", "idle"))), or_() == FALSE
    ('P@done || P@idle', True)
    """
    parts = [lift(a) for a in args if lift(a) != FALSE]
    if not parts:
        return FALSE
    out = parts[0]
    for p in parts[1:]:
        out = Bin(BinOp.OR, out, p)
    return out


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


def show(e: Expr) -> str:
    """Render ``e`` in a C-like syntax, for traces, errors and docs.

    >>> show(ne(sub(Mem("tail"), LocalOf("C", "h")), 0))
    '(tail - C.h) != 0'
    """
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
            return name if index is None else f"{name}[{show(index)}]"
        case At(p, label):
            return f"{p}@{label}"
        case Param(name):
            return name.upper()
        case Pending(name):
            return f"pending({name})"
        case Var(name):
            return name
        case Select(a, i):
            return f"{a}[{show(i)}]"
        case Update(a, i, v):
            return f"{a}{{{show(i)} := {show(v)}}}"
        case Bin(op, a, b):
            return f"{_atom(a)} {op.value} {_atom(b)}"
        case Not(a):
            return f"!{_atom(a)}"
        case Ite(c, a, b):
            return f"({show(c)} ? {show(a)} : {show(b)})"
        case _:
            assert_never(e)


def _atom(e: Expr) -> str:
    s = show(e)
    return f"({s})" if isinstance(e, Bin) else s
