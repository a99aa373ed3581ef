/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "frame.h"
#include "varint.h"

/* Frame type sets, one bit per type: version 1 has none above 0x1f. */
#define BIT(t)	    (UINT32_C(1) << (t))
#define STREAM_BITS (UINT32_C(0xff) << CW_FRAME_STREAM)
#define LONG_FRAMES                                                                                \
	(BIT(CW_FRAME_PADDING) | BIT(CW_FRAME_PING) | BIT(CW_FRAME_ACK) | BIT(CW_FRAME_CRYPTO) |   \
	 BIT(CW_FRAME_CONNECTION_CLOSE))
#define SHORT_FRAMES                                                                               \
	(BIT(CW_FRAME_PADDING) | BIT(CW_FRAME_PING) | BIT(CW_FRAME_ACK) |                          \
	 BIT(CW_FRAME_RESET_STREAM) | BIT(CW_FRAME_STOP_SENDING) | STREAM_BITS |                   \
	 BIT(CW_FRAME_MAX_DATA) | BIT(CW_FRAME_MAX_STREAM_DATA) | BIT(CW_FRAME_MAX_STREAMS) |      \
	 BIT(CW_FRAME_DATA_BLOCKED) | BIT(CW_FRAME_STREAM_DATA_BLOCKED) |                          \
	 BIT(CW_FRAME_CONNECTION_CLOSE) | BIT(CW_FRAME_HANDSHAKE_DONE))
/* §7.2: all the gateway's TLS bytes go in HANDSHAKE packets. */
#define GATEWAY_INITIAL_FRAMES                                                                     \
	(BIT(CW_FRAME_PADDING) | BIT(CW_FRAME_ACK) | BIT(CW_FRAME_CONNECTION_CLOSE))
#define KNOWN_FRAMES (LONG_FRAMES | SHORT_FRAMES)
#define NOT_ACK_ELICITING                                                                          \
	(BIT(CW_FRAME_PADDING) | BIT(CW_FRAME_ACK) | BIT(CW_FRAME_CONNECTION_CLOSE))

/* Encoders return an int, so no frame may be longer than INT_MAX. */
static size_t clamp_cap(size_t cap)
{
	return cap > INT_MAX ? INT_MAX : cap;
}

static uint32_t allowed_set(enum cw_pkt_type pkt, enum cw_frame_sender from)
{
	switch (pkt) {
	case CW_PKT_INITIAL:
		return from == CW_FROM_GATEWAY ? GATEWAY_INITIAL_FRAMES : LONG_FRAMES;
	case CW_PKT_HANDSHAKE:
		return LONG_FRAMES;
	case CW_PKT_SHORT:
		return from == CW_FROM_GATEWAY ? SHORT_FRAMES
					       : SHORT_FRAMES & ~BIT(CW_FRAME_HANDSHAKE_DONE);
	default:
		return 0;
	}
}

bool cw_frame_allowed(uint64_t type, enum cw_pkt_type pkt, enum cw_frame_sender from)
{
	return type < 32 && (allowed_set(pkt, from) & BIT(type));
}

bool cw_frame_ack_eliciting(uint64_t type)
{
	return type < 32 && (KNOWN_FRAMES & ~NOT_ACK_ELICITING & BIT(type));
}

uint64_t cw_frame_error_code(int err)
{
	switch (err) {
	case -ENODATA:
	case -EPROTO:
		return CW_TE_PROTOCOL_VIOLATION;
	case -EOPNOTSUPP:
	case -EBADMSG:
	case -ERANGE:
		return CW_TE_FRAME_ENCODING_ERROR;
	case -ENOSTR:
		return CW_TE_STREAM_STATE_ERROR;
	case -ENOBUFS:
		return CW_TE_CRYPTO_BUFFER_EXCEEDED;
	default:
		return CW_TE_INTERNAL_ERROR;
	}
}

/* ---- Decoding ---- */

/* A read position in the payload; every read is bounds-checked. */
struct rd {
	const uint8_t *p;
	size_t len, off;
};

