/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The DPDK side the load generators share (loadgen, causeway-loadgen): port
 * 0 with one RX and one TX queue, and enough ARP to find the DUT's MAC and
 * to answer the DUT's requests for ours.
 */
#ifndef CW_PERF_LG_PORT_H
#define CW_PERF_LG_PORT_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mbuf.h>

struct cw_lgp {
	uint16_t port_id;
	struct rte_mempool *pool;
	struct rte_ether_addr mac;     /* ours */
	struct rte_ether_addr dut_mac; /* learnt from ARP unless fixed_mac */
	uint32_t src_ip, dut_ip;       /* network order */
	bool fixed_mac;		       /* dut_mac was given: never learn it */
	bool dut_mac_known;
};

/*
 * Configure and start port 0 with @ring descriptors per queue and wait for
 * its link (10 s, or until *@quit). Returns 0, -ENODEV (no port), -ENOLINK,
 * or DPDK's error; a message is printed either way.
 */
int cw_lgp_start(struct cw_lgp *p, uint16_t ring, const volatile bool *quit);

/* Whether @m is an ARP frame (for cw_lgp_arp_input()). */
bool cw_lgp_is_arp(const struct rte_mbuf *m);

/* Learn the DUT's MAC from anything it says (unless fixed), answer its
 * requests for src_ip. @m stays the caller's. */
void cw_lgp_arp_input(struct cw_lgp *p, const struct rte_mbuf *m);

/* Ask who has dut_ip. */
void cw_lgp_arp_request(struct cw_lgp *p);

/*
 * Until the DUT's MAC is known (10 s at most): ask every 100 ms, and hand
 * every received frame to @rx (which must pass ARP frames to
 * cw_lgp_arp_input() and free them). Returns 0, -EHOSTUNREACH, -EINTR.
 */
int cw_lgp_resolve(struct cw_lgp *p, void (*rx)(void *ctx, struct rte_mbuf *m), void *ctx,
		   const volatile bool *quit);

/* Send one frame now; it is freed when the queue is full. */
void cw_lgp_send_one(struct cw_lgp *p, struct rte_mbuf *m);

#endif
