"""io_uring SQPOLL: how the application wakes the kernel's submission-queue poller.

The model follows Linux ``io_uring/sqpoll.c`` (``io_sq_thread``) and liburing
``src/queue.c`` (``__io_uring_flush_sq``, ``sq_ring_needs_enter``), as summarized in
coalescing-real-world.md §4:

* **Application (producer, process ``App``).** Publishes each submission by
  advancing the SQ tail (``io_uring_smp_store_release(sq->ktail, tail)``), then a
  full barrier (``io_uring_smp_mb()``, a seq_cst fence), then a relaxed read of
  ``sq_flags``; if ``IORING_SQ_NEED_WAKEUP`` is set it calls
  ``io_uring_enter(IORING_ENTER_SQ_WAKEUP)`` (``Notify``).
* **Kernel SQ thread (consumer, process ``SQ``).** Submits while the ring has
  entries. When idle: ``prepare_to_wait`` (from here a ``wake_up`` is not lost:
  the doorbell ``sq_wait`` is latched), ``atomic_or(NEED_WAKEUP, sq_flags)``,
  ``smp_mb__after_atomic()``, re-checks the SQ tail; still empty: ``schedule()``
  (``Wait``); woken or not empty: ``atomic_andnot(NEED_WAKEUP)`` and back to work.

Variants (bugs from §9 of the reference):

* ``fixed`` — today's code: safe under SC, TSO and PSO.
* ``b9_flag_after_check`` — the SQ thread checked the ring, *then* set the flag and
  slept without re-checking (fixed by 724cb4f9ec90): a submission in between reads
  the flag clear and never enters the kernel. A lost wake-up even under SC.
* ``b7_missing_mb`` — no barrier between setting the flag and re-reading the tail
  (fixed by 649bb75d19c9, which added ``smp_mb()``, today
  ``smp_mb__after_atomic()``). On x86 ``atomic_or`` is a ``lock or``: a locked
  instruction is a full barrier, so under x86-TSO the flag store can *not* pass the
  tail load and the bug is invisible there (variant ``b7_on_x86`` shows the tool
  proving exactly that). ``atomic_or`` returns nothing and is *unordered* in the
  Linux memory model: on arm64 or POWER its store may become visible after the
  later tail load. That is the bug, so this variant models the flag update as it
  behaves on weaker hardware, as a plain store that may sit in a store buffer
  while the tail is loaded; TSO's store buffer then exhibits it (and PSO's).
* ``b7_on_x86`` — the same missing barrier with the flag set by a locked RMW, as
  x86 executes ``atomic_or``: declared (and proved) safe.
* ``b8_liburing_no_mb`` — liburing without ``io_uring_smp_mb()`` in
  ``sq_ring_needs_enter`` (axboe/liburing#541, fixed by 744f4156b25d): the tail
  store-release can still be in the store buffer when the flag is read, so both
  sides read stale values. Lost wake-up under TSO and PSO, not SC.

``no_lost_wakeup`` is the safety property (the application has finished, the SQ
thread sleeps with no wake-up pending, and a submission is waiting);
``eventually_submitted`` its liveness form; two ``Sometimes`` properties show the
interesting states are reachable (so no verdict is vacuous).

Run: ``intervm verify examples/io_uring_sqpoll.py -m sc -m tso``.
"""

from dataclasses import dataclass

from intervm.spec.api import (
    BIT,
    NAT,
    Always,
    Assign,
    At,
    Branch,
    Doorbell,
    Eventually,
    Expr,
    Fence,
    G,
    Ghost,
    Halt,
    L,
    Load,
    Local,
    LocalOf,
    Mem,
    Notify,
    Param,
    ParamDecl,
    Pending,
    Process,
    Protocol,
    Rmw,
    Shared,
    Sometimes,
    Spec,
    Step,
    Store,
    Variant,
    Wait,
    add,
    and_,
    eq,
    ge,
    ne,
    not_,
)

NEED_WAKEUP = 1  # IORING_SQ_NEED_WAKEUP == 1U << 0: sq_flags is one bit here


