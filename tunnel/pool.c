/* SPDX-License-Identifier: Apache-2.0 */
#include <stdbool.h>
#include <string.h>

#include "pool.h"

#if defined(__SANITIZE_ADDRESS__)
#define POOL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_ASAN 1
#endif
#endif

#ifdef POOL_ASAN
#include <sanitizer/asan_interface.h>
#define poison(b, n)   ASAN_POISON_MEMORY_REGION(b, n)
#define unpoison(b, n) ASAN_UNPOISON_MEMORY_REGION(b, n)
#else
#define poison(b, n)   ((void)(b), (void)(n))
#define unpoison(b, n) ((void)(b), (void)(n))
#endif

/* The link of a cached block: its first bytes. */
static void *link_get(void *b)
{
	void *next;

	unpoison(b, sizeof(next));
	memcpy(&next, b, sizeof(next));
	return next;
}

static unsigned slot_of(size_t n)
{
	/* Fibonacci hashing: sizes are often multiples of 8 or 16. */
	return (unsigned)(((uint64_t)n * UINT64_C(0x9e3779b97f4a7c15)) >> 57) &
	       (CW_POOL_CLASSES - 1);
}

/* @n's class, or NULL; with @add, an unused slot is taken for @n if one is
 * near enough. Sizes leave the table only all at once (trim), so the first
 * unused slot ends the search. */
static struct cw_pool_class *class_find(struct cw_pool *p, size_t n, bool add)
{
	unsigned s = slot_of(n);

	for (unsigned i = 0; i < CW_POOL_PROBES; i++) {
		struct cw_pool_class *c = &p->cls[(s + i) & (CW_POOL_CLASSES - 1)];

		if (c->size == n)
			return c;
		if (c->size == 0) {
			if (!add)
				return NULL;
			c->size = n;
			return c;
		}
	}
	return NULL;
}

static bool cacheable(size_t n)
{
	return n >= sizeof(void *) && n <= CW_POOL_BLOCK_MAX;
}

static void *pool_alloc(void *ctx, size_t n)
{
	struct cw_pool *p = ctx;
	struct cw_pool_class *c = cacheable(n) ? class_find(p, n, false) : NULL;
	void *b;

	if (c && c->head) {
		b = c->head;
		c->head = link_get(b);
		unpoison(b, n);
		p->st.cached -= n;
		p->st.hits++;
	} else {
		b = p->under->alloc(p->under->ctx, n);
		if (!b)
			return NULL;
		p->st.misses++;
	}
	p->st.in_use += n;
	return b;
}

static void pool_free(void *ctx, void *b, size_t n)
{
	struct cw_pool *p = ctx;
	struct cw_pool_class *c;

	if (!b)
		return;
	p->st.in_use -= n;
	c = cacheable(n) && n <= p->cap - p->st.cached ? class_find(p, n, true) : NULL;
	if (!c) {
		p->under->free(p->under->ctx, b, n);
		return;
	}
	memcpy(b, &c->head, sizeof(c->head));
	poison(b, n);
	c->head = b;
	p->st.cached += n;
}

void cw_pool_init(struct cw_pool *p, const struct cw_alloc *under, size_t cap)
{
	memset(p, 0, sizeof(*p));
	p->a = (struct cw_alloc){pool_alloc, pool_free, p};
	p->under = under ? under : cw_alloc_default();
	p->cap = cap ? cap : CW_POOL_CAP_DEFAULT;
}

void cw_pool_trim(struct cw_pool *p)
{
	for (unsigned i = 0; i < CW_POOL_CLASSES; i++) {
		struct cw_pool_class *c = &p->cls[i];

		while (c->head) {
			void *b = c->head;

			c->head = link_get(b);
			unpoison(b, c->size);
			p->under->free(p->under->ctx, b, c->size);
		}
		c->size = 0;
	}
	p->st.cached = 0;
}

void cw_pool_adopt(struct cw_pool *p, size_t n)
{
	p->st.in_use += n;
}
