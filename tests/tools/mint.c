/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Node certificates made in memory (tests/tools/mint.h), as scripts/pki.sh
 * makes them with the openssl tool: CN=node:NAME, clientAuth, P-256.
 */
#include "mint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

int cw_mint_ca_load(struct cw_mint_ca *ca, const char *cert_path, const char *key_path)
{
	FILE *c = fopen(cert_path, "r"), *k = fopen(key_path, "r");

	memset(ca, 0, sizeof(*ca));
	if (c)
		ca->cert = PEM_read_X509(c, NULL, NULL, NULL);
	if (k)
		ca->key = PEM_read_PrivateKey(k, NULL, NULL, NULL);
	if (c)
		fclose(c);
	if (k)
		fclose(k);
	if (ca->cert && ca->key)
		return 0;
	cw_mint_ca_free(ca);
	return -EINVAL;
}

void cw_mint_ca_free(struct cw_mint_ca *ca)
{
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	memset(ca, 0, sizeof(*ca));
}

static int add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, v3, nid, value);
	int ok = e && X509_add_ext(x, e, -1);

	X509_EXTENSION_free(e);
	return ok ? 0 : -EIO;
}

static X509 *node_cert(const struct cw_mint_ca *ca, EVP_PKEY *key, const char *name, long serial)
{
	char cn[300];
	X509 *x = X509_new();
	X509V3_CTX v3;
	time_t now = time(NULL);

	snprintf(cn, sizeof(cn), "node:%s", name);
	if (!x || !X509_set_version(x, X509_VERSION_3) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), serial) ||
	    !ASN1_TIME_set(X509_getm_notBefore(x), now - 3600) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), now + 2 * 86400) || !X509_set_pubkey(x, key) ||
	    !X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8,
					(const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(ca->cert)))
		goto fail;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, ca->cert, x, NULL, NULL, 0);
	if (add_ext(x, &v3, NID_ext_key_usage, "clientAuth") ||
	    X509_sign(x, ca->key, EVP_sha256()) <= 0)
		goto fail;
	return x;
fail:
	X509_free(x);
	return NULL;
}

/* The PEM of @x or @key in a malloc'd buffer. */
static int to_pem(X509 *x, EVP_PKEY *key, struct cw_mint_pem *out)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long n;
	int ok = b && (x ? PEM_write_bio_X509(b, x)
			 : PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL));

	n = ok ? BIO_get_mem_data(b, &data) : 0;
	out->data = n > 0 ? malloc((size_t)n) : NULL;
	if (out->data) {
		memcpy(out->data, data, (size_t)n);
		out->len = (size_t)n;
	}
	BIO_free(b);
	return out->data ? 0 : -ENOMEM;
}

int cw_mint_node(const struct cw_mint_ca *ca, const char *name, long serial,
		 struct cw_mint_pem *cert, struct cw_mint_pem *key)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = k ? node_cert(ca, k, name, serial) : NULL;
	int rc = x ? 0 : -EIO;

	memset(cert, 0, sizeof(*cert));
	memset(key, 0, sizeof(*key));
	rc = rc ? rc : to_pem(x, NULL, cert);
	rc = rc ? rc : to_pem(NULL, k, key);
	if (rc) {
		cw_mint_pem_free(cert);
		cw_mint_pem_free(key);
	}
	X509_free(x);
	EVP_PKEY_free(k);
	return rc;
}

void cw_mint_pem_free(struct cw_mint_pem *p)
{
	free(p->data);
	memset(p, 0, sizeof(*p));
}
