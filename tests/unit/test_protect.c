/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tunnel/protect.c: PROTOCOL.md B.5 byte for byte, round trips of every
 * packet type, replays, tampering, packet number reconstruction and key
 * updates with reordering across them.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"
#include "tunnel/protect.h"

#define MAXP 1500

static const uint8_t cid_b4[CW_CID_LEN] = {0xf0, 0x5e, 0xa6, 0xe1, 0x41, 0xbd, 0x82, 0x65};
static const uint8_t cid_a[CW_CID_LEN] = {0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08};

static void seq_secret(uint8_t s[CW_SECRET_LEN], uint8_t first)
{
	for (unsigned i = 0; i < CW_SECRET_LEN; i++)
		s[i] = (uint8_t)(first + i);
}

/* An agent and a gateway 1-RTT space over the same pair of secrets. */
/* The gateway's windows come from @gw_alloc (NULL: the default). */
static void short_pair_alloc(struct cw_protect_short *agent, struct cw_protect_short *gw,
			     const struct cw_alloc *gw_alloc)
{
	uint8_t c[CW_SECRET_LEN], s[CW_SECRET_LEN];

	seq_secret(c, 0);
	seq_secret(s, 0x80);
	assert_int_equal(cw_protect_short_init(agent, CW_AEAD_AES_128_GCM, c, s, NULL), 0);
	assert_int_equal(cw_protect_short_init(gw, CW_AEAD_AES_128_GCM, s, c, gw_alloc), 0);
}

static void short_pair(struct cw_protect_short *agent, struct cw_protect_short *gw)
{
	short_pair_alloc(agent, gw, NULL);
}

static int open_short(struct cw_protect_short *p, uint8_t *pkt, size_t len, uint64_t *pn,
		      uint8_t *first_frame)
{
	const uint8_t *frames;
	struct cw_hdr h;
	size_t n;
	int rc = cw_hdr_decode(pkt, len, &h);

	if (rc)
		return rc;
	rc = cw_protect_short_open(p, pkt, &h, &frames, &n, pn);
	if (!rc && first_frame)
		*first_frame = frames[0];
	return rc;
}

/*
 * The previous phase's window exists only between an update and the
 * discarding of the previous keys; when it cannot be allocated, the
 * previous keys go at once and the update still happens.
 */
static void test_prev_window_lifetime(void **state)
{
	struct tu_counter cnt = {0};
	const struct cw_alloc a = {tu_count_alloc, tu_count_free, &cnt};
	struct cw_protect_short agent, gw;
	uint8_t old[MAXP], cp[MAXP], pkt[MAXP], ping = 0x01;
	uint64_t pn;
	int nold, n;

	(void)state;
	for (int fail = 0; fail < 2; fail++) {
		cnt = (struct tu_counter){0};
		short_pair_alloc(&agent, &gw, &a);
		nold = cw_protect_short_seal(&agent, old, sizeof(old), cid_b4, 5, CW_PN_NONE, &ping,
					     1);
		assert_true(nold > 0);
		memcpy(cp, old, (size_t)nold);
		n = cw_protect_short_seal(&agent, pkt, sizeof(pkt), cid_b4, 4, CW_PN_NONE, &ping,
					  1);
		assert_int_equal(open_short(&gw, pkt, (size_t)n, &pn, NULL), 0);
		assert_null(gw.prev_win);
		assert_int_equal(cnt.blocks, 0);

		assert_int_equal(cw_protect_short_update(&agent), 0);
		n = cw_protect_short_seal(&agent, pkt, sizeof(pkt), cid_b4, 6, CW_PN_NONE, &ping,
					  1);
		cnt.fail_in = fail;
		assert_int_equal(open_short(&gw, pkt, (size_t)n, &pn, NULL), 0);
		assert_int_equal(cw_keyset_tx_phase(&gw.keys), 1);
		if (fail) {
			assert_null(gw.prev_win);
			assert_int_equal(cnt.blocks, 0);
			assert_int_equal(open_short(&gw, old, (size_t)nold, &pn, NULL), -ENOKEY);
		} else {
			assert_non_null(gw.prev_win);
			assert_int_equal(cnt.blocks, 1);
			assert_int_equal(cnt.bytes, sizeof(struct cw_replay));
			assert_int_equal(open_short(&gw, old, (size_t)nold, &pn, NULL), 0);
			assert_int_equal(pn, 5);
			assert_int_equal(open_short(&gw, cp, (size_t)nold, &pn, NULL), -EEXIST);
			cw_protect_short_discard_prev(&gw);
			assert_null(gw.prev_win);
			assert_int_equal(cnt.blocks, 0);
		}
		cw_protect_short_free(&agent);
		cw_protect_short_free(&gw);
		assert_int_equal(cnt.blocks, 0);
	}
}

