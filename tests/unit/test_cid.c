/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tunnel/cid.c: known answers computed independently (Python's
 * cryptography package, AES-ECB under the Feistel rounds written out
 * there; the first round function cross-checked with `openssl enc`), round
 * trips over many values and the field limits, that the worker byte and
 * the slot are invisible on the wire, that keys matter, and that distinct
 * plaintexts never collide.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include <cmocka.h>

#include "tunnel/cid.h"

static const uint8_t key_a[CW_CID_KEY_LEN] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
					      0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
static const uint8_t key_b[CW_CID_KEY_LEN] = {0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6,
					      0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c};

struct codecs {
	struct cw_cid_codec a, b;
};

static int setup(void **state)
{
	static struct codecs c;

	if (cw_cid_codec_init(&c.a, key_a) || cw_cid_codec_init(&c.b, key_b))
		return -1;
	*state = &c;
	return 0;
}

static int teardown(void **state)
{
	struct codecs *c = *state;

	cw_cid_codec_free(&c->a);
	cw_cid_codec_free(&c->b);
	return 0;
}

/* xorshift64*: deterministic, seeded, good enough to spread test inputs. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static void test_known_answers(void **state)
{
	static const struct {
		int key; /* 0: key_a, 1: key_b */
		uint8_t worker;
		uint32_t slot, nonce;
		uint8_t cid[CW_CID_LEN];
	} t[] = {
	    {0, 0, 0, 0, {0x7c, 0x38, 0x94, 0x27, 0xcb, 0x33, 0x86, 0x2f}},
	    /* PROTOCOL.md Appendix B.4 */
	    {0, 3, 42, 0xdeadbeef, {0xf0, 0x5e, 0xa6, 0xe1, 0x41, 0xbd, 0x82, 0x65}},
	    {0, 3, 0x123456, 0xdeadbeef, {0x6c, 0x46, 0x5d, 0x33, 0x92, 0x99, 0xee, 0x70}},
	    {0, 255, 0xffffff, 0xffffffff, {0x89, 0x6c, 0xcd, 0x6f, 0xb8, 0x7d, 0x97, 0x9e}},
	    {1, 3, 0x123456, 0xdeadbeef, {0x68, 0xb5, 0x4b, 0x65, 0x62, 0x2b, 0xfb, 0x0b}},
	};
	struct codecs *c = *state;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const struct cw_cid_codec *k = t[i].key ? &c->b : &c->a;
		uint8_t cid[CW_CID_LEN], w;
		uint32_t s, n;

		assert_int_equal(cw_cid_encode(k, t[i].worker, t[i].slot, t[i].nonce, cid), 0);
		assert_memory_equal(cid, t[i].cid, CW_CID_LEN);
		assert_int_equal(cw_cid_decode(k, t[i].cid, &w, &s, &n), 0);
		assert_int_equal(w, t[i].worker);
		assert_int_equal(s, t[i].slot);
		assert_int_equal(n, t[i].nonce);
	}
}

static void test_round_trip(void **state)
{
	struct codecs *c = *state;
	uint64_t seed = 0x9e3779b97f4a7c15ull;

	for (int i = 0; i < 100000; i++) {
		uint64_t r = rnd(&seed);
		uint8_t worker = (uint8_t)r, cid[CW_CID_LEN], w;
		uint32_t slot = (uint32_t)(r >> 8) & CW_CID_SLOT_MAX, nonce = (uint32_t)(r >> 32);
		uint32_t s, n;

		assert_int_equal(cw_cid_encode(&c->a, worker, slot, nonce, cid), 0);
		assert_int_equal(cw_cid_decode(&c->a, cid, &w, &s, &n), 0);
		assert_int_equal(w, worker);
		assert_int_equal(s, slot);
		assert_int_equal(n, nonce);
	}
}

/* Any 8 bytes decode, and re-encode to themselves: a permutation. */
static void test_decode_any(void **state)
{
	struct codecs *c = *state;
	uint64_t seed = 42;

	for (int i = 0; i < 10000; i++) {
		uint8_t in[CW_CID_LEN], out[CW_CID_LEN], w;
		uint64_t r = rnd(&seed);
		uint32_t s, n;

		for (int j = 0; j < CW_CID_LEN; j++)
			in[j] = (uint8_t)(r >> (8 * j));
		assert_int_equal(cw_cid_decode(&c->a, in, &w, &s, &n), 0);
		assert_true(s <= CW_CID_SLOT_MAX);
		assert_int_equal(cw_cid_encode(&c->a, w, s, n, out), 0);
		assert_memory_equal(in, out, CW_CID_LEN);
	}
	/* Callers that only need the owner pass NULL for the rest. */
	{
		uint8_t cid[CW_CID_LEN], w = 0;

		assert_int_equal(cw_cid_encode(&c->a, 7, 1, 2, cid), 0);
		assert_int_equal(cw_cid_decode(&c->a, cid, &w, NULL, NULL), 0);
		assert_int_equal(w, 7);
	}
}

static int count_distinct(const bool *seen, size_t n)
{
	int d = 0;

	for (size_t i = 0; i < n; i++)
		d += seen[i];
	return d;
}

