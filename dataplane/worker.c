/* SPDX-License-Identifier: Apache-2.0 */
#include "worker.h"

#include <stddef.h>
#include <stdlib.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "log.h"
#include "neigh.h"
#include "output.h"
#include "parse.h"

#define CW_FRAG_BUCKETS	     1024
#define CW_FRAG_BUCKET_SIZE  8	 /* RTE_LIBRTE_IP_FRAG_MAX_FRAG-sized buckets */
#define CW_FRAG_EXPIRE_CHECK 100 /* ms between sweeps of expired datagrams */

/* IPv4 source and destination, then UDP source and destination port. */
#define CW_DGRAM_ADDRS_LEN 12
_Static_assert(offsetof(struct cw_dgram, dst_ip) == offsetof(struct cw_dgram, src_ip) + 4 &&
		   offsetof(struct cw_dgram, src_port) == offsetof(struct cw_dgram, src_ip) + 8 &&
		   offsetof(struct cw_dgram, dst_port) ==
		       offsetof(struct cw_dgram, src_ip) + CW_DGRAM_ADDRS_LEN - 2,
	       "struct cw_dgram: addresses and ports as in the IPv4 and UDP headers");

static inline void count_drop(struct cw_worker *w, enum cw_drop d, struct rte_mbuf *m)
{
	cw_ctr_add(w->ctr->drops[d], 1);
	rte_pktmbuf_free(m);
}

struct cw_worker *cw_worker_create(struct cw_dp *dp, unsigned idx, unsigned lcore)
{
	const struct cw_dataplane_conf *c = &dp->conf->dp;
	int socket = (int)rte_lcore_to_socket_id(lcore);
	uint64_t max_cycles = dp->tsc_hz * c->frag_timeout_ms / 1000;
	uint32_t buckets =
	    rte_align32pow2((c->frag_max_entries + CW_FRAG_BUCKET_SIZE - 1) / CW_FRAG_BUCKET_SIZE);
	struct cw_worker *w;

	w = rte_zmalloc_socket("cw_worker", sizeof(*w), RTE_CACHE_LINE_SIZE, socket);
	if (!w) {
		cw_err("worker %u: out of memory", idx);
		return NULL;
	}
	w->dp = dp;
	w->idx = idx;
	w->lcore = lcore;
	w->burst = c->burst;
	w->ip_id = (uint16_t)(idx << 12);
	w->ctr = &dp->counters[idx];
	for (unsigned p = 0; p < dp->n_ports; p++) {
		memcpy(w->ifa[p].mac, dp->ports[p].mac, CW_ETH_ALEN);
		w->ifa[p].ip = dp->ports[p].addr;
		w->csum_flags[p] = dp->ports[p].rx_csum
				       ? RTE_MBUF_F_RX_IP_CKSUM_MASK | RTE_MBUF_F_RX_L4_CKSUM_MASK
				       : 0;
	}
	w->frag = rte_ip_frag_table_create(buckets, CW_FRAG_BUCKET_SIZE, c->frag_max_entries,
					   max_cycles, socket);
	if (!w->frag) {
		cw_err("worker %u: cannot create the reassembly table (%u entries)", idx,
		       c->frag_max_entries);
		rte_free(w);
		return NULL;
	}
	return w;
}

void cw_worker_free(struct cw_worker *w)
{
	if (!w)
		return;
	rte_ip_frag_free_death_row(&w->death_row, 0);
	rte_ip_frag_table_destroy(w->frag);
	for (unsigned i = 0; i < w->n_pending; i++)
		rte_pktmbuf_free(w->pending[i].m);
	for (unsigned p = 0; p < CW_MAX_PORTS; p++)
		for (unsigned i = 0; i < w->txq[p].n; i++)
			rte_pktmbuf_free(w->txq[p].m[i]);
	for (unsigned h = 0; h < CW_MAX_HANDLERS; h++)
		for (unsigned i = 0; i < w->n_in[h]; i++)
			rte_pktmbuf_free(w->in[h][i].m);
	rte_free(w);
}

