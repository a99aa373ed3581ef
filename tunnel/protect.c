/* SPDX-License-Identifier: Apache-2.0 */
#include "protect.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>

int cw_protect_long_init(struct cw_protect_long *p, const uint8_t tx_secret[CW_SECRET_LEN],
			 const uint8_t rx_secret[CW_SECRET_LEN])
{
	struct cw_pkt_keys k;
	int rc;

	memset(p, 0, sizeof(*p));
	p->largest = CW_PN_NONE;
	rc = cw_keys_derive(tx_secret, CW_AEAD_AES_128_GCM, &k);
	rc = rc ? rc : cw_aead_init(&p->tx, CW_AEAD_AES_128_GCM, &k, true);
	rc = rc ? rc : cw_keys_derive(rx_secret, CW_AEAD_AES_128_GCM, &k);
	rc = rc ? rc : cw_aead_init(&p->rx, CW_AEAD_AES_128_GCM, &k, false);
	OPENSSL_cleanse(&k, sizeof(k));
	if (rc)
		cw_protect_long_free(p);
	return rc;
}

void cw_protect_long_free(struct cw_protect_long *p)
{
	cw_aead_free(&p->tx);
	cw_aead_free(&p->rx);
}

int cw_protect_long_seal(struct cw_protect_long *p, uint8_t *out, size_t cap, struct cw_long_hdr *s,
			 uint64_t largest_acked, const uint8_t *frames, size_t len)
{
	int pn_len, hlen, rc;

	if (!len)
		return -EINVAL;
	pn_len = cw_pn_len(s->pn, largest_acked);
	if (pn_len < 0)
		return pn_len;
	s->pn_len = (size_t)pn_len;
	s->payload_len = len + CW_AEAD_TAG_LEN;
	hlen = cw_hdr_encode_long(out, cap, s);
	if (hlen < 0)
		return hlen;
	if (cap - (size_t)hlen < s->payload_len)
		return -EMSGSIZE;
	/* In place when the caller built the frames where the payload goes. */
	if (frames != out + hlen)
		memmove(out + hlen, frames, len);
	rc = cw_aead_seal(&p->tx, s->pn, out, (size_t)hlen, out + hlen, len, out + hlen);
	return rc ? rc : hlen + (int)s->payload_len;
}

/* Step 3 of §6.5: the full packet number, from the largest authenticated. */
static uint64_t reconstruct(uint64_t largest, const struct cw_hdr *h)
{
	return cw_pn_decode(largest, h->pn_trunc, h->pn_len);
}

int cw_protect_long_open(struct cw_protect_long *p, uint8_t *pkt, const struct cw_hdr *h,
			 const uint8_t **frames, size_t *len, uint64_t *pn)
{
	uint8_t *payload = pkt + h->payload_off;
	uint64_t n;
	int rc;

	if ((h->type != CW_PKT_INITIAL && h->type != CW_PKT_HANDSHAKE) ||
	    h->payload_len < CW_MIN_PAYLOAD_LEN)
		return -EINVAL;
	n = reconstruct(p->largest, h);
	if (n > CW_PN_MAX)
		return -ERANGE;
	rc = cw_replay_check(&p->win, n);
	if (rc)
		return rc;
	rc = cw_aead_open(&p->rx, n, pkt, h->payload_off, payload, h->payload_len, payload);
	rc = rc ? rc : cw_replay_commit(&p->win, n);
	if (rc)
		return rc;
	if (p->largest == CW_PN_NONE || n > p->largest)
		p->largest = n;
	*frames = payload;
	*len = h->payload_len - CW_AEAD_TAG_LEN;
	*pn = n;
	return 0;
}

int cw_protect_short_init(struct cw_protect_short *p, enum cw_aead_alg alg,
			  const uint8_t tx_secret[CW_SECRET_LEN],
			  const uint8_t rx_secret[CW_SECRET_LEN], const struct cw_alloc *a)
{
	memset(p, 0, sizeof(*p));
	p->largest = CW_PN_NONE;
	p->a = a ? a : cw_alloc_default();
	return cw_keyset_init(&p->keys, alg, tx_secret, rx_secret);
}

void cw_protect_short_discard_prev(struct cw_protect_short *p)
{
	cw_keyset_discard_prev(&p->keys);
	if (p->prev_win)
		p->a->free(p->a->ctx, p->prev_win, sizeof(*p->prev_win));
	p->prev_win = NULL;
}

