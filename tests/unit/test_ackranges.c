/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tunnel/ackranges.c: the received-set (merging, duplicates, the bound) and
 * the ACK frame against hand-assembled bytes, including every way a frame
 * can claim packet numbers below zero.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tunnel/ackranges.h"
#include "tunnel/header.h"
#include "tunnel/varint.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The set holds exactly @want (pairs of hi, lo, highest first). */
static void expect_set(const struct cw_ackset *s, const uint64_t *want, size_t n)
{
	assert_int_equal(s->n, n);
	for (size_t i = 0; i < n; i++) {
		assert_true(s->r[i].hi == want[2 * i]);
		assert_true(s->r[i].lo == want[2 * i + 1]);
	}
}

static void test_add_in_order(void **state)
{
	struct cw_ackset s;
	uint64_t pn;

	(void)state;
	cw_ackset_init(&s);
	assert_int_equal(cw_ackset_largest(&s, &pn), -ENOENT);
	assert_false(cw_ackset_contains(&s, 0));
	for (uint64_t i = 0; i < 10; i++)
		assert_int_equal(cw_ackset_add(&s, i), 0);
	expect_set(&s, (const uint64_t[]){9, 0}, 1);
	assert_int_equal(cw_ackset_largest(&s, &pn), 0);
	assert_true(pn == 9);
	for (uint64_t i = 0; i < 10; i++)
		assert_int_equal(cw_ackset_add(&s, i), -EEXIST);
	expect_set(&s, (const uint64_t[]){9, 0}, 1);
}

static void test_add_merge(void **state)
{
	struct cw_ackset s;

	(void)state;
	cw_ackset_init(&s);
	assert_int_equal(cw_ackset_add(&s, 5), 0);
	assert_int_equal(cw_ackset_add(&s, 1), 0);
	assert_int_equal(cw_ackset_add(&s, 3), 0);
	expect_set(&s, (const uint64_t[]){5, 5, 3, 3, 1, 1}, 3);
	/* Joins the range above. */
	assert_int_equal(cw_ackset_add(&s, 4), 0);
	expect_set(&s, (const uint64_t[]){5, 3, 1, 1}, 2);
	/* Joins both: they become one. */
	assert_int_equal(cw_ackset_add(&s, 2), 0);
	expect_set(&s, (const uint64_t[]){5, 1}, 1);
	/* Extends the lowest downwards, then the highest upwards. */
	assert_int_equal(cw_ackset_add(&s, 0), 0);
	assert_int_equal(cw_ackset_add(&s, 6), 0);
	expect_set(&s, (const uint64_t[]){6, 0}, 1);
	/* A new range above, one between, one joining the lower only. */
	assert_int_equal(cw_ackset_add(&s, 20), 0);
	assert_int_equal(cw_ackset_add(&s, 10), 0);
	assert_int_equal(cw_ackset_add(&s, 11), 0);
	expect_set(&s, (const uint64_t[]){20, 20, 11, 10, 6, 0}, 3);
	assert_int_equal(cw_ackset_add(&s, 10), -EEXIST);
	assert_int_equal(cw_ackset_add(&s, 3), -EEXIST);
	assert_true(cw_ackset_contains(&s, 0));
	assert_true(cw_ackset_contains(&s, 11));
	assert_true(cw_ackset_contains(&s, 20));
	assert_false(cw_ackset_contains(&s, 7));
	assert_false(cw_ackset_contains(&s, 12));
	assert_false(cw_ackset_contains(&s, 21));
}

static void test_add_range_limits(void **state)
{
	struct cw_ackset s;

	(void)state;
	cw_ackset_init(&s);
	assert_int_equal(cw_ackset_add(&s, CW_PN_MAX + 1), -ERANGE);
	assert_int_equal(cw_ackset_add(&s, UINT64_MAX), -ERANGE);
	assert_int_equal(s.n, 0);
	assert_int_equal(cw_ackset_add(&s, CW_PN_MAX), 0);
	assert_int_equal(cw_ackset_add(&s, CW_PN_MAX - 1), 0);
	expect_set(&s, (const uint64_t[]){CW_PN_MAX, CW_PN_MAX - 1}, 1);
	assert_int_equal(cw_ackset_add(&s, 0), 0);
	expect_set(&s, (const uint64_t[]){CW_PN_MAX, CW_PN_MAX - 1, 0, 0}, 2);
}

