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

Declarations, steps, processes, properties and specs remember where they were
written (``where``, ``"file:line"``, not compared and not shown), so that
:func:`intervm.spec.validate.validate` can point at the line of a mistake.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from typing import TypeAlias

from intervm.spec import _check
from intervm.spec._check import check_fields
from intervm.spec._site import creation_site
from intervm.spec.expr import Expr, ExprLike, as_expr, lift

# ---------------------------------------------------------------- domains


@dataclass(frozen=True, slots=True)
class Bits:
    """Unsigned integers of ``width`` bits; a store wraps modulo 2**width.

    >>> Bits(2).modulus, BIT == Bits(1)
    (4, True)

    A constant that does not fit (a store of 4 into ``Bits(2)``, ``init=4``) is
    rejected by :func:`~intervm.spec.validate.validate`; computed values wrap.
    """

    width: int

    def __post_init__(self) -> None:
        check_fields(self, _BITS)

    @property
    def modulus(self) -> int:
        return 1 << self.width


@dataclass(frozen=True, slots=True)
class Nat:
    """Unbounded natural numbers (free-running counters); finite per instance.

    >>> NAT == Nat()
    True
    """


Domain: TypeAlias = Bits | Nat
MAX_WIDTH = 64  # widest Bits(w): a machine word
MAX_LENGTH = 4096  # longest shared array of a fixed length
_BITS = (("width", _check.int_range(1, MAX_WIDTH, "a width in bits",
                                    "a variable is 1 to 64 bits wide; use NAT for "
                                    "unbounded counters")),)
NAT = Nat()
BIT = Bits(1)


def _domain_hint(value: object) -> str:
    if value is Bits:
        return "call it with a width: Bits(8)"
    if value is Nat:
        return "write NAT (or Nat())"
    if value is int or isinstance(value, int):
        return "write BIT, Bits(width) or NAT"
    return "write BIT, Bits(8) or NAT"


_DOMAIN = _check.instance((Bits, Nat), "a domain (BIT, Bits(w) or NAT)", _domain_hint)
_NAME = _check.name
_TEXT = _check.text
_INT = _check.integer
_FLAG = _check.flag
_EXPR = as_expr
_OPT_EXPR = _check.optional(as_expr)


class _Sited(typing.Protocol):
    @property
    def where(self) -> str: ...


def _record_site(obj: _Sited) -> None:
    if not obj.where or not isinstance(obj.where, str):  # a bad where= is replaced
        object.__setattr__(obj, "where", creation_site())


# ---------------------------------------------------------------- declarations


@dataclass(frozen=True, slots=True)
class Shared:
    """A shared-memory variable; with ``length`` it is a ring array.

    >>> Shared("flag", BIT, init=1, doc="1 = SLEEPING").init
    1
    >>> Shared("slots", NAT, length="capacity").length
    'capacity'

    ``length`` is an int or the name of a parameter. Arrays are rings: an index is
    taken modulo the length. When that parameter is left unbounded (symbolic), the
    array is unbounded too and indices are used as they are (free-running slots).
    """

    name: str
    domain: Domain
    init: int = 0
    length: int | str | None = None
    doc: str = ""
    where: str = field(default="", compare=False, repr=False)

    def __post_init__(self) -> None:
        _record_site(self)
        check_fields(self, _SHARED)


@dataclass(frozen=True, slots=True)
class Ghost:
    """Specification-only state, updated with the step that writes it, never buffered.

    >>> Ghost("consumed", NAT, doc="requests delivered").name
    'consumed'
    """

    name: str
    domain: Domain
    init: int = 0
    doc: str = ""
    where: str = field(default="", compare=False, repr=False)

    def __post_init__(self) -> None:
        _record_site(self)
        check_fields(self, _GHOST)


@dataclass(frozen=True, slots=True)
class Local:
    """A process-local variable (a register).

    >>> Local("t", NAT), Local("f", BIT, init=1).init
    (Local(name='t', domain=Nat(), init=0), 1)
    """

    name: str
    domain: Domain
    init: int = 0
    where: str = field(default="", compare=False, repr=False)

    def __post_init__(self) -> None:
        _record_site(self)
        check_fields(self, _LOCAL)


