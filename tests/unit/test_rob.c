/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tunnel/rob.c: order, overlap and duplicates (first copy wins, nothing
 * delivered twice), the limit and the 62-bit bound, final size rules,
 * memory (chunks as data arrives, freed as read, counted through the
 * allocator), a seeded shuffle of overlapping segments, and in-order data
 * (copied past the bitmap) mixed with gaps and repeats.
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

#include "testutil.h"

#include "tunnel/rob.h"
#include "tunnel/varint.h"

#define N(a)	    (sizeof(a) / sizeof((a)[0]))
#define TOTAL_MIXED (1u << 20) /* the pattern's length */

static struct tu_counter cnt;
static const struct cw_alloc counting = {tu_count_alloc, tu_count_free, &cnt};

static int setup(void **state)
{
	(void)state;
	memset(&cnt, 0, sizeof(cnt));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	assert_int_equal(cnt.bytes, 0);
	assert_int_equal(cnt.blocks, 0);
	return 0;
}

static uint8_t pattern[1 << 20];

static void make_pattern(void)
{
	uint32_t x = 1;

	for (size_t i = 0; i < sizeof(pattern); i++) {
		x = x * 1664525 + 1013904223;
		pattern[i] = (uint8_t)(x >> 24);
	}
}

static int ins(struct cw_rob *r, uint64_t off, size_t len, bool fin)
{
	return cw_rob_insert(r, off, pattern + off, len, fin);
}

/* Read everything readable and check it is pattern[from..). */
static size_t drain(struct cw_rob *r, uint64_t from)
{
	static uint8_t buf[1 << 20];
	size_t n = cw_rob_read(r, buf, sizeof(buf));

	assert_memory_equal(buf, pattern + from, n);
	return n;
}

static void test_in_order(void **state)
{
	struct cw_rob r;
	uint8_t buf[16];

	(void)state;
	assert_int_equal(cw_rob_init(&r, &counting, 65536), 0);
	assert_int_equal(cnt.blocks, 0);
	assert_int_equal(cw_rob_insert(&r, 0, (const uint8_t *)"hello", 5, false), 0);
	assert_int_equal(cw_rob_insert(&r, 5, (const uint8_t *)" world", 6, true), 0);
	assert_int_equal(cw_rob_readable(&r), 11);
	assert_true(cw_rob_complete(&r));
	assert_false(cw_rob_finished(&r));
	assert_int_equal(cw_rob_read(&r, buf, 4), 4);
	assert_memory_equal(buf, "hell", 4);
	assert_int_equal(cw_rob_read(&r, buf, sizeof(buf)), 7);
	assert_memory_equal(buf, "o world", 7);
	assert_true(cw_rob_finished(&r));
	assert_int_equal(cw_rob_read(&r, buf, sizeof(buf)), 0);
	/* All read: no memory held. */
	assert_int_equal(cnt.blocks, 0);
	cw_rob_free(&r);
}

static void test_out_of_order(void **state)
{
	struct cw_rob r;

	(void)state;
	assert_int_equal(cw_rob_init(&r, &counting, 65536), 0);
	assert_int_equal(ins(&r, 5000, 100, false), 0);
	assert_int_equal(ins(&r, 100, 100, false), 0);
	assert_int_equal(cw_rob_readable(&r), 0);
	assert_int_equal(r.highest, 5100);
	assert_int_equal(ins(&r, 0, 50, false), 0);
	assert_int_equal(cw_rob_readable(&r), 50);
	assert_int_equal(ins(&r, 50, 50, false), 0);
	assert_int_equal(cw_rob_readable(&r), 200);
	assert_int_equal(ins(&r, 200, 4800, false), 0);
	assert_int_equal(cw_rob_readable(&r), 5100);
	assert_int_equal(ins(&r, 6000, 10, false), 0);
	assert_int_equal(drain(&r, 0), 5100);
	/* Chunk 0 is freed; chunk 1 still holds 6000..6010. */
	assert_int_equal(cnt.blocks, 1);
	assert_int_equal(cnt.bytes, sizeof(struct cw_rob_chunk));
	/* Once that is read too, only the chunk the next bytes go to is held,
	 * until a trim; more data comes in fine. */
	assert_int_equal(ins(&r, 5100, 900, false), 0);
	assert_int_equal(drain(&r, 5100), 910);
	assert_int_equal(cnt.blocks, 1);
	assert_int_equal(ins(&r, 6010, 10, false), 0);
	assert_int_equal(drain(&r, 6010), 10);
	cw_rob_trim(&r);
	assert_int_equal(cnt.blocks, 0);
	cw_rob_trim(&r);
	assert_int_equal(cnt.blocks, 0);
	assert_int_equal(ins(&r, 6020, 100, false), 0);
	assert_int_equal(drain(&r, 6020), 100);
	cw_rob_free(&r);
}

