/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's reconnect delays (PROTOCOL.md §11.6) under its [reconnect]
 * configuration: the ceiling starts at initial_ms and doubles after every
 * attempt up to max_ms; with full jitter each delay is drawn uniformly
 * from [0, ceiling], without it the delay is the ceiling. A session that
 * lasted longer than reset_after_ms starts afresh; a stateless reset means
 * the gateway restarted and the agent comes back at once; SESSION_REPLACED
 * waits max_ms; the gateway's Close.retry_after_ms is a floor. With the
 * defaults this is tunnel/backoff.h exactly. Sans-I/O: the random value
 * comes from the caller.
 */
#ifndef CW_AGENT_RECONNECT_H
#define CW_AGENT_RECONNECT_H

#include <stdbool.h>
#include <stdint.h>

#include "control/agent_config.h"
#include "tunnel/backoff.h"

struct cw_reconnect {
	uint64_t initial_ns, max_ns, reset_after_ns;
	bool jitter;
	uint64_t ceiling_ns; /* the next delay is drawn from [0, ceiling] */
};

/* Start from @c (values as cw_agent_config_parse() checked them). */
void cw_reconnect_init(struct cw_reconnect *r, const struct cw_agent_reconnect_conf *c);

/*
 * The delay in nanoseconds before the next attempt, after a session or
 * attempt that ended for @why having lasted @lasted_ns, with the gateway's
 * @retry_after_ns (0: none) and @rnd a uniformly random 64-bit value.
 * Moves the ceiling for the attempt after.
 */
uint64_t cw_reconnect_next(struct cw_reconnect *r, enum cw_backoff_why why, uint64_t lasted_ns,
			   uint64_t retry_after_ns, uint64_t rnd);

#endif
