/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The TLS 1.3 handshake of a session (PROTOCOL.md §7.1, §7.2, §7.5, §7.6),
 * driven over memory BIOs: CRYPTO bytes in, CRYPTO bytes out, no sockets.
 *
 * A context (cw_tls_server_ctx on the gateway, cw_tls_client_ctx on the
 * agent) holds the certificates, the CA and the profile once per process;
 * handshake threads share it and only read it, except the gateway's ticket
 * keys, which cw_tls_server_ctx_rotate_ticket_key() replaces under a lock
 * so that a rotation never tears a key a handshake is using.
 *
 * A cw_tls_conn is one handshake. It owns the SSL object until the
 * handshake no longer needs TLS and then frees it, keeping only the
 * results: the two exported secrets, the AEAD, the peer's node name
 * (gateway), the serialised session ticket (agent), whether the session was
 * resumed, and any output not yet taken. The gateway frees TLS itself when
 * its handshake completes (its NewSessionTicket is written by then); the
 * agent keeps it until its handshake is confirmed, to receive the ticket,
 * and then calls cw_tls_conn_release_tls().
 *
 * Memory the module allocates (structs, out-queues, the ticket) comes from
 * the injected allocator; OpenSSL's own objects come from OpenSSL's
 * allocator, since redirecting that is process-global. Every buffer here
 * has a cap: CRYPTO bytes per level and direction CW_TLS_CRYPTO_MAX (§7.2),
 * the node name CW_TLS_NODE_NAME_MAX, the ticket CW_TLS_TICKET_MAX.
 *
 * Certificate validity is checked against a wall-clock time the caller
 * passes in (seconds since the Unix epoch), not one read here. OpenSSL's
 * own session-age check on resumption still reads the system clock.
 */
#ifndef CW_TLS_H
#define CW_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "header.h"
#include "keys.h"

#define CW_TLS_ALPN		   "causeway/1"
#define CW_TLS_CRYPTO_MAX	   65536 /* CRYPTO bytes per level and direction */
#define CW_TLS_NODE_NAME_MAX	   253	 /* DNS-1123 subdomain */
#define CW_TLS_TICKET_MAX	   8192	 /* serialised agent session */
#define CW_TLS_TICKET_KEY_LEN	   80	 /* 16 name || 32 AES-256-CBC || 32 HMAC-SHA256 */
#define CW_TLS_TICKET_LIFETIME_MAX 7200	 /* seconds, §7.1 */

/* TLS alert descriptions the module reports (RFC 8446 §6). */
#define CW_TLS_ALERT_UNEXPECTED_MESSAGE	     10
#define CW_TLS_ALERT_HANDSHAKE_FAILURE	     40
#define CW_TLS_ALERT_BAD_CERTIFICATE	     42
#define CW_TLS_ALERT_CERTIFICATE_EXPIRED     45
#define CW_TLS_ALERT_UNKNOWN_CA		     48
#define CW_TLS_ALERT_ACCESS_DENIED	     49
#define CW_TLS_ALERT_PROTOCOL_VERSION	     70
#define CW_TLS_ALERT_INTERNAL_ERROR	     80
#define CW_TLS_ALERT_CERTIFICATE_REQUIRED    116
#define CW_TLS_ALERT_NO_APPLICATION_PROTOCOL 120

/* The CONNECTION_CLOSE code of a failed handshake (§12.2). */
#define CW_TLS_CRYPTO_ERROR(alert) (0x0100u + (uint8_t)(alert))

/*
 * A PEM source: a file (@path set, @data NULL) or bytes in memory (@data
 * and @len, @path NULL). A certificate source may hold a chain, leaf first;
 * the handshake sends exactly that chain, none is built from the CA store
 * (so intermediates belong in the certificate source, and the trust anchor,
 * which the peer has, need not be there).
 */
struct cw_tls_pem {
	const char *path;
	const void *data;
	size_t len;
};

struct cw_tls_server_cfg {
	struct cw_tls_pem cert_chain; /* the gateway's certificate and chain */
	struct cw_tls_pem key;
	struct cw_tls_pem node_ca;		   /* the CA(s) that sign agent certificates */
	bool prefer_chacha20;			   /* else AES-128-GCM first */
	uint32_t ticket_lifetime_s;		   /* 1 .. 7200; 0 means 7200 */
	uint8_t ticket_key[CW_TLS_TICKET_KEY_LEN]; /* initial current key */
};