/* Overlapping copies: bytes already held win, later ones fill only holes. */
static void test_overlap_first_copy_wins(void **state)
{
	struct cw_rob r;
	uint8_t buf[32];

	(void)state;
	assert_int_equal(cw_rob_init(&r, &counting, 65536), 0);
	assert_int_equal(cw_rob_insert(&r, 2, (const uint8_t *)"cd", 2, false), 0);
	assert_int_equal(cw_rob_insert(&r, 6, (const uint8_t *)"gh", 2, false), 0);
	/* Different bytes where "cd" and "gh" are: they must not replace them. */
	assert_int_equal(cw_rob_insert(&r, 0, (const uint8_t *)"abXXefYYij", 10, false), 0);
	assert_int_equal(cw_rob_read(&r, buf, sizeof(buf)), 10);
	assert_memory_equal(buf, "abcdefghij", 10);
	/* Already read: a duplicate delivers nothing again. */
	assert_int_equal(cw_rob_insert(&r, 0, (const uint8_t *)"ZZZZZZZZZZ", 10, false), 0);
	assert_int_equal(cw_rob_readable(&r), 0);
	/* Straddling the read offset: only the new tail is taken. */
	assert_int_equal(cw_rob_insert(&r, 8, (const uint8_t *)"ZZkl", 4, false), 0);
	assert_int_equal(cw_rob_read(&r, buf, sizeof(buf)), 2);
	assert_memory_equal(buf, "kl", 2);
	cw_rob_free(&r);
}

struct lim_case {
	uint64_t off;
	size_t len;
	bool fin;
	int rc;
};

static void test_limit(void **state)
{
	static const struct lim_case cases[] = {
	    {0, 1000, false, 0},  {65535, 1, false, 0},		{65535, 2, false, -EDQUOT},
	    {65536, 0, false, 0}, /* at the limit, no byte beyond it */
	    {65536, 0, true, 0},  {1 << 20, 1, false, -EPROTO}, /* beyond the final size just set */
	};
	struct cw_rob r;

	(void)state;
	assert_int_equal(cw_rob_init(&r, &counting, 65536), 0);
	for (size_t i = 0; i < N(cases); i++)
		assert_int_equal(ins(&r, cases[i].off, cases[i].len, cases[i].fin), cases[i].rc);
	cw_rob_free(&r);

	/* Raising the limit; lowering is ignored; the span is bounded. */
	assert_int_equal(cw_rob_init(&r, &counting, 100), 0);
	assert_int_equal(ins(&r, 100, 1, false), -EDQUOT);
	assert_int_equal(cw_rob_set_limit(&r, 200), 0);
	assert_int_equal(cw_rob_set_limit(&r, 150), 0);
	assert_int_equal(r.limit, 200);
	assert_int_equal(ins(&r, 100, 100, false), 0);
	assert_int_equal(ins(&r, 199, 2, false), -EDQUOT);
	assert_int_equal(cw_rob_set_limit(&r, CW_ROB_MAX_SPAN + 1), -EINVAL);
	assert_int_equal(cw_rob_set_limit(&r, CW_ROB_MAX_SPAN), 0);
	cw_rob_free(&r);
	assert_int_equal(cw_rob_init(&r, &counting, CW_ROB_MAX_SPAN + 1), -EINVAL);
}

