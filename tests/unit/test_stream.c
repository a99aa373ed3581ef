/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tunnel/stream.c: stream IDs and limits, the peer violations of §9 and the
 * codes they close with, credit updates at the half-window mark, final
 * sizes, RESET_STREAM / STOP_SENDING, blocked signals, round-robin
 * fairness, and two tables talking over a seeded lossy, reordering link:
 * 100 streams with one stalled reader, where the other 99 complete and all
 * memory is returned once every stream has closed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#include "tunnel/stream.h"
#include "tunnel/varint.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define KiB  1024

/* -- a counting allocator that can be told to fail -- */

static struct tu_counter cnt;
static const struct cw_alloc counting = {tu_count_alloc, tu_count_free, &cnt};

static int setup(void **state)
{
	(void)state;
	memset(&cnt, 0, sizeof(cnt));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	assert_int_equal(cnt.bytes, 0);
	assert_int_equal(cnt.blocks, 0);
	return 0;
}

#define PAT (1 << 20)
static uint8_t pattern[2 * PAT];

static void make_pattern(void)
{
	uint32_t x = 99;

	for (size_t i = 0; i < sizeof(pattern); i++) {
		x = x * 1664525 + 1013904223;
		pattern[i] = (uint8_t)(x >> 24);
	}
}

/* Stream @i's byte at offset @off comes from here (PAT bytes per stream max). */
static const uint8_t *pat(unsigned i, uint64_t off)
{
	return pattern + (i * 7919u) % PAT + off;
}

/* Floors everywhere: 256 KiB connection, 64 KiB stream, 16 streams. */
static const struct cw_streams_config small = {
    .max_data = 256 * KiB,
    .max_stream_data = 64 * KiB,
    .max_streams = 16,
    .max_data_cap = 256 * KiB,
    .max_stream_data_cap = 64 * KiB,
    .send_buffer = 128 * KiB,
    .max_local_streams = 64,
};

static struct cw_stream_frame stream_frame(uint64_t id, uint64_t off, size_t len, bool fin)
{
	return (struct cw_stream_frame){.type = CW_SFRAME_STREAM,
					.stream_id = id,
					.offset = off,
					.data = pattern + off % PAT,
					.len = len,
					.fin = fin};
}

static struct cw_stream_frame ctl(uint8_t type, uint64_t id, uint64_t value)
{
	return (struct cw_stream_frame){.type = type, .stream_id = id, .value = value};
}

static struct cw_stream_frame reset_frame(uint64_t id, uint64_t code, uint64_t final)
{
	return (struct cw_stream_frame){
	    .type = CW_SFRAME_RESET_STREAM, .stream_id = id, .code = code, .final_size = final};
}

static struct cw_stream_frame stop_frame(uint64_t id, uint64_t code)
{
	return (struct cw_stream_frame){
	    .type = CW_SFRAME_STOP_SENDING, .stream_id = id, .code = code};
}

static int feed(struct cw_streams *t, struct cw_stream_frame f)
{
	return cw_streams_on_frame(t, &f);
}

static void expect_ctrl_at(int line, struct cw_streams *t, uint8_t type, uint64_t id,
			   uint64_t value)
{
	struct cw_stream_frame f;
	int rc = cw_streams_next_ctrl(t, &f);

	if (rc || f.type != type || f.stream_id != id || f.value != value)
		fail_msg("line %d: rc %d type %#x id %llu value %llu", line, rc, f.type,
			 (unsigned long long)f.stream_id, (unsigned long long)f.value);
}
#define expect_ctrl(...) expect_ctrl_at(__LINE__, __VA_ARGS__)

static void expect_no_ctrl(struct cw_streams *t)
{
	struct cw_stream_frame f;

	assert_int_equal(cw_streams_next_ctrl(t, &f), -ENOENT);
}

static void read_exact(struct cw_streams *t, uint64_t id, size_t len, bool want_fin)
{
	static uint8_t buf[PAT];
	size_t n;
	bool fin;
	uint64_t code;

	assert_int_equal(cw_streams_read(t, id, buf, len, &n, &fin, &code), 0);
	assert_int_equal(n, len);
	assert_int_equal(fin, want_fin);
}

/* -- two tables over a lossy, reordering link -- */

enum { FLIGHT = 256, MTU = 1200 };

struct inflight {
	struct cw_stream_frame f;
	uint8_t data[MTU];
};

struct link {
	struct inflight q[FLIGHT];
	size_t n;
	uint32_t rng;
	unsigned loss, ack_loss; /* per cent */
};

static uint32_t rnd(struct link *l)
{
	l->rng = l->rng * 1103515245 + 12345;
	return l->rng >> 8;
}

/* Take up to @burst frames from @t onto the link. */
static void emit(struct cw_streams *t, struct link *l, int burst)
{
	for (int k = 0; k < burst && l->n < FLIGHT; k++) {
		struct inflight *e = &l->q[l->n];

		if (cw_streams_next_ctrl(t, &e->f) && cw_streams_next_data(t, MTU, &e->f))
			return;
		if (e->f.len)
			memcpy(e->data, e->f.data, e->f.len);
		e->f.data = e->data;
		l->n++;
	}
}

/* Resolve up to @k random frames: lost, delivered, or delivered with the ack lost. */
static void deliver(struct cw_streams *from, struct cw_streams *to, struct link *l, int k)
{
	for (; k > 0 && l->n; k--) {
		size_t i = rnd(l) % l->n;
		struct inflight e = l->q[i];
		unsigned fate = rnd(l) % 100;

		e.f.data = e.data;
		l->q[i] = l->q[--l->n];
		l->q[i].f.data = l->q[i].data;
		if (fate < l->loss) {
			assert_int_equal(cw_streams_on_lost(from, &e.f), 0);
			continue;
		}
		assert_int_equal(cw_streams_on_frame(to, &e.f), 0);
		if (fate < l->loss + l->ack_loss)
			assert_int_equal(cw_streams_on_lost(from, &e.f), 0);
		else
			assert_int_equal(cw_streams_on_acked(from, &e.f), 0);
	}
}

/* -- IDs and limits -- */

