/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tunnel/sendbuf.c: the capacity, spans (limit, size, chunk edges), chunks
 * sized to an idle stream's message and grown as it is written, lost
 * bytes first and lowest first, acknowledged bytes never resent unless the
 * bound forces it, FIN in all its paths, reset, and a seeded lossy transfer
 * into a reorder buffer that must arrive byte-exact with all memory back.
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
#include "tunnel/sendbuf.h"

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

static uint8_t pattern[4 << 20];

static void make_pattern(void)
{
	uint32_t x = 7;

	for (size_t i = 0; i < sizeof(pattern); i++) {
		x = x * 1664525 + 1013904223;
		pattern[i] = (uint8_t)(x >> 24);
	}
}

static void put(struct cw_sendbuf *b, size_t len)
{
	size_t n;

	assert_int_equal(cw_sendbuf_write(b, pattern + b->written, len, &n), 0);
	assert_int_equal(n, len);
}

/* The next span must be exactly (off, len, fin) with the written bytes. */
static void expect_next(struct cw_sendbuf *b, size_t max, uint64_t limit, uint64_t off, size_t len,
			bool fin)
{
	struct cw_sendbuf_span s;

	assert_int_equal(cw_sendbuf_next(b, max, limit, &s), 0);
	assert_int_equal(s.offset, off);
	assert_int_equal(s.len, len);
	assert_int_equal(s.fin, fin);
	if (len)
		assert_memory_equal(s.data, pattern + off, len);
}

static void expect_none(struct cw_sendbuf *b, size_t max, uint64_t limit)
{
	struct cw_sendbuf_span s;

	assert_int_equal(cw_sendbuf_next(b, max, limit, &s), -ENOENT);
}

/*
 * In-order acknowledgments need no range sets: an idle or loss-free stream
 * holds only its chunks. Out of order, the sets come and go; when they
 * cannot be allocated the caller hears of it.
 */
static void test_range_sets_on_demand(void **state)
{
	struct cw_sendbuf b;
	size_t blocks;

	(void)state;
	assert_int_equal(cw_sendbuf_init(&b, &counting, 1 << 20), 0);
	put(&b, 3000);
	for (int i = 0; i < 3; i++)
		expect_next(&b, 1000, UINT64_MAX, i * 1000, 1000, false);
	assert_int_equal(cw_sendbuf_on_acked(&b, 0, 1000, false), 0);
	assert_null(b.rs);
	blocks = cnt.blocks;
	assert_int_equal(cw_sendbuf_on_acked(&b, 2000, 1000, false), 0);
	assert_non_null(b.rs);
	assert_int_equal(cnt.blocks, blocks + 1);
	assert_int_equal(cw_sendbuf_on_acked(&b, 1000, 1000, false), 0);
	assert_null(b.rs);
	assert_int_equal(cnt.blocks, 0); /* all acknowledged: the chunk went too */
	/* A loss needs them too, until the bytes are resent. */
	put(&b, 1000);
	expect_next(&b, 1000, UINT64_MAX, 3000, 1000, false);
	assert_int_equal(cw_sendbuf_on_lost(&b, 3000, 1000, false), 0);
	assert_non_null(b.rs);
	expect_next(&b, 1000, UINT64_MAX, 3000, 1000, false);
	assert_null(b.rs);
	cnt.fail_in = 1;
	assert_int_equal(cw_sendbuf_on_lost(&b, 3000, 1000, false), -ENOMEM);
	cnt.fail_in = 1;
	assert_int_equal(cw_sendbuf_on_acked(&b, 3500, 500, false), -ENOMEM);
	/* In order still works without memory. */
	cnt.fail_in = 1;
	assert_int_equal(cw_sendbuf_on_acked(&b, 3000, 1000, false), 0);
	cnt.fail_in = 0;
	assert_int_equal(b.una, 4000);
	cw_sendbuf_free(&b);
}

