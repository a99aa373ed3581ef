/* SPDX-License-Identifier: Apache-2.0 */
/* Test certificates made on the fly: CAs, identities, PEM (the TLS, handshake,
 * conn, gateway and agent session tests, and perf/session_bench.c). */
#ifndef CW_PKI_H
#define CW_PKI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "tunnel/tls.h"

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

/* A test CA: its key, its certificate and the certificate as PEM. */
struct tu_ca {
	EVP_PKEY *key;
	X509 *cert;
	struct tu_pem pem;
};

/* A P-256 CA with subject CN @cn, valid from 30 days before @t0 for ten
 * years. Fails the test on any error. */
void tu_ca_make(struct tu_ca *ca, const char *cn, int64_t t0);
void tu_ca_free(struct tu_ca *ca);

/* @p as a PEM the TLS contexts read from memory (it stays @p's). */
struct cw_tls_pem tu_pem_ref(const struct tu_pem *p);

#endif
