"""The shared-timer protocol: every variant's declared verdicts, pinned with the explicit
engine (state counts, shortest counterexamples) and, where the spec allows symbolic
parameters, with Spacer.

>>> PINNED[("seqlock", "pso")][0]
45364
"""

from __future__ import annotations

from functools import lru_cache

import pytest

from intervm.model.chc import spacer
from intervm.model.compile import compile_spec
from intervm.model.explicit import StateGraph, check, explore
from intervm.model.slicing import compile_sliced
from intervm.model.verdict import Status
from intervm.spec.syntax import Always, Eventually, Sometimes
from intervm.spec.timer import TimerKnobs, build
from intervm.spec.timer_variants import TIMER
from intervm.spec.validate import validate

# (variant, memory model): (states, {violated property: shortest counterexample steps})
PINNED: dict[tuple[str, str], tuple[int, dict[str, int]]] = {
    ('single_word', 'sc'): (1991, {'no_uninitialised_read': 1}),
    ('single_word', 'tso'): (2603, {'no_uninitialised_read': 1}),
    ('single_word', 'pso'): (2603, {'no_uninitialised_read': 1}),
    ('single_word_nohz', 'sc'): (4912, {'bounded_staleness': 6, 'latency_within_lag': 9, 'no_uninitialised_read': 1}),
    ('single_word_nohz', 'tso'): (6424, {'bounded_staleness': 7, 'latency_within_lag': 10, 'no_uninitialised_read': 1}),
    ('single_word_nohz', 'pso'): (6424, {'bounded_staleness': 7, 'latency_within_lag': 10, 'no_uninitialised_read': 1}),
    ('two_words_lo_first', 'sc'): (9541, {'no_torn_read': 9, 'bounded_staleness': 9, 'reader_monotonic': 17, 'cross_reader_monotonic': 13, 'latency_nonnegative': 13, 'latency_within_lag': 13, 'no_uninitialised_read': 2}),
    ('two_words_lo_first', 'tso'): (14627, {'no_torn_read': 12, 'bounded_staleness': 12, 'reader_monotonic': 20, 'cross_reader_monotonic': 16, 'latency_nonnegative': 16, 'latency_within_lag': 16, 'no_uninitialised_read': 2}),
    ('two_words_lo_first', 'pso'): (17279, {'no_torn_read': 12, 'bounded_staleness': 12, 'reader_monotonic': 20, 'cross_reader_monotonic': 16, 'latency_nonnegative': 16, 'latency_within_lag': 16, 'no_uninitialised_read': 2}),
    ('two_words_hi_first', 'sc'): (8210, {'no_torn_read': 9, 'bounded_staleness': 9, 'reader_monotonic': 17, 'cross_reader_monotonic': 13, 'latency_nonnegative': 13, 'latency_within_lag': 13, 'no_uninitialised_read': 2}),
    ('two_words_hi_first', 'tso'): (12775, {'no_torn_read': 12, 'bounded_staleness': 12, 'reader_monotonic': 20, 'cross_reader_monotonic': 16, 'latency_nonnegative': 16, 'latency_within_lag': 16, 'no_uninitialised_read': 2}),
    ('two_words_hi_first', 'pso'): (16652, {'no_torn_read': 12, 'bounded_staleness': 12, 'reader_monotonic': 20, 'cross_reader_monotonic': 16, 'latency_nonnegative': 16, 'latency_within_lag': 16, 'no_uninitialised_read': 2}),
    ('hi_lo_hi', 'sc'): (16177, {'no_uninitialised_read': 4}),
    ('hi_lo_hi', 'tso'): (20146, {'no_uninitialised_read': 4}),
    ('hi_lo_hi', 'pso'): (20146, {'no_uninitialised_read': 4}),
    ('hi_lo_hi_two_stores', 'sc'): (5284, {'no_torn_read': 11, 'bounded_staleness': 11, 'cross_reader_monotonic': 17, 'latency_nonnegative': 17, 'latency_within_lag': 17, 'no_uninitialised_read': 4}),
    ('hi_lo_hi_two_stores', 'tso'): (7781, {'no_torn_read': 14, 'bounded_staleness': 14, 'cross_reader_monotonic': 20, 'latency_nonnegative': 20, 'latency_within_lag': 20, 'no_uninitialised_read': 4}),
    ('hi_lo_hi_two_stores', 'pso'): (10503, {'no_torn_read': 14, 'bounded_staleness': 14, 'cross_reader_monotonic': 20, 'latency_nonnegative': 20, 'latency_within_lag': 20, 'no_uninitialised_read': 4}),
    ('seqlock', 'sc'): (17780, {'no_uninitialised_read': 5, 'progress_despite_preemption': 4}),
    ('seqlock', 'tso'): (31716, {'no_uninitialised_read': 5, 'progress_despite_preemption': 5}),
    ('seqlock', 'pso'): (45364, {'no_uninitialised_read': 5, 'progress_despite_preemption': 5}),
    ('seqlock_no_odd_check', 'sc'): (35592, {'no_torn_read': 19, 'bounded_staleness': 19, 'cross_reader_monotonic': 26, 'latency_nonnegative': 26, 'latency_within_lag': 26, 'no_uninitialised_read': 5}),
    ('seqlock_no_odd_check', 'tso'): (62968, {'no_torn_read': 25, 'bounded_staleness': 25, 'cross_reader_monotonic': 32, 'latency_nonnegative': 32, 'latency_within_lag': 32, 'no_uninitialised_read': 5}),
    ('seqlock_no_odd_check', 'pso'): (92310, {'no_torn_read': 25, 'bounded_staleness': 25, 'cross_reader_monotonic': 32, 'latency_nonnegative': 32, 'latency_within_lag': 32, 'no_uninitialised_read': 5}),
    ('seqlock_no_wmb', 'sc'): (14784, {'no_uninitialised_read': 5, 'progress_despite_preemption': 4}),
    ('seqlock_no_wmb', 'tso'): (25248, {'no_uninitialised_read': 5, 'progress_despite_preemption': 5}),
    ('seqlock_no_wmb', 'pso'): (68022, {'no_torn_read': 21, 'bounded_staleness': 21, 'cross_reader_monotonic': 28, 'latency_nonnegative': 28, 'latency_within_lag': 28, 'no_uninitialised_read': 5, 'progress_despite_preemption': 5}),
    ('seqlock_aba', 'sc'): (20530, {'no_torn_read': 22, 'bounded_staleness': 22, 'cross_reader_monotonic': 29, 'latency_nonnegative': 29, 'latency_within_lag': 29, 'no_sequence_aba': 22, 'no_uninitialised_read': 5, 'progress_despite_preemption': 4}),
    ('seqlock_aba', 'tso'): (36210, {'no_torn_read': 30, 'bounded_staleness': 30, 'cross_reader_monotonic': 37, 'latency_nonnegative': 37, 'latency_within_lag': 37, 'no_sequence_aba': 30, 'no_uninitialised_read': 5, 'progress_despite_preemption': 5}),
    ('seqlock_aba', 'pso'): (51532, {'no_torn_read': 30, 'bounded_staleness': 30, 'cross_reader_monotonic': 37, 'latency_nonnegative': 37, 'latency_within_lag': 37, 'no_sequence_aba': 30, 'no_uninitialised_read': 5, 'progress_despite_preemption': 5}),
    ('bump_at_end', 'sc'): (15264, {'no_torn_read': 14, 'bounded_staleness': 14, 'cross_reader_monotonic': 21, 'latency_nonnegative': 21, 'latency_within_lag': 21, 'no_uninitialised_read': 5}),
    ('bump_at_end', 'tso'): (25250, {'no_torn_read': 18, 'bounded_staleness': 18, 'cross_reader_monotonic': 25, 'latency_nonnegative': 25, 'latency_within_lag': 25, 'no_uninitialised_read': 5}),
    ('bump_at_end', 'pso'): (31152, {'no_torn_read': 18, 'bounded_staleness': 18, 'cross_reader_monotonic': 25, 'latency_nonnegative': 25, 'latency_within_lag': 25, 'no_uninitialised_read': 5}),
    ('hyperv', 'sc'): (9594, {}),
    ('hyperv', 'tso'): (19282, {'cross_reader_monotonic': 24, 'latency_nonnegative': 24, 'latency_within_lag': 24}),
    ('hyperv', 'pso'): (27589, {'cross_reader_monotonic': 24, 'latency_nonnegative': 24, 'latency_within_lag': 24}),
    ('hyperv_no_skip', 'sc'): (1547, {'no_sentinel_at_rest': 18}),
    ('hyperv_no_skip', 'tso'): (2994, {'cross_reader_monotonic': 24, 'latency_nonnegative': 24, 'latency_within_lag': 24, 'no_sentinel_at_rest': 26}),
    ('hyperv_no_skip', 'pso'): (4294, {'cross_reader_monotonic': 24, 'latency_nonnegative': 24, 'latency_within_lag': 24, 'no_sentinel_at_rest': 26}),
    ('two_writers', 'sc'): (136520, {'no_torn_read': 14, 'bounded_staleness': 14, 'cross_reader_monotonic': 21, 'latency_nonnegative': 21, 'latency_within_lag': 21, 'no_sentinel_at_rest': 22, 'single_writer': 5, 'reader_progress': 24, 'progress_despite_preemption': 17}),
    ('naive_latency', 'sc'): (509, {'latency_nonnegative': 10, 'latency_within_lag': 10, 'wrap_safe_latency': 10, 'no_uninitialised_read': 1}),
    ('naive_latency', 'tso'): (689, {'latency_nonnegative': 12, 'latency_within_lag': 12, 'wrap_safe_latency': 12, 'no_uninitialised_read': 1}),
    ('naive_latency', 'pso'): (689, {'latency_nonnegative': 12, 'latency_within_lag': 12, 'wrap_safe_latency': 12, 'no_uninitialised_read': 1}),
}


