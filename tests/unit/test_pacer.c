/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tunnel/pacer.c: PROTOCOL.md §10.6. With the initial window and RTT,
 * rate = 1.25 × 13500 B / 100 ms = 168750 B/s, so one 1350-byte datagram
 * is earned every 1350 / 168750 s = 8 ms exactly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tunnel/pacer.h"

#define MS(x) ((uint64_t)(x)*1000000)
#define D     CW_CC_MAX_DATAGRAM_SIZE
#define CWND  CW_CC_INITIAL_WINDOW
#define SRTT  MS(100)
#define T0    MS(1000) /* the clock need not start at 0 */

static void test_burst_then_rate(void **state)
{
	struct cw_pacer p;

	(void)state;
	assert_int_equal(CW_PACER_BURST, 13500);
	cw_pacer_init(&p, T0);
	/* Ten datagrams at once. */
	for (int i = 0; i < 10; i++) {
		assert_int_equal(cw_pacer_next(&p, T0, CWND, SRTT, D), T0);
		cw_pacer_on_sent(&p, T0, CWND, SRTT, D);
	}
	assert_int_equal(p.tokens, 0);
	/* The eleventh waits 8 ms. */
	assert_int_equal(cw_pacer_next(&p, T0, CWND, SRTT, D), T0 + MS(8));
	/* Half-way, 4 ms × 168750 B/s = 675 B are there: 4 ms more. */
	assert_int_equal(cw_pacer_next(&p, T0 + MS(4), CWND, SRTT, D), T0 + MS(8));
	/* A 100-byte packet needs 100 / 168750 s = 592592.59 ns, rounded up. */
	assert_int_equal(cw_pacer_next(&p, T0, CWND, SRTT, 100), T0 + 592593);
	/* Sending at the allowed time empties the bucket again. */
	cw_pacer_on_sent(&p, T0 + MS(8), CWND, SRTT, D);
	assert_int_equal(p.tokens, 0);
	assert_int_equal(cw_pacer_next(&p, T0 + MS(8), CWND, SRTT, D), T0 + MS(16));
}

/* A greedy sender: over [T0, T0 + 1 s] exactly 13500 + 168750 bytes. */
static void test_greedy_second(void **state)
{
	struct cw_pacer p;
	uint64_t now = T0, sent = 0, packets = 0;

	(void)state;
	cw_pacer_init(&p, T0);
	for (;;) {
		uint64_t t = cw_pacer_next(&p, now, CWND, SRTT, D);

		if (t > T0 + MS(1000))
			break;
		assert_true(t >= now);
		now = t;
		cw_pacer_on_sent(&p, now, CWND, SRTT, D);
		sent += D;
		packets++;
		/* The §10.6 bound holds at every send. */
		assert_true(sent <= 13500 + (now - T0) * 168750 / MS(1000));
	}
	/* 10 at T0, then one every 8 ms: 125 more by T0 + 1 s. */
	assert_int_equal(packets, 135);
	assert_int_equal(sent, 182250);
	assert_int_equal(now, T0 + MS(1000));
}

/* The rate follows cwnd and srtt as passed: 27000 B over 50 ms × 1.25
 * = 675000 B/s, 2 ms a datagram. */
static void test_rate_follows_inputs(void **state)
{
	struct cw_pacer p;

	(void)state;
	cw_pacer_init(&p, 0);
	p.tokens = 0;
	assert_int_equal(cw_pacer_next(&p, 0, 27000, MS(50), D), MS(2));
	assert_int_equal(cw_pacer_next(&p, 0, CWND, SRTT, D), MS(8));
	/* No RTT, no pacing. */
	assert_int_equal(cw_pacer_next(&p, 5, CWND, 0, D), 5);
	cw_pacer_on_sent(&p, 5, CWND, 0, D);
	assert_int_equal(p.tokens, CW_PACER_BURST - D);
}

/* Idle time refills the bucket to the burst and no further. */
static void test_refill_cap(void **state)
{
	struct cw_pacer p;

	(void)state;
	cw_pacer_init(&p, 0);
	for (int i = 0; i < 10; i++)
		cw_pacer_on_sent(&p, 0, CWND, SRTT, D);
	/* 40 ms earn 5 datagrams. */
	cw_pacer_on_sent(&p, MS(40), CWND, SRTT, 0);
	assert_int_equal(p.tokens, 5 * D);
	/* 80 ms earn the remaining 5; an hour earns no more. */
	cw_pacer_on_sent(&p, MS(3600000), CWND, SRTT, 0);
	assert_int_equal(p.tokens, CW_PACER_BURST);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(cw_pacer_next(&p, MS(3600000), CWND, SRTT, D), MS(3600000));
		cw_pacer_on_sent(&p, MS(3600000), CWND, SRTT, D);
	}
	assert_int_equal(cw_pacer_next(&p, MS(3600000), CWND, SRTT, D), MS(3600008));
}

/* Probes sent early drain the bucket but leave no debt. */
static void test_no_debt(void **state)
{
	struct cw_pacer p;

	(void)state;
	cw_pacer_init(&p, 0);
	p.tokens = 100;
	cw_pacer_on_sent(&p, 0, CWND, SRTT, D);
	assert_int_equal(p.tokens, 0);
	assert_int_equal(cw_pacer_next(&p, 0, CWND, SRTT, D), MS(8));
	/* 10 ms earn 10e6 × 168750 / 1e9 = 1687.5 B: 1687 whole bytes. */
	cw_pacer_on_sent(&p, MS(10), CWND, SRTT, 0);
	assert_int_equal(p.tokens, 1687);
	assert_int_equal(p.last, MS(10));
	/* A clock that went back is taken as no time passing. */
	assert_int_equal(cw_pacer_next(&p, MS(5), CWND, SRTT, D), MS(5));
	cw_pacer_on_sent(&p, MS(5), CWND, SRTT, D);
	assert_int_equal(p.tokens, 337);
	assert_int_equal(p.last, MS(10));
}

/* Values at the clamps stay finite and ordered. */
static void test_extremes(void **state)
{
	struct cw_pacer p;
	uint64_t t;

	(void)state;
	cw_pacer_init(&p, 0);
	p.tokens = 0;
	t = cw_pacer_next(&p, 0, UINT64_MAX, UINT64_MAX, D);
	/* Both clamped to 2^40: 1350 × 4 / 5 = 1080 ns. */
	assert_int_equal(t, 1080);
	t = cw_pacer_next(&p, 0, 1, CW_PACER_MAX_SRTT, D);
	/* 1350 × 4 × 2^40 / 5 ns, no wrap. */
	assert_int_equal(t, (uint64_t)1080 << 40);
	/* cwnd 0 is taken as 1 byte, not a division by zero. */
	assert_int_equal(cw_pacer_next(&p, 0, 0, 1, D), 1080);
	cw_pacer_on_sent(&p, UINT64_MAX - 1, UINT64_MAX, 1, 0);
	assert_int_equal(p.tokens, CW_PACER_BURST);
	/* A packet larger than the burst waits only for a full bucket. */
	p.tokens = 0;
	p.last = 0;
	assert_int_equal(cw_pacer_next(&p, 0, CWND, SRTT, 20000), MS(80));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_burst_then_rate),
	    cmocka_unit_test(test_greedy_second),
	    cmocka_unit_test(test_rate_follows_inputs),
	    cmocka_unit_test(test_refill_cap),
	    cmocka_unit_test(test_no_debt),
	    cmocka_unit_test(test_extremes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
