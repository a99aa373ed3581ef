/* SPDX-License-Identifier: Apache-2.0 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

/* The process's one log sink: the shell is single-threaded. */
static enum cw_agent_log_level cur = CW_AGENT_LOG_INFO;

static const char *const NAMES[] = {"error", "warning", "info", "debug"};

void cw_alog_set_level(enum cw_agent_log_level level)
{
	cur = level;
}

bool cw_alog_on(enum cw_agent_log_level level)
{
	return level <= cur;
}

void cw_alog(enum cw_agent_log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (!cw_alog_on(level))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "causeway-agent %s: %s\n", NAMES[level], line);
}
