/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Packet protection (PROTOCOL.md §6.4-6.8).
 *
 * A struct cw_aead is one key in one direction: its cipher context gets the
 * cipher and key once, at init, so a packet only costs setting the nonce
 * (iv XOR the packet number) and the AEAD itself, with no allocation and no
 * algorithm lookup on the fast path. The tag (16 bytes) follows the
 * ciphertext. Contexts are not shared: one owner thread per object.
 *
 * The context is the provider's own, driven through the functions the
 * provider exports for the cipher (OSSL_PROVIDER_query_operation(), public
 * since OpenSSL 3.0, looked up once per process), not an EVP_CIPHER_CTX: on 3.0 every EVP init with
 * a nonce asks the provider for the IV length by parameter name, ~40 % of the instructions of a
 * small packet (perf/RESULTS.md, issue 3).
 *
 * A struct cw_keyset holds the 1-RTT keys of a session across key updates
 * (RFC 9001 §6 semantics): the current send and receive keys, the receive
 * keys of the next phase, derived in advance so that a peer's update is
 * recognised by trial decryption without a derivation on the packet path,
 * and the previous receive keys, kept for packets reordered across an
 * update until the caller (after 3 PTO) discards them. Every key is kept
 * as bytes too, and a cipher context (about 1 KiB in OpenSSL, the largest
 * part of an idle session) is made only when a packet needs it: the next
 * phase's at the first packet of the other phase or at our own update, and
 * the current ones again after cw_keyset_sleep(). Sealing and opening
 * allocate only then; a key update does (see cw_keyset_update()).
 */
#ifndef CW_AEAD_H
#define CW_AEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/core_dispatch.h>
#include <openssl/evp.h>

#include "keys.h"

#define CW_AEAD_TAG_LEN 16
/* Longest plaintext one call takes (EVP lengths are ints). */
#define CW_AEAD_MAX_LEN (1u << 30)

/* The provider's functions for one cipher and direction. The cipher they
 * come from is fetched once per process and kept, so they stay valid. */
struct cw_aead_fns {
	OSSL_FUNC_cipher_encrypt_init_fn *init; /* decrypt_init on an opening context */
	OSSL_FUNC_cipher_update_fn *update;
	OSSL_FUNC_cipher_final_fn *final;
	OSSL_FUNC_cipher_get_ctx_params_fn *get_params;
	OSSL_FUNC_cipher_set_ctx_params_fn *set_params;
	OSSL_FUNC_cipher_freectx_fn *freectx;
};

struct cw_aead {
	void *ctx;		      /* the provider's cipher context; NULL: not set up */
	const struct cw_aead_fns *fn; /* found once per process, cipher and direction */
	uint8_t iv[CW_IV_LEN];
	bool seal; /* an encryption context can't open and vice versa */
};

/*
 * Nonce of packet number @pn: @iv XOR @pn as 8 bytes big-endian, left-padded
 * with zeros to 12 bytes. A packet number is never reused under one key, so
 * neither is a nonce.
 */
void cw_aead_nonce(const uint8_t iv[CW_IV_LEN], uint64_t pn, uint8_t nonce[CW_IV_LEN]);

/*
 * Set up @a to seal (@seal true) or open packets with @alg and @keys
 * (key_len must match @alg). On error @a is left zeroed, and
 * cw_aead_free() on it is a no-op. Returns 0, -EINVAL, -ENOMEM, or -EIO.
 */
int cw_aead_init(struct cw_aead *a, enum cw_aead_alg alg, const struct cw_pkt_keys *keys,
		 bool seal);

/* Release the context and wipe the IV; @a may be zeroed or already freed. */
void cw_aead_free(struct cw_aead *a);

/*
 * Encrypt @in_len bytes of @in as packet @pn, authenticating @aad too, into
 * @out: @in_len bytes of ciphertext followed by the CW_AEAD_TAG_LEN tag.
 * @out may equal @in (in place; other overlaps are not allowed) and must
 * have room for @in_len + CW_AEAD_TAG_LEN bytes. Returns 0, -EINVAL (not a
 * sealing context), -EMSGSIZE (@in_len or @aad_len over CW_AEAD_MAX_LEN),
 * or -EIO.
 */
