/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tunnel/varint.c against hand-written encodings: RFC 9000 A.1's examples
 * and every length boundary, truncated input and short output buffers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tunnel/varint.h"

struct vec {
	uint64_t v;
	size_t len;
	uint8_t b[8];
};

/* Shortest encodings: each length's first and last value. */
static const struct vec shortest[] = {
    {0, 1, {0x00}},
    {37, 1, {0x25}},
    {63, 1, {0x3f}},
    {64, 2, {0x40, 0x40}},
    {15293, 2, {0x7b, 0xbd}},
    {16383, 2, {0x7f, 0xff}},
    {16384, 4, {0x80, 0x00, 0x40, 0x00}},
    {494878333, 4, {0x9d, 0x7f, 0x3e, 0x7d}},
    {(UINT64_C(1) << 30) - 1, 4, {0xbf, 0xff, 0xff, 0xff}},
    {UINT64_C(1) << 30, 8, {0xc0, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00}},
    {UINT64_C(151288809941952652), 8, {0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c}},
    {(UINT64_C(1) << 62) - 1, 8, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_len(void **state)
{
	(void)state;
	assert_int_equal(cw_varint_len(0), 1);
	assert_int_equal(cw_varint_len(63), 1);
	assert_int_equal(cw_varint_len(64), 2);
	assert_int_equal(cw_varint_len(16383), 2);
	assert_int_equal(cw_varint_len(16384), 4);
	assert_int_equal(cw_varint_len((UINT64_C(1) << 30) - 1), 4);
	assert_int_equal(cw_varint_len(UINT64_C(1) << 30), 8);
	assert_int_equal(cw_varint_len(CW_VARINT_MAX), 8);
	assert_int_equal(cw_varint_len(CW_VARINT_MAX + 1), 0);
	assert_int_equal(cw_varint_len(UINT64_MAX), 0);
	assert_int_equal(cw_varint_len_from_byte(0x00), 1);
	assert_int_equal(cw_varint_len_from_byte(0x3f), 1);
	assert_int_equal(cw_varint_len_from_byte(0x40), 2);
	assert_int_equal(cw_varint_len_from_byte(0x80), 4);
	assert_int_equal(cw_varint_len_from_byte(0xbf), 4);
	assert_int_equal(cw_varint_len_from_byte(0xc0), 8);
	assert_int_equal(cw_varint_len_from_byte(0xff), 8);
}

static void test_encode_shortest(void **state)
{
	uint8_t out[9];

	(void)state;
	for (size_t i = 0; i < N(shortest); i++) {
		memset(out, 0xaa, sizeof(out));
		assert_int_equal(cw_varint_encode(out, sizeof(out), shortest[i].v),
				 (int)shortest[i].len);
		assert_memory_equal(out, shortest[i].b, shortest[i].len);
		/* Not a byte beyond the encoding is touched. */
		assert_int_equal(out[shortest[i].len], 0xaa);
		/* Exact fit works. */
		assert_int_equal(cw_varint_encode(out, shortest[i].len, shortest[i].v),
				 (int)shortest[i].len);
	}
}

static void test_encode_out_of_range(void **state)
{
	uint8_t out[8];

	(void)state;
	memset(out, 0xaa, sizeof(out));
	assert_int_equal(cw_varint_encode(out, sizeof(out), CW_VARINT_MAX + 1), -ERANGE);
	assert_int_equal(cw_varint_encode(out, sizeof(out), UINT64_MAX), -ERANGE);
	for (size_t i = 0; i < sizeof(out); i++)
		assert_int_equal(out[i], 0xaa);
}

static void test_encode_short_buffer(void **state)
{
	uint8_t out[8];

	(void)state;
	for (size_t i = 0; i < N(shortest); i++) {
		memset(out, 0xaa, sizeof(out));
		assert_int_equal(cw_varint_encode(out, shortest[i].len - 1, shortest[i].v),
				 -EMSGSIZE);
		for (size_t j = 0; j < sizeof(out); j++)
			assert_int_equal(out[j], 0xaa);
	}
	assert_int_equal(cw_varint_encode(NULL, 0, 0), -EMSGSIZE);
}

static void test_decode_shortest(void **state)
{
	uint64_t v;
	uint8_t in[9];

	(void)state;
	for (size_t i = 0; i < N(shortest); i++) {
		/* Trailing bytes are not the varint's. */
		memset(in, 0xff, sizeof(in));
		memcpy(in, shortest[i].b, shortest[i].len);
		v = 0x1234;
		assert_int_equal(cw_varint_decode(in, sizeof(in), &v), (int)shortest[i].len);
		assert_true(v == shortest[i].v);
		v = 0x1234;
		assert_int_equal(cw_varint_decode(in, shortest[i].len, &v), (int)shortest[i].len);
		assert_true(v == shortest[i].v);
	}
}

/* RFC 9000 A.1: 0x4025 is 37 too; a decoder accepts the longer forms. */
static void test_decode_non_minimal(void **state)
{
	static const struct vec longer[] = {
	    {37, 2, {0x40, 0x25}},
	    {37, 4, {0x80, 0x00, 0x00, 0x25}},
	    {37, 8, {0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x25}},
	    {0, 8, {0xc0}},
	    {63, 2, {0x40, 0x3f}},
	    {16383, 4, {0x80, 0x00, 0x3f, 0xff}},
	};
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < N(longer); i++) {
		assert_int_equal(cw_varint_decode(longer[i].b, longer[i].len, &v),
				 (int)longer[i].len);
		assert_true(v == longer[i].v);
	}
}

static void test_decode_truncated(void **state)
{
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < N(shortest); i++) {
		for (size_t len = 0; len < shortest[i].len; len++) {
			v = 0x1234;
			assert_int_equal(cw_varint_decode(shortest[i].b, len, &v), -EBADMSG);
			assert_true(v == 0x1234);
		}
	}
	assert_int_equal(cw_varint_decode(NULL, 0, &v), -EBADMSG);
}

