"""Memory budgets on user-sized parameters (issue 22, item 5).

Huge parameters are refused in one line naming the parameter before anything is
allocated; a search that outgrows ``--max-memory`` stops with UNKNOWN naming what made
the instance big. The command-line cases run in a subprocess under an address-space
limit, so a regression fails the test instead of eating the machine's memory.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
import z3
from click.testing import CliRunner

from intervm.cli import main
from intervm.conformance.record import record_coalescing
from intervm.conformance.report import Outcome
from intervm.model.bmc import bmc
from intervm.model.budget import MemoryBudget, available_memory
from intervm.model.compile import compile_spec
from intervm.model.solver import SolverUnknown, check
from intervm.model.verdict import Status
from intervm.spec.errors import ParamError, SpecError
from intervm.spec.protocols import get_protocol
from intervm.spec.syntax import ParamDecl

ADDRESS_LIMIT = 3 << 30  # the safety net: far above what a bounded run needs
ROOT = Path(__file__).resolve().parent.parent

BIG_ARRAY = '''\
from intervm.spec.api import *

spec = Spec(
    "bigarray",
    shared=(Shared("cells", NAT, length="n"),),
    processes=(
        Process("P", locals=(Local("i", NAT),), steps=(
            Step("write", Store("cells", 1, index=L("i")), set=(("i", add(L("i"), 1)),),
                 branch=(lt(L("i"), 3), "write")),
            Step("done", Halt()),
        )),
    ),
    properties=(
        Always("first_set", implies(At("P", "done"), eq(Mem("cells", Const(0)), 1))),
        Sometimes("finished", At("P", "done")),
    ),
    params=(ParamDecl("n", 4, minimum=1),),
)
'''


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_LIMIT, ADDRESS_LIMIT))


def intervm(*args: str) -> subprocess.CompletedProcess[str]:
    """``intervm ARGS`` in a subprocess under :data:`ADDRESS_LIMIT`."""
    return subprocess.run([sys.executable, "-m", "intervm.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          preexec_fn=_limit_memory, check=False)


def one_error_line(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode != 0
    assert "Traceback" not in r.stderr + r.stdout
    lines = [ln for ln in (r.stderr + r.stdout).splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    return lines[0]


# ---------------------------------------------------------------- the audit's cases


@pytest.mark.parametrize("value", ["1000000000", str(10**30)])
def test_verify_huge_capacity_is_one_line_naming_the_range(value: str) -> None:
    r = intervm("verify", "-p", "coalescing", "-v", "correct", "-m", "sc", "-j", "1",
                "--param", f"capacity={value}", "--max-memory", "300M")
    assert one_error_line(r) == (
        f"Error: parameter capacity={value} of 'coalescing' is above its maximum 1048576; "
        "give a value in 1..1048576 (ring slots; the v1 ring layout holds at most 2**20)")


def test_check_trace_huge_capacity_is_one_line(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    trace.write_text("\n".join(record_coalescing(requests=2, capacity=2, seed=0)) + "\n")
    r = intervm("conformance", "check-trace", str(trace), "--param", "capacity=1000000000",
                "--max-memory", "300M")
    assert r.returncode == 2
    line = one_error_line(r)
    assert line.startswith("Error: parameter capacity=1000000000 of 'coalescing' is above "
                           "its maximum 1048576; give a value in 1..1048576")


@pytest.mark.parametrize("value", ["1000000000", str(10**30)])
def test_user_array_of_huge_length_is_one_line(tmp_path: Path, value: str) -> None:
    f = tmp_path / "big.py"
    f.write_text(BIG_ARRAY)
    r = intervm("verify", str(f), "-j", "1", "--param", f"n={value}", "--max-memory", "300M")
    assert one_error_line(r) == (
        f"Error: parameter n={value} of 'bigarray' makes shared array 'cells' {value} "
        "elements long: more than the 10,000,000 state variables an instance may have; "
        "lower n")


def test_user_array_whose_initial_state_exceeds_the_budget(tmp_path: Path) -> None:
    f = tmp_path / "big.py"
    f.write_text(BIG_ARRAY)
    r = intervm("explain", str(f), "default", "--property", "first_set", "-m", "sc",
                "--param", "n=1000000", "--max-memory", "4M")
    assert one_error_line(r) == (
        "Error: parameter n=1000000 of 'bigarray' makes shared array 'cells' 1000000 "
        "elements long: 1,000,015 state variables after array expansion, so one state "
        "takes an estimated 7.6 MB and even the initial state does not fit the memory "
        "budget 4 MB; lower n, raise --max-memory, or give --force to try anyway (the "
        "search still stops at the budget)")


def test_huge_parameter_never_overflows_in_the_library() -> None:
    spec = get_protocol("coalescing").spec("correct")
    with pytest.raises(ParamError, match=r"capacity=10{30} of 'coalescing' is above"):
        compile_spec(spec, {"capacity": 10**30}, "sc")


# ---------------------------------------------------------------- searches past the budget


def test_explicit_search_past_the_budget_is_unknown_naming_the_parameters() -> None:
    # requests=6 needs about 70 MB of states; 4 MB of growth is far below that
    r = intervm("verify", "-p", "coalescing", "-v", "correct", "-m", "sc", "-j", "1",
                "--engine", "explicit", "--property", "no_lost_wakeup",
                "--param", "requests=6", "--max-memory", "4M")
    assert r.returncode == 1, r.stderr
    head = "coalescing/correct SC no_lost_wakeup: UNKNOWN (memory budget 4 MB exceeded after "
    (line,) = [ln for ln in r.stdout.splitlines() if ln.startswith(head)]
    assert line.endswith(" at capacity=2, requests=6 — lower a --param or raise --max-memory)")
    states = int(line.removeprefix(head).split()[0].replace(",", ""))
    assert 0 < states < 155_866  # stopped early (the whole instance has 155866)
    assert r.stdout.rstrip().endswith("1 verdicts, 1 differ from what the variants declare")


def test_big_states_are_blamed_on_the_array_length_parameter() -> None:
    r = intervm("verify", "-p", "coalescing", "-v", "correct", "-m", "sc", "-j", "1",
                "--engine", "explicit", "--property", "no_lost_wakeup",
                "--param", "capacity=65536", "--max-memory", "8M", "--json")
    assert r.returncode == 1, r.stderr
    (cell,) = json.loads(r.stdout)["cells"]
    assert cell["verdict"]["status"] == "UNKNOWN"
    assert cell["verdict"]["reason"].endswith(
        "; capacity=65536 makes each state 512 KB (slots has 65536 elements) — lower "
        "--param capacity or raise --max-memory")


def in_fresh_interpreter(code: str) -> str:
    """Run ``code`` in a new interpreter and return what it printed. The budget counts
    what a search adds to the resident size, and memory that earlier tests in this
    process freed would be reused without growing it, so these run on their own."""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=ROOT, timeout=600, preexec_fn=_limit_memory)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_trace_validation_past_the_budget_is_unknown_never_a_pass() -> None:
    out = in_fresh_interpreter(
        "from intervm.conformance.record import record_coalescing\n"
        "from intervm.conformance.tracecheck import check_lines\n"
        "from dataclasses import replace\n"
        "from intervm.model.budget import MemoryBudget\n"
        "lines = record_coalescing(requests=2, capacity=1 << 18, seed=1)\n"
        "# force: past the up-front refusal (2 MB states, 4 MB budget), into the search\n"
        "res = check_lines(lines, 'coalescing', 'correct', 'tso',"
        " memory=replace(MemoryBudget.parse('4M'), force=True))\n"
        "print(res.case.outcome.name)\n"
        "print(res.case.detail)\n")
    outcome, detail = out.split("\n", 1)
    assert outcome == Outcome.ERROR.name
    assert detail.startswith("UNKNOWN at event ")
    assert "memory budget 4 MB exceeded after " in detail
    assert detail.endswith("capacity=262144 makes each state 2.0 MB (slots has "
                           "262144 elements) — lower --param capacity or raise "
                           "--max-memory)")


def test_hint_search_past_the_budget_says_so() -> None:
    # no_lost_wakeup holds for correct: the hint searches everything
    out = in_fresh_interpreter(
        "from intervm.model.budget import MemoryBudget\n"
        "from intervm.model.compile import compile_spec\n"
        "from intervm.model.game import Game\n"
        "from intervm.spec.errors import ParamError\n"
        "from intervm.spec.protocols import get_protocol\n"
        "spec = get_protocol('coalescing').spec('correct')\n"
        "system = compile_spec(spec, {'capacity': 2, 'requests': 6}, 'sc')\n"
        "game = Game(system, spec, target='no_lost_wakeup', memory=MemoryBudget.parse('2M'))\n"
        "try:\n"
        "    game.hint()\n"
        "except ParamError as e:\n"
        "    print(e)\n")
    assert out.startswith("no hint: memory budget 2 MB exceeded after "), out


def test_z3_gets_the_budget_as_max_memory() -> None:
    s = z3.Solver()
    xs = [z3.BitVec(f"x{i}", 64) for i in range(30)]
    s.add(z3.Sum(*[x * x for x in xs]) == 12345678901, *[z3.UGT(x, 3) for x in xs])
    with pytest.raises(SolverUnknown, match=r"^memory budget 1 MB exceeded in z3 "):
        check(s, timeout=60, memory=MemoryBudget.parse("1M"))


def test_bmc_past_the_budget_is_unknown() -> None:
    system = compile_spec(get_protocol("coalescing").spec("correct"), {}, "tso")
    v = bmc(system, "no_lost_wakeup", max_depth=30, timeout=60,
            memory=MemoryBudget.parse("1M"))
    assert v.status is Status.UNKNOWN
    assert v.reason.startswith("memory budget 1 MB exceeded in z3")


# ---------------------------------------------------------------- the budget value


@pytest.mark.parametrize(("text", "limit"), [
    ("4G", 4 << 30), ("512M", 512 << 20), ("1.5g", 3 << 29), ("2048K", 2 << 20),
    ("300MB", 300 << 20), ("1GiB", 1 << 30), ("1048576", 1 << 20),
])
def test_sizes_parse(text: str, limit: int) -> None:
    assert MemoryBudget.parse(text).limit == limit


@pytest.mark.parametrize(("text", "why"), [
    ("4X", "'4X' is not a memory size"), ("", "'' is not a memory size"),
    ("-1G", "'-1G' is not a memory size"), ("0", "'0' is below 1 MB"),
    ("12K", "'12K' is below 1 MB"),
])
def test_bad_sizes_are_one_line(text: str, why: str) -> None:
    with pytest.raises(ParamError, match=f"^{why}"):
        MemoryBudget.parse(text)
    r = CliRunner().invoke(main, ["verify", "-p", "coalescing", "--max-memory", text])
    assert r.exit_code == 2
    (line,) = r.output.strip().splitlines()
    assert line.startswith(f"Error: Invalid value for '--max-memory': {why}")


def test_default_is_half_of_mem_available(tmp_path: Path) -> None:
    info = tmp_path / "meminfo"
    info.write_text("MemTotal:  8000000 kB\nMemFree:  100 kB\nMemAvailable:  4000000 kB\n")
    assert available_memory(str(info)) == 4_096_000_000
    assert MemoryBudget.default(4_096_000_000).limit == 2_048_000_000
    assert MemoryBudget.default(5).limit == 1 << 20  # never below a megabyte


def test_huge_budget_fits_the_engines_integers() -> None:
    b = MemoryBudget.parse("99999999999999999999T")
    assert b.megabytes == 2**31 - 1
    s = z3.Solver()
    s.add(z3.Int("x") > 1)
    assert check(s, timeout=10, memory=b) == "sat"


def test_workers_share_the_budget() -> None:
    assert MemoryBudget.parse("3G").share(2).limit == 3 << 29


def test_huge_param_literal_is_one_line() -> None:
    r = CliRunner().invoke(main, ["verify", "-p", "coalescing",
                                  "--param", "capacity=" + "9" * 5000])
    assert r.exit_code == 2
    assert r.output.strip() == ("Error: Invalid value for --param: capacity: 5000 digits is "
                                "far larger than any parameter can be; give a small integer "
                                "(e.g. capacity=3)")


# ---------------------------------------------------------------- declared maxima


def test_param_maximum_is_optional_and_positional_use_still_works() -> None:
    p = ParamDecl("requests", 2, 0, True, "requests per producer")
    assert (p.maximum, p.symbolic_ok, p.doc, p.range_text) == (
        None, True, "requests per producer", ">= 0")


def test_default_outside_the_declared_range_is_a_spec_error(tmp_path: Path) -> None:
    f = tmp_path / "bad.py"
    f.write_text(BIG_ARRAY.replace('ParamDecl("n", 4, minimum=1)',
                                   'ParamDecl("n", 40, minimum=1, maximum=8)'))
    r = CliRunner().invoke(main, ["verify", str(f)])
    assert r.exit_code == 1
    assert r.output.strip().endswith(
        "spec 'bigarray', parameter 'n': default=40 is outside minimum..maximum 1..8; "
        "give a default in that range (or a larger maximum)")
    with pytest.raises(SpecError):
        from intervm.spec.loader import load_protocols

        load_protocols(str(f))


@pytest.mark.parametrize(("protocol", "param", "bound"), [
    ("coalescing", "capacity", 1 << 20), ("coalescing", "requests", 1 << 40),
    ("timer", "ticks", 1 << 40), ("timer", "lag", 1 << 40), ("timer", "reads", 1 << 40),
])
def test_builtin_params_declare_their_maximum(protocol: str, param: str, bound: int) -> None:
    proto = get_protocol(protocol)
    variant = proto.variants[0].name
    assert proto.spec(variant).param(param).maximum == bound
    r = CliRunner().invoke(main, ["verify", "-p", protocol, "-v", variant, "-m", "sc",
                                  "-j", "1", "--param", f"{param}={bound + 1}"])
    assert r.exit_code == 1
    assert f"parameter {param}={bound + 1} of {protocol!r} is above its maximum {bound}; " \
           f"give a value in " in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_play_past_the_budget_still_plays_and_says_unknown(tmp_path: Path) -> None:
    script = tmp_path / "moves.txt"
    script.write_text("1\nquit\n")
    r = intervm("play", "coalescing", "correct", "--property", "no_lost_wakeup",
                "--param", "requests=6", "--max-memory", "2M", "--script", str(script))
    assert r.returncode == 0, r.stderr
    (goal,) = [ln for ln in r.stdout.splitlines() if ln.startswith("Goal:")]
    assert goal.startswith("Goal: break no_lost_wakeup (the shortest violation of "
                           "no_lost_wakeup is UNKNOWN (memory budget 2 MB exceeded after ")
    assert "1 step played" in r.stdout


def test_param_maximum_must_be_an_int() -> None:
    with pytest.raises(SpecError, match=r"maximum must be an int, got the str '5'"):
        ParamDecl("n", 1, maximum="5")  # type: ignore[arg-type]


def test_spin_gets_the_budget_as_memlim(monkeypatch: pytest.MonkeyPatch) -> None:
    from intervm.model import spin

    seen: list[int] = []

    def fake_run(system: object, prop: str, timeout: float, **kw: int) -> spin.SpinRun:
        seen.append(kw["memory_mb"])
        return spin.SpinRun(spin._unknown(prop, "pan ran out of memory (-DMEMLIM); raise "
                                                "memory_mb or use a smaller instance", 0.0))

    monkeypatch.setattr(spin, "spin_run", fake_run)
    system = compile_spec(get_protocol("coalescing").spec("correct"), {}, "sc")
    v = spin.spin_check(system, "no_lost_wakeup", 10, memory=MemoryBudget.parse("300M"))
    assert seen == [300]
    assert (v.status, v.reason) == (Status.UNKNOWN, (
        "memory budget 300 MB exceeded in pan (-DMEMLIM=300) at capacity=2, requests=3 — "
        "lower a --param or raise --max-memory"))


def test_graph_past_the_budget_is_one_line(tmp_path: Path) -> None:
    r = intervm("graph", "coalescing", "correct", "-o", str(tmp_path / "g.dot"),
                "--param", "capacity=65536", "--max-memory", "2M")
    line = one_error_line(r)
    assert line.startswith("Error: no graph: the search is UNKNOWN (memory budget 2 MB "
                           "exceeded after ")
    assert line.endswith("capacity=65536 makes each state 512 KB (slots has 65536 "
                         "elements) — lower --param capacity or raise --max-memory)")
    assert not (tmp_path / "g.dot").exists()


def test_inprocess_refinement_takes_the_budget(tmp_path: Path) -> None:
    # the in-process tester compiles the spec it refines against under --max-memory:
    # a ring of 2**20 slots (8 MB of initial state) does not fit in 4 MB
    (tmp_path / "bigimpl.py").write_text(
        "from dataclasses import replace\n"
        "from intervm.conformance.implementation import REFERENCE_COALESCING\n"
        "BIG = replace(REFERENCE_COALESCING, name='big', params={'capacity': 1 << 20})\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    r = subprocess.run([sys.executable, "-m", "intervm.cli", "conformance", "inprocess",
                        "bigimpl:BIG", "-m", "sc", "--max-examples", "5",
                        "--max-memory", "4M"], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=300, preexec_fn=_limit_memory)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    (line,) = r.stderr.strip().splitlines()
    assert line == ("Error: parameter capacity=1048576 of 'coalescing' makes shared array "
                    "'slots' 1048576 elements long: 1,048,632 state variables after "
                    "array expansion, so one state takes an estimated 8.0 MB and even the "
                    "initial state does not fit the memory budget 4 MB; lower capacity, "
                    "raise --max-memory, or give --force to try anyway (the search still "
                    "stops at the budget)")


def test_inprocess_search_past_the_budget_is_an_error_case_not_a_pass(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # a refinement whose spec states outgrow --max-memory mid-search has no verdict
    from intervm.commands import conformance_inprocess as cmd
    from intervm.model.budget import BudgetExceeded

    def outgrown(*_a: object, **kw: object) -> object:
        assert isinstance(kw["memory"], MemoryBudget) and kw["memory"].limit == 8 << 20
        raise BudgetExceeded("memory budget 8 MB exceeded after 12 states")

    monkeypatch.setattr(cmd, "test", outgrown)
    r = CliRunner().invoke(main, ["conformance", "inprocess",
                                  "intervm.conformance.implementation:REFERENCE_COALESCING",
                                  "-m", "sc", "--max-memory", "8M",
                                  "--json", str(tmp_path / "r.json")])
    assert r.exit_code == 1, r.output
    (case,) = json.loads((tmp_path / "r.json").read_text())["cases"]
    assert case["outcome"] == "error"
    assert case["detail"] == ("UNKNOWN: memory budget 8 MB exceeded after 12 states; "
                              "no verdict")
