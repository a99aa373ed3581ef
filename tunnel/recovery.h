/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loss recovery of a session (PROTOCOL.md §10.2-§10.4, RFC 9002 §5-§7 and
 * Appendix A): the packets sent in each packet number space, what an ACK
 * acknowledges, the RTT samples it yields, which packets are lost by the
 * packet and time thresholds, the loss and probe (PTO) timers, and
 * persistent congestion. It owns the RTT estimate and the NewReno state
 * (tunnel/rtt.h, tunnel/cc.h), which it feeds.
 *
 * Sent packets. Each space keeps a ring of records in packet number order,
 * grown by doubling through the injected allocator up to max_sent records
 * (a power of two, at most CW_RECOVERY_MAX_SENT). The cap counts every
 * record from the oldest unresolved packet to the newest: acknowledged and
 * lost packets leave the ring only once no older packet is still
 * outstanding. When the ring is full the sender must wait (-ENOSPC), which
 * bounds memory whatever the peer does; at 32 bytes a record, the default
 * cap is 256 KiB per space at most. An idle session keeps nothing:
 * cw_recovery_trim() returns empty rings to the allocator.
 *
 * The caller learns what happened to each packet through one callback,
 * with the opaque cookie it gave when the packet was sent (what frames the
 * packet carried, for retransmission per §10.3). The callback must not call
 * back into this module: the record it is shown lives in the ring.
 *
 * Times are nanoseconds from the caller's clock, which must not go back.
 * Timer values use CW_RECOVERY_NEVER for "not armed".
 *
 * Deliberate choices where RFC 9002 leaves room, or differs from §10:
 *  - An RTT sample is taken only when the largest acknowledged packet is
 *    newly acknowledged and is itself ack-eliciting (§10.2), not when any
 *    newly acknowledged packet is.
 *  - The Application space is probed once the handshake is complete
 *    (§10.4), not only once it is confirmed; the agent keeps its
 *    anti-deadlock PTO until its handshake is confirmed.
 *  - A PTO asks for two probe packets, an anti-deadlock PTO for one.
 *  - Persistent congestion looks, within the space whose losses are being
 *    declared, for two ack-eliciting packets lost in this batch, sent after
 *    the first RTT sample, more than the persistent congestion duration
 *    apart, with no packet of that space acknowledged between them; another
 *    space vetoes it if it has had any packet acknowledged that was sent
 *    after the first of the two (stricter than RFC 9002, which looks only
 *    between the two).
 *  - A packet declared lost is forgotten at once, so one acknowledged
 *    later (a spurious loss) is not noticed: its frames were resent anyway.
 */
#ifndef CW_RECOVERY_H
#define CW_RECOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ackranges.h"
#include "alloc.h"
#include "cc.h"
#include "header.h"
#include "rtt.h"

#define CW_RECOVERY_MAX_SENT	 16384u /* hard cap on records per space */
#define CW_RECOVERY_DEFAULT_SENT 8192u
#define CW_RECOVERY_MIN_RING	 16u /* first allocation of a ring */
#define CW_RECOVERY_NEVER	 UINT64_MAX

#define CW_PACKET_THRESHOLD		   3u
#define CW_TIME_THRESHOLD_NUM		   9u /* kTimeThreshold = 9/8 */
#define CW_TIME_THRESHOLD_DEN		   8u
#define CW_PERSISTENT_CONGESTION_THRESHOLD 3u

enum cw_pn_space {
	CW_PNS_INITIAL = 0,
	CW_PNS_HANDSHAKE = 1,
	CW_PNS_APP = 2,
	CW_PNS_COUNT = 3,
};

/* cw_sent_pkt.flags given by the caller. */
#define CW_SENT_ACK_ELICITING 0x01u
#define CW_SENT_IN_FLIGHT     0x02u /* ack-eliciting or PADDING (§8.1) */
#define CW_SENT_CALLER_FLAGS  (CW_SENT_ACK_ELICITING | CW_SENT_IN_FLIGHT)

struct cw_sent_pkt {
	uint64_t pn;
	uint64_t time_sent;
	uint64_t cookie; /* the caller's, never interpreted */
	uint32_t size;	 /* UDP payload bytes this packet took */
	uint8_t flags;	 /* CW_SENT_*; other bits are this module's */
};

enum cw_recovery_event {
	CW_RECOVERY_ACKED,     /* the peer has it: release its frames */
	CW_RECOVERY_LOST,      /* requeue its frames as §10.3 says */
	CW_RECOVERY_DISCARDED, /* its space was discarded: release, no resend */
};

struct cw_recovery_cb {
	void (*on_packet)(void *ctx, enum cw_pn_space space, enum cw_recovery_event ev,
			  const struct cw_sent_pkt *pkt);
	void *ctx;
};

