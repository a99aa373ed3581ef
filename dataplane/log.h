/* SPDX-License-Identifier: Apache-2.0 */
/* Leveled logging to stderr for the control path (never the packet path). */
#ifndef CW_LOG_H
#define CW_LOG_H

#include "control/config.h"

void cw_log_set_level(enum cw_log_level level);
void cw_log(enum cw_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define cw_err(...)   cw_log(CW_LOG_ERR, __VA_ARGS__)
#define cw_warn(...)  cw_log(CW_LOG_WARN, __VA_ARGS__)
#define cw_info(...)  cw_log(CW_LOG_INFO, __VA_ARGS__)
#define cw_debug(...) cw_log(CW_LOG_DEBUG, __VA_ARGS__)

#endif
