"""Benchmark the verification engines; writes bench/results/verify.md.

Run from the repository root:  python bench/bench_verify.py  [--quick]

Three tables, all measured in one run:

1. Unbounded proofs of ``no_lost_wakeup`` with Z3/Spacer for every correct coalescing
   variant under sc and tso (the property's cone-of-influence slice, symbolic
   capacity and request count).
2. SPIN checking the Promela export of the ``correct`` variant exhaustively at ring
   capacities 2 … 20 (requests = capacity + 1): the full export (data-carrying slots,
   every ghost counter) and the export of the same slice Spacer proves. SPIN's time
   is split into build (spin -a + gcc) and pan search, with states, memory and the
   ratio SPIN / Z3 for the same memory model.
3. Counterexample time for each buggy variant with Z3 BMC (depth ≤ 20), the explicit
   engine and SPIN's BFS, at the variant's finite parameters.

Each SPIN run is capped (``--spin-timeout``) and each Spacer call too
(``--z3-timeout``); a capped run is reported as "timeout", never waited for.

>>> seconds_text(0.01234), seconds_text(12.3456), seconds_text(None)
('0.012 s', '12.3 s', '–')
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from intervm.model.bmc import bmc
from intervm.model.chc import spacer
from intervm.model.compile import compile_spec
from intervm.model.explicit import check, explore
from intervm.model.slicing import compile_sliced
from intervm.model.spin import SpinRun, spin_available, spin_run
from intervm.model.system import System
from intervm.model.verdict import Status, Verdict
from intervm.spec.errors import IntervmError
from intervm.spec.protocols import get_protocol

RESULTS = Path(__file__).resolve().parent / "results" / "verify.md"
PROP = "no_lost_wakeup"
CORRECT = ("correct", "event_index", "two_producers", "producer_clears", "always_notify",
           "no_publish_fence")
MODELS = ("sc", "tso")
CAPACITIES = (2, 4, 8, 12, 16, 20)
PROTO = get_protocol("coalescing")


def seconds_text(s: float | None) -> str:
    """A duration with sensible precision ('–' when there is none)."""
    if s is None:
        return "–"
    return f"{s:.3f} s" if s < 1 else f"{s:.1f} s"


def _status(v: Verdict) -> str:
    match v.status:
        case Status.UNKNOWN:
            return "timeout" if "timeout" in v.reason else f"unknown: {v.reason}"
        case Status.VIOLATED if v.depth is not None:
            return f"violated ({v.depth} steps)"
        case Status.BOUNDED:
            return f"holds to depth {v.depth}"
        case _:
            return str(v.status.value).lower()


@dataclass(frozen=True, slots=True)
class ProofRow:
    variant: str
    mm: str
    verdict: Verdict
    seconds: float
    scope: str


@dataclass(frozen=True, slots=True)
class SpinRow:
    mm: str
    capacity: int
    model: str  # "full export" | "sliced export"
    run: SpinRun | None  # None: not run (a smaller capacity already failed)


@dataclass(frozen=True, slots=True)
class BugRow:
    variant: str
    mm: str
    bmc: Verdict
    explicit: Verdict
    explicit_states: int
    spin: SpinRun | None


def _timed(f: Callable[[], Verdict]) -> tuple[Verdict, float]:
    t0 = time.perf_counter()
    v = f()
    return v, time.perf_counter() - t0


def prove(variant: str, mm: str, timeout: float) -> ProofRow:
    """Spacer on the slice; falls back to finite params if symbolic ones do not compile."""
    spec = PROTO.spec(variant)
    try:
        sys = compile_sliced(spec, PROTO.params_for(variant, unbounded=True), mm, PROP)
        scope = "∀ capacity, requests"
    except IntervmError as e:
        finite = PROTO.params_for(variant, unbounded=False)
        sys = compile_sliced(spec, finite, mm, PROP)
        scope = f"finite params only ({e.__class__.__name__}): {sys.param_text}"
    v, s = _timed(lambda: spacer(sys, PROP, timeout=timeout, variant=variant))
    return ProofRow(variant, mm, v, s, scope)


def _spin_system(mm: str, cap: int, sliced: bool) -> System:
    params: dict[str, int | None] = {"capacity": cap, "requests": cap + 1}
    spec = PROTO.spec("correct")
    if sliced:
        return compile_sliced(spec, params, mm, PROP)
    return compile_spec(spec, params, mm)


def spin_scaling(capacities: tuple[int, ...], timeout: float,
                 memory_mb: int) -> list[SpinRow]:
    rows: list[SpinRow] = []
    for sliced in (False, True):
        label = "sliced export" if sliced else "full export"
        for mm in MODELS:
            failed = False
            for cap in capacities:
                if failed:
                    rows.append(SpinRow(mm, cap, label, None))
                    continue
                run = spin_run(_spin_system(mm, cap, sliced), PROP, timeout,
                               variant="correct", memory_mb=memory_mb)
                rows.append(SpinRow(mm, cap, label, run))
                failed = run.verdict.status is Status.UNKNOWN
    return rows


def buggy_rows(spin_timeout: float) -> list[BugRow]:
    rows: list[BugRow] = []
    for v in PROTO.variants:
        for mm in MODELS:
            if v.expected(PROP, mm) != "violated":
                continue
            sys = compile_spec(PROTO.spec(v.name), PROTO.params_for(v.name, unbounded=False),
                               mm)
            b = bmc(sys, PROP, max_depth=20, timeout=60, variant=v.name)
            t0 = time.perf_counter()
            g = explore(sys, variant=v.name)
            e = check(g, PROP)
            e = Verdict(e.status, e.prop, e.engine, time.perf_counter() - t0, e.depth,
                        e.states, e.scope, e.reason, e.invariant, e.trace)
            s = spin_run(sys, PROP, spin_timeout, variant=v.name) if spin_available() else None
            rows.append(BugRow(v.name, mm, b, e, len(g), s))
    return rows


def _md_table(head: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    out = ["| " + " | ".join(head) + " |",
           "|" + "|".join("---:" if i in right else "---" for i in range(len(head))) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def render(proofs: list[ProofRow], spins: list[SpinRow], bugs: list[BugRow],
           args: argparse.Namespace, elapsed: float) -> str:
    z3_time = {(p.variant, p.mm): p.verdict.seconds for p in proofs
               if p.verdict.status is Status.PROVED}
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Verification engines benchmark",
        "",
        f"Generated by `python bench/bench_verify.py{' --quick' if args.quick else ''}` on "
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{when} ({elapsed:.0f} s). Property: `{PROP}`. Spacer calls capped at "
        f"{args.z3_timeout:.0f} s, SPIN runs at {args.spin_timeout:.0f} s and "
        f"{args.memory_mb} MB (pan -DMEMLIM). One run each; times are wall clock.",
        "",
        "## Unbounded proofs (Z3/Spacer on the property's slice)",
        "",
    ]
    lines += _md_table(
        ["variant", "model", "verdict", "Spacer", "wall (compile + prove)", "scope"],
        [[p.variant, p.mm, _status(p.verdict), seconds_text(p.verdict.seconds),
          seconds_text(p.seconds), p.scope] for p in proofs],
        {3, 4},
    )
    lines += [
        "",
        "## SPIN on the `correct` variant, requests = capacity + 1",
        "",
        "*full export*: every variable of the compiled system (data-carrying slots, ghost "
        "counters). *sliced export*: the cone of influence of the property, the same system "
        "Spacer proves for every capacity. Build = `spin -a` + `gcc -O2 -DSAFETY -DBFS`; "
        "search = `./pan`. SPIN/Z3 = SPIN's total time over Spacer's proof time for "
        "`correct` under the same model (one proof covers every capacity).",
        "",
    ]
    rows = []
    for r in spins:
        if r.run is None:
            rows.append([r.model, r.mm, str(r.capacity), "not run (smaller capacity failed)",
                         "–", "–", "–", "–", "–"])
            continue
        v = r.run.verdict
        total = r.run.build_seconds + r.run.search_seconds
        z = z3_time.get(("correct", r.mm))
        ratio = f"{total / z:.1f}×" if z and v.status is not Status.UNKNOWN else "–"
        rows.append([
            r.model, r.mm, str(r.capacity), _status(v),
            f"{v.states:,}" if v.states is not None else "–",
            seconds_text(r.run.build_seconds), seconds_text(r.run.search_seconds),
            f"{r.run.memory_mb:,.0f} MB" if r.run.memory_mb is not None else "–", ratio,
        ])
    lines += _md_table(["export", "model", "capacity", "verdict", "states", "build",
                        "search", "memory", "SPIN/Z3"], rows, {2, 4, 5, 6, 7, 8})
    lines += [
        "",
        "## Counterexamples for the buggy variants (finite params)",
        "",
        "BMC = Z3 bounded model checking to depth 20 (incremental); explicit = BFS of every "
        "reachable state, then the shortest path; SPIN = build + BFS pan + trail replay.",
        "",
    ]
    brows = []
    for b in bugs:
        spin_cell = "–"
        if b.spin is not None:
            sv = b.spin.verdict
            spin_cell = f"{_status(sv)}, {seconds_text(sv.seconds)} " \
                        f"(search {seconds_text(b.spin.search_seconds)})"
        brows.append([
            b.variant, b.mm,
            ", ".join(f"{k}={v}" for k, v in PROTO.params_for(b.variant, unbounded=False).items()),
            f"{_status(b.bmc)}, {seconds_text(b.bmc.seconds)}",
            f"{_status(b.explicit)}, {seconds_text(b.explicit.seconds)} "
            f"({b.explicit_states:,} states)",
            spin_cell,
        ])
    lines += _md_table(["variant", "model", "params", "BMC", "explicit", "SPIN"], brows, set())
    lines += [
        "",
        "Rows where BMC reports *holds to depth 20* need a longer counterexample than the "
        "bound (the explicit engine and SPIN give its length); they are not passes.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="capacities 2 and 4 only")
    ap.add_argument("--z3-timeout", type=float, default=45.0)
    ap.add_argument("--spin-timeout", type=float, default=60.0)
    ap.add_argument("--memory-mb", type=int, default=8192)
    ap.add_argument("--output", type=Path, default=RESULTS)
    args = ap.parse_args()
    t0 = time.perf_counter()
    proofs = [prove(v, mm, args.z3_timeout) for v in CORRECT for mm in MODELS]
    for p in proofs:
        print(f"spacer {p.variant} {p.mm}: {_status(p.verdict)} {seconds_text(p.seconds)}",
              flush=True)
    caps = (2, 4) if args.quick else CAPACITIES
    spins = spin_scaling(caps, args.spin_timeout, args.memory_mb) if spin_available() else []
    bugs = buggy_rows(args.spin_timeout)
    text = render(proofs, spins, bugs, args, time.perf_counter() - t0)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
