/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>

#include "chunkmap.h"

static inline void **slots(const struct cw_chunkmap *m)
{
	return m->ext ? m->ext : (void **)m->inl;
}

void cw_chunkmap_init(struct cw_chunkmap *m)
{
	memset(m, 0, sizeof(*m));
	m->nslots = CW_CHUNKMAP_INLINE;
}

void *cw_chunkmap_get(const struct cw_chunkmap *m, uint64_t no)
{
	if (no < m->lo || no - m->lo >= m->nslots)
		return NULL;
	return slots(m)[no & (m->nslots - 1)];
}

/*
 * Rehash into a ring of @n slots. Live chunk numbers are in
 * [lo, lo + old nslots), so walking that span finds them all.
 */
static int regrow(struct cw_chunkmap *m, const struct cw_alloc *a, uint32_t n)
{
	void **old = slots(m);
	void **ring = a->alloc(a->ctx, (size_t)n * sizeof(void *));

	if (!ring)
		return -ENOMEM;
	memset(ring, 0, (size_t)n * sizeof(void *));
	for (uint64_t no = m->lo; no < m->lo + m->nslots; no++)
		ring[no & (n - 1)] = old[no & (m->nslots - 1)];
	if (m->ext)
		a->free(a->ctx, m->ext, (size_t)m->nslots * sizeof(void *));
	else
		memset(m->inl, 0, sizeof(m->inl));
	m->ext = ring;
	m->nslots = n;
	return 0;
}

int cw_chunkmap_put(struct cw_chunkmap *m, const struct cw_alloc *a, uint64_t no, void *p)
{
	if (no < m->lo)
		return -EINVAL;
	if (no - m->lo >= m->nslots) {
		uint64_t need = no - m->lo + 1;
		uint32_t n = m->nslots;
		int rc;

		if (need > CW_CHUNKMAP_MAX_SLOTS)
			return -E2BIG;
		while (n < need)
			n *= 2;
		rc = regrow(m, a, n);
		if (rc)
			return rc;
	}
	slots(m)[no & (m->nslots - 1)] = p;
	m->count++;
	return 0;
}

void *cw_chunkmap_swap(struct cw_chunkmap *m, uint64_t no, void *p)
{
	void **slot = &slots(m)[no & (m->nslots - 1)];
	void *old = *slot;

	*slot = p;
	return old;
}

void *cw_chunkmap_take(struct cw_chunkmap *m, const struct cw_alloc *a, uint64_t no)
{
	void *p = cw_chunkmap_get(m, no);

	if (!p)
		return NULL;
	slots(m)[no & (m->nslots - 1)] = NULL;
	if (--m->count == 0)
		cw_chunkmap_release(m, a);
	return p;
}

void cw_chunkmap_advance(struct cw_chunkmap *m, uint64_t lo)
{
	if (lo > m->lo)
		m->lo = lo;
}

void cw_chunkmap_release(struct cw_chunkmap *m, const struct cw_alloc *a)
{
	if (m->ext) {
		a->free(a->ctx, m->ext, (size_t)m->nslots * sizeof(void *));
		m->ext = NULL;
	}
	m->nslots = CW_CHUNKMAP_INLINE;
	memset(m->inl, 0, sizeof(m->inl));
}
