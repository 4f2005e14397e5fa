"""The CLI audit (issue 21, item 4): every subcommand × every class of bad input.

One table of cases: the argv (``{T}`` is a scratch folder holding the hostile files), the
exit status the command gives (README, "Exit status and signals": 2 for every usage
error of every command, unknown and missing subcommands included, and for any refusal
of ``conformance run`` and ``conformance check-trace`` and a TARGET ``conformance
inprocess`` cannot load; 1 for every other refusal),
and a word the one ``Error:`` line must contain
(the option or the path at fault). Each case must print exactly one non-empty line,
starting with ``Error:``, and no traceback. No case starts a real search: every refusal
comes before one. (Read-only folders are not in the table: the tests may run as root,
whom permissions do not stop; tests/test_output_safety.py covers them when not root.)
"""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from intervm.cli import main

HUGE = str(10**30)
G = ["coalescing", "no_recheck", "-o", "{T}/g.svg"]  # graph's valid prefix
R = ["report", "{T}/r.html", "-p", "coalescing"]
V = ["verify", "-p", "coalescing"]
P = ["play", "coalescing", "no_recheck"]
E = ["explain", "coalescing", "no_recheck"]
CI = ["conformance", "inprocess", "--builtin"]
CIR = ["conformance", "inprocess", "examples.inprocess_seqlock:IMPL", "--replay"]
CR = ["conformance", "run", "--role", "producer"]
CT = ["conformance", "check-trace"]

