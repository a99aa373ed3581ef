/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>

#include "header.h"
#include "replay.h"

/*
 * The ring has CW_REPLAY_WORDS words, not a power of two: the window spans
 * at most CW_REPLAY_WORDS - 1 word boundaries, so the oldest word still in
 * use never shares a slot with the newest. The modulo by a constant costs a
 * multiply.
 */
static inline size_t word_of(uint64_t pn)
{
	return (size_t)((pn / 64) % CW_REPLAY_WORDS);
}

static inline uint64_t bit_of(uint64_t pn)
{
	return UINT64_C(1) << (pn % 64);
}

int cw_replay_check(const struct cw_replay *r, uint64_t pn)
{
	if (pn > CW_PN_MAX)
		return -ERANGE;
	if (pn + CW_REPLAY_WINDOW + 1 < r->next)
		return -ESTALE;
	if (pn >= r->next)
		return 0;
	return (r->bits[word_of(pn)] & bit_of(pn)) ? -EEXIST : 0;
}

int cw_replay_commit(struct cw_replay *r, uint64_t pn)
{
	int rc = cw_replay_check(r, pn);

	if (rc)
		return rc;
	if (pn >= r->next) {
		/*
		 * Words after the old top up to the new one held packet numbers
		 * a whole ring ago. A fresh window is already zero.
		 */
		if (r->next) {
			uint64_t from = (r->next - 1) / 64;
			uint64_t steps = pn / 64 - from;

			if (steps > CW_REPLAY_WORDS)
				steps = CW_REPLAY_WORDS;
			for (uint64_t i = 1; i <= steps; i++)
				r->bits[(from + i) % CW_REPLAY_WORDS] = 0;
		}
		r->next = pn + 1;
	}
	r->bits[word_of(pn)] |= bit_of(pn);
	return 0;
}
