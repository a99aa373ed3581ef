/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>

#include "sendbuf.h"

static inline uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

int cw_sendbuf_init(struct cw_sendbuf *b, const struct cw_alloc *a, uint64_t cap)
{
	if (!cap || cap > CW_SENDBUF_MAX_CAP)
		return -EINVAL;
	memset(b, 0, sizeof(*b));
	b->a = a;
	b->cap = cap;
	cw_chunkmap_init(&b->map);
	return 0;
}

static struct cw_sendbuf_ranges *ranges(struct cw_sendbuf *b)
{
	if (!b->rs) {
		b->rs = b->a->alloc(b->a->ctx, sizeof(*b->rs));
		if (!b->rs)
			return NULL;
		cw_rangeset_init(&b->rs->acked);
		cw_rangeset_init(&b->rs->retx);
	}
	return b->rs;
}

static void release_ranges(struct cw_sendbuf *b, bool force)
{
	if (b->rs && (force || (!b->rs->acked.n && !b->rs->retx.n))) {
		b->a->free(b->a->ctx, b->rs, sizeof(*b->rs));
		b->rs = NULL;
	}
}

static inline uint32_t n_retx(const struct cw_sendbuf *b)
{
	return b->rs ? b->rs->retx.n : 0;
}

/* Every chunk below the one at `written` is full, so full-sized. */
static size_t chunk_size(const struct cw_sendbuf *b, uint64_t no)
{
	return no == b->written / CW_SENDBUF_CHUNK ? b->wcap : CW_SENDBUF_CHUNK;
}

/* Byte @o of chunk @no, which holds it. */
static uint8_t *chunk_byte(const struct cw_sendbuf *b, uint64_t no, size_t o)
{
	uint8_t *c = cw_chunkmap_get(&b->map, no);

	return c + (no == b->written / CW_SENDBUF_CHUNK ? o - b->wbase : o);
}

static void free_below(struct cw_sendbuf *b, uint64_t chunk_no)
{
	for (uint64_t no = b->map.lo; no < chunk_no && b->map.count; no++) {
		void *c = cw_chunkmap_take(&b->map, b->a, no);

		if (c)
			b->a->free(b->a->ctx, c, chunk_size(b, no));
	}
	cw_chunkmap_advance(&b->map, chunk_no);
}

/*
 * All written bytes are acknowledged: the chunk under the write offset
 * holds nothing of use, and an idle stream should hold no memory. The
 * next write allocates it again.
 */
static void free_idle_chunk(struct cw_sendbuf *b)
{
	void *c = cw_chunkmap_take(&b->map, b->a, b->written / CW_SENDBUF_CHUNK);

	if (c)
		b->a->free(b->a->ctx, c, b->wcap);
}

void cw_sendbuf_free(struct cw_sendbuf *b)
{
	free_below(b, b->written / CW_SENDBUF_CHUNK + 1);
	cw_chunkmap_release(&b->map, b->a);
	release_ranges(b, true);
}

/* The smallest step from CW_SENDBUF_CHUNK_MIN up by 4x that holds @n. */
static size_t step_for(size_t n)
{
	size_t s = CW_SENDBUF_CHUNK_MIN;

	while (s < n)
		s *= 4;
	return s;
}

/*
 * Make the chunk at `written` hold its bytes up to @end (an offset in the
 * chunk), keeping those written. Full-sized while sent bytes await their
 * acknowledgment (a stream streaming) and when it would reach the chunk's
 * end (so every chunk below `written` is full); else from its first byte
 * to @end, rounded up a step.
 */
static int chunk_fit(struct cw_sendbuf *b, size_t end)
{
	uint64_t no = b->written / CW_SENDBUF_CHUNK;
	size_t o = b->written % CW_SENDBUF_CHUNK;
	uint8_t *c = cw_chunkmap_get(&b->map, no), *n;
	size_t base = c ? b->wbase : o, size;

	if (c && end <= b->wbase + b->wcap)
		return 0;
	size = step_for(end - base);
	if (b->sent != b->una || base + size >= CW_SENDBUF_CHUNK) {
		base = 0;
		size = CW_SENDBUF_CHUNK;
	}
	n = b->a->alloc(b->a->ctx, size);
	if (!n)
		return -ENOMEM;
	if (c) {
		memcpy(n + (b->wbase - base), c, o - b->wbase);
		cw_chunkmap_swap(&b->map, no, n);
		b->a->free(b->a->ctx, c, b->wcap);
	} else if (cw_chunkmap_put(&b->map, b->a, no, n)) {
		b->a->free(b->a->ctx, n, size);
		return -ENOMEM;
	}
	b->wbase = (uint32_t)base;
	b->wcap = (uint32_t)size;
	return 0;
}

int cw_sendbuf_write(struct cw_sendbuf *b, const uint8_t *data, size_t len, size_t *n)
{
	uint64_t room;

	*n = 0;
	if (b->fin || b->reset)
		return -EPIPE;
	room = min_u64(len, cw_sendbuf_space(b));
	if (len && !room)
		return -EAGAIN;
	while (*n < room) {
		size_t o = b->written % CW_SENDBUF_CHUNK;
		size_t k = min_u64(room - *n, CW_SENDBUF_CHUNK - o);

		if (chunk_fit(b, o + k))
			return -ENOMEM;
		memcpy(chunk_byte(b, b->written / CW_SENDBUF_CHUNK, o), data + *n, k);
		b->written += k;
		*n += k;
	}
	return 0;
}

int cw_sendbuf_finish(struct cw_sendbuf *b)
{
	if (b->reset)
		return -EPIPE;
	if (!b->fin) {
		b->fin = true;
		b->fin_pending = true;
	}
	return 0;
}

