/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Packet headers (PROTOCOL.md "Packets") and packet-number truncation.
 *
 * Long header, used until the handshake completes:
 *   byte 0   1 1 T T 0 0 P P   (T = type, P = pn_len - 1; RETRY: P = 0)
 *   version  u32, big-endian
 *   DCID len (1 byte, 8), DCID; SCID len (1 byte, 8), SCID
 *   INITIAL: token length (varint), token
 *   INITIAL, HANDSHAKE: length (varint) of packet number + payload,
 *                       packet number (pn_len bytes), protected payload
 *   RETRY: token up to the last 16 bytes, then the 16-byte integrity tag
 * Short header, once 1-RTT keys exist:
 *   byte 0   0 1 0 0 0 K P P   (K = key phase)
 *   DCID (8 bytes), packet number (pn_len bytes), protected payload
 *
 * There is no header protection, so the packet number is read here and the
 * bytes before the payload are the AEAD's associated data as they stand.
 * Several long-header packets may share a datagram (the length field says
 * where each ends); a short-header packet runs to the end of it.
 *
 * The decoder is a pure parser over hostile bytes: it never reads past the
 * buffer, and reports positions rather than copying, so the caller decrypts
 * in place.
 */
#ifndef CW_HEADER_H
#define CW_HEADER_H

#include <stddef.h>
#include <stdint.h>

#define CW_VERSION_1	 0x43570001u
#define CW_CID_LEN	 8
#define CW_PN_MAX	 ((UINT64_C(1) << 62) - 1)
#define CW_PN_NONE	 UINT64_MAX /* no packet number yet (acked / received) */
#define CW_RETRY_TAG_LEN 16
#define CW_TOKEN_MAX_LEN 64 /* an INITIAL's token */
/* A 16-byte AEAD tag and at least one frame byte. */
#define CW_MIN_PAYLOAD_LEN 17

enum cw_pkt_type {
	CW_PKT_INITIAL = 0, /* long header types are the wire values */
	CW_PKT_HANDSHAKE = 1,
	CW_PKT_RETRY = 2,
	CW_PKT_SHORT = 4, /* not a wire value: a short-header packet */
};

/* A decoded header: every position is an offset from the packet start. */
struct cw_hdr {
	enum cw_pkt_type type;
	uint32_t version;  /* long header; 0 for a short header */
	uint8_t key_phase; /* short header only */
	uint8_t pn_len;	   /* 1..4; 0 for RETRY */
	size_t dcid_off, dcid_len;
	size_t scid_off, scid_len;	 /* long header only */
	size_t token_off, token_len;	 /* INITIAL and RETRY only */
	size_t pn_off;			 /* associated data is [0, pn_off + pn_len) */
	uint64_t pn_trunc;		 /* packet number as on the wire */
	size_t payload_off, payload_len; /* protected payload, tag included;
					  * RETRY: the integrity tag */
	size_t pkt_len;			 /* bytes of this packet, from offset 0 */
};

/*
 * Parse the packet at the start of @pkt (@len bytes) into @h.
 * Returns 0 on success. Errors:
 *  -EBADMSG  malformed: empty or truncated input, fixed bit 0, reserved bits
 *            set, long-header type 3, CID length other than CW_CID_LEN,
 *            INITIAL token over CW_TOKEN_MAX_LEN, pn_len bits not 0 in a
 *            RETRY, length field longer than the input, protected payload
 *            under CW_MIN_PAYLOAD_LEN, RETRY too short to hold a token and
 *            its tag. (An agent still checks a short datagram rejected here
 *            for a stateless reset: that needs only its last bytes.)
 *  -EPROTONOSUPPORT  a long header of another version. Only the fields
 *            every version shares are filled (version, dcid_*, scid_*, with
 *            CID lengths 0..255) so the caller may answer with version
 *            negotiation; a packet of version 0 is itself version
 *            negotiation and must never be answered. The fixed bit is not
 *            checked, since its meaning belongs to the version.
 * On error @h holds nothing else of use.
 */
int cw_hdr_decode(const uint8_t *pkt, size_t len, struct cw_hdr *h);

