/* SPDX-License-Identifier: Apache-2.0 */
#include "rtt.h"

void cw_rtt_init(struct cw_rtt *r)
{
	*r = (struct cw_rtt){
	    .smoothed = CW_RTT_INITIAL,
	    .var = CW_RTT_INITIAL / 2,
	};
}

static uint64_t absdiff(uint64_t a, uint64_t b)
{
	return a > b ? a - b : b - a;
}

void cw_rtt_update(struct cw_rtt *r, uint64_t latest_rtt, uint64_t ack_delay, bool confirmed)
{
	uint64_t adjusted = latest_rtt;

	r->latest = latest_rtt;
	if (!r->has_sample) {
		r->has_sample = true;
		r->min = latest_rtt;
		r->smoothed = latest_rtt;
		r->var = latest_rtt / 2;
		return;
	}
	if (latest_rtt < r->min)
		r->min = latest_rtt;
	if (confirmed && ack_delay > CW_RTT_MAX_ACK_DELAY)
		ack_delay = CW_RTT_MAX_ACK_DELAY;
	/* Written as a subtraction from latest so a huge delay cannot wrap. */
	if (latest_rtt - r->min >= ack_delay)
		adjusted = latest_rtt - ack_delay;
	r->var = (3 * r->var + absdiff(r->smoothed, adjusted)) / 4;
	r->smoothed = (7 * r->smoothed + adjusted) / 8;
}

void cw_rtt_reset_min(struct cw_rtt *r)
{
	if (r->has_sample)
		r->min = r->latest;
}

uint64_t cw_rtt_pto_base(const struct cw_rtt *r)
{
	uint64_t v = 4 * r->var;

	return r->smoothed + (v > CW_RTT_GRANULARITY ? v : CW_RTT_GRANULARITY);
}
