"""In-process, deterministic conformance testing: a Hypothesis state machine generated
from the spec drives a Python implementation's real code.

:func:`machine_for` builds a ``RuleBasedStateMachine`` (nobody subclasses anything):
one rule per spec process ("role R performs its next shared access"), one burst rule
per process ("R runs for n accesses"), one "flush R's oldest buffered store" rule per
role under TSO/PSO, and one invariant per checked property. Hypothesis chooses the
schedule, :func:`minimize` shortens a failure, restarts from other seeds look for a
shorter one; :func:`test` returns the shortest in the one trace form, and
:func:`replay` re-runs exactly that schedule.

>>> from intervm.conformance.broken import by_name
>>> impl = by_name("coalescing/no_recheck")
>>> r = test(impl, "sc", max_examples=200)        # every access checked against the spec
>>> r.passed, r.finding.prop, r.finding.detail.split("(woken)")[0]
(False, 'refines_spec', 'step 10: line 10 (C: wait irq ')
>>> r = test(impl, "sc", max_examples=200, refine=False)  # the properties alone
>>> r.finding.prop, len(r.finding.schedule)
('no_lost_wakeup', 8)
>>> replay(impl, r.finding.trace, refine=False).prop
'no_lost_wakeup'
"""

from __future__ import annotations

import io
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis import seed as hyp_seed
from hypothesis import strategies as st
from hypothesis.internal.conjecture.providers import HypothesisProvider
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from rich.console import Console
from rich.table import Table
from rich.text import Text

from intervm.conformance.binding import BINDINGS, TIMER_ROLES
from intervm.conformance.events import Event
from intervm.conformance.implementation import (
    SPEC_BUFFER,
    START,
    Implementation,
    Oracle,
    Violation,
    oracle_for,
)
from intervm.conformance.refine import Divergence, Validator
from intervm.conformance.sched import Access, Loc, Role, Run, TargetAborted, TesterError
from intervm.conformance.tracecheck import system_for
from intervm.model import memory
from intervm.model.budget import MemoryBudget
from intervm.model.compile import compile_spec
from intervm.model.evaluate import Semantics
from intervm.model.explicit import check, explore
from intervm.model.memory.buffer import count_var
from intervm.model.system import System
from intervm.model.trace import Trace, TraceStep
from intervm.spec.errors import TraceError, ended_by
from intervm.spec.protocols import get_protocol

DEFAULT_EXAMPLES = 300
# Protocols whose accesses are checked against the spec's transition relation. Timer:
# the roles W, S and C (requests and completions included) against the seqlock with
# 64-bit ticks from START (the binding splits them into 32-bit words across the carry).
# Every memory model: the binding omits the spec's W.iret full fence (see binding.TIMER;
# our adapter's interrupt-return fence is then an extra fence, allowed on an empty
# buffer).
REFINED = frozenset({"coalescing", "timer"})
TIMER_REFINED_ROLES = frozenset({"W", "S", "C"})
# Coalescing variants whose shared layout differs from the correct flag protocol's (an
# event index instead of the flag; a second producer and a reservation counter):
# the correct variant is no reference for them, so only the properties are checked.
UNREFINED_VARIANTS = frozenset({"event_index", "event_index_wrap", "two_producers",
                                "producer_clears", "producer_clears_edge"})
STEPS = {"coalescing": 60, "timer": 80}  # stateful_step_count: enough for a whole run
RESTARTS = 5  # searches from other seeds after a failure, for a shorter one
RESTART_EXAMPLES = 300  # runs each restart may start
MINIMIZE_RUNS = 2000  # replays the minimizing pass may spend (a count: deterministic)
BURST = 24  # most accesses one "role R runs" rule performs without another role moving


class Failed(AssertionError):
    """A property failed; carries the schedule and the trace of the failing run."""

    def __init__(self, violation: Violation, schedule: tuple[str, ...], trace: Trace):
        super().__init__(f"{violation.prop}: {violation.detail}")
        self.violation = violation
        self.schedule = schedule
        self.trace = trace


