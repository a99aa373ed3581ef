/* SPDX-License-Identifier: Apache-2.0 */
/*
 * causeway-agent's log: one line per event on stderr, "LEVEL message",
 * filtered by the [log] level (reloadable on SIGHUP). The agent runs
 * under a supervisor (systemd, a container runtime) that timestamps and
 * keeps stderr.
 */
#ifndef CW_AGENT_LOG_H
#define CW_AGENT_LOG_H

#include "control/agent_config.h"

/* Lines above @level are dropped from now on. */
void cw_alog_set_level(enum cw_agent_log_level level);

/* Whether a line at @level would be written. */
bool cw_alog_on(enum cw_agent_log_level level);

/* Write one line at @level (printf format, no trailing newline needed). */
void cw_alog(enum cw_agent_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define cw_aerr(...)   cw_alog(CW_AGENT_LOG_ERR, __VA_ARGS__)
#define cw_awarn(...)  cw_alog(CW_AGENT_LOG_WARN, __VA_ARGS__)
#define cw_ainfo(...)  cw_alog(CW_AGENT_LOG_INFO, __VA_ARGS__)
#define cw_adebug(...) cw_alog(CW_AGENT_LOG_DEBUG, __VA_ARGS__)

#endif