@dataclass(frozen=True)
class Knobs:
    """What differs between the variants (defaults: the fixed code)."""

    set_flag_then_check: bool = True  # False: B9, check the ring, then set the flag
    kernel_mb: bool = True  # smp_mb__after_atomic() after setting the flag (B7)
    locked_flag_rmw: bool = True  # atomic_or as a locked RMW (x86); False: unordered
    app_mb: bool = True  # io_uring_smp_mb() before reading sq_flags (B8)


def application(k: Knobs) -> Process:
    """liburing: io_uring_submit() for each of REQUESTS submissions."""
    steps = [
        Step("next", Branch(ge(L("n"), Param("requests")), "done"),
             doc="all submissions made: stop"),
        Step("publish", Store("sq_tail", add(L("n"), 1)), set=(("n", add(L("n"), 1)),),
             ghost=(("submitted", add(G("submitted"), 1)),),
             doc="io_uring_smp_store_release(sq->ktail, tail)"),
    ]
    if k.app_mb:
        steps.append(Step("mb", Fence(), doc="io_uring_smp_mb() in sq_ring_needs_enter"))
    steps += [
        Step("flags", Load("f", "sq_flags"), branch=(eq(L("f"), 0), "next"),
             doc="IO_URING_READ_ONCE(*sq->kflags): NEED_WAKEUP clear, no syscall"),
        Step("enter", Notify("sq_wait"), then="next",
             ghost=(("enters", add(G("enters"), 1)),),
             doc="io_uring_enter(IORING_ENTER_SQ_WAKEUP): wake_up(&sqd->wait)"),
        Step("done", Halt(), doc="the application has submitted everything"),
    ]
    return Process("App", locals=(Local("n", NAT), Local("f", BIT)), steps=tuple(steps))


def sq_thread(k: Knobs) -> Process:
    """The kernel's io_sq_thread, one ring."""
    empty = eq(L("t"), L("h"))

    def flag(label: str, value: int, doc: str, then: str | None = None,
             ghost: tuple[tuple[str, Expr], ...] = ()) -> Step:
        """atomic_or / atomic_andnot on sq_flags: locked (x86) or unordered."""
        op = (Rmw("old", "sq_flags", value) if k.locked_flag_rmw
              else Store("sq_flags", value))
        return Step(label, op, then=then, ghost=ghost, doc=doc)

    steps = [
        Step("poll", Load("t", "sq_tail"),
             branch=(empty, "set_flag" if k.set_flag_then_check else "idle"),
             doc="smp_load_acquire(&sq.tail): no entries, go idle"),
        Step("submit", Assign((("h", add(L("h"), 1)),)), progress=True, then="poll",
             ghost=(("consumed", add(G("consumed"), 1)),),
             doc="io_submit_sqes: consume one entry"),
    ]
    if k.set_flag_then_check:
        steps.append(flag("set_flag", NEED_WAKEUP,
                          ghost=(("sleeps", add(G("sleeps"), 1)),),
                          doc="prepare_to_wait; atomic_or(NEED_WAKEUP, sq_flags)"))
        if k.kernel_mb:
            steps.append(Step("mb", Fence(), doc="smp_mb__after_atomic()"))
        steps += [
            Step("recheck", Load("t", "sq_tail"), branch=(empty, "sleep"),
                 doc="io_sqring_entries(ctx): still empty, schedule()"),
            flag("unset", 0, then="submit",
                 doc="entries arrived: atomic_andnot(NEED_WAKEUP), finish_wait"),
        ]
    else:
        # before 724cb4f9ec90: the emptiness check came first, then the flag
        steps.append(Step("idle", Load("t", "sq_tail"), branch=(ne(L("t"), L("h")), "submit"),
                          doc="the old code's last look at the ring"))
        steps.append(flag("set_flag", NEED_WAKEUP,
                          ghost=(("sleeps", add(G("sleeps"), 1)),),
                          doc="atomic_or(NEED_WAKEUP) after the check, no re-check"))
        if k.kernel_mb:
            steps.append(Step("mb", Fence(), doc="smp_mb__after_atomic()"))
    steps += [
        Step("sleep", Wait("sq_wait"), doc="schedule(): until io_uring_enter wakes us"),
        flag("wake", 0, then="poll", doc="woken: atomic_andnot(NEED_WAKEUP)"),
    ]
    return Process("SQ", locals=(Local("h", NAT), Local("t", NAT), Local("old", BIT)),
                   steps=tuple(steps))


