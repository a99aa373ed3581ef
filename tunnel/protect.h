/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Packet protection of one packet number space (PROTOCOL.md §5, §6.4,
 * §6.5): header, packet number truncation and reconstruction, AEAD, and
 * the anti-replay window, in the order §6.5 prescribes, so that the
 * connection hands in a datagram's packet and gets back authenticated
 * frames (or a reason to drop it), and hands in frames and gets back a
 * packet.
 *
 * Long-header spaces (Initial, Handshake) always use AES-128-GCM with the
 * secrets of keys.h and one replay window. The 1-RTT space uses a keyset
 * (aead.h) with key phases and keeps one window per receive key epoch, so
 * a key update never lets an old packet number through again. The next
 * phase's window needs no storage: nothing is committed to it before its
 * keys become the current ones, so it is always empty until then. The
 * previous phase's window (272 bytes) is allocated, through the injected
 * allocator, at a key update and freed with the previous keys, so a
 * session between updates holds only the current one.
 *
 * Nothing here allocates per packet; opening works in place. Not
 * thread-safe: a space belongs to its session's worker.
 */
#ifndef CW_PROTECT_H
#define CW_PROTECT_H

#include <stddef.h>
#include <stdint.h>

#include "aead.h"
#include "alloc.h"
#include "header.h"
#include "replay.h"

struct cw_protect_long {
	struct cw_aead tx, rx;
	struct cw_replay win;
	uint64_t largest; /* largest authenticated packet number; CW_PN_NONE */
};

struct cw_protect_short {
	struct cw_keyset keys;
	struct cw_replay win;	    /* of the current receive keys */
	struct cw_replay *prev_win; /* of the previous ones, while kept */
	const struct cw_alloc *a;
	uint64_t largest; /* across epochs; CW_PN_NONE */
};

/*
 * Set up a long-header space from the two 32-byte secrets of keys.h
 * (cw_keys_initial() or cw_keys_handshake(): the agent sends with the
 * client secret, the gateway with the server one). On error @p is left
 * freed. Returns 0, -ENOMEM or -EIO.
 */
int cw_protect_long_init(struct cw_protect_long *p, const uint8_t tx_secret[CW_SECRET_LEN],
			 const uint8_t rx_secret[CW_SECRET_LEN]);

/* Release the contexts (discarding the space); safe on a freed @p. */
void cw_protect_long_free(struct cw_protect_long *p);

/*
 * Write at @out (room for @cap bytes) the INITIAL or HANDSHAKE packet @s
 * with packet number @s->pn carrying @len (>= 1) bytes of frames @frames,
 * sealed. @s->pn_len and @s->payload_len are set here: the packet number
 * is truncated against @largest_acked, the peer's largest acknowledged
 * (CW_PN_NONE: none). @frames may be at the position the payload will
 * take (in place). Returns the packet length; -EINVAL (empty @frames, or a
 * header cw_hdr_encode_long() refuses), -ERANGE, -EMSGSIZE (does not fit
 * @cap), or the errors of cw_aead_seal().
 */
int cw_protect_long_seal(struct cw_protect_long *p, uint8_t *out, size_t cap, struct cw_long_hdr *s,
			 uint64_t largest_acked, const uint8_t *frames, size_t len);

/*
 * Authenticate and decrypt, in place, the long-header packet at @pkt whose
 * header @h cw_hdr_decode() filled (INITIAL or HANDSHAKE). On success
 * *@frames and *@len give the plaintext (inside @pkt), *@pn the full packet
 * number, and the window and largest packet number move. Errors (drop the
 * packet; nothing changed): -EINVAL (not a long-header packet with a
 * payload), -ERANGE (packet number space exhausted), -EEXIST (a replay),
 * -ESTALE (too old for the window), -EBADMSG (the tag failed: the payload
 * bytes are then zeroed).
 */
int cw_protect_long_open(struct cw_protect_long *p, uint8_t *pkt, const struct cw_hdr *h,
			 const uint8_t **frames, size_t *len, uint64_t *pn);

/*
 * Set up the 1-RTT space with @alg from the exported secrets (keys.h);
 * the previous phase's window will come from @a (NULL: cw_alloc_default()),
 * which must outlive @p. Returns as cw_keyset_init().
 */
int cw_protect_short_init(struct cw_protect_short *p, enum cw_aead_alg alg,
			  const uint8_t tx_secret[CW_SECRET_LEN],
			  const uint8_t rx_secret[CW_SECRET_LEN], const struct cw_alloc *a);

void cw_protect_short_free(struct cw_protect_short *p);

/*
 * Start a key update of our own (PROTOCOL.md §6.6; the caller checks the
 * preconditions). The receive windows move with the keys; when the
 * previous phase's window cannot be allocated, the previous keys are
 * discarded at once (their reordered packets are then dropped). Returns as
 * cw_keyset_update().
 */
int cw_protect_short_update(struct cw_protect_short *p);

/* Forget the previous receive keys and their window (3 PTO after an
 * update, §6.6). */
void cw_protect_short_discard_prev(struct cw_protect_short *p);

/*
 * The length of the short header cw_protect_short_seal() writes for packet
 * @pn with @largest_acked: frames built at that offset in its @out are
 * sealed in place, without a copy. Returns 1 + CW_CID_LEN + the packet
 * number's length, or -EINVAL as cw_pn_len().
 */
int cw_protect_short_hdr_len(uint64_t pn, uint64_t largest_acked);

/*
 * Write at @out a short-header packet to @dcid with packet number @pn
 * (truncated against @largest_acked) carrying @len >= 1 bytes of @frames,
 * sealed with the current keys and phase. @frames may be at the position
 * the payload will take (in place, see cw_protect_short_hdr_len()).
 * Returns the packet length, or -EINVAL, -ERANGE, -EMSGSIZE, or the errors
 * of cw_keyset_seal().
 */
int cw_protect_short_seal(struct cw_protect_short *p, uint8_t *out, size_t cap,
			  const uint8_t dcid[CW_CID_LEN], uint64_t pn, uint64_t largest_acked,
			  const uint8_t *frames, size_t len);

/*
 * As cw_protect_long_open() for a short-header packet. A packet under the
 * next keys that verifies means the peer updated its keys: the keyset and
 * the windows move to the new phase (check cw_keyset_tx_phase() to see
 * it), as with cw_protect_short_update(). Additional errors: -ENOKEY (the
 * previous keys are already gone), and those of cw_keyset_open().
 */
int cw_protect_short_open(struct cw_protect_short *p, uint8_t *pkt, const struct cw_hdr *h,
			  const uint8_t **frames, size_t *len, uint64_t *pn);

#endif
