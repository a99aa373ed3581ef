/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dataplane/neigh.c with plain numbers as time: learning, ageing, the
 * refresh-only rule, solicitation rate limiting and what happens when the
 * probe window of an address is full.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "dataplane/neigh.h"

#define SIZE	16  /* table entries (the minimum) */
#define TIMEOUT 100 /* validity of a learnt entry */
#define RETRY	10  /* solicitation interval */
#define PROBE	8   /* CW_NEIGH_PROBE in neigh.c */
#define T0	1000

static const uint8_t mac_a[6] = {0x02, 0, 0, 0, 0, 0x0a};
static const uint8_t mac_b[6] = {0x02, 0, 0, 0, 0, 0x0b};

/* 10.0.0.@host in network order. */
static uint32_t ip(uint32_t host)
{
	return htonl(0x0a000000u + host);
}

/*
 * The first slot neigh.c probes for key @v in a table of @size entries
 * (neigh_hash, which is static there).
 */
static uint32_t home(uint32_t v, uint32_t size)
{
	return (ntohl(v) * 2654435761u) >> (32 - __builtin_ctz(size));
}

/*
 * Fill @out with @n keys whose probe windows start at slot @slot of a table
 * of @size. Raw 32-bit values rather than addresses of one subnet: see
 * test_subnet_spread for why.
 */
static void keys_at(uint32_t slot, uint32_t size, uint32_t *out, unsigned n)
{
	unsigned k = 0;

	for (uint32_t v = 1; k < n && v < 0x1000000; v++)
		if (home(v, size) == slot)
			out[k++] = v;
	assert_int_equal(k, n);
}

/* Keys homed at @slot of the SIZE-entry test table. */
static void colliding(uint32_t slot, uint32_t *out, unsigned n)
{
	keys_at(slot, SIZE, out, n);
}

static int setup(void **state)
{
	*state = cw_neigh_create(SIZE, TIMEOUT);
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	cw_neigh_free(*state);
	return 0;
}

static void test_update_lookup(void **state)
{
	struct cw_neigh *n = *state;
	uint8_t mac[6];

	assert_int_equal(cw_neigh_update(n, ip(1), mac_a, T0), 0);
	assert_int_equal(cw_neigh_lookup(n, ip(1), mac, T0), 0);
	assert_memory_equal(mac, mac_a, 6);
	assert_int_equal(cw_neigh_lookup(n, ip(1), mac, T0 + 50), 0);
	assert_memory_equal(mac, mac_a, 6);
	/* A new MAC for the same address replaces the old one, in place. */
	assert_int_equal(cw_neigh_update(n, ip(1), mac_b, T0 + 1), 0);
	assert_int_equal(cw_neigh_lookup(n, ip(1), mac, T0 + 2), 0);
	assert_memory_equal(mac, mac_b, 6);
	assert_int_equal(cw_neigh_count(n, T0 + 2), 1);
	/* A second address. */
	assert_int_equal(cw_neigh_update(n, ip(2), mac_a, T0 + 2), 0);
	assert_int_equal(cw_neigh_lookup(n, ip(2), mac, T0 + 2), 0);
	assert_memory_equal(mac, mac_a, 6);
	assert_int_equal(cw_neigh_lookup(n, ip(1), mac, T0 + 2), 0);
	assert_memory_equal(mac, mac_b, 6);
	assert_int_equal(cw_neigh_count(n, T0 + 2), 2);
}

static void test_lookup_unknown(void **state)
{
	struct cw_neigh *n = *state;
	uint8_t mac[6];

	assert_int_equal(cw_neigh_lookup(n, ip(1), mac, T0), -ENOENT);
	assert_int_equal(cw_neigh_lookup(n, 0, mac, T0), -ENOENT);
	assert_int_equal(cw_neigh_count(n, T0), 0);
	assert_int_equal(cw_neigh_update(n, ip(1), mac_a, T0), 0);
	for (uint32_t h = 2; h < 200; h++)
		assert_int_equal(cw_neigh_lookup(n, ip(h), mac, T0), -ENOENT);
	assert_int_equal(cw_neigh_lookup(n, 0, mac, T0), -ENOENT);
}

