/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tunnel/recovery.c: PROTOCOL.md §10.2-§10.5 scenarios on a virtual clock.
 * Times in the comments are ms; every expected value is worked out next to
 * its assertion. Packets are 1350 bytes and carry cookie 1000 + pn unless
 * said otherwise. "loss_delay" is 9/8 × max(latest_rtt, smoothed_rtt).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tunnel/pacer.h"
#include "tunnel/recovery.h"

#define N(a)  (sizeof(a) / sizeof((a)[0]))
#define US(x) ((uint64_t)(x)*1000)
#define MS(x) ((uint64_t)(x)*1000000)
#define D     1350u
#define AE    (CW_SENT_ACK_ELICITING | CW_SENT_IN_FLIGHT)
#define I     CW_PNS_INITIAL
#define H     CW_PNS_HANDSHAKE
#define A     CW_PNS_APP
#define NEVER CW_RECOVERY_NEVER

struct ev {
	enum cw_pn_space sp;
	enum cw_recovery_event ev;
	uint64_t pn;
};

struct fix {
	struct cw_recovery rec;
	size_t live, allocs, frees; /* allocator counters */
	bool fail;
	size_t n;
	struct ev e[256];
};

static void *t_alloc(void *ctx, size_t n)
{
	struct fix *f = ctx;

	if (f->fail)
		return NULL;
	f->allocs++;
	f->live += n;
	return malloc(n);
}

static void t_free(void *ctx, void *p, size_t n)
{
	struct fix *f = ctx;

	f->frees++;
	f->live -= n;
	free(p);
}

static void on_packet(void *ctx, enum cw_pn_space sp, enum cw_recovery_event ev,
		      const struct cw_sent_pkt *pkt)
{
	struct fix *f = ctx;

	assert_int_equal(pkt->cookie, 1000 + pkt->pn);
	assert_true(f->n < N(f->e));
	f->e[f->n++] = (struct ev){sp, ev, pkt->pn};
}

static struct fix *fix_new(bool agent, uint32_t max_sent)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct cw_alloc a = {t_alloc, t_free, f};
	struct cw_recovery_cb cb = {on_packet, f};

	assert_non_null(f);
	assert_int_equal(cw_recovery_init(&f->rec, agent, max_sent, &a, &cb), 0);
	return f;
}

static void fix_done(struct fix *f)
{
	cw_recovery_free(&f->rec);
	assert_int_equal(f->live, 0);
	assert_int_equal(f->allocs, f->frees);
	free(f);
}

/* A gateway whose handshake is confirmed: Application space rules. */
static struct fix *gateway_1rtt(void)
{
	struct fix *f = fix_new(false, 0);

	cw_recovery_set_handshake_confirmed(&f->rec, 0);
	return f;
}

static void sent_sz(struct fix *f, enum cw_pn_space sp, uint64_t now, uint64_t pn, size_t size,
		    unsigned flags)
{
	assert_int_equal(cw_recovery_on_sent(&f->rec, sp, now, pn, size, flags, 1000 + pn), 0);
}

static void sent(struct fix *f, enum cw_pn_space sp, uint64_t now, uint64_t pn)
{
	sent_sz(f, sp, now, pn, D, AE);
}

static int ack_ranges(struct fix *f, enum cw_pn_space sp, uint64_t now, uint64_t delay,
		      const struct cw_ack_range *r, size_t n)
{
	struct cw_ack_frame fr = {.ack_delay = delay, .range_count = n ? n - 1 : 0, .n = n};

	memcpy(fr.r, r, n * sizeof(*r));
	return cw_recovery_on_ack(&f->rec, sp, now, &fr);
}

/* ACK(f, space, now, delay in 8 µs units, {lo, hi}, ...), highest first. */
#define ACK(f, sp, now, delay, ...)                                                                \
	ack_ranges(f, sp, now, delay, (const struct cw_ack_range[]){__VA_ARGS__},                  \
		   sizeof((const struct cw_ack_range[]){__VA_ARGS__}) /                            \
		       sizeof(struct cw_ack_range))

static void expect(struct fix *f, const struct ev *want, size_t n)
{
	for (size_t i = 0; i < n && i < f->n; i++) {
		assert_int_equal(f->e[i].sp, want[i].sp);
		assert_int_equal(f->e[i].ev, want[i].ev);
		assert_int_equal(f->e[i].pn, want[i].pn);
	}
	assert_int_equal(f->n, n);
	f->n = 0;
}

#define EXPECT(f, ...)                                                                             \
	expect(f, (const struct ev[]){__VA_ARGS__},                                                \
	       sizeof((const struct ev[]){__VA_ARGS__}) / sizeof(struct ev))
#define EXPECT_NONE(f) assert_int_equal((f)->n, 0)

#define ACKED(sp, pn)                                                                              \
	{                                                                                          \
		sp, CW_RECOVERY_ACKED, pn                                                          \
	}
#define LOST(sp, pn)                                                                               \
	{                                                                                          \
		sp, CW_RECOVERY_LOST, pn                                                           \
	}
#define DISC(sp, pn)                                                                               \
	{                                                                                          \
		sp, CW_RECOVERY_DISCARDED, pn                                                      \
	}

/* ---------------------------------------------------------------------- */

