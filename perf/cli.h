/* SPDX-License-Identifier: Apache-2.0 */
/* Strict option-value parsing shared by the load generators. */
#ifndef CW_PERF_CLI_H
#define CW_PERF_CLI_H

/* Decimal @s in min..max into *v. Returns 0 or -EINVAL (sign, junk, range). */
int cw_cli_num(const char *s, unsigned long min, unsigned long max, unsigned long *v);

/* Seconds (a decimal fraction) >= min and <= one day. Returns 0 or -EINVAL. */
int cw_cli_secs(const char *s, double min, double *v);

#endif