static void test_capacity(void **state)
{
	const size_t c = CW_SENDBUF_CHUNK, cap = 2 * c + c / 2;
	struct cw_sendbuf b;
	size_t n;

	(void)state;
	assert_int_equal(cw_sendbuf_init(&b, &counting, 0), -EINVAL);
	assert_int_equal(cw_sendbuf_init(&b, &counting, CW_SENDBUF_MAX_CAP + 1), -EINVAL);
	assert_int_equal(cw_sendbuf_init(&b, &counting, cap), 0);
	assert_int_equal(cnt.blocks, 0);
	assert_int_equal(cw_sendbuf_write(&b, pattern, cap + 1000, &n), 0);
	assert_int_equal(n, cap);
	assert_int_equal(cw_sendbuf_space(&b), 0);
	assert_int_equal(cw_sendbuf_write(&b, pattern, 1, &n), -EAGAIN);
	assert_int_equal(n, 0);
	assert_int_equal(cw_sendbuf_write(&b, pattern, 0, &n), 0);
	assert_int_equal(cnt.blocks, 3);
	/* Sending frees nothing; acknowledging a whole chunk frees it. */
	expect_next(&b, c, UINT64_MAX, 0, c, false);
	expect_next(&b, 100, UINT64_MAX, c, 100, false);
	cw_sendbuf_on_acked(&b, 0, c - 384, false);
	assert_int_equal(cnt.blocks, 3);
	assert_int_equal(cw_sendbuf_space(&b), c - 384);
	cw_sendbuf_on_acked(&b, c - 384, 384, false);
	assert_int_equal(cnt.blocks, 2);
	assert_int_equal(b.una, c);
	cw_sendbuf_free(&b);
}

/*
 * A message to an idle stream takes a chunk its size (from
 * CW_SENDBUF_CHUNK_MIN up by 4x), grown with its bytes kept while more is
 * written before any is sent; once sent bytes await their acknowledgment
 * the chunk grows to full size at once. Acknowledged, it is freed, and
 * the next message starts small again. The teardown checks that each
 * free was told the size allocated.
 */
static void test_chunk_growth(void **state)
{
	const size_t min = CW_SENDBUF_CHUNK_MIN;
	struct cw_sendbuf b;

	(void)state;
	assert_int_equal(cw_sendbuf_init(&b, &counting, 1 << 20), 0);
	put(&b, 100);
	assert_int_equal(cnt.blocks, 1);
	assert_int_equal(cnt.bytes, min);
	put(&b, min);
	assert_int_equal(cnt.blocks, 1);
	assert_int_equal(cnt.bytes, 4 * min);
	expect_next(&b, 1200, UINT64_MAX, 0, 100 + min, false);
	put(&b, 1000);
	assert_int_equal(cnt.blocks, 1);
	assert_int_equal(cnt.bytes, CW_SENDBUF_CHUNK);
	expect_next(&b, 1200, UINT64_MAX, 100 + min, 1000, false);
	cw_sendbuf_on_acked(&b, 0, 1100 + min, false);
	assert_int_equal(cnt.blocks, 0);
	/* It holds only its own bytes, wherever in the chunk they start. */
	put(&b, 10);
	assert_int_equal(cnt.bytes, min);
	put(&b, min);
	assert_int_equal(cnt.bytes, 4 * min);
	expect_next(&b, 1200, UINT64_MAX, 1100 + min, 10 + min, false);
	cw_sendbuf_on_acked(&b, 1100 + min, 10 + min, false);
	assert_int_equal(cnt.blocks, 0);
	/* Written to the chunk's end, it is full-sized. */
	put(&b, CW_SENDBUF_CHUNK - b.written);
	assert_int_equal(cnt.bytes, CW_SENDBUF_CHUNK);
	expect_next(&b, 1200, UINT64_MAX, 1110 + 2 * min, 1200, false);
	put(&b, 10);
	assert_int_equal(cnt.blocks, 2);
	cw_sendbuf_free(&b);
}