static int rd_varint(struct rd *r, uint64_t *v)
{
	int rc = cw_varint_decode(r->p + r->off, r->len - r->off, v);

	if (rc < 0)
		return -EBADMSG;
	r->off += (size_t)rc;
	return 0;
}

static int rd_bytes(struct rd *r, uint64_t n, const uint8_t **out, size_t *out_len)
{
	if (n > r->len - r->off)
		return -EBADMSG;
	*out = r->p + r->off;
	*out_len = (size_t)n;
	r->off += (size_t)n;
	return 0;
}

/* Read @n varints into @v: the fixed-layout frames are nothing else. */
static int rd_varints(struct rd *r, uint64_t *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (rd_varint(r, v[i]) < 0)
			return -EBADMSG;
	return 0;
}

static int check_stream_id(uint64_t id)
{
	return (id & CW_STREAM_ID_BAD_BITS) ? -ENOSTR : 0;
}

static int decode_padding(struct rd *r)
{
	/* A 1200-byte INITIAL is mostly padding: hand it out in one piece. */
	while (r->off < r->len && r->p[r->off] == CW_FRAME_PADDING)
		r->off++;
	return 0;
}

/*
 * cw_ack_decode() reports truncation and ranges below zero alike. Finding
 * the frame's end first tells them apart: once the whole frame is known to
 * be there, a failure can only be a range.
 */
static int decode_ack(struct rd *r, size_t start, struct cw_frame *f)
{
	uint64_t v, count;
	int rc;

	if (rd_varint(r, &v) < 0 || rd_varint(r, &v) < 0 || rd_varint(r, &count) < 0 ||
	    rd_varint(r, &v) < 0)
		return -EBADMSG;
	/* The count is the peer's word: each pair takes two bytes at least,
	 * so the payload bounds the loop. */
	for (uint64_t i = 0; i < count; i++)
		if (rd_varint(r, &v) < 0 || rd_varint(r, &v) < 0)
			return -EBADMSG;
	rc = cw_ack_decode(r->p + start, r->off - start, &f->ack);
	if (rc < 0)
		return -ERANGE;
	return 0;
}

static int decode_crypto(struct rd *r, struct cw_frame *f)
{
	struct cw_frame_crypto *c = &f->crypto;
	uint64_t len;

	if (rd_varint(r, &c->offset) < 0 || rd_varint(r, &len) < 0 ||
	    rd_bytes(r, len, &c->data, &c->len) < 0)
		return -EBADMSG;
	if (c->offset > CW_CRYPTO_STREAM_MAX || c->len > CW_CRYPTO_STREAM_MAX - c->offset)
		return -ENOBUFS;
	return 0;
}

static int decode_stream(struct rd *r, uint64_t type, struct cw_frame *f)
{
	struct cw_frame_stream *s = &f->stream;
	uint64_t len;

	s->offset = 0;
	if (rd_varint(r, &s->stream_id) < 0)
		return -EBADMSG;
	if ((type & CW_STREAM_FLAG_OFF) && rd_varint(r, &s->offset) < 0)
		return -EBADMSG;
	if (!(type & CW_STREAM_FLAG_LEN))
		len = r->len - r->off;
	else if (rd_varint(r, &len) < 0)
		return -EBADMSG;
	if (rd_bytes(r, len, &s->data, &s->len) < 0)
		return -EBADMSG;
	s->fin = type & CW_STREAM_FLAG_FIN;
	if (s->len > CW_STREAM_OFFSET_MAX - s->offset)
		return -ERANGE;
	return check_stream_id(s->stream_id);
}

static int decode_close(struct rd *r, enum cw_pkt_type pkt, struct cw_frame *f)
{
	struct cw_frame_close *c = &f->close;
	uint64_t len;

	if (rd_varint(r, &c->error_code) < 0 || rd_varint(r, &c->frame_type) < 0 ||
	    rd_varint(r, &len) < 0 || rd_bytes(r, len, &c->reason, &c->reason_len) < 0)
		return -EBADMSG;
	/* §8.14: long-header packets are readable by anyone on the path. */
	if (pkt != CW_PKT_SHORT && c->error_code >= CW_APP_ERROR_MIN)
		return -EPROTO;
	if (c->reason_len > CW_CLOSE_REASON_MAX)
		c->reason_len = CW_CLOSE_REASON_MAX;
	return 0;
}

