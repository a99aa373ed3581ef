/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "header.h"
#include "varint.h"

#define HDR_LONG      0x80
#define HDR_FIXED     0x40
#define HDR_TYPE(b)   (((b) >> 4) & 0x03)
#define HDR_PN_LEN(b) (((b)&0x03) + 1)
/* Bits the current version leaves zero; set means corrupt or forged. */
#define LONG_RESERVED  0x0c
#define SHORT_RESERVED 0x38
#define SHORT_KEY_BIT  0x04

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_pn(uint8_t *p, uint64_t pn, size_t pn_len)
{
	for (size_t i = pn_len; i-- > 0; pn >>= 8)
		p[i] = (uint8_t)pn;
}

static uint64_t get_pn(const uint8_t *p, size_t pn_len)
{
	uint64_t v = 0;

	for (size_t i = 0; i < pn_len; i++)
		v = v << 8 | p[i];
	return v;
}

/*
 * One length-prefixed CID at @*off. Lengths other than @want are rejected
 * unless @want is 0, which accepts what any version may carry (0..255).
 */
static int read_cid(const uint8_t *pkt, size_t len, size_t *off, size_t want, size_t *cid_off,
		    size_t *cid_len)
{
	size_t n;

	if (*off >= len)
		return -EBADMSG;
	n = pkt[*off];
	if (want && n != want)
		return -EBADMSG;
	if (len - *off - 1 < n)
		return -EBADMSG;
	*cid_off = *off + 1;
	*cid_len = n;
	*off += 1 + n;
	return 0;
}

static int decode_short(const uint8_t *pkt, size_t len, struct cw_hdr *h)
{
	uint8_t b = pkt[0];

	if (b & SHORT_RESERVED)
		return -EBADMSG;
	h->type = CW_PKT_SHORT;
	h->key_phase = (b & SHORT_KEY_BIT) ? 1 : 0;
	h->pn_len = HDR_PN_LEN(b);
	h->dcid_off = 1;
	h->dcid_len = CW_CID_LEN;
	h->pn_off = 1 + CW_CID_LEN;
	if (len < h->pn_off + h->pn_len)
		return -EBADMSG;
	h->pn_trunc = get_pn(pkt + h->pn_off, h->pn_len);
	h->payload_off = h->pn_off + h->pn_len;
	h->payload_len = len - h->payload_off;
	if (h->payload_len < CW_MIN_PAYLOAD_LEN)
		return -EBADMSG;
	h->pkt_len = len;
	return 0;
}

