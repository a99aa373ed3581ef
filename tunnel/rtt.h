/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Round-trip time estimate of a session (PROTOCOL.md §10.2, RFC 9002 §5).
 *
 * All times are nanoseconds. The estimator knows nothing of packet number
 * spaces: the caller passes an ACK delay of 0 for INITIAL and HANDSHAKE
 * ACKs, whose delay field is ignored, and says whether the handshake is
 * confirmed, since only then is the peer bound to its max_ack_delay.
 */
#ifndef CW_RTT_H
#define CW_RTT_H

#include <stdbool.h>
#include <stdint.h>

#define CW_RTT_INITIAL	     UINT64_C(100000000) /* kInitialRtt, 100 ms */
#define CW_RTT_GRANULARITY   UINT64_C(1000000)	 /* kGranularity, 1 ms */
#define CW_RTT_MAX_ACK_DELAY UINT64_C(25000000)	 /* max_ack_delay, 25 ms */

struct cw_rtt {
	uint64_t latest;   /* 0 before the first sample */
	uint64_t min;	   /* 0 before the first sample */
	uint64_t smoothed; /* CW_RTT_INITIAL before the first sample */
	uint64_t var;	   /* CW_RTT_INITIAL / 2 before the first sample */
	bool has_sample;
};

void cw_rtt_init(struct cw_rtt *r);

/*
 * Take the sample @latest_rtt (now minus the send time of the largest
 * newly acknowledged packet) with the peer's reported @ack_delay. The
 * first sample sets every field and ignores @ack_delay, which is not yet
 * known to be trustworthy against min_rtt. Later ones subtract @ack_delay,
 * capped at CW_RTT_MAX_ACK_DELAY when @confirmed, unless that would take
 * the sample below min_rtt: a peer cannot make us believe in a path
 * faster than one we have seen.
 */
void cw_rtt_update(struct cw_rtt *r, uint64_t latest_rtt, uint64_t ack_delay, bool confirmed);

/*
 * After persistent congestion the path may have changed: forget the old
 * minimum and let the newest sample stand for it (RFC 9002 §5.2).
 */
void cw_rtt_reset_min(struct cw_rtt *r);

/*
 * smoothed + max(4 × rttvar, kGranularity): the part of a PTO period
 * (§10.4) that is common to every packet number space.
 */
uint64_t cw_rtt_pto_base(const struct cw_rtt *r);

#endif /* CW_RTT_H */
