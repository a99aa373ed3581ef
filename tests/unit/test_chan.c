/* SPDX-License-Identifier: Apache-2.0 */
/* The dial channel's byte rings and flags (control/chan.h). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "control/chan.h"

/* A ring over caller storage, so sizes can be small. */
static void ring_init(struct cw_bring *r, uint8_t *buf, size_t size)
{
	memset(r, 0, sizeof(*r));
	r->buf = buf;
	r->size = size;
}

static void test_write_read_wrap(void **state)
{
	uint8_t buf[16], in[40], out[40];
	struct cw_bring r;
	const uint8_t *p;
	size_t got = 0, n;

	(void)state;
	for (unsigned i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 7 + 1);
	ring_init(&r, buf, sizeof(buf));
	assert_int_equal(cw_bring_room(&r), 16);
	assert_int_equal(cw_bring_write(&r, in, 10), 10);
	assert_int_equal(cw_bring_used(&r), 10);
	/* Only 6 more fit. */
	assert_int_equal(cw_bring_write(&r, in + 10, 10), 6);
	assert_int_equal(cw_bring_room(&r), 0);
	n = cw_bring_peek(&r, &p);
	assert_int_equal(n, 16);
	memcpy(out, p, 12);
	cw_bring_consume(&r, 12);
	got = 12;
	/* This write wraps around the end of the buffer. */
	assert_int_equal(cw_bring_write(&r, in + 16, 12), 12);
	/* peek gives the contiguous part first, then the wrapped part. */
	n = cw_bring_peek(&r, &p);
	assert_int_equal(n, 4);
	memcpy(out + got, p, n);
	cw_bring_consume(&r, n);
	got += n;
	n = cw_bring_peek(&r, &p);
	assert_int_equal(n, 12);
	memcpy(out + got, p, n);
	cw_bring_consume(&r, n);
	got += n;
	assert_int_equal(got, 28);
	assert_memory_equal(out, in, 28);
	assert_int_equal(cw_bring_used(&r), 0);
	assert_int_equal(cw_bring_peek(&r, &p), 0);
}

/* Writing in place: reserve gives the contiguous free part (up to the end of
 * the buffer, then from its start), commit publishes what was written. */
static void test_reserve_commit(void **state)
{
	uint8_t buf[16], out[16];
	struct cw_bring r;
	const uint8_t *p;
	uint8_t *w;

	(void)state;
	ring_init(&r, buf, sizeof(buf));
	assert_int_equal(cw_bring_reserve(&r, &w), 16);
	assert_ptr_equal(w, buf);
	memcpy(w, "abcdefghij", 10);
	assert_int_equal(cw_bring_used(&r), 0); /* nothing published yet */
	cw_bring_commit(&r, 10);
	assert_int_equal(cw_bring_used(&r), 10);
	assert_int_equal(cw_bring_reserve(&r, &w), 6);
	assert_ptr_equal(w, buf + 10);
	assert_int_equal(cw_bring_peek(&r, &p), 10);
	memcpy(out, p, 10);
	cw_bring_consume(&r, 8);
	/* 6 free to the end, then 8 at the start: the contiguous 6 first. */
	assert_int_equal(cw_bring_reserve(&r, &w), 6);
	memcpy(w, "klmnop", 6);
	cw_bring_commit(&r, 6);
	assert_int_equal(cw_bring_reserve(&r, &w), 8);
	assert_ptr_equal(w, buf);
	memcpy(w, "qrstuvwx", 8);
	cw_bring_commit(&r, 8);
	assert_int_equal(cw_bring_reserve(&r, &w), 0);
	assert_int_equal(cw_bring_room(&r), 0);
	assert_int_equal(cw_bring_peek(&r, &p), 8);
	memcpy(out + 8, p, 8);
	cw_bring_consume(&r, 8);
	assert_int_equal(cw_bring_peek(&r, &p), 8);
	assert_memory_equal(p, "qrstuvwx", 8);
	assert_memory_equal(out, "abcdefghijklmnop", 16);
}

struct xfer {
	struct cw_bring *r;
	size_t total;
	uint64_t sum;
};

static uint8_t byte_at(size_t i)
{
	return (uint8_t)((i * 2654435761u) >> 13);
}

static void *producer(void *arg)
{
	struct xfer *x = arg;
	uint8_t chunk[777];
	size_t sent = 0;

	while (sent < x->total) {
		size_t want = x->total - sent < sizeof(chunk) ? x->total - sent : sizeof(chunk), n;

		for (size_t i = 0; i < want; i++)
			chunk[i] = byte_at(sent + i);
		n = cw_bring_write(x->r, chunk, want);
		/* Only what was taken counts; the rest is offered again. */
		sent += n;
	}
	return NULL;
}

