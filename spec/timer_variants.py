"""The shared-timer protocol's variants, each a real system, with the verdicts it declares.

Sources are cited as in timer-real-world.md (§2 bug numbers B…, §4 variant
numbers V…). Every variant is the one builder :func:`intervm.spec.timer.build`
with different knobs; ``params`` keep each explicit state space small.

>>> from intervm.spec.timer_variants import TIMER
>>> TIMER.variant("seqlock_no_wmb").expected("no_torn_read", "pso")
'violated'
>>> TIMER.variant("seqlock_no_wmb").expected("no_torn_read", "tso")
'holds'
"""

from __future__ import annotations

from intervm.spec.protocol import Protocol, Variant, merged, violations
from intervm.spec.timer import TimerKnobs, build

ALL = frozenset({"sc", "tso", "pso"})
PSO = frozenset({"pso"})
MODELS = ("sc", "tso", "pso")

# Zeroed memory reads as a valid snapshot (count 0, version 0 = even) unless version
# 0 means "invalid": every variant but Hyper-V's accepts pre-initialisation contents.
UNINIT = {"no_uninitialised_read": ALL}
# A writer preempted between its begin and end markers makes readers spin forever.
SPIN = {"progress_despite_preemption": ALL}


def _v(*props: str, under: frozenset[str] = ALL) -> dict[str, frozenset[str]]:
    return violations(*props, under=under)


_merge = merged


# Torn reads cascade: a torn value is also stale or from the future (P2), and the
# latency computed from it is out of order, negative and outside the bound (P4-P6).
TORN = ("no_torn_read", "bounded_staleness", "cross_reader_monotonic",
        "latency_nonnegative", "latency_within_lag")
# Under TSO/PSO the Hyper-V fallback (the hypervisor's count, read by MSR) can run
# ahead of a page whose invalidation is still in the writer's store buffer: a reader
# that falls back, then another that reads the old valid page, see time go backwards.
FALLBACK_AHEAD = _v("cross_reader_monotonic", "latency_nonnegative", "latency_within_lag",
                    under=frozenset({"tso", "pso"}))

