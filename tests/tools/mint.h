/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Node certificates made in memory for test clients that play thousands of
 * edge nodes: a P-256 key and a certificate CN=node:NAME (clientAuth, valid
 * from an hour ago for two days) signed by a CA read from PEM files, as
 * scripts/pki.sh makes them.
 */
#ifndef CW_TOOLS_MINT_H
#define CW_TOOLS_MINT_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct cw_mint_ca {
	X509 *cert;
	EVP_PKEY *key;
};

struct cw_mint_pem {
	char *data; /* malloc'd, not NUL-terminated */
	size_t len;
};

/* Load the CA. Returns 0, or -EINVAL when either file cannot be read. */
int cw_mint_ca_load(struct cw_mint_ca *ca, const char *cert_path, const char *key_path);
void cw_mint_ca_free(struct cw_mint_ca *ca);

/*
 * A new key and certificate for node @name with serial number @serial.
 * Returns 0 with both PEMs set (free them with cw_mint_pem_free()), -EIO
 * when OpenSSL fails, -ENOMEM.
 */
int cw_mint_node(const struct cw_mint_ca *ca, const char *name, long serial,
		 struct cw_mint_pem *cert, struct cw_mint_pem *key);
void cw_mint_pem_free(struct cw_mint_pem *p);

#endif