static void test_ids_and_local_limit(void **state)
{
	struct cw_streams ag, gw;
	struct cw_streams_config cfg = small;
	uint64_t id;

	(void)state;
	assert_int_equal(cw_streams_init(&ag, &small, false, &counting), 0);
	assert_int_equal(cw_streams_init(&gw, &small, true, &counting), 0);
	for (uint64_t n = 0; n < 16; n++) {
		assert_int_equal(cw_streams_open(&ag, &id), 0);
		assert_int_equal(id, 4 * n);
		assert_int_equal(cw_streams_open(&gw, &id), 0);
		assert_int_equal(id, 4 * n + 1);
	}
	/* The peer's limit is the floor (16) until it says more. */
	assert_int_equal(cw_streams_open(&ag, &id), -EAGAIN);
	assert_int_equal(feed(&ag, ctl(CW_SFRAME_MAX_STREAMS, 0, 18)), 0);
	assert_int_equal(feed(&ag, ctl(CW_SFRAME_MAX_STREAMS, 0, 17)), 0); /* lower: ignored */
	assert_int_equal(cw_streams_open(&ag, &id), 0);
	assert_int_equal(cw_streams_open(&ag, &id), 0);
	assert_int_equal(id, 68);
	assert_int_equal(cw_streams_open(&ag, &id), -EAGAIN);
	assert_int_equal(feed(&ag, ctl(CW_SFRAME_MAX_STREAMS, 0, (UINT64_C(1) << 60) + 1)),
			 -EPROTO);
	assert_int_equal(cw_streams_error(&ag), CW_SERR_FRAME_ENCODING);
	cw_streams_free(&ag);
	cw_streams_free(&gw);

	/* Our own cap on local streams. */
	cfg.max_local_streams = 2;
	assert_int_equal(cw_streams_init(&ag, &cfg, false, &counting), 0);
	assert_int_equal(cw_streams_open(&ag, &id), 0);
	assert_int_equal(cw_streams_open(&ag, &id), 0);
	assert_int_equal(cw_streams_open(&ag, &id), -ENOSPC);
	cw_streams_free(&ag);
}

static void test_config_checks(void **state)
{
	struct cw_streams t;
	struct cw_streams_config c;

	(void)state;
	cw_streams_config_default(&c, true);
	assert_int_equal(c.max_streams, 1024);
	assert_int_equal(cw_streams_init(&t, &c, true, &counting), 0);
	cw_streams_free(&t);
	cw_streams_config_default(&c, false);
	assert_int_equal(c.max_streams, 256);
	c.max_stream_data = 64 * KiB - 1;
	assert_int_equal(cw_streams_init(&t, &c, false, &counting), -EINVAL);
	cw_streams_config_default(&c, false);
	c.max_stream_data_cap = CW_STREAMS_MAX_STREAM_WINDOW + 1;
	assert_int_equal(cw_streams_init(&t, &c, false, &counting), -EINVAL);
	cw_streams_config_default(&c, false);
	c.max_streams = 15;
	assert_int_equal(cw_streams_init(&t, &c, false, &counting), -EINVAL);
	cw_streams_config_default(&c, false);
	c.max_data_cap = c.max_data - 1;
	assert_int_equal(cw_streams_init(&t, &c, false, &counting), -EINVAL);
	cnt.fail_in = 1;
	assert_int_equal(cw_streams_init(&t, &small, false, &counting), -ENOMEM);
}

struct violation {
	const char *name;
	struct cw_stream_frame pre; /* type 0: none */
	struct cw_stream_frame f;
	int rc;
	uint64_t code;
};

/* Frames from the agent to a fresh gateway table. */
static void test_violations(void **state)
{
	const struct violation rows[] = {
	    {"bit 1 set", {0}, stream_frame(2, 0, 1, false), -EPROTO, CW_SERR_STREAM_STATE},
	    {"bit 1 in STOP_SENDING", {0}, stop_frame(6, 0), -EPROTO, CW_SERR_STREAM_STATE},
	    {"own stream never opened",
	     {0},
	     stream_frame(1, 0, 1, false),
	     -EPROTO,
	     CW_SERR_STREAM_STATE},
	    {"MAX_STREAM_DATA, own unopened",
	     {0},
	     ctl(CW_SFRAME_MAX_STREAM_DATA, 5, 1 << 20),
	     -EPROTO,
	     CW_SERR_STREAM_STATE},
	    {"beyond the stream limit",
	     {0},
	     stream_frame(64, 0, 1, false),
	     -EPROTO,
	     CW_SERR_STREAM_LIMIT},
	    {"RESET_STREAM beyond the limit",
	     {0},
	     reset_frame(64, 0, 0),
	     -EPROTO,
	     CW_SERR_STREAM_LIMIT},
	    {"last stream within the limit", {0}, stream_frame(60, 0, 1, false), 0, 0},
	    {"beyond the stream window",
	     {0},
	     stream_frame(4, 64 * KiB - 10, 11, false),
	     -EPROTO,
	     CW_SERR_FLOW_CONTROL},
	    {"up to the stream window", {0}, stream_frame(4, 64 * KiB - 10, 10, false), 0, 0},
	    {"reset beyond the stream window",
	     {0},
	     reset_frame(4, 0, 64 * KiB + 1),
	     -EPROTO,
	     CW_SERR_FLOW_CONTROL},
	    {"62-bit overflow",
	     {0},
	     stream_frame(4, CW_VARINT_MAX, 1, false),
	     -EPROTO,
	     CW_SERR_FRAME_ENCODING},
	    {"FIN on the control stream",
	     {0},
	     stream_frame(0, 0, 5, true),
	     -EPROTO,
	     CW_SERR_CONTROL_STREAM},
	    {"RESET_STREAM on the control stream",
	     {0},
	     reset_frame(0, 0, 0),
	     -EPROTO,
	     CW_SERR_CONTROL_STREAM},
	    {"STOP_SENDING on the control stream",
	     {0},
	     stop_frame(0, 0),
	     -EPROTO,
	     CW_SERR_CONTROL_STREAM},
	    {"FIN size changed", stream_frame(4, 0, 10, true), stream_frame(4, 0, 12, true),
	     -EPROTO, CW_SERR_FINAL_SIZE},
	    {"data beyond FIN", stream_frame(4, 0, 10, true), stream_frame(4, 10, 1, false),
	     -EPROTO, CW_SERR_FINAL_SIZE},
	    {"FIN below data", stream_frame(4, 0, 20, false), stream_frame(4, 0, 10, true), -EPROTO,
	     CW_SERR_FINAL_SIZE},
	    {"reset size changed", reset_frame(4, 1, 10), reset_frame(4, 1, 11), -EPROTO,
	     CW_SERR_FINAL_SIZE},
	    {"reset below data", stream_frame(4, 0, 20, false), reset_frame(4, 1, 10), -EPROTO,
	     CW_SERR_FINAL_SIZE},
	    {"data beyond reset size", reset_frame(4, 1, 10), stream_frame(4, 5, 10, false),
	     -EPROTO, CW_SERR_FINAL_SIZE},
	    {"reset other than FIN", stream_frame(4, 0, 10, true), reset_frame(4, 1, 9), -EPROTO,
	     CW_SERR_FINAL_SIZE},
	    {"reset matching FIN", stream_frame(4, 0, 10, true), reset_frame(4, 1, 10), 0, 0},
	    {"data within reset size", reset_frame(4, 1, 10), stream_frame(4, 5, 5, true), 0, 0},
	    {"empty frame, no FIN: ignored", {0}, stream_frame(8, 0, 0, false), 0, 0},
	    {"unknown type", {0}, ctl(0x1c, 0, 0), -EINVAL, 0},
	};

	(void)state;
	for (size_t i = 0; i < N(rows); i++) {
		struct cw_streams gw;
		int rc;

		assert_int_equal(cw_streams_init(&gw, &small, true, &counting), 0);
		if (rows[i].pre.type)
			assert_int_equal(feed(&gw, rows[i].pre), 0);
		rc = feed(&gw, rows[i].f);
		if (rc != rows[i].rc || (rc == -EPROTO && cw_streams_error(&gw) != rows[i].code))
			fail_msg("%s: rc %d code %#llx", rows[i].name, rc,
				 (unsigned long long)cw_streams_error(&gw));
		cw_streams_free(&gw);
	}
}

