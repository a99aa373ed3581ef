/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tunnel/header.c: long, short and RETRY headers against hand-assembled
 * bytes, every rejection the parser owes its hostile input, and packet
 * number truncation with RFC 9000's own examples.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tunnel/header.h"
#include "tunnel/varint.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const uint8_t dcid[CW_CID_LEN] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
static const uint8_t scid[CW_CID_LEN] = {0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8};

/* INITIAL, pn 0x1234 in 2 bytes, token "abc", 100 bytes of payload. */
static const uint8_t initial_hdr[] = {
    0xc1,						  /* long, fixed, INITIAL, pn_len 2 */
    0x43, 0x57, 0x00, 0x01,				  /* version */
    0x08, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* DCID */
    0x08, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, /* SCID */
    0x03, 'a',	'b',  'c',				  /* token */
    0x40, 0x66,						  /* length 102 */
    0x12, 0x34,						  /* packet number */
};
#define INITIAL_PAYLOAD 100

static struct cw_long_hdr initial_spec(void)
{
	return (struct cw_long_hdr){
	    .type = CW_PKT_INITIAL,
	    .version = CW_VERSION_1,
	    .dcid = dcid,
	    .scid = scid,
	    .token = (const uint8_t *)"abc",
	    .token_len = 3,
	    .pn = 0xab1234,
	    .pn_len = 2,
	    .payload_len = INITIAL_PAYLOAD,
	};
}

/* The INITIAL above with its payload, in @buf; returns its length. */
static size_t make_initial(uint8_t *buf)
{
	memcpy(buf, initial_hdr, sizeof(initial_hdr));
	for (size_t i = 0; i < INITIAL_PAYLOAD; i++)
		buf[sizeof(initial_hdr) + i] = (uint8_t)i;
	return sizeof(initial_hdr) + INITIAL_PAYLOAD;
}

static void test_short_encode(void **state)
{
	static const uint8_t want[] = {0x45, 0x01, 0x02, 0x03, 0x04, 0x05,
				       0x06, 0x07, 0x08, 0x56, 0x78};
	uint8_t out[16];

	(void)state;
	memset(out, 0xee, sizeof(out));
	assert_int_equal(cw_hdr_encode_short(out, sizeof(out), dcid, 1, 0x12345678, 2), 11);
	assert_memory_equal(out, want, sizeof(want));
	assert_int_equal(out[11], 0xee);

	assert_int_equal(cw_hdr_encode_short(out, sizeof(out), dcid, 0, 0x12345678, 4), 13);
	assert_int_equal(out[0], 0x43);
	assert_int_equal(out[9], 0x12);
	assert_int_equal(out[12], 0x78);
	assert_int_equal(cw_hdr_encode_short(out, sizeof(out), dcid, 0, 0xff, 1), 10);
	assert_int_equal(out[0], 0x40);
	assert_int_equal(out[9], 0xff);

	assert_int_equal(cw_hdr_encode_short(out, 10, dcid, 0, 1, 2), -EMSGSIZE);
	assert_int_equal(cw_hdr_encode_short(out, 11, dcid, 0, 1, 2), 11);
	assert_int_equal(cw_hdr_encode_short(out, sizeof(out), dcid, 2, 1, 2), -EINVAL);
	assert_int_equal(cw_hdr_encode_short(out, sizeof(out), dcid, 0, 1, 0), -EINVAL);
	assert_int_equal(cw_hdr_encode_short(out, sizeof(out), dcid, 0, 1, 5), -EINVAL);
	assert_int_equal(cw_hdr_encode_short(out, sizeof(out), NULL, 0, 1, 1), -EINVAL);
	assert_int_equal(cw_hdr_encode_short(out, sizeof(out), dcid, 0, CW_PN_MAX + 1, 4), -ERANGE);
	assert_int_equal(cw_hdr_encode_short(out, sizeof(out), dcid, 0, CW_PN_MAX, 4), 13);
}

