/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>

#include "rob.h"
#include "varint.h"

static inline uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Set bits [s, e) of a chunk bitmap. */
static void bits_set(uint64_t *b, size_t s, size_t e)
{
	while (s < e) {
		size_t w = s / 64, sh = s % 64;
		size_t n = min_u64(64 - sh, e - s);
		uint64_t mask = (n == 64 ? ~UINT64_C(0) : ((UINT64_C(1) << n) - 1)) << sh;

		b[w] |= mask;
		s += n;
	}
}

/* First index in [s, e) whose bit equals @one, or @e. */
static size_t bits_find(const uint64_t *b, size_t s, size_t e, bool one)
{
	while (s < e) {
		uint64_t w = one ? b[s / 64] : ~b[s / 64];

		w &= ~UINT64_C(0) << (s % 64);
		if (w) {
			size_t i = (s & ~(size_t)63) + (size_t)__builtin_ctzll(w);

			return i < e ? i : e;
		}
		s = (s & ~(size_t)63) + 64;
	}
	return e;
}

int cw_rob_init(struct cw_rob *r, const struct cw_alloc *a, uint64_t limit)
{
	if (limit > CW_ROB_MAX_SPAN)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	r->a = a;
	r->limit = limit;
	r->final = CW_ROB_NO_FINAL;
	cw_chunkmap_init(&r->map);
	return 0;
}

static void free_chunk(struct cw_rob *r, uint64_t no)
{
	void *c = cw_chunkmap_take(&r->map, r->a, no);

	if (c)
		r->a->free(r->a->ctx, c, sizeof(struct cw_rob_chunk));
}

/* Free every chunk and move all offsets to @to. */
static void drop_all(struct cw_rob *r, uint64_t to)
{
	if (r->map.count)
		for (uint64_t no = r->read_off / CW_ROB_CHUNK; r->map.count; no++)
			free_chunk(r, no);
	cw_chunkmap_release(&r->map, r->a);
	r->read_off = r->ready = to;
	cw_chunkmap_advance(&r->map, to / CW_ROB_CHUNK);
}

void cw_rob_free(struct cw_rob *r)
{
	drop_all(r, r->highest);
}

int cw_rob_set_limit(struct cw_rob *r, uint64_t limit)
{
	if (limit <= r->limit)
		return 0;
	if (limit - r->read_off > CW_ROB_MAX_SPAN)
		return -EINVAL;
	r->limit = limit;
	return 0;
}

int cw_rob_check(const struct cw_rob *r, uint64_t off, size_t len, bool fin)
{
	uint64_t end;

	if (len > CW_VARINT_MAX || off > CW_VARINT_MAX - len)
		return -ERANGE;
	end = off + len;
	if (r->final != CW_ROB_NO_FINAL) {
		if (end > r->final || (fin && end != r->final))
			return -EPROTO;
	} else if (fin && end < r->highest) {
		return -EPROTO;
	}
	if (end > r->limit)
		return -EDQUOT;
	return 0;
}

static struct cw_rob_chunk *chunk_for(struct cw_rob *r, uint64_t no)
{
	struct cw_rob_chunk *c = cw_chunkmap_get(&r->map, no);

	if (c)
		return c;
	c = r->a->alloc(r->a->ctx, sizeof(*c));
	if (!c)
		return NULL;
	memset(c->bits, 0, sizeof(c->bits));
	if (cw_chunkmap_put(&r->map, r->a, no, c)) {
		r->a->free(r->a->ctx, c, sizeof(*c));
		return NULL;
	}
	return c;
}

/* Copy the bytes of [o, e) in @c that are not present yet. */
static void fill_holes(struct cw_rob_chunk *c, size_t o, size_t e, const uint8_t *src)
{
	size_t i = o;

	while (i < e) {
		size_t z = bits_find(c->bits, i, e, false);
		size_t z_end;

		if (z == e)
			break;
		z_end = bits_find(c->bits, z, e, true);
		memcpy(c->data + z, src + (z - o), z_end - z);
		bits_set(c->bits, z, z_end);
		i = z_end;
	}
}

/*
 * Store [off, off + len). Bytes at or above @old_high cannot have arrived
 * before, so they are copied without consulting the bitmap.
 */
static int store(struct cw_rob *r, uint64_t off, const uint8_t *data, size_t len, uint64_t old_high)
{
	while (len) {
		uint64_t no = off / CW_ROB_CHUNK;
		size_t o = off % CW_ROB_CHUNK;
		size_t n = min_u64(len, CW_ROB_CHUNK - o);
		struct cw_rob_chunk *c = chunk_for(r, no);

		if (!c)
			return -ENOMEM;
		if (off >= old_high) {
			memcpy(c->data + o, data, n);
			bits_set(c->bits, o, o + n);
		} else {
			fill_holes(c, o, o + n, data);
		}
		off += n;
		data += n;
		len -= n;
	}
	return 0;
}