static void test_62bit_bound(void **state)
{
	struct cw_rob r;
	uint8_t b[4] = {0};

	(void)state;
	assert_int_equal(cw_rob_init(&r, &counting, 65536), 0);
	assert_int_equal(cw_rob_insert(&r, CW_VARINT_MAX, b, 1, false), -ERANGE);
	assert_int_equal(cw_rob_insert(&r, CW_VARINT_MAX - 1, b, 2, false), -ERANGE);
	assert_int_equal(cw_rob_insert(&r, UINT64_MAX - 1, b, 4, false), -ERANGE);
	/* Legal but beyond the limit. */
	assert_int_equal(cw_rob_insert(&r, CW_VARINT_MAX - 1, b, 1, false), -EDQUOT);
	assert_int_equal(cw_rob_set_final(&r, CW_VARINT_MAX + 1), -ERANGE);
	assert_int_equal(cnt.blocks, 0);
	cw_rob_free(&r);
}

struct fin_case {
	const char *name;
	int kind; /* 0 data, 1 set_final */
	uint64_t off;
	size_t len;
	bool fin;
	int rc;
};

static void test_final_size(void **state)
{
	static const struct fin_case cases[] = {
	    {"data", 0, 0, 100, false, 0},
	    {"fin below data received", 0, 0, 50, true, -EPROTO},
	    {"reset below data received", 1, 50, 0, false, -EPROTO},
	    {"fin", 0, 100, 20, true, 0},
	    {"same fin again", 0, 100, 20, true, 0},
	    {"data inside", 0, 10, 10, false, 0},
	    {"data up to the end", 0, 110, 10, false, 0},
	    {"data beyond the end", 0, 110, 11, false, -EPROTO},
	    {"fin moved up", 0, 120, 1, true, -EPROTO},
	    {"fin moved down", 0, 100, 10, true, -EPROTO},
	    {"reset, same size", 1, 120, 0, false, 0},
	    {"reset, other size", 1, 121, 0, false, -EPROTO},
	    {"empty fin at the end", 0, 120, 0, true, 0},
	};
	struct cw_rob r;

	(void)state;
	assert_int_equal(cw_rob_init(&r, &counting, 65536), 0);
	for (size_t i = 0; i < N(cases); i++) {
		const struct fin_case *c = &cases[i];
		int rc = c->kind ? cw_rob_set_final(&r, c->off) : ins(&r, c->off, c->len, c->fin);

		if (rc != c->rc)
			fail_msg("%s: %d, want %d", c->name, rc, c->rc);
	}
	assert_int_equal(r.final, 120);
	assert_int_equal(drain(&r, 0), 120);
	assert_true(cw_rob_finished(&r));
	cw_rob_free(&r);

	/* A reset beyond the limit is a flow-control error. */
	assert_int_equal(cw_rob_init(&r, &counting, 1000), 0);
	assert_int_equal(cw_rob_set_final(&r, 1001), -EDQUOT);
	assert_int_equal(cw_rob_set_final(&r, 1000), 0);
	cw_rob_free(&r);
}

/*
 * The hard bound: a peer filling every other byte of a 64 KiB window costs
 * 16 chunks, exactly what a full window costs, and everything is freed as
 * it is read.
 */