/* The frames that are a stream ID and values, or a single value. */
static int decode_fixed(struct rd *r, uint64_t type, struct cw_frame *f)
{
	uint64_t *v[3];
	size_t n = 2;
	bool has_id = true;

	switch (type) {
	case CW_FRAME_RESET_STREAM:
		v[0] = &f->reset_stream.stream_id;
		v[1] = &f->reset_stream.error_code;
		v[2] = &f->reset_stream.final_size;
		n = 3;
		break;
	case CW_FRAME_STOP_SENDING:
		v[0] = &f->stop_sending.stream_id;
		v[1] = &f->stop_sending.error_code;
		break;
	case CW_FRAME_MAX_STREAM_DATA:
	case CW_FRAME_STREAM_DATA_BLOCKED:
		/* Both members are a struct cw_frame_stream_limit at one address. */
		v[0] = &f->max_stream_data.stream_id;
		v[1] = &f->max_stream_data.max;
		break;
	default: /* MAX_DATA, MAX_STREAMS, DATA_BLOCKED: one cw_frame_limit */
		v[0] = &f->max_data.max;
		n = 1;
		has_id = false;
		break;
	}
	if (rd_varints(r, v, n) < 0)
		return -EBADMSG;
	if (type == CW_FRAME_MAX_STREAMS && f->max_streams.max > CW_MAX_STREAMS_MAX)
		return -ERANGE;
	return has_id ? check_stream_id(*v[0]) : 0;
}

static int decode_body(struct rd *r, size_t start, uint64_t type, enum cw_pkt_type pkt,
		       struct cw_frame *f)
{
	if (type >= CW_FRAME_STREAM && type <= (CW_FRAME_STREAM | 0x07)) {
		f->type = CW_FRAME_STREAM;
		return decode_stream(r, type, f);
	}
	f->type = (enum cw_frame_type)type;
	switch (type) {
	case CW_FRAME_PADDING:
		return decode_padding(r);
	case CW_FRAME_PING:
	case CW_FRAME_HANDSHAKE_DONE:
		return 0;
	case CW_FRAME_ACK:
		return decode_ack(r, start, f);
	case CW_FRAME_CRYPTO:
		return decode_crypto(r, f);
	case CW_FRAME_CONNECTION_CLOSE:
		return decode_close(r, pkt, f);
	default:
		return decode_fixed(r, type, f);
	}
}

void cw_frame_iter_init(struct cw_frame_iter *it, const uint8_t *payload, size_t len,
			enum cw_pkt_type pkt, enum cw_frame_sender from)
{
	it->p = payload;
	it->len = len;
	it->off = 0;
	it->pkt = pkt;
	it->from = from;
	it->err = 0;
	it->frame_type = 0;
	it->ack_eliciting = false;
	it->in_flight = false;
}

static int iter_fail(struct cw_frame_iter *it, int err)
{
	it->err = err;
	return err;
}

int cw_frame_next(struct cw_frame_iter *it, struct cw_frame *f)
{
	uint32_t allowed = allowed_set(it->pkt, it->from);
	struct rd r = {it->p, it->len, it->off};
	uint64_t type;
	int rc;

	if (it->err)
		return it->err;
	if (!allowed)
		return iter_fail(it, -EINVAL);
	if (it->len == 0)
		return iter_fail(it, -ENODATA);
	if (it->off == it->len)
		return 0;
	it->frame_type = 0;
	if (rd_varint(&r, &type) < 0)
		return iter_fail(it, -EBADMSG);
	it->frame_type = type;
	if (type >= 32 || !(KNOWN_FRAMES & BIT(type)))
		return iter_fail(it, -EOPNOTSUPP);
	if (!(allowed & BIT(type)))
		return iter_fail(it, -EPROTO);
	rc = decode_body(&r, it->off, type, it->pkt, f);
	if (rc < 0)
		return iter_fail(it, rc);
	f->wire_len = r.off - it->off;
	it->off = r.off;
	if (cw_frame_ack_eliciting(type))
		it->ack_eliciting = it->in_flight = true;
	else if (type == CW_FRAME_PADDING)
		it->in_flight = true;
	return 1;
}

