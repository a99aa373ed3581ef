/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tunnel/frame.c: PROTOCOL.md's worked examples byte for byte, a round trip
 * of every frame type at its boundary values, every rejection with its
 * error and transport code, the §8.1 permission table cell by cell, and
 * the size and fit helpers a packetiser relies on.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tunnel/frame.h"
#include "tunnel/varint.h"

#define N(a)	   (sizeof(a) / sizeof((a)[0]))
#define VMAX	   CW_VARINT_MAX
#define BYTES(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

static const uint8_t hello[] = {'h', 'e', 'l', 'l', 'o'};
static uint8_t big[CW_CRYPTO_STREAM_MAX]; /* data for large frames; see setup */

/* Exactly one frame in @p, of type @pkt from @from; it is left in @f. */
static void decode_one(const uint8_t *p, size_t len, enum cw_pkt_type pkt,
		       enum cw_frame_sender from, struct cw_frame *f)
{
	struct cw_frame_iter it;

	cw_frame_iter_init(&it, p, len, pkt, from);
	assert_int_equal(cw_frame_next(&it, f), 1);
	assert_int_equal(f->wire_len, len);
	assert_int_equal(cw_frame_next(&it, f), 0);
	assert_int_equal(it.err, 0);
}

static void assert_same_bytes(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	assert_int_equal(alen, blen);
	if (alen)
		assert_memory_equal(a, b, alen);
}

/* The fields @want sets, compared with what was decoded. */
static void assert_frame_equal(const struct cw_frame *want, const struct cw_frame *got)
{
	assert_int_equal(got->type, want->type);
	switch (want->type) {
	case CW_FRAME_PADDING:
		assert_int_equal(got->wire_len, want->wire_len);
		break;
	case CW_FRAME_PING:
	case CW_FRAME_HANDSHAKE_DONE:
		break;
	case CW_FRAME_ACK:
		assert_true(got->ack.ack_delay == want->ack.ack_delay);
		assert_int_equal(got->ack.n, want->ack.n);
		assert_true(got->ack.range_count == want->ack.n - 1);
		for (size_t i = 0; i < want->ack.n; i++) {
			assert_true(got->ack.r[i].hi == want->ack.r[i].hi);
			assert_true(got->ack.r[i].lo == want->ack.r[i].lo);
		}
		break;
	case CW_FRAME_RESET_STREAM:
		assert_memory_equal(&got->reset_stream, &want->reset_stream,
				    sizeof(want->reset_stream));
		break;
	case CW_FRAME_STOP_SENDING:
		assert_memory_equal(&got->stop_sending, &want->stop_sending,
				    sizeof(want->stop_sending));
		break;
	case CW_FRAME_CRYPTO:
		assert_true(got->crypto.offset == want->crypto.offset);
		assert_same_bytes(got->crypto.data, got->crypto.len, want->crypto.data,
				  want->crypto.len);
		break;
	case CW_FRAME_STREAM:
		assert_true(got->stream.stream_id == want->stream.stream_id);
		assert_true(got->stream.offset == want->stream.offset);
		assert_int_equal(got->stream.fin, want->stream.fin);
		assert_same_bytes(got->stream.data, got->stream.len, want->stream.data,
				  want->stream.len);
		break;
	case CW_FRAME_MAX_DATA:
	case CW_FRAME_MAX_STREAMS:
	case CW_FRAME_DATA_BLOCKED:
		assert_true(got->max_data.max == want->max_data.max);
		break;
	case CW_FRAME_MAX_STREAM_DATA:
	case CW_FRAME_STREAM_DATA_BLOCKED:
		assert_true(got->max_stream_data.stream_id == want->max_stream_data.stream_id);
		assert_true(got->max_stream_data.max == want->max_stream_data.max);
		break;
	case CW_FRAME_CONNECTION_CLOSE:
		assert_true(got->close.error_code == want->close.error_code);
		assert_true(got->close.frame_type == want->close.frame_type);
		assert_same_bytes(got->close.reason, got->close.reason_len, want->close.reason,
				  want->close.reason_len);
		break;
	}
}

/* ---- PROTOCOL.md's examples ---- */

