"""Two shared-memory bugs that only Arm's load→load reordering shows, as protocol files.

Both are checked under SC, x86-TSO, PSO and ``arm`` (opt-in: each variant lists it):
under the first three every variant is correct, because loads are never reordered
there; under ``arm`` the variant without a read barrier reads data older than the
index or sequence it has just seen.

* ``ring_index`` — a consumer reads a ring's published index, then the slot it
  covers. Without ``smp_rmb()`` (or a load-acquire of the index) between the two
  loads, Arm may satisfy the slot load first and return the slot's old contents:
  kvmtool commit 15c4e1ef906e ("virtio: Fix ordering of avail index and descriptor
  read", a missing ``smp_rmb`` seen on AMD Seattle, an Arm64 server), and the same
  class as vhost's 2024 ``vhost_enable_notify`` fix (mainline df9ace7647d4, "vhost:
  Add smp_rmb() in vhost_enable_notify()", seen on NVIDIA Grace-Hopper).
* ``seqlock_reader`` — a seqlock reader reads the sequence, the data, and the
  sequence again; without ``smp_rmb()`` between them (``read_seqcount_begin`` /
  ``read_seqcount_retry`` and pvclock's ``virt_rmb()`` put them there) Arm may
  satisfy the data load outside the two sequence loads, so an equal, even sequence
  no longer proves the data is from one update (timer-real-world.md, V4a).

Run: ``intervm verify examples/arm/load_reordering.py`` (every variant, every model)
or ``intervm explain examples/arm/load_reordering.py no_rmb -m arm``.
"""

from intervm.spec.api import (
    NAT,
    Always,
    At,
    Fence,
    Halt,
    L,
    Load,
    Local,
    LocalOf,
    Process,
    Protocol,
    Shared,
    Sometimes,
    Spec,
    Step,
    Store,
    Variant,
    and_,
    eq,
    implies,
    ite,
    ne,
)

MODELS = ("sc", "tso", "pso", "arm")


def ring(barrier: str) -> Spec:
    """Producer: fill the slot, ``smp_wmb()``, publish index 1. Consumer: read the
    index; if it is 1, read the slot. ``barrier``: what the consumer puts between its
    two loads: ``"rmb"`` (``smp_rmb()``), ``"acquire"`` (``smp_load_acquire`` of the
    index) or ``"none"``."""
    order = "acquire" if barrier == "acquire" else "plain"
    rmb = (Step("rmb", Fence("load"), doc="smp_rmb()"),) if barrier == "rmb" else ()
    producer = Process("P", steps=(
        Step("fill", Store("slot", 42), doc="write the request into the slot"),
        Step("wmb", Fence("store"), doc="smp_wmb(): the slot before the index"),
        Step("publish", Store("idx", 1), doc="publish the new index"),
        Step("done", Halt()),
    ))
    consumer = Process("C", locals=(Local("t", NAT), Local("d", NAT)), steps=(
        Step("index", Load("t", "idx", order=order), branch=(eq(L("t"), 0), "done"),
             doc="read the published index"),
        *rmb,
        Step("read", Load("d", "slot"), doc="read the slot the index covers"),
        Step("done", Halt()),
    ))
    finished = and_(At("P", "done"), At("C", "done"))
    return Spec(
        "ring_index", shared=(Shared("slot", NAT), Shared("idx", NAT)),
        processes=(producer, consumer),
        properties=(
            Always("no_unpublished_read",
                   implies(and_(At("C", "done"), eq(LocalOf("C", "t"), 1)),
                           eq(LocalOf("C", "d"), 42)),
                   doc="a consumer that saw the index reads the request it publishes"),
            Sometimes("consumed", and_(finished, eq(LocalOf("C", "d"), 42)),
                      doc="the request can be consumed"),
        ))


def seqlock(barriers: bool) -> Spec:
    """Writer: seq := 1, ``smp_wmb()``, data := 1, ``smp_wmb()``, seq := 2. Reader:
    s1 := seq, [``smp_rmb()``], d := data, [``smp_rmb()``], s2 := seq; it accepts d
    when s1 == s2 and s1 is even."""
    rmb1 = (Step("rmb1", Fence("load"), doc="smp_rmb() after the first read"),) \
        if barriers else ()
    rmb2 = (Step("rmb2", Fence("load"), doc="smp_rmb() before the re-check"),) \
        if barriers else ()
    writer = Process("W", steps=(
        Step("odd", Store("seq", 1), doc="seq odd: update in progress"),
        Step("wmb1", Fence("store"), doc="smp_wmb()"),
        Step("data", Store("data", 1), doc="the new value"),
        Step("wmb2", Fence("store"), doc="smp_wmb()"),
        Step("even", Store("seq", 2), doc="seq even: update done"),
        Step("done", Halt()),
    ))
    reader = Process("R", locals=(Local("s1", NAT), Local("d", NAT), Local("s2", NAT)),
                     steps=(
        Step("begin", Load("s1", "seq"), doc="read_seqcount_begin"),
        *rmb1,
        Step("read", Load("d", "data"), doc="read the data"),
        *rmb2,
        Step("retry", Load("s2", "seq"), doc="read_seqcount_retry"),
        Step("done", Halt()),
    ))
    accepted = and_(At("R", "done"), eq(LocalOf("R", "s1"), LocalOf("R", "s2")),
                    ne(LocalOf("R", "s1"), 1))
    # an accepted read of sequence 0 holds data 0, of sequence 2 data 1
    matches = eq(LocalOf("R", "d"), ite(eq(LocalOf("R", "s1"), 2), 1, 0))
    return Spec(
        "seqlock_reader", shared=(Shared("seq", NAT), Shared("data", NAT)),
        processes=(writer, reader),
        properties=(
            Always("no_torn_read", implies(accepted, matches),
                   doc="an accepted read has the data of the update its sequence names"),
            Sometimes("reads_new", and_(accepted, eq(LocalOf("R", "d"), 1)),
                      doc="the reader can accept the new value"),
        ))


ring_index = Protocol(
    "ring_index", "a consumer reads a ring's index, then the slot it covers", ring,
    variants=(
        Variant("rmb", "rmb", "smp_rmb() between the index and the slot (the kvmtool fix)",
                memory_models=MODELS),
        Variant("acquire", "acquire", "smp_load_acquire() of the index",
                memory_models=MODELS),
        Variant("no_rmb", "none", "no barrier between the two loads (kvmtool 15c4e1ef906e's "
                "bug)", violated={"no_unpublished_read": frozenset({"arm"})},
                memory_models=MODELS),
    ),
    finite_params={}, unbounded_params={})

seqlock_reader = Protocol(
    "seqlock_reader", "a seqlock reader with and without read barriers", seqlock,
    variants=(
        Variant("rmb", True, "smp_rmb() after the first and before the second sequence "
                "read (read_seqcount_begin/retry, pvclock's virt_rmb)", memory_models=MODELS),
        Variant("no_rmb", False, "no read barriers (timer-real-world.md V4a)",
                violated={"no_torn_read": frozenset({"arm"})}, memory_models=MODELS),
    ),
    finite_params={}, unbounded_params={})
