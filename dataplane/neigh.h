/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-port IPv4 neighbour (ARP) table.
 *
 * Every worker of a port reads it on the TX path; ARP packets, which any
 * worker may receive, update it. Reads are lock-free (a sequence counter per
 * entry, retried on a concurrent write); writes are rare and serialised by a
 * table spinlock that the solicitation path only ever try-locks, so a busy
 * worker never spins. Entries are never removed, only aged: a slot whose
 * entry has expired is reused. Time is passed in by the caller in any
 * monotonic unit (TSC cycles in the daemon, plain numbers in tests).
 */
#ifndef CW_NEIGH_H
#define CW_NEIGH_H

#include <stdbool.h>
#include <stdint.h>

struct cw_neigh;

/*
 * Create a table of @size entries (rounded up to a power of two, >= 16).
 * Entries learnt at time t are valid until t + @timeout. Returns NULL on
 * allocation failure.
 */
struct cw_neigh *cw_neigh_create(uint32_t size, uint64_t timeout);
void cw_neigh_free(struct cw_neigh *n);

/*
 * Record that @ip (network order) is at @mac, as of @now.
 * Returns 0, or -ENOSPC when every slot @ip may use holds a live entry.
 */
int cw_neigh_update(struct cw_neigh *n, uint32_t ip, const uint8_t mac[6], uint64_t now);

/*
 * Only refresh an entry that already exists (an ARP we merely overheard must
 * not fill the table, RFC 826 "merge" rule). Returns 0 or -ENOENT.
 */
int cw_neigh_refresh(struct cw_neigh *n, uint32_t ip, const uint8_t mac[6], uint64_t now);

/*
 * Copy the MAC of @ip into @mac. Returns 0 when known and not expired,
 * -ENOENT otherwise.
 */
int cw_neigh_lookup(const struct cw_neigh *n, uint32_t ip, uint8_t mac[6], uint64_t now);

/*
 * Decide whether the caller should send an ARP request for @ip now: true at
 * most once per @retry interval per address (and never while another thread
 * holds the table). Marks the address as being resolved.
 */
bool cw_neigh_solicit(struct cw_neigh *n, uint32_t ip, uint64_t now, uint64_t retry);

/* Number of entries valid at @now (for statistics). */
uint32_t cw_neigh_count(const struct cw_neigh *n, uint64_t now);

#endif