/* PROTOCOL.md's example: truncation and header bytes together. */
static void test_short_protocol_example(void **state)
{
	static const uint8_t cid[CW_CID_LEN] = {0xf0, 0x5e, 0xa6, 0xe1, 0x41, 0xbd, 0x82, 0x65};
	static const uint8_t want[] = {0x41, 0xf0, 0x5e, 0xa6, 0xe1, 0x41,
				       0xbd, 0x82, 0x65, 0x5c, 0x02};
	uint8_t out[16];
	int pn_len;

	(void)state;
	pn_len = cw_pn_len(0xac5c02, 0xabe8b3);
	assert_int_equal(pn_len, 2);
	assert_int_equal(cw_hdr_encode_short(out, sizeof(out), cid, 0, 0xac5c02, (size_t)pn_len),
			 (int)sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	/* A receiver whose largest is the acked one gets the number back. */
	assert_true(cw_pn_decode(0xabe8b3, 0x5c02, 2) == 0xac5c02);
}

static void test_short_decode(void **state)
{
	uint8_t pkt[64];
	struct cw_hdr h;
	int n;

	(void)state;
	for (size_t pn_len = 1; pn_len <= 4; pn_len++) {
		for (unsigned kp = 0; kp <= 1; kp++) {
			n = cw_hdr_encode_short(pkt, sizeof(pkt), dcid, kp, 0x0a0b0c0d, pn_len);
			assert_int_equal(n, (int)(9 + pn_len));
			assert_int_equal(cw_hdr_decode(pkt, 40, &h), 0);
			assert_int_equal(h.type, CW_PKT_SHORT);
			assert_int_equal(h.key_phase, kp);
			assert_int_equal(h.pn_len, pn_len);
			assert_int_equal(h.version, 0);
			assert_int_equal(h.dcid_off, 1);
			assert_int_equal(h.dcid_len, CW_CID_LEN);
			assert_memory_equal(pkt + h.dcid_off, dcid, CW_CID_LEN);
			assert_int_equal(h.scid_len, 0);
			assert_int_equal(h.token_len, 0);
			assert_int_equal(h.pn_off, 9);
			assert_true(h.pn_trunc ==
				    (UINT64_C(0x0a0b0c0d) & ((UINT64_C(1) << (8 * pn_len)) - 1)));
			assert_int_equal(h.payload_off, 9 + pn_len);
			assert_int_equal(h.payload_len, 40 - 9 - pn_len);
			assert_int_equal(h.pkt_len, 40);
		}
	}
	/* A tag and one frame byte at least. */
	n = cw_hdr_encode_short(pkt, sizeof(pkt), dcid, 0, 7, 1);
	assert_int_equal(cw_hdr_decode(pkt, (size_t)n + CW_MIN_PAYLOAD_LEN - 1, &h), -EBADMSG);
	assert_int_equal(cw_hdr_decode(pkt, (size_t)n + CW_MIN_PAYLOAD_LEN, &h), 0);
	assert_int_equal(h.payload_len, CW_MIN_PAYLOAD_LEN);
}

static void test_short_reject(void **state)
{
	uint8_t pkt[64] = {0};
	struct cw_hdr h;
	int n;

	(void)state;
	n = cw_hdr_encode_short(pkt, sizeof(pkt), dcid, 0, 0x1234, 2);
	n += CW_MIN_PAYLOAD_LEN;
	/* Truncated anywhere, in the header or the minimum payload. */
	for (size_t len = 0; len < (size_t)n; len++)
		assert_int_equal(cw_hdr_decode(pkt, len, &h), -EBADMSG);
	assert_int_equal(cw_hdr_decode(pkt, (size_t)n, &h), 0);
	assert_int_equal(cw_hdr_decode(NULL, 0, &h), -EBADMSG);

	pkt[0] = 0x01; /* fixed bit clear */
	assert_int_equal(cw_hdr_decode(pkt, (size_t)n, &h), -EBADMSG);
	pkt[0] = 0x00;
	assert_int_equal(cw_hdr_decode(pkt, (size_t)n, &h), -EBADMSG);
	/* The spin bit and the two reserved bits are not in this version. */
	static const uint8_t reserved[] = {0x20, 0x10, 0x08, 0x38};
	for (size_t i = 0; i < N(reserved); i++) {
		pkt[0] = (uint8_t)(0x41 | reserved[i]);
		assert_int_equal(cw_hdr_decode(pkt, (size_t)n, &h), -EBADMSG);
	}
	pkt[0] = 0x41;
	assert_int_equal(cw_hdr_decode(pkt, (size_t)n, &h), 0);
}

static void test_initial_encode(void **state)
{
	struct cw_long_hdr s = initial_spec();
	uint8_t out[64];

	(void)state;
	memset(out, 0xee, sizeof(out));
	assert_int_equal(cw_hdr_encode_long(out, sizeof(out), &s), (int)sizeof(initial_hdr));
	assert_memory_equal(out, initial_hdr, sizeof(initial_hdr));
	assert_int_equal(out[sizeof(initial_hdr)], 0xee);

	/* Exactly the header's room is enough: the payload is the caller's. */
	assert_int_equal(cw_hdr_encode_long(out, sizeof(initial_hdr), &s),
			 (int)sizeof(initial_hdr));
	for (size_t cap = 0; cap < sizeof(initial_hdr); cap++)
		assert_int_equal(cw_hdr_encode_long(out, cap, &s), -EMSGSIZE);

	/* No token: a single zero length byte. */
	s.token = NULL;
	s.token_len = 0;
	assert_int_equal(cw_hdr_encode_long(out, sizeof(out), &s), 28);
	assert_int_equal(out[23], 0x00);
	assert_int_equal(out[24], 0x40);
	assert_int_equal(out[25], 0x66);
}

static void test_initial_decode(void **state)
{
	uint8_t pkt[256];
	size_t len = make_initial(pkt);
	struct cw_hdr h;

	(void)state;
	assert_int_equal(cw_hdr_decode(pkt, len, &h), 0);
	assert_int_equal(h.type, CW_PKT_INITIAL);
	assert_true(h.version == CW_VERSION_1);
	assert_int_equal(h.pn_len, 2);
	assert_int_equal(h.dcid_off, 6);
	assert_int_equal(h.dcid_len, 8);
	assert_int_equal(h.scid_off, 15);
	assert_int_equal(h.scid_len, 8);
	assert_int_equal(h.token_off, 24);
	assert_int_equal(h.token_len, 3);
	assert_memory_equal(pkt + h.token_off, "abc", 3);
	assert_int_equal(h.pn_off, 29);
	assert_true(h.pn_trunc == 0x1234);
	assert_int_equal(h.payload_off, 31);
	assert_int_equal(h.payload_len, INITIAL_PAYLOAD);
	assert_int_equal(h.pkt_len, len);

	/* Bytes after the packet belong to the next one in the datagram. */
	memset(pkt + len, 0, 20);
	assert_int_equal(cw_hdr_decode(pkt, len + 20, &h), 0);
	assert_int_equal(h.pkt_len, len);

	/* Every prefix is short of what the length field promises. */
	for (size_t l = 0; l < len; l++)
		assert_int_equal(cw_hdr_decode(pkt, l, &h), -EBADMSG);
}

/* An INITIAL and a HANDSHAKE packet coalesced into one datagram. */
static void test_coalesced(void **state)
{
	struct cw_long_hdr hs = {
	    .type = CW_PKT_HANDSHAKE,
	    .version = CW_VERSION_1,
	    .dcid = dcid,
	    .scid = scid,
	    .pn = 3,
	    .pn_len = 1,
	    .payload_len = 20,
	    .length_len = 2,
	};
	static const uint8_t hs_hdr[] = {
	    0xd0, 0x43, 0x57, 0x00, 0x01, 0x08, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	    0x08, 0x08, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0x40, 0x15, /* length 21 in
										       the two bytes
										       asked for */
	    0x03,
	};
	uint8_t dgram[512];
	size_t off = make_initial(dgram);
	struct cw_hdr h;
	int n;

	(void)state;
	n = cw_hdr_encode_long(dgram + off, sizeof(dgram) - off, &hs);
	assert_int_equal(n, (int)sizeof(hs_hdr));
	assert_memory_equal(dgram + off, hs_hdr, sizeof(hs_hdr));
	memset(dgram + off + (size_t)n, 0x5a, 20);

	size_t total = off + (size_t)n + 20;
	assert_int_equal(cw_hdr_decode(dgram, total, &h), 0);
	assert_int_equal(h.type, CW_PKT_INITIAL);
	assert_int_equal(h.pkt_len, off);
	assert_int_equal(cw_hdr_decode(dgram + off, total - off, &h), 0);
	assert_int_equal(h.type, CW_PKT_HANDSHAKE);
	assert_int_equal(h.token_off, 0);
	assert_int_equal(h.token_len, 0);
	assert_int_equal(h.pn_len, 1);
	assert_true(h.pn_trunc == 3);
	assert_int_equal(h.pn_off, 25);
	assert_int_equal(h.payload_off, 26);
	assert_int_equal(h.payload_len, 20);
	assert_int_equal(h.pkt_len, total - off);
}

static void test_long_encode_reject(void **state)
{
	struct cw_long_hdr s;
	uint8_t out[64];

	(void)state;
	s = initial_spec();
	s.type = CW_PKT_RETRY;
	assert_int_equal(cw_hdr_encode_long(out, sizeof(out), &s), -EINVAL);
	s.type = CW_PKT_SHORT;
	assert_int_equal(cw_hdr_encode_long(out, sizeof(out), &s), -EINVAL);
	s = initial_spec();
	s.type = CW_PKT_HANDSHAKE; /* with a token */
	assert_int_equal(cw_hdr_encode_long(out, sizeof(out), &s), -EINVAL);
	s = initial_spec();
	s.pn_len = 0;
	assert_int_equal(cw_hdr_encode_long(out, sizeof(out), &s), -EINVAL);
	s.pn_len = 5;
	assert_int_equal(cw_hdr_encode_long(out, sizeof(out), &s), -EINVAL);
	s = initial_spec();
	s.dcid = NULL;
	assert_int_equal(cw_hdr_encode_long(out, sizeof(out), &s), -EINVAL);
	s = initial_spec();
	s.token = NULL;
	assert_int_equal(cw_hdr_encode_long(out, sizeof(out), &s), -EINVAL);
	s = initial_spec();
	s.length_len = 3;
	assert_int_equal(cw_hdr_encode_long(out, sizeof(out), &s), -EINVAL);
	s = initial_spec();
	s.pn = CW_PN_MAX + 1;
	assert_int_equal(cw_hdr_encode_long(out, sizeof(out), &s), -ERANGE);
	/* 2 + 62 = 64 needs two bytes; 2 + 61 fits one. */
	s = initial_spec();
	s.length_len = 1;
	s.payload_len = 62;
	assert_int_equal(cw_hdr_encode_long(out, sizeof(out), &s), -ERANGE);
	s.payload_len = 61;
	assert_int_equal(cw_hdr_encode_long(out, sizeof(out), &s), 30);
	assert_int_equal(out[27], 63);
	s = initial_spec();
	s.payload_len = (size_t)CW_VARINT_MAX;
	assert_int_equal(cw_hdr_encode_long(out, sizeof(out), &s), -ERANGE);
	s = initial_spec();
	s.payload_len = CW_MIN_PAYLOAD_LEN - 1;
	assert_int_equal(cw_hdr_encode_long(out, sizeof(out), &s), -EINVAL);
	s.payload_len = CW_MIN_PAYLOAD_LEN;
	assert_int_equal(cw_hdr_encode_long(out, sizeof(out), &s), 23 + 4 + 1 + 2);
}

/* The longest token an INITIAL may carry, and one byte more. */
static void test_initial_token_limit(void **state)
{
	uint8_t token[CW_TOKEN_MAX_LEN + 1];
	uint8_t pkt[256] = {0};
	struct cw_long_hdr s = initial_spec();
	struct cw_hdr h;
	int n;

	(void)state;
	for (size_t i = 0; i < sizeof(token); i++)
		token[i] = (uint8_t)(0xc0 + i);
	s.token = token;
	s.token_len = CW_TOKEN_MAX_LEN;
	s.payload_len = CW_MIN_PAYLOAD_LEN;
	n = cw_hdr_encode_long(pkt, sizeof(pkt), &s);
	/* 23 + 2 (token length 64 takes two bytes) + 64 + 1 + 2. */
	assert_int_equal(n, 23 + 2 + 64 + 1 + 2);
	assert_int_equal(pkt[23], 0x40);
	assert_int_equal(pkt[24], 0x40);
	assert_int_equal(cw_hdr_decode(pkt, (size_t)n + CW_MIN_PAYLOAD_LEN, &h), 0);
	assert_int_equal(h.token_off, 25);
	assert_int_equal(h.token_len, CW_TOKEN_MAX_LEN);
	assert_memory_equal(pkt + h.token_off, token, CW_TOKEN_MAX_LEN);

	s.token_len = CW_TOKEN_MAX_LEN + 1;
	assert_int_equal(cw_hdr_encode_long(pkt, sizeof(pkt), &s), -EINVAL);
	/* A 65-byte token written by hand is refused on input. */
	memmove(pkt + 25 + 65, pkt + 25 + 64, 3 + CW_MIN_PAYLOAD_LEN);
	pkt[24] = 65;
	pkt[25 + 64] = 0xff;
	assert_int_equal(cw_hdr_decode(pkt, (size_t)n + 1 + CW_MIN_PAYLOAD_LEN, &h), -EBADMSG);
	pkt[24] = 64;
	assert_int_equal(cw_hdr_decode(pkt, (size_t)n + 1 + CW_MIN_PAYLOAD_LEN, &h), -EBADMSG);
}

/* Start from the valid INITIAL, break one thing, expect @rc. */
struct long_case {
	const char *what;
	size_t at;
	uint8_t val;
	int rc;
};

static void test_long_reject(void **state)
{
	static const struct long_case cases[] = {
	    {"fixed bit clear", 0, 0x81, -EBADMSG},
	    {"reserved bit 2", 0, 0xc5, -EBADMSG},
	    {"reserved bit 3", 0, 0xc9, -EBADMSG},
	    {"type 3", 0, 0xf1, -EBADMSG},
	    {"DCID length 7", 5, 7, -EBADMSG},
	    {"DCID length 9", 5, 9, -EBADMSG},
	    {"DCID length 0", 5, 0, -EBADMSG},
	    {"SCID length 0", 14, 0, -EBADMSG},
	    {"SCID length 20", 14, 20, -EBADMSG},
	    {"SCID length 255", 14, 255, -EBADMSG},
	    {"token of 353 (over 64)", 23, 0x41, -EBADMSG},
	    {"token of 4: length field misread", 23, 0x04, -EBADMSG},
	    {"length 0", 28, 0x00, -EBADMSG},
	    {"length 1 < pn_len 2", 28, 0x01, -EBADMSG},
	    {"length one past the end", 28, 0x67, -EBADMSG},
	    {"length exactly the pn", 28, 0x02, -EBADMSG},
	    {"payload one short of a tag + 1", 28, 0x12, -EBADMSG},
	    {"payload exactly a tag + 1", 28, 0x13, 0},
	    {"length one short of the end", 28, 0x65, 0},
	    {"pn_len 4 over a length of 102", 0, 0xc3, 0},
	};
	uint8_t pkt[256];
	struct cw_hdr h;
	size_t len;

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		len = make_initial(pkt);
		pkt[cases[i].at] = cases[i].val;
		print_message("%s\n", cases[i].what);
		assert_int_equal(cw_hdr_decode(pkt, len, &h), cases[i].rc);
	}
	len = make_initial(pkt);
	pkt[28] = 0x13;
	assert_int_equal(cw_hdr_decode(pkt, len, &h), 0);
	assert_int_equal(h.payload_len, CW_MIN_PAYLOAD_LEN);
	assert_int_equal(h.pkt_len, 31 + CW_MIN_PAYLOAD_LEN);
	/* A length field cut short by the end of the input. */
	assert_int_equal(cw_hdr_decode(pkt, 28, &h), -EBADMSG);
	assert_int_equal(cw_hdr_decode(pkt, 29, &h), -EBADMSG);
	/* A length varint of 8 bytes whose value is past the end. */
	len = make_initial(pkt);
	pkt[27] = 0xc0;
	assert_int_equal(cw_hdr_decode(pkt, len, &h), -EBADMSG);
}

