"""The memory-model objects: the registry, and the compiler and the in-process emulator
allowing the same outcomes (one definition, two interpretations) on litmus cases."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from intervm.conformance import sched
from intervm.conformance.sched import Run
from intervm.impl.access import Fence as ImplFence
from intervm.model import memory
from intervm.model.compile import compile_spec
from intervm.model.explicit import explore
from intervm.spec.api import (
    BIT,
    At,
    Fence,
    Halt,
    Load,
    Local,
    Process,
    Shared,
    Sometimes,
    Spec,
    Step,
    Store,
    and_,
)
from intervm.spec.errors import ParamError

Outcome = tuple[int, int]


def test_registry_lists_the_models_strongest_first() -> None:
    assert memory.names() == ("sc", "tso", "pso", "arm")
    assert [memory.get(n).name for n in memory.names()] == ["sc", "tso", "pso", "arm"]
    assert [m.buffered for m in memory.MODELS.values()] == [False, True, True, True]
    assert [m.reorders_stores for m in memory.MODELS.values()] == [False, False, True, True]
    assert [m.tracks_views for m in memory.MODELS.values()] == [False, False, False, True]


def test_registry_is_immutable_and_names_unknown_models() -> None:
    with pytest.raises(TypeError):
        memory.MODELS["power"] = memory.get("sc")  # type: ignore[index]
    with pytest.raises(ParamError, match=r"memory model 'power' is unknown; choose one of "
                                         r"sc, tso, pso, arm"):
        memory.get("power")
    with pytest.raises(sched.TesterError, match="memory model 'power' is unknown"):
        Run({}, "power")


# ---------------------------------------------------------------- litmus cases
# Each: two processes A and B; what each stores, its fence (or none), what it then
# does: load one location (SB shape) or, for MP, A stores twice and B loads twice.

_DONE = (Sometimes("both_done", and_(At("A", "done"), At("B", "done"))),)


def _sb_spec(fence: str | None) -> Spec:
    def vm(me: str, mine: str, theirs: str) -> Process:
        mid = (Step("f", Fence(fence)),) if fence else ()
        return Process(me, locals=(Local("r", BIT),), steps=(
            Step("st", Store(mine, 1)), *mid, Step("ld", Load("r", theirs)),
            Step("done", Halt())))
    return Spec("sb", shared=(Shared("x", BIT), Shared("y", BIT)),
                processes=(vm("A", "x", "y"), vm("B", "y", "x")), properties=_DONE)


def _sb_roles(fence: str | None) -> dict[str, Callable[[Any, Any], object]]:
    def vm(mine: str, theirs: str) -> Callable[[Any, Any], object]:
        def role(acc: Any, emit: Any) -> None:
            acc.store(mine, 1)
            if fence:
                acc.fence(ImplFence(fence))
            emit(acc.load(theirs))
        return role
    return {"A": vm("x", "y"), "B": vm("y", "x")}


def _mp_spec(fence: str | None) -> Spec:
    mid = (Step("f", Fence(fence)),) if fence else ()
    a = Process("A", steps=(Step("data", Store("x", 1)), *mid, Step("flag", Store("y", 1)),
                            Step("done", Halt())))
    b = Process("B", locals=(Local("r", BIT), Local("s", BIT)), steps=(
        Step("flag", Load("r", "y")), Step("data", Load("s", "x")), Step("done", Halt())))
    return Spec("mp", shared=(Shared("x", BIT), Shared("y", BIT)), processes=(a, b),
                properties=_DONE)


def _mp_roles(fence: str | None) -> dict[str, Callable[[Any, Any], object]]:
    def a(acc: Any, emit: Any) -> None:
        acc.store("x", 1)
        if fence:
            acc.fence(ImplFence(fence))
        acc.store("y", 1)

    def b(acc: Any, emit: Any) -> None:
        r = acc.load("y")
        emit(r)
        emit(acc.load("x"))
    return {"A": a, "B": b}


def compiled_outcomes(spec: Spec, model: str, observe: tuple[str, str]) -> set[Outcome]:
    """The observations in every final state of the compiled system's full search."""
    g = explore(compile_spec(spec, {}, model, buffer=2))
    assert g.complete
    out = set()
    for i, st in enumerate(g.states):
        if not g.succ[i]:
            d = g.sem.as_dict(st)
            out.add((d[observe[0]], d[observe[1]]))
    return out


