"""intervm explain and model/narrate.py: pinned narrations, contrasts and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from intervm.cli import main
from intervm.model.lesson import Lesson, compile_variant, fixed_variant, prepare
from intervm.model.narrate import contrast, narrate
from intervm.spec.errors import ParamError
from intervm.spec.protocols import get_protocol

SMALL = {"requests": 1, "capacity": 1}
COAL = get_protocol("coalescing")
TIMER = get_protocol("timer")


def lesson(proto: str, variant: str, **kw: object) -> Lesson:
    return prepare(get_protocol(proto), variant, **kw)  # type: ignore[arg-type]


def test_no_recheck_under_sc_is_narrated_step_by_step() -> None:
    les = lesson("coalescing", "no_recheck", params=SMALL)
    assert (les.memory_model, les.prop, les.fixed, len(les.trace)) == (
        "sc", "no_lost_wakeup", "correct", 10)
    n = narrate(les.trace, les.system, les.spec)
    assert [s.process for s in n.steps] == list("PPPPCPPPCC")
    assert n.steps[4].sentence.startswith("C reads tail from shared memory and gets 0; "
                                          "(t - h) == 0 holds, so C goes to `arm`")
    assert n.steps[8].sentence == ("C writes flag=1 to shared memory (arm: ask for a "
                                   "doorbell on the next request).")
    assert n.headline.startswith("A lost wakeup")
    assert ("P read flag=0 at step 8 (the initial value) and acted on it; memory now holds "
            "flag=1, written by C at step 9.") in n.facts
    assert n.facts[-1] == ("In the final state P at `idle`, C at `block`; memory slots=[1] "
                           "tail=1 head=0 flag=1; no doorbell pending.")
    beliefs = {b.process: b for b in n.steps[-1].beliefs}
    assert beliefs["C"].at == "block" and beliefs["C"].last_read is not None
    assert beliefs["C"].text == "C at `block` (h=0 t=0 d=0); last read tail=0 at step 5"


def test_tso_narration_shows_the_store_buffers() -> None:
    les = lesson("coalescing", "no_producer_fence", params=SMALL)
    assert (les.memory_model, len(les.trace)) == ("tso", 13)
    n = narrate(les.trace, les.system, les.spec)
    assert n.steps[4].buffers == (("P", ("slots[0]=1", "tail=1")), ("C", ()))
    assert "while P's store tail=1 is still in a store buffer where C cannot see it" in \
        n.steps[11].sentence
    assert n.steps[12].sentence.startswith("P's buffered store tail=1 drains to shared memory")
    assert sum("was still buffered" in f for f in n.facts) == 2


def test_contrast_shows_the_fix_extra_step() -> None:
    les = lesson("coalescing", "no_recheck", params=SMALL)
    fspec, fsys = compile_variant(COAL, "correct", "sc", SMALL)
    c = contrast(les.trace, les.system, fsys, fspec, "correct")
    assert len(c.steps) == 12
    assert [s.note for s in c.steps[10:]] == [
        "the fix's extra step `recheck` after the schedule",
        "the fix's extra step `unarm` after the schedule"]
    assert "gets 1; (t - h) == 0 does not hold" in c.steps[10].sentence
    assert c.headline.startswith("no_lost_wakeup holds at the end of this schedule, and no "
                                 "state violating it is reachable")


def test_tso_contrast_holds_the_producer_at_its_fence() -> None:
    les = lesson("coalescing", "no_producer_fence", params=SMALL)
    fspec, fsys = compile_variant(COAL, "correct", "tso", SMALL)
    c = contrast(les.trace, les.system, fsys, fspec, "correct")
    assert "P cannot take its step `readflag` here: it is held at `pfence`" in c.facts
    assert c.steps[-2].note == "the fix's extra step `pfence` after the schedule"
    assert "gets 1" in c.steps[-1].sentence


def test_a_non_fix_is_reported_as_one() -> None:
    les = lesson("coalescing", "no_recheck", params=SMALL)
    fspec, fsys = compile_variant(COAL, "no_recheck", "sc", SMALL)
    c = contrast(les.trace, les.system, fsys, fspec, "no_recheck")
    assert "can still fail" in c.headline and "is not a fix" in c.headline


def test_torn_read_and_the_seqlock() -> None:
    les = lesson("timer", "two_words_lo_first")
    assert (les.memory_model, len(les.trace), les.fixed) == ("sc", 9, "seqlock")
    n = narrate(les.trace, les.system, les.spec)
    assert n.headline.startswith("A torn read")
    assert n.facts[:2] == ("S read lo=8 at step 8 (in memory since step 7, by W).",
                           "S read hi=7 at step 9 (in memory since step 3, by W).")
    fspec, fsys = compile_variant(TIMER, "seqlock", "sc")
    c = contrast(les.trace, les.system, fsys, fspec, "seqlock")
    assert "S cannot take its step `ld_lo` here: it is held at `seq`" in c.facts
    assert c.headline.startswith("no_torn_read holds")


@pytest.mark.parametrize(("proto", "variant", "prop", "mm", "fix"), [
    ("coalescing", "no_consumer_fence", "no_lost_wakeup", "tso", "correct"),
    ("coalescing", "edge_interrupt", "no_lost_wakeup", "sc", "correct"),
    ("timer", "seqlock_no_wmb", "no_torn_read", "pso", "seqlock"),
    ("timer", "naive_latency", "latency_nonnegative", "sc", "seqlock"),
    ("coalescing", "correct", "notification_budget", "sc", "event_index"),
    ("coalescing", "no_recheck", "fifo", "sc", "correct"),
])
def test_fixed_variant_is_derived(proto: str, variant: str, prop: str, mm: str,
                                  fix: str | None) -> None:
    assert fixed_variant(get_protocol(proto), variant, prop, mm) == fix


def test_lesson_errors_name_the_problem() -> None:
    with pytest.raises(ParamError, match="declares no violated property"):
        prepare(COAL, "event_index")
    with pytest.raises(ParamError, match="keeps 'no_lost_wakeup' under SC"):
        prepare(COAL, "no_producer_fence", memory_model="sc", params=SMALL)


def test_cli_explain() -> None:
    r = CliRunner().invoke(main, ["explain", "coalescing", "no_recheck", "--param",
                                  "requests=1", "--param", "capacity=1"])
    assert r.exit_code == 0, r.output
    assert "Shortest counterexample to no_lost_wakeup under SC: 10 steps" in r.output
    assert "The fix: coalescing/correct" in r.output
    r = CliRunner().invoke(main, ["explain", "timer", "seqlock_no_wmb", "--no-fix"])
    assert r.exit_code == 0 and "21 steps" in r.output and "The fix" not in r.output


@pytest.mark.parametrize(("args", "message", "status"), [
    (["coalescing", "nope"], "has no variant 'nope'", 1),
    (["nope", "x"], "protocol 'nope' is not built in", 1),
    (["coalescing", "no_recheck", "--param", "foo=1"], "parameter 'foo' is not declared", 1),
    (["coalescing", "no_recheck", "--param", "requests"], "is not NAME=INTEGER", 2),
    (["coalescing", "no_recheck", "--property", "zzz"], "property 'zzz' is not declared", 1),
    (["coalescing", "no_recheck", "--fixed", "zzz"], "has no variant 'zzz'", 1),
    (["coalescing", "no_recheck", "-m", "power"], "'power' is not one of", 2),  # usage: 2
])
def test_cli_explain_bad_input_is_one_line(args: list[str], message: str, status: int) -> None:
    r = CliRunner().invoke(main, ["explain", *args])
    assert r.exit_code == status
    assert message in r.output and r.output.count("\n") == 1 and "Traceback" not in r.output


def test_cli_explain_a_user_protocol_file() -> None:
    example = Path(__file__).resolve().parent.parent / "examples" / "io_uring_sqpoll.py"
    r = CliRunner().invoke(main, ["explain", str(example),
                                  "b9_flag_after_check"])
    assert r.exit_code == 0, r.output
    assert "The fix: io_uring_sqpoll/fixed" in r.output
    assert "no_lost_wakeup holds at the end of this schedule" in r.output