/* ---- Encoding ---- */

/* Bytes of the type and @n varints @v, or 0 when one is not encodable. */
static size_t varints_size(const uint64_t *v, size_t n)
{
	size_t need = 1;

	for (size_t i = 0; i < n; i++) {
		size_t l = cw_varint_len(v[i]);

		if (l == 0)
			return 0;
		need += l;
	}
	return need;
}

/* Write the type byte and @n varints, the sizes being known to fit. */
static size_t put_varints(uint8_t *out, size_t cap, uint8_t type, const uint64_t *v, size_t n)
{
	size_t off = 1;

	out[0] = type;
	for (size_t i = 0; i < n; i++)
		off += (size_t)cw_varint_encode(out + off, cap - off, v[i]);
	return off;
}

static int encode_varints(uint8_t *out, size_t cap, uint8_t type, const uint64_t *v, size_t n)
{
	size_t need = varints_size(v, n);

	if (need == 0)
		return -ERANGE;
	if (need > clamp_cap(cap))
		return -ENOSPC;
	return (int)put_varints(out, cap, type, v, n);
}

int cw_frame_encode_padding(uint8_t *out, size_t cap, size_t n)
{
	if (n == 0)
		return -EINVAL;
	if (n > clamp_cap(cap))
		return -ENOSPC;
	memset(out, CW_FRAME_PADDING, n);
	return (int)n;
}

int cw_frame_encode_ping(uint8_t *out, size_t cap)
{
	return encode_varints(out, cap, CW_FRAME_PING, NULL, 0);
}

int cw_frame_encode_handshake_done(uint8_t *out, size_t cap)
{
	return encode_varints(out, cap, CW_FRAME_HANDSHAKE_DONE, NULL, 0);
}

int cw_frame_encode_ack(uint8_t *out, size_t cap, const struct cw_ack_range *r, size_t n,
			uint64_t ack_delay)
{
	int rc = cw_ack_encode(out, cap, r, n, ack_delay);

	return rc == -EMSGSIZE ? -ENOSPC : rc;
}

/* A frame naming a stream: the ID is checked before anything else. */
static int encode_stream_varints(uint8_t *out, size_t cap, uint8_t type, const uint64_t *v,
				 size_t n)
{
	if (v[0] <= CW_VARINT_MAX && check_stream_id(v[0]) < 0)
		return -EINVAL;
	return encode_varints(out, cap, type, v, n);
}

int cw_frame_encode_reset_stream(uint8_t *out, size_t cap, uint64_t stream_id, uint64_t error_code,
				 uint64_t final_size)
{
	const uint64_t v[] = {stream_id, error_code, final_size};

	return encode_stream_varints(out, cap, CW_FRAME_RESET_STREAM, v, 3);
}

int cw_frame_encode_stop_sending(uint8_t *out, size_t cap, uint64_t stream_id, uint64_t error_code)
{
	const uint64_t v[] = {stream_id, error_code};

	return encode_stream_varints(out, cap, CW_FRAME_STOP_SENDING, v, 2);
}

int cw_frame_encode_max_data(uint8_t *out, size_t cap, uint64_t max)
{
	return encode_varints(out, cap, CW_FRAME_MAX_DATA, &max, 1);
}

int cw_frame_encode_max_stream_data(uint8_t *out, size_t cap, uint64_t stream_id, uint64_t max)
{
	const uint64_t v[] = {stream_id, max};

	return encode_stream_varints(out, cap, CW_FRAME_MAX_STREAM_DATA, v, 2);
}

