"""Declarations of the spec language: variables, steps, processes, properties, the Spec.

A protocol is a :class:`Spec`: shared variables (bounded integers or ring arrays),
ghost variables, doorbells (hypervisor interrupts), processes made of labelled atomic
steps at the level of single shared-memory accesses, and named properties.

>>> from intervm.spec.syntax import *
>>> from intervm.spec.expr import L, G, add, eq
>>> p = Process("P", locals=(Local("t", NAT),), steps=(
...     Step("inc", Assign((("t", add(L("t"), 1)),))),
...     Step("pub", Store("x", L("t")), ghost=(("sent", L("t")),)),
...     Step("stop", Halt()),
... ))
>>> spec = Spec("toy", shared=(Shared("x", NAT),), ghosts=(Ghost("sent", NAT),),
...             processes=(p,), properties=(Sometimes("sent", eq(G("sent"), 1)),))
>>> spec.process("P").successor("inc")
'pub'

Each step declares what it writes (its op's destination and its ghost updates);
the frame, "everything else is unchanged", is derived by the compiler, never written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias

from intervm.spec.expr import Expr, ExprLike, lift

# ---------------------------------------------------------------- domains


@dataclass(frozen=True, slots=True)
class Bits:
    """Unsigned integers of ``width`` bits; a store wraps modulo 2**width."""

    width: int

    @property
    def modulus(self) -> int:
        return 1 << self.width


@dataclass(frozen=True, slots=True)
class Nat:
    """Unbounded natural numbers (free-running counters); finite per instance."""


Domain: TypeAlias = Bits | Nat
NAT = Nat()
BIT = Bits(1)


# ---------------------------------------------------------------- declarations


@dataclass(frozen=True, slots=True)
class Shared:
    """A shared-memory variable; with ``length`` it is a ring array.

    ``length`` is an int or the name of a parameter. Arrays are rings: an index is
    taken modulo the length. When that parameter is left unbounded (symbolic), the
    array is unbounded too and indices are used as they are (free-running slots).
    """

    name: str
    domain: Domain
    init: int = 0
    length: int | str | None = None
    doc: str = ""


@dataclass(frozen=True, slots=True)
class Ghost:
    """Specification-only state, updated with the step that writes it, never buffered."""

    name: str
    domain: Domain
    init: int = 0
    doc: str = ""


@dataclass(frozen=True, slots=True)
class Local:
    """A process-local variable (a register)."""

    name: str
    domain: Domain
    init: int = 0


@dataclass(frozen=True, slots=True)
class Doorbell:
    """A hypervisor interrupt line between VMs.

    Latched (a PENDING bit, an eventfd counter): a notification is kept until the
    receiver waits. Not latched (an edge): a notification is lost unless the
    receiver is already blocked in :class:`Wait` on it.
    """

    name: str
    latched: bool = True
    doc: str = ""


@dataclass(frozen=True, slots=True)
class ParamDecl:
    """A protocol parameter: ``default`` for finite checks; ``symbolic_ok`` when an
    unbounded proof may leave it symbolic (any value ``>= minimum``)."""

    name: str
    default: int
    minimum: int = 0
    symbolic_ok: bool = False
    doc: str = ""


# ---------------------------------------------------------------- step operations


@dataclass(frozen=True, slots=True)
class Load:
    """``dst := var[index]``: one load from shared memory."""

    dst: str
    var: str
    index: Expr | None = None

    def __post_init__(self) -> None:
        if self.index is not None:
            object.__setattr__(self, "index", lift(self.index))


@dataclass(frozen=True, slots=True)
class Store:
    """``var[index] := value``: one store to shared memory (``value`` over locals)."""

    var: str
    value: Expr
    index: Expr | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", lift(self.value))
        if self.index is not None:
            object.__setattr__(self, "index", lift(self.index))


@dataclass(frozen=True, slots=True)
class Fence:
    """A fence: ``full`` orders earlier stores before later loads (mfence, smp_mb);
    ``store`` only orders stores among themselves (sfence/smp_wmb)."""

    kind: str = "full"


@dataclass(frozen=True, slots=True)
class Rmw:
    """Atomic read-modify-write: ``dst := var[index]; var[index] := value``.

    In ``value``, ``L(dst)`` denotes the old value. A locked RMW is a full fence.
    """

    dst: str
    var: str
    value: Expr
    index: Expr | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", lift(self.value))
        if self.index is not None:
            object.__setattr__(self, "index", lift(self.index))


@dataclass(frozen=True, slots=True)
class Assign:
    """Local computation: simultaneous assignments to locals."""

    assigns: tuple[tuple[str, Expr], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "assigns", tuple((n, lift(v)) for n, v in self.assigns))


@dataclass(frozen=True, slots=True)
class Branch:
    """``if cond goto target`` (else fall through); ``cond`` over locals only."""

    cond: Expr
    target: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "cond", lift(self.cond))


@dataclass(frozen=True, slots=True)
class Choose:
    """Nondeterministic choice among guarded targets (environment decisions)."""

    options: tuple[tuple[Expr, str], ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", tuple((lift(c), t) for c, t in self.options))


@dataclass(frozen=True, slots=True)
class Await:
    """Blocks until ``cond`` (over locals, ghosts, params) holds."""

    cond: Expr

    def __post_init__(self) -> None:
        object.__setattr__(self, "cond", lift(self.cond))


@dataclass(frozen=True, slots=True)
class Notify:
    """Raise the doorbell (a hypercall / eventfd write: serializing)."""

    doorbell: str


@dataclass(frozen=True, slots=True)
class Wait:
    """Block until the doorbell is pending, then consume it (serializing)."""

    doorbell: str


@dataclass(frozen=True, slots=True)
class Halt:
    """The process stops; no step follows."""


Op: TypeAlias = Load | Store | Fence | Rmw | Assign | Branch | Choose | Await | Notify | Wait | Halt


@dataclass(frozen=True, slots=True)
class Step:
    """One atomic step: ``label: op`` then ``then`` (default: the next step).

    ``set`` assigns locals after the op and ``branch = (cond, target)`` jumps to
    ``target`` when ``cond`` holds after the op: registers are private, so bundling
    local computation with the one shared access loses no interleaving.
    ``ghost`` updates are evaluated after the op and ``set`` (so a Load's value is
    visible). ``progress`` marks the steps that count as progress for
    ``Eventually`` properties. ``doc`` says in words what the step does.
    """

    label: str
    op: Op
    then: str | None = None
    ghost: tuple[tuple[str, Expr], ...] = ()
    progress: bool = False
    doc: str = ""
    set: tuple[tuple[str, Expr], ...] = ()
    branch: tuple[Expr, str] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "ghost", tuple((n, lift(v)) for n, v in self.ghost))
        object.__setattr__(self, "set", tuple((n, lift(v)) for n, v in self.set))
        if self.branch is not None:
            object.__setattr__(self, "branch", (lift(self.branch[0]), self.branch[1]))


@dataclass(frozen=True, slots=True)
class Process:
    """A VM's routine: locals and a list of labelled steps, starting at the first."""

    name: str
    locals: tuple[Local, ...] = ()
    steps: tuple[Step, ...] = ()
    fair: bool = True
    doc: str = ""

    def step(self, label: str) -> Step:
        for s in self.steps:
            if s.label == label:
                return s
        raise KeyError(label)

    def successor(self, label: str) -> str | None:
        """The label control reaches after ``label`` when it falls through."""
        labels = [s.label for s in self.steps]
        i = labels.index(label)
        s = self.steps[i]
        if s.then is not None:
            return s.then
        return labels[i + 1] if i + 1 < len(labels) else None

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(s.label for s in self.steps)


