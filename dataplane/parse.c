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

/*
 * RFC 1071 sums are byte-order independent (RFC 1071 section 2(B)): add the
 * buffer as native 32-bit words in a 64-bit accumulator, fold, and swap the
 * 16-bit result into the big-endian domain the rest of this file uses. This
 * is on the per-packet path (IPv4 header and UDP verification, header
 * building), where a byte loop cost a quarter of the echo's instructions.
 */
uint32_t cw_csum_partial(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;
	uint64_t s = 0;
	uint32_t w32;
	uint16_t w16;

	for (; len >= 16; p += 16, len -= 16) {
		uint64_t a, b;

		memcpy(&a, p, 8);
		memcpy(&b, p + 8, 8);
		s += (a & 0xffffffffu) + (a >> 32) + (b & 0xffffffffu) + (b >> 32);
	}
	for (; len >= 4; p += 4, len -= 4) {
		memcpy(&w32, p, 4);
		s += w32;
	}
	if (len >= 2) {
		memcpy(&w16, p, 2);
		s += w16;
		p += 2;
		len -= 2;
	}
	if (len) /* the odd byte is the high half of a big-endian word */
		s += ntohs((uint16_t)(p[0] << 8));
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return sum + ntohs((uint16_t)s);
}

uint16_t cw_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

uint32_t cw_csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
	uint8_t ph[12];

	memcpy(ph, &src, 4);
	memcpy(ph + 4, &dst, 4);
	ph[8] = 0;
	ph[9] = proto;
	memcpy(ph + 10, &len, 2);
	return cw_csum_partial(ph, sizeof(ph), 0);
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

/* The IPv4 header proper: RFC 1122 3.2.1 checks, then addressing. */
static int parse_ipv4_hdr(const uint8_t *ip, size_t avail, const struct cw_ifaddr *ifa,
			  struct cw_rx_info *o)
{
	size_t ihl;

	if (avail < CW_IPV4_HLEN || (ip[0] >> 4) != 4)
		return drop(CW_DROP_BAD_IP);
	ihl = (size_t)(ip[0] & 0xf) * 4;
	o->ip_len = rd16(ip + 2);
	if (ihl < CW_IPV4_HLEN || ihl > avail || o->ip_len < ihl || o->ip_len > avail)
		return drop(CW_DROP_BAD_IP);
	if (cw_csum_fold(cw_csum_partial(ip, ihl, 0)) != 0)
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

int cw_parse_udp(const uint8_t *udp, size_t avail, uint32_t ip_payload, uint32_t src, uint32_t dst,
		 bool verify_csum, struct cw_rx_info *o)
{
	uint16_t ulen, csum;

	if (ip_payload < CW_UDP_HLEN || avail < CW_UDP_HLEN)
		return drop(CW_DROP_BAD_UDP);
	ulen = rd16(udp + 4);
	if (ulen < CW_UDP_HLEN || ulen > ip_payload)
		return drop(CW_DROP_BAD_UDP);
	memcpy(&o->src_port, udp, 2);
	memcpy(&o->dst_port, udp + 2, 2);
	o->payload_off = CW_UDP_HLEN;
	o->payload_len = (uint16_t)(ulen - CW_UDP_HLEN);
	csum = rd16(udp + 6);
	memcpy(&o->udp_csum, udp + 6, 2);
	if (verify_csum && csum != 0) {
		if (avail < ulen)
			return drop(CW_DROP_BAD_UDP);
		uint32_t s = cw_csum_pseudo(src, dst, CW_IPPROTO_UDP, htons(ulen));
		if (cw_csum_fold(cw_csum_partial(udp, ulen, s)) != 0)
			return drop(CW_DROP_BAD_L4_CSUM);
	}
	return 0;
}

static int parse_icmp(const uint8_t *icmp, size_t len)
{
	if (len < CW_ICMP_HLEN)
		return drop(CW_DROP_BAD_IP);
	if (icmp[0] != CW_ICMP_ECHO || icmp[1] != 0)
		return drop(CW_DROP_UNSUPPORTED);
	if (cw_csum_fold(cw_csum_partial(icmp, len, 0)) != 0)
		return drop(CW_DROP_BAD_L4_CSUM);
	return CW_RX_ICMP_ECHO;
}

static int parse_ipv4(const uint8_t *f, size_t len, const struct cw_ifaddr *ifa,
		      struct cw_rx_info *o)
{
	const uint8_t *ip = f + o->l2_len;
	const uint8_t *l4;
	uint32_t l4_len;
	int rc;

