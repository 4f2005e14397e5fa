"""One end-to-end run: timer, consumer and producer VMs pushing N requests.

>>> res = run(RunConfig(requests=200, window=32, capacity=32, tick_us=200))
>>> res.requests, res.latency is not None and res.latency.count
(200, 200)
>>> 0 < res.doorbells_per_request <= 1.0
True
"""

from __future__ import annotations

import base64
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from intervm.impl.coalescing import Variant
from intervm.impl.host import Host, HostConfig
from intervm.impl.profiler import LatencyReport, Stamps, report
from intervm.impl.region_file import Existing
from intervm.impl.vm import variant_to
from intervm.spec import layout as L


@dataclass(frozen=True)
class RunConfig:
    """What to run; ``profile`` adds the timer VM and latency stamps; ``region_existing``
    says whether an existing ``region`` path may be replaced."""

    requests: int = 10_000
    window: int = 256
    capacity: int = 256
    variant: Variant = field(default_factory=Variant)
    tick_us: int = 100
    profile: bool = True
    region: Path | None = None
    idle_polls: int = 200
    region_existing: Existing = Existing.REUSE

    def check(self) -> None:
        """Raise ``ValueError`` saying which setting is wrong and what is allowed."""
        L.check_geometry(self.capacity, L.SLOT_WORDS_SIZE)
        if self.requests < 1:
            raise ValueError(f"requests {self.requests} must be at least 1")
        if not 1 <= self.window <= self.capacity:
            raise ValueError(f"window {self.window} must be in 1..capacity ({self.capacity})")
        if not 10 <= self.tick_us <= 1_000_000:
            raise ValueError(f"timer tick {self.tick_us} µs must be in 10..1000000")


@dataclass(frozen=True)
class RunResult:
    """Counts and timings of one run."""

    requests: int
    elapsed_s: float
    irq_doorbells: int
    done_doorbells: int
    consumer_sleeps: int
    timeout_finds: int
    timer_publishes: int
    latency: LatencyReport | None
    stamps: tuple[Stamps, ...] = ()

    @property
    def throughput(self) -> float:
        """Requests per second (first submit to last commit seen by the producer)."""
        return self.requests / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def doorbells_per_request(self) -> float:
        """Request doorbells (``irq``) per request."""
        return self.irq_doorbells / self.requests


def decode_stamps(blob: str) -> list[Stamps]:
    """Decode the consumer's base64 u64 array of (id, submit, start, done) records."""
    raw = array("Q")
    raw.frombytes(base64.b64decode(blob))
    return [Stamps(*raw[i : i + 4]) for i in range(0, len(raw), 4)]


def run(
    cfg: RunConfig, on_progress: Callable[[int], None] | None = None, poll_s: float = 0.05
) -> RunResult:
    """Run the three VMs to completion; ``on_progress`` gets committed request counts.

    The host watches all three VMs at once: the first one that reports a protocol
    violation or dies stops the others, and its diagnosis is raised
    (:class:`intervm.impl.host.VmViolation` or :class:`intervm.impl.host.VmFailed`).
    """
    cfg.check()
    with Host(HostConfig(cfg.capacity, cfg.region, existing=cfg.region_existing)) as host:
        timer = host.start("timer", {"tick_ns": cfg.tick_us * 1000}) if cfg.profile else None
        common = {"variant": variant_to(cfg.variant), "profile": cfg.profile}
        consumer = host.start("consumer", {**common, "idle_polls": cfg.idle_polls})
        producer = host.start(
            "producer", {**common, "requests": cfg.requests, "window": cfg.window}
        )

        def tick() -> None:
            if on_progress is not None:
                on_progress(min(host.peek("head"), cfg.requests))

        p, c = host.results(
            [producer, consumer], on_tick=tick, poll_s=poll_s,
            progress=lambda: host.peek("head"),  # a long run is fine while it commits
        )
        t = host.stop(timer) if timer is not None else {"publishes": 0}
        tick_ns = host.peek("tick_ns")
        if on_progress is not None:
            on_progress(cfg.requests)
    stamps = decode_stamps(c["stamps"])
    return RunResult(
        requests=cfg.requests,
        elapsed_s=float(p["elapsed_s"]),
        irq_doorbells=int(p["irq_notifies"]),
        done_doorbells=int(c["done_notifies"]),
        consumer_sleeps=int(c["sleeps"]),
        timeout_finds=int(c["timeout_finds"]),
        timer_publishes=int(t["publishes"]),
        latency=report(stamps, tick_ns) if cfg.profile else None,
        stamps=tuple(stamps),
    )
