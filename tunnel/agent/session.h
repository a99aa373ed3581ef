/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's session core (PROTOCOL.md §11, §13.3, §13.5), sans-I/O: one
 * agent cw_conn and the message layer above it. Datagrams in
 * (cw_as_recv()), datagrams out (cw_as_send()), @now in nanoseconds from
 * the caller's monotonic clock, cw_as_next_timeout() / cw_as_on_timeout().
 * The shell (tunnel/agent/main.c) owns the sockets; this object owns the
 * protocol.
 *
 * Control stream: Hello as the first bytes of stream 0 once 1-RTT keys
 * exist; HelloAck within CW_AS_HELLO_TIMEOUT_NS of that (else the session
 * closes with HELLO_TIMEOUT); then the status Heartbeat (seq 1, 2, ...)
 * right away, on change at most every CW_AS_HEARTBEAT_GAP_NS and at least
 * every min(HelloAck.heartbeat_interval_s, [keepalive]
 * heartbeat_interval_s). A peer Close is remembered (code,
 * retry_after_ms) for the reconnect delay. Assignment and PeerProbe are
 * accepted and counted but not acted on (no peer probing yet).
 *
 * Stateless reset (§11.4): a datagram of at least CW_RESET_MIN_LEN bytes
 * that the connection dropped and whose last 16 bytes equal
 * HelloAck.stateless_reset_token (constant time) ends the session at once,
 * silently (CW_AS_END_RESET).
 *
 * Dial streams (§13.5). The core decodes Dial and checks the allow-list
 * (cw_agent_dial_allowed()): a Dial that is not allowed is answered here
 * with DialResult{NOT_ALLOWED} and FIN, and the shell never hears of it.
 * An allowed one becomes a CW_AS_EV_DIAL event; the shell connects and
 * answers with cw_as_dial_result(). After an ok result the stream carries
 * raw bytes through cw_as_stream_read() / _write() / _finish() /
 * _abort(), with the contracts of the conn stream calls. Raw bytes from
 * the gateway before the result are UNEXPECTED_MESSAGE (the stream is
 * aborted and the shell gets CW_AS_F_ABORTED); a reset by the gateway
 * before the result aborts it the same way. A Dial reordered ahead of
 * HelloAck waits for it (§13.3: nothing but Hello before HelloAck).
 *
 * Memory: the connection (conn.h), the control stream's pending output
 * (at most one Hello), and one record of about 400 bytes per dial stream
 * the gateway opened, all through the injected allocator.
 */
#ifndef CW_AGENT_SESSION_H
#define CW_AGENT_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/agent_config.h"
#include "tunnel/alloc.h"
#include "tunnel/conn.h"
#include "tunnel/msg.h"

#define CW_AS_HELLO_TIMEOUT_NS	  UINT64_C(10000000000) /* §13.3 */
#define CW_AS_HEARTBEAT_GAP_NS	  UINT64_C(10000000000) /* §13.3: on change, at most this often */
#define CW_AS_HEARTBEAT_DEFAULT_S 600			/* HelloAck.heartbeat_interval_s = 0 */
#define CW_AS_DICT_IDS_MAX	  CW_MSG_DICT_IDS_MAX
#define CW_AS_BOOT_ID_LEN	  CW_MSG_TOKEN_LEN

/* Application (session) codes, §12.3. */
#define CW_AS_SHUTDOWN		   0x1000
#define CW_AS_SESSION_REPLACED	   0x1001
#define CW_AS_HELLO_TIMEOUT	   0x1004
#define CW_AS_CONTROL_STREAM_ERROR 0x1005
#define CW_AS_APPLICATION_INTERNAL 0x1008

/* Stream codes, §12.4. */
#define CW_AS_SERR_CANCELLED		0x01
#define CW_AS_SERR_INTERNAL		0x02
#define CW_AS_SERR_MESSAGE_TOO_LARGE	0x03
#define CW_AS_SERR_MESSAGE_DECODE_ERROR 0x04
#define CW_AS_SERR_UNEXPECTED_MESSAGE	0x05
#define CW_AS_SERR_CONNECTION_RESET	0x09
#define CW_AS_SERR_UNSUPPORTED		0x0a

enum cw_as_state {
	CW_AS_HANDSHAKING = 0, /* TLS handshake in progress */
	CW_AS_HELLO_SENT,      /* waiting for HelloAck */
	CW_AS_ESTABLISHED,     /* HelloAck received: dial streams flow */
	CW_AS_CLOSING,	       /* CONNECTION_CLOSE sent or received */
	CW_AS_ENDED,	       /* over: see cw_as_info(), then free it */
};

