"""Benchmark the reference implementation; writes bench/results/impl.md.

Run from the repository root:  python bench/bench_impl.py  [--quick]

Measures requests/s and doorbells/request for coalescing, a doorbell per
request, multiprocessing.Queue and a pipe, at 1 and at many outstanding
requests; the cost of a shared-timer read against a unix-socket round trip
to the timer VM; and the store-buffering litmus counts.

>>> median([3.0, 1.0, 2.0])
2.0
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import socket
import statistics
import struct
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from intervm.impl.coalescing import Variant
from intervm.impl.experiment import RunConfig, run
from intervm.impl.host import Host, HostConfig
from intervm.impl.litmus import run_sb
from intervm.impl.region import Region
from intervm.impl.timer import ReaderState, read_seqlock, read_word

RESULTS = Path(__file__).resolve().parent / "results" / "impl.md"
MANY = 256
STOP = -1


def median(xs: list[float]) -> float:
    return float(statistics.median(xs))


@dataclass(frozen=True)
class Row:
    mechanism: str
    outstanding: int
    requests: int
    rate: float
    doorbells: str


# ------------------------------------------------------------------ baselines
def _queue_consumer(req: mp.Queue[int], resp: mp.Queue[int], window: int) -> None:
    while True:
        item = req.get()
        if window == 1:
            resp.put(item)
        if item == STOP:
            resp.put(STOP)
            return


def bench_queue(n: int, window: int) -> float:
    ctx = mp.get_context("fork")
    req: mp.Queue[int] = ctx.Queue(maxsize=window)
    resp: mp.Queue[int] = ctx.Queue()
    proc = ctx.Process(target=_queue_consumer, args=(req, resp, window))
    proc.start()
    t0 = time.perf_counter()
    for i in range(n):
        req.put(i)
        if window == 1:
            resp.get()
    req.put(STOP)
    while resp.get() != STOP:
        pass
    elapsed = time.perf_counter() - t0
    proc.join(30)
    return n / elapsed


def _pipe_consumer(rfd: int, wfd: int, window: int) -> None:
    pending = b""
    while True:
        data = os.read(rfd, 8 if window == 1 else 65536)
        pending += data
        whole = len(pending) // 8 * 8
        values = struct.unpack(f"<{whole // 8}q", pending[:whole])
        pending = pending[whole:]
        if window == 1:
            os.write(wfd, data)
        if STOP in values:
            os.write(wfd, struct.pack("<q", STOP))
            return


def bench_pipe(n: int, window: int) -> float:
    r1, w1 = os.pipe()
    r2, w2 = os.pipe()
    ctx = mp.get_context("fork")
    proc = ctx.Process(target=_pipe_consumer, args=(r1, w2, window))
    proc.start()
    pack = struct.Struct("<q").pack
    t0 = time.perf_counter()
    for i in range(n):
        os.write(w1, pack(i))
        if window == 1:
            os.read(r2, 8)
    os.write(w1, pack(STOP))
    os.read(r2, 8)
    elapsed = time.perf_counter() - t0
    proc.join(30)
    for fd in (r1, w1, r2, w2):
        os.close(fd)
    return n / elapsed


# ------------------------------------------------------------------ ours
def bench_ring(n: int, window: int, always_notify: bool) -> tuple[float, float]:
    res = run(
        RunConfig(
            requests=n,
            window=window,
            capacity=MANY,
            variant=Variant(always_notify=always_notify),
            profile=False,
        )
    )
    return res.throughput, res.doorbells_per_request


def throughput_rows(reps: int, n_many: int, n_one: int) -> list[Row]:
    rows: list[Row] = []
    for window, n in ((1, n_one), (MANY, n_many)):
        for label, always in (("coalescing (intervm)", False), ("doorbell per request", True)):
            runs = [bench_ring(n, window, always) for _ in range(reps)]
            rate = median([r for r, _ in runs])
            bells = median([b for _, b in runs])
            rows.append(Row(label, window, n, rate, f"{bells:.4f}"))
        q = median([bench_queue(n, window) for _ in range(reps)])
        rows.append(Row("multiprocessing.Queue", window, n, q, "n/a (feeder thread)"))
        p = median([bench_pipe(n, window) for _ in range(reps)])
        rows.append(Row("pipe (8-byte write per request)", window, n, p, "1 write/request"))
    return rows


# ------------------------------------------------------------------ timer
def _per_call(fn: Callable[[], object], n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def timer_costs(reps: int) -> dict[str, float]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        Host(HostConfig(capacity=1, region=Path(tmp) / "r")) as host,
    ):
        timer = host.start("timer", {"tick_ns": 1_000_000})
        reader = Region.attach(Path(tmp) / "r")
        state = ReaderState()
        seqlock = median(
            [_per_call(lambda: read_seqlock(reader, state), 100_000) for _ in range(reps)]
        )
        word = median([_per_call(lambda: read_word(reader, state), 100_000) for _ in range(reps)])
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(str(host.timer_socket))

            def ask() -> None:
                s.sendall(b"?")
                s.recv(8)

            rtt = median([_per_call(ask, 5_000) for _ in range(reps)])
        reader.close()
        host.stop(timer)
    return {"seqlock": seqlock, "word": word, "socket": rtt}


# ------------------------------------------------------------------ report
def render(rows: list[Row], timer: dict[str, float], litmus: list[str], seconds: float) -> str:
    def rate(mech: str, window: int) -> float:
        return next(
            r.rate for r in rows if r.mechanism.startswith(mech) and r.outstanding == window
        )

    def bells(mech: str, window: int) -> float:
        return float(
            next(
                r.doorbells
                for r in rows
                if r.mechanism.startswith(mech) and r.outstanding == window
            )
        )

    coal, per_req = bells("coalescing", MANY), bells("doorbell per", MANY)
    cut = per_req / coal if coal else float("inf")
    beats = rate("coalescing", MANY) / rate("multiprocessing", MANY)
    beats1 = rate("coalescing", 1) / rate("multiprocessing", 1)
    ratio_seq = timer["socket"] / timer["seqlock"]
    ratio_word = timer["socket"] / timer["word"]

    def verdict(ok: bool) -> str:
        return "met" if ok else "**missed**"

    out = [
        "# Reference implementation benchmark",
        "",
        "Generated by `python bench/bench_impl.py` "
        f"on {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} ({seconds:.0f} s). "
        "Medians of the repetitions; separate OS processes; eventfd doorbells; "
        "consumer polls the ring 200 times before arming the doorbell; no timer VM "
        "and no latency stamps in the throughput runs.",
        "",
        "## Throughput and doorbells",
        "",
        "| mechanism | outstanding | requests | requests/s | doorbells/request |",
        "|---|---:|---:|---:|---|",
    ]
    for r in rows:
        out.append(
            f"| {r.mechanism} | {r.outstanding} | {r.requests:,} | {r.rate:,.0f} | {r.doorbells} |"
        )
    out += [
        "",
        "How to read the rows: intervm tracks completion per request through the shared "
        "`head` (the producer sleeps on `done` when its window is full). "
        "multiprocessing.Queue at many outstanding is a bounded `Queue(maxsize=256)` with "
        "no per-request completion; the pipe at many outstanding is a one-way stream (one "
        "8-byte `write` per request, the consumer `read`s up to 64 KiB at once, no "
        "completions), so the kernel batches it; at 1 outstanding both baselines are a "
        "request/response ping-pong. Outstanding-1 rows are bound by scheduler wake-ups "
        "on 2 shared CPUs and vary by up to 3x between runs.",
        "",
        "## Shared timer read vs asking the timer VM",
        "",
        "| read | cost per read |",
        "|---|---:|",
        f"| seqlock (4 loads through the access interface) | {timer['seqlock'] * 1e9:,.0f} ns |",
        f"| single 64-bit word (1 load) | {timer['word'] * 1e9:,.0f} ns |",
        f"| unix socket round trip to the timer VM | {timer['socket'] * 1e9:,.0f} ns |",
        "",
        "## Store-buffering litmus (x=1; r0=y || y=1; r1=x, pinned to 2 CPUs)",
        "",
        *litmus,
        "",
        "## Goals",
        "",
        f"- Doorbells/request cut by >= 50x under load: {per_req:.4f} -> {coal:.4f} "
        f"= {cut:,.0f}x, {verdict(cut >= 50)}.",
        f"- Coalescing beats multiprocessing.Queue on throughput: {beats:.2f}x at "
        f"{MANY} outstanding ({verdict(beats > 1)}), {beats1:.2f}x at 1 outstanding.",
        f"- Shared-timer read >= 100x cheaper than the socket round trip: seqlock "
        f"{ratio_seq:,.0f}x ({verdict(ratio_seq >= 100)}), single word {ratio_word:,.0f}x "
        f"({verdict(ratio_word >= 100)}).",
        "",
    ]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer requests and repetitions")
    args = ap.parse_args()
    reps, n_many, n_one, sb = (
        (1, 20_000, 2_000, 50_000) if args.quick else (3, 100_000, 10_000, 300_000)
    )
    t0 = time.perf_counter()
    rows = throughput_rows(reps, n_many, n_one)
    timer = timer_costs(reps)
    litmus = ["| access path | fenced | iterations | both-stale outcomes |", "|---|---|---:|---:|"]
    with tempfile.TemporaryDirectory() as tmp:
        for direct in (False, True):
            for fenced in (False, True):
                res = run_sb(Path(tmp) / "sb", sb, fenced=fenced, direct=direct)
                path = "atomicshm direct" if direct else "Region (access interface)"
                litmus.append(f"| {path} | {fenced} | {res.iterations:,} | {res.reordered:,} |")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(render(rows, timer, litmus, time.perf_counter() - t0))


if __name__ == "__main__":
    main()
