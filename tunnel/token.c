/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "header.h"
#include "token.h"

_Static_assert(CW_TOKEN_LEN_MAX <= CW_TOKEN_MAX_LEN,
	       "a retry token must fit an INITIAL's token field");

#define NS_PER_S    1000000000ull
#define HMAC_LEN    32
#define HDR_LEN	    6 /* version, issue time, odcid length */
#define MAX_ADDRLEN 16

static EVP_MAC_CTX *mac_new(const uint8_t key[CW_TOKEN_KEY_LEN])
{
	OSSL_PARAM params[2];
	EVP_MAC_CTX *ctx;
	EVP_MAC *mac;

	mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
	if (!mac)
		return NULL;
	ctx = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac);
	if (!ctx)
		return NULL;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(ctx, key, CW_TOKEN_KEY_LEN, params) != 1) {
		EVP_MAC_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static uint64_t round_up_s(uint64_t ns, uint64_t dflt)
{
	if (!ns)
		ns = dflt;
	return ns / NS_PER_S + (ns % NS_PER_S != 0);
}

int cw_token_init(struct cw_token_keys *t, const uint8_t key[CW_TOKEN_KEY_LEN],
		  uint64_t lifetime_ns, uint64_t skew_ns)
{
	if (!t)
		return -EINVAL;
	memset(t, 0, sizeof(*t));
	if (!key)
		return -EINVAL;
	t->cur = mac_new(key);
	if (!t->cur)
		return -ENOMEM;
	/* Seconds are what the token carries; kept in ns for the API. */
	t->lifetime_ns = round_up_s(lifetime_ns, CW_TOKEN_LIFETIME_NS) * NS_PER_S;
	t->skew_ns = round_up_s(skew_ns, CW_TOKEN_SKEW_NS) * NS_PER_S;
	return 0;
}

void cw_token_free(struct cw_token_keys *t)
{
	if (!t)
		return;
	EVP_MAC_CTX_free(t->cur);
	EVP_MAC_CTX_free(t->prev);
	t->cur = t->prev = NULL;
}

int cw_token_rotate(struct cw_token_keys *t, const uint8_t key[CW_TOKEN_KEY_LEN])
{
	EVP_MAC_CTX *ctx;

	if (!t || !t->cur || !key)
		return -EINVAL;
	ctx = mac_new(key);
	if (!ctx)
		return -ENOMEM;
	EVP_MAC_CTX_free(t->prev);
	t->prev = t->cur;
	t->cur = ctx;
	return 0;
}

static size_t addr_len(int family)
{
	return family == CW_TOKEN_IPV4 ? 4 : family == CW_TOKEN_IPV6 ? 16 : 0;
}

/* HMAC of the token's fields @body and the client's address with @ctx;
 * re-initialising without a key restarts from the keyed state. */
static int token_mac(EVP_MAC_CTX *ctx, const uint8_t *body, size_t body_len, int family,
		     const uint8_t *addr, uint16_t port, uint8_t out[HMAC_LEN])
{
	uint8_t bound[1 + MAX_ADDRLEN + 2];
	size_t alen = addr_len(family), outl;

	bound[0] = (uint8_t)family;
	memcpy(bound + 1, addr, alen);
	bound[1 + alen] = (uint8_t)(port >> 8);
	bound[2 + alen] = (uint8_t)port;

	if (EVP_MAC_init(ctx, NULL, 0, NULL) != 1 || EVP_MAC_update(ctx, body, body_len) != 1 ||
	    EVP_MAC_update(ctx, bound, 3 + alen) != 1 ||
	    EVP_MAC_final(ctx, out, &outl, HMAC_LEN) != 1 || outl != HMAC_LEN)
		return -EIO;
	return 0;
}

int cw_token_mint(struct cw_token_keys *t, uint64_t now, int family, const uint8_t *addr,
		  uint16_t port, const uint8_t *odcid, size_t odcid_len, uint8_t *out,
		  size_t out_size)
{
	uint8_t mac[HMAC_LEN];
	uint32_t issued;
	size_t n;
	int rc;

	if (!t || !t->cur || !addr_len(family) || !addr || (!odcid && odcid_len) ||
	    odcid_len > CW_TOKEN_ODCID_MAX || !out)
		return -EINVAL;
	n = HDR_LEN + odcid_len;
	if (out_size < n + CW_TOKEN_TAG_LEN)
		return -ENOSPC;

	/* Truncated to 32 bits: only differences within a few seconds are
	 * ever compared, so the wrap every 136 years is harmless. */
	issued = (uint32_t)(now / NS_PER_S);
	out[0] = CW_TOKEN_VERSION;
	out[1] = (uint8_t)(issued >> 24);
	out[2] = (uint8_t)(issued >> 16);
	out[3] = (uint8_t)(issued >> 8);
	out[4] = (uint8_t)issued;
	out[5] = (uint8_t)odcid_len;
	if (odcid_len)
		memcpy(out + HDR_LEN, odcid, odcid_len);

	rc = token_mac(t->cur, out, n, family, addr, port, mac);
	if (rc)
		return rc;
	memcpy(out + n, mac, CW_TOKEN_TAG_LEN);
	return (int)(n + CW_TOKEN_TAG_LEN);
}

static bool tag_ok(EVP_MAC_CTX *ctx, const uint8_t *tok, size_t n, int family, const uint8_t *addr,
		   uint16_t port, int *rc)
{
	uint8_t mac[HMAC_LEN];

	*rc = token_mac(ctx, tok, n, family, addr, port, mac);
	return !*rc && CRYPTO_memcmp(mac, tok + n, CW_TOKEN_TAG_LEN) == 0;
}

int cw_token_validate(struct cw_token_keys *t, uint64_t now, int family, const uint8_t *addr,
		      uint16_t port, const uint8_t *token, size_t token_len, uint8_t *odcid,
		      size_t *odcid_len)
{
	uint32_t issued;
	int32_t age;
	size_t n;
	int rc;

	if (!t || !t->cur || !addr_len(family) || !addr || (!token && token_len) || !odcid ||
	    !odcid_len)
		return -EINVAL;
	if (token_len < CW_TOKEN_LEN_MIN || token[0] != CW_TOKEN_VERSION ||
	    token[5] > CW_TOKEN_ODCID_MAX || token_len != CW_TOKEN_LEN_MIN + (size_t)token[5])
		return -EBADMSG;
	n = HDR_LEN + token[5];

	if (!tag_ok(t->cur, token, n, family, addr, port, &rc)) {
		if (rc)
			return rc;
		if (!t->prev || !tag_ok(t->prev, token, n, family, addr, port, &rc))
			return rc ? rc : -EBADMSG;
	}

	issued = (uint32_t)token[1] << 24 | (uint32_t)token[2] << 16 | (uint32_t)token[3] << 8 |
		 token[4];
	/* Serial-number arithmetic: correct across the 32-bit wrap. */
	age = (int32_t)((uint32_t)(now / NS_PER_S) - issued);
	if ((age >= 0 && (uint64_t)age * NS_PER_S > t->lifetime_ns) ||
	    (age < 0 && (uint64_t) - (int64_t)age * NS_PER_S > t->skew_ns))
		return -ETIMEDOUT;

	memcpy(odcid, token + HDR_LEN, token[5]);
	*odcid_len = token[5];
	return 0;
}
