"""Live runs where the C peer engine plays the peer; Python still does every check.

For the producer and consumer roles :func:`intervm.conformance.live.run_live` first
runs the binary against :mod:`intervm.conformance.engine` (compiled timing, the only
way a missing fence shows on real hardware), then against the Python adversary,
and merges the two sets of cases by name (:func:`merge`). While the engine runs,
Python samples the shared words and peeks the doorbells for the lost-wakeup bad
state, exactly as in the Python run; it submits the stop request itself (consumer
role) or drains what the engine left (producer role), checks the ids, the indices
and the budget, and ends the binary. The producer role runs the engine on a
capacity-1 ring: a producer then blocks after each publish, so a ring it failed to
send is never repaired by its next publish and the bad state lasts.

>>> from intervm.conformance.report import Case, Outcome
>>> a = [Case("consumer/exit", Outcome.PASS, 1.0, "exited with status 0")]
>>> b = [Case("consumer/exit", Outcome.FAIL, 2.0, "killed by signal 9")]
>>> merge(a, b)[0].outcome, merge(a, b)[0].detail
(<Outcome.FAIL: 'fail'>, 'Python peer: killed by signal 9; C engine: exited with status 0')
"""

from __future__ import annotations

import dataclasses
import signal
import time
from collections.abc import Sequence
from pathlib import Path

from intervm.conformance import engine, evidence
from intervm.conformance.handoff import EXIT_DONE, Child
from intervm.conformance.live import (
    Options,
    Rig,
    exit_case,
    judge,
    parse_report,
)
from intervm.conformance.observe import Watchdog, check_sequence
from intervm.conformance.report import Case, Outcome
from intervm.impl import coalescing as co
from intervm.impl.errors import ProtocolViolation
from intervm.spec import layout as L

M32 = 0xFFFF_FFFF
_RANK = {Outcome.PASS: 0, Outcome.ERROR: 1, Outcome.FAIL: 2}


def merge(engine_cases: Sequence[Case], python_cases: Sequence[Case]) -> list[Case]:
    """One case per name: the worse outcome wins; its detail comes first."""
    by_name = {c.name: c for c in python_cases}
    out: list[Case] = []
    for e in engine_cases:
        p = by_name.pop(e.name, None)
        if p is None:
            out.append(e)
            continue
        worse, other = (p, e) if _RANK[p.outcome] > _RANK[e.outcome] else (e, p)
        label = {id(e): "C engine", id(p): "Python peer"}
        out.append(Case(e.name, worse.outcome,
                        worse.seconds if worse.outcome is not Outcome.PASS else e.seconds + p.seconds,
                        f"{label[id(worse)]}: {worse.detail}; {label[id(other)]}: {other.detail}"))
    return out + list(by_name.values())


def _watch(rig: Rig, eng: Child, child: Child, t0: float, limit_s: float, who: str
           ) -> tuple[str | None, float]:
    """Sample the lost-wakeup bad state every 2 ms while the engine and the binary run."""
    dog = Watchdog(rig.opts.watchdog_s)
    acc = rig.acc
    while eng.alive() and child.alive() and time.monotonic() - t0 < limit_s:
        flag, head, tail = acc.load("flag"), acc.load("head"), acc.load("tail")
        now = time.monotonic()
        bad = flag == L.FLAG_SLEEPING and head != tail and not rig.bells.pending("irq")
        found = dog.sample(bad, now, f"{who} SLEEPING, head {head}, tail {tail}, no irq pending")
        if found:
            return found, now - t0
        time.sleep(0.002)
    return None, 0.0


def _stop_engine(rig: Rig, eng: Child, child: Child, finding: str | None, finish_s: float
                 ) -> list[str]:
    """Rescue the sleeper after a finding, let the engine report, return its lines.
    If the binary died there is no one to wait for: the engine is ended at once."""
    if not child.alive():
        eng.proc.kill()
    elif finding is not None:
        rig.acc.notify("irq")
        if eng.alive():
            eng.proc.send_signal(signal.SIGUSR1)
    eng.finish(finish_s)
    return [text for _, text in eng.snapshot()]


def _engine_trouble(role: str, eng: Child, child: Child, lines: list[str], secs: float
                    ) -> Case | None:
    """An ERROR case if the engine itself broke (never a verdict on the binary)."""
    code = eng.proc.returncode
    if (code in (0, 3, 5) and lines) or not child.alive():
        return None
    return Case(f"{role}/engine", Outcome.ERROR, secs,
                f"the C peer engine ended with status {code} and "
                f"{'no report' if not lines else repr(lines[-1])}; stderr: "
                f"{eng.stderr_tail() or '(none)'}; rerun with --no-engine to test without it")


