"""Promela export and the SPIN engine, cross-checked against the explicit engine.

The agreement test covers every coalescing variant × {sc, tso} × {no_lost_wakeup,
eventually_consumed, consumer_sleeps} at the variant's finite parameters. pan is
built twice per (variant, memory model) — a BFS safety build and a liveness build —
and shared by the three properties (about 80 s in all on one core).

Regenerate the golden export after an intended change with
``INTERVM_REGEN_GOLDEN=1 pytest tests/test_promela.py -k golden``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from intervm.commands.export import export
from intervm.model.compile import compile_spec
from intervm.model.evaluate import Semantics
from intervm.model.explicit import StateGraph, check, explore
from intervm.model.promela import build_promela, to_promela
from intervm.model.spin import (
    PanBuild,
    compile_pan,
    parse_pan,
    search,
    spin_available,
    spin_check,
    spin_run,
)
from intervm.model.system import (
    CAlways,
    CEventually,
    Command,
    CSometimes,
    StateVar,
    System,
)
from intervm.model.trace import Trace
from intervm.model.verdict import Status, Verdict
from intervm.spec.errors import EngineError
from intervm.spec.expr import (
    TRUE,
    Bin,
    BinOp,
    Const,
    Expr,
    Ite,
    Select,
    Update,
    Var,
    add,
    and_,
    eq,
    lt,
    ne,
)
from intervm.spec.protocols import get_protocol

# one xdist worker builds each pan (module fixture ``cache``) once for all its properties
pytestmark = pytest.mark.xdist_group("promela")

needs_spin = pytest.mark.skipif(
    not spin_available(), reason="spin/gcc not installed (apt-get install -y spin gcc)"
)

GOLDEN = Path(__file__).parent / "golden" / "coalescing_correct_tso_c1_r1.pml"
PROTO = get_protocol("coalescing")
VARIANTS = [v.name for v in PROTO.variants]
PROPS = ("no_lost_wakeup", "eventually_consumed", "consumer_sleeps")


def _system(variant: str, mm: str, **params: int) -> System:
    values: dict[str, int | None] = dict(PROTO.params_for(variant, unbounded=False))
    values.update(params)
    return compile_spec(PROTO.spec(variant), values, mm)


# ------------------------------------------------------------------ export, no spin needed


def test_export_is_deterministic_and_matches_golden() -> None:
    sys = _system("correct", "tso", capacity=1, requests=1)
    text = to_promela(sys, variant="correct")
    assert text == to_promela(_system("correct", "tso", capacity=1, requests=1),
                              variant="correct")
    if os.environ.get("INTERVM_REGEN_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text(), (
        "the Promela export changed; if intended, regenerate with "
        "INTERVM_REGEN_GOLDEN=1 pytest tests/test_promela.py -k golden"
    )


def test_export_header_names_the_instance_and_each_command() -> None:
    sys = _system("no_recheck", "tso")
    text = to_promela(sys, variant="no_recheck")
    head = text.split("*/", 1)[0]
    assert "protocol coalescing, variant no_recheck" in head
    assert "memory model: tso" in head
    assert "params: capacity=2, requests=3" in head
    for k, c in enumerate(sys.commands):
        assert f"/* {k}: {c.name}" in text
    # one proctype per fairness group plus the deadlock stutterer
    assert re.findall(r"active proctype (\w+)\(\)", text) == [
        "P", "C", "flush_P", "flush_C", "deadlock"]
    assert len(re.findall(r"^ltl ", text, re.M)) == len(sys.properties) == 7


def test_export_refuses_symbolic_parameters() -> None:
    sys = compile_spec(PROTO.spec("correct"), PROTO.params_for("correct", unbounded=True), "sc")
    with pytest.raises(EngineError, match=r"symbolic parameter 'capacity'.*give it a value"):
        to_promela(sys)
    v = spin_check(sys, "no_lost_wakeup")
    assert v.status is Status.UNKNOWN and "capacity" in v.reason


def test_sanitised_names_are_unique_and_not_keywords() -> None:
    sys = _toy(names=("timeout", "pc.P", "pc_P", "tmp0"))
    m = build_promela(sys)
    assert m.names == {"timeout": "timeout_2", "pc.P": "pc_P", "pc_P": "pc_P_2",
                       "tmp0": "v_tmp0"}


def test_ite_in_a_property_is_lifted_out_of_the_ltl_formula() -> None:
    text = to_promela(_toy())
    (line,) = [ln for ln in text.splitlines() if ln.startswith("ltl ite_prop")]
    assert "->" not in line and ":" not in line.split("{", 1)[1]


def test_cli_export_writes_the_same_text(tmp_path: Path) -> None:
    out = tmp_path / "m.pml"
    res = CliRunner().invoke(export, ["promela", "--protocol", "coalescing", "--variant",
                                      "correct", "--memory-model", "tso", "--param",
                                      "capacity=1", "--param", "requests=1", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_text() == GOLDEN.read_text()


@pytest.mark.parametrize("args, message, status", [
    (["--variant", "nope"], "has no variant 'nope'", 1),
    (["--param", "capacity"], "is not NAME=INTEGER", 2),  # usage errors: 2
    (["--param", "bogus=1"], "parameter 'bogus' is not declared", 1),
    (["--memory-model", "power"], "'power' is not one of", 2),
    (["--param", "capacity=0"], "below its minimum 1", 1),
])
def test_cli_bad_flags_give_one_line(args: list[str], message: str, status: int) -> None:
    res = CliRunner().invoke(export, ["promela", *args])
    assert res.exit_code == status
    assert res.output.count("\n") == 1 and res.output.startswith("Error: ")
    assert message in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)


def test_missing_spin_is_unknown_not_an_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    v = spin_check(_system("no_recheck", "sc"), "no_lost_wakeup")
    assert v.status is Status.UNKNOWN and "not installed" in v.reason


def test_parse_pan_flags_truncated_and_memory_bound_searches() -> None:
    deep = parse_pan("error: max search depth too small\n"
                     "State-vector 196 byte, depth reached 49, errors: 0\n 993 states, stored\n")
    assert (deep.errors, deep.states, deep.depth) == (0, 993, 49)
    assert "truncated at depth 49" in deep.truncated
    mem = parse_pan("pan: reached -DMEMLIM bound\nerrors: 0\n 1.2e+06 states, stored\n")
    assert mem.states == 1_200_000 and "out of memory" in mem.truncated
    bfs = parse_pan("errors: 0\n 23103 states, stored\n\t 22989 nominal states (stored-atomic)")
    assert bfs.states == 22989 and bfs.truncated == ""


# ------------------------------------------------------------------ spin, cross-checks


@needs_spin
@pytest.mark.parametrize("mm", ["sc", "tso", "pso"])
def test_every_variant_parses_with_spin_a(mm: str, tmp_path: Path) -> None:
    for v in VARIANTS:
        (tmp_path / "m.pml").write_text(to_promela(_system(v, mm), variant=v))
        for flags in ([], ["-DSAFETY_ONLY"]):
            out = subprocess.run(["spin", "-o2", *flags, "-a", "m.pml"], cwd=tmp_path,
                                 capture_output=True, text=True, check=False)
            assert out.returncode == 0 and "Error" not in out.stdout + out.stderr, (
                v, mm, out.stdout + out.stderr)


@dataclass
class _Instance:
    system: System
    graph: StateGraph
    safety: PanBuild
    liveness: PanBuild


@dataclass
class _Cache:
    root: Path
    items: dict[tuple[str, str], _Instance] = field(default_factory=dict)

    def get(self, variant: str, mm: str) -> _Instance:
        key = (variant, mm)
        if key not in self.items:
            sys = _system(variant, mm)
            d = self.root / f"{variant}-{mm}"
            self.items[key] = _Instance(
                sys, explore(sys, variant=variant),
                compile_pan(sys, d / "safety", liveness=False, variant=variant),
                compile_pan(sys, d / "liveness", liveness=True, variant=variant),
            )
        return self.items[key]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Cache]:
    root = tmp_path_factory.mktemp("spin")
    yield _Cache(root)
    shutil.rmtree(root, ignore_errors=True)


def _replay(trace: Trace, sys: System) -> list[Mapping[str, Any]]:
    """Replay on the explicit semantics: every command enabled, every state equal."""
    sem = Semantics(sys)
    state = sem.initial()
    assert dict(trace.init) == sem.as_dict(state)
    seen: list[Mapping[str, Any]] = [sem.as_dict(state)]
    for n, step in enumerate(trace.steps, 1):
        if step.command == "stutter":
            assert not sem.successors(state), f"step {n}: stutter where the system can move"
        else:
            i = sem.command_index(step.command)
            assert sem.enabled(state, i), f"step {n}: {step.command} is not enabled"
            state = sem.apply(state, i)
        assert dict(step.state) == sem.as_dict(state), f"step {n} ({step.command}) differs"
        seen.append(sem.as_dict(state))
    return seen


def _check_witness(v: Verdict, sys: System) -> None:
    assert v.trace is not None
    states = _replay(v.trace, sys)
    sem = Semantics(sys)
    last = sem.from_dict(states[-1])
    p = sys.prop(v.prop)
    match p:
        case CAlways(_, pred):
            assert not sem.predicate(pred)(last)
        case CSometimes(_, pred):
            assert sem.predicate(pred)(last)
        case CEventually(_, pending):
            ls = v.trace.loop_start
            assert ls is not None
            # the lasso closes, stays pending and makes no progress inside the loop
            assert states[ls] == states[-1] or v.trace.steps[ls].command == "stutter"
            for s in states[ls:]:
                assert sem.predicate(pending)(sem.from_dict(s))
            for step in v.trace.steps[ls:]:
                assert step.command == "stutter" or not sys.command(step.command).progress


@needs_spin
@pytest.mark.parametrize("prop", PROPS)
@pytest.mark.parametrize("mm", ["sc", "tso"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_spin_agrees_with_explicit(cache: _Cache, variant: str, mm: str, prop: str) -> None:
    inst = cache.get(variant, mm)
    expl = check(inst.graph, prop)
    build = inst.liveness if prop == "eventually_consumed" else inst.safety
    run = search(build, prop, timeout=120)
    v = run.verdict
    assert v.outcome is not None, v.reason
    assert v.outcome == expl.outcome == PROTO.variant(variant).expected(prop, mm)
    assert v.status is expl.status
    if v.status is Status.HOLDS and prop != "eventually_consumed":
        assert v.states == len(inst.graph)  # BFS pan stores exactly the explicit states
    if v.trace is not None:
        _check_witness(v, inst.system)
        if prop != "eventually_consumed":  # -DBFS: a shortest trail
            assert v.depth == expl.depth == len(v.trace)


# Pinned numbers (finite params from the variants): explicit state counts and shortest
# counterexample/witness lengths, which SPIN's BFS search must reproduce.
PINNED = [
    ("correct", "sc", "no_lost_wakeup", Status.HOLDS, 9976),
    ("correct", "tso", "no_lost_wakeup", Status.HOLDS, 22989),
    ("event_index", "tso", "no_lost_wakeup", Status.HOLDS, 146591),
    ("no_recheck", "sc", "no_lost_wakeup", Status.VIOLATED, 10),
    ("no_producer_fence", "tso", "no_lost_wakeup", Status.VIOLATED, 13),
    ("no_consumer_fence", "tso", "no_lost_wakeup", Status.VIOLATED, 12),
    ("event_index_wrap", "tso", "no_lost_wakeup", Status.VIOLATED, 29),
    ("producer_clears_edge", "tso", "no_lost_wakeup", Status.VIOLATED, 20),
    ("correct", "tso", "consumer_sleeps", Status.PROVED, 16),
    ("two_producers", "tso", "consumer_sleeps", Status.PROVED, 18),
]


@needs_spin
@pytest.mark.parametrize("variant, mm, prop, status, number", PINNED)
def test_pinned_states_and_trail_lengths(cache: _Cache, variant: str, mm: str, prop: str,
                                         status: Status, number: int) -> None:
    v = search(cache.get(variant, mm).safety, prop).verdict
    assert v.status is status
    assert (v.states if status is Status.HOLDS else v.depth) == number


@needs_spin
def test_spin_run_reports_build_and_search_time() -> None:
    run = spin_run(_system("correct", "sc"), "no_lost_wakeup", 120)
    assert run.verdict.text == "HOLDS (capacity=2, requests=3; 9976 states)"
    assert run.build_seconds > 0.1 and run.search_seconds > 0
    assert run.memory_mb is not None and run.memory_mb > 0
    assert run.verdict.seconds >= run.build_seconds


# ------------------------------------------------------------------ spin, edge cases


def _toy(names: tuple[str, ...] = ("x", "y", "a", "done"), *, deadlock_after_progress: bool
         = False) -> System:
    """Two counters swapped simultaneously, an array written through a conditional, and a
    progress step into a deadlock where work is still pending."""
    x, y, a, done = names
    swap = Command("P.swap", "P", "P", lt(Var(x), 2),
                   ((x, add(Var(y), 1)), (y, Var(x)),
                    (a, Ite(eq(Var(x), 0), Update(a, Var(y), add(Select(a, Const(0)), 1)),
                            Var(a)))),
                   "step")
    finish = Command("Q.finish", "Q", "Q", and_(eq(Var(done), 0), eq(Var(x), 2)),
                     ((done, Const(1)),), "step", progress=deadlock_after_progress)
    return System(
        name="toy", memory_model="sc", params=(("n", 2),),
        vars=(StateVar(x, "shared"), StateVar(y, "shared"),
              StateVar(a, "shared", is_array=True, length=2), StateVar(done, "ghost")),
        commands=(swap, finish), init_constraint=TRUE,
        properties=(
            CAlways("small", lt(Var(x), 3)),
            CAlways("ite_prop", eq(Ite(eq(Var(x), 2), Const(1), Var(done)), Var(done))),
            CSometimes("swapped", and_(eq(Var(x), 2), ne(Var(y), 0))),
            CEventually("finishes", lt(Var(y), 5)),
        ),
        processes=("P", "Q"), labels=(("P", ()), ("Q", ())), groups=("P", "Q"),
    )


@needs_spin
def test_simultaneous_updates_with_a_cycle_use_temporaries(tmp_path: Path) -> None:
    sys = _toy()
    assert "tmp0 = " in to_promela(sys)
    g = explore(sys)
    b = compile_pan(sys, tmp_path, liveness=False)
    for prop in ("small", "ite_prop", "swapped"):
        v = search(b, prop).verdict
        e = check(g, prop)
        assert (v.status, v.depth) == (e.status, e.depth), prop
        if v.trace is not None:
            _check_witness(v, sys)
    assert search(b, "small").verdict.states == len(g) == 5


@needs_spin
@pytest.mark.parametrize("after_progress", [False, True])
def test_deadlock_with_work_pending_violates_eventually(after_progress: bool) -> None:
    # SPIN's stutter extension alone misses the deadlock when the last step was a
    # progress step (the progress bit stays set); the timeout proctype catches it.
    sys = _toy(deadlock_after_progress=after_progress)
    e = check(explore(sys), "finishes")
    v = spin_check(sys, "finishes")
    assert e.status is v.status is Status.VIOLATED
    assert v.trace is not None and v.trace.steps[-1].command == "stutter"
    assert v.trace.loop_start == len(v.trace) - 1
    assert e.trace is not None
    assert v.trace.path == e.trace.path == "P.swap/P.swap/P.swap/Q.finish/stutter"
    _check_witness(v, sys)


@needs_spin
@pytest.mark.parametrize("after_progress, errors", [(False, 1), (True, 0)])
def test_stutter_extension_alone_misses_a_deadlock_after_progress(
    tmp_path: Path, after_progress: bool, errors: int
) -> None:
    # why the export has a deadlock proctype: without it, pan's stutter extension of
    # finite runs sees the deadlock only if the last step was not a progress step
    text = to_promela(_toy(deadlock_after_progress=after_progress))
    text = re.sub(r"active proctype deadlock\(\) \{.*?\n\}\n", "", text, flags=re.S)
    assert "timeout" not in text
    (tmp_path / "m.pml").write_text(text)
    for cmd in (["spin", "-o2", "-a", "m.pml"], ["gcc", "-O2", "-DNOREDUCE", "-o", "pan", "pan.c"]):
        subprocess.run(cmd, cwd=tmp_path, check=True, capture_output=True)
    out = subprocess.run(["./pan", "-a", "-f", "-N", "finishes"], cwd=tmp_path,
                         capture_output=True, text=True, check=True).stdout
    assert parse_pan(out).errors == errors


@needs_spin
def test_timeout_and_depth_bound_are_unknown_never_a_pass() -> None:
    sys = _system("correct", "tso")
    v = spin_check(sys, "no_lost_wakeup", timeout=0.05)
    assert v.status is Status.UNKNOWN and "timeout" in v.reason
    shallow = spin_run(sys, "eventually_consumed", 120, max_depth=20).verdict
    assert shallow.status is Status.UNKNOWN and "truncated at depth" in shallow.reason
    assert not shallow.agrees_with("holds")


@needs_spin
def test_liveness_needs_a_liveness_build(tmp_path: Path) -> None:
    b = compile_pan(_system("correct", "sc"), tmp_path, liveness=False)
    v = search(b, "eventually_consumed").verdict
    assert v.status is Status.UNKNOWN and "liveness build" in v.reason
    assert search(b, "nope").verdict.reason.startswith("system 'coalescing' has no property")


@needs_spin
def test_unfair_commands_make_liveness_unknown() -> None:
    sys = _toy()
    unfair = replace(sys, commands=(replace(sys.commands[0], group=None), sys.commands[1]))
    assert "UNFAIR" in to_promela(unfair)
    v = spin_check(unfair, "finishes")
    assert v.status is Status.UNKNOWN and "unfair" in v.reason
    assert spin_check(unfair, "small").status is Status.HOLDS


def test_modulo_of_a_possibly_negative_value_is_sign_corrected() -> None:
    sys = _toy()
    neg: Expr = Bin(BinOp.MOD, Bin(BinOp.SUB, Var("x"), Var("y")), Const(2))
    cmd = replace(sys.commands[1], updates=(("done", neg),))
    text = to_promela(replace(sys, commands=(sys.commands[0], cmd)))
    assert "done = ((((x - y) % 2) + 2) % 2)" in text
