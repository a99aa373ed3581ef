/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The gateway's sessions on one worker (PROTOCOL.md §4.2, §7.3, §11,
 * §13.3, §13.5), sans-I/O: datagrams in (cw_gw_input()), datagrams out
 * (cw_gw_output()), @now in nanoseconds from the caller,
 * cw_gw_next_timeout() and cw_gw_on_timeout(). One object per worker; it
 * owns every session whose gateway CID names this worker, in a table of
 * slots. Not thread-safe: only the owning worker calls it.
 *
 * What it does for the caller:
 *  - screens datagrams for no session (cw_hs_screen(): RETRY, INVALID_TOKEN
 *    close, drop) and allocates a session only for an accepted INITIAL;
 *    the retry policy is always, never, or under-load (RETRY while more
 *    than @retry_load handshakes are in progress on this worker);
 *  - runs the handshake and the 1-RTT connection (conn.h) of every session,
 *    the control stream (Hello -> HelloAck, Heartbeat, Close; §13.3) and
 *    its timeouts (HELLO_TIMEOUT);
 *  - checks Hello.node_name against the certificate (NODE_NAME_MISMATCH)
 *    and reports a session that said Hello to the caller (on_session_up),
 *    who keeps the node directory; the caller closes a displaced session
 *    with cw_gw_close_session(SESSION_REPLACED);
 *  - adopts a NAT rebinding (§11.5) and reports it (on_session_addr);
 *  - answers short-header datagrams for no session with a stateless reset
 *    (§11.4), rate-limited;
 *  - opens dial streams (§13.5) for the caller and moves their bytes.
 *
 * Callbacks run inside cw_gw_input(), cw_gw_on_timeout() and the dial
 * calls; they must not call back into the same cw_gw object except
 * cw_gw_close_session().
 *
 * Lookup (§4.2). A short header's DCID must decode to this worker, a live
 * slot, and equal that session's CID byte for byte; otherwise the datagram
 * belongs to no session. A CID naming another worker of the gateway is
 * handed back by cw_gw_input() for the caller to forward to its owner. A
 * long header's DCID is either a session's CID or, until
 * the handshake completes, the DCID of the agent's first INITIALs (a small
 * keyed hash map), so that retransmitted INITIALs reach their session; a
 * long header from another address than the attempt's first INITIAL is
 * dropped (§11.5, counted in wrong_addr).
 *
 * API streams (§13.4): the request is read whole and routed by its method
 * and path (cw_gw_callbacks.route, counted in routed[]). Denied requests get
 * ApiResponse 403 with a Kubernetes Status body, then FIN. With a
 * compression context (cfg.compress) the request's body is decoded first
 * (§14); one that does not decode aborts the stream with
 * DECOMPRESSION_FAILED (body_failed). Requests for the hub and the
 * upstream are handed whole to the caller (cw_gw_callbacks.api_open, a
 * cw_gw_api_req: the decoded message and body, not copied), who answers on
 * the stream with the channel calls of dial streams (cw_gw_dial_write(),
 * _finish(), _reset(), events through on_dial); without api_open, or when
 * it refuses, and when there is no route callback, they get Error{REFUSED}
 * and FIN (api_refused). A malformed request, or another message in its
 * place, aborts the stream (api_bad). PeerProbe results on stream 0 are
 * accepted and ignored.
 *
 * A new address (§11.5) gets a PING in the next packet, and when the IP
 * address changed the session's congestion control and RTT estimate start
 * over; the 3x limit may be passed by one datagram so that the address can
 * be validated. HelloAck's gateway_unix_ms has the one-second resolution
 * of cw_gw_set_wall_time().
 *
 * Memory, through the injected allocator: the object (about 25 KiB with
 * its answer queue), a table of chunk pointers (8 bytes per 256 slots), the
 * handshake map's buckets (8 bytes per 4 slots, 16 to 65536 buckets), slot
 * chunks of 256 sessions (about 610 bytes each) allocated as slots are
 * first used and kept while any session lives (all are given back when the
 * last one goes), the deadline heap (8 bytes per slot in use), and per
 * session its connection (conn.h), control-stream decoder and dial records;
 * with cfg.compress, a 64 KiB buffer for request bodies once one arrives
 * (larger ones are decoded into an allocation of their own); per API
 * request its decoder and message, and one handed over lives on in its
 * cw_gw_api_req until cw_gw_api_req_free().
 */