static void test_unknown_version(void **state)
{
	/* QUIC v1 with a 20-byte DCID and an empty SCID. */
	uint8_t pkt[64] = {0xc0, 0x00, 0x00, 0x00, 0x01, 20};
	struct cw_hdr h;

	(void)state;
	for (size_t i = 0; i < 20; i++)
		pkt[6 + i] = (uint8_t)(0x80 + i);
	pkt[26] = 0;
	assert_int_equal(cw_hdr_decode(pkt, 40, &h), -EPROTONOSUPPORT);
	assert_true(h.version == 1);
	assert_int_equal(h.dcid_off, 6);
	assert_int_equal(h.dcid_len, 20);
	assert_int_equal(h.scid_off, 27);
	assert_int_equal(h.scid_len, 0);
	/* Exactly the shared fields are enough. */
	assert_int_equal(cw_hdr_decode(pkt, 27, &h), -EPROTONOSUPPORT);
	for (size_t l = 0; l < 27; l++)
		assert_int_equal(cw_hdr_decode(pkt, l, &h), -EBADMSG);

	/* The fixed bit is the other version's business. */
	pkt[0] = 0x80;
	assert_int_equal(cw_hdr_decode(pkt, 40, &h), -EPROTONOSUPPORT);

	/* Version 0 (version negotiation) is still reported as such. */
	memset(pkt + 1, 0, 4);
	assert_int_equal(cw_hdr_decode(pkt, 40, &h), -EPROTONOSUPPORT);
	assert_true(h.version == 0);

	/* One version off ours. */
	uint8_t ours[256];
	size_t len = make_initial(ours);
	ours[4] = 0x02;
	assert_int_equal(cw_hdr_decode(ours, len, &h), -EPROTONOSUPPORT);
	assert_true(h.version == 0x43570002);
	assert_int_equal(h.dcid_len, 8);
	assert_int_equal(h.scid_len, 8);
	assert_memory_equal(ours + h.scid_off, scid, 8);
}

