/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key schedule of the tunnel (PROTOCOL.md §6.1-6.3).
 *
 * Every packet key comes from a 32-byte secret through HKDF-Expand-Label as
 * TLS 1.3 defines it (RFC 8446 §7.1) with SHA-256, but with the label prefix
 * "cw1 " instead of "tls13 ": a key derived here can never collide with one
 * TLS or QUIC derives from the same secret. The secrets themselves come from
 * the DCID of the agent's first INITIAL (long-header packets, which only
 * need integrity) or from the TLS exporter once the handshake is done.
 *
 * Derivation runs at handshake and key update, never per packet, so each
 * call fetches its KDF from the default library context and frees it again:
 * nothing is cached, nothing global is written. All outputs are secret; the
 * functions wipe their intermediates and the caller wipes what it keeps.
 */
#ifndef CW_KEYS_H
#define CW_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#define CW_SECRET_LEN	    32 /* SHA-256 output: every secret */
#define CW_IV_LEN	    12 /* AEAD nonce length of both ciphers */
#define CW_KEY_MAX	    32
#define CW_INITIAL_SALT_LEN 16
#define CW_HKDF_LABEL_MAX   251 /* 255 minus the "cw1 " prefix */
#define CW_HKDF_CONTEXT_MAX 255

/* Labels of SSL_export_keying_material(): one secret per direction. */
#define CW_EXPORTER_CLIENT "EXPORTER-causeway client secret"
#define CW_EXPORTER_SERVER "EXPORTER-causeway server secret"

enum cw_aead_alg {
	CW_AEAD_AES_128_GCM = 0, /* default: AES-NI and PCLMUL everywhere we run */
	CW_AEAD_CHACHA20_POLY1305,
};

/* Key and IV of one direction and one key phase. */
struct cw_pkt_keys {
	uint8_t key[CW_KEY_MAX];
	uint8_t iv[CW_IV_LEN];
	uint8_t key_len; /* 16 or 32, from the algorithm */
};

/*
 * The fixed salt of the initial secrets (first 16 bytes of
 * SHA-256("causeway initial salt v1")). A new protocol version takes a new
 * salt, so a peer of another version fails the AEAD instead of misparsing.
 */
extern const uint8_t cw_initial_salt[CW_INITIAL_SALT_LEN];

/* Key length of @alg in bytes, or 0 for an unknown algorithm. */
size_t cw_aead_key_len(enum cw_aead_alg alg);

/*
 * HKDF-Extract with SHA-256 (RFC 5869 §2.2): @prk = HMAC(@salt, @ikm).
 * @salt may be empty (it then acts as 32 zero bytes); @ikm must not be.
 * Returns 0, -EINVAL for a NULL or empty @ikm, -EIO when OpenSSL fails.
 */
int cw_hkdf_extract(const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len,
		    uint8_t prk[CW_SECRET_LEN]);

/*
 * HKDF-Expand with SHA-256 (RFC 5869 §2.3) of @prk (at least 32 bytes) and
 * @info into @out_len bytes (1 .. 255 * 32). Returns 0, -EINVAL for lengths
 * out of range, -EIO when OpenSSL fails.
 */
int cw_hkdf_expand(const uint8_t *prk, size_t prk_len, const uint8_t *info, size_t info_len,
		   uint8_t *out, size_t out_len);

/*
 * HKDF-Expand-Label(@secret, @label, @context, @out_len) with the layout of
 * RFC 8446 §7.1: info = uint16 length || uint8 len || "cw1 " @label ||
 * uint8 len || @context. @label is a C string of 1 .. CW_HKDF_LABEL_MAX
 * bytes, @context 0 .. CW_HKDF_CONTEXT_MAX bytes (NULL when empty), @out_len
 * 1 .. 65535 and within HKDF's 255 * 32. Returns 0, -EINVAL, or -EIO.
 */
int cw_hkdf_expand_label(const uint8_t *secret, size_t secret_len, const char *label,
			 const uint8_t *context, size_t context_len, uint8_t *out, size_t out_len);

/*
 * Packet key and IV of @alg from a direction's @secret:
 * key = Expand-Label(secret, "key", "", keylen), iv = Expand-Label(secret,
 * "iv", "", 12). Returns 0, -EINVAL for an unknown @alg, or -EIO.
 */
int cw_keys_derive(const uint8_t secret[CW_SECRET_LEN], enum cw_aead_alg alg,
		   struct cw_pkt_keys *out);

/*
 * The secret of the next key phase: Expand-Label(@secret, "ku", "", 32).
 * @next may alias @secret. Returns 0 or -EIO.
 */
int cw_keys_next_secret(const uint8_t secret[CW_SECRET_LEN], uint8_t next[CW_SECRET_LEN]);

/*
 * INITIAL-packet secrets of a connection attempt from @dcid, the original
 * DCID of the agent's first INITIAL, kept for the whole attempt even after
 * a RETRY (PROTOCOL.md §6.2), 1 .. 20 bytes (version 1 uses 8):
 * initial = Extract(cw_initial_salt, dcid), client = Expand-Label(initial,
 * "client in", "", 32), server likewise with "server in". Anyone who sees
 * the first packet can compute them: they protect against corruption and
 * blind injection, not eavesdropping. Returns 0, -EINVAL, or -EIO.
 */
int cw_keys_initial(const uint8_t *dcid, size_t dcid_len, uint8_t client[CW_SECRET_LEN],
		    uint8_t server[CW_SECRET_LEN]);

/*
 * HANDSHAKE-packet secrets of the same attempt: as cw_keys_initial() with
 * the labels "client hs" and "server hs". INITIAL and HANDSHAKE packet
 * numbers are independent, so sharing one key would repeat GCM nonces.
 */
int cw_keys_handshake(const uint8_t *dcid, size_t dcid_len, uint8_t client[CW_SECRET_LEN],
		      uint8_t server[CW_SECRET_LEN]);

/*
 * Export the two traffic secrets of a completed TLS 1.3 handshake on @ssl
 * (client or server side: both get the same pair) with the labels
 * CW_EXPORTER_CLIENT and CW_EXPORTER_SERVER, no context. @client protects
 * what the client (agent) sends, @server what the gateway sends. Call it
 * before freeing @ssl. Returns 0, -EAGAIN while the handshake is not
 * finished, -EPROTO when the negotiated version is not TLS 1.3 (the
 * exporter of older versions is bound to weaker key schedules), or -EIO.
 */
int cw_keys_export(SSL *ssl, uint8_t client[CW_SECRET_LEN], uint8_t server[CW_SECRET_LEN]);

/*
 * The AEAD of the 1-RTT keys, which follows the negotiated cipher suite:
 * TLS_AES_128_GCM_SHA256 gives AES-128-GCM, TLS_CHACHA20_POLY1305_SHA256
 * ChaCha20-Poly1305. Returns 0, -EAGAIN before a suite is negotiated,
 * -EPROTO for any other suite (the TLS profile allows only these two).
 */
int cw_keys_suite_alg(const SSL *ssl, enum cw_aead_alg *alg);

#endif
