/* SPDX-License-Identifier: Apache-2.0 */
#include "reset.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

int cw_reset_token(const uint8_t key[CW_RESET_KEY_LEN], const uint8_t cid[CW_CID_LEN],
		   uint8_t token[CW_RESET_TOKEN_LEN])
{
	uint8_t mac[EVP_MAX_MD_SIZE];
	size_t n = 0;

	if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, CW_RESET_KEY_LEN, cid, CW_CID_LEN,
		       mac, sizeof(mac), &n) ||
	    n < CW_RESET_TOKEN_LEN)
		return -EIO;
	memcpy(token, mac, CW_RESET_TOKEN_LEN);
	OPENSSL_cleanse(mac, sizeof(mac));
	return 0;
}

int cw_reset_build(uint8_t *out, size_t cap, size_t trigger_len,
		   const uint8_t token[CW_RESET_TOKEN_LEN], const uint8_t *random,
		   size_t random_len)
{
	size_t len;

	if (trigger_len < CW_RESET_TRIGGER_MIN)
		return -EINVAL;
	len = cw_reset_len(trigger_len);
	if (cap < len || random_len < len)
		return -ENOSPC;
	/* Indistinguishable from a short header: fixed bit set, the rest
	 * random. */
	out[0] = (uint8_t)(0x40 | (random[0] & 0x07));
	memcpy(out + 1, random + 1, len - 1 - CW_RESET_TOKEN_LEN);
	memcpy(out + len - CW_RESET_TOKEN_LEN, token, CW_RESET_TOKEN_LEN);
	return (int)len;
}

bool cw_reset_match(const uint8_t *d, size_t len, const uint8_t token[CW_RESET_TOKEN_LEN])
{
	return len >= CW_RESET_MIN_LEN &&
	       CRYPTO_memcmp(d + len - CW_RESET_TOKEN_LEN, token, CW_RESET_TOKEN_LEN) == 0;
}
