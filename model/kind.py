"""k-induction with Z3 (Sheeran, Singh, Stålmarck, FMCAD 2000).

Base case: BMC to depth k. Step case: ``D∧P`` holds in k consecutive states linked
by ``Trans`` and fails in the next, where ``D`` is the domain facts the compiler
guarantees (wrapped variables, program counters in range); unsat proves ``P``.
Without auxiliary lemmas k-induction often cannot close (see
z3-and-techniques.md §1.3); it then answers UNKNOWN, never a pass.

>>> from intervm.spec.protocols import get_protocol
>>> from intervm.model.compile import compile_spec
>>> sys = compile_spec(get_protocol("coalescing").spec("no_recheck"), {"requests": 1}, "sc")
>>> kinduction(sys, "no_lost_wakeup", max_k=12).text
'VIOLATED (10 steps)'
"""

from __future__ import annotations

from typing import Any

import z3

from intervm.model.bmc import extract_trace
from intervm.model.budget import MemoryBudget
from intervm.model.solver import Budget, SolverUnknown, check
from intervm.model.system import System, safety_target
from intervm.model.verdict import Status, Verdict
from intervm.model.z3enc import Encoder


def kinduction(system: System, prop: str, max_k: int = 20, timeout: float = 60.0,
               variant: str = "", simple_path: bool = True,
               memory: MemoryBudget | None = None) -> Verdict:
    """Prove or refute ``prop`` (Always, or Sometimes as its negation) by k-induction."""
    pred, negate = safety_target(system, prop)
    budget = Budget(timeout, memory)
    bits = 16 if system.is_finite else None
    base_enc = Encoder(system, bits=bits)
    step_enc = Encoder(system, ctx=base_enc.ctx, bits=bits)

    def good(enc: Encoder, k: int) -> Any:
        g = enc.prop(pred, enc.state(k))
        return z3.Not(g) if negate else g

    base = z3.Solver(ctx=base_enc.ctx)
    base.add(base_enc.init(base_enc.state(0)))
    step = z3.Solver(ctx=base_enc.ctx)
    # the step case lives in its own namespace of states
    step_enc._states = {}
    step_states: dict[int, Any] = {}

    def sstate(k: int) -> Any:
        if k not in step_states:
            step_states[k] = {
                v.name: z3.Const(f"{v.name}#{k}", step_enc.sort(v.name)) for v in system.vars
            }
        return step_states[k]

    try:
        for k in range(max_k + 1):
            if check(base, [z3.Not(good(base_enc, k))], budget.left(), budget.memory) == "sat":
                trace = extract_trace(base_enc, base.model(), k, prop, variant, "k-induction")
                if negate:
                    return Verdict(Status.PROVED, prop, "k-induction", budget.elapsed(),
                                   depth=k, scope=f"reached in {k} steps", trace=trace)
                return Verdict(Status.VIOLATED, prop, "k-induction", budget.elapsed(),
                               depth=k, trace=trace)
            base.add(base_enc.trans_by_var(base_enc.state(k), base_enc.state(k + 1),
                                           base_enc.act(k)))
            # step case of depth k+1: good(0..k), Trans(0..k+1), not good(k+1)
            sk = sstate(k)
            g = step_enc.prop(pred, sk)
            step.add(z3.Not(g) if negate else g, step_enc.domain(sk))
            step.add(step_enc.trans(sk, sstate(k + 1)))
            step.add(step_enc.domain(sstate(k + 1)))
            if simple_path:
                for j in range(k + 1):
                    step.add(z3.Not(step_enc.equal_states(sstate(j), sstate(k + 1))))
            g1 = step_enc.prop(pred, sstate(k + 1))
            if check(step, [g1 if negate else z3.Not(g1)], budget.left(), budget.memory) == "unsat":
                if negate:
                    return Verdict(Status.VIOLATED, prop, "k-induction", budget.elapsed(),
                                   depth=k + 1, reason="unreachable",
                                   scope=f"{k + 1}-inductive")
                return Verdict(Status.PROVED, prop, "k-induction", budget.elapsed(),
                               depth=k + 1, scope=f"{k + 1}-inductive, {system.param_text}")
    except SolverUnknown as e:
        return Verdict(Status.UNKNOWN, prop, "k-induction", budget.elapsed(), reason=e.reason)
    return Verdict(Status.UNKNOWN, prop, "k-induction", budget.elapsed(), depth=max_k,
                   reason=f"not {max_k}-inductive (needs auxiliary lemmas)")