/* A peer frame opens every lower peer stream; forgotten streams stay so. */
static void test_implicit_open(void **state)
{
	struct cw_streams gw;
	uint64_t id;
	unsigned ev;

	(void)state;
	assert_int_equal(cw_streams_init(&gw, &small, true, &counting), 0);
	assert_int_equal(feed(&gw, stream_frame(8, 0, 3, false)), 0);
	assert_int_equal(gw.count, 3);
	for (uint64_t want = 0; want <= 8; want += 4) {
		assert_int_equal(cw_streams_next_event(&gw, &id, &ev), 0);
		assert_int_equal(id, want);
		assert_int_equal(ev, want == 8 ? CW_STREAM_EV_NEW | CW_STREAM_EV_READABLE
					       : CW_STREAM_EV_NEW);
	}
	assert_int_equal(cw_streams_next_event(&gw, &id, &ev), -ENOENT);
	/* An empty frame without FIN is ignored: it opens nothing. */
	assert_int_equal(feed(&gw, stream_frame(12, 0, 0, false)), 0);
	assert_int_equal(gw.count, 3);
	assert_int_equal(gw.stats.opened_peer, 3);
	cw_streams_free(&gw);
}

/* -- flow control -- */

static void test_connection_flow_control(void **state)
{
	struct cw_streams gw;

	(void)state;
	assert_int_equal(cw_streams_init(&gw, &small, true, &counting), 0);
	/* Four full stream windows are the whole connection window. */
	for (uint64_t id = 0; id < 16; id += 4)
		assert_int_equal(feed(&gw, stream_frame(id, 0, 64 * KiB, false)), 0);
	assert_int_equal(gw.rx_data, 256 * KiB);
	/* Resent data counts once. */
	assert_int_equal(feed(&gw, stream_frame(4, 1000, 5000, false)), 0);
	assert_int_equal(feed(&gw, stream_frame(16, 0, 0, true)), 0);
	assert_int_equal(feed(&gw, stream_frame(16, 0, 1, false)), -EPROTO);
	assert_int_equal(cw_streams_error(&gw), CW_SERR_FINAL_SIZE);
	cw_streams_free(&gw);

	assert_int_equal(cw_streams_init(&gw, &small, true, &counting), 0);
	for (uint64_t id = 0; id < 16; id += 4)
		assert_int_equal(feed(&gw, stream_frame(id, 0, 64 * KiB, false)), 0);
	assert_int_equal(feed(&gw, stream_frame(16, 0, 1, false)), -EPROTO);
	assert_int_equal(cw_streams_error(&gw), CW_SERR_FLOW_CONTROL);
	cw_streams_free(&gw);

	/* A reset's final size counts too. */
	assert_int_equal(cw_streams_init(&gw, &small, true, &counting), 0);
	for (uint64_t id = 0; id < 16; id += 4)
		assert_int_equal(feed(&gw, stream_frame(id, 0, 64 * KiB - 1, false)), 0);
	assert_int_equal(feed(&gw, reset_frame(16, 0, 4)), 0);
	assert_int_equal(feed(&gw, reset_frame(20, 0, 1)), -EPROTO);
	assert_int_equal(cw_streams_error(&gw), CW_SERR_FLOW_CONTROL);
	cw_streams_free(&gw);
}

/* Credit returns when the reader has consumed half a window (§9.5). */
static void test_credit_updates(void **state)
{
	struct cw_streams gw;
	struct cw_stream_frame f;

	(void)state;
	assert_int_equal(cw_streams_init(&gw, &small, true, &counting), 0);
	assert_int_equal(feed(&gw, stream_frame(4, 0, 64 * KiB, false)), 0);
	read_exact(&gw, 4, 32 * KiB - 1, false);
	expect_no_ctrl(&gw);
	read_exact(&gw, 4, 1, false);
	expect_ctrl(&gw, CW_SFRAME_MAX_STREAM_DATA, 4, 96 * KiB);
	expect_no_ctrl(&gw);
	/* The new limit holds. */
	assert_int_equal(feed(&gw, stream_frame(4, 64 * KiB, 32 * KiB, false)), 0);
	assert_int_equal(feed(&gw, stream_frame(4, 96 * KiB, 1, false)), -EPROTO);
	assert_int_equal(cw_streams_error(&gw), CW_SERR_FLOW_CONTROL);
	cw_streams_free(&gw);

	/* The connection: half of 256 KiB read over several streams. */
	assert_int_equal(cw_streams_init(&gw, &small, true, &counting), 0);
	for (uint64_t id = 0; id < 12; id += 4)
		assert_int_equal(feed(&gw, stream_frame(id, 0, 64 * KiB, false)), 0);
	read_exact(&gw, 0, 64 * KiB, false);
	read_exact(&gw, 4, 64 * KiB - 1, false);
	/* Stream updates only: 128 KiB - 1 read on the connection. */
	expect_ctrl(&gw, CW_SFRAME_MAX_STREAM_DATA, 0, 128 * KiB);
	expect_ctrl(&gw, CW_SFRAME_MAX_STREAM_DATA, 4, 128 * KiB - 1);
	expect_no_ctrl(&gw);
	read_exact(&gw, 8, 1, false);
	expect_ctrl(&gw, CW_SFRAME_MAX_DATA, 0, 384 * KiB);
	expect_no_ctrl(&gw);
	/* A lost update is resent with the current value, not the lost one. */
	read_exact(&gw, 4, 1, false);
	cw_streams_on_lost(
	    &gw, &(struct cw_stream_frame){.type = CW_SFRAME_MAX_DATA, .value = 384 * KiB});
	cw_streams_on_lost(&gw, &(struct cw_stream_frame){.type = CW_SFRAME_MAX_STREAM_DATA,
							  .stream_id = 4,
							  .value = 128 * KiB - 1});
	expect_ctrl(&gw, CW_SFRAME_MAX_DATA, 0, 384 * KiB + 1);
	expect_ctrl(&gw, CW_SFRAME_MAX_STREAM_DATA, 4, 128 * KiB);
	expect_no_ctrl(&gw);
	/* Once FIN arrived the peer needs no more stream credit. */
	assert_int_equal(feed(&gw, stream_frame(8, 64 * KiB, 0, true)), 0);
	read_exact(&gw, 8, 64 * KiB - 1, true);
	expect_no_ctrl(&gw);
	/* The connection: 192 KiB read, 384 KiB + 1 granted, not half a window yet. */
	assert_int_equal(gw.rx_consumed, 192 * KiB);
	assert_int_equal(feed(&gw, stream_frame(0, 64 * KiB, 64 * KiB, false)), 0);
	assert_int_equal(feed(&gw, stream_frame(12, 0, 10, false)), 0);
	read_exact(&gw, 0, 64 * KiB, false);
	expect_ctrl(&gw, CW_SFRAME_MAX_STREAM_DATA, 0, 192 * KiB);
	expect_no_ctrl(&gw);
	read_exact(&gw, 12, 1, false);
	expect_ctrl(&gw, CW_SFRAME_MAX_DATA, 0, 512 * KiB + 1);
	(void)f;
	cw_streams_free(&gw);
}

