/* consumer_no_fence.c: arms, then re-checks tail WITHOUT a full fence between the
 * flag store and the tail load. Reproduces DPDK vhost "freeze due to missed
 * interrupt" (159793ac867b, bug B5) and io_uring's SQPOLL sleep path (649bb75d19c9,
 * bug B7): x86 lets the tail load pass the buffered flag store. */
#define BUG_NO_FENCE 1
#include "consumer.c"
