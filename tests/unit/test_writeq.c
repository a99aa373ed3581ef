/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tunnel/agent/writeq.c: the offline write queue on LMDB. FIFO order,
 * entries byte-exact, the bounds (-ENOSPC, nothing queued), coalescing,
 * reopening (order, counts and the sequence go on), and a writer killed
 * with SIGKILL keeps every write it was told was queued.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"
#include "tunnel/agent/writeq.h"

#define MIB (UINT64_C(1) << 20)

struct tmp {
	char dir[64];
	char q[80];
};

static void tmp_make(struct tmp *t)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/cw-writeq-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->q, sizeof(t->q), "%s/writes", t->dir);
}

static void tmp_drop(struct tmp *t)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/data.mdb", t->q);
	assert_int_equal(unlink(p), 0);
	snprintf(p, sizeof(p), "%s/lock.mdb", t->q);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(rmdir(t->q), 0);
	assert_int_equal(rmdir(t->dir), 0);
}

static uint64_t push(struct cw_writeq *q, const char *verb, const char *uri, const char *body,
		     bool coalesce)
{
	struct cw_writeq_entry e = {
	    .uri = uri, .ctype = "application/json", .body = body, .len = strlen(body)};
	uint64_t seq = 0;

	snprintf(e.verb, sizeof(e.verb), "%s", verb);
	assert_int_equal(cw_writeq_push(q, &e, coalesce, &seq), 0);
	return seq;
}

/* The head is @verb @uri @body, number @seq; it is popped. */
static void expect_head(struct cw_writeq *q, uint64_t seq, const char *verb, const char *uri,
			const char *body)
{
	struct cw_writeq_entry *e = NULL;

	assert_int_equal(cw_writeq_peek(q, &e), 0);
	assert_int_equal(e->seq, seq);
	assert_string_equal(e->verb, verb);
	assert_string_equal(e->uri, uri);
	assert_string_equal(e->ctype, "application/json");
	assert_int_equal(e->len, strlen(body));
	assert_memory_equal(e->body, body, e->len);
	assert_int_equal(cw_writeq_pop(q, seq), 0);
	free(e);
}

static void test_fifo(void **state)
{
	struct tmp t;
	struct cw_writeq *q;
	struct cw_writeq_entry *e;
	uint64_t a, b, c;

	(void)state;
	tmp_make(&t);
	assert_int_equal(cw_writeq_open(t.q, 100, MIB, &q), 0);
	assert_int_equal(cw_writeq_peek(q, &e), -ENOENT);
	a = push(q, "PATCH", "/api/v1/namespaces/d/pods/p/status", "{\"a\":1}", false);
	b = push(q, "PUT", "/apis/coordination.k8s.io/v1/namespaces/n/leases/l", "{\"b\":2}",
		 false);
	c = push(q, "POST", "/api/v1/namespaces/d/events", "", false);
	assert_true(a < b && b < c);
	assert_int_equal(cw_writeq_depth(q), 3);
	/* URI, content-type and body of each */
	assert_int_equal(cw_writeq_bytes(q), 34 + 16 + 7 + 50 + 16 + 7 + 27 + 16);
	expect_head(q, a, "PATCH", "/api/v1/namespaces/d/pods/p/status", "{\"a\":1}");
	expect_head(q, b, "PUT", "/apis/coordination.k8s.io/v1/namespaces/n/leases/l", "{\"b\":2}");
	assert_int_equal(cw_writeq_pop(q, b), -ENOENT);
	expect_head(q, c, "POST", "/api/v1/namespaces/d/events", "");
	assert_int_equal(cw_writeq_depth(q), 0);
	assert_int_equal(cw_writeq_bytes(q), 0);
	assert_int_equal(cw_writeq_peek(q, &e), -ENOENT);
	cw_writeq_close(q);
	tmp_drop(&t);
}

