"""Memory budgets: how much a search may add to the process, and the meter that checks it.

A :class:`MemoryBudget` is a value passed down to every engine (no global state). Its
default is half the memory the kernel reports available (``MemAvailable`` in
``/proc/meminfo``) when the command starts; ``--max-memory`` sets it. The budget
counts what a search *adds* to the process (states, graphs, solver memory), not the
interpreter and libraries already loaded. Searches sample the resident set size
(``/proc/self/statm``) every few states, more often when states are large, and stop
with UNKNOWN (never a pass) once the growth exceeds the budget.

>>> b = MemoryBudget.parse("512M")
>>> b.limit, b.text, b.megabytes
(536870912, '512 MB', 512)
>>> MemoryBudget.parse("1.5g").text
'1.5 GB'
>>> MemoryBudget.parse("4X")
Traceback (most recent call last):
...
intervm.spec.errors.ParamError: '4X' is not a memory size; write a number with K, M, G or T (powers of 1024), e.g. 4G or 512M
>>> state_bytes(1_000_000) > 8_000_000
True
>>> meter = b.meter()
>>> meter.over()
False
"""

from __future__ import annotations

import os
import re
import resource
from dataclasses import dataclass, replace
from typing import Final

from intervm.model.system import System
from intervm.spec.errors import EngineError, ParamError

DEFAULT_FRACTION: Final = 0.5  # of MemAvailable
FALLBACK_AVAILABLE: Final = 4 << 30  # when the kernel does not say (no /proc)
MIN_BUDGET: Final = 1 << 20
MAX_FLAT_VARS: Final = 10_000_000  # state variables after array expansion, at most
SLOT_BYTES: Final = 8  # one tuple slot (a pointer; small ints are shared)
_UNITS: Final = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*", re.IGNORECASE)


class BudgetExceeded(EngineError):
    """A search stopped because it would exceed its memory budget (an UNKNOWN)."""