/* A peer leaving a hole after every packet cannot grow the set. */
static void test_add_full(void **state)
{
	struct cw_ackset s;

	(void)state;
	cw_ackset_init(&s);
	for (uint64_t i = 0; i < CW_ACKSET_MAX_RANGES; i++)
		assert_int_equal(cw_ackset_add(&s, 2 * i + 10), 0);
	assert_int_equal(s.n, CW_ACKSET_MAX_RANGES);
	/* Older than everything kept: not recorded at all. */
	assert_int_equal(cw_ackset_add(&s, 0), -ENOSPC);
	assert_int_equal(cw_ackset_add(&s, 8), -ENOSPC);
	assert_false(cw_ackset_contains(&s, 8));
	/* Adjacent to the oldest: extends it, no new range needed. */
	assert_int_equal(cw_ackset_add(&s, 9), 0);
	assert_true(s.r[CW_ACKSET_MAX_RANGES - 1].lo == 9);
	assert_true(s.r[CW_ACKSET_MAX_RANGES - 1].hi == 10);

	/* A new highest range pushes the oldest out. */
	uint64_t top = 2 * (CW_ACKSET_MAX_RANGES - 1) + 10;
	assert_int_equal(cw_ackset_add(&s, top + 2), 0);
	assert_int_equal(s.n, CW_ACKSET_MAX_RANGES);
	assert_true(s.r[0].lo == top + 2);
	assert_true(s.r[CW_ACKSET_MAX_RANGES - 1].lo == 12);
	assert_false(cw_ackset_contains(&s, 10));

	/* Filling a hole merges two ranges and frees a slot... */
	assert_int_equal(cw_ackset_add(&s, 13), 0);
	assert_int_equal(s.n, CW_ACKSET_MAX_RANGES - 1);
	/* ...which a new range then takes, dropping nothing... */
	assert_int_equal(cw_ackset_add(&s, 1000), 0);
	assert_int_equal(s.n, CW_ACKSET_MAX_RANGES);
	assert_true(s.r[CW_ACKSET_MAX_RANGES - 1].lo == 12);
	assert_true(s.r[CW_ACKSET_MAX_RANGES - 1].hi == 14);
	/* ...and a new one in the middle, when full, drops the oldest. */
	assert_int_equal(cw_ackset_add(&s, 998), 0);
	assert_int_equal(s.n, CW_ACKSET_MAX_RANGES);
	assert_true(s.r[0].lo == 1000);
	assert_true(s.r[1].lo == 998);
	assert_true(s.r[CW_ACKSET_MAX_RANGES - 1].lo == 16);
	assert_false(cw_ackset_contains(&s, 13));
	for (size_t i = 1; i < s.n; i++)
		assert_true(s.r[i].hi + 1 < s.r[i - 1].lo);
}

static void test_forget_below(void **state)
{
	struct cw_ackset s;
	static const uint64_t pns[] = {1, 2, 3, 6, 7, 10, 11, 12, 20};

	(void)state;
	cw_ackset_init(&s);
	for (size_t i = 0; i < N(pns); i++)
		assert_int_equal(cw_ackset_add(&s, pns[i]), 0);
	expect_set(&s, (const uint64_t[]){20, 20, 12, 10, 7, 6, 3, 1}, 4);
	cw_ackset_forget_below(&s, 0);
	assert_int_equal(s.n, 4);
	cw_ackset_forget_below(&s, 2);
	expect_set(&s, (const uint64_t[]){20, 20, 12, 10, 7, 6, 3, 2}, 4);
	cw_ackset_forget_below(&s, 4);
	expect_set(&s, (const uint64_t[]){20, 20, 12, 10, 7, 6}, 3);
	cw_ackset_forget_below(&s, 11);
	expect_set(&s, (const uint64_t[]){20, 20, 12, 11}, 2);
	/* A forgotten packet arriving again is new to the set. */
	assert_int_equal(cw_ackset_add(&s, 10), 0);
	cw_ackset_forget_below(&s, 21);
	assert_int_equal(s.n, 0);
}