static void test_span_edges(void **state)
{
	const size_t c = CW_SENDBUF_CHUNK;
	struct cw_sendbuf b;

	(void)state;
	assert_int_equal(cw_sendbuf_init(&b, &counting, 1 << 20), 0);
	expect_none(&b, 1200, UINT64_MAX);
	put(&b, 3 * c);
	/* The flow-control limit, then the chunk edge, then max_len. */
	expect_next(&b, 1200, 1000, 0, 1000, false);
	expect_none(&b, 1200, 1000);
	assert_true(cw_sendbuf_blocked(&b, 1000));
	assert_false(cw_sendbuf_has_data(&b, 1000));
	assert_true(cw_sendbuf_has_data(&b, 1001));
	expect_next(&b, c - 1384, UINT64_MAX, 1000, c - 1384, false);
	expect_next(&b, 1200, UINT64_MAX, c - 384, 384, false);
	expect_next(&b, 1200, UINT64_MAX, c, 1200, false);
	/* max_len 0 sends nothing but a lone FIN. */
	expect_none(&b, 0, UINT64_MAX);
	cw_sendbuf_free(&b);
}

static void test_lost_first_lowest_first(void **state)
{
	struct cw_sendbuf b;

	(void)state;
	assert_int_equal(cw_sendbuf_init(&b, &counting, 1 << 20), 0);
	put(&b, 1000);
	for (int i = 0; i < 5; i++)
		expect_next(&b, 100, UINT64_MAX, i * 100, 100, false);
	cw_sendbuf_on_lost(&b, 300, 100, false);
	cw_sendbuf_on_lost(&b, 100, 100, false);
	assert_true(cw_sendbuf_has_retx(&b));
	/* Lost bytes ignore the limit: their credit was spent already. */
	expect_next(&b, 1000, 500, 100, 100, false);
	expect_next(&b, 60, 500, 300, 60, false);
	expect_next(&b, 60, 500, 360, 40, false);
	assert_false(cw_sendbuf_has_retx(&b));
	expect_none(&b, 1000, 500);
	expect_next(&b, 1000, UINT64_MAX, 500, 500, false);
	cw_sendbuf_free(&b);
}

/* Lost bytes that a later copy got acknowledged for are not resent. */
static void test_lost_but_acked(void **state)
{
	struct cw_sendbuf b;

	(void)state;
	assert_int_equal(cw_sendbuf_init(&b, &counting, 1 << 20), 0);
	put(&b, 1000);
	expect_next(&b, 1000, UINT64_MAX, 0, 1000, false);
	cw_sendbuf_on_acked(&b, 200, 100, false);
	cw_sendbuf_on_acked(&b, 600, 100, false);
	cw_sendbuf_on_lost(&b, 0, 1000, false);
	assert_int_equal(b.rs->retx.n, 3);
	expect_next(&b, 1000, UINT64_MAX, 0, 200, false);
	expect_next(&b, 1000, UINT64_MAX, 300, 300, false);
	/* The tail was acknowledged after being declared lost: spurious loss. */
	cw_sendbuf_on_acked(&b, 700, 300, false);
	expect_none(&b, 1000, UINT64_MAX);
	cw_sendbuf_on_acked(&b, 0, 200, false);
	assert_int_equal(b.una, 300);
	cw_sendbuf_on_acked(&b, 300, 300, false);
	assert_int_equal(b.una, 1000);
	assert_null(b.rs); /* both sets empty: released */
	/* Late news about acknowledged bytes changes nothing. */
	cw_sendbuf_on_lost(&b, 0, 1000, false);
	cw_sendbuf_on_acked(&b, 0, 1000, false);
	expect_none(&b, 1000, UINT64_MAX);
	cw_sendbuf_free(&b);
}

