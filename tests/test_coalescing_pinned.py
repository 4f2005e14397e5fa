"""Pinned explicit-engine verdicts for every coalescing variant × memory model × property.

Each entry: (reachable states, {property: shortest counterexample length | 'H' (holds) |
'R<n>' (a 'sometimes' state reached in n steps)}). The numbers are the regression
oracle: a change to the spec language, the compiler or the memory models that alters
the state space or a shortest counterexample shows up here. Every declared verdict is
also checked against the variant's declaration.
"""

from __future__ import annotations

import pytest

from intervm.model.compile import compile_spec
from intervm.model.explicit import check, explore
from intervm.model.replay import replay, violates
from intervm.model.verdict import Status
from intervm.spec.protocols import get_protocol

PINNED = {
    ("correct", "sc"): (
        9976,
        {
            "no_lost_wakeup": "H",
            "no_unpublished_read": "H",
            "fifo": "H",
            "notification_budget": 29,
            "eventually_consumed": "H",
            "consumer_sleeps": "R12",
            "interrupt_raised": "R10",
        },
    ),
    ("correct", "tso"): (
        22989,
        {
            "no_lost_wakeup": "H",
            "no_unpublished_read": "H",
            "fifo": "H",
            "notification_budget": 37,
            "eventually_consumed": "H",
            "consumer_sleeps": "R16",
            "interrupt_raised": "R13",
        },
    ),
    ("correct", "pso"): (
        27434,
        {
            "no_lost_wakeup": "H",
            "no_unpublished_read": "H",
            "fifo": "H",
            "notification_budget": 37,
            "eventually_consumed": "H",
            "consumer_sleeps": "R16",
            "interrupt_raised": "R13",
        },
    ),
    ("no_producer_fence", "sc"): (
        8748,
        {
            "no_lost_wakeup": "H",
            "no_unpublished_read": "H",
            "fifo": "H",
            "notification_budget": 26,
            "eventually_consumed": "H",
            "consumer_sleeps": "R12",
            "interrupt_raised": "R9",
        },
    ),
    ("no_producer_fence", "tso"): (
        24992,
        {
            "no_lost_wakeup": 13,
            "no_unpublished_read": "H",
            "fifo": "H",
            "notification_budget": 34,
            "eventually_consumed": 15,
            "consumer_sleeps": "R16",
            "interrupt_raised": "R12",
        },
    ),
    ("no_producer_fence", "pso"): (
        32423,
        {
            "no_lost_wakeup": 13,
            "no_unpublished_read": "H",
            "fifo": "H",
            "notification_budget": 34,
            "eventually_consumed": 15,
            "consumer_sleeps": "R16",
            "interrupt_raised": "R12",
        },
    ),
    ("no_consumer_fence", "sc"): (
        8598,
        {
            "no_lost_wakeup": "H",
            "no_unpublished_read": "H",
            "fifo": "H",
            "notification_budget": 29,
            "eventually_consumed": "H",
            "consumer_sleeps": "R11",
            "interrupt_raised": "R10",
        },
    ),
    ("no_consumer_fence", "tso"): (
        26634,
        {
            "no_lost_wakeup": 12,
            "no_unpublished_read": "H",
            "fifo": "H",
            "notification_budget": 37,
            "eventually_consumed": 15,
            "consumer_sleeps": "R13",
            "interrupt_raised": "R13",
        },
    ),
    ("no_consumer_fence", "pso"): (
        34102,
        {
            "no_lost_wakeup": 12,
            "no_unpublished_read": "H",
            "fifo": "H",
            "notification_budget": 37,
            "eventually_consumed": 15,
            "consumer_sleeps": "R13",
            "interrupt_raised": "R13",
        },
    ),
    ("no_recheck", "sc"): (
        2269,
        {
            "no_lost_wakeup": 10,
            "no_unpublished_read": "H",
            "fifo": "H",
            "notification_budget": 29,
            "eventually_consumed": 12,
            "consumer_sleeps": "R11",
            "interrupt_raised": "R10",
        },
    ),
    ("no_recheck", "tso"): (
        5396,
        {
            "no_lost_wakeup": 13,
            "no_unpublished_read": "H",
            "fifo": "H",
            "notification_budget": 37,
            "eventually_consumed": 15,
            "consumer_sleeps": "R15",
            "interrupt_raised": "R13",
        },
    ),
    ("no_recheck", "pso"): (
        6647,
        {
            "no_lost_wakeup": 13,
            "no_unpublished_read": "H",
            "fifo": "H",
            "notification_budget": 37,
            "eventually_consumed": 15,
            "consumer_sleeps": "R15",
            "interrupt_raised": "R13",
        },
    ),
    ("check_then_arm", "sc"): (
        2550,
        {
            "no_lost_wakeup": 11,
            "no_unpublished_read": "H",
            "fifo": "H",
            "notification_budget": 30,
            "eventually_consumed": 13,
            "consumer_sleeps": "R12",
            "interrupt_raised": "R11",
        },
    ),
    ("check_then_arm", "tso"): (
        6321,
        {
            "no_lost_wakeup": 14,
            "no_unpublished_read": "H",
            "fifo": "H",
            "notification_budget": 38,
            "eventually_consumed": 16,
            "consumer_sleeps": "R16",
            "interrupt_raised": "R14",
        },
    ),
    ("check_then_arm", "pso"): (
        7782,
        {
            "no_lost_wakeup": 14,
            "no_unpublished_read": "H",
            "fifo": "H",
            "notification_budget": 38,
            "eventually_consumed": 16,
            "consumer_sleeps": "R16",
            "interrupt_raised": "R14",
        },
    ),
    ("store_fence_producer", "sc"): (
        9976,
        {
            "no_lost_wakeup": "H",
            "no_unpublished_read": "H",
            "fifo": "H",
            "notification_budget": 29,
            "eventually_consumed": "H",
            "consumer_sleeps": "R12",
            "interrupt_raised": "R10",
        },
    ),
    ("store_fence_producer", "tso"): (
        29042,
        {
            "no_lost_wakeup": 14,
            "no_unpublished_read": "H",
            "fifo": "H",
            "notification_budget": 37,
            "eventually_consumed": 16,
            "consumer_sleeps": "R16",
            "interrupt_raised": "R13",
        },
    ),
    ("store_fence_producer", "pso"): (
        38995,
        {
            "no_lost_wakeup": 14,
            "no_unpublished_read": "H",
            "fifo": "H",
            "notification_budget": 37,
            "eventually_consumed": 16,
            "consumer_sleeps": "R16",
            "interrupt_raised": "R13",
        },
    ),
    ("edge_interrupt", "sc"): (
        9616,
        {
            "no_lost_wakeup": 13,
            "no_unpublished_read": "H",
            "fifo": "H",
            "notification_budget": 29,
            "eventually_consumed": 15,
            "consumer_sleeps": "R13",
            "interrupt_raised": "R10",
        },
    ),
    ("edge_interrupt", "tso"): (
        20229,
        {
            "no_lost_wakeup": 16,
            "no_unpublished_read": "H",
            "fifo": "H",
            "notification_budget": 37,
            "eventually_consumed": 18,
            "consumer_sleeps": "R17",
            "interrupt_raised": "R13",
        },
    ),
    ("edge_interrupt", "pso"): (
        24784,
        {
            "no_lost_wakeup": 16,
            "no_unpublished_read": "H",
            "fifo": "H",
            "notification_budget": 37,
            "eventually_consumed": 18,
            "consumer_sleeps": "R17",
            "interrupt_raised": "R13",
        },
    ),
    ("no_publish_fence", "sc"): (
        9515,
        {
            "no_lost_wakeup": "H",
            "no_unpublished_read": "H",
            "fifo": "H",
            "notification_budget": 26,
            "eventually_consumed": "H",
            "consumer_sleeps": "R11",
            "interrupt_raised": "R9",
        },
    ),
    ("no_publish_fence", "tso"): (
        21433,
        {
            "no_lost_wakeup": "H",
            "no_unpublished_read": "H",
            "fifo": "H",
            "notification_budget": 34,
            "eventually_consumed": "H",
            "consumer_sleeps": "R15",
            "interrupt_raised": "R12",
        },
    ),
    ("no_publish_fence", "pso"): (
        70969,
        {
            "no_lost_wakeup": "H",
            "no_unpublished_read": 7,
            "fifo": 8,
            "notification_budget": 34,
            "eventually_consumed": "H",
            "consumer_sleeps": "R14",
            "interrupt_raised": "R12",
        },
    ),
    ("event_index", "sc"): (
        77782,
        {
            "no_lost_wakeup": "H",
            "no_unpublished_read": "H",
            "fifo": "H",
            "notification_budget": "H",
            "eventually_consumed": "H",
            "consumer_sleeps": "R13",
            "interrupt_raised": "R10",
        },
    ),
    ("event_index", "tso"): (
        146591,
        {
            "no_lost_wakeup": "H",
            "no_unpublished_read": "H",
            "fifo": "H",
            "notification_budget": "H",
            "eventually_consumed": "H",
            "consumer_sleeps": "R17",
            "interrupt_raised": "R12",
        },
    ),
    ("event_index", "pso"): (
        173297,
        {
            "no_lost_wakeup": "H",
            "no_unpublished_read": "H",
            "fifo": "H",
            "notification_budget": "H",
            "eventually_consumed": "H",
            "consumer_sleeps": "R17",
            "interrupt_raised": "R12",
        },
    ),
    ("event_index_wrap", "sc"): (
        8559,
        {
            "no_lost_wakeup": 23,
            "no_unpublished_read": "H",
            "fifo": "H",
            "notification_budget": 37,
            "eventually_consumed": 25,
            "consumer_sleeps": "R13",
            "interrupt_raised": "R10",
        },
    ),
    ("event_index_wrap", "tso"): (
        14257,
        {
            "no_lost_wakeup": 29,
            "no_unpublished_read": "H",
            "fifo": "H",
            "notification_budget": 45,
            "eventually_consumed": 31,
            "consumer_sleeps": "R17",
            "interrupt_raised": "R12",
        },
    ),
    ("event_index_wrap", "pso"): (
        15581,
        {
            "no_lost_wakeup": 29,
            "no_unpublished_read": "H",
            "fifo": "H",
            "notification_budget": 45,
            "eventually_consumed": 31,
            "consumer_sleeps": "R17",
            "interrupt_raised": "R12",
        },
    ),
    ("two_producers", "sc"): (
        14231,
        {
            "no_lost_wakeup": "H",
            "no_unpublished_read": "H",
            "fifo": "H",
            "eventually_consumed": "H",
            "consumer_sleeps": "R14",
            "interrupt_raised": "R12",
        },
    ),
    ("two_producers", "tso"): (
        30876,
        {
            "no_lost_wakeup": "H",
            "no_unpublished_read": "H",
            "fifo": "H",
            "eventually_consumed": "H",
            "consumer_sleeps": "R18",
            "interrupt_raised": "R15",
        },
    ),
    ("two_producers", "pso"): (
        36150,
        {
            "no_lost_wakeup": "H",
            "no_unpublished_read": "H",
            "fifo": "H",
            "eventually_consumed": "H",
            "consumer_sleeps": "R18",
            "interrupt_raised": "R15",
        },
    ),
    ("producer_clears", "sc"): (
        18653,
        {
            "no_lost_wakeup": "H",
            "no_unpublished_read": "H",
            "fifo": "H",
            "eventually_consumed": "H",
            "consumer_sleeps": "R14",
            "interrupt_raised": "R13",
        },
    ),
    ("producer_clears", "tso"): (
        41070,
        {
            "no_lost_wakeup": "H",
            "no_unpublished_read": "H",
            "fifo": "H",
            "eventually_consumed": "H",
            "consumer_sleeps": "R18",
            "interrupt_raised": "R17",
        },
    ),
    ("producer_clears", "pso"): (
        50828,
        {
            "no_lost_wakeup": "H",
            "no_unpublished_read": "H",
            "fifo": "H",
            "eventually_consumed": "H",
            "consumer_sleeps": "R18",
            "interrupt_raised": "R17",
        },
    ),
    ("producer_clears_edge", "sc"): (
        22326,
        {
            "no_lost_wakeup": 16,
            "no_unpublished_read": "H",
            "fifo": "H",
            "eventually_consumed": 19,
            "consumer_sleeps": "R15",
            "interrupt_raised": "R13",
        },
    ),
    ("producer_clears_edge", "tso"): (
        45983,
        {
            "no_lost_wakeup": 20,
            "no_unpublished_read": "H",
            "fifo": "H",
            "eventually_consumed": 23,
            "consumer_sleeps": "R19",
            "interrupt_raised": "R17",
        },
    ),
    ("producer_clears_edge", "pso"): (
        55865,
        {
            "no_lost_wakeup": 20,
            "no_unpublished_read": "H",
            "fifo": "H",
            "eventually_consumed": 23,
            "consumer_sleeps": "R19",
            "interrupt_raised": "R17",
        },
    ),
    ("always_notify", "sc"): (
        4304,
        {
            "no_lost_wakeup": "H",
            "no_unpublished_read": "H",
            "fifo": "H",
            "notification_budget": 14,
            "eventually_consumed": "H",
            "consumer_sleeps": "R12",
            "interrupt_raised": "R7",
        },
    ),
    ("always_notify", "tso"): (
        10476,
        {
            "no_lost_wakeup": "H",
            "no_unpublished_read": "H",
            "fifo": "H",
            "notification_budget": 18,
            "eventually_consumed": "H",
            "consumer_sleeps": "R16",
            "interrupt_raised": "R9",
        },
    ),
    ("always_notify", "pso"): (
        11959,
        {
            "no_lost_wakeup": "H",
            "no_unpublished_read": "H",
            "fifo": "H",
            "notification_budget": 18,
            "eventually_consumed": "H",
            "consumer_sleeps": "R16",
            "interrupt_raised": "R9",
        },
    ),
}