static void test_rtt_samples(void **state)
{
	struct fix *f = gateway_1rtt();
	struct cw_recovery *r = &f->rec;

	(void)state;
	/* First sample: 50 → srtt 50, var 25, min 50. */
	sent(f, A, 0, 0);
	assert_int_equal(ACK(f, A, MS(50), 0, {0, 0}), 0);
	EXPECT(f, ACKED(A, 0));
	assert_int_equal(r->rtt.latest, MS(50));
	assert_int_equal(r->rtt.smoothed, MS(50));
	assert_int_equal(r->rtt.var, US(25000));
	assert_int_equal(r->rtt.min, MS(50));
	assert_int_equal(r->first_sample_time, MS(50));

	/* 80 with delay 1250 × 8 µs = 10: 80 − 50 ≥ 10 → adj 70;
	 * var = (75 + 20) / 4 = 23.75, srtt = (350 + 70) / 8 = 52.5. An ACK
	 * that repeats pn 0 is fine: it is no longer tracked. */
	sent(f, A, MS(100), 1);
	assert_int_equal(ACK(f, A, MS(180), 1250, {0, 1}), 0);
	EXPECT(f, ACKED(A, 1));
	assert_int_equal(r->rtt.latest, MS(80));
	assert_int_equal(r->rtt.smoothed, US(52500));
	assert_int_equal(r->rtt.var, US(23750));

	/* 100 with delay 5000 units = 40, capped to 25 → adj 75;
	 * var = (71.25 + 22.5) / 4 = 23.4375, srtt = (367.5 + 75) / 8 = 55.3125. */
	sent(f, A, MS(200), 2);
	assert_int_equal(ACK(f, A, MS(300), 5000, {2, 2}), 0);
	assert_int_equal(r->rtt.smoothed, 55312500);
	assert_int_equal(r->rtt.var, 23437500);
	assert_int_equal(r->first_sample_time, MS(50));

	/* An ACK-only packet (not in flight) is acknowledged but gives no
	 * sample, and arms no timer. */
	sent_sz(f, A, MS(300), 3, 40, 0);
	assert_int_equal(r->timer, NEVER);
	assert_int_equal(r->cc.bytes_in_flight, 0);
	assert_int_equal(ACK(f, A, MS(400), 0, {0, 3}), 0);
	EXPECT(f, ACKED(A, 2), ACKED(A, 3));
	assert_int_equal(r->rtt.latest, MS(100));
	assert_int_equal(r->rtt.smoothed, 55312500);

	/* Nothing new: nothing happens. */
	assert_int_equal(ACK(f, A, MS(500), 0, {0, 3}), 0);
	EXPECT_NONE(f);
	assert_int_equal(r->rtt.latest, MS(100));
	assert_int_equal(r->stats.acked, 4);
	assert_int_equal(r->stats.bytes_acked, 3 * D);
	assert_int_equal(cw_recovery_largest_acked(r, A), 3);
	assert_int_equal(cw_recovery_largest_acked(r, H), CW_PN_NONE);
	fix_done(f);
}

/* ACK delay is ignored in the handshake spaces and not capped in the
 * Application space before confirmation (§10.2). */
static void test_rtt_ack_delay_rules(void **state)
{
	struct fix *f = fix_new(false, 0);
	struct cw_recovery *r = &f->rec;

	(void)state;
	/* Handshake: 50 first; then 80 with a 10 ms delay ignored → adj 80:
	 * var = (75 + 30) / 4 = 26.25, srtt = (350 + 80) / 8 = 53.75. */
	sent(f, H, 0, 0);
	ACK(f, H, MS(50), 0, {0, 0});
	sent(f, H, MS(100), 1);
	ACK(f, H, MS(180), 1250, {1, 1});
	assert_int_equal(r->rtt.smoothed, US(53750));
	assert_int_equal(r->rtt.var, US(26250));
	fix_done(f);

	/* Application, not confirmed: 50 first; then 100 with a 40 ms delay,
	 * uncapped: 100 − 50 ≥ 40 → adj 60: var = (75 + 10) / 4 = 21.25,
	 * srtt = (350 + 60) / 8 = 51.25. (Confirmed, it would be adj 75.) */
	f = fix_new(false, 0);
	r = &f->rec;
	cw_recovery_set_handshake_complete(r, 0);
	sent(f, A, 0, 0);
	ACK(f, A, MS(50), 0, {0, 0});
	sent(f, A, MS(100), 1);
	ACK(f, A, MS(200), 5000, {1, 1});
	assert_int_equal(r->rtt.smoothed, US(51250));
	assert_int_equal(r->rtt.var, US(21250));
	fix_done(f);
}

/* A sample needs the largest acknowledged to be newly acknowledged. */
static void test_rtt_needs_new_largest(void **state)
{
	struct fix *f = gateway_1rtt();
	struct cw_recovery *r = &f->rec;

	(void)state;
	sent(f, A, 0, 0);
	sent(f, A, MS(1), 1);
	sent(f, A, MS(2), 2);
	/* 2 acked at 30: latest 28. 0 and 1 are 2 and 1 below it, and
	 * 0 + 31.5 > 30: neither is lost yet. */
	ACK(f, A, MS(30), 0, {2, 2});
	EXPECT(f, ACKED(A, 2));
	assert_int_equal(r->rtt.latest, MS(28));
	/* 0 and 1 newly acked, 2 is not: no sample. */
	ACK(f, A, MS(31), 0, {0, 2});
	EXPECT(f, ACKED(A, 0), ACKED(A, 1));
	assert_int_equal(r->rtt.latest, MS(28));
	assert_int_equal(r->rtt.smoothed, MS(28));
	fix_done(f);
}

/* Packet threshold at once, then the time threshold from the timer. */
static void test_packet_and_time_threshold(void **state)
{
	struct fix *f = gateway_1rtt();
	struct cw_recovery *r = &f->rec;
	enum cw_pn_space sp = I;

	(void)state;
	for (uint64_t pn = 0; pn < 5; pn++)
		sent(f, A, MS(pn), pn);
	assert_int_equal(r->cc.bytes_in_flight, 5 * D);
	/*
	 * 4 acked at 50: first sample 46, loss_delay = 9/8 × 46 = 51.75.
	 * 0 and 1 are ≥ 3 below 4: lost. 2 would be lost at 2 + 51.75 =
	 * 53.75 and 3 at 54.75: the loss timer is 53.75.
	 */
	assert_int_equal(ACK(f, A, MS(50), 0, {4, 4}), 0);
	EXPECT(f, ACKED(A, 4), LOST(A, 0), LOST(A, 1));
	assert_int_equal(r->timer, US(53750));
	assert_int_equal(cw_recovery_next_timeout(r), US(53750));
	/* NewReno: one congestion event, 13500 → 6750; the ACK of 4 (sent
	 * before recovery began at 50) adds nothing. 5 − 1 − 2 = 2 in flight. */
	assert_int_equal(r->cc.cwnd, 6750);
	assert_int_equal(r->cc.ssthresh, 6750);
	assert_int_equal(r->cc.recovery_start, MS(50));
	assert_int_equal(r->cc.bytes_in_flight, 2 * D);

	assert_int_equal(cw_recovery_on_timeout(r, US(53750) - 1, &sp), CW_TIMEOUT_NONE);
	EXPECT_NONE(f);
	assert_int_equal(cw_recovery_on_timeout(r, US(53750), &sp), CW_TIMEOUT_LOSS);
	assert_int_equal(sp, A);
	EXPECT(f, LOST(A, 2));
	assert_int_equal(r->timer, US(54750));
	/* Same recovery period: no second reduction. */
	assert_int_equal(r->cc.cwnd, 6750);
	assert_int_equal(r->cc.congestion_events, 1);

	assert_int_equal(cw_recovery_on_timeout(r, US(54750), &sp), CW_TIMEOUT_LOSS);
	EXPECT(f, LOST(A, 3));
	/* Nothing in flight, gateway: no timer at all. */
	assert_int_equal(r->timer, NEVER);
	assert_int_equal(r->cc.bytes_in_flight, 0);
	assert_int_equal(r->stats.lost, 4);
	assert_int_equal(r->stats.bytes_lost, 4 * D);
	assert_int_equal(r->stats.persistent, 0);
	assert_int_equal(r->sp[A].count, 0);
	cw_recovery_trim(r);
	assert_int_equal(f->live, 0);
	fix_done(f);
}

