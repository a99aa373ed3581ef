/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The handshake phase of one session (PROTOCOL.md §5.1, §5.3, §7, §10.1,
 * §10.4, §11.3), for both roles, sans-I/O: datagrams in, datagrams out,
 * @now in nanoseconds from the caller, cw_hs_next_timeout() and
 * cw_hs_on_timeout().
 *
 * It owns the long-header packet number spaces (Initial and Handshake):
 * their keys (protect.h), CRYPTO send buffers and reassembly (rob.h), ACK
 * state and loss recovery (recovery.h), and the TLS driver (tls.h). CRYPTO
 * data lost or unacknowledged at a PTO is sent again at its offsets.
 *
 * Gateway, stateless first step: cw_hs_screen() looks at a datagram for
 * no session and says drop, answer with this RETRY, answer with this
 * INVALID_TOKEN close, or accept; it allocates nothing. Only an accepted
 * datagram goes to cw_hs_gateway_new().
 *
 * Hand-off to the 1-RTT connection. Once cw_hs_state() is at least
 * CW_HS_COMPLETE, cw_hs_result() gives the 1-RTT secrets and AEAD (for
 * cw_protect_short_init()), the CIDs, the node name (gateway) and whether
 * the session resumed. The connection then handles short-header packets
 * and keeps passing every datagram to cw_hs_recv() first, which processes
 * the long-header packets at its front and reports where a short-header
 * packet starts; the caller still asks cw_hs_send() for long-header
 * datagrams (ACKs, NewSessionTicket, retransmissions) until confirmation:
 *  - gateway: when cw_hs_done_due() turns true the connection sends
 *    HANDSHAKE_DONE in a 1-RTT packet and calls cw_hs_done_sent(), which
 *    discards the Handshake space and confirms;
 *  - agent: when the connection receives HANDSHAKE_DONE it calls
 *    cw_hs_done_received(), which discards the Handshake space, frees TLS
 *    (the ticket stays readable) and confirms.
 * After confirmation the object only holds results and may be freed once
 * the caller copied them.
 *
 * Memory: one allocation for the object (about 8 KiB), the CRYPTO send
 * buffers (grown by doubling, at most CW_TLS_CRYPTO_MAX per space), the
 * reassembly chunks (at most CW_TLS_CRYPTO_MAX per space) and the
 * recovery rings, all through the injected allocator; OpenSSL's objects
 * come from OpenSSL.
 */
#ifndef CW_HANDSHAKE_H
#define CW_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aead.h"
#include "alloc.h"
#include "header.h"
#include "keys.h"
#include "recovery.h"
#include "tls.h"
#include "token.h"

#define CW_HS_DGRAM_MAX	   1350			 /* §5.1 max datagram size */
#define CW_HS_INITIAL_MIN  1200			 /* §5.1 */
#define CW_HS_AMP_FACTOR   3			 /* §7.4 */
#define CW_HS_TIMEOUT_NS   UINT64_C(10000000000) /* §7.6 */
#define CW_HS_MAX_RESEND   32			 /* CRYPTO ranges queued for resending per space */
#define CW_HS_MAX_INFLIGHT 64			 /* CRYPTO ranges remembered in flight per space */

enum cw_hs_role {
	CW_HS_AGENT = 0,
	CW_HS_GATEWAY = 1,
};

enum cw_hs_state {
	CW_HS_HANDSHAKING = 0,
	CW_HS_COMPLETE,	 /* §7.5 complete: results available */
	CW_HS_CONFIRMED, /* §7.5 confirmed: long-header state discarded */
	CW_HS_CLOSING,	 /* we sent CONNECTION_CLOSE (§11.3) */
	CW_HS_DRAINING,	 /* the peer sent CONNECTION_CLOSE */
	CW_HS_CLOSED,	 /* closing or draining period over: free it */
	CW_HS_ABANDONED, /* §7.6 time limit: silently over */
};

enum cw_retry_policy {
	CW_RETRY_NEVER = 0,
	CW_RETRY_ALWAYS = 1,
};

/* Why datagrams or packets were dropped (§1 "drop"). */
enum cw_hs_drop {
	CW_HS_DROP_PARSE = 0, /* header failed to parse: rest of datagram */
	CW_HS_DROP_DCID,      /* DCID not ours, or differing in a datagram */
	CW_HS_DROP_SCID,      /* agent: long header from another gateway CID */
	CW_HS_DROP_NO_KEYS,   /* space discarded */
	CW_HS_DROP_DECRYPT,   /* tag failed */
	CW_HS_DROP_REPLAY,    /* replay or too old for the window */
	CW_HS_DROP_RETRY,     /* a RETRY ignored (§7.3) */
	CW_HS_DROP_SMALL,     /* an INITIAL datagram under 1200 bytes */
	CW_HS_DROP_OVER,      /* arrived while closing, draining or closed */
	CW_HS_DROP_COUNT,
};