/* B.7: stream 4, offset 1024, "hello", FIN. */
static void test_example_stream(void **state)
{
	static const uint8_t want[] = {0x0f, 0x04, 0x44, 0x00, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f};
	const struct cw_frame_stream s = {
	    .stream_id = 4, .offset = 1024, .data = hello, .len = 5, .fin = true};
	uint8_t buf[32];
	struct cw_frame f;

	(void)state;
	assert_int_equal(cw_frame_stream_size(4, 1024, 5, false), sizeof(want));
	assert_int_equal(cw_frame_encode_stream(buf, sizeof(buf), &s, false), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	decode_one(want, sizeof(want), CW_PKT_SHORT, CW_FROM_AGENT, &f);
	assert_int_equal(f.type, CW_FRAME_STREAM);
	assert_true(f.stream.stream_id == 4 && f.stream.offset == 1024 && f.stream.fin);
	assert_int_equal(f.stream.len, 5);
	assert_ptr_equal(f.stream.data, want + 5);
}

/* B.8: the Dial envelope as the first bytes of gateway stream 1. */
static void test_example_envelope(void **state)
{
	static const uint8_t msg[] = {0x12, 0x3a, 0x10, 0x08, 0x07, 0x12, 0x09, 0x31, 0x32, 0x37,
				      0x2e, 0x30, 0x2e, 0x30, 0x2e, 0x31, 0x18, 0x8a, 0x50};
	static const uint8_t want[] = {0x0a, 0x01, 0x13, 0x12, 0x3a, 0x10, 0x08, 0x07,
				       0x12, 0x09, 0x31, 0x32, 0x37, 0x2e, 0x30, 0x2e,
				       0x30, 0x2e, 0x31, 0x18, 0x8a, 0x50};
	const struct cw_frame_stream s = {.stream_id = 1, .data = msg, .len = sizeof(msg)};
	uint8_t buf[32];
	struct cw_frame f;

	(void)state;
	assert_int_equal(cw_frame_encode_stream(buf, sizeof(buf), &s, false), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	decode_one(want, sizeof(want), CW_PKT_SHORT, CW_FROM_GATEWAY, &f);
	assert_true(f.stream.stream_id == 1 && f.stream.offset == 0 && !f.stream.fin);
	assert_same_bytes(f.stream.data, f.stream.len, msg, sizeof(msg));
}

/* B.6: packets 95-100 and 80-90, 1000 µs after packet 100. */
static void test_example_ack(void **state)
{
	static const uint8_t want[] = {0x02, 0x40, 0x64, 0x40, 0x7d, 0x01, 0x05, 0x03, 0x0a};
	const struct cw_ack_range r[] = {{95, 100}, {80, 90}};
	uint8_t buf[32];
	struct cw_frame f;

	(void)state;
	assert_int_equal(cw_frame_ack_size(r, 2, 1000 >> 3), sizeof(want));
	assert_int_equal(cw_frame_encode_ack(buf, sizeof(buf), r, 2, 1000 >> 3), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	const enum cw_pkt_type pkts[] = {CW_PKT_INITIAL, CW_PKT_HANDSHAKE, CW_PKT_SHORT};

	for (size_t p = 0; p < N(pkts); p++) {
		decode_one(want, sizeof(want), pkts[p], CW_FROM_GATEWAY, &f);
		assert_int_equal(f.type, CW_FRAME_ACK);
		assert_true(f.ack.ack_delay == 125 && f.ack.range_count == 1);
		assert_int_equal(f.ack.n, 2);
		assert_true(f.ack.r[0].hi == 100 && f.ack.r[0].lo == 95);
		assert_true(f.ack.r[1].hi == 90 && f.ack.r[1].lo == 80);
	}
}

/* B.5's plaintext, and §11.1's bound on the gateway's keepalive ACK. */
static void test_example_ping_and_idle_ack(void **state)
{
	const struct cw_ack_range worst = {.lo = 0, .hi = (UINT64_C(1) << 30) - 1};
	struct cw_frame_iter it;
	uint8_t buf[16];
	struct cw_frame f;

	(void)state;
	assert_int_equal(cw_frame_encode_ping(buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 0x01);
	cw_frame_iter_init(&it, buf, 1, CW_PKT_SHORT, CW_FROM_AGENT);
	assert_int_equal(cw_frame_next(&it, &f), 1);
	assert_int_equal(f.type, CW_FRAME_PING);
	assert_true(it.ack_eliciting && it.in_flight);
	/* Largest and first range below 2^30, delay up to 25 ms: 12 bytes. */
	assert_int_equal(cw_frame_ack_size(&worst, 1, 25000 >> 3), 12);
}

/* ---- Round trips ---- */

static const struct cw_ack_range ack_full[] = {{0, VMAX}};
static struct cw_ack_range ack_64[64]; /* see setup */

static const uint8_t reason256[CW_CLOSE_REASON_MAX] = {'x'};

static const struct cw_frame round_trips[] = {
    {.type = CW_FRAME_PADDING, .wire_len = 1},
    {.type = CW_FRAME_PADDING, .wire_len = 1200},
    {.type = CW_FRAME_PING},
    {.type = CW_FRAME_HANDSHAKE_DONE},
    {.type = CW_FRAME_ACK, .ack = {.ack_delay = 0, .n = 1, .r = {{0, 0}}}},
    {.type = CW_FRAME_ACK, .ack = {.ack_delay = VMAX, .n = 1, .r = {{VMAX, VMAX}}}},
    {.type = CW_FRAME_ACK, .ack = {.ack_delay = 63, .n = 1, .r = {{0, VMAX}}}},
    {.type = CW_FRAME_ACK,
     .ack = {.ack_delay = 64, .n = 3, .r = {{1000, 16383}, {63, 998}, {0, 0}}}},
    {.type = CW_FRAME_RESET_STREAM, .reset_stream = {0, 0, 0}},
    {.type = CW_FRAME_RESET_STREAM, .reset_stream = {VMAX - 2, VMAX, VMAX}},
    {.type = CW_FRAME_RESET_STREAM, .reset_stream = {61, 64, 16383}},
    {.type = CW_FRAME_RESET_STREAM, .reset_stream = {64, 16384, 1u << 30}},
    {.type = CW_FRAME_STOP_SENDING, .stop_sending = {1, 0}},
    {.type = CW_FRAME_STOP_SENDING, .stop_sending = {16384, (UINT64_C(1) << 30) - 1}},
    {.type = CW_FRAME_STOP_SENDING, .stop_sending = {VMAX - 3, UINT64_C(1) << 30}},
    {.type = CW_FRAME_CRYPTO, .crypto = {.offset = 0, .data = hello, .len = 5}},
    {.type = CW_FRAME_CRYPTO, .crypto = {.offset = 0, .data = NULL, .len = 0}},
    {.type = CW_FRAME_CRYPTO, .crypto = {.offset = CW_CRYPTO_STREAM_MAX, .len = 0}},
    {.type = CW_FRAME_CRYPTO,
     .crypto = {.offset = CW_CRYPTO_STREAM_MAX - 5, .data = hello, .len = 5}},
    {.type = CW_FRAME_STREAM, .stream = {.stream_id = 0, .offset = 0, .data = hello, .len = 1}},
    {.type = CW_FRAME_STREAM, .stream = {.stream_id = 0, .offset = 0, .len = 0, .fin = true}},
    {.type = CW_FRAME_STREAM, .stream = {.stream_id = 5, .offset = 63, .data = hello, .len = 5}},
    {.type = CW_FRAME_STREAM,
     .stream = {.stream_id = VMAX - 2, .offset = VMAX, .len = 0, .fin = true}},
    {.type = CW_FRAME_STREAM,
     .stream = {.stream_id = 8, .offset = VMAX - 5, .data = hello, .len = 5, .fin = true}},
    {.type = CW_FRAME_MAX_DATA, .max_data = {0}},
    {.type = CW_FRAME_MAX_DATA, .max_data = {VMAX}},
    {.type = CW_FRAME_MAX_STREAM_DATA, .max_stream_data = {0, VMAX}},
    {.type = CW_FRAME_MAX_STREAM_DATA, .max_stream_data = {VMAX - 3, 64}},
    {.type = CW_FRAME_MAX_STREAMS, .max_streams = {0}},
    {.type = CW_FRAME_MAX_STREAMS, .max_streams = {CW_MAX_STREAMS_MAX}},
    {.type = CW_FRAME_DATA_BLOCKED, .data_blocked = {16383}},
    {.type = CW_FRAME_DATA_BLOCKED, .data_blocked = {VMAX}},
    {.type = CW_FRAME_STREAM_DATA_BLOCKED, .stream_data_blocked = {4, 0}},
    {.type = CW_FRAME_STREAM_DATA_BLOCKED, .stream_data_blocked = {VMAX - 2, VMAX}},
    {.type = CW_FRAME_CONNECTION_CLOSE, .close = {0, 0, NULL, 0}},
    {.type = CW_FRAME_CONNECTION_CLOSE, .close = {0x0fff, 0x1e, hello, 5}},
    {.type = CW_FRAME_CONNECTION_CLOSE, .close = {VMAX, VMAX, reason256, CW_CLOSE_REASON_MAX}},
};

/* A packet type that may carry @f, sent by the gateway (which may send all). */
static enum cw_pkt_type carrier(const struct cw_frame *f)
{
	if (f->type == CW_FRAME_CRYPTO)
		return CW_PKT_HANDSHAKE;
	return CW_PKT_SHORT;
}

/* Encode @f, check size and bytes against the other paths, decode it back. */
static void round_trip(const struct cw_frame *f)
{
	static uint8_t buf[2048], back[2048];
	struct cw_frame got;
	size_t size = cw_frame_size(f);
	int n;

	assert_true(size > 0 && size <= sizeof(buf));
	/* One byte short: nothing written at all. */
	memset(buf, 0xa5, sizeof(buf));
	if (f->type != CW_FRAME_ACK) {
		assert_int_equal(cw_frame_encode(buf, size - 1, f), -ENOSPC);
		for (size_t i = 0; i < sizeof(buf); i++)
			assert_int_equal(buf[i], 0xa5);
	}
	n = cw_frame_encode(buf, size, f);
	assert_int_equal(n, size);
	decode_one(buf, size, carrier(f), CW_FROM_GATEWAY, &got);
	assert_frame_equal(f, &got);
	/* What was decoded encodes to the same bytes. */
	assert_int_equal(cw_frame_size(&got), size);
	assert_int_equal(cw_frame_encode(back, sizeof(back), &got), size);
	assert_memory_equal(back, buf, size);
}

static void test_round_trip(void **state)
{
	(void)state;
	for (size_t i = 0; i < N(round_trips); i++)
		round_trip(&round_trips[i]);
}

/* Exact bytes at the varint length boundaries, one frame type each. */
static void test_exact_bytes(void **state)
{
	static const struct {
		struct cw_frame f;
		uint8_t want[16];
		size_t len;
	} rows[] = {
	    {{.type = CW_FRAME_HANDSHAKE_DONE}, {0x1e}, 1},
	    {{.type = CW_FRAME_PADDING, .wire_len = 3}, {0, 0, 0}, 3},
	    {{.type = CW_FRAME_RESET_STREAM, .reset_stream = {64, 16384, 1u << 30}},
	     {0x04, 0x40, 0x40, 0x80, 0x00, 0x40, 0x00, 0xc0, 0, 0, 0, 0x40, 0, 0, 0},
	     15},
	    {{.type = CW_FRAME_STOP_SENDING, .stop_sending = {16384, (UINT64_C(1) << 30) - 1}},
	     {0x05, 0x80, 0x00, 0x40, 0x00, 0xbf, 0xff, 0xff, 0xff},
	     9},
	    {{.type = CW_FRAME_CRYPTO, .crypto = {.offset = 65531, .data = hello, .len = 5}},
	     {0x06, 0x80, 0x00, 0xff, 0xfb, 0x05, 'h', 'e', 'l', 'l', 'o'},
	     11},
	    {{.type = CW_FRAME_STREAM,
	      .stream = {.stream_id = 5, .offset = 63, .data = hello, .len = 5}},
	     {0x0e, 0x05, 0x3f, 0x05, 'h', 'e', 'l', 'l', 'o'},
	     9},
	    {{.type = CW_FRAME_MAX_DATA, .max_data = {VMAX}},
	     {0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	     9},
	    {{.type = CW_FRAME_MAX_STREAM_DATA, .max_stream_data = {0, 63}}, {0x11, 0x00, 0x3f}, 3},
	    {{.type = CW_FRAME_MAX_STREAMS, .max_streams = {CW_MAX_STREAMS_MAX}},
	     {0x12, 0xd0, 0, 0, 0, 0, 0, 0, 0},
	     9},
	    {{.type = CW_FRAME_DATA_BLOCKED, .data_blocked = {16383}}, {0x14, 0x7f, 0xff}, 3},
	    {{.type = CW_FRAME_STREAM_DATA_BLOCKED, .stream_data_blocked = {4, 0}},
	     {0x15, 0x04, 0x00},
	     3},
	    {{.type = CW_FRAME_CONNECTION_CLOSE, .close = {0x0fff, 0x1e, hello, 5}},
	     {0x1c, 0x4f, 0xff, 0x1e, 0x05, 'h', 'e', 'l', 'l', 'o'},
	     10},
	};
	uint8_t buf[32];

	(void)state;
	for (size_t i = 0; i < N(rows); i++) {
		assert_int_equal(cw_frame_size(&rows[i].f), rows[i].len);
		assert_int_equal(cw_frame_encode(buf, sizeof(buf), &rows[i].f), rows[i].len);
		assert_memory_equal(buf, rows[i].want, rows[i].len);
	}
}

/* The 64 ranges an ACK frame keeps, and a frame of 2 KiB of data. */
static void test_round_trip_large(void **state)
{
	struct cw_frame f = {.type = CW_FRAME_ACK, .ack = {.ack_delay = 3125, .n = 64}};

	(void)state;
	memcpy(f.ack.r, ack_64, sizeof(ack_64));
	round_trip(&f);
	f = (struct cw_frame){.type = CW_FRAME_STREAM,
			      .stream = {.stream_id = 9, .offset = 1, .data = big, .len = 1500}};
	round_trip(&f);
	f = (struct cw_frame){.type = CW_FRAME_CRYPTO,
			      .crypto = {.offset = 16384, .data = big, .len = 1500}};
	round_trip(&f);
}

/* Non-minimal varints are accepted everywhere, the type included (§3). */
static void test_non_minimal(void **state)
{
	static const uint8_t stream[] = {0x40, 0x0f, 0x80, 0x00, 0x00, 0x04, 0x40, 0x00, 0xc0,
					 0,    0,    0,	   0,	 0,    0,    0x02, 'h',	 'i'};
	static const uint8_t ack[] = {0x40, 0x02, 0x40, 0x05, 0x00, 0x40, 0x00, 0x00};
	struct cw_frame f;

	(void)state;
	decode_one(stream, sizeof(stream), CW_PKT_SHORT, CW_FROM_AGENT, &f);
	assert_true(f.stream.stream_id == 4 && f.stream.offset == 0 && f.stream.fin);
	assert_same_bytes(f.stream.data, f.stream.len, (const uint8_t *)"hi", 2);
	decode_one(ack, sizeof(ack), CW_PKT_INITIAL, CW_FROM_AGENT, &f);
	assert_true(f.ack.n == 1 && f.ack.r[0].hi == 5 && f.ack.r[0].lo == 5);
	decode_one(BYTES(0x40, 0x01), CW_PKT_INITIAL, CW_FROM_AGENT, &f);
	assert_int_equal(f.type, CW_FRAME_PING);
}

/* An ACK with more ranges than are kept: all are read, 64 kept. */
static void test_ack_many_ranges(void **state)
{
	uint8_t buf[512];
	struct cw_frame f;
	size_t off = 0;

	(void)state;
	/* Largest 1000, 70 ranges of one packet each, gaps of one packet. */
	buf[off++] = 0x02;
	off += (size_t)cw_varint_encode(buf + off, sizeof(buf) - off, 1000);
	buf[off++] = 0;
	off += (size_t)cw_varint_encode(buf + off, sizeof(buf) - off, 69);
	buf[off++] = 0;
	for (int i = 0; i < 69; i++) {
		buf[off++] = 0; /* gap 0: one packet missing */
		buf[off++] = 0;
	}
	decode_one(buf, off, CW_PKT_SHORT, CW_FROM_AGENT, &f);
	assert_true(f.ack.range_count == 69);
	assert_int_equal(f.ack.n, CW_ACK_FRAME_MAX_RANGES);
	assert_true(f.ack.r[63].hi == 1000 - 2 * 63 && f.ack.r[63].lo == 1000 - 2 * 63);
}

/* A STREAM frame without Length runs to the end of the payload. */
static void test_stream_last(void **state)
{
	const struct cw_frame_stream s = {.stream_id = 4, .offset = 0, .data = hello, .len = 5};
	const struct cw_frame_stream fin = {.stream_id = 1, .offset = 7, .fin = true};
	uint8_t buf[32];
	struct cw_frame_iter it;
	struct cw_frame f;
	int n;

	(void)state;
	buf[0] = CW_FRAME_PING;
	assert_int_equal(cw_frame_stream_size(4, 0, 5, true), 7);
	n = cw_frame_encode_stream(buf + 1, sizeof(buf) - 1, &s, true);
	assert_int_equal(n, 7);
	assert_memory_equal(buf + 1, ((const uint8_t[]){0x08, 0x04, 'h', 'e', 'l', 'l', 'o'}), 7);
	cw_frame_iter_init(&it, buf, 8, CW_PKT_SHORT, CW_FROM_AGENT);
	assert_int_equal(cw_frame_next(&it, &f), 1);
	assert_int_equal(cw_frame_next(&it, &f), 1);
	assert_int_equal(f.wire_len, 7);
	assert_same_bytes(f.stream.data, f.stream.len, hello, 5);
	assert_int_equal(cw_frame_next(&it, &f), 0);

	/* FIN with no data, as the last frame: type, ID, offset only. */
	assert_int_equal(cw_frame_encode_stream(buf, sizeof(buf), &fin, true), 3);
	assert_memory_equal(buf, ((const uint8_t[]){0x0d, 0x01, 0x07}), 3);
	decode_one(buf, 3, CW_PKT_SHORT, CW_FROM_GATEWAY, &f);
	assert_true(f.stream.fin && f.stream.len == 0 && f.stream.offset == 7);

	/* No data and no FIN is decoded (the receiver ignores it, §8.8). */
	decode_one(BYTES(0x0a, 0x04, 0x00), CW_PKT_SHORT, CW_FROM_AGENT, &f);
	assert_true(!f.stream.fin && f.stream.len == 0);
	decode_one(BYTES(0x08, 0x04), CW_PKT_SHORT, CW_FROM_AGENT, &f);
	assert_true(!f.stream.fin && f.stream.len == 0);
}

/* A run of PADDING is one frame; PADDING makes a packet in flight only. */
static void test_padding_and_flags(void **state)
{
	static uint8_t pad[1200];
	struct cw_frame_iter it;
	struct cw_frame f;

	(void)state;
	decode_one(pad, sizeof(pad), CW_PKT_INITIAL, CW_FROM_AGENT, &f);
	assert_int_equal(f.type, CW_FRAME_PADDING);

	cw_frame_iter_init(&it, BYTES(0x01, 0, 0, 0, 0, 0, 0x01), CW_PKT_HANDSHAKE, CW_FROM_AGENT);
	assert_int_equal(cw_frame_next(&it, &f), 1);
	assert_int_equal(f.wire_len, 1);
	assert_int_equal(cw_frame_next(&it, &f), 1);
	assert_true(f.type == CW_FRAME_PADDING && f.wire_len == 5);
	assert_int_equal(cw_frame_next(&it, &f), 1);
	assert_int_equal(cw_frame_next(&it, &f), 0);

	cw_frame_iter_init(&it, BYTES(0x02, 0x05, 0x00, 0x00, 0x00), CW_PKT_SHORT, CW_FROM_AGENT);
	while (cw_frame_next(&it, &f) > 0)
		;
	assert_true(!it.ack_eliciting && !it.in_flight && it.err == 0);

	cw_frame_iter_init(&it, BYTES(0x02, 0x05, 0x00, 0x00, 0x00, 0x00), CW_PKT_INITIAL,
			   CW_FROM_GATEWAY);
	while (cw_frame_next(&it, &f) > 0)
		;
	assert_true(!it.ack_eliciting && it.in_flight && it.err == 0);

	cw_frame_iter_init(&it, BYTES(0x1c, 0x00, 0x00, 0x00), CW_PKT_SHORT, CW_FROM_AGENT);
	while (cw_frame_next(&it, &f) > 0)
		;
	assert_true(!it.ack_eliciting && !it.in_flight && it.err == 0);

	cw_frame_iter_init(&it, BYTES(0x10, 0x00), CW_PKT_SHORT, CW_FROM_AGENT);
	while (cw_frame_next(&it, &f) > 0)
		;
	assert_true(it.ack_eliciting && it.in_flight && it.err == 0);
}

/* A longer reason than §8.14 allows is accepted and cut to 256 bytes. */
static void test_close_reason_truncated(void **state)
{
	uint8_t buf[400];
	struct cw_frame f;

	(void)state;
	memset(buf, 'r', sizeof(buf));
	memcpy(buf, ((const uint8_t[]){0x1c, 0x50, 0x05, 0x10, 0x41, 0x2c}), 6); /* 300 */
	decode_one(buf, 306, CW_PKT_SHORT, CW_FROM_GATEWAY, &f);
	assert_true(f.close.error_code == 0x1005 && f.close.frame_type == 0x10);
	assert_int_equal(f.close.reason_len, CW_CLOSE_REASON_MAX);
	assert_ptr_equal(f.close.reason, buf + 6);
	assert_int_equal(cw_frame_encode_connection_close(buf, sizeof(buf), 0, 0, buf, 257),
			 -EINVAL);
}

/* ---- Rejections ---- */

struct reject {
	const char *what;
	enum cw_pkt_type pkt;
	enum cw_frame_sender from;
	uint8_t in[24];
	size_t len;
	int good;	     /* frames decoded before the bad one */
	int err;	     /* cw_frame_next() */
	uint64_t code;	     /* cw_frame_error_code() */
	uint64_t frame_type; /* it.frame_type after the error */
};

#define IN(...)	   .in = {__VA_ARGS__}, .len = sizeof((const uint8_t[]){__VA_ARGS__})
#define S	   CW_PKT_SHORT
#define I	   CW_PKT_INITIAL
#define H	   CW_PKT_HANDSHAKE
#define AG	   CW_FROM_AGENT
#define GW	   CW_FROM_GATEWAY
#define FEE	   CW_TE_FRAME_ENCODING_ERROR
#define PV	   CW_TE_PROTOCOL_VIOLATION
#define VMAX_BYTES 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff

static const struct reject rejects[] = {
    /* §8.1: empty payload */
    {"empty 1-RTT", S, AG, .len = 0, 0, -ENODATA, PV, 0},
    {"empty INITIAL", I, GW, .len = 0, 0, -ENODATA, PV, 0},
    /* unknown types */
    {"0x03", S, AG, IN(0x03), 0, -EOPNOTSUPP, FEE, 0x03},
    {"0x07", S, AG, IN(0x01, 0x07), 1, -EOPNOTSUPP, FEE, 0x07},
    {"0x13", S, AG, IN(0x13, 0x00), 0, -EOPNOTSUPP, FEE, 0x13},
    {"0x16", S, AG, IN(0x16), 0, -EOPNOTSUPP, FEE, 0x16},
    {"0x1b", S, AG, IN(0x1b), 0, -EOPNOTSUPP, FEE, 0x1b},
    {"0x1d", S, AG, IN(0x1d), 0, -EOPNOTSUPP, FEE, 0x1d},
    {"0x1f", S, GW, IN(0x1f), 0, -EOPNOTSUPP, FEE, 0x1f},
    {"0x20", S, AG, IN(0x20), 0, -EOPNOTSUPP, FEE, 0x20},
    {"0x3f", I, AG, IN(0x3f), 0, -EOPNOTSUPP, FEE, 0x3f},
    {"0x401f", S, AG, IN(0x40, 0x1f), 0, -EOPNOTSUPP, FEE, 0x1f},
    {"0x1e << 8", S, GW, IN(0x5e, 0x00), 0, -EOPNOTSUPP, FEE, 0x1e00},
    {"2^62-1", S, AG, IN(VMAX_BYTES), 0, -EOPNOTSUPP, FEE, VMAX},
    {"unknown in INITIAL", I, AG, IN(0x03), 0, -EOPNOTSUPP, FEE, 0x03},
    /* truncated type */
    {"type cut", S, AG, IN(0x01, 0x40), 1, -EBADMSG, FEE, 0},
    {"type cut 8", S, AG, IN(0xc0, 0, 0), 0, -EBADMSG, FEE, 0},
    /* §8.1 table */
    {"STREAM in INITIAL", I, AG, IN(0x08, 0x00, 0x01), 0, -EPROTO, PV, 0x08},
    {"STREAM in HANDSHAKE", H, GW, IN(0x0f, 0, 0, 0), 0, -EPROTO, PV, 0x0f},
    {"RESET_STREAM in HANDSHAKE", H, AG, IN(0x04, 0, 0, 0), 0, -EPROTO, PV, 0x04},
    {"STOP_SENDING in INITIAL", I, AG, IN(0x05, 0, 0), 0, -EPROTO, PV, 0x05},
    {"MAX_DATA in HANDSHAKE", H, GW, IN(0x10, 0), 0, -EPROTO, PV, 0x10},
    {"MAX_STREAM_DATA in INITIAL", I, AG, IN(0x11, 0, 0), 0, -EPROTO, PV, 0x11},
    {"MAX_STREAMS in HANDSHAKE", H, AG, IN(0x12, 0), 0, -EPROTO, PV, 0x12},
    {"DATA_BLOCKED in INITIAL", I, AG, IN(0x14, 0), 0, -EPROTO, PV, 0x14},
    {"STREAM_DATA_BLOCKED in HS", H, AG, IN(0x15, 0, 0), 0, -EPROTO, PV, 0x15},
    {"CRYPTO in 1-RTT", S, GW, IN(0x06, 0x00, 0x01, 0xaa), 0, -EPROTO, PV, 0x06},
    {"HANDSHAKE_DONE in HS", H, GW, IN(0x1e), 0, -EPROTO, PV, 0x1e},
    {"HANDSHAKE_DONE in INITIAL", I, GW, IN(0x1e), 0, -EPROTO, PV, 0x1e},
    {"HANDSHAKE_DONE from agent", S, AG, IN(0x01, 0x1e), 1, -EPROTO, PV, 0x1e},
    {"CRYPTO in gateway INITIAL", I, GW, IN(0x02, 0, 0, 0, 0, 0x06, 0, 1, 0x16), 1, -EPROTO, PV,
     0x06},
    {"PING in gateway INITIAL", I, GW, IN(0x01), 0, -EPROTO, PV, 0x01},
    /* §8.14: application codes only in 1-RTT */
    {"app close in INITIAL", I, AG, IN(0x1c, 0x50, 0x00, 0x00, 0x00), 0, -EPROTO, PV, 0x1c},
    {"app close in HANDSHAKE", H, GW, IN(0x1c, 0x50, 0x08, 0x00, 0x00), 0, -EPROTO, PV, 0x1c},
    {"app close max in HS", H, GW, IN(0x1c, VMAX_BYTES, 0x00, 0x00), 0, -EPROTO, PV, 0x1c},
    /* truncations and lengths beyond the payload */
    {"ACK no fields", S, AG, IN(0x02), 0, -EBADMSG, FEE, 0x02},
    {"ACK no first range", S, AG, IN(0x02, 0x05, 0x00, 0x00), 0, -EBADMSG, FEE, 0x02},
    {"ACK missing pair", H, AG, IN(0x02, 0x05, 0x00, 0x01, 0x00), 0, -EBADMSG, FEE, 0x02},
    {"ACK half pair", S, AG, IN(0x02, 0x05, 0x00, 0x01, 0x00, 0x00), 0, -EBADMSG, FEE, 0x02},
    {"ACK huge count", S, AG, IN(0x02, 0x40, 0x64, 0x00, VMAX_BYTES, 0x00, 0x00, 0x00), 0, -EBADMSG,
     FEE, 0x02},
    {"ACK varint cut", I, AG, IN(0x02, 0x80, 0x00), 0, -EBADMSG, FEE, 0x02},
    {"RESET_STREAM cut", S, AG, IN(0x04, 0x04, 0x00), 0, -EBADMSG, FEE, 0x04},
    {"STOP_SENDING cut", S, AG, IN(0x05, 0x04), 0, -EBADMSG, FEE, 0x05},
    {"CRYPTO no len", H, AG, IN(0x06, 0x00), 0, -EBADMSG, FEE, 0x06},
    {"CRYPTO beyond", H, AG, IN(0x06, 0x00, 0x05, 1, 2, 3, 4), 0, -EBADMSG, FEE, 0x06},
    {"CRYPTO beyond, huge", I, AG, IN(0x06, 0x00, VMAX_BYTES), 0, -EBADMSG, FEE, 0x06},
    {"STREAM no id", S, AG, IN(0x08), 0, -EBADMSG, FEE, 0x08},
    {"STREAM no offset", S, AG, IN(0x0c, 0x04), 0, -EBADMSG, FEE, 0x0c},
    {"STREAM no len", S, AG, IN(0x0a, 0x04), 0, -EBADMSG, FEE, 0x0a},
    {"STREAM beyond", S, AG, IN(0x0b, 0x04, 0x03, 'a', 'b'), 0, -EBADMSG, FEE, 0x0b},
    {"STREAM beyond, huge", S, AG, IN(0x0a, 0x04, VMAX_BYTES), 0, -EBADMSG, FEE, 0x0a},
    {"MAX_DATA cut", S, AG, IN(0x10, 0x40), 0, -EBADMSG, FEE, 0x10},
    {"MAX_STREAM_DATA cut", S, AG, IN(0x11, 0x00), 0, -EBADMSG, FEE, 0x11},
    {"MAX_STREAMS cut", S, AG, IN(0x12), 0, -EBADMSG, FEE, 0x12},
    {"DATA_BLOCKED cut", S, AG, IN(0x14), 0, -EBADMSG, FEE, 0x14},
    {"STREAM_DATA_BLOCKED cut", S, AG, IN(0x15, 0x01), 0, -EBADMSG, FEE, 0x15},
    {"CLOSE cut", S, AG, IN(0x1c, 0x00, 0x00), 0, -EBADMSG, FEE, 0x1c},
    {"CLOSE reason beyond", S, AG, IN(0x1c, 0x00, 0x00, 0x03, 'a', 'b'), 0, -EBADMSG, FEE, 0x1c},
    {"CLOSE app cut in INITIAL", I, AG, IN(0x1c, 0x50, 0x00), 0, -EBADMSG, FEE, 0x1c},
    /* values beyond their limits */
    {"STREAM end > 2^62-1", S, AG, IN(0x0e, 0x00, VMAX_BYTES, 0x01, 'a'), 0, -ERANGE, FEE, 0x0e},
    {"STREAM end > 2^62-1, last", S, AG, IN(0x0c, 0x00, VMAX_BYTES, 'a'), 0, -ERANGE, FEE, 0x0c},
    {"MAX_STREAMS 2^60+1", S, AG, IN(0x12, 0xd0, 0, 0, 0, 0, 0, 0, 0x01), 0, -ERANGE, FEE, 0x12},
    {"MAX_STREAMS 2^62-1", S, GW, IN(0x12, VMAX_BYTES), 0, -ERANGE, FEE, 0x12},
    {"ACK first > largest", S, AG, IN(0x02, 0x05, 0x00, 0x00, 0x06), 0, -ERANGE, FEE, 0x02},
    {"ACK gap below 0", S, AG, IN(0x02, 0x05, 0x00, 0x01, 0x00, 0x04, 0x00), 0, -ERANGE, FEE, 0x02},
    {"ACK at 1, any gap", H, AG, IN(0x02, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00), 0, -ERANGE, FEE,
     0x02},
    {"ACK range below 0", I, AG, IN(0x02, 0x05, 0x00, 0x01, 0x00, 0x01, 0x03), 0, -ERANGE, FEE,
     0x02},
    /* stream IDs with bit 1 set */
    {"STREAM id 2", S, AG, IN(0x0a, 0x02, 0x01, 'a'), 0, -ENOSTR, CW_TE_STREAM_STATE_ERROR, 0x0a},
    {"STREAM id 3, last", S, GW, IN(0x01, 0x08, 0x03), 1, -ENOSTR, CW_TE_STREAM_STATE_ERROR, 0x08},
    {"RESET_STREAM id 6", S, AG, IN(0x04, 0x06, 0x00, 0x00), 0, -ENOSTR, CW_TE_STREAM_STATE_ERROR,
     0x04},
    {"STOP_SENDING id 7", S, AG, IN(0x05, 0x07, 0x00), 0, -ENOSTR, CW_TE_STREAM_STATE_ERROR, 0x05},
    {"MAX_STREAM_DATA 2^62-1", S, AG, IN(0x11, VMAX_BYTES, 0x00), 0, -ENOSTR,
     CW_TE_STREAM_STATE_ERROR, 0x11},
    {"STREAM_DATA_BLOCKED id 2", S, AG, IN(0x15, 0x02, 0x00), 0, -ENOSTR, CW_TE_STREAM_STATE_ERROR,
     0x15},
    /* the CRYPTO stream's bound */
    {"CRYPTO 65535 + 2", H, AG, IN(0x06, 0x80, 0x00, 0xff, 0xff, 0x02, 'a', 'b'), 0, -ENOBUFS,
     CW_TE_CRYPTO_BUFFER_EXCEEDED, 0x06},
    {"CRYPTO 65536 + 1", I, AG, IN(0x06, 0x80, 0x01, 0x00, 0x00, 0x01, 'a'), 0, -ENOBUFS,
     CW_TE_CRYPTO_BUFFER_EXCEEDED, 0x06},
    {"CRYPTO 2^62-1 + 0", I, AG, IN(0x06, VMAX_BYTES, 0x00), 0, -ENOBUFS,
     CW_TE_CRYPTO_BUFFER_EXCEEDED, 0x06},
    /* not a packet that carries frames */
    {"RETRY", CW_PKT_RETRY, AG, IN(0x01), 0, -EINVAL, CW_TE_INTERNAL_ERROR, 0},
    {"RETRY, empty", CW_PKT_RETRY, GW, .len = 0, 0, -EINVAL, CW_TE_INTERNAL_ERROR, 0},
};

static void test_rejects(void **state)
{
	(void)state;
	for (size_t i = 0; i < N(rejects); i++) {
		const struct reject *t = &rejects[i];
		struct cw_frame_iter it;
		struct cw_frame f;
		int rc;

		print_message("%s\n", t->what);
		cw_frame_iter_init(&it, t->in, t->len, t->pkt, t->from);
		for (int k = 0; k < t->good; k++)
			assert_int_equal(cw_frame_next(&it, &f), 1);
		rc = cw_frame_next(&it, &f);
		assert_int_equal(rc, t->err);
		assert_true(cw_frame_error_code(rc) == t->code);
		assert_true(it.frame_type == t->frame_type);
		assert_int_equal(it.err, t->err);
		/* The walk stays stopped. */
		assert_int_equal(cw_frame_next(&it, &f), t->err);
	}
}

/* Every proper prefix of a frame with all its fields is truncated. */
static void test_every_truncation(void **state)
{
	uint8_t buf[2048];

	(void)state;
	for (size_t i = 0; i < N(round_trips); i++) {
		const struct cw_frame *t = &round_trips[i];
		int n = cw_frame_encode(buf, sizeof(buf), t);

		assert_true(n > 0);
		if (t->type == CW_FRAME_PADDING)
			continue;
		for (size_t cut = 1; cut < (size_t)n; cut++) {
			struct cw_frame_iter it;
			struct cw_frame f;

			cw_frame_iter_init(&it, buf, cut, carrier(t), CW_FROM_GATEWAY);
			assert_int_equal(cw_frame_next(&it, &f), -EBADMSG);
		}
	}
}

static void test_error_codes(void **state)
{
	static const struct {
		int err;
		uint64_t code;
	} map[] = {
	    {-ENODATA, 0x0a}, {-EPROTO, 0x0a}, {-EOPNOTSUPP, 0x07}, {-EBADMSG, 0x07},
	    {-ERANGE, 0x07},  {-ENOSTR, 0x05}, {-ENOBUFS, 0x0d},    {-EINVAL, 0x01},
	    {0, 0x01},	      {-ENOMEM, 0x01},
	};

	(void)state;
	for (size_t i = 0; i < N(map); i++)
		assert_true(cw_frame_error_code(map[i].err) == map[i].code);
}

/* §8.1's table, as written there, against every type up to 0x3f. */
static void test_permission_table(void **state)
{
	/* Allowed in I, H, 1 (from either side unless noted). */
	static const struct {
		uint64_t type;
		bool i, h, one, ack_eliciting;
	} table[] = {
	    {0x00, 1, 1, 1, 0}, {0x01, 1, 1, 1, 1}, {0x02, 1, 1, 1, 0}, {0x04, 0, 0, 1, 1},
	    {0x05, 0, 0, 1, 1}, {0x06, 1, 1, 0, 1}, {0x08, 0, 0, 1, 1}, {0x09, 0, 0, 1, 1},
	    {0x0a, 0, 0, 1, 1}, {0x0b, 0, 0, 1, 1}, {0x0c, 0, 0, 1, 1}, {0x0d, 0, 0, 1, 1},
	    {0x0e, 0, 0, 1, 1}, {0x0f, 0, 0, 1, 1}, {0x10, 0, 0, 1, 1}, {0x11, 0, 0, 1, 1},
	    {0x12, 0, 0, 1, 1}, {0x14, 0, 0, 1, 1}, {0x15, 0, 0, 1, 1}, {0x1c, 1, 1, 1, 0},
	    {0x1e, 0, 0, 1, 1},
	};
	const enum cw_pkt_type pkts[] = {CW_PKT_INITIAL, CW_PKT_HANDSHAKE, CW_PKT_SHORT};

	(void)state;
	for (uint64_t type = 0; type < 0x40; type++) {
		bool allowed[3] = {0}, elicit = false;

		for (size_t k = 0; k < N(table); k++) {
			if (table[k].type != type)
				continue;
			allowed[0] = table[k].i;
			allowed[1] = table[k].h;
			allowed[2] = table[k].one;
			elicit = table[k].ack_eliciting;
		}
		assert_int_equal(cw_frame_ack_eliciting(type), elicit);
		for (size_t p = 0; p < 3; p++) {
			bool from_agent = allowed[p], from_gw = allowed[p];

			if (type == CW_FRAME_HANDSHAKE_DONE)
				from_agent = false;
			/* §7.2: the gateway's INITIALs carry no TLS bytes. */
			if (pkts[p] == CW_PKT_INITIAL &&
			    (type == CW_FRAME_CRYPTO || type == CW_FRAME_PING))
				from_gw = false;
			assert_int_equal(cw_frame_allowed(type, pkts[p], CW_FROM_AGENT),
					 from_agent);
			assert_int_equal(cw_frame_allowed(type, pkts[p], CW_FROM_GATEWAY), from_gw);
		}
		assert_false(cw_frame_allowed(type, CW_PKT_RETRY, CW_FROM_AGENT));
		assert_false(cw_frame_allowed(type, CW_PKT_RETRY, CW_FROM_GATEWAY));
	}
	assert_false(cw_frame_allowed(UINT64_C(1) << 32, CW_PKT_SHORT, CW_FROM_GATEWAY));
	assert_false(cw_frame_allowed(VMAX, CW_PKT_SHORT, CW_FROM_GATEWAY));
	assert_false(cw_frame_ack_eliciting(0x101));
}

/* The decoder agrees with cw_frame_allowed() on every type byte. */
static void test_permission_decoder(void **state)
{
	const enum cw_pkt_type pkts[] = {CW_PKT_INITIAL, CW_PKT_HANDSHAKE, CW_PKT_SHORT};
	/* Zeros after the type complete a frame of every type. */
	uint8_t in[6] = {0};

	(void)state;
	for (unsigned type = 0; type < 0x40; type++) {
		for (size_t p = 0; p < 3; p++) {
			for (int from = 0; from < 2; from++) {
				struct cw_frame_iter it;
				struct cw_frame f;
				int rc;

				in[0] = (uint8_t)type;
				cw_frame_iter_init(&it, in, type == 0 ? 1 : sizeof(in), pkts[p],
						   from);
				rc = cw_frame_next(&it, &f);
				if (!cw_frame_allowed(type, pkts[p], from)) {
					assert_true(rc == -EPROTO || rc == -EOPNOTSUPP);
					continue;
				}
				assert_int_equal(rc, 1);
			}
		}
	}
}

/* ---- Encoder refusals ---- */

static void test_encode_refusals(void **state)
{
	uint8_t buf[64];
	struct cw_frame_stream s = {.stream_id = 2, .offset = 0, .data = hello, .len = 5};
	const struct cw_ack_range bad_order[] = {{5, 6}, {4, 4}};
	const struct cw_ack_range big_ranges[] = {{100, 100}, {50, 50}, {0, 0}};

	(void)state;
	memset(buf, 0xa5, sizeof(buf));
	/* Stream IDs with bit 1 set. */
	assert_int_equal(cw_frame_encode_stream(buf, sizeof(buf), &s, false), -EINVAL);
	assert_int_equal(cw_frame_encode_reset_stream(buf, sizeof(buf), 3, 0, 0), -EINVAL);
	assert_int_equal(cw_frame_encode_stop_sending(buf, sizeof(buf), 6, 0), -EINVAL);
	assert_int_equal(cw_frame_encode_max_stream_data(buf, sizeof(buf), 7, 0), -EINVAL);
	assert_int_equal(cw_frame_encode_stream_data_blocked(buf, sizeof(buf), VMAX, 0), -EINVAL);
	/* Values beyond 2^62 - 1 or the frame's limit. */
	assert_int_equal(cw_frame_encode_reset_stream(buf, sizeof(buf), VMAX + 1, 0, 0), -ERANGE);
	assert_int_equal(cw_frame_encode_reset_stream(buf, sizeof(buf), 0, VMAX + 1, 0), -ERANGE);
	assert_int_equal(cw_frame_encode_reset_stream(buf, sizeof(buf), 0, 0, UINT64_MAX), -ERANGE);
	assert_int_equal(cw_frame_encode_stop_sending(buf, sizeof(buf), 0, VMAX + 1), -ERANGE);
	assert_int_equal(cw_frame_encode_max_data(buf, sizeof(buf), VMAX + 1), -ERANGE);
	assert_int_equal(cw_frame_encode_max_stream_data(buf, sizeof(buf), 0, VMAX + 1), -ERANGE);
	assert_int_equal(cw_frame_encode_max_streams(buf, sizeof(buf), CW_MAX_STREAMS_MAX + 1),
			 -ERANGE);
	assert_int_equal(cw_frame_encode_data_blocked(buf, sizeof(buf), VMAX + 1), -ERANGE);
	assert_int_equal(cw_frame_encode_stream_data_blocked(buf, sizeof(buf), 0, VMAX + 1),
			 -ERANGE);
	assert_int_equal(cw_frame_encode_connection_close(buf, sizeof(buf), VMAX + 1, 0, NULL, 0),
			 -ERANGE);
	assert_int_equal(cw_frame_encode_connection_close(buf, sizeof(buf), 0, VMAX + 1, NULL, 0),
			 -ERANGE);
	assert_int_equal(cw_frame_encode_crypto(buf, sizeof(buf), CW_CRYPTO_STREAM_MAX, hello, 1),
			 -ERANGE);
	assert_int_equal(cw_frame_encode_crypto(buf, sizeof(buf), VMAX + 1, NULL, 0), -ERANGE);
	s.stream_id = 4;
	s.offset = VMAX - 4;
	assert_int_equal(cw_frame_encode_stream(buf, sizeof(buf), &s, false), -ERANGE);
	assert_int_equal(cw_frame_encode_stream(buf, sizeof(buf), &s, true), -ERANGE);
	s.offset = 0;
	s.stream_id = VMAX + 1;
	assert_int_equal(cw_frame_encode_stream(buf, sizeof(buf), &s, false), -ERANGE);
	/* Other refusals. */
	s.stream_id = 4;
	s.len = 0;
	assert_int_equal(cw_frame_encode_stream(buf, sizeof(buf), &s, false), -EINVAL);
	assert_int_equal(cw_frame_encode_stream(buf, sizeof(buf), &s, true), -EINVAL);
	assert_int_equal(cw_frame_encode_padding(buf, sizeof(buf), 0), -EINVAL);
	assert_int_equal(cw_frame_encode_ack(buf, sizeof(buf), bad_order, 0, 0), -EINVAL);
	assert_int_equal(cw_frame_encode_ack(buf, sizeof(buf), bad_order, 2, 0), -EINVAL);
	assert_int_equal(cw_frame_ack_size(bad_order, 2, 0), 0);
	assert_int_equal(cw_frame_encode_ack(buf, sizeof(buf), ack_full, 1, VMAX + 1), -ERANGE);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xa5);

	/* No room: nothing written. The ACK keeps what fits of its ranges. */
	assert_int_equal(cw_frame_encode_ping(buf, 0), -ENOSPC);
	assert_int_equal(cw_frame_encode_handshake_done(buf, 0), -ENOSPC);
	assert_int_equal(cw_frame_encode_padding(buf, 3, 4), -ENOSPC);
	assert_int_equal(cw_frame_encode_ack(buf, 4, big_ranges, 3, 0), -ENOSPC);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xa5);
	assert_int_equal(cw_frame_ack_size(big_ranges, 3, 0), 10);
	assert_int_equal(cw_frame_encode_ack(buf, 9, big_ranges, 3, 0), 8);
	assert_memory_equal(buf,
			    ((const uint8_t[]){0x02, 0x40, 0x64, 0x00, 0x01, 0x00, 0x30, 0x00}), 8);

	/* Invalid frames have no size. */
	assert_int_equal(cw_frame_size(&(struct cw_frame){.type = (enum cw_frame_type)0x03}), 0);
	assert_int_equal(
	    cw_frame_encode(buf, sizeof(buf), &(struct cw_frame){.type = (enum cw_frame_type)0x03}),
	    -EINVAL);
	assert_int_equal(
	    cw_frame_size(&(struct cw_frame){.type = CW_FRAME_STREAM, .stream = {.stream_id = 4}}),
	    0);
	assert_int_equal(cw_frame_size(&(struct cw_frame){.type = CW_FRAME_RESET_STREAM,
							  .reset_stream = {.stream_id = 2}}),
			 0);
	assert_int_equal(cw_frame_size(&(struct cw_frame){.type = CW_FRAME_MAX_STREAMS,
							  .max_streams = {CW_MAX_STREAMS_MAX + 1}}),
			 0);
	assert_int_equal(
	    cw_frame_size(&(struct cw_frame){.type = CW_FRAME_MAX_DATA, .max_data = {VMAX + 1}}),
	    0);
	assert_int_equal(cw_frame_close_size(0, 0, CW_CLOSE_REASON_MAX + 1), 0);
	assert_int_equal(cw_frame_close_size(VMAX + 1, 0, 0), 0);
	assert_int_equal(cw_frame_close_size(0x1000, 0x08, 5), 1 + 2 + 1 + 1 + 5);
	assert_int_equal(cw_frame_crypto_size(CW_CRYPTO_STREAM_MAX, 1), 0);
	assert_int_equal(cw_frame_crypto_size(CW_CRYPTO_STREAM_MAX, 0), 1 + 4 + 1);
	assert_int_equal(cw_frame_stream_size(2, 0, 1, false), 0);
	assert_int_equal(cw_frame_stream_size(0, VMAX, 1, false), 0);
	assert_int_equal(cw_frame_stream_size(0, VMAX, 0, false), 1 + 1 + 8 + 1);
}

/* ---- Fitting data to the space left ---- */

/* fit() is the largest length whose frame is at most @space bytes. */
static void check_stream_fit(uint64_t id, uint64_t offset, size_t space, bool last)
{
	size_t d = cw_frame_stream_fit(id, offset, space, last);
	uint64_t limit = CW_STREAM_OFFSET_MAX - offset;

	assert_true(d <= limit);
	if (d > 0)
		assert_true(cw_frame_stream_size(id, offset, d, last) <= space);
	if (d < limit)
		assert_true(cw_frame_stream_size(id, offset, d + 1, last) > space);
}

static void check_crypto_fit(uint64_t offset, size_t space)
{
	size_t d = cw_frame_crypto_fit(offset, space);
	uint64_t limit = offset > CW_CRYPTO_STREAM_MAX ? 0 : CW_CRYPTO_STREAM_MAX - offset;

	assert_true(d <= limit);
	if (d > 0)
		assert_true(cw_frame_crypto_size(offset, d) <= space);
	if (d < limit)
		assert_true(cw_frame_crypto_size(offset, d + 1) > space);
}

static void test_fit(void **state)
{
	static const uint64_t ids[] = {0, 4, 61, 64, 16384, VMAX - 2};
	static const uint64_t offsets[] = {0, 1, 64, 1u << 20, VMAX - 100, VMAX};
	static const uint64_t crypto_offsets[] = {0, 63, 64, 65000, 65535, 65536, 65537, VMAX};

	(void)state;
	/* Stream 4 at offset 0 in 10 bytes: type, ID, length 1 byte, 7 of data. */
	assert_int_equal(cw_frame_stream_fit(4, 0, 10, false), 7);
	assert_int_equal(cw_frame_stream_fit(4, 0, 10, true), 8);
	/* 66 bytes: 63 fit with a 1-byte length, 64 would need 2. */
	assert_int_equal(cw_frame_stream_fit(4, 0, 66, false), 63);
	assert_int_equal(cw_frame_stream_fit(4, 0, 67, false), 63);
	assert_int_equal(cw_frame_stream_fit(4, 0, 68, false), 64);
	/* The header alone, or less: no data. */
	assert_int_equal(cw_frame_stream_fit(4, 0, 2, true), 0);
	assert_int_equal(cw_frame_stream_fit(4, 0, 3, false), 0);
	assert_int_equal(cw_frame_stream_fit(4, 0, 0, false), 0);
	assert_int_equal(cw_frame_stream_fit(2, 0, 100, false), 0);
	assert_int_equal(cw_frame_stream_fit(4, VMAX + 1, 100, false), 0);
	assert_int_equal(cw_frame_stream_fit(4, VMAX - 3, 100, true), 3);
	/* 1350: type, offset 1 byte, length 2 bytes, 1346 of data. */
	assert_int_equal(cw_frame_crypto_fit(0, 1350), 1346);
	assert_int_equal(cw_frame_crypto_fit(65530, 1350), 6);
	assert_int_equal(cw_frame_crypto_fit(65536, 1350), 0);

	for (size_t space = 0; space < 20000; space += 1 + space / 64)
		for (int last = 0; last < 2; last++)
			for (size_t i = 0; i < N(ids); i++)
				for (size_t k = 0; k < N(offsets); k++)
					check_stream_fit(ids[i], offsets[k], space, last);
	for (size_t space = 0; space < 70000; space += 1 + space / 64)
		for (size_t k = 0; k < N(crypto_offsets); k++)
			check_crypto_fit(crypto_offsets[k], space);
	/* Space beyond what an int return can state is capped, not wrapped. */
	assert_true(cw_frame_stream_fit(0, 0, SIZE_MAX, true) <= INT32_MAX);
}

static int setup(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + 1);
	/* 64 ranges of 3 packets with gaps of 2, from 10000 down. */
	for (size_t i = 0; i < N(ack_64); i++) {
		ack_64[i].hi = 10000 - 5 * i;
		ack_64[i].lo = ack_64[i].hi - 2;
	}
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_example_stream),
	    cmocka_unit_test(test_example_envelope),
	    cmocka_unit_test(test_example_ack),
	    cmocka_unit_test(test_example_ping_and_idle_ack),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_exact_bytes),
	    cmocka_unit_test(test_round_trip_large),
	    cmocka_unit_test(test_non_minimal),
	    cmocka_unit_test(test_ack_many_ranges),
	    cmocka_unit_test(test_stream_last),
	    cmocka_unit_test(test_padding_and_flags),
	    cmocka_unit_test(test_close_reason_truncated),
	    cmocka_unit_test(test_rejects),
	    cmocka_unit_test(test_every_truncation),
	    cmocka_unit_test(test_error_codes),
	    cmocka_unit_test(test_permission_table),
	    cmocka_unit_test(test_permission_decoder),
	    cmocka_unit_test(test_encode_refusals),
	    cmocka_unit_test(test_fit),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