bool cw_sendbuf_has_retx(const struct cw_sendbuf *b)
{
	return !b->reset && (n_retx(b) || (b->fin_pending && b->sent == b->written));
}

bool cw_sendbuf_has_data(const struct cw_sendbuf *b, uint64_t limit)
{
	return cw_sendbuf_has_retx(b) || (!b->reset && b->sent < b->written && b->sent < limit);
}

/* Fill @s with [off, end) capped at @max_len and the chunk's end. */
static void span_at(struct cw_sendbuf *b, uint64_t off, uint64_t end, size_t max_len,
		    struct cw_sendbuf_span *s)
{
	size_t o = off % CW_SENDBUF_CHUNK;

	end = min_u64(end, off + min_u64(max_len, CW_SENDBUF_CHUNK - o));
	s->offset = off;
	s->data = chunk_byte(b, off / CW_SENDBUF_CHUNK, o);
	s->len = end - off;
	s->fin = b->fin && end == b->written;
	if (s->fin)
		b->fin_pending = false;
}

/*
 * The first lost byte range with acknowledged bytes trimmed from its
 * start (a coalesced retransmission range may cover some); false if none.
 */
static bool first_lost(struct cw_sendbuf *b, uint64_t *lo, uint64_t *hi)
{
	while (n_retx(b)) {
		const struct cw_rangeset *acked = &b->rs->acked;
		uint64_t l = b->rs->retx.r[0].lo, h = b->rs->retx.r[0].hi;

		for (uint32_t i = 0; i < acked->n; i++)
			if (acked->r[i].lo <= l && l < acked->r[i].hi)
				l = acked->r[i].hi;
		if (l < h) {
			*lo = l;
			*hi = h;
			return true;
		}
		cw_rangeset_remove(&b->rs->retx, b->rs->retx.r[0].lo, h);
	}
	release_ranges(b, false);
	return false;
}

int cw_sendbuf_next(struct cw_sendbuf *b, size_t max_len, uint64_t limit, struct cw_sendbuf_span *s)
{
	uint64_t lo, hi;

	if (b->reset)
		return -ENOENT;
	if (max_len && first_lost(b, &lo, &hi)) {
		span_at(b, lo, hi, max_len, s);
		cw_rangeset_remove(&b->rs->retx, b->rs->retx.r[0].lo, s->offset + s->len);
		release_ranges(b, false);
		return 0;
	}
	if (max_len && b->sent < b->written && b->sent < limit) {
		span_at(b, b->sent, min_u64(b->written, limit), max_len, s);
		b->sent += s->len;
		return 0;
	}
	if (b->fin_pending && b->sent == b->written && !n_retx(b)) {
		*s = (struct cw_sendbuf_span){b->written, NULL, 0, true};
		b->fin_pending = false;
		return 0;
	}
	return -ENOENT;
}

/* Move una over acknowledged ranges that now touch it. */
static void absorb(struct cw_sendbuf *b)
{
	struct cw_rangeset *acked = &b->rs->acked;

	while (acked->n && acked->r[0].lo <= b->una) {
		if (acked->r[0].hi > b->una)
			b->una = acked->r[0].hi;
		cw_rangeset_remove_below(acked, b->una);
	}
}

int cw_sendbuf_on_acked(struct cw_sendbuf *b, uint64_t off, size_t len, bool fin)
{
	uint64_t end = off + len;

	if (b->reset)
		return 0;
	if (fin)
		b->fin_acked = true;
	if (end <= b->una)
		return 0;
	if (off < b->una)
		off = b->una;
	if (off == b->una) {
		/* The common, in-order case needs no range set. */
		b->una = end;
		if (b->rs)
			absorb(b);
	} else if (!ranges(b)) {
		return -ENOMEM;
	} else if (cw_rangeset_add(&b->rs->acked, off, end) == -ENOSPC) {
		cw_rangeset_add_coalesce(&b->rs->retx, off, end);
		return 0;
	}
	if (b->rs) {
		/* A split that does not fit leaves bytes to resend: harmless. */
		(void)cw_rangeset_remove(&b->rs->retx, off, end);
		cw_rangeset_remove_below(&b->rs->retx, b->una);
		release_ranges(b, false);
	}
	free_below(b, b->una / CW_SENDBUF_CHUNK);
	if (b->una == b->written)
		free_idle_chunk(b);
	return 0;
}

int cw_sendbuf_on_lost(struct cw_sendbuf *b, uint64_t off, size_t len, bool fin)
{
	uint64_t end = off + len;
	struct cw_sendbuf_ranges *rs;

	if (b->reset)
		return 0;
	if (fin && !b->fin_acked)
		b->fin_pending = true;
	if (off < b->una)
		off = b->una;
	if (off >= end)
		return 0;
	rs = ranges(b);
	if (!rs)
		return -ENOMEM;
	for (uint32_t i = 0; i < rs->acked.n && off < end; i++) {
		const struct cw_range *r = &rs->acked.r[i];

		if (r->hi <= off)
			continue;
		if (r->lo >= end)
			break;
		if (r->lo > off)
			cw_rangeset_add_coalesce(&rs->retx, off, r->lo);
		off = r->hi;
	}
	if (off < end)
		cw_rangeset_add_coalesce(&rs->retx, off, end);
	release_ranges(b, false);
	return 0;
}

void cw_sendbuf_reset(struct cw_sendbuf *b)
{
	free_below(b, b->written / CW_SENDBUF_CHUNK + 1);
	cw_chunkmap_release(&b->map, b->a);
	release_ranges(b, true);
	b->reset = true;
	b->fin_pending = false;
}
