"""The in-process search is a function of the target and the seed alone: not of the
modules the session imported, the machines that ran before, or the loaded Hypothesis
profile (issue 5, part 1)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
from hypothesis import settings

from intervm.conformance.broken import by_name
from intervm.conformance.inprocess import test as run_tester


def test_search_ignores_imports_other_machines_and_profiles(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    impl = by_name("timer/seqlock_no_odd_check")
    before = run_tester(impl, "sc", max_examples=300, refine=False, shrink=False)
    assert before.finding is not None
    # Hypothesis draws some integers from the literals of the local modules in
    # sys.modules; importing one with every small integer used to change this search
    # (14 steps with this file's imports, 33 with tests/test_conformance_live.py's)
    mod = "intervm_probe_literals"
    literals = [*range(-3, 300), *(2**k + d for k in range(8, 65) for d in (-1, 0, 1))]
    (tmp_path / f"{mod}.py").write_text(f"LITERALS = {tuple(literals)!r}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, mod, raising=False)
    importlib.import_module(mod)
    run_tester(by_name("coalescing/no_recheck"), "tso", max_examples=20, refine=False)
    previous = settings.get_current_profile_name()
    settings.register_profile("intervm-probe", max_examples=3, stateful_step_count=4,
                              derandomize=False)
    settings.load_profile("intervm-probe")
    try:
        after = run_tester(impl, "sc", max_examples=300, refine=False, shrink=False)
    finally:
        settings.load_profile(previous)
    assert after.finding is not None
    assert after.finding.schedule == before.finding.schedule
    assert (after.examples, len(after.finding.schedule)) == (before.examples, 26)