static void test_memory_bound(void **state)
{
	const uint64_t win = 65536;
	const size_t chunks = win / CW_ROB_CHUNK;
	struct cw_rob r;
	size_t ring = 0;

	(void)state;
	assert_int_equal(cw_rob_init(&r, &counting, win), 0);
	for (uint64_t off = 1; off < win; off += 2)
		assert_int_equal(ins(&r, off, 1, false), 0);
	for (size_t n = CW_CHUNKMAP_INLINE; n < chunks; n *= 2)
		ring = n * 2 * sizeof(void *);
	assert_int_equal(cnt.bytes, chunks * sizeof(struct cw_rob_chunk) + ring);
	assert_int_equal(ins(&r, win, 1, false), -EDQUOT);
	assert_int_equal(cw_rob_readable(&r), 0);
	/* Duplicates of what is held allocate nothing. */
	for (uint64_t off = 1; off < win; off += 2)
		assert_int_equal(ins(&r, off, 1, false), 0);
	assert_int_equal(cnt.bytes, chunks * sizeof(struct cw_rob_chunk) + ring);
	for (uint64_t off = 0; off < win; off += 2)
		assert_int_equal(ins(&r, off, 1, false), 0);
	assert_int_equal(cw_rob_readable(&r), win);
	/* Reading frees chunk by chunk. */
	assert_int_equal(drain(&r, 0) > 0, 1);
	assert_int_equal(cnt.bytes, 0);
	assert_int_equal(cw_rob_set_limit(&r, 2 * win), 0);
	assert_int_equal(ins(&r, win, 10, false), 0);
	assert_int_equal(cnt.blocks, 1);
	cw_rob_free(&r);
}

static void test_peek_consume(void **state)
{
	struct cw_rob r;
	const uint8_t *p;
	size_t len;

	(void)state;
	assert_int_equal(cw_rob_init(&r, &counting, 65536), 0);
	assert_null(cw_rob_peek(&r, &len));
	assert_int_equal(len, 0);
	assert_int_equal(ins(&r, 0, 10000, false), 0);
	p = cw_rob_peek(&r, &len);
	assert_int_equal(len, CW_ROB_CHUNK);
	assert_memory_equal(p, pattern, len);
	assert_int_equal(cw_rob_consume(&r, 100), 100);
	p = cw_rob_peek(&r, &len);
	assert_int_equal(len, CW_ROB_CHUNK - 100);
	assert_memory_equal(p, pattern + 100, len);
	assert_int_equal(cw_rob_consume(&r, 20000), 9900);
	assert_int_equal(r.read_off, 10000);
	cw_rob_free(&r);
}

static void test_discard(void **state)
{
	struct cw_rob r;
	uint8_t buf[8];

	(void)state;
	assert_int_equal(cw_rob_init(&r, &counting, 65536), 0);
	assert_int_equal(ins(&r, 0, 300, false), 0);
	assert_int_equal(ins(&r, 5000, 300, false), 0);
	assert_int_equal(cnt.blocks, 2);
	cw_rob_discard(&r);
	assert_int_equal(cnt.blocks, 0);
	assert_int_equal(cw_rob_readable(&r), 0);
	/* Still checked, not stored. */
	assert_int_equal(ins(&r, 6000, 100, false), 0);
	assert_int_equal(ins(&r, 60000, 6000, false), -EDQUOT);
	assert_int_equal(cnt.blocks, 0);
	assert_int_equal(r.highest, 6100);
	assert_int_equal(cw_rob_set_final(&r, 6000), -EPROTO);
	assert_int_equal(cw_rob_set_final(&r, 7000), 0);
	assert_int_equal(ins(&r, 6900, 101, false), -EPROTO);
	assert_int_equal(cw_rob_read(&r, buf, sizeof(buf)), 0);
	assert_false(cw_rob_finished(&r));
	assert_int_equal(ins(&r, 6900, 100, true), 0);
	assert_true(cw_rob_finished(&r));
	cw_rob_free(&r);
}