def _launch_engine(rig: Rig, mode: str, exe: str, ms: int, count: int, child: Child) -> Child:
    stall_ms = int(rig.opts.watchdog_s * 1000) + 700
    cmd = engine.argv(Path(exe), mode, rig.path, rig.bells.fds, rig.opts.seed, ms, count,
                      rig.region.layout, stall_ms)
    eng = Child(cmd, {}, list(rig.bells.fds.values()))
    rig.helpers.append(eng)  # closed with the rig, whatever happens
    engine.pin(eng.pid, child.pid)
    return eng


def _no_lost_wakeup(role: str, finding: str | None, found_at: float, secs: float,
                    note: str) -> Case:
    return Case(f"{role}/no_lost_wakeup", Outcome.FAIL if finding else Outcome.PASS,
                found_at if finding else secs,
                f"{finding} (detected after {found_at:.2f} s)" if finding else note)


def consumer_with_engine(rig: Rig, argv: Sequence[str], exe: str) -> list[Case]:
    """The engine publishes against the binary (a consumer); Python watches and checks."""
    opts, acc, cap = rig.opts, rig.acc, rig.opts.capacity
    stall_s = opts.watchdog_s + 0.7
    child = rig.launch(argv)
    t0 = time.monotonic()
    tail0 = acc.load("tail")
    eng = _launch_engine(rig, "producer", exe, int(opts.seconds * 1000), opts.requests, child)
    finding, found_at = _watch(rig, eng, child, t0, opts.seconds + stall_s + 2.0, "consumer")
    lines = _stop_engine(rig, eng, child, finding, stall_s + 3.0)
    trouble = _engine_trouble("consumer", eng, child, lines, time.monotonic() - t0)
    done = engine.parse_done(lines[-1]) if lines else None
    problem = next((t for t in lines if t.startswith("violation")), None)
    stall = next((t for t in lines if t.startswith("stall")), None)
    published = (acc.load("tail") - tail0) & M32
    try:
        st = co.ProducerState.attach(acc, cap)
        deadline = time.monotonic() + opts.timeout_ms / 1000 + opts.watchdog_s
        while st.outstanding >= cap and child.alive() and time.monotonic() < deadline:
            co.refresh_head(acc, st)
            time.sleep(0.001)
        if child.alive() and st.outstanding < cap:
            co.submit(acc, st, co.Variant(), L.STOP_REQUEST_ID, 0)
    except ProtocolViolation as exc:
        problem = problem or str(exc)
    ex = child.finish(opts.timeout_ms / 1000 + 3.0)
    secs = time.monotonic() - t0
    rep = parse_report(child.snapshot())
    caught = problem  # the engine's or the reference code's checks: a finding
    final_head, final_tail = acc.load("head"), acc.load("tail")
    if problem is None and final_head != final_tail and ex.code == EXIT_DONE:
        problem = f"head {final_head} != tail {final_tail} after the stop request"
    seq = check_sequence(list(range(published)), rep.consumed)
    stats = done or {}
    worst = stats.get("max_latency_ns", 0) / 1e9
    cases = [
        _no_lost_wakeup("consumer", finding, found_at, secs,
                        f"{published} requests, {stats.get('chases', 0)} timed at the arming "
                        f"store; the bad state never held {opts.watchdog_s} s"),
        Case("consumer/no_loss_dup_reorder", Outcome.FAIL if seq else Outcome.PASS, secs,
             seq or f"{len(rep.consumed)} ids consumed exactly once, in order"),
        Case("consumer/commits", Outcome.FAIL if problem else Outcome.PASS, secs,
             problem or f"head moved forward only, ended at tail {final_tail}"),
        Case("consumer/latency",
             Outcome.FAIL if stall or worst > opts.latency_bound_s else Outcome.PASS, secs,
             (f"{stall} for {stall_s:.1f} s" if stall else
              f"commit latency max {worst * 1e3:.1f} ms") + f" (bound {opts.latency_bound_s} s)"),
        exit_case("consumer/exit", ex, rep, child, EXIT_DONE, secs),
    ]
    findings = {name for name, hit in (
        ("no_lost_wakeup", finding), ("commits", caught),
        ("no_loss_dup_reorder", check_sequence(list(range(published))[:len(rep.consumed)],
                                                rep.consumed)),
    ) if hit}
    return judge(evidence.consumer(opts.requests, len(rep.consumed)),
                 cases + ([trouble] if trouble else []), findings, ex, rep, child, secs)