/* Largest 100, ranges 100..95, 90, 80..70; ACK delay 25 (200 µs). */
static const struct cw_ack_range three[] = {{95, 100}, {90, 90}, {70, 80}};
static const uint8_t three_wire[] = {
    0x02,	/* type */
    0x40, 0x64, /* largest 100 */
    0x19,	/* ack delay */
    0x02,	/* two gap/length pairs */
    0x05,	/* first range: 100..95 */
    0x03, 0x00, /* gap 95-90-2, length 0: 90 */
    0x08, 0x0a, /* gap 90-80-2, length 10: 80..70 */
};

static void test_encode_three(void **state)
{
	uint8_t out[32];
	struct cw_ack_frame f;

	(void)state;
	memset(out, 0xee, sizeof(out));
	assert_int_equal(cw_ack_encode(out, sizeof(out), three, 3, 25), (int)sizeof(three_wire));
	assert_memory_equal(out, three_wire, sizeof(three_wire));
	assert_int_equal(out[sizeof(three_wire)], 0xee);

	assert_int_equal(cw_ack_decode(out, sizeof(out), &f), (int)sizeof(three_wire));
	assert_true(f.ack_delay == 25);
	assert_true(f.range_count == 2);
	assert_int_equal(f.n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_true(f.r[i].lo == three[i].lo);
		assert_true(f.r[i].hi == three[i].hi);
	}
}

/* Ranges that do not fit are left out from the lowest up. */
static void test_encode_truncated(void **state)
{
	uint8_t out[32];
	struct cw_ack_frame f;

	(void)state;
	assert_int_equal(cw_ack_encode(out, sizeof(three_wire), three, 3, 25),
			 (int)sizeof(three_wire));
	/* One byte short: the last pair goes, the count says one. */
	assert_int_equal(cw_ack_encode(out, sizeof(three_wire) - 1, three, 3, 25), 8);
	assert_int_equal(out[4], 0x01);
	assert_int_equal(cw_ack_decode(out, 8, &f), 8);
	assert_int_equal(f.n, 2);
	assert_true(f.r[1].lo == 90 && f.r[1].hi == 90);
	/* Only the first range. */
	assert_int_equal(cw_ack_encode(out, 7, three, 3, 25), 6);
	assert_int_equal(cw_ack_encode(out, 6, three, 3, 25), 6);
	assert_int_equal(out[4], 0x00);
	assert_int_equal(cw_ack_decode(out, 6, &f), 6);
	assert_int_equal(f.n, 1);
	for (size_t cap = 0; cap < 6; cap++)
		assert_int_equal(cw_ack_encode(out, cap, three, 3, 25), -EMSGSIZE);
}

struct enc_case {
	const char *what;
	struct cw_ack_range r[3];
	size_t n;
	uint64_t delay;
	int rc;
};

static void test_encode_reject(void **state)
{
	static const struct enc_case cases[] = {
	    {"no range", {{0, 0}}, 0, 0, -EINVAL},
	    {"lo above hi", {{5, 4}}, 1, 0, -EINVAL},
	    {"adjacent", {{5, 10}, {0, 4}}, 2, 0, -EINVAL},
	    {"overlapping", {{5, 10}, {0, 5}}, 2, 0, -EINVAL},
	    {"ascending", {{0, 4}, {6, 10}}, 2, 0, -EINVAL},
	    {"second below lo 2", {{1, 10}, {0, 0}}, 2, 0, -EINVAL},
	    {"third adjacent", {{20, 30}, {10, 15}, {0, 9}}, 3, 0, -EINVAL},
	    {"largest too big", {{0, CW_PN_MAX + 1}}, 1, 0, -ERANGE},
	    {"delay too big", {{0, 1}}, 1, CW_VARINT_MAX + 1, -ERANGE},
	    {"gap of exactly one", {{6, 10}, {0, 4}}, 2, 0, 7},
	    {"top of the space", {{0, CW_PN_MAX}}, 1, CW_VARINT_MAX, 26},
	};
	uint8_t out[64];

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		print_message("%s\n", cases[i].what);
		assert_int_equal(
		    cw_ack_encode(out, sizeof(out), cases[i].r, cases[i].n, cases[i].delay),
		    cases[i].rc);
	}
}

struct dec_case {
	const char *what;
	uint8_t b[16];
	size_t len;
	int rc;
};