/* What cw_recovery_on_timeout() did. */
enum cw_recovery_timeout {
	CW_TIMEOUT_NONE = 0, /* not due, or nothing to do */
	CW_TIMEOUT_LOSS = 1, /* packets were declared lost */
	CW_TIMEOUT_PTO = 2,  /* probes are due: see cw_recovery_probes() */
};

struct cw_recovery_stats {
	uint64_t acked;	      /* packets newly acknowledged */
	uint64_t lost;	      /* in-flight packets declared lost */
	uint64_t pto;	      /* PTO expiries, anti-deadlock included */
	uint64_t persistent;  /* persistent congestion declared */
	uint64_t bytes_acked; /* of in-flight packets */
	uint64_t bytes_lost;  /* ... */
};

struct cw_recovery_space {
	struct cw_sent_pkt *ring; /* NULL until the first packet */
	uint32_t cap, head, count;
	uint32_t ack_eliciting_in_flight;
	uint64_t largest_sent;	/* CW_PN_NONE before the first */
	uint64_t largest_acked; /* CW_PN_NONE before the first ACK */
	uint64_t loss_time;	/* CW_RECOVERY_NEVER when not armed */
	uint64_t last_ack_eliciting;
	uint64_t acked_sent_max; /* latest send time of an acknowledged packet */
	bool any_acked;
	bool discarded;
	uint8_t probes; /* ack-eliciting packets a PTO asks for */
};

struct cw_recovery {
	struct cw_recovery_space sp[CW_PNS_COUNT];
	struct cw_rtt rtt;
	struct cw_cc cc;
	struct cw_alloc alloc;
	struct cw_recovery_cb cb;
	struct cw_recovery_stats stats;
	uint64_t timer;		    /* CW_RECOVERY_NEVER when not armed */
	uint64_t first_sample_time; /* meaningful once rtt.has_sample */
	uint32_t max_sent;
	uint32_t pto_count;
	bool is_agent;
	bool handshake_keys;	  /* agent: has Handshake keys */
	bool peer_validated;	  /* agent: has received a HANDSHAKE packet */
	bool handshake_complete;  /* Application space may be probed */
	bool handshake_confirmed; /* ACK delay capped; no anti-deadlock */
	bool amp_blocked;	  /* gateway: at its amplification limit */
};

/*
 * Set up @rec for an agent (@is_agent) or the gateway, with @max_sent
 * records per space at most (0 for CW_RECOVERY_DEFAULT_SENT). @a and @cb
 * are copied; @cb->on_packet may be NULL. Nothing is allocated yet.
 * Returns 0, or -EINVAL when @max_sent is not 0 and not a power of two in
 * [CW_RECOVERY_MIN_RING, CW_RECOVERY_MAX_SENT], or @a is NULL.
 */
int cw_recovery_init(struct cw_recovery *rec, bool is_agent, uint32_t max_sent,
		     const struct cw_alloc *a, const struct cw_recovery_cb *cb);

/*
 * Release every ring without reporting their packets; discard the spaces
 * first if the caller needs its cookies back.
 */
void cw_recovery_free(struct cw_recovery *rec);

/* Allocate and free through @a (copied) from now on; @a must free what
 * the allocator before it allocated (cw_conn_set_alloc()). */
void cw_recovery_set_alloc(struct cw_recovery *rec, const struct cw_alloc *a);

/*
 * Record packet @pn of @space, @size bytes sent at @now, with @flags
 * (CW_SENT_ACK_ELICITING, CW_SENT_IN_FLIGHT) and the caller's @cookie. An
 * in-flight packet enters bytes in flight; an ack-eliciting one rearms the
 * PTO and counts as one of the probes a PTO asked for. Returns 0, or:
 *  -EINVAL  @space is unknown or discarded, @pn is not above every number
 *           sent in it or above CW_PN_MAX, @size is 0 or above UINT32_MAX,
 *           or @flags has ACK_ELICITING without IN_FLIGHT or other bits;
 *  -ENOSPC  max_sent records are outstanding in @space: do not send;
 *  -ENOMEM  growing the ring failed.
 * Nothing changes on error.
 */
int cw_recovery_on_sent(struct cw_recovery *rec, enum cw_pn_space space, uint64_t now, uint64_t pn,
			size_t size, unsigned flags, uint64_t cookie);

/*
 * Process ACK frame @f received at @now in a packet of @space: report the
 * newly acknowledged packets, take an RTT sample, declare losses, update
 * congestion control, reset the PTO backoff and rearm the timer. The ACK
 * delay is ignored in the Initial and Handshake spaces. Returns 0, or:
 *  -EINVAL  @space is unknown or discarded, or @f has no range, a range
 *           with lo > hi, or ranges not descending and disjoint (as
 *           cw_ack_decode() produces them);
 *  -EPROTO  @f acknowledges a packet number above the largest sent in
 *           @space (PROTOCOL_VIOLATION); nothing changes.
 */
