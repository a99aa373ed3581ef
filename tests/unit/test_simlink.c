/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/unit/simlink.c, the simulated network the tunnel's end-to-end unit
 * tests run on: every impairment is checked against what an endpoint
 * receives, and a seed must replay exactly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "simlink.h"

#define MS	1000000ull
#define N	2000
#define PAYLOAD 100

/* Sends datagram i at i * interval: 8 bytes of i, then a pattern of i. */
struct source {
	int id, to;
	uint64_t interval, next;
	uint32_t sent;
};

struct sink {
	uint32_t got, dups, bad, onebit, late;
	uint32_t highest_plus1;
	uint64_t first_at[N], digest;
	bool seen[N];
};

/* Every byte depends on all of i, so no bit flip turns one datagram into
 * another valid one. */
static void fill(uint8_t *d, uint32_t i)
{
	memcpy(d, &i, sizeof(i));
	for (uint32_t k = 4; k < PAYLOAD; k++) {
		uint32_t x = i * 0x9e3779b1u + k * 0x85ebca6bu;

		x ^= x >> 15;
		x *= 0x2c1b3c6du;
		d[k] = (uint8_t)(x ^ (x >> 12));
	}
}

static uint64_t src_next(void *ep)
{
	struct source *s = ep;

	return s->sent < N ? s->next : SIM_NEVER;
}

static void src_timeout(void *ep, struct sim *sim, uint64_t now)
{
	struct source *s = ep;
	uint8_t d[PAYLOAD];

	(void)now;
	fill(d, s->sent++);
	sim_send(sim, s->id, s->to, d, sizeof(d));
	s->next += s->interval;
}

static void src_recv(void *ep, struct sim *sim, int from, uint64_t now, const uint8_t *d,
		     size_t len)
{
	(void)ep, (void)sim, (void)from, (void)now, (void)d, (void)len;
}

static int bits(uint8_t x)
{
	return __builtin_popcount(x);
}

/* Bits in which @d differs from datagram @i as sent. */
static int distance(const uint8_t *d, uint32_t i)
{
	uint8_t want[PAYLOAD];
	int diff = 0;

	fill(want, i);
	for (size_t b = 0; b < PAYLOAD; b++)
		diff += bits(d[b] ^ want[b]);
	return diff;
}

/* Whether @d is some datagram with exactly one bit flipped, the sequence
 * number included. */
static bool one_bit_off(const uint8_t *d, uint32_t i)
{
	for (int b = -1; b < 32; b++) {
		uint32_t c = b < 0 ? i : i ^ (1u << b);

		if (c < N && distance(d, c) == 1)
			return true;
	}
	return false;
}

static void sink_recv(void *ep, struct sim *sim, int from, uint64_t now, const uint8_t *d,
		      size_t len)
{
	struct sink *k = ep;
	uint32_t i;

	(void)sim, (void)from;
	assert_int_equal(len, PAYLOAD);
	memcpy(&i, d, sizeof(i));
	if (i >= N || distance(d, i)) {
		k->bad++;
		k->onebit += one_bit_off(d, i);
		return;
	}
	k->got++;
	if (k->seen[i]) {
		k->dups++;
		return;
	}
	k->seen[i] = true;
	k->first_at[i] = now;
	if (i + 1 < k->highest_plus1)
		k->late++;
	else
		k->highest_plus1 = i + 1;
	k->digest = (k->digest ^ i) * 0x100000001b3ull;
}

static const struct sim_ep_ops src_ops = {src_recv, src_next, src_timeout};
static const struct sim_ep_ops sink_ops = {sink_recv, NULL, NULL};

/* One run of N datagrams 1 ms apart over @imp; fills @k and @st. */
static void run(uint64_t seed, const struct sim_impair *imp, struct sink *k,
		struct sim_link_stats *st)
{
	struct sim *s = sim_new(seed);
	struct source src = {.interval = MS};

	assert_non_null(s);
	memset(k, 0, sizeof(*k));
	src.id = sim_add_ep(s, &src_ops, &src);
	src.to = sim_add_ep(s, &sink_ops, k);
	sim_set_impair(s, src.id, src.to, imp);
	sim_run(s, SIM_NEVER, 10 * N);
	assert_int_equal(src.sent, N);
	*st = *sim_stats(s, src.id, src.to);
	assert_int_equal(st->sent, N);
	sim_free(s);
}

