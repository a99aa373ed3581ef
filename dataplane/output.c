/* SPDX-License-Identifier: Apache-2.0 */
#include "output.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "neigh.h"
#include "parse.h"

#define CW_MAX_FRAGS	 48 /* 65535 / (576 - 20) rounded up */
#define CW_ARP_HOLD_SEC	 3  /* how long a packet waits for ARP */
#define CW_ARP_RETRY_SEC 1

static const uint8_t cw_bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

void cw_output_flush(struct cw_worker *w)
{
	for (unsigned p = 0; p < w->dp->n_ports; p++) {
		struct cw_txq *q = &w->txq[p];
		uint16_t sent;
		uint64_t bytes = 0;

		if (!q->n)
			continue;
		sent = rte_eth_tx_burst(w->dp->ports[p].port_id, (uint16_t)w->idx, q->m, q->n);
		for (uint16_t i = 0; i < sent; i++)
			bytes += rte_pktmbuf_pkt_len(q->m[i]);
		q->n -= sent;
		if (q->n && sent)
			memmove(q->m, q->m + sent, q->n * sizeof(q->m[0]));
		cw_ctr_add(w->ctr->tx_pkts, sent);
		cw_ctr_add(w->ctr->tx_bytes, bytes);
	}
}

void cw_output_txq_full(struct cw_worker *w, struct rte_mbuf *m)
{
	cw_ctr_add(w->ctr->drops[CW_DROP_TX_FULL], 1);
	rte_pktmbuf_free(m);
}

static void send_arp(struct cw_worker *w, uint16_t port, uint32_t target, uint32_t sender)
{
	const struct cw_port *p = &w->dp->ports[port];
	static const uint8_t zero[6];
	struct rte_mbuf *m = rte_pktmbuf_alloc(w->dp->pool);
	size_t len = cw_eth_hdr_len(p->vlan_tci) + CW_ARP_LEN;
	uint8_t *f;

	if (!m) {
		cw_ctr_add(w->ctr->drops[CW_DROP_NO_MBUF], 1);
		return;
	}
	f = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)len);
	cw_build_arp(f, 1, p->mac, sender, zero, target, cw_bcast, p->vlan_tci);
	cw_ctr_add(w->ctr->arp_out, 1);
	cw_output_frame(w, port, m);
}

void cw_output_arp_request(struct cw_worker *w, uint16_t port, uint32_t ip)
{
	send_arp(w, port, ip, w->dp->ports[port].addr);
}

void cw_output_garp(struct cw_worker *w, uint16_t port)
{
	uint32_t a = w->dp->ports[port].addr;

	send_arp(w, port, a, a);
}

/* Prepend Ethernet to a frame that starts at its IPv4 header, queue it. */
static void emit_l2(struct cw_worker *w, uint16_t port, struct rte_mbuf *m, const uint8_t *dmac)
{
	const struct cw_port *p = &w->dp->ports[port];
	uint16_t l2 = (uint16_t)cw_eth_hdr_len(p->vlan_tci);
	uint8_t *h = (uint8_t *)rte_pktmbuf_prepend(m, l2);

	if (!h) {
		cw_ctr_add(w->ctr->drops[CW_DROP_NO_MBUF], 1);
		rte_pktmbuf_free(m);
		return;
	}
	cw_build_eth(h, p->mac, dmac, p->vlan_tci, CW_ETHERTYPE_IP);
	/* Fits: every frame we build is at most MTU + L2 <= the data room. */
	if (m->nb_segs > 1 && !p->tx_multi_seg && rte_pktmbuf_linearize(m) < 0) {
		cw_ctr_add(w->ctr->drops[CW_DROP_TOO_BIG], 1);
		rte_pktmbuf_free(m);
		return;
	}
	cw_output_frame(w, port, m);
}

static void hold(struct cw_worker *w, uint16_t port, struct rte_mbuf *m, uint32_t nh, uint64_t now)
{
	struct cw_pending *e;

	if (w->n_pending == CW_PENDING_MAX) {
		cw_ctr_add(w->ctr->drops[CW_DROP_NO_NEIGH], 1);
		rte_pktmbuf_free(m);
		return;
	}
	e = &w->pending[w->n_pending++];
	e->m = m;
	e->nexthop = nh;
	e->port = port;
	e->deadline = now + CW_ARP_HOLD_SEC * w->dp->tsc_hz;
}

