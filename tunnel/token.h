/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stateless retry tokens (PROTOCOL.md §7.3).
 *
 * Before the gateway allocates anything for a new client it can answer with
 * a Retry carrying a token; the client repeats its Initial with the token,
 * which proves it receives packets at its source address. The gateway keeps
 * no state: the token carries the issue time and the client's original DCID
 * and is authenticated with HMAC-SHA256 over those fields and the client's
 * address and port, which are not in the token (the packet supplies them).
 *
 * Layout (all of it in clear; nothing in it is secret):
 *   version (1 byte, 1) | issue time (u32 BE, seconds of the caller's clock) |
 *   odcid length (1 byte, 0..20) | odcid | HMAC-SHA256(...)[0..16)
 * The MAC covers version .. odcid, then the address family (1 byte: 4 or
 * 6), the address (4 or 16 bytes) and the port (u16 BE).
 *
 * Two keys, current and previous: tokens minted just before a rotation
 * still validate. The MAC contexts are keyed once at init/rotate; minting
 * and validating allocate nothing. Not thread-safe: one struct per thread,
 * all given the same keys.
 */
#ifndef CW_TOKEN_H
#define CW_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define CW_TOKEN_VERSION     1
#define CW_TOKEN_KEY_LEN     32
#define CW_TOKEN_ODCID_MAX   20
#define CW_TOKEN_TAG_LEN     16
#define CW_TOKEN_LEN_MIN     (1 + 4 + 1 + CW_TOKEN_TAG_LEN)
#define CW_TOKEN_LEN_MAX     (CW_TOKEN_LEN_MIN + CW_TOKEN_ODCID_MAX)
#define CW_TOKEN_LIFETIME_NS 10000000000ull /* default validity: 10 s */
#define CW_TOKEN_SKEW_NS     1000000000ull  /* default tolerance for a clock ahead */

/* Address family on the wire and in the MAC (not AF_*: those differ by OS). */
#define CW_TOKEN_IPV4 4
#define CW_TOKEN_IPV6 6

struct cw_token_keys {
	EVP_MAC_CTX *cur;
	EVP_MAC_CTX *prev; /* NULL until the first rotation */
	uint64_t lifetime_ns;
	uint64_t skew_ns;
};

/*
 * Key @t with @key (CW_TOKEN_KEY_LEN random bytes). Tokens are valid for
 * @lifetime_ns after minting (0: CW_TOKEN_LIFETIME_NS) and are also accepted
 * if minted up to @skew_ns in the future (0: CW_TOKEN_SKEW_NS; e.g. another
 * thread's clock read slightly later). The wire carries whole seconds, so
 * both are rounded up to seconds and a token lives up to one second longer
 * than asked, never shorter. On error @t is left freed. Returns 0, -EINVAL,
 * -ENOMEM, or -EIO.
 */
int cw_token_init(struct cw_token_keys *t, const uint8_t key[CW_TOKEN_KEY_LEN],
		  uint64_t lifetime_ns, uint64_t skew_ns);

/* Release both MAC contexts; safe on a freed or zeroed @t. */
void cw_token_free(struct cw_token_keys *t);

/*
 * Make @key current and the current key previous; the key before that is
 * forgotten, so every token it minted stops validating. On error @t is
 * unchanged. Returns 0, -EINVAL, -ENOMEM, or -EIO.
 */
int cw_token_rotate(struct cw_token_keys *t, const uint8_t key[CW_TOKEN_KEY_LEN]);

/*
 * Mint a token at @now (ns) for a client at @addr (4 bytes for
 * CW_TOKEN_IPV4, 16 for CW_TOKEN_IPV6, network order) and @port (host
 * order), whose first Initial had DCID @odcid (0..CW_TOKEN_ODCID_MAX bytes),
 * into @out of @out_size bytes. Returns the token length (CW_TOKEN_LEN_MIN +
 * @odcid_len), -EINVAL for a bad family or odcid length, -ENOSPC when @out
 * is too small, -EIO.
 */
int cw_token_mint(struct cw_token_keys *t, uint64_t now, int family, const uint8_t *addr,
		  uint16_t port, const uint8_t *odcid, size_t odcid_len, uint8_t *out,
		  size_t out_size);

/*
 * Check a token received at @now from @addr/@port (as for mint) and copy
 * its original DCID into @odcid (room for CW_TOKEN_ODCID_MAX bytes), its
 * length into *@odcid_len. The MAC is checked (in constant time) before the
 * time so that a forged token learns nothing about the clock. Returns 0,
 * -EBADMSG for a malformed token or one whose MAC fails under both keys
 * (tampered, another address or port, or a forgotten key), -ETIMEDOUT for
 * an authentic token that expired or is dated beyond the skew into the
 * future, -EINVAL for bad arguments, -EIO.
 */
int cw_token_validate(struct cw_token_keys *t, uint64_t now, int family, const uint8_t *addr,
		      uint16_t port, const uint8_t *token, size_t token_len, uint8_t *odcid,
		      size_t *odcid_len);

#endif
