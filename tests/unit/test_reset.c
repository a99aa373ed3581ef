/* SPDX-License-Identifier: Apache-2.0 */
/* tunnel/reset.c: the token of PROTOCOL.md B.10, reset lengths, matching. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tunnel/reset.h"

static const uint8_t cid[CW_CID_LEN] = {0xf0, 0x5e, 0xa6, 0xe1, 0x41, 0xbd, 0x82, 0x65};
static const uint8_t b10_token[CW_RESET_TOKEN_LEN] = {
    0xbc, 0xd4, 0x43, 0x5b, 0x15, 0x64, 0x57, 0x44, 0x4e, 0x3a, 0x86, 0x16, 0xe5, 0x0e, 0x61, 0x3c};

static void b10_key(uint8_t key[CW_RESET_KEY_LEN])
{
	for (unsigned i = 0; i < CW_RESET_KEY_LEN; i++)
		key[i] = (uint8_t)(0x40 + i);
}

static void test_token_b10(void **state)
{
	uint8_t key[CW_RESET_KEY_LEN], token[CW_RESET_TOKEN_LEN], other[CW_CID_LEN];

	(void)state;
	b10_key(key);
	assert_int_equal(cw_reset_token(key, cid, token), 0);
	assert_memory_equal(token, b10_token, CW_RESET_TOKEN_LEN);
	/* Another CID, another token; another key, another token. */
	memcpy(other, cid, CW_CID_LEN);
	other[7] ^= 1;
	assert_int_equal(cw_reset_token(key, other, token), 0);
	assert_memory_not_equal(token, b10_token, CW_RESET_TOKEN_LEN);
	key[0] ^= 1;
	assert_int_equal(cw_reset_token(key, cid, token), 0);
	assert_memory_not_equal(token, b10_token, CW_RESET_TOKEN_LEN);
}

/* max(26, min(L - 1, 42)): always shorter than the trigger. */
static void test_lengths(void **state)
{
	static const struct {
		size_t trigger, reset;
	} t[] = {{27, 26}, {28, 27}, {30, 29}, {42, 41}, {43, 42}, {44, 42}, {1350, 42}};
	uint8_t rnd[64], out[64];

	(void)state;
	memset(rnd, 0xa7, sizeof(rnd));
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(cw_reset_len(t[i].trigger), t[i].reset);
		assert_int_equal(
		    cw_reset_build(out, sizeof(out), t[i].trigger, b10_token, rnd, sizeof(rnd)),
		    (int)t[i].reset);
		assert_true(t[i].reset < t[i].trigger);
	}
	/* Never an answer to something a reset could be. */
	assert_int_equal(cw_reset_build(out, sizeof(out), 26, b10_token, rnd, sizeof(rnd)),
			 -EINVAL);
	assert_int_equal(cw_reset_build(out, sizeof(out), 0, b10_token, rnd, sizeof(rnd)), -EINVAL);
	assert_int_equal(cw_reset_build(out, 41, 100, b10_token, rnd, sizeof(rnd)), -ENOSPC);
	assert_int_equal(cw_reset_build(out, sizeof(out), 100, b10_token, rnd, 41), -ENOSPC);
}

static void test_layout(void **state)
{
	uint8_t rnd[42], out[42];
	int n;

	(void)state;
	for (unsigned i = 0; i < sizeof(rnd); i++)
		rnd[i] = (uint8_t)(0xf0 + i);
	n = cw_reset_build(out, sizeof(out), 1000, b10_token, rnd, sizeof(rnd));
	assert_int_equal(n, 42);
	/* A short header's first byte: long bit clear, fixed bit set. */
	assert_int_equal(out[0], 0x40 | (0xf0 & 7));
	assert_memory_equal(out + 1, rnd + 1, 42 - 1 - CW_RESET_TOKEN_LEN);
	assert_memory_equal(out + 42 - CW_RESET_TOKEN_LEN, b10_token, CW_RESET_TOKEN_LEN);
	assert_true(cw_reset_match(out, (size_t)n, b10_token));
}

static void test_match(void **state)
{
	uint8_t d[64] = {0}, token[CW_RESET_TOKEN_LEN];

	(void)state;
	memcpy(d + 26 - CW_RESET_TOKEN_LEN, b10_token, CW_RESET_TOKEN_LEN);
	assert_true(cw_reset_match(d, 26, b10_token));
	/* Too short to be a reset, whatever it ends with. */
	assert_false(cw_reset_match(d + 1, 25, b10_token));
	/* Every byte of the token counts. */
	for (unsigned i = 0; i < CW_RESET_TOKEN_LEN; i++) {
		memcpy(token, b10_token, sizeof(token));
		token[i] ^= 0x01;
		assert_false(cw_reset_match(d, 26, token));
	}
	/* The token must be at the end. */
	assert_false(cw_reset_match(d, 27, b10_token));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_token_b10),
	    cmocka_unit_test(test_lengths),
	    cmocka_unit_test(test_layout),
	    cmocka_unit_test(test_match),
	};

	return cmocka_run_group_tests_name("reset", tests, NULL, NULL);
}
