/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Ethernet -> ARP / IPv4 -> ICMP / UDP classification on plain bytes.
 *
 * Pure functions over a contiguous buffer: no mbufs, no EAL, no state, so
 * the same code runs in the worker, the unit tests and the fuzz target.
 * Every length is checked before it is used; the input is hostile.
 */
#ifndef CW_PARSE_H
#define CW_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>

#include "counters.h"
#include "csum.h"

#define CW_ETH_ALEN	  6
#define CW_ETH_HLEN	  14
#define CW_VLAN_HLEN	  4
#define CW_ARP_LEN	  28
#define CW_IPV4_HLEN	  20
#define CW_UDP_HLEN	  8
#define CW_ICMP_HLEN	  8
#define CW_ETHERTYPE_IP	  0x0800
#define CW_ETHERTYPE_ARP  0x0806
#define CW_ETHERTYPE_VLAN 0x8100
#define CW_IPPROTO_ICMP	  1
#define CW_IPPROTO_UDP	  17

/* The addresses of the interface a frame arrived on. */
struct cw_ifaddr {
	uint8_t mac[CW_ETH_ALEN];
	uint32_t ip; /* network byte order */
};

enum cw_rx_kind {
	CW_RX_ARP = 0,	 /* valid ARP over Ethernet/IPv4; see arp_* fields */
	CW_RX_ICMP_ECHO, /* ICMP echo request to us, checksum verified */
	CW_RX_UDP,	 /* complete UDP datagram to us, checksum verified */
	CW_RX_IP_FRAG,	 /* IPv4 fragment to us: needs reassembly */
};

struct cw_rx_info {
	uint16_t l2_len; /* Ethernet header, plus the VLAN tag if any */
	uint16_t l3_len; /* IPv4 header including options */
	bool has_vlan;
	uint16_t vlan_tci; /* host order; valid when has_vlan */
	uint16_t ip_len;   /* IPv4 total length (frame may carry padding) */
	uint8_t ip_proto;
	uint32_t src_ip, dst_ip;     /* network order */
	uint16_t src_port, dst_port; /* network order (UDP) */
	uint16_t udp_csum;	     /* network order, as received */
	uint16_t payload_off;	     /* UDP payload, from frame start */
	uint16_t payload_len;
	uint16_t arp_op;	      /* host order: 1 request, 2 reply */
	uint8_t arp_sha[CW_ETH_ALEN]; /* ARP sender hardware address */
	uint32_t arp_spa, arp_tpa;    /* ARP sender/target IP, network order */
};

/* What the NIC already verified (from the mbuf's RX offload flags). */
#define CW_RX_OK_IP_CSUM 0x1u /* IPv4 header checksum good */
#define CW_RX_OK_L4_CSUM 0x2u /* UDP checksum good */

/*
 * Classify one frame received on an interface with addresses @ifa; @rx_ok
 * (CW_RX_OK_*) names the checksums the NIC verified, which are not checked
 * again.
 * Returns an enum cw_rx_kind (>= 0) with @out filled, or -(enum cw_drop)
 * - 1 for a frame to drop: use cw_rx_drop_reason() to get the reason.
 * ARP is returned whatever its target (the caller learns from it); IPv4
 * must be addressed to @ifa->ip and, when not broadcast, to @ifa->mac.
 */
int cw_parse_frame(const uint8_t *frame, size_t len, const struct cw_ifaddr *ifa, unsigned rx_ok,
		   struct cw_rx_info *out);

/*
 * The common case of cw_parse_frame in one pass, for the per-packet path:
 * an untagged frame to @ifa->mac carrying an unfragmented IPv4 datagram
 * without options, with a TTL, to @ifa->ip, holding one UDP datagram that
 * fills it and whose checksums verify (or are vouched for by @rx_ok).
 * Returns true with @out set as cw_parse_frame sets it for CW_RX_UDP (the
 * ARP fields and vlan_tci aside). Returns false for anything else, valid or
 * not: the caller then runs cw_parse_frame for the full classification and
 * the drop reason.
 */