@lru_cache(maxsize=4)
def graph(variant: str, mm: str) -> StateGraph:
    spec = TIMER.spec(variant)
    return explore(compile_spec(spec, TIMER.params_for(variant, unbounded=False), mm),
                   variant=variant)


CASES = [(v.name, mm) for v in TIMER.variants for mm in v.memory_models]


def test_every_case_is_pinned() -> None:
    assert sorted(CASES) == sorted(PINNED)
    assert len(TIMER.variants) == 15


@pytest.mark.parametrize(("variant", "mm"), CASES)
def test_declared_verdicts(variant: str, mm: str) -> None:
    """The explicit engine agrees with the variant's declaration and the pinned numbers."""
    g = graph(variant, mm)
    assert g.complete
    states, depths = PINNED[(variant, mm)]
    assert len(g) == states
    decl = TIMER.variant(variant)
    seen: dict[str, int] = {}
    for p in TIMER.spec(variant).properties:
        v = check(g, p.name)
        assert v.status in (Status.HOLDS, Status.PROVED, Status.VIOLATED), v.text
        if v.status is Status.VIOLATED:
            assert v.depth is not None
            seen[p.name] = v.depth
        assert decl.expected(p.name, mm) == (
            "violated" if v.status is Status.VIOLATED else "holds"
        ), (p.name, v.text)
    assert seen == depths


