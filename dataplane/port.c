/* SPDX-License-Identifier: Apache-2.0 */
#include "port.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_ether.h>

#include "log.h"
#include "neigh.h"

#define CW_NEIGH_SIZE	    4096
#define CW_RX_CSUM_OFFLOADS (RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM)

bool cw_port_is_pci(const char *d)
{
	unsigned a, b, c, f;
	char end;

	return sscanf(d, "%x:%x:%x.%x%c", &a, &b, &c, &f, &end) == 4 ||
	       sscanf(d, "%x:%x.%x%c", &b, &c, &f, &end) == 3;
}

void cw_port_dev_name(const char *device, char *name, size_t len)
{
	unsigned a, b, c, f;
	char end;

	if (sscanf(device, "%x:%x.%x%c", &b, &c, &f, &end) == 3 &&
	    sscanf(device, "%x:%x:%x.%x%c", &a, &b, &c, &f, &end) != 4) {
		snprintf(name, len, "0000:%02x:%02x.%x", b, c, f);
		return;
	}
	snprintf(name, len, "%.*s", (int)strcspn(device, ","), device);
}

static int port_configure(struct cw_dp *dp, struct cw_port *p)
{
	const struct cw_port_conf *pc = p->conf;
	struct rte_eth_conf conf = {0};
	struct rte_eth_dev_info info;
	uint16_t nq = (uint16_t)dp->conf->dp.n_workers, rxd = pc->rx_desc, txd = pc->tx_desc;
	int rc = rte_eth_dev_info_get(p->port_id, &info);

	if (rc < 0)
		return rc;
	if (info.max_rx_queues < nq || info.max_tx_queues < nq) {
		cw_err("port %s: %s has %u RX / %u TX queues, %u workers need one pair each "
		       "(for net_af_packet add qpairs=%u, for net_af_xdp queue_count=%u)",
		       pc->name, pc->device, info.max_rx_queues, info.max_tx_queues, nq, nq, nq);
		return -EINVAL;
	}
	if (nq > 1) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf =
		    (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
	}
	p->tx_multi_seg = info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	/* Only a port that checks checksums may be believed about them: some
	 * PMDs (net_af_xdp) hand out mbufs whose ol_flags were never reset. */
	p->rx_csum = (info.rx_offload_capa & CW_RX_CSUM_OFFLOADS) == CW_RX_CSUM_OFFLOADS;
	if (p->rx_csum)
		conf.rxmode.offloads |= CW_RX_CSUM_OFFLOADS;
	if (p->tx_multi_seg)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	rc = rte_eth_dev_configure(p->port_id, nq, nq, &conf);
	if (rc < 0)
		return rc;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(p->port_id, &rxd, &txd);
	if (rc < 0)
		return rc;
	for (uint16_t q = 0; q < nq; q++) {
		int sock = rte_eth_dev_socket_id(p->port_id);
		unsigned s = sock < 0 ? 0 : (unsigned)sock;

		rc = rte_eth_rx_queue_setup(p->port_id, q, rxd, s, NULL, dp->pool);
		if (rc < 0)
			return rc;
		rc = rte_eth_tx_queue_setup(p->port_id, q, txd, s, NULL);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void port_log_link(const struct cw_port *p)
{
	struct rte_eth_link link;
	char ls[RTE_ETH_LINK_MAX_STR_LEN];
	char mac[RTE_ETHER_ADDR_FMT_SIZE];
	char ip[16];

	rte_ether_format_addr(mac, sizeof(mac), (const struct rte_ether_addr *)p->mac);
	inet_ntop(AF_INET, &p->addr, ip, sizeof(ip));
	if (rte_eth_link_get_nowait(p->port_id, &link) < 0)
		snprintf(ls, sizeof(ls), "link unknown");
	else
		rte_eth_link_to_str(ls, sizeof(ls), &link);
	cw_info("port %s: ethdev %u, MAC %s, %s/%u, mtu %u, %s", p->conf->name, p->port_id, mac, ip,
		p->conf->prefix_len, p->conf->mtu, ls);
}

static int port_start(struct cw_dp *dp, struct cw_port *p)
{
	char name[RTE_ETH_NAME_MAX_LEN];
	int rc;

	cw_port_dev_name(p->conf->device, name, sizeof(name));
	if (rte_eth_dev_get_port_by_name(name, &p->port_id) != 0) {
		cw_err("port %s: no ethdev '%s' (device '%s' not probed?)", p->conf->name, name,
		       p->conf->device);
		return -ENODEV;
	}
	rc = port_configure(dp, p);
	if (rc < 0) {
		cw_err("port %s: configure: %s", p->conf->name, rte_strerror(-rc));
		return rc;
	}
	rc = rte_eth_dev_set_mtu(p->port_id, p->conf->mtu);
	if (rc < 0)
		cw_warn("port %s: cannot set MTU %u on the device (%s); using it in software",
			p->conf->name, p->conf->mtu, rte_strerror(-rc));
	rc = rte_eth_dev_start(p->port_id);
	if (rc < 0) {
		cw_err("port %s: start: %s", p->conf->name, rte_strerror(-rc));
		return rc;
	}
	rc = rte_eth_promiscuous_disable(p->port_id);
	if (rc < 0 && rc != -ENOTSUP)
		cw_warn("port %s: cannot turn promiscuous mode off: %s", p->conf->name,
			rte_strerror(-rc));
	p->started = true;
	rte_eth_macaddr_get(p->port_id, (struct rte_ether_addr *)p->mac);
	port_log_link(p);
	return 0;
}

int cw_ports_start(struct cw_dp *dp)
{
	const struct cw_config *c = dp->conf;

	for (unsigned i = 0; i < c->n_ports; i++) {
		struct cw_port *p = &dp->ports[i];
		int rc;

		p->conf = &c->ports[i];
		p->addr = p->conf->addr;
		p->netmask = htonl(p->conf->prefix_len ? ~0u << (32 - p->conf->prefix_len) : 0);
		p->vlan_tci = p->conf->vlan ? p->conf->vlan : -1;
		p->neigh = cw_neigh_create(CW_NEIGH_SIZE, dp->conf->dp.neigh_timeout * dp->tsc_hz);
		if (!p->neigh)
			return -ENOMEM;
		dp->n_ports = i + 1;
		rc = port_start(dp, p);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void cw_ports_stop(struct cw_dp *dp)
{
	for (unsigned i = 0; i < dp->n_ports; i++) {
		struct cw_port *p = &dp->ports[i];

		if (p->started) {
			rte_eth_dev_stop(p->port_id);
			rte_eth_dev_close(p->port_id);
		}
		p->started = false;
		cw_neigh_free(p->neigh);
		p->neigh = NULL;
	}
	dp->n_ports = 0;
}