static void test_fin(void **state)
{
	struct cw_sendbuf b;
	size_t n;

	(void)state;
	/* FIN with the last data. */
	assert_int_equal(cw_sendbuf_init(&b, &counting, 1 << 20), 0);
	put(&b, 10);
	assert_int_equal(cw_sendbuf_finish(&b), 0);
	assert_int_equal(cw_sendbuf_write(&b, pattern, 1, &n), -EPIPE);
	assert_int_equal(cw_sendbuf_space(&b), 0);
	expect_next(&b, 4, UINT64_MAX, 0, 4, false);
	expect_next(&b, 100, UINT64_MAX, 4, 6, true);
	expect_none(&b, 100, UINT64_MAX);
	/* Lost with its data: resent with it. */
	cw_sendbuf_on_lost(&b, 4, 6, true);
	expect_next(&b, 100, UINT64_MAX, 4, 6, true);
	expect_none(&b, 100, UINT64_MAX);
	cw_sendbuf_on_acked(&b, 4, 6, true);
	assert_false(cw_sendbuf_done(&b));
	cw_sendbuf_on_acked(&b, 0, 4, false);
	assert_true(cw_sendbuf_done(&b));
	cw_sendbuf_free(&b);

	/* A lone FIN after the data went out; lost; resent alone. */
	assert_int_equal(cw_sendbuf_init(&b, &counting, 1 << 20), 0);
	put(&b, 10);
	expect_next(&b, 100, UINT64_MAX, 0, 10, false);
	assert_int_equal(cw_sendbuf_finish(&b), 0);
	expect_next(&b, 100, UINT64_MAX, 10, 0, true);
	expect_none(&b, 100, UINT64_MAX);
	cw_sendbuf_on_acked(&b, 0, 10, false);
	assert_false(cw_sendbuf_done(&b));
	cw_sendbuf_on_lost(&b, 10, 0, true);
	expect_next(&b, 0, 0, 10, 0, true);
	cw_sendbuf_on_acked(&b, 10, 0, true);
	assert_true(cw_sendbuf_done(&b));
	/* A loss report after the ack does not resend it. */
	cw_sendbuf_on_lost(&b, 10, 0, true);
	expect_none(&b, 100, UINT64_MAX);
	cw_sendbuf_free(&b);

	/* An empty stream: FIN alone at offset 0, even with no credit. */
	assert_int_equal(cw_sendbuf_init(&b, &counting, 1 << 20), 0);
	assert_int_equal(cw_sendbuf_finish(&b), 0);
	assert_true(cw_sendbuf_has_data(&b, 0));
	expect_next(&b, 100, 0, 0, 0, true);
	cw_sendbuf_free(&b);
}

static void test_reset(void **state)
{
	struct cw_sendbuf b;
	size_t n;

	(void)state;
	assert_int_equal(cw_sendbuf_init(&b, &counting, 1 << 20), 0);
	put(&b, 3 * CW_SENDBUF_CHUNK + 100);
	expect_next(&b, 1000, UINT64_MAX, 0, 1000, false);
	assert_int_equal(cnt.blocks, 4);
	cw_sendbuf_reset(&b);
	assert_int_equal(cnt.blocks, 0);
	assert_int_equal(b.sent, 1000); /* the final size of RESET_STREAM */
	assert_int_equal(cw_sendbuf_write(&b, pattern, 1, &n), -EPIPE);
	assert_int_equal(cw_sendbuf_finish(&b), -EPIPE);
	cw_sendbuf_on_lost(&b, 0, 1000, false);
	cw_sendbuf_on_acked(&b, 0, 1000, false);
	expect_none(&b, 1000, UINT64_MAX);
	assert_false(cw_sendbuf_has_data(&b, UINT64_MAX));
	assert_false(cw_sendbuf_blocked(&b, 0));
	cw_sendbuf_free(&b);
}

/*
 * More holes in the acknowledgments than the set holds: the ones that do
 * not fit are sent again, nothing is lost, and once all is acknowledged
 * the buffer is empty.
 */
static void test_ack_set_overflow(void **state)
{
	struct cw_sendbuf b;
	struct cw_sendbuf_span s;
	int resent = 0;

	(void)state;
	assert_int_equal(cw_sendbuf_init(&b, &counting, 1 << 20), 0);
	put(&b, 1000);
	for (int i = 0; i < 100; i++)
		expect_next(&b, 10, UINT64_MAX, i * 10, 10, false);
	for (int i = 1; i < 100; i += 2)
		cw_sendbuf_on_acked(&b, i * 10, 10, false);
	assert_int_equal(b.rs->acked.n, CW_RANGESET_MAX);
	/* 50 acknowledged frames, 32 recorded: 18 come back for resending. */
	while (cw_sendbuf_next(&b, 10, UINT64_MAX, &s) == 0) {
		assert_true(s.offset / 10 % 2 == 1 && s.len == 10);
		assert_memory_equal(s.data, pattern + s.offset, s.len);
		resent++;
	}
	assert_int_equal(resent, 50 - CW_RANGESET_MAX);
	for (int i = 0; i < 100; i++)
		cw_sendbuf_on_acked(&b, i * 10, 10, false);
	assert_int_equal(b.una, 1000);
	assert_null(b.rs);
	/* Everything acknowledged: not even the partly written chunk stays. */
	assert_int_equal(cnt.blocks, 0);
	put(&b, 100);
	expect_next(&b, 1000, UINT64_MAX, 1000, 100, false);
	cw_sendbuf_free(&b);
}

