/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stateless reset (PROTOCOL.md §11.4).
 *
 * A gateway that restarted, or that discarded a session, cannot decrypt
 * what the agent still sends. Instead of letting the agent wait out its
 * idle timeout it answers with a datagram that looks like a short-header
 * packet and ends with a 16-byte token only the session's gateway could
 * compute: HMAC-SHA256(reset_key, gateway CID)[0..16). The agent learned
 * the token in HelloAck, so a match ends the session at once.
 *
 * A reset is always shorter than the datagram that triggered it, so two
 * endpoints that both reset can never loop.
 */
#ifndef CW_RESET_H
#define CW_RESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "header.h" /* CW_CID_LEN */

#define CW_RESET_KEY_LEN     32
#define CW_RESET_TOKEN_LEN   16
#define CW_RESET_MIN_LEN     26 /* shortest reset, and shortest datagram checked */
#define CW_RESET_MAX_LEN     42
#define CW_RESET_TRIGGER_MIN (CW_RESET_MIN_LEN + 1)

/*
 * The reset token of gateway CID @cid under @key. Returns 0, or -EIO when
 * OpenSSL fails. Off the fast path: it fetches HMAC on every call.
 */
int cw_reset_token(const uint8_t key[CW_RESET_KEY_LEN], const uint8_t cid[CW_CID_LEN],
		   uint8_t token[CW_RESET_TOKEN_LEN]);

/* Length of the reset answering a datagram of @trigger_len bytes. */
static inline size_t cw_reset_len(size_t trigger_len)
{
	size_t n = trigger_len - 1;

	if (n > CW_RESET_MAX_LEN)
		n = CW_RESET_MAX_LEN;
	return n < CW_RESET_MIN_LEN ? CW_RESET_MIN_LEN : n;
}

/*
 * Write into @out (room for @cap bytes) the reset answering a datagram of
 * @trigger_len bytes: first byte 0x40 | (random[0] & 7), then bytes from
 * @random, then @token. @random must hold at least cw_reset_len() bytes
 * (the caller's RNG: this module has none). Returns the length written,
 * -EINVAL when @trigger_len < CW_RESET_TRIGGER_MIN (no reset is sent, so a
 * reset can never answer a reset), -ENOSPC when @cap or @random_len is too
 * small.
 */
int cw_reset_build(uint8_t *out, size_t cap, size_t trigger_len,
		   const uint8_t token[CW_RESET_TOKEN_LEN], const uint8_t *random,
		   size_t random_len);

/*
 * True when datagram @d of @len bytes is a reset carrying @token: at least
 * CW_RESET_MIN_LEN bytes and its last 16 equal to @token (compared in
 * constant time). The agent asks only about datagrams it could not process
 * as packets of its session.
 */
bool cw_reset_match(const uint8_t *d, size_t len, const uint8_t token[CW_RESET_TOKEN_LEN]);

#endif
