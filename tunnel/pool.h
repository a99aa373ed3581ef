/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A caching struct cw_alloc for one thread: freed blocks wait in free lists
 * keyed by their exact size and are handed out again for the same size, so
 * that a worker's steady state (streams, messages, packet records opened
 * and freed per request) calls neither malloc nor free.
 *
 * Every block is a plain block of the wrapped allocator of exactly the
 * size asked for, never rounded: a block that another malloc-based
 * allocator handed out (a session built on another thread and adopted)
 * may be freed here with its size, and comes out again only for that
 * size. Sizes under a pointer or over CW_POOL_BLOCK_MAX, and sizes met
 * when the table of sizes has no room near their hash, go straight to the
 * wrapped allocator. The cached bytes never exceed the pool's cap; a free
 * beyond it goes to the wrapped allocator too.
 *
 * No locks: only the owning thread may call the pool. Under AddressSanitizer
 * cached blocks are poisoned, so a use after free still faults.
 */
#ifndef CW_POOL_H
#define CW_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "alloc.h"

#define CW_POOL_CAP_DEFAULT ((size_t)4 << 20)  /* cached bytes at most */
#define CW_POOL_BLOCK_MAX   ((size_t)64 << 10) /* larger blocks are not cached */
#define CW_POOL_CLASSES	    128		       /* distinct sizes cached at once */
#define CW_POOL_PROBES	    8		       /* slots tried for a size */

struct cw_pool_stats {
	size_t in_use;	 /* allocated by callers and not yet freed, in bytes */
	size_t cached;	 /* held in the free lists, in bytes */
	uint64_t hits;	 /* allocations served from a free list */
	uint64_t misses; /* allocations passed to the wrapped allocator */
};

/* One size's free list, linked through the blocks' first bytes. */
struct cw_pool_class {
	size_t size; /* 0: slot unused */
	void *head;
};

struct cw_pool {
	struct cw_alloc a; /* the pool as an allocator: see cw_pool_alloc() */
	const struct cw_alloc *under;
	size_t cap;
	struct cw_pool_stats st;
	struct cw_pool_class cls[CW_POOL_CLASSES];
};

/*
 * Sets up an empty pool over @under (NULL: malloc/free) that caches up to
 * @cap bytes (0: CW_POOL_CAP_DEFAULT). Allocates nothing. @under must
 * outlive the pool.
 */
void cw_pool_init(struct cw_pool *p, const struct cw_alloc *under, size_t cap);

/* The pool as a struct cw_alloc, valid as long as @p. */
static inline const struct cw_alloc *cw_pool_alloc(const struct cw_pool *p)
{
	return &p->a;
}

/*
 * Gives every cached block back to the wrapped allocator and forgets the
 * sizes seen. Blocks in use stay valid and may still be freed here. Call it
 * when the owner goes idle and before discarding the pool.
 */
void cw_pool_trim(struct cw_pool *p);

/*
 * Counts @n bytes of blocks that another allocator handed out as in use
 * here, for an owner that takes them over and will free them into @p. A
 * counting wrapped allocator needs the same adjustment: the pool gives it
 * those blocks when it trims or is full.
 */
void cw_pool_adopt(struct cw_pool *p, size_t n);

static inline const struct cw_pool_stats *cw_pool_stats(const struct cw_pool *p)
{
	return &p->st;
}

#endif /* CW_POOL_H */