static void test_b5(void **state)
{
	static const uint8_t want[28] = {0x41, 0xf0, 0x5e, 0xa6, 0xe1, 0x41, 0xbd, 0x82, 0x65, 0x5c,
					 0x02, 0xff, 0xea, 0x35, 0x7b, 0x3f, 0x76, 0x1a, 0xbe, 0x3c,
					 0x35, 0xf7, 0x9f, 0xe4, 0x3e, 0x34, 0x81, 0xfc};
	struct cw_protect_short agent, gw;
	uint8_t pkt[MAXP], ping = 0x01, f = 0;
	uint64_t pn = 0;
	int n;

	(void)state;
	short_pair(&agent, &gw);
	n = cw_protect_short_seal(&agent, pkt, sizeof(pkt), cid_b4, 0xac5c02, 0xabe8b3, &ping, 1);
	assert_int_equal(n, 28);
	assert_memory_equal(pkt, want, sizeof(want));
	/* The gateway has seen packets up to just below it. */
	gw.largest = 0xac5bf0;
	assert_int_equal(open_short(&gw, pkt, (size_t)n, &pn, &f), 0);
	assert_int_equal(pn, 0xac5c02);
	assert_int_equal(f, 0x01);
	assert_int_equal(gw.largest, 0xac5c02);
	cw_protect_short_free(&agent);
	cw_protect_short_free(&gw);
}

static void test_long_roundtrip(void **state)
{
	uint8_t c[CW_SECRET_LEN], s[CW_SECRET_LEN], pkt[MAXP], copy[MAXP], frames[1200];
	static const uint8_t token[20] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
	struct cw_protect_long agent, gw;
	const uint8_t *plain;
	struct cw_hdr h;
	size_t plen;
	uint64_t pn;
	int n;

	(void)state;
	assert_int_equal(cw_keys_initial(cid_a, CW_CID_LEN, c, s), 0);
	assert_int_equal(cw_protect_long_init(&agent, c, s), 0);
	assert_int_equal(cw_protect_long_init(&gw, s, c), 0);
	for (uint64_t i = 0; i < 300; i++) {
		struct cw_long_hdr lh = {.type = CW_PKT_INITIAL,
					 .version = CW_VERSION_1,
					 .dcid = cid_a,
					 .scid = cid_b4,
					 .token = token,
					 .token_len = sizeof(token),
					 .pn = i};

		memset(frames, 0, sizeof(frames)); /* PADDING */
		frames[0] = 0x01;		   /* PING */
		/* The peer acknowledges with a lag: truncation must still decode. */
		n = cw_protect_long_seal(&agent, pkt, sizeof(pkt), &lh,
					 i > 10 ? i - 10 : CW_PN_NONE, frames, sizeof(frames));
		assert_true(n > 1200);
		memcpy(copy, pkt, (size_t)n);
		assert_int_equal(cw_hdr_decode(pkt, (size_t)n, &h), 0);
		assert_int_equal(h.type, CW_PKT_INITIAL);
		assert_int_equal(h.token_len, sizeof(token));
		assert_int_equal(cw_protect_long_open(&gw, pkt, &h, &plain, &plen, &pn), 0);
		assert_int_equal(pn, i);
		assert_int_equal(plen, sizeof(frames));
		assert_memory_equal(plain, frames, sizeof(frames));
		/* The same packet again is a replay. */
		assert_int_equal(cw_hdr_decode(copy, (size_t)n, &h), 0);
		assert_int_equal(cw_protect_long_open(&gw, copy, &h, &plain, &plen, &pn), -EEXIST);
	}
	assert_int_equal(gw.largest, 299);
	/* HANDSHAKE packets have no token; a token there is refused. */
	{
		struct cw_long_hdr lh = {.type = CW_PKT_HANDSHAKE,
					 .version = CW_VERSION_1,
					 .dcid = cid_a,
					 .scid = cid_b4,
					 .token = token,
					 .token_len = 1,
					 .pn = 0};

		assert_int_equal(
		    cw_protect_long_seal(&agent, pkt, sizeof(pkt), &lh, CW_PN_NONE, frames, 1),
		    -EINVAL);
	}
	cw_protect_long_free(&agent);
	cw_protect_long_free(&gw);
}

