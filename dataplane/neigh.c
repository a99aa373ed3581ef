/* SPDX-License-Identifier: Apache-2.0 */
#include "neigh.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_seqcount.h>
#include <rte_spinlock.h>

#define CW_NEIGH_PROBE 8 /* slots an address may occupy, from its hash */

enum { NEIGH_EMPTY = 0, NEIGH_INCOMPLETE, NEIGH_VALID };

struct cw_neigh_entry {
	rte_seqcount_t seq;
	uint32_t ip;
	uint8_t state;
	uint8_t mac[6];
	uint64_t updated;   /* when the MAC was learnt */
	uint64_t solicited; /* when we last asked */
};

struct cw_neigh {
	rte_spinlock_t wlock;
	uint32_t mask;
	uint32_t shift; /* 32 - log2(size) */
	uint64_t timeout;
	struct cw_neigh_entry e[];
};

/*
 * Fibonacci hashing of the host-order address: the product's top bits
 * depend on every bit of the key, so the hosts of one subnet (which differ
 * in the low bits) spread over the whole table.
 */
static inline uint32_t neigh_hash(const struct cw_neigh *n, uint32_t ip)
{
	return (rte_be_to_cpu_32(ip) * 2654435761u) >> n->shift;
}

struct cw_neigh *cw_neigh_create(uint32_t size, uint64_t timeout)
{
	struct cw_neigh *n;
	uint32_t sz = rte_align32pow2(size < 16 ? 16 : size);

	n = calloc(1, sizeof(*n) + sz * sizeof(n->e[0]));
	if (!n)
		return NULL;
	rte_spinlock_init(&n->wlock);
	n->mask = sz - 1;
	n->shift = 32 - (uint32_t)rte_log2_u32(sz);
	n->timeout = timeout;
	for (uint32_t i = 0; i < sz; i++)
		rte_seqcount_init(&n->e[i].seq);
	return n;
}

void cw_neigh_free(struct cw_neigh *n)
{
	free(n);
}

static bool entry_live(const struct cw_neigh *n, const struct cw_neigh_entry *e, uint64_t now)
{
	if (e->state == NEIGH_VALID)
		return now - e->updated < n->timeout;
	/* An unanswered request keeps its slot for one timeout too. */
	return e->state == NEIGH_INCOMPLETE && now - e->solicited < n->timeout;
}

/* Find @ip's slot, or the slot it should take. Call with wlock held. */
static struct cw_neigh_entry *slot_for(struct cw_neigh *n, uint32_t ip, uint64_t now, bool create)
{
	struct cw_neigh_entry *victim = NULL;
	uint32_t h = neigh_hash(n, ip);

	for (uint32_t i = 0; i < CW_NEIGH_PROBE; i++) {
		struct cw_neigh_entry *e = &n->e[(h + i) & n->mask];
		if (e->state != NEIGH_EMPTY && e->ip == ip)
			return e;
		if (!victim && (e->state == NEIGH_EMPTY || !entry_live(n, e, now)))
			victim = e;
	}
	return create ? victim : NULL;
}

static void entry_write(struct cw_neigh_entry *e, uint32_t ip, uint8_t state, const uint8_t *mac,
			uint64_t updated, uint64_t solicited)
{
	rte_seqcount_write_begin(&e->seq);
	e->ip = ip;
	e->state = state;
	if (mac)
		memcpy(e->mac, mac, 6);
	e->updated = updated;
	e->solicited = solicited;
	rte_seqcount_write_end(&e->seq);
}

static int neigh_set(struct cw_neigh *n, uint32_t ip, const uint8_t mac[6], uint64_t now,
		     bool create)
{
	struct cw_neigh_entry *e;
	int rc = 0;

	rte_spinlock_lock(&n->wlock);
	e = slot_for(n, ip, now, create);
	if (e)
		entry_write(e, ip, NEIGH_VALID, mac, now, e->ip == ip ? e->solicited : 0);
	else
		rc = create ? -ENOSPC : -ENOENT;
	rte_spinlock_unlock(&n->wlock);
	return rc;
}

int cw_neigh_update(struct cw_neigh *n, uint32_t ip, const uint8_t mac[6], uint64_t now)
{
	return neigh_set(n, ip, mac, now, true);
}

int cw_neigh_refresh(struct cw_neigh *n, uint32_t ip, const uint8_t mac[6], uint64_t now)
{
	return neigh_set(n, ip, mac, now, false);
}

int cw_neigh_lookup(const struct cw_neigh *n, uint32_t ip, uint8_t mac[6], uint64_t now)
{
	uint32_t h = neigh_hash(n, ip);

	for (uint32_t i = 0; i < CW_NEIGH_PROBE; i++) {
		const struct cw_neigh_entry *e = &n->e[(h + i) & n->mask];
		uint32_t sn, eip;
		uint8_t state;
		uint64_t updated;

		do {
			sn = rte_seqcount_read_begin(&e->seq);
			eip = e->ip;
			state = e->state;
			updated = e->updated;
			memcpy(mac, e->mac, 6);
		} while (rte_seqcount_read_retry(&e->seq, sn));
		if (state == NEIGH_EMPTY)
			return -ENOENT;
		if (eip == ip)
			return state == NEIGH_VALID && now - updated < n->timeout ? 0 : -ENOENT;
	}
	return -ENOENT;
}

bool cw_neigh_solicit(struct cw_neigh *n, uint32_t ip, uint64_t now, uint64_t retry)
{
	struct cw_neigh_entry *e;
	bool send = false;

	if (!rte_spinlock_trylock(&n->wlock))
		return false;
	e = slot_for(n, ip, now, true);
	if (e && (e->ip != ip || e->state == NEIGH_EMPTY || now - e->solicited >= retry)) {
		bool keep = e->ip == ip && e->state == NEIGH_VALID;
		entry_write(e, ip, keep ? NEIGH_VALID : NEIGH_INCOMPLETE, NULL,
			    keep ? e->updated : 0, now);
		send = true;
	}
	rte_spinlock_unlock(&n->wlock);
	return send;
}

uint32_t cw_neigh_count(const struct cw_neigh *n, uint64_t now)
{
	uint32_t c = 0;

	for (uint32_t i = 0; i <= n->mask; i++)
		c += n->e[i].state == NEIGH_VALID && now - n->e[i].updated < n->timeout;
	return c;
}