/* What an INITIAL or HANDSHAKE header says; see cw_hdr_encode_long(). */
struct cw_long_hdr {
	enum cw_pkt_type type; /* CW_PKT_INITIAL or CW_PKT_HANDSHAKE */
	uint32_t version;
	const uint8_t *dcid, *scid; /* CW_CID_LEN bytes each */
	const uint8_t *token;	    /* INITIAL only; may be NULL when empty */
	size_t token_len;
	uint64_t pn;	    /* full packet number; the low pn_len bytes go out */
	size_t pn_len;	    /* 1..4, from cw_pn_len() */
	size_t payload_len; /* protected payload that will follow, tag included;
			     * at least CW_MIN_PAYLOAD_LEN */
	size_t length_len;  /* 0: shortest form; 1, 2, 4 or 8: reserve that many
			     * bytes for the length field, so the caller may fix
			     * the size of the header before the payload */
};

/*
 * Write the header described by @s at @out (@cap bytes), up to and
 * including the packet number; the caller writes @s->payload_len bytes of
 * protected payload right after. Returns the header length, or:
 *  -EINVAL   type not INITIAL/HANDSHAKE, pn_len not 1..4, a token on a
 *            HANDSHAKE packet or over CW_TOKEN_MAX_LEN, a NULL CID, a
 *            payload_len under CW_MIN_PAYLOAD_LEN, or a length_len not
 *            0/1/2/4/8.
 *  -ERANGE   pn above CW_PN_MAX, or pn_len + payload_len not encodable in
 *            length_len bytes (or at all).
 *  -EMSGSIZE the header does not fit in @cap (nothing useful written).
 */
int cw_hdr_encode_long(uint8_t *out, size_t cap, const struct cw_long_hdr *s);

/*
 * Write a RETRY header and its @token (@token_len >= 1 bytes) at @out;
 * the caller appends the CW_RETRY_TAG_LEN-byte integrity tag, computed over
 * what was written here. Returns the length written, -EINVAL for an empty
 * token or a NULL CID, or -EMSGSIZE when @cap cannot hold it plus the tag.
 */
int cw_hdr_encode_retry(uint8_t *out, size_t cap, uint32_t version, const uint8_t *dcid,
			const uint8_t *scid, const uint8_t *token, size_t token_len);

/*
 * Write a short header for @dcid (CW_CID_LEN bytes), @key_phase (0 or 1)
 * and the low @pn_len bytes of @pn. Returns the header length
 * (1 + CW_CID_LEN + pn_len), -EINVAL for a bad key phase or pn_len,
 * -ERANGE for pn above CW_PN_MAX, or -EMSGSIZE when @cap is too small.
 */
int cw_hdr_encode_short(uint8_t *out, size_t cap, const uint8_t *dcid, unsigned key_phase,
			uint64_t pn, size_t pn_len);

/*
 * Bytes needed on the wire for packet number @pn when the peer has
 * acknowledged up to @largest_acked (CW_PN_NONE if nothing yet): enough
 * that the receiver, whose largest received is at least @largest_acked,
 * reconstructs @pn unambiguously (RFC 9000 §17.1 and A.2). Returns 1..4,
 * or -EINVAL when @pn is above CW_PN_MAX or not above @largest_acked.
 * A gap too large even for 4 bytes returns 4: the sender has then let far
 * more than 2^31 packets go unacknowledged and must not send at all.
 */
int cw_pn_len(uint64_t pn, uint64_t largest_acked);

/*
 * Reconstruct a full packet number from the @pn_len (1..4) low bytes
 * @truncated, given the largest packet number received so far in the same
 * space (CW_PN_NONE if none): the candidate closest to the next expected
 * one (RFC 9000 A.3). The result exceeds CW_PN_MAX only when the space is
 * exhausted; the caller drops such a packet. Bits of @truncated above
 * @pn_len bytes are ignored.
 */
uint64_t cw_pn_decode(uint64_t largest, uint64_t truncated, size_t pn_len);

#endif /* CW_HEADER_H */