/* Updates more often than every 2 x srtt double the window, up to the cap. */
static void test_autotune(void **state)
{
	static const struct {
		uint64_t now, bytes, want;
	} rows[] = {
	    /* First update: no history, window 64 KiB. */
	    {1000000, 32 * KiB, 32 * KiB + 64 * KiB},
	    /* 0 ns later (< 20 ms): doubled to 128 KiB. */
	    {1000000, 64 * KiB, 96 * KiB + 128 * KiB},
	    /* 10 ms later: doubled to the 256 KiB cap. */
	    {11000000, 128 * KiB, 224 * KiB + 256 * KiB},
	    /* Capped. */
	    {12000000, 256 * KiB, 480 * KiB + 256 * KiB},
	    /* 1 s later: slow enough, the window stays. */
	    {1012000000, 128 * KiB, 608 * KiB + 256 * KiB},
	};
	struct cw_streams gw;
	struct cw_streams_config cfg = small;
	uint64_t off = 0;

	(void)state;
	cfg.max_stream_data_cap = 256 * KiB;
	assert_int_equal(cw_streams_init(&gw, &cfg, true, &counting), 0);
	for (size_t i = 0; i < N(rows); i++) {
		cw_streams_set_clock(&gw, rows[i].now, 10000000); /* srtt 10 ms */
		assert_int_equal(feed(&gw, stream_frame(0, off, rows[i].bytes, false)), 0);
		read_exact(&gw, 0, rows[i].bytes, false);
		off += rows[i].bytes;
		struct cw_stream_frame f;
		int msd = 0;

		while (cw_streams_next_ctrl(&gw, &f) == 0) {
			if (f.type == CW_SFRAME_MAX_STREAM_DATA) {
				assert_int_equal(f.value, rows[i].want);
				msd++;
			} else {
				/* The connection window (cap 256 KiB) never grows. */
				assert_int_equal(f.type, CW_SFRAME_MAX_DATA);
				assert_int_equal(f.value, gw.rx_consumed + 256 * KiB);
			}
		}
		assert_int_equal(msd, 1);
		expect_no_ctrl(&gw);
	}
	cw_streams_free(&gw);
}

/* An idle session: stream 0 with everything read and acknowledged holds no
 * buffers once trimmed. */
static void test_idle_memory(void **state)
{
	static struct link up, down;
	struct cw_streams ag, gw;
	uint64_t id;
	size_t n;

	(void)state;
	memset(&up, 0, sizeof(up));
	memset(&down, 0, sizeof(down));
	assert_int_equal(cw_streams_init(&ag, &small, false, &counting), 0);
	assert_int_equal(cw_streams_init(&gw, &small, true, &counting), 0);
	assert_int_equal(cw_streams_open(&ag, &id), 0);
	assert_int_equal(cw_streams_write(&ag, id, pat(0, 0), 700, &n), 0);
	assert_int_equal(cw_streams_write(&gw, 0, pat(0, 0), 1, &n), -ENOENT);
	for (int k = 0; k < 4; k++) {
		emit(&ag, &up, 64);
		deliver(&ag, &gw, &up, 64);
	}
	read_exact(&gw, 0, 700, false);
	assert_int_equal(cw_streams_write(&gw, 0, pat(1, 0), 300, &n), 0);
	for (int k = 0; k < 4; k++) {
		emit(&gw, &down, 64);
		deliver(&gw, &ag, &down, 64);
	}
	read_exact(&ag, 0, 300, false);
	/* Per side: the bucket array and one stream, and the receive chunk
	 * the next bytes would go to, until the (quiet) session trims it. */
	assert_int_equal(cnt.blocks, 6);
	cw_streams_trim(&ag);
	cw_streams_trim(&gw);
	assert_int_equal(cnt.blocks, 4);
	cw_streams_free(&ag);
	cw_streams_free(&gw);
}

/* -- reset and stop -- */

static void test_reset_received(void **state)
{
	struct cw_streams gw;
	struct cw_stream_info info;
	uint8_t buf[16];
	size_t n;
	bool fin;
	uint64_t code = 0, id;
	unsigned ev;

	(void)state;
	assert_int_equal(cw_streams_init(&gw, &small, true, &counting), 0);
	assert_int_equal(feed(&gw, stream_frame(4, 0, 1000, false)), 0);
	read_exact(&gw, 4, 100, false);
	assert_int_equal(feed(&gw, reset_frame(4, 9, 5000)), 0);
	/* The unread bytes and the rest up to the final size return credit. */
	assert_int_equal(gw.rx_consumed, 5000);
	assert_int_equal(gw.rx_data, 5000);
	while (cw_streams_next_event(&gw, &id, &ev) == 0)
		if (id == 4)
			assert_true(ev & CW_STREAM_EV_READABLE);
	assert_int_equal(cw_streams_read(&gw, 4, buf, sizeof(buf), &n, &fin, &code), -ECONNRESET);
	assert_int_equal(code, 9);
	assert_int_equal(cw_streams_info(&gw, 4, &info), 0);
	assert_int_equal(info.rx, CW_STREAM_RX_RESET_READ);
	/* Late data within the final size is accepted and dropped. */
	assert_int_equal(feed(&gw, stream_frame(4, 1000, 4000, true)), 0);
	assert_int_equal(gw.rx_data, 5000);
	/* Our direction is still open: the stream lives until it is done. */
	assert_int_equal(cw_streams_finish(&gw, 4), 0);
	struct cw_stream_frame f;
	assert_int_equal(cw_streams_next_data(&gw, 1200, &f), 0);
	assert_true(f.fin && f.len == 0 && f.stream_id == 4);
	assert_int_equal(gw.count, 2);
	cw_streams_on_acked(&gw, &f);
	assert_int_equal(gw.count, 1);
	assert_int_equal(cw_streams_info(&gw, 4, &info), -ENOENT);
	/* Frames for it are ignored from now on. */
	assert_int_equal(feed(&gw, stream_frame(4, 0, 10, false)), 0);
	assert_int_equal(feed(&gw, reset_frame(4, 9, 1)), 0);
	assert_int_equal(gw.count, 1);
	cw_streams_free(&gw);
}

