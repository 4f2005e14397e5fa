"""Promela export and SPIN on the timer protocol, cross-checked against the explicit engine.

Every timer variant exports under every memory model it declares and ``spin -a``
accepts the result. For four variants chosen for what only SPIN and the explicit
engine reach (the PSO-reordered writer's 21-step torn read, Hyper-V's fallback
running ahead under TSO, the NO_HZ catch-up, the seqlock's spin under PSO), SPIN
gives every property the explicit engine's verdict and the declared one, BFS trails
of the explicit engine's shortest length, exactly the explicit state count where a
safety property holds, and trails that replay on the explicit semantics.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from intervm.commands.export import export
from intervm.model.compile import compile_spec
from intervm.model.explicit import check, explore
from intervm.model.promela import to_promela
from intervm.model.replay import replay, violates
from intervm.model.spin import compile_pan, search, spin_available
from intervm.model.system import CEventually, System
from intervm.model.verdict import Status
from intervm.spec.timer_variants import TIMER

needs_spin = pytest.mark.skipif(
    not spin_available(), reason="spin/gcc not installed (apt-get install -y spin gcc)"
)
CASES = [(v.name, mm) for v in TIMER.variants for mm in v.memory_models]


def _system(variant: str, mm: str) -> System:
    return compile_spec(TIMER.spec(variant), TIMER.params_for(variant, unbounded=False), mm)


def test_cli_exports_the_timer_with_its_parameters(tmp_path: Path) -> None:
    out = tmp_path / "m.pml"
    res = CliRunner().invoke(export, ["promela", "--protocol", "timer", "--variant",
                                      "single_word_nohz", "--memory-model", "pso",
                                      "--param", "lag=2", "-o", str(out)])
    assert res.exit_code == 0, res.output
    head = out.read_text().split("*/", 1)[0]
    assert "protocol timer, variant single_word_nohz" in head
    assert "params: ticks=2, lag=2, reads=2" in head
    bad = CliRunner().invoke(export, ["promela", "--protocol", "timer", "--variant", "nope"])
    assert bad.exit_code == 1 and bad.output.count("\n") == 1
    assert "has no variant 'nope'" in bad.output


@needs_spin
def test_every_timer_variant_parses_with_spin_a(tmp_path: Path) -> None:
    for variant, mm in CASES:
        sys = _system(variant, mm)
        text = to_promela(sys, variant=variant)
        assert len(text.split("\nltl ")) == len(sys.properties) + 1
        (tmp_path / "m.pml").write_text(text)
        for flags in ([], ["-DSAFETY_ONLY"]):
            out = subprocess.run(["spin", "-o2", *flags, "-a", "m.pml"], cwd=tmp_path,
                                 capture_output=True, text=True, check=False)
            assert out.returncode == 0 and "Error" not in out.stdout + out.stderr, (
                variant, mm, out.stdout + out.stderr)


# shortest trails SPIN's BFS must find (the first two are beyond the BMC test budget)
PINNED = {
    ("seqlock_no_wmb", "pso", "no_torn_read"): 21,
    ("hyperv", "tso", "cross_reader_monotonic"): 24,
    ("single_word_nohz", "sc", "bounded_staleness"): 6,
}


@needs_spin
@pytest.mark.parametrize(("variant", "mm"), [
    ("seqlock_no_wmb", "pso"),
    ("hyperv", "tso"),
    ("single_word_nohz", "sc"),
    ("seqlock", "pso"),
])
def test_spin_agrees_with_explicit_on_every_property(tmp_path: Path, variant: str,
                                                     mm: str) -> None:
    sys = _system(variant, mm)
    g = explore(sys, variant=variant)
    safety = compile_pan(sys, tmp_path / "safety", liveness=False, variant=variant)
    liveness = compile_pan(sys, tmp_path / "liveness", liveness=True, variant=variant)
    declared = TIMER.variant(variant)
    for p in sys.properties:
        live = isinstance(p, CEventually)
        e = check(g, p.name)
        v = search(liveness if live else safety, p.name, timeout=120).verdict
        assert v.outcome is not None, (p.name, v.reason)
        assert v.status is e.status, (p.name, v.text, e.text)
        assert v.outcome == declared.expected(p.name, mm), p.name
        if v.status is Status.HOLDS and not live:
            assert v.states == len(g)  # BFS pan stores exactly the explicit states
        if v.trace is not None:
            assert replay(v.trace, sys) == len(v.trace)
            assert violates(v.trace, sys)
            if not live:  # -DBFS: a shortest trail
                assert v.depth == e.depth == len(v.trace)
        assert v.depth == PINNED.get((variant, mm, p.name), v.depth), p.name
    pinned = {prop for (var, m, prop) in PINNED if (var, m) == (variant, mm)}
    assert pinned <= {p.name for p in sys.properties}
