/* consumer_no_recheck.c: arms (flag=SLEEPING) and fences, but never re-checks the
 * ring before blocking. Reproduces xen-netback's guest-Rx stall (76b71ad7ee0e, bug
 * B13) and the DPDK arm-only API hazard (rte_vhost_enable_guest_notification does
 * not re-check; an application that forgets to is this consumer). */
#define BUG_NO_RECHECK 1
#include "consumer.c"
