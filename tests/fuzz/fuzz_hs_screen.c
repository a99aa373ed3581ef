/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the gateway's stateless first look at a datagram
 * that matches no session (tunnel/handshake.c cw_hs_screen): what a
 * spoofed-source flood hits. The first input byte picks a mode:
 *  0: the rest is a datagram from the network, screened under both retry
 *     policies. Whatever comes back must be a well-formed answer (a RETRY
 *     whose integrity tag verifies, or an INITIAL), and without a valid
 *     token nothing is ever accepted under the 'always' policy.
 *  1: the rest chooses an INITIAL the agent builds after a RETRY (original
 *     DCID, new DCID, token fresh or expired, frames): a fresh token must be
 *     accepted as validated with its original DCID, an expired one answered
 *     with INVALID_TOKEN.
 * A violated invariant traps.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tunnel/handshake.h"
#include "tunnel/protect.h"

#define check(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			__builtin_trap();                                                          \
	} while (0)

#define NOW (UINT64_C(1000) * 1000000000u)

static const uint8_t peer_addr[4] = {192, 0, 2, 7};
static const struct cw_hs_peer peer = {CW_TOKEN_IPV4, peer_addr, 4433};
static const uint8_t new_scid[CW_CID_LEN] = {9, 9, 9, 9, 9, 9, 9, 9};
static struct cw_token_keys tk;
static struct cw_aead retry;
static bool ready;

static void setup(void)
{
	static const uint8_t key[CW_TOKEN_KEY_LEN] = {1, 2, 3};

	check(cw_token_init(&tk, key, 0, 0) == 0);
	check(cw_retry_init(&retry) == 0);
	ready = true;
}

static int screen(const uint8_t *d, size_t len, enum cw_retry_policy pol, struct cw_hs_screen *res,
		  uint8_t *out)
{
	int v =
	    cw_hs_screen(d, len, &peer, NOW, &tk, &retry, pol, new_scid, out, CW_HS_DGRAM_MAX, res);

	check(v >= CW_HS_V_DROP && v <= CW_HS_V_SEND_CLOSE);
	if (v == CW_HS_V_SEND_RETRY || v == CW_HS_V_SEND_CLOSE) {
		struct cw_hdr h;

		check(res->out_len > 0 && res->out_len <= CW_HS_DGRAM_MAX);
		check(cw_hdr_decode(out, res->out_len, &h) == 0);
		if (v == CW_HS_V_SEND_RETRY) {
			check(h.type == CW_PKT_RETRY && h.pkt_len == res->out_len);
			/* The tag binds the DCID the agent used. */
			check(cw_retry_verify(&retry, res->dcid, CW_CID_LEN, out, res->out_len) ==
			      0);
		} else {
			check(h.type == CW_PKT_INITIAL);
		}
	}
	return v;
}

static void raw(const uint8_t *d, size_t len)
{
	uint8_t out[CW_HS_DGRAM_MAX];
	struct cw_hs_screen res;
	int v;

	v = screen(d, len, CW_RETRY_ALWAYS, &res, out);
	if (v == CW_HS_V_ACCEPT)
		check(res.validated);
	(void)screen(d, len, CW_RETRY_NEVER, &res, out);
}

/* The INITIAL an agent sends after a RETRY, under its original DCID's keys. */
static size_t after_retry(const uint8_t *in, size_t len, bool expired, uint8_t *pkt)
{
	uint8_t c[CW_SECRET_LEN], s[CW_SECRET_LEN], token[CW_TOKEN_LEN_MAX], frames[1200];
	struct cw_protect_long p;
	const uint8_t *odcid = in, *dcid = in + 8, *scid = in + 16;
	size_t flen = len - 24;
	int tl, n;

	tl = cw_token_mint(&tk, expired ? NOW - 60 * UINT64_C(1000000000) : NOW, CW_TOKEN_IPV4,
			   peer_addr, peer.port, odcid, CW_CID_LEN, token, sizeof(token));
	check(tl > 0);
	check(cw_keys_initial(odcid, CW_CID_LEN, c, s) == 0);
	check(cw_protect_long_init(&p, c, s) == 0);
	memset(frames, 0, sizeof(frames)); /* PADDING up to 1200 bytes */
	memcpy(frames, in + 24, flen > sizeof(frames) ? sizeof(frames) : flen);
	{
		struct cw_long_hdr lh = {.type = CW_PKT_INITIAL,
					 .version = CW_VERSION_1,
					 .dcid = dcid,
					 .scid = scid,
					 .token = token,
					 .token_len = (size_t)tl,
					 .pn = 1};

		n = cw_protect_long_seal(&p, pkt, CW_HS_DGRAM_MAX, &lh, CW_PN_NONE, frames,
					 sizeof(frames) - 50);
	}
	cw_protect_long_free(&p);
	check(n >= 1200);
	return (size_t)n;
}

static void valid_token(const uint8_t *in, size_t len)
{
	uint8_t pkt[CW_HS_DGRAM_MAX], out[CW_HS_DGRAM_MAX];
	struct cw_hs_screen res;
	bool expired;
	size_t n;
	int v;

	if (len < 25)
		return;
	expired = in[0] & 1;
	n = after_retry(in + 1, len - 1, expired, pkt);
	v = screen(pkt, n, CW_RETRY_ALWAYS, &res, out);
	if (expired) {
		check(v == CW_HS_V_SEND_CLOSE);
	} else {
		check(v == CW_HS_V_ACCEPT && res.validated);
		check(memcmp(res.odcid, in + 1, CW_CID_LEN) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ready)
		setup();
	if (size < 1 || size > 1 + CW_HS_DGRAM_MAX)
		return 0;
	if (data[0] & 1)
		valid_token(data + 1, size - 1);
	else
		raw(data + 1, size - 1);
	return 0;
}