int cw_frame_encode_max_streams(uint8_t *out, size_t cap, uint64_t max)
{
	if (max > CW_MAX_STREAMS_MAX)
		return -ERANGE;
	return encode_varints(out, cap, CW_FRAME_MAX_STREAMS, &max, 1);
}

int cw_frame_encode_data_blocked(uint8_t *out, size_t cap, uint64_t max)
{
	return encode_varints(out, cap, CW_FRAME_DATA_BLOCKED, &max, 1);
}

int cw_frame_encode_stream_data_blocked(uint8_t *out, size_t cap, uint64_t stream_id, uint64_t max)
{
	const uint64_t v[] = {stream_id, max};

	return encode_stream_varints(out, cap, CW_FRAME_STREAM_DATA_BLOCKED, v, 2);
}

/*
 * Write a header of type, @n varints, then @len bytes of @data, all or
 * nothing: CRYPTO, STREAM and CONNECTION_CLOSE are all this shape.
 */
static int encode_with_data(uint8_t *out, size_t cap, uint8_t type, const uint64_t *v, size_t n,
			    const uint8_t *data, size_t len)
{
	size_t hdr = varints_size(v, n);

	if (hdr == 0)
		return -ERANGE;
	cap = clamp_cap(cap);
	if (hdr > cap || len > cap - hdr)
		return -ENOSPC;
	put_varints(out, cap, type, v, n);
	if (len > 0)
		memcpy(out + hdr, data, len);
	return (int)(hdr + len);
}

int cw_frame_encode_crypto(uint8_t *out, size_t cap, uint64_t offset, const uint8_t *data,
			   size_t len)
{
	const uint64_t v[] = {offset, len};

	if (offset > CW_CRYPTO_STREAM_MAX || len > CW_CRYPTO_STREAM_MAX - offset)
		return -ERANGE;
	return encode_with_data(out, cap, CW_FRAME_CRYPTO, v, 2, data, len);
}

/* The varints after a STREAM frame's type; returns how many. */
static size_t stream_fields(uint64_t stream_id, uint64_t offset, size_t len, bool last,
			    uint64_t v[3], uint8_t *type)
{
	size_t n = 0;

	*type = CW_FRAME_STREAM;
	v[n++] = stream_id;
	if (offset > 0) {
		*type |= CW_STREAM_FLAG_OFF;
		v[n++] = offset;
	}
	if (!last) {
		*type |= CW_STREAM_FLAG_LEN;
		v[n++] = len;
	}
	return n;
}

/* -ERANGE / -EINVAL as the encoder returns them for these values, or 0. */
static int check_stream(uint64_t stream_id, uint64_t offset, size_t len)
{
	if (stream_id > CW_VARINT_MAX || offset > CW_STREAM_OFFSET_MAX ||
	    len > CW_STREAM_OFFSET_MAX - offset)
		return -ERANGE;
	return check_stream_id(stream_id) < 0 ? -EINVAL : 0;
}

int cw_frame_encode_stream(uint8_t *out, size_t cap, const struct cw_frame_stream *s, bool last)
{
	uint64_t v[3];
	uint8_t type;
	size_t n;
	int rc = check_stream(s->stream_id, s->offset, s->len);

	if (rc < 0)
		return rc;
	if (s->len == 0 && !s->fin)
		return -EINVAL;
	n = stream_fields(s->stream_id, s->offset, s->len, last, v, &type);
	if (s->fin)
		type |= CW_STREAM_FLAG_FIN;
	return encode_with_data(out, cap, type, v, n, s->data, s->len);
}

int cw_frame_encode_connection_close(uint8_t *out, size_t cap, uint64_t error_code,
				     uint64_t frame_type, const uint8_t *reason, size_t reason_len)
{
	const uint64_t v[] = {error_code, frame_type, reason_len};

	if (reason_len > CW_CLOSE_REASON_MAX)
		return -EINVAL;
	return encode_with_data(out, cap, CW_FRAME_CONNECTION_CLOSE, v, 3, reason, reason_len);
}

