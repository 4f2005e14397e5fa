"""The shared-timer protocol (US 8,468,524): one declaration, every real-world variant as knobs.

A timer VM (writer ``W``) handles the hardware tick and publishes a w-bit tick
count in shared memory; a submitter VM (``S``) reads it when it enqueues an I/O
request, the completer VM (``C``) reads it when the request is done, and the
latency is ``c - s`` modulo 2^w. The true time is the ghost ``now``, advanced by
an environment process ``clock`` at most ``lag`` ticks ahead of the last
completed publish and at most ``ticks`` times after ``start`` (bounded time;
leave ``ticks`` symbolic for unbounded proofs).

**Ticks per publish.** With ``burst`` K = 1 (the periodic tick) one publish adds one
tick. With K > 1 the tick owner may idle with its tick stopped (NO_HZ) while up to
K ticks pass, then add up to K of the elapsed ticks in one publish, as Linux's
``tick_do_update_jiffies64`` does after idle (timer-real-world.md §1.4; §3, K).
While it idles the true time runs up to max(lag, K) ticks ahead of the page; P2
and P6 are stated against ``lag``, so they need lag >= K.

>>> from intervm.spec.timer import TimerKnobs, build
>>> spec = build(TimerKnobs())
>>> [s.label for s in spec.process("W").steps]
['begin', 'mid', 'wmb1', 'st_lo', 'st_hi', 'wmb2', 'end', 'iret', 'irq', 'off']
>>> [s.label for s in spec.process("C").steps]
['wait', 'seq0', 'seq', 'ld_lo', 'ld_hi', 'recheck', 'use', 'reply']

**Tags.** Every shared word stores the tick count ``t`` (a natural number) of the
publish that wrote it; a reader only uses the word's own bits (``t mod 2^lo_bits``
for the low word, ``t - t mod 2^lo_bits`` for the high word, the whole value mod
2^w). This is exactly "w-bit words plus a ghost publish id that travels with each
store through the store buffer" (timer-real-world.md §3 P1: tag every store with
its publish number), without a ghost that a store buffer could not carry. The
sequence word is tagged the same way: the reader compares sequences modulo 2^v
(``seq_bits``), and a read accepted on equal v-bit sequences whose tags differ is
an ABA (P8). The shared page starts zeroed (tag 0, "pre-initialisation") and the
count starts at ``start`` (default 2^w - 1, one tick below the wrap, as Linux's
``INITIAL_JIFFIES``), so ``start >= 1`` tells initialised words from junk (P10).

**Memory models.** Loads are never reordered with loads in this model (TSO, and
the engines' PSO, keep loads in order), so a seqlock *reader* without read
barriers (V4a) is not expressible here; only the writer's store order varies.
The writer ends every publish with a full fence: the timer interrupt returns with
``iret``, which is serializing on x86, so a completed publish is visible.
"""

from __future__ import annotations

from dataclasses import dataclass

from intervm.spec.expr import (
    FALSE,
    TRUE,
    At,
    Const,
    Expr,
    G,
    L,
    Mem,
    Param,
    add,
    and_,
    eq,
    ge,
    gt,
    ite,
    le,
    lt,
    mod,
    ne,
    not_,
    or_,
    sub,
)
from intervm.spec.syntax import (
    BIT,
    NAT,
    Always,
    Assign,
    Await,
    Choose,
    Doorbell,
    Eventually,
    Fence,
    Ghost,
    Halt,
    Load,
    Local,
    Notify,
    ParamDecl,
    Process,
    Property,
    Shared,
    Sometimes,
    Spec,
    Step,
    Store,
    Wait,
)

MAX_COUNT = 1 << 40  # ticks, reads, lag: more than any recorded trace needs (check-trace's bound)

ZERO = Const(0)
NONE = Const(-1)
GUARDS = ("none", "hi_lo_hi", "seqlock", "bump_end", "hyperv")
LAYOUTS = ("single", "split")


