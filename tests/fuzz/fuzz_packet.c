/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the receive path of tunnel/: header parsing
 * (header.c) and packet protection (protect.c: packet number
 * reconstruction, replay window, AEAD), plus the stateless reset check.
 *
 * The first input byte picks a mode:
 *  0: the rest is a datagram from the network. Every coalesced packet that
 *     parses is opened with the gateway's keys of its space; what opens
 *     must lie inside the packet.
 *  1: the rest describes a packet the agent seals (byte 1: space; bytes
 *     2-5: packet number; bytes 6-7: a byte offset and bit mask to flip;
 *     the remainder: frames). The gateway must open the unmodified packet
 *     to exactly those frames, and must refuse it whenever a bit was
 *     flipped anywhere. A violated invariant traps.
 *
 * Keys are fixed; the replay windows start empty for every input, so a
 * run depends on its input alone.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tunnel/protect.h"
#include "tunnel/reset.h"

#define check(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			__builtin_trap();                                                          \
	} while (0)

#define MAXD 1500

static const uint8_t dcid[CW_CID_LEN] = {0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08};
static const uint8_t scid[CW_CID_LEN] = {0xf0, 0x5e, 0xa6, 0xe1, 0x41, 0xbd, 0x82, 0x65};

/* [0] the agent's side, [1] the gateway's. */
static struct cw_protect_long initial[2], handshake[2];
static struct cw_protect_short app[2];
static uint8_t reset_token[CW_RESET_TOKEN_LEN];
static bool ready;

static void setup(void)
{
	uint8_t c[CW_SECRET_LEN], s[CW_SECRET_LEN], key[CW_RESET_KEY_LEN] = {0};

	check(cw_keys_initial(dcid, CW_CID_LEN, c, s) == 0);
	check(cw_protect_long_init(&initial[0], c, s) == 0);
	check(cw_protect_long_init(&initial[1], s, c) == 0);
	check(cw_keys_handshake(dcid, CW_CID_LEN, c, s) == 0);
	check(cw_protect_long_init(&handshake[0], c, s) == 0);
	check(cw_protect_long_init(&handshake[1], s, c) == 0);
	for (unsigned i = 0; i < CW_SECRET_LEN; i++) {
		c[i] = (uint8_t)i;
		s[i] = (uint8_t)(0x80 + i);
	}
	check(cw_protect_short_init(&app[0], CW_AEAD_AES_128_GCM, c, s, NULL) == 0);
	check(cw_protect_short_init(&app[1], CW_AEAD_AES_128_GCM, s, c, NULL) == 0);
	check(cw_reset_token(key, scid, reset_token) == 0);
	ready = true;
}

/* Forget what earlier inputs were received: fresh windows, nothing opened. */
static void fresh(void)
{
	for (int i = 0; i < 2; i++) {
		cw_replay_init(&initial[i].win);
		initial[i].largest = CW_PN_NONE;
		cw_replay_init(&handshake[i].win);
		handshake[i].largest = CW_PN_NONE;
		cw_replay_init(&app[i].win);
		if (app[i].prev_win)
			cw_replay_init(app[i].prev_win);
		app[i].largest = CW_PN_NONE;
		app[i].keys.rx_first_pn = UINT64_MAX;
	}
}

/* Open packet @h of @pkt as the gateway; 0 or the error. */
static int gw_open(uint8_t *pkt, const struct cw_hdr *h, const uint8_t **frames, size_t *len)
{
	uint64_t pn;
	int rc;

	switch (h->type) {
	case CW_PKT_INITIAL:
		rc = cw_protect_long_open(&initial[1], pkt, h, frames, len, &pn);
		break;
	case CW_PKT_HANDSHAKE:
		rc = cw_protect_long_open(&handshake[1], pkt, h, frames, len, &pn);
		break;
	case CW_PKT_SHORT:
		rc = cw_protect_short_open(&app[1], pkt, h, frames, len, &pn);
		break;
	default:
		return -1;
	}
	if (!rc)
		check(pn <= CW_PN_MAX);
	return rc;
}

static void datagram(const uint8_t *data, size_t size)
{
	uint8_t d[MAXD];
	size_t off = 0;

	if (size > sizeof(d))
		return;
	memcpy(d, data, size);
	(void)cw_reset_match(d, size, reset_token);
	while (off < size) {
		const uint8_t *frames;
		struct cw_hdr h;
		size_t len;

		if (cw_hdr_decode(d + off, size - off, &h) != 0)
			break;
		check(h.pkt_len > 0 && h.pkt_len <= size - off);
		check(h.payload_off + h.payload_len <= h.pkt_len);
		if (gw_open(d + off, &h, &frames, &len) == 0)
			check(frames == d + off + h.payload_off &&
			      len + CW_AEAD_TAG_LEN == h.payload_len);
		off += h.pkt_len;
	}
}

static int agent_seal(unsigned space, uint64_t pn, const uint8_t *frames, size_t len, uint8_t *out)
{
	struct cw_long_hdr lh = {.version = CW_VERSION_1, .dcid = dcid, .scid = scid, .pn = pn};

	switch (space % 3) {
	case 0:
		lh.type = CW_PKT_INITIAL;
		return cw_protect_long_seal(&initial[0], out, MAXD, &lh, CW_PN_NONE, frames, len);
	case 1:
		lh.type = CW_PKT_HANDSHAKE;
		return cw_protect_long_seal(&handshake[0], out, MAXD, &lh, CW_PN_NONE, frames, len);
	default:
		return cw_protect_short_seal(&app[0], out, MAXD, scid, pn, CW_PN_NONE, frames, len);
	}
}

static void sealed(const uint8_t *data, size_t size)
{
	uint8_t pkt[MAXD];
	const uint8_t *frames;
	struct cw_hdr h;
	size_t len;
	uint64_t pn;
	int n, rc;

	if (size < 8 || size - 7 > 1200)
		return;
	pn = (uint64_t)data[1] << 24 | (uint64_t)data[2] << 16 | (uint64_t)data[3] << 8 | data[4];
	n = agent_seal(data[0], pn, data + 7, size - 7, pkt);
	check(n > 0);
	if (data[6]) /* flip bits of one byte */
		pkt[data[5] % n] ^= data[6];
	rc = cw_hdr_decode(pkt, (size_t)n, &h);
	if (rc == 0)
		rc = gw_open(pkt, &h, &frames, &len);
	if (!data[6]) {
		check(rc == 0 && h.pkt_len == (size_t)n);
		check(len == size - 7 && memcmp(frames, data + 7, len) == 0);
	} else {
		check(rc != 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ready)
		setup();
	if (size < 1)
		return 0;
	fresh();
	if (data[0] & 1)
		sealed(data + 1, size - 1);
	else
		datagram(data + 1, size - 1);
	return 0;
}