static void test_decode_reject(void **state)
{
	static const struct dec_case cases[] = {
	    {"empty", {0}, 0, -EBADMSG},
	    {"PADDING", {0x00}, 1, -EBADMSG},
	    {"ACK_ECN is not ours", {0x03, 0x05, 0x00, 0x00, 0x00, 0, 0, 0}, 8, -EBADMSG},
	    {"two-byte type 0x02", {0x40, 0x02, 0x05, 0x00, 0x00, 0x00}, 6, 6},
	    {"first range = largest", {0x02, 0x05, 0x00, 0x00, 0x05}, 5, 5},
	    {"first range > largest", {0x02, 0x05, 0x00, 0x00, 0x06}, 5, -EBADMSG},
	    /* largest 5, first range 0: lo 5; a gap of 3 reaches 0. */
	    {"gap down to 0", {0x02, 0x05, 0x00, 0x01, 0x00, 0x03, 0x00}, 7, 7},
	    {"gap below 0", {0x02, 0x05, 0x00, 0x01, 0x00, 0x04, 0x00}, 7, -EBADMSG},
	    {"gap far below 0", {0x02, 0x05, 0x00, 0x01, 0x00, 0x3f, 0x00}, 7, -EBADMSG},
	    {"length below 0", {0x02, 0x05, 0x00, 0x01, 0x00, 0x02, 0x02}, 7, -EBADMSG},
	    {"length down to 0", {0x02, 0x05, 0x00, 0x01, 0x00, 0x02, 0x01}, 7, 7},
	    /* lo 1 after the first range: any further range is below 0. */
	    {"lo 1 then a range", {0x02, 0x05, 0x00, 0x01, 0x04, 0x00, 0x00}, 7, -EBADMSG},
	    {"lo 0 then a range", {0x02, 0x05, 0x00, 0x01, 0x05, 0x00, 0x00}, 7, -EBADMSG},
	    {"count past the end", {0x02, 0x05, 0x00, 0x02, 0x00, 0x00, 0x00}, 7, -EBADMSG},
	    {"huge count", {0x02, 0x05, 0x00, 0xbf, 0xff, 0xff, 0xff, 0x00, 0, 0}, 10, -EBADMSG},
	    {"pair cut in half", {0x02, 0x05, 0x00, 0x01, 0x00, 0x00}, 6, -EBADMSG},
	    {"varint cut", {0x02, 0x45}, 2, -EBADMSG},
	};
	struct cw_ack_frame f;

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		print_message("%s\n", cases[i].what);
		assert_int_equal(cw_ack_decode(cases[i].b, cases[i].len, &f), cases[i].rc);
	}
}

static void test_decode_truncated(void **state)
{
	struct cw_ack_frame f;
	uint8_t buf[sizeof(three_wire) + 4];

	(void)state;
	for (size_t len = 0; len < sizeof(three_wire); len++)
		assert_int_equal(cw_ack_decode(three_wire, len, &f), -EBADMSG);
	/* Frames follow one another: the return value says where this ends. */
	memcpy(buf, three_wire, sizeof(three_wire));
	memset(buf + sizeof(three_wire), 0x01, 4);
	assert_int_equal(cw_ack_decode(buf, sizeof(buf), &f), (int)sizeof(three_wire));
}

/* More ranges than a frame struct keeps: all are checked, the top kept. */
static void test_many_ranges(void **state)
{
	enum { MANY = 100 };
	struct cw_ack_range r[MANY];
	struct cw_ack_frame f;
	uint8_t out[1024];
	int n, m;

	(void)state;
	for (size_t i = 0; i < MANY; i++) {
		r[i].hi = 10000 - 10 * i;
		r[i].lo = r[i].hi - i % 5;
	}
	n = cw_ack_encode(out, sizeof(out), r, MANY, 0);
	/* 1 type + 2 largest + 1 delay + 2 count (99 > 63) + 1 first + 99 pairs of 2. */
	assert_int_equal(n, 1 + 2 + 1 + 2 + 1 + 99 * 2);
	assert_int_equal(cw_ack_decode(out, (size_t)n, &f), n);
	assert_true(f.range_count == MANY - 1);
	assert_int_equal(f.n, CW_ACK_FRAME_MAX_RANGES);
	for (size_t i = 0; i < f.n; i++) {
		assert_true(f.r[i].lo == r[i].lo);
		assert_true(f.r[i].hi == r[i].hi);
	}
	/* The count grows to two bytes at 64 pairs: exactly when it must. */
	m = cw_ack_encode(out, 1 + 2 + 1 + 1 + 1 + 63 * 2, r, MANY, 0);
	assert_int_equal(m, 1 + 2 + 1 + 1 + 1 + 63 * 2);
	assert_int_equal(out[4], 63);
	m = cw_ack_encode(out, 1 + 2 + 1 + 2 + 1 + 63 * 2 + 1, r, MANY, 0);
	assert_int_equal(m, 1 + 2 + 1 + 1 + 1 + 63 * 2);
	m = cw_ack_encode(out, 1 + 2 + 1 + 2 + 1 + 64 * 2, r, MANY, 0);
	assert_int_equal(m, 1 + 2 + 1 + 2 + 1 + 64 * 2);
	assert_int_equal(out[4], 0x40);
	assert_int_equal(out[5], 64);
	assert_int_equal(cw_ack_decode(out, (size_t)m, &f), m);
	assert_true(f.range_count == 64);
}