static void test_expiry(void **state)
{
	struct cw_neigh *n = *state;
	uint8_t mac[6];

	assert_int_equal(cw_neigh_update(n, ip(1), mac_a, T0), 0);
	assert_int_equal(cw_neigh_lookup(n, ip(1), mac, T0 + TIMEOUT - 1), 0);
	assert_int_equal(cw_neigh_count(n, T0 + TIMEOUT - 1), 1);
	assert_int_equal(cw_neigh_lookup(n, ip(1), mac, T0 + TIMEOUT), -ENOENT);
	assert_int_equal(cw_neigh_count(n, T0 + TIMEOUT), 0);
	assert_int_equal(cw_neigh_lookup(n, ip(1), mac, T0 + 10 * TIMEOUT), -ENOENT);
	/* Learning it again revives it. */
	assert_int_equal(cw_neigh_update(n, ip(1), mac_b, T0 + 500), 0);
	assert_int_equal(cw_neigh_lookup(n, ip(1), mac, T0 + 500), 0);
	assert_memory_equal(mac, mac_b, 6);
	assert_int_equal(cw_neigh_count(n, T0 + 500), 1);
}

static void test_refresh(void **state)
{
	struct cw_neigh *n = *state;
	uint8_t mac[6];

	/* Overheard ARP for an unknown address: nothing learnt. */
	assert_int_equal(cw_neigh_refresh(n, ip(1), mac_a, T0), -ENOENT);
	assert_int_equal(cw_neigh_lookup(n, ip(1), mac, T0), -ENOENT);
	assert_int_equal(cw_neigh_count(n, T0), 0);
	/* Known: the MAC and the timestamp are refreshed. */
	assert_int_equal(cw_neigh_update(n, ip(1), mac_a, T0), 0);
	assert_int_equal(cw_neigh_refresh(n, ip(1), mac_b, T0 + 60), 0);
	assert_int_equal(cw_neigh_lookup(n, ip(1), mac, T0 + 60 + TIMEOUT - 1), 0);
	assert_memory_equal(mac, mac_b, 6);
	assert_int_equal(cw_neigh_lookup(n, ip(1), mac, T0 + 60 + TIMEOUT), -ENOENT);
	/* Still nothing for another address. */
	assert_int_equal(cw_neigh_refresh(n, ip(2), mac_a, T0 + 61), -ENOENT);
	assert_int_equal(cw_neigh_lookup(n, ip(2), mac, T0 + 61), -ENOENT);
	assert_int_equal(cw_neigh_count(n, T0 + 61), 1);
}

static void test_solicit_rate_limit(void **state)
{
	struct cw_neigh *n = *state;
	uint8_t mac[6];

	assert_true(cw_neigh_solicit(n, ip(1), T0, RETRY));
	for (uint64_t t = T0; t < T0 + RETRY; t++)
		assert_false(cw_neigh_solicit(n, ip(1), t, RETRY));
	assert_true(cw_neigh_solicit(n, ip(1), T0 + RETRY, RETRY));
	assert_false(cw_neigh_solicit(n, ip(1), T0 + RETRY + 1, RETRY));
	assert_true(cw_neigh_solicit(n, ip(1), T0 + 5 * RETRY, RETRY));
	/* Each address has its own interval. */
	assert_true(cw_neigh_solicit(n, ip(2), T0 + 5 * RETRY, RETRY));
	assert_false(cw_neigh_solicit(n, ip(2), T0 + 5 * RETRY + 1, RETRY));
	/* Being resolved is not being known. */
	assert_int_equal(cw_neigh_lookup(n, ip(1), mac, T0 + 5 * RETRY), -ENOENT);
	assert_int_equal(cw_neigh_count(n, T0 + 5 * RETRY), 0);
	/* The answer arrives; the interval still runs from the last request... */
	assert_int_equal(cw_neigh_update(n, ip(1), mac_a, T0 + 5 * RETRY + 2), 0);
	assert_int_equal(cw_neigh_lookup(n, ip(1), mac, T0 + 5 * RETRY + 2), 0);
	assert_memory_equal(mac, mac_a, 6);
	assert_false(cw_neigh_solicit(n, ip(1), T0 + 5 * RETRY + 3, RETRY));
	/* ...and soliciting it later does not make it unknown. */
	assert_true(cw_neigh_solicit(n, ip(1), T0 + 7 * RETRY, RETRY));
	assert_int_equal(cw_neigh_lookup(n, ip(1), mac, T0 + 7 * RETRY), 0);
	assert_memory_equal(mac, mac_a, 6);
	assert_int_equal(cw_neigh_count(n, T0 + 7 * RETRY), 1);
}