static void input_arp(struct cw_worker *w, uint16_t port, struct rte_mbuf *m,
		      const struct cw_rx_info *ri, uint64_t now)
{
	struct cw_port *p = &w->dp->ports[port];
	int vlan = ri->has_vlan ? ri->vlan_tci : -1;
	size_t len = cw_eth_hdr_len(vlan) + CW_ARP_LEN;
	uint8_t sha[6], *f;

	cw_ctr_add(w->ctr->arp_in, 1);
	if (ri->arp_tpa != p->addr) {
		/* Overheard: refresh a neighbour we already use, learn nothing. */
		if (ri->arp_spa)
			cw_neigh_refresh(p->neigh, ri->arp_spa, ri->arp_sha, now);
		count_drop(w, CW_DROP_NOT_FOR_US, m);
		return;
	}
	if (ri->arp_spa && ri->arp_spa != p->addr)
		cw_neigh_update(p->neigh, ri->arp_spa, ri->arp_sha, now);
	if (ri->arp_op != 1) {
		rte_pktmbuf_free(m);
		return;
	}
	/* Answer in the request's own buffer, which is at least this long. */
	memcpy(sha, ri->arp_sha, 6);
	rte_pktmbuf_reset(m);
	f = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)len);
	cw_build_arp(f, 2, p->mac, p->addr, sha, ri->arp_spa, sha, vlan);
	cw_ctr_add(w->ctr->arp_out, 1);
	cw_output_frame(w, port, m);
}

/* The next entry of handler @h's batch, which runs first if it is full. */
static inline struct cw_dgram *batch_slot(struct cw_worker *w, int h)
{
	if (w->n_in[h] == CW_MAX_BURST)
		cw_worker_dispatch(w, rte_rdtsc());
	return &w->in[h][w->n_in[h]++];
}

/* Add a datagram for handler @h to the batch of this burst. */
static inline void enqueue_dgram(struct cw_worker *w, int h, uint16_t port, struct rte_mbuf *m,
				 const struct cw_rx_info *ri)
{
	struct cw_dgram *d = batch_slot(w, h);

	d->m = m;
	d->src_ip = ri->src_ip;
	d->dst_ip = ri->dst_ip;
	d->src_port = ri->src_port;
	d->dst_port = ri->dst_port;
	d->port = port;
	d->udp_csum = ri->udp_csum;
}

static void queue_dgram(struct cw_worker *w, uint16_t port, struct rte_mbuf *m,
			const struct cw_rx_info *ri)
{
	int h = cw_handlers_find(&w->dp->handlers, ri->dst_port);

	if (h < 0) {
		count_drop(w, CW_DROP_NO_HANDLER, m);
		return;
	}
	cw_ctr_add(w->ctr->udp_in, 1);
	enqueue_dgram(w, h, port, m, ri);
}

/* Cut a chain to @len bytes (rte_pktmbuf_trim only trims the last segment). */
static void chain_trim(struct rte_mbuf *m, uint32_t len)
{
	struct rte_mbuf *s = m;
	uint32_t off = 0;
	uint16_t segs = 1;

	if (len >= rte_pktmbuf_pkt_len(m))
		return;
	while (off + s->data_len < len) {
		off += s->data_len;
		s = s->next;
		segs++;
	}
	s->data_len = (uint16_t)(len - off);
	rte_pktmbuf_free(s->next);
	s->next = NULL;
	m->nb_segs = segs;
	m->pkt_len = len;
}

