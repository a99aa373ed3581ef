/* SPDX-License-Identifier: Apache-2.0 */
/*
 * QUIC variable-length integers (RFC 9000 §16): the two high bits of the
 * first byte give the length (1, 2, 4 or 8 bytes), the rest is a big-endian
 * value of 6, 14, 30 or 62 bits.
 *
 * Pure functions over caller buffers. The encoder always emits the shortest
 * form; the decoder accepts any form, as RFC 9000 allows senders to pad.
 */
#ifndef CW_VARINT_H
#define CW_VARINT_H

#include <stddef.h>
#include <stdint.h>

#define CW_VARINT_MAX	  ((UINT64_C(1) << 62) - 1)
#define CW_VARINT_MAX_LEN 8

/*
 * Bytes the shortest encoding of @v takes: 1, 2, 4 or 8, or 0 when @v is
 * above CW_VARINT_MAX and cannot be encoded at all. Inline: every frame
 * header asks it for each field.
 */
static inline size_t cw_varint_len(uint64_t v)
{
	if (v < (UINT64_C(1) << 6))
		return 1;
	if (v < (UINT64_C(1) << 14))
		return 2;
	if (v < (UINT64_C(1) << 30))
		return 4;
	return v <= CW_VARINT_MAX ? 8 : 0;
}

/*
 * Bytes an encoding starting with @first_byte takes (1, 2, 4 or 8); lets a
 * parser know how much it needs before it has it.
 */
static inline size_t cw_varint_len_from_byte(uint8_t first_byte)
{
	return (size_t)1 << (first_byte >> 6);
}

/*
 * Write @v in its shortest form at @out, which has @cap bytes.
 * Returns the number of bytes written (1..8), -ERANGE when @v exceeds
 * CW_VARINT_MAX, or -EMSGSIZE when @cap is too small (nothing written).
 */
int cw_varint_encode(uint8_t *out, size_t cap, uint64_t v);

/*
 * Write @v in exactly @len bytes (1, 2, 4 or 8), as needed when a length
 * field is reserved before the value is known. Returns @len, -EINVAL for
 * another @len, -ERANGE when @v does not fit in @len bytes, or -EMSGSIZE
 * when @cap < @len.
 */
int cw_varint_encode_fixed(uint8_t *out, size_t cap, uint64_t v, size_t len);

/*
 * Read one varint from @in, @len bytes available, into @v.
 * Returns the number of bytes consumed (1..8), or -EBADMSG when @len is
 * shorter than the encoding says (including @len == 0); @v is untouched
 * on error.
 */
int cw_varint_decode(const uint8_t *in, size_t len, uint64_t *v);

#endif /* CW_VARINT_H */
