"""The interrupt-coalescing protocol: one declaration, every real-world variant as knobs.

A producer VM publishes requests into a shared ring (``slots``, ``tail``); the
consumer VM (running, ACTIVE, at the start), drains the ring, and when it finds it empty sets ``flag`` to SLEEPING, fences,
re-checks ``tail`` and blocks; woken by a hypervisor interrupt (doorbell ``irq``), it sets ``flag`` to
ACTIVE and drains again. The producer notifies only when it reads SLEEPING.
The event-index form (Xen ``req_event``, virtio ``used_event``/``avail_event``)
replaces the flag by an index and the test by ``need_event``.

>>> from intervm.spec.coalescing import Knobs, build
>>> spec = build(Knobs())
>>> [s.label for s in spec.process("C").steps]
['drain', 'read', 'pop', 'arm', 'cfence', 'recheck', 'unarm', 'block', 'wake']

Request ``i`` (0-based) carries the payload ``i + 1``; the consumer checks that the
slot it reads holds the payload published for that index (``no_unpublished_read``)
and that it delivers payloads 1, 2, 3 … in order (``fifo``).
"""

from __future__ import annotations

from dataclasses import dataclass

from intervm.spec.expr import (
    At,
    Const,
    Expr,
    G,
    L,
    LocalOf,
    Mem,
    Param,
    Pending,
    add,
    and_,
    eq,
    ge,
    ite,
    le,
    lt,
    mod,
    ne,
    not_,
    or_,
    sub,
)
from intervm.spec.layout import MAX_CAPACITY
from intervm.spec.syntax import (
    BIT,
    NAT,
    Always,
    Assign,
    Bits,
    Branch,
    Choose,
    Domain,
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
    Rmw,
    Shared,
    Sometimes,
    Spec,
    Step,
    Store,
    Wait,
)

MAX_REQUESTS = 1 << 40  # more than any recorded trace makes (check-trace's default bound)

ACTIVE = 0
SLEEPING = 1


@dataclass(frozen=True, slots=True)
class Knobs:
    """The variation points of the coalescing protocol (defaults: the correct one).

    producer_fence: "full" | "store" | "none", between publishing tail and reading
        the flag (or event index).
    consumer_fence: "full" | "none", between arming and re-checking tail.
    recheck: whether the consumer re-reads tail after arming.
    check_then_arm: the consumer re-checks before arming instead of after.
    latched: the doorbell keeps a notification until the consumer waits.
    event_index: Xen/virtio event index instead of the boolean flag.
    forced_kick: (event index) the producer checks need_event before its window of
        unchecked requests reaches 2^k - 1, as virtio forces a kick at 2^16 - 1.
    producer_clears: the producer sets ACTIVE before notifying (Xen 2005 netfront).
    producers: 1 or 2 (two producers reserve slots with an atomic fetch-add).
    always_notify: a doorbell for every request (no coalescing; the baseline).
    publish_fence: a store fence between writing the slot and publishing tail
        (Xen ``wmb()``, virtio ``virtio_wmb``); a no-op under SC and TSO.
    index_bits: k, the width of event indices (small, so wrap-around is reachable).
    """

    producer_fence: str = "full"
    consumer_fence: str = "full"
    recheck: bool = True
    check_then_arm: bool = False
    latched: bool = True
    event_index: bool = False
    forced_kick: bool = False
    producer_clears: bool = False
    producers: int = 1
    always_notify: bool = False
    publish_fence: bool = True
    index_bits: int = 2