static void test_stop_sending_received(void **state)
{
	struct cw_streams gw;
	struct cw_stream_frame f, rs;
	struct cw_stream_info info;
	size_t n;
	uint64_t id;
	unsigned ev;

	(void)state;
	assert_int_equal(cw_streams_init(&gw, &small, true, &counting), 0);
	assert_int_equal(cw_streams_open(&gw, &id), 0);
	assert_int_equal(cw_streams_write(&gw, id, pat(0, 0), 5000, &n), 0);
	assert_int_equal(cw_streams_next_data(&gw, 1200, &f), 0);
	assert_int_equal(cw_streams_next_data(&gw, 1200, &f), 0);
	assert_int_equal(feed(&gw, stop_frame(id, 7)), 0);
	/* Answered with RESET_STREAM: same code, final size = bytes sent. */
	assert_int_equal(cw_streams_next_ctrl(&gw, &rs), 0);
	assert_int_equal(rs.type, CW_SFRAME_RESET_STREAM);
	assert_int_equal(rs.stream_id, id);
	assert_int_equal(rs.code, 7);
	assert_int_equal(rs.final_size, 2400);
	expect_no_ctrl(&gw);
	assert_int_equal(cw_streams_next_data(&gw, 1200, &f), -ENOENT);
	assert_int_equal(cw_streams_write(&gw, id, pat(0, 0), 1, &n), -EPIPE);
	assert_int_equal(cw_streams_next_event(&gw, &id, &ev), 0);
	assert_int_equal(ev, CW_STREAM_EV_STOPPED);
	assert_int_equal(cw_streams_info(&gw, id, &info), 0);
	assert_int_equal(info.stop_code, 7);
	assert_int_equal(info.tx, CW_STREAM_TX_RESET_SENT);
	/* Lost: resent; acknowledged: done. */
	cw_streams_on_lost(&gw, &rs);
	assert_int_equal(cw_streams_next_ctrl(&gw, &f), 0);
	assert_memory_equal(&f, &rs, sizeof(f));
	cw_streams_on_acked(&gw, &rs);
	assert_int_equal(cw_streams_info(&gw, id, &info), 0);
	assert_int_equal(info.tx, CW_STREAM_TX_RESET_RECVD);
	cw_streams_on_lost(&gw, &rs);
	expect_no_ctrl(&gw);
	/* A second STOP_SENDING changes nothing. */
	assert_int_equal(feed(&gw, stop_frame(id, 8)), 0);
	expect_no_ctrl(&gw);
	cw_streams_free(&gw);

	/* Finished and all acknowledged: no reset needed. */
	assert_int_equal(cw_streams_init(&gw, &small, true, &counting), 0);
	assert_int_equal(cw_streams_open(&gw, &id), 0);
	assert_int_equal(cw_streams_write(&gw, id, pat(0, 0), 10, &n), 0);
	assert_int_equal(cw_streams_finish(&gw, id), 0);
	assert_int_equal(cw_streams_next_data(&gw, 1200, &f), 0);
	assert_true(f.fin);
	cw_streams_on_acked(&gw, &f);
	assert_int_equal(feed(&gw, stop_frame(id, 7)), 0);
	expect_no_ctrl(&gw);
	cw_streams_free(&gw);
}

static void test_local_stop_and_abort(void **state)
{
	struct cw_streams gw;
	struct cw_stream_frame f;
	uint8_t buf[8];
	size_t n;
	bool fin;
	uint64_t code;

	(void)state;
	assert_int_equal(cw_streams_init(&gw, &small, true, &counting), 0);
	assert_int_equal(feed(&gw, stream_frame(4, 0, 1000, false)), 0);
	assert_int_equal(cw_streams_stop(&gw, 4, 3), 0);
	assert_int_equal(cw_streams_next_ctrl(&gw, &f), 0);
	assert_int_equal(f.type, CW_SFRAME_STOP_SENDING);
	assert_int_equal(f.code, 3);
	/* Dropped data returns its credit at once. */
	assert_int_equal(gw.rx_consumed, 1000);
	assert_int_equal(feed(&gw, stream_frame(4, 1000, 2000, false)), 0);
	assert_int_equal(gw.rx_consumed, 3000);
	assert_int_equal(cw_streams_read(&gw, 4, buf, sizeof(buf), &n, &fin, &code), -EPIPE);
	/* STOP_SENDING lost while the peer still sends: resent. */
	cw_streams_on_lost(&gw, &f);
	assert_int_equal(cw_streams_next_ctrl(&gw, &f), 0);
	assert_int_equal(f.type, CW_SFRAME_STOP_SENDING);
	/* The peer's reset ends the side without bothering the reader. */
	assert_int_equal(feed(&gw, reset_frame(4, 3, 3500)), 0);
	assert_int_equal(gw.rx_consumed, 3500);
	cw_streams_on_lost(&gw, &f);
	expect_no_ctrl(&gw);
	/* Abort: a stream error resets ours and stops theirs. */
	assert_int_equal(feed(&gw, stream_frame(8, 0, 10, false)), 0);
	assert_int_equal(cw_streams_abort(&gw, 8, 2), 0);
	assert_int_equal(cw_streams_next_ctrl(&gw, &f), 0);
	assert_int_equal(f.type, CW_SFRAME_RESET_STREAM);
	assert_int_equal(f.code, 2);
	assert_int_equal(f.final_size, 0);
	assert_int_equal(cw_streams_next_ctrl(&gw, &f), 0);
	assert_int_equal(f.type, CW_SFRAME_STOP_SENDING);
	assert_int_equal(f.code, 2);
	/* Never on the control stream. */
	assert_int_equal(cw_streams_stop(&gw, 0, 0), -EINVAL);
	assert_int_equal(cw_streams_reset(&gw, 0, 0), -EINVAL);
	assert_int_equal(cw_streams_finish(&gw, 0), -EINVAL);
	assert_int_equal(cw_streams_abort(&gw, 0, 0), -EINVAL);
	assert_int_equal(cw_streams_stop(&gw, 12, 0), -ENOENT);
	cw_streams_free(&gw);
}

/* -- sending: blocked signals and fairness -- */