/* PTO, its doubling, and the reset on an ACK (§10.4). */
static void test_pto_backoff(void **state)
{
	struct fix *f = gateway_1rtt();
	struct cw_recovery *r = &f->rec;
	enum cw_pn_space sp = I;

	(void)state;
	/* Sample 40: srtt 40, var 20. PTO = 40 + 80 + 25 = 145. */
	sent(f, A, 0, 0);
	ACK(f, A, MS(40), 0, {0, 0});
	EXPECT(f, ACKED(A, 0));
	assert_int_equal(r->timer, NEVER);
	assert_int_equal(cw_recovery_pto_period(r), MS(145));

	sent(f, A, MS(100), 1);
	assert_int_equal(r->timer, MS(245));
	assert_int_equal(cw_recovery_on_timeout(r, MS(245) - 1, &sp), CW_TIMEOUT_NONE);
	assert_int_equal(cw_recovery_on_timeout(r, MS(245), &sp), CW_TIMEOUT_PTO);
	assert_int_equal(sp, A);
	assert_int_equal(cw_recovery_probes(r, A), 2);
	assert_int_equal(r->pto_count, 1);
	assert_int_equal(r->timer, MS(390)); /* 100 + 2 × 145 */
	EXPECT_NONE(f);			     /* a PTO declares nothing lost */
	assert_int_equal(r->cc.cwnd, 13500); /* nor touches the window */

	/* Two probes at 245: the timer runs from the last, 245 + 290. */
	sent(f, A, MS(245), 2);
	assert_int_equal(cw_recovery_probes(r, A), 1);
	sent(f, A, MS(245), 3);
	assert_int_equal(cw_recovery_probes(r, A), 0);
	assert_int_equal(r->timer, MS(535));
	assert_int_equal(cw_recovery_on_timeout(r, MS(535), &sp), CW_TIMEOUT_PTO);
	assert_int_equal(r->pto_count, 2);
	assert_int_equal(r->timer, MS(825)); /* 245 + 4 × 145 */
	sent(f, A, MS(535), 4);
	sent(f, A, MS(535), 5);
	assert_int_equal(r->timer, MS(1115)); /* 535 + 4 × 145 */
	assert_int_equal(r->stats.pto, 2);

	/*
	 * 3 acked at 600: latest 355 → var = (60 + 315) / 4 = 93.75,
	 * srtt = (280 + 355) / 8 = 79.375; pto_count back to 0.
	 * loss_delay = 9/8 × 355 = 399.375: 1 (sent 100) is lost at
	 * 499.375 ≤ 600; 2 (sent 245) would be at 644.375: loss timer.
	 */
	ACK(f, A, MS(600), 0, {3, 3});
	EXPECT(f, ACKED(A, 3), LOST(A, 1));
	assert_int_equal(r->pto_count, 0);
	assert_int_equal(r->rtt.smoothed, 79375000);
	assert_int_equal(r->rtt.var, 93750000);
	assert_int_equal(r->timer, 644375000);
	assert_int_equal(r->cc.cwnd, 6750);

	assert_int_equal(cw_recovery_on_timeout(r, 644375000, &sp), CW_TIMEOUT_LOSS);
	EXPECT(f, LOST(A, 2));
	/* Back to a PTO without backoff from the last probe (535):
	 * 79.375 + 4 × 93.75 + 25 = 479.375 → 1014.375. */
	assert_int_equal(r->timer, 1014375000);
	assert_int_equal(r->cc.cwnd, 6750); /* 2 was sent before 600 */
	fix_done(f);
}

/* Four losses in the Application space: persistent congestion (§10.5). */
static void pc_common(struct fix *f)
{
	/* Sample 10 at 10: srtt 10, var 5; first sample at 10. */
	sent(f, A, 0, 0);
	ACK(f, A, MS(10), 0, {0, 0});
	f->n = 0;
}

static void test_persistent_congestion(void **state)
{
	struct fix *f = gateway_1rtt();
	struct cw_recovery *r = &f->rec;

	(void)state;
	pc_common(f);
	sent(f, A, MS(20), 1);
	sent(f, A, MS(100), 2);
	sent(f, A, MS(190), 3);
	sent(f, A, MS(195), 4);
	/*
	 * 4 acked at 210: latest 15 → srtt (70 + 15) / 8 = 10.625,
	 * var (15 + 5) / 4 = 5. Duration (10.625 + 20 + 25) × 3 = 166.875.
	 * loss_delay 9/8 × 15 = 16.875: 1 by the threshold, 2 (100 + 16.875)
	 * and 3 (190 + 16.875) by time. All three ack-eliciting, sent after
	 * the first sample (10), and 190 − 20 = 170 > 166.875.
	 */
	ACK(f, A, MS(210), 0, {4, 4});
	EXPECT(f, ACKED(A, 4), LOST(A, 1), LOST(A, 2), LOST(A, 3));
	assert_int_equal(r->rtt.smoothed, US(10625));
	assert_int_equal(r->rtt.var, MS(5));
	assert_int_equal(r->stats.persistent, 1);
	assert_int_equal(r->cc.persistent_congestions, 1);
	assert_int_equal(r->cc.ssthresh, 6750); /* the congestion event's */
	assert_int_equal(r->cc.cwnd, 2700);	/* then the collapse */
	assert_false(r->cc.in_recovery);
	assert_int_equal(r->rtt.min, MS(15)); /* the newest sample, not 10 */
	assert_int_equal(r->cc.bytes_in_flight, 0);
	fix_done(f);

	/* With 3 sent at 160 and 4 at 200 (sample 10: duration 150):
	 * 140 ≤ 150, only a congestion event. */
	f = gateway_1rtt();
	r = &f->rec;
	pc_common(f);
	sent(f, A, MS(20), 1);
	sent(f, A, MS(100), 2);
	sent(f, A, MS(160), 3);
	sent(f, A, MS(200), 4);
	ACK(f, A, MS(210), 0, {4, 4});
	EXPECT(f, ACKED(A, 4), LOST(A, 1), LOST(A, 2), LOST(A, 3));
	assert_int_equal(r->stats.persistent, 0);
	assert_int_equal(r->cc.cwnd, 6750);
	assert_int_equal(r->rtt.min, MS(10));
	fix_done(f);
}

