/* SPDX-License-Identifier: Apache-2.0 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static enum cw_log_level cw_log_level = CW_LOG_INFO;
static const char *const cw_level_names[] = {"error", "warning", "info", "debug"};

void cw_log_set_level(enum cw_log_level level)
{
	cw_log_level = level;
}

void cw_log(enum cw_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > cw_log_level)
		return;
	/* One locked stdio call per line: workers and the control thread log
	 * at the same time. */
	flockfile(stderr);
	fprintf(stderr, "causewayd: %s: ", cw_level_names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}