def test_state_spaces_stay_small() -> None:
    assert max(states for states, _ in PINNED.values()) < 200_000


def test_single_word_and_full_seqlock_never_tear() -> None:
    for variant in ("single_word", "seqlock", "hyperv", "hi_lo_hi"):
        for mm in ("sc", "tso", "pso"):
            assert "no_torn_read" not in PINNED[(variant, mm)][1]


def test_unprotected_two_words_tear_at_the_carry() -> None:
    """The torn read mixes the words of 7 (hi 4, lo 3) and 8 (hi 0, lo 0 mod 8): the carry."""
    for variant in ("two_words_lo_first", "two_words_hi_first"):
        v = check(graph(variant, "sc"), "no_torn_read")
        assert v.status is Status.VIOLATED and v.trace is not None
        last = v.trace.steps[-1].state
        reader = v.trace.steps[-1].process
        tags = {last[f"{reader}.a"], last[f"{reader}.b"]}
        assert tags == {7, 8}


def test_no_odd_check_accepts_a_torn_read_with_a_concurrent_writer() -> None:
    """OSv B1: both version reads see the same odd value while the writer is mid-update."""
    v = check(graph("seqlock_no_odd_check", "sc"), "no_torn_read")
    assert v.trace is not None
    last = v.trace.steps[-1]
    s1, s2 = last.state[f"{last.process}.s1"], last.state[f"{last.process}.s2"]
    assert s1 == s2 and s1 % 2 == 1
    writers = {s.process for s in v.trace.steps if s.process.startswith("W")}
    assert writers == {"W"}


def test_reordered_writer_tears_under_pso_only() -> None:
    assert "no_torn_read" not in PINNED[("seqlock_no_wmb", "sc")][1]
    assert "no_torn_read" not in PINNED[("seqlock_no_wmb", "tso")][1]
    assert PINNED[("seqlock_no_wmb", "pso")][1]["no_torn_read"] == 21
    v = check(graph("seqlock_no_wmb", "pso"), "no_torn_read")
    assert v.trace is not None
    # the data store overtakes an older buffered store: not the oldest entry flushes
    assert any(s.command.startswith("flush(W,1)") for s in v.trace.steps)


def test_two_unserialized_writers_break_the_odd_even_invariant() -> None:
    g = graph("two_writers", "sc")
    assert check(g, "single_writer").depth == 5
    # a lost seq++ update leaves the version odd with both writers at rest
    v = check(g, "no_sentinel_at_rest")
    assert v.trace is not None and v.trace.steps[-1].state["seq"] % 2 == 1
    # ... and readers then spin for good although no writer is preempted (L1)
    assert check(g, "reader_progress").status is Status.VIOLATED