int cw_aead_seal(struct cw_aead *a, uint64_t pn, const uint8_t *aad, size_t aad_len,
		 const uint8_t *in, size_t in_len, uint8_t *out);

/*
 * Verify and decrypt the @in_len bytes of @in (ciphertext then tag) of
 * packet @pn with associated data @aad into @out (@in_len -
 * CW_AEAD_TAG_LEN bytes; @out may equal @in). Returns 0, or -EBADMSG when
 * the tag does not verify or @in is shorter than a tag: @out's bytes are then
 * zeroed, so unauthenticated plaintext never reaches the caller. -EINVAL
 * for a sealing context, -EMSGSIZE for oversized input, -EIO.
 */
int cw_aead_open(struct cw_aead *a, uint64_t pn, const uint8_t *aad, size_t aad_len,
		 const uint8_t *in, size_t in_len, uint8_t *out);

/*
 * RETRY integrity tag (PROTOCOL.md §6.8, as RFC 9001 §5.8): the AES-128-GCM
 * tag of an empty plaintext under a fixed key and nonce, with associated
 * data = ODCID length (1 byte) || original DCID || RETRY packet without its
 * tag. It catches corruption and RETRYs forged by anyone who has not seen
 * the agent's INITIAL; the key is public, so it is no authentication.
 */
extern const uint8_t cw_retry_key[16];	 /* SHA-256("causeway retry key v1")[0..16) */
extern const uint8_t cw_retry_nonce[12]; /* SHA-256("causeway retry nonce v1")[0..12) */

/*
 * Set up @a (a sealing context: verifying recomputes the tag) with the
 * fixed key, once per thread. Free it with cw_aead_free(). Returns as
 * cw_aead_init().
 */
int cw_retry_init(struct cw_aead *a);

/*
 * Compute into @tag the tag of the RETRY packet @pkt (@pkt_len bytes, up
 * to the end of the token) sent in answer to an INITIAL whose DCID was
 * @odcid (0..20 bytes). Returns 0, -EINVAL, -EMSGSIZE, or -EIO.
 */
int cw_retry_tag(struct cw_aead *a, const uint8_t *odcid, size_t odcid_len, const uint8_t *pkt,
		 size_t pkt_len, uint8_t tag[CW_AEAD_TAG_LEN]);

/*
 * Check the tag at the end of the received RETRY @pkt (@pkt_len bytes,
 * tag included) against the DCID @odcid the agent sent. Returns 0,
 * -EBADMSG when it does not match or @pkt is shorter than a tag, -EINVAL,
 * -EMSGSIZE, or -EIO.
 */
int cw_retry_verify(struct cw_aead *a, const uint8_t *odcid, size_t odcid_len, const uint8_t *pkt,
		    size_t pkt_len);

/* Which receive keys a packet is (or would be) opened with. */
enum cw_key_epoch {
	CW_KEY_CURRENT = 0,
	CW_KEY_PREVIOUS,  /* before the last update: reordered old packets */
	CW_KEY_NEXT,	  /* the peer started a key update */
	CW_KEY_DISCARDED, /* previous phase, keys already discarded: drop */
};

struct cw_keyset {
	struct cw_aead tx;
	struct cw_aead rx;
	struct cw_aead rx_next;		     /* ctx NULL until a packet needs it */
	struct cw_aead rx_prev;		     /* only while has_prev */
	struct cw_pkt_keys tx_keys, rx_keys; /* of tx and rx, for their contexts */
	struct cw_pkt_keys rx_next_keys;     /* of rx_next */
	uint8_t tx_secret[CW_SECRET_LEN];
	uint8_t rx_next_secret[CW_SECRET_LEN]; /* secret of rx_next */
	uint64_t rx_first_pn;		       /* lowest pn opened with rx; UINT64_MAX: none yet */
	uint64_t updates;		       /* number of key updates so far */
	enum cw_aead_alg alg;
	uint8_t phase; /* key_phase bit of the current keys */
	bool has_prev;
};

/*
 * Set up @ks from the two directions' secrets of the handshake (for the
 * agent @tx_secret is the client secret, for the gateway the server one).
 * Phase 0, no previous keys. The secrets are copied; the caller wipes its
 * own. On error @ks is left freed. Returns 0, -EINVAL, -ENOMEM, or -EIO.
 */