struct cw_hs_counters {
	uint64_t dgrams_in, dgrams_out;
	uint64_t bytes_in, bytes_out; /* UDP payload bytes */
	uint64_t pkts_in, pkts_out;   /* long-header packets authenticated / sent */
	uint64_t dropped[CW_HS_DROP_COUNT];
	uint64_t crypto_retransmits; /* CRYPTO frames carrying resent bytes */
	uint64_t pto;		     /* PTO expiries */
	uint64_t retries;	     /* agent: RETRY accepted */
};

/* An agent's source address as the datagram showed it (token.h families). */
struct cw_hs_peer {
	int family; /* CW_TOKEN_IPV4 or CW_TOKEN_IPV6 */
	const uint8_t *addr;
	uint16_t port;
};

enum cw_hs_verdict {
	CW_HS_V_DROP = 0,   /* nothing to do, nothing allocated */
	CW_HS_V_ACCEPT,	    /* call cw_hs_gateway_new() with the screen */
	CW_HS_V_SEND_RETRY, /* send the RETRY written to @out */
	CW_HS_V_SEND_CLOSE, /* send the INVALID_TOKEN INITIAL written to @out */
};

/* What cw_hs_screen() learnt about an INITIAL it accepted. */
struct cw_hs_screen {
	uint8_t odcid[CW_CID_LEN]; /* keys of the attempt come from it (§6.2) */
	uint8_t dcid[CW_CID_LEN];  /* the DCID the agent is sending to */
	uint8_t agent_cid[CW_CID_LEN];
	bool validated; /* a valid retry token came with it */
	size_t out_len; /* bytes written to @out for SEND_* verdicts */
};

/*
 * Gateway, stateless: decide what to do with @dgram (@len bytes) from
 * @peer that matched no session. @tk validates and mints tokens, @retry a
 * cw_retry_init() context, @new_scid 8 random bytes the caller drew for a
 * RETRY's SCID; @out (@cap >= CW_HS_DGRAM_MAX) receives the answer and
 * @res what was learnt. Drops a datagram under 1200 bytes, one not
 * starting with a version-1 INITIAL, and one whose token is too short to
 * state an 8-byte ODCID. An INITIAL with a token is accepted (validated)
 * if the token is; one whose token fails its MAC or expired yields an
 * INITIAL carrying CONNECTION_CLOSE(INVALID_TOKEN) under the keys of the
 * ODCID the token states (§7.3). Without a token, policy ALWAYS yields a
 * RETRY and NEVER acceptance. Nothing here uses an allocator (OpenSSL
 * contexts set up for the INVALID_TOKEN close excepted). Returns a
 * verdict (>= 0), or -EINVAL for bad arguments.
 */
int cw_hs_screen(const uint8_t *dgram, size_t len, const struct cw_hs_peer *peer, uint64_t now,
		 struct cw_token_keys *tk, struct cw_aead *retry, enum cw_retry_policy policy,
		 const uint8_t new_scid[CW_CID_LEN], uint8_t *out, size_t cap,
		 struct cw_hs_screen *res);

struct cw_hs;

struct cw_hs_agent_cfg {
	const struct cw_alloc *alloc; /* NULL: cw_alloc_default() */
	const struct cw_tls_client_ctx *tls;
	int64_t wall_time;	   /* certificate validity (tls.h) */
	uint8_t cid[CW_CID_LEN];   /* random (§4.1) */
	uint8_t odcid[CW_CID_LEN]; /* random (§4.1) */
	const uint8_t *ticket;	   /* NULL: full handshake */
	size_t ticket_len;
};

struct cw_hs_gateway_cfg {
	const struct cw_alloc *alloc;
	const struct cw_tls_server_ctx *tls;
	int64_t wall_time;
	uint8_t cid[CW_CID_LEN]; /* the session's gateway CID (cid.h) */
};

/*
 * Agent handshake; its first datagram is ready for cw_hs_send(). Returns 0
 * and *@out, -EINVAL, -ENOMEM, -EPROTO (TLS made no ClientHello), -EIO.
 */
int cw_hs_agent_new(const struct cw_hs_agent_cfg *cfg, uint64_t now, struct cw_hs **out);

