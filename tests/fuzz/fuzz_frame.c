/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for tunnel/frame.c. The first input byte picks the
 * packet (bits 1-0: 0 INITIAL, 1 HANDSHAKE, 2 or 3 1-RTT) and its sender
 * (bit 2: the gateway); the rest is a decrypted payload. Every frame that
 * decodes is checked against the limits it must respect, encoded again
 * into a buffer of exactly its predicted size (so ASan sees any write past
 * it) and decoded again to the same values. A violated invariant traps.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tunnel/frame.h"

#define check(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			__builtin_trap();                                                          \
	} while (0)

struct input {
	const uint8_t *p;
	size_t len;
	enum cw_pkt_type pkt;
	enum cw_frame_sender from;
};

static bool inside(const struct input *in, const uint8_t *p, size_t len)
{
	return p >= in->p && len <= in->len && (size_t)(p - in->p) <= in->len - len;
}

static bool bytes_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static void check_ack(const struct cw_ack_frame *a)
{
	check(a->n >= 1 && a->n <= CW_ACK_FRAME_MAX_RANGES);
	check(a->range_count + 1 >= a->n);
	check(a->n == CW_ACK_FRAME_MAX_RANGES || a->n == a->range_count + 1);
	check(a->r[0].hi <= CW_PN_MAX);
	for (size_t i = 0; i < a->n; i++) {
		check(a->r[i].lo <= a->r[i].hi);
		if (i > 0)
			check(a->r[i].hi + 1 < a->r[i - 1].lo);
	}
}

/* The limits of §8 and §16 that a decoded frame always respects. */
static void check_limits(const struct input *in, const struct cw_frame *f)
{
	check(f->wire_len >= 1 && f->wire_len <= in->len);
	check(cw_frame_allowed(f->type, in->pkt, in->from));
	switch (f->type) {
	case CW_FRAME_ACK:
		check_ack(&f->ack);
		break;
	case CW_FRAME_CRYPTO:
		check(inside(in, f->crypto.data, f->crypto.len));
		check(f->crypto.offset + f->crypto.len <= CW_CRYPTO_STREAM_MAX);
		break;
	case CW_FRAME_STREAM:
		check(inside(in, f->stream.data, f->stream.len));
		check(f->stream.offset + f->stream.len <= CW_STREAM_OFFSET_MAX);
		check(!(f->stream.stream_id & CW_STREAM_ID_BAD_BITS));
		break;
	case CW_FRAME_RESET_STREAM:
		check(!(f->reset_stream.stream_id & CW_STREAM_ID_BAD_BITS));
		break;
	case CW_FRAME_STOP_SENDING:
		check(!(f->stop_sending.stream_id & CW_STREAM_ID_BAD_BITS));
		break;
	case CW_FRAME_MAX_STREAM_DATA:
	case CW_FRAME_STREAM_DATA_BLOCKED:
		check(!(f->max_stream_data.stream_id & CW_STREAM_ID_BAD_BITS));
		break;
	case CW_FRAME_MAX_STREAMS:
		check(f->max_streams.max <= CW_MAX_STREAMS_MAX);
		break;
	case CW_FRAME_CONNECTION_CLOSE:
		check(inside(in, f->close.reason, f->close.reason_len));
		check(f->close.reason_len <= CW_CLOSE_REASON_MAX);
		check(in->pkt == CW_PKT_SHORT || f->close.error_code < CW_APP_ERROR_MIN);
		break;
	default:
		break;
	}
}

static bool same_frame(const struct cw_frame *a, const struct cw_frame *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case CW_FRAME_PADDING:
		return a->wire_len == b->wire_len;
	case CW_FRAME_ACK:
		return a->ack.ack_delay == b->ack.ack_delay && a->ack.n == b->ack.n &&
		       b->ack.range_count + 1 == b->ack.n &&
		       memcmp(a->ack.r, b->ack.r, a->ack.n * sizeof(a->ack.r[0])) == 0;
	case CW_FRAME_RESET_STREAM:
		return memcmp(&a->reset_stream, &b->reset_stream, sizeof(a->reset_stream)) == 0;
	case CW_FRAME_STOP_SENDING:
		return memcmp(&a->stop_sending, &b->stop_sending, sizeof(a->stop_sending)) == 0;
	case CW_FRAME_CRYPTO:
		return a->crypto.offset == b->crypto.offset &&
		       bytes_equal(a->crypto.data, a->crypto.len, b->crypto.data, b->crypto.len);
	case CW_FRAME_STREAM:
		return a->stream.stream_id == b->stream.stream_id &&
		       a->stream.offset == b->stream.offset && a->stream.fin == b->stream.fin &&
		       bytes_equal(a->stream.data, a->stream.len, b->stream.data, b->stream.len);
	case CW_FRAME_MAX_DATA:
	case CW_FRAME_MAX_STREAMS:
	case CW_FRAME_DATA_BLOCKED:
		return a->max_data.max == b->max_data.max;
	case CW_FRAME_MAX_STREAM_DATA:
	case CW_FRAME_STREAM_DATA_BLOCKED:
		return a->max_stream_data.stream_id == b->max_stream_data.stream_id &&
		       a->max_stream_data.max == b->max_stream_data.max;
	case CW_FRAME_CONNECTION_CLOSE:
		return a->close.error_code == b->close.error_code &&
		       a->close.frame_type == b->close.frame_type &&
		       bytes_equal(a->close.reason, a->close.reason_len, b->close.reason,
				   b->close.reason_len);
	default:
		return true;
	}
}