def producer_with_engine(rig: Rig, argv: Sequence[str], exe: str) -> list[Case]:
    """The engine consumes what the binary (a producer) publishes; Python watches and checks."""
    opts, acc = rig.opts, rig.acc
    stall_s = opts.watchdog_s + 0.7
    child = rig.launch(argv)
    t0 = time.monotonic()
    eng = _launch_engine(rig, "consumer", exe, int(opts.seconds * 1000), 0, child)
    finding, found_at = _watch(rig, eng, child, t0, opts.seconds + stall_s + 2.0, "tester's engine")
    # the engine drains to the stop request after the racing ends: give it that long
    lines = _stop_engine(rig, eng, child, finding,
                         opts.seconds + opts.timeout_ms / 1000 + stall_s + 3.0)
    trouble = _engine_trouble("producer", eng, child, lines, time.monotonic() - t0)
    done = engine.parse_done(lines[-1]) if lines else None
    problem = next((t for t in lines if t.startswith("violation")), None)
    got = [int(t.split()[1]) for t in lines if t.startswith("consumed ")]
    stopped = bool(done and done.get("stopped"))
    try:
        if not stopped and problem is None:  # the engine ran out of time: drain the rest
            cst = co.ConsumerState.attach(acc, opts.capacity)
            co.enter_consumer(acc)
            until = time.monotonic() + opts.seconds + opts.timeout_ms / 1000
            while not stopped and child.alive() and time.monotonic() < until:
                before = len(got)
                stopped = co.drain(acc, cst, lambda r: got.append(r.request_id))
                if len(got) == before:  # idle: nap; busy (capacity 1): go straight on
                    time.sleep(0.0005)
            stopped = stopped or co.drain(acc, cst, lambda r: got.append(r.request_id))
    except ProtocolViolation as exc:
        problem = str(exc)
    ex = child.finish(opts.timeout_ms / 1000 + 3.0)
    secs = time.monotonic() - t0
    rep = parse_report(child.snapshot())
    expected = list(range(opts.requests))
    seq = check_sequence(expected if stopped else expected[:len(got)], got)
    if seq is None and not stopped and finding is None:
        seq = f"the stop request never arrived after {len(got)} ids"
    stats = done or {}
    sleeps, arms = stats.get("sleeps", 0), stats.get("arms", 0)
    rings = max(0, stats.get("rings", 0) - rig.bells.sent.get("irq", 0))
    budget = 2 * arms + 1
    budget_case = (
        Case("producer/notification_budget", Outcome.PASS if rings <= budget else Outcome.FAIL,
             secs, f"{rings} irq rings for {arms} SLEEPING stores, {sleeps} of them slept "
                   f"(budget 2*stores+1 = {budget}; capacity-1 ring)")
        if done else
        Case("producer/notification_budget", Outcome.ERROR if finding is None else Outcome.PASS,
             secs, "not measured: the C engine did not report its counts"
             + (" (run stopped at the lost wakeup)" if finding else "")))
    cases = [
        _no_lost_wakeup("producer", finding, found_at, secs,
                        f"{sleeps} sleeps, {stats.get('chases', 0)} timed at the publish "
                        f"(capacity-1 ring); the bad state never held {opts.watchdog_s} s"),
        Case("producer/no_loss_dup_reorder", Outcome.FAIL if seq else Outcome.PASS, secs,
             seq or f"{len(got)} ids exactly once, in order"
             + (", then the stop request" if stopped else "")),
        Case("producer/indices", Outcome.FAIL if problem else Outcome.PASS, secs,
             problem or "tail moved forward only, never more than capacity past head"),
        budget_case,
        exit_case("producer/exit", ex, rep, child, EXIT_DONE, secs),
    ]
    findings = {name for name, hit in (
        ("no_lost_wakeup", finding), ("indices", problem),
        ("notification_budget", done and rings > budget),
        ("no_loss_dup_reorder", check_sequence(expected[:len(got)], got)),
    ) if hit}
    return judge(evidence.producer(opts.requests, len(got)),
                 cases + ([trouble] if trouble else []), findings, ex, rep, child, secs)


def engine_run(argv: Sequence[str], opts: Options) -> list[Case]:
    """Run the binary once against the C engine; an ERROR case if no engine can be built."""
    role = opts.role
    try:
        exe = str(engine.build())
    except engine.EngineUnavailable as exc:
        return [Case(f"{role}/engine", Outcome.ERROR, 0.0, str(exc))]
    if role == "producer":
        opts = dataclasses.replace(opts, capacity=1)
    with Rig(opts) as rig:
        if role == "consumer":
            return consumer_with_engine(rig, argv, exe)
        return producer_with_engine(rig, argv, exe)
