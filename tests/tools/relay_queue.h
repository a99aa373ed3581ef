/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pending datagrams of the relay: a min-heap ordered by (due time, arrival
 * order), so datagrams due at the same time leave in the order they came.
 * Capacity is fixed at init: the relay counts what does not fit as a drop.
 */
#ifndef CW_RELAY_QUEUE_H
#define CW_RELAY_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cw_rl_pkt {
	uint64_t due_ns, order, k;
	unsigned dir, client, heap_idx, held_idx;
	unsigned held_gap; /* > 0: still waiting for that many later datagrams */
	bool held;
	unsigned copies;
	bool flip[2];
	uint32_t bit[2];
	size_t len;
	uint8_t data[];
};

struct cw_rl_heap {
	struct cw_rl_pkt **v;
	unsigned n, cap;
	uint64_t next_order;
};

/* 0 or -ENOMEM. */
int cw_rl_heap_init(struct cw_rl_heap *h, unsigned cap);
/* Frees the heap and every packet still in it. */
void cw_rl_heap_free(struct cw_rl_heap *h);
/* 0, or -ENOSPC when full (the caller still owns @p). */
int cw_rl_heap_push(struct cw_rl_heap *h, struct cw_rl_pkt *p);
/* The earliest packet, or NULL when empty. */
struct cw_rl_pkt *cw_rl_heap_top(const struct cw_rl_heap *h);
/* Remove @p (which must be in @h) wherever it is; the caller owns it. */
void cw_rl_heap_remove(struct cw_rl_heap *h, struct cw_rl_pkt *p);

#endif
