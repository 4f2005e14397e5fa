"""Live, out-of-process conformance: intervm plays the peer of any binary.

:class:`Rig` creates the region and the doorbells and starts the binary under test
(:mod:`intervm.conformance.handoff`); the drivers below play the other role with
our reference code (:mod:`intervm.impl.coalescing`, :mod:`intervm.impl.timer`) and
adversarial timing: chasing the consumer's arming window, bursts, pauses, and
SIGSTOP/SIGCONT of the binary at random moments. Each run ends in named cases of a
:class:`~intervm.conformance.report.Report`. A run stops early at the first
lost wakeup or torn read, so the case's time is the time to detection. No case
passes without evidence: each driver judges its run through
:mod:`intervm.conformance.evidence` (the role's least observed activity).

>>> opts = Options(role="consumer", requests=50)
>>> opts.env()["INTERVM_REQUESTS"], opts.timeout_ms
('50', 2000)
>>> Options(role="sender")
Traceback (most recent call last):
...
ValueError: role 'sender' is not one of producer, consumer, timer-writer, timer-reader
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import mmap
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import atomicshm

from intervm.conformance import evidence
from intervm.conformance.handoff import (
    EXIT_DONE,
    ROLES,
    Child,
    Exit,
    Line,
    check_binary,
    parse_line,
)
from intervm.conformance.observe import (
    Bells,
    TesterAccess,
    Watchdog,
    check_sequence,
    percentile,
    publish_id,
    torn,
)
from intervm.conformance.report import Case, Outcome, Report
from intervm.impl import coalescing as co
from intervm.impl import timer as tm
from intervm.impl.access import Fence
from intervm.impl.errors import ProtocolViolation
from intervm.impl.region import DEFAULT_DIR, Region
from intervm.spec import layout as L

M32 = 0xFFFF_FFFF


@dataclass(frozen=True)
class Options:
    """One live run. ``seconds`` bounds the adversarial phase; ``watchdog_s`` is how long
    the lost-wakeup bad state must hold; ``timeout_ms`` is handed to the binary.
    ``engine``: producer/consumer roles first run against the C peer engine
    (:mod:`intervm.conformance.live_engine`), each part getting half of ``seconds``."""

    role: str
    requests: int = 3000
    publishes: int = 3000
    reads: int = 50_000
    seconds: float = 10.0
    seed: int = 0
    capacity: int = 8
    watchdog_s: float = 0.3
    timeout_ms: int = 2000
    latency_bound_s: float = 1.0
    engine: bool = True

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role {self.role!r} is not one of {', '.join(ROLES)}")
        if self.requests < 1 or self.seconds <= 0 or self.watchdog_s <= 0:
            raise ValueError("requests must be >= 1 and seconds, watchdog_s > 0")
        L.check_geometry(self.capacity, L.SLOT_WORDS_SIZE)

    def env(self) -> dict[str, str]:
        return {
            "INTERVM_ROLE": self.role,
            "INTERVM_TIMEOUT_MS": str(self.timeout_ms),
            "INTERVM_REQUESTS": str(self.requests),
            "INTERVM_PUBLISHES": str(self.publishes),
            "INTERVM_READS": str(self.reads),
        }


class Rig:
    """A fresh region + doorbells; starts the binary with the documented handoff."""

    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self._tmp = tempfile.TemporaryDirectory(prefix="intervm-live-")
        base = DEFAULT_DIR if DEFAULT_DIR.is_dir() else Path(self._tmp.name)
        self.path = base / f"intervm-live-{Path(self._tmp.name).name}"
        self.bells = Bells.create()
        self.region = Region.create(self.path, opts.capacity)
        self.acc = TesterAccess(self.region, self.bells)
        self.child: Child | None = None
        self.helpers: list[Child] = []  # e.g. the C peer engine

    def launch(self, argv: Sequence[str], extra: dict[str, str] | None = None) -> Child:
        env = self.opts.env()
        env[L.REGION_ENV] = str(self.path)
        env["INTERVM_IRQ_FD"] = str(self.bells.fds["irq"])
        env["INTERVM_DONE_FD"] = str(self.bells.fds["done"])
        env.update(extra or {})
        self.child = Child(argv, env, list(self.bells.fds.values()))
        return self.child

    def __enter__(self) -> Rig:
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in [*self.helpers, *([self.child] if self.child else [])]:
            proc.close()
        self.region.close()
        self.bells.close()
        self.path.unlink(missing_ok=True)
        self._tmp.cleanup()


@dataclass
class Lines:
    """The binary's report, parsed: values by kind, the first malformed line, the end lines."""

    consumed: list[int]
    ticks: list[tuple[float, int]]
    violation: str | None
    error: str | None
    malformed: str | None