/* A reassembled datagram: headers in the first segment, payload chained. */
static void input_reassembled(struct cw_worker *w, uint16_t port, struct rte_mbuf *m)
{
	struct cw_rx_info ri;
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, m->l2_len);
	uint16_t l4 = (uint16_t)(m->l2_len + m->l3_len);
	uint32_t ip_payload = rte_pktmbuf_pkt_len(m) - l4;
	int rc;

	if (ip->next_proto_id != CW_IPPROTO_UDP || rte_pktmbuf_data_len(m) < l4 + CW_UDP_HLEN) {
		count_drop(w, CW_DROP_UNSUPPORTED, m);
		return;
	}
	rc = cw_parse_udp(rte_pktmbuf_mtod_offset(m, uint8_t *, l4), CW_UDP_HLEN, ip_payload,
			  ip->src_addr, ip->dst_addr, false, &ri);
	if (rc < 0) {
		count_drop(w, cw_rx_drop_reason(rc), m);
		return;
	}
	/* Bytes after the UDP length are not the datagram's (RFC 768); the
	 * checksum covers exactly the UDP length, which the IP header gives it. */
	chain_trim(m, (uint32_t)l4 + CW_UDP_HLEN + ri.payload_len);
	ip->total_length = rte_cpu_to_be_16((uint16_t)(m->l3_len + CW_UDP_HLEN + ri.payload_len));
	if (rte_pktmbuf_mtod_offset(m, struct rte_udp_hdr *, l4)->dgram_cksum &&
	    rte_ipv4_udptcp_cksum_mbuf_verify(m, ip, l4) != 0) {
		count_drop(w, CW_DROP_BAD_L4_CSUM, m);
		return;
	}
	ri.src_ip = ip->src_addr;
	ri.dst_ip = ip->dst_addr;
	rte_pktmbuf_adj(m, (uint16_t)(l4 + CW_UDP_HLEN));
	queue_dgram(w, port, m, &ri);
}

/* Expire datagrams past their timeout; their fragments count as frag_timeout. */
static void frag_sweep(struct cw_worker *w, uint64_t now)
{
	uint32_t before = w->death_row.cnt;

	rte_ip_frag_table_del_expired_entries(w->frag, &w->death_row, now);
	cw_ctr_add(w->ctr->drops[CW_DROP_FRAG_TIMEOUT], w->death_row.cnt - before);
	rte_ip_frag_free_death_row(&w->death_row, 0);
}

static void input_fragment(struct cw_worker *w, uint16_t port, struct rte_mbuf *m,
			   const struct cw_rx_info *ri, uint64_t now)
{
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, ri->l2_len);
	struct rte_mbuf *mo;

	/* Sweep first (it stops at the first live entry, so it is cheap): what
	 * the library throws away below is then a rejected fragment, never an
	 * expired datagram. */
	frag_sweep(w, now);
	m->l2_len = ri->l2_len;
	m->l3_len = ri->l3_len;
	mo = rte_ipv4_frag_reassemble_packet(w->frag, &w->death_row, m, now, ip);
	cw_ctr_add(w->ctr->drops[CW_DROP_FRAG_BAD], w->death_row.cnt);
	rte_ip_frag_free_death_row(&w->death_row, 0);
	if (mo)
		input_reassembled(w, port, mo);
}

/* The checksums the NIC verified, as cw_parse_frame wants them; @mask is
 * the port's csum_flags (0: its NIC checks none, whatever ol_flags say). */
