/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tunnel/replay.c with WireGuard's counter-validation table (its selftest,
 * with our window and our 2^62 limit in place of REJECT_AFTER_MESSAGES),
 * the window filled from either end, and a comparison with a plain model.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tunnel/header.h"
#include "tunnel/replay.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

#define W     CW_REPLAY_WINDOW
#define T_LIM (W + 1)
#define LIMIT (CW_PN_MAX + 1)

/*
 * check, then commit when check passed: both must agree, and a failed
 * check must leave the state as it was.
 */
static int step(struct cw_replay *r, uint64_t pn)
{
	struct cw_replay before = *r;
	int rc = cw_replay_check(r, pn);

	assert_memory_equal(&before, r, sizeof(*r));
	assert_int_equal(cw_replay_commit(r, pn), rc);
	if (rc)
		assert_memory_equal(&before, r, sizeof(*r));
	return rc;
}

struct row {
	uint64_t pn;
	int rc;
};

static void test_wireguard_table(void **state)
{
	static const struct row rows[] = {
	    /*  1 */ {0, 0},
	    /*  2 */ {1, 0},
	    /*  3 */ {1, -EEXIST},
	    /*  4 */ {9, 0},
	    /*  5 */ {8, 0},
	    /*  6 */ {7, 0},
	    /*  7 */ {7, -EEXIST},
	    /*  8 */ {T_LIM, 0},
	    /*  9 */ {T_LIM - 1, 0},
	    /* 10 */ {T_LIM - 1, -EEXIST},
	    /* 11 */ {T_LIM - 2, 0},
	    /* 12 */ {2, 0},
	    /* 13 */ {2, -EEXIST},
	    /* 14 */ {T_LIM + 16, 0},
	    /* 15 */ {3, -ESTALE},
	    /* 16 */ {T_LIM + 16, -EEXIST},
	    /* 17 */ {T_LIM * 4, 0},
	    /* 18 */ {T_LIM * 4 - (T_LIM - 1), 0},
	    /* 19 */ {10, -ESTALE},
	    /* 20 */ {T_LIM * 4 - T_LIM, -ESTALE},
	    /* 21 */ {T_LIM * 4 - (T_LIM + 1), -ESTALE},
	    /* 22 */ {T_LIM * 4 - (T_LIM - 2), 0},
	    /* 23 */ {T_LIM * 4 + 1 - T_LIM, -EEXIST},
	    /* 24 */ {0, -ESTALE},
	    /* 25 */ {LIMIT, -ERANGE},
	    /* 26 */ {LIMIT - 1, 0},
	    /* 27 */ {LIMIT, -ERANGE},
	    /* 28 */ {LIMIT - 1, -EEXIST},
	    /* 29 */ {LIMIT - 2, 0},
	    /* 30 */ {LIMIT + 1, -ERANGE},
	    /* 31 */ {LIMIT + 2, -ERANGE},
	    /* 32 */ {LIMIT - 2, -EEXIST},
	    /* 33 */ {LIMIT - 3, 0},
	    /* 34 */ {0, -ESTALE},
	    /* 35 */ {UINT64_MAX, -ERANGE},
	};
	struct cw_replay r;

	(void)state;
	cw_replay_init(&r);
	for (size_t i = 0; i < N(rows); i++) {
		print_message("row %zu\n", i + 1);
		assert_int_equal(step(&r, rows[i].pn), rows[i].rc);
	}
}

/* WireGuard's loops: the whole window, filled upwards and downwards. */
static void test_fill_window(void **state)
{
	struct cw_replay r;
	uint64_t i;

	(void)state;
	cw_replay_init(&r);
	for (i = 1; i <= W; ++i)
		assert_int_equal(step(&r, i), 0);
	assert_int_equal(step(&r, 0), 0);
	assert_int_equal(step(&r, 0), -EEXIST);

	cw_replay_init(&r);
	for (i = 2; i <= W + 1; ++i)
		assert_int_equal(step(&r, i), 0);
	assert_int_equal(step(&r, 1), 0);
	assert_int_equal(step(&r, 0), -ESTALE);

	cw_replay_init(&r);
	for (i = W + 1; i-- > 0;)
		assert_int_equal(step(&r, i), 0);

	cw_replay_init(&r);
	for (i = W + 2; i-- > 1;)
		assert_int_equal(step(&r, i), 0);
	assert_int_equal(step(&r, 0), -ESTALE);

	cw_replay_init(&r);
	for (i = W + 1; i-- > 1;)
		assert_int_equal(step(&r, i), 0);
	assert_int_equal(step(&r, W + 1), 0);
	assert_int_equal(step(&r, 0), -ESTALE);

	cw_replay_init(&r);
	for (i = W + 1; i-- > 1;)
		assert_int_equal(step(&r, i), 0);
	assert_int_equal(step(&r, 0), 0);
	assert_int_equal(step(&r, W + 1), 0);
}

