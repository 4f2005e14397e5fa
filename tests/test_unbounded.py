"""Unbounded proofs: for every ring capacity and request count (Spacer, sliced)."""

from __future__ import annotations

import pytest

from intervm.model.chc import spacer
from intervm.model.check import Checker, CheckOptions
from intervm.model.slicing import compile_sliced
from intervm.model.verdict import Status
from intervm.spec.protocols import get_protocol

PROTO = get_protocol("coalescing")


def unbounded(variant: str, mm: str, prop: str = "no_lost_wakeup") -> object:
    params = PROTO.params_for(variant, unbounded=True)
    assert params["capacity"] is None and params["requests"] is None
    return compile_sliced(PROTO.spec(variant), params, mm, prop)


@pytest.mark.parametrize("mm", ["sc", "tso"])
def test_correct_protocol_is_proved_for_every_capacity(mm: str) -> None:
    system = unbounded("correct", mm)
    v = spacer(system, "no_lost_wakeup", timeout=120)  # type: ignore[arg-type]
    assert v.status is Status.PROVED, v.text
    assert v.scope == "for all capacity, requests"
    assert v.invariant  # re-checked by a plain solver before PROVED is reported


@pytest.mark.parametrize(("variant", "mm"), [("no_producer_fence", "tso"),
                                             ("no_consumer_fence", "tso"),
                                             ("no_recheck", "sc")])
def test_buggy_protocols_are_refuted_unbounded(variant: str, mm: str) -> None:
    v = spacer(unbounded(variant, mm), "no_lost_wakeup", timeout=120)  # type: ignore[arg-type]
    assert v.status is Status.VIOLATED


def test_slicing_drops_the_ring_for_lost_wakeup() -> None:
    system = unbounded("correct", "tso")
    names = {v.name for v in system.vars}  # type: ignore[attr-defined]
    assert "slots" not in names and "sb.P.idx0" not in names
    assert {"tail", "flag", "pending.irq", "CAPACITY", "REQUESTS"} <= names


def test_auto_reports_proved_then_budget_violation_from_the_finite_instance() -> None:
    checker = Checker(PROTO, CheckOptions(timeout=60))
    cell = checker.check("correct", "tso", "no_lost_wakeup")
    # Spacer's proof is for the compiled store buffer (2 entries), and says so
    assert cell.verdict is not None and cell.verdict.text == \
        "PROVED (for all capacity, requests; buffer ≤ 2)"
    assert cell.matches
    budget = checker.check("correct", "tso", "notification_budget")
    assert budget.verdict is not None and budget.verdict.text == "VIOLATED (37 steps)"
    data = checker.check("correct", "tso", "no_unpublished_read")
    assert data.verdict is not None and data.verdict.status is Status.HOLDS
    assert "quantified invariant" in data.note
