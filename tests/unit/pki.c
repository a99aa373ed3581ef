/* SPDX-License-Identifier: Apache-2.0 */
#include "pki.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

static void add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, v3, nid, value);

	assert_non_null(e);
	assert_int_equal(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
}

X509 *tu_make_cert(EVP_PKEY *key, const char *cn, const char *san, X509 *issuer, EVP_PKEY *ikey,
		   bool ca, int64_t not_before, int64_t not_after)
{
	static long serial = 1;
	X509 *x = X509_new();
	X509_NAME *n = X509_get_subject_name(x);
	X509V3_CTX v3;

	assert_non_null(x);
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial++), 1);
	assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), (time_t)not_before));
	assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), (time_t)not_after));
	assert_int_equal(X509_set_pubkey(x, key), 1);
	if (cn)
		assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
							    (const unsigned char *)cn, -1, -1, 0),
				 1);
	assert_int_equal(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n), 1);
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
	add_ext(x, &v3, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	add_ext(x, &v3, NID_key_usage,
		ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
	add_ext(x, &v3, NID_subject_key_identifier, "hash");
	if (!ca)
		add_ext(x, &v3, NID_ext_key_usage, "serverAuth,clientAuth");
	if (san)
		add_ext(x, &v3, NID_subject_alt_name, san);
	assert_true(X509_sign(x, ikey ? ikey : key, EVP_sha256()) > 0);
	return x;
}

static struct tu_pem bio_pem(BIO *b)
{
	char *p;
	long n = BIO_get_mem_data(b, &p);
	struct tu_pem out = {malloc((size_t)n), (size_t)n};

	assert_true(n > 0);
	assert_non_null(out.data);
	memcpy(out.data, p, (size_t)n);
	BIO_free(b);
	return out;
}

struct tu_pem tu_cert_pem(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());

	assert_int_equal(PEM_write_bio_X509(b, x), 1);
	return bio_pem(b);
}

struct tu_pem tu_key_pem(EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());

	assert_int_equal(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL), 1);
	return bio_pem(b);
}

void tu_pem_free(struct tu_pem *p)
{
	free(p->data);
	p->data = NULL;
}

struct tu_ident tu_make_ident(const char *cn, const char *san, X509 *issuer, EVP_PKEY *ikey,
			      int64_t not_before, int64_t not_after)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	struct tu_ident id;
	X509 *x;

	assert_non_null(k);
	x = tu_make_cert(k, cn, san, issuer, ikey, false, not_before, not_after);
	id.cert = tu_cert_pem(x);
	id.key = tu_key_pem(k);
	X509_free(x);
	EVP_PKEY_free(k);
	return id;
}

void tu_ident_free(struct tu_ident *id)
{
	tu_pem_free(&id->cert);
	tu_pem_free(&id->key);
}

void tu_ca_make(struct tu_ca *ca, const char *cn, int64_t t0)
{
	ca->key = EVP_EC_gen("P-256");
	assert_non_null(ca->key);
	ca->cert =
	    tu_make_cert(ca->key, cn, NULL, NULL, NULL, true, t0 - 30 * 86400, t0 + 3650 * 86400);
	ca->pem = tu_cert_pem(ca->cert);
}

void tu_ca_free(struct tu_ca *ca)
{
	tu_pem_free(&ca->pem);
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	memset(ca, 0, sizeof(*ca));
}

struct cw_tls_pem tu_pem_ref(const struct tu_pem *p)
{
	return (struct cw_tls_pem){NULL, p->data, p->len};
}