CASES: list[tuple[list[str], int, str]] = [
    # -- bad numbers: nan, inf, negative, huge, for every numeric option -----------------
    *[([*V, "--timeout", x], 2, "'--timeout'") for x in ("nan", "inf", "-1", "1e30")],
    *[([*R, "--timeout", x], 2, "'--timeout'") for x in ("nan", "inf", "-1", "1e30")],
    *[([*V, "--bmc-depth", x], 2, "'--bmc-depth'") for x in ("nan", "inf", "-1", HUGE)],
    *[([*V, "--buffer", x], 2, "'--buffer'") for x in ("nan", "-1", "0", HUGE)],
    *[([*R, "--buffer", x], 2, "'--buffer'") for x in ("nan", "-1", HUGE)],
    *[(["export", "promela", "--buffer", x], 2, "'--buffer'") for x in ("nan", "-1", HUGE)],
    *[(["graph", *G, "--buffer", x], 2, "'--buffer'") for x in ("inf", "-1", HUGE)],
    *[([*V, "--max-buffer", x], 2, "'--max-buffer'") for x in ("nan", "inf", "-1", HUGE)],
    *[([*V, "--jobs", x], 2, "'--jobs'") for x in ("nan", "-1", "0", HUGE)],
    *[([*R, "--jobs", x], 2, "'--jobs'") for x in ("inf", "-1", HUGE)],
    *[(["graph", *G, "--max-states", x], 2, "'--max-states'") for x in ("nan", "0", HUGE)],
    *[([*V, "--param", f"capacity={x}"], 2, "--param") for x in ("nan", "inf", "1.5")],
    ([*V, "--param", "capacity"], 2, "--param"),
    ([*V, "--param", "capacity=-1"], 1, "capacity=-1"),
    ([*V, "--param", f"capacity={HUGE}"], 1, "above its maximum"),
    ([*V, "--param", "capacity=1000000"], 1, "holds at most"),  # an estimate: --force
    ([*E, "--param", "capacity=1000000"], 1, "holds at most"),
    ([*V, "--param", "nosuch=3"], 1, "'nosuch'"),
    ([*R, "--param", "capacity=nan"], 2, "--param"),
    ([*R, "--param", f"capacity={HUGE}"], 1, "above its maximum"),
    (["export", "promela", "--param", "capacity=inf"], 2, "--param"),
    (["export", "promela", "--param", f"capacity={HUGE}"], 1, "above its maximum"),
    ([*E, "--param", "requests=nan"], 2, "--param"),
    ([*E, "--param", "requests=-1"], 1, "requests=-1"),
    ([*E, "--param", f"requests={HUGE}"], 1, "above its maximum"),
    ([*P, "--param", "requests=inf"], 2, "--param"),
    ([*P, "--param", f"requests={HUGE}"], 1, "above its maximum"),
    (["graph", *G, "--param", f"requests={HUGE}"], 1, "above its maximum"),
    ([*CT, "{T}/empty.txt", "--param", "capacity=nan"], 2, "--param"),
    *[([*V, "--max-memory", x], 2, "'--max-memory'") for x in ("nan", "inf", "-1", "0",
                                                               HUGE + "T")],
    ([*R, "--max-memory", "inf"], 2, "'--max-memory'"),
    ([*E, "--max-memory", "nan"], 2, "'--max-memory'"),
    ([*P, "--max-memory", "-1"], 2, "'--max-memory'"),
    (["graph", *G, "--max-memory", "0"], 2, "'--max-memory'"),
    ([*CI, "--max-memory", "nan"], 2, "'--max-memory'"),
    ([*CT, "{T}/empty.txt", "--max-memory", "inf"], 2, "'--max-memory'"),
    *[([*CI, "--max-examples", x], 2, "'--max-examples'") for x in ("nan", "-1", "0", HUGE)],
    *[([*CR, "--seconds", x, "--", "true"], 2, "'--seconds'")
      for x in ("nan", "inf", "-1", "1e30")],
    *[([*CR, "--requests", x, "--", "true"], 2, "'--requests'") for x in ("nan", "-1", "0")],
    *[([*CR, "--watchdog", x, "--", "true"], 2, "'--watchdog'") for x in ("nan", "inf")],
    *[([*CR, "--timeout-ms", x, "--", "true"], 2, "'--timeout-ms'") for x in ("nan", HUGE)],
    *[(["run", "-n", x], 2, "'--requests'") for x in ("nan", "inf", "1.5")],
    *[(["run", "-n", x], 1, "requests") for x in ("-1", "0", HUGE, str(2**32))],
    *[(["run", "--capacity", x], 1, "capacity") for x in ("-1", "3", HUGE)],
    (["run", "--capacity", "nan"], 2, "'--capacity'"),
    *[(["run", "--window", x], 1, "window") for x in ("-1", "0", HUGE)],
    (["run", "--tick-us", "-1"], 1, "timer tick"),
    (["run", "--tick-us", HUGE], 1, "timer tick"),
    (["run", "--idle-polls", "-1"], 1, "idle polls"),
    *[(["image", "pack", "{T}/d", "{T}/i.img", "--slots", x], 2, "'--slots'")
      for x in ("nan", "0", "-1")],
    (["image", "pack", "{T}/d", "{T}/i.img", "--image-size", "-1"], 2, "'--image-size'"),
    # -- input files: missing, non-UTF-8, empty, a directory --------------------------
    (["verify", "{T}/missing.py"], 1, "{T}/missing.py"),
    (["verify", "{T}/bad.py"], 1, "not UTF-8"),
    (["verify", "{T}/empty.py"], 1, "{T}/empty.py"),
    (["verify", "{T}/d"], 1, "is a directory"),
    (["verify", "--spec", "nosuch_module_x:X"], 1, "'nosuch_module_x'"),
    (["explain", "{T}/missing.py", "x"], 1, "{T}/missing.py"),
    (["explain", "{T}/bad.py", "x"], 1, "not UTF-8"),
    (["explain", "{T}/empty.py", "x"], 1, "{T}/empty.py"),
    (["play", "{T}/bad.py", "x"], 1, "not UTF-8"),
    (["play", "{T}/empty.py", "x"], 1, "{T}/empty.py"),
    (["graph", "{T}/bad.py", "x", "-o", "{T}/g.svg"], 1, "not UTF-8"),
    (["graph", "{T}/empty.py", "x", "-o", "{T}/g.svg"], 1, "{T}/empty.py"),
    ([*P, "--script", "{T}/missing.txt"], 1, "{T}/missing.txt"),
    ([*P, "--script", "{T}/bad.txt"], 1, "not UTF-8"),
    ([*P, "--script", "{T}/empty.txt"], 1, "is empty"),
    ([*P, "--script", "{T}/d"], 1, "is a directory"),
    (["diagram", "{T}/missing.txt", "-o", "{T}/x.svg"], 1, "{T}/missing.txt"),
    (["diagram", "{T}/bad.txt", "-o", "{T}/x.svg"], 1, "not UTF-8"),
    (["diagram", "{T}/empty.txt", "-o", "{T}/x.svg"], 1, "is empty"),
    (["diagram", "{T}/d", "-o", "{T}/x.svg"], 2, "is a directory"),
    (["diagram", "{T}/empty.txt", "-o", "{T}/x.svg", "--spec-file", "{T}/missing.py"], 2,
     "'--spec-file'"),
    ([*CT, "{T}/missing.txt"], 2, "{T}/missing.txt"),
    ([*CT, "{T}/bad.txt"], 2, "not UTF-8"),
    ([*CT, "{T}/empty.txt"], 2, "{T}/empty.txt"),
    ([*CT, "{T}/d"], 2, "{T}/d"),
    ([*CIR, "{T}/missing.txt"], 1, "{T}/missing.txt"),
    ([*CIR, "{T}/bad.txt"], 1, "not UTF-8"),
    ([*CIR, "{T}/empty.txt"], 1, "{T}/empty.txt"),
    ([*CIR, "{T}/d"], 2, "{T}/d"),
    (["image", "list", "{T}/missing.img"], 1, "{T}/missing.img"),
    (["image", "list", "{T}/empty.txt"], 1, "{T}/empty.txt"),
    (["image", "list", "{T}/bad.txt"], 1, "{T}/bad.txt"),
    (["image", "list", "{T}/d"], 1, "{T}/d"),
    (["image", "extract", "{T}/empty.txt", "{T}/d"], 1, "{T}/empty.txt"),
    (["image", "extract", "{T}/d", "{T}/d"], 1, "{T}/d"),
    (["image", "pack", "{T}/missing", "{T}/i.img"], 1, "{T}/missing"),
    (["image", "pack", "{T}/empty.txt", "{T}/i.img"], 1, "{T}/empty.txt"),
    # -- output paths: in a missing folder, under a file, or a directory -----------------
    (["export", "promela", "-o", "{T}/nodir/out.pml"], 1, "{T}/nodir"),
    (["export", "promela", "-o", "{T}/empty.txt/out.pml"], 1, "{T}/empty.txt"),
    (["export", "promela", "-o", "{T}/d"], 2, "{T}/d"),
    (["report", "{T}/nodir/r.html", "-p", "coalescing"], 1, "{T}/nodir"),
    (["report", "{T}/d", "-p", "coalescing"], 2, "{T}/d"),
    (["graph", "coalescing", "no_recheck", "-o", "{T}/nodir/g.svg"], 1, "{T}/nodir"),
    (["graph", "coalescing", "no_recheck", "-o", "{T}/d"], 2, "{T}/d"),
    (["graph", *G, "--trace-out", "{T}/nodir/t.json"], 1, "--trace-out"),
    (["graph", *G, "--trace-out", "{T}/d"], 2, "'--trace-out'"),
    (["diagram", "{T}/empty.txt", "-o", "{T}/nodir/x.svg"], 1, "{T}/nodir"),
    (["diagram", "{T}/empty.txt", "-o", "{T}/d"], 2, "{T}/d"),
    (["run", "-n", "1", "--plot", "{T}/nodir/x.png"], 1, "--plot"),
    (["run", "-n", "1", "--plot", "{T}/d"], 2, "'--plot'"),
    (["run", "-n", "1", "--region", "{T}/d"], 1, "{T}/d"),
    (["run", "-n", "1", "--region", "{T}/nodir/r"], 1, "--region"),
    ([*CI, "--json", "{T}/nodir/r.json"], 1, "--json"),
    ([*CI, "--junit", "{T}/d"], 2, "--junit"),
    ([*CI, "--save", "{T}/nodir/s.json"], 1, "--save"),
    ([*CT, "{T}/empty.txt", "--json", "{T}/nodir/r.json"], 2, "--json"),
    ([*CT, "{T}/empty.txt", "--junit", "{T}/d"], 2, "--junit"),
    ([*CR, "--json", "{T}/nodir/r.json", "--", "true"], 2, "--json"),
    ([*CR, "--junit", "{T}/d", "--", "true"], 2, "'--junit'"),
    (["image", "pack", "{T}/d", "{T}/nodir/i.img"], 1, "{T}/nodir"),
    (["image", "pack", "{T}/d", "{T}/d"], 1, "{T}/d"),
    # -- unknown names ---------------------------------------------------------------
    ([*V[:1], "-p", "nosuch"], 1, "'nosuch'"),
    ([*V, "-v", "nosuch"], 1, "nosuch"),
    ([*V, "--property", "nosuch"], 1, "nosuch"),
    ([*V, "-m", "power"], 2, "'--memory-model'"),
    ([*V, "-e", "nosuch"], 2, "'--engine'"),
    # -- a model conformance cannot offer (arm) ------------------------------------------
    ([*CI, "-m", "arm"], 1, "not supported yet"),
    ([*CT, "{T}/store.jsonl", "--protocol", "coalescing", "--memory-model", "arm"], 2,
     "not supported yet"),
    ([*V, "-v", "correct", "-m", "arm"], 1, "opt-in"),
    (["report", "{T}/r.html", "-p", "nosuch"], 1, "'nosuch'"),
    ([*R, "-v", "nosuch"], 1, "nosuch"),
    ([*R, "--property", "nosuch"], 1, "nosuch"),
    ([*R, "-m", "power"], 2, "'--memory-model'"),
    (["export", "promela", "-p", "nosuch"], 1, "'nosuch'"),
    (["export", "promela", "-v", "nosuch"], 1, "'nosuch'"),
    (["export", "promela", "-m", "power"], 2, "'--memory-model'"),
    (["explain", "nosuch", "x"], 1, "'nosuch'"),
    (["explain", "coalescing", "nosuch"], 1, "'nosuch'"),
    ([*E, "--property", "nosuch"], 1, "'nosuch'"),
    ([*E, "--fixed", "nosuch"], 1, "'nosuch'"),
    ([*E, "-m", "power"], 2, "'--memory-model'"),
    (["play", "nosuch", "x"], 1, "'nosuch'"),
    (["play", "coalescing", "nosuch"], 1, "'nosuch'"),
    ([*P, "--property", "nosuch"], 1, "'nosuch'"),
    ([*P, "-m", "power"], 2, "'--memory-model'"),
    (["graph", "nosuch", "x", "-o", "{T}/g.svg"], 1, "'nosuch'"),
    (["graph", "coalescing", "nosuch", "-o", "{T}/g.svg"], 1, "'nosuch'"),
    (["graph", *G, "-m", "power"], 2, "'--memory-model'"),
    (["diagram", "{T}/empty.txt", "-o", "{T}/x.svg", "-m", "power"], 2, "'--memory-model'"),
    ([*CT, "{T}/empty.txt", "--protocol", "nosuch"], 2, "'--protocol'"),
    ([*CT, "{T}/empty.txt", "--memory-model", "power"], 2, "'--memory-model'"),
    ([*CI, "-m", "power"], 2, "'--memory-model'"),
    (["conformance", "inprocess", "nosuch_module_x:X"], 2, "nosuch_module_x"),
    (["conformance", "run", "--role", "nosuch", "--", "true"], 2, "'--role'"),
    # -- PROTOCOL given as a directory, a missing path or an unknown name: one resolver --
    *[(argv, 1, "'{T}/d' is a directory, not a protocol; give a protocol file (FILE.py) "
       "or one of the built-in protocols: coalescing, timer")
      for argv in (["verify", "-p", "{T}/d"], ["report", "{T}/r.html", "-p", "{T}/d"],
                   ["explain", "{T}/d", "x"], ["play", "{T}/d", "x"],
                   ["graph", "{T}/d", "x", "-o", "{T}/g.svg"],
                   ["export", "promela", "-p", "{T}/d"])],
    *[(argv, 1, "protocol file '{T}/nope' does not exist; check the path, or give one "
       "of the built-in protocols: coalescing, timer")
      for argv in (["verify", "-p", "{T}/nope"], ["report", "{T}/r.html", "-p", "{T}/nope"],
                   ["explain", "{T}/nope", "x"], ["play", "{T}/nope", "x"],
                   ["graph", "{T}/nope", "x", "-o", "{T}/g.svg"],
                   ["export", "promela", "-p", "{T}/nope"])],
    (["explain", "{T}/empty.txt", "x"], 1, "'{T}/empty.txt' is neither a protocol file"),
    (["verify", "-p", "nope.py"], 1, "protocol file 'nope.py' does not exist"),
    ([*CT, "{T}/empty.txt", "--protocol", "{T}/d"], 2, "'--protocol'"),
    # -- huge parameters: refused on the estimate (with --force to go on) or a maximum ---
    *[([*argv, "--param", "capacity=200000", "--max-memory", "1M"], status,
       "'slots' 200000 elements long: 200,046 state variables after array expansion, so "
       "one state takes an estimated 1.5 MB and even the initial state does not fit the "
       "memory budget 1 MB; lower capacity, raise --max-memory, or give --force")
      for argv, status in ((V, 1), (R, 1), (E, 1), (P, 1), (["graph", *G], 1))],
    *[([*argv, "--param", f"capacity={HUGE}", "--force"], 1, "above its maximum 1048576")
      for argv in (V, E, P)],
    # -- unknown or missing subcommands: one line, exit status 2, for every group ----
    *[([*group, "nosuch"], 2, f"Error: {' '.join(['intervm', *group])}: no command "
       f"'nosuch'; choose one of {names} ({' '.join(['intervm', *group])} --help)")
      for group, names in (([], "conformance, diagram, explain, export, graph, image, "
                            "play, report, run, verify"),
                           (["conformance"], "check-trace, inprocess, run"),
                           (["image"], "extract, list, pack"), (["export"], "promela"))],
    *[(group, 2, f"Error: {' '.join(['intervm', *group])}: missing command; choose one "
       f"of {names} ({' '.join(['intervm', *group])} --help)")
      for group, names in ((["conformance"], "check-trace, inprocess, run"),
                           (["image"], "extract, list, pack"), (["export"], "promela"))],
    (["conformance", "--nosuch"], 2, "intervm conformance: No such option '--nosuch'"),
    (["image", "list"], 2, "Missing argument 'IMAGE'"),
    (["explain"], 2, "Missing argument 'PROTOCOL'"),
    (["play", "coalescing"], 2, "Missing argument 'VARIANT'"),
    # -- conflicting or missing options ----------------------------------------------
    (["verify", "{T}/empty.py", "--spec", "os:path"], 2, "--spec"),
    (["verify", "{T}/empty.py", "-p", "coalescing"], 2, "--protocol"),
    ([*V, "--fixed-buffer", "--max-buffer", "2"], 2, "--max-buffer 2"),
    ([*E, "--fixed", "correct", "--no-fix"], 1, "--no-fix"),
    (["run", "-n", "1", "--force"], 1, "--force"),
    (["run", "-n", "1", "--plot", "{T}/x.txt"], 1, "--plot"),
    (["graph", "coalescing", "no_recheck", "-o", "{T}/g.txt"], 1, "--out"),
    (["graph", "coalescing", "no_recheck"], 2, "'--out'"),
    (["diagram", "{T}/empty.txt"], 2, "'--out'"),
    (["conformance", "inprocess"], 2, "MODULE:OBJECT"),
    (["conformance", "run", "--", "true"], 2, "'--role'"),
]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    t = tmp_path_factory.mktemp("audit")
    (t / "bad.py").write_bytes(b"\xff\xfe x = 1\n")
    (t / "bad.txt").write_bytes(b"\xff\xfe\n")
    (t / "empty.py").write_bytes(b"")
    (t / "empty.txt").write_bytes(b"")
    (t / "store.jsonl").write_text('{"process": "producer", "op": "store", "field": "tail", '
                                   '"value": 1, "seq": 1}\n')
    (t / "d").mkdir()
    (t / "d" / "keep").write_text("kept\n")
    return t


