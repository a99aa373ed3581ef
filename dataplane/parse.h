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

#include "counters.h"

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

/*
 * Classify one frame received on an interface with addresses @ifa.
 * Returns an enum cw_rx_kind (>= 0) with @out filled, or -(enum cw_drop)
 * - 1 for a frame to drop: use cw_rx_drop_reason() to get the reason.
 * ARP is returned whatever its target (the caller learns from it); IPv4
 * must be addressed to @ifa->ip and, when not broadcast, to @ifa->mac.
 */
int cw_parse_frame(const uint8_t *frame, size_t len, const struct cw_ifaddr *ifa,
		   struct cw_rx_info *out);

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

/* Internet checksum helpers (RFC 1071), results in network order. */
uint32_t cw_csum_partial(const void *data, size_t len, uint32_t sum);
uint16_t cw_csum_fold(uint32_t sum);
/* Pseudo-header sum for UDP over IPv4: addresses and length network order. */
uint32_t cw_csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len);

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

/*
 * Write an Ethernet header (with an 802.1Q tag when @vlan_tci >= 0) for
 * @ethertype into @hdr, which has room for cw_eth_hdr_len(@vlan_tci).
 * Returns the length written.
 */
size_t cw_build_eth(uint8_t *hdr, const uint8_t *src_mac, const uint8_t *dst_mac, int vlan_tci,
		    uint16_t ethertype);

static inline size_t cw_eth_hdr_len(int vlan_tci)
{
	return CW_ETH_HLEN + (vlan_tci >= 0 ? CW_VLAN_HLEN : 0);
}

/*
 * Write IPv4 + UDP headers (CW_IPV4_HLEN + CW_UDP_HLEN bytes) in front of a
 * UDP payload of @payload_len bytes, with a valid IPv4 header checksum. The
 * UDP checksum is @udp_csum as given (network order; 0 means none). Addresses
 * and ports are in network order. Returns the length written.
 */
size_t cw_build_ipv4_udp(uint8_t *hdr, uint32_t src_ip, uint32_t dst_ip, uint16_t src_port,
			 uint16_t dst_port, uint16_t payload_len, uint16_t ip_id,
			 uint16_t udp_csum);

#endif
