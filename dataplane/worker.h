/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A DPDK worker lcore: owns RX/TX queue @queue on every port, its counters,
 * its reassembly table and its queue of packets waiting for ARP. Nothing in
 * here is shared, so the loop takes no locks.
 */
#ifndef CW_WORKER_H
#define CW_WORKER_H

#include <stdint.h>

#include <rte_ip_frag.h>

#include "dp.h"
#include "parse.h"

#define CW_MAX_BURST   512
#define CW_PENDING_MAX 256 /* packets waiting for a neighbour, per worker */

struct cw_pending {
	struct rte_mbuf *m; /* starts at the IPv4 header */
	uint32_t nexthop;   /* network order */
	uint16_t port;
	uint64_t deadline; /* TSC */
};

struct cw_txq {
	uint16_t n;
	struct rte_mbuf *m[CW_MAX_BURST];
};

/*
 * The last next hop resolved: replies mostly go to one peer in a row.
 * Trusted for 1 ms, so a changed MAC is seen within that. It also carries
 * what the transmit fast path needs of the entry's port, so that path reads
 * nothing else per datagram.
 */
struct cw_nh_cache {
	uint32_t ip; /* network order; 0: empty */
	uint16_t port;
	uint8_t mac[6];
	uint64_t until;			 /* TSC */
	uint32_t addr, netmask, gateway; /* the port's, for the next hop */
	uint32_t max_plen;		 /* largest UDP payload within its MTU */
	bool multi_seg;			 /* the port sends chained frames */
	uint8_t l2_len;
	uint8_t l2[CW_ETH_HLEN + CW_VLAN_HLEN]; /* Ethernet header to the next hop */
};

struct cw_worker {
	struct cw_dp *dp;
	unsigned idx; /* 0..n_workers-1, also the queue id on every port */
	unsigned lcore;
	uint16_t burst;
	uint16_t ip_id;
	struct cw_counters *ctr;
	struct cw_ifaddr ifa[CW_MAX_PORTS]; /* copied from the ports at creation */
	uint64_t csum_flags[CW_MAX_PORTS];  /* ol_flags bits the port's NIC sets, else 0 */
	struct rte_ip_frag_tbl *frag;
	struct rte_ip_frag_death_row death_row;
	uint64_t frag_expire_next;
	struct cw_nh_cache nh_cache;
	unsigned n_pending;
	struct cw_pending pending[CW_PENDING_MAX];
	struct cw_txq txq[CW_MAX_PORTS];
	/* Per-handler batches of the current RX burst. */
	uint16_t n_in[CW_MAX_HANDLERS];
	struct cw_dgram in[CW_MAX_HANDLERS][CW_MAX_BURST];
	struct cw_dgram out[CW_MAX_BURST];
};

/*
 * Allocate worker @idx on @lcore with its reassembly table on the lcore's
 * socket. Returns NULL (and logs) on failure.
 */
struct cw_worker *cw_worker_create(struct cw_dp *dp, unsigned idx, unsigned lcore);
void cw_worker_free(struct cw_worker *w);

/* Process one received frame; the mbuf is consumed. Exposed for tests. */
void cw_worker_input(struct cw_worker *w, uint16_t port, struct rte_mbuf *m, uint64_t now);

/*
 * Process a burst of @n received frames, consuming every mbuf: the common
 * UDP datagram in one pass (answered in place for a reflecting handler),
 * everything else through cw_worker_input. Exposed for tests.
 */
void cw_worker_input_burst(struct cw_worker *w, uint16_t port, struct rte_mbuf **pkts, uint16_t n,
			   uint64_t now);

/* Run the handlers on the batches collected by cw_worker_input. */
void cw_worker_dispatch(struct cw_worker *w, uint64_t now);

/* Run the handlers' poll functions (handler.h) and send what they emit. */
void cw_worker_poll_handlers(struct cw_worker *w, uint64_t now);

/*
 * Periodic work that is not driven by packets: expire incomplete datagrams
 * (at most every 100 ms, whatever the call rate). Called once per loop.
 */
void cw_worker_housekeep(struct cw_worker *w, uint64_t now);

/* The gateway is stopping: every handler's stop hook, on this worker. */
void cw_worker_stop_handlers(struct cw_worker *w);

/* lcore entry point (rte_eal_remote_launch): loop until cw_quit. */
int cw_worker_main(void *arg);

#endif