static inline unsigned rx_ok(const struct rte_mbuf *m, uint64_t mask)
{
	uint64_t f = m->ol_flags & mask;

	if (!f)
		return 0;
	return ((f & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_GOOD) *
		   CW_RX_OK_IP_CSUM |
	       ((f & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD) *
		   CW_RX_OK_L4_CSUM;
}

/* Narrow a one-segment mbuf to @len bytes at @off (both within its data). */
static inline void slice(struct rte_mbuf *m, uint16_t off, uint16_t len)
{
	m->data_off = (uint16_t)(m->data_off + off);
	m->data_len = len;
	m->pkt_len = len;
}

void cw_worker_input(struct cw_worker *w, uint16_t port, struct rte_mbuf *m, uint64_t now)
{
	struct cw_rx_info ri;
	int kind;

	cw_ctr_add(w->ctr->rx_pkts, 1);
	cw_ctr_add(w->ctr->rx_bytes, rte_pktmbuf_pkt_len(m));
	if (m->nb_segs > 1) {
		count_drop(w, CW_DROP_TOO_BIG, m);
		return;
	}
	kind = cw_parse_frame(rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_data_len(m),
			      &w->ifa[port], rx_ok(m, w->csum_flags[port]), &ri);
	if (kind < 0) {
		count_drop(w, cw_rx_drop_reason(kind), m);
		return;
	}
	/* One segment (checked above), so slicing is plain arithmetic. Ethernet
	 * padding beyond the IP datagram goes. */
	switch (kind) {
	case CW_RX_UDP:
		slice(m, ri.payload_off, ri.payload_len);
		queue_dgram(w, port, m, &ri);
		break;
	case CW_RX_ARP:
		input_arp(w, port, m, &ri, now);
		break;
	case CW_RX_ICMP_ECHO:
		slice(m, 0, (uint16_t)(ri.l2_len + ri.ip_len));
		cw_icmp_echo_to_reply(rte_pktmbuf_mtod(m, uint8_t *), &ri, w->ifa[port].mac);
		cw_ctr_add(w->ctr->icmp_echo, 1);
		cw_output_frame(w, port, m);
		break;
	case CW_RX_IP_FRAG:
		slice(m, 0, (uint16_t)(ri.l2_len + ri.ip_len));
		input_fragment(w, port, m, &ri, now);
		break;
	}
}

void cw_worker_dispatch(struct cw_worker *w, uint64_t now)
{
	for (unsigned h = 0; h < w->dp->handlers.n; h++) {
		const struct cw_handler *hd = &w->dp->handlers.h[h];
		uint16_t n = w->n_in[h], k;

		if (!n)
			continue;
		w->n_in[h] = 0;
		/* A reflecting handler answers each datagram now or never. */
		k = hd->rx(hd->ctx, w->idx, w->in[h], n, w->out,
			   hd->answers ? CW_MAX_BURST : cw_output_room(w));
		if (k < n && hd->answers)
			cw_ctr_add(w->ctr->drops[CW_DROP_HANDLER], n - k);
		cw_output_dgrams(w, w->out, k, hd->reflect, now);
	}
}

void cw_worker_poll_handlers(struct cw_worker *w, uint64_t now)
{
	for (unsigned h = 0; h < w->dp->handlers.n; h++) {
		const struct cw_handler *hd = &w->dp->handlers.h[h];
		uint64_t next;
		uint16_t k, cap;

		if (!hd->poll)
			continue;
		/* As much as the port takes: with no room, the handler still
		 * does its work (out_cap 0) and keeps its datagrams. */
		do {
			cap = cw_output_room(w);
			k = hd->poll(hd->ctx, w->idx, w->out, cap, &next);
			cw_output_dgrams(w, w->out, k, false, now);
			if (k && k == cap)
				cw_output_flush(w);
		} while (k && k == cap);
	}
}

void cw_worker_stop_handlers(struct cw_worker *w)
{
	for (unsigned h = 0; h < w->dp->handlers.n; h++) {
		const struct cw_handler *hd = &w->dp->handlers.h[h];

		if (hd->stop)
			hd->stop(hd->ctx, w->idx);
	}
}

void cw_worker_housekeep(struct cw_worker *w, uint64_t now)
{
	if ((int64_t)(now - w->frag_expire_next) < 0)
		return;
	w->frag_expire_next = now + w->dp->tsc_hz * CW_FRAG_EXPIRE_CHECK / 1000;
	frag_sweep(w, now);
}

/* What input_fast did with a frame. */
enum cw_fast {
	CW_FAST_NONE,	   /* not its kind of frame: @m untouched */
	CW_FAST_QUEUED,	   /* into its handler's batch */
	CW_FAST_REFLECTED, /* answered in place, queued for TX */
};

/* What input_fast needs of a burst, looked up once for all of it. */
struct cw_burst {
	uint16_t port;
	struct cw_ifaddr ifa; /* w->ifa[port] */
	uint64_t csum_flags;  /* w->csum_flags[port] */
	struct cw_txq *txq;   /* &w->txq[port] */
	/* The reflecting handler, when the next-hop cache is fresh (an entry
	 * fresh at the burst's start serves all of it); else -1. */
	int reflect_h;
	uint16_t reflect_port_n;
};

static inline void burst_init(struct cw_burst *b, struct cw_worker *w, uint16_t port, uint64_t now)
{
	const struct cw_handlers *hs = &w->dp->handlers;

	b->port = port;
	b->ifa = w->ifa[port];
	b->csum_flags = w->csum_flags[port];
	b->txq = &w->txq[port];
	b->reflect_h = -1;
	b->reflect_port_n = 0;
	if (!cw_nh_fresh(w, now))
		return;
	for (unsigned h = 0; h < hs->n; h++)
		if (hs->h[h].reflect) {
			b->reflect_h = (int)h;
			b->reflect_port_n = hs->port_n[h];
			return;
		}
}

/*
 * A datagram for a handler, recognised by cw_parse_udp_fast: answered in
 * its own frame when the handler reflects and nothing of the handler's is
 * waiting (that keeps a flow in order), else straight into its batch;
 * counted by the caller per burst.
 */
static inline enum cw_fast input_fast(struct cw_worker *w, const struct cw_burst *b,
				      struct rte_mbuf *m)
{
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	struct cw_rx_info ri;
	struct cw_dgram *d;
	int h;

	if (m->nb_segs != 1 ||
	    !cw_parse_udp_fast(f, rte_pktmbuf_data_len(m), &b->ifa, rx_ok(m, b->csum_flags), &ri))
		return CW_FAST_NONE;
	if (b->reflect_h >= 0 && ri.dst_port == b->reflect_port_n && !w->n_in[b->reflect_h] &&
	    cw_output_reflect(w, b->port, m, f, &ri)) {
		cw_output_txq(w, b->txq, m);
		return CW_FAST_REFLECTED;
	}
	h = cw_handlers_find(&w->dp->handlers, ri.dst_port);
	if (h < 0)
		return CW_FAST_NONE;
	d = batch_slot(w, h);
	d->m = m;
	/* Source and destination address and port in one copy: struct
	 * cw_dgram keeps them in the headers' order. */
	memcpy(&d->src_ip, f + CW_ETH_HLEN + 12, CW_DGRAM_ADDRS_LEN);
	d->port = b->port;
	d->udp_csum = ri.udp_csum;
	slice(m, ri.payload_off, ri.payload_len);
	return CW_FAST_QUEUED;
}

void cw_worker_input_burst(struct cw_worker *w, uint16_t port, struct rte_mbuf **pkts, uint16_t n,
			   uint64_t now)
{
	uint64_t fast = 0, fast_bytes = 0, reflected = 0;
	struct cw_burst b;

	burst_init(&b, w, port, now);

	for (uint16_t i = 0; i < n; i++) {
		uint32_t len = rte_pktmbuf_pkt_len(pkts[i]);

		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		switch (input_fast(w, &b, pkts[i])) {
		case CW_FAST_NONE:
			cw_worker_input(w, port, pkts[i], now);
			continue;
		case CW_FAST_REFLECTED:
			reflected++;
			break;
		case CW_FAST_QUEUED:
			break;
		}
		fast++;
		fast_bytes += len;
	}
	if (fast) {
		cw_ctr_add(w->ctr->rx_pkts, fast);
		cw_ctr_add(w->ctr->rx_bytes, fast_bytes);
		cw_ctr_add(w->ctr->udp_in, fast);
		cw_ctr_add(w->ctr->udp_out, reflected);
	}
}

static void poll_port(struct cw_worker *w, uint16_t port, uint64_t now)
{
	struct rte_mbuf *pkts[CW_MAX_BURST];
	uint16_t n = rte_eth_rx_burst(w->dp->ports[port].port_id, (uint16_t)w->idx, pkts, w->burst);

	cw_worker_input_burst(w, port, pkts, n, now);
}

int cw_worker_main(void *arg)
{
	struct cw_worker *w = arg;
	struct cw_dp *dp = w->dp;

	cw_info("worker %u running on lcore %u", w->idx, w->lcore);
	if (w->idx == 0) {
		for (uint16_t p = 0; p < dp->n_ports; p++)
			cw_output_garp(w, p);
		cw_output_flush(w);
	}
	while (!__atomic_load_n(&cw_quit, __ATOMIC_RELAXED)) {
		uint64_t now = rte_rdtsc();

		for (uint16_t p = 0; p < dp->n_ports; p++)
			poll_port(w, p, now);
		cw_worker_dispatch(w, now);
		cw_worker_poll_handlers(w, now);
		if (w->n_pending)
			cw_output_pending(w, now);
		cw_output_flush(w);
		cw_worker_housekeep(w, now);
	}
	/* Drain: what the last iteration queued, and the handlers' goodbyes,
	 * still go out. */
	cw_worker_stop_handlers(w);
	cw_worker_poll_handlers(w, rte_rdtsc());
	cw_worker_dispatch(w, rte_rdtsc());
	cw_output_flush(w);
	return 0;
}
