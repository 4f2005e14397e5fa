/* timer_reader.c: a correct seqlock timer reader (layout v1, rule "timer seqlock").
 *
 * Per attempt: load seq, retry if odd, load time_lo and time_hi, load seq again,
 * retry if it changed. Gives up (exit 4) when no stable value appears within
 * INTERVM_TIMEOUT_MS, rejects time going backwards (exit 3), and prints every
 * accepted tick as `tick VALUE`.
 *   BUG_NO_ODD_CHECK (timer_reader_no_odd_check.c) accepts when both seq loads are
 *                    equal, even if odd: OSv pvclock before fd36783567ce (bug B1 of
 *                    the timer catalogue; also the perf self-monitoring loop).
 */
#include "intervm.h"

int main(void) {
    struct ivm R = ivm_attach();
    long reads = ivm_env_long("INTERVM_READS", 20000);
    uint64_t last = 0;
    for (long n = 0; n < reads; n++) {
        long start = ivm_now_ms();
        uint64_t value;
        for (unsigned attempt = 0;; attempt++) {
            if ((attempt & 1023) == 1023 && ivm_now_ms() - start >= R.timeout_ms)
                ivm_die(EXIT_PEER_TIMEOUT, "error", "timer_seq never stable within the timeout");
            uint32_t s1 = LOAD(IVM_SEQ(&R));
#if !defined(BUG_NO_ODD_CHECK)
            if (s1 & 1) continue;
#endif
            uint32_t lo = LOAD(IVM_TIME_LO(&R));
            uint32_t hi = LOAD(IVM_TIME_HI(&R));
            if (LOAD(IVM_SEQ(&R)) != s1) continue;
            value = (uint64_t)hi << 32 | lo;
            break;
        }
        if (value < last) ivm_violation("time_lo/time_hi", value, "time went backwards");
        last = value;
        printf("tick %" PRIu64 "\n", value);
    }
    fflush(stdout);
    return 0;
}