static inline bool cw_parse_udp_fast(const uint8_t *f, size_t len, const struct cw_ifaddr *ifa,
				     unsigned rx_ok, struct cw_rx_info *out)
{
	const uint8_t *ip = f + CW_ETH_HLEN, *udp = ip + CW_IPV4_HLEN;
	uint16_t type, ip_len, frag, ulen, csum;
	uint32_t src, dst;

	if (len < CW_ETH_HLEN + CW_IPV4_HLEN + CW_UDP_HLEN || memcmp(f, ifa->mac, CW_ETH_ALEN) != 0)
		return false;
	memcpy(&type, f + 12, 2);
	memcpy(&frag, ip + 6, 2);
	memcpy(&dst, ip + 16, 4);
	if (type != htons(CW_ETHERTYPE_IP) || ip[0] != 0x45 || ip[8] == 0 ||
	    ip[9] != CW_IPPROTO_UDP || (frag & htons(0x3fff)) || dst != ifa->ip)
		return false;
	memcpy(&ip_len, ip + 2, 2);
	memcpy(&ulen, udp + 4, 2);
	ip_len = ntohs(ip_len);
	ulen = ntohs(ulen);
	/* UDP fills the datagram, which fits the frame: one unsigned compare
	 * bounds ulen from both sides. */
	if (ulen + CW_IPV4_HLEN != ip_len ||
	    (size_t)ulen - CW_UDP_HLEN > len - (CW_ETH_HLEN + CW_IPV4_HLEN + CW_UDP_HLEN))
		return false;
	if (!(rx_ok & CW_RX_OK_IP_CSUM) && cw_csum_ipv4_hdr_n(ip) != 0xffff)
		return false;
	memcpy(&src, ip + 12, 4);
	memcpy(&csum, udp + 6, 2);
	if (csum && !(rx_ok & CW_RX_OK_L4_CSUM) &&
	    cw_csum_fold_n(cw_csum_add_n(udp, ulen, cw_csum_pseudo_udp_n(src, dst, htons(ulen)))) !=
		0xffff)
		return false;
	out->l2_len = CW_ETH_HLEN;
	out->l3_len = CW_IPV4_HLEN;
	out->has_vlan = false;
	out->ip_len = ip_len;
	out->ip_proto = CW_IPPROTO_UDP;
	out->src_ip = src;
	out->dst_ip = dst;
	memcpy(&out->src_port, udp, 2);
	memcpy(&out->dst_port, udp + 2, 2);
	out->udp_csum = csum;
	out->payload_off = CW_ETH_HLEN + CW_IPV4_HLEN + CW_UDP_HLEN;
	out->payload_len = (uint16_t)(ulen - CW_UDP_HLEN);
	return true;
}

static inline enum cw_drop cw_rx_drop_reason(int rc)
{
	return (enum cw_drop)(-rc - 1);
}

/*
 * Validate the UDP header at @udp, @avail bytes long, carried in an IPv4
 * datagram from @src to @dst (network order) whose payload is @ip_payload
 * bytes. @csum_data non-NULL: verify the checksum over those bytes, which
 * must be the whole UDP datagram. Fills the port and payload fields of @out
 * (payload_off relative to @udp). Returns 0 or -(reason) - 1.
 */
int cw_parse_udp(const uint8_t *udp, size_t avail, uint32_t ip_payload, uint32_t src, uint32_t dst,
		 bool verify_csum, struct cw_rx_info *out);

/*
 * Write a whole ARP frame (@op 1 request, 2 reply) into @frame, which has
 * room for cw_eth_hdr_len(@vlan_tci) + CW_ARP_LEN bytes: Ethernet from
 * @src_mac to @eth_dst, ARP sender @src_mac/@src_ip, target @dst_mac/@dst_ip
 * (IPs network order). Returns the frame length.
 */
size_t cw_build_arp(uint8_t *frame, uint16_t op, const uint8_t *src_mac, uint32_t src_ip,
		    const uint8_t *dst_mac, uint32_t dst_ip, const uint8_t *eth_dst, int vlan_tci);

