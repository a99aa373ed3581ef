/* SPDX-License-Identifier: Apache-2.0 */
#include "control/chan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

size_t cw_bring_used(const struct cw_bring *r)
{
	return atomic_load_explicit(&r->head, memory_order_acquire) -
	       atomic_load_explicit(&r->tail, memory_order_acquire);
}

size_t cw_bring_room(const struct cw_bring *r)
{
	return r->size - cw_bring_used(r);
}

size_t cw_bring_write(struct cw_bring *r, const uint8_t *data, size_t len)
{
	size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	size_t n = r->size - (head - tail), off = head & (r->size - 1), first;

	if (len < n)
		n = len;
	first = r->size - off < n ? r->size - off : n;
	memcpy(r->buf + off, data, first);
	memcpy(r->buf, data + first, n - first);
	/* The bytes are in place before the consumer can see the new head. */
	atomic_store_explicit(&r->head, head + n, memory_order_release);
	return n;
}

size_t cw_bring_reserve(const struct cw_bring *r, uint8_t **p)
{
	size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	size_t off = head & (r->size - 1), n = r->size - (head - tail);

	*p = r->buf + off;
	return r->size - off < n ? r->size - off : n;
}

void cw_bring_commit(struct cw_bring *r, size_t n)
{
	size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);

	/* The bytes are in place before the consumer can see the new head. */
	atomic_store_explicit(&r->head, head + n, memory_order_release);
}

size_t cw_bring_peek(const struct cw_bring *r, const uint8_t **p)
{
	size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	size_t off, n = head - tail;

	if (!n) /* also a ring whose buffer is not there yet (cw_chan_api_ring()) */
		return 0;
	off = tail & (r->size - 1);
	*p = r->buf + off;
	return r->size - off < n ? r->size - off : n;
}

void cw_bring_consume(struct cw_bring *r, size_t n)
{
	size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);

	atomic_store_explicit(&r->tail, tail + n, memory_order_release);
}

struct cw_chan *cw_chan_new(void)
{
	struct cw_chan *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->up.size = c->down.size = CW_CHAN_RING_SIZE;
	c->up.buf = malloc(CW_CHAN_RING_SIZE);
	c->down.buf = malloc(CW_CHAN_RING_SIZE);
	if (!c->up.buf || !c->down.buf) {
		free(c->up.buf);
		free(c->down.buf);
		free(c);
		return NULL;
	}
	atomic_init(&c->refs, 2);
	return c;
}

struct cw_chan *cw_chan_new_api(void *api, void (*api_free)(void *ctx, void *api), void *ctx)
{
	struct cw_chan *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->api = api;
	c->api_free = api_free;
	c->api_ctx = ctx;
	atomic_init(&c->refs, 2);
	return c;
}

int cw_chan_api_ring(struct cw_chan *c, size_t size)
{
	c->up.buf = malloc(size);
	if (!c->up.buf)
		return -ENOMEM;
	c->up.size = size;
	return 0;
}

void cw_chan_get(struct cw_chan *c)
{
	atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

void cw_chan_put(struct cw_chan *c)
{
	if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
		return;
	if (c->api_free)
		c->api_free(c->api_ctx, c->api);
	free(c->up.buf);
	free(c->down.buf);
	free(c);
}

bool cw_chan_mark(struct cw_chan *c, bool for_worker)
{
	_Atomic bool *q = for_worker ? &c->queued_w : &c->queued_c;

	return !atomic_exchange_explicit(q, true, memory_order_acq_rel);
}

void cw_chan_unmark(struct cw_chan *c, bool for_worker)
{
	_Atomic bool *q = for_worker ? &c->queued_w : &c->queued_c;

	/* A read-modify-write, so the state loads that follow cannot move
	 * before it and miss a change whose producer saw the mark still set. */
	atomic_exchange_explicit(q, false, memory_order_acq_rel);
}

/*
 * Dekker's handshake: the control thread stores up_want then loads the
 * tail; the worker stores the tail then loads up_want. The fences keep
 * each store before its load, so at least one of them sees the other's.
 */
size_t cw_chan_want_room(struct cw_chan *c)
{
	atomic_store_explicit(&c->up_want, true, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
	return cw_bring_room(&c->up);
}

bool cw_chan_room_wanted(struct cw_chan *c)
{
	atomic_thread_fence(memory_order_seq_cst);
	return atomic_load_explicit(&c->up_want, memory_order_relaxed) &&
	       atomic_exchange_explicit(&c->up_want, false, memory_order_acq_rel);
}
