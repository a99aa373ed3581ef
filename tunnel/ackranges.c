/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "ackranges.h"
#include "header.h"
#include "varint.h"

static void remove_at(struct cw_ackset *s, size_t i)
{
	memmove(&s->r[i], &s->r[i + 1], (s->n - i - 1) * sizeof(s->r[0]));
	s->n--;
}

int cw_ackset_add(struct cw_ackset *s, uint64_t pn)
{
	size_t i;
	bool above, below;

	if (pn > CW_PN_MAX)
		return -ERANGE;
	/* Packets mostly arrive in order: the scan usually stops at r[0]. */
	for (i = 0; i < s->n; i++) {
		if (pn > s->r[i].hi)
			break;
		if (pn >= s->r[i].lo)
			return -EEXIST;
	}
	/* Here r[i - 1].lo > pn > r[i].hi, for whichever of them exist. */
	above = i > 0 && s->r[i - 1].lo == pn + 1;
	below = i < s->n && s->r[i].hi + 1 == pn;
	if (above && below) {
		s->r[i - 1].lo = s->r[i].lo;
		remove_at(s, i);
		return 0;
	}
	if (above) {
		s->r[i - 1].lo = pn;
		return 0;
	}
	if (below) {
		s->r[i].hi = pn;
		return 0;
	}
	if (s->n == CW_ACKSET_MAX_RANGES) {
		if (i == s->n)
			return -ENOSPC;
		s->n--;
	}
	memmove(&s->r[i + 1], &s->r[i], (s->n - i) * sizeof(s->r[0]));
	s->r[i].lo = pn;
	s->r[i].hi = pn;
	s->n++;
	return 0;
}

bool cw_ackset_contains(const struct cw_ackset *s, uint64_t pn)
{
	for (size_t i = 0; i < s->n && pn <= s->r[i].hi; i++)
		if (pn >= s->r[i].lo)
			return true;
	return false;
}

int cw_ackset_largest(const struct cw_ackset *s, uint64_t *pn)
{
	if (s->n == 0)
		return -ENOENT;
	*pn = s->r[0].hi;
	return 0;
}

void cw_ackset_forget_below(struct cw_ackset *s, uint64_t pn)
{
	while (s->n > 0 && s->r[s->n - 1].hi < pn)
		s->n--;
	if (s->n > 0 && s->r[s->n - 1].lo < pn)
		s->r[s->n - 1].lo = pn;
}

/* Wire size of the gap/length pair that puts r[i] after r[i - 1]. */
static size_t pair_len(const struct cw_ack_range *r, size_t i)
{
	return cw_varint_len(r[i - 1].lo - r[i].hi - 2) + cw_varint_len(r[i].hi - r[i].lo);
}

int cw_ack_encode(uint8_t *out, size_t cap, const struct cw_ack_range *r, size_t n,
		  uint64_t ack_delay)
{
	size_t base, total, pairs = 0, off = 0;

	if (n == 0)
		return -EINVAL;
	/* So that the length always fits the int we return. */
	if (cap > INT_MAX)
		cap = INT_MAX;
	if (r[0].hi > CW_PN_MAX || ack_delay > CW_VARINT_MAX)
		return -ERANGE;
	for (size_t i = 0; i < n; i++) {
		if (r[i].lo > r[i].hi)
			return -EINVAL;
		/* Adjacent ranges would need a gap of -1: they must be merged. */
		if (i > 0 && (r[i - 1].lo < 2 || r[i].hi > r[i - 1].lo - 2))
			return -EINVAL;
	}

	base = 1 + cw_varint_len(r[0].hi) + cw_varint_len(ack_delay) +
	       cw_varint_len(r[0].hi - r[0].lo);
	total = base + 1;
	if (total > cap)
		return -EMSGSIZE;
	/* Take pairs while the frame, its count field included, still fits. */
	while (pairs + 1 < n) {
		size_t next = total - cw_varint_len(pairs) + cw_varint_len(pairs + 1) +
			      pair_len(r, pairs + 1);

		if (next > cap)
			break;
		total = next;
		pairs++;
	}

	/* The sizes are computed above, so no encode below can fail. */
	out[off++] = CW_ACK_FRAME_TYPE;
	off += (size_t)cw_varint_encode(out + off, cap - off, r[0].hi);
	off += (size_t)cw_varint_encode(out + off, cap - off, ack_delay);
	off += (size_t)cw_varint_encode(out + off, cap - off, pairs);
	off += (size_t)cw_varint_encode(out + off, cap - off, r[0].hi - r[0].lo);
	for (size_t i = 1; i <= pairs; i++) {
		off += (size_t)cw_varint_encode(out + off, cap - off, r[i - 1].lo - r[i].hi - 2);
		off += (size_t)cw_varint_encode(out + off, cap - off, r[i].hi - r[i].lo);
	}
	return (int)off;
}

/* Read one varint at @*off, advancing it; -EBADMSG when truncated. */
static int next_varint(const uint8_t *in, size_t len, size_t *off, uint64_t *v)
{
	int rc = cw_varint_decode(in + *off, len - *off, v);

	if (rc < 0)
		return rc;
	*off += (size_t)rc;
	return 0;
}

int cw_ack_decode(const uint8_t *in, size_t len, struct cw_ack_frame *f)
{
	uint64_t type, largest, first, gap, rlen, lo, hi;
	size_t off = 0;
	int rc;

	f->n = 0;
	if (len > INT_MAX)
		len = INT_MAX;
	if ((rc = next_varint(in, len, &off, &type)) < 0)
		return rc;
	if (type != CW_ACK_FRAME_TYPE)
		return -EBADMSG;
	if ((rc = next_varint(in, len, &off, &largest)) < 0 ||
	    (rc = next_varint(in, len, &off, &f->ack_delay)) < 0 ||
	    (rc = next_varint(in, len, &off, &f->range_count)) < 0 ||
	    (rc = next_varint(in, len, &off, &first)) < 0)
		return rc;
	if (first > largest)
		return -EBADMSG;
	hi = largest;
	lo = largest - first;
	f->r[0].lo = lo;
	f->r[0].hi = hi;
	f->n = 1;
	/* The count is the peer's word: the buffer, not it, bounds this loop. */
	for (uint64_t i = 0; i < f->range_count; i++) {
		if ((rc = next_varint(in, len, &off, &gap)) < 0 ||
		    (rc = next_varint(in, len, &off, &rlen)) < 0)
			return rc;
		if (lo < 2 || gap > lo - 2)
			return -EBADMSG;
		hi = lo - gap - 2;
		if (rlen > hi)
			return -EBADMSG;
		lo = hi - rlen;
		if (f->n < CW_ACK_FRAME_MAX_RANGES) {
			f->r[f->n].lo = lo;
			f->r[f->n].hi = hi;
			f->n++;
		}
	}
	return (int)off;
}