PROTO = get_protocol("coalescing")


@pytest.mark.parametrize(("variant", "mm"), sorted(PINNED))
def test_explicit_verdicts_are_pinned(variant: str, mm: str) -> None:
    states, expected = PINNED[(variant, mm)]
    system = compile_spec(PROTO.spec(variant), PROTO.params_for(variant, unbounded=False), mm)
    g = explore(system, variant=variant)
    assert g.complete
    assert len(g) == states
    got = {}
    for prop in system.properties:
        v = check(g, prop.name)
        match v.status:
            case Status.VIOLATED:
                got[prop.name] = v.depth
                assert v.trace is not None and len(v.trace) == v.depth
                replay(v.trace, system)  # the counterexample replays step by step
                assert violates(v.trace, system)
            case Status.PROVED:
                got[prop.name] = f"R{v.depth}"
            case Status.HOLDS:
                got[prop.name] = "H"
            case _:
                pytest.fail(f"{variant}/{mm}/{prop.name}: {v.text}")
    assert got == expected


@pytest.mark.parametrize(("variant", "mm"), sorted(PINNED))
def test_finite_verdicts_agree_with_declarations_except_unbounded_only_ones(
    variant: str, mm: str
) -> None:
    """Every finite verdict is what the variant declares (no variant declares a
    violation that only appears beyond its finite instance)."""
    _, pinned = PINNED[(variant, mm)]
    v = PROTO.variant(variant)
    for prop, result in pinned.items():
        holds = result == "H" or str(result).startswith("R")
        assert v.expected(prop, mm) == ("holds" if holds else "violated"), prop


def test_the_issue_expected_verdicts() -> None:
    """The verdicts the coalescing issue names, read off the pinned table."""
    lost = {k: r["no_lost_wakeup"] for k, (_, r) in PINNED.items()}
    assert lost[("correct", "sc")] == lost[("correct", "tso")] == "H"
    for fence in ("no_producer_fence", "no_consumer_fence", "store_fence_producer"):
        assert lost[(fence, "sc")] == "H"
        assert isinstance(lost[(fence, "tso")], int)
    for bug in ("no_recheck", "check_then_arm", "edge_interrupt", "event_index_wrap"):
        assert isinstance(lost[(bug, "sc")], int)
    assert lost[("event_index", "sc")] == "H"
    unpublished = {k: r["no_unpublished_read"] for k, (_, r) in PINNED.items()}
    assert unpublished[("no_publish_fence", "tso")] == "H"
    assert unpublished[("no_publish_fence", "pso")] == 7