static int decode_long(const uint8_t *pkt, size_t len, struct cw_hdr *h)
{
	uint8_t b = pkt[0];
	size_t off = 5;
	uint64_t v;
	int rc;

	if (len < off)
		return -EBADMSG;
	h->version = get32(pkt + 1);
	if (h->version != CW_VERSION_1) {
		/* Only the version-independent fields, so the caller can answer. */
		rc = read_cid(pkt, len, &off, 0, &h->dcid_off, &h->dcid_len);
		if (rc == 0)
			rc = read_cid(pkt, len, &off, 0, &h->scid_off, &h->scid_len);
		return rc ? rc : -EPROTONOSUPPORT;
	}
	if (!(b & HDR_FIXED) || (b & LONG_RESERVED))
		return -EBADMSG;
	rc = read_cid(pkt, len, &off, CW_CID_LEN, &h->dcid_off, &h->dcid_len);
	if (rc)
		return rc;
	rc = read_cid(pkt, len, &off, CW_CID_LEN, &h->scid_off, &h->scid_len);
	if (rc)
		return rc;

	switch (HDR_TYPE(b)) {
	case CW_PKT_RETRY:
		if (b & 0x03)
			return -EBADMSG;
		/* A token of at least one byte, then the tag, fill the rest. */
		if (len - off < 1 + CW_RETRY_TAG_LEN)
			return -EBADMSG;
		h->type = CW_PKT_RETRY;
		h->token_off = off;
		h->token_len = len - off - CW_RETRY_TAG_LEN;
		h->pn_off = len - CW_RETRY_TAG_LEN;
		h->payload_off = h->pn_off;
		h->payload_len = CW_RETRY_TAG_LEN;
		h->pkt_len = len;
		return 0;
	case CW_PKT_INITIAL:
		h->type = CW_PKT_INITIAL;
		rc = cw_varint_decode(pkt + off, len - off, &v);
		if (rc < 0)
			return rc;
		off += (size_t)rc;
		if (v > CW_TOKEN_MAX_LEN || v > len - off)
			return -EBADMSG;
		h->token_off = off;
		h->token_len = (size_t)v;
		off += (size_t)v;
		break;
	case CW_PKT_HANDSHAKE:
		h->type = CW_PKT_HANDSHAKE;
		break;
	default:
		return -EBADMSG;
	}

	rc = cw_varint_decode(pkt + off, len - off, &v);
	if (rc < 0)
		return rc;
	off += (size_t)rc;
	h->pn_len = HDR_PN_LEN(b);
	if (v < (uint64_t)h->pn_len + CW_MIN_PAYLOAD_LEN || v > len - off)
		return -EBADMSG;
	h->pn_off = off;
	h->pn_trunc = get_pn(pkt + off, h->pn_len);
	h->payload_off = off + h->pn_len;
	h->payload_len = (size_t)v - h->pn_len;
	h->pkt_len = off + (size_t)v;
	return 0;
}

int cw_hdr_decode(const uint8_t *pkt, size_t len, struct cw_hdr *h)
{
	memset(h, 0, sizeof(*h));
	if (len == 0)
		return -EBADMSG;
	if (pkt[0] & HDR_LONG)
		return decode_long(pkt, len, h);
	if (!(pkt[0] & HDR_FIXED))
		return -EBADMSG;
	return decode_short(pkt, len, h);
}

/* byte 0, version and both length-prefixed CIDs: the same for every type. */
static size_t put_long_prefix(uint8_t *out, uint8_t b0, uint32_t version, const uint8_t *dcid,
			      const uint8_t *scid)
{
	out[0] = b0;
	put32(out + 1, version);
	out[5] = CW_CID_LEN;
	memcpy(out + 6, dcid, CW_CID_LEN);
	out[6 + CW_CID_LEN] = CW_CID_LEN;
	memcpy(out + 7 + CW_CID_LEN, scid, CW_CID_LEN);
	return 7 + 2 * CW_CID_LEN;
}

#define LONG_PREFIX_LEN (7 + 2 * CW_CID_LEN)

int cw_hdr_encode_long(uint8_t *out, size_t cap, const struct cw_long_hdr *s)
{
	size_t need, tlen_len = 0, len_len, off;
	uint64_t length;

	if (s->type != CW_PKT_INITIAL && s->type != CW_PKT_HANDSHAKE)
		return -EINVAL;
	if (s->pn_len < 1 || s->pn_len > 4 || !s->dcid || !s->scid)
		return -EINVAL;
	if (s->type == CW_PKT_HANDSHAKE && s->token_len)
		return -EINVAL;
	if (s->token_len > CW_TOKEN_MAX_LEN || (s->token_len && !s->token))
		return -EINVAL;
	if (s->payload_len < CW_MIN_PAYLOAD_LEN)
		return -EINVAL;
	if (s->length_len != 0 && s->length_len != 1 && s->length_len != 2 && s->length_len != 4 &&
	    s->length_len != 8)
		return -EINVAL;
	if (s->pn > CW_PN_MAX || s->payload_len > CW_VARINT_MAX - s->pn_len)
		return -ERANGE;
	length = s->pn_len + (uint64_t)s->payload_len;
	len_len = s->length_len ? s->length_len : cw_varint_len(length);
	if (cw_varint_len(length) > len_len)
		return -ERANGE;

	if (s->type == CW_PKT_INITIAL)
		tlen_len = cw_varint_len(s->token_len);
	need = LONG_PREFIX_LEN + tlen_len + s->token_len + len_len + s->pn_len;
	if (need > cap)
		return -EMSGSIZE;

	off = put_long_prefix(out, (uint8_t)(0xc0 | s->type << 4 | (s->pn_len - 1)), s->version,
			      s->dcid, s->scid);
	if (s->type == CW_PKT_INITIAL) {
		off += (size_t)cw_varint_encode(out + off, cap - off, s->token_len);
		if (s->token_len)
			memcpy(out + off, s->token, s->token_len);
		off += s->token_len;
	}
	off += (size_t)cw_varint_encode_fixed(out + off, cap - off, length, len_len);
	put_pn(out + off, s->pn, s->pn_len);
	return (int)(off + s->pn_len);
}