static void test_solicit_expired(void **state)
{
	struct cw_neigh *n = *state;
	uint64_t t = T0 + 2 * TIMEOUT;
	uint8_t mac[6];

	assert_int_equal(cw_neigh_update(n, ip(1), mac_a, T0), 0);
	assert_int_equal(cw_neigh_lookup(n, ip(1), mac, t), -ENOENT);
	assert_true(cw_neigh_solicit(n, ip(1), t, RETRY));
	assert_false(cw_neigh_solicit(n, ip(1), t + 1, RETRY));
	assert_int_equal(cw_neigh_lookup(n, ip(1), mac, t + 1), -ENOENT);
	assert_true(cw_neigh_solicit(n, ip(1), t + RETRY, RETRY));
	/* The reply makes it valid again, with the new MAC. */
	assert_int_equal(cw_neigh_update(n, ip(1), mac_b, t + RETRY + 1), 0);
	assert_int_equal(cw_neigh_lookup(n, ip(1), mac, t + RETRY + 1), 0);
	assert_memory_equal(mac, mac_b, 6);
}

static void test_table_full(void **state)
{
	struct cw_neigh *n = *state;
	uint32_t a[PROBE + 1];
	uint8_t mac[6];

	colliding(3, a, PROBE + 1);
	for (unsigned i = 0; i < PROBE; i++)
		assert_int_equal(cw_neigh_update(n, a[i], mac_a, T0 + i), 0);
	assert_int_equal(cw_neigh_update(n, a[PROBE], mac_b, T0 + PROBE), -ENOSPC);
	assert_int_equal(cw_neigh_lookup(n, a[PROBE], mac, T0 + PROBE), -ENOENT);
	assert_false(cw_neigh_solicit(n, a[PROBE], T0 + PROBE, RETRY));
	for (unsigned i = 0; i < PROBE; i++) {
		assert_int_equal(cw_neigh_lookup(n, a[i], mac, T0 + PROBE), 0);
		assert_memory_equal(mac, mac_a, 6);
	}
	assert_int_equal(cw_neigh_count(n, T0 + PROBE), PROBE);
	/* Updating an address already in the window still works. */
	assert_int_equal(cw_neigh_update(n, a[5], mac_b, T0 + PROBE), 0);
	assert_int_equal(cw_neigh_lookup(n, a[5], mac, T0 + PROBE), 0);
	assert_memory_equal(mac, mac_b, 6);
	/* Other windows are not affected. */
	uint32_t other[1] = {0};
	colliding(12, other, 1);
	assert_int_equal(cw_neigh_update(n, other[0], mac_a, T0 + PROBE), 0);
	assert_int_equal(cw_neigh_count(n, T0 + PROBE), PROBE + 1);
}