@dataclass(frozen=True, slots=True)
class Finding:
    """A shrunk failure: the property, what was seen, the schedule and its trace."""

    prop: str
    detail: str
    schedule: tuple[str, ...]
    trace: Trace


@dataclass(frozen=True, slots=True)
class Result:
    """The outcome of testing one implementation under one memory model."""

    impl: str
    memory_model: str
    passed: bool
    examples: int
    steps: int
    seconds: float
    first_failure_s: float | None = None
    finding: Finding | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """What one state machine tests: an implementation, a memory model, the instance."""

    impl: Implementation
    memory_model: str
    params: Mapping[str, int]
    oracle: Oracle
    system: System | None = None  # the correct spec, compiled: every access is checked
    refined_roles: frozenset[str] = frozenset()  # whose accesses are fed to the spec
    memory: MemoryBudget | None = None  # the refinement's budget (None: the default)

    @staticmethod
    def of(impl: Implementation, memory_model: str, refine: bool = True,
           budget: MemoryBudget | None = None) -> Target:
        if memory_model not in memory.MODELS:
            raise TesterError(f"memory model {memory_model!r} is not one of "
                              f"{', '.join(memory.names())}")
        if impl.buffer < 1:
            raise TesterError(f"implementation {impl.name} declares buffer={impl.buffer}: a "
                              "store buffer needs at least 1 entry (2, the default, is the "
                              "spec compiler's bound)")
        params = impl.instance_params()
        system = None
        roles = frozenset(roles_of(impl, params))
        fed: frozenset[str] = frozenset()
        if refine and impl.protocol in REFINED:
            if impl.protocol == "coalescing" and impl.variant not in UNREFINED_VARIANTS:
                spec = get_protocol(impl.protocol).spec(_ref_variant(impl.protocol))
                system = compile_spec(spec, dict(params), memory_model, buffer=impl.buffer,
                                      budget=budget)
                fed = roles
            elif (impl.protocol == "timer" and roles == TIMER_REFINED_ROLES
                  and _seqlock_layout(impl.variant)):
                system = system_for("timer", "seqlock", memory_model,
                                    {"start": START, "ticks": params["ticks"] + 1,
                                     "reads": params["reads"]}, buffer=impl.buffer,
                                    memory=budget)
                fed = TIMER_REFINED_ROLES
        spec_procs = {p.name for p in get_protocol(impl.protocol).spec(
            _ref_variant(impl.protocol)).processes} | {"W1", "W2", "P1", "P2"}
        unknown = sorted(roles - spec_procs)
        if unknown:
            raise TesterError(
                f"implementation {impl.name} has roles {', '.join(unknown)} that are not "
                f"processes of the {impl.protocol} spec; name roles after "
                f"{', '.join(sorted(spec_procs - {'clock'}))}")
        return Target(impl, memory_model, params, oracle_for(impl), system, fed, budget)

    def new_run(self) -> Run:
        roles = roles_of(self.impl, self.params)
        latched = {"irq": True} if self.impl.protocol == "coalescing" else {"req": True,
                                                                          "cpl": True}
        latched.update(self.impl.doorbells)
        initial: dict[Loc, int] = {(f, None): v for f, v in self.impl.registers.items()}
        return Run(roles, self.memory_model, latched, initial, buffer_size=self.impl.buffer,
                   registers=frozenset(self.impl.registers))

    @property
    def properties(self) -> tuple[str, ...]:
        refined = ("refines_spec",) if self.system is not None else ()
        return ("implementation_error", *refined, *self.oracle.properties)


