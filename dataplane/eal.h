/* SPDX-License-Identifier: Apache-2.0 */
/* EAL arguments from the [eal] section (and the ports to probe). */
#ifndef CW_EAL_H
#define CW_EAL_H

#include "control/config.h"

#define CW_EAL_MAX_ARGS 64

struct cw_eal_args {
	int argc;
	char *argv[CW_EAL_MAX_ARGS];
	char buf[4096]; /* storage for the strings argv points into */
	size_t used;
};

/*
 * Build the EAL command line for @c. @huge_available says whether the host
 * has free hugepages (used when [eal] hugepages = auto). With hugepages it
 * runs --in-memory so no hugepage file outlives the process. Returns
 * 0, or -E2BIG when the arguments do not fit.
 */
int cw_eal_args_build(const struct cw_config *c, bool huge_available, struct cw_eal_args *a);

/* True when the host has free hugepages (HugePages_Free in /proc/meminfo). */
bool cw_eal_huge_available(void);

#endif
