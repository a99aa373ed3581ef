/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internet checksums (RFC 1071) for the per-packet path.
 *
 * Sums are accumulated in the "native" domain: the data is loaded as host
 * order 32-bit words into a 64-bit accumulator and folded once at the end.
 * RFC 1071 section 2(B) makes the folded result byte-order independent, so
 * a folded native sum stored with memcpy is already the sum in network
 * order: no byte swaps on the way.
 */
#ifndef CW_CSUM_H
#define CW_CSUM_H

#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Fold a native accumulator to 16 bits (end-around carry at each step). */
static inline uint16_t cw_csum_fold_n(uint64_t s)
{
	uint32_t hi = (uint32_t)(s >> 32), lo = (uint32_t)s + hi;
	uint16_t h16, l16;

	lo += lo < hi;
	h16 = (uint16_t)(lo >> 16);
	l16 = (uint16_t)(lo + h16);
	return (uint16_t)(l16 + (l16 < h16));
}

/* 64-bit one's complement addition: the carry out wraps around. */
static inline uint64_t cw_csum_add64(uint64_t s, uint64_t v)
{
	s += v;
	return s + (s < v);
}

/*
 * Add @len bytes at @data to the native accumulator @s. An odd trailing byte
 * is the high half of a big-endian word. Any @len; no alignment needed.
 */
uint64_t cw_csum_add_n(const void *data, size_t len, uint64_t s);

/*
 * cw_csum_add_n for @len >= 8, inline: 16 then 8 bytes a step, the last 8
 * bytes reread with those already summed shifted out (the tail keeps its
 * even offset, so its bytes stay in their halves). For the per-packet
 * path's small datagrams, where a call and branches per size would cost as
 * much as the sum.
 */
static inline uint64_t cw_csum_add_short_n(const void *data, size_t len, uint64_t s)
{
	const uint8_t *p = data;
	uint64_t a, b;

	for (; len > 16; p += 16, len -= 16) {
		memcpy(&a, p, 8);
		memcpy(&b, p + 8, 8);
		s = cw_csum_add64(cw_csum_add64(s, a), b);
	}
	if (len > 8) {
		memcpy(&a, p, 8);
		s = cw_csum_add64(s, a);
		p += 8;
		len -= 8;
	}
	memcpy(&a, p + len - 8, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return cw_csum_add64(s, a << (64 - 8 * len));
#else
	return cw_csum_add64(s, a >> (64 - 8 * len));
#endif
}

/* Folded native sum of a 20-byte IPv4 header (no options). */
static inline uint16_t cw_csum_ipv4_hdr_n(const void *ip)
{
	uint64_t a, b;
	uint32_t c;

	memcpy(&a, ip, 8);
	memcpy(&b, (const uint8_t *)ip + 8, 8);
	memcpy(&c, (const uint8_t *)ip + 16, 4);
	return cw_csum_fold_n(cw_csum_add64(cw_csum_add64(a, b), c));
}

/*
 * Native sum of the UDP/IPv4 pseudo-header: addresses as stored in the
 * packet, @ulen_n the UDP length in network order.
 */
static inline uint64_t cw_csum_pseudo_udp_n(uint32_t src, uint32_t dst, uint16_t ulen_n)
{
	/* Bytes 0x00 0x11 (zero, protocol 17) as a host-order word. */
	static const uint8_t proto[2] = {0, 17};
	uint16_t p;

	memcpy(&p, proto, 2);
	return (uint64_t)src + dst + p + ulen_n;
}

/*
 * The UDP checksum field for the datagram at @udp (header and payload,
 * @ulen bytes, contiguous) from @src to @dst, in network order ready to
 * store. Never 0: a computed 0 is sent as 0xffff (RFC 768).
 */
static inline uint16_t cw_csum_udp_n(uint32_t src, uint32_t dst, const void *udp, uint16_t ulen)
{
	uint64_t s = cw_csum_pseudo_udp_n(src, dst, htons(ulen));
	uint16_t c;

	/* The UDP header makes @ulen at least 8. */
	s = ulen <= 64 ? cw_csum_add_short_n(udp, ulen, s) : cw_csum_add_n(udp, ulen, s);
	c = (uint16_t)~cw_csum_fold_n(s);

	return c ? c : 0xffff;
}

/* RFC 1071 helpers in the big-endian domain, for code off the fast path. */

/* Add @len bytes to @sum; the result is a host integer of network-order
 * 16-bit sums (not folded when @sum carries). */
uint32_t cw_csum_partial(const void *data, size_t len, uint32_t sum);
/* Fold and complement @sum; network order, ready to store. */
uint16_t cw_csum_fold(uint32_t sum);
/* Pseudo-header sum for UDP over IPv4: addresses and length network order. */
uint32_t cw_csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len);

#endif