# ---------------------------------------------------------------- properties


@dataclass(frozen=True, slots=True)
class Always:
    """Invariant: ``pred`` holds in every reachable state."""

    name: str
    pred: Expr
    doc: str = ""


@dataclass(frozen=True, slots=True)
class Sometimes:
    """Reachability: some reachable state satisfies ``pred`` (guards against vacuity)."""

    name: str
    pred: Expr
    doc: str = ""


@dataclass(frozen=True, slots=True)
class Eventually:
    """Response under weak fairness: no fair infinite run stays in ``pending`` states
    forever without taking a ``progress`` step (deadlocks count as such runs)."""

    name: str
    pending: Expr
    doc: str = ""


Property: TypeAlias = Always | Sometimes | Eventually


@dataclass(frozen=True, slots=True)
class Spec:
    """A protocol instance declaration (one variant); see :mod:`intervm.spec.check`."""

    name: str
    shared: tuple[Shared, ...] = ()
    ghosts: tuple[Ghost, ...] = ()
    doorbells: tuple[Doorbell, ...] = ()
    processes: tuple[Process, ...] = ()
    properties: tuple[Property, ...] = ()
    params: tuple[ParamDecl, ...] = ()
    doc: str = ""
    source: str = field(default="", compare=False)

    def process(self, name: str) -> Process:
        for p in self.processes:
            if p.name == name:
                return p
        raise KeyError(name)

    def shared_var(self, name: str) -> Shared:
        for v in self.shared:
            if v.name == name:
                return v
        raise KeyError(name)

    def prop(self, name: str) -> Property:
        for p in self.properties:
            if p.name == name:
                return p
        raise KeyError(name)

    def param(self, name: str) -> ParamDecl:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)


def assigns(*pairs: tuple[str, ExprLike]) -> tuple[tuple[str, Expr], ...]:
    """Build an assignment tuple from ``(name, value)`` pairs, lifting Python ints."""
    return tuple((n, lift(v)) for n, v in pairs)
