/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The allocator every allocating tunnel module takes from its caller, so
 * that the same code can draw from malloc in the agent and from per-lcore
 * pools in the dataplane, and tests can count and refuse allocations.
 * free() is told the size that was allocated, which pool allocators need.
 */
#ifndef CW_ALLOC_H
#define CW_ALLOC_H

#include <stddef.h>

struct cw_alloc {
	void *(*alloc)(void *ctx, size_t n);
	void (*free)(void *ctx, void *p, size_t n);
	void *ctx;
};

/* malloc/free. */
const struct cw_alloc *cw_alloc_default(void);

#endif /* CW_ALLOC_H */
