"""Verdicts: what an engine concluded about one property, and how sure it is.

>>> v = Verdict(Status.VIOLATED, "no_lost_wakeup", "bmc", 0.01, depth=8)
>>> v.text
'VIOLATED (8 steps)'
>>> v.agrees_with("violated")
True
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
    def text(self) -> str:
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
