"""Offline trace validation of the timer: correct runs pass, broken writers and
readers are rejected at a pinned event with a pinned reason (issue 5, part 3)."""

from __future__ import annotations

import json

import pytest

from intervm.conformance.record import TimerBugs, record_timer
from intervm.conformance.tracecheck import check_lines

SEQ0 = "seq0: s1 := load seq; if (s1 % 2) == 1 goto seq"
SEQ = "seq: s1 := load seq; if (s1 % 2) == 1 goto seq"


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("mm", ["sc", "tso", "pso"])
def test_correct_timer_runs_validate(seed: int, mm: str) -> None:
    lines = record_timer(publishes=8, reads=8, seed=seed)
    res = check_lines(lines, None, "seqlock", mm)
    assert res.divergence is None, res.divergence.text() if res.divergence else ""
    assert res.events == len(lines) - 1 > 100


def test_ticks_across_the_32_bit_carry_validate() -> None:
    # time_lo wraps to 0 while time_hi becomes 1: the split binding (LOW32/HIGH32)
    lines = record_timer(publishes=6, reads=6, seed=2, first_tick=2**32 - 3)
    assert '"field":"time_hi","value":1' in "".join(lines)
    for mm in ("sc", "tso"):
        assert check_lines(lines, None, "seqlock", mm).divergence is None


@pytest.mark.parametrize(("bugs", "line", "why"), [
    # reads the words while seq is odd (a publish in progress): torn values pass its
    # two-load comparison; the spec retries instead
    (TimerBugs(no_odd_check=True), 6,
     f"S's next spec step is '{SEQ}', but the trace shows reader: load time_lo = 1"),
    # never re-loads seq: visible once two reads in a row find seq stable
    (TimerBugs(no_recheck=True), 53,
     f"S's next spec step is '{SEQ0}', but the trace shows reader: load time_lo = 4"),
    (TimerBugs(no_seq=True), 2,
     "W's next spec step is 'begin: store seq := s + 1', but the trace shows writer: "
     "store time_lo := 1"),
    # publish 3 publishes tick 2 again after tick 3: time goes backwards
    (TimerBugs(backwards_at=3), 41,
     "W's step 'st_lo: store lo := t' matches the access, but it would store "
     "time_lo = 4 here"),
])
@pytest.mark.parametrize("mm", ["sc", "tso"])
def test_broken_timer_rejected_at_pinned_event(bugs: TimerBugs, line: int, why: str,
                                               mm: str) -> None:
    lines = record_timer(publishes=8, reads=8, seed=1, bugs=bugs)
    res = check_lines(lines, None, "seqlock", mm)
    assert res.divergence is not None
    assert (res.divergence.event.line, res.divergence.reasons[0]) == (line, why)
    assert res.case.outcome.value == "fail"


def test_hand_made_torn_read_rejected() -> None:
    # a reader that saw the new high word with the old low word across the carry
    lines = record_timer(publishes=6, reads=6, seed=2, first_tick=2**32 - 3)
    i = next(k for k, t in enumerate(lines)
             if '"reader","op":"load","field":"time_hi"' in t)
    d = json.loads(lines[i])
    d["value"] = 1
    lines[i] = json.dumps(d)
    res = check_lines(lines, None, "seqlock", "sc")
    assert res.divergence is not None and res.divergence.event.line == i + 1
    assert res.divergence.reasons[0] == (
        "S's step 'ld_hi: b := load hi' matches the access, but it would read "
        "time_hi = 0 here")
