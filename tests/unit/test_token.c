/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tunnel/token.c: exact token bytes (MAC computed independently with
 * Python's hmac), the validity window at its edges, binding to address,
 * family and port, every byte tampered, every truncation, and key rotation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>

#include <cmocka.h>

#include "testutil.h"

#include "tunnel/token.h"

#define S 1000000000ull /* ns per second */

static const uint8_t v4[4] = {192, 0, 2, 1};
static const uint8_t v4_other[4] = {192, 0, 2, 2};
static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t odcid[8] = {0, 1, 2, 3, 4, 5, 6, 7};

static void key_of(uint8_t key[CW_TOKEN_KEY_LEN], uint8_t seed)
{
	for (int i = 0; i < CW_TOKEN_KEY_LEN; i++)
		key[i] = (uint8_t)(seed + i);
}

static int setup(void **state)
{
	static struct cw_token_keys t;
	uint8_t key[CW_TOKEN_KEY_LEN];

	key_of(key, 0);
	if (cw_token_init(&t, key, 0, 0))
		return -1;
	*state = &t;
	return 0;
}

static int teardown(void **state)
{
	cw_token_free(*state);
	return 0;
}

static int mint4(struct cw_token_keys *t, uint64_t now, uint8_t *tok)
{
	return cw_token_mint(t, now, CW_TOKEN_IPV4, v4, 40000, odcid, sizeof(odcid), tok,
			     CW_TOKEN_LEN_MAX);
}

static int check4(struct cw_token_keys *t, uint64_t now, const uint8_t *tok, size_t len)
{
	uint8_t out[CW_TOKEN_ODCID_MAX];
	size_t out_len = 99;
	int rc;

	rc = cw_token_validate(t, now, CW_TOKEN_IPV4, v4, 40000, tok, len, out, &out_len);
	if (!rc) {
		assert_int_equal(out_len, sizeof(odcid));
		assert_memory_equal(out, odcid, sizeof(odcid));
	}
	return rc;
}

static void test_exact_bytes(void **state)
{
	struct cw_token_keys *t = *state;
	uint8_t tok[CW_TOKEN_LEN_MAX], want[CW_TOKEN_LEN_MAX], out[CW_TOKEN_ODCID_MAX];
	size_t out_len = 99;

	/* 1234.5 s: the token carries second 1234. */
	assert_int_equal(mint4(t, 1234 * S + S / 2, tok), 30);
	assert_int_equal(
	    tu_unhex("01000004d20800010203040506077d10188d340bf3371cb94e06595d03e6", want), 30);
	assert_memory_equal(tok, want, 30);

	/* PROTOCOL.md Appendix B.9: key 20..3f, issue time 0x6926a0c0. */
	{
		uint8_t key[CW_TOKEN_KEY_LEN], b9odcid[8];
		struct cw_token_keys b9;

		key_of(key, 0x20);
		tu_unhex("8394c8f03e515708", b9odcid);
		assert_int_equal(cw_token_init(&b9, key, 0, 0), 0);
		assert_int_equal(cw_token_mint(&b9, 0x6926a0c0ull * S + 999, CW_TOKEN_IPV4, v4,
					       40000, b9odcid, 8, tok, sizeof(tok)),
				 30);
		assert_int_equal(
		    tu_unhex("016926a0c0088394c8f03e51570888f892e301578a51a5ffe64ed2a1f0df", want),
		    30);
		assert_memory_equal(tok, want, 30);
		cw_token_free(&b9);
	}

	/* IPv6, empty original DCID. */
	assert_int_equal(
	    cw_token_mint(t, 1234 * S, CW_TOKEN_IPV6, v6, 443, NULL, 0, tok, sizeof(tok)),
	    CW_TOKEN_LEN_MIN);
	assert_int_equal(tu_unhex("01000004d200a0026c2ef8a57a0dd73d8d5f3bba31bf", want),
			 CW_TOKEN_LEN_MIN);
	assert_memory_equal(tok, want, CW_TOKEN_LEN_MIN);
	assert_int_equal(cw_token_validate(t, 1234 * S, CW_TOKEN_IPV6, v6, 443, tok,
					   CW_TOKEN_LEN_MIN, out, &out_len),
			 0);
	assert_int_equal(out_len, 0);
}

static void test_valid_and_reusable(void **state)
{
	struct cw_token_keys *t = *state;
	uint8_t tok[CW_TOKEN_LEN_MAX], tok2[CW_TOKEN_LEN_MAX];
	int n = mint4(t, 100 * S, tok);

	assert_int_equal(n, CW_TOKEN_LEN_MIN + 8);
	assert_int_equal(check4(t, 100 * S, tok, (size_t)n), 0);
	assert_int_equal(check4(t, 100 * S, tok, (size_t)n), 0);
	/* Keyed once, re-initialised per use: same input, same token. */
	assert_int_equal(mint4(t, 100 * S, tok2), n);
	assert_memory_equal(tok, tok2, (size_t)n);
	/* The maximum original DCID length fits exactly. */
	{
		uint8_t big[CW_TOKEN_ODCID_MAX], out[CW_TOKEN_ODCID_MAX], full[CW_TOKEN_LEN_MAX];
		size_t out_len;

		memset(big, 0x5a, sizeof(big));
		assert_int_equal(cw_token_mint(t, 7 * S, CW_TOKEN_IPV4, v4, 1, big, sizeof(big),
					       full, sizeof(full)),
				 CW_TOKEN_LEN_MAX);
		assert_int_equal(cw_token_validate(t, 7 * S, CW_TOKEN_IPV4, v4, 1, full,
						   sizeof(full), out, &out_len),
				 0);
		assert_int_equal(out_len, sizeof(big));
		assert_memory_equal(out, big, sizeof(big));
	}
}

/* The window in whole seconds: minted in second 100, valid through second
 * 110 (default 10 s) and from second 99 (default skew 1 s). */
static void test_time_window(void **state)
{
	static const struct {
		uint64_t now;
		int want;
	} t[] = {
	    {100 * S, 0},	    {110 * S, 0}, {111 * S - 1, 0},	    {111 * S, -ETIMEDOUT},
	    {1000 * S, -ETIMEDOUT}, {99 * S, 0},  {99 * S - 1, -ETIMEDOUT}, {98 * S, -ETIMEDOUT},
	    {0, -ETIMEDOUT},
	};
	struct cw_token_keys *k = *state;
	uint8_t tok[CW_TOKEN_LEN_MAX];
	int n = mint4(k, 100 * S + 123, tok);

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(check4(k, t[i].now, tok, (size_t)n), t[i].want);
}

static void test_configured_window(void **state)
{
	uint8_t key[CW_TOKEN_KEY_LEN], tok[CW_TOKEN_LEN_MAX];
	struct cw_token_keys t;
	int n;

	(void)state;
	key_of(key, 9);
	/* 2.5 s rounds up to 3 s; skew 3 s. */
	assert_int_equal(cw_token_init(&t, key, 2 * S + S / 2, 3 * S), 0);
	n = mint4(&t, 50 * S, tok);
	assert_int_equal(check4(&t, 53 * S, tok, (size_t)n), 0);
	assert_int_equal(check4(&t, 54 * S, tok, (size_t)n), -ETIMEDOUT);
	assert_int_equal(check4(&t, 47 * S, tok, (size_t)n), 0);
	assert_int_equal(check4(&t, 46 * S, tok, (size_t)n), -ETIMEDOUT);
	cw_token_free(&t);
}

/* The 32-bit seconds field wraps; ages are computed modulo 2^32. */
static void test_clock_wrap(void **state)
{
	struct cw_token_keys *t = *state;
	uint8_t tok[CW_TOKEN_LEN_MAX];
	uint64_t base = 0xffffffffull * S;
	int n = mint4(t, base, tok);

	assert_int_equal(tok[1], 0xff);
	assert_int_equal(check4(t, base + 5 * S, tok, (size_t)n), 0);
	assert_int_equal(check4(t, base + 11 * S, tok, (size_t)n), -ETIMEDOUT);
}

static void test_binding(void **state)
{
	struct cw_token_keys *t = *state;
	uint8_t tok[CW_TOKEN_LEN_MAX], v6b[16], out[CW_TOKEN_ODCID_MAX];
	size_t out_len;
	int n = mint4(t, 10 * S, tok);

	assert_int_equal(cw_token_validate(t, 10 * S, CW_TOKEN_IPV4, v4_other, 40000, tok,
					   (size_t)n, out, &out_len),
			 -EBADMSG);
	assert_int_equal(
	    cw_token_validate(t, 10 * S, CW_TOKEN_IPV4, v4, 40001, tok, (size_t)n, out, &out_len),
	    -EBADMSG);
	/* Same leading bytes under the other family. */
	memset(v6b, 0, sizeof(v6b));
	memcpy(v6b, v4, 4);
	assert_int_equal(
	    cw_token_validate(t, 10 * S, CW_TOKEN_IPV6, v6b, 40000, tok, (size_t)n, out, &out_len),
	    -EBADMSG);

	n = cw_token_mint(t, 10 * S, CW_TOKEN_IPV6, v6, 443, odcid, 8, tok, sizeof(tok));
	memcpy(v6b, v6, 16);
	v6b[15] ^= 1;
	assert_int_equal(
	    cw_token_validate(t, 10 * S, CW_TOKEN_IPV6, v6b, 443, tok, (size_t)n, out, &out_len),
	    -EBADMSG);
	assert_int_equal(
	    cw_token_validate(t, 10 * S, CW_TOKEN_IPV6, v6, 443, tok, (size_t)n, out, &out_len), 0);
}

static void test_tampered(void **state)
{
	static const uint8_t flips[] = {0x01, 0x80, 0xff};
	struct cw_token_keys *t = *state;
	uint8_t tok[CW_TOKEN_LEN_MAX], bad[CW_TOKEN_LEN_MAX + 1];
	int n = mint4(t, 10 * S, tok);

	for (int i = 0; i < n; i++) {
		for (size_t f = 0; f < sizeof(flips); f++) {
			memcpy(bad, tok, (size_t)n);
			bad[i] ^= flips[f];
			assert_int_equal(check4(t, 10 * S, bad, (size_t)n), -EBADMSG);
		}
	}
	/* Every truncation, and one byte too many. */
	for (int len = 0; len < n; len++)
		assert_int_equal(check4(t, 10 * S, tok, (size_t)len), -EBADMSG);
	memcpy(bad, tok, (size_t)n);
	bad[n] = 0;
	assert_int_equal(check4(t, 10 * S, bad, (size_t)n + 1), -EBADMSG);
	/* A too-long odcid length byte with a matching length. */
	memset(bad, 0, sizeof(bad));
	bad[0] = CW_TOKEN_VERSION;
	bad[5] = CW_TOKEN_ODCID_MAX + 1;
	assert_int_equal(check4(t, 10 * S, bad, CW_TOKEN_LEN_MAX + 1), -EBADMSG);
	assert_int_equal(check4(t, 10 * S, tok, (size_t)n), 0);
}

static void test_rotation(void **state)
{
	uint8_t k0[CW_TOKEN_KEY_LEN], k1[CW_TOKEN_KEY_LEN], k2[CW_TOKEN_KEY_LEN];
	uint8_t old[CW_TOKEN_LEN_MAX], mid[CW_TOKEN_LEN_MAX], cur[CW_TOKEN_LEN_MAX];
	struct cw_token_keys t, other;
	int n;

	(void)state;
	key_of(k0, 0);
	key_of(k1, 50);
	key_of(k2, 100);
	assert_int_equal(cw_token_init(&t, k0, 0, 0), 0);
	n = mint4(&t, 10 * S, old);

	/* Another gateway key never validates. */
	assert_int_equal(cw_token_init(&other, k1, 0, 0), 0);
	assert_int_equal(check4(&other, 10 * S, old, (size_t)n), -EBADMSG);
	cw_token_free(&other);

	assert_int_equal(cw_token_rotate(&t, k1), 0);
	assert_int_equal(check4(&t, 10 * S, old, (size_t)n), 0);
	assert_int_equal(mint4(&t, 10 * S, mid), n);
	assert_memory_not_equal(mid, old, (size_t)n);
	assert_int_equal(check4(&t, 10 * S, mid, (size_t)n), 0);

	assert_int_equal(cw_token_rotate(&t, k2), 0);
	assert_int_equal(check4(&t, 10 * S, old, (size_t)n), -EBADMSG);
	assert_int_equal(check4(&t, 10 * S, mid, (size_t)n), 0);
	assert_int_equal(mint4(&t, 10 * S, cur), n);
	assert_int_equal(check4(&t, 10 * S, cur, (size_t)n), 0);
	/* An authentic but expired token under the previous key. */
	assert_int_equal(check4(&t, 30 * S, mid, (size_t)n), -ETIMEDOUT);
	cw_token_free(&t);
	cw_token_free(&t);
}

static void test_bad_arguments(void **state)
{
	struct cw_token_keys *t = *state, z;
	uint8_t key[CW_TOKEN_KEY_LEN] = {0}, tok[CW_TOKEN_LEN_MAX],
		big[CW_TOKEN_ODCID_MAX + 1] = {0}, out[CW_TOKEN_ODCID_MAX];
	size_t out_len;

	assert_int_equal(cw_token_mint(t, 0, 5, v4, 1, odcid, 8, tok, sizeof(tok)), -EINVAL);
	assert_int_equal(cw_token_mint(t, 0, CW_TOKEN_IPV4, NULL, 1, odcid, 8, tok, sizeof(tok)),
			 -EINVAL);
	assert_int_equal(
	    cw_token_mint(t, 0, CW_TOKEN_IPV4, v4, 1, big, sizeof(big), tok, sizeof(tok)), -EINVAL);
	assert_int_equal(cw_token_mint(t, 0, CW_TOKEN_IPV4, v4, 1, odcid, 8, tok, 29), -ENOSPC);
	assert_int_equal(cw_token_mint(t, 0, CW_TOKEN_IPV4, v4, 1, odcid, 8, tok, 30), 30);
	assert_int_equal(cw_token_validate(t, 0, 0, v4, 1, tok, 30, out, &out_len), -EINVAL);
	assert_int_equal(cw_token_validate(t, 0, CW_TOKEN_IPV4, v4, 1, NULL, 0, out, &out_len),
			 -EBADMSG);
	assert_int_equal(cw_token_init(&z, NULL, 0, 0), -EINVAL);
	assert_int_equal(cw_token_rotate(&z, key), -EINVAL);
	cw_token_free(&z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exact_bytes),	  cmocka_unit_test(test_valid_and_reusable),
	    cmocka_unit_test(test_time_window),	  cmocka_unit_test(test_configured_window),
	    cmocka_unit_test(test_clock_wrap),	  cmocka_unit_test(test_binding),
	    cmocka_unit_test(test_tampered),	  cmocka_unit_test(test_rotation),
	    cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