#ifndef CW_GATEWAY_H
#define CW_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "cid.h"
#include "conn.h"
#include "handshake.h"
#include "msg.h"
#include "reset.h"
#include "tls.h"
#include "token.h"

#define CW_GW_SLOTS_MAX	    CW_CID_SLOT_MAX
#define CW_GW_ALLOWED_MAX   64 /* Hello.allowed_ports */
#define CW_GW_DICT_MAX	    16
#define CW_GW_RESET_PER_SEC 100			  /* stateless resets per worker per second */
#define CW_GW_HELLO_TIMEOUT UINT64_C(10000000000) /* §13.3, ns */

/* Application (session) error codes (§12.3): Close.code and 1-RTT
 * CONNECTION_CLOSE. */
enum cw_app_error {
	CW_AE_SHUTDOWN = 0x1000,
	CW_AE_SESSION_REPLACED = 0x1001,
	CW_AE_NODE_REJECTED = 0x1002,
	CW_AE_NODE_NAME_MISMATCH = 0x1003,
	CW_AE_HELLO_TIMEOUT = 0x1004,
	CW_AE_CONTROL_STREAM_ERROR = 0x1005,
	CW_AE_VERSION_REJECTED = 0x1006,
	CW_AE_OVERLOADED = 0x1007,
	CW_AE_APPLICATION_INTERNAL = 0x1008,
};

/* Stream error codes (§12.4): RESET_STREAM, STOP_SENDING, Error.code. */
enum cw_stream_error {
	CW_SE_NO_ERROR = 0x00,
	CW_SE_CANCELLED = 0x01,
	CW_SE_INTERNAL_ERROR = 0x02,
	CW_SE_MESSAGE_TOO_LARGE = 0x03,
	CW_SE_MESSAGE_DECODE_ERROR = 0x04,
	CW_SE_UNEXPECTED_MESSAGE = 0x05,
	CW_SE_DECOMPRESSION_FAILED = 0x06,
	CW_SE_REFUSED = 0x07,
	CW_SE_TIMEOUT = 0x08,
	CW_SE_CONNECTION_RESET = 0x09,
	CW_SE_UNSUPPORTED = 0x0a,
	CW_SE_UPSTREAM_UNAVAILABLE = 0x0b,
};

/* A UDP address. */
struct cw_gw_addr {
	uint8_t family; /* 4 or 6 */
	uint8_t addr[16];
	uint16_t port; /* host order */
};

enum cw_gw_retry {
	CW_GW_RETRY_NEVER = 0,
	CW_GW_RETRY_ALWAYS,
	CW_GW_RETRY_UNDER_LOAD,
};

/* What the caller learns about a session that said Hello. */
struct cw_gw_session_info {
	uint64_t session_id; /* unique per gateway run: worker << 56 | a 32-bit
			      * per-worker counter << 24 | slot */
	uint32_t slot;
	uint8_t worker;
	const char *node_name; /* from the certificate; valid during the call */
	const char *pool;      /* Hello.pool, may be "" */
	const char *agent_version;
	struct cw_gw_addr addr;
	uint16_t allowed_ports[CW_GW_ALLOWED_MAX]; /* Hello.allowed_ports */
	uint32_t n_allowed;
	bool resumed;		/* the handshake resumed a TLS session */
	uint32_t dictionary_id; /* what HelloAck chose (0: none) */
};

/* Live figures of one session (cw_gw_foreach_session()). */
struct cw_gw_session_stats {
	uint64_t session_id;
	const char *node_name;
	struct cw_gw_addr addr;
	uint64_t srtt_ns;
	uint64_t bytes_in, bytes_out; /* UDP payload bytes */
	uint32_t streams;	      /* open streams, control stream included */
	uint64_t since;		      /* @now when Hello arrived */
	uint64_t heartbeats;	      /* Heartbeat messages received */
	uint64_t heartbeat_seq;	      /* Heartbeat.seq of the last one */
};

