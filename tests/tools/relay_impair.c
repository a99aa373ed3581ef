/* SPDX-License-Identifier: Apache-2.0 */
#include "relay_impair.h"

#include <string.h>

/* Fields of the counter-based PRNG: one independent draw per decision. */
enum {
	CW_RL_F_LOSS,
	CW_RL_F_GE,
	CW_RL_F_DUP,
	CW_RL_F_CORRUPT0,
	CW_RL_F_BIT0,
	CW_RL_F_CORRUPT1,
	CW_RL_F_BIT1,
	CW_RL_F_REORDER,
	CW_RL_F_JITTER,
};

static uint64_t cw_rl_mix(uint64_t z)
{
	/* splitmix64 finaliser */
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * A draw addressed by (seed, dir, k, field) rather than taken from a
 * stream: a datagram dropped early still "uses" its draws, so the
 * decisions for datagram k never depend on what happened to the others.
 */
static uint64_t cw_rl_rand(const struct cw_rl_impair *im, uint64_t k, unsigned field)
{
	uint64_t z = cw_rl_mix(im->seed + 0x9e3779b97f4a7c15ULL * (k + 1));

	z = cw_rl_mix(z ^ ((uint64_t)im->dir << 56) ^ ((uint64_t)field << 48));
	return cw_rl_mix(z + 0x9e3779b97f4a7c15ULL);
}

static double cw_rl_unit(const struct cw_rl_impair *im, uint64_t k, unsigned field)
{
	return (double)(cw_rl_rand(im, k, field) >> 11) * 0x1.0p-53;
}

static void cw_rl_digest(struct cw_rl_impair *im, uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		im->digest ^= (v >> (8 * i)) & 0xff;
		im->digest *= 0x100000001b3ULL;
	}
}

void cw_rl_impair_init(struct cw_rl_impair *im, const struct cw_rl_dir_conf *c, uint64_t seed,
		       unsigned dir, uint64_t now)
{
	memset(im, 0, sizeof(*im));
	im->c = c;
	im->seed = seed;
	im->dir = dir;
	im->tb_ns = now;
	im->tokens = (int64_t)c->rate_burst;
	im->digest = 0xcbf29ce484222325ULL;
}

/* Loss in the current state, then the Gilbert-Elliott state transition. */
static bool cw_rl_lost(struct cw_rl_impair *im, uint64_t k)
{
	const struct cw_rl_dir_conf *c = im->c;
	double u = cw_rl_unit(im, k, CW_RL_F_LOSS);
	bool lost;

	if (!c->ge)
		return u < c->loss;
	lost = u < (im->ge_bad ? c->ge_bad_loss : c->ge_good_loss);
	u = cw_rl_unit(im, k, CW_RL_F_GE);
	if (im->ge_bad ? u < c->ge_r : u < c->ge_p)
		im->ge_bad = !im->ge_bad;
	return lost;
}

/*
 * Token bucket with debt: a datagram that finds too few tokens waits until
 * the bucket refills (a shaper), unless the debt would exceed the queue,
 * then it is dropped. Returns false to drop; *depart is when it may leave.
 */
static bool cw_rl_shape(struct cw_rl_impair *im, uint64_t now, uint64_t bytes, uint64_t *depart)
{
	const struct cw_rl_dir_conf *c = im->c;
	uint64_t refill;

	*depart = now;
	if (c->rate == 0)
		return true;
	if (now > im->tb_ns) {
		refill = (uint64_t)((double)(now - im->tb_ns) * (double)c->rate / CW_RL_NS);
		if (refill > 0) {
			im->tokens += (int64_t)refill;
			if (im->tokens > (int64_t)c->rate_burst)
				im->tokens = (int64_t)c->rate_burst;
			/* keep the remainder of a partial byte for the next refill */
			im->tb_ns =
			    im->tokens == (int64_t)c->rate_burst
				? now
				: im->tb_ns + (uint64_t)((double)refill * CW_RL_NS / c->rate);
		}
	}
	if (im->tokens - (int64_t)bytes < -(int64_t)c->rate_queue)
		return false;
	im->tokens -= (int64_t)bytes;
	if (im->tokens < 0)
		*depart = now + (uint64_t)((double)-im->tokens * CW_RL_NS / c->rate);
	return true;
}

static void cw_rl_corruption(struct cw_rl_impair *im, uint64_t k, size_t len,
			     struct cw_rl_verdict *v)
{
	static const unsigned f_cor[2] = {CW_RL_F_CORRUPT0, CW_RL_F_CORRUPT1};
	static const unsigned f_bit[2] = {CW_RL_F_BIT0, CW_RL_F_BIT1};

	for (unsigned i = 0; i < 2; i++) {
		uint64_t r = cw_rl_rand(im, k, f_bit[i]);

		v->flip[i] =
		    len > 0 && i < v->copies && cw_rl_unit(im, k, f_cor[i]) < im->c->corrupt;
		v->bit[i] = v->flip[i] ? (uint32_t)(r % ((uint64_t)len * 8)) : 0;
	}
}

void cw_rl_impair_decide(struct cw_rl_impair *im, uint64_t now, size_t len, bool blackout,
			 struct cw_rl_verdict *v)
{
	const struct cw_rl_dir_conf *c = im->c;
	uint64_t k = im->k++, depart;
	bool lost = cw_rl_lost(im, k);

	memset(v, 0, sizeof(*v));
	v->k = k;
	v->copies = cw_rl_unit(im, k, CW_RL_F_DUP) < c->dup ? 2 : 1;
	cw_rl_corruption(im, k, len, v);
	v->held = cw_rl_unit(im, k, CW_RL_F_REORDER) < c->reorder;
	v->held_gap = v->held ? c->reorder_gap : 0;
	cw_rl_digest(im, k);
	cw_rl_digest(im, (uint64_t)lost | (uint64_t)v->copies << 1 | (uint64_t)v->held << 3 |
			     (uint64_t)v->flip[0] << 4 | (uint64_t)v->flip[1] << 5);
	cw_rl_digest(im, (uint64_t)v->bit[0] << 32 | v->bit[1]);
	if (blackout) {
		v->fate = CW_RL_BLACKOUT;
		return;
	}
	if (lost) {
		v->fate = CW_RL_LOSS;
		return;
	}
	if (!cw_rl_shape(im, now, (uint64_t)len * v->copies, &depart)) {
		v->fate = CW_RL_RATE;
		return;
	}
	v->fate = CW_RL_PASS;
	v->due_ns = depart + c->delay_ns +
		    (uint64_t)((double)c->jitter_ns * cw_rl_unit(im, k, CW_RL_F_JITTER));
	if (v->held) {
		v->due_ns += c->reorder_hold_ns;
		return;
	}
	/* jitter alone never reorders: only --reorder does, and it is counted */
	if (v->due_ns < im->last_due)
		v->due_ns = im->last_due;
	im->last_due = v->due_ns;
}