def emulator_outcomes(roles: dict[str, Callable[[Any, Any], object]], model: str,
                      observe: Callable[[Run], Outcome]) -> set[Outcome]:
    """The observations at the end of every schedule of the emulator (exhaustive: each
    prefix is replayed on a fresh run, every enabled step and flush choice tried)."""
    out: set[Outcome] = set()

    def choices(run: Run) -> list[str]:
        found = []
        for d in run.enabled():
            if d.startswith("flush("):
                role = d[len("flush("):-1]
                found += [f"{role}#{k}" for k in range(len(run.flushable(role)))]
            else:
                found.append(d)
        return found

    def replay(prefix: list[str]) -> list[str]:
        with Run(roles, model, buffer_size=2) as run:
            for d in prefix:
                if "#" in d:
                    role, _, k = d.partition("#")
                    run.flush(role, int(k))
                else:
                    run.step(d)
            nxt = choices(run)
            if not nxt:
                out.add(observe(run))
            return nxt

    todo: list[list[str]] = [[]]
    while todo:
        prefix = todo.pop()
        todo += [[*prefix, d] for d in replay(prefix)]
    return out


def _sb_seen(run: Run) -> Outcome:
    return run.outputs["A"][0], run.outputs["B"][0]


def _mp_seen(run: Run) -> Outcome:
    r, s = run.outputs["B"]
    return r, s


# (spec, roles, compiled observation, emulator observation, model, the outcomes both
# must allow): SB with store fences under PSO is the case the emulator used to forbid
# (its store fence waited for the drain), although the checker allows it.
CASES = [
    ("sb+sfence", "pso", {(0, 0), (0, 1), (1, 0), (1, 1)}),
    ("sb+sfence", "tso", {(0, 0), (0, 1), (1, 0), (1, 1)}),
    ("sb+sfence", "sc", {(0, 1), (1, 0), (1, 1)}),
    ("sb+mfence", "pso", {(0, 1), (1, 0), (1, 1)}),
    ("mp", "pso", {(0, 0), (0, 1), (1, 0), (1, 1)}),
    ("mp", "tso", {(0, 0), (0, 1), (1, 1)}),
    ("mp+sfence", "pso", {(0, 0), (0, 1), (1, 1)}),
]


@pytest.mark.parametrize(("case", "model", "allowed"), CASES,
                         ids=[f"{c}-{m}" for c, m, _ in CASES])
def test_emulator_and_compiled_model_allow_the_same_outcomes(
        case: str, model: str, allowed: set[Outcome]) -> None:
    shape, _, fence_name = case.partition("+")
    fence = {"": None, "sfence": "store", "mfence": "full"}[fence_name]
    if shape == "sb":
        spec, roles, seen = _sb_spec(fence), _sb_roles(fence), _sb_seen
        observe = ("A.r", "B.r")
    else:
        spec, roles, seen = _mp_spec(fence), _mp_roles(fence), _mp_seen
        observe = ("B.r", "B.s")
    assert compiled_outcomes(spec, model, observe) == allowed
    assert emulator_outcomes(roles, model, seen) == allowed


def _name_comparisons(path: Path) -> list[str]:
    """``x == "tso"``, ``x != "sc"``, ``x in ("tso", "pso")``-style tests in ``path``."""
    names = set(memory.names())
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Compare):
            continue
        for side in (node.left, *node.comparators):
            items = side.elts if isinstance(side, ast.Tuple | ast.Set | ast.List) else [side]
            if any(isinstance(i, ast.Constant) and i.value in names for i in items):
                out.append(f"{path}:{node.lineno}")
                break
    return out


def test_no_module_outside_model_memory_compares_model_names() -> None:
    root = Path(__file__).resolve().parent.parent
    models = root / "model" / "memory"
    found = [hit for folder in ("model", "conformance", "spec", "impl", "intervm")
             for path in sorted((root / folder).rglob("*.py"))
             if not path.resolve().is_relative_to(models)
             for hit in _name_comparisons(path)]
    assert found == []
