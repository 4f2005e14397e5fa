"""Benchmark in-process conformance testing; writes bench/results/inprocess.md.

Run from the repository root:  python bench/bench_inprocess.py

Schedules (Hypothesis runs) explored per second on the reference implementations
under SC and TSO, with and without the per-access refinement check, and, per broken
implementation, the time to the first failing schedule, the total including
shrinking, and the shrunk length — by search alone (Hypothesis, then the minimizing
pass) and with the model checker's counterexample replayed on the code as one more
candidate (``spec_schedule``) — next to the explicit checker's shortest
counterexample. One run each (derandomized search: the schedules are the same every
time; the times vary with machine load).
"""

from __future__ import annotations

import platform
import time
from pathlib import Path

from intervm.conformance.broken import BROKEN
from intervm.conformance.implementation import (
    REFERENCE_COALESCING,
    REFERENCE_TIMER,
    Violation,
    oracle_for,
)
from intervm.conformance.inprocess import Target, minimize, test
from intervm.model.compile import compile_spec
from intervm.model.explicit import check, explore
from intervm.spec.protocols import get_protocol

OUT = Path(__file__).resolve().parent / "results" / "inprocess.md"
EXAMPLES = 300
BROKEN_EXAMPLES = 3000  # the --builtin catch budget


def main() -> int:
    lines = ["# In-process conformance (Hypothesis-scheduled Python implementations)", "",
             f"Machine: {platform.machine()}, Python {platform.python_version()}; one run "
             "per row, derandomized (same schedules each time), on a shared 2-core box.", "",
             "## Schedules explored per second (reference implementations, passing)", "",
             "| implementation | model | refinement | runs | steps | seconds | runs/s | "
             "steps/s |", "|---|---|---|---:|---:|---:|---:|---:|"]
    for impl in (REFERENCE_COALESCING, REFERENCE_TIMER):
        for mm in ("sc", "tso"):
            for refine in (True, False):
                r = test(impl, mm, max_examples=EXAMPLES, refine=refine)
                lines.append(f"| {impl.name} | {mm.upper()} | {'yes' if refine else 'no'} | "
                             f"{r.examples} | {r.steps} | {r.seconds:.2f} | "
                             f"{r.examples / r.seconds:.0f} | {r.steps / r.seconds:.0f} |")
                print(lines[-1], flush=True)
    lines += ["", f"## Detection per broken implementation (properties only, up to "
              f"{BROKEN_EXAMPLES} runs)", "",
              "| implementation | model | caught | first failure (s) | total with shrinking (s)"
              " | shrunk steps, search alone | shrunk steps, with the spec's counterexample | "
              "checker's shortest |", "|---|---|---|---:|---:|---:|---:|---:|"]
    for b in BROKEN:
        proto = get_protocol(b.protocol)
        v = proto.variant(b.variant)
        props = oracle_for(b).properties
        for mm in v.memory_models:
            viol = [p for p in props if mm in v.violated.get(p, frozenset())]
            if not viol:
                continue
            t0 = time.perf_counter()
            r = test(b, mm, max_examples=BROKEN_EXAMPLES, refine=False, guide=False)
            f = r.finding
            g = explore(compile_spec(proto.spec(b.variant), b.instance_params(), mm))
            mc = check(g, f.prop if f is not None and f.prop in viol else viol[0]).depth
            if f is None:
                lines.append(f"| {b.name} | {mm.upper()} | **no** ({r.examples} runs) | – | "
                             f"{time.perf_counter() - t0:.1f} | – | – | {mc} |")
            else:
                _, guided, _ = minimize(Target.of(b, mm, refine=False),
                                        Violation(f.prop, f.detail), f.schedule, f.trace)

                def mark(n: int, mc: int | None = mc) -> str:
                    return f"{n}" if n <= (mc or 0) else f"{n} (longer)"

                prop = f.prop if f.prop in viol else f"{f.prop} (not the declared {viol[0]})"
                lines.append(f"| {b.name} | {mm.upper()} | {prop} | "
                             f"{r.first_failure_s or 0:.2f} | {r.seconds:.1f} | "
                             f"{mark(len(f.schedule))} | {mark(len(guided))} | {mc} |")
            print(lines[-1], flush=True)
    OUT.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
