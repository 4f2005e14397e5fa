"""Bounded model checking with Z3 (Biere, Cimatti, Clarke, Zhu, TACAS 1999).

One incremental solver: assert ``Init(s0)``; for k = 0, 1, … ask for ``Bad(s_k)``
as an assumption (so it is not kept), then add ``Trans(s_k, s_k+1)``. The first sat
answer is a shortest counterexample; ``act@k`` names the command of each step.

>>> from intervm.spec.protocols import get_protocol
>>> from intervm.model.compile import compile_spec
>>> sys = compile_spec(get_protocol("coalescing").spec("no_recheck"), {"requests": 1}, "sc")
>>> bmc(sys, "no_lost_wakeup", max_depth=12).text
'VIOLATED (10 steps)'
"""

from __future__ import annotations

from typing import Any

import z3

from intervm.model.budget import MemoryBudget
from intervm.model.solver import Budget, SolverUnknown, check
from intervm.model.system import CAlways, CEventually, CSometimes, System
from intervm.model.trace import Trace, TraceStep
from intervm.model.verdict import Status, Verdict
from intervm.model.z3enc import Encoder
from intervm.spec.errors import EngineError


def extract_trace(
    enc: Encoder, model: Any, depth: int, prop: str, variant: str, engine: str,
    loop_start: int | None = None,
) -> Trace:
    """Read states 0..depth and the commands between them out of a Z3 model."""
    sys = enc.system
    cells = depth + 2
    states = [enc.state_values(model, enc.state(k), cells) for k in range(depth + 1)]
    steps = []
    for k in range(depth):
        a = model.eval(enc.act(k), model_completion=True).as_long()
        if 0 <= a < len(sys.commands):
            name, proc = sys.commands[a].name, sys.commands[a].process
        else:
            name, proc = "stutter", "-"
        steps.append(TraceStep(name, proc, states[k + 1]))
    params = tuple(
        (k, v if v is not None else states[0].get(k.upper()))
        for k, v in sys.params
    )
    return Trace(sys.name, variant, sys.memory_model, params, prop, states[0], tuple(steps),
                 loop_start=loop_start, engine=engine)


def bmc(system: System, prop: str, max_depth: int = 40, timeout: float = 60.0,
        variant: str = "", memory: MemoryBudget | None = None) -> Verdict:
    """Search for a violation of ``prop`` (or a witness, for ``Sometimes``) up to
    ``max_depth`` steps."""
    p = system.prop(prop)
    budget = Budget(timeout, memory)
    enc = Encoder(system)
    target: Any
    match p:
        case CAlways(_, pred):
            def target(st: Any) -> Any:
                return z3.Not(enc.prop(pred, st))
        case CSometimes(_, pred):
            def target(st: Any) -> Any:
                return enc.prop(pred, st)
        case CEventually():
            raise EngineError(f"property {prop!r} is a liveness property; use lasso BMC "
                              "(engine 'lasso') or the explicit engine")
    s = z3.Solver(ctx=enc.ctx)
    s.add(enc.init(enc.state(0)))
    try:
        for k in range(max_depth + 1):
            if check(s, [target(enc.state(k))], budget.left(), budget.memory) == "sat":
                trace = extract_trace(enc, s.model(), k, prop, variant, "bmc")
                if isinstance(p, CSometimes):
                    return Verdict(Status.PROVED, prop, "bmc", budget.elapsed(), depth=k,
                                   scope=f"reached in {k} steps", trace=trace)
                return Verdict(Status.VIOLATED, prop, "bmc", budget.elapsed(), depth=k,
                               trace=trace)
            if k < max_depth:
                s.add(enc.trans(enc.state(k), enc.state(k + 1), enc.act(k)))
    except SolverUnknown as e:
        return Verdict(Status.UNKNOWN, prop, "bmc", budget.elapsed(), depth=k,
                       reason=f"{e.reason} at depth {k}")
    if isinstance(p, CSometimes):
        return Verdict(Status.UNKNOWN, prop, "bmc", budget.elapsed(), depth=max_depth,
                       reason=f"not reached within {max_depth} steps")
    return Verdict(Status.BOUNDED, prop, "bmc", budget.elapsed(), depth=max_depth,
                   scope=system.param_text)


def bmc_many(system: System, props: list[str], max_depth: int = 20, timeout: float = 60.0,
             variant: str = "", memory: MemoryBudget | None = None) -> dict[str, Verdict]:
    """:func:`bmc` for several safety properties over one unrolling: at each depth,
    every property not yet decided is asked for its bad (or goal) state."""
    budget = Budget(timeout, memory)
    enc = Encoder(system, bits=16 if system.is_finite else None)
    targets: dict[str, tuple[Any, bool]] = {}
    for name in props:
        p = system.prop(name)
        match p:
            case CAlways(_, pred):
                targets[name] = (pred, False)
            case CSometimes(_, pred):
                targets[name] = (pred, True)
            case CEventually():
                raise EngineError(f"property {name!r} is a liveness property; use lasso BMC")
    s = z3.Solver(ctx=enc.ctx)
    s.add(enc.init(enc.state(0)))
    out: dict[str, Verdict] = {}
    try:
        for k in range(max_depth + 1):
            for name, (pred, reach) in targets.items():
                if name in out:
                    continue
                goal = enc.prop(pred, enc.state(k))
                if check(s, [goal if reach else z3.Not(goal)], budget.left(), budget.memory) == "sat":
                    trace = extract_trace(enc, s.model(), k, name, variant, "bmc")
                    status = Status.PROVED if reach else Status.VIOLATED
                    out[name] = Verdict(status, name, "bmc", budget.elapsed(), depth=k,
                                        trace=trace)
            if len(out) == len(targets):
                break
            if k < max_depth:
                s.add(enc.trans_by_var(enc.state(k), enc.state(k + 1), enc.act(k)))
    except SolverUnknown as e:
        for name in targets:
            out.setdefault(name, Verdict(Status.UNKNOWN, name, "bmc", budget.elapsed(),
                                         reason=e.reason))
    for name, (_, reach) in targets.items():
        if name not in out:
            out[name] = (Verdict(Status.UNKNOWN, name, "bmc", budget.elapsed(),
                                 depth=max_depth, reason=f"not reached in {max_depth} steps")
                         if reach else
                         Verdict(Status.BOUNDED, name, "bmc", budget.elapsed(),
                                 depth=max_depth, scope=system.param_text))
    return out