/* Word edges: the first and last bit of a word, around a slide. */
static void test_word_edges(void **state)
{
	static const struct row rows[] = {
	    {63, 0},
	    {64, 0},
	    {0, 0},
	    {127, 0},
	    {63, -EEXIST},
	    {64, -EEXIST},
	    /* 2111 = 33 * 64 - 1: the window is 63..2111, 33 words. */
	    {2111, 0},
	    {63, -EEXIST},
	    {62, -ESTALE},
	    {0, -ESTALE},
	    {64, -EEXIST},
	    {127, -EEXIST},
	    {126, 0},
	    /* 2112 takes word 0's ring slot: 64..2112. */
	    {2112, 0},
	    {63, -ESTALE},
	    {64, -EEXIST},
	    {65, 0},
	    {127, -EEXIST},
	    {128, 0},
	    /* 2176 takes word 1's: 128..2176. */
	    {2176, 0},
	    {127, -ESTALE},
	    {128, -EEXIST},
	    {2111, -EEXIST},
	    {2112, -EEXIST},
	    {2112 + W, 0},
	    {2111, -ESTALE},
	    {2112, -EEXIST},
	    {2113, 0},
	    {2176, -EEXIST},
	};
	struct cw_replay r;

	(void)state;
	cw_replay_init(&r);
	for (size_t i = 0; i < N(rows); i++) {
		print_message("row %zu\n", i);
		assert_int_equal(step(&r, rows[i].pn), rows[i].rc);
	}
}

/* A jump of more than the window forgets everything behind it. */
static void test_big_jumps(void **state)
{
	struct cw_replay r;

	(void)state;
	cw_replay_init(&r);
	for (uint64_t i = 0; i < 5000; i++)
		assert_int_equal(step(&r, i), 0);
	assert_int_equal(step(&r, 5000 + 5 * W), 0);
	/* Nothing between the old top and the new bottom is remembered. */
	for (uint64_t i = 5000 + 4 * W; i < 5000 + 5 * W; i++)
		assert_int_equal(step(&r, i), 0);
	for (uint64_t i = 5000 + 4 * W; i <= 5000 + 5 * W; i++)
		assert_int_equal(cw_replay_check(&r, i), -EEXIST);
	assert_int_equal(step(&r, 5000 + 4 * W - 1), -ESTALE);
	/* Exactly one word ring ahead: every slot is reused. */
	uint64_t top = 5000 + 5 * W;
	assert_int_equal(step(&r, top + 64 * CW_REPLAY_WORDS), 0);
	for (uint64_t i = top + 64 * CW_REPLAY_WORDS - W; i < top + 64 * CW_REPLAY_WORDS; i++)
		assert_int_equal(cw_replay_check(&r, i), 0);
	/* And to the end of the space. */
	assert_int_equal(step(&r, CW_PN_MAX), 0);
	assert_int_equal(step(&r, CW_PN_MAX - W), 0);
	assert_int_equal(step(&r, CW_PN_MAX - W - 1), -ESTALE);
	assert_int_equal(step(&r, CW_PN_MAX), -EEXIST);
}

/* Two copies pass the check; the commit of the second must fail. */
static void test_check_then_commit(void **state)
{
	struct cw_replay r;

	(void)state;
	cw_replay_init(&r);
	assert_int_equal(cw_replay_check(&r, 5), 0);
	assert_int_equal(cw_replay_check(&r, 5), 0);
	assert_int_equal(cw_replay_commit(&r, 5), 0);
	assert_int_equal(cw_replay_commit(&r, 5), -EEXIST);
	/* A forged packet checked but never committed moves nothing. */
	assert_int_equal(cw_replay_check(&r, 1000000), 0);
	assert_int_equal(cw_replay_check(&r, 6), 0);
	assert_int_equal(cw_replay_commit(&r, 6), 0);
	/* A commit that moves the window can make an earlier check stale. */
	assert_int_equal(cw_replay_check(&r, 7), 0);
	assert_int_equal(cw_replay_commit(&r, 7 + W + 1), 0);
	assert_int_equal(cw_replay_commit(&r, 7), -ESTALE);
}

static uint64_t rng_state = 0x853c49e6748fea9bu;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/*
 * Against a model that remembers everything: accept when new and no more
 * than W below the highest accepted.
 */
static void test_model(void **state)
{
	enum { SPAN = 1 << 20 };
	static bool seen[SPAN];
	struct cw_replay r;
	uint64_t top = 0;
	bool any = false;
	unsigned outcomes[3] = {0};

	(void)state;
	cw_replay_init(&r);
	memset(seen, 0, sizeof(seen));
	for (int k = 0; k < 200000; k++) {
		uint64_t x = rng(), y = x / 1000;
		uint64_t near = top > W + 200 ? top - W - 200 : 0;
		uint64_t pn;
		int want;

		/* Mostly around the window's edges, some far behind, a few leaps. */
		if (x % 1000 < 900)
			pn = near + y % (top + 64 - near + 1);
		else if (x % 1000 < 998)
			pn = y % (top + 1);
		else
			pn = top + 1 + y % (3 * W / 2);
		if (pn >= SPAN)
			break;
		if (any && pn + W < top)
			want = -ESTALE;
		else if (seen[pn])
			want = -EEXIST;
		else
			want = 0;
		assert_int_equal(step(&r, pn), want);
		outcomes[want == 0 ? 0 : want == -EEXIST ? 1 : 2]++;
		if (want == 0) {
			seen[pn] = true;
			if (!any || pn > top)
				top = pn;
			any = true;
		}
	}
	/* The run must have exercised every outcome and got far. */
	print_message("accepted %u, duplicates %u, stale %u, top %llu\n", outcomes[0], outcomes[1],
		      outcomes[2], (unsigned long long)top);
	assert_true(outcomes[0] > 10000 && outcomes[1] > 10000 && outcomes[2] > 1000);
	assert_true(top > 10 * W);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wireguard_table),   cmocka_unit_test(test_fill_window),
	    cmocka_unit_test(test_word_edges),	      cmocka_unit_test(test_big_jumps),
	    cmocka_unit_test(test_check_then_commit), cmocka_unit_test(test_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
