"""The built-in protocols and their variants, with the verdicts each declares.

>>> from intervm.spec.protocols import builtin_protocols, get_protocol
>>> [p.name for p in builtin_protocols()]
['coalescing', 'timer']
>>> get_protocol("coalescing").variant("correct").expected("no_lost_wakeup", "tso")
'holds'
"""

from __future__ import annotations

import os
from pathlib import Path

from intervm.spec.coalescing import Knobs, build
from intervm.spec.errors import ParamError
from intervm.spec.protocol import Protocol, Variant, merged, violations

WEAK = frozenset({"tso", "pso"})
ALL = frozenset({"sc", "tso", "pso"})
PSO = frozenset({"pso"})
LOST = ("no_lost_wakeup", "eventually_consumed")


_v = violations
_merge = merged


# Flag protocols in which the consumer clears the flag let a producer ring the doorbell
# for every request it publishes while the consumer has not run yet (io_uring enters
# the kernel each time it sees NEED_WAKEUP): the budget holds only at capacity < 3.
BUDGET = _v("notification_budget", under=ALL)
UNPUBLISHED = _v("no_unpublished_read", "fifo", under=PSO)

COALESCING_VARIANTS = (
    Variant(
        "correct",
        Knobs(),
        "The flag protocol as io_uring SQPOLL and Hyper-V VMBus do it: publish, full fence, "
        "read the flag; arm SLEEPING, full fence, re-check tail; latched doorbell "
        "(coalescing-real-world.md §0, §4, §7; V1).",
        violated=BUDGET,
    ),
    Variant(
        "no_producer_fence",
        Knobs(producer_fence="none"),
        "No fence between publishing tail and reading the flag: virtio_ring before "
        "a72caae21803 (B1), vhost 0d4993563bde (B2), DPDK d21d05c7a9c1 (B4), ACRN (B18), "
        "liburing#541 (B8) (V2).",
        violated=_merge(BUDGET, _v(*LOST, under=WEAK)),
    ),
    Variant(
        "no_consumer_fence",
        Knobs(consumer_fence="none"),
        "No fence between arming SLEEPING and re-reading tail: io_uring before 649bb75d19c9 "
        "(B7), DPDK 8f66bc4ac3c0 (V3).",
        violated=_merge(BUDGET, _v(*LOST, under=WEAK)),
    ),
    Variant(
        "no_recheck",
        Knobs(recheck=False),
        "Arms and fences but never re-reads tail: rust-vmm enable_notification before "
        "6be66cd15baf (B15), xen-netback 76b71ad7ee0e (B13) (V4).",
        violated=_merge(BUDGET, _v(*LOST, under=ALL)),
    ),
    Variant(
        "check_then_arm",
        Knobs(check_then_arm=True),
        "Checks the ring, then arms: io_uring before 724cb4f9ec90 (B9), the vhost worker "
        "fixed in 2023 (B10) (V5).",
        violated=_merge(BUDGET, _v(*LOST, under=ALL)),
    ),
    Variant(
        "store_fence_producer",
        Knobs(producer_fence="store"),
        "A store-store fence where a full fence is needed: virtio_wmb in kick_prepare "
        "(B1), AcqRel fences in rust-vmm/cloud-hypervisor (B14) (V6).",
        violated=_merge(BUDGET, _v(*LOST, under=WEAK)),
    ),
    Variant(
        "edge_interrupt",
        Knobs(latched=False),
        "A doorbell that is lost unless the consumer already waits: Xen's masked event "
        "channel without the PENDING re-check, the NAPI race of B12 (V8).",
        violated=_merge(BUDGET, _v(*LOST, under=ALL)),
    ),
    Variant(
        "no_publish_fence",
        Knobs(publish_fence=False),
        "No store fence between writing a slot and publishing tail: fine on x86-TSO, but "
        "under store-store reordering the consumer reads a slot before its payload "
        "(kvmtool 15c4e1ef906e, vhost B3: the data-visibility analogue) (V18).",
        violated=_merge(BUDGET, UNPUBLISHED),
    ),
    Variant(
        "event_index",
        Knobs(event_index=True, forced_kick=True, index_bits=2),
        "Xen/virtio event index with k-bit indices (k=2): notify iff old <= event < new, "
        "with the forced check before the window of unchecked requests reaches 2^k - 1, "
        "as virtio kicks at num_added == 2^16 - 1 (ee7cd8981e15) (V9).",
        params={"capacity": 2, "requests": 4},
    ),
    Variant(
        "event_index_wrap",
        Knobs(event_index=True, forced_kick=False, index_bits=1),
        "The event index without the forced check (k=1, so the wrap is reachable with "
        "three requests): a window of 2^k requests makes need_event false (V10).",
        violated=_merge(_v(*LOST, under=ALL), BUDGET),
        params={"capacity": 1, "requests": 3},
    ),
    Variant(
        "two_producers",
        Knobs(producers=2),
        "Two producers (reserve with fetch-add, publish in order); the consumer clears the "
        "flag on wake, as io_uring does (V16a).",
        params={"requests": 1},
    ),
    Variant(
        "producer_clears",
        Knobs(producers=2, producer_clears=True),
        "Two producers; the producer sets ACTIVE before notifying, as Xen's 2005 netfront "
        "did with server_is_sleeping (b242b20898bd) (V16b).",
        params={"requests": 1},
    ),
    Variant(
        "producer_clears_edge",
        Knobs(producers=2, producer_clears=True, latched=False),
        "Producer clears the flag, but the doorbell is an edge: a stale clear leaves the "
        "flag ACTIVE while the consumer sleeps (V16b, non-latched).",
        violated=_v(*LOST, under=ALL),
        params={"requests": 1},
    ),
    Variant(
        "always_notify",
        Knobs(always_notify=True),
        "No coalescing: a doorbell for every request (the baseline; what "
        "VRING_AVAIL_F_NO_INTERRUPT saves). Safe, but spends the notification budget.",
        violated=BUDGET,
    ),
)