@dataclass(frozen=True, slots=True)
class Doorbell:
    """A hypervisor interrupt line between VMs.

    >>> Doorbell("irq").latched, Doorbell("edge", latched=False).latched
    (True, False)

    Latched (a PENDING bit, an eventfd counter): a notification is kept until the
    receiver waits. Not latched (an edge): a notification is lost unless the
    receiver is already blocked in :class:`Wait` on it.
    """

    name: str
    latched: bool = True
    doc: str = ""
    where: str = field(default="", compare=False, repr=False)

    def __post_init__(self) -> None:
        _record_site(self)
        check_fields(self, _DOORBELL)


@dataclass(frozen=True, slots=True)
class ParamDecl:
    """A protocol parameter: ``default`` for finite checks; ``symbolic_ok`` when an
    unbounded proof may leave it symbolic (any value ``>= minimum``); ``maximum``, when
    given, the largest value a finite instance may take (larger ones are refused with
    the allowed range before anything is built).

    >>> ParamDecl("requests", 2, minimum=0, symbolic_ok=True).default
    2
    >>> ParamDecl("capacity", 2, minimum=1, maximum=64).range_text
    '1..64'
    """

    name: str
    default: int
    minimum: int = 0
    symbolic_ok: bool = False
    doc: str = ""
    maximum: int | None = None
    where: str = field(default="", compare=False, repr=False)

    @property
    def range_text(self) -> str:
        """The allowed values: ``'1..64'``, or ``'>= 1'`` without a maximum."""
        return f">= {self.minimum}" if self.maximum is None else f"{self.minimum}..{self.maximum}"

    def __post_init__(self) -> None:
        _record_site(self)
        check_fields(self, _PARAMDECL)


# ---------------------------------------------------------------- step operations


@dataclass(frozen=True, slots=True)
class Load:
    """``dst := var[index]``: one load from shared memory.

    >>> from intervm.spec.expr import L
    >>> Load("t", "tail").var, Load("d", "slots", index=L("h")).index
    ('tail', L(name='h'))
    >>> Load("v", "seq", order="acquire").order
    'acquire'

    ``order``: ``"plain"`` (the default: a relaxed load, ``READ_ONCE``, ``ldr``) or
    ``"acquire"`` (``smp_load_acquire``, ``ldar``: no later access of this process
    is performed before it). ``deps``: locals this load's *address* depends on
    besides those in ``index`` (an artificial dependency, as litmus tests write
    ``ldr w2,[x,w1 eor w1]``). Dependencies matter only under a model that reorders
    loads (``arm``); see docs/memory-models.md.
    """

    dst: str
    var: str
    index: Expr | None = None
    order: str = "plain"
    deps: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_fields(self, _LOAD)


@dataclass(frozen=True, slots=True)
class Store:
    """``var[index] := value``: one store to shared memory (``value`` over locals).

    >>> Store("flag", 1)
    Store(var='flag', value=Const(value=1), index=None, order='plain', deps=())

    Under TSO, PSO and Arm the store goes to the writer's store buffer first.
    ``order``: ``"plain"`` (``WRITE_ONCE``, ``str``) or ``"release"``
    (``smp_store_release``, ``stlr``: every earlier access of this process is
    performed before it). ``deps``: locals its *value* depends on besides those in
    ``value`` (an artificial data dependency).
    """

    var: str
    value: Expr
    index: Expr | None = None
    order: str = "plain"
    deps: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_fields(self, _STORE)


@dataclass(frozen=True, slots=True)
class Fence:
    """A fence: ``full`` orders every earlier access before every later one
    (``mfence``, ``smp_mb``, ``dmb ish``); ``store`` only orders stores among
    themselves (``sfence``, ``smp_wmb``, ``dmb ishst``); ``load`` orders earlier
    loads before every later access (``smp_rmb``, ``virtio_rmb``, ``dmb ishld``).

    >>> Fence(), Fence("store"), Fence("load")
    (Fence(kind='full'), Fence(kind='store'), Fence(kind='load'))

    Under SC and x86-TSO a store or load fence orders nothing that is not already
    ordered; under PSO a load fence is free (loads stay in order).
    """

    kind: str = "full"

    def __post_init__(self) -> None:
        check_fields(self, _FENCE)


@dataclass(frozen=True, slots=True)
class Rmw:
    """Atomic read-modify-write: ``dst := var[index]; var[index] := value``.

    >>> from intervm.spec.expr import L, add
    >>> Rmw("old", "reserve", add(L("old"), 1)).var  # fetch-add
    'reserve'

    In ``value``, ``L(dst)`` denotes the old value. A locked RMW is a full fence.
    """

    dst: str
    var: str
    value: Expr
    index: Expr | None = None

    def __post_init__(self) -> None:
        check_fields(self, _RMW)