static void test_enomem(void **state)
{
	struct cw_rob r;

	(void)state;
	assert_int_equal(cw_rob_init(&r, &counting, 65536), 0);
	/* Two chunks: the second allocation fails; the first chunk is kept. */
	cnt.fail_in = 2;
	assert_int_equal(ins(&r, 0, 2 * CW_ROB_CHUNK, false), -ENOMEM);
	assert_int_equal(cw_rob_readable(&r), CW_ROB_CHUNK);
	/* The ring growth fails: chunk 4 needs more than the inline slots. */
	cnt.fail_in = 2;
	assert_int_equal(ins(&r, 4 * CW_ROB_CHUNK, 1, false), -ENOMEM);
	assert_int_equal(cnt.blocks, 1);
	cnt.fail_in = 0;
	/* The peer resends: everything arrives. */
	assert_int_equal(ins(&r, 0, 4 * CW_ROB_CHUNK + 1, false), 0);
	assert_int_equal(drain(&r, 0), 4 * CW_ROB_CHUNK + 1);
	cw_rob_free(&r);
}

/*
 * Segments of a 1 MiB stream, each sent 1-3 times at random sizes,
 * shuffled, with reads of random sizes in between: the reader gets the
 * exact bytes once.
 */
static void test_shuffle(void **state)
{
	enum { TOTAL = 1 << 20, MAXSEG = 3000 };
	static struct seg {
		uint64_t off;
		uint32_t len;
	} seg[3 * TOTAL / 100];
	size_t nseg = 0, got = 0;
	uint32_t x = 0xC0FFEE;
	struct cw_rob r;

	(void)state;
	for (uint64_t off = 0; off < TOTAL;) {
		uint32_t len;

		x = x * 1103515245 + 12345;
		len = 1 + (x >> 8) % MAXSEG;
		if (off + len > TOTAL)
			len = TOTAL - off;
		for (uint32_t k = 0; k <= (x >> 4) % 3; k++) {
			/* Copies shifted a little so they overlap their neighbours. */
			uint64_t o = off > k * 7 ? off - k * 7 : 0;

			seg[nseg].off = o;
			seg[nseg++].len = len + (uint32_t)(off - o);
		}
		off += len;
	}
	for (size_t i = nseg - 1; i > 0; i--) {
		size_t j;

		x = x * 1103515245 + 12345;
		j = (x >> 8) % (i + 1);
		struct seg t = seg[i];
		seg[i] = seg[j];
		seg[j] = t;
	}
	assert_int_equal(cw_rob_init(&r, &counting, TOTAL), 0);
	for (size_t i = 0; i < nseg; i++) {
		bool fin = seg[i].off + seg[i].len == TOTAL;

		assert_int_equal(ins(&r, seg[i].off, seg[i].len, fin), 0);
		x = x * 1103515245 + 12345;
		if ((x >> 8) % 4 == 0) {
			uint8_t buf[5000];
			size_t n = cw_rob_read(&r, buf, 1 + (x >> 12) % sizeof(buf));

			assert_memory_equal(buf, pattern + got, n);
			got += n;
		}
	}
	got += drain(&r, got);
	assert_int_equal(got, TOTAL);
	assert_true(cw_rob_finished(&r));
	assert_int_equal(cnt.bytes, 0);
	cw_rob_free(&r);
}

/*
 * In-order data with nothing beyond it is copied without the bitmap; data
 * around a gap goes through it. Every switch between the two, inside one
 * chunk and across chunks, keeps the bytes exact.
 */
static void test_in_order_then_gaps(void **state)
{
	uint8_t buf[4 * CW_ROB_CHUNK];
	struct cw_rob r;

	(void)state;
	assert_int_equal(cw_rob_init(&r, &counting, TOTAL_MIXED), 0);
	assert_int_equal(ins(&r, 0, 100, false), 0);   /* in order */
	assert_int_equal(ins(&r, 200, 100, false), 0); /* ahead */
	assert_int_equal(cw_rob_readable(&r), 100);
	assert_int_equal(ins(&r, 100, 100, false), 0); /* fills the gap */
	assert_int_equal(cw_rob_readable(&r), 300);
	assert_int_equal(ins(&r, 300, 100, false), 0);	/* in order again */
	assert_int_equal(ins(&r, 350, 100, false), 0);	/* half a duplicate */
	assert_int_equal(ins(&r, 600, 4000, false), 0); /* ahead, into chunk 1 */
	assert_int_equal(ins(&r, 450, 100, false), 0);	/* in order, below data */
	assert_int_equal(cw_rob_readable(&r), 550);
	assert_int_equal(ins(&r, 500, 100, false), 0);
	assert_int_equal(cw_rob_readable(&r), 4600);
	assert_int_equal(ins(&r, 4600, 2 * CW_ROB_CHUNK, false), 0); /* in order, 2 chunks */
	assert_int_equal(cw_rob_readable(&r), 4600 + 2 * CW_ROB_CHUNK);
	assert_int_equal(cw_rob_read(&r, buf, sizeof(buf)), 4600 + 2 * CW_ROB_CHUNK);
	assert_memory_equal(buf, pattern, 4600 + 2 * CW_ROB_CHUNK);
	cw_rob_free(&r);
}

