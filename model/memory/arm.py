"""ARMv8 (AArch64, normal memory): stores and loads of independent locations may be
reordered every way, ordered by ``dmb`` fences, acquire/release and dependencies;
writes are other-multi-copy-atomic (once another VM sees a store, every VM can).

The model is operational and view-based (after Promising-ARM, Pulte et al., PLDI
2019, whose read and barrier rules it follows), in four parts:

* **memory with a history.** Shared memory holds the newest value of every location;
  the *log* holds the last ``depth`` writes in coherence order (location, new and old
  value). Positions ``1..n`` name those writes, ``0`` what came before them.
* **views.** Each VM keeps, per location it loads, the position of the newest write
  it has read or made there (``coh``), and a few positions that later loads must not
  read before: ``vrp`` (raised by ``dmb ld``/``dmb`` and acquire loads), ``vrm`` (the
  newest write it has read), ``vwm`` (its newest own write), ``vrel`` (its newest
  release). A register carries the view of the loads it was computed from, so a
  load whose address depends on it cannot read older than they did (address
  dependency). A load may read any write to its location at or after its ``coh``
  that is not older than the newest one at its pre-view — so a later load may see
  an older value than an earlier one (load→load reordering) unless a fence, an
  acquire or a dependency raised the pre-view.
* **a store buffer** as under PSO (store→store and store→load reordering, own stores
  forwarded to own loads with the view of their address and data): a ``dmb st``
  keeps the stores on its two sides in order, a release store leaves only after
  every older store, a full ``dmb`` drains it. A store reaching memory is appended
  to the log (when the log is full its oldest write is folded into memory and every
  view moves down one position: a VM that lagged further behind catches up, which
  is why the bound is part of every verdict: ``history ≤ depth``).
* **deferred loads** (load→store reordering, the LB shape): a plain load whose value
  the step itself does not use may be left pending (one per VM) and performed later
  by a background move; until then no step may read or overwrite its register, no
  store may go to its location, and no fence, release store or serializing access
  may complete. So data, address and control dependencies keep a store after the
  load it depends on, as on Arm.

Locked RMWs, doorbell writes and waits are fully ordered (as Linux's ``xchg`` and a
hypercall are); a wait returns with the whole memory visible to the woken VM.

>>> MODEL.name, MODEL.buffered, MODEL.reorders_stores, MODEL.bound_name
('arm', True, True, 'history')
>>> MODEL.flush_name("P", 1), MODEL.internal_entry("flush(P,1)"), MODEL.internal_entry("resolve(P)")
('flush(P,1)', 1, None)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from intervm.model.memory.base import (
    Concrete,
    Effect,
    Footprint,
    Internal,
    LoadOption,
    LoadSite,
    Location,
    memory_read,
    memory_write,
)
from intervm.model.memory.buffer import PREFIX, BufferLayout
from intervm.model.memory.storebuffer import StoreBufferModel
from intervm.spec.errors import ParamError
from intervm.spec.expr import (
    FALSE,
    TRUE,
    ZERO,
    Const,
    Expr,
    Var,
    add,
    and_,
    eq,
    gt,
    implies,
    ite,
    le,
    lt,
    mod,
    ne,
    not_,
    or_,
    sub,
)

LOG = f"{PREFIX}%log"


def vmax(*views: Expr) -> Expr:
    """The largest of ``views`` (positions in the log)."""
    parts = [v for v in views if not (isinstance(v, Const) and v.value == 0)]
    if not parts:
        return Const(0)
    out = parts[0]
    for v in parts[1:]:
        out = ite(lt(out, v), v, out)
    return out


def _down(v: Expr) -> Expr:
    """A view after the log's oldest write is folded into memory."""
    return ite(gt(v, 0), sub(v, 1), 0)