@dataclass(frozen=True, slots=True)
class Assign:
    """Local computation: simultaneous assignments to locals.

    >>> from intervm.spec.expr import L, add
    >>> Assign((("t", add(L("t"), 1)), ("n", 0))).assigns[1]
    ('n', Const(value=0))
    """

    assigns: tuple[tuple[str, Expr], ...] = ()

    def __post_init__(self) -> None:
        check_fields(self, _ASSIGN)


@dataclass(frozen=True, slots=True)
class Branch:
    """``if cond goto target`` (else fall through); ``cond`` over locals only.

    >>> from intervm.spec.expr import L, eq
    >>> Branch(eq(L("f"), 0), "idle").target
    'idle'
    """

    cond: Expr
    target: str

    def __post_init__(self) -> None:
        check_fields(self, _BRANCH)


@dataclass(frozen=True, slots=True)
class Choose:
    """Nondeterministic choice among guarded targets (environment decisions).

    >>> from intervm.spec.expr import L, Param, lt
    >>> Choose(((lt(L("n"), Param("requests")), "publish"), (True, "done"))).options[1]
    (Const(value=True), 'done')
    """

    options: tuple[tuple[Expr, str], ...]

    def __post_init__(self) -> None:
        check_fields(self, _CHOOSE)


@dataclass(frozen=True, slots=True)
class Await:
    """Blocks until ``cond`` (over locals, ghosts, params) holds.

    >>> from intervm.spec.expr import G, ge
    >>> Await(ge(G("produced"), 1)).cond
    Bin(op=<BinOp.LE: '<='>, left=Const(value=1), right=G(name='produced'))
    """

    cond: Expr

    def __post_init__(self) -> None:
        check_fields(self, _AWAIT)


@dataclass(frozen=True, slots=True)
class Notify:
    """Raise the doorbell (a hypercall / eventfd write: serializing).

    >>> Notify("irq")
    Notify(doorbell='irq')
    """

    doorbell: str

    def __post_init__(self) -> None:
        check_fields(self, _DOORBELL_OP)


@dataclass(frozen=True, slots=True)
class Wait:
    """Block until the doorbell is pending, then consume it (serializing).

    >>> Wait("irq")
    Wait(doorbell='irq')
    """

    doorbell: str

    def __post_init__(self) -> None:
        check_fields(self, _DOORBELL_OP)


@dataclass(frozen=True, slots=True)
class Halt:
    """The process stops; no step follows.

    >>> Step("done", Halt()).op
    Halt()
    """


Op: TypeAlias = Load | Store | Fence | Rmw | Assign | Branch | Choose | Await | Notify | Wait | Halt