/* Encode @f into exactly its predicted size and decode it back. */
static void check_reencode(const struct input *in, const struct cw_frame *f)
{
	struct cw_frame_iter it;
	struct cw_frame g;
	size_t size = cw_frame_size(f);
	uint8_t *buf;
	int n;

	if (f->type == CW_FRAME_STREAM && f->stream.len == 0 && !f->stream.fin) {
		/* Decoded so that it can be ignored, but never sent (§8.8). */
		uint8_t b[32];

		check(size == 0 && cw_frame_encode(b, sizeof(b), f) == -EINVAL);
		return;
	}
	check(size > 0);
	buf = malloc(size);
	check(buf != NULL);
	n = cw_frame_encode(buf, size - 1, f);
	check(n == -ENOSPC ||
	      (f->type == CW_FRAME_ACK && f->ack.n > 1 && n > 0 && (size_t)n < size));
	n = cw_frame_encode(buf, size, f);
	check(n > 0 && (size_t)n == size);
	cw_frame_iter_init(&it, buf, size, in->pkt, in->from);
	check(cw_frame_next(&it, &g) == 1);
	check(g.wire_len == size && same_frame(f, &g));
	check(cw_frame_next(&it, &g) == 0);
	free(buf);
}

/* The fit helpers, at the space the frame took and a little less. */
static void check_fit(const struct cw_frame *f)
{
	size_t space = f->wire_len, d;
	uint64_t limit;

	if (f->type == CW_FRAME_STREAM) {
		for (int last = 0; last < 2; last++) {
			d = cw_frame_stream_fit(f->stream.stream_id, f->stream.offset, space, last);
			limit = CW_STREAM_OFFSET_MAX - f->stream.offset;
			check(d <= limit);
			check(d == 0 || cw_frame_stream_size(f->stream.stream_id, f->stream.offset,
							     d, last) <= space);
			check(d == limit ||
			      cw_frame_stream_size(f->stream.stream_id, f->stream.offset, d + 1,
						   last) > space);
		}
		/* The frame as sent fits the space it took, shape aside. */
		check(cw_frame_stream_fit(f->stream.stream_id, f->stream.offset, space, true) >=
		      f->stream.len);
	} else if (f->type == CW_FRAME_CRYPTO) {
		d = cw_frame_crypto_fit(f->crypto.offset, space);
		limit = CW_CRYPTO_STREAM_MAX - f->crypto.offset;
		check(d <= limit && d >= f->crypto.len);
		check(d == 0 || cw_frame_crypto_size(f->crypto.offset, d) <= space);
		check(d == limit || cw_frame_crypto_size(f->crypto.offset, d + 1) > space);
	}
}

static void check_error(struct cw_frame_iter *it, int rc)
{
	struct cw_frame f;

	check(rc == -EPROTO || rc == -EOPNOTSUPP || rc == -EBADMSG || rc == -ERANGE ||
	      rc == -ENOSTR || rc == -ENOBUFS || rc == -ENODATA);
	check(cw_frame_error_code(rc) != CW_TE_INTERNAL_ERROR);
	check(rc != -ENODATA || it->len == 0);
	if (rc == -EOPNOTSUPP)
		check(!cw_frame_allowed(it->frame_type, CW_PKT_SHORT, CW_FROM_GATEWAY) &&
		      !cw_frame_allowed(it->frame_type, CW_PKT_HANDSHAKE, CW_FROM_GATEWAY));
	if (rc == -EPROTO)
		check(!cw_frame_allowed(it->frame_type, it->pkt, it->from) ||
		      it->frame_type == CW_FRAME_CONNECTION_CLOSE);
	check(cw_frame_next(it, &f) == rc && it->err == rc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum cw_pkt_type pkts[] = {CW_PKT_INITIAL, CW_PKT_HANDSHAKE, CW_PKT_SHORT,
						CW_PKT_SHORT};
	struct input in;
	struct cw_frame_iter it;
	struct cw_frame f;
	bool eliciting = false, in_flight = false;
	size_t frames = 0, consumed = 0;
	int rc;

	if (size == 0)
		return 0;
	in.pkt = pkts[data[0] & 3];
	in.from = (data[0] & 4) ? CW_FROM_GATEWAY : CW_FROM_AGENT;
	in.p = data + 1;
	in.len = size - 1;
	cw_frame_iter_init(&it, in.p, in.len, in.pkt, in.from);
	while ((rc = cw_frame_next(&it, &f)) == 1) {
		check(++frames <= in.len);
		consumed += f.wire_len;
		check(consumed == it.off);
		check_limits(&in, &f);
		check_reencode(&in, &f);
		check_fit(&f);
		eliciting |= cw_frame_ack_eliciting(f.type);
		in_flight |= cw_frame_ack_eliciting(f.type) || f.type == CW_FRAME_PADDING;
		check(it.ack_eliciting == eliciting && it.in_flight == in_flight);
	}
	if (rc == 0) {
		check(it.off == in.len && in.len > 0);
		check(cw_frame_next(&it, &f) == 0);
	} else {
		check_error(&it, rc);
	}
	return 0;
}