/* Packets sent before the first RTT sample do not count. */
static void test_pc_needs_prior_sample(void **state)
{
	struct fix *f = gateway_1rtt();
	struct cw_recovery *r = &f->rec;

	(void)state;
	sent(f, A, 0, 0);
	sent(f, A, MS(100), 1);
	sent(f, A, MS(300), 2);
	sent(f, A, MS(310), 3);
	/* 3 acked at 320: first sample 10 (srtt 10, var 5) taken at 320.
	 * 0 by threshold, 1 and 2 by time (11.25): 300 apart but all sent
	 * before 320. */
	ACK(f, A, MS(320), 0, {3, 3});
	EXPECT(f, ACKED(A, 3), LOST(A, 0), LOST(A, 1), LOST(A, 2));
	assert_int_equal(r->stats.persistent, 0);
	assert_int_equal(r->cc.cwnd, 6750);
	fix_done(f);
}

/* A packet acknowledged between the lost ones breaks the period. */
static void test_pc_broken_by_ack(void **state)
{
	struct fix *f;
	struct cw_recovery *r;

	(void)state;
	for (int between = 0; between < 2; between++) {
		f = gateway_1rtt();
		r = &f->rec;
		pc_common(f);
		sent(f, A, MS(20), 1);
		sent(f, A, MS(30), 2);
		sent(f, A, MS(190), 3);
		sent(f, A, MS(200), 4);
		sent(f, A, MS(205), 5);
		/*
		 * At 215, sample 10 (from 5): duration 150, loss_delay 11.25.
		 * With 2 acknowledged: lost 1 | 3, 4: runs of 0 and 10 ms.
		 * Without: lost 1, 2, 3, 4: 200 − 20 = 180 > 150.
		 */
		if (between) {
			ACK(f, A, MS(215), 0, {5, 5}, {2, 2});
			EXPECT(f, ACKED(A, 5), ACKED(A, 2), LOST(A, 1), LOST(A, 3), LOST(A, 4));
			assert_int_equal(r->stats.persistent, 0);
			assert_int_equal(r->cc.cwnd, 6750);
		} else {
			ACK(f, A, MS(215), 0, {5, 5});
			EXPECT(f, ACKED(A, 5), LOST(A, 1), LOST(A, 2), LOST(A, 3), LOST(A, 4));
			assert_int_equal(r->stats.persistent, 1);
			assert_int_equal(r->cc.cwnd, 2700);
		}
		fix_done(f);
	}
}

/* An acknowledgment in another space vetoes it too. */
static void test_pc_vetoed_by_other_space(void **state)
{
	struct fix *f = gateway_1rtt();
	struct cw_recovery *r = &f->rec;

	(void)state;
	pc_common(f);
	sent(f, A, MS(20), 1);
	sent(f, H, MS(30), 0);
	/* Handshake sample 10: srtt 10, var (15 + 0) / 4 = 3.75. */
	ACK(f, H, MS(40), 0, {0, 0});
	sent(f, A, MS(100), 2);
	sent(f, A, MS(190), 3);
	sent(f, A, MS(200), 4);
	/* Sample 10: var 3 × 3.75 / 4 = 2.8125; duration (10 + 11.25 + 25)
	 * × 3 = 138.75 < 170, but the Handshake packet sent at 30 > 20 was
	 * delivered. */
	ACK(f, A, MS(210), 0, {4, 4});
	EXPECT(f, ACKED(H, 0), ACKED(A, 4), LOST(A, 1), LOST(A, 2), LOST(A, 3));
	assert_int_equal(r->rtt.var, 2812500);
	assert_int_equal(r->stats.persistent, 0);
	assert_int_equal(r->cc.cwnd, 6750);
	fix_done(f);
}

/* First PTOs: 300 ms in the handshake spaces, 325 ms in the Application
 * space, which waits for handshake completion (§10.4). */
static void test_pto_spaces(void **state)
{
	struct fix *f = fix_new(false, 0);
	struct cw_recovery *r = &f->rec;
	enum cw_pn_space sp = A;

	(void)state;
	sent_sz(f, I, 0, 0, 1200, AE);
	assert_int_equal(r->timer, MS(300));
	sent(f, H, MS(10), 0);
	assert_int_equal(r->timer, MS(300)); /* Initial's is earlier */
	sent(f, A, MS(20), 0);
	assert_int_equal(r->timer, MS(300));
	assert_int_equal(cw_recovery_discard_space(r, I, MS(50)), 0);
	EXPECT(f, DISC(I, 0));
	assert_int_equal(r->timer, MS(310));
	assert_int_equal(cw_recovery_on_timeout(r, MS(310), &sp), CW_TIMEOUT_PTO);
	assert_int_equal(sp, H);
	assert_int_equal(cw_recovery_probes(r, H), 2);
	assert_int_equal(cw_recovery_probes(r, A), 0);
	assert_int_equal(cw_recovery_discard_space(r, H, MS(320)), 0);
	EXPECT(f, DISC(H, 0));
	assert_int_equal(r->pto_count, 0);
	assert_int_equal(cw_recovery_probes(r, H), 0);
	/* Only Application data left, handshake not complete: no probe. */
	assert_int_equal(r->timer, NEVER);
	cw_recovery_set_handshake_complete(r, MS(330));
	assert_int_equal(r->timer, MS(345)); /* 20 + 100 + 200 + 25 */
	assert_int_equal(cw_recovery_on_timeout(r, MS(345), &sp), CW_TIMEOUT_PTO);
	assert_int_equal(sp, A);
	fix_done(f);
}

/* A gateway at its amplification limit arms no PTO (§7.4). */
static void test_amplification_blocked(void **state)
{
	struct fix *f = fix_new(false, 0);
	struct cw_recovery *r = &f->rec;
	enum cw_pn_space sp = A;

	(void)state;
	sent_sz(f, I, 0, 0, 1200, AE);
	assert_int_equal(r->timer, MS(300));
	cw_recovery_set_amplification_blocked(r, MS(10), true);
	assert_int_equal(r->timer, NEVER);
	assert_int_equal(cw_recovery_on_timeout(r, MS(400), &sp), CW_TIMEOUT_NONE);
	cw_recovery_set_amplification_blocked(r, MS(20), false);
	assert_int_equal(r->timer, MS(300));
	assert_int_equal(cw_recovery_on_timeout(r, MS(400), &sp), CW_TIMEOUT_PTO);
	assert_int_equal(sp, I);
	fix_done(f);
}

/* The agent's PTO before confirmation, with and without packets in
 * flight (§10.4 anti-deadlock). */