class _Builder:
    def __init__(self, k: Knobs):
        self.k = k
        self.bits = k.index_bits
        # Ring indices are free-running (Xen's 32-bit RING_IDX never wraps in a small
        # run); only the event index and need_event's window arithmetic are k-bit,
        # which is where the wrap-around bug lives.
        self.idx: Domain = NAT
        self.ev: Domain = Bits(self.bits)

    def dist(self, a: Expr, b: Expr) -> Expr:
        """How far index ``a`` is ahead of ``b``."""
        return sub(a, b)

    # ------------------------------------------------------------------ producer

    def producer(self, name: str) -> Process:
        k = self.k
        two = k.producers > 1
        locs = [Local("t", NAT), Local("h", self.idx), Local("n", NAT), Local("f", BIT)]
        if k.event_index:
            locs += [Local("old", NAT), Local("e", self.ev)]
        if two:
            locs += [Local("seen", self.idx)]
        window = 1 << self.bits
        may_add = lt(L("n"), Param("requests"))
        if k.event_index and k.forced_kick:
            may_add = and_(may_add, lt(sub(L("t"), L("old")), window - 1))
        options: list[tuple[Expr, str]] = [(may_add, "reserve" if two else "space")]
        if k.event_index:
            options += [(ne(L("t"), L("old")), "kfence"), (eq(L("t"), L("old")), "done")]
        else:
            options += [(eq(1, 1), "done")]
        steps: list[Step] = [
            Step("idle", Choose(tuple(options)),
                 doc="publish another request, check for a kick, or stop"),
        ]
        if two:
            steps.append(Step("reserve", Rmw("t", "reserve", add(L("t"), 1)),
                              doc="claim the next slot index with a locked fetch-add"))
        full = ge(self.dist(L("t"), L("h")), Param("capacity"))
        if k.event_index:
            # a full ring with unchecked requests must kick before it waits (virtio
            # kicks when add_buf fails), or the consumer is never told
            steps.append(Step("space", Load("h", "head"),
                              branch=(and_(full, ne(L("t"), L("old"))), "kfence"),
                              doc="read head; ring full with unchecked requests: kick first"))
            steps.append(Step("full?", Branch(full, "space"), doc="ring full: read head again"))
        else:
            steps.append(Step("space", Load("h", "head"), branch=(full, "space"),
                              doc="read the consumer's head; ring full: read it again"))
        steps.append(Step("write", Store("slots", add(L("t"), 1), index=L("t")),
                          doc="write the request's payload into its slot"))
        if two:
            steps.append(Step("turn", Load("seen", "tail"),
                              branch=(ne(self.dist(L("seen"), L("t")), 0), "turn"),
                              doc="wait until earlier reservations are published"))
        if k.publish_fence:
            steps.append(Step("wmb", Fence("store"), doc="slot before index (wmb)"))
        steps.append(Step("publish", Store("tail", add(L("t"), 1)),
                          set=(("t", add(L("t"), 1)), ("n", add(L("n"), 1))),
                          ghost=(("produced", add(G("produced"), 1)),),
                          then="idle" if k.event_index else None,
                          doc="publish the request by advancing tail"))
        kick = Step("kick", Notify("irq"), ghost=(("notifies", add(G("notifies"), 1)),),
                    then=None if k.event_index else "idle",
                    doc="raise the doorbell (hypercall)")
        if not k.event_index:
            steps += self._fence("pfence", k.producer_fence)
            if not k.always_notify:
                steps.append(Step("readflag", Load("f", "flag"),
                                  branch=(eq(L("f"), ACTIVE), "idle"),
                                  doc="read the flag; ACTIVE: the consumer will see it"))
            if k.producer_clears:
                steps.append(Step("clear", Store("flag", Const(ACTIVE)),
                                  doc="producer marks the consumer ACTIVE before notifying"))
            steps.append(kick)
        else:
            steps += self._fence("kfence", k.producer_fence) or [
                Step("kfence", Assign(()), doc="no fence here")
            ]
            need = lt(
                mod(sub(sub(L("t"), L("e")), 1), window), mod(sub(L("t"), L("old")), window)
            )
            steps += [
                Step("readev", Load("e", "event"), branch=(not_(need), "kdone"),
                     doc="read the event index; need_event(event, new, old) is "
                         "old <= event < new (mod 2^k)"),
                kick,
                Step("kdone", Assign((("old", L("t")),)), then="idle"),
            ]
        steps.append(Step("done", Halt(), doc="the producer has stopped"))
        return Process(name, locals=tuple(locs), steps=tuple(steps))

    def _fence(self, label: str, kind: str) -> list[Step]:
        if kind == "none":
            return []
        return [Step(label, Fence(kind))]

    # ------------------------------------------------------------------ consumer

    def consumer(self) -> Process:
        k = self.k
        locs = [Local("h", NAT), Local("t", self.idx), Local("d", NAT)]
        empty = eq(self.dist(L("t"), L("h")), 0)
        sets_flag = not k.event_index
        arm = Step("arm", Store("event", L("h")) if k.event_index else Store("flag", Const(SLEEPING)),
                   ghost=(("sleeps", add(G("sleeps"), 1)),),
                   doc="arm: ask for a doorbell on the next request")
        steps: list[Step] = [
            Step("drain", Load("t", "tail"),
                 branch=(empty, "empty" if k.check_then_arm else "arm"),
                 doc="read the producer's tail; empty: go to sleep"),
            Step("read", Load("d", "slots", index=L("h")),
                 ghost=(("bad_read", ite(or_(ne(G("bad_read"), 0),
                                             ne(L("d"), add(L("h"), 1))), 1, 0)),),
                 doc="read the request in slot head"),
            Step("pop", Store("head", add(L("h"), 1)), set=(("h", add(L("h"), 1)),),
                 progress=True, then="drain",
                 ghost=(("consumed", add(G("consumed"), 1)),
                        ("bad_order", ite(or_(ne(G("bad_order"), 0),
                                              ne(L("d"), add(G("consumed"), 1))), 1, 0))),
                 doc="deliver the request and free its slot"),
        ]
        # With a latched doorbell the window between deciding to sleep and blocking is
        # unobservable (a notification in it stays pending), so the step is elided.
        sleep = "block" if k.latched else "sleep"
        block = Step("block", Wait("irq"), doc="blocked until the doorbell rings",
                     then=None if sets_flag and not k.producer_clears else "drain")
        wake = Step("wake", Store("flag", Const(ACTIVE)), then="drain", doc="woken: mark ACTIVE")
        if k.check_then_arm:
            steps += [
                Step("empty", Load("t", "tail"), branch=(ne(self.dist(L("t"), L("h")), 0), "read"),
                     doc="check tail once more, before arming"),
                arm,
                *self._fence("cfence", k.consumer_fence),
            ]
        else:
            steps.append(arm)
            steps += self._fence("cfence", k.consumer_fence)
            if k.recheck:
                steps.append(Step("recheck", Load("t", "tail"), branch=(empty, sleep),
                                  doc="re-check tail after arming; still empty: sleep"))
                steps.append(
                    Step("unarm", Store("flag", Const(ACTIVE)), then="read",
                         doc="work slipped in: back to ACTIVE")
                    if sets_flag else
                    Step("unarm", Assign(()), then="read", doc="work slipped in")
                )
        if not k.latched:
            steps.append(Step("sleep", Assign(()), doc="decided to sleep, not yet blocked"))
        steps.append(block)
        if block.then is None:
            steps.append(wake)
        return Process("C", locals=tuple(locs), steps=tuple(steps))

    # ------------------------------------------------------------------ whole spec

    def producers(self) -> list[str]:
        return ["P"] if self.k.producers == 1 else ["P1", "P2"]

    def spec(self) -> Spec:
        k = self.k
        shared = [
            Shared("slots", NAT, length="capacity", doc="ring slots carrying payloads"),
            Shared("tail", self.idx, doc="producer index: requests published"),
            Shared("head", self.idx, doc="consumer index: requests consumed"),
        ]
        if k.event_index:
            shared.append(Shared("event", self.ev, doc="consumer's event index (k bits)"))
        else:
            shared.append(Shared("flag", BIT, init=ACTIVE, doc="0 = ACTIVE, 1 = SLEEPING"))
        if k.producers > 1:
            shared.append(Shared("reserve", NAT, doc="next slot to reserve (MPSC)"))
        ghosts = [
            Ghost("produced", NAT, doc="requests published (in program order)"),
            Ghost("consumed", NAT, doc="requests delivered by the consumer"),
            Ghost("notifies", NAT, doc="doorbells raised"),
            Ghost("sleeps", NAT, doc="SLEEPING transitions (arming)"),
            Ghost("bad_read", BIT, doc="a slot was read before its payload was visible"),
            Ghost("bad_order", BIT, doc="a payload was delivered out of order"),
        ]
        prods = self.producers()
        procs = [self.producer(p) for p in prods] + [self.consumer()]
        idle = [
            or_(At(p, "done"), At(p, "idle"))
            if not k.event_index
            else and_(or_(At(p, "done"), At(p, "idle")),
                      eq(LocalOf(p, "t"), LocalOf(p, "old")))
            for p in prods
        ]
        # "a request is waiting": tail in memory is ahead of the consumer's index. (A
        # tail store still in a store buffer reaches memory by a later flush, so the
        # bad state is reached one step later, and stays.)
        outstanding = ne(self.dist(Mem("tail"), LocalOf("C", "h")), 0)
        props: tuple[Always | Eventually | Sometimes, ...] = (
            Always("no_lost_wakeup",
                   not_(and_(*idle, At("C", "block"), not_(Pending("irq")), outstanding)),
                   doc="no state where every producer is idle, the consumer is blocked, "
                       "no interrupt is pending and a request is waiting"),
            Always("no_unpublished_read", eq(G("bad_read"), 0),
                   doc="the consumer never reads a slot before its payload is visible"),
            Always("fifo", eq(G("bad_order"), 0),
                   doc="payloads are delivered in order, none lost or duplicated"),
            *([Always("notification_budget", le(G("notifies"), add(G("sleeps"), 1)),
                      doc="doorbells raised <= SLEEPING transitions + 1")]
              if k.producers == 1 else []),  # with n producers each may ring per SLEEPING
            Eventually("eventually_consumed", outstanding,
                       doc="every published request is eventually consumed "
                           "(weak fairness for every VM and store buffer)"),
            Sometimes("consumer_sleeps", and_(At("C", "block"), ge(G("consumed"), 1)),
                      doc="the consumer goes back to sleep after doing work"),
            Sometimes("interrupt_raised", ge(G("notifies"), 1),
                      doc="a doorbell is raised"),
        )
        params = (
            ParamDecl("capacity", 2, minimum=1, symbolic_ok=True, maximum=MAX_CAPACITY,
                      doc="ring slots; the v1 ring layout holds at most 2**20"),
            ParamDecl("requests", 3, minimum=0, symbolic_ok=True, maximum=MAX_REQUESTS,
                      doc="requests per producer"),
        )
        return Spec(
            name="coalescing",
            shared=tuple(shared),
            ghosts=tuple(ghosts),
            doorbells=(Doorbell("irq", latched=k.latched),),
            processes=tuple(procs),
            properties=props,
            params=params,
            doc=__doc__ or "",
        )



def build(knobs: Knobs) -> Spec:
    """The coalescing spec for ``knobs``."""
    return _Builder(knobs).spec()
