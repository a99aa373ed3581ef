/* SPDX-License-Identifier: Apache-2.0 */
/* tunnel/pool.c: the per-thread caching allocator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"
#include "tunnel/pool.h"

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#ifdef TEST_ASAN
#include <sanitizer/asan_interface.h>
#endif

struct fixture {
	struct tu_counter under_mem;
	struct cw_alloc under;
	struct cw_pool pool;
	const struct cw_alloc *a;
};

static void fixture_init(struct fixture *f, size_t cap)
{
	memset(f, 0, sizeof(*f));
	f->under = (struct cw_alloc){tu_count_alloc, tu_count_free, &f->under_mem};
	cw_pool_init(&f->pool, &f->under, cap);
	f->a = cw_pool_alloc(&f->pool);
}

/* Every byte of a block is writable: ASan faults on a block too small. */
static void *take(struct fixture *f, size_t n)
{
	void *b = f->a->alloc(f->a->ctx, n);

	assert_non_null(b);
	memset(b, 0xa5, n);
	return b;
}

static void give(struct fixture *f, void *b, size_t n)
{
	f->a->free(f->a->ctx, b, n);
}

static void test_reuse(void **state)
{
	struct fixture f;
	const struct cw_pool_stats *st;
	void *b, *c;

	(void)state;
	fixture_init(&f, 0);
	st = cw_pool_stats(&f.pool);
	b = take(&f, 100);
	assert_int_equal(st->in_use, 100);
	assert_int_equal(st->misses, 1);
	give(&f, b, 100);
	assert_int_equal(st->in_use, 0);
	assert_int_equal(st->cached, 100);
	assert_int_equal(f.under_mem.blocks, 1);
	c = take(&f, 100);
	assert_ptr_equal(c, b);
	assert_int_equal(st->hits, 1);
	assert_int_equal(st->misses, 1);
	assert_int_equal(st->in_use, 100);
	assert_int_equal(st->cached, 0);
	assert_int_equal(f.under_mem.blocks, 1);
	give(&f, c, 100);
	cw_pool_trim(&f.pool);
	assert_int_equal(f.under_mem.blocks, 0);
}

/* A request's allocations, freed in another order: after the first round
 * the wrapped allocator is never called again. */
static void test_steady_state(void **state)
{
	static const size_t sizes[] = {24, 48, 48, 160, 1232, 1232, 4096, 65536};
	enum { N = sizeof(sizes) / sizeof(sizes[0]), ROUNDS = 1000 };
	struct fixture f;
	void *b[N];
	size_t peak_blocks = 0;

	(void)state;
	fixture_init(&f, 0);
	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < N; i++)
			b[i] = take(&f, sizes[i]);
		if (r == 0)
			peak_blocks = f.under_mem.blocks;
		assert_int_equal(f.under_mem.blocks, peak_blocks);
		for (int i = N - 1; i >= 0; i -= 2)
			give(&f, b[i], sizes[i]);
		for (int i = N - 2; i >= 0; i -= 2)
			give(&f, b[i], sizes[i]);
		assert_int_equal(cw_pool_stats(&f.pool)->in_use, 0);
	}
	assert_int_equal(cw_pool_stats(&f.pool)->misses, N);
	assert_int_equal(cw_pool_stats(&f.pool)->hits, (uint64_t)N * (ROUNDS - 1));
	cw_pool_trim(&f.pool);
	assert_int_equal(f.under_mem.blocks, 0);
}

/* A cached block comes back only for its own size, never a smaller or a
 * larger one. */
static void test_exact_sizes(void **state)
{
	struct fixture f;
	void *b200, *b, *c;

	(void)state;
	fixture_init(&f, 0);
	b200 = take(&f, 200);
	give(&f, b200, 200);
	b = take(&f, 201);
	c = take(&f, 199);
	assert_ptr_not_equal(b, b200);
	assert_ptr_not_equal(c, b200);
	assert_int_equal(cw_pool_stats(&f.pool)->hits, 0);
	give(&f, b, 201);
	give(&f, c, 199);
	assert_ptr_equal(take(&f, 200), b200);
	give(&f, b200, 200);
	cw_pool_trim(&f.pool);
	assert_int_equal(f.under_mem.bytes, 0);
}

/* Many sizes at once, each block's last word tagged with its size while
 * held (the pool links through the first): a block served from a free
 * list always carries the tag of the size asked for. */