/* One producer thread, one consumer: every byte arrives once, in order. */
static void test_threads(void **state)
{
	static uint8_t buf[4096];
	struct cw_bring r;
	struct xfer x = {.r = &r, .total = 16u << 20};
	pthread_t t;
	size_t got = 0, bad = 0;

	(void)state;
	ring_init(&r, buf, sizeof(buf));
	assert_int_equal(pthread_create(&t, NULL, producer, &x), 0);
	while (got < x.total) {
		const uint8_t *p;
		size_t n = cw_bring_peek(&r, &p);

		for (size_t i = 0; i < n; i++)
			bad += p[i] != byte_at(got + i);
		cw_bring_consume(&r, n);
		got += n;
	}
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(bad, 0);
	assert_int_equal(got, x.total);
	assert_int_equal(cw_bring_used(&r), 0);
}

/* A channel is queued on each side at most once until that side takes it. */
static void test_marks(void **state)
{
	struct cw_chan *c = cw_chan_new();

	(void)state;
	assert_non_null(c);
	assert_int_equal(c->up.size, CW_CHAN_RING_SIZE);
	assert_true(cw_chan_mark(c, true));
	assert_false(cw_chan_mark(c, true));
	/* The other side's mark is separate. */
	assert_true(cw_chan_mark(c, false));
	cw_chan_unmark(c, true);
	assert_true(cw_chan_mark(c, true));
	cw_chan_unmark(c, true);
	cw_chan_unmark(c, false);
	/* Two references: the first put keeps it, the second frees it. */
	cw_chan_put(c);
	assert_int_equal(atomic_load(&c->refs), 1);
	cw_chan_put(c);
}

/* The request for word of room is taken once, by the worker's check. */
static void test_want_room(void **state)
{
	struct cw_chan *c = cw_chan_new();
	uint8_t big[CW_CHAN_RING_SIZE];
	const uint8_t *p;

	(void)state;
	assert_non_null(c);
	assert_false(cw_chan_room_wanted(c));
	memset(big, 7, sizeof(big));
	assert_int_equal(cw_bring_write(&c->up, big, sizeof(big)), CW_CHAN_RING_SIZE);
	assert_int_equal(cw_chan_want_room(c), 0);
	assert_int_equal(cw_bring_peek(&c->up, &p), CW_CHAN_RING_SIZE);
	cw_bring_consume(&c->up, 100);
	assert_true(cw_chan_room_wanted(c));
	assert_false(cw_chan_room_wanted(c));
	assert_int_equal(cw_chan_want_room(c), 100);
	cw_chan_put(c);
	cw_chan_put(c);
}

struct waiter {
	struct cw_chan *c;
	size_t total;
	_Atomic unsigned told; /* the consumer's word of room */
	_Atomic bool stuck;
};

/* A writer that, when the ring is full, asks for room and waits for word
 * of it (with the room the request returned taken at once): it must never
 * wait for word that does not come. */
static void *asking_producer(void *arg)
{
	struct waiter *w = arg;
	uint8_t chunk[1000];
	size_t sent = 0;

	memset(chunk, 1, sizeof(chunk));
	while (sent < w->total) {
		size_t want = w->total - sent < sizeof(chunk) ? w->total - sent : sizeof(chunk);
		size_t n = cw_bring_write(&w->c->up, chunk, want);
		unsigned told = atomic_load(&w->told);

		if (n == 0 && cw_chan_want_room(w->c) == 0) {
			/* About 2 s: far longer than a consumer needs. */
			for (unsigned long spin = 0; atomic_load(&w->told) == told; spin++)
				if (spin > 2000000000ul) {
					w->stuck = true;
					return NULL;
				}
		}
		sent += n;
	}
	return NULL;
}

static void test_want_room_threads(void **state)
{
	struct waiter w = {.c = cw_chan_new(), .total = 64u << 20};
	size_t got = 0;
	pthread_t t;

	(void)state;
	assert_non_null(w.c);
	assert_int_equal(pthread_create(&t, NULL, asking_producer, &w), 0);
	/* Not a byte out until the producer found the ring full and asked. */
	while (!atomic_load(&w.c->up_want))
		;
	while (got < w.total && !w.stuck) {
		const uint8_t *p;
		size_t n = cw_bring_peek(&w.c->up, &p);

		if (!n)
			continue;
		cw_bring_consume(&w.c->up, n);
		got += n;
		if (cw_chan_room_wanted(w.c))
			atomic_fetch_add(&w.told, 1);
	}
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_false(w.stuck);
	assert_int_equal(got, w.total);
	assert_true(atomic_load(&w.told) > 0);
	cw_chan_put(w.c);
	cw_chan_put(w.c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_write_read_wrap), cmocka_unit_test(test_reserve_commit),
	    cmocka_unit_test(test_threads),	    cmocka_unit_test(test_marks),
	    cmocka_unit_test(test_want_room),	    cmocka_unit_test(test_want_room_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
