/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>

#include "varint.h"

/* @v (fitting @len bytes) big-endian in @len bytes with the length prefix. */
static void put(uint8_t *out, uint64_t v, size_t len)
{
	static const uint8_t prefix[9] = {[1] = 0x00, [2] = 0x40, [4] = 0x80, [8] = 0xc0};

	for (size_t i = len; i-- > 0; v >>= 8)
		out[i] = (uint8_t)v;
	out[0] |= prefix[len];
}

int cw_varint_encode_fixed(uint8_t *out, size_t cap, uint64_t v, size_t len)
{
	if (len != 1 && len != 2 && len != 4 && len != 8)
		return -EINVAL;
	if (v > CW_VARINT_MAX || cw_varint_len(v) > len)
		return -ERANGE;
	if (cap < len)
		return -EMSGSIZE;
	put(out, v, len);
	return (int)len;
}

int cw_varint_encode(uint8_t *out, size_t cap, uint64_t v)
{
	size_t len = cw_varint_len(v);

	if (len == 0)
		return -ERANGE;
	if (cap < len)
		return -EMSGSIZE;
	put(out, v, len);
	return (int)len;
}

int cw_varint_decode(const uint8_t *in, size_t len, uint64_t *v)
{
	size_t n;
	uint64_t x;

	if (len == 0)
		return -EBADMSG;
	n = cw_varint_len_from_byte(in[0]);
	if (len < n)
		return -EBADMSG;
	x = in[0] & 0x3f;
	for (size_t i = 1; i < n; i++)
		x = (x << 8) | in[i];
	*v = x;
	return (int)n;
}
