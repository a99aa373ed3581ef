/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The 1-RTT connection of one session (PROTOCOL.md §5.5, §7.5, §8, §9,
 * §10, §11.1, §11.3), for both roles, sans-I/O: datagrams in
 * (cw_conn_recv()), datagrams out (cw_conn_send()), @now in nanoseconds
 * from the caller, cw_conn_next_timeout() and cw_conn_on_timeout().
 *
 * It owns the handshake (handshake.h) until confirmation and, once the
 * handshake completes, the Application packet number space: its keys
 * (protect.h), the received packet numbers to acknowledge (ackranges.h),
 * loss recovery, congestion control and pacing (recovery.h, pacer.h), and
 * the streams (stream.h).
 *
 * Driving it: after cw_conn_recv() and cw_conn_on_timeout(), and after
 * writing to a stream, call cw_conn_send() until it returns 0; call
 * cw_conn_on_timeout() at cw_conn_next_timeout().
 *
 * Packetisation. Each short-header packet carries, in this order: an ACK
 * if one is due (§10.1), HANDSHAKE_DONE if due (gateway), the stream
 * layer's control frames, then STREAM frames. What a packet carried is
 * kept in a per-packet record (at most CW_CONN_PKT_FRAMES stream frames)
 * until recovery reports the packet acknowledged or lost; the stream layer
 * then releases or requeues its frames, and a lost HANDSHAKE_DONE is sent
 * again.
 *
 * Key update (§6.6): initiated after key_update_pkts packets (2^23 by
 * default) or 1 hour under the current keys, once confirmed and once the
 * peer acknowledged a packet of the current phase; the peer's updates are
 * followed (protect.h); previous receive keys are dropped 3 PTO after
 * each update.
 *
 * Closing (§11.3): the close packet is sealed once and resent, while
 * closing, for the 1st, 2nd, 4th, 8th ... datagram received; before
 * confirmation the handshake also sends CONNECTION_CLOSE in long
 * headers, with CONNECTION_REFUSED for an application code.
 *
 * Simplifications: the handshake keeps its own loss recovery and
 * congestion window for the long-header spaces, and this object starts
 * the Application space's from the handshake's RTT estimate; long-header
 * and 1-RTT packets are sent in separate datagrams (no coalescing);
 * 1-RTT packets arriving before the keys exist are dropped (§7.5 allows
 * it); the maximum datagram size is the fixed 1350 bytes; an in-flight
 * packet goes only when the window has room for a whole 1350-byte
 * datagram; a PTO probe carries queued data, else a PING.
 *
 * Memory, all through the injected allocator: the object (about 2.5 KiB),
 * the handshake until confirmation (gateway) or until freed (agent, which
 * keeps its session ticket readable), the stream table (stream.h), the
 * recovery ring (recovery.h) while packets are outstanding or waiting to
 * be sent, and one packet record (about 300 bytes) per ack-eliciting
 * packet outstanding (at most CW_RECOVERY_DEFAULT_SENT; ACK-only packets
 * need none). Spare records are kept for reuse, at most CW_CONN_POOL_CACHE,
 * and no more than packets in flight once the streams have nothing left
 * to send, so an idle session keeps none. The sealed close packet and the
 * previous key phase's replay window exist only while needed. OpenSSL
 * holds the cipher contexts of the keys (protect.h, aead.h; about 1 KiB
 * each): a session with nothing outstanding that has had no packet for
 * CW_CONN_COLD_NS frees those of its current keys, and makes them again at
 * its next packet; the receive chunk a stream keeps for its next bytes
 * (rob.h) and the spare records go then too.
 */
#ifndef CW_CONN_H
#define CW_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "handshake.h"
#include "stream.h"

#define CW_CONN_DGRAM_MAX	  1350			/* §5.1 */
#define CW_CONN_PKT_FRAMES	  8			/* stream frames remembered per packet */
#define CW_CONN_POOL_CACHE	  64			/* free packet records kept for reuse */
#define CW_CONN_ACK_EVERY	  2			/* §10.1 */
#define CW_CONN_ACK_EVERY_BULK	  10			/* §10.1: after an in-order run */
#define CW_CONN_ACK_RUN		  100			/* §10.1: in-order packets before that */
#define CW_CONN_PING_EVERY	  32			/* §10.1: non-ack-eliciting run */
#define CW_CONN_IDLE_DEFAULT	  UINT64_C(90000000000) /* §11.1, ns */
#define CW_CONN_IDLE_FLOOR	  UINT64_C(10000000000)
#define CW_CONN_KEEPALIVE_MAX	  UINT64_C(25000000000)
#define CW_CONN_CLOSE_PKT_MAX	  320		      /* a close packet with a 256-byte reason */
#define CW_CONN_KEY_UPDATE_PKTS	  (UINT64_C(1) << 23) /* §6.6 */
#define CW_CONN_KEY_UPDATE_NS	  UINT64_C(3600000000000) /* §6.6: 1 hour */
#define CW_CONN_AUTH_LIMIT_AES	  (UINT64_C(1) << 52)	  /* §6.7 integrity limits */
#define CW_CONN_AUTH_LIMIT_CHACHA (UINT64_C(1) << 36)
#define CW_CONN_COLD_NS		  UINT64_C(1000000000) /* quiet this long: contexts freed */

