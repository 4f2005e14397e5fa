"""Store-buffering litmus on the real region: fenced never reorders; plain is recorded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from intervm.impl.litmus import run_sb


@pytest.mark.parametrize(("direct", "iterations"), [(False, 60_000), (True, 150_000)])
def test_sb_litmus_fences_forbid_reordering(
    tmp_path: Path, direct: bool, iterations: int, record_property: Callable[[str, object], None]
) -> None:
    plain = run_sb(tmp_path / "plain", iterations, fenced=False, direct=direct)
    fenced = run_sb(tmp_path / "fenced", iterations, fenced=True, direct=direct)
    path = "direct atomicshm" if direct else "Region interface"
    print(
        f"SB litmus via {path}, {iterations} iterations, pinned={plain.pinned}: "
        f"plain reordered {plain.reordered}, fenced reordered {fenced.reordered}"
    )
    record_property("plain_reordered", plain.reordered)
    assert fenced.reordered == 0
    assert 0 <= plain.reordered <= iterations  # may be 0 on some runs: recorded, not asserted
    assert (plain.iterations, fenced.iterations) == (iterations, iterations)
