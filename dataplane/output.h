/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The worker's transmit path: IPv4/UDP encapsulation of handler output,
 * fragmentation to the port MTU, next-hop resolution through the neighbour
 * table (holding packets while ARP is outstanding) and per-queue TX batches.
 */
#ifndef CW_OUTPUT_H
#define CW_OUTPUT_H

#include <string.h>

#include <rte_mbuf.h>

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

/* Encapsulate and send @n handler datagrams (consumes every d[i].m). */
void cw_output_dgrams(struct cw_worker *w, const struct cw_dgram *d, uint16_t n, uint64_t now);

/*
 * Answer the datagram in frame @m, which cw_parse_udp_fast classified as
 * @ri, from @m itself: addresses and ports swapped, the same reply
 * cw_output_dgrams would send for it, queued for TX on @port. Only when the
 * reply fits the MTU and goes to the next hop resolved last, which the
 * caller found fresh (cw_nh_fresh); returns false, with @m untouched,
 * otherwise. The caller counts udp_out.
 * Inline: it is the whole per-packet transmit path of an echo.
 */
static inline __attribute__((always_inline)) bool cw_output_reflect(struct cw_worker *w,
								    uint16_t port,
								    struct rte_mbuf *m,
								    const struct cw_rx_info *ri)
{
	const struct cw_nh_cache *c = &w->nh_cache;
	uint16_t plen = ri->payload_len;
	uint16_t len = (uint16_t)(c->l2_len + CW_IPV4_HLEN + CW_UDP_HLEN + plen);
	uint8_t *h, *ip;

	/* The port's Ethernet header may be longer than the request's (a VLAN
	 * tag): it grows into the headroom. */
	if (port != c->port || cw_next_hop(c->addr, c->netmask, c->gateway, ri->src_ip) != c->ip ||
	    plen > c->max_plen || rte_pktmbuf_headroom(m) < c->l2_len - CW_ETH_HLEN)
		return false;
	m->data_off = (uint16_t)(m->data_off + CW_ETH_HLEN - c->l2_len);
	m->data_len = len;
	m->pkt_len = len;
	h = rte_pktmbuf_mtod(m, uint8_t *);
	ip = h + c->l2_len;
	/* Whole whatever its length: the IPv4 header overwrites the excess. */
	memcpy(h, c->l2, sizeof(c->l2));
	/* A UDP checksum stays valid with addresses and ports swapped. */
	cw_build_ipv4_udp(ip, ri->dst_ip, ri->src_ip, ri->dst_port, ri->src_port, plen, w->ip_id++,
			  ri->udp_csum);
	if (!ri->udp_csum) {
		uint16_t csum =
		    cw_csum_udp_fields_n(ri->dst_ip, ri->src_ip, ri->dst_port, ri->src_port,
					 ip + CW_IPV4_HLEN + CW_UDP_HLEN, plen);

		memcpy(ip + CW_IPV4_HLEN + 6, &csum, 2);
	}
	cw_output_frame(w, port, m);
	return true;
}

/* Send an ARP request for @ip (network order) on @port. */
void cw_output_arp_request(struct cw_worker *w, uint16_t port, uint32_t ip);

/* Send a gratuitous ARP announcing @port's address. */
void cw_output_garp(struct cw_worker *w, uint16_t port);

/* Release packets whose neighbour is now known; drop those that expired. */
void cw_output_pending(struct cw_worker *w, uint64_t now);

#endif