static void test_blocked_signals(void **state)
{
	struct cw_streams ag;
	struct cw_stream_frame f;
	uint64_t id, total = 0;
	size_t n;

	(void)state;
	assert_int_equal(cw_streams_init(&ag, &small, false, &counting), 0);
	assert_int_equal(cw_streams_open(&ag, &id), 0);
	assert_int_equal(cw_streams_write(&ag, id, pat(0, 0), 100 * KiB, &n), 0);
	while (cw_streams_next_data(&ag, 1200, &f) == 0)
		total += f.len;
	assert_int_equal(total, 64 * KiB);
	expect_ctrl(&ag, CW_SFRAME_STREAM_DATA_BLOCKED, 0, 64 * KiB);
	/* Once per limit value. */
	assert_int_equal(cw_streams_next_data(&ag, 1200, &f), -ENOENT);
	expect_no_ctrl(&ag);
	assert_false(cw_streams_want_send(&ag));
	/* Lost while still blocked at that value: resent. */
	cw_streams_on_lost(&ag, &(struct cw_stream_frame){.type = CW_SFRAME_STREAM_DATA_BLOCKED,
							  .stream_id = 0,
							  .value = 64 * KiB});
	expect_ctrl(&ag, CW_SFRAME_STREAM_DATA_BLOCKED, 0, 64 * KiB);
	assert_int_equal(feed(&ag, ctl(CW_SFRAME_MAX_STREAM_DATA, 0, 70000)), 0);
	assert_true(cw_streams_want_send(&ag));
	while (cw_streams_next_data(&ag, 1200, &f) == 0)
		total += f.len;
	assert_int_equal(total, 70000);
	expect_ctrl(&ag, CW_SFRAME_STREAM_DATA_BLOCKED, 0, 70000);
	/* A stale loss report (an old value) is not resent. */
	cw_streams_on_lost(&ag, &(struct cw_stream_frame){.type = CW_SFRAME_STREAM_DATA_BLOCKED,
							  .stream_id = 0,
							  .value = 64 * KiB});
	expect_no_ctrl(&ag);
	cw_streams_free(&ag);

	/* The connection limit: DATA_BLOCKED once, streams keep their place. */
	assert_int_equal(cw_streams_init(&ag, &small, false, &counting), 0);
	assert_int_equal(cw_streams_set_peer_params(&ag, 0, 1 << 20, 0), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(cw_streams_open(&ag, &id), 0);
		assert_int_equal(cw_streams_write(&ag, id, pat(0, 0), 128 * KiB + 1, &n), 0);
		assert_int_equal(n, 128 * KiB);
	}
	total = 0;
	while (cw_streams_next_data(&ag, 1200, &f) == 0)
		total += f.len;
	assert_int_equal(total, 256 * KiB);
	expect_ctrl(&ag, CW_SFRAME_DATA_BLOCKED, 0, 256 * KiB);
	expect_no_ctrl(&ag);
	assert_false(cw_streams_want_send(&ag));
	/* A loss needs no credit to be resent. */
	cw_streams_on_lost(&ag,
			   &(struct cw_stream_frame){
			       .type = CW_SFRAME_STREAM, .stream_id = 4, .offset = 0, .len = 100});
	assert_true(cw_streams_want_send(&ag));
	assert_int_equal(cw_streams_next_data(&ag, 1200, &f), 0);
	assert_int_equal(f.stream_id, 4);
	assert_int_equal(f.offset, 0);
	assert_int_equal(f.len, 100);
	assert_int_equal(feed(&ag, ctl(CW_SFRAME_MAX_DATA, 0, 256 * KiB + 10)), 0);
	assert_int_equal(cw_streams_next_data(&ag, 1200, &f), 0);
	assert_int_equal(f.len, 10);
	cw_streams_free(&ag);
}

/* Frames of at most @max bytes that carry [@from, @to) of a stream, cut
 * at the send buffer's chunk edges. */
static unsigned frames_cut(uint64_t from, uint64_t to, uint64_t max)
{
	unsigned n = 0;

	while (from < to) {
		uint64_t edge = (from / CW_SENDBUF_CHUNK + 1) * CW_SENDBUF_CHUNK;
		uint64_t end = from + max;

		from = end < edge ? end : edge;
		from = from < to ? from : to;
		n++;
	}
	return n;
}

/*
 * Three streams with data take turns frame by frame; one whose peer window
 * is exhausted drops out and the others carry on without gaps.
 */
static void test_round_robin(void **state)
{
	struct cw_streams ag;
	struct cw_stream_frame f;
	uint64_t id;
	size_t n;
	unsigned per[3] = {0};
	uint64_t last = 0;

	(void)state;
	assert_int_equal(cw_streams_init(&ag, &small, false, &counting), 0);
	assert_int_equal(cw_streams_set_peer_params(&ag, 1 << 20, 0, 0), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(cw_streams_open(&ag, &id), 0);
		assert_int_equal(cw_streams_write(&ag, id, pat(i, 0), 10000, &n), 0);
	}
	for (int k = 0; k < 9; k++) {
		assert_int_equal(cw_streams_next_data(&ag, 1000, &f), 0);
		assert_int_equal(f.stream_id, 4 * (k % 3));
		assert_int_equal(f.offset, 1000 * (k / 3));
		assert_memory_equal(f.data, pat(k % 3, f.offset), f.len);
	}
	/* Stream 4 reaches its 64 KiB window; 0 and 8 go on alternating. */
	assert_int_equal(feed(&ag, ctl(CW_SFRAME_MAX_STREAM_DATA, 0, 1 << 20)), 0);
	assert_int_equal(feed(&ag, ctl(CW_SFRAME_MAX_STREAM_DATA, 8, 1 << 20)), 0);
	assert_int_equal(cw_streams_write(&ag, 4, pat(1, 10000), 60 * KiB, &n), 0);
	assert_int_equal(cw_streams_write(&ag, 0, pat(0, 10000), 100 * KiB, &n), 0);
	assert_int_equal(cw_streams_write(&ag, 8, pat(2, 10000), 100 * KiB, &n), 0);
	for (int k = 0; k < 250; k++) {
		assert_int_equal(cw_streams_next_data(&ag, 1000, &f), 0);
		/* Never the same stream twice in a row while another has data. */
		assert_true(k == 0 || f.stream_id != last);
		last = f.stream_id;
		per[f.stream_id / 4]++;
	}
	expect_ctrl(&ag, CW_SFRAME_STREAM_DATA_BLOCKED, 4, 64 * KiB);
	/* 3000..65536 in frames of 1000 cut at the chunk edges. */
	assert_int_equal(per[1], frames_cut(3000, 64 * KiB, 1000));
	assert_int_equal(per[0] + per[1] + per[2], 250);
	assert_true(per[0] - per[2] + 1 <= 2);
	cw_streams_free(&ag);
}

/* -- 100 streams, one stalled reader -- */

enum { NS = 100, STALLED = 37, BYTES = 200 * KiB };

struct app {
	uint64_t written[NS], read[NS];
	bool fin_read[NS], finished[NS];
};

