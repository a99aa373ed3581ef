/* SPDX-License-Identifier: Apache-2.0 */
#include "cc.h"

void cw_cc_init(struct cw_cc *cc)
{
	*cc = (struct cw_cc){
	    .cwnd = CW_CC_INITIAL_WINDOW,
	    .ssthresh = CW_CC_SSTHRESH_INF,
	};
}

void cw_cc_reset(struct cw_cc *cc)
{
	struct cw_cc fresh;

	cw_cc_init(&fresh);
	fresh.bytes_in_flight = cc->bytes_in_flight;
	fresh.congestion_events = cc->congestion_events;
	fresh.persistent_congestions = cc->persistent_congestions;
	*cc = fresh;
}

void cw_cc_on_sent(struct cw_cc *cc, uint64_t now, size_t bytes)
{
	cc->bytes_in_flight += bytes;
	if (cc->bytes_in_flight + CW_CC_MAX_DATAGRAM_SIZE > cc->cwnd) {
		cc->was_full = true;
		cc->last_full = now;
	}
}

void cw_cc_on_removed(struct cw_cc *cc, size_t bytes)
{
	/* Saturate: a caller's accounting slip must not wrap into a window
	 * that blocks forever. */
	cc->bytes_in_flight = cc->bytes_in_flight > bytes ? cc->bytes_in_flight - bytes : 0;
}

static bool in_recovery(const struct cw_cc *cc, uint64_t time_sent)
{
	return cc->in_recovery && time_sent <= cc->recovery_start;
}

static bool app_limited(const struct cw_cc *cc, uint64_t time_sent)
{
	return !cc->was_full || cc->last_full < time_sent;
}

static void avoid_congestion(struct cw_cc *cc, size_t bytes)
{
	uint64_t add;

	cc->ca_credit += (uint64_t)CW_CC_MAX_DATAGRAM_SIZE * bytes;
	add = cc->ca_credit / cc->cwnd;
	cc->ca_credit -= add * cc->cwnd;
	cc->cwnd += add;
}

void cw_cc_on_acked(struct cw_cc *cc, uint64_t time_sent, size_t bytes)
{
	cw_cc_on_removed(cc, bytes);
	if (in_recovery(cc, time_sent) || app_limited(cc, time_sent))
		return;
	if (cw_cc_in_slow_start(cc))
		cc->cwnd += bytes;
	else
		avoid_congestion(cc, bytes);
}

void cw_cc_on_congestion_event(struct cw_cc *cc, uint64_t now, uint64_t time_sent)
{
	if (in_recovery(cc, time_sent))
		return;
	cc->in_recovery = true;
	cc->recovery_start = now;
	cc->ssthresh = cc->cwnd / 2;
	cc->cwnd = cc->ssthresh > CW_CC_MIN_WINDOW ? cc->ssthresh : CW_CC_MIN_WINDOW;
	cc->ca_credit = 0;
	cc->congestion_events++;
}

void cw_cc_on_persistent_congestion(struct cw_cc *cc)
{
	cc->cwnd = CW_CC_MIN_WINDOW;
	cc->in_recovery = false;
	cc->ca_credit = 0;
	cc->persistent_congestions++;
}

uint64_t cw_cc_window_left(const struct cw_cc *cc)
{
	return cc->bytes_in_flight < cc->cwnd ? cc->cwnd - cc->bytes_in_flight : 0;
}