int cw_frame_encode(uint8_t *out, size_t cap, const struct cw_frame *f)
{
	switch (f->type) {
	case CW_FRAME_PADDING:
		return cw_frame_encode_padding(out, cap, f->wire_len);
	case CW_FRAME_PING:
		return cw_frame_encode_ping(out, cap);
	case CW_FRAME_ACK:
		return cw_frame_encode_ack(out, cap, f->ack.r, f->ack.n, f->ack.ack_delay);
	case CW_FRAME_RESET_STREAM:
		return cw_frame_encode_reset_stream(out, cap, f->reset_stream.stream_id,
						    f->reset_stream.error_code,
						    f->reset_stream.final_size);
	case CW_FRAME_STOP_SENDING:
		return cw_frame_encode_stop_sending(out, cap, f->stop_sending.stream_id,
						    f->stop_sending.error_code);
	case CW_FRAME_CRYPTO:
		return cw_frame_encode_crypto(out, cap, f->crypto.offset, f->crypto.data,
					      f->crypto.len);
	case CW_FRAME_STREAM:
		return cw_frame_encode_stream(out, cap, &f->stream, false);
	case CW_FRAME_MAX_DATA:
		return cw_frame_encode_max_data(out, cap, f->max_data.max);
	case CW_FRAME_MAX_STREAM_DATA:
		return cw_frame_encode_max_stream_data(out, cap, f->max_stream_data.stream_id,
						       f->max_stream_data.max);
	case CW_FRAME_MAX_STREAMS:
		return cw_frame_encode_max_streams(out, cap, f->max_streams.max);
	case CW_FRAME_DATA_BLOCKED:
		return cw_frame_encode_data_blocked(out, cap, f->data_blocked.max);
	case CW_FRAME_STREAM_DATA_BLOCKED:
		return cw_frame_encode_stream_data_blocked(
		    out, cap, f->stream_data_blocked.stream_id, f->stream_data_blocked.max);
	case CW_FRAME_CONNECTION_CLOSE:
		return cw_frame_encode_connection_close(out, cap, f->close.error_code,
							f->close.frame_type, f->close.reason,
							f->close.reason_len);
	case CW_FRAME_HANDSHAKE_DONE:
		return cw_frame_encode_handshake_done(out, cap);
	}
	return -EINVAL;
}

/* ---- Sizes ---- */

