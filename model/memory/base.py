"""What a memory model is: the one interface the compiler, the in-process emulator, the
trace validator and the narration consume.

A model is declared once, as a subclass of :class:`MemoryModel` in its own module of
this package (``model/memory/<name>.py``, defining ``MODEL``). It has two
interpretations that follow the same rules:

* **symbolic**, for the compiler: the state a process gets (:meth:`MemoryModel.layout`),
  each access as guard + updates (:meth:`~MemoryModel.load`, :meth:`~MemoryModel.store`,
  :meth:`~MemoryModel.fence`, :meth:`~MemoryModel.rmw`, :meth:`~MemoryModel.serializing`)
  and the model's own background moves (:meth:`~MemoryModel.internal`);
* **concrete**, for ``conformance/sched.py``: a per-role :class:`Concrete` stepper on
  dicts (:meth:`MemoryModel.concrete`).

>>> from intervm.model.memory import get
>>> tso = get("tso")
>>> x = Location("x", 1, False)
>>> lay = tso.layout(Footprint("P", stores=(x,), loads=(), fences=frozenset()), 1)
>>> from intervm.spec.expr import show
>>> show(tso.load(lay, x, None))
'(0 < sb.P.n ? sb.P.val0 : x)'
>>> buf = tso.concrete(None)
>>> buf.store(("x", None), 1, {}), buf.load(("x", None), {}), buf.flushable({})
(True, 1, [('x', None)])
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from intervm.model.memory.buffer import BufferLayout
from intervm.spec.expr import TRUE, ZERO, Const, Expr, Select, Update, Var

Loc = tuple[str, int | None]  # a concrete location: (field, index or None)
Updates = tuple[tuple[str, Expr], ...]


@dataclass(frozen=True, slots=True)
class Location:
    """A shared variable as a model sees it: ``var_id`` is its 1-based position among the
    spec's shared variables (what a buffer entry stores to name it)."""

    name: str
    var_id: int
    is_array: bool
    length: int | None = None  # an array's length, when the instance fixes it


@dataclass(frozen=True, slots=True)
class LoadSite:
    """A load step whose value the step itself does not use, so a model may leave it
    pending (``id`` >= 1, per process); ``dst_var`` is the flat local it writes,
    ``modulus`` the wrap its destination needs (None: none), ``index`` the
    ring-reduced index expression (over the state at the load) or None."""

    id: int
    label: str
    loc: Location
    dst: str
    dst_var: str
    modulus: int | None
    index: Expr | None


@dataclass(frozen=True, slots=True)
class LoadOption:
    """One way a load may go: the command-name ``suffix`` (``""`` when it is the only
    way), the value (None: the load is left pending), what it needs and changes, the
    view its register gets (models that track views) and a note for narration."""

    suffix: str
    value: Expr | None
    effect: Effect
    view: Expr
    note: str = ""


@dataclass(frozen=True, slots=True)
class Footprint:
    """What one process touches, as far as a model needs to know to give it state:
    the observed locations it stores to and loads from (RMWs count as loads), sorted
    by name, the fence kinds its steps use (and ``"acquire"``/``"release"`` when it has
such accesses), and the register data flow a model that tracks dependencies needs. ``phantoms``: sliced-away locations it
    also stores to, when the compiler is asked for an exact slice; a model that
    buffers stores gives each of their stores a value-less entry, so a bounded buffer
    fills up exactly as in the whole system (flushing one writes nothing)."""

    process: str
    stores: tuple[Location, ...]
    loads: tuple[Location, ...]
    fences: frozenset[str]
    phantoms: tuple[Location, ...] = ()
    serializing: bool = False  # it has an RMW, a doorbell write or a wait
    addr_deps: frozenset[str] = frozenset()  # locals in load/RMW addresses
    data_deps: frozenset[str] = frozenset()  # locals in store values and addresses
    flows: tuple[tuple[str, frozenset[str]], ...] = ()  # local <- locals it is made of
    load_sites: tuple[LoadSite, ...] = ()


@dataclass(frozen=True, slots=True)
class Effect:
    """What an access adds to its command: an enabling condition and updates."""

    guard: Expr = TRUE
    updates: Updates = ()


@dataclass(frozen=True, slots=True)
class Internal:
    """One background move of the model (a store-buffer flush): its command name in
    traces (``flush(P)``, ``flush(P,1)``), guard, updates, display text and
    weak-fairness group (moves of one group are taken eventually when they stay
    enabled; None: no fairness)."""

    name: str
    guard: Expr
    updates: Updates
    text: str
    group: str | None = None


def fence_text(kind: str) -> str:
    """A fence kind for people: ``'a load fence (smp_rmb)'``."""
    return {"full": "a full fence (smp_mb)", "store": "a store fence (smp_wmb)",
            "load": "a load fence (smp_rmb)"}.get(kind, f"a {kind} fence")