def test_latency_bound_is_tight() -> None:
    """P6 holds and its upper bound (true duration + lag) is reached."""
    g = graph("seqlock", "sc")
    assert check(g, "latency_within_lag").status is Status.HOLDS
    reached = check(g, "latency_bound_reached")
    assert reached.status is Status.PROVED and reached.depth == 29
    assert check(g, "latency_across_wrap").depth == 29
    assert check(g, "read_accepted").depth == 12


def test_seqlock_spins_hyperv_falls_back_when_the_writer_is_preempted() -> None:
    assert check(graph("seqlock", "sc"), "progress_despite_preemption").depth == 4
    assert check(graph("seqlock", "sc"), "reader_progress").status is Status.HOLDS
    assert check(graph("hyperv", "sc"), "progress_despite_preemption").status is Status.HOLDS


def test_only_hyperv_refuses_pre_initialisation_contents() -> None:
    refuse = {v for (v, mm), (_, d) in PINNED.items() if "no_uninitialised_read" not in d}
    assert refuse == {"hyperv", "hyperv_no_skip", "two_writers"}  # two_writers: preinit


@pytest.mark.parametrize(("lag", "states", "violated"), [
    (1, 4912, {"bounded_staleness": 6, "latency_within_lag": 9}),
    (2, 3439, {}),
])
def test_nohz_catch_up_needs_a_lag_bound_of_k(lag: int, states: int,
                                               violated: dict[str, int]) -> None:
    """K = 2 ticks per publish: P2 and P6 fail against lag 1 and hold again at lag 2."""
    spec = TIMER.spec("single_word_nohz")
    params = {**TIMER.params_for("single_word_nohz", unbounded=False), "lag": lag}
    g = explore(compile_spec(spec, params, "sc"))
    assert len(g) == states
    for prop in ("bounded_staleness", "latency_within_lag", "no_torn_read",
                 "reader_monotonic", "latency_nonnegative", "wrap_safe_latency"):
        v = check(g, prop)
        assert (v.depth if v.status is Status.VIOLATED else None) == violated.get(prop), prop
    stale = check(g, "bounded_staleness").trace
    if stale is not None:  # the reader's value is two ticks behind the true time
        last, reader = stale.steps[-1].state, stale.steps[-1].process
        assert (last["now"] - last[f"{reader}.a"]) % 8 == 2


def test_one_tick_per_publish_keeps_the_periodic_spec() -> None:
    """burst = 1 builds exactly the spec without catch-up steps (the pinned counts)."""
    assert TimerKnobs().burst == 1
    assert [s.label for s in build(TimerKnobs()).process("W").steps][-2:] == ["irq", "off"]
    nohz = [s.label for s in build(TimerKnobs(burst=3)).process("W").steps]
    assert nohz[-5:] == ["irq", "add1", "add2", "add3", "off"]


def test_sequence_aba_needs_a_narrow_version() -> None:
    assert PINNED[("seqlock_aba", "sc")][1]["no_sequence_aba"] == 22
    assert "no_sequence_aba" not in PINNED[("seqlock", "pso")][1]


@pytest.mark.parametrize("mm", ["sc", "tso", "pso"])
def test_single_word_never_tears_for_any_parameters(mm: str) -> None:
    """Spacer: P1 and P11 of the single word for every ticks, lag and reads."""
    params = TIMER.params_for("single_word", unbounded=True)
    assert params == {"ticks": None, "lag": None, "reads": None}
    spec = TIMER.spec("single_word")
    for prop in ("no_torn_read", "single_writer"):
        v = spacer(compile_sliced(spec, params, mm, prop), prop, timeout=60)
        assert v.text == "PROVED (for all ticks, lag, reads)"


def test_properties_are_documented_and_named() -> None:
    spec = build(TimerKnobs())
    validate(spec)
    kinds = {type(p) for p in spec.properties}
    assert kinds == {Always, Sometimes, Eventually}
    assert len(spec.properties) == 16
    for p in spec.properties:
        assert p.name.islower() and " " not in p.name
        assert p.doc and "\n" not in p.doc


def test_every_variant_validates_and_cites_its_source() -> None:
    for v in TIMER.variants:
        validate(TIMER.spec(v.name))
        assert "(" in v.doc and len(v.doc) > 80


@pytest.mark.parametrize(
    ("knobs", "message"),
    [
        (TimerKnobs(layout="triple"), "layout"),
        (TimerKnobs(guard="lock"), "guard"),
        (TimerKnobs(lo_bits=3), "lo_bits"),
        (TimerKnobs(writers=3), "writers"),
        (TimerKnobs(start=0), "start"),
        (TimerKnobs(burst=0), "burst"),
    ],
)
def test_bad_knobs_are_refused(knobs: TimerKnobs, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build(knobs)