/* Why a session ended (valid in CW_AS_ENDED, and from CW_AS_CLOSING on). */
enum cw_as_end {
	CW_AS_END_NONE = 0,
	CW_AS_END_HANDSHAKE, /* the handshake failed or timed out */
	CW_AS_END_IDLE,	     /* §11.1 idle timeout */
	CW_AS_END_LOCAL,     /* we closed (shutdown, peer error, HELLO_TIMEOUT) */
	CW_AS_END_PEER,	     /* the gateway's CONNECTION_CLOSE */
	CW_AS_END_RESET,     /* a stateless reset (§11.4) */
	CW_AS_END_VERSION,   /* Version Negotiation without our version (§15.2) */
};

/* Node capacity for Hello (0: unknown); the caller measures it. */
struct cw_as_capacity {
	uint64_t cpu_millis;
	uint64_t memory_bytes;
	uint32_t pods;
	uint64_t ephemeral_storage_bytes;
};

/* Node status for Heartbeat; the caller measures it. */
struct cw_as_status {
	bool kubelet_healthy;
	uint32_t offline_queue_depth;
	uint32_t load_milli;
	uint64_t uptime_s;
};

struct cw_as_cfg {
	const struct cw_alloc *alloc; /* NULL: cw_alloc_default() */
	/* pool, labels, dial allow-list, keepalive; must outlive the session */
	const struct cw_agent_config *conf;
	const char *node_name;	   /* the configured name, else the certificate's */
	const char *agent_version; /* at most CW_MSG_VERSION_MAX bytes */
	const uint32_t *dict_ids;  /* dictionaries held, most preferred first */
	size_t n_dict_ids;	   /* at most CW_AS_DICT_IDS_MAX */
	struct cw_as_capacity capacity;
	uint8_t boot_id[CW_AS_BOOT_ID_LEN];
	struct cw_hs_agent_cfg hs; /* TLS context, CIDs, ticket (alloc ignored) */
	uint64_t seed;		   /* keepalive jitter */
	uint64_t wall_ms;	   /* Unix time in ms at the @now of cw_as_new() */
};

/* Event types (cw_as_next_event()). */
enum cw_as_event_type {
	CW_AS_EV_DIAL = 1, /* an allowed Dial: connect, then cw_as_dial_result() */
	CW_AS_EV_STREAM,   /* flags below on a dial stream */
	CW_AS_EV_API,	   /* CW_AS_F_READABLE on an API stream: cw_as_api_read() */
};
#define CW_AS_F_READABLE 0x01 /* raw bytes, FIN or a reset to read */
#define CW_AS_F_WRITABLE 0x02 /* room again after a short write */
#define CW_AS_F_ABORTED	 0x04 /* the stream is gone: drop the socket with RST */

struct cw_as_event {
	enum cw_as_event_type type;
	uint64_t stream;
	unsigned flags;
	/* CW_AS_EV_DIAL: */
	uint64_t request_id;
	char host[CW_MSG_NAME_MAX + 1]; /* "" became 127.0.0.1 */
	uint16_t port;
	uint32_t timeout_ms; /* 0 became [dial] connect_timeout_ms */
};

struct cw_as_info {
	enum cw_as_state state;
	enum cw_as_end end;
	int64_t close_code;	 /* CONNECTION_CLOSE code sent or received, -1: none */
	uint32_t retry_after_ms; /* the gateway's Close.retry_after_ms */
	uint64_t up_at;		 /* @now when HelloAck arrived, 0: never */
	uint64_t session_id;	 /* HelloAck.session_id */
	uint32_t dictionary_id;	 /* HelloAck.dictionary_id */
	uint64_t srtt_ns;
	uint64_t heartbeats;	  /* Heartbeat messages sent */
	uint64_t dials_total;	  /* Dial messages received */
	uint64_t dials_refused;	  /* answered NOT_ALLOWED here */
	uint64_t dials_active;	  /* dial streams not yet finished both ways */
	uint64_t raw_in, raw_out; /* raw dial bytes from / to the gateway */
	uint64_t dgrams_in, dgrams_out;
	uint64_t ignored; /* Assignment, PeerProbe and unknown messages on stream 0 */
};

struct cw_as;

/*
 * A session: starts the handshake (the first datagram is due from
 * cw_as_send()). Returns 0 and *@out, -EINVAL (missing conf, node name,
 * TLS context; too many dictionary ids), -ENOMEM, or the errors of
 * cw_conn_agent_new().
 */
int cw_as_new(const struct cw_as_cfg *cfg, uint64_t now, struct cw_as **out);

/* Free @s and everything it holds (NULL: no-op). */
void cw_as_free(struct cw_as *s);

/*
 * Process datagram @dgram (@len bytes, modified: decrypted in place) from
 * the gateway's address. Problems with the peer are drops or a close
 * (cw_as_state()). Returns 0, or -EINVAL.
 */
int cw_as_recv(struct cw_as *s, uint64_t now, uint8_t *dgram, size_t len);

/*
 * Write the next datagram due into @out (@cap >= CW_CONN_DGRAM_MAX);
 * returns its length, 0 when nothing is due, or the errors of
 * cw_conn_send(). Call until 0 after every other call.
 */
int cw_as_send(struct cw_as *s, uint64_t now, uint8_t *out, size_t cap);

