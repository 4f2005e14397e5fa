"""Type checks at the public API boundary: every spec constructor checks its arguments.

Private helper of :mod:`intervm.spec.expr`, :mod:`intervm.spec.syntax` and
:mod:`intervm.spec.protocol`. A *kind* is a function that returns the value (maybe
normalized: a list becomes a tuple, an int a ``Const``) or raises :class:`Mismatch`;
:func:`check_fields` runs the kinds of an object's fields and turns a mismatch into
one :class:`~intervm.spec.errors.SpecError` line naming the file and line, the object,
the field, what was given, what is expected and what to write instead.

>>> from intervm.spec.api import Store
>>> Store("flag", "yes")
Traceback (most recent call last):
...
intervm.spec.errors.SpecError: Store(var='flag', value='yes'): value must be an expression (an int, a bool, or a node such as L('r'), G('g'), Mem('x'), Param('n'), eq(...)), got the str 'yes'; write L('yes') for a local, G('yes') for a ghost or Mem('yes') for shared memory, or a constant such as 1
"""

from __future__ import annotations

import dataclasses
import math
import os
import reprlib
import sys
from collections.abc import Callable, Iterable
from typing import Any, TypeAlias

from intervm.spec._site import show_site
from intervm.spec.errors import SpecError


class Mismatch(Exception):
    """A value is not of the expected kind: ``what`` is expected, ``hint`` says what to
    write; ``path`` locates the value inside the field (``[1][0]``)."""

    def __init__(self, what: str, value: object, hint: str = "", path: str = ""):
        super().__init__(what)
        self.what, self.value, self.hint, self.path = what, value, hint, path

    def inside(self, index: object) -> Mismatch:
        self.path = f"[{index!r}]{self.path}"
        return self


Kind: TypeAlias = Callable[[Any], Any]

_REPR = reprlib.Repr()
_REPR.maxstring = 40
_REPR.maxother = 40
_REPR.maxlong = 40


def short(value: object, depth: int = 0) -> str:
    """A bounded rendering of ``value`` for messages (never deep, never long).

    >>> short("x" * 100)[:10], short((1, 2, 3, 4, 5)), short(3.5)
    ("'xxxxxxxxx", '(1, 2, 3, ...)', '3.5')
    """
    if value is None or isinstance(value, bool | int | float | str | bytes):
        return _REPR.repr(value)
    if (shown := _expression(value)) is not None:
        return shown
    if isinstance(value, tuple | list):
        if depth >= 2:
            return "(...)" if isinstance(value, tuple) else "[...]"
        items = ", ".join(short(v, depth + 1) for v in value[:3])
        more = ", ..." if len(value) > 3 else ("," if len(value) == 1 and
                                               isinstance(value, tuple) else "")
        return f"({items}{more})" if isinstance(value, tuple) else f"[{items}{more}]"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        cls = type(value).__name__
        if depth >= 2:
            return f"{cls}(...)" if dataclasses.fields(value) else f"{cls}()"
        args = [short(getattr(value, f.name), depth + 1)
                for f in dataclasses.fields(value) if f.name != "where"]
        return f"{cls}({', '.join(args)})"
    if isinstance(value, type):
        return value.__name__
    if callable(value):
        return getattr(value, "__qualname__", type(value).__name__)
    try:
        return _REPR.repr(value)
    except Exception:  # a user object whose repr raises
        return f"<{type(value).__name__}>"


def _expression(value: object) -> str | None:
    """``value`` as spec source text (``eq(...)`` is ``x == 1``) when it is a shallow
    expression, else None."""
    from intervm.spec import expr

    if not isinstance(value, expr._EXPR_TYPES) or expr.measure(value)[1] > 200:
        return None
    text = expr.show(value)
    return text if len(text) <= 40 else text[:37] + "..."


def got(value: object) -> str:
    """``the str 'yes'``: what was given, with its type.

    >>> got("yes"), got(None), got(int)
    ("the str 'yes'", 'None', 'the class int')
    """
    if value is None:
        return "None"
    if isinstance(value, type):
        return f"the class {value.__name__}"
    if (shown := _expression(value)) is not None:
        return f"the expression {shown}"
    return f"the {type(value).__name__} {short(value)}"