size_t cw_frame_ack_size(const struct cw_ack_range *r, size_t n, uint64_t ack_delay)
{
	uint64_t v[4];
	size_t size;

	/* The rules cw_ack_encode() enforces. */
	if (n == 0 || r[0].hi > CW_PN_MAX || ack_delay > CW_VARINT_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (r[i].lo > r[i].hi || (i > 0 && (r[i - 1].lo < 2 || r[i].hi > r[i - 1].lo - 2)))
			return 0;
	v[0] = r[0].hi;
	v[1] = ack_delay;
	v[2] = n - 1;
	v[3] = r[0].hi - r[0].lo;
	size = varints_size(v, 4);
	for (size_t i = 1; i < n; i++)
		size += cw_varint_len(r[i - 1].lo - r[i].hi - 2) + cw_varint_len(r[i].hi - r[i].lo);
	return size;
}

size_t cw_frame_crypto_size(uint64_t offset, size_t len)
{
	if (offset > CW_CRYPTO_STREAM_MAX || len > CW_CRYPTO_STREAM_MAX - offset)
		return 0;
	return 1 + cw_varint_len(offset) + cw_varint_len(len) + len;
}

size_t cw_frame_stream_size(uint64_t stream_id, uint64_t offset, size_t len, bool last)
{
	uint64_t v[3];
	uint8_t type;

	if (check_stream(stream_id, offset, len) < 0)
		return 0;
	return varints_size(v, stream_fields(stream_id, offset, len, last, v, &type)) + len;
}

size_t cw_frame_close_size(uint64_t error_code, uint64_t frame_type, size_t reason_len)
{
	const uint64_t v[] = {error_code, frame_type, reason_len};
	size_t hdr = varints_size(v, 3);

	if (hdr == 0 || reason_len > CW_CLOSE_REASON_MAX)
		return 0;
	return hdr + reason_len;
}

/* Size of a frame naming a stream: its type byte and the varints @v. */
static size_t stream_varints_size(const uint64_t *v, size_t n)
{
	return check_stream_id(v[0]) < 0 ? 0 : varints_size(v, n);
}

size_t cw_frame_size(const struct cw_frame *f)
{
	switch (f->type) {
	case CW_FRAME_PADDING:
		return f->wire_len;
	case CW_FRAME_PING:
	case CW_FRAME_HANDSHAKE_DONE:
		return 1;
	case CW_FRAME_ACK:
		return cw_frame_ack_size(f->ack.r, f->ack.n, f->ack.ack_delay);
	case CW_FRAME_RESET_STREAM:
		return stream_varints_size((const uint64_t[]){f->reset_stream.stream_id,
							      f->reset_stream.error_code,
							      f->reset_stream.final_size},
					   3);
	case CW_FRAME_STOP_SENDING:
		return stream_varints_size(
		    (const uint64_t[]){f->stop_sending.stream_id, f->stop_sending.error_code}, 2);
	case CW_FRAME_CRYPTO:
		return cw_frame_crypto_size(f->crypto.offset, f->crypto.len);
	case CW_FRAME_STREAM:
		if (f->stream.len == 0 && !f->stream.fin)
			return 0;
		return cw_frame_stream_size(f->stream.stream_id, f->stream.offset, f->stream.len,
					    false);
	case CW_FRAME_MAX_STREAMS:
		return f->max_streams.max > CW_MAX_STREAMS_MAX
			   ? 0
			   : varints_size(&f->max_streams.max, 1);
	case CW_FRAME_MAX_DATA:
	case CW_FRAME_DATA_BLOCKED:
		return varints_size(&f->max_data.max, 1);
	case CW_FRAME_MAX_STREAM_DATA:
	case CW_FRAME_STREAM_DATA_BLOCKED:
		return stream_varints_size(
		    (const uint64_t[]){f->max_stream_data.stream_id, f->max_stream_data.max}, 2);
	case CW_FRAME_CONNECTION_CLOSE:
		return cw_frame_close_size(f->close.error_code, f->close.frame_type,
					   f->close.reason_len);
	}
	return 0;
}

/* ---- Fitting ---- */

/* The most data bytes d with a Length field such that len(d) + d <= @room. */
static size_t fit_with_len(size_t room)
{
	/* The shortest length field that works gives the most data. */
	for (size_t l = 1; l <= CW_VARINT_MAX_LEN; l *= 2)
		if (room >= l && cw_varint_len(room - l) <= l)
			return room - l;
	return 0;
}

size_t cw_frame_crypto_fit(uint64_t offset, size_t space)
{
	size_t hdr, d;

	if (offset >= CW_CRYPTO_STREAM_MAX)
		return 0;
	space = clamp_cap(space);
	hdr = 1 + cw_varint_len(offset);
	if (hdr >= space)
		return 0;
	d = fit_with_len(space - hdr);
	return d < CW_CRYPTO_STREAM_MAX - offset ? d : (size_t)(CW_CRYPTO_STREAM_MAX - offset);
}

size_t cw_frame_stream_fit(uint64_t stream_id, uint64_t offset, size_t space, bool last)
{
	uint64_t limit, v[2] = {stream_id, offset};
	size_t hdr, d;

	if (check_stream(stream_id, offset, 0) < 0)
		return 0;
	space = clamp_cap(space);
	hdr = varints_size(v, offset > 0 ? 2 : 1);
	if (hdr >= space)
		return 0;
	d = last ? space - hdr : fit_with_len(space - hdr);
	limit = CW_STREAM_OFFSET_MAX - offset;
	return d < limit ? d : (size_t)limit;
}
