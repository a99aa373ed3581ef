/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>

#include "rangeset.h"

/* First range whose hi reaches @x (adjacent counts): where [x, ..) merges. */
static uint32_t first_touching(const struct cw_rangeset *s, uint64_t x)
{
	uint32_t i = 0;

	while (i < s->n && s->r[i].hi < x)
		i++;
	return i;
}

int cw_rangeset_add(struct cw_rangeset *s, uint64_t lo, uint64_t hi)
{
	uint32_t i, j;

	if (lo >= hi)
		return 0;
	i = first_touching(s, lo);
	j = i;
	while (j < s->n && s->r[j].lo <= hi)
		j++;
	/* r[i..j) touch [lo, hi) and collapse into one range. */
	if (i == j) {
		if (s->n == CW_RANGESET_MAX)
			return -ENOSPC;
		memmove(&s->r[i + 1], &s->r[i], (s->n - i) * sizeof(s->r[0]));
		s->r[i] = (struct cw_range){lo, hi};
		s->n++;
		return 0;
	}
	if (s->r[i].lo < lo)
		lo = s->r[i].lo;
	if (s->r[j - 1].hi > hi)
		hi = s->r[j - 1].hi;
	s->r[i] = (struct cw_range){lo, hi};
	memmove(&s->r[i + 1], &s->r[j], (s->n - j) * sizeof(s->r[0]));
	s->n -= j - i - 1;
	return 0;
}

static void merge_closest(struct cw_rangeset *s)
{
	uint32_t best = 0;

	for (uint32_t k = 1; k + 1 < s->n; k++)
		if (s->r[k + 1].lo - s->r[k].hi < s->r[best + 1].lo - s->r[best].hi)
			best = k;
	s->r[best].hi = s->r[best + 1].hi;
	memmove(&s->r[best + 1], &s->r[best + 2], (s->n - best - 2) * sizeof(s->r[0]));
	s->n--;
}

void cw_rangeset_add_coalesce(struct cw_rangeset *s, uint64_t lo, uint64_t hi)
{
	while (cw_rangeset_add(s, lo, hi) == -ENOSPC)
		merge_closest(s);
}

int cw_rangeset_remove(struct cw_rangeset *s, uint64_t lo, uint64_t hi)
{
	uint32_t i = 0;

	if (lo >= hi)
		return 0;
	while (i < s->n && s->r[i].hi <= lo)
		i++;
	if (i < s->n && s->r[i].lo < lo && s->r[i].hi > hi) {
		/* Strictly inside one range: a split. */
		if (s->n == CW_RANGESET_MAX)
			return -ENOSPC;
		memmove(&s->r[i + 1], &s->r[i], (s->n - i) * sizeof(s->r[0]));
		s->n++;
		s->r[i].hi = lo;
		s->r[i + 1].lo = hi;
		return 0;
	}
	while (i < s->n && s->r[i].lo < hi) {
		if (s->r[i].lo < lo) {
			s->r[i++].hi = lo;
		} else if (s->r[i].hi > hi) {
			s->r[i].lo = hi;
			break;
		} else {
			memmove(&s->r[i], &s->r[i + 1], (s->n - i - 1) * sizeof(s->r[0]));
			s->n--;
		}
	}
	return 0;
}

void cw_rangeset_remove_below(struct cw_rangeset *s, uint64_t x)
{
	cw_rangeset_remove(s, 0, x);
}

bool cw_rangeset_contains(const struct cw_rangeset *s, uint64_t lo, uint64_t hi)
{
	if (lo >= hi)
		return true;
	for (uint32_t i = 0; i < s->n; i++)
		if (s->r[i].lo <= lo && s->r[i].hi >= hi)
			return true;
	return false;
}