static void test_agent_anti_deadlock(void **state)
{
	struct fix *f = fix_new(true, 0);
	struct cw_recovery *r = &f->rec;
	enum cw_pn_space sp = A;

	(void)state;
	/* Nothing sent yet: nothing armed. */
	assert_int_equal(r->timer, NEVER);
	sent_sz(f, I, 0, 0, 1200, AE);
	assert_int_equal(r->timer, MS(300));
	assert_int_equal(cw_recovery_on_timeout(r, MS(300), &sp), CW_TIMEOUT_PTO);
	assert_int_equal(sp, I);
	assert_int_equal(cw_recovery_probes(r, I), 2);
	sent_sz(f, I, MS(300), 1, 1200, AE);
	sent_sz(f, I, MS(300), 2, 1200, AE);
	assert_int_equal(r->timer, MS(900)); /* 300 + 2 × 300 */

	/* All acked at 350: sample 50 (srtt 50, var 25). The agent does not
	 * know its address validated: pto_count stays 1. Nothing in flight,
	 * not confirmed: anti-deadlock from now, 350 + 2 × (50 + 100). */
	ACK(f, I, MS(350), 0, {0, 2});
	EXPECT(f, ACKED(I, 0), ACKED(I, 1), ACKED(I, 2));
	assert_int_equal(r->pto_count, 1);
	assert_int_equal(r->timer, MS(650));
	assert_int_equal(cw_recovery_on_timeout(r, MS(650), &sp), CW_TIMEOUT_PTO);
	assert_int_equal(sp, I); /* no Handshake keys: a padded INITIAL */
	assert_int_equal(cw_recovery_probes(r, I), 1);
	assert_int_equal(r->pto_count, 2);
	assert_int_equal(r->timer, MS(1250)); /* 650 + 4 × 150 */

	/* A HANDSHAKE packet arrives at 700: keys, validated address; the
	 * agent drops Initial (pending probe included), resetting the PTO. */
	cw_recovery_set_handshake_keys(r);
	cw_recovery_set_peer_validated(r);
	cw_recovery_discard_space(r, I, MS(700));
	assert_int_equal(cw_recovery_probes(r, I), 0);
	assert_int_equal(r->pto_count, 0);
	assert_int_equal(r->timer, MS(850));
	sent(f, H, MS(710), 0);
	assert_int_equal(r->timer, MS(860));
	/* Acked at 760: sample 50, var (75 + 0) / 4 = 18.75; anti-deadlock
	 * in the Handshake space: 760 + 50 + 75. */
	ACK(f, H, MS(760), 0, {0, 0});
	EXPECT(f, ACKED(H, 0));
	assert_int_equal(r->timer, MS(885));
	assert_int_equal(cw_recovery_on_timeout(r, MS(885), &sp), CW_TIMEOUT_PTO);
	assert_int_equal(sp, H);
	assert_int_equal(cw_recovery_probes(r, H), 1);
	assert_int_equal(r->timer, MS(1135)); /* 885 + 2 × 125 */
	/* Every state change rearms it from now. */
	cw_recovery_set_handshake_complete(r, MS(890));
	assert_int_equal(r->timer, MS(1140));
	/* Confirmed: the anti-deadlock timer ends. */
	cw_recovery_set_handshake_confirmed(r, MS(900));
	assert_int_equal(r->timer, NEVER);
	assert_int_equal(cw_recovery_on_timeout(r, MS(2000), &sp), CW_TIMEOUT_NONE);
	assert_int_equal(r->stats.pto, 3);
	fix_done(f);
}

/* The gateway resets pto_count on any ACK of something new. */
static void test_gateway_pto_reset(void **state)
{
	struct fix *f = fix_new(false, 0);
	struct cw_recovery *r = &f->rec;
	enum cw_pn_space sp = A;

	(void)state;
	sent(f, H, 0, 0);
	cw_recovery_on_timeout(r, MS(300), &sp);
	sent(f, H, MS(300), 1);
	assert_int_equal(r->pto_count, 1);
	ACK(f, H, MS(320), 0, {1, 1});
	assert_int_equal(r->pto_count, 0);
	fix_done(f);
}

/* Discarding a space (§7.5): packets leave bytes in flight unlost. */
static void test_discard(void **state)
{
	struct fix *f = fix_new(false, 0);
	struct cw_recovery *r = &f->rec;
	enum cw_pn_space sp = A;

	(void)state;
	sent_sz(f, I, 0, 0, 1200, AE);
	sent_sz(f, I, 0, 1, 1200, AE);
	sent_sz(f, I, 0, 2, 60, 0); /* ACK only */
	sent(f, A, MS(5), 0);
	assert_int_equal(r->cc.bytes_in_flight, 3750);
	assert_int_equal(cw_recovery_on_timeout(r, MS(300), &sp), CW_TIMEOUT_PTO);
	assert_int_equal(r->pto_count, 1);
	assert_int_equal(f->live, 2 * CW_RECOVERY_MIN_RING * sizeof(struct cw_sent_pkt));

	assert_int_equal(cw_recovery_discard_space(r, I, MS(310)), 0);
	EXPECT(f, DISC(I, 0), DISC(I, 1), DISC(I, 2));
	assert_int_equal(r->cc.bytes_in_flight, 1350);
	assert_int_equal(r->cc.cwnd, 13500);
	assert_int_equal(r->stats.lost, 0);
	assert_int_equal(r->pto_count, 0);
	assert_int_equal(r->timer, NEVER); /* Application not complete */
	assert_int_equal(f->live, CW_RECOVERY_MIN_RING * sizeof(struct cw_sent_pkt));
	/* Twice is harmless; the space is closed for business. */
	assert_int_equal(cw_recovery_discard_space(r, I, MS(320)), 0);
	EXPECT_NONE(f);
	assert_int_equal(cw_recovery_on_sent(r, I, MS(330), 3, D, AE, 1003), -EINVAL);
	assert_int_equal(ACK(f, I, MS(330), 0, {0, 0}), -EINVAL);
	assert_int_equal(cw_recovery_discard_space(r, (enum cw_pn_space)3, MS(330)), -EINVAL);
	fix_done(f);
}