static void test_retry(void **state)
{
	static const uint8_t want[] = {
	    0xe0, 0x43, 0x57, 0x00, 0x01, 0x08, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	    0x08, 0x08, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 't',  'o',  'k',
	};
	uint8_t pkt[64];
	struct cw_hdr h;
	int n;

	(void)state;
	n = cw_hdr_encode_retry(pkt, sizeof(pkt), CW_VERSION_1, dcid, scid, (const uint8_t *)"tok",
				3);
	assert_int_equal(n, (int)sizeof(want));
	assert_memory_equal(pkt, want, sizeof(want));
	memset(pkt + n, 0x77, CW_RETRY_TAG_LEN);
	size_t len = (size_t)n + CW_RETRY_TAG_LEN;

	assert_int_equal(cw_hdr_decode(pkt, len, &h), 0);
	assert_int_equal(h.type, CW_PKT_RETRY);
	assert_int_equal(h.pn_len, 0);
	assert_int_equal(h.token_off, 23);
	assert_int_equal(h.token_len, 3);
	assert_int_equal(h.payload_off, 26);
	assert_int_equal(h.payload_len, CW_RETRY_TAG_LEN);
	assert_int_equal(h.pkt_len, len);

	/* Without a token byte there is no Retry. */
	for (size_t l = 0; l < 23 + 1 + CW_RETRY_TAG_LEN; l++)
		assert_int_equal(cw_hdr_decode(pkt, l, &h), -EBADMSG);
	assert_int_equal(cw_hdr_decode(pkt, 23 + 1 + CW_RETRY_TAG_LEN, &h), 0);
	assert_int_equal(h.token_len, 1);
	pkt[0] = 0xe1;
	assert_int_equal(cw_hdr_decode(pkt, len, &h), -EBADMSG);
	pkt[0] = 0xa0;
	assert_int_equal(cw_hdr_decode(pkt, len, &h), -EBADMSG);

	assert_int_equal(
	    cw_hdr_encode_retry(pkt, sizeof(pkt), CW_VERSION_1, dcid, scid, (const uint8_t *)"", 0),
	    -EINVAL);
	assert_int_equal(cw_hdr_encode_retry(pkt, sizeof(pkt), CW_VERSION_1, NULL, scid,
					     (const uint8_t *)"t", 1),
			 -EINVAL);
	/* Room for the header but not for the tag after it. */
	assert_int_equal(cw_hdr_encode_retry(pkt, 23 + 3 + CW_RETRY_TAG_LEN - 1, CW_VERSION_1, dcid,
					     scid, (const uint8_t *)"tok", 3),
			 -EMSGSIZE);
	assert_int_equal(cw_hdr_encode_retry(pkt, 23 + 3 + CW_RETRY_TAG_LEN, CW_VERSION_1, dcid,
					     scid, (const uint8_t *)"tok", 3),
			 26);
}

