"""The ``arm`` memory model beyond the litmus catalogue: the load-reordering bugs of
examples/arm/load_reordering.py pinned under every model, the engines agreeing with
the explicit one, the narration of an early load, the bound's name in verdicts, and
the one-line refusals where arm does not apply."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from intervm.cli import main
from intervm.model import memory
from intervm.model.check import Checker, CheckOptions
from intervm.model.compile import compile_spec
from intervm.model.verdict import Status
from intervm.spec.api import load_protocols

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = str(ROOT / "examples" / "arm" / "load_reordering.py")
LITMUS = str(ROOT / "examples" / "litmus" / "arm.py")

# (protocol, variant, property) -> verdict under sc, tso, pso, arm: H = HOLDS,
# Vn = VIOLATED in n steps, Rn = REACHED in n steps
PINNED = {
    ("ring_index", "rmb", "no_unpublished_read"): "H H H H",
    ("ring_index", "acquire", "no_unpublished_read"): "H H H H",
    ("ring_index", "no_rmb", "no_unpublished_read"): "H H H V7",
    ("ring_index", "no_rmb", "consumed"): "R5 R7 R7 R7",
    ("seqlock_reader", "rmb", "no_torn_read"): "H H H H",
    ("seqlock_reader", "no_rmb", "no_torn_read"): "H H H V8",
    ("seqlock_reader", "rmb", "reads_new"): "R10 R13 R13 R13",
}


def short(status: Status, depth: int | None) -> str:
    match status:
        case Status.HOLDS:
            return "H"
        case Status.VIOLATED:
            return f"V{depth}"
        case Status.PROVED:
            return f"R{depth}"
        case _:
            return status.name


def test_load_reordering_bugs_show_only_under_arm() -> None:
    protos = {p.name: p for p in load_protocols(EXAMPLE)}
    got = {}
    for (proto, variant, prop), want in PINNED.items():
        checker = Checker(protos[proto], CheckOptions(engine="explicit"))
        cells = [checker.check(variant, mm, prop) for mm in ("sc", "tso", "pso", "arm")]
        assert all(c.matches for c in cells), [c.verdict for c in cells]
        got[(proto, variant, prop)] = " ".join(
            short(c.verdict.status, c.verdict.depth) for c in cells if c.verdict)
        assert got[(proto, variant, prop)] == want


def test_arm_verdict_names_its_history_bound() -> None:
    (proto, _) = load_protocols(EXAMPLE)
    cell = Checker(proto, CheckOptions(engine="explicit")).check("rmb", "arm",
                                                                  "no_unpublished_read")
    assert cell.verdict is not None
    assert cell.verdict.text == "HOLDS (23 states; history unbounded, ≤ 2 writes in all)"
    fixed = Checker(proto, CheckOptions(engine="explicit", grow_buffer=False, buffer=1))
    v = fixed.check("rmb", "arm", "no_unpublished_read").verdict
    assert v is not None and v.text.startswith("HOLDS (") and v.text.endswith("states; history ≤ 1)")


@pytest.mark.parametrize("engine", ["bmc", "spin"])
def test_other_engines_find_the_same_shortest_arm_violation(engine: str) -> None:
    protos = {p.name: p for p in load_protocols(EXAMPLE)}
    for proto, variant, prop, depth in (("ring_index", "no_rmb", "no_unpublished_read", 7),
                                         ("seqlock_reader", "no_rmb", "no_torn_read", 8)):
        v = Checker(protos[proto], CheckOptions(engine=engine, grow_buffer=False)).check(
            variant, "arm", prop).verdict
        assert v is not None and v.status is Status.VIOLATED and v.depth == depth, v


@pytest.mark.parametrize("test,allowed", [("MP", True), ("MP+dmb.sys", False),
                                          ("LB", True), ("LB+datas", False),
                                          ("IRIW", True), ("IRIW+addrs", False),
                                          ("MP+dmb.sy+ctrl", True), ("SB+rel-acqs", False)])
def test_spin_agrees_with_herd7_on_arm_litmus(test: str, allowed: bool) -> None:
    (proto,) = load_protocols(LITMUS)
    v = Checker(proto, CheckOptions(engine="spin")).check(test, "arm", "exists").verdict
    assert v is not None
    assert v.status is (Status.PROVED if allowed else Status.VIOLATED), v


def test_explain_narrates_a_load_satisfied_early() -> None:
    res = CliRunner().invoke(main, ["explain", EXAMPLE, "no_rmb", "-m", "arm",
                                    "--property", "no_unpublished_read"])
    assert res.exit_code == 0, res.output
    assert ("C reads slot from shared memory and gets 0, an older value than the newest "
            "in memory (slot=42)") in res.output
    assert "loads may read a write older than memory's newest" in res.output


def test_a_deferred_load_is_narrated_and_its_register_is_read_only_once_performed() -> None:
    (proto,) = load_protocols(LITMUS)
    res = CliRunner().invoke(main, ["explain", LITMUS, "LB", "-m", "arm",
                                    "--property", "exists"])
    assert res.exit_code == 0, res.output
    assert "issues its load of x; the load is left pending" in res.output
    assert "pending load r0 := x is performed" in res.output
    system = compile_spec(proto.spec("LB"), {}, "arm", 2)
    prop = system.prop("exists")
    assert "sb.P0.pend" in str(prop)  # registers are looked at once loads are performed


def test_arm_is_opt_in_and_says_so() -> None:
    assert "arm" in memory.names() and "arm" not in memory.defaults()
    res = CliRunner().invoke(main, ["verify", "-p", "coalescing", "-v", "correct",
                                    "-m", "arm"])
    assert res.exit_code == 1  # a refusal after the command line was read
    assert res.output.strip().splitlines() == [
        "Error: no selected variant is checked under arm: that model is opt-in, a variant "
        "lists it in its memory_models (see docs/memory-models.md; examples/litmus/arm.py "
        "does)"]


def test_arm_refuses_symbolic_array_lengths_in_one_line() -> None:
    from intervm.spec.errors import ParamError
    from intervm.spec.protocols import get_protocol

    spec = get_protocol("coalescing").spec("correct")
    with pytest.raises(ParamError, match="needs every array's length"):
        compile_spec(spec, {"capacity": None, "requests": 1}, "arm", 2)