/* The gateway writes BYTES on each dial stream, then FIN. */
static void gw_write(struct cw_streams *gw, struct app *a)
{
	for (unsigned i = 0; i < NS; i++) {
		uint64_t id = 4 * i + 1;
		size_t n;

		if (a->written[i] < BYTES) {
			int rc = cw_streams_write(gw, id, pat(i, a->written[i]),
						  BYTES - a->written[i], &n);

			assert_true(rc == 0 || rc == -EAGAIN);
			a->written[i] += n;
		}
		if (a->written[i] == BYTES && !a->finished[i]) {
			assert_int_equal(cw_streams_finish(gw, id), 0);
			a->finished[i] = true;
		}
	}
}

/*
 * Read what events announce and check it; a stream whose end was read
 * gets our FIN. The stalled stream is skipped while @stall.
 */
static void app_read(struct cw_streams *t, struct app *a, bool stall, bool answer_fin)
{
	static uint8_t buf[64 * KiB];
	uint64_t id;
	unsigned ev;

	while (cw_streams_next_event(t, &id, &ev) == 0) {
		unsigned i = (unsigned)(id / 4);
		size_t n;
		bool fin;
		uint64_t code;

		if (!(ev & CW_STREAM_EV_READABLE) || (stall && i == STALLED) || a->fin_read[i])
			continue;
		do {
			int rc = cw_streams_read(t, id, buf, sizeof(buf), &n, &fin, &code);

			if (rc == -EAGAIN)
				break;
			assert_int_equal(rc, 0);
			assert_memory_equal(buf, pat(i, a->read[i]), n);
			a->read[i] += n;
		} while (!fin);
		if (fin) {
			a->fin_read[i] = true;
			if (answer_fin)
				assert_int_equal(cw_streams_finish(t, id), 0);
		}
	}
}

static unsigned count_done(const struct app *a)
{
	unsigned d = 0;

	for (unsigned i = 0; i < NS; i++)
		d += a->fin_read[i];
	return d;
}

static void step(struct cw_streams *ag, struct cw_streams *gw, struct link *up, struct link *down)
{
	emit(gw, down, 48);
	emit(ag, up, 48);
	deliver(gw, ag, down, 40);
	deliver(ag, gw, up, 40);
}

static void test_hundred_streams_one_stalled(void **state)
{
	static struct link up, down;
	static struct app agent_app, gw_app;
	struct cw_streams ag, gw;
	struct cw_streams_config agc, gwc;
	struct cw_stream_info info;
	uint64_t id;
	int steps;

	(void)state;
	memset(&agent_app, 0, sizeof(agent_app));
	memset(&gw_app, 0, sizeof(gw_app));
	memset(&up, 0, sizeof(up));
	memset(&down, 0, sizeof(down));
	up.rng = 1;
	down.rng = 2;
	up.loss = down.loss = 5;
	up.ack_loss = down.ack_loss = 2;
	cw_streams_config_default(&agc, false);
	cw_streams_config_default(&gwc, true);
	agc.max_stream_data = agc.max_stream_data_cap = 64 * KiB;
	agc.max_data = agc.max_data_cap = 1024 * KiB;
	agc.send_buffer = gwc.send_buffer = 64 * KiB;
	assert_int_equal(cw_streams_init(&ag, &agc, false, &counting), 0);
	assert_int_equal(cw_streams_init(&gw, &gwc, true, &counting), 0);
	/* What Hello and HelloAck carry. */
	assert_int_equal(
	    cw_streams_set_peer_params(&gw, agc.max_data, agc.max_stream_data, agc.max_streams), 0);
	assert_int_equal(
	    cw_streams_set_peer_params(&ag, gwc.max_data, gwc.max_stream_data, gwc.max_streams), 0);
	for (unsigned i = 0; i < NS; i++) {
		assert_int_equal(cw_streams_open(&gw, &id), 0);
		assert_int_equal(id, 4 * i + 1);
	}
	/* The agent reads all but one stream. */
	for (steps = 0; count_done(&agent_app) < NS - 1; steps++) {
		assert_true(steps < 100000);
		gw_write(&gw, &gw_app);
		step(&ag, &gw, &up, &down);
		app_read(&ag, &agent_app, true, true);
		app_read(&gw, &gw_app, false, false);
	}
	assert_false(agent_app.fin_read[STALLED]);
	/* The stalled stream holds at most its window, and nothing else waits for it. */
	assert_int_equal(cw_streams_info(&ag, 4 * STALLED + 1, &info), 0);
	assert_int_equal(info.rx_readable, 64 * KiB);
	assert_int_equal(info.rx_highest, 64 * KiB);
	assert_int_equal(cw_streams_info(&gw, 4 * STALLED + 1, &info), 0);
	assert_int_equal(info.tx_sent, 64 * KiB);
	assert_true(ag.stats.blocked_rx > 0); /* STREAM_DATA_BLOCKED arrived */
	assert_int_equal(agent_app.read[STALLED], 0);
	for (unsigned i = 0; i < NS; i++)
		if (i != STALLED)
			assert_int_equal(agent_app.read[i], BYTES);
	/* The reader wakes up: its stream completes too, and everything closes. */
	for (steps = 0; ag.count || gw.count; steps++) {
		assert_true(steps < 100000);
		gw_write(&gw, &gw_app);
		step(&ag, &gw, &up, &down);
		if (!agent_app.fin_read[STALLED]) {
			static uint8_t buf[64 * KiB];
			size_t n;
			bool fin;
			uint64_t code;
			int rc = cw_streams_read(&ag, 4 * STALLED + 1, buf, sizeof(buf), &n, &fin,
						 &code);

			assert_true(rc == 0 || rc == -EAGAIN);
			if (!rc) {
				assert_memory_equal(buf, pat(STALLED, agent_app.read[STALLED]), n);
				agent_app.read[STALLED] += n;
				if (fin) {
					agent_app.fin_read[STALLED] = true;
					assert_int_equal(cw_streams_finish(&ag, 4 * STALLED + 1),
							 0);
				}
			}
		}
		app_read(&ag, &agent_app, true, true);
		app_read(&gw, &gw_app, false, false);
	}
	assert_int_equal(agent_app.read[STALLED], BYTES);
	assert_int_equal(count_done(&gw_app), NS);
	assert_int_equal(gw.stats.freed, NS);
	assert_int_equal(ag.stats.freed, NS);
	/* The agent freed 100 gateway streams: it raised the limit. */
	/* 100 freed of 256 granted: not half yet, so no MAX_STREAMS. */
	assert_int_equal(ag.rx_max_streams, agc.max_streams);
	assert_int_equal(ag.rx_max_streams_next, agc.max_streams + NS);
	assert_false(ag.want_max_streams);
	assert_true(gw.stats.retx_bytes > 0);
	/* Only the tables' buckets remain. */
	assert_int_equal(cnt.blocks, 2);
	cw_streams_free(&ag);
	cw_streams_free(&gw);
}