TIMER_VARIANTS: tuple[Variant, ...] = (
    Variant(
        "single_word",
        TimerKnobs(layout="single", guard="none"),
        "One naturally atomic word written by one store and read by one load: jiffies on "
        "64-bit and the x86-64 vvar jiffies (8c49d9a74bac), the vDSO time(), "
        "packet-journey's glob_tsc (timer-real-world.md §1.4, §1.5; V0). No torn read is "
        "possible; zeroed memory is accepted before the first publish (B19).",
        violated=UNINIT,
        params={"reads": 2},
        memory_models=MODELS,
    ),
    Variant(
        "single_word_nohz",
        TimerKnobs(layout="single", guard="none", burst=2),
        "The single word under NO_HZ idle: the tick owner sleeps with its tick stopped "
        "and tick_do_update_jiffies64 adds every missed tick in one publish (jiffies on "
        "64-bit, timer-real-world.md §1.4; §3, K = 2 here). A lag bound sized for "
        "interrupt latency (lag=1) does not cover the idle period: readers see values two "
        "ticks old (P2) and latencies off by more than the lag (P6), the stale-jiffies "
        "case tick_nohz_update_jiffies exists for. With lag >= K both hold.",
        violated=_merge(_v("bounded_staleness", "latency_within_lag"), UNINIT),
        params={"reads": 2},
        memory_models=MODELS,
    ),
    Variant(
        "two_words_lo_first",
        TimerKnobs(guard="none"),
        "Two words, no protection, low word stored first: ELKS 32-bit jiffies as two 16-bit "
        "halves (B9), Mongoose's 64-bit millis on ARMv6-M (B10), OSv's HPET low word (B12) "
        "(V1). Torn at the carry.",
        violated=_merge(_v(*TORN), _v("reader_monotonic"), UNINIT),
        params={"reads": 2},
        memory_models=MODELS,
    ),
    Variant(
        "two_words_hi_first",
        TimerKnobs(guard="none", hi_first=True),
        "Two words, no protection, high word stored first (V1, the other store order): the "
        "error at the carry has the other sign.",
        violated=_merge(_v(*TORN), _v("reader_monotonic"), UNINIT),
        params={"reads": 2},
        memory_models=MODELS,
    ),
    Variant(
        "hi_lo_hi",
        TimerKnobs(layout="single", guard="hi_lo_hi"),
        "A counter whose halves change together (a hardware counter, or an ISR on the "
        "reader's own CPU) read as hi, lo, hi with a retry if hi changed: Zephyr cavs_timer "
        "(B11), cnt32_to_63 (V1b). Correct while a read spans less than a full wrap of the "
        "high word.",
        violated=UNINIT,
        params={"reads": 2},
        memory_models=MODELS,
    ),
    Variant(
        "hi_lo_hi_two_stores",
        TimerKnobs(guard="hi_lo_hi"),
        "The hi-lo-hi reader against a software writer that stores the two words "
        "separately (V1b without its precondition): the reader sees lo and hi of "
        "different publishes with an unchanged hi.",
        violated=_merge(_v(*TORN), UNINIT),
        memory_models=MODELS,
    ),
    Variant(
        "seqlock",
        TimerKnobs(),
        "The full seqlock: version raised to odd, smp_wmb, data, smp_wmb, version raised to "
        "even; readers wait while odd and retry if the version changed: KVM/Xen pvclock, "
        "the vDSO data page, get_jiffies_64 (§1.1, §1.2, §1.4; V2). A writer preempted "
        "mid-update makes readers spin (seqlock.rst; L2).",
        violated=_merge(UNINIT, SPIN),
        memory_models=MODELS,
    ),
    Variant(
        "seqlock_no_odd_check",
        TimerKnobs(odd_check=False),
        "The seqlock reader that only checks that the version did not change: OSv "
        "pvclock before fd36783567ce (B1), perf's self-monitoring loop (V3). Both version "
        "reads see the same odd value while the writer is between its data stores.",
        violated=_merge(_v(*TORN), UNINIT),
        memory_models=MODELS,
    ),
    Variant(
        "seqlock_no_wmb",
        TimerKnobs(store_fences=False),
        "The seqlock writer without store fences, as when version and data go out in one "
        "rep-movs copy: KVM kvm_guest_time_update (B4), FreeBSD before r285286 (B5) (V4b). "
        "Safe under TSO (stores stay in order), torn under PSO. (A reader without read "
        "barriers, V4a, is not expressible: the engines keep loads in order.)",
        violated=_merge(_v(*TORN, under=PSO), UNINIT, SPIN),
        memory_models=MODELS,
    ),
    Variant(
        "seqlock_aba",
        TimerKnobs(seq_bits=2),
        "The full seqlock with a 2-bit version: a reader that spans 2^(v-1) = 2 publishes "
        "sees the same even version and accepts a torn value (P8; real systems rely on 32 "
        "bits and short reads).",
        violated=_merge(_v(*TORN), _v("no_sequence_aba"), UNINIT, SPIN),
        memory_models=MODELS,
    ),
    Variant(
        "bump_at_end",
        TimerKnobs(guard="bump_end"),
        "The version is raised once, after the data: Xen's viridian reference TSC page on "
        "the thaw path (update_reference_tsc without invalidation), safe there only "
        "because no guest vCPU runs (V5). With a concurrent reader it is torn.",
        violated=_merge(_v(*TORN), UNINIT),
        memory_models=MODELS,
    ),
    Variant(
        "hyperv",
        TimerKnobs(guard="hyperv"),
        "Invalidate, publish, revalidate: KVM's Hyper-V TSC page writer "
        "(kvm_hv_setup_tsc_page: version 0 first, then data, then the next version skipping "
        "0) and the Linux reader that falls back to the reference counter MSR when the "
        "version is 0 (§1.3; V6). No spin (L2 holds), no pre-initialisation read (P10).",
        violated=FALLBACK_AHEAD,
        memory_models=MODELS,
    ),
    Variant(
        "hyperv_no_skip",
        TimerKnobs(guard="hyperv", skip_zero=False, seq_bits=1),
        "The Hyper-V writer without the skip of 0: the version wraps onto the invalid "
        "value by itself and the valid page reads as invalid (sentinel ambiguity, B8; "
        "Xen c9d9b5f4c9db; P7c).",
        violated=_merge(FALLBACK_AHEAD, _v("no_sentinel_at_rest")),
        params={"ticks": 1},
        memory_models=MODELS,
    ),
    Variant(
        "two_writers",
        TimerKnobs(writers=2, preinit=True),
        "Two writer contexts without serialization, each doing seq++ from memory: FreeBSD "
        "tc_windup from settime and hardclock before r303387 (B6), Xen XSA-472 (B7), the "
        "tick_do_timer_cpu hand-off (V10). Two begin increments make the version even "
        "while data is half-written; a lost update leaves it odd for good. (Checked under "
        "SC only: the race needs no weak memory, and two buffered writers are large.)",
        violated=_merge(_v(*TORN), _v("single_writer", "no_sentinel_at_rest",
                                      "reader_progress", "progress_despite_preemption")),
        params={"ticks": 1},
        memory_models=("sc",),
    ),
    Variant(
        "naive_latency",
        TimerKnobs(layout="single", guard="none", naive_latency=True),
        "A single word, but the completer computes c - s without reducing modulo 2^w: an "
        "absolute comparison across the wrap, the jiffies wrap bugs of B24 (picotcp, "
        "ESPEasy) and bcc's negative I/O latency (B22); P7a.",
        violated=_merge(_v("latency_nonnegative", "latency_within_lag", "wrap_safe_latency"),
                        UNINIT),
        memory_models=MODELS,
    ),
)

TIMER = Protocol(
    name="timer",
    doc="Inter-VM time profiling: a timer VM publishes the tick count, readers "
        "time-stamp I/O submission and completion.",
    build=build,
    variants=TIMER_VARIANTS,
    finite_params={"ticks": 2, "lag": 1, "reads": 1},
    unbounded_params={"ticks": None, "lag": None, "reads": None},
    # Spacer proves these for the single word; the multi-word encodings time out
    prove=frozenset({"no_torn_read", "single_writer"}),
)