/* Where an agent's API request goes (cw_gw_callbacks.route). */
enum cw_gw_route { CW_GW_ROUTE_HUB = 0, CW_GW_ROUTE_UPSTREAM, CW_GW_ROUTE_DENY, CW_GW_N_ROUTES };

/* Per-worker counters (security tests and telemetry read them). */
struct cw_gw_stats {
	uint64_t sessions; /* live now, handshaking included */
	uint64_t hs_started, hs_full, hs_resumed, hs_failed;
	uint64_t retries_sent, invalid_token; /* RETRY and INVALID_TOKEN answers */
	uint64_t screen_dropped;	      /* datagrams for no session dropped unanswered */
	uint64_t resets_sent, resets_limited;
	uint64_t name_mismatch, hello_timeout, replaced;
	uint64_t addr_changes;
	uint64_t amp_limited;	 /* output held back at an unvalidated address's 3x limit */
	uint64_t decrypt_failed; /* 1-RTT packets of sessions whose AEAD tag failed */
	uint64_t retransmits;	 /* STREAM frames sent again after a loss */
	uint64_t pkts_dropped;	 /* 1-RTT packets of sessions dropped for any reason
				  * (failed authentication, replayed, before the keys) */
	uint64_t dials, dials_failed;
	uint64_t slots_full; /* accepted INITIALs dropped for want of a slot */
	uint64_t wrong_addr; /* long-header datagrams of an attempt from another address (§11.5) */
	uint64_t heartbeats;
	uint64_t agent_closes;		 /* Close messages from agents (§11.3) */
	uint64_t api_refused;		 /* agent API streams answered Error{REFUSED} */
	uint64_t api_forwarded;		 /* ... handed to the caller (api_open) */
	uint64_t api_bad;		 /* API streams aborted: malformed or not an ApiRequest */
	uint64_t body_failed;		 /* API request bodies that did not decode (§14) */
	uint64_t body_bytes;		 /* decoded bytes of API request bodies */
	uint64_t routed[CW_GW_N_ROUTES]; /* API requests by route decision */
	uint64_t vn_sent;		 /* Version Negotiation answers (§15.2) */
	uint64_t hs_away;		 /* handshakes sent to a handshake thread (cfg.offload) */
	uint64_t hs_refused;		 /* ... that it could not take or start */
	uint64_t hs_forwarded;		 /* datagrams passed on to a handshake away */
	uint64_t hs_forward_failed;	 /* ... dropped instead (the caller's queue was full) */
};

/* A handshake the caller runs on a handshake thread (cfg.offload; hsdesk.h). */
struct cw_gw_hs_job {
	uint64_t session_id;
	struct cw_gw_addr from;
	struct cw_hs_screen scr;
	uint8_t cid[CW_CID_LEN]; /* the session's gateway CID: this worker, its slot */
	uint64_t seed;		 /* cw_conn_cfg.seed of its connection */
};

/*
 * An agent's API request for the hub or the upstream, handed over whole
 * (cw_gw_callbacks.api_open): the decoded message and body are the ones
 * the gateway decoded, not copies, in the gateway's memory. Any thread may
 * read it; it is freed with cw_gw_api_req_free() on the gateway's own
 * thread, whose allocator holds it. The stream lives on without it.
 */
struct cw_gw_api_req {
	uint64_t session_id;
	uint64_t stream;	/* answer on it: cw_gw_dial_write() and the rest */
	enum cw_gw_route route; /* CW_GW_ROUTE_HUB or CW_GW_ROUTE_UPSTREAM */
	uint32_t dict_id;	/* the session's dictionary for bodies (§14); 0: none */
	uint32_t peer_msg_max;	/* the agent's max_message_size (§9.6) */
	const char *node;	/* the session's node name */
	const Causeway__V1__ApiRequest *rq;
	/* The decoded body (§14); NULL when there is none, or when the gateway
	 * has no compression context (cfg.compress): then rq->body as sent. */
	const uint8_t *body;
	size_t body_len;
	/* What holds the above; the gateway's. */
	const struct cw_alloc *a;
	struct cw_msg_decoder dec;
	cw_envelope *env;
	uint8_t *body_buf;
	char node_buf[CW_TLS_NODE_NAME_MAX + 1];
};