static void solicit(struct cw_worker *w, uint16_t port, uint32_t nh, uint64_t now)
{
	if (cw_neigh_solicit(w->dp->ports[port].neigh, nh, now, CW_ARP_RETRY_SEC * w->dp->tsc_hz))
		cw_output_arp_request(w, port, nh);
}

static inline bool nh_cached(const struct cw_worker *w, uint16_t port, uint32_t nh, uint64_t now)
{
	return w->nh_cache.ip == nh && w->nh_cache.port == port && cw_nh_fresh(w, now);
}

static void nh_cache_set(struct cw_worker *w, uint16_t port, uint32_t nh, const uint8_t *mac,
			 uint64_t now)
{
	const struct cw_port *p = &w->dp->ports[port];
	struct cw_nh_cache *c = &w->nh_cache;

	c->ip = nh;
	c->port = port;
	memcpy(c->mac, mac, 6);
	c->until = now + w->dp->tsc_hz / 1000;
	c->addr = p->addr;
	c->netmask = p->netmask;
	c->gateway = p->conf->gateway;
	c->max_plen = p->conf->mtu - CW_IPV4_HLEN - CW_UDP_HLEN;
	c->multi_seg = p->tx_multi_seg;
	c->l2_len = (uint8_t)cw_build_eth(c->l2, p->mac, mac, p->vlan_tci, CW_ETHERTYPE_IP);
}

/* Route @m (starting at IPv4) to its next hop on @port. */
static void route(struct cw_worker *w, uint16_t port, struct rte_mbuf *m, uint32_t dst,
		  uint64_t now)
{
	const struct cw_port *p = &w->dp->ports[port];
	uint32_t nh = cw_next_hop(p->addr, p->netmask, p->conf->gateway, dst);
	uint8_t mac[6];

	if (!nh) {
		cw_ctr_add(w->ctr->drops[CW_DROP_NO_NEIGH], 1);
		rte_pktmbuf_free(m);
		return;
	}
	if (nh_cached(w, port, nh, now)) {
		emit_l2(w, port, m, w->nh_cache.mac);
		return;
	}
	if (cw_neigh_lookup(p->neigh, nh, mac, now) == 0) {
		nh_cache_set(w, port, nh, mac, now);
		emit_l2(w, port, m, mac);
		return;
	}
	solicit(w, port, nh, now);
	hold(w, port, m, nh, now);
}

static void fragment(struct cw_worker *w, uint16_t port, struct rte_mbuf *m, uint32_t dst,
		     uint64_t now)
{
	struct rte_mbuf *frags[CW_MAX_FRAGS];
	int n = rte_ipv4_fragment_packet(m, frags, CW_MAX_FRAGS, w->dp->ports[port].conf->mtu,
					 w->dp->pool, w->dp->indirect);

	/* Fragments reference the payload through indirect mbufs. */
	rte_pktmbuf_free(m);
	if (n < 0) {
		cw_ctr_add(w->ctr->drops[n == -ENOMEM ? CW_DROP_NO_MBUF : CW_DROP_TOO_BIG], 1);
		return;
	}
	for (int i = 0; i < n; i++) {
		struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(frags[i], struct rte_ipv4_hdr *);

		/* The library leaves the header checksum to the caller. */
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		route(w, port, frags[i], dst, now);
	}
}

/* UDP checksum of the datagram @m (starting at @ip); never 0 (RFC 768). */
static inline __attribute__((always_inline)) uint16_t udp_csum(const struct rte_mbuf *m,
							       const struct rte_ipv4_hdr *ip)
{
	const struct rte_udp_hdr *udp = (const struct rte_udp_hdr *)(ip + 1);

	/* The library's generic chain walk costs more than the whole parse of
	 * a small datagram; one segment is the common case. */
	if (m->nb_segs > 1)
		return rte_ipv4_udptcp_cksum_mbuf(m, ip, CW_IPV4_HLEN);
	return cw_csum_udp_n(ip->src_addr, ip->dst_addr, udp, rte_be_to_cpu_16(udp->dgram_len));
}

/* Write IPv4 and UDP headers at @ip for datagram @d of @plen bytes; see
 * cw_output_dgrams for @csum_as_is. */
static inline __attribute__((always_inline)) void encap(struct cw_worker *w,
							const struct cw_dgram *d,
							struct rte_mbuf *m, uint8_t *ip,
							uint32_t plen, bool csum_as_is)
{
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + CW_IPV4_HLEN);

	cw_build_ipv4_udp(ip, d->src_ip, d->dst_ip, d->src_port, d->dst_port, (uint16_t)plen,
			  w->ip_id++, d->udp_csum);
	if (!d->udp_csum && !csum_as_is)
		udp->dgram_cksum = udp_csum(m, (struct rte_ipv4_hdr *)ip);
}

