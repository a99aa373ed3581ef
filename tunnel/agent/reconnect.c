/* SPDX-License-Identifier: Apache-2.0 */
#include "reconnect.h"

#define MS UINT64_C(1000000)

void cw_reconnect_init(struct cw_reconnect *r, const struct cw_agent_reconnect_conf *c)
{
	r->initial_ns = (uint64_t)c->initial_ms * MS;
	r->max_ns = (uint64_t)c->max_ms * MS;
	r->reset_after_ns = (uint64_t)c->reset_after_ms * MS;
	r->jitter = c->jitter == CW_AGENT_JITTER_FULL;
	r->ceiling_ns = r->initial_ns;
}

uint64_t cw_reconnect_next(struct cw_reconnect *r, enum cw_backoff_why why, uint64_t lasted_ns,
			   uint64_t retry_after_ns, uint64_t rnd)
{
	uint64_t delay;

	if (lasted_ns > r->reset_after_ns)
		r->ceiling_ns = r->initial_ns;
	switch (why) {
	case CW_BACKOFF_RESET:
		r->ceiling_ns = r->initial_ns;
		delay = 0;
		break;
	case CW_BACKOFF_REPLACED:
		/* Coming back at once would displace the other holder of the
		 * identity, which would do the same. */
		delay = r->max_ns;
		break;
	default:
		/* The modulo bias over 2^64 is far below 1e-8. */
		delay = r->jitter ? rnd % (r->ceiling_ns + 1) : r->ceiling_ns;
		r->ceiling_ns = r->ceiling_ns > r->max_ns / 2 ? r->max_ns : r->ceiling_ns * 2;
		break;
	}
	return delay > retry_after_ns ? delay : retry_after_ns;
}