static void test_sizes_never_mixed(void **state)
{
	enum { N = 96, ROUNDS = 50 };
	struct fixture f;
	struct {
		size_t *b, words;
	} held[N];
	uint64_t rng = 0x9e3779b97f4a7c15u;

	(void)state;
	fixture_init(&f, 0);
	for (int round = 0; round < ROUNDS; round++) {
		for (int i = 0; i < N; i++) {
			uint64_t hits = cw_pool_stats(&f.pool)->hits;
			size_t n;

			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			held[i].words = 2 + rng % 40;
			n = held[i].words * sizeof(size_t);
			held[i].b = f.a->alloc(f.a->ctx, n);
			assert_non_null(held[i].b);
			if (cw_pool_stats(&f.pool)->hits != hits)
				assert_int_equal(held[i].b[held[i].words - 1], n);
			held[i].b[held[i].words - 1] = n;
		}
		for (int i = 0; i < N; i++)
			give(&f, held[i].b, held[i].words * sizeof(size_t));
	}
	assert_true(cw_pool_stats(&f.pool)->hits > (uint64_t)N * (ROUNDS - 1) / 2);
	cw_pool_trim(&f.pool);
	assert_int_equal(f.under_mem.bytes, 0);
}

/* Cached bytes never exceed the cap; frees beyond it reach the wrapped
 * allocator at once. */
static void test_cap(void **state)
{
	enum { N = 20, SZ = 100, CAP = 1000 };
	struct fixture f;
	void *b[N];

	(void)state;
	fixture_init(&f, CAP);
	for (int i = 0; i < N; i++)
		b[i] = take(&f, SZ);
	assert_int_equal(f.under_mem.bytes, N * SZ);
	for (int i = 0; i < N; i++) {
		give(&f, b[i], SZ);
		assert_true(cw_pool_stats(&f.pool)->cached <= CAP);
	}
	assert_int_equal(cw_pool_stats(&f.pool)->cached, CAP);
	assert_int_equal(f.under_mem.bytes, CAP);
	assert_int_equal(f.under_mem.blocks, CAP / SZ);
	assert_int_equal(cw_pool_stats(&f.pool)->in_use, 0);
	/* A free that would take the cached bytes past the cap is not cached,
	 * though some room is left. */
	b[0] = take(&f, SZ);
	b[1] = take(&f, 2 * SZ);
	give(&f, b[1], 2 * SZ);
	assert_int_equal(cw_pool_stats(&f.pool)->cached, CAP - SZ);
	assert_int_equal(f.under_mem.bytes, CAP);
	give(&f, b[0], SZ);
	cw_pool_trim(&f.pool);
	assert_int_equal(f.under_mem.bytes, 0);
	assert_int_equal(f.under_mem.blocks, 0);
}

/* Smaller than a link or larger than CW_POOL_BLOCK_MAX: never cached. */
static void test_uncached_sizes(void **state)
{
	static const size_t sizes[] = {1, sizeof(void *) - 1, CW_POOL_BLOCK_MAX + 1, 1 << 20};
	struct fixture f;

	(void)state;
	fixture_init(&f, 16 << 20);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		void *b = take(&f, sizes[i]);

		assert_int_equal(cw_pool_stats(&f.pool)->in_use, sizes[i]);
		give(&f, b, sizes[i]);
		assert_int_equal(f.under_mem.bytes, 0);
		assert_int_equal(cw_pool_stats(&f.pool)->cached, 0);
		assert_int_equal(cw_pool_stats(&f.pool)->in_use, 0);
	}
	assert_int_equal(cw_pool_stats(&f.pool)->hits, 0);
}

/* Blocks another malloc-based allocator handed out, adopted and freed into
 * the pool, serve later allocations of their size only. */
static void test_foreign_blocks(void **state)
{
	const struct cw_alloc *other = cw_alloc_default();
	const struct cw_pool_stats *st;
	struct cw_pool pool;
	const struct cw_alloc *a;
	void *x, *y, *z;

	(void)state;
	cw_pool_init(&pool, NULL, 0);
	a = cw_pool_alloc(&pool);
	st = cw_pool_stats(&pool);
	x = other->alloc(other->ctx, 96);
	assert_non_null(x);
	memset(x, 1, 96);
	cw_pool_adopt(&pool, 96);
	assert_int_equal(st->in_use, 96);
	a->free(a->ctx, x, 96);
	assert_int_equal(st->in_use, 0);
	assert_int_equal(st->cached, 96);
	y = a->alloc(a->ctx, 104);
	assert_non_null(y);
	assert_ptr_not_equal(y, x);
	memset(y, 2, 104);
	z = a->alloc(a->ctx, 96);
	assert_ptr_equal(z, x);
	memset(z, 3, 96);
	a->free(a->ctx, y, 104);
	a->free(a->ctx, z, 96);
	assert_int_equal(st->cached, 200);
	/* Back to malloc: LeakSanitizer reports a block the trim forgot. */
	cw_pool_trim(&pool);
	assert_int_equal(st->cached, 0);
}