/* Nothing of the layout shows: for one worker and one slot the bytes where
 * they would sit take (nearly) every value, and no CID equals its
 * plaintext. 1000 draws from 256 values hit ~251 of them. */
static void test_opaque(void **state)
{
	struct codecs *c = *state;
	bool first[256] = {false}, second[256] = {false}, fourth[256] = {false};
	uint64_t seed = 7;

	for (int i = 0; i < 1000; i++) {
		uint32_t nonce = (uint32_t)rnd(&seed);
		uint8_t cid[CW_CID_LEN], plain[CW_CID_LEN] = {3,
							      0x00,
							      0x00,
							      0x2a,
							      (uint8_t)(nonce >> 24),
							      (uint8_t)(nonce >> 16),
							      (uint8_t)(nonce >> 8),
							      (uint8_t)nonce};

		assert_int_equal(cw_cid_encode(&c->a, 3, 0x2a, nonce, cid), 0);
		assert_memory_not_equal(cid, plain, CW_CID_LEN);
		first[cid[0]] = true;
		second[cid[1]] = true;
		fourth[cid[3]] = true;
	}
	assert_true(count_distinct(first, 256) >= 200);
	assert_true(count_distinct(second, 256) >= 200);
	assert_true(count_distinct(fourth, 256) >= 200);

	/* Sequential slots with a fixed nonce (a careless caller) still look
	 * unrelated: the CIDs' first bytes spread too. */
	memset(first, 0, sizeof(first));
	for (uint32_t slot = 0; slot < 1000; slot++) {
		uint8_t cid[CW_CID_LEN];

		assert_int_equal(cw_cid_encode(&c->a, 3, slot, 0, cid), 0);
		first[cid[0]] = true;
	}
	assert_true(count_distinct(first, 256) >= 200);
}

static void test_keys_differ(void **state)
{
	struct codecs *c = *state;
	uint64_t seed = 99;

	for (int i = 0; i < 1000; i++) {
		uint64_t r = rnd(&seed);
		uint8_t ca[CW_CID_LEN], cb[CW_CID_LEN], w;
		uint32_t s, n;

		assert_int_equal(cw_cid_encode(&c->a, (uint8_t)r, (uint32_t)(r >> 8) & 0xffffff,
					       (uint32_t)(r >> 32), ca),
				 0);
		assert_int_equal(cw_cid_encode(&c->b, (uint8_t)r, (uint32_t)(r >> 8) & 0xffffff,
					       (uint32_t)(r >> 32), cb),
				 0);
		assert_memory_not_equal(ca, cb, CW_CID_LEN);
		/* The wrong key decodes to something else entirely. */
		assert_int_equal(cw_cid_decode(&c->b, ca, &w, &s, &n), 0);
		assert_false(w == (uint8_t)r && s == ((uint32_t)(r >> 8) & 0xffffff) &&
			     n == (uint32_t)(r >> 32));
	}
}

static int cmp_cid(const void *a, const void *b)
{
	return memcmp(a, b, CW_CID_LEN);
}

/* Distinct plaintexts, distinct CIDs: a slot is never mistaken for another. */
static void test_no_collisions(void **state)
{
	enum { N = 1 << 16 };
	struct codecs *c = *state;
	uint8_t(*cids)[CW_CID_LEN] = malloc((size_t)N * CW_CID_LEN);

	assert_non_null(cids);
	for (uint32_t i = 0; i < N; i++)
		assert_int_equal(cw_cid_encode(&c->a, (uint8_t)(i & 3), i >> 2, i & 1, cids[i]), 0);
	qsort(cids, N, CW_CID_LEN, cmp_cid);
	for (uint32_t i = 1; i < N; i++)
		assert_memory_not_equal(cids[i - 1], cids[i], CW_CID_LEN);
	free(cids);
}

static void test_bad_arguments(void **state)
{
	struct codecs *c = *state;
	struct cw_cid_codec z;
	uint8_t cid[CW_CID_LEN];

	assert_int_equal(cw_cid_encode(&c->a, 0, CW_CID_SLOT_MAX + 1, 0, cid), -EINVAL);
	assert_int_equal(cw_cid_encode(&c->a, 0, 0xffffffffu, 0, cid), -EINVAL);
	assert_int_equal(cw_cid_encode(&c->a, 0, CW_CID_SLOT_MAX, 0, cid), 0);
	assert_int_equal(cw_cid_codec_init(&z, NULL), -EINVAL);
	assert_null(z.ctx);
	assert_int_equal(cw_cid_encode(&z, 0, 0, 0, cid), -EINVAL);
	assert_int_equal(cw_cid_decode(&z, cid, NULL, NULL, NULL), -EINVAL);
	cw_cid_codec_free(&z);
	assert_int_equal(cw_cid_codec_init(NULL, key_a), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_known_answers), cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_decode_any),	  cmocka_unit_test(test_opaque),
	    cmocka_unit_test(test_keys_differ),	  cmocka_unit_test(test_no_collisions),
	    cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