static void test_reopen(void **state)
{
	struct tmp t;
	struct cw_writeq *q;
	char uri[64], body[64];
	uint64_t seq[10], bytes, next;

	(void)state;
	tmp_make(&t);
	assert_int_equal(cw_writeq_open(t.q, 100, MIB, &q), 0);
	for (int i = 0; i < 10; i++) {
		snprintf(uri, sizeof(uri), "/api/v1/namespaces/d/events/e%d", i);
		snprintf(body, sizeof(body), "{\"n\":%d}", i);
		seq[i] = push(q, "PATCH", uri, body, false);
	}
	assert_int_equal(cw_writeq_pop(q, seq[0]), 0);
	bytes = cw_writeq_bytes(q);
	cw_writeq_close(q);

	assert_int_equal(cw_writeq_open(t.q, 100, MIB, &q), 0);
	assert_int_equal(cw_writeq_depth(q), 9);
	assert_int_equal(cw_writeq_bytes(q), bytes);
	next = push(q, "POST", "/api/v1/namespaces/d/events", "{}", false);
	assert_true(next > seq[9]);
	for (int i = 1; i < 10; i++) {
		snprintf(uri, sizeof(uri), "/api/v1/namespaces/d/events/e%d", i);
		snprintf(body, sizeof(body), "{\"n\":%d}", i);
		expect_head(q, seq[i], "PATCH", uri, body);
	}
	expect_head(q, next, "POST", "/api/v1/namespaces/d/events", "{}");
	cw_writeq_close(q);
	tmp_drop(&t);
}

static void test_bounds(void **state)
{
	struct cw_writeq_entry e = {.verb = "POST",
				    .uri = "/api/v1/namespaces/d/events",
				    .ctype = "",
				    .body = "0123456789",
				    .len = 10};
	struct tmp t;
	struct cw_writeq *q;
	uint64_t s1, s2, s3;

	(void)state;
	tmp_make(&t);
	assert_int_equal(cw_writeq_open(t.q, 0, MIB, &q), -EINVAL);
	assert_int_equal(cw_writeq_open(t.q, 1, 0, &q), -EINVAL);
	/* two entries */
	assert_int_equal(cw_writeq_open(t.q, 2, MIB, &q), 0);
	assert_int_equal(cw_writeq_push(q, &e, false, &s1), 0);
	assert_int_equal(cw_writeq_push(q, &e, false, &s2), 0);
	assert_int_equal(cw_writeq_push(q, &e, false, &s3), -ENOSPC);
	assert_int_equal(cw_writeq_depth(q), 2);
	assert_int_equal(cw_writeq_pop(q, s1), 0);
	assert_int_equal(cw_writeq_push(q, &e, false, &s3), 0);
	assert_true(s3 > s2);
	cw_writeq_close(q);
	/* reopened with a lower bound than it holds: no more until it drains */
	assert_int_equal(cw_writeq_open(t.q, 1, MIB, &q), 0);
	assert_int_equal(cw_writeq_depth(q), 2);
	assert_int_equal(cw_writeq_push(q, &e, false, &s1), -ENOSPC);
	assert_int_equal(cw_writeq_pop(q, s2), 0);
	assert_int_equal(cw_writeq_pop(q, s3), 0);
	cw_writeq_close(q);
	/* bytes: 27 of URI and 10 of body each, 80 allowed */
	assert_int_equal(cw_writeq_open(t.q, 100, 80, &q), 0);
	assert_int_equal(cw_writeq_push(q, &e, false, &s1), 0);
	assert_int_equal(cw_writeq_push(q, &e, false, &s2), 0);
	assert_int_equal(cw_writeq_push(q, &e, false, &s3), -ENOSPC);
	assert_int_equal(cw_writeq_depth(q), 2);
	assert_int_equal(cw_writeq_bytes(q), 74);
	cw_writeq_close(q);
	tmp_drop(&t);
}

static void test_bad_entries(void **state)
{
	static char uri[CW_WRITEQ_URI_MAX + 2];
	struct cw_writeq_entry e = {.verb = "PUT", .uri = "/x", .ctype = "", .body = "", .len = 0};
	struct tmp t;
	struct cw_writeq *q;
	uint64_t s;

	(void)state;
	tmp_make(&t);
	assert_int_equal(cw_writeq_open(t.q, 10, MIB, &q), 0);
	memset(uri, 'a', CW_WRITEQ_URI_MAX + 1);
	e.uri = uri;
	assert_int_equal(cw_writeq_push(q, &e, false, &s), -ENAMETOOLONG);
	uri[CW_WRITEQ_URI_MAX] = '\0';
	assert_int_equal(cw_writeq_push(q, &e, false, &s), 0);
	e.uri = "/x";
	e.verb[0] = '\0';
	assert_int_equal(cw_writeq_push(q, &e, false, &s), -EINVAL);
	memcpy(e.verb, "ABCDEFGH", sizeof(e.verb));
	assert_int_equal(cw_writeq_push(q, &e, false, &s), -EINVAL);
	assert_int_equal(cw_writeq_depth(q), 1);
	cw_writeq_close(q);
	tmp_drop(&t);
}