/* Free @r and what it holds, on the gateway's thread (NULL: no-op). The
 * gateway object itself may be gone by then: @r keeps its allocator. */
void cw_gw_api_req_free(struct cw_gw_api_req *r);

/* Events of a dial stream (cw_gw_callbacks.on_dial). A dial ends with
 * exactly one GONE: when its stream is over both ways (FIN or reset, and
 * acknowledged), or when its session is freed. A DialResult{!ok}, an
 * Error in its place, or a malformed answer is a RESULT with !ok; the
 * stream is then finished or aborted and GONE follows. */
enum cw_gw_dial_event {
	CW_GW_DIAL_RESULT = 0, /* DialResult arrived: see ok / error / reason */
	CW_GW_DIAL_READABLE,   /* bytes, the FIN or a reset to read */
	CW_GW_DIAL_WRITABLE,   /* room to write after a short write */
	CW_GW_DIAL_RESET,      /* the agent reset or stopped the stream: @code */
	CW_GW_DIAL_GONE,       /* last event: the stream is over, @user is released */
};

struct cw_gw_dial_status {
	bool ok;
	uint32_t error;	    /* DialError of the proto when !ok */
	const char *reason; /* DialResult.reason or why it is gone; may be "" */
	uint64_t code;	    /* CW_GW_DIAL_RESET */
};

struct cw_gw_callbacks {
	void *ctx;
	/* A session said Hello and HelloAck is queued. */
	void (*on_session_up)(void *ctx, const struct cw_gw_session_info *info);
	/* A session that had been reported up ended (@end and the close code
	 * of conn.h; -1 if none). Its dial streams got GONE before this. */
	void (*on_session_down)(void *ctx, uint64_t session_id, const char *node_name,
				enum cw_conn_end end, int64_t code);
	/* A session moved to a new address (§11.5). */
	void (*on_session_addr)(void *ctx, uint64_t session_id, const char *node_name,
				const struct cw_gw_addr *addr);
	/* A dial stream's event; @user as given to cw_gw_dial(). */
	void (*on_dial)(void *ctx, void *user, enum cw_gw_dial_event ev,
			const struct cw_gw_dial_status *st);
	/*
	 * Route an API request by its HTTP method @verb and @path (neither
	 * NUL-terminated for the callee's purposes: use the lengths). Returns a
	 * CW_GW_ROUTE_*, or a negative errno: the request is refused. Called
	 * on this worker, inside cw_gw_input() and cw_gw_timers(); must not
	 * block. NULL: every request is refused.
	 */
	int (*route)(void *ctx, const char *verb, size_t verb_len, const char *path,
		     size_t path_len);
	/*
	 * An API request routed to the hub or the upstream. Return 0 and set
	 * *@user to take @req (free it with cw_gw_api_req_free()): its stream
	 * is then answered like a dial stream after an ok RESULT, with @user
	 * in its on_dial events (READABLE only says the agent's FIN, WRITABLE,
	 * RESET if the agent cancels, GONE). A negative errno leaves @req to
	 * the gateway, which answers Error{REFUSED}. NULL: refused.
	 */
	int (*api_open)(void *ctx, struct cw_gw_api_req *req, void **user);
	/*
	 * cfg.offload: the accepted INITIAL @dgram (@len bytes, untouched) is
	 * to start handshake @job on a handshake thread. Return 0 once the
	 * caller has taken it: the session is away until cw_gw_adopt(). A
	 * negative errno gives the slot back (counted in hs_refused).
	 */
	int (*hs_start)(void *ctx, const struct cw_gw_hs_job *job, const uint8_t *dgram,
			size_t len);
	/* cfg.offload: a datagram for session @session_id, which is away.
	 * Return 0 once taken; a negative errno drops it (hs_forward_failed). */
	int (*hs_input)(void *ctx, uint64_t session_id, const struct cw_gw_addr *from,
			const uint8_t *dgram, size_t len);
};