def memory_read(loc: Location, index: Expr | None) -> Expr:
    """``loc`` (at ``index``) as it is in shared memory."""
    return Var(loc.name) if index is None else Select(loc.name, index)


def memory_write(loc: Location, index: Expr | None, value: Expr) -> tuple[str, Expr]:
    """The update writing ``value`` to ``loc`` (at ``index``) in shared memory."""
    return (loc.name, value if index is None else Update(loc.name, index, value))


class Concrete(ABC):
    """One role's part of the model on concrete values (``conformance/sched.py``).

    ``memory`` is the shared memory as a dict from location to value (absent: 0). The
    methods mirror the symbolic side: ``can_*`` is the guard, the action the updates.
    """

    @abstractmethod
    def entries(self) -> list[tuple[Loc, int]]:
        """Buffered stores not yet in memory, oldest first ([] when none)."""

    @abstractmethod
    def load(self, loc: Loc, memory: Mapping[Loc, int]) -> int:
        """The value this role reads at ``loc``."""

    @abstractmethod
    def can_store(self) -> bool:
        """Whether a store may happen now (a full buffer stalls it)."""

    @abstractmethod
    def store(self, loc: Loc, value: int, memory: MutableMapping[Loc, int]) -> bool:
        """Perform a store; True when it was buffered rather than written to memory."""

    @abstractmethod
    def can_fence(self, kind: str) -> bool:
        """Whether a fence of ``kind`` may complete now."""

    @abstractmethod
    def fence(self, kind: str) -> None:
        """Perform a fence of ``kind`` (it has already been allowed)."""

    @abstractmethod
    def drained(self) -> bool:
        """Whether a serializing access (RMW, doorbell write, wait) may happen now."""

    @abstractmethod
    def flushable(self, memory: Mapping[Loc, int]) -> list[Loc]:
        """The role's enabled background moves, each named by the location it makes
        visible (a store buffer: locations whose oldest store may reach memory next)."""

    @abstractmethod
    def flush(self, pick: int, memory: MutableMapping[Loc, int]) -> tuple[Loc, int]:
        """Take move ``flushable(memory)[pick % len]``; (location, value it wrote)."""


