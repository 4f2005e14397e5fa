/* timer_writer.c: a correct seqlock timer writer (layout v1, rule "timer seqlock").
 *
 * Conformance contract: publish number k (k = 1..INTERVM_PUBLISHES) carries the
 * tick k << 32 | k, so a torn read (time_lo of one publish, time_hi of another)
 * has time_hi != time_lo and the tester recognises it.
 */
#include "intervm.h"

int main(void) {
    struct ivm R = ivm_attach();
    long k_max = ivm_env_long("INTERVM_PUBLISHES", 20000);
    long period_us = ivm_env_long("INTERVM_PERIOD_US", 20);
    uint32_t seq = LOAD(IVM_SEQ(&R));
    seq += seq & 1; /* a previous writer may have died mid-publish */
    STORE(IVM_TICK_NS(&R), (uint64_t)period_us * 1000 + 1);
    for (uint64_t k = 1; k <= (uint64_t)k_max; k++) {
        uint64_t tick = k << 32 | k;
        STORE(IVM_SEQ(&R), ++seq); /* odd: writing */
        STORE(IVM_TIME_LO(&R), (uint32_t)tick);
        STORE(IVM_TIME_HI(&R), (uint32_t)(tick >> 32));
        STORE(IVM_SEQ(&R), ++seq); /* even: stable */
        STORE(IVM_TIME64(&R), tick);
        if (period_us) usleep((useconds_t)period_us);
    }
    return 0;
}
