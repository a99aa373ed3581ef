/* SPDX-License-Identifier: Apache-2.0 */
/* tunnel/backoff.c: PROTOCOL.md §11.6 reconnect delays. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tunnel/backoff.h"

#define S 1000000000ull

/* With the largest random value each delay is the ceiling itself. */
static void test_ceilings(void **state)
{
	static const uint64_t want[] = {1, 2, 4, 8, 16, 32, 60, 60, 60};
	struct cw_backoff b;

	(void)state;
	cw_backoff_init(&b);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		uint64_t top = b.ceiling_ns; /* rnd = ceiling: the largest delay */

		assert_int_equal(cw_backoff_next(&b, CW_BACKOFF_FAILED, 0, 0, top), want[i] * S);
	}
}

/* Full jitter: uniform over [0, ceiling], including both ends. */
static void test_jitter(void **state)
{
	struct cw_backoff b;
	uint64_t x = 88172645463325252ull, lo = UINT64_MAX, hi = 0, sum = 0;
	const int n = 20000;

	(void)state;
	for (int i = 0; i < n; i++) {
		uint64_t d;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		cw_backoff_init(&b);
		d = cw_backoff_next(&b, CW_BACKOFF_CLOSED, 0, 0, x);
		assert_true(d <= S);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
		sum += d / 1000;
	}
	assert_true(lo < S / 100 && hi > S - S / 100);
	/* mean close to 0.5 s */
	assert_true(sum / n > 480000 && sum / n < 520000);
	cw_backoff_init(&b);
	assert_int_equal(cw_backoff_next(&b, CW_BACKOFF_FAILED, 0, 0, 0), 0);
}

static void test_reset_and_long_session(void **state)
{
	struct cw_backoff b;

	(void)state;
	cw_backoff_init(&b);
	for (int i = 0; i < 5; i++)
		(void)cw_backoff_next(&b, CW_BACKOFF_FAILED, 0, 0, 0);
	assert_int_equal(b.ceiling_ns, 32 * S);
	/* A stateless reset: back at once, and the backoff starts over. */
	assert_int_equal(cw_backoff_next(&b, CW_BACKOFF_RESET, 0, 0, UINT64_MAX), 0);
	assert_int_equal(b.ceiling_ns, S);
	for (int i = 0; i < 5; i++)
		(void)cw_backoff_next(&b, CW_BACKOFF_FAILED, 0, 0, 0);
	/* A session of 60 s exactly does not count as long; 60 s + 1 ns does. */
	assert_int_equal(cw_backoff_next(&b, CW_BACKOFF_CLOSED, 60 * S, 0, 32 * S), 32 * S);
	assert_int_equal(cw_backoff_next(&b, CW_BACKOFF_CLOSED, 60 * S + 1, 0, S), S);
	assert_int_equal(b.ceiling_ns, 2 * S);
}

static void test_floor_and_replaced(void **state)
{
	struct cw_backoff b;

	(void)state;
	cw_backoff_init(&b);
	/* The gateway's retry_after is a floor, not a replacement. */
	assert_int_equal(cw_backoff_next(&b, CW_BACKOFF_CLOSED, 0, 5 * S, 0), 5 * S);
	assert_int_equal(cw_backoff_next(&b, CW_BACKOFF_CLOSED, 0, S / 2, 2 * S), 2 * S);
	assert_int_equal(cw_backoff_next(&b, CW_BACKOFF_RESET, 0, 3 * S, 0), 3 * S);
	/* Replaced: the maximum, whatever the random value or the ceiling. */
	cw_backoff_init(&b);
	assert_int_equal(cw_backoff_next(&b, CW_BACKOFF_REPLACED, 0, 0, 0), 60 * S);
	assert_int_equal(b.ceiling_ns, S);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ceilings),
	    cmocka_unit_test(test_jitter),
	    cmocka_unit_test(test_reset_and_long_session),
	    cmocka_unit_test(test_floor_and_replaced),
	};

	return cmocka_run_group_tests_name("backoff", tests, NULL, NULL);
}
