/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tunnel/cc.c: NewReno as PROTOCOL.md §10.5 states it. Times in ms;
 * datagrams of 1350 bytes (max_datagram_size) unless said otherwise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tunnel/cc.h"

#define MS(x) ((uint64_t)(x)*1000000)
#define D     CW_CC_MAX_DATAGRAM_SIZE

static void send_n(struct cw_cc *cc, uint64_t now, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		cw_cc_on_sent(cc, now, D);
}

static void ack_n(struct cw_cc *cc, uint64_t time_sent, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		cw_cc_on_acked(cc, time_sent, D);
}

static void test_initial(void **state)
{
	struct cw_cc cc;

	(void)state;
	assert_int_equal(CW_CC_INITIAL_WINDOW, 13500);
	assert_int_equal(CW_CC_MIN_WINDOW, 2700);
	cw_cc_init(&cc);
	assert_int_equal(cc.cwnd, 13500);
	assert_int_equal(cc.ssthresh, CW_CC_SSTHRESH_INF);
	assert_int_equal(cc.bytes_in_flight, 0);
	assert_true(cw_cc_in_slow_start(&cc));
	assert_int_equal(cw_cc_window_left(&cc), 13500);
}

/* Slow start: every acknowledged byte adds a byte: one flight doubles. */
static void test_slow_start(void **state)
{
	struct cw_cc cc;

	(void)state;
	cw_cc_init(&cc);
	/* 9 × 1350 = 12150 leaves room for exactly one more datagram. */
	send_n(&cc, 0, 9);
	assert_false(cc.was_full);
	send_n(&cc, 0, 1); /* 13500: full */
	assert_true(cc.was_full);
	assert_int_equal(cw_cc_window_left(&cc), 0);
	cw_cc_on_acked(&cc, 0, D);
	assert_int_equal(cc.cwnd, 13500 + 1350);
	assert_int_equal(cc.bytes_in_flight, 12150);
	ack_n(&cc, 0, 9);
	assert_int_equal(cc.cwnd, 27000); /* 13500 + 10 × 1350 */
	assert_int_equal(cc.bytes_in_flight, 0);
	/* Second flight of 20: 54000. */
	send_n(&cc, MS(100), 20);
	ack_n(&cc, MS(100), 20);
	assert_int_equal(cc.cwnd, 54000);
}

/* §10.5: no growth while the sender does not fill the window. */
static void test_app_limited(void **state)
{
	struct cw_cc cc;

	(void)state;
	cw_cc_init(&cc);
	send_n(&cc, 0, 1);
	ack_n(&cc, 0, 1);
	assert_int_equal(cc.cwnd, 13500); /* one datagram never filled 13500 */

	/* Filled at t = 10; half acked at 60 grows by 5 × 1350 = 20250. */
	send_n(&cc, MS(10), 10);
	ack_n(&cc, MS(10), 5);
	assert_int_equal(cc.cwnd, 20250);
	/* A packet sent at 70 into a half-empty window (8100 + 1350 of
	 * 20250): its ACK does not grow the window... */
	send_n(&cc, MS(70), 1);
	cw_cc_on_acked(&cc, MS(70), D);
	assert_int_equal(cc.cwnd, 20250);
	/* ...while the rest of the full flight of t = 10 still does. */
	ack_n(&cc, MS(10), 5);
	assert_int_equal(cc.cwnd, 27000);
	assert_int_equal(cc.bytes_in_flight, 0);
}

/* Halving on loss, once per recovery period (§10.5 congestion event). */
static void test_recovery_period(void **state)
{
	struct cw_cc cc;

	(void)state;
	cw_cc_init(&cc);
	send_n(&cc, 0, 10);
	ack_n(&cc, 0, 10); /* 27000 */
	send_n(&cc, MS(100), 20);
	assert_int_equal(cc.bytes_in_flight, 27000);

	/* One packet of t = 100 lost, detected at 200. */
	cw_cc_on_removed(&cc, D);
	cw_cc_on_congestion_event(&cc, MS(200), MS(100));
	assert_int_equal(cc.ssthresh, 13500);
	assert_int_equal(cc.cwnd, 13500);
	assert_int_equal(cc.recovery_start, MS(200));
	assert_int_equal(cc.congestion_events, 1);
	assert_int_equal(cc.bytes_in_flight, 25650);
	assert_int_equal(cw_cc_window_left(&cc), 0);

	/* More losses from the same flight: no second reduction. */
	cw_cc_on_removed(&cc, D);
	cw_cc_on_congestion_event(&cc, MS(210), MS(100));
	assert_int_equal(cc.cwnd, 13500);
	assert_int_equal(cc.congestion_events, 1);
	/* A packet sent exactly at recovery_start is still in it. */
	cw_cc_on_congestion_event(&cc, MS(220), MS(200));
	assert_int_equal(cc.cwnd, 13500);

	/* ACKs of packets sent before the period do not grow cwnd. */
	ack_n(&cc, MS(100), 18);
	assert_int_equal(cc.cwnd, 13500);
	assert_int_equal(cc.bytes_in_flight, 0);

	/* cwnd = ssthresh: congestion avoidance. A full flight at 300:
	 * credit 1350 × 1350 = 1822500 per ACK, whole multiples of cwnd
	 * become bytes:
	 *   1822500 / 13500 = 135            → 13635, credit 0
	 *   1822500 / 13635 = 133 r 9045     → 13768
	 *   1831545 / 13768 = 133 r 401      → 13901
	 *   1822901 / 13901 = 131 r 1870     → 14032
	 *   1824370 / 14032 = 130 r 210      → 14162
	 *   1822710 / 14162 = 128 r 9974     → 14290
	 *   1832474 / 14290 = 128 r 3354     → 14418
	 *   1825854 / 14418 = 126 r 9186     → 14544
	 *   1831686 / 14544 = 125 r 13686    → 14669
	 *   1836186 / 14669 = 125 r 2561     → 14794
	 * about one datagram per window acknowledged. */
	send_n(&cc, MS(300), 10);
	assert_false(cw_cc_in_slow_start(&cc));
	cw_cc_on_acked(&cc, MS(300), D);
	assert_int_equal(cc.cwnd, 13635);
	assert_int_equal(cc.ca_credit, 0);
	cw_cc_on_acked(&cc, MS(300), D);
	assert_int_equal(cc.cwnd, 13768);
	assert_int_equal(cc.ca_credit, 9045);
	ack_n(&cc, MS(300), 8);
	assert_int_equal(cc.cwnd, 14794);
	assert_int_equal(cc.ca_credit, 2561);

	/* A loss of a packet sent after the period began starts a new one:
	 * 14794 / 2 = 7397, credit dropped. */
	send_n(&cc, MS(400), 1);
	cw_cc_on_removed(&cc, D);
	cw_cc_on_congestion_event(&cc, MS(500), MS(400));
	assert_int_equal(cc.ssthresh, 7397);
	assert_int_equal(cc.cwnd, 7397);
	assert_int_equal(cc.ca_credit, 0);
	assert_int_equal(cc.congestion_events, 2);
	assert_int_equal(cc.recovery_start, MS(500));
}

