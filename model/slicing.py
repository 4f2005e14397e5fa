"""Cone-of-influence slicing: drop the variables a safety property cannot observe.

The kept set is the least set containing the property's variables and closed under
"a command that writes a kept variable needs its guard's and that update's
variables". Commands that write no kept variable are dropped: they only change
state the property never sees, so every run of the slice is the projection of a run
of the whole system, and back (exact for invariants and reachability; not used for
liveness, where dropped commands still matter to fairness).

>>> from intervm.spec.protocols import get_protocol
>>> from intervm.model.compile import compile_spec
>>> sys = compile_spec(get_protocol("coalescing").spec("correct"), {}, "sc")
>>> small = slice_for(sys, "no_lost_wakeup")
>>> "slots" in {v.name for v in sys.vars}, "slots" in {v.name for v in small.vars}
(True, False)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from intervm.model.compile import compile_spec
from intervm.model.system import CAlways, CEventually, Command, CSometimes, System
from intervm.spec.errors import EngineError
from intervm.spec.expr import Expr, Select, Update, Var, walk
from intervm.spec.syntax import Spec


def expr_vars(e: Expr) -> set[str]:
    out: set[str] = set()
    for n in walk(e):
        match n:
            case Var(name):
                out.add(name)
            case Select(a, _) | Update(a, _, _):
                out.add(a)
            case _:
                pass
    return out


def slice_for(system: System, prop: str) -> System:
    """The cone of influence of safety property ``prop``."""
    p = system.prop(prop)
    match p:
        case CAlways(_, e) | CSometimes(_, e):
            keep = expr_vars(e)
        case CEventually():
            raise EngineError(f"property {prop!r} is a liveness property; slicing is for "
                              "safety properties only")
    keep |= expr_vars(system.init_constraint)
    keep |= {v.name for v in system.vars if v.rigid}
    changed = True
    while changed:
        changed = False
        for c in system.commands:
            writes = [(v, e) for v, e in c.updates if v in keep]
            if not writes:
                continue
            need = expr_vars(c.guard)
            for _, e in writes:
                need |= expr_vars(e)
            if not need <= keep:
                keep |= need
                changed = True
    commands: list[Command] = []
    for c in system.commands:
        ups = tuple((v, e) for v, e in c.updates if v in keep)
        if ups:
            commands.append(replace(c, updates=ups))
    return replace(
        system,
        vars=tuple(v for v in system.vars if v.name in keep),
        commands=tuple(commands),
        properties=(p,),
    )


def compile_sliced(
    spec: Spec, params: Mapping[str, int | None], memory_model: str, prop: str,
    buffer: int = 2, exact_buffer: bool = False,
) -> System:
    """Compile ``spec`` for checking safety property ``prop`` only.

    The cone is computed under sequential consistency; shared variables outside it
    are then dropped *before* the memory model is applied, and the result is sliced
    once more under the model.

    By default a store to a dropped variable takes no store-buffer entry. A
    buffered store to an unobserved variable only adds a flush step that commutes
    with everything the property sees, but it also occupies one of the ``buffer``
    entries: without it the other stores have more room, so the slice has every run
    of the whole system and more (those of a deeper buffer). A proof on it (an
    invariant, an unreachable state) holds for the whole system; a violation or a
    witness found on it may need more entries than ``buffer``. ``exact_buffer``
    keeps such stores as value-less entries (in a process that also stores an
    observed variable), so the buffer fills up, stalls and drains exactly as in the
    whole system; flushing one writes nothing. That slice is exact but harder for
    Spacer, so :class:`~intervm.model.check.Checker` uses it only to confirm a
    violation found on the default one.

    >>> from intervm.spec.protocols import get_protocol
    >>> spec = get_protocol("coalescing").spec("correct")
    >>> cheap = compile_sliced(spec, {}, "tso", "no_lost_wakeup", buffer=1)
    >>> exact = compile_sliced(spec, {}, "tso", "no_lost_wakeup", buffer=1, exact_buffer=True)
    >>> [v.name for v in cheap.vars if v.name.startswith("sb.P")]
    ['sb.P.n', 'sb.P.val0']
    >>> [v.name for v in exact.vars if v.name.startswith("sb.P")]
    ['sb.P.n', 'sb.P.val0', 'sb.P.var0']
    """
    sc = slice_for(compile_spec(spec, params, "sc"), prop)
    kept = frozenset(v.name for v in sc.vars if v.role == "shared")
    full = compile_spec(spec, params, memory_model, buffer, observe=kept,
                        exact_buffer=exact_buffer)
    return slice_for(full, prop)
