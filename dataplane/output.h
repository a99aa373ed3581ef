/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The worker's transmit path: IPv4/UDP encapsulation of handler output,
 * fragmentation to the port MTU, next-hop resolution through the neighbour
 * table (holding packets while ARP is outstanding) and per-queue TX batches.
 */
#ifndef CW_OUTPUT_H
#define CW_OUTPUT_H

#include "worker.h"

/* Transmit every queued frame; what the NIC refuses is dropped as tx_full. */
void cw_output_flush(struct cw_worker *w);

/* Queue a complete frame for TX on @port; flushed by cw_output_flush. */
static inline void cw_output_frame(struct cw_worker *w, uint16_t port, struct rte_mbuf *m)
{
	struct cw_txq *q = &w->txq[port];

	if (q->n == CW_MAX_BURST)
		cw_output_flush(w);
	q->m[q->n++] = m;
}

/* Encapsulate and send @n handler datagrams (consumes every d[i].m). */
void cw_output_dgrams(struct cw_worker *w, const struct cw_dgram *d, uint16_t n, uint64_t now);

/* Send an ARP request for @ip (network order) on @port. */
void cw_output_arp_request(struct cw_worker *w, uint16_t port, uint32_t ip);

/* Send a gratuitous ARP announcing @port's address. */
void cw_output_garp(struct cw_worker *w, uint16_t port);

/* Release packets whose neighbour is now known; drop those that expired. */
void cw_output_pending(struct cw_worker *w, uint64_t now);

#endif