static void test_minimum_window(void **state)
{
	struct cw_cc cc;

	(void)state;
	cw_cc_init(&cc);
	cc.cwnd = 4000;
	cw_cc_on_congestion_event(&cc, MS(10), MS(5));
	assert_int_equal(cc.ssthresh, 2000); /* 4000 / 2 */
	assert_int_equal(cc.cwnd, 2700);     /* but never below 2 × 1350 */
	/* And again at the minimum. */
	cw_cc_on_congestion_event(&cc, MS(30), MS(20));
	assert_int_equal(cc.ssthresh, 1350);
	assert_int_equal(cc.cwnd, 2700);
}

static void test_persistent_congestion(void **state)
{
	struct cw_cc cc;

	(void)state;
	cw_cc_init(&cc);
	send_n(&cc, 0, 10);
	ack_n(&cc, 0, 10); /* 27000 */
	cw_cc_on_congestion_event(&cc, MS(100), MS(50));
	assert_int_equal(cc.cwnd, 13500);
	assert_true(cc.in_recovery);
	cw_cc_on_persistent_congestion(&cc);
	assert_int_equal(cc.cwnd, 2700);
	assert_int_equal(cc.ssthresh, 13500); /* as the congestion event set it */
	assert_false(cc.in_recovery);
	assert_int_equal(cc.persistent_congestions, 1);
	/* The period ended: even an old packet's loss reduces again. */
	cw_cc_on_congestion_event(&cc, MS(200), MS(50));
	assert_int_equal(cc.ssthresh, 1350);
	assert_int_equal(cc.cwnd, 2700);
	assert_int_equal(cc.congestion_events, 2);
	/* Slow start again from the minimum: 2 datagrams fill it. */
	cc.ssthresh = CW_CC_SSTHRESH_INF;
	send_n(&cc, MS(300), 2);
	ack_n(&cc, MS(300), 2);
	assert_int_equal(cc.cwnd, 5400);
}

/* Leaving slow start in the middle: the crossing ACK adds all its bytes. */
static void test_slow_start_exit(void **state)
{
	struct cw_cc cc;

	(void)state;
	cw_cc_init(&cc);
	cc.ssthresh = 14000;
	send_n(&cc, 0, 10);
	cw_cc_on_acked(&cc, 0, D);
	assert_int_equal(cc.cwnd, 14850); /* 13500 < 14000: + 1350 */
	assert_false(cw_cc_in_slow_start(&cc));
	cw_cc_on_acked(&cc, 0, D);
	assert_int_equal(cc.cwnd, 14972); /* 1822500 / 14850 = 122 r 10800 */
	assert_int_equal(cc.ca_credit, 10800);
}

static void test_accounting(void **state)
{
	struct cw_cc cc;

	(void)state;
	cw_cc_init(&cc);
	/* A PTO probe may exceed the window. */
	send_n(&cc, 0, 11);
	assert_int_equal(cc.bytes_in_flight, 14850);
	assert_int_equal(cw_cc_window_left(&cc), 0);
	cw_cc_on_removed(&cc, 1350);
	assert_int_equal(cw_cc_window_left(&cc), 0); /* exactly full */
	cw_cc_on_removed(&cc, 100);
	assert_int_equal(cw_cc_window_left(&cc), 100);
	/* Removing more than is in flight saturates at 0. */
	cw_cc_on_removed(&cc, 1000000);
	assert_int_equal(cc.bytes_in_flight, 0);
	assert_int_equal(cw_cc_window_left(&cc), 13500);
	/* Odd sizes add up exactly. */
	cw_cc_on_sent(&cc, 0, 1200);
	cw_cc_on_sent(&cc, 0, 57);
	assert_int_equal(cc.bytes_in_flight, 1257);
	cw_cc_on_acked(&cc, 0, 57);
	assert_int_equal(cc.bytes_in_flight, 1200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_initial),	    cmocka_unit_test(test_slow_start),
	    cmocka_unit_test(test_app_limited),	    cmocka_unit_test(test_recovery_period),
	    cmocka_unit_test(test_minimum_window),  cmocka_unit_test(test_persistent_congestion),
	    cmocka_unit_test(test_slow_start_exit), cmocka_unit_test(test_accounting),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
