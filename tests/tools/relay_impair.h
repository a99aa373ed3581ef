/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The impairment decisions of one direction of the relay: no sockets, no
 * clock reads; the caller passes now (monotonic nanoseconds).
 */
#ifndef CW_RELAY_IMPAIR_H
#define CW_RELAY_IMPAIR_H

#include "relay.h"

enum cw_rl_fate { CW_RL_PASS, CW_RL_LOSS, CW_RL_BLACKOUT, CW_RL_RATE };

struct cw_rl_verdict {
	enum cw_rl_fate fate;
	uint64_t k;	   /* index of the datagram in its direction, from 0 */
	uint64_t due_ns;   /* when to send it */
	bool held;	   /* reordered: held back, overtaken by later datagrams */
	unsigned held_gap; /* release after this many later datagrams (0: time only) */
	unsigned copies;   /* 1, or 2 when duplicated */
	bool flip[2];	   /* corrupt copy i by flipping bit[i] of the payload */
	uint32_t bit[2];
};

struct cw_rl_impair {
	const struct cw_rl_dir_conf *c;
	uint64_t seed;
	unsigned dir;
	uint64_t k;
	bool ge_bad;
	uint64_t tb_ns;	   /* token bucket: last refill */
	int64_t tokens;	   /* bytes; negative: backlog the shaper holds */
	uint64_t last_due; /* keeps datagrams that are not held in order */
	uint64_t digest;
};

/* Prepare @im for direction @dir with configuration @c (not copied). */
void cw_rl_impair_init(struct cw_rl_impair *im, const struct cw_rl_dir_conf *c, uint64_t seed,
		       unsigned dir, uint64_t now);

/*
 * Decide the fate of the next datagram of @len bytes arriving at @now
 * (@blackout: the link is down). Random decisions are drawn for every
 * datagram, whatever its fate, so they depend only on (seed, dir, k).
 */
void cw_rl_impair_decide(struct cw_rl_impair *im, uint64_t now, size_t len, bool blackout,
			 struct cw_rl_verdict *v);

#endif