/*
 * Turn the ICMP echo request classified in @info, in place, into its reply:
 * to the sender's MAC from @our_mac, IPs swapped, type 0, fresh TTL, both
 * checksums recomputed.
 */
void cw_icmp_echo_to_reply(uint8_t *frame, const struct cw_rx_info *info, const uint8_t *our_mac);

static inline size_t cw_eth_hdr_len(int vlan_tci)
{
	return CW_ETH_HLEN + (vlan_tci >= 0 ? CW_VLAN_HLEN : 0);
}

/*
 * Write an Ethernet header (with an 802.1Q tag when @vlan_tci >= 0) for
 * @ethertype into @hdr, which has room for cw_eth_hdr_len(@vlan_tci).
 * Returns the length written.
 */
static inline size_t cw_build_eth(uint8_t *h, const uint8_t *src_mac, const uint8_t *dst_mac,
				  int vlan_tci, uint16_t ethertype)
{
	uint16_t type = htons(ethertype);
	size_t off = 12;

	memcpy(h, dst_mac, CW_ETH_ALEN);
	memcpy(h + 6, src_mac, CW_ETH_ALEN);
	if (vlan_tci >= 0) {
		uint16_t tag[2] = {htons(CW_ETHERTYPE_VLAN), htons((uint16_t)vlan_tci)};

		memcpy(h + 12, tag, 4);
		off += CW_VLAN_HLEN;
	}
	memcpy(h + off, &type, 2);
	return off + 2;
}

/*
 * Write the first 12 bytes of an IPv4 header without options for a UDP
 * datagram: total length @tot_n and ID @id_n (network order), no
 * fragmentation, TTL 64, and the header checksum for addresses @src and
 * @dst (network order), which the caller writes. The checksum comes from
 * the values, not read back; the constant words fold into one at compile
 * time.
 */
static inline void cw_build_ipv4_head(uint8_t *h, uint16_t tot_n, uint16_t id_n, uint32_t src,
				      uint32_t dst)
{
	/* Version/IHL and TOS; after length and ID: no fragmentation, TTL 64,
	 * UDP. */
	static const uint8_t vt[2] = {0x45, 0}, ft[4] = {0, 0, 64, CW_IPPROTO_UDP};
	uint16_t vt_n, c;
	uint32_t ft_n;

	memcpy(&vt_n, vt, 2);
	memcpy(&ft_n, ft, 4);
	c = (uint16_t)~cw_csum_fold_n((uint64_t)vt_n + ft_n + tot_n + id_n + src + dst);
	memcpy(h, vt, 2);
	memcpy(h + 2, &tot_n, 2);
	memcpy(h + 4, &id_n, 2);
	memcpy(h + 6, ft, 4);
	memcpy(h + 10, &c, 2);
}

/*
 * Write IPv4 + UDP headers (CW_IPV4_HLEN + CW_UDP_HLEN bytes) in front of a
 * UDP payload of @payload_len bytes, with a valid IPv4 header checksum. The
 * UDP checksum is @udp_csum as given (network order; 0 means none). Addresses
 * and ports are in network order. Returns the length written. Inline: it is
 * on the per-packet transmit path.
 */
static inline size_t cw_build_ipv4_udp(uint8_t *h, uint32_t src_ip, uint32_t dst_ip,
				       uint16_t src_port, uint16_t dst_port, uint16_t payload_len,
				       uint16_t ip_id, uint16_t udp_csum)
{
	uint16_t tot = htons((uint16_t)(CW_IPV4_HLEN + CW_UDP_HLEN + payload_len));
	uint16_t ulen = htons((uint16_t)(CW_UDP_HLEN + payload_len));

	cw_build_ipv4_head(h, tot, htons(ip_id), src_ip, dst_ip);
	memcpy(h + 12, &src_ip, 4);
	memcpy(h + 16, &dst_ip, 4);
	memcpy(h + 20, &src_port, 2);
	memcpy(h + 22, &dst_port, 2);
	memcpy(h + 24, &ulen, 2);
	memcpy(h + 26, &udp_csum, 2);
	return CW_IPV4_HLEN + CW_UDP_HLEN;
}

#endif