struct cw_gw_cfg {
	const struct cw_alloc *alloc; /* NULL: cw_alloc_default() */
	uint8_t worker;		      /* this worker's index, named in its CIDs */
	uint8_t n_workers;	      /* workers of the gateway; 0 or 1: this one alone */
	uint32_t max_sessions;	      /* slots, 1 .. CW_GW_SLOTS_MAX */
	const struct cw_tls_server_ctx *tls;
	struct cw_token_keys *tokens; /* this worker's copy (token.h is not thread-safe) */
	enum cw_gw_retry retry;
	uint32_t retry_load; /* CW_GW_RETRY_UNDER_LOAD threshold */
	uint8_t cid_key[CW_CID_KEY_LEN];
	uint8_t reset_key[CW_RESET_KEY_LEN];
	bool send_resets;
	const struct cw_conn_cfg *conn; /* NULL: defaults */
	const uint32_t *dict_ids;	/* dictionaries we hold, preferred first */
	uint32_t n_dict;
	const char *version; /* HelloAck.gateway_version */
	/* This worker's compression context holding the dictionaries of
	 * dict_ids: API request bodies are decoded with it before routing.
	 * NULL: bodies are not decoded. Not thread-safe: this worker's own. */
	struct cw_compress *compress;
	uint32_t heartbeat_interval_s; /* HelloAck; 0: 600 */
	/* Handshakes run on a handshake thread, not here (cb.hs_start,
	 * cb.hs_input, cw_gw_adopt()): this worker screens INITIALs and checks
	 * retry tokens, reserves the slot and CID, and passes the session's
	 * datagrams on until its connection comes back. */
	bool offload;
	struct cw_gw_callbacks cb;
};

struct cw_gw;

/* "a.b.c.d:port" or "[v6]:port" of @a into @buf (64 bytes suffice). */
const char *cw_gw_addr_str(const struct cw_gw_addr *a, char *buf, size_t cap);

/* Returns 0 and *@out, -EINVAL, -ENOMEM, -EIO (OpenSSL contexts). */
int cw_gw_new(const struct cw_gw_cfg *cfg, struct cw_gw **out);

/* Free @gw and every session, without callbacks and without sending
 * (NULL: no-op). */
void cw_gw_free(struct cw_gw *gw);

/* Unix time in seconds for certificate validity checks; the caller sets it
 * at start and about once a second. */
void cw_gw_set_wall_time(struct cw_gw *gw, int64_t unix_s);

/*
 * Process datagram @dgram (@len bytes, modified: decrypted in place) from
 * @from. Problems with the datagram are drops (counted), never errors.
 * Returns 0; or, when its DCID names another worker of the gateway (below
 * cfg.n_workers), 1 + that worker's index: the datagram is untouched and
 * uncounted, for the caller to hand to its owner (§4.2); or -EINVAL for
 * bad arguments.
 */
int cw_gw_input(struct cw_gw *gw, uint64_t now, const struct cw_gw_addr *from, uint8_t *dgram,
		size_t len);

/*
 * The handshake of session @session_id, which cb.hs_start sent away, is
 * over: @c is its connection, already on this gateway's allocator
 * (cw_conn_set_alloc()), or NULL when the handshake thread could not start
 * it (counted in hs_refused; the slot is given back); @sent is what was
 * sent for it meanwhile (UDP payload bytes). The session goes on here as if
 * its handshake had run here. Returns 0 (@c is taken), -ENOENT when no such
 * session is away (@c is not taken), -ENOMEM (@c was freed and so was the
 * session), -EINVAL.
 */
int cw_gw_adopt(struct cw_gw *gw, uint64_t now, uint64_t session_id, struct cw_conn *c,
		uint64_t sent);

/*
 * Write the next datagram due into @out (@cap >= CW_CONN_DGRAM_MAX), its
 * destination into *@to, and return its length; 0 when nothing is due.
 * Call until it returns 0 after cw_gw_input(), cw_gw_on_timeout() and the
 * dial calls. Negative only for bad arguments (-EINVAL).
 */
int cw_gw_output(struct cw_gw *gw, uint64_t now, uint8_t *out, size_t cap, struct cw_gw_addr *to);