/* Trim returns every cached block; blocks still in use stay valid and may
 * be freed into the pool afterwards, which keeps working. */
static void test_trim(void **state)
{
	struct fixture f;
	void *b[64], *kept;

	(void)state;
	fixture_init(&f, 0);
	kept = take(&f, 777);
	for (int i = 0; i < 64; i++)
		b[i] = take(&f, 16 + 8 * (size_t)i);
	for (int i = 0; i < 64; i++)
		give(&f, b[i], 16 + 8 * (size_t)i);
	assert_true(cw_pool_stats(&f.pool)->cached > 0);
	cw_pool_trim(&f.pool);
	assert_int_equal(cw_pool_stats(&f.pool)->cached, 0);
	assert_int_equal(cw_pool_stats(&f.pool)->in_use, 777);
	assert_int_equal(f.under_mem.bytes, 777);
	assert_int_equal(f.under_mem.blocks, 1);
	give(&f, kept, 777);
	assert_int_equal(cw_pool_stats(&f.pool)->cached, 777);
	assert_ptr_equal(take(&f, 777), kept);
	give(&f, kept, 777);
	cw_pool_trim(&f.pool);
	assert_int_equal(f.under_mem.bytes, 0);
	assert_int_equal(f.under_mem.blocks, 0);
}

/* More sizes than the table holds: the rest pass through, nothing lost. */
static void test_table_full(void **state)
{
	enum { N = 3 * CW_POOL_CLASSES };
	struct fixture f;
	void *b[N];
	size_t all = 0;

	(void)state;
	fixture_init(&f, 64 << 20);
	for (int i = 0; i < N; i++) {
		b[i] = take(&f, 8 + (size_t)i);
		all += 8 + (size_t)i;
	}
	for (int i = 0; i < N; i++)
		give(&f, b[i], 8 + (size_t)i);
	assert_true(cw_pool_stats(&f.pool)->cached < all);
	assert_true(cw_pool_stats(&f.pool)->cached > 0);
	assert_int_equal(f.under_mem.bytes, cw_pool_stats(&f.pool)->cached);
	cw_pool_trim(&f.pool);
	assert_int_equal(f.under_mem.bytes, 0);
}

/* The wrapped allocator's refusal reaches the caller; nothing is counted. */
static void test_under_fails(void **state)
{
	struct fixture f;

	(void)state;
	fixture_init(&f, 0);
	f.under_mem.fail_in = 1;
	assert_null(f.a->alloc(f.a->ctx, 64));
	assert_int_equal(cw_pool_stats(&f.pool)->in_use, 0);
	assert_int_equal(cw_pool_stats(&f.pool)->misses, 0);
	assert_int_equal(f.under_mem.bytes, 0);
}

#ifdef TEST_ASAN
/* Cached blocks are poisoned: a use after free faults under ASan. */
static void test_asan_poison(void **state)
{
	struct fixture f;
	char *b;

	(void)state;
	fixture_init(&f, 0);
	b = take(&f, 64);
	give(&f, b, 64);
	assert_true(__asan_address_is_poisoned(b));
	assert_true(__asan_address_is_poisoned(b + 63));
	assert_ptr_equal(take(&f, 64), b);
	assert_false(__asan_address_is_poisoned(b));
	assert_false(__asan_address_is_poisoned(b + 63));
	give(&f, b, 64);
	cw_pool_trim(&f.pool);
	assert_int_equal(f.under_mem.bytes, 0);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reuse),
	    cmocka_unit_test(test_steady_state),
	    cmocka_unit_test(test_exact_sizes),
	    cmocka_unit_test(test_sizes_never_mixed),
	    cmocka_unit_test(test_cap),
	    cmocka_unit_test(test_uncached_sizes),
	    cmocka_unit_test(test_foreign_blocks),
	    cmocka_unit_test(test_trim),
	    cmocka_unit_test(test_table_full),
	    cmocka_unit_test(test_under_fails),
#ifdef TEST_ASAN
	    cmocka_unit_test(test_asan_poison),
#endif
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
