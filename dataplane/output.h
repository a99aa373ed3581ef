/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The worker's transmit path: IPv4/UDP encapsulation of handler output,
 * fragmentation to the port MTU, next-hop resolution through the neighbour
 * table (holding packets while ARP is outstanding), per-queue TX batches,
 * and the echo's reply written into its request's frame.
 */
#ifndef CW_OUTPUT_H
#define CW_OUTPUT_H

#include <string.h>

#include <rte_mbuf.h>

#include "worker.h"

/*
 * Transmit the queued frames the NIC takes now; the rest stay queued, in
 * order, for the next flush. The worker asks its handlers for no more
 * datagrams than a queue has room for (cw_output_room()), so a port
 * slower than the handlers (a vhost-user peer, a full NIC ring) holds
 * them back in the handlers instead of losing what the transport would
 * only send again.
 */
void cw_output_flush(struct cw_worker *w);

/* A frame for a queue the port does not empty: dropped as tx_full. */
void cw_output_txq_full(struct cw_worker *w, struct rte_mbuf *m);

/* Queue a complete frame on @q, one of w->txq; flushed by cw_output_flush. */
static inline void cw_output_txq(struct cw_worker *w, struct cw_txq *q, struct rte_mbuf *m)
{
	if (q->n == CW_MAX_BURST)
		cw_output_flush(w);
	if (q->n == CW_MAX_BURST)
		cw_output_txq_full(w, m);
	else
		q->m[q->n++] = m;
}

/*
 * Frames the least backed-up port's TX queue can still take. With one
 * port, what it can take. With several, a port that takes nothing (its
 * link down) does not hold back the others: its datagrams are dropped as
 * tx_full once its queue is full, as before there was any holding back.
 */
static inline uint16_t cw_output_room(const struct cw_worker *w)
{
	uint16_t used = CW_MAX_BURST;

	for (unsigned p = 0; p < w->dp->n_ports; p++)
		if (w->txq[p].n < used)
			used = w->txq[p].n;
	return (uint16_t)(CW_MAX_BURST - used);
}

/* Queue a complete frame for TX on @port; flushed by cw_output_flush. */
static inline void cw_output_frame(struct cw_worker *w, uint16_t port, struct rte_mbuf *m)
{
	cw_output_txq(w, &w->txq[port], m);
}

/* The next hop towards @dst from a port with @addr/@netmask: @dst itself
 * on-link, else @gateway; 0 when there is none. */
static inline uint32_t cw_next_hop(uint32_t addr, uint32_t netmask, uint32_t gateway, uint32_t dst)
{
	return ((dst ^ addr) & netmask) == 0 ? dst : gateway;
}

/* Whether the worker's next-hop cache may still be used at @now. */
static inline bool cw_nh_fresh(const struct cw_worker *w, uint64_t now)
{
	return (int64_t)(now - w->nh_cache.until) < 0;
}

/*
 * Encapsulate and send @n handler datagrams (consumes every d[i].m). A
 * d[i].udp_csum of 0 has the checksum computed, unless @csum_as_is (a
 * reflecting handler's replies): then the datagram goes without one, as
 * its request came.
 */
void cw_output_dgrams(struct cw_worker *w, const struct cw_dgram *d, uint16_t n, bool csum_as_is,
		      uint64_t now);

/*
 * Turn frame @m (data at @f), received on @port and classified by
 * cw_parse_udp_fast as @ri, into the answer to its datagram: addresses and
 * ports swapped, the same frame cw_output_dgrams would send for a
 * reflecting handler's reply. Only when the reply fits the MTU and goes to
 * the next hop resolved last, which the caller found fresh (cw_nh_fresh);
 * returns false, with @m untouched, otherwise. The caller queues @m for TX
 * on @port (it has the queue at hand) and counts udp_out. Inline: it is the
 * whole per-packet transmit path of an echo.
 */
static inline __attribute__((always_inline)) bool cw_output_reflect(struct cw_worker *w,
								    uint16_t port,
								    struct rte_mbuf *m, uint8_t *f,
								    const struct cw_rx_info *ri)
{
	const struct cw_nh_cache *c = &w->nh_cache;
	uint8_t *ip = f + CW_ETH_HLEN, *h = ip - c->l2_len;
	uint16_t tot, id = htons(w->ip_id);
	uint32_t ports;
	uint64_t addrs;

	/* The cached next hop is on-link: a request from it is answered to
	 * it. The port's Ethernet header may be longer than the request's (a
	 * VLAN tag): it grows into the headroom. */
	if (port != c->port ||
	    (ri->src_ip != c->ip &&
	     cw_next_hop(c->addr, c->netmask, c->gateway, ri->src_ip) != c->ip) ||
	    ri->payload_len > c->max_plen || rte_pktmbuf_headroom(m) < c->l2_len - CW_ETH_HLEN)
		return false;
	w->ip_id++;
	m->data_off = (uint16_t)(m->data_off + CW_ETH_HLEN - c->l2_len);
	m->data_len = (uint16_t)(c->l2_len + ri->ip_len);
	m->pkt_len = m->data_len;
	/* The request's length fields stay; addresses and ports swap places
	 * (rotating a pair swaps it in either byte order). */
	memcpy(&tot, ip + 2, 2);
	memcpy(&addrs, ip + 12, 8);
	memcpy(&ports, ip + 20, 4);
	addrs = addrs << 32 | addrs >> 32;
	ports = ports << 16 | ports >> 16;
	/* Whole whatever its length: an untagged header's excess is rewritten
	 * below. */
	memcpy(h, c->l2, sizeof(c->l2));
	cw_build_ipv4_head(ip, tot, id, ri->src_ip, ri->dst_ip);
	memcpy(ip + 12, &addrs, 8);
	memcpy(ip + 20, &ports, 4);
	/* The UDP checksum stays as it came: valid with addresses and ports
	 * swapped, or 0 (none) for a request that had none. */
	return true;
}

/* Send an ARP request for @ip (network order) on @port. */
void cw_output_arp_request(struct cw_worker *w, uint16_t port, uint32_t ip);

/* Send a gratuitous ARP announcing @port's address. */
void cw_output_garp(struct cw_worker *w, uint16_t port);

/* Release packets whose neighbour is now known; drop those that expired. */
void cw_output_pending(struct cw_worker *w, uint64_t now);

#endif