/* When cw_gw_on_timeout() is due next, or UINT64_MAX. */
uint64_t cw_gw_next_timeout(const struct cw_gw *gw);

/* Run every session's timers due at @now; free sessions that are over. */
void cw_gw_on_timeout(struct cw_gw *gw, uint64_t now);

/*
 * Close session @session_id with application @code (§12.3) and @reason:
 * a Close message on stream 0, then CONNECTION_CLOSE. The dial streams are
 * reset (CANCELLED) so that the Close message is not queued behind their
 * data; cw_gw_output() sends what the connection can send now, then the
 * CONNECTION_CLOSE. Before the handshake completed (or when the agent never
 * used stream 0) the CONNECTION_CLOSE goes at once. The session is freed,
 * with GONE and on_session_down, when its closing period ends
 * (cw_gw_on_timeout()). No-op when it is already closing. Returns 0 or
 * -ENOENT (no such session on this worker).
 */
int cw_gw_close_session(struct cw_gw *gw, uint64_t now, uint64_t session_id, uint64_t code,
			const char *reason);

/*
 * The gateway is stopping: close every session that is not closing yet
 * with SHUTDOWN (PROTOCOL.md §12.3), Close.retry_after_ms @retry_after_ms,
 * as cw_gw_close_session() does, so that agents learn it at once instead
 * of after their idle timeout. Sessions whose handshake runs elsewhere
 * (cfg.offload) are left: their agents retry. The caller then runs
 * cw_gw_output() until it has nothing more to send. Returns the number of
 * sessions closed.
 */
unsigned cw_gw_shutdown(struct cw_gw *gw, uint64_t now, uint32_t retry_after_ms);

/*
 * Open a dial stream on session @session_id and send Dial{host, port,
 * timeout_ms, origin}. @user comes back in every on_dial event; after
 * GONE it is never used again. Returns 0 and the stream id in *@stream,
 * -ENOENT (no such session, or it has not said Hello), -EAGAIN (the
 * agent's stream limit: try later), -EINVAL, -ENOMEM.
 */
int cw_gw_dial(struct cw_gw *gw, uint64_t now, uint64_t session_id, const char *host, uint16_t port,
	       uint32_t timeout_ms, const char *origin, void *user, uint64_t *stream);

/*
 * Raw bytes of dial stream @stream of @session_id, only after a RESULT
 * with ok. write: queue up to @len bytes, *@n set to how many were taken
 * (fewer, possibly 0: wait for WRITABLE). read: *@n bytes (0 when nothing
 * is there yet) and *@fin once the agent's half is finished; reading
 * grants the agent credit, so a relay reads only what it can forward, and
 * reads again when it can take more (READABLE comes only when new bytes
 * arrive). finish: half-close our direction. reset: abort both directions
 * with @code (RESET_STREAM and STOP_SENDING); GONE follows. These calls
 * may deliver GONE themselves (the stream ended during the call). Return
 * 0, -ENOENT (no such dial, or after GONE), -EPIPE (that direction is
 * over, or the dial failed or was reset), -EAGAIN (before RESULT ok),
 * -EINVAL.
 *
 * When the agent resets or stops the stream, RESET carries its code and
 * the gateway aborts its own direction with the same code (§13.5 abort).
 */
int cw_gw_dial_write(struct cw_gw *gw, uint64_t session_id, uint64_t stream, const uint8_t *data,
		     size_t len, size_t *n);
int cw_gw_dial_read(struct cw_gw *gw, uint64_t session_id, uint64_t stream, uint8_t *buf,
		    size_t cap, size_t *n, bool *fin);
int cw_gw_dial_finish(struct cw_gw *gw, uint64_t session_id, uint64_t stream);
int cw_gw_dial_reset(struct cw_gw *gw, uint64_t session_id, uint64_t stream, uint64_t code);

/* Call @fn for every session that said Hello until it returns non-zero. */
void cw_gw_foreach_session(const struct cw_gw *gw,
			   int (*fn)(const struct cw_gw_session_stats *, void *), void *ctx);

const struct cw_gw_stats *cw_gw_stats(const struct cw_gw *gw);

#endif /* CW_GATEWAY_H */