class MemoryModel(ABC):
    """A memory model: everything the tools need to know about it, in one object.

    Class attributes: ``name`` (the public key: CLI ``-m``, JSON, trace files),
    ``title`` (for people), ``rank`` (order in listings: stronger models first),
    ``fence_kinds`` (the fences a spec may use under it), ``buffered`` (stores may be
    delayed, so processes get a buffer and background moves), ``reorders_stores``
    (a buffered store may reach memory before an older one to another location).
    """

    name: ClassVar[str]
    title: ClassVar[str]
    rank: ClassVar[int]
    summary: ClassVar[str]
    fence_kinds: ClassVar[frozenset[str]] = frozenset({"full", "store", "load"})
    buffered: ClassVar[bool] = False
    reorders_stores: ClassVar[bool] = False
    in_default: ClassVar[bool] = True  # checked when a variant lists no models
    bound_name: ClassVar[str] = "buffer"  # what ``--buffer`` bounds, in verdicts
    bound_scope: ClassVar[str] = "per VM"  # the bound is reached per VM or "in all"
    tracks_views: ClassVar[bool] = False  # registers carry dependency views

    def __repr__(self) -> str:
        return f"<memory model {self.name}>"

    # ------------------------------------------------------------ state
    @abstractmethod
    def layout(self, footprint: Footprint, size: int) -> BufferLayout | None:
        """The state one process gets (None: none); ``size`` is the buffer depth asked
        for. Asked for every process. A model with more per-process state than a
        store buffer returns a subclass of :class:`BufferLayout` and lists its
        variables in :meth:`state_vars`."""

    def state_vars(self, lay: BufferLayout) -> list[str]:
        """The flat variables a process's buffer adds (all start at 0)."""
        return lay.state_vars()

    def finish(self, layouts: Mapping[str, BufferLayout], size: int,
               locations: Sequence[Location]) -> dict[str, BufferLayout]:
        """The layouts once every process has one (a model with shared state of its
        own wires it in here); ``locations``: every observed shared variable."""
        return dict(layouts)

    def global_vars(self, layouts: Mapping[str, BufferLayout]) -> list[str]:
        """Flat variables the model keeps outside every process (all start at 0)."""
        return []


    # ------------------------------------------------------------ accesses
    def load(self, lay: BufferLayout | None, loc: Location, index: Expr | None) -> Expr:
        """The value a load of ``loc`` (at the ring-reduced ``index``) returns."""
        return memory_read(loc, index)

    def load_effect(self, lay: BufferLayout | None, loc: Location,
                    index: Expr | None) -> Effect:
        """What a load needs and changes besides its value (none for SC/TSO/PSO; a
        model with per-process views may advance one here)."""
        return Effect()

    def load_options(self, lay: BufferLayout | None, loc: Location, index: Expr | None,
                     order: str, addr_view: Expr,
                     site: LoadSite | None) -> list[LoadOption]:
        """Every way a load may go (one command each). ``addr_view``: the view of
        the locals its address depends on; ``site``: set when the step does not use
        the value itself (a model may defer the load). By default the one way
        :meth:`load` and :meth:`load_effect` describe."""
        return [LoadOption("", self.load(lay, loc, index),
                           self.load_effect(lay, loc, index), Const(0))]

    def view_of(self, lay: BufferLayout | None, names: Iterable[str],
                known: Mapping[str, Expr] | None = None) -> Expr:
        """The view of a value computed from locals ``names`` (``known``: views
        already set in this step). Models that do not track views: 0."""
        return Const(0)

    def register_updates(self, lay: BufferLayout | None,
                         views: Mapping[str, Expr]) -> Updates:
        """Updates giving locals their new views."""
        return ()

    def step_guard(self, lay: BufferLayout | None, touched: frozenset[str]) -> Expr:
        """What a step that reads or writes locals ``touched`` must wait for (a
        pending load of one of them)."""
        return TRUE

    def settled(self, lay: BufferLayout | None) -> Expr:
        """Whether the process has no access left pending (its registers are final)."""
        return TRUE

    def rmw_view(self, lay: BufferLayout | None) -> Expr:
        """The view an RMW's old value gets."""
        return Const(0)

    def view(self, lay: BufferLayout | None, loc: Location) -> Expr:
        """What the process would load from scalar ``loc`` now (the trace validator's
        check of a load or store no step of the spec matches)."""
        return self.load(lay, loc, None)

    def store(self, lay: BufferLayout | None, loc: Location, index: Expr | None,
              value: Expr, order: str = "plain", view: Expr = ZERO) -> Effect:
        """A store of the (already wrapped) ``value``; ``order`` is ``"plain"`` or
        ``"release"`` (see :class:`~intervm.spec.syntax.Store`); ``view``: the view
        of the locals its address and value depend on."""
        return Effect(TRUE, (memory_write(loc, index, value),))

    def fence(self, lay: BufferLayout | None, kind: str) -> Effect:
        """A fence of ``kind`` (one of :attr:`fence_kinds`)."""
        return Effect()

    def serializing(self, lay: BufferLayout | None) -> Effect:
        """What a serializing access (locked RMW, doorbell write, wait) needs."""
        return Effect()

    def rmw(self, lay: BufferLayout | None, loc: Location, index: Expr | None,
            new: Callable[[Expr], Expr]) -> tuple[Expr, Effect]:
        """An atomic read-modify-write: (old value, effect); ``new(old)`` is the value
        written (already wrapped)."""
        old = memory_read(loc, index)
        s = self.serializing(lay)
        return old, Effect(s.guard, (*s.updates, memory_write(loc, index, new(old))))

    def fence_drains(self, kind: str) -> bool:
        """Whether a fence of ``kind`` needs the process's buffer to be empty."""
        return False

    # ------------------------------------------------------------ background moves
    def internal(self, lay: BufferLayout, locations: Sequence[Location]) -> list[Internal]:
        """The model's own moves for one process's buffer (``locations``: its
        targets, in ``lay.targets`` order), with their fairness groups."""
        return []

    def internal_entry(self, name: str) -> int | None:
        """Which buffer entry the background move ``name`` (one of :meth:`internal`'s
        names) makes visible; None: the oldest."""
        return None

    # ------------------------------------------------------------ concrete
    @abstractmethod
    def concrete(self, depth: int | None) -> Concrete:
        """A fresh per-role stepper; ``depth`` bounds a buffer (None: unbounded)."""

    # ------------------------------------------------------------ narration
    def describe_fence(self, process: str, kind: str) -> str:
        """What a fence of ``kind`` by ``process`` does, as a sentence's body."""
        what = fence_text(kind)
        return f"{process} executes {what} (no effect under {self.name.upper()})"

    def describe_state(self) -> str:
        """One sentence for the start of a narration: what state each VM has."""
        return ("Each VM has a FIFO store buffer: its stores reach memory only when the "
                "buffer drains (a flush step).")

    def internal_is_load(self, name: str) -> bool:
        """Whether background move ``name`` performs a pending load (not a flush)."""
        return False

    def describe_load(self, command: str, process: str, var: str, value: str,
                      newest: str) -> str:
        """What to add to the narration of load command ``command`` (``newest``: the
        newest value in memory, as text); '' when nothing."""
        return ""

    def describe_internal(self, process: str, entry: str) -> str:
        """The narration of a background move making ``entry`` visible."""
        return f"{process}'s buffered store {entry} drains to shared memory"
