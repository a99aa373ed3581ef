/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dataplane/parse.c on crafted bytes: every classification, every drop
 * reason, the checksum helpers and the frame builders (whose output must
 * parse back to what they were given). Test frames are built by hand here,
 * with an independent checksum, so parse.c is not checked against itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "dataplane/parse.h"

#define OUR_IP	 0x0a000001u /* 10.0.0.1, host order */
#define PEER_IP	 0x0a000002u /* 10.0.0.2 */
#define OTHER_IP 0x0a000003u /* 10.0.0.3 */
#define SPORT	 40000
#define DPORT	 7000
#define TCI	 0x2064 /* PCP 1, VID 100 */
#define MAXF	 2048

static const uint8_t our_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
static const uint8_t peer_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
static const uint8_t other_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x03};
static const uint8_t bcast_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t mcast_mac[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
static const uint8_t zero_mac[6];

static struct cw_ifaddr ifa;

/* ---- independent helpers --------------------------------------------- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* One's complement sum of 16-bit big-endian words, folded to 16 bits. */
static uint16_t ref_sum(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += get16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* True when the Internet checksum over @p verifies (sums to 0xffff). */
static bool csum_ok(const uint8_t *p, size_t len, uint32_t sum)
{
	return ref_sum(p, len, sum) == 0xffff;
}

/* Pseudo-header sum for UDP from the addresses in the IPv4 header @ip. */
static uint32_t pseudo(const uint8_t *ip, uint16_t udp_len)
{
	return (uint32_t)get16(ip + 12) + get16(ip + 14) + get16(ip + 16) + get16(ip + 18) +
	       CW_IPPROTO_UDP + udp_len;
}

static void fix_ip(uint8_t *ip)
{
	size_t hl = (size_t)(ip[0] & 0xf) * 4;

	put16(ip + 10, 0);
	put16(ip + 10, (uint16_t)~ref_sum(ip, hl, 0));
}

/* Recompute the UDP checksum of the datagram after IPv4 header @ip. */
static void fix_udp(uint8_t *ip)
{
	uint8_t *u = ip + (ip[0] & 0xf) * 4;
	uint16_t ulen = get16(u + 4), c;

	put16(u + 6, 0);
	c = (uint16_t)~ref_sum(u, ulen, pseudo(ip, ulen));
	put16(u + 6, c ? c : 0xffff);
}

static size_t mk_eth(uint8_t *f, const uint8_t *dst, int vlan, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, peer_mac, 6);
	if (vlan < 0) {
		put16(f + 12, type);
		return 14;
	}
	put16(f + 12, CW_ETHERTYPE_VLAN);
	put16(f + 14, (uint16_t)vlan);
	put16(f + 16, type);
	return 18;
}

/*
 * A valid frame from the peer to us: Ethernet (802.1Q when @vlan >= 0),
 * IPv4 with @ihl words of header (options are NOPs), protocol @proto
 * carrying @l4. Returns the frame length.
 */
static size_t mk_ip(uint8_t *f, int vlan, unsigned ihl, uint8_t proto, const uint8_t *l4,
		    size_t l4_len)
{
	size_t l2 = mk_eth(f, our_mac, vlan, CW_ETHERTYPE_IP), hl = ihl * 4;
	uint8_t *ip = f + l2;

	memset(ip, 0, hl);
	ip[0] = (uint8_t)(0x40 | ihl);
	put16(ip + 2, (uint16_t)(hl + l4_len));
	put16(ip + 4, 0x1234);
	ip[8] = 64;
	ip[9] = proto;
	put32(ip + 12, PEER_IP);
	put32(ip + 16, OUR_IP);
	memset(ip + CW_IPV4_HLEN, 1, hl - CW_IPV4_HLEN);
	fix_ip(ip);
	memcpy(ip + hl, l4, l4_len);
	return l2 + hl + l4_len;
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

/* A valid UDP frame SPORT -> DPORT with @n payload bytes (fill(.., n, 0x40)). */
static size_t mk_udp(uint8_t *f, int vlan, unsigned ihl, size_t n)
{
	uint8_t l4[MAXF];
	size_t len;

	put16(l4, SPORT);
	put16(l4 + 2, DPORT);
	put16(l4 + 4, (uint16_t)(CW_UDP_HLEN + n));
	put16(l4 + 6, 0);
	fill(l4 + CW_UDP_HLEN, n, 0x40);
	len = mk_ip(f, vlan, ihl, CW_IPPROTO_UDP, l4, CW_UDP_HLEN + n);
	fix_udp(f + cw_eth_hdr_len(vlan));
	return len;
}

/* A valid ICMP echo request, id 0xbeef seq 7, @n data bytes. */
static size_t mk_echo(uint8_t *f, int vlan, unsigned ihl, size_t n)
{
	uint8_t l4[MAXF];

	memset(l4, 0, CW_ICMP_HLEN);
	l4[0] = 8;
	put16(l4 + 4, 0xbeef);
	put16(l4 + 6, 7);
	fill(l4 + CW_ICMP_HLEN, n, 0x10);
	put16(l4 + 2, (uint16_t)~ref_sum(l4, CW_ICMP_HLEN + n, 0));
	return mk_ip(f, vlan, ihl, CW_IPPROTO_ICMP, l4, CW_ICMP_HLEN + n);
}

/* An ARP packet by hand: op, sender MAC/IP (host order), target IP. */
static size_t mk_arp(uint8_t *f, int vlan, uint16_t op, const uint8_t *sha, uint32_t spa,
		     uint32_t tpa)
{
	size_t l2 = mk_eth(f, bcast_mac, vlan, CW_ETHERTYPE_ARP);
	uint8_t *a = f + l2;

	put16(a, 1);
	put16(a + 2, CW_ETHERTYPE_IP);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, sha, 6);
	put32(a + 14, spa);
	memset(a + 18, 0, 6);
	put32(a + 24, tpa);
	return l2 + CW_ARP_LEN;
}

static int parse(const uint8_t *f, size_t len, struct cw_rx_info *ri)
{
	memset(ri, 0xa5, sizeof(*ri));
	return cw_parse_frame(f, len, &ifa, 0, ri);
}

#define assert_drop(f, len, reason)                                                                \
	do {                                                                                       \
		struct cw_rx_info ri_;                                                             \
		int rc_ = parse((f), (len), &ri_);                                                 \
		assert_true(rc_ < 0);                                                              \
		assert_int_equal(cw_rx_drop_reason(rc_), (reason));                                \
	} while (0)

static int group_setup(void **state)
{
	(void)state;
	memcpy(ifa.mac, our_mac, 6);
	ifa.ip = htonl(OUR_IP);
	return 0;
}

/* ---- checksum helpers ------------------------------------------------ */

static void test_csum_rfc1071(void **state)
{
	static const uint8_t b[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
	uint32_t s = cw_csum_partial(b, sizeof(b), 0);

	(void)state;
	/* RFC 1071 section 3: 0001 + f203 + f4f5 + f6f7 = 2ddf0, folds to ddf2. */
	assert_int_equal(ref_sum(NULL, 0, s), 0xddf2);
	assert_int_equal((s & 0xffff) + (s >> 16), 0xddf2);
	assert_int_equal(ntohs(cw_csum_fold(s)), 0x220d);
	/* Summing in pieces of even length gives the same result. */
	assert_int_equal(ntohs(cw_csum_fold(cw_csum_partial(b + 4, 4, cw_csum_partial(b, 4, 0)))),
			 0x220d);
	/* Odd length: the last byte is the high half of a word. */
	assert_int_equal(cw_csum_partial((const uint8_t[]){0x01, 0x02, 0x03}, 3, 0), 0x0402);
	/* A buffer including its own checksum folds to zero. */
	uint8_t c[10];
	memcpy(c, b, 8);
	put16(c + 8, 0x220d);
	assert_int_equal(cw_csum_fold(cw_csum_partial(c, sizeof(c), 0)), 0);
}

static void test_csum_pseudo(void **state)
{
	uint32_t s = cw_csum_pseudo(htonl(PEER_IP), htonl(OUR_IP), CW_IPPROTO_UDP, htons(12));

	(void)state;
	/* 0a00 + 0002 + 0a00 + 0001 + 0011 + 000c */
	assert_int_equal(ref_sum(NULL, 0, s), 0x1420);
	/* Carries in the 32-bit accumulator survive: 0xffff words. */
	s = cw_csum_pseudo(0xffffffffu, 0xffffffffu, 0xff, 0xffff);
	assert_int_equal(ref_sum(NULL, 0, s), ref_sum(NULL, 0, 0xffffu * 5 + 0xff));
}

/* ---- ARP ------------------------------------------------------------- */

static void test_arp_request(void **state)
{
	uint8_t f[MAXF];
	struct cw_rx_info ri;
	size_t len = mk_arp(f, -1, 1, peer_mac, PEER_IP, OUR_IP);

	(void)state;
	assert_int_equal(len, 42);
	assert_int_equal(parse(f, len, &ri), CW_RX_ARP);
	assert_int_equal(ri.l2_len, 14);
	assert_false(ri.has_vlan);
	assert_int_equal(ri.arp_op, 1);
	assert_memory_equal(ri.arp_sha, peer_mac, 6);
	assert_int_equal(ri.arp_spa, htonl(PEER_IP));
	assert_int_equal(ri.arp_tpa, htonl(OUR_IP));
	/* Padded to the Ethernet minimum: the same. */
	memset(f + len, 0xee, 60 - len);
	assert_int_equal(parse(f, 60, &ri), CW_RX_ARP);
	assert_int_equal(ri.arp_tpa, htonl(OUR_IP));
}

static void test_arp_reply(void **state)
{
	uint8_t f[MAXF];
	struct cw_rx_info ri;
	/* A reply for someone else, tagged: ARP is returned whatever its target. */
	size_t len = mk_arp(f, TCI, 2, other_mac, OTHER_IP, PEER_IP);

	(void)state;
	assert_int_equal(parse(f, len, &ri), CW_RX_ARP);
	assert_int_equal(ri.l2_len, 18);
	assert_true(ri.has_vlan);
	assert_int_equal(ri.vlan_tci, TCI);
	assert_int_equal(ri.arp_op, 2);
	assert_memory_equal(ri.arp_sha, other_mac, 6);
	assert_int_equal(ri.arp_spa, htonl(OTHER_IP));
	assert_int_equal(ri.arp_tpa, htonl(PEER_IP));
}

static void test_arp_malformed(void **state)
{
	uint8_t f[MAXF];
	size_t len = mk_arp(f, -1, 1, peer_mac, PEER_IP, OUR_IP);
	static const struct {
		size_t off;
		uint8_t val;
	} bad[] = {
	    {0, 0x01}, {1, 0x06},	     /* htype 0x0101, 6 (IEEE 802) */
	    {2, 0x86}, {3, 0xdd},	     /* ptype IPv6 */
	    {4, 8},    {5, 16},		     /* hlen, plen */
	    {7, 0},    {7, 3},	  {6, 0x01}, /* op 0, 3, 0x0101 */
	    {8, 0x01},			     /* multicast sender MAC */
	    {8, 0xff},			     /* broadcast sender MAC */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t g[MAXF];
		memcpy(g, f, len);
		g[14 + bad[i].off] = bad[i].val;
		if (bad[i].off == 8 && bad[i].val == 0xff)
			memset(g + 14 + 8, 0xff, 6);
		assert_drop(g, len, CW_DROP_BAD_ARP);
	}
	/* Truncated: every length short of the full 28 bytes. */
	for (size_t l = 14; l < len; l++)
		assert_drop(f, l, CW_DROP_BAD_ARP);
	/* Runt Ethernet before any ARP byte. */
	assert_drop(f, 13, CW_DROP_BAD_ETH);
}

/* ---- Ethernet and 802.1Q --------------------------------------------- */

static void test_eth_runt_and_type(void **state)
{
	uint8_t f[MAXF];
	size_t len = mk_udp(f, -1, 5, 4);

	(void)state;
	for (size_t l = 0; l < 14; l++)
		assert_drop(f, l, CW_DROP_BAD_ETH);
	/* Ethernet header only: the IPv4 header is truncated. */
	assert_drop(f, 14, CW_DROP_BAD_IP);
	put16(f + 12, 0x86dd);
	assert_drop(f, len, CW_DROP_UNSUPPORTED);
	/* A tag that is cut short. */
	len = mk_udp(f, TCI, 5, 4);
	for (size_t l = 14; l < 18; l++)
		assert_drop(f, l, CW_DROP_BAD_ETH);
	/* A tagged frame carrying something else. */
	put16(f + 16, 0x88cc);
	assert_drop(f, len, CW_DROP_UNSUPPORTED);
}

static void test_vlan_udp(void **state)
{
	uint8_t f[MAXF];
	struct cw_rx_info ri;
	size_t len = mk_udp(f, TCI, 5, 100);

	(void)state;
	assert_int_equal(parse(f, len, &ri), CW_RX_UDP);
	assert_true(ri.has_vlan);
	assert_int_equal(ri.vlan_tci, TCI);
	assert_int_equal(ri.l2_len, 18);
	assert_int_equal(ri.l3_len, 20);
	assert_int_equal(ri.ip_len, 20 + 8 + 100);
	assert_int_equal(ri.payload_off, 18 + 20 + 8);
	assert_int_equal(ri.payload_len, 100);
	/* TCI with VID 0 (priority tag) and the maximum VID. */
	put16(f + 14, 0xefff);
	assert_int_equal(parse(f, len, &ri), CW_RX_UDP);
	assert_int_equal(ri.vlan_tci, 0xefff);
	put16(f + 14, 0x0000);
	assert_int_equal(parse(f, len, &ri), CW_RX_UDP);
	assert_true(ri.has_vlan);
	assert_int_equal(ri.vlan_tci, 0);
}

/* ---- IPv4 header ----------------------------------------------------- */

static void test_udp_valid(void **state)
{
	uint8_t f[MAXF], expect[100];
	struct cw_rx_info ri;
	size_t len = mk_udp(f, -1, 5, 100);

	(void)state;
	assert_int_equal(parse(f, len, &ri), CW_RX_UDP);
	assert_false(ri.has_vlan);
	assert_int_equal(ri.l2_len, 14);
	assert_int_equal(ri.l3_len, 20);
	assert_int_equal(ri.ip_len, 128);
	assert_int_equal(ri.ip_proto, CW_IPPROTO_UDP);
	assert_int_equal(ri.src_ip, htonl(PEER_IP));
	assert_int_equal(ri.dst_ip, htonl(OUR_IP));
	assert_int_equal(ri.src_port, htons(SPORT));
	assert_int_equal(ri.dst_port, htons(DPORT));
	assert_int_equal(ri.payload_off, 14 + 20 + 8);
	assert_int_equal(ri.payload_len, 100);
	fill(expect, sizeof(expect), 0x40);
	assert_memory_equal(f + ri.payload_off, expect, 100);
	/* Empty payload. */
	len = mk_udp(f, -1, 5, 0);
	assert_int_equal(parse(f, len, &ri), CW_RX_UDP);
	assert_int_equal(ri.payload_len, 0);
	assert_int_equal(ri.payload_off, len);
}

static void test_ipv4_options(void **state)
{
	(void)state;
	for (unsigned ihl = 5; ihl <= 15; ihl++) {
		uint8_t f[MAXF], expect[33];
		struct cw_rx_info ri;
		size_t len = mk_udp(f, -1, ihl, 33);

		assert_int_equal(parse(f, len, &ri), CW_RX_UDP);
		assert_int_equal(ri.l3_len, ihl * 4);
		assert_int_equal(ri.ip_len, ihl * 4 + 8 + 33);
		assert_int_equal(ri.payload_off, 14 + ihl * 4 + 8);
		assert_int_equal(ri.payload_len, 33);
		fill(expect, sizeof(expect), 0x40);
		assert_memory_equal(f + ri.payload_off, expect, 33);
		if (ihl == 5)
			continue;
		/* The header checksum covers the options: change the last one. */
		f[14 + ihl * 4 - 1] ^= 0x80;
		assert_drop(f, len, CW_DROP_BAD_CSUM);
		/* ...and with the checksum fixed it is accepted again. */
		fix_ip(f + 14);
		assert_int_equal(parse(f, len, &ri), CW_RX_UDP);
	}
}

static void test_ipv4_bad_header(void **state)
{
	uint8_t f[MAXF];
	uint8_t *ip = f + 14;
	size_t len;

	(void)state;
	/* Version 6 with a correct checksum. */
	len = mk_udp(f, -1, 5, 16);
	ip[0] = 0x65;
	fix_ip(ip);
	assert_drop(f, len, CW_DROP_BAD_IP);
	/* IHL 0..4. */
	for (unsigned ihl = 0; ihl < 5; ihl++) {
		len = mk_udp(f, -1, 5, 16);
		ip[0] = (uint8_t)(0x40 | ihl);
		assert_drop(f, len, CW_DROP_BAD_IP);
	}
	/* IHL beyond the frame: 60 bytes claimed, 20 + 8 + 16 present. */
	len = mk_udp(f, -1, 5, 16);
	ip[0] = 0x4f;
	assert_drop(f, len, CW_DROP_BAD_IP);
	/* Total length smaller than the header (options included). */
	len = mk_udp(f, -1, 8, 16);
	put16(ip + 2, 31);
	fix_ip(ip);
	assert_drop(f, len, CW_DROP_BAD_IP);
	put16(ip + 2, 32); /* header only: accepted as IPv4, UDP truncated */
	fix_ip(ip);
	assert_drop(f, len, CW_DROP_BAD_UDP);
	/* Total length beyond the frame. */
	len = mk_udp(f, -1, 5, 16);
	put16(ip + 2, (uint16_t)(len - 14 + 1));
	fix_ip(ip);
	assert_drop(f, len, CW_DROP_BAD_IP);
	/* The frame ends inside the header. */
	len = mk_udp(f, -1, 5, 16);
	for (size_t l = 15; l < 14 + 20; l++)
		assert_drop(f, l, CW_DROP_BAD_IP);
	/* The frame ends inside the options. */
	len = mk_udp(f, -1, 10, 16);
	for (size_t l = 14 + 20; l < 14 + 40; l++)
		assert_drop(f, l, CW_DROP_BAD_IP);
}

static void test_ipv4_bad_csum(void **state)
{
	uint8_t f[MAXF];
	size_t len = mk_udp(f, -1, 5, 16);

	(void)state;
	f[14 + 10] ^= 0x01;
	assert_drop(f, len, CW_DROP_BAD_CSUM);
	len = mk_udp(f, -1, 5, 16);
	f[14 + 4] ^= 0x10; /* the IP id, checksum unchanged */
	assert_drop(f, len, CW_DROP_BAD_CSUM);
}

static void test_not_for_us(void **state)
{
	uint8_t f[MAXF];
	struct cw_rx_info ri;
	size_t len = mk_udp(f, -1, 5, 16);

	(void)state;
	put32(f + 14 + 16, OTHER_IP);
	fix_ip(f + 14);
	assert_drop(f, len, CW_DROP_NOT_FOR_US);
	len = mk_udp(f, -1, 5, 16);
	memcpy(f, other_mac, 6);
	assert_drop(f, len, CW_DROP_NOT_FOR_US);
	memcpy(f, mcast_mac, 6);
	assert_drop(f, len, CW_DROP_NOT_FOR_US);
	/* Broadcast MAC with our IP is accepted. */
	memcpy(f, bcast_mac, 6);
	assert_int_equal(parse(f, len, &ri), CW_RX_UDP);
	assert_int_equal(ri.payload_len, 16);
	/* Tagged, wrong MAC. */
	len = mk_udp(f, TCI, 5, 16);
	f[5] ^= 0x40;
	assert_drop(f, len, CW_DROP_NOT_FOR_US);
}

static void test_ttl(void **state)
{
	uint8_t f[MAXF];
	struct cw_rx_info ri;
	size_t len = mk_udp(f, -1, 5, 16);

	(void)state;
	f[14 + 8] = 0;
	fix_ip(f + 14);
	assert_drop(f, len, CW_DROP_TTL);
	f[14 + 8] = 1;
	fix_ip(f + 14);
	assert_int_equal(parse(f, len, &ri), CW_RX_UDP);
}

/* Set the flags/fragment-offset word and fix the header checksum. */
static void set_frag(uint8_t *ip, uint16_t v)
{
	put16(ip + 6, v);
	fix_ip(ip);
}

static void test_fragments(void **state)
{
	uint8_t f[MAXF];
	struct cw_rx_info ri;
	size_t len;
	static const uint16_t frag[] = {0x2000, 0x0001, 0x2001, 0x1fff, 0x3000 /* reserved+MF */};

	(void)state;
	for (size_t i = 0; i < sizeof(frag) / sizeof(frag[0]); i++) {
		len = mk_udp(f, -1, 6, 16);
		set_frag(f + 14, frag[i]);
		assert_int_equal(parse(f, len, &ri), CW_RX_IP_FRAG);
		assert_int_equal(ri.l2_len, 14);
		assert_int_equal(ri.l3_len, 24);
		assert_int_equal(ri.ip_len, 24 + 8 + 16);
		assert_int_equal(ri.ip_proto, CW_IPPROTO_UDP);
		assert_int_equal(ri.src_ip, htonl(PEER_IP));
		assert_int_equal(ri.dst_ip, htonl(OUR_IP));
		/* ICMP fragments too (reassembled before classification). */
		len = mk_echo(f, TCI, 5, 32);
		set_frag(f + 18, frag[i]);
		assert_int_equal(parse(f, len, &ri), CW_RX_IP_FRAG);
		assert_int_equal(ri.l2_len, 18);
		assert_int_equal(ri.ip_proto, CW_IPPROTO_ICMP);
		/* Any other protocol is not worth reassembling. */
		len = mk_udp(f, -1, 5, 16);
		f[14 + 9] = 6;
		set_frag(f + 14, frag[i]);
		assert_drop(f, len, CW_DROP_UNSUPPORTED);
	}
	/* A fragment's UDP header is not looked at: garbage is fine. */
	len = mk_udp(f, -1, 5, 16);
	memset(f + 34, 0, 8);
	set_frag(f + 14, 0x2000);
	assert_int_equal(parse(f, len, &ri), CW_RX_IP_FRAG);
	/* DF alone is not a fragment. */
	len = mk_udp(f, -1, 5, 16);
	set_frag(f + 14, 0x4000);
	assert_int_equal(parse(f, len, &ri), CW_RX_UDP);
	/* Neither is a non-fragment of another protocol: unsupported. */
	len = mk_udp(f, -1, 5, 16);
	f[14 + 9] = 6;
	fix_ip(f + 14);
	assert_drop(f, len, CW_DROP_UNSUPPORTED);
}

/* ---- UDP ------------------------------------------------------------- */

static void test_udp_bad_length(void **state)
{
	uint8_t f[MAXF];
	uint8_t *ip = f + 14, *u = f + 34;
	size_t len;

	(void)state;
	/* UDP length below the header size. */
	for (uint16_t ulen = 0; ulen < 8; ulen++) {
		len = mk_udp(f, -1, 5, 16);
		put16(u + 4, ulen);
		put16(u + 6, 0);
		assert_drop(f, len, CW_DROP_BAD_UDP);
	}
	/* UDP length beyond the IP payload (the frame does have the bytes). */
	len = mk_udp(f, -1, 5, 16);
	put16(ip + 2, 20 + 20);
	fix_ip(ip);
	assert_drop(f, len, CW_DROP_BAD_UDP);
	len = mk_udp(f, -1, 5, 16);
	put16(u + 4, 25);
	put16(u + 6, 0);
	assert_drop(f, len, CW_DROP_BAD_UDP);
	/* IP payload shorter than a UDP header. */
	for (uint16_t n = 0; n < 8; n++) {
		len = mk_udp(f, -1, 5, 16);
		put16(ip + 2, (uint16_t)(20 + n));
		fix_ip(ip);
		assert_drop(f, len, CW_DROP_BAD_UDP);
		assert_drop(f, 34 + n, CW_DROP_BAD_UDP);
	}
}

static void test_udp_short_length(void **state)
{
	uint8_t f[MAXF];
	struct cw_rx_info ri;
	size_t len = mk_udp(f, -1, 5, 16);

	(void)state;
	/* UDP length < IP payload: trailing IP bytes are not payload. */
	put16(f + 34 + 4, 8 + 10);
	fix_udp(f + 14);
	assert_int_equal(parse(f, len, &ri), CW_RX_UDP);
	assert_int_equal(ri.ip_len, 20 + 8 + 16);
	assert_int_equal(ri.payload_len, 10);
}

static void test_udp_csum(void **state)
{
	uint8_t f[MAXF];
	struct cw_rx_info ri;
	size_t len = mk_udp(f, -1, 5, 17); /* odd length: padding byte in the sum */

	(void)state;
	assert_int_equal(parse(f, len, &ri), CW_RX_UDP);
	f[len - 1] ^= 0x01;
	assert_drop(f, len, CW_DROP_BAD_L4_CSUM);
	f[len - 1] ^= 0x01;
	f[34 + 6] ^= 0x80;
	assert_drop(f, len, CW_DROP_BAD_L4_CSUM);
	/* The pseudo-header is covered: another source address. */
	len = mk_udp(f, -1, 5, 17);
	put32(f + 14 + 12, OTHER_IP);
	fix_ip(f + 14);
	assert_drop(f, len, CW_DROP_BAD_L4_CSUM);
	/* A zero checksum means none: corrupt payload is accepted. */
	len = mk_udp(f, -1, 5, 17);
	put16(f + 34 + 6, 0);
	f[len - 3] ^= 0x55;
	assert_int_equal(parse(f, len, &ri), CW_RX_UDP);
	assert_int_equal(ri.payload_len, 17);
}

/* A computed checksum of 0 is sent as 0xffff (RFC 768) and must verify. */
static void test_udp_csum_ffff(void **state)
{
	uint8_t f[MAXF];
	struct cw_rx_info ri;
	size_t len = mk_udp(f, -1, 5, 16);
	uint8_t *u = f + 34;
	uint16_t s;

	(void)state;
	/* Choose the last payload word so that the sum is exactly 0xffff. */
	put16(u + 6, 0);
	put16(u + 22, 0);
	s = ref_sum(u, 24, pseudo(f + 14, 24));
	put16(u + 22, (uint16_t)(0xffff - s));
	assert_int_equal(ref_sum(u, 24, pseudo(f + 14, 24)), 0xffff);
	put16(u + 6, 0xffff);
	assert_int_equal(parse(f, len, &ri), CW_RX_UDP);
	assert_int_equal(ri.payload_len, 16);
}

/* The native-domain sums agree with the reference at every length. */
static void test_csum_native(void **state)
{
	uint8_t b[80];
	uint32_t x = 12345;

	(void)state;
	for (size_t len = 0; len <= sizeof(b); len++) {
		for (size_t i = 0; i < len; i++) {
			x = x * 1103515245u + 12345u;
			b[i] = (uint8_t)(x >> 16);
		}
		assert_int_equal(ntohs(cw_csum_fold_n(cw_csum_add_n(b, len, 0))),
				 ref_sum(b, len, 0));
		if (len >= 8)
			assert_int_equal(ntohs(cw_csum_fold_n(cw_csum_add_short_n(b, len, 0))),
					 ref_sum(b, len, 0));
		/* All ones: every addition carries. */
		memset(b, 0xff, len);
		assert_int_equal(ntohs(cw_csum_fold_n(cw_csum_add_n(b, len, 0))),
				 ref_sum(b, len, 0));
		if (len >= 8)
			assert_int_equal(ntohs(cw_csum_fold_n(cw_csum_add_short_n(b, len, 0))),
					 ref_sum(b, len, 0));
	}
	assert_int_equal(cw_csum_fold_n(UINT64_MAX), 0xffff);
	assert_int_equal(cw_csum_fold_n(0), 0);
	assert_int_equal(cw_csum_fold_n(0x0000000100000000ull), 1);
}

/* What cw_parse_udp_fast accepts, cw_parse_frame classifies identically. */
static void assert_fast(const uint8_t *f, size_t len, unsigned rx_ok, bool expect)
{
	struct cw_rx_info fast, full;
	bool got;

	memset(&fast, 0x5a, sizeof(fast));
	got = cw_parse_udp_fast(f, len, &ifa, rx_ok, &fast);
	assert_int_equal(got, expect);
	if (!got)
		return;
	memset(&full, 0xa5, sizeof(full));
	assert_int_equal(cw_parse_frame(f, len, &ifa, rx_ok, &full), CW_RX_UDP);
	assert_int_equal(fast.l2_len, full.l2_len);
	assert_int_equal(fast.l3_len, full.l3_len);
	assert_int_equal(fast.has_vlan, full.has_vlan);
	assert_int_equal(fast.ip_len, full.ip_len);
	assert_int_equal(fast.ip_proto, full.ip_proto);
	assert_int_equal(fast.src_ip, full.src_ip);
	assert_int_equal(fast.dst_ip, full.dst_ip);
	assert_int_equal(fast.src_port, full.src_port);
	assert_int_equal(fast.dst_port, full.dst_port);
	assert_int_equal(fast.udp_csum, full.udp_csum);
	assert_int_equal(fast.payload_off, full.payload_off);
	assert_int_equal(fast.payload_len, full.payload_len);
}

static void test_udp_fast(void **state)
{
	uint8_t f[MAXF];
	size_t len;

	(void)state;
	for (size_t n = 0; n <= 40; n++) {
		len = mk_udp(f, -1, 5, n);
		assert_fast(f, len, 0, true);
		put16(f + 34 + 6, 0); /* no checksum */
		assert_fast(f, len, 0, true);
	}
	/* Valid, but for the full parser: VLAN tag, IP options, fragments,
	 * broadcast MAC, UDP shorter than the IP payload. */
	len = mk_udp(f, 0x123, 5, 20);
	assert_fast(f, len, 0, false);
	assert_int_equal(parse(f, len, &(struct cw_rx_info){0}), CW_RX_UDP);
	len = mk_udp(f, -1, 6, 20);
	assert_fast(f, len, 0, false);
	len = mk_udp(f, -1, 5, 20);
	put16(f + 14 + 6, 0x2000);
	fix_ip(f + 14);
	assert_fast(f, len, 0, false);
	len = mk_udp(f, -1, 5, 20);
	memset(f, 0xff, 6);
	assert_fast(f, len, 0, false);
	len = mk_udp(f, -1, 5, 20);
	put16(f + 34 + 4, 8 + 10);
	fix_udp(f + 14);
	assert_fast(f, len, 0, false);
	/* Ethernet padding after the datagram is fine. */
	len = mk_udp(f, -1, 5, 2);
	memset(f + len, 0, 10);
	assert_fast(f, len + 10, 0, true);
	/* Invalid: each goes to the full parser for its drop reason. */
	len = mk_udp(f, -1, 5, 20);
	f[14 + 8] = 0;
	fix_ip(f + 14);
	assert_fast(f, len, 0, false);
	len = mk_udp(f, -1, 5, 20);
	f[14 + 10] ^= 1;
	assert_fast(f, len, 0, false);
	len = mk_udp(f, -1, 5, 20);
	f[len - 1] ^= 1;
	assert_fast(f, len, 0, false);
	len = mk_udp(f, -1, 5, 20);
	f[0] ^= 2;
	assert_fast(f, len, 0, false);
	len = mk_udp(f, -1, 5, 20);
	put32(f + 14 + 16, OTHER_IP);
	fix_ip(f + 14);
	assert_fast(f, len, 0, false);
	len = mk_udp(f, -1, 5, 20);
	assert_fast(f, len - 1, 0, false); /* truncated */
	assert_fast(f, 41, 0, false);
	len = mk_udp(f, -1, 5, 20);
	put16(f + 34 + 4, 7);
	assert_fast(f, len, 0, false);
	len = mk_echo(f, -1, 5, 20);
	assert_fast(f, len, 0, false);
}

/* Checksums the NIC vouched for are not verified again. */
static void test_rx_ok(void **state)
{
	uint8_t f[MAXF];
	struct cw_rx_info ri;
	size_t len = mk_udp(f, -1, 5, 20);

	(void)state;
	f[14 + 10] ^= 1;
	assert_drop(f, len, CW_DROP_BAD_CSUM);
	assert_int_equal(cw_parse_frame(f, len, &ifa, CW_RX_OK_IP_CSUM, &ri), CW_RX_UDP);
	assert_fast(f, len, CW_RX_OK_IP_CSUM, true);
	len = mk_udp(f, -1, 5, 20);
	f[len - 1] ^= 1;
	assert_drop(f, len, CW_DROP_BAD_L4_CSUM);
	assert_int_equal(cw_parse_frame(f, len, &ifa, CW_RX_OK_L4_CSUM, &ri), CW_RX_UDP);
	assert_fast(f, len, CW_RX_OK_L4_CSUM, true);
	assert_fast(f, len, CW_RX_OK_IP_CSUM, false);
}

static void test_eth_padding(void **state)
{
	uint8_t f[MAXF];
	struct cw_rx_info ri;
	size_t len = mk_udp(f, -1, 5, 4);

	(void)state;
	assert_int_equal(len, 46);
	memset(f + len, 0xa5, 60 - len);
	assert_int_equal(parse(f, 60, &ri), CW_RX_UDP);
	assert_int_equal(ri.ip_len, 32);
	assert_int_equal(ri.payload_off, 42);
	assert_int_equal(ri.payload_len, 4);
	/* Tagged, and padding far beyond the minimum. */
	len = mk_udp(f, TCI, 5, 1);
	memset(f + len, 0x5a, 200);
	assert_int_equal(parse(f, len + 200, &ri), CW_RX_UDP);
	assert_int_equal(ri.ip_len, 29);
	assert_int_equal(ri.payload_len, 1);
}

/* ---- ICMP echo ------------------------------------------------------- */

/* Check the reply built from request @req (@len bytes, classified as @ri) in @f. */
static void check_echo_reply(const uint8_t *req, const uint8_t *f, size_t len,
			     const struct cw_rx_info *ri)
{
	const uint8_t *ip = f + ri->l2_len, *icmp = ip + ri->l3_len;
	size_t icmp_len = ri->ip_len - ri->l3_len;

	assert_memory_equal(f, req + 6, 6);
	assert_memory_equal(f + 6, req, 6);
	assert_memory_equal(f + 12, req + 12, ri->l2_len - 12);
	assert_memory_equal(ip + 12, req + ri->l2_len + 16, 4);
	assert_memory_equal(ip + 16, req + ri->l2_len + 12, 4);
	assert_int_equal(ip[8], 64);
	assert_true(csum_ok(ip, ri->l3_len, 0));
	assert_int_equal(icmp[0], 0);
	assert_int_equal(icmp[1], 0);
	assert_memory_equal(icmp + 4, req + ri->l2_len + ri->l3_len + 4, icmp_len - 4);
	assert_true(csum_ok(icmp, icmp_len, 0));
	/* Nothing else changed, padding included. */
	assert_memory_equal(ip, req + ri->l2_len, 8);
	assert_memory_equal(ip + 9, req + ri->l2_len + 9, 1);
	assert_memory_equal(ip + 20, req + ri->l2_len + 20, ri->l3_len - 20u);
	assert_memory_equal(ip + ri->ip_len, req + ri->l2_len + ri->ip_len,
			    len - ri->l2_len - ri->ip_len);
}

static void test_icmp_echo(void **state)
{
	static const struct {
		int vlan;
		unsigned ihl;
		size_t n;
		uint8_t ttl;
	} cases[] = {{-1, 5, 56, 64}, {TCI, 5, 0, 1}, {-1, 9, 1, 255}, {TCI, 15, 1000, 17}};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t f[MAXF], req[MAXF];
		struct cw_rx_info ri, back;
		size_t len = mk_echo(f, cases[i].vlan, cases[i].ihl, cases[i].n);
		size_t l2 = cw_eth_hdr_len(cases[i].vlan);
		struct cw_ifaddr peer;

		f[l2 + 8] = cases[i].ttl;
		fix_ip(f + l2);
		memset(f + len, 0x33, 10); /* Ethernet padding */
		len += 10;
		memcpy(req, f, len);
		assert_int_equal(parse(f, len, &ri), CW_RX_ICMP_ECHO);
		assert_int_equal(ri.l2_len, l2);
		assert_int_equal(ri.l3_len, cases[i].ihl * 4);
		assert_int_equal(ri.ip_len, cases[i].ihl * 4 + 8 + cases[i].n);
		assert_int_equal(ri.ip_proto, CW_IPPROTO_ICMP);
		assert_int_equal(ri.src_ip, htonl(PEER_IP));
		assert_int_equal(ri.dst_ip, htonl(OUR_IP));
		cw_icmp_echo_to_reply(f, &ri, ifa.mac);
		check_echo_reply(req, f, len, &ri);
		/* Seen from the peer: a valid IPv4 frame, an ICMP it does not serve. */
		memcpy(peer.mac, peer_mac, 6);
		peer.ip = htonl(PEER_IP);
		assert_int_equal(cw_parse_frame(f, len, &peer, 0, &back), -CW_DROP_UNSUPPORTED - 1);
	}
}

static void test_icmp_bad(void **state)
{
	uint8_t f[MAXF];
	size_t len = mk_echo(f, -1, 5, 8);
	uint8_t *icmp = f + 34;

	(void)state;
	icmp[10] ^= 1;
	assert_drop(f, len, CW_DROP_BAD_L4_CSUM);
	/* Other types and codes, with valid checksums. */
	len = mk_echo(f, -1, 5, 8);
	icmp[0] = 0;
	put16(icmp + 2, 0);
	put16(icmp + 2, (uint16_t)~ref_sum(icmp, 16, 0));
	assert_drop(f, len, CW_DROP_UNSUPPORTED);
	len = mk_echo(f, -1, 5, 8);
	icmp[1] = 1;
	put16(icmp + 2, 0);
	put16(icmp + 2, (uint16_t)~ref_sum(icmp, 16, 0));
	assert_drop(f, len, CW_DROP_UNSUPPORTED);
	/* Shorter than an ICMP header. */
	for (uint16_t n = 0; n < 8; n++) {
		len = mk_echo(f, -1, 5, 8);
		put16(f + 14 + 2, (uint16_t)(20 + n));
		fix_ip(f + 14);
		assert_drop(f, len, CW_DROP_BAD_IP);
	}
}

/*
 * An echo request with id 0, seq 0 and no data: the rest of the message
 * sums to zero, so the reply's checksum must be 0xffff (0x0000, what an
 * RFC 1624 incremental update gives, does not verify).
 */
static void test_icmp_echo_zero_body(void **state)
{
	uint8_t f[MAXF], req[MAXF];
	struct cw_rx_info ri;
	size_t len = mk_echo(f, -1, 5, 0);
	uint8_t *icmp = f + 34;

	(void)state;
	put16(icmp + 4, 0);
	put16(icmp + 6, 0);
	put16(icmp + 2, 0);
	put16(icmp + 2, (uint16_t)~ref_sum(icmp, 8, 0));
	assert_int_equal(get16(icmp + 2), 0xf7ff);
	memcpy(req, f, len);
	assert_int_equal(parse(f, len, &ri), CW_RX_ICMP_ECHO);
	cw_icmp_echo_to_reply(f, &ri, ifa.mac);
	assert_true(csum_ok(icmp, 8, 0));
	assert_int_equal(get16(icmp + 2), 0xffff);
	check_echo_reply(req, f, len, &ri);
}

/* A request to the broadcast MAC is answered from our own MAC. */
static void test_icmp_echo_bcast_dst(void **state)
{
	uint8_t f[MAXF];
	struct cw_rx_info ri;
	size_t len = mk_echo(f, -1, 5, 8);

	(void)state;
	memcpy(f, bcast_mac, 6);
	assert_int_equal(parse(f, len, &ri), CW_RX_ICMP_ECHO);
	cw_icmp_echo_to_reply(f, &ri, ifa.mac);
	assert_memory_equal(f, peer_mac, 6);
	assert_memory_equal(f + 6, our_mac, 6);
}

/* ---- builders -------------------------------------------------------- */

static void test_build_udp_roundtrip(void **state)
{
	static const int vlans[] = {-1, TCI, 0};

	(void)state;
	for (size_t i = 0; i < sizeof(vlans) / sizeof(vlans[0]); i++) {
		uint8_t f[MAXF], payload[300];
		struct cw_rx_info ri;
		size_t l2, l3, n = 299 - i; /* odd and even lengths */
		uint32_t s;
		uint16_t csum;

		fill(payload, n, (uint8_t)i);
		l2 = cw_build_eth(f, peer_mac, our_mac, vlans[i], CW_ETHERTYPE_IP);
		assert_int_equal(l2, cw_eth_hdr_len(vlans[i]));
		/* The checksum over the payload first, then the header with it. */
		memcpy(f + l2 + 28, payload, n);
		cw_build_ipv4_udp(f + l2, htonl(PEER_IP), htonl(OUR_IP), htons(SPORT), htons(DPORT),
				  (uint16_t)n, 0x4242, 0);
		s = cw_csum_pseudo(htonl(PEER_IP), htonl(OUR_IP), CW_IPPROTO_UDP,
				   htons((uint16_t)(8 + n)));
		csum = cw_csum_fold(cw_csum_partial(f + l2 + 20, 8 + n, s));
		l3 = cw_build_ipv4_udp(f + l2, htonl(PEER_IP), htonl(OUR_IP), htons(SPORT),
				       htons(DPORT), (uint16_t)n, 0x4242, csum ? csum : 0xffff);
		assert_int_equal(l3, 28);
		assert_true(csum_ok(f + l2 + 20, 8 + n, pseudo(f + l2, (uint16_t)(8 + n))));
		assert_int_equal(parse(f, l2 + l3 + n, &ri), CW_RX_UDP);
		assert_int_equal(ri.has_vlan, vlans[i] >= 0);
		if (vlans[i] >= 0)
			assert_int_equal(ri.vlan_tci, vlans[i]);
		assert_int_equal(ri.l2_len, l2);
		assert_int_equal(ri.l3_len, 20);
		assert_int_equal(ri.ip_len, 28 + n);
		assert_int_equal(ri.src_ip, htonl(PEER_IP));
		assert_int_equal(ri.dst_ip, htonl(OUR_IP));
		assert_int_equal(ri.src_port, htons(SPORT));
		assert_int_equal(ri.dst_port, htons(DPORT));
		assert_int_equal(ri.payload_off, l2 + 28);
		assert_int_equal(ri.payload_len, n);
		assert_memory_equal(f + ri.payload_off, payload, n);
		/* The header fields a builder decides. */
		assert_memory_equal(f, our_mac, 6);
		assert_memory_equal(f + 6, peer_mac, 6);
		assert_int_equal(f[l2], 0x45);
		assert_int_equal(get16(f + l2 + 4), 0x4242);
		assert_int_equal(get16(f + l2 + 6), 0);
		assert_int_equal(f[l2 + 8], 64);
		assert_int_equal(f[l2 + 9], CW_IPPROTO_UDP);
		/* Without a UDP checksum. */
		cw_build_ipv4_udp(f + l2, htonl(PEER_IP), htonl(OUR_IP), htons(SPORT), htons(DPORT),
				  (uint16_t)n, 1, 0);
		assert_int_equal(parse(f, l2 + 28 + n, &ri), CW_RX_UDP);
		assert_int_equal(get16(f + l2 + 26), 0);
	}
}

static void test_build_arp_roundtrip(void **state)
{
	static const int vlans[] = {-1, TCI};

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		uint8_t f[MAXF];
		struct cw_rx_info ri;
		size_t len;

		/* Request: broadcast, target MAC unknown. */
		len = cw_build_arp(f, 1, our_mac, htonl(OUR_IP), zero_mac, htonl(PEER_IP),
				   bcast_mac, vlans[i]);
		assert_int_equal(len, cw_eth_hdr_len(vlans[i]) + CW_ARP_LEN);
		assert_int_equal(parse(f, len, &ri), CW_RX_ARP);
		assert_int_equal(ri.arp_op, 1);
		assert_memory_equal(ri.arp_sha, our_mac, 6);
		assert_int_equal(ri.arp_spa, htonl(OUR_IP));
		assert_int_equal(ri.arp_tpa, htonl(PEER_IP));
		assert_int_equal(ri.has_vlan, vlans[i] >= 0);
		if (vlans[i] >= 0)
			assert_int_equal(ri.vlan_tci, vlans[i]);
		assert_memory_equal(f, bcast_mac, 6);
		assert_memory_equal(f + 6, our_mac, 6);
		assert_memory_equal(f + ri.l2_len + 18, zero_mac, 6);
		/* Reply: unicast to the requester. */
		len = cw_build_arp(f, 2, our_mac, htonl(OUR_IP), peer_mac, htonl(PEER_IP), peer_mac,
				   vlans[i]);
		assert_int_equal(parse(f, len, &ri), CW_RX_ARP);
		assert_int_equal(ri.arp_op, 2);
		assert_memory_equal(ri.arp_sha, our_mac, 6);
		assert_int_equal(ri.arp_spa, htonl(OUR_IP));
		assert_int_equal(ri.arp_tpa, htonl(PEER_IP));
		assert_memory_equal(f, peer_mac, 6);
		assert_memory_equal(f + ri.l2_len + 18, peer_mac, 6);
		/* Byte for byte what the hand-made ARP reply looks like. */
		uint8_t g[MAXF];
		size_t glen = mk_arp(g, vlans[i], 2, our_mac, OUR_IP, PEER_IP);
		memcpy(g, peer_mac, 6);
		memcpy(g + 6, our_mac, 6);
		memcpy(g + glen - 10, peer_mac, 6);
		assert_int_equal(glen, len);
		assert_memory_equal(f, g, len);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_csum_rfc1071),
	    cmocka_unit_test(test_csum_pseudo),
	    cmocka_unit_test(test_arp_request),
	    cmocka_unit_test(test_arp_reply),
	    cmocka_unit_test(test_arp_malformed),
	    cmocka_unit_test(test_eth_runt_and_type),
	    cmocka_unit_test(test_vlan_udp),
	    cmocka_unit_test(test_udp_valid),
	    cmocka_unit_test(test_ipv4_options),
	    cmocka_unit_test(test_ipv4_bad_header),
	    cmocka_unit_test(test_ipv4_bad_csum),
	    cmocka_unit_test(test_not_for_us),
	    cmocka_unit_test(test_ttl),
	    cmocka_unit_test(test_fragments),
	    cmocka_unit_test(test_udp_bad_length),
	    cmocka_unit_test(test_udp_short_length),
	    cmocka_unit_test(test_udp_csum),
	    cmocka_unit_test(test_udp_csum_ffff),
	    cmocka_unit_test(test_csum_native),
	    cmocka_unit_test(test_udp_fast),
	    cmocka_unit_test(test_rx_ok),
	    cmocka_unit_test(test_eth_padding),
	    cmocka_unit_test(test_icmp_echo),
	    cmocka_unit_test(test_icmp_bad),
	    cmocka_unit_test(test_icmp_echo_zero_body),
	    cmocka_unit_test(test_icmp_echo_bcast_dst),
	    cmocka_unit_test(test_build_udp_roundtrip),
	    cmocka_unit_test(test_build_arp_roundtrip),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
