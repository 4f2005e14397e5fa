"""The in-process tester under TSO and PSO: timer refinement holds for a correct
seqlock whose writer omits the spec's interrupt-return fence, and still rejects the
broken writers (issue 5, part 1)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from examples.inprocess_seqlock import IMPL as USER_SEQLOCK
from intervm.conformance.binding import TIMER
from intervm.conformance.broken import by_name
from intervm.conformance.events import Event
from intervm.conformance.implementation import REFERENCE_TIMER, Implementation
from intervm.conformance.inprocess import Target, _Stepper, replay
from intervm.conformance.refine import Validator
from intervm.conformance.tracecheck import system_for
from intervm.model.trace import Trace, TraceStep
from intervm.spec.errors import TraceError


def _trace(impl: Implementation, mm: str, decisions: list[str]) -> Trace:
    return Trace(impl.protocol, impl.name, mm, (), "refines_spec", {},
                 tuple(TraceStep(f"{d}: ", d, {}) for d in decisions), engine="inprocess")


# one publish (tick 1); the next one begins while the even version 2 still waits in the
# writer's buffer; the reader then loads the old, odd version 1 from memory
NEXT_PUBLISH_BEFORE_THE_FLUSH = [
    ("writer", "store", "timer_seq", 1), ("writer", "fence", "", 0),
    ("writer", "store", "time_lo", 1), ("writer", "store", "time_hi", 0),
    ("writer", "fence", "", 0), ("writer", "store", "timer_seq", 2),
    ("writer", "store", "timer_seq", 3), ("reader", "load", "timer_seq", 1),
]


def _events() -> list[Event]:
    return [Event(k, who, op, fld or None, None, v if op != "fence" else None,
                  fence="store" if op == "fence" else None)
            for k, (who, op, fld, v) in enumerate(NEXT_PUBLISH_BEFORE_THE_FLUSH, start=1)]


@pytest.mark.parametrize("mm", ["sc", "tso", "pso"])
def test_a_publish_may_begin_before_the_last_one_is_visible(mm: str) -> None:
    # the spec's writer ends each publish with iret, a full fence; ours has none, so
    # under TSO/PSO the version 2 may still be buffered when version 3 is stored
    v = Validator(system_for("timer", "seqlock", mm, {"start": 1}), TIMER)
    verdicts = [v.feed(e) for e in _events()]
    rejected = [(d.event.line, d.reasons[0]) for d in verdicts if d is not None]
    if mm == "sc":  # memory already holds 3
        assert rejected == [(8, "S's step 'seq0: s1 := load seq; if (s1 % 2) == 1 goto "
                                "seq' matches the access, but it would read timer_seq = 3 "
                                "here")]
    else:
        assert rejected == []


def test_only_a_fence_can_be_omitted() -> None:
    sys = system_for("timer", "seqlock", "tso", {"start": 1})
    with pytest.raises(TraceError, match=r"omits spec step 'W\.end', which is 'store seq"):
        Validator(sys, replace(TIMER, omitted_steps=frozenset({"W.end"})))
    with pytest.raises(TraceError, match=r"'W\.nosuch', which timer does not have"):
        Validator(sys, replace(TIMER, omitted_steps=frozenset({"W.nosuch"})))


# In process, the timer adapter ends each publish with the interrupt return (a full
# fence), so the even version is visible before the next publish; a reader may still
# load it while the next odd version waits in the writer's buffer, which the spec (with
# W.iret omitted: an extra fence on an empty buffer) must accept. Our writer's time64
# store takes a buffer entry the spec does not see.
PSO_REFERENCE = ["W", "flush(W)", "W", "W", "W", "flush(W)", "flush(W)", "W", "W", "W",
                 "flush(W)", "flush(W)", "W", "W", "S"]
TSO_USER = ["W", "W", "W", "flush(W)", "W", "W", "flush(W)", "W", "flush(W)", "flush(W)",
            "W", "W", "S"]


@pytest.mark.parametrize(("impl", "mm", "plan"), [(REFERENCE_TIMER, "pso", PSO_REFERENCE),
                                                  (USER_SEQLOCK, "tso", TSO_USER)])
def test_reader_sees_the_old_version_while_the_new_one_is_buffered(
        impl: Implementation, mm: str, plan: list[str]) -> None:
    assert Target.of(impl, mm).system is not None  # refinement is on
    assert replay(impl, _trace(impl, mm, plan)) is None
    s = _Stepper(Target.of(impl, mm))
    try:
        for d in plan:
            acc = s.do(d)
        assert acc.text() == "load timer_seq = 2" and s.divergence is None
        assert s.run.buffer("W") == [(("timer_seq", None), 3)]
    finally:
        s.close()


def test_pso_refinement_rejects_a_writer_without_store_fences() -> None:
    impl = by_name("timer/seqlock_no_wmb")
    v = replay(impl, _trace(impl, "pso", ["W", "W"]))
    assert v is not None and v.prop == "refines_spec"
    assert "W's next spec step is 'wmb1: store fence (sfence)'" in v.detail


def test_reference_timer_refines_the_spec_under_pso() -> None:
    from intervm.conformance.inprocess import test as run_tester

    r = run_tester(REFERENCE_TIMER, "pso", max_examples=60)
    assert "refines_spec" in Target.of(REFERENCE_TIMER, "pso").properties
    assert r.passed and r.finding is None and r.examples >= 60