@dataclass(frozen=True, slots=True)
class TimerKnobs:
    """The variation points of the shared-timer protocol (defaults: the full seqlock).

    layout: "single" — one word ``T`` written by one store (a 64-bit jiffies, or a
        hardware counter whose halves change together); "split" — two words
        ``lo``/``hi`` written by two stores.
    guard: how a reader gets a consistent value — "none" (plain loads), "hi_lo_hi"
        (read hi, lo, hi; retry if hi changed), "seqlock" (odd/even version),
        "bump_end" (the version is raised once, after the data), "hyperv"
        (version 0 = invalid: invalidate, publish, revalidate; readers fall back).
    odd_check: the seqlock reader waits while the version is odd.
    store_fences: store fences (smp_wmb) between version and data stores.
    hi_first: the writer stores the high word before the low word.
    writers: 1, or 2 unserialized writers (each does ``seq++`` from memory).
    skip_zero: the Hyper-V writer skips the invalid version 0 when it wraps.
    naive_latency: the completer computes ``c - s`` without reducing modulo 2^w
        (an absolute comparison across the wrap).
    counter_bits: w, the width of the published count.
    lo_bits: the width of the low word (split layout and hi-lo-hi).
    seq_bits: v, the width of the version; None = never wraps (unbounded).
    start: the count at boot; None = 2^w - 1, one tick below the wrap.
    preinit: the page already holds the count ``start`` (version 0) when the VMs
        start, so writers begin at their first tick (used to keep the two-writer
        state space small; pre-initialisation reads are then impossible).
    burst: K, the most ticks one publish may add (1: periodic; more: catch-up after a
        NO_HZ idle period, during which the true time may run K ticks ahead).
    """

    layout: str = "split"
    guard: str = "seqlock"
    odd_check: bool = True
    store_fences: bool = True
    hi_first: bool = False
    writers: int = 1
    skip_zero: bool = True
    naive_latency: bool = False
    counter_bits: int = 3
    lo_bits: int = 2
    seq_bits: int | None = 3
    start: int | None = None
    preinit: bool = False
    burst: int = 1


