"""Store-buffer models (x86-TSO, PSO): the rules both share, symbolic and concrete.

A process that stores gets a buffer of ``size`` entries (``model/memory/buffer.py``
names its variables). A load takes the newest own buffered store to the same location
(forwarding) or memory; a store appends (a full buffer stalls it); a background
``flush`` moves an entry to memory; a full fence, a locked RMW, a doorbell write and
a wait need the own buffer to be empty. Subclasses choose which entries may flush
(:attr:`~intervm.model.memory.base.MemoryModel.reorders_stores`) and whether a store
fence marks the next buffered store (:attr:`StoreBufferModel.store_barrier`).

>>> from intervm.model.memory import get
>>> buf = get("pso").concrete(None)
>>> m: dict = {}
>>> buf.store(("x", None), 1, m); buf.fence("store"); buf.store(("y", None), 1, m)
True
True
>>> buf.flushable(m)    # y is behind the store fence: x first
[('x', None)]
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from typing import ClassVar

from intervm.model.memory.base import (
    Concrete,
    Effect,
    Footprint,
    Internal,
    Loc,
    Location,
    MemoryModel,
    memory_read,
)
from intervm.model.memory.buffer import BufferLayout
from intervm.spec.expr import (
    TRUE,
    ZERO,
    Const,
    Expr,
    Update,
    Var,
    add,
    and_,
    eq,
    gt,
    ite,
    lt,
    not_,
    sub,
)


class StoreBuffer(Concrete):
    """A concrete store buffer: entries (location, value, barrier), oldest first."""

    def __init__(self, depth: int | None, reorders: bool, barriers: bool):
        self.depth = depth
        self.reorders = reorders
        self.barriers = barriers
        self.buf: list[tuple[Loc, int, bool]] = []
        self.wmb = False

    def entries(self) -> list[tuple[Loc, int]]:
        return [(loc, v) for loc, v, _ in self.buf]

    def load(self, loc: Loc, memory: Mapping[Loc, int]) -> int:
        for lc, v, _ in reversed(self.buf):  # store forwarding
            if lc == loc:
                return v
        return memory.get(loc, 0)

    def can_store(self) -> bool:
        return self.depth is None or len(self.buf) < self.depth

    def store(self, loc: Loc, value: int, memory: MutableMapping[Loc, int]) -> bool:
        self.buf.append((loc, value, self.wmb))
        self.wmb = False
        return True

    def can_fence(self, kind: str) -> bool:
        return kind != "full" or not self.buf

    def fence(self, kind: str) -> None:
        if kind == "store" and self.barriers:
            self.wmb = bool(self.buf)

    def drained(self) -> bool:
        return not self.buf

    def _flushable_at(self) -> list[int]:
        if not self.reorders:
            return [0] if self.buf else []
        out: list[int] = []
        seen: set[Loc] = set()
        for j, (loc, _, bar) in enumerate(self.buf):
            if j and bar:  # a store fence: nothing from here on may pass the older ones
                break
            if loc not in seen:
                out.append(j)
                seen.add(loc)
        return out

    def flushable(self, memory: Mapping[Loc, int]) -> list[Loc]:
        return [self.buf[j][0] for j in self._flushable_at()]

    def flush(self, pick: int, memory: MutableMapping[Loc, int]) -> tuple[Loc, int]:
        at = self._flushable_at()
        if not at:
            raise ValueError("the store buffer is empty; there is nothing to flush")
        loc, value, _ = self.buf.pop(at[pick % len(at)])
        memory[loc] = value
        if not self.buf:
            self.wmb = False
        return loc, value


class StoreBufferModel(MemoryModel):
    """The shared part of TSO and PSO (see the module docstring)."""

    buffered = True
    store_barrier: ClassVar[bool] = False  # a store fence marks the next buffered store

    def layout(self, footprint: Footprint, size: int) -> BufferLayout | None:
        targets = footprint.stores
        if not targets:  # a process that never stores needs no buffer
            return None
        return BufferLayout(footprint.process, size, tuple(t.name for t in targets),
                            any(t.is_array for t in targets),
                            self.store_barrier and bool({"store", "release"}
                                                        & footprint.fences),
                            tuple(t.name for t in footprint.phantoms))

    def concrete(self, depth: int | None) -> Concrete:
        return StoreBuffer(depth, self.reorders_stores, self.store_barrier)

    # ------------------------------------------------------------ accesses
    def load(self, lay: BufferLayout | None, loc: Location, index: Expr | None) -> Expr:
        out = memory_read(loc, index)
        if lay is None or loc.name not in lay.targets:
            return out
        for k in range(lay.size):  # newest matching entry wins: outermost is newest
            conds = [gt(Var(lay.n()), k)]
            if lay.with_var:
                conds.append(eq(Var(lay.var(k)), loc.var_id))
            if lay.with_index:
                conds.append(eq(Var(lay.idx(k)), index if index is not None else Const(0)))
            out = ite(and_(*conds), Var(lay.val(k)), out)
        return out

    def store(self, lay: BufferLayout | None, loc: Location, index: Expr | None,
              value: Expr, order: str = "plain", view: Expr = ZERO) -> Effect:
        if lay is None:
            return super().store(lay, loc, index, value, order)
        n = Var(lay.n())
        ups: list[tuple[str, Expr]] = []
        for k in range(lay.size):
            at_k = eq(n, k)
            ups.append((lay.val(k), ite(at_k, value, Var(lay.val(k)))))
            if lay.with_var:
                ups.append((lay.var(k), ite(at_k, loc.var_id, Var(lay.var(k)))))
            if lay.with_index:
                idx = index if index is not None else Const(0)
                ups.append((lay.idx(k), ite(at_k, idx, Var(lay.idx(k)))))
            if lay.with_barrier:
                # a release store is ordered after every older store, as if a
                # store fence preceded it (PSO keeps loads in order already)
                bar: Expr = (ite(gt(n, 0), 1, 0) if order == "release"
                             else Var(lay.wmb()))
                ups.append((lay.bar(k), ite(at_k, bar, Var(lay.bar(k)))))
        if lay.with_barrier:
            ups.append((lay.wmb(), Const(0)))
        ups.append((lay.n(), add(n, 1)))
        return Effect(lt(n, lay.size), tuple(ups))

    def _empty(self, lay: BufferLayout | None) -> Expr:
        return TRUE if lay is None else eq(Var(lay.n()), 0)

    def serializing(self, lay: BufferLayout | None) -> Effect:
        return Effect(self._empty(lay))

    def fence_drains(self, kind: str) -> bool:
        return kind == "full"

    def fence(self, lay: BufferLayout | None, kind: str) -> Effect:
        if self.fence_drains(kind):
            return self.serializing(lay)
        if kind == "store" and lay is not None and lay.with_barrier:
            return Effect(TRUE, ((lay.wmb(), ite(gt(Var(lay.n()), 0), 1, 0)),))
        return Effect()

    # ------------------------------------------------------------ flushes
    def flush_name(self, process: str, slot: int) -> str:
        return f"flush({process},{slot})" if self.reorders_stores else f"flush({process})"

    def internal_entry(self, name: str) -> int | None:
        if not self.reorders_stores:
            return None
        return int(name.rpartition(",")[2].rstrip(")"))

    def flush_text(self, process: str, slot: int) -> str:
        return (f"{process}'s buffered store #{slot} reaches memory" if self.reorders_stores
                else f"{process}'s oldest buffered store reaches memory")

    def internal(self, lay: BufferLayout, locations: Sequence[Location]) -> list[Internal]:
        slots = list(range(lay.size)) if self.reorders_stores else [0]
        out: list[Internal] = []
        for j in slots:
            guard_parts = [gt(Var(lay.n()), j)]
            for k in range(j):  # the same location stays in order
                same: list[Expr] = [TRUE]
                if lay.with_var:
                    same.append(eq(Var(lay.var(k)), Var(lay.var(j))))
                if lay.with_index:
                    same.append(eq(Var(lay.idx(k)), Var(lay.idx(j))))
                guard_parts.append(not_(and_(*same)))
            if lay.with_barrier:  # a store fence between entries keeps them in order
                guard_parts.extend(eq(Var(lay.bar(i)), 0) for i in range(1, j + 1))
            ups: list[tuple[str, Expr]] = []
            for t in locations:
                new: Expr
                if not t.is_array:
                    new = Var(lay.val(j))
                else:
                    new = Update(t.name, Var(lay.idx(j)), Var(lay.val(j)))
                if lay.with_var:
                    new = ite(eq(Var(lay.var(j)), t.var_id), new, Var(t.name))
                ups.append((t.name, new))
            for k in range(j, lay.size):
                nexts: list[str | None] = (
                    list(lay.fields(k + 1)) if k + 1 < lay.size else [None] * len(lay.fields(k))
                )
                for f_k, f_next in zip(lay.fields(k), nexts, strict=True):
                    ups.append((f_k, Var(f_next) if f_next is not None else Const(0)))
            ups.append((lay.n(), sub(Var(lay.n()), 1)))
            if lay.with_barrier:
                ups.append((lay.wmb(), ite(eq(Var(lay.n()), 1), 0, Var(lay.wmb()))))
            out.append(Internal(self.flush_name(lay.process, j), and_(*guard_parts),
                                tuple(ups), self.flush_text(lay.process, j),
                                group=f"flush.{lay.process}"))  # every store lands
        return out

    # ------------------------------------------------------------ narration
    def describe_fence(self, process: str, kind: str) -> str:
        if kind == "full":
            return (f"{process} executes a full fence, which can only complete once its "
                    f"store buffer is empty: every earlier store of {process} is now visible")
        if kind == "load":
            return (f"{process} executes a load fence (smp_rmb); under "
                    f"{self.name.upper()} loads are never reordered, so it has no effect")
        return (f"{process} executes a store fence: stores before it reach memory before "
                f"stores after it")
