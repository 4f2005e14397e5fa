"""Time to validate a 10^6-event trace of the correct coalescing implementation.

    python bench/bench_trace.py [EVENTS] [--models sc,tso,pso] [--runs N]

The trace is recorded from the unmodified reference producer and consumer
(``conformance/record.py``, seeded scheduler), then validated with
``intervm conformance check-trace`` (in-process) against ``correct`` under each
memory model, ``--runs`` times (default 2: the machine is shared, so every run is
reported, with its CPU time and the load average before it). The recorded run is
cut to exactly EVENTS events (a prefix of a run is a run). Goal (issue 5): under
30 s for 10^6 events, met only if every run is. ``bench/results/trace.md`` is
written only for the full default set (10^6 events, all three models);
otherwise the table is printed.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from intervm.conformance.record import record_coalescing
from intervm.conformance.tracecheck import check_lines

HERE = Path(__file__).resolve().parent
GOAL_S = 30.0
EVENTS = 1_000_000
MODELS = ("sc", "tso", "pso")


def _args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("events", nargs="?", type=int, default=EVENTS,
                    help=f"events to validate (default {EVENTS:,})")
    ap.add_argument("--models", default=",".join(MODELS),
                    help="comma-separated memory models, e.g. pso (default: all)")
    ap.add_argument("--runs", type=int, default=2, help="validations per model (default 2)")
    a = ap.parse_args(argv)
    a.models = tuple(m.strip() for m in a.models.split(",") if m.strip())
    bad = [m for m in a.models if m not in MODELS]
    if bad or not a.models:
        ap.error(f"--models: {bad[0] if bad else 'nothing'} is not a memory model; "
                 f"choose from {', '.join(MODELS)}")
    if a.events < 1 or a.runs < 1:
        ap.error("EVENTS and --runs must be at least 1")
    return a


def main(argv: list[str]) -> int:
    a = _args(argv)
    target = a.events
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
    loads: list[str] = []
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "trace.jsonl"
        path.write_text("\n".join(lines) + "\n")
        del lines
        times: dict[str, list[tuple[float, float]]] = {m: [] for m in a.models}
        failed: dict[str, str] = {}
        for run in range(a.runs):
            loads.append(f"{os.getloadavg()[0]:.1f}")
            for mm in a.models:
                t1, c1 = time.perf_counter(), time.process_time()
                res = check_lines(path, None, "correct", mm)
                secs, cpu = time.perf_counter() - t1, time.process_time() - c1
                times[mm].append((secs, cpu))
                if (res.divergence is not None or res.events != events) and mm not in failed:
                    failed[mm] = f"{res.case.outcome.value} after {res.events:,} events"
                print(f"run {run + 1} {mm}: {res.case.outcome.value}, {secs:.1f} s "
                      f"(CPU {cpu:.1f} s)", file=sys.stderr)
        for mm in a.models:
            worst = max(s for s, _ in times[mm])
            if target != EVENTS:
                goal = "n/a (the goal is for 10^6 events)"
            else:
                goal = "met" if mm not in failed and worst < GOAL_S else "missed"
            runs = " | ".join(f"{s:.1f} s ({c:.1f} s)" for s, c in times[mm])
            rows.append(f"| {mm.upper()} | {events:,} | {failed.get(mm, 'pass')} | {runs} | "
                        f"{events / worst:,.0f} | {goal} |")
    heads = " | ".join(f"run {r + 1}: wall (CPU)" for r in range(a.runs))
    out = [
        "## Offline trace validation (`python bench/bench_trace.py`)",
        "",
        f"The first {events:,} events of a run of the correct reference producer/consumer "
        f"(capacity 8, {requests:,} requests recorded in {rec_s:.0f} s by the seeded "
        "scheduler) validated against `coalescing:correct`, file parsing included. Goal: "
        f"10^6 events in under {GOAL_S:.0f} s, met only if every run is.",
        "",
        "The validator runs generated Python for guards and updates, per-pc tables of the "
        "steps an event can match, and merges spec states that differ only in variables "
        "no check can observe (property ghosts, dead locals); a successor's merge key is "
        "computed before the successor itself, which is built only when the key is new. "
        "`tests/test_trace_perf.py` checks all of it against a plain implementation.",
        "",
        f"| memory model | events | verdict | {heads} | events/s (slowest run) | goal |",
        "|---|---:|---|" + "---:|" * a.runs + "---:|---|",
        *rows,
        "",
        f"Python {platform.python_version()}, {platform.machine()}, single process, on a "
        f"{os.cpu_count()}-CPU machine shared with other jobs (1-minute load average "
        f"before each run: {', '.join(loads)}); wall times are upper bounds, CPU times "
        "in parentheses.",
        "",
    ]
    if target == EVENTS and a.models == MODELS:
        (HERE / "results" / "trace.md").write_text("\n".join(out))
    else:
        print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
