"""intervm play: scripted sessions that produce each kind of violation, and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from intervm.cli import main

SMALL = ["--param", "requests=1", "--param", "capacity=1"]


def play(args: list[str], moves: str) -> tuple[int, str]:
    r = CliRunner().invoke(main, ["play", *args], input="\n".join(moves.split()) + "\n")
    return r.exit_code, r.output


def test_lost_wakeup_under_sc() -> None:
    code, out = play(["coalescing", "no_recheck", *SMALL], "hint 1 undo 1 1 1 1 2 1 1 1 2 2")
    assert code == 0, out
    assert "Goal: break no_lost_wakeup (the shortest way takes 10 steps)." in out
    assert "hint: 1) P idle: → space" in out and "undone." in out
    assert "VIOLATION after 10 steps: A lost wakeup" in out
    assert "You took 10 steps: as few as possible." in out
    assert out.rstrip().endswith("10 steps played; violations produced: no_lost_wakeup.")


def test_lost_wakeup_under_tso_needs_buffer_drains() -> None:
    code, out = play(["coalescing", "no_producer_fence", *SMALL],
                     "1 1 1 1 1 1 2 2 2 3 2 2 2")
    assert code == 0, out
    assert "under TSO" in out
    assert "drain P's store buffer: slots[0]=1 reaches memory" in out
    assert "VIOLATION after 13 steps" in out and out.count("VIOLATION") == 1


def test_the_same_moves_do_not_break_the_correct_variant_under_sc() -> None:
    code, out = play(["coalescing", "correct", "--property", "no_lost_wakeup", *SMALL],
                     "1 1 1 1 2 1 1 1 2 2")
    assert code == 0, out
    assert "(it cannot be broken here)" in out and "VIOLATION" not in out


def test_torn_read_from_a_script_file(tmp_path: Path) -> None:
    script = tmp_path / "moves.txt"
    script.write_text("# the shortest torn read\n1\n1\n1\n1\n1\n1\n1\n3\n3\nquit\n")
    r = CliRunner().invoke(main, ["play", "timer", "two_words_lo_first", "--script",
                                  str(script)])
    assert r.exit_code == 0, r.output
    assert "VIOLATION after 9 steps: A torn read" in r.output
    assert "violations produced: bounded_staleness, no_torn_read." in r.output


@pytest.mark.parametrize(("args", "moves", "message"), [
    (["coalescing", "no_recheck"], "1 99", "Error: line 2: '99' is not a move number"),
    (["coalescing", "no_recheck"], "1 jump", "Error: line 2: 'jump' is not a move number"),
    (["coalescing", "no_recheck", "--property", "eventually_consumed"], "1",
     "is not an invariant (Always)"),
    (["coalescing", "nope"], "1", "has no variant 'nope'"),
])
def test_bad_input_exits_1_naming_it(args: list[str], moves: str, message: str) -> None:
    code, out = play(args, moves)
    assert code == 1 and message in out and "Traceback" not in out