@dataclass(frozen=True, slots=True)
class LogLayout:
    """The shared history: ``depth`` entries of (location id, index, new, old)."""

    depth: int
    with_var: bool
    with_index: bool
    locations: tuple[Location, ...]  # every location some VM stores to
    views: tuple[str, ...] = ()  # every view variable of every VM (they all move down)

    def n(self) -> str:
        return f"{LOG}.n"

    def var(self, k: int) -> str:
        return f"{LOG}.var{k}"

    def idx(self, k: int) -> str:
        return f"{LOG}.idx{k}"

    def val(self, k: int) -> str:
        return f"{LOG}.val{k}"

    def old(self, k: int) -> str:
        return f"{LOG}.old{k}"

    def fields(self, k: int) -> list[str]:
        out = []
        if self.with_var:
            out.append(self.var(k))
        if self.with_index:
            out.append(self.idx(k))
        return [*out, self.val(k), self.old(k)]

    def state_vars(self) -> list[str]:
        out = [self.n()]
        for k in range(1, self.depth + 1):
            out.extend(self.fields(k))
        return out

    def writes(self, k: int, loc: Location, index: Expr | None) -> Expr:
        """Whether log entry ``k`` (1-based) exists and writes ``loc`` at ``index``."""
        parts: list[Expr] = [le(Const(k), Var(self.n()))]
        if self.with_var:
            parts.append(eq(Var(self.var(k)), loc.var_id))
        if self.with_index and index is not None:
            parts.append(eq(Var(self.idx(k)), index))
        return and_(*parts)


@dataclass(frozen=True, slots=True)
class ArmLayout(BufferLayout):
    """One VM's state under ``arm``: its store buffer (entries also carry a release
    bit and the view of their address and data), its views and its pending load."""

    coh: tuple[tuple[str, int | None], ...] = ()  # loaded locations (name, length)
    regs: tuple[str, ...] = ()  # locals whose views matter
    with_vrp: bool = False
    with_vrm: bool = False
    with_vwm: bool = False
    with_vrel: bool = False
    with_rel: bool = False  # entries carry a release bit
    with_view: bool = False  # entries carry a forwarding view
    sites: tuple[LoadSite, ...] = ()  # loads that may be deferred
    log: LogLayout | None = field(default=None, compare=False)

    # ---------------------------------------------------------------- names
    def _v(self, what: str) -> str:
        return f"{PREFIX}{self.process}.{what}"

    def vrp(self) -> str:
        return self._v("vrp")

    def vrm(self) -> str:
        return self._v("vrm")

    def vwm(self) -> str:
        return self._v("vwm")

    def vrel(self) -> str:
        return self._v("vrel")

    def reg(self, local: str) -> str:
        return self._v(f"v.{local}")

    def coh_var(self, name: str, element: int | None) -> str:
        return self._v(f"coh.{name}" if element is None else f"coh.{name}.{element}")

    def rel(self, k: int) -> str:
        return self._v(f"rel{k}")

    def eview(self, k: int) -> str:
        return self._v(f"view{k}")

    def pend(self) -> str:
        return self._v("pend")

    def pidx(self) -> str:
        return self._v("pidx")

    def pview(self) -> str:
        return self._v("pview")

    def fields(self, k: int) -> list[str]:
        out = BufferLayout.fields(self, k)
        if self.with_rel:
            out.append(self.rel(k))
        if self.with_view:
            out.append(self.eview(k))
        return out

    def coh_vars(self) -> list[str]:
        out: list[str] = []
        for name, length in self.coh:
            if length is None:
                out.append(self.coh_var(name, None))
            else:
                out.extend(self.coh_var(name, i) for i in range(length))
        return out

    def views(self) -> list[str]:
        """Every variable of this VM holding a log position."""
        out = self.coh_vars()
        out += [v for v, on in ((self.vrp(), self.with_vrp), (self.vrm(), self.with_vrm),
                                (self.vwm(), self.with_vwm), (self.vrel(), self.with_vrel))
                if on]
        out += [self.reg(r) for r in self.regs]
        if self.with_view:
            out += [self.eview(k) for k in range(self.size)]
        if self.sites:
            out.append(self.pview())
        return out

    def state_vars(self) -> list[str]:
        out = BufferLayout.state_vars(self)
        out += [v for v in self.views() if v not in out]
        if self.sites:
            out.append(self.pend())
            if any(s.index is not None for s in self.sites):
                out.append(self.pidx())
        return out

    def length_of(self, name: str) -> int | None:
        for n, length in self.coh:
            if n == name:
                return length
        return None

    def has_coh(self, name: str) -> bool:
        return any(n == name for n, _ in self.coh)


