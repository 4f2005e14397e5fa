"""`intervm verify`: the matrix, its exit status, JSON, traces and bad input."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from intervm.cli import main
from intervm.model.trace import Trace


def run(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(main, ["verify", *args])
    return r.exit_code, r.output


def test_matrix_shows_buggy_variants_as_violated_and_exits_zero() -> None:
    code, out = run("-p", "coalescing", "-v", "no_recheck", "-v", "correct", "-m", "sc",
                    "--property", "no_lost_wakeup", "--property", "eventually_consumed",
                    "-j", "1")
    assert code == 0, out
    assert "✓ VIOLATED 10" in out  # no_recheck under SC: a 10-step lost wakeup
    assert "✓ PROVED ∀" in out  # correct: proved for every capacity and request count
    assert "✓ VIOLATED 12" in out  # the starvation lasso
    assert "4 verdicts, 0 differ" in out


def test_json_matrix_carries_replayable_traces() -> None:
    code, out = run("-p", "coalescing", "-v", "no_producer_fence", "-m", "tso",
                    "--property", "no_lost_wakeup", "--json", "-j", "1")
    assert code == 0
    doc = json.loads(out)
    (cell,) = doc["cells"]
    assert cell["verdict"]["status"] == "VIOLATED" and cell["verdict"]["depth"] == 13
    trace = Trace.from_json(cell["verdict"]["trace"])
    assert trace.variant == "no_producer_fence" and len(trace) == 13
    assert doc["summary"] == {"cells": 1, "mismatches": 0}


def test_show_trace_prints_the_interleaving_with_store_buffers() -> None:
    code, out = run("-p", "coalescing", "-v", "no_producer_fence", "-m", "tso",
                    "--property", "no_lost_wakeup", "--show-trace", "-j", "1")
    assert code == 0
    assert "store buffers" in out and "P:[slots[0]=1, tail=1]" in out
    assert "recheck: t := load tail" in out


def test_a_verdict_that_differs_from_the_declaration_exits_one() -> None:
    # with no requests the consumer can never go back to sleep after work
    code, out = run("-p", "coalescing", "-v", "correct", "-m", "sc", "--param", "requests=0",
                    "--property", "consumer_sleeps", "--no-unbounded", "-j", "1")
    assert code == 1
    assert "✗ UNREACHABLE" in out and "expected holds" in out


def test_unknown_engine_result_is_never_a_pass() -> None:
    code, out = run("-p", "coalescing", "-v", "correct", "-m", "sc", "--engine", "kind",
                    "--property", "no_lost_wakeup", "--bmc-depth", "3", "-j", "1")
    assert code == 1
    assert "UNKNOWN" in out


def test_bad_input_gets_one_line_errors_and_no_traceback() -> None:
    code, out = run("-p", "nosuch")
    assert code == 1 and "protocol 'nosuch' is not built in" in out
    assert "Traceback" not in out
    code, out = run("-v", "nosuch_variant", "-p", "coalescing")
    assert code == 1 and "no variant named nosuch_variant" in out
    code, out = run("--param", "capacity", "-p", "coalescing")
    assert code == 2 and "is not NAME=INTEGER" in out
    code, out = run("--param", "bogus=3", "-p", "coalescing", "-v", "correct", "-m", "sc",
                    "-j", "1")
    assert code == 1 and "parameter 'bogus' is not declared" in out
    code, out = run("-m", "power")
    assert code == 2 and "Invalid value" in out


def test_installed_console_script_runs() -> None:
    r = subprocess.run([sys.executable, "-m", "intervm.cli", "--help"], capture_output=True,
                       text=True, check=False)
    assert r.returncode == 0 and "verify" in r.stdout


def test_spec_option_loads_a_protocol_by_module_name(tmp_path: object, monkeypatch: object) -> None:
    import pathlib

    d = pathlib.Path(str(tmp_path))
    (d / "my_proto_mod.py").write_text(
        "from intervm.spec.api import *\n"
        "spec = Spec('tiny', ghosts=(Ghost('n', NAT),), processes=(Process('P', steps=(\n"
        "    Step('inc', Assign(()), ghost=(('n', add(G('n'), 1)),)),\n"
        "    Step('stop', Halt()))),),\n"
        "    properties=(Sometimes('counted', eq(G('n'), 1)),))\n"
    )
    monkeypatch.syspath_prepend(str(d))  # type: ignore[attr-defined]
    code, out = run("--spec", "my_proto_mod:spec", "-m", "sc", "-j", "1")
    assert code == 0, out
    assert "intervm verify — tiny" in out and "✓ REACHED 1" in out
    code, out = run("--spec", "no_such_module_xyz:spec")
    assert code == 1 and "cannot import module 'no_such_module_xyz'" in out
