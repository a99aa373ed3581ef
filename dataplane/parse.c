/* SPDX-License-Identifier: Apache-2.0 */
#include "parse.h"

#include <arpa/inet.h>
#include <string.h>

#define CW_ARP_HTYPE_ETH 1
#define CW_IP_MF	 0x2000
#define CW_IP_OFFMASK	 0x1fff
#define CW_ICMP_ECHO	 8
#define CW_ICMP_REPLY	 0
#define CW_TTL_DEFAULT	 64

static inline int drop(enum cw_drop d)
{
	return -(int)d - 1;
}

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rd32n(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Store the complement of a folded native sum: the checksum field. */
static inline void store_csum(uint8_t *p, uint16_t sum_n)
{
	uint16_t c = (uint16_t)~sum_n;

	memcpy(p, &c, 2);
}

static bool mac_is_bcast(const uint8_t *m)
{
	static const uint8_t bc[CW_ETH_ALEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	return memcmp(m, bc, CW_ETH_ALEN) == 0;
}

/* Ethernet and an optional single 802.1Q tag; returns the ethertype or < 0. */
static int parse_l2(const uint8_t *f, size_t len, struct cw_rx_info *o)
{
	uint16_t type;

	if (len < CW_ETH_HLEN)
		return drop(CW_DROP_BAD_ETH);
	type = rd16(f + 12);
	o->l2_len = CW_ETH_HLEN;
	o->has_vlan = false;
	if (type == CW_ETHERTYPE_VLAN) {
		if (len < CW_ETH_HLEN + CW_VLAN_HLEN)
			return drop(CW_DROP_BAD_ETH);
		o->has_vlan = true;
		o->vlan_tci = rd16(f + 14);
		type = rd16(f + 16);
		o->l2_len += CW_VLAN_HLEN;
	}
	return type;
}

static int parse_arp(const uint8_t *a, size_t len, struct cw_rx_info *o)
{
	if (len < CW_ARP_LEN)
		return drop(CW_DROP_BAD_ARP);
	if (rd16(a) != CW_ARP_HTYPE_ETH || rd16(a + 2) != CW_ETHERTYPE_IP || a[4] != CW_ETH_ALEN ||
	    a[5] != 4)
		return drop(CW_DROP_BAD_ARP);
	o->arp_op = rd16(a + 6);
	if (o->arp_op != 1 && o->arp_op != 2)
		return drop(CW_DROP_BAD_ARP);
	memcpy(o->arp_sha, a + 8, CW_ETH_ALEN);
	o->arp_spa = rd32n(a + 14);
	o->arp_tpa = rd32n(a + 24);
	/* A sender claiming a broadcast or multicast MAC is never a neighbour. */
	if (o->arp_sha[0] & 1)
		return drop(CW_DROP_BAD_ARP);
	return CW_RX_ARP;
}

static bool ipv4_hdr_csum_ok(const uint8_t *ip, size_t ihl)
{
	if (ihl == CW_IPV4_HLEN)
		return cw_csum_ipv4_hdr_n(ip) == 0xffff;
	return cw_csum_fold_n(cw_csum_add_n(ip, ihl, 0)) == 0xffff;
}

/* The IPv4 header proper: RFC 1122 3.2.1 checks, then addressing. */
static int parse_ipv4_hdr(const uint8_t *ip, size_t avail, const struct cw_ifaddr *ifa,
			  unsigned rx_ok, struct cw_rx_info *o)
{
	size_t ihl;

	if (avail < CW_IPV4_HLEN || (ip[0] >> 4) != 4)
		return drop(CW_DROP_BAD_IP);
	ihl = (size_t)(ip[0] & 0xf) * 4;
	o->ip_len = rd16(ip + 2);
	if (ihl < CW_IPV4_HLEN || ihl > avail || o->ip_len < ihl || o->ip_len > avail)
		return drop(CW_DROP_BAD_IP);
	if (!(rx_ok & CW_RX_OK_IP_CSUM) && !ipv4_hdr_csum_ok(ip, ihl))
		return drop(CW_DROP_BAD_CSUM);
	o->l3_len = (uint16_t)ihl;
	o->ip_proto = ip[9];
	o->src_ip = rd32n(ip + 12);
	o->dst_ip = rd32n(ip + 16);
	if (o->dst_ip != ifa->ip)
		return drop(CW_DROP_NOT_FOR_US);
	if (ip[8] == 0)
		return drop(CW_DROP_TTL);
	return 0;
}

/* cw_parse_udp, inlined into the per-packet path below. */
static inline int parse_udp(const uint8_t *udp, size_t avail, uint32_t ip_payload, uint32_t src,
			    uint32_t dst, bool verify_csum, struct cw_rx_info *o)
{
	uint16_t ulen;

	if (ip_payload < CW_UDP_HLEN || avail < CW_UDP_HLEN)
		return drop(CW_DROP_BAD_UDP);
	ulen = rd16(udp + 4);
	if (ulen < CW_UDP_HLEN || ulen > ip_payload)
		return drop(CW_DROP_BAD_UDP);
	memcpy(&o->src_port, udp, 2);
	memcpy(&o->dst_port, udp + 2, 2);
	o->payload_off = CW_UDP_HLEN;
	o->payload_len = (uint16_t)(ulen - CW_UDP_HLEN);
	memcpy(&o->udp_csum, udp + 6, 2);
	if (verify_csum && o->udp_csum != 0) {
		if (avail < ulen)
			return drop(CW_DROP_BAD_UDP);
		uint64_t s = cw_csum_pseudo_udp_n(src, dst, htons(ulen));
		if (cw_csum_fold_n(cw_csum_add_n(udp, ulen, s)) != 0xffff)
			return drop(CW_DROP_BAD_L4_CSUM);
	}
	return 0;
}

int cw_parse_udp(const uint8_t *udp, size_t avail, uint32_t ip_payload, uint32_t src, uint32_t dst,
		 bool verify_csum, struct cw_rx_info *o)
{
	return parse_udp(udp, avail, ip_payload, src, dst, verify_csum, o);
}

static int parse_icmp(const uint8_t *icmp, size_t len)
{
	if (len < CW_ICMP_HLEN)
		return drop(CW_DROP_BAD_IP);
	if (icmp[0] != CW_ICMP_ECHO || icmp[1] != 0)
		return drop(CW_DROP_UNSUPPORTED);
	if (cw_csum_fold_n(cw_csum_add_n(icmp, len, 0)) != 0xffff)
		return drop(CW_DROP_BAD_L4_CSUM);
	return CW_RX_ICMP_ECHO;
}

static int parse_ipv4(const uint8_t *f, size_t len, const struct cw_ifaddr *ifa, unsigned rx_ok,
		      struct cw_rx_info *o)
{
	const uint8_t *ip = f + o->l2_len;
	const uint8_t *l4;
	uint32_t l4_len;
	int rc;

	/* IPv4 for our IP must come to our MAC (or broadcast, e.g. DHCP-ish). */
	if (memcmp(f, ifa->mac, CW_ETH_ALEN) != 0 && !mac_is_bcast(f))
		return drop(CW_DROP_NOT_FOR_US);
	rc = parse_ipv4_hdr(ip, len - o->l2_len, ifa, rx_ok, o);
	if (rc < 0)
		return rc;
	if (rd16(ip + 6) & (CW_IP_MF | CW_IP_OFFMASK)) {
		if (o->ip_proto != CW_IPPROTO_UDP && o->ip_proto != CW_IPPROTO_ICMP)
			return drop(CW_DROP_UNSUPPORTED);
		return CW_RX_IP_FRAG;
	}
	l4 = ip + o->l3_len;
	l4_len = o->ip_len - o->l3_len;
	switch (o->ip_proto) {
	case CW_IPPROTO_ICMP:
		return parse_icmp(l4, l4_len);
	case CW_IPPROTO_UDP:
		rc = parse_udp(l4, l4_len, l4_len, o->src_ip, o->dst_ip,
			       !(rx_ok & CW_RX_OK_L4_CSUM), o);
		if (rc < 0)
			return rc;
		o->payload_off = (uint16_t)(o->payload_off + o->l2_len + o->l3_len);
		return CW_RX_UDP;
	default:
		return drop(CW_DROP_UNSUPPORTED);
	}
}

int cw_parse_frame(const uint8_t *f, size_t len, const struct cw_ifaddr *ifa, unsigned rx_ok,
		   struct cw_rx_info *o)
{
	int type = parse_l2(f, len, o);

	if (type < 0)
		return type;
	switch (type) {
	case CW_ETHERTYPE_ARP:
		return parse_arp(f + o->l2_len, len - o->l2_len, o);
	case CW_ETHERTYPE_IP:
		return parse_ipv4(f, len, ifa, rx_ok, o);
	default:
		return drop(CW_DROP_UNSUPPORTED);
	}
}

size_t cw_build_arp(uint8_t *f, uint16_t op, const uint8_t *src_mac, uint32_t src_ip,
		    const uint8_t *dst_mac, uint32_t dst_ip, const uint8_t *eth_dst, int vlan_tci)
{
	size_t l2 = cw_build_eth(f, src_mac, eth_dst, vlan_tci, CW_ETHERTYPE_ARP);
	uint8_t *a = f + l2;

	wr16(a, CW_ARP_HTYPE_ETH);
	wr16(a + 2, CW_ETHERTYPE_IP);
	a[4] = CW_ETH_ALEN;
	a[5] = 4;
	wr16(a + 6, op);
	memcpy(a + 8, src_mac, CW_ETH_ALEN);
	memcpy(a + 14, &src_ip, 4);
	memcpy(a + 18, dst_mac, CW_ETH_ALEN);
	memcpy(a + 24, &dst_ip, 4);
	return l2 + CW_ARP_LEN;
}

void cw_icmp_echo_to_reply(uint8_t *f, const struct cw_rx_info *info, const uint8_t *our_mac)
{
	uint8_t *ip = f + info->l2_len;
	uint8_t *icmp = ip + info->l3_len;
	size_t icmp_len = (size_t)info->ip_len - info->l3_len;

	/* From our own MAC even when the request went to broadcast. */
	memcpy(f, f + 6, CW_ETH_ALEN);
	memcpy(f + 6, our_mac, CW_ETH_ALEN);
	memcpy(ip + 12, &info->dst_ip, 4);
	memcpy(ip + 16, &info->src_ip, 4);
	ip[8] = CW_TTL_DEFAULT;
	/* Recomputed, not updated (RFC 1624): an incremental update yields
	 * 0x0000 where only 0xffff verifies, e.g. for an all-zero body. */
	wr16(ip + 10, 0);
	store_csum(ip + 10, cw_csum_fold_n(cw_csum_add_n(ip, info->l3_len, 0)));
	icmp[0] = CW_ICMP_REPLY;
	wr16(icmp + 2, 0);
	store_csum(icmp + 2, cw_csum_fold_n(cw_csum_add_n(icmp, icmp_len, 0)));
}
