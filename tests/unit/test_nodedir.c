/* SPDX-License-Identifier: Apache-2.0 */
/*
 * control/nodedir.c: replace and generation rules, and lock-free readers
 * that never see a torn or freed entry while a writer churns the table.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <urcu-qsbr.h>

#include "control/nodedir.h"

static struct cw_node_info node(const char *name, uint32_t worker)
{
	struct cw_node_info n = {.worker = worker, .slot = worker * 3, .family = 4, .port = 40000};

	snprintf(n.name, sizeof(n.name), "%s", name);
	return n;
}

static int count_cb(const struct cw_node_info *n, void *ctx)
{
	(void)n;
	(*(int *)ctx)++;
	return 0;
}

static void test_put_get_replace_del(void **state)
{
	struct cw_nodedir *d = cw_nodedir_new();
	struct cw_node_info a = node("edge-a", 1), b = node("edge-b", 2), got, old;
	uint64_t ga, ga2, gb;
	int seen = 0;

	(void)state;
	assert_non_null(d);
	rcu_read_lock();
	assert_int_equal(cw_nodedir_put(d, &a, &ga, &old), 0);
	assert_int_equal(cw_nodedir_put(d, &b, &gb, NULL), 0);
	assert_true(gb > ga);
	assert_int_equal(cw_nodedir_get(d, "edge-a", &got), 0);
	assert_string_equal(got.name, "edge-a");
	assert_int_equal(got.worker, 1);
	assert_int_equal(got.gen, ga);
	assert_int_equal(cw_nodedir_get(d, "edge-c", &got), -ENOENT);
	/* The same node again: replaced, and the old session is handed back. */
	a.worker = 5;
	assert_int_equal(cw_nodedir_put(d, &a, &ga2, &old), 1);
	assert_int_equal(old.gen, ga);
	assert_int_equal(old.worker, 1);
	assert_int_equal(cw_nodedir_get(d, "edge-a", &got), 0);
	assert_int_equal(got.worker, 5);
	assert_int_equal(cw_nodedir_count(d), 2);
	/* The replaced session closing late must not remove its successor. */
	assert_int_equal(cw_nodedir_del(d, "edge-a", ga), -ESTALE);
	assert_int_equal(cw_nodedir_get(d, "edge-a", &got), 0);
	assert_int_equal(cw_nodedir_del(d, "edge-a", ga2), 0);
	assert_int_equal(cw_nodedir_del(d, "edge-a", ga2), -ENOENT);
	assert_int_equal(cw_nodedir_get(d, "edge-a", &got), -ENOENT);
	cw_nodedir_foreach(d, count_cb, &seen);
	assert_int_equal(seen, 1);
	/* Names: empty and over 253 bytes are refused. */
	a.name[0] = 0;
	assert_int_equal(cw_nodedir_put(d, &a, NULL, NULL), -EINVAL);
	memset(a.name, 'x', sizeof(a.name));
	assert_int_equal(cw_nodedir_put(d, &a, NULL, NULL), -EINVAL);
	a.name[CW_NODE_NAME_MAX] = 0;
	assert_int_equal(cw_nodedir_put(d, &a, NULL, NULL), 0);
	rcu_read_unlock();
	cw_nodedir_free(d);
}

#define NODES	64
#define WRITES	200000
#define READERS 2

struct shared {
	struct cw_nodedir *d;
	volatile bool stop;
	unsigned long lookups[READERS], found[READERS], bad[READERS];
};

struct reader_arg {
	struct shared *sh;
	int idx;
};

/* Each entry is self-consistent: slot and port derive from worker. A torn
 * copy or a freed entry would break that (or trip ASan). */
static void *reader(void *p)
{
	struct reader_arg *ra = p;
	struct shared *sh = ra->sh;
	unsigned i = (unsigned)ra->idx * 7919;

	rcu_register_thread();
	while (!__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE)) {
		struct cw_node_info got;
		char name[32];

		snprintf(name, sizeof(name), "node-%u", i++ % NODES);
		rcu_read_lock();
		/* cmocka's asserts belong to the main thread: count instead. */
		if (cw_nodedir_get(sh->d, name, &got) == 0) {
			sh->bad[ra->idx] += strcmp(got.name, name) != 0 ||
					    got.slot != got.worker * 3 ||
					    got.port != (uint16_t)(got.worker + 1000);
			sh->found[ra->idx]++;
		}
		rcu_read_unlock();
		sh->lookups[ra->idx]++;
		rcu_quiescent_state();
	}
	rcu_unregister_thread();
	return NULL;
}

static void test_concurrent_readers(void **state)
{
	struct shared sh = {.d = cw_nodedir_new()};
	struct reader_arg ra[READERS];
	pthread_t t[READERS];
	uint64_t gens[NODES] = {0};
	unsigned long replaced = 0;

	(void)state;
	assert_non_null(sh.d);
	for (int i = 0; i < READERS; i++) {
		ra[i] = (struct reader_arg){&sh, i};
		assert_int_equal(pthread_create(&t[i], NULL, reader, &ra[i]), 0);
	}
	rcu_register_thread();
	for (uint32_t w = 0; w < WRITES; w++) {
		uint32_t k = (w * 2654435761u) % NODES;
		struct cw_node_info n, old;
		char name[32];
		int rc;

		snprintf(name, sizeof(name), "node-%u", k);
		rcu_read_lock();
		if (w % 3 == 2 && gens[k]) {
			assert_int_equal(cw_nodedir_del(sh.d, name, gens[k]), 0);
			gens[k] = 0;
		} else {
			n = node(name, w);
			n.port = (uint16_t)(w + 1000);
			rc = cw_nodedir_put(sh.d, &n, &gens[k], &old);
			assert_true(rc == 0 || rc == 1);
			replaced += (unsigned long)rc;
		}
		rcu_read_unlock();
		rcu_quiescent_state();
	}
	__atomic_store_n(&sh.stop, true, __ATOMIC_RELEASE);
	rcu_thread_offline();
	for (int i = 0; i < READERS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_true(sh.lookups[i] > 0);
		assert_int_equal(sh.bad[i], 0);
	}
	rcu_thread_online();
	assert_true(replaced > 0);
	rcu_read_lock();
	{
		unsigned long live = 0;

		for (int k = 0; k < NODES; k++)
			live += gens[k] != 0;
		assert_int_equal(cw_nodedir_count(sh.d), live);
	}
	rcu_read_unlock();
	cw_nodedir_free(sh.d);
	rcu_unregister_thread();
}

static int group_setup(void **state)
{
	(void)state;
	rcu_register_thread();
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	rcu_unregister_thread();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_put_get_replace_del),
	};
	const struct CMUnitTest threaded[] = {
	    cmocka_unit_test(test_concurrent_readers),
	};
	int rc = cmocka_run_group_tests_name("nodedir", tests, group_setup, group_teardown);

	return rc | cmocka_run_group_tests_name("nodedir_threads", threaded, NULL, NULL);
}