def build(k: Knobs) -> Spec:
    """The SQPOLL spec for one variant's knobs."""
    waiting = ne(Mem("sq_tail"), LocalOf("SQ", "h"))
    return Spec(
        "io_uring_sqpoll",
        shared=(Shared("sq_tail", NAT, doc="SQ ring tail, written by the application"),
                Shared("sq_flags", BIT, doc="IORING_SQ_NEED_WAKEUP")),
        ghosts=(Ghost("submitted", NAT, doc="submissions published"),
                Ghost("consumed", NAT, doc="entries consumed by the SQ thread"),
                Ghost("enters", NAT, doc="io_uring_enter(SQ_WAKEUP) calls"),
                Ghost("sleeps", NAT, doc="times the SQ thread set NEED_WAKEUP")),
        doorbells=(Doorbell("sq_wait", latched=True,
                            doc="sqd->wait: a wake_up after prepare_to_wait is kept"),),
        processes=(application(k), sq_thread(k)),
        properties=(
            Always("no_lost_wakeup",
                   not_(and_(At("App", "done"), At("SQ", "sleep"),
                             not_(Pending("sq_wait")), waiting)),
                   doc="never: the application is done, the SQ thread sleeps with no "
                       "wake-up pending, and a submission waits"),
            Eventually("eventually_submitted", waiting,
                       doc="every published submission is eventually consumed"),
            Sometimes("sleeps_after_work", and_(At("SQ", "sleep"), ge(G("consumed"), 1)),
                      doc="the SQ thread goes idle after consuming work"),
            Sometimes("wakeup_entered", ge(G("enters"), 1),
                      doc="the application enters the kernel to wake the SQ thread"),
        ),
        params=(ParamDecl("requests", 2, minimum=0, symbolic_ok=True,
                          doc="submissions the application makes"),),
        doc=__doc__ or "",
    )


WEAK = frozenset({"tso", "pso"})
ALL = frozenset({"sc", "tso", "pso"})
LOST = ("no_lost_wakeup", "eventually_submitted")

io_uring_sqpoll = Protocol(
    name="io_uring_sqpoll",
    doc="io_uring SQPOLL wake-up: NEED_WAKEUP flag, barriers on both sides, wait queue.",
    build=build,
    variants=(
        Variant("fixed", Knobs(),
                "atomic_or + smp_mb__after_atomic + re-check; store-release + "
                "io_uring_smp_mb + flag read (Linux and liburing today)"),
        Variant("b9_flag_after_check", Knobs(set_flag_then_check=False),
                "flag set after the emptiness check, no re-check (before 724cb4f9ec90)",
                violated={p: ALL for p in LOST}),
        Variant("b7_missing_mb", Knobs(kernel_mb=False, locked_flag_rmw=False),
                "no barrier after setting the flag, with atomic_or unordered as on "
                "arm64/POWER (before 649bb75d19c9)",
                violated={p: WEAK for p in LOST}),
        Variant("b7_on_x86", Knobs(kernel_mb=False),
                "the same missing barrier on x86: atomic_or is a locked RMW, itself a "
                "full barrier, so nothing is lost"),
        Variant("b8_liburing_no_mb", Knobs(app_mb=False),
                "liburing without io_uring_smp_mb() in sq_ring_needs_enter "
                "(liburing#541, before 744f4156b25d)",
                violated={p: WEAK for p in LOST}),
    ),
    finite_params={"requests": 2},
    unbounded_params={"requests": None},
)
