/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pacing of in-flight packets (PROTOCOL.md §10.6): a token bucket of
 * CW_PACER_BURST bytes, full at the start, refilled at
 * rate = 1.25 × cwnd / smoothed_rtt, so that over any interval t at most
 * CW_PACER_BURST + rate × t bytes leave.
 *
 * The rate is computed from the cwnd and smoothed RTT the caller passes on
 * each call, so the pacer holds no pointer into congestion control. Packets
 * that carry only ACK frames are not paced: do not report them. A packet
 * is sent only when the bucket holds its whole size, so the bound above is
 * never exceeded, not even by one packet.
 *
 * Tokens are whole bytes; the fraction of a byte earned between two calls
 * is dropped, which errs on the slow side by under a byte per call.
 */
#ifndef CW_PACER_H
#define CW_PACER_H

#include <stddef.h>
#include <stdint.h>

#include "cc.h"

#define CW_PACER_BURST	  (10u * CW_CC_MAX_DATAGRAM_SIZE) /* 13500 bytes */
#define CW_PACER_GAIN_NUM 5u				  /* 1.25 = 5/4 */
#define CW_PACER_GAIN_DEN 4u
/* Inputs are clamped to these, which keeps every product within 64 bits;
 * real sessions are far below them. */
#define CW_PACER_MAX_CWND (UINT64_C(1) << 40)
#define CW_PACER_MAX_SRTT (UINT64_C(1) << 40) /* ns, about 18 minutes */

struct cw_pacer {
	uint64_t tokens; /* bytes, at most CW_PACER_BURST */
	uint64_t last;	 /* when tokens was last brought up to date */
};

/* A full bucket: the first CW_PACER_BURST bytes may leave at once. */
void cw_pacer_init(struct cw_pacer *p, uint64_t now);

/*
 * The earliest time, @now or later, at which a packet of @bytes may be
 * sent, with the window @cwnd and smoothed RTT @srtt (kInitialRtt before a
 * sample). An @srtt of 0 means no pacing (returns @now). @bytes above
 * CW_PACER_BURST are treated as CW_PACER_BURST.
 */
uint64_t cw_pacer_next(const struct cw_pacer *p, uint64_t now, uint64_t cwnd, uint64_t srtt,
		       size_t bytes);

/*
 * A paced packet of @bytes was sent at @now. Sending before cw_pacer_next()
 * allowed (a PTO probe, say) empties the bucket rather than going into
 * debt, so it does not delay later packets further.
 */
void cw_pacer_on_sent(struct cw_pacer *p, uint64_t now, uint64_t cwnd, uint64_t srtt, size_t bytes);

#endif /* CW_PACER_H */