def _id(case: tuple[list[str], int, str]) -> str:
    return " ".join(case[0]).replace("{T}/", "")[:80]


@pytest.mark.parametrize(("argv", "status", "culprit"), CASES, ids=[_id(c) for c in CASES])
def test_bad_input_gives_one_error_line(
    scratch: Path, argv: list[str], status: int, culprit: str
) -> None:
    args = [a.replace("{T}", str(scratch)) for a in argv]
    before = sorted(str(p) for p in scratch.rglob("*"))
    r = CliRunner().invoke(main, args)
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert "Traceback" not in r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert len(lines) == 1 and lines[0].startswith("Error: "), r.output
    assert culprit.replace("{T}", str(scratch)) in lines[0], lines[0]
    assert r.exit_code == status, r.output
    assert sorted(str(p) for p in scratch.rglob("*")) == before  # nothing left behind


def test_every_subcommand_is_audited() -> None:
    """A new subcommand must get its rows in CASES."""
    def leaves(group: click.Group, prefix: tuple[str, ...]) -> set[tuple[str, ...]]:
        ctx = click.Context(group)
        out: set[tuple[str, ...]] = set()
        for name in group.list_commands(ctx):
            cmd = group.get_command(ctx, name)
            path = (*prefix, name)
            out |= leaves(cmd, path) if isinstance(cmd, click.Group) else {path}
        return out

    covered = {tuple(argv[:2]) for argv, _, _ in CASES} | {(argv[0],) for argv, _, _ in CASES}
    missing = {p for p in leaves(main, ()) if p not in covered}
    assert len(leaves(main, ())) >= 14
    assert not missing, missing


def test_force_goes_on_past_an_estimate_and_the_search_stops_at_the_budget() -> None:
    """``--force`` lifts only the refusal resting on the initial-state estimate: the
    search runs and stops at the budget with UNKNOWN (exit 1), never a pass."""
    r = CliRunner().invoke(main, [*V, "-v", "correct", "-m", "sc", "-j", "1", "-e",
                                  "explicit", "--property", "no_lost_wakeup", "--param",
                                  "capacity=200000", "--max-memory", "1M", "--force"])
    assert "Traceback" not in r.output and r.exit_code == 1, r.output
    assert ("coalescing/correct SC no_lost_wakeup: UNKNOWN (memory budget 1 MB exceeded "
            "after 1 states") in r.output
    assert r.output.rstrip().endswith("1 verdicts, 1 differ from what the variants declare")


def test_help_is_unchanged_by_the_one_line_usage_errors() -> None:
    for argv in (["--help"], ["conformance", "--help"], ["image", "-h"]):
        r = CliRunner().invoke(main, argv)
        assert r.exit_code == 0 and r.output.startswith("Usage: "), r.output
        assert "Commands:" in r.output and "Error" not in r.output