/*
 * Store [ready, ready + len), the next bytes in order with nothing
 * received beyond them: no bitmap to consult or set, as bytes below
 * `ready` are all present and their bits are never read again.
 */
static int append(struct cw_rob *r, const uint8_t *data, size_t len)
{
	while (len) {
		size_t o = r->ready % CW_ROB_CHUNK;
		size_t n = min_u64(len, CW_ROB_CHUNK - o);
		struct cw_rob_chunk *c = chunk_for(r, r->ready / CW_ROB_CHUNK);

		if (!c)
			return -ENOMEM;
		memcpy(c->data + o, data, n);
		r->ready += n;
		data += n;
		len -= n;
	}
	return 0;
}

static void advance_ready(struct cw_rob *r)
{
	while (r->ready < r->highest) {
		struct cw_rob_chunk *c = cw_chunkmap_get(&r->map, r->ready / CW_ROB_CHUNK);
		size_t o = r->ready % CW_ROB_CHUNK;
		size_t z;

		if (!c)
			return;
		z = bits_find(c->bits, o, CW_ROB_CHUNK, false);
		r->ready += z - o;
		if (z < CW_ROB_CHUNK)
			return;
	}
}

int cw_rob_insert(struct cw_rob *r, uint64_t off, const uint8_t *data, size_t len, bool fin)
{
	int rc = cw_rob_check(r, off, len, fin);
	uint64_t end = off + len, old_high = r->highest;

	if (rc)
		return rc;
	if (fin)
		r->final = end;
	if (end > r->highest)
		r->highest = end;
	if (r->discard) {
		r->read_off = r->ready = r->highest;
		cw_chunkmap_advance(&r->map, r->read_off / CW_ROB_CHUNK);
		return 0;
	}
	if (off < r->ready) {
		uint64_t skip = r->ready - off;

		if (skip >= len)
			return 0;
		off += skip;
		data += skip;
		len -= skip;
	}
	if (off == r->ready && r->ready == old_high)
		return append(r, data, len);
	rc = store(r, off, data, len, old_high);
	advance_ready(r);
	return rc;
}

int cw_rob_set_final(struct cw_rob *r, uint64_t final)
{
	if (final > CW_VARINT_MAX)
		return -ERANGE;
	if (r->final != CW_ROB_NO_FINAL && final != r->final)
		return -EPROTO;
	if (final < r->highest)
		return -EPROTO;
	if (final > r->limit)
		return -EDQUOT;
	r->final = final;
	return 0;
}

size_t cw_rob_consume(struct cw_rob *r, size_t n)
{
	uint64_t from = r->read_off / CW_ROB_CHUNK, to;

	n = min_u64(n, cw_rob_readable(r));
	r->read_off += n;
	to = r->read_off / CW_ROB_CHUNK;
	for (uint64_t no = from; no < to; no++)
		free_chunk(r, no);
	cw_chunkmap_advance(&r->map, to);
	/*
	 * Everything received has been read: the chunk under the read offset
	 * is where the next bytes in order go, so a reader that keeps up
	 * does not free and allocate one per packet. It goes with the stream's
	 * end, or at cw_rob_trim().
	 */
	if (cw_rob_finished(r))
		free_chunk(r, to);
	return n;
}

void cw_rob_trim(struct cw_rob *r)
{
	if (r->read_off == r->highest)
		free_chunk(r, r->read_off / CW_ROB_CHUNK);
}

const uint8_t *cw_rob_peek(const struct cw_rob *r, size_t *len)
{
	size_t o = r->read_off % CW_ROB_CHUNK;
	const struct cw_rob_chunk *c;

	*len = min_u64(cw_rob_readable(r), CW_ROB_CHUNK - o);
	if (!*len)
		return NULL;
	c = cw_chunkmap_get(&r->map, r->read_off / CW_ROB_CHUNK);
	return c->data + o;
}

size_t cw_rob_read(struct cw_rob *r, uint8_t *buf, size_t cap)
{
	size_t done = 0;

	while (done < cap) {
		size_t n;
		const uint8_t *p = cw_rob_peek(r, &n);

		if (!p)
			break;
		n = min_u64(n, cap - done);
		memcpy(buf + done, p, n);
		cw_rob_consume(r, n);
		done += n;
	}
	return done;
}

void cw_rob_discard(struct cw_rob *r)
{
	r->discard = true;
	drop_all(r, r->highest);
}
