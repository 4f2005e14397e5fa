"""The one wrapper around Z3 solver calls: sat, unsat, or an exception with the reason.

>>> import z3
>>> s = z3.Solver()
>>> x = z3.Int("x")
>>> s.add(x > 2)
>>> check(s, [x < 2], timeout=1.0)
'unsat'

``unknown`` never comes back as a value: it raises :class:`SolverUnknown` carrying
Z3's ``reason_unknown()``, so no caller can mistake it for a pass.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import z3

from intervm.model.budget import MemoryBudget
from intervm.spec.errors import EngineError


class SolverUnknown(EngineError):
    """Z3 answered unknown (timeout, resource limit, incompleteness)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def check(solver: Any, assumptions: Sequence[Any] = (), timeout: float | None = None,
          memory: MemoryBudget | None = None) -> str:
    """``'sat'`` or ``'unsat'``; raises :class:`SolverUnknown` otherwise. ``memory``:
    z3's ``max_memory`` (MB); past it z3 answers unknown."""
    if timeout is not None:
        if timeout <= 0:
            raise SolverUnknown("time budget exhausted")
        solver.set("timeout", max(1, int(timeout * 1000)))
    if memory is not None:
        solver.set("max_memory", memory.megabytes)
    try:
        r = solver.check(*assumptions)
    except z3.Z3Exception as e:  # z3 reports running out of memory as an exception
        if "memory" not in str(e).lower():
            raise
        r = z3.unknown
        reason = "max. memory exceeded"
    else:
        if r == z3.sat:
            return "sat"
        if r == z3.unsat:
            return "unsat"
        reason = solver.reason_unknown()
    if reason in ("timeout", "canceled"):
        reason = f"timeout after {timeout:.1f} s" if timeout is not None else "timeout"
    elif "memory" in reason and memory is not None:
        reason = (f"memory budget {memory.text} exceeded in z3 ({reason}); lower the "
                  f"--param values or raise {memory.option}")
    raise SolverUnknown(reason)


class Budget:
    """A wall-clock budget shared by the calls of one engine run, and the memory
    budget each call gets (default: :meth:`MemoryBudget.default`)."""

    def __init__(self, seconds: float, memory: MemoryBudget | None = None):
        self.deadline = time.perf_counter() + seconds
        self.start = time.perf_counter()
        self.memory = memory or MemoryBudget.default()

    def left(self) -> float:
        return self.deadline - time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start
