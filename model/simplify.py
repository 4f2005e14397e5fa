"""Constant folding and boolean simplification of compiled expressions.

Keeps the transition relation free of terms like ``0 % 2`` or ``ite(true, a, b)``,
which cost the solvers (Spacer in particular) far more than they are worth.

>>> from intervm.spec.expr import Var, add, mod, ite, and_, eq, show
>>> show(fold(mod(add(1, 2), 2)))
'1'
>>> show(fold(ite(eq(1, 1), Var("x"), Var("y"))))
'x'
"""

from __future__ import annotations

from typing import assert_never

from intervm.model.evaluate import _ARITH
from intervm.spec.expr import (
    FALSE,
    TRUE,
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


def fold(e: Expr) -> Expr:
    """``e`` with constant sub-terms evaluated and trivial connectives removed."""
    match e:
        case Const() | Var() | L() | LocalOf() | G() | At() | Param() | Pending():
            return e
        case Mem(name, index):
            return e if index is None else Mem(name, fold(index))
        case Select(a, i):
            return Select(a, fold(i))
        case Update(a, i, v):
            return Update(a, fold(i), fold(v))
        case Not(a):
            x = fold(a)
            if isinstance(x, Const):
                return Const(not x.value)
            if isinstance(x, Not):
                return x.arg
            return Not(x)
        case Ite(c, a, b):
            fc, fa, fb = fold(c), fold(a), fold(b)
            if isinstance(fc, Const):
                return fa if fc.value else fb
            if fa == fb:
                return fa
            return Ite(fc, fa, fb)
        case Bin(op, a, b):
            return _fold_bin(op, fold(a), fold(b))
        case _:
            assert_never(e)


def _fold_bin(op: BinOp, a: Expr, b: Expr) -> Expr:
    if isinstance(a, Const) and isinstance(b, Const):
        v = _ARITH[op](a.value, b.value)
        return Const(v if isinstance(v, bool) else int(v))
    match op:
        case BinOp.AND:
            if a == FALSE or b == FALSE:
                return FALSE
            if a == TRUE:
                return b
            if b == TRUE:
                return a
        case BinOp.OR:
            if a == TRUE or b == TRUE:
                return TRUE
            if a == FALSE:
                return b
            if b == FALSE:
                return a
        case BinOp.ADD:
            if a == Const(0):
                return b
            if b == Const(0):
                return a
        case BinOp.SUB:
            if b == Const(0):
                return a
        case BinOp.EQ:
            if a == b:
                return TRUE
        case _:
            pass
    return Bin(op, a, b)
