/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/ssl.h>

#include "keys.h"

#define HKDF_HASH_LEN 32
#define LABEL_PREFIX  "cw1 "
#define PREFIX_LEN    (sizeof(LABEL_PREFIX) - 1)

const uint8_t cw_initial_salt[CW_INITIAL_SALT_LEN] = {
    0x90, 0x65, 0x17, 0xd9, 0xf7, 0x3f, 0xae, 0x32, 0x45, 0x72, 0x92, 0xba, 0x40, 0x77, 0x2b, 0x0f,
};

size_t cw_aead_key_len(enum cw_aead_alg alg)
{
	switch (alg) {
	case CW_AEAD_AES_128_GCM:
		return 16;
	case CW_AEAD_CHACHA20_POLY1305:
		return 32;
	}
	return 0;
}

/* One HKDF run in @mode; the OSSL_PARAM list is built per call so that no
 * buffer outlives it. */
static int hkdf(int mode, const uint8_t *key, size_t key_len, const uint8_t *salt, size_t salt_len,
		const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len)
{
	OSSL_PARAM params[6], *p = params;
	EVP_KDF *kdf;
	EVP_KDF_CTX *kctx;
	int ok;

	kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
	if (!kdf)
		return -EIO;
	kctx = EVP_KDF_CTX_new(kdf);
	EVP_KDF_free(kdf);
	if (!kctx)
		return -EIO;

	*p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, key_len);
	/* An empty salt is left out: HKDF then uses HashLen zeros (RFC 5869),
	 * which a zero-length octet string would not reliably mean. */
	if (salt_len)
		*p++ =
		    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
	if (info_len)
		*p++ =
		    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
	*p = OSSL_PARAM_construct_end();

	ok = EVP_KDF_derive(kctx, out, out_len, params);
	EVP_KDF_CTX_free(kctx);
	if (ok <= 0) {
		OPENSSL_cleanse(out, out_len);
		return -EIO;
	}
	return 0;
}

int cw_hkdf_extract(const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len,
		    uint8_t prk[CW_SECRET_LEN])
{
	if (!ikm || !ikm_len || (!salt && salt_len))
		return -EINVAL;
	return hkdf(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, ikm, ikm_len, salt, salt_len, NULL, 0, prk,
		    CW_SECRET_LEN);
}

int cw_hkdf_expand(const uint8_t *prk, size_t prk_len, const uint8_t *info, size_t info_len,
		   uint8_t *out, size_t out_len)
{
	if (!prk || prk_len < HKDF_HASH_LEN || (!info && info_len) || !out || !out_len ||
	    out_len > 255 * HKDF_HASH_LEN)
		return -EINVAL;
	return hkdf(EVP_KDF_HKDF_MODE_EXPAND_ONLY, prk, prk_len, NULL, 0, info, info_len, out,
		    out_len);
}

int cw_hkdf_expand_label(const uint8_t *secret, size_t secret_len, const char *label,
			 const uint8_t *context, size_t context_len, uint8_t *out, size_t out_len)
{
	uint8_t info[2 + 1 + PREFIX_LEN + CW_HKDF_LABEL_MAX + 1 + CW_HKDF_CONTEXT_MAX];
	size_t label_len, n = 0;

	if (!label || (!context && context_len) || context_len > CW_HKDF_CONTEXT_MAX ||
	    out_len > 0xffff)
		return -EINVAL;
	label_len = strlen(label);
	if (!label_len || label_len > CW_HKDF_LABEL_MAX)
		return -EINVAL;

	info[n++] = (uint8_t)(out_len >> 8);
	info[n++] = (uint8_t)out_len;
	info[n++] = (uint8_t)(PREFIX_LEN + label_len);
	memcpy(info + n, LABEL_PREFIX, PREFIX_LEN);
	n += PREFIX_LEN;
	memcpy(info + n, label, label_len);
	n += label_len;
	info[n++] = (uint8_t)context_len;
	if (context_len)
		memcpy(info + n, context, context_len);
	n += context_len;

	return cw_hkdf_expand(secret, secret_len, info, n, out, out_len);
}

int cw_keys_derive(const uint8_t secret[CW_SECRET_LEN], enum cw_aead_alg alg,
		   struct cw_pkt_keys *out)
{
	size_t key_len = cw_aead_key_len(alg);
	int rc;

