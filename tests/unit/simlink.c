/* SPDX-License-Identifier: Apache-2.0 */
#include "simlink.h"

#include <stdlib.h>
#include <string.h>

#define SIM_DEFAULT_IN_FLIGHT 4096

struct sim_ev {
	uint64_t t, seq;
	int from, to;
	size_t len;
	uint8_t data[SIM_MAX_DGRAM];
};

struct sim {
	uint64_t now, seq, rng;
	int n_eps;
	const struct sim_ep_ops *ops[SIM_MAX_EPS];
	void *eps[SIM_MAX_EPS];
	struct sim_impair imp[SIM_MAX_EPS][SIM_MAX_EPS];
	struct sim_link_stats st[SIM_MAX_EPS][SIM_MAX_EPS];
	uint32_t in_flight[SIM_MAX_EPS][SIM_MAX_EPS];
	struct sim_ev **heap;
	size_t n_heap, cap_heap;
};

/* splitmix64: tiny, and good enough to drive test impairments. */
uint64_t sim_rand(struct sim *s)
{
	uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double rand01(struct sim *s)
{
	return (double)(sim_rand(s) >> 11) * (1.0 / 9007199254740992.0);
}

struct sim *sim_new(uint64_t seed)
{
	struct sim *s = calloc(1, sizeof(*s));

	if (s)
		s->rng = seed;
	return s;
}

void sim_free(struct sim *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_heap; i++)
		free(s->heap[i]);
	free(s->heap);
	free(s);
}

int sim_add_ep(struct sim *s, const struct sim_ep_ops *ops, void *ep)
{
	if (s->n_eps == SIM_MAX_EPS)
		return -1;
	s->ops[s->n_eps] = ops;
	s->eps[s->n_eps] = ep;
	return s->n_eps++;
}

void sim_set_impair(struct sim *s, int from, int to, const struct sim_impair *imp)
{
	s->imp[from][to] = *imp;
}

uint64_t sim_now(const struct sim *s)
{
	return s->now;
}

const struct sim_link_stats *sim_stats(const struct sim *s, int from, int to)
{
	return &s->st[from][to];
}

static int ev_before(const struct sim_ev *a, const struct sim_ev *b)
{
	return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void swap(struct sim *s, size_t i, size_t j)
{
	struct sim_ev *t = s->heap[i];

	s->heap[i] = s->heap[j];
	s->heap[j] = t;
}

static int heap_push(struct sim *s, struct sim_ev *e)
{
	size_t i;

	if (s->n_heap == s->cap_heap) {
		size_t cap = s->cap_heap ? 2 * s->cap_heap : 64;
		struct sim_ev **h = realloc(s->heap, cap * sizeof(*h));

		if (!h)
			return -1;
		s->heap = h;
		s->cap_heap = cap;
	}
	i = s->n_heap++;
	s->heap[i] = e;
	while (i && ev_before(s->heap[i], s->heap[(i - 1) / 2])) {
		swap(s, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	return 0;
}

static struct sim_ev *heap_pop(struct sim *s)
{
	struct sim_ev *top = s->heap[0];
	size_t i = 0;

	s->heap[0] = s->heap[--s->n_heap];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < s->n_heap && ev_before(s->heap[l], s->heap[m]))
			m = l;
		if (r < s->n_heap && ev_before(s->heap[r], s->heap[m]))
			m = r;
		if (m == i)
			break;
		swap(s, i, m);
		i = m;
	}
	return top;
}

/* One copy of a datagram onto the link, with its own delay and damage. */
static void enqueue(struct sim *s, int from, int to, const uint8_t *d, size_t len)
{
	const struct sim_impair *im = &s->imp[from][to];
	struct sim_link_stats *st = &s->st[from][to];
	uint32_t cap = im->max_in_flight ? im->max_in_flight : SIM_DEFAULT_IN_FLIGHT;
	struct sim_ev *e;
	uint64_t delay = im->delay_ns;

	if (s->in_flight[from][to] >= cap || !(e = malloc(sizeof(*e)))) {
		st->overflow++;
		return;
	}
	if (im->jitter_ns)
		delay += sim_rand(s) % (im->jitter_ns + 1);
	if (im->reorder > 0 && rand01(s) < im->reorder) {
		delay += im->reorder_ns;
		st->reordered++;
	}
	memcpy(e->data, d, len);
	e->len = len;
	if (len && im->corrupt > 0 && rand01(s) < im->corrupt) {
		uint64_t bit = sim_rand(s) % (len * 8);

		e->data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		st->corrupted++;
	}
	e->t = s->now + delay;
	e->seq = s->seq++;
	e->from = from;
	e->to = to;
	if (heap_push(s, e) < 0) {
		free(e);
		st->overflow++;
		return;
	}
	s->in_flight[from][to]++;
}

void sim_send(struct sim *s, int from, int to, const uint8_t *d, size_t len)
{
	const struct sim_impair *im = &s->imp[from][to];
	struct sim_link_stats *st = &s->st[from][to];

	st->sent++;
	if (len > SIM_MAX_DGRAM) {
		st->overflow++;
		return;
	}
	if (s->now >= im->blackout_from && s->now < im->blackout_to) {
		st->blackholed++;
		return;
	}
	if (im->loss > 0 && rand01(s) < im->loss) {
		st->lost++;
		return;
	}
	enqueue(s, from, to, d, len);
	if (im->dup > 0 && rand01(s) < im->dup) {
		st->duplicated++;
		enqueue(s, from, to, d, len);
	}
}

/* The endpoint whose timer is due first (lowest id on a tie), or -1. */
static int next_timer(struct sim *s, uint64_t *t)
{
	int who = -1;

	*t = SIM_NEVER;
	for (int i = 0; i < s->n_eps; i++) {
		uint64_t ti =
		    s->ops[i]->next_timeout ? s->ops[i]->next_timeout(s->eps[i]) : SIM_NEVER;

		if (ti < *t) {
			*t = ti;
			who = i;
		}
	}
	return who;
}

uint64_t sim_run(struct sim *s, uint64_t until, uint64_t max_events)
{
	uint64_t n = 0;

	while (n < max_events) {
		uint64_t tt, td = s->n_heap ? s->heap[0]->t : SIM_NEVER, t;
		int who = next_timer(s, &tt);

		t = td <= tt ? td : tt;
		if (t == SIM_NEVER || t > until)
			break;
		/* A timer already in the past fires now: the clock never goes back. */
		if (t > s->now)
			s->now = t;
		if (td <= tt) { /* datagrams first on a tie: they were due already */
			struct sim_ev *e = heap_pop(s);

			s->in_flight[e->from][e->to]--;
			s->st[e->from][e->to].delivered++;
			s->st[e->from][e->to].bytes_delivered += e->len;
			s->ops[e->to]->recv(s->eps[e->to], s, e->from, s->now, e->data, e->len);
			free(e);
		} else {
			s->ops[who]->on_timeout(s->eps[who], s, s->now);
		}
		n++;
	}
	if (until != SIM_NEVER && until > s->now && n < max_events)
		s->now = until;
	return n;
}
