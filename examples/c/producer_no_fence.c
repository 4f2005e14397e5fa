/* producer_no_fence.c: no fence between the tail store and the flag load.
 * Reproduces liburing's SQPOLL wake-up bug (axboe/liburing#541, fix 744f4156, bug B8)
 * and DPDK virtio PMD (d21d05c7, bug B4): the flag load passes the tail store. */
#define BUG_NO_FENCE 1
#include "producer.c"