static void test_clean(void **state)
{
	struct sim_impair imp = {.delay_ns = 7 * MS};
	struct sink k;
	struct sim_link_stats st;

	(void)state;
	run(1, &imp, &k, &st);
	assert_int_equal(k.got, N);
	assert_int_equal(k.late + k.dups + k.bad, 0);
	for (uint32_t i = 0; i < N; i++)
		assert_int_equal(k.first_at[i], i * MS + 7 * MS);
	assert_int_equal(st.delivered, N);
	assert_int_equal(st.bytes_delivered, N * PAYLOAD);
}

static void test_loss_replays(void **state)
{
	struct sim_impair imp = {.loss = 0.10, .delay_ns = MS};
	struct sink a, b, c;
	struct sim_link_stats sa, sb, sc;
	uint32_t missing = 0;

	(void)state;
	run(7, &imp, &a, &sa);
	for (uint32_t i = 0; i < N; i++)
		missing += !a.seen[i];
	assert_int_equal(missing, sa.lost);
	assert_int_equal(a.got + sa.lost, N);
	assert_true(sa.lost > N * 7 / 100 && sa.lost < N * 13 / 100);
	run(7, &imp, &b, &sb);
	assert_int_equal(a.digest, b.digest);
	assert_memory_equal(a.seen, b.seen, sizeof(a.seen));
	run(8, &imp, &c, &sc);
	assert_true(memcmp(a.seen, c.seen, sizeof(a.seen)) != 0);
}

static void test_dup_corrupt(void **state)
{
	struct sim_impair imp = {.dup = 0.05, .corrupt = 0.05};
	struct sink k;
	struct sim_link_stats st;

	(void)state;
	run(3, &imp, &k, &st);
	assert_true(st.duplicated > 0 && st.corrupted > 0);
	/* Every damaged copy differs from what was sent in exactly one bit. */
	assert_int_equal(k.bad, st.corrupted);
	assert_int_equal(k.onebit, st.corrupted);
	assert_int_equal(k.got + k.bad, N + st.duplicated);
	assert_int_equal(st.delivered, N + st.duplicated);
}

static void test_reorder(void **state)
{
	struct sim_impair imp = {.reorder = 0.10, .reorder_ns = 5 * MS, .delay_ns = MS};
	struct sink k;
	struct sim_link_stats st;

	(void)state;
	run(5, &imp, &k, &st);
	assert_int_equal(k.got, N);
	assert_true(st.reordered > N * 7 / 100);
	/* Held 5 ms while one is sent every ms: each is overtaken, unless it
	 * was the last ones sent. */
	assert_true(k.late <= st.reordered && k.late + 5 >= st.reordered);
}

static void test_blackout(void **state)
{
	/* Ten seconds dark in the middle of a 2 s stream at 1 ms: the window
	 * [0.5 s, 10.5 s) swallows datagrams 500..1999 exactly. */
	struct sim_impair imp = {.blackout_from = 500 * MS, .blackout_to = 10500 * MS};
	struct sink k;
	struct sim_link_stats st;

	(void)state;
	run(9, &imp, &k, &st);
	assert_int_equal(st.blackholed, N - 500);
	for (uint32_t i = 0; i < N; i++)
		assert_int_equal(k.seen[i], i < 500);
}

/* Timers in the past fire at the current time; max_events bounds a run. */
static uint64_t stuck_next(void *ep)
{
	(void)ep;
	return 0;
}

static void stuck_timeout(void *ep, struct sim *s, uint64_t now)
{
	(void)s;
	assert_int_equal(now, 42 * MS);
	(*(int *)ep)++;
}

static void test_clock(void **state)
{
	static const struct sim_ep_ops ops = {src_recv, stuck_next, stuck_timeout};
	struct sim *s = sim_new(1);
	int fired = 0;

	(void)state;
	assert_non_null(s);
	assert_int_equal(sim_run(s, 42 * MS, 100), 0);
	assert_int_equal(sim_now(s), 42 * MS);
	sim_add_ep(s, &ops, &fired);
	assert_int_equal(sim_run(s, SIM_NEVER, 100), 100);
	assert_int_equal(fired, 100);
	assert_int_equal(sim_now(s), 42 * MS);
	sim_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_clean),	cmocka_unit_test(test_loss_replays),
	    cmocka_unit_test(test_dup_corrupt), cmocka_unit_test(test_reorder),
	    cmocka_unit_test(test_blackout),	cmocka_unit_test(test_clock),
	};

	return cmocka_run_group_tests_name("simlink", tests, NULL, NULL);
}
