"""Unbounded proofs with Spacer (Z3's CHC engine), plus an independent re-check.

Three Horn clauses over one predicate ``Inv(state)``::

    Init(s)            -> Inv(s)
    Inv(s) & Trans(s,t) -> Inv(t)
    Inv(s) & Bad(s)     -> false

``SolverFor('HORN')``: sat = safe (the model gives the inductive invariant), unsat =
unsafe. Every invariant is re-checked with a plain solver (Init ⇒ I, I ∧ T ⇒ I',
I ⇒ ¬Bad) before PROVED is reported, since Spacer has had soundness bugs.

>>> from intervm.spec.protocols import get_protocol
>>> from intervm.model.compile import compile_spec
>>> proto = get_protocol("coalescing")
>>> sys = compile_spec(proto.spec("correct"), proto.params_for("correct", unbounded=True), "sc")
>>> v = spacer(sys, "no_lost_wakeup", timeout=60)
>>> v.text
'PROVED (for all capacity, requests)'
"""

from __future__ import annotations

from typing import Any

import z3

from intervm.model.budget import MemoryBudget
from intervm.model.solver import Budget, SolverUnknown, check
from intervm.model.system import System, safety_target
from intervm.model.verdict import Status, Verdict
from intervm.model.z3enc import Encoder, at_step


def _scope(system: System) -> str:
    sym = [k for k, v in system.params if v is None]
    if sym:
        return "for all " + ", ".join(sym)
    return system.param_text


def spacer(system: System, prop: str, timeout: float = 60.0, variant: str = "",
           memory: MemoryBudget | None = None) -> Verdict:
    """Prove ``prop`` (an Always, or the negation of a Sometimes) for every state."""
    pred, negate = safety_target(system, prop)
    budget = Budget(timeout, memory)
    enc = Encoder(system)
    s, t = enc.state("s"), enc.state("t")
    sv = [s[v.name] for v in system.vars]
    tv = [t[v.name] for v in system.vars]
    sorts = [enc.sort(v.name) for v in system.vars]
    inv = z3.Function("Inv", *sorts, z3.BoolSort(enc.ctx))
    good_s = enc.prop(pred, s)
    bad_s = good_s if negate else z3.Not(good_s)
    solver = z3.SolverFor("HORN", ctx=enc.ctx)
    solver.set("fp.xform.inline_linear", False, "fp.xform.inline_eager", False,
               "fp.xform.slice", False)
    solver.add(z3.ForAll(sv, z3.Implies(enc.init(s), inv(*sv))))
    solver.add(z3.ForAll(sv + tv, z3.Implies(z3.And(inv(*sv), enc.trans(s, t)), inv(*tv))))
    solver.add(z3.ForAll(sv, z3.Implies(z3.And(inv(*sv), bad_s), z3.BoolVal(False, enc.ctx))))
    try:
        r = check(solver, (), budget.left(), budget.memory)
    except SolverUnknown as e:
        return Verdict(Status.UNKNOWN, prop, "spacer", budget.elapsed(), reason=e.reason)
    if r == "unsat":  # Bad is reachable
        if negate:
            return Verdict(Status.PROVED, prop, "spacer", budget.elapsed(),
                           scope="reachable (" + _scope(system) + ")")
        return Verdict(Status.VIOLATED, prop, "spacer", budget.elapsed(), scope=_scope(system))
    interp = solver.model()[inv]
    body = interp.else_value() if interp is not None else z3.BoolVal(True, enc.ctx)
    named = z3.substitute_vars(body, *sv) if interp is not None else body
    named = z3.simplify(named)
    why = recheck_invariant(enc, named, bad_s, budget)
    if why is not None:
        return Verdict(Status.UNKNOWN, prop, "spacer", budget.elapsed(),
                       reason=f"Spacer's invariant failed the independent re-check: {why}")
    text = readable(named)
    if negate:
        return Verdict(Status.VIOLATED, prop, "spacer", budget.elapsed(), reason="unreachable",
                       scope=_scope(system), invariant=text)
    return Verdict(Status.PROVED, prop, "spacer", budget.elapsed(), scope=_scope(system),
                   invariant=text)


def recheck_invariant(enc: Encoder, inv_s: Any, bad_s: Any, budget: Budget) -> str | None:
    """None when ``inv_s`` (over state 's') is inductive and excludes Bad; else why not."""
    s, t = enc.state("s"), enc.state("t")
    inv_t = z3.substitute(inv_s, *[(s[v.name], t[v.name]) for v in enc.system.vars])
    checks = [
        ("Init does not imply the invariant", z3.And(enc.init(s), z3.Not(inv_s))),
        ("the invariant is not preserved by a step",
         z3.And(inv_s, enc.trans(s, t), z3.Not(inv_t))),
        ("the invariant does not exclude the bad states", z3.And(inv_s, bad_s)),
    ]
    for what, query in checks:
        solver = z3.Solver(ctx=enc.ctx)
        solver.add(query)
        try:
            if check(solver, (), budget.left(), budget.memory) == "sat":
                return what
        except SolverUnknown as e:
            return f"{what}? the solver answered unknown ({e.reason})"
    return None


def readable(inv: Any) -> str:
    """The invariant as text, one conjunct per line, state suffixes removed."""
    conj = inv.children() if z3.is_and(inv) else [inv]
    lines = []
    for c in conj:
        lines.append(str(c).replace(at_step("", "s"), "").replace("\n", " "))
    return "\n".join(" ".join(line.split()) for line in lines)