class _Builder:
    def __init__(self, k: TimerKnobs):
        if k.layout not in LAYOUTS:
            raise ValueError(f"layout {k.layout!r} is not one of {', '.join(LAYOUTS)}")
        if k.guard not in GUARDS:
            raise ValueError(f"guard {k.guard!r} is not one of {', '.join(GUARDS)}")
        if not 0 < k.lo_bits < k.counter_bits:
            raise ValueError("lo_bits must be between 1 and counter_bits - 1")
        if k.writers not in (1, 2):
            raise ValueError("writers must be 1 or 2")
        if k.burst < 1:
            raise ValueError("burst (ticks per publish) must be at least 1")
        self.k = k
        self.M = 1 << k.counter_bits
        self.LO = 1 << k.lo_bits
        self.start = self.M - 1 if k.start is None else k.start
        if self.start < 1:
            raise ValueError("start must be >= 1 so that initialised words differ from junk")
        self.has_seq = k.guard in ("seqlock", "bump_end", "hyperv")
        self.writer_names = ["W"] if k.writers == 1 else ["W1", "W2"]

    # ------------------------------------------------------------------ helpers

    def seqv(self, e: Expr) -> Expr:
        """The version as a reader sees it: its low v bits."""
        bits = self.k.seq_bits
        return e if bits is None else mod(e, 1 << bits)

    def lo_part(self, tag: Expr) -> Expr:
        return mod(tag, self.LO)

    def hi_part(self, tag: Expr) -> Expr:
        return sub(tag, mod(tag, self.LO))

    def value(self, a: Expr, b: Expr) -> Expr:
        """The w-bit value a reader assembles from low-word tag ``a``, high-word tag ``b``."""
        return mod(add(self.hi_part(b), self.lo_part(a)), self.M)

    # ------------------------------------------------------------------ writer

    def writer(self, name: str, one_shot: bool = False) -> Process:
        """A timer-interrupt writer; ``one_shot``: a second writer context (a settime
        path, or a CPU that also took the tick duty) that handles one tick, then stops."""
        k = self.k
        shared_seq_rmw = k.writers > 1 and self.has_seq
        locs = [Local("t", NAT, init=self.start), Local("s", NAT)]
        steps: list[Step] = []
        wmb = k.store_fences
        begin_ghost: tuple[tuple[str, Expr], ...] = (("writing", add(G("writing"), 1)),)
        if k.guard == "hyperv":
            begin_ghost += (("pub", L("t")),)
        first: list[Step] = []
        if k.guard == "seqlock":
            if shared_seq_rmw:
                first.append(Step("begin", Load("s", "seq"), ghost=begin_ghost,
                                  doc="seq++ (load): enter the update"))
                first.append(Step("odd", Store("seq", add(L("s"), 1)),
                                  set=(("s", add(L("s"), 1)),),
                                  doc="seq++ (store): version odd, update in progress"))
            else:
                first.append(Step("begin", Store("seq", add(L("s"), 1)),
                                  set=(("s", add(L("s"), 1)),), ghost=begin_ghost,
                                  doc="raise the version to odd: update in progress"))
        elif k.guard == "hyperv":
            first.append(Step("begin", Store("seq", ZERO), ghost=begin_ghost,
                              doc="invalidate: version 0, readers fall back"))
        data: list[tuple[str, str]] = (
            [("st", "T")] if k.layout == "single"
            else ([("st_hi", "hi"), ("st_lo", "lo")] if k.hi_first
                  else [("st_lo", "lo"), ("st_hi", "hi")])
        )
        data_steps = [Step(lbl, Store(var, L("t")), doc=f"store the count into {var}")
                      for lbl, var in data]
        if not first:  # the first data store opens the update
            d0 = data_steps.pop(0)
            first.append(Step("begin", d0.op, ghost=begin_ghost, doc=d0.doc))
        steps += first
        rest: list[Step] = []
        if wmb and k.guard in ("seqlock", "hyperv"):
            rest.append(Step("wmb1", Fence("store"), doc="version before data (smp_wmb)"))
        rest += data_steps
        if wmb and self.has_seq:
            rest.append(Step("wmb2", Fence("store"), doc="data before version (smp_wmb)"))
        if k.guard == "seqlock":
            if shared_seq_rmw:
                rest.append(Step("eld", Load("s", "seq"), doc="seq++ (load): leave the update"))
            rest.append(Step("end", Store("seq", add(L("s"), 1)), set=(("s", add(L("s"), 1)),),
                             doc="raise the version to even: update complete"))
        elif k.guard == "bump_end":
            rest.append(Step("end", Store("seq", add(L("s"), 1)), set=(("s", add(L("s"), 1)),),
                             doc="raise the version once, after the data"))
        elif k.guard == "hyperv":
            nxt = add(L("s"), 1)
            if k.skip_zero:
                nxt = ite(eq(self.seqv(nxt), 0), add(L("s"), 2), nxt)
            rest.append(Step("end", Store("seq", nxt), set=(("s", nxt),),
                             doc="revalidate with the next version" +
                                 (" (skipping 0)" if k.skip_zero else "")))
        rest.append(Step("iret", Fence("full"), then="fin" if one_shot else "irq",
                         ghost=(("done", ite(gt(L("t"), G("done")), L("t"), G("done"))),
                                ("writing", sub(G("writing"), 1))),
                         doc="return from the interrupt (iret is serializing): published"))
        irq = Step("irq", Await(gt(G("now"), L("t"))), set=(("t", add(L("t"), 1)),),
                   then="begin", doc="timer interrupt: account one more tick")
        if k.burst > 1:  # NO_HZ catch-up: add any j <= K of the elapsed ticks
            irq = Step("irq", Choose(tuple((ge(G("now"), add(L("t"), j)), f"add{j}")
                                           for j in range(1, k.burst + 1))),
                       doc="timer interrupt after idle: choose how many of the elapsed "
                           f"ticks to account (at most {k.burst})")
        catch_up = [Step(f"add{j}", Assign((("t", add(L("t"), j)),)), then="begin",
                         doc=f"account {j} tick{'s' if j > 1 else ''} in this publish")
                    for j in range(1, k.burst + 1)] if k.burst > 1 else []
        if not one_shot:
            rest += [irq, *catch_up]
        if not one_shot:
            steps.append(Step("mid", Choose(((TRUE, rest[0].label), (TRUE, "off"))),
                              doc="the writer may be preempted here for good (L2)"))
        steps += rest
        if not one_shot:
            steps.append(Step("off", Halt(), doc="preempted mid-update, never runs again"))
        if one_shot:
            steps = [irq, *catch_up, *steps,
                     Step("fin", Halt(), doc="the one-shot writer is done")]
        elif k.preinit:  # the page is initialised: wait for the first tick
            steps = [irq, *catch_up, *[s for s in steps if s not in (irq, *catch_up)]]
        return Process(name, locals=tuple(locs), steps=tuple(steps),
                       doc="the timer VM: publishes the tick count on every timer interrupt")

    # ------------------------------------------------------------------ readers

    def accept(self, who: str, v: Expr, a: Expr, b: Expr, nb: Expr,
               aba: Expr) -> tuple[tuple[str, Expr], ...]:
        """Ghost updates when reader ``who`` accepts value ``v`` read from words tagged
        ``a`` (low) and ``b`` (high); the read began at time ``nb``."""
        M, start, lag = self.M, self.start, Param("lag")
        init_ok = and_(ge(a, start), ge(b, start))
        torn = and_(ne(mod(sub(v, a), M), 0), ne(mod(sub(v, b), M), 0))
        span_ok = lt(sub(G("now"), start), M // 2)
        own, other = ("gs", "gc") if who == "S" else ("gc", "gs")

        def flag(name: str, cond: Expr) -> tuple[str, Expr]:
            return (name, ite(or_(eq(G(name), 1), cond), 1, 0))

        def backwards(prev: str) -> Expr:
            return and_(init_ok, ge(G(prev), 0), span_ok,
                        ge(mod(sub(v, G(prev)), M), M // 2))

        ups: list[tuple[str, Expr]] = [
            flag("bad_torn", and_(init_ok, torn)),
            flag("bad_uninit", not_(init_ok)),
            flag("bad_stale", and_(init_ok, gt(mod(sub(v, sub(nb, lag)), M),
                                               add(sub(G("now"), nb), lag)))),
            flag("bad_mono", backwards(own)),
            flag("bad_cross", backwards(other)),
            flag("bad_aba", and_(init_ok, aba)),
            (own, ite(init_ok, v, -1)),
        ]
        if who == "S":
            ups += [("nb_S", nb), ("ne_S", G("now")),
                    ("st", ite(and_(init_ok, not_(torn)), a, -1))]
            return tuple(ups)
        s = G("gs")
        m = sub(v, s) if self.k.naive_latency else mod(sub(v, s), M)
        negative = lt(m, 0) if self.k.naive_latency else ge(m, M // 2)
        low = sub(sub(nb, G("ne_S")), lag)
        high = add(sub(G("now"), G("nb_S")), lag)
        have = and_(init_ok, ge(s, 0))
        d = sub(a, G("st"))
        ups += [
            flag("bad_neg_latency", and_(have, span_ok, negative)),
            flag("bad_latency_bound", and_(have, or_(lt(m, low), gt(m, high)))),
            flag("latency_tight", and_(have, eq(m, high))),
            flag("bad_wrap", and_(have, not_(torn), ge(G("st"), 0), ge(d, 0), lt(d, M),
                                  ne(m, d))),
            flag("wrapped", and_(have, lt(v, s))),
            ("nb_S", ZERO), ("ne_S", ZERO), ("st", NONE),
        ]
        return tuple(ups)

    def read_steps(self, who: str, cont: str) -> tuple[list[Step], list[str]]:
        """The read procedure of reader ``who``, continuing at ``cont``; also the labels
        during which a read is in progress."""
        k = self.k
        now = G("now")
        single = k.layout == "single"
        lo_var, hi_var = ("T", "T") if single else ("lo", "hi")
        begin = (("nb_" + who, now),)
        steps: list[Step] = []
        done_set: tuple[tuple[str, Expr], ...] = (
            (("n", add(L("n"), 1)),) if who == "S" else ()
        )
        use_doc = "accept the value: the read is complete"
        if k.guard == "none":
            if single:
                steps.append(Step("ld", Load("a", "T"), then=cont, progress=True,
                                  set=(("b", L("a")), *done_set),
                                  ghost=self.accept(who, mod(L("a"), self.M), L("a"), L("a"),
                                                    now, FALSE),
                                  doc="read the count (one load)"))
            else:
                steps.append(Step("ld_lo", Load("a", "lo"), ghost=begin, doc="read the low word"))
                steps.append(Step("ld_hi", Load("b", "hi"), then=cont, progress=True,
                                  set=done_set,
                                  ghost=self.accept(who, self.value(L("a"), L("b")), L("a"),
                                                    L("b"), G("nb_" + who), FALSE),
                                  doc="read the high word and use lo/hi"))
            return steps, [s.label for s in steps]
        if k.guard == "hi_lo_hi":
            changed = ne(mod(self.hi_part(L("b")), self.M), mod(self.hi_part(L("s2")), self.M))
            steps += [
                Step("hi0", Load("b", hi_var), ghost=begin, then="ld_lo", doc="read hi"),
                Step("hi1", Load("b", hi_var), doc="read hi (retry)"),
                Step("ld_lo", Load("a", lo_var), doc="read lo"),
                Step("hi2", Load("s2", hi_var), branch=(changed, "hi1"),
                     doc="read hi again; changed: retry"),
                Step("use", Assign(()), then=cont, progress=True, set=done_set,
                     ghost=self.accept(who, self.value(L("a"), L("b")), L("a"), L("b"),
                                       G("nb_" + who),
                                       ne(self.hi_part(L("b")), self.hi_part(L("s2")))),
                     doc=use_doc),
            ]
            return steps, [s.label for s in steps]
        # version-protected guards
        odd = eq(mod(L("s1"), 2), 1)
        if k.guard == "seqlock" and k.odd_check:
            wait_cond: Expr | None = odd
            wait_target = "seq"
        elif k.guard == "hyperv":
            wait_cond = eq(self.seqv(L("s1")), 0)
            wait_target = "fallback"
        else:
            wait_cond = None
            wait_target = ""
        data = [("ld_lo", "a", lo_var), ("ld_hi", "b", hi_var)]
        steps.append(Step("seq0", Load("s1", "seq"), ghost=begin, then=data[0][0],
                          branch=None if wait_cond is None else (wait_cond, wait_target),
                          doc="read the version"))
        steps.append(Step("seq", Load("s1", "seq"),
                          branch=None if wait_cond is None else (wait_cond, wait_target),
                          doc="read the version (retry)"))
        for lbl, dst, var in data:
            steps.append(Step(lbl, Load(dst, var), doc=f"read {var}"))
        steps.append(Step("recheck", Load("s2", "seq"),
                          branch=(ne(self.seqv(L("s1")), self.seqv(L("s2"))), "seq"),
                          doc="read the version again; changed: retry"))
        steps.append(Step("use", Assign(()), then=cont, progress=True, set=done_set,
                          ghost=self.accept(who, self.value(L("a"), L("b")), L("a"), L("b"),
                                            G("nb_" + who), ne(L("s1"), L("s2"))),
                          doc=use_doc))
        if k.guard == "hyperv":
            steps.append(Step("fallback", Assign(()), then=cont, progress=True, set=done_set,
                              ghost=self.accept(who, mod(G("pub"), self.M), G("pub"), G("pub"),
                                                G("nb_" + who), FALSE),
                              doc="version 0: read the hypervisor's count (the reference "
                                  "counter MSR) instead"))
        return steps, [s.label for s in steps]

    def submitter(self) -> tuple[Process, list[str]]:
        steps, reading = self.read_steps("S", "send")
        first = steps[0].label
        steps += [
            Step("send", Notify("req"), set=self._clear(),
                 doc="enqueue the request, the time stamp in its header"),
            Step("back", Wait("cpl"), branch=(lt(L("n"), Param("reads")), first),
                 doc="wait for the completion; more requests: read the time again"),
            Step("fin", Halt()),
        ]
        return Process("S", locals=self._reader_locals(True), steps=tuple(steps),
                       doc="the submitter VM: reads the shared time when it enqueues"), reading

    def completer(self) -> tuple[Process, list[str]]:
        steps, reading = self.read_steps("C", "reply")
        steps = [Step("wait", Wait("req"), doc="wait for a request"), *steps]
        steps.append(Step("reply", Notify("cpl"), set=self._clear(), then="wait",
                          doc="complete the request"))
        return Process("C", locals=self._reader_locals(False), steps=tuple(steps),
                       doc="the completer VM: reads the shared time when the I/O is done "
                           "and computes latency = c - s"), reading

    def _reader_locals(self, counter: bool) -> tuple[Local, ...]:
        out = [Local("a", NAT), Local("b", NAT)]
        if self.k.guard != "none":
            out.append(Local("s2", NAT))
        if self.has_seq:
            out.append(Local("s1", NAT))
        if counter:
            out.append(Local("n", NAT))
        return tuple(out)

    def _clear(self) -> tuple[tuple[str, Expr], ...]:
        names = ["a", "b"] + (["s2"] if self.k.guard != "none" else []) + (
            ["s1"] if self.has_seq else [])
        return tuple((n, ZERO) for n in names)

    # ------------------------------------------------------------------ clock

    def clock(self) -> Process:
        ahead: Expr = Param("lag")
        if self.k.burst > 1:  # the owner idles while up to K ticks pass: max(lag, K)
            ahead = ite(gt(Param("lag"), self.k.burst), Param("lag"), self.k.burst)
        can = and_(lt(G("now"), add(self.start, Param("ticks"))),
                   lt(G("now"), add(G("done"), ahead)))
        return Process("clock", steps=(
            Step("tick", Await(can), ghost=(("now", add(G("now"), 1)),), then="tick",
                 doc="a hardware tick: true time advances (at most "
                     f"{'lag' if self.k.burst == 1 else 'max(lag, burst)'} ahead of the "
                     "last completed publish)"),
        ), doc="the environment: the true tick counter")

    # ------------------------------------------------------------------ whole spec

    def spec(self) -> Spec:
        k = self.k
        shared: list[Shared] = []
        page = self.start if k.preinit else 0
        if k.layout == "single":
            shared.append(Shared("T", NAT, init=page,
                                 doc="the published count (tagged with its tick)"))
        else:
            shared.append(Shared("lo", NAT, init=page,
                                 doc=f"low {k.lo_bits} bits of the count (tagged)"))
            shared.append(Shared("hi", NAT, init=page, doc="high bits of the count (tagged)"))
        if self.has_seq:
            shared.append(Shared("seq", NAT, doc=f"the version (tagged; readers use "
                                                 f"{k.seq_bits or 'all'} bits)"))
        bits = [
            ("bad_torn", "an accepted value mixes words of different publishes"),
            ("bad_uninit", "an accepted value used pre-initialisation contents"),
            ("bad_stale", "an accepted value was older than lag or from the future"),
            ("bad_mono", "a reader's value went backwards"),
            ("bad_cross", "a value went backwards from one reader to the next"),
            ("bad_aba", "a read was accepted on a wrapped version"),
            ("bad_neg_latency", "a latency came out negative"),
            ("bad_latency_bound", "a latency was outside the lag bound"),
            ("latency_tight", "a latency met the upper lag bound exactly"),
            ("bad_wrap", "a latency differed from the true difference below 2^w"),
            ("wrapped", "a latency was computed across the wrap"),
        ]
        ghosts = [
            Ghost("now", NAT, init=self.start, doc="the true tick count"),
            Ghost("done", NAT, init=self.start - (0 if k.preinit else 1),
                  doc="count of the last completed publish"),
            Ghost("writing", NAT, doc="writers inside the publish sequence"),
            Ghost("pub", NAT, init=self.start,
                  doc="the count being published (what the hypervisor's MSR returns)"),
            Ghost("nb_S", NAT, doc="time the submitter's read began"),
            Ghost("ne_S", NAT, doc="time the submitter's read ended"),
            Ghost("nb_C", NAT, doc="time the completer's read began"),
            Ghost("gs", NAT, init=-1, doc="the submitter's last value (-1: none)"),
            Ghost("gc", NAT, init=-1, doc="the completer's last value (-1: none)"),
            Ghost("st", NAT, init=-1, doc="the submitter's word tag (-1: torn or none)"),
            *[Ghost(n, BIT, doc=d) for n, d in bits],
        ]
        s_proc, s_reading = self.submitter()
        c_proc, c_reading = self.completer()
        procs = [self.clock(), *[self.writer(n, one_shot=i > 0)
                                  for i, n in enumerate(self.writer_names)], s_proc, c_proc]
        reading = or_(*[At("S", lbl) for lbl in s_reading],
                      *[At("C", lbl) for lbl in c_reading])
        running = not_(At("W" if k.writers == 1 else "W1", "off"))
        idle = ["irq", *[f"add{j}" for j in range(1, k.burst + 1) if k.burst > 1]]
        at_rest = and_(*[or_(*[At(w, lbl) for lbl in idle], *([At(w, "fin")] if i else []))
                         for i, w in enumerate(self.writer_names)])
        if k.guard == "seqlock":
            sentinel: Expr = eq(mod(Mem("seq"), 2), 1)
        elif k.guard == "hyperv":
            sentinel = eq(self.seqv(Mem("seq")), 0)
        else:
            sentinel = FALSE
        props: tuple[Property, ...] = (
            Always("no_torn_read", eq(G("bad_torn"), 0),
                   doc="no accepted time value mixes words of different publishes (P1)"),
            Always("bounded_staleness", eq(G("bad_stale"), 0),
                   doc="every accepted value lies between the true time minus the lag bound "
                       "when the read began and the true time when it ended (P2)"),
            Always("reader_monotonic", eq(G("bad_mono"), 0),
                   doc="a reader's successive values never go backwards (P3)"),
            Always("cross_reader_monotonic", eq(G("bad_cross"), 0),
                   doc="a read that begins after another VM's read ended never returns a "
                       "smaller value (P4)"),
            Always("latency_nonnegative", eq(G("bad_neg_latency"), 0),
                   doc="the completer never computes a negative latency (P5)"),
            Always("latency_within_lag", eq(G("bad_latency_bound"), 0),
                   doc="every latency lies within the lag bound of the true time between "
                       "the two reads (P6)"),
            Always("wrap_safe_latency", eq(G("bad_wrap"), 0),
                   doc="the modular latency equals the true tick difference whenever that "
                       "difference is below 2^w, across the wrap too (P7a)"),
            Always("no_sentinel_at_rest", not_(and_(at_rest, sentinel)),
                   doc="when no writer is updating, the version is not a sentinel the "
                       "count produced by itself (odd = busy, 0 = invalid) (P7c)"),
            Always("no_sequence_aba", eq(G("bad_aba"), 0),
                   doc="no read is accepted because the version wrapped back to the value "
                       "it had when the read began (P8)"),
            Always("no_uninitialised_read", eq(G("bad_uninit"), 0),
                   doc="no accepted value uses the shared page's pre-initialisation "
                       "contents (P10)"),
            Always("single_writer", le(G("writing"), 1),
                   doc="at most one writer is inside the publish sequence at a time (P11)"),
            Eventually("reader_progress", and_(reading, running),
                       doc="a started read eventually completes while the writer keeps "
                           "running (L1)"),
            Eventually("progress_despite_preemption", reading,
                       doc="a started read eventually completes even if the writer is "
                           "preempted for good mid-update (L2)"),
            Sometimes("read_accepted", At("C", "reply"),
                      doc="the completer finishes a request"),
            Sometimes("latency_bound_reached", eq(G("latency_tight"), 1),
                      doc="a latency reaches the upper lag bound: the bound is tight (P6)"),
            Sometimes("latency_across_wrap", eq(G("wrapped"), 1),
                      doc="a latency is computed across the wrap of the count (P7)"),
        )
        params = (
            ParamDecl("ticks", 2, minimum=0, symbolic_ok=True, maximum=MAX_COUNT,
                      doc="hardware ticks after boot (bounded time)"),
            ParamDecl("lag", 1, minimum=1, symbolic_ok=True, maximum=MAX_COUNT,
                      doc="Δ: the true time runs at most this far ahead of the last "
                          "completed publish"),
            ParamDecl("reads", 1, minimum=1, symbolic_ok=True, maximum=MAX_COUNT,
                      doc="I/O requests the submitter sends"),
        )
        return Spec(
            name="timer",
            shared=tuple(shared),
            ghosts=tuple(ghosts),
            doorbells=(Doorbell("req", doc="submission: the request reaches the completer"),
                       Doorbell("cpl", doc="completion: the reply reaches the submitter")),
            processes=tuple(procs),
            properties=props,
            params=params,
            doc=__doc__ or "",
        )



def build(knobs: TimerKnobs) -> Spec:
    """The shared-timer spec for ``knobs``."""
    return _Builder(knobs).spec()