COALESCING = Protocol(
    name="coalescing",
    doc="Interrupt coalescing: a shared flag or event index decides when to notify.",
    build=build,
    variants=COALESCING_VARIANTS,
    finite_params={"capacity": 2, "requests": 3},
    unbounded_params={"capacity": None, "requests": None},
    # Spacer proves these for every capacity and request count (flag protocols);
    # ring contents need quantified invariants and are left to the finite search
    prove=frozenset({"no_lost_wakeup", "notification_budget", "consumer_sleeps",
                     "interrupt_raised"}),
)


def builtin_protocols() -> tuple[Protocol, ...]:
    """Every protocol that ships with intervm."""
    from intervm.spec.timer_variants import TIMER  # imports this module's helpers

    return (COALESCING, TIMER)


def get_protocol(name: str) -> Protocol:
    """The built-in protocol called ``name``; the :class:`ParamError` for any other
    name says what ``name`` is instead (a directory, a missing file, a file that is not
    a protocol file, or an unknown name) and lists the built-in names. Every command
    taking a PROTOCOL (``verify -p``, ``report``, ``explain``, ``play``, ``graph``,
    ``export``, ``conformance``) resolves it here.

    >>> get_protocol("coalescing").name
    'coalescing'
    >>> get_protocol("/")
    Traceback (most recent call last):
    ...
    intervm.spec.errors.ParamError: protocol '/' is a directory, not a protocol; give a protocol file (FILE.py) or one of the built-in protocols: coalescing, timer
    """
    for p in builtin_protocols():
        if p.name == name:
            return p
    names = ", ".join(p.name for p in builtin_protocols())
    path = Path(name)
    if path.is_dir():
        raise ParamError(f"protocol {name!r} is a directory, not a protocol; give a "
                         f"protocol file (FILE.py) or one of the built-in protocols: "
                         f"{names}")
    if path.exists():
        raise ParamError(f"protocol {name!r} is neither a protocol file (FILE.py) nor "
                         f"a built-in protocol; give FILE.py or one of {names}")
    if "/" in name or os.sep in name or name.endswith(".py"):
        raise ParamError(f"protocol file {name!r} does not exist; check the path, or "
                         f"give one of the built-in protocols: {names}")
    raise ParamError(f"protocol {name!r} is not built in; choose one of {names} or "
                     f"pass a file")
