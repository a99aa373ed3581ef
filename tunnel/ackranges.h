/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Received packet numbers of one packet number space, and the ACK frame
 * that reports them (RFC 9000 §19.3, frame type 0x02).
 *
 * The set is a fixed array of disjoint, non-adjacent ranges, highest first.
 * It is bounded because the peer chooses the packet numbers: a peer that
 * leaves a hole after every packet must not make us grow. When full, the
 * oldest range is forgotten; its packets are then never acknowledged again,
 * which at worst makes the peer retransmit their frames.
 *
 * On the wire the ACK delay is in units of 8 µs (a fixed ack_delay_exponent
 * of 3); the frame struct keeps it in those units, as sent.
 */
#ifndef CW_ACKRANGES_H
#define CW_ACKRANGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CW_ACK_FRAME_TYPE	0x02
#define CW_ACKSET_MAX_RANGES	32
#define CW_ACK_FRAME_MAX_RANGES 64

/* Packet numbers lo..hi, both included. */
struct cw_ack_range {
	uint64_t lo, hi;
};

struct cw_ackset {
	size_t n;
	struct cw_ack_range r[CW_ACKSET_MAX_RANGES]; /* r[0] holds the largest */
};

struct cw_ack_frame {
	uint64_t ack_delay;   /* units of 8 µs */
	uint64_t range_count; /* the wire's ACK Range Count: gap/length pairs
			       * after the first range */
	size_t n;	      /* ranges kept in r[] (the highest ones) */
	struct cw_ack_range r[CW_ACK_FRAME_MAX_RANGES]; /* descending, r[0].hi largest */
};

static inline void cw_ackset_init(struct cw_ackset *s)
{
	s->n = 0;
}

/*
 * Record packet number @pn. Returns 0 when recorded, or:
 *  -EEXIST  already in the set (a duplicate);
 *  -ENOSPC  the set is full and @pn is older than every range in it, so
 *           recording it would forget it at once;
 *  -ERANGE  @pn is above the 62-bit packet number space.
 */
int cw_ackset_add(struct cw_ackset *s, uint64_t pn);

/* Whether @pn is in the set. */
bool cw_ackset_contains(const struct cw_ackset *s, uint64_t pn);

/* Store the largest recorded packet number in @pn; returns 0 or -ENOENT. */
int cw_ackset_largest(const struct cw_ackset *s, uint64_t *pn);

/*
 * Forget every packet number below @pn, once the peer has seen an ACK
 * covering them and they need not be reported again.
 */
void cw_ackset_forget_below(struct cw_ackset *s, uint64_t pn);

/*
 * Write an ACK frame (type byte included) for the @n ranges @r, which must
 * be descending, disjoint and non-adjacent, such as a cw_ackset's. Ranges
 * that do not fit in @cap are left out from the lowest up, as a receiver of
 * a truncated ACK merely learns less. Returns the bytes written, or:
 *  -EINVAL   @n is 0, or the ranges are not ordered as above;
 *  -ERANGE   a packet number or @ack_delay is beyond 2^62 - 1;
 *  -EMSGSIZE not even the first range fits in @cap.
 */
int cw_ack_encode(uint8_t *out, size_t cap, const struct cw_ack_range *r, size_t n,
		  uint64_t ack_delay);

/*
 * Parse the ACK frame at @in (@len bytes, starting at its type) into @f.
 * Every range is read and checked, but only the first
 * CW_ACK_FRAME_MAX_RANGES are kept. Returns the bytes the frame occupies,
 * or -EBADMSG when the type is not 0x02, the frame is truncated, or a range
 * or gap would reach below packet number 0 (FRAME_ENCODING_ERROR).
 */
int cw_ack_decode(const uint8_t *in, size_t len, struct cw_ack_frame *f);

#endif /* CW_ACKRANGES_H */