/* Every single-bit change anywhere is refused, and leaves the state as it was. */
static void test_tamper(void **state)
{
	struct cw_protect_short agent, gw;
	uint8_t pkt[MAXP], orig[MAXP], frames[40];
	uint64_t pn;
	int n;

	(void)state;
	short_pair(&agent, &gw);
	memset(frames, 0, sizeof(frames));
	frames[0] = 0x01;
	n = cw_protect_short_seal(&agent, orig, sizeof(orig), cid_b4, 5, CW_PN_NONE, frames,
				  sizeof(frames));
	assert_int_equal(n, 1 + 8 + 1 + 40 + 16);
	for (int i = 0; i < n; i++) {
		for (int b = 0; b < 8; b++) {
			memcpy(pkt, orig, (size_t)n);
			pkt[i] ^= (uint8_t)(1u << b);
			assert_int_not_equal(open_short(&gw, pkt, (size_t)n, &pn, NULL), 0);
		}
	}
	/* Truncated by one byte: the tag no longer verifies. */
	memcpy(pkt, orig, (size_t)n);
	assert_int_not_equal(open_short(&gw, pkt, (size_t)n - 1, &pn, NULL), 0);
	assert_int_equal(gw.largest, CW_PN_NONE);
	memcpy(pkt, orig, (size_t)n);
	assert_int_equal(open_short(&gw, pkt, (size_t)n, &pn, NULL), 0);
	assert_int_equal(pn, 5);
	cw_protect_short_free(&agent);
	cw_protect_short_free(&gw);
}

static void test_window(void **state)
{
	struct cw_protect_short agent, gw;
	uint8_t pkt[MAXP], old[MAXP], ping = 0x01;
	uint64_t pn;
	int n, nold;

	(void)state;
	short_pair(&agent, &gw);
	/* Two bytes of packet number, so it reconstructs as 900, not as a
	 * number near the top (which would fail the tag instead). */
	nold = cw_protect_short_seal(&agent, old, sizeof(old), cid_b4, 900, CW_PN_NONE, &ping, 1);
	assert_true(nold > 0);
	/* Far ahead (the sender skipped numbers, 4-byte encoding). */
	n = cw_protect_short_seal(&agent, pkt, sizeof(pkt), cid_b4, 3000, CW_PN_NONE, &ping, 1);
	assert_int_equal(open_short(&gw, pkt, (size_t)n, &pn, NULL), 0);
	assert_int_equal(pn, 3000);
	/* Packet 900 is now more than 2048 below the top: refused unopened. */
	assert_int_equal(open_short(&gw, old, (size_t)nold, &pn, NULL), -ESTALE);
	/* One inside the window is fine, once. */
	n = cw_protect_short_seal(&agent, pkt, sizeof(pkt), cid_b4, 3000 - 2048, 0, &ping, 1);
	memcpy(old, pkt, (size_t)n);
	assert_int_equal(open_short(&gw, pkt, (size_t)n, &pn, NULL), 0);
	assert_int_equal(pn, 3000 - 2048);
	assert_int_equal(open_short(&gw, old, (size_t)n, &pn, NULL), -EEXIST);
	/* Nothing to seal, and a packet number not above the acknowledged one. */
	assert_int_equal(cw_protect_short_seal(&agent, pkt, sizeof(pkt), cid_b4, 9, 5, &ping, 0),
			 -EINVAL);
	assert_int_equal(cw_protect_short_seal(&agent, pkt, sizeof(pkt), cid_b4, 5, 5, &ping, 1),
			 -EINVAL);
	assert_int_equal(cw_protect_short_seal(&agent, pkt, 20, cid_b4, 9, 5, &ping, 1), -EMSGSIZE);
	cw_protect_short_free(&agent);
	cw_protect_short_free(&gw);
}