/*
 * A stream as a reader that keeps up sees it: segments mostly in order,
 * some held back behind the next one or two, some repeated, reads of
 * random sizes in between: the bytes arrive exact and once.
 */
static void test_mostly_in_order(void **state)
{
	enum { MAXSEG = 1400 };
	uint64_t held_off = 0, dup_off = 0, off = 0;
	size_t held_len = 0, dup_len = 0, got = 0, wait = 0;
	uint32_t x = 0xBADC0DE;
	uint8_t buf[5000];
	struct cw_rob r;

	(void)state;
	assert_int_equal(cw_rob_init(&r, &counting, TOTAL_MIXED), 0);
	while (off < TOTAL_MIXED || held_len) {
		size_t len;

		x = x * 1103515245 + 12345;
		len = 1 + (x >> 8) % MAXSEG;
		if (off + len > TOTAL_MIXED)
			len = TOTAL_MIXED - off;
		if (len && !held_len && (x >> 4) % 8 == 0) {
			held_off = off, held_len = len, wait = 1 + (x >> 20) % 2;
		} else if (len) {
			assert_int_equal(ins(&r, off, len, off + len == TOTAL_MIXED), 0);
			if ((x >> 24) % 10 == 0)
				dup_off = off, dup_len = len;
		}
		off += len;
		if (held_len && (!len || --wait == 0)) {
			assert_int_equal(
			    ins(&r, held_off, held_len, held_off + held_len == TOTAL_MIXED), 0);
			held_len = 0;
		}
		if (dup_len && (x >> 16) % 3 == 0) {
			assert_int_equal(
			    ins(&r, dup_off, dup_len, dup_off + dup_len == TOTAL_MIXED), 0);
			dup_len = 0;
		}
		if ((x >> 12) % 3 == 0) {
			size_t n = cw_rob_read(&r, buf, 1 + (x >> 2) % sizeof(buf));

			assert_memory_equal(buf, pattern + got, n);
			got += n;
		}
	}
	got += drain(&r, got);
	assert_int_equal(got, TOTAL_MIXED);
	assert_true(cw_rob_finished(&r));
	assert_int_equal(cnt.bytes, 0);
	cw_rob_free(&r);
}

/* The CRYPTO stream use: 65536 bytes per space, beyond is an error. */
static void test_crypto_use(void **state)
{
	struct cw_rob r;

	(void)state;
	assert_int_equal(cw_rob_init(&r, &counting, 65536), 0);
	assert_int_equal(ins(&r, 65000, 536, false), 0);
	assert_int_equal(ins(&r, 65000, 537, false), -EDQUOT);
	assert_int_equal(ins(&r, 0, 65000, false), 0);
	assert_int_equal(drain(&r, 0), 65536);
	/* Reading does not extend a CRYPTO stream: the limit is absolute. */
	assert_int_equal(ins(&r, 65536, 1, false), -EDQUOT);
	cw_rob_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_in_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_out_of_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_overlap_first_copy_wins, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_62bit_bound, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_final_size, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_memory_bound, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_peek_consume, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_discard, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_enomem, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_shuffle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_in_order_then_gaps, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mostly_in_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_crypto_use, setup, teardown),
	};

	make_pattern();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
