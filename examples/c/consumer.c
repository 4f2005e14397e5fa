/* consumer.c: a correct interrupt-coalescing consumer (layout v1, rule "consumer").
 *
 * Arm (flag=SLEEPING), FULL FENCE, re-check tail, then block on `irq` with a
 * timeout. The thin files consumer_*.c define one BUG_* macro and include this
 * file, so each buggy consumer differs from this one in exactly one place:
 *   BUG_NO_FENCE       no fence between arming and the re-check (DPDK vhost B5,
 *                      io_uring B7: store->load reordering; the producer reads
 *                      ACTIVE, the consumer reads the old tail, both move on)
 *   BUG_NO_RECHECK     arm + fence but never look at the ring again (xen-netback
 *                      B13, DPDK's arm-only enable API: the app forgot the re-check)
 *   BUG_CHECK_THEN_ARM look at the ring, then arm and sleep (io_uring B9, vhost
 *                      worker B10: the flag is set after the emptiness check)
 * Like real consumers, every variant does a little work (flushes its report)
 * between its last look at the ring and blocking.
 */
#include "intervm.h"

static struct ivm R;
static uint32_t head, tail_seen, since_check, check_every;

/* Load tail once; it must lie in [last tail seen, head + capacity] (mod 2^32). */
static uint32_t load_tail(void) {
    uint32_t tail = LOAD(IVM_TAIL(&R));
    uint32_t limit = head + R.capacity;
    if ((uint32_t)(tail - tail_seen) > (uint32_t)(limit - tail_seen))
        ivm_violation("tail", tail, "moved backwards or more than capacity past head");
    tail_seen = tail;
    return tail;
}

/* FULL FENCE, load pwait once, ring `done` if the producer waits for a commit. */
static void check_pwait(void) {
    since_check = 0;
    FULL_FENCE();
    uint32_t pwait = LOAD(IVM_PWAIT(&R));
    if (pwait > IVM_PWAIT_WAITING) ivm_violation("pwait", pwait, "must be 0 or 1");
    if (pwait == IVM_PWAIT_WAITING) ivm_notify(R.done_fd);
}

/* Process requests until a tail load shows the ring empty; exits on the stop request. */
static void drain(void) {
    for (;;) {
        uint32_t tail = load_tail();
        if (tail == head) return;
        while (head != tail) {
            uint64_t id = LOAD(IVM_SLOT_ID(&R, head % R.capacity));
            head++;
            if (id == IVM_STOP_ID) {
                STORE(IVM_HEAD(&R), head);
                check_pwait();
                fflush(stdout);
                exit(0);
            }
            printf("consumed %" PRIu64 "\n", id);
            STORE(IVM_HEAD(&R), head);  /* commit point */
            if (++since_check >= check_every) check_pwait();
        }
    }
}

/* Block on irq; re-check after each timed-out slice; give up after timeout_ms idle. */
static void block(void) {
    long start = ivm_now_ms();
    for (;;) {
        if (ivm_wait(R.irq_fd, R.timeout_ms)) return;
        if (load_tail() != head) return;
        if (ivm_now_ms() - start >= R.timeout_ms)
            ivm_die(EXIT_PEER_TIMEOUT, "error", "no request and no irq within the timeout");
    }
}

int main(void) {
    R = ivm_attach();
    head = LOAD(IVM_HEAD(&R));
    tail_seen = head;
    check_every = R.capacity / 4 ? R.capacity / 4 : 1;
    load_tail();
    STORE(IVM_FLAG(&R), IVM_FLAG_ACTIVE);
    for (;;) {
        drain();
        check_pwait();
#if defined(BUG_CHECK_THEN_ARM)
        if (load_tail() != head) continue; /* the check ... */
        fflush(stdout);
        STORE(IVM_FLAG(&R), IVM_FLAG_SLEEPING); /* ... then arm: too late */
        FULL_FENCE();
#else
        fflush(stdout);
        STORE(IVM_FLAG(&R), IVM_FLAG_SLEEPING);
#if !defined(BUG_NO_FENCE)
        FULL_FENCE();
#endif
#if !defined(BUG_NO_RECHECK)
        if (load_tail() != head) {
            STORE(IVM_FLAG(&R), IVM_FLAG_ACTIVE);
            continue;
        }
#endif
#endif
        block();
        STORE(IVM_FLAG(&R), IVM_FLAG_ACTIVE);
    }
}