static void test_errors(void **state)
{
	struct fix *f = gateway_1rtt();
	struct cw_recovery *r = &f->rec;
	struct cw_recovery tmp;
	struct cw_alloc a = {t_alloc, t_free, f};
	struct cw_ack_frame empty = {0};

	(void)state;
	assert_int_equal(cw_recovery_init(&tmp, false, 100, &a, NULL), -EINVAL);
	assert_int_equal(cw_recovery_init(&tmp, false, 8, &a, NULL), -EINVAL);
	assert_int_equal(cw_recovery_init(&tmp, false, 32768, &a, NULL), -EINVAL);
	assert_int_equal(cw_recovery_init(&tmp, false, 16, NULL, NULL), -EINVAL);
	assert_int_equal(cw_recovery_init(&tmp, false, 16384, &a, NULL), 0);
	cw_recovery_free(&tmp);

	/* ACK before anything was sent: a number never sent. */
	assert_int_equal(ACK(f, A, 0, 0, {0, 0}), -EPROTO);
	assert_int_equal(cw_recovery_on_sent(r, (enum cw_pn_space)3, 0, 0, D, AE, 0), -EINVAL);
	assert_int_equal(cw_recovery_on_sent(r, A, 0, CW_PN_MAX + 1, D, AE, 0), -EINVAL);
	assert_int_equal(cw_recovery_on_sent(r, A, 0, 0, 0, AE, 0), -EINVAL);
	assert_int_equal(cw_recovery_on_sent(r, A, 0, 0, D, CW_SENT_ACK_ELICITING, 0), -EINVAL);
	assert_int_equal(cw_recovery_on_sent(r, A, 0, 0, D, 0x80, 0), -EINVAL);
	assert_int_equal(f->allocs, 0);
	sent(f, A, 0, 5); /* numbers may be skipped */
	assert_int_equal(cw_recovery_on_sent(r, A, 0, 5, D, AE, 1005), -EINVAL);
	assert_int_equal(cw_recovery_on_sent(r, A, 0, 4, D, AE, 1004), -EINVAL);
	sent(f, A, 0, 7);
	assert_int_equal(r->cc.bytes_in_flight, 2 * D);

	/* PROTOCOL_VIOLATION: 8 was never sent. Nothing changes. */
	assert_int_equal(ACK(f, A, MS(10), 0, {8, 8}), -EPROTO);
	assert_int_equal(ACK(f, A, MS(10), 0, {7, 8}), -EPROTO);
	assert_int_equal(cw_recovery_largest_acked(r, A), CW_PN_NONE);
	EXPECT_NONE(f);
	/* Malformed frames from a caller. */
	assert_int_equal(cw_recovery_on_ack(r, A, MS(10), &empty), -EINVAL);
	assert_int_equal(ACK(f, A, MS(10), 0, {7, 6}), -EINVAL);
	assert_int_equal(ACK(f, A, MS(10), 0, {5, 5}, {7, 7}), -EINVAL);
	assert_int_equal(ACK(f, A, MS(10), 0, {5, 7}, {5, 5}), -EINVAL);
	assert_int_equal(ACK(f, (enum cw_pn_space)3, MS(10), 0, {5, 5}), -EINVAL);
	EXPECT_NONE(f);
	assert_int_equal(r->cc.bytes_in_flight, 2 * D);
	/* 6 was never sent, but is below the largest sent: not detectable,
	 * ignored. */
	assert_int_equal(ACK(f, A, MS(10), 0, {5, 7}), 0);
	EXPECT(f, ACKED(A, 5), ACKED(A, 7));
	fix_done(f);
}

/* A bounded ring: -ENOSPC at the cap, room again once the oldest is
 * resolved, order kept across wrap-around and growth. */
static void test_capacity(void **state)
{
	struct fix *f = fix_new(false, 16);
	struct cw_recovery *r = &f->rec;

	(void)state;
	assert_int_equal(sizeof(struct cw_sent_pkt), 32);
	for (uint64_t pn = 0; pn < 16; pn++)
		sent(f, A, 0, pn);
	assert_int_equal(f->allocs, 1);
	assert_int_equal(cw_recovery_on_sent(r, A, 0, 16, D, AE, 1016), -ENOSPC);
	assert_int_equal(r->sp[A].largest_sent, 15);
	assert_int_equal(r->cc.bytes_in_flight, 16 * D);
	/* A hole does not free a slot: 0 is still outstanding. */
	ACK(f, A, MS(1), 0, {1, 2});
	EXPECT(f, ACKED(A, 1), ACKED(A, 2));
	assert_int_equal(cw_recovery_on_sent(r, A, MS(1), 16, D, AE, 1016), -ENOSPC);
	/* 0 acked: three slots come back; the ring wraps. */
	ACK(f, A, MS(2), 0, {0, 2});
	EXPECT(f, ACKED(A, 0));
	for (uint64_t pn = 16; pn < 19; pn++)
		sent(f, A, MS(2), pn);
	assert_int_equal(cw_recovery_on_sent(r, A, MS(2), 19, D, AE, 1019), -ENOSPC);
	/* At 3: 3-14 and 16-18 acked (15 events, ranges highest first), and
	 * 15, exactly 3 below 18, lost: everything resolved, ring empty. */
	ACK(f, A, MS(3), 0, {16, 18}, {3, 14});
	assert_int_equal(f->n, 16);
	assert_int_equal(f->e[0].pn, 16);
	assert_int_equal(f->e[3].pn, 3);
	assert_int_equal(f->e[14].pn, 14);
	assert_int_equal(f->e[15].ev, CW_RECOVERY_LOST);
	assert_int_equal(f->e[15].pn, 15);
	f->n = 0;
	assert_int_equal(r->sp[A].count, 0);
	assert_int_equal(r->cc.bytes_in_flight, 0);
	assert_int_equal(f->allocs, 1);
	fix_done(f);
}

static void test_growth_and_nomem(void **state)
{
	struct fix *f = fix_new(false, 64);
	struct cw_recovery *r = &f->rec;

	(void)state;
	for (uint64_t pn = 0; pn < 40; pn++)
		sent(f, A, US(pn), pn);
	/* 16 → 32 → 64. */
	assert_int_equal(f->allocs, 3);
	assert_int_equal(f->frees, 2);
	assert_int_equal(f->live, 64 * sizeof(struct cw_sent_pkt));
	for (uint64_t pn = 40; pn < 64; pn++)
		sent(f, A, US(pn), pn);
	assert_int_equal(cw_recovery_on_sent(r, A, US(64), 64, D, AE, 1064), -ENOSPC);
	ACK(f, A, MS(1), 0, {0, 63});
	assert_int_equal(f->n, 64);
	for (uint64_t pn = 0; pn < 64; pn++)
		assert_int_equal(f->e[pn].pn, pn);
	f->n = 0;
	cw_recovery_trim(r);
	assert_int_equal(f->live, 0);

	/* Allocation failure changes nothing. */
	f->fail = true;
	assert_int_equal(cw_recovery_on_sent(r, A, MS(2), 64, D, AE, 1064), -ENOMEM);
	assert_int_equal(r->sp[A].largest_sent, 63);
	assert_int_equal(r->cc.bytes_in_flight, 0);
	assert_int_equal(r->timer, NEVER);
	f->fail = false;
	sent(f, A, MS(2), 64);
	assert_int_equal(f->live, CW_RECOVERY_MIN_RING * sizeof(struct cw_sent_pkt));
	fix_done(f);
}

