"""The verdict matrix: every variant × memory model × property, with the engine chosen.

``auto`` explores the finite instance exhaustively (exact verdicts, shortest
counterexamples and lassos), then, for safety properties that hold there, asks
Spacer for a proof over every parameter value (symbolic ring capacity and request
count, cone-of-influence sliced before the memory model). It does not attempt the
unbounded proof when the property depends on ring contents (an unbounded array: that
needs a quantified invariant), and it reports the finite verdict with its scope,
and why, whenever no unbounded proof was obtained. Liveness is decided on the finite
instance (liveness-to-safety is complete only for finite-state systems).

>>> from intervm.spec.protocols import get_protocol
>>> checker = Checker(get_protocol("coalescing"), CheckOptions(timeout=30))
>>> cell = checker.check("no_recheck", "sc", "no_lost_wakeup")
>>> cell.verdict.text, cell.expected, cell.matches
('VIOLATED (10 steps)', 'violated', True)
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import signal
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from typing import Any, assert_never

from intervm.impl import children
from intervm.model import memory
from intervm.model.bmc import bmc
from intervm.model.budget import MemoryBudget
from intervm.model.buffer_bound import projection, store_bound
from intervm.model.chc import spacer
from intervm.model.compile import compile_spec
from intervm.model.explicit import StateGraph, check, explore
from intervm.model.kind import kinduction
from intervm.model.liveness import l2s_spacer, lasso_bmc
from intervm.model.slicing import compile_sliced
from intervm.model.system import CAlways, CEventually, CSometimes, System
from intervm.model.verdict import Status, Verdict
from intervm.spec.errors import EngineError, ParamError
from intervm.spec.protocol import Protocol

ENGINES = ("auto", "explicit", "bmc", "kind", "spacer", "l2s", "spin")
# loop-free specs: a buffer as deep as the most stores a VM issues is used up to this
# depth (litmus tests need 1-3), deeper ones fall back to growing by stabilisation
MAX_EXACT_BUFFER = 8


@dataclass(frozen=True, slots=True)
class CheckOptions:
    """How to check: engine, per-call time limit (s), BMC depth, store-buffer size,
    parameter overrides for the finite instance, whether auto tries unbounded
    proofs, and the memory budget of each search (default: half the memory
    available when the options are made; :func:`run` shares it among workers).

    ``grow_buffer``: under TSO/PSO, an absence verdict of the explicit engine (HOLDS,
    UNREACHABLE) is re-checked with deeper buffers: to the most stores a VM can
    issue when no process loops (exact: the buffer never fills), else one entry at
    a time up to ``max_buffer`` until the values the property reads stop changing
    (see :mod:`intervm.model.buffer_bound`)."""

    engine: str = "auto"
    timeout: float = 30.0
    bmc_depth: int = 30
    buffer: int = 2
    params: Mapping[str, int] = field(default_factory=dict)
    unbounded: bool = True
    memory: MemoryBudget = field(default_factory=MemoryBudget.default)
    grow_buffer: bool = True
    max_buffer: int = 3

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ParamError(
                f"engine {self.engine!r} is unknown; choose one of {', '.join(ENGINES)}"
            )
        if self.timeout <= 0:
            raise ParamError(f"timeout {self.timeout} must be positive (seconds)")
        if self.buffer < 1:
            raise ParamError(f"store buffer size {self.buffer} must be at least 1")


@dataclass(frozen=True, slots=True)
class Cell:
    """One cell of the matrix. ``verdict`` is None when the engine does not apply."""

    protocol: str
    variant: str
    memory_model: str
    prop: str
    kind: str  # always | sometimes | eventually
    expected: str  # holds | violated
    verdict: Verdict | None
    note: str = ""

    @property
    def matches(self) -> bool:
        """True when the verdict says what the variant declares (UNKNOWN never does)."""
        return self.verdict is None or self.verdict.agrees_with(self.expected)

    def short_text(self, *, with_scope: bool = True) -> str:
        """The verdict in a few characters, for a matrix cell (``with_scope``: name the
        finite scope of a PROVED that is not for all parameters)."""
        v = self.verdict
        if v is None:
            return "—"
        match v.status:
            case Status.PROVED if self.kind == "sometimes":
                return f"REACHED {v.depth}" if v.depth is not None else "REACHABLE ∀"
            case Status.PROVED:
                if v.scope.startswith("for all"):
                    return "PROVED ∀"
                return f"PROVED {v.scope}" if with_scope else "PROVED"
            case Status.HOLDS:
                return "HOLDS"
            case Status.BOUNDED:
                return f"HOLDS ≤{v.depth}"
            case Status.VIOLATED if self.kind == "sometimes":
                return "UNREACHABLE"
            case Status.VIOLATED:
                return f"VIOLATED {v.depth}" if v.depth is not None else "VIOLATED"
            case Status.UNKNOWN:
                return "UNKNOWN"
            case _:
                assert_never(v.status)

    def to_dict(self) -> dict[str, Any]:
        v = self.verdict
        out: dict[str, Any] = {
            "protocol": self.protocol,
            "variant": self.variant,
            "memory_model": self.memory_model,
            "property": self.prop,
            "kind": self.kind,
            "expected": self.expected,
            "matches": self.matches,
            "note": self.note,
        }
        if v is None:
            out["verdict"] = None
            return out
        out["verdict"] = {
            "status": v.status.name,
            "text": v.text,
            "engine": v.engine,
            "seconds": round(v.seconds, 4),
            "depth": v.depth,
            "states": v.states,
            "scope": v.scope,
            "reason": v.reason,
            "invariant": v.invariant,
            "buffer": v.buffer,
            "buffer_bound": v.buffer_bound,
            "bound": v.bound_name if v.buffer is not None else None,
            "trace": None if v.trace is None else v.trace.to_json(),
        }
        return out


def _kind(system: System, prop: str) -> str:
    match system.prop(prop):
        case CAlways():
            return "always"
        case CSometimes():
            return "sometimes"
        case CEventually():
            return "eventually"


class Checker:
    """Checks cells of one protocol, caching compiled systems and explored graphs."""

    def __init__(self, protocol: Protocol, options: CheckOptions | None = None):
        self.protocol = protocol
        self.options = options or CheckOptions()
        self._systems: dict[tuple[Any, ...], System] = {}
        self._graphs: dict[tuple[str, str, int], StateGraph] = {}

    # ------------------------------------------------------------ instances

    def finite_params(self, variant: str) -> dict[str, int | None]:
        params = self.protocol.params_for(variant, unbounded=False)
        params.update(self.options.params)
        return params

    def system(self, variant: str, mm: str, *, unbounded: bool = False,
               buffer: int | None = None) -> System:
        depth = self.options.buffer if buffer is None else buffer
        key = (variant, mm, unbounded, depth)
        if key not in self._systems:
            params = (self.protocol.params_for(variant, unbounded=True) if unbounded
                      else self.finite_params(variant))
            sys = compile_spec(self.protocol.spec(variant), params, mm, depth,
                               budget=self.options.memory)
            self._systems[key] = replace(sys, variant=variant)
        return self._systems[key]

    def sliced(self, variant: str, mm: str, prop: str, *, exact: bool = False) -> System:
        key = (variant, mm, "sliced", prop, exact)
        if key not in self._systems:
            params = self.protocol.params_for(variant, unbounded=True)
            sys = compile_sliced(self.protocol.spec(variant), params, mm, prop,
                                 self.options.buffer, exact_buffer=exact)
            self._systems[key] = replace(sys, variant=variant)
        return self._systems[key]

    def _spacer(self, variant: str, mm: str, prop: str) -> Verdict:
        """Spacer on the sliced system. The default slice gives unobserved stores no
        buffer entry (easier proofs, sound for them), so a violation or witness it
        finds may need a deeper buffer than ``--buffer``: that one is decided again
        on the exact slice, where the buffer fills up as in the whole system."""
        cheap = self.sliced(variant, mm, prop)
        v = spacer(cheap, prop, self.options.timeout, variant, self.options.memory)
        if not memory.get(mm).buffered or v.status not in (Status.VIOLATED, Status.PROVED) \
                or v.depends_on_buffer:
            return v
        exact = self.sliced(variant, mm, prop, exact=True)
        if exact.vars == cheap.vars and exact.commands == cheap.commands:
            return v
        return spacer(exact, prop, self.options.timeout, variant, self.options.memory)

    def graph(self, variant: str, mm: str, buffer: int | None = None) -> StateGraph:
        depth = self.options.buffer if buffer is None else buffer
        key = (variant, mm, depth)
        if key not in self._graphs:
            self._graphs[key] = explore(self.system(variant, mm, buffer=depth),
                                        variant=variant, memory=self.options.memory)
        return self._graphs[key]

    def properties(self, variant: str) -> list[str]:
        return [p.name for p in self.protocol.spec(variant).properties]

    # ------------------------------------------------------------ one cell

    def check(self, variant: str, mm: str, prop: str) -> Cell:
        if mm not in memory.MODELS:
            raise ParamError(f"memory model {mm!r} is unknown; choose one of "
                             f"{', '.join(memory.names())}")
        v = self.protocol.variant(variant)
        if prop not in self.properties(variant):
            raise ParamError(f"protocol {self.protocol.name!r} has no property {prop!r}; "
                             f"its properties are {', '.join(self.properties(variant))}")
        sys = self.system(variant, mm)
        kind = _kind(sys, prop)
        verdict, note = self._run(variant, mm, prop, kind)
        if verdict is not None and memory.get(mm).buffered and verdict.buffer is None:
            verdict = replace(verdict, buffer=self.options.buffer)
        if verdict is not None and verdict.buffer is not None:
            verdict = replace(verdict, bound_name=memory.get(mm).bound_name)
        if verdict is not None and verdict.trace is not None:
            verdict = replace(verdict, trace=replace(verdict.trace, variant=variant))
        return Cell(self.protocol.name, variant, mm, prop, kind, v.expected(prop, mm),
                    verdict, note)

    def _run(self, variant: str, mm: str, prop: str, kind: str) -> tuple[Verdict | None, str]:
        o = self.options
        mem = o.memory
        fin = self.system(variant, mm)
        match o.engine:
            case "auto":
                return self._auto(variant, mm, prop, kind)
            case "explicit":
                return self._finite(variant, mm, prop, kind), ""
            case "bmc":
                if kind == "eventually":
                    return lasso_bmc(fin, prop, o.bmc_depth, o.timeout, variant, mem), ""
                return bmc(fin, prop, o.bmc_depth, o.timeout, variant, mem), ""
            case "kind":
                if kind == "eventually":
                    return None, "k-induction checks safety only"
                return kinduction(fin, prop, o.bmc_depth, o.timeout, variant,
                                  memory=mem), ""
            case "spacer":
                if kind == "eventually":
                    return l2s_spacer(fin, prop, o.timeout, variant, mem), ""
                return self._spacer(variant, mm, prop), ""
            case "l2s":
                if kind != "eventually":
                    return None, "liveness-to-safety checks liveness only"
                return l2s_spacer(fin, prop, o.timeout, variant, mem), ""
            case "spin":
                from intervm.model.spin import spin_check  # optional engine, loaded on demand

                return spin_check(fin, prop, o.timeout, memory=mem), ""
            case _:
                raise EngineError(f"engine {o.engine!r} is not wired into the checker")

    def _finite(self, variant: str, mm: str, prop: str, kind: str) -> Verdict:
        """The explicit engine's verdict; under TSO/PSO an absence verdict is grown to
        a deeper buffer when ``grow_buffer`` (see :class:`CheckOptions`)."""
        d = self.options.buffer
        v = check(self.graph(variant, mm), prop)
        if (not memory.get(mm).buffered or kind == "eventually" or not self.options.grow_buffer
                or not v.depends_on_buffer):
            return v
        n = store_bound(self.protocol.spec(variant), memory.get(mm).bound_scope)
        if n is not None and n <= max(d, MAX_EXACT_BUFFER):
            if n <= d:
                return replace(v, buffer=n, buffer_bound="unbounded")
            deep = check(self.graph(variant, mm, n), prop)
            if deep.status is not Status.UNKNOWN:
                return replace(deep, buffer=n,
                               buffer_bound="unbounded" if deep.depends_on_buffer else "")
        before = projection(self.graph(variant, mm), prop)
        for depth in range(d + 1, max(d, self.options.max_buffer) + 1):
            deep = check(self.graph(variant, mm, depth), prop)
            if deep.status is Status.UNKNOWN:  # e.g. the state limit: keep what we have
                return replace(v, buffer=depth - 1, buffer_bound="largest checked")
            if not deep.depends_on_buffer:  # a deeper buffer shows a violation
                return replace(deep, buffer=depth)
            after = projection(self.graph(variant, mm, depth), prop)
            if after == before:
                return replace(v, buffer=depth - 1, buffer_bound="sufficient")
            before, v = after, deep
        return replace(v, buffer=max(d, self.options.max_buffer),
                       buffer_bound="largest checked")

    def _auto(self, variant: str, mm: str, prop: str, kind: str) -> tuple[Verdict, str]:
        fin = self._finite(variant, mm, prop, kind)
        if not self.options.unbounded or kind == "eventually":
            return fin, ""
        if kind == "always" and fin.status is not Status.HOLDS:
            return fin, ""
        if kind == "sometimes" and fin.status is not Status.VIOLATED:
            return fin, ""
        try:
            sliced = self.sliced(variant, mm, prop)
        except ParamError as e:
            return fin, f"no unbounded proof: {e}"
        if sliced.is_finite:
            return fin, "no parameter can be left symbolic in this variant"
        arrays = [v.name for v in sliced.vars if v.is_array and v.length is None]
        if arrays:
            return fin, (f"unbounded proof not attempted: the property depends on the "
                         f"contents of {', '.join(arrays)} (an unbounded array needs a "
                         "quantified invariant)")
        plan = self.protocol.prove
        if plan is not None and prop not in plan:
            return fin, ("unbounded proof not attempted: the protocol's proof plan does "
                         "not list this property (Spacer does not finish on it)")
        t0 = time.perf_counter()
        unb = self._spacer(variant, mm, prop)
        match unb.status:
            case Status.PROVED:
                return replace(unb, states=fin.states), ""
            case Status.VIOLATED if kind == "always":
                trace_v = bmc(self.system(variant, mm, unbounded=True), prop,
                              self.options.bmc_depth, self.options.timeout, variant,
                              self.options.memory)
                if trace_v.status is Status.VIOLATED:
                    return replace(trace_v, engine="spacer+bmc",
                                   seconds=time.perf_counter() - t0), ""
                return unb, "Spacer found a violation for larger parameters; BMC found " \
                            f"no trace within {self.options.bmc_depth} steps"
            case Status.VIOLATED:  # a Sometimes that is unreachable for every parameter
                return unb, ""
            case _:
                return fin, f"no unbounded proof: Spacer {unb.reason}"


@dataclass(frozen=True, slots=True)
class Job:
    protocol: Protocol
    variant: str
    memory_model: str
    props: tuple[str, ...]


def plan(protocols: Iterable[Protocol], variants: Iterable[str] = (),
         memory_models: Iterable[str] = (), props: Iterable[str] = ()) -> list[Job]:
    """The jobs (one per protocol × variant × memory model) the filters select."""
    want_v, want_m, want_p = set(variants), set(memory_models), set(props)
    for m in want_m:
        if m not in memory.MODELS:
            raise ParamError(f"memory model {m!r} is unknown; choose one of "
                             f"{', '.join(memory.names())}")
    jobs = []
    seen_v: set[str] = set()
    seen_p: set[str] = set()
    for proto in protocols:
        for v in proto.variants:
            if want_v and v.name not in want_v:
                continue
            seen_v.add(v.name)
            names = [p.name for p in proto.spec(v.name).properties]
            seen_p.update(names)
            chosen = tuple(n for n in names if not want_p or n in want_p)
            for m in v.memory_models:
                if want_m and m not in want_m:
                    continue
                if chosen:
                    jobs.append(Job(proto, v.name, m, chosen))
    if missing := want_v - seen_v:
        raise ParamError(f"no variant named {', '.join(sorted(missing))}; see "
                         "`intervm verify --list` for the variants")
    if missing := want_p - seen_p:
        raise ParamError(f"no property named {', '.join(sorted(missing))}; see "
                         "`intervm verify --list` for the properties")
    if not jobs and want_m and seen_v:
        opt_in = sorted(m for m in want_m if not memory.get(m).in_default)
        if opt_in:
            raise ParamError(
                f"no selected variant is checked under {', '.join(opt_in)}: that model is "
                "opt-in, a variant lists it in its memory_models (see "
                "docs/memory-models.md; examples/litmus/arm.py does)")
    return jobs


def run_job(job: Job, options: CheckOptions) -> list[Cell]:
    checker = Checker(job.protocol, options)
    return [checker.check(job.variant, job.memory_model, p) for p in job.props]


def unsendable(jobs: Iterable[Job]) -> str | None:
    """Why ``jobs`` cannot be sent to worker processes (None: they can).

    Worker processes receive each job pickled; a protocol whose builder or knobs
    is a lambda or a function defined inside another function does not pickle.

    >>> from intervm.spec.protocols import get_protocol
    >>> unsendable(plan([get_protocol("coalescing")], ["correct"], ["sc"])) is None
    True
    """
    for proto in {id(j.protocol): j.protocol for j in jobs}.values():
        try:
            pickle.dumps(proto)
        except Exception as e:  # PicklingError, AttributeError, TypeError ...
            why = " ".join(str(e).split())
            return (f"protocol {proto.name!r} cannot be sent to worker processes "
                    f"({type(e).__name__}: {why}); define its builder and knobs at module "
                    "level (no lambdas or nested functions) to check it with --jobs")
    return None


def run(jobs: list[Job], options: CheckOptions, jobs_in_parallel: int = 1,
        on_done: Callable[[Job, list[Cell]], None] | None = None) -> list[Cell]:
    """Run ``jobs`` (in worker processes when ``jobs_in_parallel > 1``), in order.

    Jobs that cannot be sent to worker processes (:func:`unsendable`) run in this
    one; callers that want to say so check :func:`unsendable` first.
    """
    results: dict[int, list[Cell]] = {}
    serial = jobs_in_parallel <= 1 or len(jobs) <= 1 or unsendable(jobs) is not None
    workers = 1 if serial else min(jobs_in_parallel, len(jobs))
    options = replace(options, memory=options.memory.share(workers))
    if serial:
        for i, job in enumerate(jobs):
            results[i] = run_job(job, options)
            if on_done:
                on_done(job, results[i])
    else:
        # the workers' temporary files (SPIN's build directories) live in one directory
        # of ours, so they are gone even when the workers had to be killed
        with tempfile.TemporaryDirectory(prefix="intervm-verify-",
                                         ignore_cleanup_errors=True) as tmp:
            pool = ProcessPoolExecutor(max_workers=jobs_in_parallel,
                                       mp_context=multiprocessing.get_context("fork"),
                                       initializer=_worker_init, initargs=(os.getpid(), tmp))
            try:
                futs = {pool.submit(run_job, job, options): i for i, job in enumerate(jobs)}
                for fut in as_completed(futs):
                    i = futs[fut]
                    results[i] = fut.result()
                    if on_done:
                        on_done(jobs[i], results[i])
            except BaseException:  # an interrupt or a failed job: do not wait for the rest
                _kill_workers(pool)
                raise
            pool.shutdown()
    return [c for i in range(len(jobs)) for c in results[i]]


def _worker_init(parent: int, tmp: str) -> None:
    """In each worker: die with the parent, own process group, default signals."""
    children.die_with_parent(parent)
    os.setpgid(0, 0)  # a terminal's Ctrl-C goes to the parent, which stops the workers
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)  # not the parent's inherited handlers
    tempfile.tempdir = tmp


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started and SIGKILL every worker (with its process group)."""
    workers = list(pool._processes.values())  # 3.11 has no public terminate_workers()
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in workers:
        if proc.pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, ValueError):
            proc.kill()  # not yet a group leader (its initializer had not run)
    for proc in workers:
        proc.join(timeout=children.REAP_TIMEOUT_S)