def describe(obj: object, bad: str) -> str:
    """``Store(var='flag', value='yes')``: ``obj`` with the fields that differ from
    their defaults (and always ``bad``), each rendered briefly."""
    parts = []
    for f in dataclasses.fields(obj):  # type: ignore[arg-type]
        if f.name in ("where", "source") and f.name != bad:
            continue
        value = getattr(obj, f.name, None)
        default = f.default
        if f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        if f.name != bad and default is not dataclasses.MISSING:
            try:
                if value is default or bool(value == default):
                    continue
            except Exception:  # a user value whose comparison raises
                pass
        parts.append(f"{f.name}={short(value, 1)}")
    if len(", ".join(parts)) > 100:  # a big object: its first field and the bad one
        bad_part = next(p for p in parts if p.startswith(f"{bad}="))
        parts = [parts[0], "...", bad_part] if parts[0] != bad_part else [bad_part, "..."]
    return f"{type(obj).__name__}({', '.join(parts)})"


_HERE = os.path.dirname(os.path.abspath(__file__))
_LIBRARY = frozenset(os.path.join(_HERE, n) for n in
                     ("_check.py", "_site.py", "expr.py", "syntax.py", "protocol.py"))


def caller_site() -> str:
    """``file:line`` of the first caller outside the spec constructors ("" at a prompt)."""
    f = sys._getframe(1)
    while f is not None and (f.f_code.co_filename == "<string>"
                             or os.path.abspath(f.f_code.co_filename) in _LIBRARY):
        f = f.f_back  # type: ignore[assignment]
    if f is None or f.f_code.co_filename.startswith("<"):
        return ""
    return f"{f.f_code.co_filename}:{f.f_lineno}"


def message(subject: str, field: str, m: Mismatch, site: str) -> str:
    at = f"{show_site(site)}: " if site else ""
    hint = f"; {m.hint}" if m.hint else ""
    return f"{at}{subject}: {field}{m.path} must be {m.what}, got {got(m.value)}{hint}"


def fail(obj: object, field: str, m: Mismatch) -> SpecError:
    """The error for field ``field`` of ``obj`` (a dataclass being constructed)."""
    where = getattr(obj, "where", "")
    site = where if isinstance(where, str) and where else caller_site()
    return SpecError(message(describe(obj, field), field, m, site))


def check_fields(obj: object, kinds: tuple[tuple[str, Kind], ...]) -> None:
    """Check (and normalize in place) the fields of the frozen dataclass ``obj``."""
    for name, kind in kinds:
        value = getattr(obj, name)
        try:
            new = kind(value)
        except Mismatch as m:
            raise fail(obj, name, m) from None
        if new is not value:
            object.__setattr__(obj, name, new)


# ---------------------------------------------------------------- kinds


def name(value: object) -> str:
    """A non-empty name (of a variable, a step, a process …)."""
    if type(value) is str and value:
        return value
    hint = "give a non-empty name" if value == "" else "give the name as a string"
    raise Mismatch("a non-empty str (a name)", value, hint)


def text(value: object) -> str:
    """Free text (``doc=``)."""
    if isinstance(value, str):
        return value
    raise Mismatch("a str", value, "give the text as a string")