/*
 * The common case in one pass: the datagram fits the MTU, needs no
 * linearising and goes to the next hop in the cache, which the caller
 * found fresh. One prepend for all headers, no neighbour lookup, nothing
 * read of the port. Returns false (with @m untouched) when the general path
 * must handle it; the caller counts udp_out.
 */
static inline __attribute__((always_inline)) bool
output_fast(struct cw_worker *w, const struct cw_dgram *d, bool csum_as_is)
{
	const struct cw_nh_cache *c = &w->nh_cache;
	struct rte_mbuf *m = d->m;
	uint32_t plen = rte_pktmbuf_pkt_len(m);
	uint8_t *h;

	/* Within the MTU implies within an IPv4 datagram's length. */
	if (d->port != c->port ||
	    cw_next_hop(c->addr, c->netmask, c->gateway, d->dst_ip) != c->ip ||
	    plen > c->max_plen || (m->nb_segs > 1 && !c->multi_seg))
		return false;
	h = (uint8_t *)rte_pktmbuf_prepend(m, (uint16_t)(c->l2_len + CW_IPV4_HLEN + CW_UDP_HLEN));
	if (!h)
		return false;
	/* Whole whatever its length: the IPv4 header overwrites the excess. */
	memcpy(h, c->l2, sizeof(c->l2));
	encap(w, d, m, h + c->l2_len, plen, csum_as_is);
	cw_output_frame(w, d->port, m);
	return true;
}

static void output_dgram(struct cw_worker *w, const struct cw_dgram *d, bool csum_as_is,
			 uint64_t now)
{
	struct rte_mbuf *m = d->m;
	uint32_t plen = rte_pktmbuf_pkt_len(m);
	uint8_t *ip;

	if (plen > UINT16_MAX - CW_IPV4_HLEN - CW_UDP_HLEN || d->port >= w->dp->n_ports) {
		cw_ctr_add(w->ctr->drops[CW_DROP_TOO_BIG], 1);
		rte_pktmbuf_free(m);
		return;
	}
	ip = (uint8_t *)rte_pktmbuf_prepend(m, CW_IPV4_HLEN + CW_UDP_HLEN);
	if (!ip) {
		cw_ctr_add(w->ctr->drops[CW_DROP_NO_MBUF], 1);
		rte_pktmbuf_free(m);
		return;
	}
	encap(w, d, m, ip, plen, csum_as_is);
	cw_ctr_add(w->ctr->udp_out, 1);
	if (plen + CW_IPV4_HLEN + CW_UDP_HLEN > w->dp->ports[d->port].conf->mtu)
		fragment(w, d->port, m, d->dst_ip, now);
	else
		route(w, d->port, m, d->dst_ip, now);
}

void cw_output_dgrams(struct cw_worker *w, const struct cw_dgram *d, uint16_t n, bool csum_as_is,
		      uint64_t now)
{
	bool fresh = cw_nh_fresh(w, now);
	uint64_t fast = 0;

	for (uint16_t i = 0; i < n; i++) {
		if (fresh && output_fast(w, &d[i], csum_as_is)) {
			fast++;
			continue;
		}
		output_dgram(w, &d[i], csum_as_is, now);
		fresh = cw_nh_fresh(w, now); /* the general path may have filled the cache */
	}
	cw_ctr_add(w->ctr->udp_out, fast);
}

void cw_output_pending(struct cw_worker *w, uint64_t now)
{
	unsigned k = 0;

	/* Stable compaction: packets to one neighbour leave in arrival order. */
	for (unsigned i = 0; i < w->n_pending; i++) {
		struct cw_pending *e = &w->pending[i];
		const struct cw_port *p = &w->dp->ports[e->port];
		uint8_t mac[6];

		if (cw_neigh_lookup(p->neigh, e->nexthop, mac, now) == 0) {
			emit_l2(w, e->port, e->m, mac);
		} else if ((int64_t)(now - e->deadline) >= 0) {
			cw_ctr_add(w->ctr->drops[CW_DROP_NO_NEIGH], 1);
			rte_pktmbuf_free(e->m);
		} else {
			solicit(w, e->port, e->nexthop, now);
			w->pending[k++] = *e;
		}
	}
	w->n_pending = k;
}
