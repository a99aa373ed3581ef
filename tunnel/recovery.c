/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>

#include "recovery.h"

/*
 * Record states kept in cw_sent_pkt.flags next to the caller's bits. A
 * resolved record stays in the ring as a tombstone until every older one is
 * resolved too, which keeps the ring sorted and contiguous; ST_NEW marks
 * what the ACK being processed acknowledged, so congestion control can be
 * fed after the losses that ACK reveals, as RFC 9002 orders it.
 */
#define ST_ACKED 0x10u
#define ST_LOST	 0x20u
#define ST_NEW	 0x40u
#define ST_DONE	 (ST_ACKED | ST_LOST)

#define PTO_PROBES	     2
#define ANTI_DEADLOCK_PROBES 1
#define ACK_DELAY_UNIT_NS    UINT64_C(8000) /* 8 µs, §8.4 */

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > CW_RECOVERY_NEVER - b ? CW_RECOVERY_NEVER : a + b;
}

static uint64_t backoff(uint64_t d, uint32_t n)
{
	if (n >= 63 || d > (CW_RECOVERY_NEVER >> n))
		return CW_RECOVERY_NEVER;
	return d << n;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static struct cw_sent_pkt *at(const struct cw_recovery_space *s, uint32_t i)
{
	return &s->ring[(s->head + i) & (s->cap - 1)];
}

static void report(struct cw_recovery *rec, enum cw_pn_space space, enum cw_recovery_event ev,
		   const struct cw_sent_pkt *e)
{
	if (rec->cb.on_packet)
		rec->cb.on_packet(rec->cb.ctx, space, ev, e);
}

static void ring_free(struct cw_recovery *rec, struct cw_recovery_space *s)
{
	if (s->ring)
		rec->alloc.free(rec->alloc.ctx, s->ring, (size_t)s->cap * sizeof(*s->ring));
	s->ring = NULL;
	s->cap = s->head = s->count = 0;
}

static int ring_grow(struct cw_recovery *rec, struct cw_recovery_space *s)
{
	uint32_t cap = s->cap ? 2 * s->cap : CW_RECOVERY_MIN_RING;
	struct cw_sent_pkt *ring;

	if (cap > rec->max_sent)
		return -ENOSPC;
	ring = rec->alloc.alloc(rec->alloc.ctx, (size_t)cap * sizeof(*ring));
	if (!ring)
		return -ENOMEM;
	for (uint32_t i = 0; i < s->count; i++)
		ring[i] = *at(s, i);
	if (s->ring)
		rec->alloc.free(rec->alloc.ctx, s->ring, (size_t)s->cap * sizeof(*s->ring));
	s->ring = ring;
	s->cap = cap;
	s->head = 0;
	return 0;
}

/* Drop the resolved records at the old end of the ring. */
static void compact(struct cw_recovery_space *s)
{
	while (s->count && (at(s, 0)->flags & ST_DONE)) {
		s->head = (s->head + 1) & (s->cap - 1);
		s->count--;
	}
}

int cw_recovery_init(struct cw_recovery *rec, bool is_agent, uint32_t max_sent,
		     const struct cw_alloc *a, const struct cw_recovery_cb *cb)
{
	if (!max_sent)
		max_sent = CW_RECOVERY_DEFAULT_SENT;
	if (!a || max_sent < CW_RECOVERY_MIN_RING || max_sent > CW_RECOVERY_MAX_SENT ||
	    (max_sent & (max_sent - 1)))
		return -EINVAL;
	*rec = (struct cw_recovery){
	    .alloc = *a,
	    .timer = CW_RECOVERY_NEVER,
	    .max_sent = max_sent,
	    .is_agent = is_agent,
	    .peer_validated = !is_agent,
	};
	if (cb)
		rec->cb = *cb;
	for (int i = 0; i < CW_PNS_COUNT; i++) {
		rec->sp[i].largest_sent = CW_PN_NONE;
		rec->sp[i].largest_acked = CW_PN_NONE;
		rec->sp[i].loss_time = CW_RECOVERY_NEVER;
	}
	cw_rtt_init(&rec->rtt);
	cw_cc_init(&rec->cc);
	return 0;
}

void cw_recovery_set_alloc(struct cw_recovery *rec, const struct cw_alloc *a)
{
	rec->alloc = *a;
}

void cw_recovery_free(struct cw_recovery *rec)
{
	for (int i = 0; i < CW_PNS_COUNT; i++)
		ring_free(rec, &rec->sp[i]);
}

bool cw_recovery_ack_eliciting_in_flight(const struct cw_recovery *rec)
{
	for (int i = 0; i < CW_PNS_COUNT; i++)
		if (!rec->sp[i].discarded && rec->sp[i].ack_eliciting_in_flight)
			return true;
	return false;
}

uint64_t cw_recovery_pto_period(const struct cw_recovery *rec)
{
	return cw_rtt_pto_base(&rec->rtt) + CW_RTT_MAX_ACK_DELAY;
}

/* The earliest armed loss time and its space (RFC 9002 GetLossTimeAndSpace). */
static uint64_t earliest_loss_time(const struct cw_recovery *rec, enum cw_pn_space *space)
{
	uint64_t t = CW_RECOVERY_NEVER;

	for (int i = 0; i < CW_PNS_COUNT; i++) {
		if (rec->sp[i].loss_time < t) {
			t = rec->sp[i].loss_time;
			*space = (enum cw_pn_space)i;
		}
	}
	return t;
}

/*
 * With nothing in flight only the agent's anti-deadlock timer can run: it
 * starts from @now, since no packet marks when the wait began.
 */
static uint64_t anti_deadlock_time(const struct cw_recovery *rec, uint64_t now,
				   enum cw_pn_space *space)
{
	enum cw_pn_space sp = rec->handshake_keys ? CW_PNS_HANDSHAKE : CW_PNS_INITIAL;

	if (!rec->is_agent || rec->handshake_confirmed || rec->sp[sp].discarded)
		return CW_RECOVERY_NEVER;
	*space = sp;
	return sat_add(now, backoff(cw_rtt_pto_base(&rec->rtt), rec->pto_count));
}

/* RFC 9002 GetPtoTimeAndSpace, with §10.4's rule for the Application space. */
static uint64_t pto_time(const struct cw_recovery *rec, uint64_t now, enum cw_pn_space *space)
{
	uint64_t base = cw_rtt_pto_base(&rec->rtt), best = CW_RECOVERY_NEVER;

	if (!cw_recovery_ack_eliciting_in_flight(rec))
		return anti_deadlock_time(rec, now, space);
	for (int i = 0; i < CW_PNS_COUNT; i++) {
		const struct cw_recovery_space *s = &rec->sp[i];
		uint64_t d = base, t;

		if (s->discarded || !s->ack_eliciting_in_flight)
			continue;
		if (i == CW_PNS_APP) {
			if (!rec->handshake_complete)
				break;
			d += CW_RTT_MAX_ACK_DELAY;
		}
		t = sat_add(s->last_ack_eliciting, backoff(d, rec->pto_count));
		if (t < best) {
			best = t;
			*space = (enum cw_pn_space)i;
		}
	}
	return best;
}

static void set_timer(struct cw_recovery *rec, uint64_t now)
{
	enum cw_pn_space sp;

	rec->timer = earliest_loss_time(rec, &sp);
	if (rec->timer != CW_RECOVERY_NEVER)
		return;
	/* A blocked gateway could not send the probes. */
	if (rec->amp_blocked)
		return;
	rec->timer = pto_time(rec, now, &sp);
}

int cw_recovery_on_sent(struct cw_recovery *rec, enum cw_pn_space space, uint64_t now, uint64_t pn,
			size_t size, unsigned flags, uint64_t cookie)
{
	struct cw_recovery_space *s;
	int rc;

	if ((unsigned)space >= CW_PNS_COUNT)
		return -EINVAL;
	s = &rec->sp[space];
	if (s->discarded || pn > CW_PN_MAX ||
	    (s->largest_sent != CW_PN_NONE && pn <= s->largest_sent))
		return -EINVAL;
	if (!size || size > UINT32_MAX || (flags & ~CW_SENT_CALLER_FLAGS) ||
	    (flags & (CW_SENT_ACK_ELICITING | CW_SENT_IN_FLIGHT)) == CW_SENT_ACK_ELICITING)
		return -EINVAL;
	if (s->count == s->cap && (rc = ring_grow(rec, s)) != 0)
		return rc;
	*at(s, s->count) = (struct cw_sent_pkt){
	    .pn = pn,
	    .time_sent = now,
	    .cookie = cookie,
	    .size = (uint32_t)size,
	    .flags = (uint8_t)flags,
	};
	s->count++;
	s->largest_sent = pn;
	if (!(flags & CW_SENT_IN_FLIGHT))
		return 0;
	cw_cc_on_sent(&rec->cc, now, size);
	if (flags & CW_SENT_ACK_ELICITING) {
		s->ack_eliciting_in_flight++;
		s->last_ack_eliciting = now;
		if (s->probes)
			s->probes--;
	}
	set_timer(rec, now);
	return 0;
}

/* First ring index whose packet number is @pn or above. */
static uint32_t lower_bound(const struct cw_recovery_space *s, uint64_t pn)
{
	uint32_t lo = 0, hi = s->count;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (at(s, mid)->pn < pn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* What one ACK newly acknowledged. */
struct acked {
	uint32_t n;
	uint32_t first, last; /* ring indices spanning the ST_NEW records */
	const struct cw_sent_pkt *largest;
};

static void ack_one(struct cw_recovery *rec, enum cw_pn_space space, struct cw_sent_pkt *e)
{
	struct cw_recovery_space *s = &rec->sp[space];

	e->flags |= ST_ACKED | ST_NEW;
	rec->stats.acked++;
	if ((e->flags & CW_SENT_ACK_ELICITING))
		s->ack_eliciting_in_flight--;
	if (e->flags & CW_SENT_IN_FLIGHT)
		rec->stats.bytes_acked += e->size;
	s->acked_sent_max = max_u64(s->acked_sent_max, e->time_sent);
	s->any_acked = true;
	report(rec, space, CW_RECOVERY_ACKED, e);
}

static void mark_acked(struct cw_recovery *rec, enum cw_pn_space space,
		       const struct cw_ack_frame *f, struct acked *out)
{
	struct cw_recovery_space *s = &rec->sp[space];

	*out = (struct acked){.first = UINT32_MAX};
	for (size_t r = 0; r < f->n; r++) {
		for (uint32_t i = lower_bound(s, f->r[r].lo); i < s->count; i++) {
			struct cw_sent_pkt *e = at(s, i);

			if (e->pn > f->r[r].hi)
				break;
			/*
			 * A lost record never outlives its ACK's processing:
			 * any older outstanding packet would have been lost in
			 * the same pass. So a resolved one here is acked.
			 */
			if (e->flags & ST_DONE)
				continue;
			ack_one(rec, space, e);
			out->n++;
			out->first = i < out->first ? i : out->first;
			out->last = i > out->last ? i : out->last;
			if (!out->largest || e->pn > out->largest->pn)
				out->largest = e;
		}
	}
}

static uint64_t ack_delay_ns(enum cw_pn_space space, uint64_t units)
{
	if (space != CW_PNS_APP)
		return 0;
	if (units > UINT64_MAX / ACK_DELAY_UNIT_NS)
		return UINT64_MAX;
	return units * ACK_DELAY_UNIT_NS;
}

static void take_sample(struct cw_recovery *rec, enum cw_pn_space space, uint64_t now,
			const struct cw_sent_pkt *e, uint64_t ack_delay)
{
	uint64_t latest = now > e->time_sent ? now - e->time_sent : 0;

	if (!rec->rtt.has_sample)
		rec->first_sample_time = now;
	cw_rtt_update(&rec->rtt, latest, ack_delay_ns(space, ack_delay), rec->handshake_confirmed);
}

/* What one round of loss detection found. */
struct lost {
	bool in_flight;	    /* an in-flight packet was lost */
	uint64_t last_sent; /* latest send time of those */
	uint64_t run_start; /* persistent congestion candidate period */
	bool persistent;
};

static uint64_t loss_delay(const struct cw_rtt *rtt)
{
	uint64_t d =
	    max_u64(rtt->latest, rtt->smoothed) * CW_TIME_THRESHOLD_NUM / CW_TIME_THRESHOLD_DEN;

	return max_u64(d, CW_RTT_GRANULARITY);
}

static uint64_t pc_duration(const struct cw_recovery *rec)
{
	return cw_recovery_pto_period(rec) * CW_PERSISTENT_CONGESTION_THRESHOLD;
}

/* Another space saw the path deliver something sent after @since. */
static bool pc_vetoed(const struct cw_recovery *rec, enum cw_pn_space space, uint64_t since)
{
	for (int i = 0; i < CW_PNS_COUNT; i++) {
		const struct cw_recovery_space *o = &rec->sp[i];

		if (i != (int)space && !o->discarded && o->any_acked && o->acked_sent_max > since)
			return true;
	}
	return false;
}

static void pc_track(const struct cw_recovery *rec, enum cw_pn_space space,
		     const struct cw_sent_pkt *e, struct lost *l)
{
	if (!(e->flags & CW_SENT_ACK_ELICITING) || !rec->rtt.has_sample ||
	    e->time_sent <= rec->first_sample_time)
		return;
	if (l->run_start == CW_RECOVERY_NEVER)
		l->run_start = e->time_sent;
	else if (e->time_sent - l->run_start > pc_duration(rec) &&
		 !pc_vetoed(rec, space, l->run_start))
		l->persistent = true;
}

static void declare_lost(struct cw_recovery *rec, enum cw_pn_space space, struct cw_sent_pkt *e,
			 struct lost *l)
{
	struct cw_recovery_space *s = &rec->sp[space];

	e->flags |= ST_LOST;
	if (e->flags & CW_SENT_IN_FLIGHT) {
		cw_cc_on_removed(&rec->cc, e->size);
		rec->stats.lost++;
		rec->stats.bytes_lost += e->size;
		l->in_flight = true;
		l->last_sent = max_u64(l->last_sent, e->time_sent);
	}
	if (e->flags & CW_SENT_ACK_ELICITING)
		s->ack_eliciting_in_flight--;
	pc_track(rec, space, e, l);
	report(rec, space, CW_RECOVERY_LOST, e);
}

/* RFC 9002 DetectAndRemoveLostPackets followed by OnPacketsLost. */
static void detect_lost(struct cw_recovery *rec, enum cw_pn_space space, uint64_t now)
{
	struct cw_recovery_space *s = &rec->sp[space];
	struct lost l = {.run_start = CW_RECOVERY_NEVER};
	uint64_t delay = loss_delay(&rec->rtt);

	s->loss_time = CW_RECOVERY_NEVER;
	for (uint32_t i = 0; i < s->count && s->largest_acked != CW_PN_NONE; i++) {
		struct cw_sent_pkt *e = at(s, i);

		if (e->pn > s->largest_acked)
			break;
		if (e->flags & ST_ACKED) {
			/* The path delivered in between: no persistent
			 * congestion across this packet. */
			l.run_start = CW_RECOVERY_NEVER;
			continue;
		}
		if (e->flags & ST_LOST)
			continue;
		if (sat_add(e->time_sent, delay) <= now ||
		    s->largest_acked - e->pn >= CW_PACKET_THRESHOLD)
			declare_lost(rec, space, e, &l);
		else if (sat_add(e->time_sent, delay) < s->loss_time)
			s->loss_time = sat_add(e->time_sent, delay);
	}
	if (l.in_flight)
		cw_cc_on_congestion_event(&rec->cc, now, l.last_sent);
	if (l.persistent) {
		cw_cc_on_persistent_congestion(&rec->cc);
		cw_rtt_reset_min(&rec->rtt);
		rec->stats.persistent++;
	}
}

static void feed_acked(struct cw_recovery *rec, struct cw_recovery_space *s, const struct acked *a)
{
	for (uint32_t i = a->first; i <= a->last; i++) {
		struct cw_sent_pkt *e = at(s, i);

		if (!(e->flags & ST_NEW))
			continue;
		e->flags &= ~ST_NEW;
		if (e->flags & CW_SENT_IN_FLIGHT)
			cw_cc_on_acked(&rec->cc, e->time_sent, e->size);
	}
}

static int check_ack(const struct cw_recovery_space *s, const struct cw_ack_frame *f)
{
	if (!f->n)
		return -EINVAL;
	for (size_t r = 0; r < f->n; r++) {
		if (f->r[r].lo > f->r[r].hi)
			return -EINVAL;
		if (r && f->r[r].hi >= f->r[r - 1].lo)
			return -EINVAL;
	}
	if (s->largest_sent == CW_PN_NONE || f->r[0].hi > s->largest_sent)
		return -EPROTO;
	return 0;
}

int cw_recovery_on_ack(struct cw_recovery *rec, enum cw_pn_space space, uint64_t now,
		       const struct cw_ack_frame *f)
{
	struct cw_recovery_space *s;
	struct acked a;
	int rc;

	if ((unsigned)space >= CW_PNS_COUNT || rec->sp[space].discarded)
		return -EINVAL;
	s = &rec->sp[space];
	if ((rc = check_ack(s, f)) != 0)
		return rc;
	if (s->largest_acked == CW_PN_NONE || f->r[0].hi > s->largest_acked)
		s->largest_acked = f->r[0].hi;
	mark_acked(rec, space, f, &a);
	if (!a.n) {
		compact(s);
		return 0;
	}
	if (a.largest->pn == f->r[0].hi && (a.largest->flags & CW_SENT_ACK_ELICITING))
		take_sample(rec, space, now, a.largest, f->ack_delay);
	detect_lost(rec, space, now);
	feed_acked(rec, s, &a);
	if (rec->peer_validated || rec->handshake_confirmed)
		rec->pto_count = 0;
	compact(s);
	set_timer(rec, now);
	return 0;
}

enum cw_recovery_timeout cw_recovery_on_timeout(struct cw_recovery *rec, uint64_t now,
						enum cw_pn_space *space)
{
	enum cw_pn_space sp = CW_PNS_INITIAL;

	if (rec->timer == CW_RECOVERY_NEVER || now < rec->timer)
		return CW_TIMEOUT_NONE;
	if (earliest_loss_time(rec, &sp) != CW_RECOVERY_NEVER) {
		detect_lost(rec, sp, now);
		compact(&rec->sp[sp]);
		set_timer(rec, now);
		if (space)
			*space = sp;
		return CW_TIMEOUT_LOSS;
	}
	if (rec->amp_blocked || pto_time(rec, now, &sp) == CW_RECOVERY_NEVER) {
		set_timer(rec, now);
		return CW_TIMEOUT_NONE;
	}
	rec->sp[sp].probes =
	    cw_recovery_ack_eliciting_in_flight(rec) ? PTO_PROBES : ANTI_DEADLOCK_PROBES;
	rec->pto_count++;
	rec->stats.pto++;
	set_timer(rec, now);
	if (space)
		*space = sp;
	return CW_TIMEOUT_PTO;
}

int cw_recovery_discard_space(struct cw_recovery *rec, enum cw_pn_space space, uint64_t now)
{
	struct cw_recovery_space *s;

	if ((unsigned)space >= CW_PNS_COUNT)
		return -EINVAL;
	s = &rec->sp[space];
	if (s->discarded)
		return 0;
	for (uint32_t i = 0; i < s->count; i++) {
		struct cw_sent_pkt *e = at(s, i);

		if (e->flags & ST_DONE)
			continue;
		if (e->flags & CW_SENT_IN_FLIGHT)
			cw_cc_on_removed(&rec->cc, e->size);
		report(rec, space, CW_RECOVERY_DISCARDED, e);
	}
	ring_free(rec, s);
	s->discarded = true;
	s->ack_eliciting_in_flight = 0;
	s->loss_time = CW_RECOVERY_NEVER;
	s->probes = 0;
	rec->pto_count = 0;
	set_timer(rec, now);
	return 0;
}

void cw_recovery_set_handshake_keys(struct cw_recovery *rec)
{
	rec->handshake_keys = true;
}

void cw_recovery_set_peer_validated(struct cw_recovery *rec)
{
	rec->peer_validated = true;
}

void cw_recovery_set_handshake_complete(struct cw_recovery *rec, uint64_t now)
{
	rec->handshake_complete = true;
	set_timer(rec, now);
}

void cw_recovery_set_handshake_confirmed(struct cw_recovery *rec, uint64_t now)
{
	rec->handshake_complete = true;
	rec->handshake_confirmed = true;
	rec->peer_validated = true;
	set_timer(rec, now);
}

void cw_recovery_set_amplification_blocked(struct cw_recovery *rec, uint64_t now, bool blocked)
{
	rec->amp_blocked = blocked;
	set_timer(rec, now);
}

void cw_recovery_trim(struct cw_recovery *rec)
{
	for (int i = 0; i < CW_PNS_COUNT; i++)
		if (!rec->sp[i].count)
			ring_free(rec, &rec->sp[i]);
}

int cw_recovery_forget_ack_only(struct cw_recovery *rec, enum cw_pn_space space, uint64_t now)
{
	struct cw_recovery_space *s;

	if ((unsigned)space >= CW_PNS_COUNT)
		return -EINVAL;
	s = &rec->sp[space];
	for (uint32_t i = 0; i < s->count; i++) {
		unsigned f = at(s, i)->flags;

		if (!(f & ST_DONE) && (f & (CW_SENT_ACK_ELICITING | CW_SENT_IN_FLIGHT)))
			return -EBUSY;
	}
	for (uint32_t i = 0; i < s->count; i++)
		if (!(at(s, i)->flags & ST_DONE))
			report(rec, space, CW_RECOVERY_DISCARDED, at(s, i));
	ring_free(rec, s);
	s->loss_time = CW_RECOVERY_NEVER;
	set_timer(rec, now);
	return 0;
}