struct pn_len_case {
	uint64_t pn, acked;
	int rc;
};

static void test_pn_len(void **state)
{
	static const struct pn_len_case cases[] = {
	    /* RFC 9000 §17.1's two examples. */
	    {0xac5c02, 0xabe8b3, 2},
	    {0xace8fe, 0xabe8b3, 3},
	    /* Nothing acknowledged: pn + 1 numbers are outstanding. */
	    {0, CW_PN_NONE, 1},
	    {127, CW_PN_NONE, 1},
	    {128, CW_PN_NONE, 2},
	    {32767, CW_PN_NONE, 2},
	    {32768, CW_PN_NONE, 3},
	    /* Half of each window covers what is outstanding. */
	    {1000 + 128, 1000, 1},
	    {1000 + 129, 1000, 2},
	    {1000 + 32768, 1000, 2},
	    {1000 + 32769, 1000, 3},
	    {1000 + (1 << 23), 1000, 3},
	    {1000 + (1 << 23) + 1, 1000, 4},
	    {CW_PN_MAX, 0, 4},
	    {CW_PN_MAX, CW_PN_MAX - 1, 1},
	    {5, 4, 1},
	    /* Misuse. */
	    {4, 4, -EINVAL},
	    {3, 4, -EINVAL},
	    {CW_PN_MAX + 1, 0, -EINVAL},
	    {CW_PN_MAX + 1, CW_PN_NONE, -EINVAL},
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		print_message("case %zu\n", i);
		assert_int_equal(cw_pn_len(cases[i].pn, cases[i].acked), cases[i].rc);
	}
}