struct flight {
	uint64_t off;
	size_t len;
	bool fin;
};

/*
 * Resolve a random frame in flight: lost (2 in 10), delivered with its
 * acknowledgment lost (1 in 10, so it is resent), or delivered and
 * acknowledged.
 */
static void resolve(struct cw_sendbuf *b, struct cw_rob *r, struct flight *fl, size_t *nfl,
		    uint32_t x)
{
	size_t i = (x >> 8) % *nfl;
	struct flight f = fl[i];
	unsigned fate = (x >> 20) % 10;

	fl[i] = fl[--*nfl];
	if (fate < 2) {
		cw_sendbuf_on_lost(b, f.off, f.len, f.fin);
		return;
	}
	assert_int_equal(cw_rob_insert(r, f.off, pattern + f.off, f.len, f.fin), 0);
	if (fate == 2)
		cw_sendbuf_on_lost(b, f.off, f.len, f.fin);
	else
		cw_sendbuf_on_acked(b, f.off, f.len, f.fin);
}

/*
 * A seeded lossy, reordering path into a reorder buffer (resolve()), with
 * writes and reads of random sizes interleaved: the receiver gets 4 MiB
 * byte-exact.
 */
static void test_lossy_transfer(void **state)
{
	enum { TOTAL = 4 << 20, FLIGHT = 64 };
	struct flight fl[FLIGHT];
	size_t nfl = 0, got = 0;
	uint32_t x = 2024;
	struct cw_sendbuf b;
	struct cw_rob r;
	static uint8_t buf[1 << 16];

	(void)state;
	assert_int_equal(cw_sendbuf_init(&b, &counting, 256 << 10), 0);
	assert_int_equal(cw_rob_init(&r, &counting, 256 << 10), 0);
	while (!cw_rob_finished(&r)) {
		struct cw_sendbuf_span s;
		size_t n;

		x = x * 1103515245 + 12345;
		if (b.written < TOTAL && cw_sendbuf_space(&b)) {
			size_t want = TOTAL - b.written < 9000 ? TOTAL - b.written : 9000;

			assert_int_equal(cw_sendbuf_write(&b, pattern + b.written, want, &n), 0);
			if (b.written == TOTAL)
				assert_int_equal(cw_sendbuf_finish(&b), 0);
		}
		/* Send up to the receiver's window. */
		while (nfl < FLIGHT && cw_sendbuf_next(&b, 1200, r.limit, &s) == 0)
			fl[nfl++] = (struct flight){s.offset, s.len, s.fin};
		if (nfl)
			resolve(&b, &r, fl, &nfl, x);
		n = cw_rob_read(&r, buf, 1 + (x >> 4) % sizeof(buf));
		assert_memory_equal(buf, pattern + got, n);
		got += n;
		assert_int_equal(cw_rob_set_limit(&r, r.read_off + (256 << 10)), 0);
	}
	assert_int_equal(got, TOTAL);
	/* Acknowledge what is still in flight: all memory goes. */
	for (size_t i = 0; i < nfl; i++)
		cw_sendbuf_on_acked(&b, fl[i].off, fl[i].len, fl[i].fin);
	while (!cw_sendbuf_done(&b)) {
		struct cw_sendbuf_span s;

		assert_int_equal(cw_sendbuf_next(&b, 1200, UINT64_MAX, &s), 0);
		cw_sendbuf_on_acked(&b, s.offset, s.len, s.fin);
	}
	assert_int_equal(cnt.blocks, 0);
	cw_sendbuf_free(&b);
	cw_rob_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_range_sets_on_demand, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_capacity, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_span_edges, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lost_first_lowest_first, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lost_but_acked, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fin, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_chunk_growth, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ack_set_overflow, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lossy_transfer, setup, teardown),
	};

	make_pattern();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
