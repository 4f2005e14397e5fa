"""Validate a trace file against a protocol variant and memory model: one report case.

This is what ``intervm conformance check-trace`` runs: read the optional header,
compile the spec with the trace's parameters (a recorded run needs room for every
request it made, so ``requests``/``reads``/``ticks`` default to the header's or to
a large bound), feed every event to the :class:`~intervm.conformance.refine.Validator`
and turn the answer into a :class:`~intervm.conformance.report.Case`.

>>> from intervm.conformance.record import record_coalescing
>>> lines = record_coalescing(requests=2, capacity=2, seed=0)
>>> res = check_lines(lines, "coalescing", "correct", "tso")
>>> res.divergence is None, res.case.outcome.value, res.events == len(lines) - 1
(True, 'pass', True)
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from intervm.conformance.binding import binding_for
from intervm.conformance.events import read_events, read_header
from intervm.conformance.refine import Divergence, Validator
from intervm.conformance.report import Case, Outcome
from intervm.model import memory as memory_models
from intervm.model.budget import BudgetExceeded, MemoryBudget
from intervm.model.compile import compile_spec
from intervm.model.system import System
from intervm.spec.errors import ParamError, TraceError

BIG = 1 << 40  # "as many as the trace needs" for counters the trace does not bound


@dataclass(frozen=True, slots=True)
class Result:
    case: Case
    divergence: Divergence | None
    events: int
    seconds: float


def system_for(protocol: str, variant: str, memory_model: str,
               params: Mapping[str, int], buffer: int = 2,
               memory: MemoryBudget | None = None) -> System:
    """The compiled spec a trace of ``protocol`` is checked against.

    Coalescing: ``capacity`` must be the ring's; ``requests`` defaults to a large bound.
    Timer: the variant's knobs with 64-bit counts split into 32-bit words, an
    unbounded version, and ``start`` (the first published tick, default 1).
    ``buffer``: store-buffer entries per process (TSO, PSO). ``memory``: refuse an
    instance whose initial state does not fit it.
    """
    from intervm.spec.protocols import get_protocol

    binding_for(protocol)  # a clear error for protocols without a binding
    proto = get_protocol(protocol)
    p = dict(params)
    if protocol == "coalescing":
        p.setdefault("requests", BIG)
        spec = proto.spec(variant)
    else:
        from intervm.spec.timer import build

        knobs = proto.variant(variant).knobs
        if knobs.layout != "split" or knobs.writers != 1:
            raise ParamError(
                f"timer variant {variant!r} has layout {knobs.layout!r} and "
                f"{knobs.writers} writer(s); the implementation binding covers the "
                "one-writer two-word (split) variants, e.g. seqlock")
        start = p.pop("start", 1)
        spec = build(replace(knobs, counter_bits=64, lo_bits=32, seq_bits=None,
                             start=start, preinit=False))
        for name in ("ticks", "reads"):
            p.setdefault(name, BIG)
        p.setdefault("lag", 1)  # the clock runs at most one tick ahead (bounded closure)
    memory_models.get(memory_model).concrete(None)  # one conformance cannot offer says so
    return compile_spec(spec, p, memory_model, buffer=buffer, budget=memory)


def check_lines(source: str | Path | Iterable[str], protocol: str | None, variant: str,
                memory_model: str, params: Mapping[str, int] | None = None,
                name: str = "trace", memory: MemoryBudget | None = None) -> Result:
    """Validate a trace (path or lines). Raises :class:`TraceError` for a malformed
    trace or a binding mismatch (one line: file, line, what is wrong). A validation
    that would exceed the memory budget ``memory`` (default: half the available
    memory) stops with an ERROR case saying UNKNOWN and why, never a pass."""
    lines: Iterable[str]
    if isinstance(source, (str, Path)):
        path = Path(source)
        name = str(path)
        try:
            with open(path, encoding="utf-8") as f:
                header = read_header(f)
        except OSError as exc:
            raise TraceError(f"{path}: cannot read the trace ({exc.strerror}); check the "
                             "path") from None
        except UnicodeDecodeError:
            raise TraceError(f"{path}: not UTF-8 text; a trace is JSON lines") from None
        lines = path  # type: ignore[assignment]
    else:
        lines = list(source)
        header = read_header(lines)
    proto = protocol or header.get("protocol")
    if not isinstance(proto, str):
        raise TraceError(f"{name}: no protocol given; pass --protocol or add a header line")
    hp = header.get("params", {})
    if not isinstance(hp, dict) or not all(isinstance(v, int) for v in hp.values()):
        raise TraceError(f"{name}:1: header 'params' must map names to integers")
    merged = {**hp, **(params or {})}
    budget = memory or MemoryBudget.default()
    system = system_for(proto, variant, memory_model, merged, memory=budget)
    case_name = f"{Path(name).name}/{proto}:{variant}@{memory_model}"
    t0 = time.perf_counter()
    div: Divergence | None = None
    n = 0
    src = source if isinstance(source, (str, Path)) else lines
    try:
        validator = Validator(system, binding_for(proto), merge_dead=True, memory=budget)
        for event in read_events(src):
            n += 1
            try:
                div = validator.feed(event)
            except TraceError as exc:
                raise TraceError(f"{name}:{str(exc).removeprefix('line ')}") from None
            if div is not None:
                break
        else:
            div = validator.finish()
    except BudgetExceeded as exc:
        secs = time.perf_counter() - t0
        at = f" at event {n}" if n else ""
        return Result(Case(case_name, Outcome.ERROR, secs, f"UNKNOWN{at} ({exc})"),
                      None, n, secs)
    secs = time.perf_counter() - t0
    if div is None:
        case = Case(case_name, Outcome.PASS, secs,
                    f"{n} events: every event is a step of some spec run")
    else:
        case = Case(case_name, Outcome.FAIL, secs, div.headline)
    return Result(case, div, n, secs)