/*
 * Gateway handshake for the datagram @dgram (@len bytes, modified: it is
 * decrypted in place) that cw_hs_screen() accepted as @scr, processed
 * here. Returns 0 and *@out, -EINVAL, -ENOMEM, -EIO, or -EBADMSG when no
 * packet of @dgram authenticated (nothing is kept: drop it).
 */
int cw_hs_gateway_new(const struct cw_hs_gateway_cfg *cfg, const struct cw_hs_screen *scr,
		      uint8_t *dgram, size_t len, uint64_t now, struct cw_hs **out);

/* Frees @hs and everything it holds, wiping secrets (NULL: no-op). */
void cw_hs_free(struct cw_hs *hs);

/*
 * From now on @hs allocates and frees through @a (copied), blocks it took
 * from its allocator before included: @a must free those, so both must
 * draw from the same heap (malloc). For moving a handshake to another
 * thread: call it on the thread that owns @hs, before it is handed over.
 */
void cw_hs_set_alloc(struct cw_hs *hs, const struct cw_alloc *a);

/*
 * Process the long-header packets of @dgram (@len bytes, decrypted in
 * place). Problems with the peer's packets are drops (counted) or a close
 * (see cw_hs_state()), never an error return. Returns the offset of a
 * short-header packet left for the 1-RTT connection, or @len when there
 * is none; -EINVAL for bad arguments.
 */
int cw_hs_recv(struct cw_hs *hs, uint8_t *dgram, size_t len, uint64_t now);

/*
 * Write the next datagram to send into @out (@cap >= CW_HS_DGRAM_MAX) and
 * return its length, or 0 when nothing is to be sent now (call again until
 * it returns 0). -EINVAL for bad arguments, -ENOMEM, -EIO.
 */
int cw_hs_send(struct cw_hs *hs, uint8_t *out, size_t cap, uint64_t now);

/* When cw_hs_on_timeout() is due next, or CW_RECOVERY_NEVER. */
uint64_t cw_hs_next_timeout(const struct cw_hs *hs);

/* Run timers due at @now (loss, PTO, §7.6 limit, end of closing). */
void cw_hs_on_timeout(struct cw_hs *hs, uint64_t now);

enum cw_hs_state cw_hs_state(const struct cw_hs *hs);

/* Whether the state is CLOSING, DRAINING, CLOSED or ABANDONED. */
bool cw_hs_over(const struct cw_hs *hs);

/* The code of the CONNECTION_CLOSE we sent (@ours) or received; -1 if none. */
int64_t cw_hs_close_code(const struct cw_hs *hs, bool ours);

/*
 * Close on purpose with @code (below CW_APP_ERROR_MIN; an application
 * reason is CONNECTION_REFUSED, §8.14). No-op when already over.
 */
void cw_hs_close(struct cw_hs *hs, uint64_t code, uint64_t now);

struct cw_hs_result {
	uint8_t client_secret[CW_SECRET_LEN];
	uint8_t server_secret[CW_SECRET_LEN];
	enum cw_aead_alg alg;
	bool resumed;
	uint8_t local_cid[CW_CID_LEN]; /* what the peer puts in DCID */
	uint8_t peer_cid[CW_CID_LEN];  /* what we put in DCID */
	const char *node_name;	       /* gateway: the agent's; agent: NULL.
					* Valid while @hs lives. */
};

/* Results of a complete handshake; -EAGAIN before (or when it failed). */
int cw_hs_result(const struct cw_hs *hs, struct cw_hs_result *out);

/* Agent: the latest session ticket (tls.h), NULL if none; *@len set. */
const uint8_t *cw_hs_ticket(const struct cw_hs *hs, size_t *len);

/* Gateway: HANDSHAKE_DONE may be sent now (§7.5). */
bool cw_hs_done_due(const struct cw_hs *hs);

/* Gateway: HANDSHAKE_DONE went out; discard Handshake space. 0 or -EINVAL. */
int cw_hs_done_sent(struct cw_hs *hs, uint64_t now);

/* Agent: HANDSHAKE_DONE came in; confirm. 0, -EINVAL, or -EPROTO before
 * completion (the caller closes with PROTOCOL_VIOLATION). */
int cw_hs_done_received(struct cw_hs *hs, uint64_t now);

/* The recovery state, whose RTT estimate the connection may start from. */
const struct cw_recovery *cw_hs_recovery(const struct cw_hs *hs);

const struct cw_hs_counters *cw_hs_counters(const struct cw_hs *hs);

#endif /* CW_HANDSHAKE_H */
