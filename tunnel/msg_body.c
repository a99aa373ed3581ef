/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdbool.h>

#include "msg_body.h"

void cw_msg_body_identity(Causeway__V1__Body *body, const void *src, size_t len)
{
	causeway__v1__body__init(body);
	body->encoding = CAUSEWAY__V1__ENCODING__IDENTITY;
	/* 0 means "the data's length" (§14) and costs no bytes on the wire. */
	body->uncompressed_len = 0;
	body->data.data = (uint8_t *)src;
	body->data.len = len;
}

int cw_msg_body_pack(struct cw_compress *c, uint32_t dict_id, const void *src, size_t len,
		     void *dst, size_t cap, Causeway__V1__Body *body)
{
	enum cw_encoding enc = dict_id ? CW_ENC_ZSTD_DICT : CW_ENC_ZSTD;
	ptrdiff_t n;

	cw_msg_body_identity(body, src, len);
	if (len < CW_MSG_BODY_COMPRESS_MIN)
		return CW_ENC_IDENTITY;
	/* Only a frame smaller than the body is worth sending: give zstd no
	 * more room than that, and let it give up early. */
	if (cap > len - 1)
		cap = len - 1;
	n = cw_compress(c, enc, dict_id, src, len, dst, cap);
	if (n == -ENOSPC)
		return CW_ENC_IDENTITY;
	if (n < 0)
		return (int)n;
	body->encoding = (Causeway__V1__Encoding)enc;
	body->uncompressed_len = len;
	body->data.data = dst;
	body->data.len = (size_t)n;
	return enc;
}

static bool known_encoding(int enc)
{
	return enc == CW_ENC_IDENTITY || enc == CW_ENC_ZSTD || enc == CW_ENC_ZSTD_DICT;
}

ptrdiff_t cw_msg_body_len(const Causeway__V1__Body *body, size_t cap)
{
	uint64_t declared;

	if (!body)
		return 0;
	if (!known_encoding(body->encoding))
		return -EBADMSG;
	declared = body->uncompressed_len;
	if (body->encoding == CAUSEWAY__V1__ENCODING__IDENTITY) {
		if (declared != 0 && declared != body->data.len)
			return -EBADMSG;
		declared = body->data.len;
	}
	if (declared > cap || declared > PTRDIFF_MAX)
		return -EMSGSIZE;
	return (ptrdiff_t)declared;
}

ptrdiff_t cw_msg_body_unpack(struct cw_compress *c, uint32_t dict_id,
			     const Causeway__V1__Body *body, void *dst, size_t cap)
{
	ptrdiff_t n = cw_msg_body_len(body, cap);
	uint8_t none;

	if (n < 0 || !body)
		return n;
	/* Even an empty body's frame is checked: it must say it is empty. */
	return cw_decompress(c, (enum cw_encoding)body->encoding, dict_id, body->data.data,
			     body->data.len, (size_t)body->uncompressed_len, n ? dst : &none,
			     (size_t)n);
}

int cw_msg_body_unpack_alloc(struct cw_compress *c, uint32_t dict_id,
			     const Causeway__V1__Body *body, size_t cap, const struct cw_alloc *a,
			     uint8_t **out, size_t *out_len)
{
	ptrdiff_t n = cw_msg_body_len(body, cap), r;
	uint8_t *p;

	*out = NULL;
	*out_len = 0;
	if (n < 0)
		return (int)n;
	if (n == 0) {
		r = cw_msg_body_unpack(c, dict_id, body, NULL, 0);
		return r < 0 ? (int)r : 0;
	}
	p = a->alloc(a->ctx, (size_t)n);
	if (!p)
		return -ENOMEM;
	r = cw_msg_body_unpack(c, dict_id, body, p, (size_t)n);
	if (r < 0) {
		a->free(a->ctx, p, (size_t)n);
		return (int)r;
	}
	*out = p;
	*out_len = (size_t)n;
	return 0;
}
