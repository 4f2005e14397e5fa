"""The hostile-peer suite: intervm, as the peer, breaks the protocol on purpose.

A correct binary must notice (report ``violation`` and exit 3, or time out and exit
4) or stay safe (no crash, no hang past its bound, nothing consumed or accepted
that was never validly published). Each case is a fresh region and a fresh run.

>>> [name for name, _ in CASES["consumer"]]
['ignores_suppression', 'tail_backwards', 'garbage_tail', 'garbage_pwait', 'dies_mid_update']
>>> [name for name, _ in CASES["timer-reader"]]
['dies_mid_update', 'time_backwards']
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence

from intervm.conformance.handoff import EXIT_PEER_TIMEOUT, EXIT_VIOLATION, Child, check_binary
from intervm.conformance.live import Options, Rig, consumer_under_test, parse_report
from intervm.conformance.report import Case, Outcome, Report
from intervm.impl import coalescing as co
from intervm.impl import timer as tm
from intervm.spec import layout as L

M32 = 0xFFFF_FFFF
GARBAGE_ID = 0xDEAD_BEEF_0BAD_F00D
Misbehave = Callable[[Rig, Child], str]
"""Runs the misbehaviour after the binary started; returns what it did (one line)."""


def _warm_consumer(rig: Rig, child: Child, n: int) -> co.ProducerState:
    """Submit ``n`` good requests (ids 0..n-1) and wait (bounded) until they are committed."""
    st = co.ProducerState.attach(rig.acc, rig.opts.capacity)
    for rid in range(n):
        co.submit(rig.acc, st, co.Variant(), rid, 0)
    deadline = time.monotonic() + 2.0
    while rig.acc.load("head") != st.tail and time.monotonic() < deadline and child.alive():
        time.sleep(0.001)
    return st


def _tail_backwards(rig: Rig, child: Child) -> str:
    st = _warm_consumer(rig, child, 3)
    rig.acc.store("tail", (st.tail - 2) & M32)
    rig.acc.notify("irq")
    return f"moved tail back from {st.tail} to {(st.tail - 2) & M32}"


def _garbage_tail(rig: Rig, child: Child) -> str:
    st = _warm_consumer(rig, child, 3)
    for slot in range(rig.opts.capacity):
        rig.acc.store("slot_id", GARBAGE_ID, slot)
    bogus = (st.tail + 7 * rig.opts.capacity + 3) & M32
    rig.acc.store("tail", bogus)
    rig.acc.notify("irq")
    return f"stored tail {bogus}, far more than capacity past head {st.tail}"


def _garbage_pwait(rig: Rig, child: Child) -> str:
    st = _warm_consumer(rig, child, 1)
    rig.acc.store("pwait", 0xBAD)
    co.submit(rig.acc, st, co.Variant(always_notify=True), 1, 0)
    return "stored pwait 0xbad, then submitted a request"


def _producer_dies(rig: Rig, child: Child) -> str:
    st = _warm_consumer(rig, child, 2)
    rig.acc.store("slot_id", GARBAGE_ID, st.tail % rig.opts.capacity)
    return f"wrote slot {st.tail % rig.opts.capacity} but never published tail, then went silent"


def _head_backwards(rig: Rig, child: Child) -> str:
    cst = co.ConsumerState.attach(rig.acc, rig.opts.capacity)
    co.enter_consumer(rig.acc)
    deadline = time.monotonic() + 2.0
    while cst.head < 5 and time.monotonic() < deadline:
        co.drain(rig.acc, cst, lambda r: None)
    rig.acc.store("head", (cst.head - 3) & M32)
    rig.acc.notify("done")
    return f"moved head back from {cst.head} to {(cst.head - 3) & M32}"


def _garbage_flag(rig: Rig, child: Child) -> str:
    rig.acc.store("flag", 7)
    deadline = time.monotonic() + 1.0
    while rig.acc.load("tail") == 0 and time.monotonic() < deadline:
        time.sleep(0.001)
    rig.acc.store("head", 1)  # commit one request so a producer blocked on a full ring resumes
    rig.acc.notify("done")
    return "stored flag 7 (neither ACTIVE nor SLEEPING), then committed one request"


def _consumer_dies(rig: Rig, child: Child) -> str:
    rig.acc.store("flag", L.FLAG_ACTIVE)
    return "stayed ACTIVE and never committed anything (a dead consumer)"


def _writer_dies(rig: Rig, child: Child) -> str:
    w = tm.WriterState.attach(rig.acc)
    for k in range(1, 50):
        tm.publish(rig.acc, w, k << 32 | k)
    rig.acc.store("timer_seq", (w.seq + 1) & M32)
    rig.acc.store("time_lo", 50)
    return "left timer_seq odd with time_lo of publish 50 and time_hi of 49, then died"


def _time_backwards(rig: Rig, child: Child) -> str:
    w = tm.WriterState.attach(rig.acc)
    tm.publish(rig.acc, w, 9 << 32 | 9)
    time.sleep(0.05)
    tm.publish(rig.acc, w, 3 << 32 | 3)
    return "published tick 9, then tick 3"


CASES: dict[str, list[tuple[str, Misbehave]]] = {
    "consumer": [("ignores_suppression", _garbage_pwait), ("tail_backwards", _tail_backwards),
                 ("garbage_tail", _garbage_tail), ("garbage_pwait", _garbage_pwait),
                 ("dies_mid_update", _producer_dies)],
    "producer": [("head_backwards", _head_backwards), ("garbage_flag", _garbage_flag),
                 ("dies_mid_update", _consumer_dies)],
    "timer-reader": [("dies_mid_update", _writer_dies), ("time_backwards", _time_backwards)],
    "timer-writer": [],
}


def _judge(role: str, name: str, rig: Rig, child: Child, did: str, bound_s: float) -> Case:
    t0 = time.monotonic()
    ex = child.finish(bound_s)
    secs = time.monotonic() - t0
    rep = parse_report(child.snapshot())
    case = f"{role}/hostile/{name}"
    if ex.signal is not None and not ex.hung:
        return Case(case, Outcome.FAIL, secs, f"after the tester {did}, the binary {ex.describe()}")
    if GARBAGE_ID in rep.consumed:
        return Case(case, Outcome.FAIL, secs, f"after the tester {did}, the binary consumed "
                                               f"garbage id {GARBAGE_ID:#x}")
    if role == "timer-reader":
        # torn (the halves of publish k are both k), backwards against what the binary
        # accepted before, or (time_backwards) the older tick published last
        late, high = [], 0
        for _, v in rep.ticks:
            if ((v >> 32) != (v & M32) or v < high
                    or (name == "time_backwards" and v == 3 << 32 | 3)):
                late.append(v)
            high = max(high, v)
        if late:
            return Case(case, Outcome.FAIL, secs, f"after the tester {did}, the binary accepted "
                                                   f"tick {late[0]:#x}")
    if rep.malformed:
        return Case(case, Outcome.FAIL, secs, rep.malformed)
    match ex.code:
        case 3 if rep.violation:
            return Case(case, Outcome.PASS, secs, f"reported violation {rep.violation}")
        case 4:
            return Case(case, Outcome.PASS, secs, f"timed out waiting for its peer: {rep.error}")
        case None if ex.hung:
            return Case(case, Outcome.PASS, secs, f"stayed safe (still waiting after {bound_s} s)")
        case _:
            return Case(case, Outcome.FAIL, secs, f"after the tester {did}, the binary "
                        f"{ex.describe()} (expected {EXIT_VIOLATION} with a violation line, "
                        f"{EXIT_PEER_TIMEOUT}, or to keep waiting safely)")


def run_hostile(argv: Sequence[str], opts: Options) -> Report:
    """Every hostile case for ``opts.role`` against the binary ``argv``."""
    check_binary(argv)
    cases: list[Case] = []
    short = dataclasses.replace(opts, requests=1_000_000, reads=1_000_000_000,
                                timeout_ms=min(opts.timeout_ms, 1000))
    bound_s = short.timeout_ms / 1000 + 1.5
    for name, misbehave in CASES[opts.role]:
        with Rig(short) as rig:
            if name == "ignores_suppression":
                burst = dataclasses.replace(short, requests=500, seconds=2.0)
                rig.opts = burst
                got = consumer_under_test(rig, argv, co.Variant(always_notify=True))
                bad = [c for c in got if c.outcome is not Outcome.PASS]
                cases.append(Case(f"{opts.role}/hostile/{name}",
                                  Outcome.FAIL if bad else Outcome.PASS, sum(c.seconds for c in got),
                                  bad[0].detail if bad else
                                  f"rang irq on every request; all {len(got)} checks still pass"))
                continue
            child = rig.launch(argv)
            did = misbehave(rig, child)
            cases.append(_judge(opts.role, name, rig, child, did, bound_s))
    return Report(f"intervm conformance run --role {opts.role} --hostile", tuple(cases))