def integer(value: object) -> int:
    """An int (not a bool, not a float)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    hint = ("write a whole number such as 0" if not isinstance(value, float) else
            f"write the int {int(value)}" if math.isfinite(value) and value == int(value)
            else "write a whole number")
    raise Mismatch("an int", value, hint)


def flag(value: object) -> bool:
    """True or False."""
    if isinstance(value, bool):
        return value
    raise Mismatch("True or False", value, "write True or False")


def int_range(lo: int, hi: int, what: str, hint: str) -> Kind:
    """An int in ``lo..hi``."""

    def kind(value: object) -> int:
        v = integer(value)
        if lo <= v <= hi:
            return v
        raise Mismatch(f"{what} ({lo}..{hi})", v, hint)

    return kind


def one_of(choices: tuple[str, ...], hint: str) -> Kind:
    def kind(value: object) -> str:
        if isinstance(value, str) and value in choices:
            return value
        raise Mismatch(" or ".join(repr(c) for c in choices), value, hint)

    return kind


def instance(types: type | tuple[type, ...], what: str,
             hint: Callable[[object], str] | str = "") -> Kind:
    """An instance of ``types``; ``hint`` may depend on what was given."""

    def kind(value: object) -> object:
        if isinstance(value, types):
            return value
        raise Mismatch(what, value, hint(value) if callable(hint) else hint)

    return kind


def optional(inner: Kind) -> Kind:
    def kind(value: object) -> object:
        return None if value is None else inner(value)

    return kind


def _is_sequence(value: object) -> bool:
    return isinstance(value, tuple | list)


def tuple_of(item: Kind, what: str, example: str) -> Kind:
    """A tuple (or list) of items of kind ``item``; returned as a tuple."""

    def kind(value: object) -> tuple[Any, ...]:
        if not _is_sequence(value):
            hint = (f"wrap it in a tuple: ({example},) (mind the trailing comma)"
                    if not isinstance(value, str | dict | set | frozenset) else
                    f"write a tuple such as ({example},)")
            raise Mismatch(f"a tuple of {what}", value, hint)
        seq: tuple[Any, ...] | list[Any] = value  # type: ignore[assignment]
        out = []
        changed = not isinstance(seq, tuple)
        for i, v in enumerate(seq):
            try:
                new = item(v)
            except Mismatch as m:
                raise m.inside(i) from None
            changed = changed or new is not v
            out.append(new)
        return tuple(out) if changed else seq  # type: ignore[return-value]

    return kind


def pair(first: Kind, second: Kind, what: str, example: str) -> Kind:
    """A 2-tuple (or 2-list) ``(first, second)``; returned as a tuple."""

    def kind(value: object) -> tuple[Any, Any]:
        if not isinstance(value, tuple | list) or len(value) != 2:
            raise Mismatch(f"a pair {what}", value, f"write {example}")
        a: object = value[0]
        b: object = value[1]
        try:
            x = first(a)
        except Mismatch as m:
            raise m.inside(0) from None
        try:
            y = second(b)
        except Mismatch as m:
            raise m.inside(1) from None
        if x is a and y is b and isinstance(value, tuple):
            return value
        return (x, y)

    return kind


def mapping(key: Kind, val: Kind, what: str, example: str) -> Kind:
    """A dict (any mapping) ``{key: val}``; returned as a dict."""

    def kind(value: object) -> dict[Any, Any]:
        items = getattr(value, "items", None)
        if not callable(items) or isinstance(value, type):
            raise Mismatch(f"a dict of {what}", value, f"write {example}")
        out = {}
        for k, v in items():
            try:
                kk = key(k)
            except Mismatch as m:
                raise Mismatch(f"a dict of {what}", value,
                               f"its key {short(k)} is not {m.what}; write {example}") from None
            try:
                out[kk] = val(v)
            except Mismatch as m:
                raise m.inside(k) from None
        return out

    return kind


def name_set(what: str, example: str) -> Kind:
    """A set of names: a set, frozenset, tuple or list of str; returned as a frozenset."""

    def kind(value: object) -> frozenset[str]:
        if (isinstance(value, str | bytes | dict) or not isinstance(value, Iterable)
                or isinstance(value, type)):
            raise Mismatch(f"a set of {what}", value, f"write {example}")
        out = []
        for v in value:
            if not isinstance(v, str) or not v:
                raise Mismatch(f"a set of {what}", value,
                               f"{short(v)} is not a name; write {example}")
            out.append(v)
        return value if isinstance(value, frozenset) else frozenset(out)

    return kind


def function(what: str, hint: str) -> Kind:
    def kind(value: object) -> object:
        if callable(value) and not isinstance(value, type):
            return value
        raise Mismatch(what, value, hint)

    return kind