struct pn_dec_case {
	uint64_t largest, trunc;
	size_t pn_len;
	uint64_t want;
};

static void test_pn_decode(void **state)
{
	static const struct pn_dec_case cases[] = {
	    /* RFC 9000 A.3. */
	    {0xa82f30ea, 0x9b32, 2, 0xa82f9b32},
	    /* Nothing received yet: expect 0. */
	    {CW_PN_NONE, 0, 1, 0},
	    {CW_PN_NONE, 5, 1, 5},
	    {CW_PN_NONE, 0x7f, 1, 0x7f},
	    {CW_PN_NONE, 0x80, 1, 0x80},
	    {CW_PN_NONE, 0xffff, 2, 0xffff},
	    /* Forward across a window boundary. */
	    {0xff, 0x01, 1, 0x101},
	    {0xfffe, 0x0001, 2, 0x10001},
	    /* Backward (reordering) across one. */
	    {0x100, 0xff, 1, 0xff},
	    /* expected 0x101: the window is (0x81, 0x181]. */
	    {0x100, 0x81, 1, 0x181},
	    {0x100, 0x82, 1, 0x82},
	    {0x100, 0x01, 1, 0x101},
	    /* 4 bytes. */
	    {0x1fffffffe, 0x00000001, 4, 0x200000001},
	    {0x200000005, 0xfffffff0, 4, 0x1fffffff0},
	    /* At the top of the space no candidate goes past it. */
	    {CW_PN_MAX - 1, 0xff, 1, CW_PN_MAX},
	    {CW_PN_MAX - 1, 0x00, 1, CW_PN_MAX - 0xff},
	    {CW_PN_MAX, 0x00, 1, CW_PN_MAX + 1}, /* space exhausted */
	    /* Bits above the truncated length are ignored. */
	    {0xa82f30ea, 0xff9b32, 2, 0xa82f9b32},
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		print_message("case %zu\n", i);
		assert_true(cw_pn_decode(cases[i].largest, cases[i].trunc, cases[i].pn_len) ==
			    cases[i].want);
	}
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/*
 * Whatever the sender truncates with cw_pn_len(), a receiver whose largest
 * lies between the sender's largest acked and the packet reconstructs it.
 */
static void test_pn_roundtrip(void **state)
{
	(void)state;
	for (int i = 0; i < 200000; i++) {
		uint64_t acked = rng() & (i & 1 ? CW_PN_MAX >> 20 : 0xffffff);
		uint64_t gap = 1 + (rng() >> (34 + rng() % 30));
		uint64_t pn = acked + gap;
		uint64_t largest = acked + rng() % gap;
		int n = cw_pn_len(pn, acked);

		if (gap > (UINT64_C(1) << 31))
			continue;
		assert_true(n >= 1 && n <= 4);
		uint64_t trunc = pn & ((UINT64_C(1) << (8 * n)) - 1);
		assert_true(cw_pn_decode(largest, trunc, (size_t)n) == pn);
	}
	for (uint64_t pn = 0; pn < 70000; pn++) {
		int n = cw_pn_len(pn, CW_PN_NONE);

		assert_true(
		    cw_pn_decode(CW_PN_NONE, pn & ((UINT64_C(1) << (8 * n)) - 1), (size_t)n) == pn);
	}
}

/* Every byte of a valid INITIAL changed to every value: no read overrun. */
static void test_mutations(void **state)
{
	uint8_t pkt[256];
	struct cw_hdr h;
	size_t len;

	(void)state;
	for (size_t at = 0; at < sizeof(initial_hdr); at++) {
		for (unsigned v = 0; v < 256; v++) {
			len = make_initial(pkt);
			pkt[at] = (uint8_t)v;
			if (cw_hdr_decode(pkt, len, &h) == 0) {
				assert_true(h.pkt_len <= len);
				assert_true(h.payload_off + h.payload_len <= h.pkt_len);
				assert_true(h.token_off + h.token_len <= h.pkt_len);
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_short_encode),
	    cmocka_unit_test(test_short_protocol_example),
	    cmocka_unit_test(test_short_decode),
	    cmocka_unit_test(test_short_reject),
	    cmocka_unit_test(test_initial_encode),
	    cmocka_unit_test(test_initial_decode),
	    cmocka_unit_test(test_coalesced),
	    cmocka_unit_test(test_long_encode_reject),
	    cmocka_unit_test(test_initial_token_limit),
	    cmocka_unit_test(test_long_reject),
	    cmocka_unit_test(test_unknown_version),
	    cmocka_unit_test(test_retry),
	    cmocka_unit_test(test_pn_len),
	    cmocka_unit_test(test_pn_decode),
	    cmocka_unit_test(test_pn_roundtrip),
	    cmocka_unit_test(test_mutations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
