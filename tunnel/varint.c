/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>

#include "varint.h"

size_t cw_varint_len(uint64_t v)
{
	if (v < (UINT64_C(1) << 6))
		return 1;
	if (v < (UINT64_C(1) << 14))
		return 2;
	if (v < (UINT64_C(1) << 30))
		return 4;
	if (v <= CW_VARINT_MAX)
		return 8;
	return 0;
}

int cw_varint_encode_fixed(uint8_t *out, size_t cap, uint64_t v, size_t len)
{
	uint8_t prefix;

	switch (len) {
	case 1:
		prefix = 0x00;
		break;
	case 2:
		prefix = 0x40;
		break;
	case 4:
		prefix = 0x80;
		break;
	case 8:
		prefix = 0xc0;
		break;
	default:
		return -EINVAL;
	}
	if (v > CW_VARINT_MAX || cw_varint_len(v) > len)
		return -ERANGE;
	if (cap < len)
		return -EMSGSIZE;
	for (size_t i = len; i-- > 0; v >>= 8)
		out[i] = (uint8_t)v;
	out[0] |= prefix;
	return (int)len;
}

int cw_varint_encode(uint8_t *out, size_t cap, uint64_t v)
{
	size_t len = cw_varint_len(v);

	if (len == 0)
		return -ERANGE;
	return cw_varint_encode_fixed(out, cap, v, len);
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