int cw_keyset_init(struct cw_keyset *ks, enum cw_aead_alg alg,
		   const uint8_t tx_secret[CW_SECRET_LEN], const uint8_t rx_secret[CW_SECRET_LEN]);

/* Release every context and wipe every secret; safe on a freed @ks. */
void cw_keyset_free(struct cw_keyset *ks);

/* The key_phase bit to put in the short header of a packet sent now. */
static inline unsigned cw_keyset_tx_phase(const struct cw_keyset *ks)
{
	return ks->phase;
}

/*
 * Seal packet @pn with the current send keys (see cw_aead_seal()); makes
 * their context first after cw_keyset_sleep() (-ENOMEM, -EIO).
 */
int cw_keyset_seal(struct cw_keyset *ks, uint64_t pn, const uint8_t *aad, size_t aad_len,
		   const uint8_t *in, size_t in_len, uint8_t *out);

/*
 * The receive keys a packet with key_phase bit @phase (only bit 0 counts)
 * and (reconstructed) packet number @pn would be opened with (PROTOCOL.md
 * §6.6): the current ones when the bit matches; otherwise, when @pn is
 * below every packet opened with the current keys, or none has been yet
 * after our own update, the previous ones (CW_KEY_DISCARDED once they are
 * gone); else the next ones. Lets the caller pick the replay window before
 * decrypting.
 */
enum cw_key_epoch cw_keyset_rx_epoch(const struct cw_keyset *ks, unsigned phase, uint64_t pn);

/*
 * Open a packet with the keys cw_keyset_rx_epoch() picks (see
 * cw_aead_open() for the buffers), and store that epoch in *@epoch (may be
 * NULL). When the next keys verify the packet the peer has updated: @ks
 * moves to the next phase (as cw_keyset_update()), so the caller answers
 * with the new keys. The first packet tried with the next keys makes their
 * context, kept for the packets after it, as the first packet after
 * cw_keyset_sleep() makes the current ones'. Returns 0; -EBADMSG (nothing
 * about @ks changes but that context); -ENOKEY for CW_KEY_DISCARDED
 * (nothing decrypted); -ENOMEM or -EIO when making that context fails
 * (nothing decrypted, nothing changed); the other errors of cw_aead_open();
 * -ENOMEM or -EIO with the plaintext wiped when the update a verified
 * packet triggers fails (see cw_keyset_update()).
 */
int cw_keyset_open(struct cw_keyset *ks, unsigned phase, uint64_t pn, const uint8_t *aad,
		   size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *out,
		   enum cw_key_epoch *epoch);

/*
 * Start a key update: flip the phase, send with keys from the next send
 * secret, receive with the pre-derived next keys, keep the current receive
 * keys as the previous ones (replacing any still held) and derive the
 * receive keys of the phase after. The caller enforces the preconditions of
 * PROTOCOL.md §6.6 (handshake confirmed, a packet of the current phase
 * acknowledged). Not a per-packet cost: the derivations allocate
 * OpenSSL's KDF contexts, and the contexts of the current keys (after
 * cw_keyset_sleep()) and of the new receive keys are made unless they
 * exist; the previous keys' context, if still held, is freed, and the keys
 * of the phase after are kept as bytes.
 * Returns 0; -EINVAL for a freed @ks; -ENOMEM or -EIO with @ks unchanged
 * (but for those contexts, some of which may have been made) when a
 * derivation or a context fails; -EIO when OpenSSL fails to re-key the
 * send context (no allocation is involved, so only a broken library
 * would): then @ks must not be used again, free it and close the session.
 */
int cw_keyset_update(struct cw_keyset *ks);

/* Forget the previous receive keys (3 PTO after an update) and free their
 * context. */
void cw_keyset_discard_prev(struct cw_keyset *ks);

/*
 * Free the contexts of the current and next keys, keeping the keys: for a
 * session that has had no packet for a while, so that it holds about
 * 2 KiB less. The next packet sealed or opened makes its context again
 * (a few microseconds). The previous keys are not touched.
 */
void cw_keyset_sleep(struct cw_keyset *ks);

/* Whether @ks holds any context of its current or next keys. */
static inline bool cw_keyset_awake(const struct cw_keyset *ks)
{
	return ks->tx.ctx || ks->rx.ctx || ks->rx_next.ctx;
}

#endif
