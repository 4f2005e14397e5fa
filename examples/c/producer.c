/* producer.c: a correct interrupt-coalescing producer (layout v1, rule "producer").
 *
 * Submits request ids 0..INTERVM_REQUESTS-1, then the stop request, then waits
 * (pwait/done, bounded) until the consumer committed everything. Publish: slot
 * words, tail (release), FULL FENCE, load flag once, ring `irq` if SLEEPING unless
 * the doorbell rung at tail T is still latched (head < T).
 *   BUG_NO_FENCE  (producer_no_fence.c) drops the fence: liburing #541 / 744f4156
 *                 and DPDK virtio PMD d21d05c7 (bugs B8, B4).
 */
#include "intervm.h"

static struct ivm R;
static uint32_t head, tail, rung_at;
static int rung;

/* Load head once; it must lie in [last head seen, tail] (mod 2^32). */
static uint32_t refresh_head(void) {
    uint32_t h = LOAD(IVM_HEAD(&R));
    if ((uint32_t)(h - head) > (uint32_t)(tail - head))
        ivm_violation("head", h, "moved backwards or past tail");
    head = h;
    return h;
}

/* Block until at most `most` requests are uncommitted (bounded by timeout_ms). */
static void wait_for_head(uint32_t most) {
    long start = ivm_now_ms();
    while ((uint32_t)(tail - refresh_head()) > most) {
        STORE(IVM_PWAIT(&R), IVM_PWAIT_WAITING);
        FULL_FENCE();
        if ((uint32_t)(tail - refresh_head()) > most) ivm_wait(R.done_fd, 50);
        STORE(IVM_PWAIT(&R), IVM_PWAIT_RUNNING);
        if (ivm_now_ms() - start >= R.timeout_ms)
            ivm_die(EXIT_PEER_TIMEOUT, "error", "the consumer committed nothing within the timeout");
    }
}

static void submit(uint64_t id) {
    if ((uint32_t)(tail - head) >= R.capacity) wait_for_head(R.capacity - 1);
    uint32_t slot = tail % R.capacity;
    STORE(IVM_SLOT_ID(&R, slot), id);
    STORE(IVM_SLOT_STAMP(&R, slot), 0);
    tail++;
    STORE(IVM_TAIL(&R), tail);
#if !defined(BUG_NO_FENCE)
    FULL_FENCE();
#endif
    uint32_t flag = LOAD(IVM_FLAG(&R));
    if (flag > IVM_FLAG_SLEEPING) ivm_violation("flag", flag, "must be 0 or 1");
    if (flag == IVM_FLAG_ACTIVE) return;
    if (rung) {
        uint32_t pending = rung_at - refresh_head();
        if (pending > 0 && pending <= R.capacity) return; /* latched doorbell still pending */
    }
    ivm_notify(R.irq_fd);
    rung = 1;
    rung_at = tail;
}

int main(void) {
    R = ivm_attach();
    long n = ivm_env_long("INTERVM_REQUESTS", 1000);
    tail = LOAD(IVM_TAIL(&R));
    head = tail;
    refresh_head();
    for (long id = 0; id < n; id++) submit((uint64_t)id);
    submit(IVM_STOP_ID);
    wait_for_head(0);
    return 0;
}
