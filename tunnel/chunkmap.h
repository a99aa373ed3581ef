/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Chunk number -> chunk pointer for a sliding window of a byte stream, as
 * the reorder buffer (rob.h) and the send buffer (sendbuf.h) keep their
 * bytes: fixed-size chunks allocated as data arrives, freed as the low edge
 * of the window moves past them.
 *
 * The map is a ring of 2^k slots indexed by chunk number modulo 2^k. Every
 * live chunk number must lie in [lo, lo + nslots); the ring grows (doubling,
 * through the injected allocator) when a chunk beyond that is stored. Up to
 * CW_CHUNKMAP_INLINE slots live inside the struct, so a stream with little
 * data in flight allocates nothing but its chunks, and the external ring is
 * released whenever the map becomes empty (an idle stream holds no memory).
 *
 * The map does not own the chunks: callers allocate and free them, and take
 * them out of the map before freeing.
 */
#ifndef CW_CHUNKMAP_H
#define CW_CHUNKMAP_H

#include <stddef.h>
#include <stdint.h>

#include "alloc.h"

#define CW_CHUNKMAP_INLINE 4
/* Largest ring: 2^20 chunks, far above any window this library allows. */
#define CW_CHUNKMAP_MAX_SLOTS (UINT32_C(1) << 20)

struct cw_chunkmap {
	void **ext;	 /* external ring, or NULL while the inline one is used */
	uint32_t nslots; /* power of two */
	uint32_t count;	 /* chunks stored */
	uint64_t lo;	 /* lowest chunk number that may be stored */
	void *inl[CW_CHUNKMAP_INLINE];
};

void cw_chunkmap_init(struct cw_chunkmap *m);

/* The chunk stored under @no, or NULL. */
void *cw_chunkmap_get(const struct cw_chunkmap *m, uint64_t no);

/*
 * Store @p under @no (no slot for @no may be in use). Grows the ring
 * through @a when @no is beyond it. Returns 0, -EINVAL when @no is below
 * the map's low edge, -E2BIG when the ring would exceed
 * CW_CHUNKMAP_MAX_SLOTS, or -ENOMEM.
 */
int cw_chunkmap_put(struct cw_chunkmap *m, const struct cw_alloc *a, uint64_t no, void *p);

/* Put @p in place of the chunk under @no, which must be stored; returns
 * that chunk. Allocates nothing. */
void *cw_chunkmap_swap(struct cw_chunkmap *m, uint64_t no, void *p);

/* Remove and return the chunk under @no (NULL when none). */
void *cw_chunkmap_take(struct cw_chunkmap *m, const struct cw_alloc *a, uint64_t no);

/*
 * Move the low edge up to @lo. Chunks below @lo must have been taken out
 * already.
 */
void cw_chunkmap_advance(struct cw_chunkmap *m, uint64_t lo);

/* Release the external ring. The map must be empty. */
void cw_chunkmap_release(struct cw_chunkmap *m, const struct cw_alloc *a);

#endif /* CW_CHUNKMAP_H */
