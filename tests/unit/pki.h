/* SPDX-License-Identifier: Apache-2.0 */
/* Test certificates made on the fly (tls, handshake and conn tests). */
#ifndef CW_PKI_H
#define CW_PKI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* PEM text in a malloc'd buffer. */
struct tu_pem {
	char *data;
	size_t len;
};

/*
 * A certificate for @key signed by @ikey on behalf of @issuer (both NULL:
 * self-signed), subject CN @cn (NULL: empty subject), subjectAltName @san in
 * OpenSSL's config syntax (NULL: none), a CA when @ca, valid from
 * @not_before to @not_after (Unix seconds). Fails the test on any error.
 */
X509 *tu_make_cert(EVP_PKEY *key, const char *cn, const char *san, X509 *issuer, EVP_PKEY *ikey,
		   bool ca, int64_t not_before, int64_t not_after);

struct tu_pem tu_cert_pem(X509 *x);
struct tu_pem tu_key_pem(EVP_PKEY *k);
void tu_pem_free(struct tu_pem *p);

/* A P-256 key and a certificate for it (tu_make_cert()), as PEM. */
struct tu_ident {
	struct tu_pem cert, key;
};

struct tu_ident tu_make_ident(const char *cn, const char *san, X509 *issuer, EVP_PKEY *ikey,
			      int64_t not_before, int64_t not_after);
void tu_ident_free(struct tu_ident *id);

#endif