/*
 * The agent updates its keys between packets 10 and 11; packet 9 (old
 * phase) arrives after 11 (new phase). Both open; their replays do not,
 * not even across the phase boundary.
 */
static void test_key_update_reordered(void **state)
{
	struct cw_protect_short agent, gw;
	uint8_t p8[MAXP], p9[MAXP], p10[MAXP], p11[MAXP], p12[MAXP], c9[MAXP], c11[MAXP];
	uint8_t ping = 0x01;
	int n8, n9, n10, n11, n12;
	uint64_t pn;

	(void)state;
	short_pair(&agent, &gw);
	n8 = cw_protect_short_seal(&agent, p8, MAXP, cid_b4, 8, CW_PN_NONE, &ping, 1);
	n9 = cw_protect_short_seal(&agent, p9, MAXP, cid_b4, 9, CW_PN_NONE, &ping, 1);
	n10 = cw_protect_short_seal(&agent, p10, MAXP, cid_b4, 10, CW_PN_NONE, &ping, 1);
	assert_int_equal(cw_protect_short_update(&agent), 0);
	assert_int_equal(cw_keyset_tx_phase(&agent.keys), 1);
	n11 = cw_protect_short_seal(&agent, p11, MAXP, cid_b4, 11, CW_PN_NONE, &ping, 1);
	n12 = cw_protect_short_seal(&agent, p12, MAXP, cid_b4, 12, CW_PN_NONE, &ping, 1);
	memcpy(c9, p9, (size_t)n9);
	memcpy(c11, p11, (size_t)n11);
	assert_int_equal(p11[0] & 0x04, 0x04);

	assert_int_equal(open_short(&gw, p10, (size_t)n10, &pn, NULL), 0);
	assert_int_equal(cw_keyset_tx_phase(&gw.keys), 0);
	assert_int_equal(open_short(&gw, p11, (size_t)n11, &pn, NULL), 0);
	assert_int_equal(pn, 11);
	/* The gateway followed the update. */
	assert_int_equal(cw_keyset_tx_phase(&gw.keys), 1);
	assert_int_equal(open_short(&gw, p9, (size_t)n9, &pn, NULL), 0);
	assert_int_equal(pn, 9);
	assert_int_equal(open_short(&gw, c9, (size_t)n9, &pn, NULL), -EEXIST);
	assert_int_equal(open_short(&gw, c11, (size_t)n11, &pn, NULL), -EEXIST);
	assert_int_equal(open_short(&gw, p12, (size_t)n12, &pn, NULL), 0);
	/* Once the previous keys are discarded, old-phase packets are dropped
	 * without a decryption attempt. */
	cw_protect_short_discard_prev(&gw);
	assert_int_equal(open_short(&gw, p8, (size_t)n8, &pn, NULL), -ENOKEY);
	n9 = cw_protect_short_seal(&agent, p9, MAXP, cid_b4, 13, CW_PN_NONE, &ping, 1);
	assert_int_equal(open_short(&gw, p9, (size_t)n9, &pn, NULL), 0);
	assert_int_equal(pn, 13);
	cw_protect_short_free(&agent);
	cw_protect_short_free(&gw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_b5),
	    cmocka_unit_test(test_long_roundtrip),
	    cmocka_unit_test(test_tamper),
	    cmocka_unit_test(test_window),
	    cmocka_unit_test(test_key_update_reordered),
	    cmocka_unit_test(test_prev_window_lifetime),
	};

	return cmocka_run_group_tests_name("protect", tests, NULL, NULL);
}
