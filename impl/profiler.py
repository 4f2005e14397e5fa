"""Latency profiling with the shared timer: submit, start and completion stamps.

The producer stamps submit into ``slot_stamp``; the consumer stamps start and
completion. All three come from the one shared tick, so differences between
VMs are meaningful (resolution: one tick).

>>> stamps = [Stamps(request_id=i, submit=10, start=10 + i, done=12 + i) for i in range(100)]
>>> rep = report(stamps, tick_ns=100_000)
>>> rep.queueing.p50_us, rep.service.p99_us, rep.count
(4900.0, 200.0, 100)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from intervm.impl.access import SharedAccess
from intervm.impl.errors import ProtocolViolation
from intervm.impl.timer import ReaderState, read_seqlock


@dataclass(frozen=True)
class Stamps:
    """Shared-timer ticks for one request."""

    request_id: int
    submit: int
    start: int
    done: int


@dataclass(frozen=True)
class Percentiles:
    """Latency percentiles in microseconds (nearest-rank)."""

    p50_us: float
    p90_us: float
    p99_us: float
    p999_us: float
    max_us: float


@dataclass(frozen=True)
class LatencyReport:
    """Queueing (submit→start), service (start→done) and total latency."""

    count: int
    tick_ns: int
    queueing: Percentiles
    service: Percentiles
    total: Percentiles


class Clock:
    """Reads the shared timer through the access object (one seqlock read per stamp)."""

    def __init__(self, acc: SharedAccess) -> None:
        self._acc = acc
        self._reader = ReaderState()

    def now(self) -> int:
        return read_seqlock(self._acc, self._reader)


def consumer_stamps(request_id: int, submit: int, start: int, done: int) -> Stamps:
    """Build a record, rejecting a submit stamp from the future (P5 non-negativity)."""
    if submit > start:
        raise ProtocolViolation(
            "slot_stamp",
            submit,
            f"submit tick is later than the consumer's start tick {start}; the producer "
            "must stamp before publishing",
        )
    return Stamps(request_id, submit, start, done)


def _nearest_rank(sorted_vals: Sequence[int], q: float) -> int:
    if not sorted_vals:
        return 0
    rank = max(1, math.ceil(q / 100.0 * len(sorted_vals) - 1e-9))
    return sorted_vals[min(rank, len(sorted_vals)) - 1]


def percentiles(ticks: Sequence[int], tick_ns: int) -> Percentiles:
    """Nearest-rank p50/p90/p99/p99.9/max of ``ticks``, converted to µs."""
    vals = sorted(ticks)
    us = tick_ns / 1000.0

    def pick(q: float) -> float:
        return _nearest_rank(vals, q) * us

    return Percentiles(pick(50), pick(90), pick(99), pick(99.9), (vals[-1] if vals else 0) * us)


def report(stamps: Sequence[Stamps], tick_ns: int) -> LatencyReport:
    """Summarise ``stamps`` (ticks of ``tick_ns``) into percentiles."""
    return LatencyReport(
        count=len(stamps),
        tick_ns=tick_ns,
        queueing=percentiles([s.start - s.submit for s in stamps], tick_ns),
        service=percentiles([s.done - s.start for s in stamps], tick_ns),
        total=percentiles([s.done - s.submit for s in stamps], tick_ns),
    )