def roles_of(impl: Implementation, params: Mapping[str, int]) -> dict[str, Role]:
    """``impl.roles(params)``; what goes wrong there is the tester's error, not a
    verdict: :class:`TesterError` for an Exception, :class:`TargetAborted` for
    ``sys.exit()`` and the like."""
    try:
        return dict(impl.roles(params))
    except TesterError:
        raise
    except Exception as e:
        raise TesterError(f"implementation {impl.name}: roles({dict(params)}) raised "
                          f"{type(e).__name__}: {e}; it must return one role function per "
                          "spec process") from None
    except BaseException as e:
        raise TargetAborted(f"implementation {impl.name}: roles({dict(params)}) "
                            f"{ended_by(e)} while the tester set it up; it must return one "
                            "role function per spec process") from None


def _seqlock_layout(variant: str) -> bool:
    """Whether a timer variant keeps the seqlock's two data words and version (the
    correct seqlock is then its reference); a single word or the Hyper-V page with
    its reference counter is not refined, only its properties are checked."""
    if not variant:
        return True
    knobs = get_protocol("timer").variant(variant).knobs
    return getattr(knobs, "layout", "") == "split" and getattr(knobs, "guard", "") != "hyperv"


def _ref_variant(protocol: str) -> str:
    return "correct" if protocol == "coalescing" else "seqlock"


class _Stepper:
    """One run plus its schedule so far; checks every property after each step."""

    def __init__(self, target: Target):
        self.target = target
        self.run = target.new_run()
        self.schedule: list[str] = []
        self.states: list[dict[str, Any]] = []
        self.validator = (None if target.system is None
                          else Validator(target.system, TIMER_ROLES
                                         if target.impl.protocol == "timer"
                                         else BINDINGS[target.impl.protocol],
                                         memory=target.memory))
        self.divergence: Divergence | None = None
        self.run.start()
        self.init = snapshot(self.run)

    def close(self) -> None:
        self.run.close()

    def do(self, decision: str) -> Access:
        if decision.startswith("flush("):
            inner = decision[len("flush("):-1]
            role, _, pick = inner.partition(",")
            acc = self.run.flush(role, int(pick or 0))
            name = f"flush({role}{',' + pick if pick else ''})"
        else:
            acc = self.run.step(decision)
            name = decision
        self.schedule.append(f"{name}: {acc.text()}")
        self.states.append(snapshot(self.run))
        if (self.validator is not None and self.divergence is None
                and acc.role in self.target.refined_roles):
            ev = to_event(acc)
            if ev is not None:
                self.divergence = self.validator.feed(ev)
        return acc

    def violation(self, prop: str) -> Violation | None:
        if prop == "refines_spec":
            d = self.divergence
            return None if d is None else Violation(prop, f"step {d.position + 1}: "
                                                          f"{d.headline}")
        if prop == "implementation_error":
            crash = self.run.crashed()
            if crash is None:
                return None
            role, err = crash
            return Violation(prop, f"role {role} raised {type(err).__name__}: {err}")
        return self.target.oracle.check(self.run, prop)

    def check(self, prop: str) -> None:
        v = self.violation(prop)
        if v is not None:
            raise Failed(v, tuple(self.schedule), self.trace(v.prop))

    def check_all(self) -> Violation | None:
        for p in self.target.properties:
            v = self.violation(p)
            if v is not None:
                return v
        if self.run.quiescent() and self.run.blocked():
            who = ", ".join(f"{r} at {self.run.pending(r).text()}"  # type: ignore[union-attr]
                            for r in self.run.blocked())
            return Violation("deadlock", f"no step is enabled while {who}")
        return None

    def check_now(self) -> None:
        """Raise :class:`Failed` if any property (or a deadlock) fails now."""
        v = self.check_all()
        if v is not None:
            raise Failed(v, tuple(self.schedule), self.trace(v.prop))

    def trace(self, prop: str) -> Trace:
        t = self.target
        return Trace(
            system=t.impl.protocol, variant=t.impl.name, memory_model=t.memory_model,
            params=tuple(sorted(t.params.items())), prop=prop, init=self.init,
            steps=tuple(TraceStep(cmd, _role_of(cmd), s)
                        for cmd, s in zip(self.schedule, self.states, strict=True)),
            engine="inprocess")


