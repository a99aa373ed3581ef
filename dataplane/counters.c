/* SPDX-License-Identifier: Apache-2.0 */
#include "counters.h"

#include <string.h>

static const char *const cw_drop_names[CW_DROP_MAX] = {
    [CW_DROP_BAD_ETH] = "bad_eth",
    [CW_DROP_NOT_FOR_US] = "not_for_us",
    [CW_DROP_UNSUPPORTED] = "unsupported",
    [CW_DROP_BAD_ARP] = "bad_arp",
    [CW_DROP_BAD_IP] = "bad_ip",
    [CW_DROP_BAD_CSUM] = "bad_ip_csum",
    [CW_DROP_BAD_UDP] = "bad_udp",
    [CW_DROP_BAD_L4_CSUM] = "bad_l4_csum",
    [CW_DROP_TTL] = "ttl",
    [CW_DROP_FRAG_BAD] = "frag_bad",
    [CW_DROP_FRAG_TIMEOUT] = "frag_timeout",
    [CW_DROP_NO_HANDLER] = "no_handler",
    [CW_DROP_HANDLER] = "handler",
    [CW_DROP_NO_NEIGH] = "no_neigh",
    [CW_DROP_NO_MBUF] = "no_mbuf",
    [CW_DROP_TX_FULL] = "tx_full",
    [CW_DROP_TOO_BIG] = "too_big",
};

static const char *const cw_tctr_names[CW_TCTR_MAX] = {
    [CW_TCTR_SESSIONS] = "sessions",
    [CW_TCTR_HS_FULL] = "handshakes_full",
    [CW_TCTR_HS_RESUMED] = "handshakes_resumed",
    [CW_TCTR_HS_FAILED] = "handshakes_failed",
    [CW_TCTR_HS_OFFLOADED] = "handshakes_offloaded",
    [CW_TCTR_HS_REFUSED] = "handshakes_refused",
    [CW_TCTR_REDIRECT_OUT] = "redirects_out",
    [CW_TCTR_REDIRECT_IN] = "redirects_in",
    [CW_TCTR_REDIRECT_FULL] = "redirect_ring_full",
    [CW_TCTR_EVENT_FULL] = "event_ring_full",
    [CW_TCTR_API_BUSY] = "api_busy",
    [CW_TCTR_RETRANSMITS] = "retransmits",
    [CW_TCTR_DECRYPT_FAILED] = "decrypt_failed",
    [CW_TCTR_BODY_FAILED] = "decompress_failed",
    [CW_TCTR_BODY_BYTES] = "body_bytes",
    [CW_TCTR_ROUTE_HUB] = "route_hub",
    [CW_TCTR_ROUTE_UPSTREAM] = "route_upstream",
    [CW_TCTR_ROUTE_DENY] = "route_deny",
    [CW_TCTR_MEMORY] = "memory_bytes",
};

const char *cw_drop_name(enum cw_drop d)
{
	return (unsigned)d < CW_DROP_MAX ? cw_drop_names[d] : "unknown";
}

const char *cw_tctr_name(enum cw_tctr t)
{
	return (unsigned)t < CW_TCTR_MAX ? cw_tctr_names[t] : "unknown";
}

void cw_counters_sum(const struct cw_counters *in, unsigned n, struct cw_counters *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < n; i++) {
		const struct cw_counters *c = &in[i];
		out->rx_pkts += cw_ctr_get(c->rx_pkts);
		out->rx_bytes += cw_ctr_get(c->rx_bytes);
		out->tx_pkts += cw_ctr_get(c->tx_pkts);
		out->tx_bytes += cw_ctr_get(c->tx_bytes);
		out->arp_in += cw_ctr_get(c->arp_in);
		out->arp_out += cw_ctr_get(c->arp_out);
		out->icmp_echo += cw_ctr_get(c->icmp_echo);
		out->udp_in += cw_ctr_get(c->udp_in);
		out->udp_out += cw_ctr_get(c->udp_out);
		for (unsigned t = 0; t < CW_TCTR_MAX; t++)
			out->tun[t] += cw_ctr_get(c->tun[t]);
		for (unsigned d = 0; d < CW_DROP_MAX; d++)
			out->drops[d] += cw_ctr_get(c->drops[d]);
	}
}

uint64_t cw_counters_drops(const struct cw_counters *c)
{
	uint64_t t = 0;
	for (unsigned d = 0; d < CW_DROP_MAX; d++)
		t += c->drops[d];
	return t;
}
