"""Verdicts: what an engine concluded about one property, and how sure it is.

>>> v = Verdict(Status.VIOLATED, "no_lost_wakeup", "bmc", 0.01, depth=8)
>>> v.text
'VIOLATED (8 steps)'
>>> v.agrees_with("violated")
True

Under TSO/PSO the checker records the store-buffer depth; a verdict that claims an
absence (HOLDS, PROVED, UNREACHABLE) names it, since a deeper buffer may add runs:

>>> Verdict(Status.HOLDS, "p", "explicit", 0.0, buffer=2, buffer_bound="sufficient").text
'HOLDS (buffer ≤ 2, sufficient)'
>>> Verdict(Status.HOLDS, "p", "explicit", 0.0, buffer=3, buffer_bound="unbounded").text
'HOLDS (buffer unbounded, ≤ 3 stores per VM)'
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from intervm.model.trace import Trace


class Status(enum.Enum):
    PROVED = "PROVED"  # for every parameter value (unbounded), or a reachability witness
    HOLDS = "HOLDS"  # exhaustively, for one finite instance
    BOUNDED = "HOLDS TO DEPTH"  # no violation up to a depth
    VIOLATED = "VIOLATED"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True)
class Verdict:
    status: Status
    prop: str
    engine: str
    seconds: float
    depth: int | None = None
    states: int | None = None
    scope: str = ""
    reason: str = ""
    invariant: str | None = None
    trace: Trace | None = None
    # TSO/PSO: store-buffer entries per VM the verdict was decided with (None: SC)
    buffer: int | None = None
    # how far that depth is from unbounded: "" (as requested), "sufficient" (one
    # more entry changed nothing the property reads), "largest checked" (it still
    # changed at the largest depth tried) or "unbounded" (no VM issues more stores than that)
    buffer_bound: str = ""
    # what the bound counts, from the memory model: "buffer" (store-buffer entries
    # per VM) or "history" (arm: the writes every VM can still read an old value past)
    bound_name: str = "buffer"

    @property
    def outcome(self) -> str | None:
        """'holds', 'violated', or None when the engine could not tell."""
        match self.status:
            case Status.PROVED | Status.HOLDS | Status.BOUNDED:
                return "holds"
            case Status.VIOLATED:
                return "violated"
            case Status.UNKNOWN:
                return None

    def agrees_with(self, expected: str) -> bool:
        """True when this verdict says what ``expected`` ('holds'/'violated') says.
        UNKNOWN never agrees: it is never reported as a pass."""
        return self.outcome == expected

    @property
    def depends_on_buffer(self) -> bool:
        """True when the verdict claims that something never happens, which a deeper
        store buffer could overturn (a violation or a witness stays one)."""
        match self.status:
            case Status.HOLDS | Status.BOUNDED:
                return True
            case Status.PROVED:
                return not self.scope.startswith("reach")
            case Status.VIOLATED:
                return self.reason == "unreachable"
            case Status.UNKNOWN:
                return False

    @property
    def buffer_text(self) -> str:
        """``buffer ≤ 2``, ``buffer ≤ 2, sufficient``, … or '' (SC, or not recorded)."""
        b = self.buffer
        if b is None:
            return ""
        match self.buffer_bound:
            case "unbounded":
                unit = (f"{'store' if b == 1 else 'stores'} per VM" if self.bound_name
                        == "buffer" else f"{'write' if b == 1 else 'writes'} in all")
                return f"{self.bound_name} unbounded, ≤ {b} {unit}"
            case "sufficient":
                return f"{self.bound_name} ≤ {b}, sufficient"
            case "largest checked":
                return f"{self.bound_name} ≤ {b} (largest checked)"
            case _:
                return f"{self.bound_name} ≤ {b}"

    @property
    def text(self) -> str:
        base = self._base_text
        bound = self.buffer_text if self.depends_on_buffer else ""
        if not bound:
            return base
        if base.endswith(")"):
            return f"{base[:-1]}; {bound})"
        return f"{base} ({bound})"

    @property
    def _base_text(self) -> str:
        match self.status:
            case Status.PROVED:
                return f"PROVED ({self.scope or 'unbounded'})"
            case Status.HOLDS:
                return f"HOLDS ({self.scope})" if self.scope else "HOLDS"
            case Status.BOUNDED:
                return f"HOLDS TO DEPTH {self.depth}"
            case Status.VIOLATED:
                if self.depth is None:
                    return "VIOLATED"
                unit = "step" if self.depth == 1 else "steps"
                return f"VIOLATED ({self.depth} {unit})"
            case Status.UNKNOWN:
                return f"UNKNOWN ({self.reason})"
