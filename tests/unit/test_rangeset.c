/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tunnel/rangeset.c: merging, splitting and the bound, table-driven, and a
 * comparison with a byte-map model under random operations.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tunnel/rangeset.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

enum op { ADD, REMOVE, BELOW };

struct step {
	enum op op;
	uint64_t lo, hi;
	int rc;
	size_t n;		 /* ranges after the step */
	struct cw_range want[4]; /* the first of them */
};

static void run(const struct step *steps, size_t n)
{
	struct cw_rangeset s;

	cw_rangeset_init(&s);
	for (size_t i = 0; i < n; i++) {
		const struct step *st = &steps[i];
		int rc = 0;

		if (st->op == ADD)
			rc = cw_rangeset_add(&s, st->lo, st->hi);
		else if (st->op == REMOVE)
			rc = cw_rangeset_remove(&s, st->lo, st->hi);
		else
			cw_rangeset_remove_below(&s, st->lo);
		assert_int_equal(rc, st->rc);
		assert_int_equal(s.n, st->n);
		for (size_t k = 0; k < st->n && k < 4; k++) {
			assert_true(s.r[k].lo == st->want[k].lo);
			assert_true(s.r[k].hi == st->want[k].hi);
		}
	}
}

static void test_add_table(void **state)
{
	static const struct step steps[] = {
	    {ADD, 10, 20, 0, 1, {{10, 20}}},
	    {ADD, 5, 5, 0, 1, {{10, 20}}}, /* empty: no-op */
	    {ADD, 30, 40, 0, 2, {{10, 20}, {30, 40}}},
	    {ADD, 0, 2, 0, 3, {{0, 2}, {10, 20}, {30, 40}}},
	    {ADD, 20, 25, 0, 3, {{0, 2}, {10, 25}, {30, 40}}}, /* adjacent above */
	    {ADD, 8, 10, 0, 3, {{0, 2}, {8, 25}, {30, 40}}},   /* adjacent below */
	    {ADD, 12, 14, 0, 3, {{0, 2}, {8, 25}, {30, 40}}},  /* inside */
	    {ADD, 1, 35, 0, 1, {{0, 40}}},		       /* swallows all */
	    {ADD, 40, 41, 0, 1, {{0, 41}}},
	};

	(void)state;
	run(steps, N(steps));
}

static void test_remove_table(void **state)
{
	static const struct step steps[] = {
	    {ADD, 0, 100, 0, 1, {{0, 100}}},
	    {REMOVE, 40, 50, 0, 2, {{0, 40}, {50, 100}}}, /* split */
	    {REMOVE, 0, 10, 0, 2, {{10, 40}, {50, 100}}},
	    {REMOVE, 90, 200, 0, 2, {{10, 40}, {50, 90}}},
	    {REMOVE, 35, 55, 0, 2, {{10, 35}, {55, 90}}}, /* across a gap */
	    {REMOVE, 35, 55, 0, 2, {{10, 35}, {55, 90}}}, /* nothing there */
	    {REMOVE, 0, 1000, 0, 0, {{0, 0}}},
	    {ADD, 10, 20, 0, 1, {{10, 20}}},
	    {ADD, 30, 40, 0, 2, {{10, 20}, {30, 40}}},
	    {BELOW, 15, 0, 0, 2, {{15, 20}, {30, 40}}},
	    {BELOW, 30, 0, 0, 1, {{30, 40}}},
	    {BELOW, 50, 0, 0, 0, {{0, 0}}},
	};

	(void)state;
	run(steps, N(steps));
}

static void fill(struct cw_rangeset *s)
{
	cw_rangeset_init(s);
	for (uint64_t i = 0; i < CW_RANGESET_MAX; i++)
		assert_int_equal(cw_rangeset_add(s, i * 10, i * 10 + 5), 0);
	assert_int_equal(s->n, CW_RANGESET_MAX);
}

static void test_bound(void **state)
{
	struct cw_rangeset s, before;

	(void)state;
	fill(&s);
	before = s;
	/* A new range does not fit; a merging one does. */
	assert_int_equal(cw_rangeset_add(&s, 1000, 1001), -ENOSPC);
	assert_memory_equal(&s, &before, sizeof(s));
	assert_int_equal(cw_rangeset_add(&s, 5, 10), 0);
	assert_int_equal(s.n, CW_RANGESET_MAX - 1);
	/* A split of a full set is refused. */
	assert_int_equal(cw_rangeset_add(&s, 1000, 1001), 0);
	before = s;
	assert_int_equal(cw_rangeset_remove(&s, 21, 22), -ENOSPC);
	assert_memory_equal(&s, &before, sizeof(s));
	/* Trimming an end needs no room. */
	assert_int_equal(cw_rangeset_remove(&s, 20, 21), 0);
	assert_true(s.r[1].lo == 21);
}

static void test_coalesce(void **state)
{
	struct cw_rangeset s;

	(void)state;
	fill(&s);
	/* Gaps are all 5 wide; make one 1 wide so it is the one merged. */
	assert_int_equal(cw_rangeset_add(&s, 100, 104), 0);
	assert_true(s.r[9].lo == 90 && s.r[9].hi == 95);
	assert_true(s.r[10].lo == 100 && s.r[10].hi == 105);
	cw_rangeset_add(&s, 95, 99); /* gap to 100 is 1 */
	assert_int_equal(s.n, CW_RANGESET_MAX);
	cw_rangeset_add_coalesce(&s, 5000, 5001);
	assert_int_equal(s.n, CW_RANGESET_MAX);
	assert_true(s.r[9].lo == 90 && s.r[9].hi == 105);
	assert_true(s.r[CW_RANGESET_MAX - 1].lo == 5000);
	assert_true(cw_rangeset_contains(&s, 90, 105));
	assert_false(cw_rangeset_contains(&s, 89, 91));
	assert_true(cw_rangeset_contains(&s, 7, 7));
}

/* Random adds and removes against a byte map, never filling the set. */
static void test_model(void **state)
{
	uint8_t map[512];
	uint32_t x = 12345;
	struct cw_rangeset s;

	(void)state;
	memset(map, 0, sizeof(map));
	cw_rangeset_init(&s);
	for (int it = 0; it < 20000; it++) {
		uint64_t lo, hi;
		int rc;

		x = x * 1103515245 + 12345;
		lo = (x >> 8) % 500;
		hi = lo + (x >> 20) % 12;
		if ((x >> 4) & 1) {
			rc = cw_rangeset_add(&s, lo, hi);
			if (!rc)
				memset(map + lo, 1, hi - lo);
		} else {
			rc = cw_rangeset_remove(&s, lo, hi);
			if (!rc)
				memset(map + lo, 0, hi - lo);
		}
		assert_true(rc == 0 || rc == -ENOSPC);
		for (uint32_t i = 0; i < s.n; i++) {
			assert_true(s.r[i].lo < s.r[i].hi);
			if (i)
				assert_true(s.r[i - 1].hi < s.r[i].lo);
		}
		for (uint64_t b = 0; b < sizeof(map); b++)
			assert_int_equal(cw_rangeset_contains(&s, b, b + 1), map[b]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_add_table), cmocka_unit_test(test_remove_table),
	    cmocka_unit_test(test_bound),     cmocka_unit_test(test_coalesce),
	    cmocka_unit_test(test_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
