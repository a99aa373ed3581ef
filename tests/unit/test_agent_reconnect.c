/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tunnel/agent/reconnect.c: the reconnect delays under a [reconnect]
 * configuration, and the defaults giving exactly tunnel/backoff.c's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tunnel/agent/reconnect.h"

#define MS 1000000ull
#define S  (1000 * MS)

static const struct cw_agent_reconnect_conf SMALL = {
    .initial_ms = 250, .max_ms = 2000, .jitter = CW_AGENT_JITTER_NONE, .reset_after_ms = 5000};

static void test_ceilings_no_jitter(void **state)
{
	static const uint64_t want[] = {250, 500, 1000, 2000, 2000};
	struct cw_reconnect r;

	(void)state;
	cw_reconnect_init(&r, &SMALL);
	/* Without jitter the random value does not matter. */
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(cw_reconnect_next(&r, CW_BACKOFF_FAILED, 0, 0, 12345 + i),
				 want[i] * MS);
}

static void test_reset_replaced_floor(void **state)
{
	struct cw_reconnect r;

	(void)state;
	cw_reconnect_init(&r, &SMALL);
	for (int i = 0; i < 3; i++)
		(void)cw_reconnect_next(&r, CW_BACKOFF_FAILED, 0, 0, 0);
	assert_int_equal(r.ceiling_ns, 2000 * MS);
	assert_int_equal(cw_reconnect_next(&r, CW_BACKOFF_RESET, 0, 0, 7), 0);
	assert_int_equal(r.ceiling_ns, 250 * MS);
	assert_int_equal(cw_reconnect_next(&r, CW_BACKOFF_REPLACED, 0, 0, 7), 2000 * MS);
	assert_int_equal(cw_reconnect_next(&r, CW_BACKOFF_CLOSED, 0, 0, 7), 250 * MS);
	/* retry_after is a floor, never a ceiling. */
	assert_int_equal(cw_reconnect_next(&r, CW_BACKOFF_CLOSED, 0, 3 * S, 7), 3 * S);
	assert_int_equal(cw_reconnect_next(&r, CW_BACKOFF_CLOSED, 0, 1 * MS, 7), 1000 * MS);
	/* A session longer than reset_after_ms starts the backoff over. */
	assert_int_equal(cw_reconnect_next(&r, CW_BACKOFF_CLOSED, 5 * S, 0, 7), 2000 * MS);
	assert_int_equal(cw_reconnect_next(&r, CW_BACKOFF_CLOSED, 5 * S + 1, 0, 7), 250 * MS);
}

/* The documented defaults are §11.6, as tunnel/backoff.c implements it. */
static void test_defaults_match_backoff(void **state)
{
	struct cw_agent_config c;
	struct cw_reconnect r;
	struct cw_backoff b;
	uint64_t x = 88172645463325252ull;

	(void)state;
	cw_agent_config_defaults(&c);
	cw_reconnect_init(&r, &c.reconnect);
	cw_backoff_init(&b);
	for (int i = 0; i < 200; i++) {
		enum cw_backoff_why why = (enum cw_backoff_why)(i % 7 == 6 ? i % 4 : i % 2);
		uint64_t lasted = (uint64_t)(i % 5) * 20 * S, after = i % 11 == 0 ? 3 * S : 0;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		assert_int_equal(cw_reconnect_next(&r, why, lasted, after, x),
				 cw_backoff_next(&b, why, lasted, after, x));
	}
}

/* Full jitter stays within [0, ceiling] and reaches both ends. */
static void test_jitter_range(void **state)
{
	struct cw_agent_reconnect_conf c = SMALL;
	struct cw_reconnect r;
	uint64_t lo = UINT64_MAX, hi = 0;

	(void)state;
	c.jitter = CW_AGENT_JITTER_FULL;
	for (uint64_t i = 0; i < 1000; i++) {
		uint64_t d;

		cw_reconnect_init(&r, &c);
		d = cw_reconnect_next(&r, CW_BACKOFF_FAILED, 0, 0, i * 250251 + i * i);
		assert_true(d <= 250 * MS);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	assert_true(lo < 5 * MS && hi > 245 * MS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ceilings_no_jitter),
	    cmocka_unit_test(test_reset_replaced_floor),
	    cmocka_unit_test(test_defaults_match_backoff),
	    cmocka_unit_test(test_jitter_range),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