void cw_protect_short_free(struct cw_protect_short *p)
{
	cw_protect_short_discard_prev(p);
	cw_keyset_free(&p->keys);
}

/* The receive keys moved one phase on: so do their windows, the new
 * current one starting empty as the next one always is. The previous
 * window's block is reused when an update comes before the last one's
 * previous keys were discarded. */
static void rotate_windows(struct cw_protect_short *p)
{
	if (!p->prev_win)
		p->prev_win = p->a->alloc(p->a->ctx, sizeof(*p->prev_win));
	if (p->prev_win)
		*p->prev_win = p->win;
	else
		cw_keyset_discard_prev(&p->keys);
	cw_replay_init(&p->win);
}

/* The window of receive epoch @ep (not CW_KEY_DISCARDED), or NULL for the
 * next phase's, which is empty. */
static struct cw_replay *window(struct cw_protect_short *p, enum cw_key_epoch ep)
{
	if (ep == CW_KEY_CURRENT)
		return &p->win;
	return ep == CW_KEY_PREVIOUS ? p->prev_win : NULL;
}

int cw_protect_short_update(struct cw_protect_short *p)
{
	int rc = cw_keyset_update(&p->keys);

	if (!rc)
		rotate_windows(p);
	return rc;
}

int cw_protect_short_hdr_len(uint64_t pn, uint64_t largest_acked)
{
	int pn_len = cw_pn_len(pn, largest_acked);

	return pn_len < 0 ? pn_len : 1 + CW_CID_LEN + pn_len;
}

int cw_protect_short_seal(struct cw_protect_short *p, uint8_t *out, size_t cap,
			  const uint8_t dcid[CW_CID_LEN], uint64_t pn, uint64_t largest_acked,
			  const uint8_t *frames, size_t len)
{
	int pn_len, hlen, rc;

	if (!len)
		return -EINVAL;
	pn_len = cw_pn_len(pn, largest_acked);
	if (pn_len < 0)
		return pn_len;
	hlen =
	    cw_hdr_encode_short(out, cap, dcid, cw_keyset_tx_phase(&p->keys), pn, (size_t)pn_len);
	if (hlen < 0)
		return hlen;
	if (cap - (size_t)hlen < len + CW_AEAD_TAG_LEN)
		return -EMSGSIZE;
	if (frames != out + hlen)
		memmove(out + hlen, frames, len);
	rc = cw_keyset_seal(&p->keys, pn, out, (size_t)hlen, out + hlen, len, out + hlen);
	return rc ? rc : hlen + (int)(len + CW_AEAD_TAG_LEN);
}

int cw_protect_short_open(struct cw_protect_short *p, uint8_t *pkt, const struct cw_hdr *h,
			  const uint8_t **frames, size_t *len, uint64_t *pn)
{
	uint8_t *payload = pkt + h->payload_off;
	struct cw_replay *w;
	enum cw_key_epoch ep;
	uint64_t n;
	int rc;

	if (h->type != CW_PKT_SHORT || h->payload_len < CW_MIN_PAYLOAD_LEN)
		return -EINVAL;
	n = reconstruct(p->largest, h);
	if (n > CW_PN_MAX)
		return -ERANGE;
	ep = cw_keyset_rx_epoch(&p->keys, h->key_phase, n);
	if (ep == CW_KEY_DISCARDED)
		return -ENOKEY;
	/* The next phase's window is empty: it passes every n <= CW_PN_MAX. */
	w = window(p, ep);
	rc = w ? cw_replay_check(w, n) : 0;
	if (rc)
		return rc;
	rc = cw_keyset_open(&p->keys, h->key_phase, n, pkt, h->payload_off, payload, h->payload_len,
			    payload, &ep);
	if (rc)
		return rc;
	if (ep == CW_KEY_NEXT) { /* the peer updated; the keyset followed */
		rotate_windows(p);
		ep = CW_KEY_CURRENT;
	}
	rc = cw_replay_commit(window(p, ep), n);
	if (rc)
		return rc;
	if (p->largest == CW_PN_NONE || n > p->largest)
		p->largest = n;
	*frames = payload;
	*len = h->payload_len - CW_AEAD_TAG_LEN;
	*pn = n;
	return 0;
}