struct cw_tls_client_cfg {
	struct cw_tls_pem cert; /* the agent's node certificate and chain */
	struct cw_tls_pem key;
	struct cw_tls_pem gateway_ca;
	/* The name the agent dialed: a DNS name (verified against DNS SANs and
	 * sent as SNI) or an IPv4/IPv6 literal (verified against IP SANs, no
	 * SNI). At most 253 bytes. */
	const char *gateway_name;
};

struct cw_tls_server_ctx;
struct cw_tls_client_ctx;
struct cw_tls_conn;

enum cw_tls_state {
	CW_TLS_IN_PROGRESS = 0,
	CW_TLS_COMPLETE, /* handshake complete (§7.5); results available */
	CW_TLS_FAILED,	 /* see cw_tls_conn_alert() */
};

/*
 * Gateway context from @cfg, allocated from @a (NULL: cw_alloc_default()).
 * Returns 0 and *@out, -EINVAL for a bad argument (missing source, lifetime
 * over 7200 s), -EBADMSG when a PEM source cannot be read or parsed or the
 * key does not match the certificate, -ENOMEM.
 */
int cw_tls_server_ctx_new(const struct cw_tls_server_cfg *cfg, const struct cw_alloc *a,
			  struct cw_tls_server_ctx **out);

/* Frees @ctx (NULL is a no-op). No cw_tls_conn may still use it. */
void cw_tls_server_ctx_free(struct cw_tls_server_ctx *ctx);

/*
 * Makes @key the current ticket key and the current one the previous one;
 * the key before that is forgotten, so its tickets fall back to a full
 * handshake. Tickets under the previous key are still accepted and renewed
 * under the current one. Safe while handshakes run on other threads.
 * Returns 0, or -EINVAL when @key has the current key's name (bytes 0..16).
 */
int cw_tls_server_ctx_rotate_ticket_key(struct cw_tls_server_ctx *ctx,
					const uint8_t key[CW_TLS_TICKET_KEY_LEN]);

/* Agent context; as cw_tls_server_ctx_new(). */
int cw_tls_client_ctx_new(const struct cw_tls_client_cfg *cfg, const struct cw_alloc *a,
			  struct cw_tls_client_ctx **out);
void cw_tls_client_ctx_free(struct cw_tls_client_ctx *ctx);

/*
 * A gateway handshake, waiting for the agent's ClientHello. @wall_time is
 * the time certificates are checked against. Returns 0 and *@out, -EINVAL,
 * or -ENOMEM.
 */
int cw_tls_server_conn_new(const struct cw_tls_server_ctx *ctx, int64_t wall_time,
			   struct cw_tls_conn **out);

/*
 * An agent handshake. Its ClientHello is queued at once in the INITIAL
 * out-queue. @ticket (NULL or @ticket_len 0: none) is what
 * cw_tls_conn_ticket() gave on an earlier session; one that does not parse
 * or is not a TLS 1.3 session is ignored and the handshake is a full one.
 * Returns 0 and *@out, -EINVAL, -ENOMEM, or -EPROTO when TLS fails to
 * produce a ClientHello.
 */
int cw_tls_client_conn_new(const struct cw_tls_client_ctx *ctx, int64_t wall_time,
			   const uint8_t *ticket, size_t ticket_len, struct cw_tls_conn **out);

/*
 * Frees @c and everything it holds, wiping the secrets (NULL is a no-op).
 */
void cw_tls_conn_free(struct cw_tls_conn *c);

/*
 * Passes the peer's next contiguous CRYPTO bytes of @level (CW_PKT_INITIAL
 * or CW_PKT_HANDSHAKE) to TLS and runs the handshake as far as they allow.
 * §7.2 fixes what may arrive where:
 *  - the agent receives no Initial CRYPTO data (the gateway's INITIALs
 *    carry none): any is -EPROTO;
 *  - the gateway receives the ClientHello as Initial data and everything
 *    after it as Handshake data. Handshake bytes before the ClientHello is
 *    complete give -EAGAIN and are not consumed (keep them buffered and
 *    feed them again after more Initial data); Initial bytes after it
 *    give -EPROTO.
 * Returns 0 (see cw_tls_conn_state(); new output may be queued),
 * -EMSGSIZE when the level's total passes CW_TLS_CRYPTO_MAX
 * (CRYPTO_BUFFER_EXCEEDED), -EACCES when the peer's certificate was
 * refused (missing, failed verification, expired, or no valid node name),
 * -EPROTO when the handshake failed otherwise or, on the agent after
 * completion, anything but NewSessionTicket arrived (application data,
 * KeyUpdate: unexpected_message), -ENOMEM, -EINVAL. After
 * -EACCES and -EPROTO the conn is CW_TLS_FAILED and cw_tls_conn_alert()
 * names the alert for CONNECTION_CLOSE; queued output is discarded.
 * Bytes after TLS was released are ignored (returns 0). Failures other
 * than -EAGAIN and -EINVAL are sticky: later calls return the same code.
 */
