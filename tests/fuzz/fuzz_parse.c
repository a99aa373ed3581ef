/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for dataplane/parse.c: any bytes, as a frame received on
 * an interface 02:00:00:00:00:01 / 10.0.0.1 (the addresses the seeds in
 * corpus/parse/ use). Beyond ASan/UBSan, every classification is checked against
 * the bounds and the facts it claims; a violated invariant traps.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/parse.h"

#define check(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			__builtin_trap();                                                          \
	} while (0)

static struct cw_ifaddr our; /* see init() */

static void init(void)
{
	static const uint8_t mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
	static const uint8_t ip[4] = {10, 0, 0, 1};

	memcpy(our.mac, mac, 6);
	memcpy(&our.ip, ip, 4);
}

static bool csum_ok(const uint8_t *p, size_t len)
{
	return cw_csum_fold(cw_csum_partial(p, len, 0)) == 0;
}

/* The IPv4 facts every non-ARP classification implies. */
static void check_ipv4(const uint8_t *f, size_t len, const struct cw_rx_info *ri)
{
	const uint8_t *ip = f + ri->l2_len;
	uint32_t dst;

	check(ri->l2_len == (ri->has_vlan ? CW_ETH_HLEN + CW_VLAN_HLEN : CW_ETH_HLEN));
	check(ri->l3_len >= CW_IPV4_HLEN && ri->l3_len <= 60 && ri->l3_len % 4 == 0);
	check(ri->l3_len <= ri->ip_len);
	check((size_t)ri->l2_len + ri->ip_len <= len);
	check(ip[0] >> 4 == 4 && (size_t)(ip[0] & 0xf) * 4 == ri->l3_len);
	check(csum_ok(ip, ri->l3_len));
	check(ip[8] != 0);
	check(ip[9] == ri->ip_proto);
	memcpy(&dst, ip + 16, 4);
	check(dst == our.ip && ri->dst_ip == our.ip);
}

static void check_udp(const uint8_t *f, size_t len, const struct cw_rx_info *ri)
{
	const uint8_t *udp = f + ri->l2_len + ri->l3_len;
	struct cw_rx_info u;

	check(ri->ip_proto == CW_IPPROTO_UDP);
	check(ri->payload_off == ri->l2_len + ri->l3_len + CW_UDP_HLEN);
	check((size_t)ri->payload_off + ri->payload_len <= len);
	check((size_t)ri->payload_off + ri->payload_len <= (size_t)ri->l2_len + ri->ip_len);
	/* The UDP header on its own says the same. */
	memset(&u, 0, sizeof(u));
	check(cw_parse_udp(udp, ri->ip_len - ri->l3_len, ri->ip_len - ri->l3_len, ri->src_ip,
			   ri->dst_ip, true, &u) == 0);
	check(u.payload_off == CW_UDP_HLEN && u.payload_len == ri->payload_len);
	check(u.src_port == ri->src_port && u.dst_port == ri->dst_port);
}