static void test_encode_fixed(void **state)
{
	static const uint8_t x37_2[] = {0x40, 0x25};
	static const uint8_t x37_8[] = {0xc0, 0, 0, 0, 0, 0, 0, 0x25};
	static const uint8_t max_8[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t x16383_4[] = {0x80, 0x00, 0x3f, 0xff};
	uint8_t out[8];
	uint64_t v;

	(void)state;
	assert_int_equal(cw_varint_encode_fixed(out, sizeof(out), 37, 2), 2);
	assert_memory_equal(out, x37_2, 2);
	assert_int_equal(cw_varint_encode_fixed(out, sizeof(out), 37, 8), 8);
	assert_memory_equal(out, x37_8, 8);
	assert_int_equal(cw_varint_encode_fixed(out, sizeof(out), 16383, 4), 4);
	assert_memory_equal(out, x16383_4, 4);
	assert_int_equal(cw_varint_encode_fixed(out, sizeof(out), CW_VARINT_MAX, 8), 8);
	assert_memory_equal(out, max_8, 8);
	assert_int_equal(cw_varint_decode(out, 8, &v), 8);
	assert_true(v == CW_VARINT_MAX);

	assert_int_equal(cw_varint_encode_fixed(out, sizeof(out), 63, 1), 1);
	assert_int_equal(out[0], 0x3f);
	assert_int_equal(cw_varint_encode_fixed(out, sizeof(out), 64, 1), -ERANGE);
	assert_int_equal(cw_varint_encode_fixed(out, sizeof(out), 16384, 2), -ERANGE);
	assert_int_equal(cw_varint_encode_fixed(out, sizeof(out), UINT64_C(1) << 30, 4), -ERANGE);
	assert_int_equal(cw_varint_encode_fixed(out, sizeof(out), CW_VARINT_MAX + 1, 8), -ERANGE);
	for (size_t len = 0; len <= 9; len++)
		if (len != 1 && len != 2 && len != 4 && len != 8)
			assert_int_equal(cw_varint_encode_fixed(out, sizeof(out), 1, len), -EINVAL);
	assert_int_equal(cw_varint_encode_fixed(out, 7, 1, 8), -EMSGSIZE);
	assert_int_equal(cw_varint_encode_fixed(out, 1, 1, 2), -EMSGSIZE);
}

/* Either side of every boundary survives a round trip in the shortest form. */
static void test_roundtrip_boundaries(void **state)
{
	static const uint64_t edges[] = {
	    0, 63, 64, 16383, 16384, (UINT64_C(1) << 30) - 1, UINT64_C(1) << 30, CW_VARINT_MAX};
	uint8_t out[8];
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < N(edges); i++) {
		for (int d = -1; d <= 1; d++) {
			uint64_t x = edges[i] + (uint64_t)(int64_t)d;
			int n;

			if ((edges[i] == 0 && d < 0) || x > CW_VARINT_MAX)
				continue;
			n = cw_varint_encode(out, sizeof(out), x);
			assert_int_equal(n, (int)cw_varint_len(x));
			assert_int_equal(cw_varint_decode(out, (size_t)n, &v), n);
			assert_true(v == x);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_len),
	    cmocka_unit_test(test_encode_shortest),
	    cmocka_unit_test(test_encode_out_of_range),
	    cmocka_unit_test(test_encode_short_buffer),
	    cmocka_unit_test(test_decode_shortest),
	    cmocka_unit_test(test_decode_non_minimal),
	    cmocka_unit_test(test_decode_truncated),
	    cmocka_unit_test(test_encode_fixed),
	    cmocka_unit_test(test_roundtrip_boundaries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