def to_event(acc: Access) -> Event | None:
    """The recorded-trace event of an access (flushes and edge-wait starts have none)."""
    match acc.kind:
        case "flush" | "sleep":
            return None
        case "load" | "store":
            return Event(acc.step + 1, acc.role, acc.kind, acc.field, acc.index, acc.value)
        case "rmw":
            return Event(acc.step + 1, acc.role, "rmw", acc.field, acc.index, acc.value,
                         acc.old)
        case "fence":
            return Event(acc.step + 1, acc.role, "fence", fence=acc.fence)
        case "notify":
            return Event(acc.step + 1, acc.role, "notify", acc.field)
        case "wait":
            return Event(acc.step + 1, acc.role, "wait", acc.field, value=1)
        case _:
            raise TesterError(f"access kind {acc.kind!r} has no event form")


def snapshot(run: Run) -> dict[str, Any]:
    """Shared memory, buffer lengths and pending doorbells as one trace state."""
    out: dict[str, Any] = {}
    for (f, i), v in sorted(run.memory.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
        out[f if i is None else f"{f}[{i}]"] = v
    for r in run.roles:
        if run.model.buffered:
            out[count_var(r)] = len(run.buffer(r))
    for d, p in run.pending_irq.items():
        out[f"pending.{d}"] = int(p)
    return out


def machine_for(target: Target, counter: list[float]) -> type[RuleBasedStateMachine]:
    """The state machine for ``target``. ``counter`` = [runs started, steps taken,
    start time, time of the first failure (0 until one)] is updated as it runs."""

    def init(self: Any) -> None:
        RuleBasedStateMachine.__init__(self)
        counter[0] += 1
        self.s = _Stepper(target)

    def teardown(self: Any) -> None:
        self.s.close()

    ns: dict[str, Any] = {"__init__": init, "teardown": teardown}
    roles = list(roles_of(target.impl, target.params))

    def can(role: str) -> Callable[[Any], bool]:
        return lambda self: self.s.run.can_move(role)

    def has_buffer(role: str) -> Callable[[Any], bool]:
        return lambda self: bool(self.s.run.buffer(role))

    def check_now(self: Any) -> None:
        try:
            self.s.check_now()
        except Failed:
            if not counter[3]:
                counter[3] = time.perf_counter()
            raise

    def burst(self: Any, decision: str, n: int, more: Callable[[], bool]) -> None:
        """Up to ``n`` consecutive decisions, every property checked after each."""
        for k in range(n):
            if k and not more():
                return
            counter[1] += 1
            self.s.do(decision)
            if k < n - 1:
                check_now(self)

    for role in roles:
        def step(self: Any, _r: str = role) -> None:
            burst(self, _r, 1, lambda: True)

        # a burst: the role runs up to n accesses before anyone else moves; a read that
        # must span a whole publish needs one, and single steps rarely give it. Both
        # rules exist, so Hypothesis's swarm testing (rules disabled per run) yields
        # runs of fine interleavings, runs of bursts, and mixtures.
        # Under TSO/PSO a role blocked by its own store buffer (full, or a fence waiting
        # for the drain) has its oldest store flushed as part of the burst.
        def run(self: Any, n: int, pick: int, _r: str = role) -> None:
            r = self.s.run
            for k in range(n):
                if r.can_move(_r):
                    decision = _r
                elif r.buffer(_r) and not r.model.reorders_stores:
                    decision = f"flush({_r})"
                elif r.buffer(_r):  # PSO: which location's oldest store goes first
                    decision = f"flush({_r},{pick % len(r.flushable(_r))})"
                else:
                    return
                burst(self, decision, 1, lambda: True)
                if k < n - 1:
                    check_now(self)
        ns[f"step_{role}"] = precondition(can(role))(rule()(step))
        ns[f"run_{role}"] = precondition(can(role))(rule(n=st.integers(2, BURST), pick=st.integers(0, 3))(run))
        model = memory.get(target.memory_model)
        if model.buffered and not model.reorders_stores:
            def flush(self: Any, n: int, _r: str = role) -> None:
                burst(self, f"flush({_r})", n, lambda: bool(self.s.run.buffer(_r)))
            ns[f"flush_{role}"] = precondition(has_buffer(role))(
                rule(n=st.integers(1, target.impl.buffer))(flush))
        elif model.buffered:
            def flush_pso(self: Any, pick: int, _r: str = role) -> None:
                counter[1] += 1
                n = len(self.s.run.flushable(_r))
                self.s.do(f"flush({_r},{pick % n})")
            ns[f"flush_{role}"] = precondition(has_buffer(role))(
                rule(pick=st.integers(0, 3))(flush_pso))

    def idle(self: Any) -> None:
        """Every role finished: nothing left to schedule."""

    ns["zz_finished"] = precondition(lambda self: self.s.run.quiescent())(rule()(idle))

    for prop in target.properties:
        def inv(self: Any, _p: str = prop) -> None:
            try:
                self.s.check(_p)
            except Failed:
                if not counter[3]:
                    counter[3] = time.perf_counter()
                raise
        ns[f"inv_{prop}"] = invariant()(inv)

    def no_deadlock(self: Any) -> None:
        run = self.s.run
        if run.quiescent() and run.blocked():
            v = self.s.check_all()
            assert v is not None
            raise Failed(v, tuple(self.s.schedule), self.s.trace(v.prop))

    ns["inv_zz_deadlock"] = invariant()(no_deadlock)
    name = f"Conformance_{target.impl.protocol}_{target.memory_model}"
    return type(name, (RuleBasedStateMachine,), ns)


def test(impl: Implementation, memory_model: str, *, max_examples: int = DEFAULT_EXAMPLES,
         seed: int | None = None, shrink: bool = True, refine: bool = True,
         restarts: int = RESTARTS, guide: bool = True,
         memory: MemoryBudget | None = None) -> Result:
    """Test ``impl`` under ``memory_model``; a failure comes back shrunk, with its trace.

    Without ``seed`` the search is derandomized (the same schedules every time).
    ``refine=False`` checks only the properties (not every access against the spec).
    ``shrink``: the failing schedule is shortened by :func:`minimize`, and after a
    failure ``restarts`` more searches from other seeds (each at most
    ``RESTART_EXAMPLES`` runs, stopping at its first failure; none when the first
    search needed more) look for failures of the same property that minimize
    shorter; the shortest is returned. ``guide=False`` shortens by search alone,
    without trying the model checker's counterexample of the implementation's spec
    variant (:func:`spec_schedule`). ``memory``: the budget of the refinement's spec
    states (default: half the available memory); past it the search raises
    :class:`~intervm.model.budget.BudgetExceeded` (no verdict).
    """
    target = Target.of(impl, memory_model, refine, memory)
    t0 = time.perf_counter()
    counter: list[float] = [0, 0, t0, 0.0]
    failed = _search(target, counter, max_examples, seed)
    if failed is None:
        return Result(impl.name, memory_model, True, int(counter[0]), int(counter[1]),
                      time.perf_counter() - t0)
    first = counter[3] - t0 if counter[3] else time.perf_counter() - t0
    v, sched, trace = failed.violation, failed.schedule, failed.trace
    if shrink:
        v, sched, trace = minimize(target, v, sched, trace, guide=guide)
        # Shortening is local: a failure found in one shape (producer_clears_edge:
        # two producers racing, 39 steps under PSO) cannot become a shorter one of
        # another shape (one producer alone, 18) by deleting and swapping decisions,
        # since every schedule in between must fail too. Other starting points can.
        # A bug the first search needed more runs to find than a restart may start
        # (seqlock_aba: thousands) is rarely found again: then restarts are skipped.
        if counter[0] > RESTART_EXAMPLES:
            restarts = 0
        for k in range(1, restarts + 1):
            again = _search(target, counter, min(max_examples, RESTART_EXAMPLES),
                            _restart_seed(impl, memory_model, seed, k))
            if again is None or again.violation.prop != v.prop:
                continue
            cand = minimize(target, again.violation, again.schedule, again.trace,
                            guide=False)  # the spec's candidate was tried once
            if len(cand[1]) < len(sched):
                v, sched, trace = cand
    finding = Finding(v.prop, v.detail, sched, trace)
    return Result(impl.name, memory_model, False, int(counter[0]), int(counter[1]),
                  time.perf_counter() - t0, first, finding)


def _restart_seed(impl: Implementation, memory_model: str, seed: int | None, k: int) -> int:
    """The seed of restart ``k``: a digest of the target (and the user's seed), so it
    does not depend on anything else in the process."""
    return zlib.crc32(f"{impl.name}/{memory_model}/{seed}/{k}".encode())


def _search(target: Target, counter: list[float], max_examples: int,
            seed: int | None) -> Failed | None:
    """One Hypothesis search (derandomized without ``seed``): its first failure, or None.

    Hypothesis's own shrink phase is not run: like :func:`minimize` it only deletes
    and simplifies (it too left ``producer_clears_edge`` at 39 steps under PSO), but
    it replays thousands of runs (80 s there); :func:`minimize` plus restarts from
    other seeds finds shorter schedules in a fraction of the time."""
    machine = machine_for(target, counter)
    if seed is not None:
        machine = hyp_seed(seed)(machine)
    phases = [Phase.generate]
    # the default profile as parent: a profile the caller loaded changes nothing
    sets = settings(settings.get_profile("default"), max_examples=max_examples,
                    stateful_step_count=STEPS[target.impl.protocol], deadline=None,
                    database=None, derandomize=seed is None, phases=phases,
                    suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet,
                    report_multiple_bugs=False, print_blob=False)
    try:
        with _no_source_constants():
            run_state_machine_as_test(machine, settings=sets)  # type: ignore[no-untyped-call]
    except Failed as f:
        return f
    return None


@contextmanager
def _no_source_constants() -> Iterator[None]:
    """Keep the search a function of the target and the seed alone.

    Hypothesis (since 6.131) draws about one integer in twenty from the literals of
    the *local modules imported so far* (its "constants pool", rescanned whenever
    ``sys.modules`` grows), so which test modules a pytest session collected, or which
    user modules the CLI loaded, changed the derandomized schedules: e.g.
    ``seqlock_no_odd_check`` under SC first failed after 14 steps alone and after 33
    with ``tests/test_conformance_live.py`` imported. Derandomization itself was never
    the cause: its seed is a digest of Hypothesis's own ``run_state_machine``, the same
    for every machine. The pool has no setting, so its draw is switched off here.
    """
    with mock.patch.object(HypothesisProvider, "_maybe_draw_constant",
                           lambda self, *args, **kwargs: None):
        yield


def _attempt(target: Target, plan: Sequence[str], lenient: bool = False
             ) -> tuple[Violation, tuple[str, ...], Trace] | None:
    """Run the decisions ``plan`` up to the first violation: it, the schedule and its
    trace; None if none occurred or a decision was not enabled when its turn came
    (``lenient``: such a decision is skipped instead, so the schedule that ran is a
    subsequence of ``plan``)."""
    s = _Stepper(target)
    try:
        for d in plan:
            run = s.run
            role = _role_of(d)
            if not (bool(run.buffer(role)) if d.startswith("flush(") else run.can_move(role)):
                if lenient:
                    continue
                return None
            if ",=" in d:  # a flush named by location: its index among the flushable
                name = d[d.index(",=") + 2:-1]
                locs = [_loc_text(loc) if "[" in name else loc[0]
                        for loc in run.flushable(role)]
                d = f"flush({role},{locs.index(name)})" if name in locs else f"flush({role})"
            s.do(d)
            v = s.check_all()
            if v is not None:
                return v, tuple(s.schedule), s.trace(v.prop)
        return None
    finally:
        s.close()


def spec_schedule(target: Target, prop: str) -> list[str] | None:
    """The model checker's shortest counterexample to ``prop`` in the spec variant the
    implementation names, as in-process decisions: each access of a spec process
    that is one of the roles becomes that role's next access, each flush a flush of
    the same location; environment and local steps drop out. None when the variant
    does not violate ``prop`` under the memory model (or names no variant).

    Replayed on the code (:func:`_attempt`, lenient), it is a cross-engine check —
    the spec's bug, on the implementation — and a candidate for the shortest failing
    schedule; only its replay on the code decides whether it fails."""
    impl = target.impl
    proto = get_protocol(impl.protocol)
    if not impl.variant or impl.variant not in {v.name for v in proto.variants}:
        return None
    if target.memory_model not in proto.variant(impl.variant).violated.get(prop, ()):
        return None
    system = compile_spec(proto.spec(impl.variant), dict(target.params), target.memory_model,
                          buffer=SPEC_BUFFER)
    verdict = check(explore(system), prop)
    if verdict.trace is None:
        return None
    sem = Semantics(system)
    binding = BINDINGS.get(impl.protocol)
    roles = set(roles_of(impl, target.params))
    ids = dict(enumerate(system.shared, start=1))
    out: list[str] = []
    before = verdict.trace.init
    for stp in verdict.trace.steps:
        c = system.commands[sem.command_index(stp.command)]
        if c.process in roles and c.kind == "flush":
            entry = memory.get(system.memory_model).internal_entry(c.name)
            lay = next(b for b in system.buffers if b.process == c.process)
            var = ids.get(before.get(lay.var(entry), 0), "") if entry is not None else ""
            fld = binding.field_for(var) if binding is not None and var else None
            out.append(f"flush({c.process},={fld or var})" if entry is not None else
                       f"flush({c.process})")
        elif c.process in roles and c.access is not None and c.access.observed:
            out.append(c.process)
        before = stp.state
    return out


def minimize(target: Target, violation: Violation, schedule: tuple[str, ...], trace: Trace,
             budget: int = MINIMIZE_RUNS, guide: bool = True
             ) -> tuple[Violation, tuple[str, ...], Trace]:
    """Shorten a failing schedule (replays are deterministic). With ``guide``, first
    try the model checker's counterexample (:func:`spec_schedule`) when it is
    shorter. Then greedily delete runs of 8, 4, 2 and 1 decisions, keeping a deletion
    whenever the shorter schedule still violates the same property (replays are
    lenient: a decision that cannot run is skipped); at a fixpoint, move one decision
    to another place (the failure may then come earlier, or a deletion become
    possible) and delete again. Under PSO each flush is named by its location while
    shortening. Stops when neither helps or after ``budget`` replays (a count, not a
    time, so the result is deterministic)."""
    def form(sched: Sequence[str]) -> list[str]:
        """PSO flushes named by location, so that deleting or moving an earlier
        decision does not change which store a later flush makes visible."""
        if not memory.get(target.memory_model).reorders_stores:
            return [c.split(":", 1)[0] for c in sched]
        return [f"flush({_role_of(c)},="
                f"{c.split(' flush ', 1)[1].split(' := ')[0]})"
                if c.startswith("flush(") else c.split(":", 1)[0] for c in sched]

    best = form(schedule)
    found = (violation, schedule, trace)
    left = [budget]
    seen = {tuple(best)}

    def more() -> bool:
        return left[0] > 0

    def accept(cand: list[str]) -> bool:
        nonlocal best, found
        left[0] -= 1
        got = _attempt(target, cand, lenient=True)
        if got is None or got[0].prop != violation.prop or len(got[1]) > len(best):
            return False
        ran = form(got[1])
        if len(ran) == len(best) and tuple(ran) in seen:
            return False
        best, found = ran, got
        seen.add(tuple(best))
        return True

    def delete_all() -> bool:
        shorter = False
        for size in (8, 4, 2, 1):
            i = len(best) - size
            while i >= 0 and more():
                if accept(best[:i] + best[i + size:]):
                    shorter = True
                i = min(i, len(best)) - 1
        return shorter

    def move_all() -> bool:
        """Move one decision to another place (later first): the failure may then come
        earlier, or a deletion become possible."""
        for i in range(len(best) - 1, -1, -1):
            for j in [*range(len(best), i + 1, -1), *range(i)]:
                if not more():
                    return False
                if i >= len(best) or j > len(best):
                    continue
                d = best[i]
                rest = best[:i] + best[i + 1:]
                at = j - 1 if j > i else j
                cand = [*rest[:at], d, *rest[at:]]
                if cand == best or tuple(cand) in seen:
                    continue
                length = len(best)
                if accept(cand) and (len(best) < length or delete_all()):
                    return True
        return False

    hint = spec_schedule(target, violation.prop) if guide else None
    if hint is not None and len(hint) < len(best):
        accept(hint)
    while more():
        delete_all()
        if not move_all():
            break
    return found


def _loc_text(loc: Loc) -> str:
    field, index = loc
    return field if index is None else f"{field}[{index}]"


def _role_of(decision: str) -> str:
    """The role of a decision (``P``, ``flush(P)``, ``flush(P,1)``, ``flush(P,=tail)``)
    or of a schedule entry (the decision, then ``: `` and the access)."""
    return decision.split(":", 1)[0].removeprefix("flush(").split(",")[0].rstrip(")")


def decisions(trace: Trace) -> list[str]:
    """The schedule decisions (``P``, ``flush(P)``, ``flush(P,1)``) recorded in ``trace``."""
    if trace.engine != "inprocess":
        raise TraceError(f"trace engine is {trace.engine!r}, not 'inprocess': replay takes "
                         "a schedule saved by intervm conformance inprocess --save")
    return [s.command.split(":", 1)[0] for s in trace.steps]


def replay(impl: Implementation, trace: Trace, refine: bool = True,
           memory: MemoryBudget | None = None) -> Violation | None:
    """Re-run exactly the schedule in ``trace``; the first violation, or None."""
    if trace.system != impl.protocol:
        raise TraceError(f"the trace is of protocol {trace.system!r} but implementation "
                         f"{impl.name} implements {impl.protocol!r}")
    target = Target.of(impl, trace.memory_model, refine, memory)
    s = _Stepper(target)
    try:
        for k, d in enumerate(decisions(trace), start=1):
            run = s.run
            role = _role_of(d)
            if role not in run.roles:
                raise TraceError(f"step {k} schedules role {role!r}, which {impl.name} lacks")
            ok = bool(run.buffer(role)) if d.startswith("flush(") else run.can_move(role)
            if not ok:
                raise TraceError(f"step {k} ({d}) is not enabled when replayed on "
                                 f"{impl.name}: the implementation behaves differently from "
                                 "the one that recorded the trace")
            s.do(d)
            v = s.check_all()
            if v is not None:
                return v
        return None
    finally:
        s.close()


def schedule_table(trace: Trace, roles: Sequence[str]) -> Table:
    """The schedule as a two-column interleaving: one column per role, then memory."""
    table = Table(title=f"{trace.system} / {trace.variant} under {trace.memory_model.upper()}:"
                        f" {trace.prop}, {len(trace)} steps (in-process)")
    table.add_column("#", justify="right")
    for r in roles:
        table.add_column(r)
    table.add_column("shared memory")
    for i, stp in enumerate(trace.steps, start=1):
        text = stp.command.split(": ", 1)[1] if ": " in stp.command else stp.command
        mem = " ".join(f"{k}={v}" for k, v in stp.state.items())
        table.add_row(Text(str(i)), *[Text(text if r == stp.process else "") for r in roles],
                      Text(mem))
    return table


def schedule_text(trace: Trace, roles: Sequence[str], width: int = 160) -> str:
    console = Console(record=True, width=width, color_system=None, force_terminal=False,
                      file=io.StringIO())
    console.print(schedule_table(trace, roles))
    return console.export_text()