static void test_expired_slot_reused(void **state)
{
	struct cw_neigh *n = *state;
	uint32_t a[PROBE + 1];
	uint8_t mac[6];

	colliding(7, a, PROBE + 1);
	/* a[0] is learnt first and expires first; a[3] is refreshed later. */
	for (unsigned i = 0; i < PROBE; i++)
		assert_int_equal(cw_neigh_update(n, a[i], mac_a, i ? T0 + 50 : T0), 0);
	assert_int_equal(cw_neigh_update(n, a[PROBE], mac_b, T0 + TIMEOUT - 1), -ENOSPC);
	assert_int_equal(cw_neigh_update(n, a[PROBE], mac_b, T0 + TIMEOUT), 0);
	assert_int_equal(cw_neigh_lookup(n, a[PROBE], mac, T0 + TIMEOUT), 0);
	assert_memory_equal(mac, mac_b, 6);
	assert_int_equal(cw_neigh_lookup(n, a[0], mac, T0 + TIMEOUT), -ENOENT);
	for (unsigned i = 1; i < PROBE; i++)
		assert_int_equal(cw_neigh_lookup(n, a[i], mac, T0 + TIMEOUT), 0);
	assert_int_equal(cw_neigh_count(n, T0 + TIMEOUT), PROBE);
	/* a[0] comes back: no room until the others age out. */
	assert_int_equal(cw_neigh_update(n, a[0], mac_a, T0 + TIMEOUT), -ENOSPC);
	assert_int_equal(cw_neigh_refresh(n, a[3], mac_a, T0 + TIMEOUT), 0);
	assert_int_equal(cw_neigh_update(n, a[0], mac_a, T0 + 50 + TIMEOUT), 0);
	assert_int_equal(cw_neigh_lookup(n, a[0], mac, T0 + 50 + TIMEOUT), 0);
	assert_int_equal(cw_neigh_lookup(n, a[3], mac, T0 + 50 + TIMEOUT), 0);
	assert_int_equal(cw_neigh_lookup(n, a[PROBE], mac, T0 + 50 + TIMEOUT), 0);
	assert_int_equal(cw_neigh_count(n, T0 + 50 + TIMEOUT), 3);
}

/* An unanswered solicitation holds its slot for one timeout. */
static void test_incomplete_holds_slot(void **state)
{
	struct cw_neigh *n = *state;
	uint32_t a[PROBE + 1];
	uint8_t mac[6];

	colliding(0, a, PROBE + 1);
	for (unsigned i = 0; i < PROBE; i++)
		assert_true(cw_neigh_solicit(n, a[i], T0, RETRY));
	assert_int_equal(cw_neigh_count(n, T0), 0);
	/* An answer for one being resolved takes its own slot. */
	assert_int_equal(cw_neigh_update(n, a[2], mac_b, T0 + 1), 0);
	assert_int_equal(cw_neigh_lookup(n, a[2], mac, T0 + 1), 0);
	assert_memory_equal(mac, mac_b, 6);
	assert_false(cw_neigh_solicit(n, a[PROBE], T0 + RETRY, RETRY));
	assert_int_equal(cw_neigh_update(n, a[PROBE], mac_a, T0 + TIMEOUT - 1), -ENOSPC);
	/* After the timeout the stale requests give way. */
	assert_true(cw_neigh_solicit(n, a[PROBE], T0 + TIMEOUT, RETRY));
	assert_int_equal(cw_neigh_update(n, a[PROBE], mac_a, T0 + TIMEOUT + 1), 0);
	assert_int_equal(cw_neigh_lookup(n, a[PROBE], mac, T0 + TIMEOUT + 1), 0);
	assert_memory_equal(mac, mac_a, 6);
}

/* A window that starts at the last slot wraps around to slot 0. */
static void test_window_wraps(void **state)
{
	struct cw_neigh *n = *state;
	uint32_t a[PROBE + 1];
	uint8_t mac[6];

	colliding(SIZE - 1, a, PROBE + 1);
	for (unsigned i = 0; i < PROBE; i++) {
		uint8_t m[6] = {0x02, 0, 0, 0, 1, (uint8_t)i};
		assert_int_equal(cw_neigh_update(n, a[i], m, T0), 0);
	}
	assert_int_equal(cw_neigh_update(n, a[PROBE], mac_a, T0), -ENOSPC);
	for (unsigned i = 0; i < PROBE; i++) {
		uint8_t m[6] = {0x02, 0, 0, 0, 1, (uint8_t)i};
		assert_int_equal(cw_neigh_lookup(n, a[i], mac, T0), 0);
		assert_memory_equal(mac, m, 6);
	}
	/* They took slots 15 and 0..6: a key homed at 0 finds only slot 7 free. */
	uint32_t b[2];
	colliding(0, b, 2);
	assert_int_equal(cw_neigh_update(n, b[0], mac_a, T0), 0);
	assert_int_equal(cw_neigh_lookup(n, b[0], mac, T0), 0);
	assert_int_equal(cw_neigh_update(n, b[1], mac_a, T0), -ENOSPC);
	assert_int_equal(cw_neigh_count(n, T0), PROBE + 1);
}