enum cw_conn_state {
	CW_CONN_HANDSHAKING = 0,
	CW_CONN_ESTABLISHED, /* 1-RTT keys exist: streams may flow */
	CW_CONN_CLOSING,     /* we sent CONNECTION_CLOSE (§11.3) */
	CW_CONN_DRAINING,    /* the peer sent CONNECTION_CLOSE */
	CW_CONN_CLOSED,	     /* over: free it */
};

/* Why a session ended. */
enum cw_conn_end {
	CW_CONN_END_NONE = 0,
	CW_CONN_END_LOCAL,     /* we closed (cw_conn_close() or a peer error) */
	CW_CONN_END_PEER,      /* the peer's CONNECTION_CLOSE */
	CW_CONN_END_IDLE,      /* §11.1 idle timeout: silently */
	CW_CONN_END_HANDSHAKE, /* the handshake failed or timed out */
};

struct cw_conn_cfg {
	const struct cw_alloc *alloc;		 /* NULL: cw_alloc_default() */
	const struct cw_streams_config *streams; /* NULL: cw_streams_config_default() */
	uint64_t idle_timeout_ns;		 /* ours (§9.6); 0: 90 s; floor 10 s */
	uint64_t seed;				 /* keepalive jitter (§11.1) */
	uint64_t key_update_pkts;		 /* packets per key phase before we update
						  * (§6.6); 0: 2^23, the most allowed */
	uint64_t keepalive_ns;			 /* agent: the keepalive interval K at
						  * most (§11.1); 0: CW_CONN_KEEPALIVE_MAX */
	uint64_t auth_fail_limit;		 /* 1-RTT packets failing authentication
						  * before AEAD_LIMIT_REACHED (§6.7); 0: the
						  * AEAD's integrity limit */
};

struct cw_conn_stats {
	uint64_t dgrams_in, dgrams_out;
	uint64_t pkts_in, pkts_out; /* 1-RTT packets authenticated / sent */
	uint64_t dropped;	    /* 1-RTT packets dropped (§6.5) */
	uint64_t auth_failed;	    /* of which the AEAD tag failed (§6.7) */
	uint64_t acks_sent, ack_only_sent;
	uint64_t pings_sent, keepalives, probes;
	uint64_t lost, retransmits; /* packets lost; STREAM frames resent */
	uint64_t pto;
	uint64_t key_updates, key_updates_peer; /* initiated by us / by the peer */
};

struct cw_conn;

/* Agent session: starts its handshake. Returns 0, -EINVAL, -ENOMEM, or
 * the errors of cw_hs_agent_new(). */
int cw_conn_agent_new(const struct cw_conn_cfg *cfg, const struct cw_hs_agent_cfg *hs, uint64_t now,
		      struct cw_conn **out);

/*
 * Gateway session for the datagram cw_hs_screen() accepted as @scr
 * (@dgram is decrypted in place). Returns 0, -EINVAL, -ENOMEM, or the
 * errors of cw_hs_gateway_new() (-EBADMSG: drop it, nothing kept).
 */
int cw_conn_gateway_new(const struct cw_conn_cfg *cfg, const struct cw_hs_gateway_cfg *hs,
			const struct cw_hs_screen *scr, uint8_t *dgram, size_t len, uint64_t now,
			struct cw_conn **out);

/* Free @c and everything it holds (NULL: no-op). */
void cw_conn_free(struct cw_conn *c);

/*
 * Hand @c to another allocator @a (copied), its handshake's included: what
 * it holds is freed through @a from now on, so @a must free blocks of the
 * allocator it had (both malloc-based). A gateway session whose handshake
 * ran on a handshake thread moves to its worker's allocator this way.
 */
void cw_conn_set_alloc(struct cw_conn *c, const struct cw_alloc *a);

/*
 * Process datagram @dgram (@len bytes, decrypted in place). Problems with
 * the peer's packets are drops (counted) or a close (cw_conn_state()),
 * never an error return. Returns 0, or -EINVAL for bad arguments.
 */
int cw_conn_recv(struct cw_conn *c, uint64_t now, uint8_t *dgram, size_t len);