static uint64_t rng_state = 0x2545f4914f6cdd1du;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/*
 * Random arrivals (reordered, duplicated) within a span small enough that
 * the set never fills, checked against a plain bitmap, then sent through
 * an ACK frame and back.
 */
static void test_model(void **state)
{
	enum { SPAN = 2 * CW_ACKSET_MAX_RANGES };
	(void)state;
	for (int round = 0; round < 2000; round++) {
		struct cw_ackset s;
		struct cw_ack_frame f;
		bool seen[SPAN] = {false};
		uint64_t base = round & 1 ? 0 : rng() & 0xffffffffff;
		uint8_t out[1024];
		int n;

		cw_ackset_init(&s);
		for (int k = 0; k < SPAN; k++) {
			uint64_t off = rng() % SPAN;

			assert_int_equal(cw_ackset_add(&s, base + off), seen[off] ? -EEXIST : 0);
			seen[off] = true;
			for (size_t i = 1; i < s.n; i++)
				assert_true(s.r[i].hi + 1 < s.r[i - 1].lo);
		}
		for (uint64_t off = 0; off < SPAN; off++)
			assert_int_equal(cw_ackset_contains(&s, base + off), seen[off]);

		n = cw_ack_encode(out, sizeof(out), s.r, s.n, round);
		assert_true(n > 0);
		assert_int_equal(cw_ack_decode(out, (size_t)n, &f), n);
		assert_int_equal(f.n, s.n);
		assert_true(f.ack_delay == (uint64_t)round);
		assert_memory_equal(f.r, s.r, s.n * sizeof(s.r[0]));
	}
}

/*
 * Every byte of a valid frame changed to every value: whatever decodes is
 * a well-formed descending set within the frame's own bounds.
 */
static void test_mutations(void **state)
{
	uint8_t buf[sizeof(three_wire)];
	struct cw_ack_frame f;
	int n;

	(void)state;
	for (size_t at = 0; at < sizeof(three_wire); at++) {
		for (unsigned v = 0; v < 256; v++) {
			memcpy(buf, three_wire, sizeof(buf));
			buf[at] = (uint8_t)v;
			n = cw_ack_decode(buf, sizeof(buf), &f);
			if (n < 0) {
				assert_int_equal(n, -EBADMSG);
				continue;
			}
			assert_true((size_t)n <= sizeof(buf));
			assert_true(f.n >= 1 && f.n == f.range_count + 1);
			for (size_t i = 0; i < f.n; i++) {
				assert_true(f.r[i].lo <= f.r[i].hi);
				if (i > 0)
					assert_true(f.r[i].hi + 1 < f.r[i - 1].lo);
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_add_in_order),     cmocka_unit_test(test_add_merge),
	    cmocka_unit_test(test_add_range_limits), cmocka_unit_test(test_add_full),
	    cmocka_unit_test(test_forget_below),     cmocka_unit_test(test_encode_three),
	    cmocka_unit_test(test_encode_truncated), cmocka_unit_test(test_encode_reject),
	    cmocka_unit_test(test_decode_reject),    cmocka_unit_test(test_decode_truncated),
	    cmocka_unit_test(test_many_ranges),	     cmocka_unit_test(test_model),
	    cmocka_unit_test(test_mutations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