@dataclass(frozen=True, slots=True)
class Step:
    """One atomic step: ``label: op`` then ``then`` (default: the next step).

    >>> from intervm.spec.expr import G, L, add, eq
    >>> s = Step("readflag", Load("f", "flag"), branch=(eq(L("f"), 0), "idle"),
    ...          ghost=(("reads", add(G("reads"), 1)),), doc="read the flag")
    >>> s.branch[1], s.then
    ('idle', None)

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
    where: str = field(default="", compare=False, repr=False)

    def __post_init__(self) -> None:
        _record_site(self)
        check_fields(self, _STEP)


@dataclass(frozen=True, slots=True)
class Process:
    """A VM's routine: locals and a list of labelled steps, starting at the first.

    >>> p = Process("P", steps=(Step("kick", Notify("irq")), Step("done", Halt())))
    >>> p.labels, p.successor("kick")
    (('kick', 'done'), 'done')

    ``fair``: the process is scheduled under weak fairness (for ``Eventually``).
    """

    name: str
    locals: tuple[Local, ...] = ()
    steps: tuple[Step, ...] = ()
    fair: bool = True
    doc: str = ""
    where: str = field(default="", compare=False, repr=False)

    def __post_init__(self) -> None:
        _record_site(self)
        check_fields(self, _PROCESS)

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
    """Invariant: ``pred`` holds in every reachable state.

    >>> from intervm.spec.expr import G, eq
    >>> Always("fifo", eq(G("bad_order"), 0), doc="delivered in order").name
    'fifo'
    """

    name: str
    pred: Expr
    doc: str = ""
    where: str = field(default="", compare=False, repr=False)

    def __post_init__(self) -> None:
        _record_site(self)
        check_fields(self, _ALWAYS)


@dataclass(frozen=True, slots=True)
class Sometimes:
    """Reachability: some reachable state satisfies ``pred`` (guards against vacuity).

    >>> from intervm.spec.expr import At, G, and_, ge
    >>> Sometimes("sleeps_after_work", and_(At("C", "block"), ge(G("consumed"), 1))).name
    'sleeps_after_work'

    Every spec needs at least one: a spec whose steps can never run satisfies
    every ``Always``.
    """

    name: str
    pred: Expr
    doc: str = ""
    where: str = field(default="", compare=False, repr=False)

    def __post_init__(self) -> None:
        _record_site(self)
        check_fields(self, _ALWAYS)


@dataclass(frozen=True, slots=True)
class Eventually:
    """Response under weak fairness: no fair infinite run stays in ``pending`` states
    forever without taking a ``progress`` step (deadlocks count as such runs).

    >>> from intervm.spec.expr import LocalOf, Mem, ne
    >>> Eventually("consumed", ne(Mem("tail"), LocalOf("C", "h"))).name
    'consumed'
    """

    name: str
    pending: Expr
    doc: str = ""
    where: str = field(default="", compare=False, repr=False)

    def __post_init__(self) -> None:
        _record_site(self)
        check_fields(self, _EVENTUALLY)


Property: TypeAlias = Always | Sometimes | Eventually


@dataclass(frozen=True, slots=True)
class Spec:
    """A protocol instance declaration (one variant); see :mod:`intervm.model.check`.

    >>> from intervm.spec.expr import G, eq
    >>> s = Spec("empty", ghosts=(Ghost("g", NAT),),
    ...          processes=(Process("P", steps=(Step("done", Halt()),)),),
    ...          properties=(Sometimes("start", eq(G("g"), 0)),))
    >>> s.process("P").labels, s.prop("start").name
    (('done',), 'start')

    ``source`` names the file (and object) it was loaded from, for messages.
    """

    name: str
    shared: tuple[Shared, ...] = ()
    ghosts: tuple[Ghost, ...] = ()
    doorbells: tuple[Doorbell, ...] = ()
    processes: tuple[Process, ...] = ()
    properties: tuple[Property, ...] = ()
    params: tuple[ParamDecl, ...] = ()
    doc: str = ""
    source: str = field(default="", compare=False)
    where: str = field(default="", compare=False, repr=False)

    def __post_init__(self) -> None:
        _record_site(self)
        check_fields(self, _SPEC)

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


# ---------------------------------------------------------------- argument kinds

def _op_hint(value: object) -> str:
    if isinstance(value, Step):
        return "give the Step's op (Store(...), Load(...) ...), not a Step"
    if isinstance(value, type) and value in typing.get_args(Op):
        return f"call it: {value.__name__}(...)"
    if isinstance(value, _check_expr_types()):
        return ("a condition is not an op: write Await(cond), or branch=(cond, target) "
                "on the step")
    return "write one of Load, Store, Fence, Rmw, Assign, Branch, Choose, Await, Notify, " \
           "Wait, Halt (e.g. Halt())"


def _check_expr_types() -> tuple[type, ...]:
    from intervm.spec.expr import _EXPR_TYPES

    return _EXPR_TYPES


def _length_kind(value: object) -> int | str | None:
    if value is None or (isinstance(value, str) and value):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        if 1 <= value <= MAX_LENGTH:
            return value
        raise _check.Mismatch(f"a length of 1..{MAX_LENGTH} or a parameter's name", value,
                              "an array has at least one element" if value < 1 else
                              "name a parameter (length='capacity') and check a small "
                              "instance")
    raise _check.Mismatch(f"an int (1..{MAX_LENGTH}) or the name of a parameter", value,
                          "write length=4 or length='capacity'")


_ASSIGNMENT = _check.pair(_NAME, _EXPR, "(name, expression)", "('n', add(L('n'), 1))")
_ASSIGNMENTS = _check.tuple_of(_ASSIGNMENT, "(name, expression) pairs",
                               "('n', add(L('n'), 1))")
_GUARDED = _check.pair(_EXPR, _NAME, "(condition, label)", "(eq(L('f'), 0), 'idle')")
_OP = _check.instance(typing.get_args(Op), "a step operation (Load, Store, Fence, Rmw, "
                      "Assign, Branch, Choose, Await, Notify, Wait or Halt)", _op_hint)
_PROPERTY = _check.instance((Always, Sometimes, Eventually),
                            "a property (Always, Sometimes or Eventually)",
                            "write Always('name', cond) or Sometimes('name', cond)")
_SHARED = (("name", _NAME), ("domain", _DOMAIN), ("init", _INT), ("length", _length_kind),
           ("doc", _TEXT))
_GHOST = (("name", _NAME), ("domain", _DOMAIN), ("init", _INT), ("doc", _TEXT))
_LOCAL = (("name", _NAME), ("domain", _DOMAIN), ("init", _INT))
_DOORBELL = (("name", _NAME), ("latched", _FLAG), ("doc", _TEXT))
_PARAMDECL = (("name", _NAME), ("default", _INT), ("minimum", _INT),
              ("symbolic_ok", _FLAG), ("doc", _TEXT), ("maximum", _check.optional(_INT)))
FENCE_KINDS = ("full", "store", "load")
LOAD_ORDERS = ("plain", "acquire")
STORE_ORDERS = ("plain", "release")
_DEPS = _check.tuple_of(_NAME, "local names", "deps=('r1',)")
_LOAD = (("dst", _NAME), ("var", _NAME), ("index", _OPT_EXPR),
         ("order", _check.one_of(LOAD_ORDERS, "write order='acquire' or leave it out")),
         ("deps", _DEPS))
_STORE = (("var", _NAME), ("value", _EXPR), ("index", _OPT_EXPR),
          ("order", _check.one_of(STORE_ORDERS, "write order='release' or leave it out")),
          ("deps", _DEPS))
_FENCE = (("kind", _check.one_of(FENCE_KINDS,
                                 "write Fence(), Fence('store') or Fence('load')")),)
_RMW = (("dst", _NAME), ("var", _NAME), ("value", _EXPR), ("index", _OPT_EXPR))
_ASSIGN = (("assigns", _ASSIGNMENTS),)
_BRANCH = (("cond", _EXPR), ("target", _NAME))
_CHOOSE = (("options", _check.tuple_of(_GUARDED, "(condition, label) pairs",
                                       "(True, 'done')")),)
_AWAIT = (("cond", _EXPR),)
_DOORBELL_OP = (("doorbell", _NAME),)
_STEP = (("label", _NAME), ("op", _OP), ("then", _check.optional(_NAME)),
         ("ghost", _ASSIGNMENTS), ("progress", _FLAG), ("doc", _TEXT), ("set", _ASSIGNMENTS),
         ("branch", _check.optional(_GUARDED)))
_PROCESS = (("name", _NAME),
            ("locals", _check.tuple_of(_check.instance(Local, "a Local"), "Local",
                                       "Local('r', NAT)")),
            ("steps", _check.tuple_of(_check.instance(Step, "a Step", "write Step(label, op)"),
                                      "Step", "Step('done', Halt())")),
            ("fair", _FLAG), ("doc", _TEXT))
_ALWAYS = (("name", _NAME), ("pred", _EXPR), ("doc", _TEXT))
_EVENTUALLY = (("name", _NAME), ("pending", _EXPR), ("doc", _TEXT))


def _items(cls: type, example: str) -> _check.Kind:
    return _check.tuple_of(_check.instance(cls, f"a {cls.__name__}", f"write {example}"),
                           cls.__name__, example)


_SPEC = (("name", _NAME), ("shared", _items(Shared, "Shared('x', NAT)")),
         ("ghosts", _items(Ghost, "Ghost('g', NAT)")),
         ("doorbells", _items(Doorbell, "Doorbell('irq')")),
         ("processes", _items(Process, "Process('P', steps=...)")),
         ("properties", _check.tuple_of(_PROPERTY, "properties",
                                        "Sometimes('done', At('P', 'done'))")),
         ("params", _items(ParamDecl, "ParamDecl('n', 2)")), ("doc", _TEXT),
         ("source", _TEXT))


def assigns(*pairs: tuple[str, ExprLike]) -> tuple[tuple[str, Expr], ...]:
    """Build an assignment tuple from ``(name, value)`` pairs, lifting Python ints.

    >>> assigns(("n", 0))
    (('n', Const(value=0)),)
    """
    return tuple((n, lift(v)) for n, v in pairs)