int cw_tls_conn_feed(struct cw_tls_conn *c, enum cw_pkt_type level, const uint8_t *data,
		     size_t len);

/* Bytes queued to be sent in CRYPTO frames of @level (0 for other levels). */
size_t cw_tls_conn_pending(const struct cw_tls_conn *c, enum cw_pkt_type level);

/*
 * Moves up to @cap queued bytes of @level into @buf, in stream order, and
 * returns how many. The caller owns them from then on (retransmission
 * included): the module keeps no copy.
 */
size_t cw_tls_conn_take(struct cw_tls_conn *c, enum cw_pkt_type level, uint8_t *buf, size_t cap);

enum cw_tls_state cw_tls_conn_state(const struct cw_tls_conn *c);

/*
 * The TLS alert description of a failed handshake: the one TLS sent, or
 * the one this module decided on (access_denied for a bad node name,
 * no_application_protocol for a missing ALPN); CONNECTION_CLOSE carries
 * CW_TLS_CRYPTO_ERROR(alert). 0 while not failed, and 0 when the failure
 * was not TLS's: -EMSGSIZE (close with CRYPTO_BUFFER_EXCEEDED) or CRYPTO
 * data at a level §7.2 does not allow (-EPROTO: PROTOCOL_VIOLATION).
 */
uint8_t cw_tls_conn_alert(const struct cw_tls_conn *c);

/*
 * Copies the two exported traffic secrets (§6.3) and the AEAD of the
 * negotiated suite. Returns 0, or -EAGAIN unless CW_TLS_COMPLETE.
 */
int cw_tls_conn_secrets(const struct cw_tls_conn *c, uint8_t client[CW_SECRET_LEN],
			uint8_t server[CW_SECRET_LEN], enum cw_aead_alg *alg);

/* Whether the completed handshake resumed a session from a ticket. */
bool cw_tls_conn_resumed(const struct cw_tls_conn *c);

/*
 * Gateway: the agent's node name (NUL-terminated, 1..253 bytes), from the
 * certificate it presented or the one stored in its ticket. NULL unless
 * CW_TLS_COMPLETE on a gateway conn.
 */
const char *cw_tls_conn_node_name(const struct cw_tls_conn *c);

/*
 * Agent: the latest session ticket received, serialised, for the next
 * cw_tls_client_conn_new(); *@len is set. NULL until one arrived (or when
 * it exceeded CW_TLS_TICKET_MAX). Stays valid until the next feed or free.
 */
const uint8_t *cw_tls_conn_ticket(const struct cw_tls_conn *c, size_t *len);

/*
 * Frees the SSL object now; later peer bytes are ignored. The agent calls
 * it once its handshake is confirmed (§7.6). Queued output and results
 * stay. Idempotent.
 */
void cw_tls_conn_release_tls(struct cw_tls_conn *c);

/* Whether @c still holds an SSL object. */
bool cw_tls_conn_has_tls(const struct cw_tls_conn *c);

/*
 * Handshake work of this conn, so that tests and counters can tell a full
 * handshake from a resumed one: certificates checked by the verify
 * callback (each chain element), and CertificateVerify messages sent
 * (signatures made) and received (signatures checked).
 */
struct cw_tls_counters {
	uint32_t certs_verified;
	uint32_t cert_verify_sent;
	uint32_t cert_verify_received;
};
void cw_tls_conn_counters(const struct cw_tls_conn *c, struct cw_tls_counters *out);

/*
 * Whether @name[0..@len) is a valid Kubernetes node name: a DNS-1123
 * subdomain of 1..253 bytes (lower-case letters, digits, '-' and '.', each
 * dot-separated label starting and ending with a letter or digit).
 */
bool cw_tls_node_name_valid(const char *name, size_t len);

/*
 * The node name the first certificate of @cert names, as the gateway reads
 * it (SAN URI causeway:node:<name>, else the single CN=node:<name>), into
 * @out as a C string: the agent's Hello.node_name when none is configured.
 * Returns 0, -EINVAL, -EBADMSG when no certificate can be read, or -EACCES
 * when it names no valid node.
 */
int cw_tls_cert_node_name(const struct cw_tls_pem *cert, char out[CW_TLS_NODE_NAME_MAX + 1]);

#endif /* CW_TLS_H */