static void test_count(void **state)
{
	struct cw_neigh *n = *state;

	assert_int_equal(cw_neigh_count(n, 0), 0);
	for (uint32_t h = 1; h <= 5; h++)
		assert_int_equal(cw_neigh_update(n, ip(h), mac_a, T0 + h * 10), 0);
	assert_true(cw_neigh_solicit(n, ip(6), T0 + 50, RETRY));
	assert_int_equal(cw_neigh_count(n, T0 + 50), 5);
	assert_int_equal(cw_neigh_count(n, T0 + 10 + TIMEOUT), 4);
	assert_int_equal(cw_neigh_count(n, T0 + 30 + TIMEOUT), 2);
	assert_int_equal(cw_neigh_count(n, T0 + 50 + TIMEOUT), 0);
}

/*
 * The size is rounded up to a power of two, at least 16: one key homed at
 * each slot of a table that size fills it exactly, and then nothing fits.
 */
static void test_create_sizes(void **state)
{
	static const uint32_t sizes[] = {0, 1, 15, 16, 17, 100, 1024};

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct cw_neigh *n = cw_neigh_create(sizes[i], TIMEOUT);
		uint32_t want = 16, k[1] = {0};
		uint8_t mac[6];

		while (want < sizes[i])
			want <<= 1;
		assert_non_null(n);
		for (uint32_t s = 0; s < want; s++) {
			keys_at(s, want, k, 1);
			assert_int_equal(cw_neigh_update(n, k[0], mac_a, T0), 0);
		}
		assert_int_equal(cw_neigh_count(n, T0), want);
		for (uint32_t s = 0; s < want; s += want / 16) {
			keys_at(s, want, k, 1);
			assert_int_equal(cw_neigh_lookup(n, k[0], mac, T0), 0);
		}
		/* Full: a key not yet in the table finds no slot. */
		for (uint32_t v = 0x2000000; v < 0x2000000 + 64; v++)
			assert_int_equal(cw_neigh_update(n, v, mac_a, T0), -ENOSPC);
		cw_neigh_free(n);
	}
	cw_neigh_free(NULL);
}

/*
 * The hosts of one subnet differ only in their low bits; they must still
 * spread over the table, or a /24 could not hold more than one probe
 * window's worth of neighbours.
 */
static void test_subnet_spread(void **state)
{
	struct cw_neigh *n = cw_neigh_create(4096, TIMEOUT);
	uint8_t mac[6];

	(void)state;
	assert_non_null(n);
	for (uint32_t h = 1; h <= 64; h++) {
		assert_int_equal(cw_neigh_update(n, ip(h), mac_a, T0), 0);
	}
	for (uint32_t h = 1; h <= 64; h++)
		assert_int_equal(cw_neigh_lookup(n, ip(h), mac, T0), 0);
	assert_int_equal(cw_neigh_count(n, T0), 64);
	cw_neigh_free(n);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_update_lookup),
	    T(test_lookup_unknown),
	    T(test_expiry),
	    T(test_refresh),
	    T(test_solicit_rate_limit),
	    T(test_solicit_expired),
	    T(test_table_full),
	    T(test_expired_slot_reused),
	    T(test_incomplete_holds_slot),
	    T(test_window_wraps),
	    T(test_count),
	    cmocka_unit_test(test_create_sizes),
	    cmocka_unit_test(test_subnet_spread),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
