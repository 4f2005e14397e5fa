"""The cost of the arm model: states and explicit-engine time, PSO and ARM side by side
on the same instance (the buffer/history fixed at 2, so both search one graph).

Run: ``python bench/arm_cost.py`` (about two minutes on 2 cores); BENCHMARKS.md,
"Cost of the Arm model", quotes its output. The arm cells are not declared verdicts of
the built-in variants (arm is opt-in); this measures size, not correctness.
"""

from __future__ import annotations

import os
import time

from intervm.model.check import Checker, CheckOptions
from intervm.spec.protocols import get_protocol

CASES = (("coalescing", "correct", "no_lost_wakeup"),
         ("coalescing", "correct", "fifo"),
         ("timer", "seqlock", "no_torn_read"))


def main() -> None:
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    print(f"{'case':44} {'PSO states':>11} {'PSO s':>7} {'ARM states':>11} {'ARM s':>7} "
          f"{'states x':>8} {'time x':>7}")
    for proto, variant, prop in CASES:
        row = []
        for mm in ("pso", "arm"):
            checker = Checker(get_protocol(proto), CheckOptions(
                engine="explicit", grow_buffer=False, unbounded=False))
            t0 = time.perf_counter()
            v = checker.check(variant, mm, prop).verdict
            row.append((v.states if v is not None else None, time.perf_counter() - t0,
                        v.status.name if v is not None else "none"))
        (s1, t1, v1), (s2, t2, v2) = row
        ratio = f"{s2 / s1:.1f}" if s1 and s2 else "-"
        print(f"{proto + '/' + variant + ' ' + prop:44} {s1:>11,} {t1:>7.1f} {s2:>11,} "
              f"{t2:>7.1f} {ratio:>8} {t2 / t1:>7.1f}   ({v1}, {v2})")


if __name__ == "__main__":
    main()
