"""examples/litmus/x86.py: the x86 litmus catalogue with every verdict pinned, the
store-buffer depth in every TSO/PSO verdict, and the engines agreeing on the buffer
semantics at depths 1, 2 and 3."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from litmus_helpers import pinned_row

from intervm.cli import main
from intervm.model.check import Checker, CheckOptions
from intervm.model.verdict import Status
from intervm.spec.api import Protocol, load_protocols
from intervm.spec.protocols import get_protocol

EXAMPLE = str(Path(__file__).resolve().parent.parent / "examples" / "litmus" / "x86.py")
MODELS = ("sc", "tso", "pso")

# variant -> the `exists` verdict under SC, TSO, PSO with the default options:
# Rn = REACHED in n steps (allowed), U = UNREACHABLE (forbidden)
PINNED = {
    "SB": "U R4 R4",
    "SB+mfence+po": "U R6 R6",
    "SB+mfences": "U U U",
    "SB+rfi-pos": "U R6 R6",
    "SB+xchgs": "U U U",
    "amd3": "U R6 R6",
    "SB+3W": "U R8 R8",
    "SB+3W-other": "U R8 R10",
    "R": "U R9 R9",
    "R+mfence+po": "U R10 R10",
    "R+po+mfence": "U U R10",
    "R+mfences": "U U U",
    "R+mfence+rfi-po": "U R11 R11",
    "2+2W": "U U R10",
    "2+2W+mfence+po": "U U R11",
    "2+2W+mfences": "U U U",
    "LB": "U U U",
    "LB+mfence+po": "U U U",
    "LB+mfences": "U U U",
    "MP": "U U R5",
    "MP+mfence+po": "U U U",
    "MP+po+mfence": "U U R6",
    "MP+mfences": "U U U",
    "MP+xchg+po": "U U U",
    "S": "U U R9",
    "S+mfence+po": "U U U",
    "S+po+mfence": "U U R10",
    "S+mfences": "U U U",
    "WRC": "U U U",
    "IRIW": "U U U",
    "IRIW+xchgs": "U U U",
    "SDM-8-4": "U U U",
    "n4": "U U U",
    "n5": "U U U",
    "n6": "U R10 R10",
    "n7": "U R7 R7",
}


def catalogue() -> Protocol:
    (proto,) = load_protocols(EXAMPLE)
    return proto


def test_every_litmus_verdict_is_pinned_and_as_declared() -> None:
    proto = catalogue()
    assert [v.name for v in proto.variants] == list(PINNED)
    checker = Checker(proto, CheckOptions(engine="explicit"))
    for variant, want in PINNED.items():
        got, verdicts = pinned_row(checker, variant, MODELS)
        for mm, v in zip(MODELS, verdicts, strict=True):
            if mm == "sc":
                assert v.buffer is None and "buffer" not in v.text
            elif v.status is Status.VIOLATED:  # forbidden: for every buffer depth
                assert v.buffer_bound == "unbounded", (variant, mm)
                assert "buffer unbounded" in v.text
        assert got == want, variant


def test_a_fixed_buffer_of_two_hides_exactly_the_three_store_outcomes() -> None:
    """Without growing, --buffer 2 reports forbidden the three outcomes that need three
    buffered stores in one VM, and each of those verdicts names its bound."""
    checker = Checker(catalogue(), CheckOptions(engine="explicit", grow_buffer=False))
    wrong = []
    for variant in PINNED:
        for mm in MODELS:
            cell = checker.check(variant, mm, "exists")
            if not cell.matches:
                wrong.append((variant, mm))
                assert cell.verdict is not None
                assert cell.verdict.text == "VIOLATED (buffer ≤ 2)"  # unreachable at 2
    assert wrong == [("SB+3W", "tso"), ("SB+3W", "pso"), ("SB+3W-other", "tso")]


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_spacer_follows_the_buffer_depth(depth: int) -> None:
    """SB+3W-other needs three buffered stores in one VM under TSO, two of them to
    locations the property never reads. Spacer's sliced system gave those stores no
    buffer entry, so at depths 1 and 2 it reported reachable what the explicit engine
    (rightly, for that depth) finds unreachable. Now a witness found on the cheap slice
    is decided again on the exact one: Spacer agrees or, out of time, says UNKNOWN."""
    proto = catalogue()
    opts = CheckOptions(engine="spacer", buffer=depth, grow_buffer=False, timeout=5)
    v = Checker(proto, opts).check("SB+3W-other", "tso", "exists").verdict
    assert v is not None and v.buffer == depth
    if depth < 3:
        assert v.status is not Status.PROVED, v.text
    else:
        assert v.status is Status.PROVED, v.text


def test_table_and_json_name_the_buffer_bound() -> None:
    r = CliRunner().invoke(main, ["verify", EXAMPLE, "-v", "SB+3W-other", "-v", "SB+mfences",
                                  "-m", "sc", "-m", "tso", "--fixed-buffer", "-j", "1"])
    assert r.exit_code == 1, r.output  # SB+3W-other's TSO outcome is hidden at depth 2
    assert "✗ UNREACHABLE" in r.output and "buffer ≤ 2" in r.output
    r = CliRunner().invoke(main, ["verify", EXAMPLE, "-v", "SB+3W-other", "-v", "SB+mfences",
                                  "-m", "sc", "-m", "tso", "--json", "-j", "1"])
    assert r.exit_code == 0, r.output
    got = {(c["variant"], c["memory_model"]): c["verdict"] for c in json.loads(r.output)["cells"]}
    assert got[("SB+3W-other", "tso")]["buffer"] == 3
    assert got[("SB+3W-other", "tso")]["text"] == "PROVED (reached in 8 steps)"
    fenced = got[("SB+mfences", "tso")]
    assert (fenced["buffer"], fenced["buffer_bound"]) == (1, "unbounded")
    assert fenced["text"] == "VIOLATED (buffer unbounded, ≤ 1 store per VM)"
    assert got[("SB+mfences", "sc")]["buffer"] is None


def test_a_looping_protocol_grows_until_the_property_stops_changing() -> None:
    """coalescing has loops, so no store count bounds the buffer: one more entry is
    explored and, as the values no_lost_wakeup reads do not change, depth 2 is
    reported sufficient; with --fixed-buffer the verdict says only its bound."""
    proto = get_protocol("coalescing")
    grown = Checker(proto, CheckOptions(engine="explicit", params={"requests": 1}))
    v = grown.check("correct", "tso", "no_lost_wakeup").verdict
    assert v is not None and v.status is Status.HOLDS
    assert (v.buffer, v.buffer_bound) == (2, "sufficient")
    assert v.text.endswith("; buffer ≤ 2, sufficient)")
    fixed = Checker(proto, CheckOptions(engine="explicit", params={"requests": 1},
                                        grow_buffer=False))
    f = fixed.check("correct", "tso", "no_lost_wakeup").verdict
    assert f is not None and (f.buffer, f.buffer_bound, f.states) == (2, "", v.states)


# (test, model, the buffer depth its outcome needs): under PSO SB+3W-other needs two
# entries (x=1 must stay buffered while a=1 waits behind it, then a flushes first)
DEEP = [("SB", "tso", 1), ("amd3", "tso", 2), ("SB+3W-other", "tso", 3),
        ("SB+3W-other", "pso", 2)]
ENGINE_CASES = [(t, mm, need, depth) for t, mm, need in DEEP for depth in (1, 2, 3)]


@pytest.mark.slow
@pytest.mark.parametrize(("test", "mm", "need", "depth"), ENGINE_CASES)
def test_engines_agree_on_the_buffer_depth(test: str, mm: str, need: int, depth: int) -> None:
    """Explicit, BMC, k-induction, Spacer (and SPIN where installed) see the same
    buffer of ``depth`` entries: the outcome is reachable exactly when ``depth`` is at
    least what it needs, with the same shortest witness. Every run of these tests is
    at most 14 steps long, so BMC to 14 is complete; k-induction and Spacer, which
    rarely prove these unreachable in seconds, must never contradict."""
    proto = catalogue()
    reachable = depth >= need

    def verdict(engine: str, timeout: float = 10.0) -> tuple[Status, int | None]:
        opts = CheckOptions(engine=engine, buffer=depth, grow_buffer=False, bmc_depth=14,
                            timeout=timeout)
        v = Checker(proto, opts).check(test, mm, "exists").verdict
        assert v is not None and v.buffer == depth
        return v.status, v.depth

    exp_status, exp_depth = verdict("explicit")
    assert exp_status is (Status.PROVED if reachable else Status.VIOLATED)
    bmc_status, bmc_depth = verdict("bmc", 60)
    if reachable:
        assert (bmc_status, bmc_depth) == (Status.PROVED, exp_depth)
        assert verdict("kind", 60) == (Status.PROVED, exp_depth)
        assert verdict("spacer", 60)[0] is Status.PROVED
    else:
        assert bmc_status is Status.UNKNOWN  # "not reached within 14 steps"
        assert verdict("kind", 3)[0] is not Status.PROVED
        assert verdict("spacer", 3)[0] is not Status.PROVED
    if shutil.which("spin") and shutil.which("gcc"):
        spin_status = verdict("spin", 60)[0]
        assert spin_status is (Status.PROVED if reachable else Status.VIOLATED)


SB3 = '''\
from intervm.spec.api import *

def vm(me: str, mine: str, theirs: str) -> Process:
    return Process(me, locals=(Local("r", NAT),), steps=(
        Step("s1", Store(mine, 1)), Step("s2", Store(mine, 2)), Step("s3", Store(mine, 3)),
        Step("load", Load("r", theirs)), Step("done", Halt())))

both = and_(At("A", "done"), At("B", "done"))
spec = Spec("sb3", shared=(Shared("x", NAT), Shared("y", NAT)),
            processes=(vm("A", "x", "y"), vm("B", "y", "x")),
            properties=(Always("one_sees_the_other", not_(and_(
                both, eq(LocalOf("A", "r"), 0), eq(LocalOf("B", "r"), 0)))),
                        Sometimes("both_done", both)))
'''


def test_the_default_does_not_hide_a_violation_that_needs_three_entries(
        tmp_path: Path) -> None:
    """A user's SB with three stores per VM: --buffer 2 alone says HOLDS (and says its
    bound); by default the buffer grows to the three stores a VM issues, the violation
    is found, and --show-trace replays it on the system of that depth."""
    path = tmp_path / "sb3.py"
    path.write_text(SB3)
    args = ["verify", str(path), "-m", "tso", "--property", "one_sees_the_other", "-j", "1"]
    fixed = CliRunner().invoke(main, [*args, "--fixed-buffer"])
    assert fixed.exit_code == 0 and "✓ HOLDS" in fixed.output and "buffer ≤ 2" in fixed.output
    grown = CliRunner().invoke(main, [*args, "--show-trace"])
    assert grown.exit_code == 1 and "✗ VIOLATED 8" in grown.output
    assert "A:[x=1, x=2, x=3]" in grown.output
    doc = json.loads(CliRunner().invoke(main, [*args, "--json"]).output)
    assert doc["cells"][0]["verdict"]["buffer"] == 3
