"""Liveness with Z3: lasso BMC (violations) and liveness-to-safety + Spacer (proofs).

A violation of ``Eventually(pending)`` is a weakly fair lasso whose loop stays in
``pending`` states and takes no progress command. Weak fairness: every group either
moves in the loop or is disabled at one of its states. Deadlocks stutter.

Liveness-to-safety (Biere, Artho, Schuppan 2002) saves a copy of the state at a
nondeterministic moment and flags a return to it through a fair, pending,
progress-free loop; Spacer then decides reachability. It is complete only for
finite-state systems, so :func:`l2s_spacer` refuses symbolic parameters.

>>> from intervm.spec.protocols import get_protocol
>>> from intervm.model.compile import compile_spec
>>> sys = compile_spec(get_protocol("coalescing").spec("no_recheck"), {"requests": 1}, "sc")
>>> lasso_bmc(sys, "eventually_consumed", max_depth=14).text
'VIOLATED (12 steps)'
"""

from __future__ import annotations

from typing import Any

import z3

from intervm.model.bmc import extract_trace
from intervm.model.budget import MemoryBudget
from intervm.model.solver import Budget, SolverUnknown, check
from intervm.model.system import CEventually, System
from intervm.model.verdict import Status, Verdict
from intervm.model.z3enc import Encoder
from intervm.spec.errors import EngineError


def _pending(system: System, prop: str) -> Any:
    p = system.prop(prop)
    if not isinstance(p, CEventually):
        raise EngineError(f"property {prop!r} is not a liveness (Eventually) property; "
                          "use bmc, k-induction or spacer for it")
    return p.pending


def lasso_bmc(system: System, prop: str, max_depth: int = 30, timeout: float = 60.0,
              variant: str = "", memory: MemoryBudget | None = None) -> Verdict:
    """Search for a fair lasso of at most ``max_depth`` steps that violates ``prop``."""
    pending = _pending(system, prop)
    budget = Budget(timeout, memory)
    enc = Encoder(system, bits=16 if system.is_finite else None)
    cmds = system.commands
    n = len(cmds)
    s = z3.Solver(ctx=enc.ctx)
    s.add(enc.init(enc.state(0)))
    pend = [enc.prop(pending, enc.state(0))]
    acts: list[Any] = []

    def in_group(a: Any, g: str) -> Any:
        return z3.Or([a == i for i, c in enumerate(cmds) if c.group == g] or
                     [z3.BoolVal(False, enc.ctx)])

    def disabled(k: int, g: str) -> Any:
        st = enc.state(k)
        return z3.Not(z3.Or([enc.enabled(c, st) for c in cmds if c.group == g] or
                            [z3.BoolVal(False, enc.ctx)]))

    progress = [i for i, c in enumerate(cmds) if c.progress]
    try:
        for k in range(1, max_depth + 1):
            a = enc.act(k - 1)
            acts.append(a)
            s.add(enc.trans_by_var(enc.state(k - 1), enc.state(k), a, stutter=True))
            pend.append(enc.prop(pending, enc.state(k)))
            loops = []
            for lo in range(k):
                body = [enc.equal_states(enc.state(k), enc.state(lo))]
                body += pend[lo:k + 1]
                body += [z3.And([acts[i] != j for j in progress]) for i in range(lo, k)]
                for g in system.groups:
                    body.append(z3.Or([in_group(acts[i], g) for i in range(lo, k)]
                                      + [disabled(i, g) for i in range(lo, k + 1)]))
                loops.append(z3.And(body))
            choice = z3.Int(f"loop@{k}", enc.ctx)
            formula = z3.Or([z3.And(choice == lo, f) for lo, f in enumerate(loops)])
            if check(s, [formula], budget.left(), budget.memory) == "sat":
                m = s.model()
                lo = m.eval(choice, model_completion=True).as_long()
                trace = extract_trace(enc, m, k, prop, variant, "lasso-bmc", loop_start=lo)
                return Verdict(Status.VIOLATED, prop, "lasso-bmc", budget.elapsed(), depth=k,
                               trace=trace)
    except SolverUnknown as e:
        return Verdict(Status.UNKNOWN, prop, "lasso-bmc", budget.elapsed(), reason=e.reason)
    _ = n
    return Verdict(Status.BOUNDED, prop, "lasso-bmc", budget.elapsed(), depth=max_depth,
                   scope=system.param_text)