int cw_hdr_encode_retry(uint8_t *out, size_t cap, uint32_t version, const uint8_t *dcid,
			const uint8_t *scid, const uint8_t *token, size_t token_len)
{
	size_t off;

	if (token_len == 0 || !token || !dcid || !scid)
		return -EINVAL;
	if (token_len > (size_t)INT_MAX / 2 || cap < LONG_PREFIX_LEN + token_len + CW_RETRY_TAG_LEN)
		return -EMSGSIZE;
	off = put_long_prefix(out, 0xc0 | CW_PKT_RETRY << 4, version, dcid, scid);
	memcpy(out + off, token, token_len);
	return (int)(off + token_len);
}

int cw_hdr_encode_short(uint8_t *out, size_t cap, const uint8_t *dcid, unsigned key_phase,
			uint64_t pn, size_t pn_len)
{
	if (key_phase > 1 || pn_len < 1 || pn_len > 4 || !dcid)
		return -EINVAL;
	if (pn > CW_PN_MAX)
		return -ERANGE;
	if (cap < 1 + CW_CID_LEN + pn_len)
		return -EMSGSIZE;
	out[0] = (uint8_t)(HDR_FIXED | key_phase << 2 | (pn_len - 1));
	memcpy(out + 1, dcid, CW_CID_LEN);
	put_pn(out + 1 + CW_CID_LEN, pn, pn_len);
	return (int)(1 + CW_CID_LEN + pn_len);
}

int cw_pn_len(uint64_t pn, uint64_t largest_acked)
{
	uint64_t unacked;

	if (pn > CW_PN_MAX)
		return -EINVAL;
	if (largest_acked == CW_PN_NONE) {
		unacked = pn + 1;
	} else {
		if (pn <= largest_acked)
			return -EINVAL;
		unacked = pn - largest_acked;
	}
	/*
	 * RFC 9000 A.2: log2(unacked) + 1 bits, rounded up to bytes, i.e. the
	 * receiver's half window 2^(8n-1) must cover every unacked number.
	 */
	for (int n = 1; n < 4; n++)
		if (unacked <= UINT64_C(1) << (8 * n - 1))
			return n;
	return 4;
}

uint64_t cw_pn_decode(uint64_t largest, uint64_t truncated, size_t pn_len)
{
	/* CW_PN_NONE + 1 wraps to 0: nothing received expects packet 0. */
	uint64_t expected = largest + 1;
	uint64_t win = UINT64_C(1) << (8 * pn_len);
	uint64_t hwin = win / 2;
	uint64_t mask = win - 1;
	uint64_t cand = (expected & ~mask) | (truncated & mask);

	/* RFC 9000 A.3, with each subtraction rearranged so none can wrap. */
	if (cand + hwin <= expected && cand < (UINT64_C(1) << 62) - win)
		return cand + win;
	if (cand > expected + hwin && cand >= win)
		return cand - win;
	return cand;
}
