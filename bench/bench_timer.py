"""Benchmark the engines on the shared-timer protocol; writes bench/results/timer.md.

Run from the repository root:  python bench/bench_timer.py  [--quick]

For every timer variant and memory model, at the variant's finite parameters (the
instance ``intervm verify --protocol timer`` checks), all measured in one run:

1. The whole matrix row (every property): the explicit engine (BFS of every state,
   then each property) against SPIN (a BFS safety build and a liveness build, then
   one ``pan`` search per property), with SPIN / explicit.
2. P1 ``no_torn_read`` alone: Z3 BMC on the property's slice (bit-vector encoding)
   to the explicit engine's counterexample length, or to ``--bmc-depth`` where P1
   holds; Spacer's unbounded proof (every ticks, lag and reads) where P1 holds;
   SPIN's BFS on the same property; each with its ratio to the explicit engine.

Every call is capped (``--z3-timeout``, ``--spin-timeout``); a capped run is
reported as "timeout", never waited for and never counted as a pass.

>>> ratio(2.0, 0.5), ratio(None, 1.0), ratio(1.0, 0.0)
('4.0×', '–', '–')
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from intervm.model.bmc import bmc_many
from intervm.model.chc import spacer
from intervm.model.compile import compile_spec
from intervm.model.explicit import check, explore
from intervm.model.slicing import compile_sliced
from intervm.model.spin import compile_pan, search, spin_available
from intervm.model.system import CEventually, System
from intervm.model.verdict import Status, Verdict
from intervm.spec.errors import EngineError
from intervm.spec.timer_variants import TIMER

RESULTS = Path(__file__).resolve().parent / "results" / "timer.md"
P1 = "no_torn_read"


def seconds_text(s: float | None) -> str:
    """A duration with sensible precision ('–' when there is none)."""
    if s is None:
        return "–"
    return f"{s:.3f} s" if s < 1 else f"{s:.1f} s"


def ratio(a: float | None, b: float | None) -> str:
    """``a / b`` as '2.0×' ('–' when either is missing or b is zero)."""
    if a is None or b is None or b <= 0:
        return "–"
    return f"{a / b:.1f}×"


def status_text(v: Verdict | None) -> str:
    if v is None:
        return "–"
    match v.status:
        case Status.UNKNOWN:
            return "timeout" if "timeout" in v.reason else f"unknown: {v.reason[:60]}"
        case Status.VIOLATED:
            return f"violated ({v.depth} steps)"
        case Status.BOUNDED:
            return f"none within {v.depth}"
        case _:
            return str(v.status.value).lower()


@dataclass(frozen=True, slots=True)
class Row:
    variant: str
    mm: str
    states: int
    explicit_all: float  # explore + every property
    explicit_p1: float  # explore + P1
    p1: Verdict  # the explicit verdict on P1
    spin_all: float | None  # builds + every search (None: spin absent or failed)
    spin_agree: str  # "16/16" properties with the explicit verdict
    spin_p1: Verdict | None
    spin_p1_seconds: float | None  # safety build + the P1 search
    bmc: Verdict
    spacer: Verdict | None  # only where P1 holds


def _timed_explicit(system: System, props: list[str], variant: str) -> tuple[float, int,
                                                                           dict[str, Verdict]]:
    t0 = time.perf_counter()
    g = explore(system, variant=variant)
    out = {p: check(g, p) for p in props}
    return time.perf_counter() - t0, len(g), out


def _spin(system: System, variant: str, expl: dict[str, Verdict], timeout: float,
          root: Path) -> tuple[float | None, str, Verdict | None, float | None]:
    if not spin_available():
        return None, "spin absent", None, None
    try:
        safety = compile_pan(system, root / "safety", liveness=False, variant=variant,
                             timeout=timeout)
        live = compile_pan(system, root / "liveness", liveness=True, variant=variant,
                           timeout=timeout)
    except EngineError as e:
        return None, f"build failed: {e}", None, None
    total = safety.build_seconds + live.build_seconds
    agree = 0
    p1: Verdict | None = None
    p1_seconds: float | None = None
    for p in system.properties:
        b = live if isinstance(p, CEventually) else safety
        run = search(b, p.name, timeout=timeout)
        total += run.search_seconds
        v = run.verdict
        agree += v.status is expl[p.name].status
        if p.name == P1:
            p1, p1_seconds = v, safety.build_seconds + run.search_seconds
    return total, f"{agree}/{len(system.properties)}", p1, p1_seconds


def measure(variant: str, mm: str, args: argparse.Namespace) -> Row:
    spec = TIMER.spec(variant)
    params = TIMER.params_for(variant, unbounded=False)
    system = compile_spec(spec, params, mm)
    props = [p.name for p in system.properties]
    t_all, states, expl = _timed_explicit(system, props, variant)
    t_p1, _, _ = _timed_explicit(system, [P1], variant)
    p1 = expl[P1]
    sliced = compile_sliced(spec, params, mm, P1)
    depth = p1.depth if p1.status is Status.VIOLATED and p1.depth is not None \
        else args.bmc_depth
    b = bmc_many(sliced, [P1], max_depth=depth, timeout=args.z3_timeout, variant=variant)[P1]
    proof = None
    if p1.status is Status.HOLDS:
        unbounded = compile_sliced(spec, TIMER.params_for(variant, unbounded=True), mm, P1)
        proof = spacer(unbounded, P1, timeout=args.z3_timeout, variant=variant)
    with tempfile.TemporaryDirectory(prefix="bench-timer-") as tmp:
        s_all, agree, s_p1, s_p1_t = _spin(system, variant, expl, args.spin_timeout,
                                           Path(tmp))
    return Row(variant, mm, states, t_all, t_p1, p1, s_all, agree, s_p1, s_p1_t, b, proof)


def _md_table(head: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    out = ["| " + " | ".join(head) + " |",
           "|" + "|".join("---:" if i in right else "---" for i in range(len(head))) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def render(rows: list[Row], args: argparse.Namespace, elapsed: float) -> str:
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Shared-timer protocol benchmark",
        "",
        f"Generated by `python bench/bench_timer.py{' --quick' if args.quick else ''}` on "
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{when} ({elapsed:.0f} s). Each variant at its finite parameters (the instance "
        f"`intervm verify --protocol timer` checks). Z3 calls capped at "
        f"{args.z3_timeout:.0f} s, SPIN builds and searches at {args.spin_timeout:.0f} s. "
        "One run each; times are wall clock on a shared machine.",
        "",
        "## Whole matrix row: explicit engine vs SPIN",
        "",
        "Explicit = BFS of every reachable state, then each of the 16 properties. SPIN = "
        "a safety build (`-DSAFETY -DBFS`) and a liveness build (`-a -f`), then one `pan` "
        "search per property. *agree* counts the properties where SPIN's verdict equals "
        "the explicit one.",
        "",
    ]
    lines += _md_table(
        ["variant", "model", "states", "explicit", "SPIN", "agree", "SPIN/explicit"],
        [[r.variant, r.mm, f"{r.states:,}", seconds_text(r.explicit_all),
          seconds_text(r.spin_all), r.spin_agree, ratio(r.spin_all, r.explicit_all)]
         for r in rows],
        {2, 3, 4, 6},
    )
    lines += [
        "",
        "## P1 (no torn read): every engine on one property",
        "",
        "Explicit = BFS + the check. BMC = Z3 on P1's slice (bit-vector encoding) up to the "
        f"shortest counterexample, or to depth {args.bmc_depth} where P1 holds (a bound, not "
        "a proof). Spacer = unbounded proof over every ticks, lag and reads, attempted where "
        "P1 holds. SPIN = safety build + BFS search for P1. Ratios are over the explicit "
        "time.",
        "",
    ]
    prow = []
    for r in rows:
        sp = r.spacer
        prow.append([
            r.variant, r.mm, status_text(r.p1), seconds_text(r.explicit_p1),
            f"{status_text(r.bmc)}, {seconds_text(r.bmc.seconds)}",
            "–" if r.bmc.status is Status.UNKNOWN else ratio(r.bmc.seconds, r.explicit_p1),
            "–" if sp is None else f"{status_text(sp)}, {seconds_text(sp.seconds)}",
            "–" if sp is None or sp.status is not Status.PROVED
            else ratio(sp.seconds, r.explicit_p1),
            f"{status_text(r.spin_p1)}, {seconds_text(r.spin_p1_seconds)}",
            ratio(r.spin_p1_seconds, r.explicit_p1),
        ])
    lines += _md_table(["variant", "model", "P1", "explicit", "BMC", "BMC/expl.", "Spacer",
                        "Spacer/expl.", "SPIN", "SPIN/expl."], prow, {3, 5, 7, 9})
    proved = [r for r in rows if r.spacer is not None and r.spacer.status is Status.PROVED]
    tried = [r for r in rows if r.spacer is not None]
    lines += [
        "",
        f"Spacer proved P1 for every parameter value in {len(proved)} of {len(tried)} "
        "attempts; the others are reported as measured (timeout or unknown), and those "
        "variants keep the finite-instance verdict in the matrix.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="SC only")
    ap.add_argument("--z3-timeout", type=float, default=30.0)
    ap.add_argument("--spin-timeout", type=float, default=60.0)
    ap.add_argument("--bmc-depth", type=int, default=12)
    ap.add_argument("--output", type=Path, default=RESULTS)
    args = ap.parse_args()
    t0 = time.perf_counter()
    rows = []
    for v in TIMER.variants:
        for mm in v.memory_models:
            if args.quick and mm != "sc":
                continue
            r = measure(v.name, mm, args)
            print(f"{v.name} {mm}: explicit {seconds_text(r.explicit_all)}, SPIN "
                  f"{seconds_text(r.spin_all)} ({r.spin_agree}), BMC {status_text(r.bmc)} "
                  f"{seconds_text(r.bmc.seconds)}, Spacer {status_text(r.spacer)}", flush=True)
            rows.append(r)
    text = render(rows, args, time.perf_counter() - t0)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
