"""The flat transition system every engine consumes: variables, guarded commands, properties.

A :class:`System` is what :func:`intervm.model.compile.compile_spec` makes of a spec,
its parameters and a memory model. Engines never see the spec's processes; they see
flat variables and commands whose frame ("everything else is unchanged") is implied
by the variables a command does not update.

>>> from intervm.spec.protocols import get_protocol
>>> from intervm.model.compile import compile_spec
>>> proto = get_protocol("coalescing")
>>> sys = compile_spec(proto.spec("correct"), {"requests": 1, "capacity": 1}, "sc")
>>> sys.command("C.recheck").process
'C'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from intervm.model.memory.buffer import BufferLayout
from intervm.spec.expr import Expr


@dataclass(frozen=True, slots=True)
class StateVar:
    """One flat state variable.

    ``is_array`` with ``length=None`` is an unbounded array (symbolic ring capacity).
    ``rigid`` variables are symbolic parameters: constant along a run, any value
    ``>= minimum`` initially. ``length_param`` names the parameter an array's length
    comes from (None: a fixed length), for messages about instance size.
    """

    name: str
    role: str  # pc | shared | local | ghost | pending | injected | sb | param | aux
    init: int = 0
    is_array: bool = False
    length: int | None = None
    modulus: int | None = None
    rigid: bool = False
    minimum: int = 0
    owner: str | None = None
    length_param: str | None = None


@dataclass(frozen=True, slots=True)
class Access:
    """The one shared access a command performs, for matching against recorded events.

    ``kind`` is load | store | rmw | fence | notify | wait. ``var`` is the shared
    variable (or doorbell) touched; ``index`` the ring-reduced index expression
    (arrays); ``dst`` the flat local a load or rmw writes; ``value`` the value loaded
    (load: memory or the newest own buffered store), stored (store) or written (rmw:
    the new value, ``dst`` holds the old one); ``fence`` is full | store. All
    expressions are over the state *before* the command. ``observed`` is False when
    the variable was sliced away (the access touches no state).
    """

    kind: str
    var: str | None = None
    index: Expr | None = None
    dst: str | None = None
    value: Expr | None = None
    fence: str | None = None
    observed: bool = True


@dataclass(frozen=True, slots=True)
class Command:
    """A guarded command: when ``guard`` holds, all ``updates`` happen at once.

    ``access`` says which shared access the command performs (None: local steps,
    store-buffer flushes); engines ignore it, conformance checking matches on it.
    """

    name: str
    process: str
    group: str | None  # weak-fairness group, None for unfair commands
    guard: Expr
    updates: tuple[tuple[str, Expr], ...]
    kind: str  # step | flush | stutter
    label: str | None = None
    text: str = ""
    progress: bool = False
    access: Access | None = None


@dataclass(frozen=True, slots=True)
class CAlways:
    name: str
    pred: Expr


@dataclass(frozen=True, slots=True)
class CSometimes:
    name: str
    pred: Expr


@dataclass(frozen=True, slots=True)
class CEventually:
    name: str
    pending: Expr


CProperty: TypeAlias = CAlways | CSometimes | CEventually


BufferInfo: TypeAlias = BufferLayout  # how one process's store buffer is laid out


@dataclass(frozen=True, slots=True)
class System:
    """A compiled instance: spec × parameters × memory model."""

    name: str
    memory_model: str
    params: tuple[tuple[str, int | None], ...]
    vars: tuple[StateVar, ...]
    commands: tuple[Command, ...]
    init_constraint: Expr
    properties: tuple[CProperty, ...]
    processes: tuple[str, ...]
    labels: tuple[tuple[str, tuple[str, ...]], ...]
    groups: tuple[str, ...]
    shared: tuple[str, ...] = ()  # shared variable names; store-buffer var ids are 1-based
    buffers: tuple[BufferInfo, ...] = ()
    variant: str = ""

    def var(self, name: str) -> StateVar:
        for v in self.vars:
            if v.name == name:
                return v
        raise KeyError(name)

    def command(self, name: str) -> Command:
        for c in self.commands:
            if c.name == name:
                return c
        raise KeyError(name)

    def prop(self, name: str) -> CProperty:
        for p in self.properties:
            if p.name == name:
                return p
        raise KeyError(name)

    def label_names(self, process: str) -> tuple[str, ...]:
        return dict(self.labels)[process]

    @property
    def is_finite(self) -> bool:
        """True when no parameter is symbolic (every engine applies)."""
        return not any(v.rigid for v in self.vars)

    @property
    def param_text(self) -> str:
        return ", ".join(f"{k}={'∞' if v is None else v}" for k, v in self.params)


def safety_target(system: System, prop: str) -> tuple[Expr, bool]:
    """(predicate, negate) for a safety query: an ``Always`` must keep ``pred``; a
    ``Sometimes`` is checked as ``Always(not pred)`` (negate=True). Liveness raises."""
    from intervm.spec.errors import EngineError

    match system.prop(prop):
        case CAlways(_, pred):
            return pred, False
        case CSometimes(_, pred):
            return pred, True
        case CEventually():
            raise EngineError(f"property {prop!r} is a liveness property; use the explicit "
                              "engine, lasso BMC or liveness-to-safety (engine 'l2s')")
