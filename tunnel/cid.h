/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Gateway connection IDs (PROTOCOL.md §4.2).
 *
 * A CID the gateway issues names the worker that owns the session and the
 * session's slot in that worker's table, so a packet that lands on the
 * wrong worker (RSS hashes the 5-tuple, which a NAT rebinding changes) can
 * be forwarded to its owner without a shared table. On the wire the CID
 * must still look random: a visible worker or slot would let an observer
 * link a client's packets across address changes and count sessions.
 *
 * Plaintext, 64 bits big-endian: worker (8) | slot (24) | nonce (32).
 * It is encrypted with a 4-round Feistel network on its two 32-bit halves
 * L = worker|slot and R = nonce: round i = 0..3 maps (L, R) to
 * (R, L ^ F_i(R)), and F_i(R) is the first 4 bytes of
 * AES-128-ECB(K, i (1 byte) | R (4 bytes, big-endian) | 11 zero bytes).
 * The result is L | R after the 4th round. A 64-bit block permutation: CIDs
 * of distinct plaintexts never collide, and decoding needs no table.
 *
 * The AES key schedule is set up once at init; encoding or decoding costs
 * four AES blocks and no allocation. Not thread-safe: one codec per worker,
 * all keyed with the gateway-wide K.
 */
#ifndef CW_CID_H
#define CW_CID_H

#include <stdint.h>

#include <openssl/evp.h>

#include "header.h" /* CW_CID_LEN */

#define CW_CID_KEY_LEN	16
#define CW_CID_SLOT_MAX 0xffffffu /* 24 bits */

struct cw_cid_codec {
	EVP_CIPHER_CTX *ctx;
};

/*
 * Key @c with @key. On error @c is left zeroed. Returns 0, -EINVAL,
 * -ENOMEM, or -EIO.
 */
int cw_cid_codec_init(struct cw_cid_codec *c, const uint8_t key[CW_CID_KEY_LEN]);

/* Release the context; safe on a zeroed or freed @c. */
void cw_cid_codec_free(struct cw_cid_codec *c);

/*
 * Write the CID of (@worker, @slot, @nonce) into @cid. The caller draws
 * @nonce at random per CID so that two CIDs of one slot are unlinkable.
 * Returns 0, -EINVAL when @slot exceeds CW_CID_SLOT_MAX, -EIO.
 */
int cw_cid_encode(const struct cw_cid_codec *c, uint8_t worker, uint32_t slot, uint32_t nonce,
		  uint8_t cid[CW_CID_LEN]);

/*
 * Recover worker, slot and nonce from @cid. Every 8-byte string decodes to
 * something (the agent's own random CIDs too): the caller checks the result
 * against its tables, e.g. that the worker exists. Any output pointer may
 * be NULL. Returns 0, -EINVAL, or -EIO.
 */
int cw_cid_decode(const struct cw_cid_codec *c, const uint8_t cid[CW_CID_LEN], uint8_t *worker,
		  uint32_t *slot, uint32_t *nonce);

#endif
