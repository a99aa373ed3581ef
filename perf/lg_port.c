/* SPDX-License-Identifier: Apache-2.0 */
/* The load generators' port and ARP (lg_port.h). */
#include "lg_port.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>

#define CW_LGP_LINK_SEC 10 /* wait for the link (memif: the peer) */
#define CW_LGP_ARP_SEC	10 /* wait for the DUT's ARP answer */
#define CW_LGP_BURST	32

int cw_lgp_start(struct cw_lgp *p, uint16_t ring, const volatile bool *quit)
{
	struct rte_eth_conf conf = {0};
	uint16_t rxd = ring, txd = ring;
	struct rte_eth_link link;
	uint64_t deadline;
	int rc;

	if (rte_eth_dev_count_avail() < 1) {
		fprintf(stderr, "no port; give one with --vdev\n");
		return -ENODEV;
	}
	p->port_id = 0;
	rc = rte_eth_dev_configure(p->port_id, 1, 1, &conf);
	rc = rc ? rc : rte_eth_dev_adjust_nb_rx_tx_desc(p->port_id, &rxd, &txd);
	rc = rc ? rc
		: rte_eth_rx_queue_setup(p->port_id, 0, rxd, (unsigned)rte_socket_id(), NULL,
					 p->pool);
	rc = rc ? rc : rte_eth_tx_queue_setup(p->port_id, 0, txd, (unsigned)rte_socket_id(), NULL);
	rc = rc ? rc : rte_eth_dev_start(p->port_id);
	rc = rc ? rc : rte_eth_macaddr_get(p->port_id, &p->mac);
	if (rc) {
		fprintf(stderr, "port setup: %s\n", rte_strerror(-rc));
		return rc;
	}
	deadline = rte_get_tsc_cycles() + CW_LGP_LINK_SEC * rte_get_tsc_hz();
	do {
		if (rte_eth_link_get_nowait(p->port_id, &link) == 0 && link.link_status)
			return 0;
		rte_delay_ms(10);
	} while (rte_get_tsc_cycles() < deadline && !*quit);
	fprintf(stderr, "link of port %u did not come up\n", p->port_id);
	return -ENOLINK;
}

static void arp_build(const struct cw_lgp *p, struct rte_mbuf *m, uint16_t op,
		      const struct rte_ether_addr *tha, uint32_t tip)
{
	struct rte_ether_hdr *eth;
	struct rte_arp_hdr *arp;

	eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m, sizeof(*eth) + sizeof(*arp));
	arp = (struct rte_arp_hdr *)(eth + 1);
	if (op == RTE_ARP_OP_REQUEST)
		memset(&eth->dst_addr, 0xff, RTE_ETHER_ADDR_LEN);
	else
		rte_ether_addr_copy(tha, &eth->dst_addr);
	rte_ether_addr_copy(&p->mac, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
	arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	arp->arp_hlen = RTE_ETHER_ADDR_LEN;
	arp->arp_plen = 4;
	arp->arp_opcode = rte_cpu_to_be_16(op);
	rte_ether_addr_copy(&p->mac, &arp->arp_data.arp_sha);
	arp->arp_data.arp_sip = p->src_ip;
	if (op == RTE_ARP_OP_REQUEST)
		memset(&arp->arp_data.arp_tha, 0, RTE_ETHER_ADDR_LEN);
	else
		rte_ether_addr_copy(tha, &arp->arp_data.arp_tha);
	arp->arp_data.arp_tip = tip;
}

void cw_lgp_send_one(struct cw_lgp *p, struct rte_mbuf *m)
{
	if (rte_eth_tx_burst(p->port_id, 0, &m, 1) != 1)
		rte_pktmbuf_free(m);
}

void cw_lgp_arp_request(struct cw_lgp *p)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(p->pool);

	if (!m)
		return;
	arp_build(p, m, RTE_ARP_OP_REQUEST, NULL, p->dut_ip);
	cw_lgp_send_one(p, m);
}

bool cw_lgp_is_arp(const struct rte_mbuf *m)
{
	return rte_pktmbuf_data_len(m) >= sizeof(struct rte_ether_hdr) &&
	       rte_pktmbuf_mtod(m, const struct rte_ether_hdr *)->ether_type ==
		   rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
}

void cw_lgp_arp_input(struct cw_lgp *p, const struct rte_mbuf *m)
{
	const struct rte_arp_hdr *arp;
	struct rte_ether_addr sha;
	uint32_t sip;

	if (rte_pktmbuf_data_len(m) < sizeof(struct rte_ether_hdr) + sizeof(*arp))
		return;
	arp = rte_pktmbuf_mtod_offset(m, const struct rte_arp_hdr *, sizeof(struct rte_ether_hdr));
	if (arp->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
	    arp->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))
		return;
	rte_ether_addr_copy(&arp->arp_data.arp_sha, &sha);
	sip = arp->arp_data.arp_sip;
	if (sip == p->dut_ip && !p->fixed_mac) {
		rte_ether_addr_copy(&sha, &p->dut_mac);
		p->dut_mac_known = true;
	}
	if (arp->arp_opcode == rte_cpu_to_be_16(RTE_ARP_OP_REQUEST) &&
	    arp->arp_data.arp_tip == p->src_ip && sip) {
		struct rte_mbuf *r = rte_pktmbuf_alloc(p->pool);

		if (!r)
			return;
		arp_build(p, r, RTE_ARP_OP_REPLY, &sha, sip);
		cw_lgp_send_one(p, r);
	}
}

int cw_lgp_resolve(struct cw_lgp *p, void (*rx)(void *ctx, struct rte_mbuf *m), void *ctx,
		   const volatile bool *quit)
{
	uint64_t hz = rte_get_tsc_hz(), now = rte_get_tsc_cycles();
	uint64_t deadline = now + CW_LGP_ARP_SEC * hz, next = now;
	struct rte_mbuf *ms[CW_LGP_BURST];

	if (p->fixed_mac)
		return 0;
	while (!p->dut_mac_known && !*quit) {
		uint16_t n;

		now = rte_get_tsc_cycles();
		if (now >= deadline) {
			fprintf(stderr, "no ARP answer from the DUT\n");
			return -EHOSTUNREACH;
		}
		if (now >= next) {
			cw_lgp_arp_request(p);
			next = now + hz / 10;
		}
		n = rte_eth_rx_burst(p->port_id, 0, ms, CW_LGP_BURST);
		for (uint16_t i = 0; i < n; i++)
			rx(ctx, ms[i]);
	}
	/* The request made the DUT learn us; one more, now that it is up. */
	cw_lgp_arp_request(p);
	return *quit ? -EINTR : 0;
}