/* A later PUT of the same URI replaces the queued ones; it goes last. */
static void test_coalesce(void **state)
{
	const char *lease = "/apis/coordination.k8s.io/v1/namespaces/n/leases/edge-1";
	const char *pod = "/api/v1/namespaces/d/pods/p/status";
	struct tmp t;
	struct cw_writeq *q;
	uint64_t p1, l2, p2, l3, l4;

	(void)state;
	tmp_make(&t);
	assert_int_equal(cw_writeq_open(t.q, 100, MIB, &q), 0);
	push(q, "PUT", lease, "{\"renew\":1}", true);
	p1 = push(q, "PATCH", pod, "{\"p\":1}", false);
	l2 = push(q, "PUT", lease, "{\"renew\":2}", true);
	assert_int_equal(cw_writeq_depth(q), 2);
	p2 = push(q, "PATCH", pod, "{\"p\":2}", false);
	/* not coalesced: a PATCH is not a whole object */
	assert_int_equal(cw_writeq_depth(q), 3);
	l3 = push(q, "PATCH", lease, "{\"patch\":3}", false);
	l4 = push(q, "PUT", lease, "{\"renew\":4}", true);
	/* PUT l2 gone, the PATCH of the lease stays */
	assert_int_equal(cw_writeq_depth(q), 4);
	assert_int_equal(cw_writeq_bytes(q), 2 * (34 + 16 + 7) + (55 + 16 + 11) * 2);
	(void)l2;
	expect_head(q, p1, "PATCH", pod, "{\"p\":1}");
	expect_head(q, p2, "PATCH", pod, "{\"p\":2}");
	expect_head(q, l3, "PATCH", lease, "{\"patch\":3}");
	expect_head(q, l4, "PUT", lease, "{\"renew\":4}");
	cw_writeq_close(q);
	tmp_drop(&t);
}

/* The writer, killed with SIGKILL mid-stream: every write whose push had
 * returned (reported on the pipe) is there after, in order. */
static void test_kill9(void **state)
{
	struct tmp t;
	struct cw_writeq *q;
	char uri[64], body[64];
	int fd[2], st;
	uint64_t seq, acked[64];
	size_t n = 0;
	pid_t pid;

	(void)state;
	tmp_make(&t);
	assert_int_equal(pipe(fd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fd[0]);
		if (cw_writeq_open(t.q, 1000, MIB, &q))
			_exit(1);
		for (int i = 0;; i++) {
			snprintf(uri, sizeof(uri), "/api/v1/namespaces/d/events/e%d", i);
			snprintf(body, sizeof(body), "{\"n\":%d}", i);
			struct cw_writeq_entry e = {.verb = "POST",
						    .uri = uri,
						    .ctype = "application/json",
						    .body = body,
						    .len = strlen(body)};
			if (cw_writeq_push(q, &e, false, &seq) ||
			    write(fd[1], &seq, sizeof(seq)) != sizeof(seq))
				_exit(1);
		}
	}
	close(fd[1]);
	while (n < 40 && read(fd[0], &acked[n], sizeof(acked[n])) == sizeof(acked[n]))
		n++;
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	close(fd[0]);
	assert_int_equal(n, 40);

	assert_int_equal(cw_writeq_open(t.q, 1000, MIB, &q), 0);
	assert_true(cw_writeq_depth(q) >= 40);
	for (size_t i = 0; i < n; i++) {
		snprintf(uri, sizeof(uri), "/api/v1/namespaces/d/events/e%zu", i);
		snprintf(body, sizeof(body), "{\"n\":%zu}", i);
		expect_head(q, acked[i], "POST", uri, body);
	}
	cw_writeq_close(q);
	tmp_drop(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fifo),     cmocka_unit_test(test_reopen),
	    cmocka_unit_test(test_bounds),   cmocka_unit_test(test_bad_entries),
	    cmocka_unit_test(test_coalesce), cmocka_unit_test(test_kill9),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
