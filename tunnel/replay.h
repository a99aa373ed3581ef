/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Anti-replay window over packet numbers, one per receive key epoch
 * (RFC 6479, as WireGuard validates its counters).
 *
 * The window accepts the highest packet number committed so far and the
 * CW_REPLAY_WINDOW below it, each at most once; anything older is refused,
 * since it can no longer be told apart from a replay. The bitmap is a ring
 * of machine words with one word more than the window needs, so that when
 * the window slides, whole words are cleared without losing any bit still
 * inside it.
 *
 * Checking and committing are separate because only a packet whose AEAD
 * tag verifies may move the window: otherwise a forged packet number would
 * push genuine traffic out of it.
 */
#ifndef CW_REPLAY_H
#define CW_REPLAY_H

#include <stdint.h>

#define CW_REPLAY_WINDOW 2048
#define CW_REPLAY_WORDS	 (CW_REPLAY_WINDOW / 64 + 1)

struct cw_replay {
	uint64_t next; /* highest committed packet number + 1; 0: none yet */
	uint64_t bits[CW_REPLAY_WORDS];
};

static inline void cw_replay_init(struct cw_replay *r)
{
	*r = (struct cw_replay){0};
}

/*
 * Whether packet number @pn may be accepted, before decryption; changes
 * nothing. Returns 0, or:
 *  -EEXIST  @pn was already committed (a replay or a network duplicate);
 *  -ESTALE  @pn is more than CW_REPLAY_WINDOW below the highest committed;
 *  -ERANGE  @pn is above the 62-bit packet number space.
 */
int cw_replay_check(const struct cw_replay *r, uint64_t pn);

/*
 * Record @pn once its packet has been authenticated. Checks again and
 * returns the same codes as cw_replay_check(), changing nothing on error:
 * two copies of a packet may both pass the check before either commits,
 * and the caller must drop the copy whose commit fails.
 */
int cw_replay_commit(struct cw_replay *r, uint64_t pn);

#endif /* CW_REPLAY_H */
