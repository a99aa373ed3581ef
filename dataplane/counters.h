/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-lcore counters. Each worker owns one struct cw_counters and is its only
 * writer; readers (stats printer, telemetry) sum all of them. Updates are
 * relaxed atomic stores so a reader never sees a torn value, at the cost of a
 * plain add on x86.
 */
#ifndef CW_COUNTERS_H
#define CW_COUNTERS_H

#include <stdint.h>

/* Why a packet was dropped. Keep cw_drop_names[] in counters.c in step. */
enum cw_drop {
	CW_DROP_BAD_ETH = 0,  /* runt frame, bad VLAN header */
	CW_DROP_NOT_FOR_US,   /* destination MAC or IP is not ours */
	CW_DROP_UNSUPPORTED,  /* ethertype or IP protocol we do not serve */
	CW_DROP_BAD_ARP,      /* malformed ARP */
	CW_DROP_BAD_IP,	      /* IPv4 header invalid: version, IHL, lengths */
	CW_DROP_BAD_CSUM,     /* IPv4 header checksum */
	CW_DROP_BAD_UDP,      /* UDP header or length invalid, truncated */
	CW_DROP_BAD_L4_CSUM,  /* UDP or ICMP checksum */
	CW_DROP_TTL,	      /* TTL zero */
	CW_DROP_FRAG_BAD,     /* fragments rejected: overlap, too many, no room */
	CW_DROP_FRAG_TIMEOUT, /* fragments of a datagram incomplete at timeout */
	CW_DROP_NO_HANDLER,   /* UDP to a port nobody serves */
	CW_DROP_HANDLER,      /* a handler consumed the datagram without reply */
	CW_DROP_NO_NEIGH,     /* next hop never answered ARP */
	CW_DROP_NO_MBUF,      /* mbuf pool exhausted */
	CW_DROP_TX_FULL,      /* TX queue (full after a flush) or socket buffer full */
	CW_DROP_TOO_BIG,      /* datagram exceeds what we can send */
	CW_DROP_MAX
};

/*
 * The tunnel's figures per worker (tunnel/gateway.h's counters and the
 * redirect rings'), which the tunnel service copies into its worker's block
 * every CW_TCTR_PUBLISH_NS. Keep cw_tctr_names[] in counters.c in step.
 */
enum cw_tctr {
	CW_TCTR_SESSIONS = 0, /* live now (a gauge), handshaking included */
	CW_TCTR_HS_FULL,
	CW_TCTR_HS_RESUMED,
	CW_TCTR_HS_FAILED,
	CW_TCTR_HS_OFFLOADED,  /* handshakes passed to a handshake thread */
	CW_TCTR_HS_REFUSED,    /* ... that it could not take or start */
	CW_TCTR_REDIRECT_OUT,  /* datagrams handed to their session's worker */
	CW_TCTR_REDIRECT_IN,   /* ... taken from other workers */
	CW_TCTR_REDIRECT_FULL, /* ... dropped: the ring to the owner was full */
	CW_TCTR_EVENT_FULL,    /* events to the control thread lost: ring full */
	CW_TCTR_API_BUSY,      /* API requests refused: that ring nearly full */
	CW_TCTR_RETRANSMITS,   /* STREAM frames sent again */
	CW_TCTR_DECRYPT_FAILED,
	CW_TCTR_BODY_FAILED, /* API request bodies that did not decompress */
	CW_TCTR_BODY_BYTES,  /* decoded bytes of API request bodies */
	CW_TCTR_ROUTE_HUB,   /* agents' API requests by route action */
	CW_TCTR_ROUTE_UPSTREAM,
	CW_TCTR_ROUTE_DENY,
	CW_TCTR_MEMORY, /* bytes the gateway holds now (a gauge) */
	CW_TCTR_MAX
};

#define CW_TCTR_PUBLISH_NS 100000000u /* 100 ms */

struct cw_counters {
	uint64_t rx_pkts, rx_bytes;
	uint64_t tx_pkts, tx_bytes;
	uint64_t arp_in, arp_out;
	uint64_t icmp_echo;
	uint64_t udp_in, udp_out;
	uint64_t drops[CW_DROP_MAX];
	uint64_t tun[CW_TCTR_MAX]; /* written with cw_ctr_set() */
} __attribute__((aligned(64)));

#define cw_ctr_add(field, n) __atomic_store_n(&(field), (field) + (n), __ATOMIC_RELAXED)
#define cw_ctr_get(field)    __atomic_load_n(&(field), __ATOMIC_RELAXED)
#define cw_ctr_set(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)

/* Stable, snake_case name of a drop reason (used in telemetry and logs). */
const char *cw_drop_name(enum cw_drop d);

/* Stable, snake_case name of a tunnel counter. */
const char *cw_tctr_name(enum cw_tctr t);

/* Sum @n counter blocks into @out (relaxed reads; fine for statistics). */
void cw_counters_sum(const struct cw_counters *in, unsigned n, struct cw_counters *out);

/* Total of all drop reasons in @c. */
uint64_t cw_counters_drops(const struct cw_counters *c);

#endif