int cw_recovery_on_ack(struct cw_recovery *rec, enum cw_pn_space space, uint64_t now,
		       const struct cw_ack_frame *f);

/* When cw_recovery_on_timeout() is next due, or CW_RECOVERY_NEVER. */
static inline uint64_t cw_recovery_next_timeout(const struct cw_recovery *rec)
{
	return rec->timer;
}

/*
 * Run the timer at @now: declare time-threshold losses if the loss timer
 * is due, else, if the PTO is due, ask for probes in the space it belongs
 * to (stored in *@space when not NULL), double the backoff and rearm.
 * Early calls do nothing. Returns a CW_TIMEOUT_* value.
 */
enum cw_recovery_timeout cw_recovery_on_timeout(struct cw_recovery *rec, uint64_t now,
						enum cw_pn_space *space);

/*
 * Ack-eliciting packets still owed in @space after a PTO. They may exceed
 * the congestion window; each one sent decrements the count.
 */
static inline unsigned cw_recovery_probes(const struct cw_recovery *rec, enum cw_pn_space space)
{
	return space < CW_PNS_COUNT ? rec->sp[space].probes : 0;
}

/*
 * Forget @space (§7.5): every outstanding packet is reported DISCARDED and
 * leaves bytes in flight without counting as lost, the ring is freed, the
 * PTO backoff is reset and the timer rearmed. Later calls for @space fail
 * with -EINVAL. Returns 0, or -EINVAL for an unknown space; discarding
 * twice is harmless.
 */
int cw_recovery_discard_space(struct cw_recovery *rec, enum cw_pn_space space, uint64_t now);

/*
 * Handshake progress, each set once and never cleared; those that move the
 * timer take @now.
 *  handshake_keys:  the agent has Handshake keys, so its anti-deadlock
 *                   probe is a HANDSHAKE packet rather than an INITIAL.
 *  peer_validated:  the agent has received a HANDSHAKE packet, so the
 *                   gateway has validated its address and an ACK may reset
 *                   the PTO backoff. Implied for the gateway.
 *  complete:        the Application space may be probed.
 *  confirmed:       ACK delays are capped, the anti-deadlock timer ends.
 */
void cw_recovery_set_handshake_keys(struct cw_recovery *rec);
void cw_recovery_set_peer_validated(struct cw_recovery *rec);
void cw_recovery_set_handshake_complete(struct cw_recovery *rec, uint64_t now);
void cw_recovery_set_handshake_confirmed(struct cw_recovery *rec, uint64_t now);

/*
 * The gateway is (@blocked) or no longer is at its amplification limit
 * (§7.4): while it is, no PTO is armed, as probes could not be sent.
 */
void cw_recovery_set_amplification_blocked(struct cw_recovery *rec, uint64_t now, bool blocked);

/*
 * Free the rings of spaces with no outstanding packet, so an idle session
 * holds no record memory; they are allocated again on the next send.
 */
void cw_recovery_trim(struct cw_recovery *rec);

/*
 * When every outstanding packet of @space is neither ack-eliciting nor in
 * flight (ACK-only packets, which the peer acknowledges only in an ACK it
 * sends for an ack-eliciting packet of ours, so perhaps never), report
 * them DISCARDED, free the ring and rearm the timer: an idle session then
 * holds no record memory. An ACK that covers them later moves
 * largest_acked and nothing else. Returns 0, -EINVAL for an unknown
 * space, or -EBUSY (nothing done) when an ack-eliciting or in-flight
 * packet is outstanding.
 */
int cw_recovery_forget_ack_only(struct cw_recovery *rec, enum cw_pn_space space, uint64_t now);

/* Largest packet number of @space the peer acknowledged, or CW_PN_NONE:
 * the reference for packet number truncation (§5.6). */
static inline uint64_t cw_recovery_largest_acked(const struct cw_recovery *rec,
						 enum cw_pn_space space)
{
	return rec->sp[space].largest_acked;
}

/*
 * One Application-space PTO period without backoff: smoothed_rtt +
 * max(4 × rttvar, kGranularity) + max_ack_delay. Key update (§6.6) and
 * closing (§11.3) wait multiples of it.
 */
uint64_t cw_recovery_pto_period(const struct cw_recovery *rec);

/* Whether any ack-eliciting packet is in flight in a live space. */
bool cw_recovery_ack_eliciting_in_flight(const struct cw_recovery *rec);

#endif /* CW_RECOVERY_H */
