/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Counter reporting: a testpmd-style table on stdout every stats interval
 * and at exit, and the DPDK telemetry command /causeway/stats.
 */
#ifndef CW_STATS_H
#define CW_STATS_H

#include <stdio.h>

#include "dp.h"

struct cw_stats_snap {
	uint64_t tsc;
	struct cw_counters per[CW_MAX_WORKERS];
};

/*
 * Print per-worker and total counters with rates since @prev (which is
 * updated to now; rates are omitted on its first use).
 */
void cw_stats_print(const struct cw_dp *dp, struct cw_stats_snap *prev, FILE *out);

/* Register /causeway/stats with DPDK telemetry. Returns 0 or -errno. */
int cw_stats_telemetry_init(const struct cw_dp *dp);

#endif
