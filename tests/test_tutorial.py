"""docs/tutorial.md quotes real output: every quoted command is re-run and compared."""

from __future__ import annotations

import difflib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_tutorial", DOCS / "build_tutorial.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["build_tutorial"] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


BUILD = _builder()
BLOCKS = BUILD.blocks((DOCS / "tutorial.md").read_text())


def test_the_tutorial_quotes_every_step_of_the_lesson() -> None:
    cmds = [b.args.split()[0:3] for b in BLOCKS]
    assert cmds == [["explain", "coalescing", "no_recheck"], ["play", "coalescing", "no_recheck"],
                    ["explain", "coalescing", "no_recheck"],
                    ["explain", "coalescing", "no_producer_fence"],
                    ["play", "coalescing", "no_producer_fence"],
                    ["explain", "timer", "two_words_lo_first"]]


@pytest.mark.parametrize("block", BLOCKS, ids=[b.args for b in BLOCKS])
def test_quoted_output_is_current(block: object) -> None:
    actual = BUILD.run(block)
    quoted = block.quoted  # type: ignore[attr-defined]
    if actual != quoted:
        diff = "".join(difflib.unified_diff(quoted.splitlines(True), actual.splitlines(True),
                                            "tutorial.md", "actual"))
        pytest.fail(f"docs/tutorial.md quotes stale output for `intervm {block.args}`; "  # type: ignore[attr-defined]
                    f"regenerate with: python docs/build_tutorial.py\n{diff}")