/* An ACK built by the receiver's code: three ranges, decoded. */
static void test_decoded_ranges(void **state)
{
	struct fix *f = gateway_1rtt();
	struct cw_recovery *r = &f->rec;
	struct cw_ackset set;
	struct cw_ack_frame fr;
	uint8_t buf[128];
	int len;
	size_t acked = 0, lost = 0;

	(void)state;
	for (uint64_t pn = 0; pn < 100; pn++)
		sent(f, A, US(pn), pn);
	cw_ackset_init(&set);
	for (uint64_t pn = 70; pn < 100; pn++)
		if (pn <= 72 || (pn >= 80 && pn <= 85) || pn >= 90)
			assert_int_equal(cw_ackset_add(&set, pn), 0);
	assert_int_equal(set.n, 3);
	len = cw_ack_encode(buf, sizeof(buf), set.r, set.n, 125); /* 1 ms */
	assert_true(len > 0);
	assert_int_equal(cw_ack_decode(buf, (size_t)len, &fr), len);
	assert_int_equal(cw_recovery_on_ack(r, A, MS(50), &fr), 0);
	/* 19 acked (90-99, 80-85, 70-72, in that order); every other packet
	 * is ≥ 3 below 99: 81 lost, in order. */
	for (size_t i = 0; i < f->n; i++) {
		if (f->e[i].ev == CW_RECOVERY_ACKED)
			acked++;
		else
			lost++;
	}
	assert_int_equal(acked, 19);
	assert_int_equal(lost, 81);
	assert_int_equal(f->e[0].pn, 90);
	assert_int_equal(f->e[10].pn, 80);
	assert_int_equal(f->e[16].pn, 70);
	assert_int_equal(f->e[19].pn, 0);
	assert_int_equal(f->e[89].pn, 73);
	assert_int_equal(f->e[99].pn, 89);
	/* First sample 50 − 0.099 = 49.901 (its delay ignored). Losses
	 * precede the sample: no persistent congestion, one halving. */
	assert_int_equal(r->rtt.smoothed, US(49901));
	assert_int_equal(r->stats.persistent, 0);
	assert_int_equal(r->cc.cwnd, 6750);
	assert_int_equal(r->cc.bytes_in_flight, 0);
	assert_int_equal(r->sp[A].count, 0);
	assert_int_equal(r->sp[A].ack_eliciting_in_flight, 0);
	assert_int_equal(r->timer, NEVER);
	fix_done(f);
}

/* Slow start through the module: one flight acknowledged doubles cwnd;
 * packets that are not in flight do not count. */
static void test_slow_start_per_ack(void **state)
{
	struct fix *f = gateway_1rtt();
	struct cw_recovery *r = &f->rec;

	(void)state;
	for (uint64_t pn = 0; pn < 10; pn++)
		sent(f, A, 0, pn);
	assert_int_equal(cw_cc_window_left(&r->cc), 0);
	ACK(f, A, MS(100), 0, {0, 3});
	assert_int_equal(r->cc.cwnd, 13500 + 4 * 1350);
	ACK(f, A, MS(101), 0, {0, 9});
	assert_int_equal(r->cc.cwnd, 27000);
	assert_int_equal(r->stats.bytes_acked, 13500);
	sent_sz(f, A, MS(101), 10, 30, 0);
	assert_int_equal(r->cc.bytes_in_flight, 0);
	ACK(f, A, MS(150), 0, {10, 10});
	assert_int_equal(r->cc.cwnd, 27000);
	assert_int_equal(r->stats.acked, 11);
	fix_done(f);
}

/* ---------------------------------------------------------------------- */
/*
 * A seeded lossy, reordering link: 10 % of packets and of ACKs lost,
 * one-way delays of 10-30 ms. A greedy paced sender and a receiver that
 * acknowledges every second packet or after 5 ms. Checked at every step:
 * each packet is reported exactly once, bytes in flight and the
 * ack-eliciting count match the outstanding packets, a timer is armed
 * whenever something is outstanding, cwnd stays at or above the minimum.
 * Then the sender stops and everything must resolve.
 */
#define SIM_PKTS  6000
#define SIM_QUEUE 4096
#define SIM_ACKS  512

enum { PS_NONE, PS_OUT, PS_DONE };

struct link {
	unsigned loss_pct;	     /* of packets and of ACKs */
	uint64_t jitter;	     /* one-way delay 10 ms + [0, jitter) */
	uint64_t dark_from, dark_to; /* blackout: everything dropped */
};

struct sim {
	struct fix *f;
	const struct link *link;
	uint64_t rng;
	uint8_t state[SIM_PKTS];
	uint64_t next_pn, out_bytes, out_count;
	struct {
		uint64_t at, pn;
	} q[SIM_QUEUE]; /* data in transit */
	size_t nq;
	struct {
		uint64_t at;
		struct cw_ackset set;
	} acks[SIM_ACKS]; /* ACKs in transit */
	size_t nacks;
	struct cw_ackset rcvd;
	unsigned unacked;
	uint64_t first_unacked_at;
	struct cw_pacer pacer;
};

static uint64_t rnd(struct sim *s)
{
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return s->rng * UINT64_C(2685821657736338717);
}

static void sim_on_packet(void *ctx, enum cw_pn_space sp, enum cw_recovery_event ev,
			  const struct cw_sent_pkt *pkt)
{
	struct sim *s = ctx;

	assert_int_equal(sp, A);
	assert_int_not_equal(ev, CW_RECOVERY_DISCARDED);
	assert_true(pkt->pn < s->next_pn);
	assert_int_equal(pkt->cookie, 1000 + pkt->pn);
	assert_int_equal(s->state[pkt->pn], PS_OUT);
	s->state[pkt->pn] = PS_DONE;
	s->out_bytes -= pkt->size;
	s->out_count--;
}

static void sim_check(struct sim *s)
{
	struct cw_recovery *r = &s->f->rec;

	assert_int_equal(r->cc.bytes_in_flight, s->out_bytes);
	assert_int_equal(r->sp[A].ack_eliciting_in_flight, s->out_count);
	assert_true(r->cc.cwnd >= CW_CC_MIN_WINDOW);
	if (s->out_count)
		assert_true(r->timer != NEVER);
}

/* Whether the link carries something sent at @now, and when it lands. */
static bool sim_carry(struct sim *s, uint64_t now, uint64_t *at)
{
	bool dark = now >= s->link->dark_from && now < s->link->dark_to;

	*at = now + MS(10) + rnd(s) % s->link->jitter;
	return rnd(s) % 100 >= s->link->loss_pct && !dark;
}

