"""Z3 and the explicit engine agree on the timer variants, and Z3 counterexamples replay.

The timer's counterexamples are long (up to 37 steps) and its latency properties are
modular arithmetic, so the cross-checks run at a small instance (``ticks=1``) on the
property's cone-of-influence slice with the bit-vector BMC encoding (``bmc_many``):

* every variant × memory model × safety or reachability property whose shortest
  counterexample or witness has at most ``CAP`` steps: Z3 finds one of exactly that
  length, and it replays step by step (states included) on the explicit semantics of
  the whole, unsliced system;
* longer headline bugs (the OSv odd check, bump-at-end, Hyper-V without the skip of
  0): the same, with the lengths pinned;
* the safe variants: BMC finds no torn read within ``HOLD_DEPTH`` steps under PSO;
* liveness: lasso BMC finds the seqlock's spin (L2) with the explicit engine's
  length, and no lasso where the fair-SCC search finds none.

Not here, for time (minutes of BMC each; the explicit engine and SPIN cover them):
the PSO-reordered writer (21 steps), the narrow-version ABA (22) and Hyper-V's
fallback running ahead under TSO (24).
"""

from __future__ import annotations

from functools import lru_cache

import pytest

from intervm.model.bmc import bmc_many
from intervm.model.compile import compile_spec
from intervm.model.explicit import StateGraph, check, explore
from intervm.model.liveness import lasso_bmc
from intervm.model.replay import replay, violates
from intervm.model.slicing import compile_sliced
from intervm.model.system import CEventually, System
from intervm.model.verdict import Status, Verdict
from intervm.spec.timer_variants import TIMER

CAP = 12  # BMC cost grows steeply with depth; longer ones are pinned below
HOLD_DEPTH = 12
CASES = [(v.name, mm) for v in TIMER.variants for mm in v.memory_models]


def small(variant: str) -> dict[str, int | None]:
    return {**TIMER.params_for(variant, unbounded=False), "ticks": 1}


@lru_cache(maxsize=2)
def instance(variant: str, mm: str) -> tuple[System, StateGraph]:
    system = compile_spec(TIMER.spec(variant), small(variant), mm)
    return system, explore(system, variant=variant)


def z3_shortest(variant: str, mm: str, prop: str, depth: int) -> Verdict:
    """BMC on the property's slice, up to ``depth`` steps (bit-vector encoding)."""
    sliced = compile_sliced(TIMER.spec(variant), small(variant), mm, prop)
    return bmc_many(sliced, [prop], max_depth=depth, timeout=120, variant=variant)[prop]


def agree(variant: str, mm: str, prop: str) -> int:
    """Z3 reproduces the explicit engine's shortest counterexample (or witness) of
    ``prop``, and its trace replays on the whole system; returns the length."""
    system, g = instance(variant, mm)
    e = check(g, prop)
    assert e.depth is not None, e.text
    z = z3_shortest(variant, mm, prop, e.depth)
    assert (z.status, z.depth) == (e.status, e.depth), (prop, z.text, e.text)
    assert z.trace is not None
    assert replay(z.trace, system) == e.depth  # the slice's run is a run of the system
    assert violates(z.trace, system)
    return e.depth


@pytest.mark.parametrize(("variant", "mm"), CASES)
def test_short_counterexamples_agree(variant: str, mm: str) -> None:
    system, g = instance(variant, mm)
    safety = [p.name for p in system.properties if not isinstance(p, CEventually)]
    short = {p: d for p in safety if (d := check(g, p).depth) is not None and d <= CAP}
    assert "read_accepted" in short  # a request completes within 12 steps everywhere
    for prop, depth in short.items():
        assert agree(variant, mm, prop) == depth


# (variant, memory model, property): shortest length, pinned (ticks=1)
LONG = {
    ("bump_at_end", "sc", "no_torn_read"): 14,
    ("hyperv_no_skip", "sc", "no_sentinel_at_rest"): 18,
    ("seqlock_no_odd_check", "sc", "no_torn_read"): 19,
}


@pytest.mark.parametrize(("variant", "mm", "prop"), list(LONG))
def test_headline_bugs_have_the_same_shortest_length(variant: str, mm: str,
                                                     prop: str) -> None:
    assert agree(variant, mm, prop) == LONG[(variant, mm, prop)]


@pytest.mark.parametrize("variant", ["single_word", "hi_lo_hi", "seqlock", "hyperv"])
def test_safe_variants_have_no_torn_read_within_the_bound(variant: str) -> None:
    _, g = instance(variant, "pso")
    assert check(g, "no_torn_read").status is Status.HOLDS
    z = z3_shortest(variant, "pso", "no_torn_read", HOLD_DEPTH)
    assert (z.status, z.depth) == (Status.BOUNDED, HOLD_DEPTH), z.text


@pytest.mark.parametrize(("variant", "mm", "depth"), [
    ("seqlock", "sc", 4),
    ("seqlock", "tso", 5),
    ("seqlock_no_wmb", "pso", 5),
    ("hyperv", "sc", None),  # falls back to the reference counter: no spin
    ("hyperv", "pso", None),
])
def test_lasso_bmc_agrees_on_preemption_mid_update(variant: str, mm: str,
                                                   depth: int | None) -> None:
    """L2: a writer preempted mid-update makes seqlock readers spin (a fair lasso of
    the explicit engine's length, which replays); Hyper-V readers do not."""
    system, g = instance(variant, mm)
    prop = "progress_despite_preemption"
    e = check(g, prop)
    assert e.depth == depth
    z = lasso_bmc(system, prop, max_depth=depth or 6, timeout=120, variant=variant)
    if depth is None:
        assert e.status is Status.HOLDS
        assert (z.status, z.depth) == (Status.BOUNDED, 6)
        return
    assert (z.status, z.depth) == (Status.VIOLATED, depth)
    assert z.trace is not None and z.trace.loop_start is not None
    replay(z.trace, system)
    assert violates(z.trace, system)
