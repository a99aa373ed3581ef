/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's reconnect delays (PROTOCOL.md §11.6): exponential backoff
 * with full jitter, so that thousands of agents cut off by one gateway
 * restart do not all come back in the same second.
 *
 * The ceiling starts at 1 s and doubles after every attempt up to 60 s; each
 * delay is drawn uniformly from [0, ceiling]. A session that lasted over
 * 60 s starts the backoff afresh; a stateless reset means the gateway
 * restarted and the agent comes back at once; SESSION_REPLACED means
 * another agent holds this node's identity, so this one waits the maximum.
 * The gateway's Close.retry_after_ms is a floor. The random value comes
 * from the caller: no RNG or clock in here.
 */
#ifndef CW_BACKOFF_H
#define CW_BACKOFF_H

#include <stdint.h>

#define CW_BACKOFF_FIRST_NS	   1000000000ull
#define CW_BACKOFF_MAX_NS	   60000000000ull
#define CW_BACKOFF_LONG_SESSION_NS 60000000000ull

/* Why the last session or attempt ended. */
enum cw_backoff_why {
	CW_BACKOFF_FAILED = 0, /* the attempt never completed its handshake */
	CW_BACKOFF_CLOSED,     /* CONNECTION_CLOSE or idle timeout */
	CW_BACKOFF_RESET,      /* stateless reset: the gateway restarted */
	CW_BACKOFF_REPLACED,   /* SESSION_REPLACED: another agent is this node */
};

struct cw_backoff {
	uint64_t ceiling_ns; /* the next delay is drawn from [0, ceiling] */
};

static inline void cw_backoff_init(struct cw_backoff *b)
{
	b->ceiling_ns = CW_BACKOFF_FIRST_NS;
}

/*
 * The delay before the next attempt, in nanoseconds, after a session or
 * attempt that ended for @why having lasted @lasted_ns, with the gateway's
 * @retry_after_ns (0: none given) and @rnd a uniformly random 64-bit value.
 * Moves the ceiling for the attempt after.
 */
uint64_t cw_backoff_next(struct cw_backoff *b, enum cw_backoff_why why, uint64_t lasted_ns,
			 uint64_t retry_after_ns, uint64_t rnd);

#endif