static void sim_send(struct sim *s, uint64_t now)
{
	struct cw_recovery *r = &s->f->rec;
	uint64_t pn = s->next_pn;
	int rc;

	rc = cw_recovery_on_sent(r, A, now, pn, D, AE, 1000 + pn);
	if (rc == -ENOSPC)
		return;
	assert_int_equal(rc, 0);
	cw_pacer_on_sent(&s->pacer, now, r->cc.cwnd, r->rtt.smoothed, D);
	s->state[pn] = PS_OUT;
	s->next_pn++;
	s->out_bytes += D;
	s->out_count++;
	if (sim_carry(s, now, &s->q[s->nq].at) && s->nq < SIM_QUEUE)
		s->q[s->nq++].pn = pn;
}

static void sim_receive(struct sim *s, uint64_t now)
{
	for (size_t i = 0; i < s->nq;) {
		if (s->q[i].at > now) {
			i++;
			continue;
		}
		if (cw_ackset_add(&s->rcvd, s->q[i].pn) == 0 && !s->unacked++)
			s->first_unacked_at = now;
		s->q[i] = s->q[--s->nq];
	}
	if (s->unacked >= 2 || (s->unacked && now >= s->first_unacked_at + MS(5))) {
		if (sim_carry(s, now, &s->acks[s->nacks].at) && s->nacks < SIM_ACKS)
			s->acks[s->nacks++].set = s->rcvd;
		s->unacked = 0;
	}
}

static void sim_deliver_acks(struct sim *s, uint64_t now)
{
	for (size_t i = 0; i < s->nacks;) {
		struct cw_ack_frame fr = {.n = s->acks[i].set.n};

		if (s->acks[i].at > now) {
			i++;
			continue;
		}
		memcpy(fr.r, s->acks[i].set.r, fr.n * sizeof(fr.r[0]));
		assert_int_equal(cw_recovery_on_ack(&s->f->rec, A, now, &fr), 0);
		s->acks[i] = s->acks[--s->nacks];
		sim_check(s);
	}
}

static void sim_step(struct sim *s, uint64_t now, bool more)
{
	struct cw_recovery *r = &s->f->rec;
	enum cw_pn_space sp;

	sim_deliver_acks(s, now);
	sim_receive(s, now);
	if (cw_recovery_on_timeout(r, now, &sp) == CW_TIMEOUT_PTO)
		assert_int_equal(sp, A);
	sim_check(s);
	while (s->next_pn < SIM_PKTS && cw_recovery_probes(r, A))
		sim_send(s, now);
	while (more && s->next_pn < SIM_PKTS && cw_cc_window_left(&r->cc) >= D &&
	       cw_pacer_next(&s->pacer, now, r->cc.cwnd, r->rtt.smoothed, D) <= now) {
		uint64_t before = s->next_pn;

		sim_send(s, now);
		if (s->next_pn == before)
			break;
	}
	sim_check(s);
}

static struct cw_recovery_stats sim_run(const struct link *link, uint64_t seed)
{
	static struct sim s;
	struct cw_recovery_cb cb = {sim_on_packet, &s};
	struct cw_recovery_stats st;
	struct cw_recovery *r;
	uint64_t now = 0, done = 0;

	memset(&s, 0, sizeof(s));
	s.f = fix_new(false, 1024);
	s.link = link;
	s.rng = seed;
	r = &s.f->rec;
	r->cb = cb;
	cw_recovery_set_handshake_confirmed(r, 0);
	cw_ackset_init(&s.rcvd);
	cw_pacer_init(&s.pacer, 0);
	for (; now < MS(20000) && s.next_pn < SIM_PKTS - 100; now += US(500))
		sim_step(&s, now, true);
	/* Drain: probes only, until nothing is outstanding. */
	for (; s.out_count && now < MS(200000); now += US(500))
		sim_step(&s, now, false);
	for (uint64_t pn = 0; pn < s.next_pn; pn++)
		done += s.state[pn] == PS_DONE;
	print_message("sent %llu in %llu ms: acked %llu lost %llu pto %llu pc %llu cwnd %llu "
		      "srtt %llu us, %zu allocations\n",
		      (unsigned long long)s.next_pn, (unsigned long long)(now / MS(1)),
		      (unsigned long long)r->stats.acked, (unsigned long long)r->stats.lost,
		      (unsigned long long)r->stats.pto, (unsigned long long)r->stats.persistent,
		      (unsigned long long)r->cc.cwnd, (unsigned long long)(r->rtt.smoothed / 1000),
		      s.f->allocs);
	assert_int_equal(s.out_count, 0);
	assert_int_equal(done, s.next_pn);
	assert_int_equal(r->stats.acked + r->stats.lost, s.next_pn);
	assert_int_equal(r->cc.bytes_in_flight, 0);
	/* 16 → 1024 at most: no allocation per packet. */
	assert_true(s.f->allocs <= 7);
	st = r->stats;
	fix_done(s.f);
	return st;
}

static void test_random_link(void **state)
{
	static const struct link heavy = {10, MS(20), 0, 0};
	static const struct link light = {1, 1, 0, 0};
	static const struct link blackout = {1, 1, MS(3000), MS(5000)};
	struct cw_recovery_stats st;

	(void)state;
	/* 10 % loss, 20 ms of jitter: much reordering, many losses. */
	st = sim_run(&heavy, UINT64_C(0x9e3779b97f4a7c15));
	assert_true(st.lost > 50 && st.acked > 500);
	/* 1 %, in order: most packets get through first time. */
	st = sim_run(&light, UINT64_C(0x2545f4914f6cdd1d));
	assert_true(st.acked > 5500 && st.lost < 120);
	/* 2 s of darkness: probes back off, and once the path returns the
	 * losses span far more than 3 PTOs. */
	st = sim_run(&blackout, UINT64_C(0x5851f42d4c957f2d));
	assert_true(st.pto >= 4);
	assert_true(st.persistent >= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rtt_samples),
	    cmocka_unit_test(test_rtt_ack_delay_rules),
	    cmocka_unit_test(test_rtt_needs_new_largest),
	    cmocka_unit_test(test_packet_and_time_threshold),
	    cmocka_unit_test(test_pto_backoff),
	    cmocka_unit_test(test_persistent_congestion),
	    cmocka_unit_test(test_pc_needs_prior_sample),
	    cmocka_unit_test(test_pc_broken_by_ack),
	    cmocka_unit_test(test_pc_vetoed_by_other_space),
	    cmocka_unit_test(test_pto_spaces),
	    cmocka_unit_test(test_amplification_blocked),
	    cmocka_unit_test(test_agent_anti_deadlock),
	    cmocka_unit_test(test_gateway_pto_reset),
	    cmocka_unit_test(test_discard),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_capacity),
	    cmocka_unit_test(test_growth_and_nomem),
	    cmocka_unit_test(test_decoded_ranges),
	    cmocka_unit_test(test_slow_start_per_ack),
	    cmocka_unit_test(test_random_link),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
