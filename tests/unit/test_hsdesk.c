/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tunnel/hsdesk.c on its own: jobs started from screened INITIALs of bare
 * agent connections, the desk's refusals, datagrams for handshakes that
 * are not there, handshakes that end by their timers, and the memory a
 * connection carries when it leaves. test_gateway runs the desk with a
 * gateway and agents end to end.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pki.h"
#include "testutil.h"
#include "tunnel/aead.h"
#include "tunnel/hsdesk.h"
#include "tunnel/token.h"

#define T0	INT64_C(1800000000)
#define DAY	INT64_C(86400)
#define GW_NAME "gw.causeway.test"
#define MS	UINT64_C(1000000)
#define SEC	(1000 * MS)

static struct {
	struct tu_ca ca;
	struct tu_ident gw, node;
	struct cw_tls_server_ctx *sc;
	struct cw_tls_client_ctx *cc;
	struct cw_token_keys tk;
	struct cw_aead retry;
} fx;

static int setup(void **state)
{
	struct cw_tls_server_cfg scfg = {0};
	struct cw_tls_client_cfg ccfg = {0};
	uint8_t key[CW_TOKEN_KEY_LEN];

	(void)state;
	tu_ca_make(&fx.ca, "Causeway test CA", T0);
	fx.gw = tu_make_ident("gateway", "DNS:" GW_NAME, fx.ca.cert, fx.ca.key, T0 - DAY,
			      T0 + 365 * DAY);
	fx.node =
	    tu_make_ident("node:node-a", NULL, fx.ca.cert, fx.ca.key, T0 - DAY, T0 + 365 * DAY);
	scfg = (struct cw_tls_server_cfg){.cert_chain = tu_pem_ref(&fx.gw.cert),
					  .key = tu_pem_ref(&fx.gw.key),
					  .node_ca = tu_pem_ref(&fx.ca.pem)};
	ccfg = (struct cw_tls_client_cfg){.cert = tu_pem_ref(&fx.node.cert),
					  .key = tu_pem_ref(&fx.node.key),
					  .gateway_ca = tu_pem_ref(&fx.ca.pem),
					  .gateway_name = GW_NAME};
	assert_int_equal(cw_tls_server_ctx_new(&scfg, NULL, &fx.sc), 0);
	assert_int_equal(cw_tls_client_ctx_new(&ccfg, NULL, &fx.cc), 0);
	memset(key, 0x5a, sizeof(key));
	assert_int_equal(cw_token_init(&fx.tk, key, 0, 0), 0);
	assert_int_equal(cw_retry_init(&fx.retry), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	cw_aead_free(&fx.retry);
	cw_token_free(&fx.tk);
	cw_tls_client_ctx_free(fx.cc);
	cw_tls_server_ctx_free(fx.sc);
	tu_ident_free(&fx.node);
	tu_ident_free(&fx.gw);
	tu_ca_free(&fx.ca);
	return 0;
}

/* An agent's first INITIAL (@seed picks its CIDs), screened as a worker
 * would, into @b; the job for session @sid. The agent is kept in *@ag. */
static size_t initial(uint8_t seed, uint64_t sid, struct cw_conn **ag, uint8_t *b,
		      struct cw_gw_hs_job *job)
{
	struct cw_hs_agent_cfg hc = {.tls = fx.cc, .wall_time = T0};
	struct cw_hs_peer peer = {CW_TOKEN_IPV4, (const uint8_t *)"\xc6\x33\x64\x0a", 40000};
	uint8_t out[CW_HS_DGRAM_MAX], scid[CW_CID_LEN] = {seed};
	int n;

	memset(hc.cid, seed, sizeof(hc.cid));
	memset(hc.odcid, seed + 1, sizeof(hc.odcid));
	assert_int_equal(cw_conn_agent_new(&(struct cw_conn_cfg){0}, &hc, 0, ag), 0);
	n = cw_conn_send(*ag, 0, b, CW_CONN_DGRAM_MAX);
	assert_true(n >= 1200);
	*job =
	    (struct cw_gw_hs_job){.session_id = sid,
				  .from = {.family = 4, .addr = {198, 51, 100, 10}, .port = 40000},
				  .seed = 7};
	assert_int_equal(cw_hs_screen(b, (size_t)n, &peer, 0, &fx.tk, &fx.retry, CW_RETRY_NEVER,
				      scid, out, sizeof(out), &job->scr),
			 CW_HS_V_ACCEPT);
	memset(job->cid, 0x40 + seed, sizeof(job->cid));
	return (size_t)n;
}

static struct cw_hsd *desk(struct tu_counter *mem, struct cw_alloc *a, uint32_t max_jobs)
{
	struct cw_hsd_cfg cfg = {.alloc = a, .tls = fx.sc, .max_jobs = max_jobs};
	struct cw_hsd *h;

	*a = (struct cw_alloc){tu_count_alloc, tu_count_free, mem};
	assert_int_equal(cw_hsd_new(&cfg, &h), 0);
	cw_hsd_set_wall_time(h, T0);
	return h;
}

static void test_refusals(void **state)
{
	struct cw_hsd_cfg bad = {.tls = fx.sc, .max_jobs = 0};
	uint8_t b[CW_CONN_DGRAM_MAX], copy[CW_CONN_DGRAM_MAX];
	struct cw_conn *ag1, *ag2;
	struct cw_gw_hs_job job1, job2;
	struct tu_counter mem = {0};
	struct cw_hsd_done d;
	struct cw_alloc a;
	struct cw_hsd *h;
	size_t n;

	(void)state;
	assert_int_equal(cw_hsd_new(&bad, &h), -EINVAL);
	bad.max_jobs = 65537;
	assert_int_equal(cw_hsd_new(&bad, &h), -EINVAL);
	h = desk(&mem, &a, 1);
	n = initial(1, 11, &ag1, b, &job1);
	memcpy(copy, b, n);
	assert_int_equal(cw_hsd_start(h, 0, &job1, b, n), 0);
	assert_int_equal(cw_hsd_jobs(h), 1);
	/* The same session again; then a second one at a full desk. */
	assert_int_equal(cw_hsd_start(h, 0, &job1, copy, n), -EEXIST);
	n = initial(3, 12, &ag2, b, &job2);
	assert_int_equal(cw_hsd_start(h, 0, &job2, b, n), -EBUSY);
	/* A datagram for a session that is not here goes back to its owner. */
	assert_int_equal(cw_hsd_input(h, 0, 12, &job2.from, b, n), -ENOENT);
	assert_int_equal(cw_hsd_take(h, &d), -EAGAIN);
	cw_hsd_free(h);
	/* The job's connection and the desk's tables went back. */
	assert_int_equal(mem.blocks, 0);
	assert_int_equal(mem.bytes, 0);
	cw_conn_free(ag1);
	cw_conn_free(ag2);
}

static void test_bad_initial(void **state)
{
	uint8_t b[CW_CONN_DGRAM_MAX];
	struct cw_gw_hs_job job;
	struct tu_counter mem = {0};
	struct cw_conn *ag;
	struct cw_alloc a;
	struct cw_hsd *h;
	size_t n, base;

	(void)state;
	h = desk(&mem, &a, 4);
	base = mem.bytes;
	n = initial(7, 21, &ag, b, &job);
	b[n - 1] ^= 1; /* the AEAD tag */
	assert_int_equal(cw_hsd_start(h, 0, &job, b, n), -EBADMSG);
	assert_int_equal(cw_hsd_jobs(h), 0);
	assert_int_equal(mem.bytes, base);
	cw_hsd_free(h);
	cw_conn_free(ag);
}

/* The desk answers, the agent goes silent: the handshake ends by its own
 * timeout and leaves the desk closed, with what its connection holds. */
static void test_timeout(void **state)
{
	uint8_t b[CW_CONN_DGRAM_MAX], out[CW_CONN_DGRAM_MAX];
	struct cw_gw_hs_job job;
	struct tu_counter mem = {0};
	struct cw_hsd_done d, d2;
	struct cw_gw_addr to;
	struct cw_conn *ag;
	struct cw_alloc a;
	struct cw_hsd *h;
	uint64_t now = 0, sid = 0;
	size_t n, before;
	int k, sent = 0;

	(void)state;
	h = desk(&mem, &a, 4);
	before = mem.bytes;
	n = initial(9, 31, &ag, b, &job);
	assert_int_equal(cw_hsd_start(h, now, &job, b, n), 0);
	while ((k = cw_hsd_output(h, now, out, sizeof(out), &sid, &to)) > 0) {
		assert_int_equal(sid, 31);
		assert_memory_equal(&to, &job.from, sizeof(to));
		sent += k;
	}
	assert_int_equal(k, 0);
	assert_true(sent > 0); /* its flight, at most 3x what came in (§8) */
	assert_true(sent <= 3 * (int)n);
	while (cw_hsd_jobs(h) && now < 60 * SEC) {
		now = cw_hsd_next_timeout(h);
		assert_true(now != UINT64_MAX);
		cw_hsd_on_timeout(h, now);
		while ((k = cw_hsd_output(h, now, out, sizeof(out), &sid, &to)) > 0)
			sent += k; /* retransmissions */
	}
	assert_int_equal(cw_hsd_jobs(h), 0);
	assert_int_equal(cw_hsd_next_timeout(h), UINT64_MAX);
	assert_int_equal(cw_hsd_take(h, &d), 0);
	assert_int_equal(d.session_id, 31);
	assert_non_null(d.conn);
	assert_int_not_equal(cw_conn_state(d.conn), CW_CONN_ESTABLISHED);
	assert_int_equal(d.sent, (uint64_t)sent); /* every byte it sent */
	/* What the connection holds is what the desk counted for it. */
	assert_int_equal(mem.bytes - before, d.bytes);
	assert_int_equal(cw_hsd_take(h, &d2), -EAGAIN);
	/* Its owner moves it to an allocator of its own before the desk goes. */
	cw_conn_set_alloc(d.conn, &a);
	cw_hsd_free(h);
	assert_int_equal(mem.bytes, d.bytes);
	cw_conn_free(d.conn);
	assert_int_equal(mem.bytes, 0);
	assert_int_equal(mem.blocks, 0);
	cw_conn_free(ag);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_bad_initial),
	    cmocka_unit_test(test_timeout),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