def parse_report(lines: Sequence[tuple[float, str]]) -> Lines:
    out = Lines([], [], None, None, None)
    for t, text in lines:
        try:
            line: Line = parse_line(text)
        except ValueError as exc:
            out.malformed = out.malformed or str(exc)
            continue
        match line.kind:
            case "consumed":
                assert line.value is not None
                out.consumed.append(line.value)
            case "tick":
                assert line.value is not None
                out.ticks.append((t, line.value))
            case "violation":
                out.violation = f"{line.text.split(' ', 1)[0]}={line.value}: {line.text}"
            case _:
                out.error = line.text
    return out


def exit_case(name: str, ex: Exit, rep: Lines, child: Child, expect: int, secs: float) -> Case:
    """The binary ended as the protocol says: status ``expect``, well-formed report."""
    tail = child.stderr_tail()
    extra = f"; stderr: {tail}" if tail else ""
    if rep.malformed:
        return Case(name, Outcome.FAIL, secs, rep.malformed)
    if ex.hung or ex.signal is not None or ex.code != expect:
        said = rep.violation or rep.error
        return Case(name, Outcome.FAIL, secs,
                    f"{ex.describe()} (expected status {expect})"
                    + (f"; it reported: {said}" if said else "") + extra)
    return Case(name, Outcome.PASS, secs, f"{ex.describe()}")


def judge(ev: evidence.Evidence, cases: list[Case], findings: set[str], ex: Exit, rep: Lines,
          child: Child, secs: float) -> list[Case]:
    """``cases`` if the run saw the role's least activity (:mod:`.evidence`); else one
    ERROR case and the ``findings`` (case names) that failed; a malformed report line
    is always a finding (the ``exit`` case)."""
    found = findings | ({"exit"} if rep.malformed else set())
    return evidence.gate(ev, cases, found, ex.describe(), rep.violation or rep.error or "",
                         child.stderr_tail(), secs)


def _spin_until(pred: Callable[[], bool], limit: int) -> bool:
    return any(pred() for _ in range(limit))


class FastLane(TesterAccess):
    """The tester's access with the shortest possible publish: ``tail`` is stored by one
    sequentially consistent exchange (a store and a full fence in one locked
    instruction), the following ``fence()`` is then already done, and ``flag``/``head``
    loads are single C calls. The protocol steps are exactly the reference's; only the
    Python overhead between them shrinks, so the tester's store→load window is as tight
    as a compiled producer's and a consumer's missing fence can show."""

    def __init__(self, region: Region, bells: Bells, path: Path) -> None:
        super().__init__(region, bells)
        self._file = path.open("r+b")
        self._mm = mmap.mmap(self._file.fileno(), region.layout.total_size)
        self._view = atomicshm.AtomicView(self._mm)
        lay = region.layout
        self._tail_off = lay.field("tail").offset
        self.flag = functools.partial(self._view.load_u32, lay.field("flag").offset,
                                      atomicshm.ACQUIRE)
        self.head = functools.partial(self._view.load_u32, lay.field("head").offset,
                                      atomicshm.ACQUIRE)
        self._fenced = False

    def store(self, field: str, value: int, index: int | None = None) -> None:
        if field == "tail":
            self._view.exchange_u32(self._tail_off, value, atomicshm.SEQ_CST)
            self._fenced = True
            return
        self._fenced = False
        super().store(field, value, index)

    def fence(self, kind: Fence = Fence.FULL) -> None:
        if not self._fenced:
            super().fence(kind)
        self._fenced = False

    def load(self, field: str, index: int | None = None) -> int:
        if field == "flag":
            return self.flag()
        return super().load(field, index)

    def close(self) -> None:
        self._view.close()
        self._mm.close()
        self._file.close()


