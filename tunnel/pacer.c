/* SPDX-License-Identifier: Apache-2.0 */
#include "pacer.h"

static uint64_t clamp(uint64_t v, uint64_t max)
{
	return v < max ? v : max;
}

/* ns needed to earn @bytes at 5/4 × cwnd / srtt, rounded up. */
static uint64_t time_for(uint64_t bytes, uint64_t cwnd, uint64_t srtt)
{
	uint64_t num = bytes * CW_PACER_GAIN_DEN * srtt;
	uint64_t den = CW_PACER_GAIN_NUM * cwnd;

	return (num + den - 1) / den;
}

/*
 * Tokens at @now. The time to fill the bucket bounds the elapsed time used
 * in the product, which keeps it within 64 bits however long the sender
 * was idle.
 */
static uint64_t tokens_at(const struct cw_pacer *p, uint64_t now, uint64_t cwnd, uint64_t srtt)
{
	uint64_t dt = now > p->last ? now - p->last : 0;

	if (p->tokens >= CW_PACER_BURST)
		return CW_PACER_BURST;
	if (dt >= time_for(CW_PACER_BURST - p->tokens, cwnd, srtt))
		return CW_PACER_BURST;
	return p->tokens + dt * CW_PACER_GAIN_NUM * cwnd / (CW_PACER_GAIN_DEN * srtt);
}

void cw_pacer_init(struct cw_pacer *p, uint64_t now)
{
	p->tokens = CW_PACER_BURST;
	p->last = now;
}

uint64_t cw_pacer_next(const struct cw_pacer *p, uint64_t now, uint64_t cwnd, uint64_t srtt,
		       size_t bytes)
{
	uint64_t have, need = clamp(bytes, CW_PACER_BURST);

	if (srtt == 0)
		return now;
	cwnd = clamp(cwnd ? cwnd : 1, CW_PACER_MAX_CWND);
	srtt = clamp(srtt, CW_PACER_MAX_SRTT);
	have = tokens_at(p, now, cwnd, srtt);
	if (have >= need)
		return now;
	return now + time_for(need - have, cwnd, srtt);
}

void cw_pacer_on_sent(struct cw_pacer *p, uint64_t now, uint64_t cwnd, uint64_t srtt, size_t bytes)
{
	uint64_t have = CW_PACER_BURST;

	if (srtt != 0) {
		cwnd = clamp(cwnd ? cwnd : 1, CW_PACER_MAX_CWND);
		srtt = clamp(srtt, CW_PACER_MAX_SRTT);
		have = tokens_at(p, now, cwnd, srtt);
	}
	p->tokens = have > bytes ? have - bytes : 0;
	if (now > p->last)
		p->last = now;
}