def size_text(n: int | float) -> str:
    """``n`` bytes for people: ``'512 MB'``, ``'1.5 GB'``, ``'240 B'``."""
    for unit, scale in (("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            v = n / scale
            return f"{v:.0f} {unit}" if v == int(v) or v >= 100 else f"{v:.1f} {unit}"
    return f"{int(n)} B"


def available_memory(meminfo: str = "/proc/meminfo") -> int:
    """What the kernel says is available now (``MemAvailable`` in ``meminfo``), in
    bytes."""
    try:
        with open(meminfo, encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return FALLBACK_AVAILABLE


def resident_bytes() -> int:
    """This process's resident set size now (peak size where ``/proc`` is missing)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def state_bytes(flat_vars: int, arrays: int = 0) -> int:
    """Estimated bytes of one state tuple with ``flat_vars`` variables after array
    expansion, ``arrays`` of them arrays (each its own tuple)."""
    return SLOT_BYTES * flat_vars + 56 * (arrays + 1)


def flat_size(system: System) -> int:
    """State variables of ``system`` after array expansion (symbolic arrays count 1)."""
    return sum(v.length if v.is_array and v.length is not None else 1 for v in system.vars)


@dataclass(frozen=True, slots=True)
class MemoryBudget:
    """At most ``limit`` bytes a search may add; ``option``: how it was set.
    ``force``: go on where a refusal before the search would rest only on an estimate
    (``--force``: the initial state estimated larger than the budget); the search
    itself still stops at ``limit``."""

    limit: int
    option: str = "--max-memory"
    force: bool = False

    def __post_init__(self) -> None:
        if self.limit < MIN_BUDGET:
            raise ParamError(f"memory budget {self.limit} B is below "
                             f"{size_text(MIN_BUDGET)}; give --max-memory 1M or more")

    @classmethod
    def parse(cls, text: str) -> MemoryBudget:
        """``'4G'``, ``'512M'``, ``'1.5G'``, ``'2048K'`` or bytes; K, M, G, T are powers
        of 1024. Raises :class:`ParamError` (one line) for anything else."""
        m = _SIZE.fullmatch(text)
        if m is None or len(m.group(1)) > 20:
            raise ParamError(f"{text!r} is not a memory size; write a number with "
                             "K, M, G or T (powers of 1024), e.g. 4G or 512M")
        n = int(float(m.group(1)) * _UNITS[m.group(2).upper()])
        if n < MIN_BUDGET:
            raise ParamError(f"{text!r} is below {size_text(MIN_BUDGET)}; a search "
                             "needs at least a megabyte (e.g. 512M)")
        return cls(n)

    @classmethod
    def default(cls, available: int | None = None) -> MemoryBudget:
        """Half the memory available now (``available``, default ``MemAvailable``), at
        least 1 MB."""
        free = available_memory() if available is None else available
        return cls(max(MIN_BUDGET, int(free * DEFAULT_FRACTION)))

    @property
    def text(self) -> str:
        return size_text(self.limit)

    @property
    def megabytes(self) -> int:
        """The limit in whole megabytes, 1 to 2**31 - 1 (for z3's ``max_memory`` and
        pan's ``-DMEMLIM``, both machine integers)."""
        return max(1, min(self.limit >> 20, 2**31 - 1))

    def share(self, ways: int) -> MemoryBudget:
        """The part of this budget one of ``ways`` worker processes may use."""
        return replace(self, limit=max(MIN_BUDGET, self.limit // max(1, ways)))

    def meter(self) -> Meter:
        """A meter measuring growth from now."""
        return Meter(self)

    def every(self, per_state: int) -> int:
        """How many new states a search may add between two samples of its size: about
        1/64 of the budget between samples, at most 4096 states."""
        return max(1, min(4096, self.limit // (64 * max(1, per_state))))


class Meter:
    """Resident-size growth since the meter was made, against one budget."""

    def __init__(self, budget: MemoryBudget):
        self.budget = budget
        self.base = resident_bytes()
        self.used = 0

    def over(self) -> bool:
        """Sample the resident size; True when the growth exceeds the budget."""
        self.used = max(self.used, resident_bytes() - self.base)
        return self.used > self.budget.limit


def exceeded(budget: MemoryBudget, used: int, states: int, system: System,
             what: str = "states") -> str:
    """The UNKNOWN reason for a search of ``system`` stopped by ``budget`` after
    ``states`` states: the sizes, and the parameter that makes states big (the length
    of an array) or, failing one, the instance's parameters."""
    each = used // max(1, states)
    head = (f"memory budget {budget.text} exceeded after {states:,} {what} "
            f"(about {size_text(each)} of new memory per state)")
    blame = array_blame(system)
    if blame is not None:
        return f"{head}; {blame} — lower --param {blame.split('=')[0]} or raise {budget.option}"
    given = ", ".join(f"{k}={v}" for k, v in system.params if v is not None)
    at = f" at {given}" if given else ""
    return f"{head}{at} — lower a --param or raise {budget.option}"


def array_blame(system: System) -> str | None:
    """``'capacity=N makes each state X (slots has N elements)'`` when arrays sized by
    one parameter hold at least half of a state's variables, else None."""
    total = flat_size(system)
    by: dict[str, list[str]] = {}
    elems: dict[str, int] = {}
    for v in system.vars:
        if v.is_array and v.length is not None and v.length_param is not None:
            by.setdefault(v.length_param, []).append(v.name)
            elems[v.length_param] = elems.get(v.length_param, 0) + v.length
    if not elems:
        return None
    param = max(elems, key=lambda k: elems[k])
    if 2 * elems[param] < total:
        return None
    value = dict(system.params).get(param)
    arrays = len(by[param])
    size = size_text(state_bytes(total, arrays))
    return (f"{param}={value} makes each state {size} "
            f"({', '.join(by[param])} {'has' if arrays == 1 else 'have'} {value} elements)")