/*
 * Write the next datagram due into @out (@cap >= CW_CONN_DGRAM_MAX) and
 * return its length, or 0 when nothing is due now (the congestion window,
 * the pacer or the amplification limit may be why). -EINVAL for bad
 * arguments, or the errors of cw_hs_send() during the handshake; a local
 * failure in the 1-RTT phase (-ENOMEM) closes with INTERNAL_ERROR.
 */
int cw_conn_send(struct cw_conn *c, uint64_t now, uint8_t *out, size_t cap);

/* When cw_conn_on_timeout() is due next, or UINT64_MAX. */
uint64_t cw_conn_next_timeout(const struct cw_conn *c);

/* Run what is due at @now: loss and PTO, ACK delay, pacing, idle timeout,
 * keepalive, end of the handshake, closing and draining periods. */
void cw_conn_on_timeout(struct cw_conn *c, uint64_t now);

enum cw_conn_state cw_conn_state(const struct cw_conn *c);
enum cw_conn_end cw_conn_end(const struct cw_conn *c);

/* The code of the CONNECTION_CLOSE we sent (@ours) or received; -1 if none. */
int64_t cw_conn_close_code(const struct cw_conn *c, bool ours);

/*
 * Close with @code (transport or application, §12) and an optional
 * @reason (at most CW_CLOSE_REASON_MAX bytes, truncated). Before 1-RTT
 * keys exist an application code becomes CONNECTION_REFUSED in a
 * long-header packet (§8.14). No-op when already closing.
 */
void cw_conn_close(struct cw_conn *c, uint64_t now, uint64_t code, const char *reason);

/*
 * The peer's transport parameters (§9.6) from Hello / HelloAck: the
 * stream limits as cw_streams_set_peer_params() (0 means default), and its
 * idle timeout in ms (0: 90 s). Returns 0, or -EPROTO (the caller closes
 * with TRANSPORT_PARAMETER_ERROR).
 */
int cw_conn_set_peer_params(struct cw_conn *c, uint64_t max_data, uint64_t max_stream_data,
			    uint64_t max_streams, uint64_t idle_timeout_ms);

/*
 * Whether the last cw_conn_recv() authenticated a 1-RTT packet whose
 * packet number is the largest received so far: only such a packet may
 * move the session to the address it came from (§11.5); a reordered one
 * from the old path must not.
 */
bool cw_conn_rx_largest(const struct cw_conn *c);

/*
 * The packet number the next 1-RTT packet will carry, and the largest one
 * of ours the peer has acknowledged (CW_PN_NONE: none yet). Together they
 * tell when the peer acknowledged a packet sent after a given moment: how
 * the gateway validates an agent's new address (§11.5).
 */
uint64_t cw_conn_next_pn(const struct cw_conn *c);
uint64_t cw_conn_largest_acked(const struct cw_conn *c);

/*
 * The peer's address changed (§11.5): the next packet carries a PING, so
 * the new address is validated in one round trip. @new_ip (the IP address
 * changed, not only the port): it is a new path, so congestion control
 * and the RTT estimate start over (bytes in flight stay counted).
 */
void cw_conn_path_changed(struct cw_conn *c, bool new_ip);

/* Gateway: the agent's node name once established, else NULL. */
const char *cw_conn_node_name(const struct cw_conn *c);

/* Agent: the latest session ticket, NULL if none; *@len set. */
const uint8_t *cw_conn_ticket(const struct cw_conn *c, size_t *len);

const struct cw_conn_stats *cw_conn_stats(const struct cw_conn *c);

/* The handshake while this object holds it (agent: until freed; gateway:
 * until confirmation), for its results and counters; else NULL. */
const struct cw_hs *cw_conn_hs(const struct cw_conn *c);

/* The stream table, for inspection (stats, info). */
const struct cw_streams *cw_conn_streams(const struct cw_conn *c);

/* Smoothed RTT of the Application space, ns. */
uint64_t cw_conn_srtt(const struct cw_conn *c);

/* Streams: thin wrappers over stream.h with its contracts and errors. */
int cw_conn_stream_open(struct cw_conn *c, uint64_t *id);
int cw_conn_stream_write(struct cw_conn *c, uint64_t id, const uint8_t *data, size_t len,
			 size_t *n);
int cw_conn_stream_finish(struct cw_conn *c, uint64_t id);
int cw_conn_stream_read(struct cw_conn *c, uint64_t id, uint8_t *buf, size_t cap, size_t *n,
			bool *fin, uint64_t *code);
int cw_conn_stream_reset(struct cw_conn *c, uint64_t id, uint64_t code);
int cw_conn_stream_stop(struct cw_conn *c, uint64_t id, uint64_t code);
int cw_conn_next_event(struct cw_conn *c, uint64_t *id, unsigned *events);

#endif /* CW_CONN_H */