/* MAX_STREAMS once half of the initial limit has been freed (§9.2). */
static void test_max_streams_update(void **state)
{
	static struct link up, down;
	struct cw_streams ag, gw;
	uint64_t id;
	size_t n;

	(void)state;
	memset(&up, 0, sizeof(up));
	memset(&down, 0, sizeof(down));
	assert_int_equal(cw_streams_init(&ag, &small, false, &counting), 0);
	assert_int_equal(cw_streams_init(&gw, &small, true, &counting), 0);
	for (int i = 0; i < 16; i++) {
		assert_int_equal(cw_streams_open(&ag, &id), 0);
		assert_int_equal(cw_streams_write(&ag, id, pat(0, 0), 1, &n), 0);
		if (i)
			assert_int_equal(cw_streams_finish(&ag, id), 0);
	}
	assert_int_equal(cw_streams_open(&ag, &id), -EAGAIN);
	for (int k = 0; k < 10; k++) {
		emit(&ag, &up, 64);
		deliver(&ag, &gw, &up, 64);
	}
	/* The gateway reads and finishes 7 streams: no update yet. */
	for (uint64_t s = 4; s <= 28; s += 4) {
		read_exact(&gw, s, 1, true);
		assert_int_equal(cw_streams_finish(&gw, s), 0);
	}
	for (int k = 0; k < 10; k++) {
		emit(&gw, &down, 64);
		deliver(&gw, &ag, &down, 64);
	}
	assert_int_equal(gw.stats.freed, 7);
	assert_false(gw.want_max_streams);
	read_exact(&gw, 32, 1, true);
	assert_int_equal(cw_streams_finish(&gw, 32), 0);
	for (int k = 0; k < 10; k++) {
		emit(&gw, &down, 64);
		deliver(&gw, &ag, &down, 64);
	}
	assert_int_equal(gw.stats.freed, 8);
	assert_int_equal(ag.tx_max_streams, 24);
	assert_int_equal(cw_streams_open(&ag, &id), 0);
	assert_int_equal(id, 64);
	cw_streams_free(&ag);
	cw_streams_free(&gw);
}

static void test_peer_params(void **state)
{
	struct cw_streams ag;
	struct cw_stream_frame f;
	uint64_t id;
	size_t n;

	(void)state;
	assert_int_equal(cw_streams_init(&ag, &small, false, &counting), 0);
	assert_int_equal(cw_streams_set_peer_params(&ag, 100, 0, 0), -EPROTO);
	assert_int_equal(cw_streams_error(&ag), 0x08);
	assert_int_equal(cw_streams_set_peer_params(&ag, 0, 1000, 0), -EPROTO);
	assert_int_equal(cw_streams_set_peer_params(&ag, 0, 0, 15), -EPROTO);
	assert_int_equal(cw_streams_open(&ag, &id), 0);
	assert_int_equal(cw_streams_write(&ag, id, pat(0, 0), 100 * KiB, &n), 0);
	while (cw_streams_next_data(&ag, 1200, &f) == 0)
		;
	/* Parameters raise the limit of streams already open. */
	assert_int_equal(cw_streams_set_peer_params(&ag, 0, 0, 0), 0);
	assert_int_equal(cw_streams_next_data(&ag, 1200, &f), -ENOENT);
	assert_int_equal(cw_streams_set_peer_params(&ag, 0, 80 * KiB, 0), 0);
	assert_int_equal(cw_streams_next_data(&ag, 1200 * 1000, &f), 0);
	assert_int_equal(f.offset, 64 * KiB);
	assert_int_equal(f.len, CW_SENDBUF_CHUNK); /* to the chunk's edge */
	/* A MAX_STREAM_DATA above what the parameters say is kept. */
	assert_int_equal(feed(&ag, ctl(CW_SFRAME_MAX_STREAM_DATA, 0, 90 * KiB)), 0);
	assert_int_equal(cw_streams_set_peer_params(&ag, 0, 85 * KiB, 0), 0);
	struct cw_stream_info info;
	assert_int_equal(cw_streams_info(&ag, 0, &info), 0);
	assert_int_equal(info.tx_limit, 90 * KiB);
	cw_streams_free(&ag);
}

static void test_enomem(void **state)
{
	struct cw_streams gw;
	uint64_t id;

	(void)state;
	assert_int_equal(cw_streams_init(&gw, &small, true, &counting), 0);
	cnt.fail_in = 1;
	assert_int_equal(cw_streams_open(&gw, &id), -ENOMEM);
	cnt.fail_in = 2;
	assert_int_equal(feed(&gw, stream_frame(4, 0, 10, false)), -ENOMEM);
	/* Stream 0 exists; 4 did not fit. The peer's resend opens it. */
	assert_int_equal(gw.count, 1);
	assert_int_equal(feed(&gw, stream_frame(4, 0, 10, false)), 0);
	assert_int_equal(gw.count, 2);
	/* Chunk allocation failing inside the reorder buffer. */
	cnt.fail_in = 1;
	assert_int_equal(feed(&gw, stream_frame(8, 0, 10, false)), -ENOMEM);
	cw_streams_free(&gw);
}

/* Freeing a table with streams in every state returns all memory. */
static void test_free_busy(void **state)
{
	struct cw_streams ag;
	struct cw_stream_frame f;
	uint64_t id;
	size_t n;

	(void)state;
	assert_int_equal(cw_streams_init(&ag, &small, false, &counting), 0);
	for (int i = 0; i < 12; i++) {
		assert_int_equal(cw_streams_open(&ag, &id), 0);
		assert_int_equal(cw_streams_write(&ag, id, pat(i, 0), 30000, &n), 0);
	}
	assert_int_equal(cw_streams_reset(&ag, 8, 1), 0);
	assert_int_equal(cw_streams_finish(&ag, 12), 0);
	for (int i = 0; i < 40; i++)
		assert_int_equal(cw_streams_next_data(&ag, 1200, &f), 0);
	assert_int_equal(feed(&ag, ctl(CW_SFRAME_STREAM, 1, 0)), 0);
	assert_int_equal(feed(&ag, stream_frame(5, 100, 3000, false)), 0);
	assert_true(ag.nbuckets > 8);
	assert_true(cnt.blocks > 12);
	cw_streams_free(&ag);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_ids_and_local_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config_checks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_violations, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_implicit_open, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_connection_flow_control, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_credit_updates, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_autotune, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_idle_memory, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset_received, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stop_sending_received, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_local_stop_and_abort, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_blocked_signals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_round_robin, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hundred_streams_one_stalled, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_max_streams_update, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_peer_params, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_enomem, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_free_busy, setup, teardown),
	};

	make_pattern();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
