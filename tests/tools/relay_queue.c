/* SPDX-License-Identifier: Apache-2.0 */
#include "relay_queue.h"

#include <errno.h>
#include <stdlib.h>

int cw_rl_heap_init(struct cw_rl_heap *h, unsigned cap)
{
	h->v = calloc(cap ? cap : 1, sizeof(*h->v));
	h->n = 0;
	h->cap = cap;
	h->next_order = 0;
	return h->v ? 0 : -ENOMEM;
}

void cw_rl_heap_free(struct cw_rl_heap *h)
{
	for (unsigned i = 0; i < h->n; i++)
		free(h->v[i]);
	free(h->v);
	h->v = NULL;
	h->n = 0;
}

static bool cw_rl_before(const struct cw_rl_pkt *a, const struct cw_rl_pkt *b)
{
	return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->order < b->order);
}

static void cw_rl_place(struct cw_rl_heap *h, unsigned i, struct cw_rl_pkt *p)
{
	h->v[i] = p;
	p->heap_idx = i;
}

static void cw_rl_sift_up(struct cw_rl_heap *h, unsigned i)
{
	struct cw_rl_pkt *p = h->v[i];

	while (i > 0 && cw_rl_before(p, h->v[(i - 1) / 2])) {
		cw_rl_place(h, i, h->v[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	cw_rl_place(h, i, p);
}

static void cw_rl_sift_down(struct cw_rl_heap *h, unsigned i)
{
	struct cw_rl_pkt *p = h->v[i];

	for (;;) {
		unsigned c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && cw_rl_before(h->v[c + 1], h->v[c]))
			c++;
		if (!cw_rl_before(h->v[c], p))
			break;
		cw_rl_place(h, i, h->v[c]);
		i = c;
	}
	cw_rl_place(h, i, p);
}

int cw_rl_heap_push(struct cw_rl_heap *h, struct cw_rl_pkt *p)
{
	if (h->n >= h->cap)
		return -ENOSPC;
	p->order = h->next_order++;
	h->v[h->n] = p;
	p->heap_idx = h->n++;
	cw_rl_sift_up(h, p->heap_idx);
	return 0;
}

struct cw_rl_pkt *cw_rl_heap_top(const struct cw_rl_heap *h)
{
	return h->n ? h->v[0] : NULL;
}

void cw_rl_heap_remove(struct cw_rl_heap *h, struct cw_rl_pkt *p)
{
	unsigned i = p->heap_idx;
	struct cw_rl_pkt *last = h->v[--h->n];

	if (last == p)
		return;
	cw_rl_place(h, i, last);
	cw_rl_sift_down(h, i);
	cw_rl_sift_up(h, last->heap_idx);
}
