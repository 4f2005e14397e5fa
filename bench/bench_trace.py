"""Time to validate a 10^6-event trace of the correct coalescing implementation.

    python bench/bench_trace.py [EVENTS]   # writes bench/results/trace.md

The trace is recorded from the unmodified reference producer and consumer
(``conformance/record.py``, seeded scheduler), then validated with
``intervm conformance check-trace`` (in-process) against ``correct`` under SC,
TSO and PSO. The recorded run is cut to exactly EVENTS events (a prefix of a run
is a run). Goal (issue 5): under 30 s for 10^6 events.
"""

from __future__ import annotations

import platform
import sys
import tempfile
import time
from pathlib import Path

from intervm.conformance.record import record_coalescing
from intervm.conformance.tracecheck import check_lines

HERE = Path(__file__).resolve().parent
GOAL_S = 30.0


def main() -> int:
    target = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    requests = target // 10 + 100  # about 10.5 events per request at capacity 8
    t0 = time.perf_counter()
    lines = record_coalescing(requests, 8, seed=2024, timeout=3600.0)
    rec_s = time.perf_counter() - t0
    if len(lines) - 1 < target:
        raise SystemExit(f"the recorded run has {len(lines) - 1} events, fewer than "
                         f"{target}; raise the requests estimate")
    lines = lines[:target + 1]  # the header and exactly `target` events
    events = len(lines) - 1
    rows = []
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "trace.jsonl"
        path.write_text("\n".join(lines) + "\n")
        del lines
        for mm in ("sc", "tso", "pso"):
            t1 = time.perf_counter()
            res = check_lines(path, None, "correct", mm)
            secs = time.perf_counter() - t1
            ok = res.divergence is None and res.events == events
            status = "met" if ok and secs < GOAL_S else "missed"
            rows.append(f"| {mm.upper()} | {res.events:,} | {res.case.outcome.value} | "
                        f"{secs:.1f} s | {res.events / secs:,.0f} | {status} |")
    out = [
        "## Offline trace validation (`python bench/bench_trace.py`)",
        "",
        f"The first {events:,} events of a run of the correct reference producer/consumer "
        f"(capacity 8, {requests:,} requests recorded in {rec_s:.0f} s by the seeded "
        "scheduler) validated against `coalescing:correct`, file parsing included. Goal: "
        f"10^6 events in under {GOAL_S:.0f} s.",
        "",
        "The validator runs generated Python for guards and updates, per-pc tables of the "
        "steps an event can match, and merges spec states that differ only in variables "
        "no check can observe (property ghosts, dead locals); "
        "`tests/test_trace_perf.py` checks all of it against a plain implementation.",
        "",
        "| memory model | events | verdict | time | events/s | goal |",
        "|---|---:|---|---:|---:|---|",
        *rows,
        "",
        f"Python {platform.python_version()}, {platform.machine()}, single process; the "
        "machine's 2 CPUs were shared with other jobs, so times are upper bounds.",
        "",
    ]
    (HERE / "results" / "trace.md").write_text("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