# ------------------------------------------------------------ binary = consumer
_CORRECT = co.Variant()


def consumer_under_test(rig: Rig, argv: Sequence[str], variant: co.Variant = _CORRECT
                        ) -> list[Case]:
    """Play the producer against the binary (a consumer) and check it."""
    opts, acc, cap = rig.opts, rig.acc, rig.opts.capacity
    rng = random.Random(opts.seed)
    st = co.ProducerState.attach(acc, cap)
    submitted: list[int] = []
    submit_t: list[float] = []
    latencies: list[float] = []
    committed = 0
    dog = Watchdog(opts.watchdog_s)
    finding: str | None = None
    found_at = 0.0
    violation: str | None = None
    fast = FastLane(rig.region, rig.bells, rig.path)
    child = rig.launch(argv)
    t0 = time.monotonic()

    def sample() -> bool:
        """Refresh head, record latencies; hold while the lost-wakeup bad state lasts."""
        nonlocal committed, finding, found_at
        while True:
            head = co.refresh_head(acc, st)
            now = time.monotonic()
            while committed < len(submit_t) and 0 < (head - committed) & M32 <= cap:
                latencies.append(now - submit_t[committed])
                committed += 1
            flag = acc.load("flag")
            bad = flag == L.FLAG_SLEEPING and head != st.tail and not rig.bells.pending("irq")
            found = dog.sample(bad, now, f"consumer SLEEPING, head {head}, tail {st.tail}, "
                                         "no irq pending")
            if found:
                finding, found_at = found, now - t0
                return True
            if not bad or not child.alive():
                return False
            time.sleep(0.002)

    def room() -> bool:
        deadline = time.monotonic() + opts.timeout_ms / 1000 + opts.watchdog_s
        while st.outstanding >= cap:
            if sample() or not child.alive() or time.monotonic() > deadline:
                return False
            acc.store("pwait", L.PWAIT_WAITING)
            acc.fence()
            if co.refresh_head(acc, st) == (st.tail - st.outstanding) & M32 and st.outstanding >= cap:
                acc.wait("done", 0.005)
            acc.store("pwait", L.PWAIT_RUNNING)
        return True

    arming: list[int] = []  # learnt ns from "head caught up" to "flag SLEEPING seen"

    def chase(rid: int) -> bool:
        if not room():
            return False
        if _spin_until(lambda: fast.head() == st.tail, 20_000):
            t_h = time.perf_counter_ns()
            if len(arming) < 8 or rng.random() < 0.05:
                if _spin_until(lambda: fast.flag() == L.FLAG_SLEEPING, 20_000):
                    arming.append(time.perf_counter_ns() - t_h)
                    arming.sort()
            else:
                aim = t_h + int(arming[len(arming) // 2] * rng.uniform(0.2, 1.1))
                while time.perf_counter_ns() < aim:
                    pass
        submitted.append(rid)
        submit_t.append(time.monotonic())
        co.submit(fast, st, variant, rid, 0)
        return True

    def put(rid: int) -> bool:
        if not room():
            return False
        submitted.append(rid)
        submit_t.append(time.monotonic())
        co.submit(acc, st, variant, rid, 0)
        return True

    try:
        rid = 0
        while (rid < opts.requests and finding is None and child.alive()
               and time.monotonic() - t0 < opts.seconds):
            r = rng.random()
            if r < 0.4:  # chase: publish at the moment the consumer arms
                rid += chase(rid)
            elif r < 0.6:  # burst
                for _ in range(rng.randint(1, cap)):
                    if rid < opts.requests and put(rid):
                        rid += 1
            elif r < 0.8:  # let the consumer go to sleep for real
                time.sleep(rng.uniform(0, 0.002))
                rid += put(rid)
            elif child.pause():  # SIGSTOP at a random moment, publish behind its back
                time.sleep(rng.uniform(0, 0.0003))
                if acc.load("flag") == L.FLAG_ACTIVE and co.refresh_head(acc, st) == st.tail:
                    submitted.append(rid)
                    submit_t.append(time.monotonic())
                    co.submit(acc, st, variant, rid, 0)
                    rid += 1
                child.resume()
            sample()
        if finding is not None:
            acc.notify("irq")  # rescue, so the run can finish and the report be read
        if child.alive() and room():
            co.submit(acc, st, variant, L.STOP_REQUEST_ID, 0)
    except ProtocolViolation as exc:
        violation = str(exc)
    finally:
        child.resume()
        fast.close()
    ex = child.finish(opts.timeout_ms / 1000 + 3.0)
    secs = time.monotonic() - t0
    rep = parse_report(child.snapshot())
    caught = violation  # what the reference code's checks raised: a finding
    final_head = acc.load("head")
    cases = [
        Case("consumer/no_lost_wakeup", Outcome.FAIL if finding else Outcome.PASS,
             found_at if finding else secs,
             f"{finding} (detected after {found_at:.2f} s)" if finding else
             f"{len(submitted)} requests; the bad state never held {opts.watchdog_s} s"),
    ]
    seq = check_sequence(submitted, rep.consumed)
    cases.append(Case("consumer/no_loss_dup_reorder", Outcome.FAIL if seq else Outcome.PASS, secs,
                      seq or f"{len(rep.consumed)} ids consumed exactly once, in order"))
    if violation is None and final_head != st.tail and ex.code == EXIT_DONE:
        violation = f"head {final_head} != tail {st.tail} after the stop request"
    cases.append(Case("consumer/commits", Outcome.FAIL if violation else Outcome.PASS, secs,
                      violation or f"head moved forward only, ended at tail {st.tail}"))
    worst = max(latencies, default=0.0)
    lat = (f"commit latency p50 {percentile(latencies, 0.5) * 1e6:.0f} us, p99 "
           f"{percentile(latencies, 0.99) * 1e6:.0f} us, max {worst * 1e3:.1f} ms")
    cases.append(Case("consumer/latency", Outcome.PASS if worst <= opts.latency_bound_s
                      else Outcome.FAIL, secs, lat + f" (bound {opts.latency_bound_s} s)"))
    cases.append(exit_case("consumer/exit", ex, rep, child, EXIT_DONE, secs))
    findings = {name for name, hit in (
        ("no_lost_wakeup", finding), ("commits", caught),
        ("no_loss_dup_reorder", check_sequence(submitted[:len(rep.consumed)], rep.consumed)),
    ) if hit}
    return judge(evidence.consumer(opts.requests, len(rep.consumed)), cases, findings, ex, rep,
                 child, secs)


# ------------------------------------------------------------ binary = producer
def producer_under_test(rig: Rig, argv: Sequence[str]) -> list[Case]:
    """Play the consumer against the binary (a producer) and check it."""
    opts, acc, cap = rig.opts, rig.acc, rig.opts.capacity
    rng = random.Random(opts.seed)
    cst = co.ConsumerState.attach(acc, cap)
    got: list[int] = []
    dog = Watchdog(opts.watchdog_s)
    finding: str | None = None
    found_at = 0.0
    violation: str | None = None
    sleeps = 0
    stopped = False
    child = rig.launch(argv)
    t0 = time.monotonic()

    def handle(req: co.Request) -> None:
        got.append(req.request_id)
        if rng.random() < 0.02:
            time.sleep(rng.uniform(0, 0.0005))

    try:
        co.enter_consumer(acc)
        while finding is None and time.monotonic() - t0 < opts.seconds + opts.watchdog_s:
            if co.drain(acc, cst, handle):
                stopped = True
                break
            if rng.random() < 0.1 and child.pause():
                time.sleep(rng.uniform(0, 0.001))
                child.resume()
            if co.poll_idle(acc, cst, rng.choice((0, 0, 10, 200))):
                continue
            rig.bells.take("irq")
            if not co.prepare_sleep(acc, cst, co.Variant()):
                continue
            sleeps += 1
            while True:
                if rig.bells.wait("irq", 0.003):
                    break
                tail = acc.load("tail")
                now = time.monotonic()
                finding = dog.sample(tail != cst.head, now,
                                     f"tester SLEEPING, head {cst.head}, tail {tail}, no irq pending")
                if finding:
                    found_at = now - t0
                    break
                if tail == cst.head and not child.alive():
                    break
                if now - t0 > opts.seconds + opts.timeout_ms / 1000:
                    break
            if not child.alive() and acc.load("tail") == cst.head:
                break
            co.enter_consumer(acc)
        if finding is not None:  # rescue so the producer can finish
            co.enter_consumer(acc)
            stopped = co.drain(acc, cst, handle) or stopped
            while not stopped and child.alive() and time.monotonic() - t0 < opts.seconds * 2:
                stopped = co.drain(acc, cst, handle)
                time.sleep(0.001)
    except ProtocolViolation as exc:
        violation = str(exc)
    finally:
        child.resume()
    rig.bells.take("irq")
    ex = child.finish(opts.timeout_ms / 1000 + 3.0)
    secs = time.monotonic() - t0
    rep = parse_report(child.snapshot())
    rings = rig.bells.received.get("irq", 0)
    budget = 2 * sleeps + 1
    expected = list(range(opts.requests))
    seq = check_sequence(expected if stopped else expected[:len(got)], got)
    if seq is None and not stopped and finding is None:
        seq = f"the stop request never arrived after {len(got)} ids"
    cases = [
        Case("producer/no_lost_wakeup", Outcome.FAIL if finding else Outcome.PASS,
             found_at if finding else secs,
             f"{finding} (detected after {found_at:.2f} s)" if finding else
             f"{sleeps} sleeps; the bad state never held {opts.watchdog_s} s"),
        Case("producer/no_loss_dup_reorder", Outcome.FAIL if seq else Outcome.PASS, secs,
             seq or f"{len(got)} ids exactly once, in order" + (", then the stop request" if stopped else "")),
        Case("producer/indices", Outcome.FAIL if violation else Outcome.PASS, secs,
             violation or "tail moved forward only, never more than capacity past head"),
        Case("producer/notification_budget", Outcome.PASS if rings <= budget else Outcome.FAIL,
             secs, f"{rings} irq rings for {sleeps} SLEEPING transitions (budget 2*sleeps+1 = "
                   f"{budget})"),
        exit_case("producer/exit", ex, rep, child, EXIT_DONE, secs),
    ]
    findings = {name for name, hit in (
        ("no_lost_wakeup", finding), ("indices", violation), ("notification_budget", rings > budget),
        ("no_loss_dup_reorder", check_sequence(expected[:len(got)], got)),
    ) if hit}
    return judge(evidence.producer(opts.requests, len(got)), cases, findings, ex, rep, child,
                 secs)


# ------------------------------------------------------------ binary = timer reader
def publish_split(acc: TesterAccess, st: tm.WriterState, tick: int,
                  window: Callable[[], None]) -> None:
    """:func:`intervm.impl.timer.publish`, with ``window()`` run while seq is odd and
    time_lo is new but time_hi still old: the widest torn-read window there is."""
    st.seq = (st.seq + 1) & M32
    acc.store("timer_seq", st.seq)
    acc.store("time_lo", tick & M32)
    window()
    acc.store("time_hi", (tick >> 32) & M32)
    st.seq = (st.seq + 1) & M32
    acc.store("timer_seq", st.seq)
    acc.store("time64", tick)


def timer_reader_under_test(rig: Rig, argv: Sequence[str]) -> list[Case]:
    """Play the timer writer (ticks ``k << 32 | k``) and check what the binary accepts."""
    opts, acc = rig.opts, rig.acc
    rng = random.Random(opts.seed)
    w = tm.WriterState.attach(acc)
    tm.start(acc, 1000)
    k = 1
    publish_split(acc, w, k << 32 | k, lambda: None)
    published: list[tuple[float, int]] = [(time.monotonic(), k)]
    child = rig.launch(argv)
    t0 = time.monotonic()
    torn_at: tuple[float, int] | None = None
    scanned = 0

    def window() -> None:
        r = rng.random()
        if r < 0.5:
            time.sleep(rng.uniform(0, 0.0005))
        elif r < 0.6 and child.pause():
            time.sleep(rng.uniform(0, 0.0005))
            child.resume()

    while child.alive() and time.monotonic() - t0 < opts.seconds and torn_at is None:
        k += 1
        publish_split(acc, w, k << 32 | k, window)
        published.append((time.monotonic(), k))
        if rng.random() < 0.3:
            time.sleep(rng.uniform(0, 0.0003))
        if k % 64 == 0:
            lines = child.snapshot()
            for t, text in lines[scanned:]:
                kind, _, val = text.partition(" ")
                if kind == "tick" and val.isdigit() and torn(int(val)):
                    torn_at = (t - t0, int(val))
                    break
            scanned = len(lines)
    # it left while the run still had time, without a torn tick to stop the run for
    left_early = not child.alive() and torn_at is None and time.monotonic() - t0 < opts.seconds
    ex = child.finish(opts.timeout_ms / 1000 + 3.0)
    secs = time.monotonic() - t0
    rep = parse_report(child.snapshot())
    bad = [(t, v) for t, v in rep.ticks if torn(v)]
    first_torn = torn_at or ((bad[0][0] - t0, bad[0][1]) if bad else None)
    backwards = next((f"accepted {v:#x} after {p:#x}" for (_, p), (_, v) in
                      zip(rep.ticks, rep.ticks[1:], strict=False) if v < p), None)
    times = [t for t, _ in published]
    unpublished = None
    for t, v in rep.ticks:
        if torn(v):
            continue
        upto = published[max(0, bisect.bisect_right(times, t) - 1)][1]
        if not 1 <= publish_id(v) <= max(upto, k):
            unpublished = f"accepted {v:#x}, which was never published (latest was k={upto})"
            break
    cases = [
        Case("timer-reader/no_torn_read", Outcome.FAIL if first_torn else Outcome.PASS,
             first_torn[0] if first_torn else secs,
             (f"accepted torn tick {first_torn[1]:#x} (time_hi {first_torn[1] >> 32} != time_lo "
              f"{first_torn[1] & M32}), detected after {first_torn[0]:.2f} s; {len(bad)} torn of "
              f"{len(rep.ticks)} accepted") if first_torn else
             f"{len(rep.ticks)} accepted ticks, none torn; {k} publishes"),
        Case("timer-reader/monotonic", Outcome.FAIL if backwards else Outcome.PASS, secs,
             backwards or "accepted ticks never went backwards"),
        Case("timer-reader/freshness", Outcome.FAIL if unpublished else Outcome.PASS, secs,
             unpublished or "every accepted tick had been published"),
    ]
    if first_torn and (ex.code == EXIT_DONE or ex.hung):
        cases.append(Case("timer-reader/exit", Outcome.PASS, secs, ex.describe()))
    else:
        cases.append(exit_case("timer-reader/exit", ex, rep, child, EXIT_DONE, secs))
    spanned = {publish_id(v) for _, v in rep.ticks if not torn(v) and 1 <= publish_id(v) <= k}
    findings = {name for name, hit in (("no_torn_read", first_torn), ("monotonic", backwards),
                                       ("freshness", unpublished)) if hit}
    ev = evidence.timer_reader(opts.reads, len(rep.ticks), len(spanned), left_early)
    return judge(ev, cases, findings, ex, rep, child, secs)


# ------------------------------------------------------------ binary = timer writer
def timer_writer_under_test(rig: Rig, argv: Sequence[str]) -> list[Case]:
    """Read the binary's ticks with the reference seqlock reader, pausing the writer."""
    opts, acc = rig.opts, rig.acc
    rng = random.Random(opts.seed)
    child = rig.launch(argv)
    t0 = time.monotonic()
    rs = tm.ReaderState(max_attempts=200_000)
    problem: str | None = None
    torn_seen: str | None = None
    reads = 0
    seen: set[int] = set()  # publish ids the reads saw: the evidence
    try:
        while child.alive() and time.monotonic() - t0 < opts.seconds:
            if rng.random() < 0.01 and child.pause():
                time.sleep(rng.uniform(0, 0.0005))
                child.resume()
            v = tm.read_seqlock(acc, rs)
            word = acc.load("time64")
            reads += 1
            for name, val in (("time_lo/time_hi", v), ("time64", word)):
                if torn(val) or publish_id(val) > opts.publishes:
                    torn_seen = torn_seen or f"{name} held {val:#x}: not a published k<<32|k"
                elif val:
                    seen.add(publish_id(val))
    except ProtocolViolation as exc:
        problem = str(exc)
    finally:
        child.resume()
    ex = child.finish(opts.timeout_ms / 1000 + 3.0)
    secs = time.monotonic() - t0
    rep = parse_report(child.snapshot())
    final = opts.publishes << 32 | opts.publishes
    end = (acc.load("timer_seq"), acc.load("time_hi") << 32 | acc.load("time_lo"),
           acc.load("time64"), acc.load("tick_ns"))
    end_ok = end[0] % 2 == 0 and end[1] == final and end[2] == final and end[3] > 0
    seen.update(publish_id(v) for v in end[1:3] if v and not torn(v) and v <= final)
    cases = [
        Case("timer-writer/no_torn_publish", Outcome.FAIL if torn_seen else Outcome.PASS, secs,
             torn_seen or f"{reads} seqlock reads, none torn"),
        Case("timer-writer/monotonic", Outcome.FAIL if problem else Outcome.PASS, secs,
             problem or "every read tick >= the previous one"),
        Case("timer-writer/final_value", Outcome.PASS if end_ok else Outcome.FAIL, secs,
             f"seq {end[0]}, tick {end[1]:#x}, time64 {end[2]:#x}, tick_ns {end[3]} "
             f"(expected even seq and {final:#x} in both)"),
        exit_case("timer-writer/exit", ex, rep, child, EXIT_DONE, secs),
    ]
    findings = {name for name, hit in (("no_torn_publish", torn_seen), ("monotonic", problem))
                if hit}
    return judge(evidence.timer_writer(opts.publishes, len(seen)), cases, findings, ex, rep,
                 child, secs)


def run_live(argv: Sequence[str], opts: Options) -> Report:
    """Check the binary ``argv`` in ``opts.role``; ``HandoffError`` if it cannot start.

    Producer and consumer binaries are run twice when ``opts.engine``: against the C
    peer engine, then (unless that already failed) against the Python adversary; the
    cases are merged by name.
    """
    check_binary(argv)
    first: list[Case] = []
    if opts.engine and opts.role in ("consumer", "producer"):
        from intervm.conformance.live_engine import engine_run, merge

        opts = dataclasses.replace(opts, seconds=opts.seconds / 2)
        first = engine_run(argv, opts)
        broken = any(c.outcome is Outcome.FAIL or evidence.is_gate(c) for c in first)
        if broken:
            return Report(f"intervm conformance run --role {opts.role}", tuple(first))
    with Rig(opts) as rig:
        match opts.role:
            case "consumer":
                cases = consumer_under_test(rig, argv)
            case "producer":
                cases = producer_under_test(rig, argv)
            case "timer-reader":
                cases = timer_reader_under_test(rig, argv)
            case "timer-writer":
                cases = timer_writer_under_test(rig, argv)
            case _:
                raise AssertionError(opts.role)
    if first:
        cases = merge(first, cases)
    return Report(f"intervm conformance run --role {opts.role}", tuple(cases))