def _reachable_regs(footprint: Footprint, seeds: Iterable[str]) -> tuple[str, ...]:
    """Locals whose value can flow into ``seeds`` (through assignments)."""
    need = set(seeds)
    changed = True
    while changed:
        changed = False
        for dst, srcs in footprint.flows:
            if dst in need and not srcs <= need:
                need |= srcs
                changed = True
    return tuple(sorted(need))


class ARM(StoreBufferModel):
    name = "arm"
    title = "ARMv8 (AArch64, other-multi-copy-atomic)"
    rank = 3
    summary = ("stores and loads to different locations may be reordered every way "
               "unless a dmb, an acquire/release or a dependency orders them")
    reorders_stores = True
    store_barrier = True
    # opt-in (``-m arm``, or a variant's memory_models): its state spaces are an
    # order of magnitude larger than PSO's (BENCHMARKS.md, "Cost of the Arm model")
    in_default = False
    bound_name = "history"
    bound_scope = "in all"  # the log holds every VM's writes
    tracks_views = True
    max_pending = 1

    # ---------------------------------------------------------------- layout
    def layout(self, footprint: Footprint, size: int) -> BufferLayout | None:
        fences = footprint.fences
        serial = footprint.serializing
        loads = bool(footprint.loads)
        coh: list[tuple[str, int | None]] = []
        for loc in footprint.loads:
            if loc.is_array and loc.length is None:
                raise ParamError(
                    f"{footprint.process} loads array {loc.name!r} of symbolic length; "
                    "the arm model needs every array's length: give the parameter a value")
            coh.append((loc.name, loc.length if loc.is_array else None))
        forwards = bool({t.name for t in footprint.stores}
                        & {t.name for t in footprint.loads})
        seeds = set(footprint.addr_deps) | (set(footprint.data_deps) if forwards else set())
        regs = _reachable_regs(footprint, seeds) if loads else ()
        base = StoreBufferModel.layout(self, footprint, size)
        targets = base.targets if base is not None else ()
        return ArmLayout(
            footprint.process, size if targets else 0, targets,
            base.with_index if base is not None else False,
            base.with_barrier if base is not None else False,
            base.phantoms if base is not None else (),
            coh=tuple(coh), regs=regs,
            with_vrp=loads and bool({"full", "load", "acquire"} & fences or serial),
            with_vrm=loads and bool({"full", "load"} & fences or serial),
            with_vwm=loads and bool(targets) and ("full" in fences or serial),
            with_vrel=bool(targets) and {"acquire", "release"} <= fences,
            with_rel=bool(targets) and "release" in fences,
            with_view=bool(targets) and forwards and bool(regs),
            sites=footprint.load_sites[: self.max_pending and len(footprint.load_sites)]
            if self.max_pending else (),
        )

    def finish(self, layouts: Mapping[str, BufferLayout], size: int,
               locations: Sequence[Location]) -> dict[str, BufferLayout]:
        stored = [loc for loc in locations
                  if any(loc.name in lay.targets for lay in layouts.values())]
        views: list[str] = []
        for lay in layouts.values():
            assert isinstance(lay, ArmLayout)
            views += lay.views()
        log = LogLayout(size, len(stored) > 1, any(t.is_array for t in stored),
                        tuple(stored), tuple(views))
        out: dict[str, BufferLayout] = {}
        for p, lay in layouts.items():
            assert isinstance(lay, ArmLayout)
            out[p] = replace(lay, log=log)
        return out

    def global_vars(self, layouts: Mapping[str, BufferLayout]) -> list[str]:
        for lay in layouts.values():
            assert isinstance(lay, ArmLayout) and lay.log is not None
            return lay.log.state_vars()
        return []


    # ---------------------------------------------------------------- helpers
    @staticmethod
    def _arm(lay: BufferLayout | None) -> ArmLayout:
        assert isinstance(lay, ArmLayout), "every process has a layout under arm"
        return lay

    def _coh(self, lay: ArmLayout, loc: Location, index: Expr | None) -> Expr:
        if not lay.has_coh(loc.name):
            return Const(0)
        length = lay.length_of(loc.name)
        if length is None:
            return Var(lay.coh_var(loc.name, None))
        assert index is not None
        out: Expr = Var(lay.coh_var(loc.name, length - 1))
        for i in range(length - 2, -1, -1):
            out = ite(eq(index, i), Var(lay.coh_var(loc.name, i)), out)
        return out

    def _set_coh(self, lay: ArmLayout, loc: Location, index: Expr | None, value: Expr,
                 keep: Callable[[str], Expr] = Var) -> list[tuple[str, Expr]]:
        """Set ``coh`` of ``loc`` at ``index``; the other elements become ``keep(var)``."""
        if not lay.has_coh(loc.name):
            return []
        length = lay.length_of(loc.name)
        if length is None:
            return [(lay.coh_var(loc.name, None), value)]
        assert index is not None
        return [(lay.coh_var(loc.name, i), ite(eq(index, i), value,
                                                keep(lay.coh_var(loc.name, i))))
                for i in range(length)]

    def settled(self, lay: BufferLayout | None) -> Expr:
        return self._no_pending(self._arm(lay)) if lay is not None else TRUE

    def _no_pending(self, lay: ArmLayout) -> Expr:
        return eq(Var(lay.pend()), 0) if lay.sites else TRUE

    def _pending_at(self, lay: ArmLayout, loc: Location, index: Expr | None) -> Expr:
        """Whether the pending load (if any) is of ``loc`` at ``index``."""
        parts = []
        for s in lay.sites:
            if s.loc.name != loc.name:
                continue
            same: Expr = eq(Var(lay.pend()), s.id)
            if s.index is not None and index is not None:
                same = and_(same, eq(Var(lay.pidx()), index))
            parts.append(same)
        return or_(*parts) if parts else FALSE

    def _own_entry(self, lay: ArmLayout, k: int, loc: Location, index: Expr | None) -> Expr:
        conds: list[Expr] = [gt(Var(lay.n()), k)]
        if lay.with_var:
            conds.append(eq(Var(lay.var(k)), loc.var_id))
        if lay.with_index:
            conds.append(eq(Var(lay.idx(k)), index if index is not None else Const(0)))
        return and_(*conds)

    def _buffered(self, lay: ArmLayout, loc: Location) -> bool:
        return loc.name in lay.targets

    # ---------------------------------------------------------------- hooks
    def view_of(self, lay: BufferLayout | None, names: Iterable[str],
                known: Mapping[str, Expr] | None = None) -> Expr:
        a = self._arm(lay)
        parts: list[Expr] = []
        for r in sorted(set(names)):
            if known is not None and r in known:
                parts.append(known[r])
            elif r in a.regs:
                parts.append(Var(a.reg(r)))
        return vmax(*parts)

    def register_updates(self, lay: BufferLayout | None,
                         views: Mapping[str, Expr]) -> tuple[tuple[str, Expr], ...]:
        a = self._arm(lay)
        return tuple((a.reg(r), v) for r, v in views.items() if r in a.regs)

    def step_guard(self, lay: BufferLayout | None, touched: frozenset[str]) -> Expr:
        a = self._arm(lay)
        busy = [s.id for s in a.sites if s.dst in touched]
        if not busy:
            return TRUE
        return and_(*[ne(Var(a.pend()), i) for i in busy])

    # ---------------------------------------------------------------- loads
    def _pre_view(self, lay: ArmLayout, order: str, addr_view: Expr) -> Expr:
        parts = [addr_view]
        if lay.with_vrp:
            parts.append(Var(lay.vrp()))
        if order == "acquire" and lay.with_vrel:
            parts.append(Var(lay.vrel()))
        return vmax(*parts)

    def _read_effects(self, lay: ArmLayout, loc: Location, index: Expr | None, order: str,
                      post: Expr, coh: Expr | None) -> list[tuple[str, Expr]]:
        ups: list[tuple[str, Expr]] = []
        if coh is not None:
            ups += self._set_coh(lay, loc, index, coh)
        if lay.with_vrm:
            ups.append((lay.vrm(), vmax(Var(lay.vrm()), post)))
        if order == "acquire" and lay.with_vrp:
            ups.append((lay.vrp(), vmax(Var(lay.vrp()), post)))
        return ups

    def candidates(self, lay: ArmLayout, loc: Location, index: Expr | None, pre: Expr,
                   order: str) -> list[tuple[str, Expr, Expr, list[tuple[str, Expr]], Expr]]:
        """Every write a load of ``loc`` may read: (suffix, guard, value, updates,
        view of the loaded value)."""
        log = lay.log
        assert log is not None
        out: list[tuple[str, Expr, Expr, list[tuple[str, Expr]], Expr]] = []
        own = [k for k in range(lay.size)] if self._buffered(lay, loc) else []
        fwd: Expr = FALSE
        if own:  # the newest own buffered store to the location, if any
            value: Expr = Const(0)
            view: Expr = Const(0)
            hit: Expr = FALSE
            for k in own:
                at = self._own_entry(lay, k, loc, index)
                value = ite(at, Var(lay.val(k)), value)
                if lay.with_view:
                    view = ite(at, Var(lay.eview(k)), view)
                hit = or_(hit, at)
            post = vmax(pre, view)
            out.append(("@fwd", hit, value, self._read_effects(lay, loc, index, order,
                                                               post, None), post))
            fwd = hit
        coh = self._coh(lay, loc, index)
        if loc.name in {t.name for t in log.locations}:
            for j in range(0, log.depth + 1):
                later = [implies(le(Const(k), pre), not_(log.writes(k, loc, index)))
                         for k in range(j + 1, log.depth + 1)]
                if j == 0:
                    guard = and_(eq(coh, 0), *later)
                    value = memory_read(loc, index)
                    for k in range(log.depth, 0, -1):
                        value = ite(log.writes(k, loc, index), Var(log.old(k)), value)
                else:
                    guard = and_(log.writes(j, loc, index), le(coh, Const(j)), *later)
                    value = Var(log.val(j))
                post = vmax(pre, Const(j))
                out.append((f"@{j}", and_(not_(fwd), guard), value,
                            self._read_effects(lay, loc, index, order, post, Const(j)), post))
        else:  # nobody stores it: its initial value
            out.append(("", not_(fwd), memory_read(loc, index),
                        self._read_effects(lay, loc, index, order, pre, None), pre))
        return out

    def load_options(self, lay: BufferLayout | None, loc: Location, index: Expr | None,
                     order: str, addr_view: Expr,
                     site: LoadSite | None) -> list[LoadOption]:
        a = self._arm(lay)
        pre = self._pre_view(a, order, addr_view)
        base: list[Expr] = [not_(self._pending_at(a, loc, index))]  # CoRR
        if order == "acquire" and a.with_rel:  # a release before it must be visible
            base += [not_(and_(gt(Var(a.n()), k), eq(Var(a.rel(k)), 1)))
                     for k in range(a.size)]
        out = [LoadOption(sfx, value, Effect(and_(*base, g), tuple(ups)), post,
                          f"reads write #{sfx[1:]}" if sfx[1:].isdigit() else
                          ("reads its own buffered store" if sfx == "@fwd" else ""))
               for sfx, g, value, ups, post in self.candidates(a, loc, index, pre, order)]
        if site is not None and order == "plain" and any(s.id == site.id for s in a.sites):
            ups: list[tuple[str, Expr]] = [(a.pend(), Const(site.id)), (a.pview(), pre)]
            if index is not None and site.index is not None:
                ups.append((a.pidx(), index))
            out.append(LoadOption("@defer", None, Effect(and_(*base, self._no_pending(a)),
                                                         tuple(ups)), Const(0),
                                  "is left pending (performed later)"))
        return out

    # ---------------------------------------------------------------- stores
    def store(self, lay: BufferLayout | None, loc: Location, index: Expr | None,
              value: Expr, order: str = "plain", view: Expr = ZERO) -> Effect:
        a = self._arm(lay)
        eff = StoreBufferModel.store(self, a, loc, index, value, order)
        ups = list(eff.updates)
        n = Var(a.n())
        for k in range(a.size):
            at_k = eq(n, k)
            if a.with_rel:
                ups.append((a.rel(k), ite(at_k, 1 if order == "release" else 0,
                                          Var(a.rel(k)))))
            if a.with_view:
                ups.append((a.eview(k), ite(at_k, view, Var(a.eview(k)))))
        guard = [eff.guard, not_(self._pending_at(a, loc, index))]  # CoRW
        if order == "release":  # every earlier load is performed first
            guard.append(self._no_pending(a))
        return Effect(and_(*guard), tuple(ups))

    def _append(self, lay: ArmLayout, var: Expr, index: Expr | None, new: Expr,
                old: Expr) -> tuple[Expr, list[tuple[str, Expr]]]:
        """Append a write to the log: (its position, updates). A full log folds its
        oldest entry into memory and moves every view of every VM down one."""
        log = lay.log
        assert log is not None
        n = Var(log.n())
        full = eq(n, log.depth)
        ups: list[tuple[str, Expr]] = []
        for k in range(1, log.depth + 1):
            # entry k: shifted from k+1 when full; the new write lands at n+1 (or depth)
            lands = or_(and_(full, eq(Const(k), log.depth)),
                        and_(not_(full), eq(n, k - 1)))
            new_fields: dict[str, Expr] = {log.val(k): new, log.old(k): old}
            if log.with_var:
                new_fields[log.var(k)] = var
            if log.with_index:
                new_fields[log.idx(k)] = index if index is not None else Const(0)
            for i, name in enumerate(log.fields(k)):
                nxt = log.fields(k + 1)[i] if k < log.depth else name
                ups.append((name, ite(lands, new_fields[name],
                                      ite(full, Var(nxt), Var(name)))))
        ups.append((log.n(), ite(full, n, add(n, 1))))
        ups += [(v, _shifted(lay, v)) for v in log.views]
        pos = ite(full, Const(log.depth), add(n, 1))
        return pos, ups

    @staticmethod
    def _merge(*groups: Iterable[tuple[str, Expr]]) -> tuple[tuple[str, Expr], ...]:
        """Updates where a later group's write to a variable replaces an earlier one's,
        evaluated on the state before (the later write sees the pre-state too)."""
        out: dict[str, Expr] = {}
        for g in groups:
            for k, v in g:
                out[k] = v
        return tuple(out.items())

    def _own_coh(self, lay: ArmLayout, pos: Expr, loc: Location,
                 index: Expr | None) -> list[tuple[str, Expr]]:
        """A VM's own write at ``pos`` to ``loc``: its ``coh`` there (after the shift)."""
        return self._set_coh(lay, loc, index, pos, lambda v: _shifted(lay, v))

    def _own_views(self, lay: ArmLayout, pos: Expr, release: Expr) -> list[tuple[str, Expr]]:
        """A VM's own write at ``pos``: its ``vwm`` and (a release) ``vrel``."""
        ups: list[tuple[str, Expr]] = []
        if lay.with_vwm:
            ups.append((lay.vwm(), pos))
        if lay.with_vrel:
            ups.append((lay.vrel(), ite(release, pos, _shifted(lay, lay.vrel()))))
        return ups

    # ---------------------------------------------------------------- flushes
    def internal(self, lay: BufferLayout, locations: Sequence[Location]) -> list[Internal]:
        a = self._arm(lay)
        out: list[Internal] = []
        own_views = {a.eview(k) for k in range(a.size)} if a.with_view else set()
        for move in StoreBufferModel.internal(self, a, locations):
            j = self.internal_entry(move.name) or 0
            guard = move.guard
            if a.with_rel:  # a release store leaves only when it is the oldest
                guard = and_(guard, implies(eq(Var(a.rel(j)), 1), Const(j == 0)))
            commit = self._commit(a, locations, j)
            # the PSO flush writes memory and shifts the buffer; the entries' views
            # also move down with the log
            shifted = tuple((v, _shifted(a, v, e) if v in own_views else e)
                            for v, e in move.updates)
            out.append(Internal(move.name, guard, self._merge(commit, shifted),
                                move.text, move.group))
        for s in a.sites:
            out += self._resolves(a, s)
        return out

    def _commit(self, lay: ArmLayout, locations: Sequence[Location], j: int
                ) -> tuple[tuple[str, Expr], ...]:
        """Entry ``j`` reaching memory: the log and every view (a value-less entry of
        a sliced-away variable changes neither)."""
        idx: Expr | None = Var(lay.idx(j)) if lay.with_index else None
        real: Expr = TRUE
        if lay.with_var:
            var: Expr = Var(lay.var(j))
            old: Expr = Const(0)
            for t in locations:
                old = ite(eq(var, t.var_id),
                          memory_read(t, (idx if idx is not None else Const(0))
                                      if t.is_array else None), old)
            if lay.phantoms:
                real = or_(*[eq(var, t.var_id) for t in locations])
        else:
            (t,) = locations
            var = Const(t.var_id)
            old = memory_read(t, (idx if idx is not None else Const(0))
                              if t.is_array else None)
        pos, ups = self._append(lay, var, idx, Var(lay.val(j)), old)
        release = eq(Var(lay.rel(j)), 1) if lay.with_rel else FALSE
        own: list[tuple[str, Expr]] = []
        for t in locations:
            mine = eq(var, t.var_id)
            t_idx = (idx if idx is not None else Const(0)) if t.is_array else None
            own += [(name, ite(mine, e, _shifted(lay, name)))
                    for name, e in self._own_coh(lay, pos, t, t_idx)]
        own += self._own_views(lay, pos, release)
        merged = self._merge(ups, own)
        if isinstance(real, Const):
            return merged
        return tuple((v, ite(real, e, Var(v))) for v, e in merged)

    def _resolves(self, lay: ArmLayout, s: LoadSite) -> list[Internal]:
        index = Var(lay.pidx()) if s.index is not None else None
        pre = Var(lay.pview())
        out: list[Internal] = []
        for sfx, g, value, ups, post in self.candidates(lay, s.loc, index, pre, "plain"):
            v = value if s.modulus is None else mod(value, s.modulus)
            more: list[tuple[str, Expr]] = [(s.dst_var, v), (lay.pend(), Const(0))]
            if s.dst in lay.regs:
                more.append((lay.reg(s.dst), post))
            name = f"resolve({lay.process}:{s.label}{sfx})"
            out.append(Internal(name, and_(eq(Var(lay.pend()), s.id), g),
                                tuple(ups) + tuple(more),
                                f"{lay.process}'s pending load {s.dst} := {s.loc.name} is "
                                f"performed ({sfx[1:] if sfx else 'initial value'})",
                                group=f"resolve.{lay.process}"))
        return out

    def internal_entry(self, name: str) -> int | None:
        if name.startswith("resolve("):
            return None
        return super().internal_entry(name)

    # ---------------------------------------------------------------- fences, RMW
    def fence_drains(self, kind: str) -> bool:
        return kind == "full"

    def fence(self, lay: BufferLayout | None, kind: str) -> Effect:
        a = self._arm(lay)
        match kind:
            case "full":
                ups = []
                if a.with_vrp:
                    ups.append((a.vrp(), vmax(Var(a.vrp()),
                                              *([Var(a.vrm())] if a.with_vrm else []),
                                              *([Var(a.vwm())] if a.with_vwm else []))))
                return Effect(and_(eq(Var(a.n()), 0), self._no_pending(a)), tuple(ups))
            case "load":
                ups = []
                if a.with_vrp and a.with_vrm:
                    ups.append((a.vrp(), vmax(Var(a.vrp()), Var(a.vrm()))))
                return Effect(self._no_pending(a), tuple(ups))
            case _:
                return StoreBufferModel.fence(self, a, kind)

    def serializing(self, lay: BufferLayout | None) -> Effect:
        """A doorbell write or a wait: fully ordered; the VM then sees all of memory."""
        a = self._arm(lay)
        log = a.log
        assert log is not None
        ups = []
        if a.with_vrp:
            ups.append((a.vrp(), Var(log.n())))
        return Effect(and_(eq(Var(a.n()), 0), self._no_pending(a)), tuple(ups))

    def rmw(self, lay: BufferLayout | None, loc: Location, index: Expr | None,
            new: Callable[[Expr], Expr]) -> tuple[Expr, Effect]:
        a = self._arm(lay)
        old = memory_read(loc, index)
        written = new(old)
        pos, ups = self._append(a, Const(loc.var_id), index, written, old)
        own = self._own_coh(a, pos, loc, index) + self._own_views(a, pos, FALSE)
        mine: list[tuple[str, Expr]] = [memory_write(loc, index, written)]
        if a.with_vrp:
            mine.append((a.vrp(), pos))
        if a.with_vrm:
            mine.append((a.vrm(), pos))
        return old, Effect(and_(eq(Var(a.n()), 0), self._no_pending(a),
                                not_(self._pending_at(a, loc, index))),
                           self._merge(ups, own, mine))

    def rmw_view(self, lay: BufferLayout | None) -> Expr:
        a = self._arm(lay)
        assert a.log is not None
        return ite(eq(Var(a.log.n()), a.log.depth), Const(a.log.depth),
                   add(Var(a.log.n()), 1))

    # ---------------------------------------------------------------- concrete
    def concrete(self, depth: int | None) -> Concrete:
        raise ParamError("conformance testing under the arm model is not supported yet "
                         "(its loads may read older writes, which the in-process "
                         "scheduler and the trace validator cannot offer); use -m sc, "
                         "tso or pso")

    # ---------------------------------------------------------------- narration
    def describe_state(self) -> str:
        return ("Each VM has a store buffer whose stores to different locations may "
                "drain in any order (a flush step), and its loads may read a write older "
                "than memory's newest unless a fence, an acquire or a dependency orders "
                "them.")

    def internal_is_load(self, name: str) -> bool:
        return name.startswith("resolve(")

    def describe_load(self, command: str, process: str, var: str, value: str,
                      newest: str) -> str:
        way = command.rpartition("@")[2] if "@" in command else ""
        if way == "defer":
            return (f"; the load is left pending: {process} goes on and performs it "
                    f"later (Arm lets a load be performed after later accesses)")
        if way.isdigit() and value != newest:
            return (f", an older value than the newest in memory ({var}={newest}): "
                    f"nothing orders this load after the write it missed, so Arm lets "
                    f"it be satisfied early")
        return ""

    def describe_fence(self, process: str, kind: str) -> str:
        match kind:
            case "full":
                return (f"{process} executes dmb ish (smp_mb): it waits until its store "
                        f"buffer is empty and its pending load is performed, and no later "
                        f"load may read older than what it has read and written")
            case "load":
                return (f"{process} executes dmb ishld (smp_rmb): later loads may not "
                        f"read older than what it has already read")
            case _:
                return (f"{process} executes dmb ishst (smp_wmb): stores before it reach "
                        f"memory before stores after it")


def _shifted(lay: ArmLayout, v: str, e: Expr | None = None) -> Expr:
    """View ``v`` (or the view expression ``e``) after a write is appended: one
    position lower when the log was full."""
    log = lay.log
    assert log is not None
    x = Var(v) if e is None else e
    return ite(eq(Var(log.n()), log.depth), _down(x), x)


MODEL = ARM()