def l2s_spacer(system: System, prop: str, timeout: float = 60.0, variant: str = "",
               memory: MemoryBudget | None = None) -> Verdict:
    """Decide ``prop`` on a finite instance by liveness-to-safety and Spacer."""
    pending = _pending(system, prop)
    if not system.is_finite:
        raise EngineError(
            f"liveness-to-safety is complete only for finite-state systems, and "
            f"{system.name} ({system.param_text}) has symbolic parameters; give every "
            "parameter a value"
        )
    budget = Budget(timeout, memory)
    enc = Encoder(system)
    c = enc.ctx
    s, t = enc.state("s"), enc.state("t")
    cs, ct = enc.state("cs"), enc.state("ct")
    groups = system.groups

    def flags(tag: str) -> dict[str, Any]:
        names = ["saved", "prog", "pend", *[f"fair.{g}" for g in groups]]
        return {nm: z3.Bool(f"{nm}@{tag}", c) for nm in names}

    fs, ft = flags("s"), flags("t")
    en = {g: z3.Or([enc.enabled(cmd, s) for cmd in system.commands if cmd.group == g]
                   or [z3.BoolVal(False, c)]) for g in groups}
    pend_s = enc.prop(pending, s)
    steps = []
    moves = [(cmd.group, cmd.progress, enc.command(cmd, s, t)) for cmd in system.commands]
    moves.append((None, False, enc.stutter(s, t)))
    for grp, prog, body in moves:
        fair_new = {g: z3.Or(z3.BoolVal(grp == g, c), z3.Not(en[g])) for g in groups}
        wait = z3.And(z3.Not(fs["saved"]), z3.Not(ft["saved"]), enc.equal_states(ct, cs))
        save = z3.And(
            z3.Not(fs["saved"]), ft["saved"], enc.equal_states(ct, s),
            ft["prog"] == z3.BoolVal(prog, c), ft["pend"] == pend_s,
            *[ft[f"fair.{g}"] == fair_new[g] for g in groups],
        )
        run = z3.And(
            fs["saved"], ft["saved"], enc.equal_states(ct, cs),
            ft["prog"] == z3.Or(fs["prog"], z3.BoolVal(prog, c)),
            ft["pend"] == z3.And(fs["pend"], pend_s),
            *[ft[f"fair.{g}"] == z3.Or(fs[f"fair.{g}"], fair_new[g]) for g in groups],
        )
        steps.append(z3.And(body, z3.Or(wait, save, run)))
    trans = z3.Or(steps)
    sv = [s[v.name] for v in system.vars] + [cs[v.name] for v in system.vars] + list(fs.values())
    tv = [t[v.name] for v in system.vars] + [ct[v.name] for v in system.vars] + list(ft.values())
    sorts = [x.sort() for x in sv]
    inv = z3.Function("L2S", *sorts, z3.BoolSort(c))
    bad = z3.And(fs["saved"], enc.equal_states(s, cs), z3.Not(fs["prog"]), fs["pend"],
                 *[fs[f"fair.{g}"] for g in groups])
    solver = z3.SolverFor("HORN", ctx=c)
    solver.add(z3.ForAll(sv, z3.Implies(z3.And(enc.init(s), z3.Not(fs["saved"])), inv(*sv))))
    solver.add(z3.ForAll(sv + tv, z3.Implies(z3.And(inv(*sv), trans), inv(*tv))))
    solver.add(z3.ForAll(sv, z3.Implies(z3.And(inv(*sv), bad), z3.BoolVal(False, c))))
    try:
        r = check(solver, (), budget.left(), budget.memory)
    except SolverUnknown as e:
        return Verdict(Status.UNKNOWN, prop, "l2s-spacer", budget.elapsed(), reason=e.reason)
    if r == "unsat":
        return Verdict(Status.VIOLATED, prop, "l2s-spacer", budget.elapsed(),
                       scope=system.param_text)
    return Verdict(Status.HOLDS, prop, "l2s-spacer", budget.elapsed(), scope=system.param_text)