	/* IPv4 for our IP must come to our MAC (or broadcast, e.g. DHCP-ish). */
	if (memcmp(f, ifa->mac, CW_ETH_ALEN) != 0 && !mac_is_bcast(f))
		return drop(CW_DROP_NOT_FOR_US);
	rc = parse_ipv4_hdr(ip, len - o->l2_len, ifa, o);
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
		rc = cw_parse_udp(l4, l4_len, l4_len, o->src_ip, o->dst_ip, true, o);
		if (rc < 0)
			return rc;
		o->payload_off = (uint16_t)(o->payload_off + o->l2_len + o->l3_len);
		return CW_RX_UDP;
	default:
		return drop(CW_DROP_UNSUPPORTED);
	}
}

int cw_parse_frame(const uint8_t *f, size_t len, const struct cw_ifaddr *ifa, struct cw_rx_info *o)
{
	int type = parse_l2(f, len, o);

	if (type < 0)
		return type;
	switch (type) {
	case CW_ETHERTYPE_ARP:
		return parse_arp(f + o->l2_len, len - o->l2_len, o);
	case CW_ETHERTYPE_IP:
		return parse_ipv4(f, len, ifa, o);
	default:
		return drop(CW_DROP_UNSUPPORTED);
	}
}

size_t cw_build_eth(uint8_t *h, const uint8_t *src_mac, const uint8_t *dst_mac, int vlan_tci,
		    uint16_t ethertype)
{
	size_t off = 12;

	memcpy(h, dst_mac, CW_ETH_ALEN);
	memcpy(h + 6, src_mac, CW_ETH_ALEN);
	if (vlan_tci >= 0) {
		wr16(h + 12, CW_ETHERTYPE_VLAN);
		wr16(h + 14, (uint16_t)vlan_tci);
		off += CW_VLAN_HLEN;
	}
	wr16(h + off, ethertype);
	return off + 2;
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
	memcpy(ip + 10, (uint16_t[]){cw_csum_fold(cw_csum_partial(ip, info->l3_len, 0))}, 2);
	icmp[0] = CW_ICMP_REPLY;
	wr16(icmp + 2, 0);
	memcpy(icmp + 2, (uint16_t[]){cw_csum_fold(cw_csum_partial(icmp, icmp_len, 0))}, 2);
}

size_t cw_build_ipv4_udp(uint8_t *h, uint32_t src_ip, uint32_t dst_ip, uint16_t src_port,
			 uint16_t dst_port, uint16_t payload_len, uint16_t ip_id, uint16_t udp_csum)
{
	uint8_t *udp = h + CW_IPV4_HLEN;

	h[0] = 0x45;
	h[1] = 0;
	wr16(h + 2, (uint16_t)(CW_IPV4_HLEN + CW_UDP_HLEN + payload_len));
	wr16(h + 4, ip_id);
	wr16(h + 6, 0);
	h[8] = CW_TTL_DEFAULT;
	h[9] = CW_IPPROTO_UDP;
	wr16(h + 10, 0);
	memcpy(h + 12, &src_ip, 4);
	memcpy(h + 16, &dst_ip, 4);
	memcpy(h + 10, (uint16_t[]){cw_csum_fold(cw_csum_partial(h, CW_IPV4_HLEN, 0))}, 2);
	memcpy(udp, &src_port, 2);
	memcpy(udp + 2, &dst_port, 2);
	wr16(udp + 4, (uint16_t)(CW_UDP_HLEN + payload_len));
	memcpy(udp + 6, &udp_csum, 2);
	return CW_IPV4_HLEN + CW_UDP_HLEN;
}
