/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A bounded set of byte ranges of one stream: disjoint, non-adjacent,
 * half-open [lo, hi), kept ascending in a fixed array. The send buffer
 * (sendbuf.h) keeps its acknowledged and its to-be-retransmitted bytes in
 * two of them.
 *
 * The bound matters because the peer shapes these sets (which packets it
 * acknowledges, which are lost): a set must not grow with its whims. Where
 * an operation would need one range more than fits, the plain functions
 * refuse and change nothing, and cw_rangeset_add_coalesce() instead merges
 * the two ranges closest to each other, over-approximating the set. Callers
 * pick whichever error is harmless for them (resending bytes is; forgetting
 * that bytes must be resent is not).
 */
#ifndef CW_RANGESET_H
#define CW_RANGESET_H

#include <stdbool.h>
#include <stdint.h>

#define CW_RANGESET_MAX 32

struct cw_range {
	uint64_t lo, hi; /* [lo, hi) */
};

struct cw_rangeset {
	uint32_t n;
	struct cw_range r[CW_RANGESET_MAX]; /* ascending */
};

static inline void cw_rangeset_init(struct cw_rangeset *s)
{
	s->n = 0;
}

static inline bool cw_rangeset_empty(const struct cw_rangeset *s)
{
	return s->n == 0;
}

/*
 * Add [lo, hi), merging with overlapping and adjacent ranges. An empty
 * range (lo >= hi) is a no-op. Returns 0, or -ENOSPC when the range would
 * be a new one and the set is full (the set is unchanged).
 */
int cw_rangeset_add(struct cw_rangeset *s, uint64_t lo, uint64_t hi);

/*
 * Add [lo, hi); when the set is full, first merge the pair of neighbours
 * with the smallest gap (the gap's bytes join the set). Never fails.
 */
void cw_rangeset_add_coalesce(struct cw_rangeset *s, uint64_t lo, uint64_t hi);

/*
 * Remove [lo, hi). Returns 0, or -ENOSPC when that would split a range and
 * the set is full (the set is unchanged).
 */
int cw_rangeset_remove(struct cw_rangeset *s, uint64_t lo, uint64_t hi);

/* Remove everything below @x. Never needs room. */
void cw_rangeset_remove_below(struct cw_rangeset *s, uint64_t x);

/* Whether all of [lo, hi) is in the set (true for an empty range). */
bool cw_rangeset_contains(const struct cw_rangeset *s, uint64_t lo, uint64_t hi);

#endif /* CW_RANGESET_H */