/* When cw_as_on_timeout() is due next, or UINT64_MAX. */
uint64_t cw_as_next_timeout(const struct cw_as *s);

/* Run what is due at @now (connection timers, HelloAck wait, Heartbeat). */
void cw_as_on_timeout(struct cw_as *s, uint64_t now);

/* The next event for the shell into *@ev: 0, -ENOENT when none, -EINVAL. */
int cw_as_next_event(struct cw_as *s, struct cw_as_event *ev);

/*
 * The shell's answer to the CW_AS_EV_DIAL of stream @id: @ok, else the
 * DialError @dial_error (Causeway__V1__DialError) and @reason (NULL or at
 * most CW_MSG_REASON_MAX bytes, truncated). A failed dial ends the stream
 * here (DialResult then FIN). Returns 0, -ENOENT (no such dial waiting:
 * the gateway aborted it meanwhile), -EINVAL, or the errors of encoding
 * and writing the DialResult (the stream is then aborted: close the
 * socket).
 */
int cw_as_dial_result(struct cw_as *s, uint64_t id, bool ok, int dial_error, const char *reason);

/*
 * Raw bytes of dial stream @id after an ok result, as cw_conn_stream_read()
 * / _write() / _finish(): -EAGAIN when nothing is readable or no room,
 * -ECONNRESET with *@code when the gateway reset its direction, -EPIPE when
 * the gateway stopped ours, -ENOENT for a stream not in its raw phase.
 * Once both directions ended (FIN read and finished) the stream is
 * forgotten.
 */
int cw_as_stream_read(struct cw_as *s, uint64_t id, uint8_t *buf, size_t cap, size_t *n, bool *fin,
		      uint64_t *code);
int cw_as_stream_write(struct cw_as *s, uint64_t id, const uint8_t *data, size_t len, size_t *n);
int cw_as_stream_finish(struct cw_as *s, uint64_t id);

/*
 * Abandon dial stream @id in both directions (RESET_STREAM and
 * STOP_SENDING with @code) and forget it: the local socket failed or was
 * reset, or the gateway reset the stream. Returns 0 or -ENOENT.
 */
int cw_as_stream_abort(struct cw_as *s, uint64_t id, uint64_t code);

/*
 * API streams (§13.4): open a stream, send @req (an ApiRequest Envelope)
 * and FIN; the gateway's answer is read with cw_as_api_read() when
 * CW_AS_EV_API names the stream. Returns 0 and *@id, -EINVAL (not an
 * ApiRequest), -ENOTCONN before HelloAck, -EAGAIN when the gateway's
 * stream limit is reached, -EMSGSIZE when @req exceeds the gateway's
 * max_message_size, -ENOBUFS when it does not fit the stream's send
 * buffer, -ENOMEM. Memory: about 4.5 KiB per open request.
 */
int cw_as_api_open(struct cw_as *s, const cw_envelope *req, uint64_t *id);

/*
 * The next message of the answer on @id: 0 with *@env (ApiResponse,
 * WatchEvent or Error), to be freed with cw_as_api_msg_free() before the
 * next call for @id. At the end: -EPIPE after a FIN between messages,
 * -EBADMSG when the FIN cut a message short; -ECONNRESET with *@code when
 * the gateway reset the stream; -EBADMSG / -EMSGSIZE for a malformed
 * answer (the stream is cancelled). After any of these the request is
 * forgotten. -EAGAIN: nothing more yet. -ENOENT: no such request.
 */
int cw_as_api_read(struct cw_as *s, uint64_t id, cw_envelope **env, uint64_t *code);
void cw_as_api_msg_free(struct cw_as *s, uint64_t id, cw_envelope *env);

/*
 * Give up request @id: STOP_SENDING and RESET_STREAM(CANCELLED), and
 * forget it. Returns 0 or -ENOENT.
 */
int cw_as_api_cancel(struct cw_as *s, uint64_t id);

/*
 * The latest node status. A change of kubelet health or of the offline
 * queue depth sends a Heartbeat at once, or CW_AS_HEARTBEAT_GAP_NS after
 * the last one (§13.3); load and uptime go with the next Heartbeat.
 */
void cw_as_set_status(struct cw_as *s, uint64_t now, const struct cw_as_status *st);

/*
 * Orderly end: Close{@code, @reason} on stream 0, then CONNECTION_CLOSE
 * with the same code once that is sent. Before HelloAck only the
 * CONNECTION_CLOSE. No-op when already closing.
 */
void cw_as_shutdown(struct cw_as *s, uint64_t now, uint32_t code, const char *reason);

enum cw_as_state cw_as_state(const struct cw_as *s);
void cw_as_info(const struct cw_as *s, struct cw_as_info *out);

/* The latest TLS session ticket, NULL if none; *@len set. */
const uint8_t *cw_as_ticket(const struct cw_as *s, size_t *len);

#endif /* CW_AGENT_SESSION_H */