	if (!key_len || !secret || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	rc = cw_hkdf_expand_label(secret, CW_SECRET_LEN, "key", NULL, 0, out->key, key_len);
	if (!rc)
		rc = cw_hkdf_expand_label(secret, CW_SECRET_LEN, "iv", NULL, 0, out->iv, CW_IV_LEN);
	if (rc) {
		OPENSSL_cleanse(out, sizeof(*out));
		return rc;
	}
	out->key_len = (uint8_t)key_len;
	return 0;
}

int cw_keys_next_secret(const uint8_t secret[CW_SECRET_LEN], uint8_t next[CW_SECRET_LEN])
{
	uint8_t tmp[CW_SECRET_LEN];
	int rc;

	if (!secret || !next)
		return -EINVAL;
	/* Through a temporary so that @next may be @secret itself. */
	rc = cw_hkdf_expand_label(secret, CW_SECRET_LEN, "ku", NULL, 0, tmp, sizeof(tmp));
	if (!rc)
		memcpy(next, tmp, sizeof(tmp));
	OPENSSL_cleanse(tmp, sizeof(tmp));
	return rc;
}

/* Extract(cw_initial_salt, dcid), then the two labels of one packet type. */
static int long_header_secrets(const uint8_t *dcid, size_t dcid_len, const char *lc, const char *ls,
			       uint8_t client[CW_SECRET_LEN], uint8_t server[CW_SECRET_LEN])
{
	uint8_t initial[CW_SECRET_LEN];
	int rc;

	if (!dcid || !dcid_len || dcid_len > 20 || !client || !server)
		return -EINVAL;
	rc = cw_hkdf_extract(cw_initial_salt, sizeof(cw_initial_salt), dcid, dcid_len, initial);
	if (!rc)
		rc = cw_hkdf_expand_label(initial, sizeof(initial), lc, NULL, 0, client,
					  CW_SECRET_LEN);
	if (!rc)
		rc = cw_hkdf_expand_label(initial, sizeof(initial), ls, NULL, 0, server,
					  CW_SECRET_LEN);
	OPENSSL_cleanse(initial, sizeof(initial));
	if (rc) {
		OPENSSL_cleanse(client, CW_SECRET_LEN);
		OPENSSL_cleanse(server, CW_SECRET_LEN);
	}
	return rc;
}

int cw_keys_initial(const uint8_t *dcid, size_t dcid_len, uint8_t client[CW_SECRET_LEN],
		    uint8_t server[CW_SECRET_LEN])
{
	return long_header_secrets(dcid, dcid_len, "client in", "server in", client, server);
}

int cw_keys_handshake(const uint8_t *dcid, size_t dcid_len, uint8_t client[CW_SECRET_LEN],
		      uint8_t server[CW_SECRET_LEN])
{
	return long_header_secrets(dcid, dcid_len, "client hs", "server hs", client, server);
}

int cw_keys_export(SSL *ssl, uint8_t client[CW_SECRET_LEN], uint8_t server[CW_SECRET_LEN])
{
	static const char lc[] = CW_EXPORTER_CLIENT, ls[] = CW_EXPORTER_SERVER;

	if (!ssl || !client || !server)
		return -EINVAL;
	if (!SSL_is_init_finished(ssl))
		return -EAGAIN;
	if (SSL_version(ssl) != TLS1_3_VERSION)
		return -EPROTO;
	if (SSL_export_keying_material(ssl, client, CW_SECRET_LEN, lc, sizeof(lc) - 1, NULL, 0,
				       0) != 1 ||
	    SSL_export_keying_material(ssl, server, CW_SECRET_LEN, ls, sizeof(ls) - 1, NULL, 0,
				       0) != 1) {
		OPENSSL_cleanse(client, CW_SECRET_LEN);
		OPENSSL_cleanse(server, CW_SECRET_LEN);
		return -EIO;
	}
	return 0;
}

int cw_keys_suite_alg(const SSL *ssl, enum cw_aead_alg *alg)
{
	const SSL_CIPHER *c;

	if (!ssl || !alg)
		return -EINVAL;
	c = SSL_get_current_cipher(ssl);
	if (!c)
		return -EAGAIN;
	/* IANA numbers of RFC 8446 §B.4. */
	switch (SSL_CIPHER_get_protocol_id(c)) {
	case 0x1301:
		*alg = CW_AEAD_AES_128_GCM;
		return 0;
	case 0x1303:
		*alg = CW_AEAD_CHACHA20_POLY1305;
		return 0;
	}
	return -EPROTO;
}
