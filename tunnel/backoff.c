/* SPDX-License-Identifier: Apache-2.0 */
#include "backoff.h"

uint64_t cw_backoff_next(struct cw_backoff *b, enum cw_backoff_why why, uint64_t lasted_ns,
			 uint64_t retry_after_ns, uint64_t rnd)
{
	uint64_t delay;

	if (lasted_ns > CW_BACKOFF_LONG_SESSION_NS)
		b->ceiling_ns = CW_BACKOFF_FIRST_NS;
	switch (why) {
	case CW_BACKOFF_RESET:
		b->ceiling_ns = CW_BACKOFF_FIRST_NS;
		delay = 0;
		break;
	case CW_BACKOFF_REPLACED:
		/* Coming back at once would displace the other holder of the
		 * identity, which would do the same. */
		delay = CW_BACKOFF_MAX_NS;
		break;
	default:
		/* Full jitter; the modulo bias over 2^64 is far below 1e-8. */
		delay = rnd % (b->ceiling_ns + 1);
		b->ceiling_ns =
		    b->ceiling_ns > CW_BACKOFF_MAX_NS / 2 ? CW_BACKOFF_MAX_NS : b->ceiling_ns * 2;
		break;
	}
	return delay > retry_after_ns ? delay : retry_after_ns;
}
