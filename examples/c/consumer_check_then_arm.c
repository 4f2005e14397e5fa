/* consumer_check_then_arm.c: checks the ring, then arms and sleeps. Reproduces
 * io_uring "check sqring ... before schedule" (724cb4f9ec90, bug B9) and the vhost
 * worker hang (Mike Christie 2023, bug B10): a submission between the emptiness
 * check and the flag store sees ACTIVE and rings nobody. */
#define BUG_CHECK_THEN_ARM 1
#include "consumer.c"
