/* timer_reader_no_odd_check.c: a seqlock reader without the odd check. Reproduces
 * OSv "pvclock: fix system_time() atomic-read logic" (fd36783567ce, timer bug B1):
 * when both loads of the sequence see the same ODD value the writer is between its
 * two increments, and the torn snapshot (new time_lo, old time_hi) is accepted. */
#define BUG_NO_ODD_CHECK 1
#include "timer_reader.c"
