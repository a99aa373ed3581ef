/* SPDX-License-Identifier: Apache-2.0 */
/*
 * NewReno congestion control and bytes in flight (PROTOCOL.md §10.5,
 * RFC 9002 §7 and Appendix B).
 *
 * Sizes are UDP payload bytes of in-flight packets (packets with an
 * ack-eliciting frame or PADDING); ACK-only packets never reach this
 * module. Loss detection (tunnel/recovery.h) decides what was acked, lost
 * or discarded and calls the functions below in RFC 9002's order: losses
 * of an ACK before its acknowledgments.
 *
 * Application-limited rule. The window grows on an acknowledgment only if
 * the sender filled the window at some moment since that packet was sent,
 * that is, some send left no room for another max-size datagram. A sender
 * that trickles (keepalives, small requests) thus never inflates a window
 * it has not tested, without the caller having to say when it is idle.
 */
#ifndef CW_CC_H
#define CW_CC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CW_CC_MAX_DATAGRAM_SIZE 1350u
#define CW_CC_INITIAL_WINDOW	(10u * CW_CC_MAX_DATAGRAM_SIZE) /* 13500 */
#define CW_CC_MIN_WINDOW	(2u * CW_CC_MAX_DATAGRAM_SIZE)	/* 2700 */
#define CW_CC_SSTHRESH_INF	UINT64_MAX

struct cw_cc {
	uint64_t cwnd;
	uint64_t ssthresh; /* CW_CC_SSTHRESH_INF until the first loss */
	uint64_t bytes_in_flight;
	uint64_t recovery_start; /* meaningful while in_recovery */
	uint64_t last_full;	 /* meaningful once was_full */
	uint64_t ca_credit;	 /* congestion avoidance: acked bytes ×
				  * max_datagram_size not yet turned into
				  * window, so growth does not round away */
	bool in_recovery;
	bool was_full;
	uint64_t congestion_events;	 /* counters, never reset */
	uint64_t persistent_congestions; /* ... */
};

void cw_cc_init(struct cw_cc *cc);

/* A new path (§11.5): the window starts over as after cw_cc_init(); the
 * bytes in flight and the counters stay. */
void cw_cc_reset(struct cw_cc *cc);

/*
 * An in-flight packet of @bytes was sent at @now. PTO probes may take bytes
 * in flight above the window; other packets must fit (cw_cc_window_left).
 */
void cw_cc_on_sent(struct cw_cc *cc, uint64_t now, size_t bytes);

/*
 * An in-flight packet of @bytes sent at @time_sent was acknowledged: it
 * leaves bytes in flight and, unless it was sent before the current
 * recovery period began or while the sender was application-limited,
 * grows the window (slow start: by @bytes; congestion avoidance: by
 * max_datagram_size × @bytes / cwnd).
 */
void cw_cc_on_acked(struct cw_cc *cc, uint64_t time_sent, size_t bytes);

/*
 * An in-flight packet of @bytes was declared lost, or its space was
 * discarded (§7.5): it leaves bytes in flight, nothing else. After a batch
 * of losses the caller reports a congestion event once.
 */
void cw_cc_on_removed(struct cw_cc *cc, size_t bytes);

/*
 * Packets up to one sent at @time_sent were lost, detected at @now. Starts
 * a recovery period (halving the window, not below the minimum) unless
 * that packet was sent within the current one, so one flight's losses
 * reduce the window once.
 */
void cw_cc_on_congestion_event(struct cw_cc *cc, uint64_t now, uint64_t time_sent);

/* Persistent congestion: the window collapses to CW_CC_MIN_WINDOW and the
 * recovery period ends, so the next loss reduces it again. */
void cw_cc_on_persistent_congestion(struct cw_cc *cc);

/* Bytes that may still be sent: cwnd − bytes in flight, or 0. */
uint64_t cw_cc_window_left(const struct cw_cc *cc);

static inline bool cw_cc_in_slow_start(const struct cw_cc *cc)
{
	return cc->cwnd < cc->ssthresh;
}

#endif /* CW_CC_H */