/* Reply to the echo request in a copy; the peer must see a valid frame. */
static void check_echo(const uint8_t *f, size_t len, const struct cw_rx_info *ri)
{
	uint8_t *r = malloc(len);
	struct cw_ifaddr peer;
	struct cw_rx_info back;
	const uint8_t *ip, *icmp;
	size_t icmp_len = ri->ip_len - ri->l3_len;

	check(ri->ip_proto == CW_IPPROTO_ICMP && icmp_len >= CW_ICMP_HLEN);
	check(r != NULL);
	memcpy(r, f, len);
	cw_icmp_echo_to_reply(r, ri, our.mac);
	ip = r + ri->l2_len;
	icmp = ip + ri->l3_len;
	check(memcmp(r, f + 6, 6) == 0);
	check(memcmp(ip + 16, &ri->src_ip, 4) == 0 && memcmp(ip + 12, &ri->dst_ip, 4) == 0);
	check(csum_ok(ip, ri->l3_len));
	check(icmp[0] == 0 && icmp[1] == 0);
	check(csum_ok(icmp, icmp_len));
	check(memcmp(r + 6, our.mac, 6) == 0);
	/* Bytes outside the rewritten fields are untouched, padding included. */
	check(memcmp(r + 12, f + 12, ri->l2_len - 12u) == 0);
	check(memcmp(ip, f + ri->l2_len, 8) == 0 && ip[9] == f[ri->l2_len + 9]);
	check(memcmp(ip + 20, f + ri->l2_len + 20, ri->l3_len - 20u) == 0);
	check(memcmp(icmp + 4, f + ri->l2_len + ri->l3_len + 4, icmp_len - 4) == 0);
	check(memcmp(ip + ri->ip_len, f + ri->l2_len + ri->ip_len, len - ri->l2_len - ri->ip_len) ==
	      0);
	/* From the peer's side: valid IPv4, addressed to it, an ICMP type it ignores. */
	memcpy(peer.mac, f + 6, 6);
	peer.ip = ri->src_ip;
	check(cw_parse_frame(r, len, &peer, 0, &back) == -(int)CW_DROP_UNSUPPORTED - 1);
	check(back.src_ip == ri->dst_ip && back.dst_ip == ri->src_ip);
	free(r);
}

static void check_arp(const uint8_t *f, size_t len, const struct cw_rx_info *ri)
{
	check((size_t)ri->l2_len + CW_ARP_LEN <= len);
	check(ri->arp_op == 1 || ri->arp_op == 2);
	check(!(ri->arp_sha[0] & 1));
	check(memcmp(ri->arp_sha, f + ri->l2_len + 8, 6) == 0);
}

/* The worker's one-pass parser accepts nothing the full one classifies
 * otherwise, and agrees with it field by field. */
static void check_fast(const uint8_t *f, size_t len, int rc, const struct cw_rx_info *ri)
{
	struct cw_rx_info u;

	memset(&u, 0, sizeof(u));
	if (!cw_parse_udp_fast(f, len, &our, 0, &u))
		return;
	check(rc == CW_RX_UDP);
	check(u.l2_len == ri->l2_len && u.l3_len == ri->l3_len && u.ip_len == ri->ip_len);
	check(u.src_ip == ri->src_ip && u.dst_ip == ri->dst_ip);
	check(u.src_port == ri->src_port && u.dst_port == ri->dst_port);
	check(u.udp_csum == ri->udp_csum);
	check(u.payload_off == ri->payload_off && u.payload_len == ri->payload_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cw_rx_info ri, u;
	int rc;

	if (!our.ip)
		init();
	memset(&ri, 0, sizeof(ri));
	rc = cw_parse_frame(data, size, &our, 0, &ri);
	check_fast(data, size, rc, &ri);
	if (rc < 0) {
		check(cw_rx_drop_reason(rc) < CW_DROP_MAX);
	} else {
		check(rc <= CW_RX_IP_FRAG);
		check(ri.l2_len <= size);
		switch (rc) {
		case CW_RX_ARP:
			check_arp(data, size, &ri);
			break;
		case CW_RX_ICMP_ECHO:
			check_ipv4(data, size, &ri);
			check_echo(data, size, &ri);
			break;
		case CW_RX_UDP:
			check_ipv4(data, size, &ri);
			check_udp(data, size, &ri);
			break;
		case CW_RX_IP_FRAG:
			check_ipv4(data, size, &ri);
			check(ri.ip_proto == CW_IPPROTO_UDP || ri.ip_proto == CW_IPPROTO_ICMP);
			break;
		}
	}
	/* The UDP header parser on the raw tail of the input, both ways. */
	for (size_t off = 0; off <= size && off <= 42; off += 14) {
		memset(&u, 0, sizeof(u));
		if (cw_parse_udp(data + off, size - off, (uint32_t)(size - off), 0, 0, true, &u) ==
		    0)
			check(u.payload_off + (size_t)u.payload_len <= size - off);
		if (cw_parse_udp(data + off, size - off, (uint32_t)(size - off), 0, 0, false, &u) ==
		    0)
			check(u.payload_off + (size_t)u.payload_len <= size - off);
	}
	return 0;
}
