/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tunnel/rtt.c: RFC 9002 §5 as PROTOCOL.md §10.2 states it. Each table row
 * starts from a given estimate and takes one sample; the expected values
 * are worked out in the row's comment (times in ms, exact in ns).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tunnel/rtt.h"

#define N(a)  (sizeof(a) / sizeof((a)[0]))
#define US(x) ((uint64_t)(x)*1000)
#define MS(x) ((uint64_t)(x)*1000000)

static void test_initial(void **state)
{
	struct cw_rtt r;

	(void)state;
	cw_rtt_init(&r);
	assert_false(r.has_sample);
	assert_int_equal(r.latest, 0);
	assert_int_equal(r.min, 0);
	assert_int_equal(r.smoothed, MS(100));
	assert_int_equal(r.var, MS(50));
	/* 100 + max(4 × 50, 1) = 300 ms: the handshake spaces' first PTO. */
	assert_int_equal(cw_rtt_pto_base(&r), MS(300));
}

struct row {
	bool fresh;		/* no sample yet; else min 40, srtt 40, var 20 */
	uint64_t latest, delay; /* ns */
	bool confirmed;
	uint64_t min, smoothed, var;
};

static void test_samples(void **state)
{
	static const struct row rows[] = {
	    /* 1: first sample: srtt = 40, var = 40 / 2, delay ignored. */
	    {true, MS(40), MS(10), true, MS(40), MS(40), MS(20)},
	    /* 2: 60 − 40 ≥ 10 → adj 50; var (60 + 10) / 4; srtt (280 + 50) / 8. */
	    {false, MS(60), MS(10), true, MS(40), US(41250), US(17500)},
	    /* 3: 45 − 40 < 10 → adj 45; var (60 + 5) / 4; srtt (280 + 45) / 8. */
	    {false, MS(45), MS(10), true, MS(40), US(40625), US(16250)},
	    /* 4: delay capped at 25 → adj 175; var (60 + 135) / 4; srtt 455 / 8. */
	    {false, MS(200), MS(100), true, MS(40), US(56875), US(48750)},
	    /* 5: not confirmed, uncapped → adj 100; var 120 / 4; srtt 380 / 8. */
	    {false, MS(200), MS(100), false, MS(40), US(47500), MS(30)},
	    /* 6: new min 30; 30 − 30 < 5 → adj 30; var 70 / 4; srtt 310 / 8. */
	    {false, MS(30), MS(5), true, MS(30), US(38750), US(17500)},
	    /* 7: 60 − 40 = 20 exactly → adj 40 (not below min); var 60 / 4. */
	    {false, MS(60), MS(20), true, MS(40), MS(40), MS(15)},
	    /* 8: delay 21 would go below min → adj 60; var 80 / 4; srtt 340 / 8. */
	    {false, MS(60), MS(21), true, MS(40), US(42500), MS(20)},
	    /* 9: a delay that would wrap is simply not applied: as row 8. */
	    {false, MS(60), UINT64_MAX, false, MS(40), US(42500), MS(20)},
	    /* 10: delay exactly at the cap, 70 − 40 ≥ 25 → adj 45; as row 3. */
	    {false, MS(70), MS(25), true, MS(40), US(40625), US(16250)},
	    /* 11: a zero sample is a sample. */
	    {true, 0, 0, false, 0, 0, 0},
	    /* 12: 1 ns: var truncates to 0. */
	    {true, 1, 0, false, 1, 1, 0},
	};

	(void)state;
	for (size_t i = 0; i < N(rows); i++) {
		const struct row *w = &rows[i];
		struct cw_rtt r;

		cw_rtt_init(&r);
		if (!w->fresh)
			r = (struct cw_rtt){.latest = MS(40),
					    .min = MS(40),
					    .smoothed = MS(40),
					    .var = MS(20),
					    .has_sample = true};
		cw_rtt_update(&r, w->latest, w->delay, w->confirmed);
		print_message("row %zu\n", i + 1);
		assert_true(r.has_sample);
		assert_int_equal(r.latest, w->latest);
		assert_int_equal(r.min, w->min);
		assert_int_equal(r.smoothed, w->smoothed);
		assert_int_equal(r.var, w->var);
	}
}

/* Three samples in a row: the estimate carries over. */
static void test_sequence(void **state)
{
	struct cw_rtt r;

	(void)state;
	cw_rtt_init(&r);
	cw_rtt_update(&r, MS(40), MS(10), true); /* 40 / 40 / 20 */
	cw_rtt_update(&r, MS(60), MS(10), true); /* row 2: 41.25 / 17.5 */
	/*
	 * 45 − 40 < 10 → adj 45. var = (3 × 17.5 + |41.25 − 45|) / 4
	 * = (52.5 + 3.75) / 4 = 14.0625; srtt = (7 × 41.25 + 45) / 8
	 * = 333.75 / 8 = 41.71875.
	 */
	cw_rtt_update(&r, MS(45), MS(10), true);
	assert_int_equal(r.min, MS(40));
	assert_int_equal(r.smoothed, 41718750);
	assert_int_equal(r.var, 14062500);
	/* 41.71875 + 4 × 14.0625 = 97.96875 ms. */
	assert_int_equal(cw_rtt_pto_base(&r), 97968750);
}

static void test_pto_base_granularity(void **state)
{
	struct cw_rtt r;

	(void)state;
	/* 200 µs, var 100 µs: 4 × var = 400 µs < 1 ms → 0.2 + 1 ms. */
	cw_rtt_init(&r);
	cw_rtt_update(&r, US(200), 0, false);
	assert_int_equal(r.var, US(100));
	assert_int_equal(cw_rtt_pto_base(&r), US(1200));
	/* 500 µs, var 250 µs: 4 × var = 1 ms exactly → 0.5 + 1 ms. */
	cw_rtt_init(&r);
	cw_rtt_update(&r, US(500), 0, false);
	assert_int_equal(cw_rtt_pto_base(&r), US(1500));
	/* 40 ms, var 20 ms → 40 + 80 = 120 ms. */
	cw_rtt_init(&r);
	cw_rtt_update(&r, MS(40), 0, false);
	assert_int_equal(cw_rtt_pto_base(&r), MS(120));
}

static void test_reset_min(void **state)
{
	struct cw_rtt r;

	(void)state;
	cw_rtt_init(&r);
	cw_rtt_reset_min(&r); /* no sample: nothing to reset to */
	assert_int_equal(r.min, 0);
	assert_false(r.has_sample);
	cw_rtt_update(&r, MS(40), 0, true);
	cw_rtt_update(&r, MS(90), 0, true);
	assert_int_equal(r.min, MS(40));
	cw_rtt_reset_min(&r);
	assert_int_equal(r.min, MS(90));
	/* The next sample below it lowers it again. */
	cw_rtt_update(&r, MS(70), 0, true);
	assert_int_equal(r.min, MS(70));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_initial),   cmocka_unit_test(test_samples),
	    cmocka_unit_test(test_sequence),  cmocka_unit_test(test_pto_base_granularity),
	    cmocka_unit_test(test_reset_min),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
