/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the load generators (loadgen, udpflood). */
#ifndef CW_PERF_COMMON_H
#define CW_PERF_COMMON_H

#include <stdint.h>

/* Decimal @s in min..max into *v. Returns 0 or -EINVAL (sign, junk, range). */
int cw_cli_num(const char *s, unsigned long min, unsigned long max, unsigned long *v);

/* Seconds (a decimal fraction) >= min and <= one day. Returns 0 or -EINVAL. */
int cw_cli_secs(const char *s, double min, double *v);

/*
 * Nanoseconds this thread has spent runnable but waiting for a CPU
 * (/proc/thread-self/schedstat, field 2): other tasks on our core. 0 when
 * the kernel does not keep schedstats.
 */
uint64_t cw_sched_wait(void);

#endif
