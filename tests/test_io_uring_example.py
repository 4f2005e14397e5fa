"""examples/io_uring_sqpoll.py, as a user runs it: every verdict as declared, pinned."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from intervm.cli import main
from intervm.model.trace import Trace

EXAMPLE = str(Path(__file__).resolve().parent.parent / "examples" / "io_uring_sqpoll.py")

# (variant, model) -> no_lost_wakeup, eventually_submitted, sleeps_after_work,
# wakeup_entered: PROVED/HOLDS, or the counterexample / witness length in steps
PINNED: dict[tuple[str, str], tuple[str | int, str | int, int, int]] = {
    ("fixed", "sc"): ("PROVED", "HOLDS", 8, 7),
    ("fixed", "tso"): ("PROVED", "HOLDS", 9, 8),
    ("b9_flag_after_check", "sc"): (13, 14, 8, 8),
    ("b9_flag_after_check", "tso"): (15, 16, 9, 9),
    ("b7_missing_mb", "sc"): ("PROVED", "HOLDS", 7, 7),
    ("b7_missing_mb", "tso"): (14, 16, 8, 9),
    ("b7_on_x86", "sc"): ("PROVED", "HOLDS", 7, 7),
    ("b7_on_x86", "tso"): ("PROVED", "HOLDS", 8, 8),
    ("b8_liburing_no_mb", "sc"): ("PROVED", "HOLDS", 8, 6),
    ("b8_liburing_no_mb", "tso"): (12, 14, 9, 7),
}
PROPS = ("no_lost_wakeup", "eventually_submitted", "sleeps_after_work", "wakeup_entered")


def test_matrix_reports_exactly_the_declared_verdicts() -> None:
    r = CliRunner().invoke(main, ["verify", EXAMPLE, "-m", "sc", "-m", "tso", "--json",
                                  "-j", "1"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["summary"] == {"cells": 40, "mismatches": 0}
    got: dict[tuple[str, str], list[str | int]] = {}
    for c in doc["cells"]:
        assert c["matches"], c
        v = c["verdict"]
        if v["status"] == "VIOLATED":
            assert c["expected"] == "violated"
            trace = Trace.from_json(v["trace"])
            assert len(trace) == v["depth"]
            cell: str | int = v["depth"]
        elif c["kind"] == "sometimes":
            assert v["status"] == "PROVED"
            cell = v["depth"]
        else:
            assert c["expected"] == "holds"
            cell = v["status"]
        got.setdefault((c["variant"], c["memory_model"]), []).append(cell)
        assert c["property"] == PROPS[len(got[(c["variant"], c["memory_model"])]) - 1]
    assert {k: tuple(v) for k, v in got.items()} == PINNED


def test_b7_counterexample_leaves_the_flag_in_the_store_buffer() -> None:
    r = CliRunner().invoke(main, ["verify", EXAMPLE, "-v", "b7_missing_mb", "-m", "tso",
                                  "--property", "no_lost_wakeup", "--show-trace", "-j", "1"])
    assert r.exit_code == 0, r.output
    assert "set_flag: store sq_flags := 1" in r.output
    assert "SQ:[sq_flags=1]" in r.output
    assert "recheck: t := load sq_tail" in r.output  # reads 0: the tail is still buffered
    assert "App:[sq_tail=1] SQ:[sq_flags=1]" in r.output  # both stores still buffered


def test_listing_names_every_variant_and_property() -> None:
    r = CliRunner().invoke(main, ["verify", EXAMPLE, "--list"])
    assert r.exit_code == 0, r.output
    for name in ("fixed", "b9_flag_after_check", "b7_missing_mb", "b7_on_x86",
                 "b8_liburing_no_mb", *PROPS):
        assert name in r.output
