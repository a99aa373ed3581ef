/* SPDX-License-Identifier: Apache-2.0 */
/*
 * In-process, one-core costs of whole tunnel sessions (issue 3): an agent
 * conn and a gateway conn (tunnel/conn.h) in one thread, passing their
 * datagrams to each other in memory, no loss, no I/O. Both sides run on
 * the same core, so every figure is the CPU cost of both ends unless it
 * says "gateway share".
 *
 *     session-bench bulk [--bytes N] [--check] [--split]
 *     session-bench msgs [--size N] [--objects DIR] [--count N]
 *                        [--precompressed] [--check] [--split]
 *     session-bench reqs [--count N]
 *     session-bench handshakes (--full | --resumed) [--count N]
 *     session-bench idle [--sessions N] [--resumed] [--burst N]
 *     common: [--json] [--dict FILE] [--step-ns NS] [--pool]
 *
 * bulk: --bytes (64 MiB) agent -> gateway on one API stream, checked by
 * count and checksum. msgs: ApiResponse Envelopes gateway -> agent on 4
 * API streams (each opened by an ApiRequest), each body packed by
 * cw_msg_body_pack (zstd with the dictionary, IDENTITY under
 * CW_MSG_BODY_COMPRESS_MIN bytes) per message (or once up front with
 * --precompressed: fan-out of one object), decoded and decompressed by
 * the agent; the bodies are the
 * *.json files of --objects within a quarter of --size bytes, or Leases
 * synthesized at exactly --size bytes. reqs: --count (100,000) requests
 * agent -> gateway, REQ_INFLIGHT (4) at a time, each on a new API
 * stream: an ApiRequest (GET of a secret) and FIN, decoded by the gateway,
 * which answers an ApiResponse (403, a Kubernetes Status) and FIN, decoded
 * by the agent; a stream and a decoder are opened and freed per request on
 * each side, as in the gateway (routing left out). handshakes: --count sessions
 * connected to confirmation and freed, the gateway side through
 * cw_hs_screen() and cw_conn_gateway_new(). idle: --sessions pairs
 * connected, a Hello-sized exchange on stream 0 (and --burst bytes of an
 * API answer), settled, agents freed; then what the gateway conns hold
 * through their cw_alloc (by block size) and through OpenSSL's allocator
 * (CRYPTO_set_mem_functions, counted with malloc_usable_size).
 *
 * The virtual clock advances by --step-ns (100 ns) per datagram (per
 * flight while connecting and settling): the RTT
 * the conns measure is a few steps, so the pacer's rate (1.25 cwnd/srtt)
 * is far above the CPU's and never the limit; each side answers a packet
 * before the next one leaves, as on a link with no delay. A "stall" is a
 * moment when neither side had anything to send before a timer (ACK
 * delay, PTO, pacing): the clock then jumps to that timer. The CPU figures
 * are CLOCK_PROCESS_CPUTIME_ID around the timed part only.
 *
 * --pool gives each side a caching allocator (tunnel/pool.h) over its
 * counted malloc, as a worker would use for its gateway; idle trims the
 * gateway's before counting, so its figures are what the sessions hold.
 *
 * --split times each side's calls (CLOCK_MONOTONIC, a few per packet) to
 * give the gateway's share of the CPU; it costs some throughput, so the
 * main figures come from runs without it. Handshakes always split (with
 * the thread CPU clock: a handshake is long next to a clock read).
 *
 * Exit status: 0, 1 when a run failed or data did not match (--check
 * compares every byte; a checksum and the byte count are always checked),
 * 2 for bad usage.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "perf/common.h"
#include "tests/unit/pki.h"
#include "tunnel/compress.h"
#include "tunnel/conn.h"
#include "tunnel/msg.h"
#include "tunnel/msg_body.h"
#include "tunnel/pool.h"

#define NEVER	    UINT64_MAX
#define SEC	    UINT64_C(1000000000)
#define DAY	    INT64_C(86400)
#define GW_NAME	    "gw.causeway.test"
#define DQ_MAX	    1024       /* datagrams of one flight */
#define HIST_MAX    256	       /* distinct allocation sizes tracked (idle) */
#define PAT_LEN	    (64 << 10) /* bulk: the sender's pattern, and the receiver's check block */
#define MSG_STREAMS 4	       /* msgs: API streams the messages are spread over */
#define MSG_BATCH   16	       /* msgs: messages queued per round of the sender */
#define OBJ_MAX	    (64 << 10)

/* ---- allocation counting ---- */

struct hist {
	size_t size;
	long live;
};

/* What one side holds through its cw_alloc; per size when @hist. */
struct counter {
	size_t bytes, blocks, peak;
	bool track;
	struct hist h[HIST_MAX];
	unsigned nh;
};

static void hist_add(struct counter *c, size_t n, long d)
{
	for (unsigned i = 0; i < c->nh; i++)
		if (c->h[i].size == n) {
			c->h[i].live += d;
			return;
		}
	if (c->nh < HIST_MAX)
		c->h[c->nh++] = (struct hist){n, d};
}

static void *count_alloc(void *ctx, size_t n)
{
	struct counter *c = ctx;
	void *p = malloc(n);

	if (!p)
		return NULL;
	c->bytes += n;
	c->blocks++;
	if (c->bytes > c->peak)
		c->peak = c->bytes;
	if (c->track)
		hist_add(c, n, 1);
	return p;
}

static void count_free(void *ctx, void *p, size_t n)
{
	struct counter *c = ctx;

	if (!p)
		return;
	c->bytes -= n;
	c->blocks--;
	if (c->track)
		hist_add(c, n, -1);
	free(p);
}

/* OpenSSL's own allocations (idle only: installed before OpenSSL's first). */
static size_t ossl_live;

static void *ossl_malloc(size_t n, const char *file, int line)
{
	void *p = malloc(n);

	(void)file;
	(void)line;
	if (p)
		ossl_live += malloc_usable_size(p);
	return p;
}

static void *ossl_realloc(void *old, size_t n, const char *file, int line)
{
	size_t was = old ? malloc_usable_size(old) : 0;
	void *p = realloc(old, n);

	(void)file;
	(void)line;
	if (p || !n)
		ossl_live -= was;
	if (p)
		ossl_live += malloc_usable_size(p);
	return p;
}

static void ossl_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	if (p)
		ossl_live -= malloc_usable_size(p);
	free(p);
}

/* ---- clocks and small helpers ---- */

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

/* The timed part of a run: CPU time, and time spent runnable but waiting
 * for the CPU (other tasks on our core: a sign of a noisy machine). */
struct timing {
	uint64_t cpu, wait;
};

static void timing_start(struct timing *t)
{
	t->wait = cw_sched_wait();
	t->cpu = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}

/* Returns the CPU seconds since timing_start(). */
static double timing_stop(struct timing *t)
{
	t->cpu = clock_ns(CLOCK_PROCESS_CPUTIME_ID) - t->cpu;
	t->wait = cw_sched_wait() - t->wait;
	return (double)t->cpu / 1e9;
}

static void fail(const char *what, int e)
{
	fprintf(stderr, "session-bench: %s: %s\n", what, e ? strerror(-e) : "failed");
	exit(1);
}

static void check(int e, const char *what)
{
	if (e < 0)
		fail(what, e);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* ---- certificates, contexts, pairs ---- */

struct opts {
	bool json, check, split, precompressed, resumed, full, pool;
	uint64_t bytes, count, sessions, step, burst;
	size_t size;
	const char *objects, *dict;
};

struct bench {
	const struct opts *o;
	struct tu_ca ca;
	struct tu_ident gw_id, node_id;
	struct cw_tls_server_ctx *sc;
	struct cw_tls_client_ctx *cc;
	struct cw_token_keys tk;
	struct cw_aead retry;
	struct counter ag_mem, gw_mem;
	struct cw_alloc ag_count, gw_count; /* malloc, counted in ag_mem, gw_mem */
	struct cw_pool ag_pool, gw_pool;    /* --pool: over ag_count, gw_count */
	struct cw_alloc ag_a, gw_a;	    /* what each side's conns allocate from */
	int64_t wall;
	uint64_t now, cid_seq;
	uint64_t gw_cpu; /* thread CPU ns inside gateway calls (handshakes) */
	bool time_gw;
};

/* One session: the agent's conn and the gateway's. */
struct pair {
	struct cw_conn *ag, *gw;
};

/* A CA, the gateway's certificate and one node's, valid now. */
static void make_pki(struct bench *b)
{
	tu_ca_make(&b->ca, "Causeway bench CA", b->wall);
	b->gw_id = tu_make_ident("gateway", "DNS:" GW_NAME, b->ca.cert, b->ca.key, b->wall - DAY,
				 b->wall + 365 * DAY);
	b->node_id = tu_make_ident("node:edge-0001", NULL, b->ca.cert, b->ca.key, b->wall - DAY,
				   b->wall + 365 * DAY);
}

static void bench_init(struct bench *b, const struct opts *o)
{
	struct cw_tls_server_cfg scfg = {0};
	struct cw_tls_client_cfg ccfg = {0};
	uint8_t key[CW_TOKEN_KEY_LEN];

	memset(b, 0, sizeof(*b));
	b->o = o;
	b->wall = (int64_t)time(NULL);
	b->now = SEC;
	make_pki(b);
	scfg = (struct cw_tls_server_cfg){.cert_chain = tu_pem_ref(&b->gw_id.cert),
					  .key = tu_pem_ref(&b->gw_id.key),
					  .node_ca = tu_pem_ref(&b->ca.pem)};
	for (size_t i = 0; i < CW_TLS_TICKET_KEY_LEN; i++)
		scfg.ticket_key[i] = (uint8_t)(0x21 + i);
	ccfg = (struct cw_tls_client_cfg){.cert = tu_pem_ref(&b->node_id.cert),
					  .key = tu_pem_ref(&b->node_id.key),
					  .gateway_ca = tu_pem_ref(&b->ca.pem),
					  .gateway_name = GW_NAME};
	check(cw_tls_server_ctx_new(&scfg, NULL, &b->sc), "gateway TLS context");
	check(cw_tls_client_ctx_new(&ccfg, NULL, &b->cc), "agent TLS context");
	memset(key, 0x5a, sizeof(key));
	check(cw_token_init(&b->tk, key, 0, 0), "token keys");
	check(cw_retry_init(&b->retry), "retry AEAD");
	b->ag_count = (struct cw_alloc){count_alloc, count_free, &b->ag_mem};
	b->gw_count = (struct cw_alloc){count_alloc, count_free, &b->gw_mem};
	b->ag_a = b->ag_count;
	b->gw_a = b->gw_count;
	if (o->pool) {
		cw_pool_init(&b->ag_pool, &b->ag_count, 0);
		cw_pool_init(&b->gw_pool, &b->gw_count, 0);
		b->ag_a = *cw_pool_alloc(&b->ag_pool);
		b->gw_a = *cw_pool_alloc(&b->gw_pool);
	}
}

static void bench_free(struct bench *b)
{
	if (b->o->pool) {
		cw_pool_trim(&b->ag_pool);
		cw_pool_trim(&b->gw_pool);
	}
	cw_tls_server_ctx_free(b->sc);
	cw_tls_client_ctx_free(b->cc);
	cw_token_free(&b->tk);
	cw_aead_free(&b->retry);
	tu_ident_free(&b->gw_id);
	tu_ident_free(&b->node_id);
	tu_ca_free(&b->ca);
}

static void put_cid(uint8_t cid[CW_CID_LEN], uint64_t v)
{
	for (int i = 0; i < CW_CID_LEN; i++)
		cid[i] = (uint8_t)(v >> (8 * i));
}

static void gw_time(struct bench *b, uint64_t *t0)
{
	if (b->time_gw)
		*t0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

static void gw_time_end(struct bench *b, uint64_t t0)
{
	if (b->time_gw)
		b->gw_cpu += clock_ns(CLOCK_THREAD_CPUTIME_ID) - t0;
}

/* ---- connecting and settling: datagrams in flights ---- */

struct dq {
	uint8_t d[DQ_MAX][CW_CONN_DGRAM_MAX];
	size_t len[DQ_MAX];
	unsigned n;
};

static struct dq q_up, q_down; /* agent -> gateway, gateway -> agent */

static void drain(struct cw_conn *c, uint64_t now, struct dq *q)
{
	int n;

	while ((n = cw_conn_send(c, now, q->d[q->n], CW_CONN_DGRAM_MAX)) > 0) {
		q->len[q->n] = (size_t)n;
		if (++q->n == DQ_MAX)
			fail("flight too long", 0);
	}
	check(n, "cw_conn_send");
}

static void gw_accept(struct bench *b, struct pair *p, uint8_t *d, size_t len)
{
	static const uint8_t addr[4] = {198, 51, 100, 7};
	struct cw_hs_peer peer = {CW_TOKEN_IPV4, addr, 40000};
	struct cw_hs_gateway_cfg hc = {.tls = b->sc, .wall_time = b->wall};
	struct cw_conn_cfg cfg = {.alloc = &b->gw_a, .seed = b->cid_seq};
	uint8_t out[CW_HS_DGRAM_MAX], scid[CW_CID_LEN] = {7};
	struct cw_hs_screen scr;
	int v;

	put_cid(hc.cid, b->cid_seq | UINT64_C(1) << 63);
	v = cw_hs_screen(d, len, &peer, b->now, &b->tk, &b->retry, CW_RETRY_NEVER, scid, out,
			 sizeof(out), &scr);
	if (v != CW_HS_V_ACCEPT)
		fail("cw_hs_screen did not accept the INITIAL", v < 0 ? v : 0);
	check(cw_conn_gateway_new(&cfg, &hc, &scr, d, len, b->now, &p->gw), "cw_conn_gateway_new");
}

/* Deliver the flight in @q to the gateway (accepting the first INITIAL). */
static void to_gateway(struct bench *b, struct pair *p, struct dq *q)
{
	uint64_t t0 = 0;

	gw_time(b, &t0);
	for (unsigned i = 0; i < q->n; i++) {
		if (!p->gw)
			gw_accept(b, p, q->d[i], q->len[i]);
		else
			check(cw_conn_recv(p->gw, b->now, q->d[i], q->len[i]), "cw_conn_recv");
	}
	q->n = 0;
	if (p->gw)
		drain(p->gw, b->now, &q_down);
	gw_time_end(b, t0);
}

static void to_agent(struct bench *b, struct pair *p, struct dq *q)
{
	for (unsigned i = 0; i < q->n; i++)
		check(cw_conn_recv(p->ag, b->now, q->d[i], q->len[i]), "cw_conn_recv");
	q->n = 0;
}

static bool agent_confirmed(const struct cw_conn *c)
{
	const struct cw_hs *hs = cw_conn_hs(c);

	return cw_conn_state(c) == CW_CONN_ESTABLISHED && hs && cw_hs_state(hs) == CW_HS_CONFIRMED;
}

static bool gateway_confirmed(const struct cw_conn *c)
{
	return c && cw_conn_state(c) == CW_CONN_ESTABLISHED && !cw_conn_hs(c);
}

/* Run the timers of both conns due next, if any is due within @horizon. */
static bool run_timers(struct bench *b, struct pair *p, uint64_t horizon)
{
	uint64_t t = cw_conn_next_timeout(p->ag), g = p->gw ? cw_conn_next_timeout(p->gw) : NEVER;
	uint64_t t0 = 0;

	t = g < t ? g : t;
	if (t == NEVER || t > b->now + horizon)
		return false;
	if (t > b->now)
		b->now = t;
	cw_conn_on_timeout(p->ag, b->now);
	if (p->gw) {
		gw_time(b, &t0);
		cw_conn_on_timeout(p->gw, b->now);
		gw_time_end(b, t0);
	}
	return true;
}

/* Exchange flights until neither side has anything to send now. */
static bool exchange(struct bench *b, struct pair *p)
{
	bool moved = false;
	unsigned up, down;

	for (;;) {
		drain(p->ag, b->now, &q_up);
		up = q_up.n;
		b->now += up ? b->o->step : 0;
		to_gateway(b, p, &q_up);
		down = q_down.n;
		b->now += down ? b->o->step : 0;
		to_agent(b, p, &q_down);
		if (!up && !down)
			return moved;
		moved = true;
	}
}

/*
 * Connect @p to 1-RTT confirmation on both sides, resuming with @ticket
 * when given; the gateway side as the gateway does it (cw_hs_screen, then
 * cw_conn_gateway_new).
 */
static void pair_connect(struct bench *b, struct pair *p, const uint8_t *ticket, size_t tlen)
{
	struct cw_hs_agent_cfg hc = {
	    .tls = b->cc, .wall_time = b->wall, .ticket = ticket, .ticket_len = tlen};
	struct cw_conn_cfg cfg = {.alloc = &b->ag_a, .seed = b->cid_seq + 1};

	b->cid_seq++;
	put_cid(hc.cid, b->cid_seq);
	put_cid(hc.odcid, b->cid_seq ^ UINT64_C(0x0d0d0d0d0d0d0d0d));
	p->gw = NULL;
	check(cw_conn_agent_new(&cfg, &hc, b->now, &p->ag), "cw_conn_agent_new");
	for (int round = 0; round < 1000; round++) {
		exchange(b, p);
		if (agent_confirmed(p->ag) && gateway_confirmed(p->gw))
			return;
		if (!run_timers(b, p, 10 * SEC))
			break;
	}
	fail("handshake did not complete", 0);
}

/* Let every ACK and timer due within a second run: what is left is idle. */
static void settle(struct bench *b, struct pair *p)
{
	for (int round = 0; round < 1000; round++) {
		exchange(b, p);
		if (!run_timers(b, p, SEC))
			return;
	}
	fail("session did not settle", 0);
}

static void pair_free(struct pair *p)
{
	cw_conn_free(p->ag);
	cw_conn_free(p->gw);
	p->ag = p->gw = NULL;
}

/* The transport parameters Hello and HelloAck would carry (§9.6). */
static void set_params(struct pair *p)
{
	struct cw_streams_config a, g;

	cw_streams_config_default(&a, false);
	cw_streams_config_default(&g, true);
	check(cw_conn_set_peer_params(p->ag, g.max_data, g.max_stream_data, g.max_streams, 0),
	      "agent peer params");
	check(cw_conn_set_peer_params(p->gw, a.max_data, a.max_stream_data, a.max_streams, 0),
	      "gateway peer params");
}

static void pair_free_timed(struct bench *b, struct pair *p)
{
	uint64_t t0 = 0;

	cw_conn_free(p->ag);
	gw_time(b, &t0);
	cw_conn_free(p->gw);
	gw_time_end(b, t0);
	p->ag = p->gw = NULL;
}

/* ---- output: human lines or one JSON object ---- */

struct out {
	bool json;
};

static void out_begin(struct out *o, bool json, const char *bench, const char *title)
{
	o->json = json;
	if (json)
		printf("{\"bench\": \"%s\"", bench);
	else
		printf("session-bench %s: %s\n", bench, title);
}

static void out_num(struct out *o, const char *key, double v, int prec, const char *unit)
{
	if (o->json)
		printf(", \"%s\": %.*f", key, prec, v);
	else
		printf("  %-28s %14.*f %s\n", key, prec, v, unit);
}

/* --pool: how often each side's pool served an allocation itself. */
static void out_pool(struct out *o, const struct bench *b)
{
	const struct cw_pool_stats *g = cw_pool_stats(&b->gw_pool), *a = cw_pool_stats(&b->ag_pool);

	if (!b->o->pool)
		return;
	out_num(o, "pool_hits_gateway", (double)g->hits, 0, "gateway allocations from its pool");
	out_num(o, "pool_misses_gateway", (double)g->misses, 0, "gateway allocations from malloc");
	out_num(o, "pool_hits_agent", (double)a->hits, 0, "agent allocations from its pool");
	out_num(o, "pool_misses_agent", (double)a->misses, 0, "agent allocations from malloc");
}

static void out_end(struct out *o)
{
	if (o->json)
		printf("}\n");
	fflush(stdout);
}

/* ---- one-way flows (bulk, msgs) ---- */

enum { SND = 0, RCV = 1 };

struct flow {
	struct bench *b;
	struct cw_conn *snd, *rcv;
	int (*produce)(struct flow *f);
	int (*consume)(struct flow *f);
	bool (*done)(const struct flow *f);
	void *app;
	uint64_t stalls;
	uint64_t side_ns[2], lap_at; /* --split */
};

/* Charge the time since the last lap to @side. */
static void lap(struct flow *f, int side)
{
	uint64_t t;

	if (!f->b->o->split)
		return;
	t = clock_ns(CLOCK_MONOTONIC);
	f->side_ns[side] += t - f->lap_at;
	f->lap_at = t;
}

static void conn_ok(const struct cw_conn *c, const char *who)
{
	if (cw_conn_state(c) != CW_CONN_ESTABLISHED) {
		fprintf(stderr,
			"session-bench: %s conn closed (ours %" PRId64 ", peer %" PRId64 ")\n", who,
			cw_conn_close_code(c, true), cw_conn_close_code(c, false));
		exit(1);
	}
}

/* Whatever the receiver has to send now (ACKs, credit), to the sender. */
static void answer(struct flow *f, uint8_t *d)
{
	int n;

	while ((n = cw_conn_send(f->rcv, f->b->now, d, CW_CONN_DGRAM_MAX)) > 0) {
		lap(f, RCV);
		check(cw_conn_recv(f->snd, f->b->now, d, (size_t)n), "cw_conn_recv");
		lap(f, SND);
	}
	check(n, "cw_conn_send");
	lap(f, RCV);
}

/* The sender's datagrams due now, each received, read and answered
 * before the next one leaves. Returns whether any left. */
static bool send_due(struct flow *f, uint8_t *d)
{
	bool moved = false;
	int n;

	while ((n = cw_conn_send(f->snd, f->b->now, d, CW_CONN_DGRAM_MAX)) > 0) {
		lap(f, SND);
		moved = true;
		f->b->now += f->b->o->step;
		check(cw_conn_recv(f->rcv, f->b->now, d, (size_t)n), "cw_conn_recv");
		check(f->consume(f), "receiver");
		answer(f, d);
	}
	check(n, "cw_conn_send");
	lap(f, SND);
	return moved;
}

/* Neither side has anything to send: jump to the next timer. */
static void stall(struct flow *f)
{
	uint64_t s = cw_conn_next_timeout(f->snd), r = cw_conn_next_timeout(f->rcv);
	uint64_t t = s < r ? s : r;

	conn_ok(f->snd, "sender");
	conn_ok(f->rcv, "receiver");
	if (t == NEVER || ++f->stalls > 1000000)
		fail("flow stuck", 0);
	if (t > f->b->now)
		f->b->now = t;
	cw_conn_on_timeout(f->snd, f->b->now);
	lap(f, SND);
	cw_conn_on_timeout(f->rcv, f->b->now);
	lap(f, RCV);
}

static void flow_run(struct flow *f)
{
	uint8_t d[CW_CONN_DGRAM_MAX];

	f->lap_at = clock_ns(CLOCK_MONOTONIC);
	while (!f->done(f)) {
		check(f->produce(f), "sender");
		lap(f, SND);
		if (send_due(f, d))
			continue;
		answer(f, d);
		stall(f);
		answer(f, d);
	}
	conn_ok(f->snd, "sender");
	conn_ok(f->rcv, "receiver");
}

/* A connected pair with the parameters exchanged, for a flow. */
static void flow_pair(struct bench *b, struct pair *p)
{
	pair_connect(b, p, NULL, 0);
	set_params(p);
	settle(b, p);
}

static void out_wait(struct out *o, const struct timing *t)
{
	out_num(o, "wait_ms", (double)t->wait / 1e6, 1, "ms runnable but waiting for the CPU");
}

static void out_flow(struct out *o, const struct flow *f, bool gw_sends, double cpu_s, double units,
		     const char *unit)
{
	const struct cw_conn_stats *s = cw_conn_stats(f->snd), *r = cw_conn_stats(f->rcv);
	double gw = (double)f->side_ns[gw_sends ? SND : RCV];
	double all = (double)(f->side_ns[SND] + f->side_ns[RCV]);

	out_num(o, "cpu_s", cpu_s, 4, "s of CPU (both sides)");
	out_num(o, "packets", (double)s->pkts_out, 0, "1-RTT packets from the sender");
	out_num(o, "acks", (double)r->pkts_out, 0, "1-RTT packets from the receiver");
	out_num(o, "lost", (double)(s->lost + r->lost), 0, "packets declared lost");
	out_num(o, "stalls", (double)f->stalls, 0, "clock jumps to a timer");
	out_num(o, "srtt_us", (double)cw_conn_srtt(f->snd) / 1e3, 2, "us of virtual time");
	if (all > 0) {
		out_num(o, "gateway_share", gw / all, 3, "of the CPU (--split)");
		out_num(o, "per_gateway_core", units / (cpu_s * gw / all), 3, unit);
	}
}

/* ---- bulk ---- */

struct sum {
	uint64_t l[4];
};

#define SUM_K UINT64_C(0x100000001b3)

static void sum_init(struct sum *s)
{
	for (int k = 0; k < 4; k++)
		s->l[k] = UINT64_C(0xcbf29ce484222325) + (uint64_t)k;
}

/* Order-dependent and fast: four independent multiply chains. */
static void sum_add(struct sum *s, const uint8_t *p, size_t n)
{
	size_t i = 0;
	uint64_t w;

	for (; i + 32 <= n; i += 32)
		for (int k = 0; k < 4; k++) {
			memcpy(&w, p + i + 8 * k, 8);
			s->l[k] = (s->l[k] ^ w) * SUM_K;
		}
	for (; i < n; i++)
		s->l[0] = (s->l[0] ^ p[i]) * SUM_K;
}

static bool sum_eq(const struct sum *a, const struct sum *b)
{
	return memcmp(a->l, b->l, sizeof(a->l)) == 0;
}

struct bulk {
	uint8_t *pat, *acc;
	uint64_t sid, total, sent, got;
	size_t fill, bad;
	bool fin_sent, fin_got, check;
	struct sum want, have;
};

/* The stream's bytes are the pattern repeated: byte o is pat[o % PAT_LEN].
 * The receiver checks them in PAT_LEN blocks, which is also how @want was
 * summed. */
static void bulk_block(struct bulk *k)
{
	sum_add(&k->have, k->acc, k->fill);
	if (k->check && memcmp(k->acc, k->pat, k->fill) != 0)
		k->bad++;
	k->fill = 0;
}

static int bulk_produce(struct flow *f)
{
	struct bulk *k = f->app;
	size_t off = k->sent % PAT_LEN, len, n = 0;
	int e;

	if (k->fin_sent)
		return 0;
	if (k->sent < k->total) {
		len = k->total - k->sent < PAT_LEN - off ? k->total - k->sent : PAT_LEN - off;
		e = cw_conn_stream_write(f->snd, k->sid, k->pat + off, len, &n);
		if (e < 0 && e != -EAGAIN)
			return e;
		k->sent += n;
	}
	if (k->sent == k->total) {
		e = cw_conn_stream_finish(f->snd, k->sid);
		if (e < 0)
			return e;
		k->fin_sent = true;
	}
	return 0;
}

static int bulk_consume(struct flow *f)
{
	struct bulk *k = f->app;
	uint64_t id, code;
	unsigned ev;
	size_t n;
	bool fin;
	int e;

	while (cw_conn_next_event(f->rcv, &id, &ev) == 0)
		;
	while (!k->fin_got) {
		e = cw_conn_stream_read(f->rcv, k->sid, k->acc + k->fill, PAT_LEN - k->fill, &n,
					&fin, &code);
		if (e == -EAGAIN || e == -ENOENT) /* ENOENT: its first frame is still to come */
			return 0;
		if (e < 0)
			return e;
		k->fill += n;
		k->got += n;
		k->fin_got = fin;
		if (k->fill == PAT_LEN || fin)
			bulk_block(k);
	}
	return 0;
}

static bool bulk_done(const struct flow *f)
{
	return ((const struct bulk *)f->app)->fin_got;
}

static void bulk_init(struct bulk *k, uint64_t total, bool chk)
{
	uint64_t rng = 0x9e3779b97f4a7c15u;

	memset(k, 0, sizeof(*k));
	k->pat = malloc(PAT_LEN);
	k->acc = malloc(PAT_LEN);
	if (!k->pat || !k->acc)
		fail("malloc", -ENOMEM);
	for (size_t i = 0; i < PAT_LEN; i += 8) {
		uint64_t w = xorshift(&rng);

		memcpy(k->pat + i, &w, 8);
	}
	k->total = total;
	k->check = chk;
	sum_init(&k->want);
	sum_init(&k->have);
	for (uint64_t o = 0; o < total; o += PAT_LEN)
		sum_add(&k->want, k->pat, total - o < PAT_LEN ? total - o : PAT_LEN);
}

static int run_bulk(struct bench *b)
{
	struct pair p;
	struct bulk k;
	struct flow f;
	struct out o;
	struct timing tm;
	uint64_t id, v0;
	double cpu;

	bulk_init(&k, b->o->bytes, b->o->check);
	flow_pair(b, &p);
	check(cw_conn_stream_open(p.ag, &id), "open stream 0");
	check(cw_conn_stream_open(p.ag, &k.sid), "open the bulk stream");
	f = (struct flow){b, p.ag, p.gw, bulk_produce, bulk_consume, bulk_done, &k, 0, {0}, 0};
	v0 = b->now;
	timing_start(&tm);
	flow_run(&f);
	cpu = timing_stop(&tm);
	out_begin(&o, b->o->json, "bulk", "agent -> gateway, one stream, both sides on one core");
	out_num(&o, "bytes", (double)k.got, 0, "payload bytes received");
	out_num(&o, "gbps_cpu", (double)k.got / cpu / 1e9, 3, "GB/s of payload per core of CPU");
	out_num(&o, "gbps_virtual", (double)k.got / ((double)(b->now - v0) / 1e9) / 1e9, 3,
		"GB/s of payload in virtual time");
	out_flow(&o, &f, false, cpu, (double)k.got / 1e9, "GB/s (gateway side alone)");
	out_wait(&o, &tm);
	out_num(&o, "peak_kib_agent", (double)b->ag_mem.peak / 1024, 1, "KiB (cw_alloc)");
	out_num(&o, "peak_kib_gateway", (double)b->gw_mem.peak / 1024, 1, "KiB (cw_alloc)");
	out_pool(&o, b);
	out_end(&o);
	pair_free(&p);
	free(k.pat);
	free(k.acc);
	if (k.got != k.total || !sum_eq(&k.want, &k.have) || k.bad) {
		fprintf(stderr,
			"session-bench: bulk: %" PRIu64 " of %" PRIu64
			" bytes, checksum %s, %zu bad blocks\n",
			k.got, k.total, sum_eq(&k.want, &k.have) ? "ok" : "WRONG", k.bad);
		return 1;
	}
	return 0;
}

/* ---- msgs ---- */

struct obj {
	uint8_t *data;
	size_t len;
	Causeway__V1__Body body; /* --precompressed: packed once */
	uint8_t *z;
};

struct mtx {
	uint64_t id, seq;
	uint8_t *buf;
	size_t len, off;
};

struct msgs {
	struct obj *objs;
	size_t nobj;
	struct cw_compress *zs, *zr; /* gateway's (sender), agent's (receiver) */
	uint32_t dict;
	bool precompressed, check;
	struct mtx tx[MSG_STREAMS];
	struct cw_msg_decoder dec[MSG_STREAMS];
	uint64_t rx_seq[MSG_STREAMS];
	uint64_t total, queued, got, wire, body, zstd;
	unsigned next;
	size_t bad;
	uint8_t zbuf[OBJ_MAX], out[OBJ_MAX], rbuf[16384];
};

static const struct obj *msg_obj(const struct msgs *m, unsigned k, uint64_t seq)
{
	return &m->objs[(seq * MSG_STREAMS + k) % m->nobj];
}

/* ApiResponse number @t->seq of stream @k: status and headers only in the
 * first (§13.4), every one a body part with more = true. */
static ptrdiff_t msg_build(struct msgs *m, unsigned k, struct mtx *t)
{
	const struct obj *ob = msg_obj(m, k, t->seq);
	Causeway__V1__Header h = CAUSEWAY__V1__HEADER__INIT, *hp[1] = {&h};
	Causeway__V1__ApiResponse r = CAUSEWAY__V1__API_RESPONSE__INIT;
	cw_envelope env = CAUSEWAY__V1__ENVELOPE__INIT;
	Causeway__V1__Body body = ob->body;
	int e;

	if (!m->precompressed) {
		e = cw_msg_body_pack(m->zs, m->dict, ob->data, ob->len, m->zbuf, sizeof(m->zbuf),
				     &body);
		if (e < 0)
			return e;
	}
	if (t->seq == 0) {
		h.name = "content-type";
		h.value = "application/json";
		r.status = 200;
		r.n_headers = 1;
		r.headers = hp;
	}
	/* Bodies under CW_MSG_BODY_COMPRESS_MIN go as they are. */
	m->zstd += body.encoding != CAUSEWAY__V1__ENCODING__IDENTITY;
	r.body = &body;
	r.more = true;
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_API_RESPONSE;
	env.api_response = &r;
	return cw_msg_encode(&env, CW_MSG_SIZE_DEFAULT, t->buf, OBJ_MAX + 1024);
}

/* Gateway: up to MSG_BATCH new messages, round robin over the streams. */
static int msgs_produce(struct flow *f)
{
	struct msgs *m = f->app;
	unsigned blocked = 0, made = 0;
	size_t n;
	int e;

	while (blocked < MSG_STREAMS && made < MSG_BATCH) {
		unsigned k = m->next;
		struct mtx *t = &m->tx[k];
		ptrdiff_t len;

		m->next = (k + 1) % MSG_STREAMS;
		if (t->off == t->len) {
			if (m->queued == m->total) {
				blocked++;
				continue;
			}
			len = msg_build(m, k, t);
			if (len < 0)
				return (int)len;
			t->len = (size_t)len;
			t->off = 0;
			t->seq++;
			m->queued++;
			m->wire += (uint64_t)len;
			made++;
		}
		e = cw_conn_stream_write(f->snd, t->id, t->buf + t->off, t->len - t->off, &n);
		if (e < 0 && e != -EAGAIN)
			return e;
		t->off += n;
		blocked += t->off < t->len;
	}
	return 0;
}

static int msgs_check(struct msgs *m, unsigned k, const cw_envelope *env)
{
	const struct obj *ob = msg_obj(m, k, m->rx_seq[k]);
	const Causeway__V1__ApiResponse *r = env->api_response;
	ptrdiff_t len;

	if (env->msg_case != CAUSEWAY__V1__ENVELOPE__MSG_API_RESPONSE || !r->body ||
	    (m->rx_seq[k] == 0 && r->status != 200))
		return -EBADMSG;
	len = cw_msg_body_unpack(m->zr, m->dict, r->body, m->out, sizeof(m->out));
	if (len < 0)
		return (int)len;
	if ((size_t)len != ob->len || (m->check && memcmp(m->out, ob->data, ob->len) != 0))
		m->bad++;
	m->body += (uint64_t)len;
	m->rx_seq[k]++;
	m->got++;
	return 0;
}

static int msgs_decode(struct msgs *m, unsigned k, const uint8_t *p, size_t n)
{
	cw_envelope *env;
	ptrdiff_t r;
	int e;

	while (n) {
		r = cw_msg_decode(&m->dec[k], p, n, &env);
		if (r < 0)
			return (int)r;
		p += r;
		n -= (size_t)r;
		if (env) {
			e = msgs_check(m, k, env);
			cw_msg_free(&m->dec[k], env);
			if (e < 0)
				return e;
		}
	}
	return 0;
}

/* Agent: everything readable on API stream @id. */
static int msgs_read(struct flow *f, uint64_t id)
{
	struct msgs *m = f->app;
	unsigned k = (unsigned)(id / 4) - 1;
	uint64_t code;
	size_t n;
	bool fin;
	int e;

	if (id % 4 || id == 0 || k >= MSG_STREAMS)
		return -EPROTO;
	for (;;) {
		e = cw_conn_stream_read(f->rcv, id, m->rbuf, sizeof(m->rbuf), &n, &fin, &code);
		if (e == -EAGAIN)
			return 0;
		if (e < 0)
			return e;
		e = msgs_decode(m, k, m->rbuf, n);
		if (e < 0 || fin)
			return e;
	}
}

static int msgs_consume(struct flow *f)
{
	uint64_t id;
	unsigned ev;
	int e;

	while (cw_conn_next_event(f->rcv, &id, &ev) == 0)
		if (ev & CW_STREAM_EV_READABLE && (e = msgs_read(f, id)) < 0)
			return e;
	return 0;
}

static bool msgs_done(const struct flow *f)
{
	const struct msgs *m = f->app;

	return m->got == m->total;
}

/* ---- msgs: bodies ---- */

/* A Lease as the API server serves it, exactly @n bytes: the holder's
 * name is stretched to fit. Returns 0, or -EINVAL when @n is too small. */
static int synth_lease(struct obj *ob, size_t n, unsigned i, uint64_t *rng)
{
	static const char alpha[] = "bcdfghjklmnpqrstvwxz2456789";
	char head[256], tail[128];
	int hl, tl;

	hl = snprintf(head, sizeof(head),
		      "{\"kind\":\"Lease\",\"apiVersion\":\"coordination.k8s.io/v1\",\"metadata\":"
		      "{\"name\":\"edge-%05u\",\"namespace\":\"kube-node-lease\","
		      "\"resourceVersion\":\"%u\"},\"spec\":{\"holderIdentity\":\"edge-%05u-",
		      i, 600000000u + (unsigned)(xorshift(rng) % 99999999u), i);
	tl = snprintf(
	    tail, sizeof(tail),
	    "\",\"leaseDurationSeconds\":40,\"renewTime\":\"2026-11-27T07:%02u:%02u.%06uZ\"}}",
	    (unsigned)(xorshift(rng) % 60), (unsigned)(xorshift(rng) % 60),
	    (unsigned)(xorshift(rng) % 1000000));
	if (n < (size_t)(hl + tl) || n > OBJ_MAX)
		return -EINVAL;
	ob->data = malloc(n);
	if (!ob->data)
		return -ENOMEM;
	memcpy(ob->data, head, (size_t)hl);
	for (size_t j = (size_t)hl; j < n - (size_t)tl; j++)
		ob->data[j] = (uint8_t)alpha[xorshift(rng) % (sizeof(alpha) - 1)];
	memcpy(ob->data + n - (size_t)tl, tail, (size_t)tl);
	ob->len = n;
	return 0;
}

static int read_file(const char *path, uint8_t **data, size_t *len, size_t max)
{
	FILE *fp = fopen(path, "rb");
	long sz;

	if (!fp)
		return -errno;
	if (fseek(fp, 0, SEEK_END) || (sz = ftell(fp)) < 0 || (size_t)sz > max ||
	    fseek(fp, 0, SEEK_SET)) {
		fclose(fp);
		return -EFBIG;
	}
	*data = malloc((size_t)sz + 1);
	if (!*data || fread(*data, 1, (size_t)sz, fp) != (size_t)sz) {
		free(*data);
		fclose(fp);
		return -EIO;
	}
	fclose(fp);
	*len = (size_t)sz;
	return 0;
}

/* Every *.json of @dir within a quarter of @size bytes, in name order. */
static int load_objects(struct msgs *m, const char *dir, size_t size)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, alphasort), e = 0;
	char path[4096];

	if (n < 0)
		return -errno;
	m->objs = calloc((size_t)n + 1, sizeof(*m->objs));
	for (int i = 0; i < n; i++) {
		size_t l = strlen(ents[i]->d_name);
		struct obj *ob = &m->objs[m->nobj];

		if (m->objs && !e && l > 5 && !strcmp(ents[i]->d_name + l - 5, ".json")) {
			snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
			e = read_file(path, &ob->data, &ob->len, OBJ_MAX);
			if (!e && ob->len * 4 >= size * 3 && ob->len * 4 <= size * 5)
				m->nobj++;
			else if (!e)
				free(ob->data);
		}
		free(ents[i]);
	}
	free(ents);
	if (!m->objs)
		return -ENOMEM;
	return e < 0 ? e : m->nobj ? 0 : -ENOENT;
}

static int make_bodies(struct msgs *m, const struct opts *o)
{
	uint64_t rng = 0x243f6a8885a308d3u;
	int e;

	if (o->objects)
		return load_objects(m, o->objects, o->size);
	m->nobj = 64;
	m->objs = calloc(m->nobj, sizeof(*m->objs));
	if (!m->objs)
		return -ENOMEM;
	for (unsigned i = 0; i < m->nobj; i++)
		if ((e = synth_lease(&m->objs[i], o->size, i + 1, &rng)) < 0)
			return e;
	return 0;
}

static int precompress(struct msgs *m)
{
	int e;

	for (size_t i = 0; i < m->nobj; i++) {
		struct obj *ob = &m->objs[i];

		ob->z = malloc(ob->len);
		if (!ob->z)
			return -ENOMEM;
		e = cw_msg_body_pack(m->zs, m->dict, ob->data, ob->len, ob->z, ob->len, &ob->body);
		if (e < 0)
			return e;
	}
	return 0;
}

static void load_dict(struct msgs *m, const char *path)
{
	uint8_t *d;
	size_t len;

	check(read_file(path, &d, &len, 16 << 20), path);
	check(cw_compress_add_dict(m->zs, d, len, &m->dict), "gateway dictionary");
	check(cw_compress_add_dict(m->zr, d, len, NULL), "agent dictionary");
	free(d);
}

/* ---- msgs: the run ---- */

/* Agent: an ApiRequest (a watch of the node's pods) and FIN on each API
 * stream; gateway: reads and decodes them, as it would before answering. */
static void msgs_open(struct bench *b, struct pair *p, struct msgs *m)
{
	Causeway__V1__ApiRequest rq = CAUSEWAY__V1__API_REQUEST__INIT;
	cw_envelope env = CAUSEWAY__V1__ENVELOPE__INIT, *got;
	struct cw_msg_decoder d;
	uint8_t buf[512];
	uint64_t id, code;
	ptrdiff_t len, r;
	unsigned ev;
	size_t n;
	bool fin;

	rq.verb = "GET";
	rq.path = "/api/v1/pods";
	rq.query = "watch=true&fieldSelector=spec.nodeName%3Dedge-0001";
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_API_REQUEST;
	env.api_request = &rq;
	len = cw_msg_encode(&env, CW_MSG_SIZE_DEFAULT, buf, sizeof(buf));
	check((int)len, "encode ApiRequest");
	check(cw_conn_stream_open(p->ag, &id), "open stream 0");
	for (unsigned k = 0; k < MSG_STREAMS; k++) {
		check(cw_conn_stream_open(p->ag, &m->tx[k].id), "open an API stream");
		check(cw_conn_stream_write(p->ag, m->tx[k].id, buf, (size_t)len, &n), "write");
		check(cw_conn_stream_finish(p->ag, m->tx[k].id), "finish");
	}
	settle(b, p);
	for (unsigned k = 0; k < MSG_STREAMS; k++) {
		check(cw_conn_stream_read(p->gw, m->tx[k].id, buf, sizeof(buf), &n, &fin, &code),
		      "gateway read ApiRequest");
		check(cw_msg_decoder_init(&d, &b->gw_a, CW_MSG_SIZE_DEFAULT), "decoder");
		r = cw_msg_decode(&d, buf, n, &got);
		if (r != (ptrdiff_t)n || !got ||
		    got->msg_case != CAUSEWAY__V1__ENVELOPE__MSG_API_REQUEST)
			fail("gateway decode ApiRequest", r < 0 ? (int)r : 0);
		cw_msg_free(&d, got);
		cw_msg_decoder_free(&d);
	}
	while (cw_conn_next_event(p->ag, &id, &ev) == 0 || cw_conn_next_event(p->gw, &id, &ev) == 0)
		;
}

static void msgs_init(struct bench *b, struct msgs *m)
{
	const struct opts *o = b->o;

	memset(m, 0, sizeof(*m));
	check(make_bodies(m, o), o->objects ? o->objects : "synthesized bodies");
	check(cw_compress_init(&m->zs, &b->gw_a, 0), "gateway compression");
	check(cw_compress_init(&m->zr, &b->ag_a, 0), "agent compression");
	load_dict(m, o->dict);
	m->precompressed = o->precompressed;
	m->check = o->check;
	m->total = o->count;
	if (m->precompressed)
		check(precompress(m), "precompress");
	for (unsigned k = 0; k < MSG_STREAMS; k++) {
		m->tx[k].buf = malloc(OBJ_MAX + 1024);
		if (!m->tx[k].buf)
			fail("malloc", -ENOMEM);
		check(cw_msg_decoder_init(&m->dec[k], &b->ag_a, CW_MSG_SIZE_DEFAULT), "decoder");
	}
}

static void msgs_free(struct msgs *m)
{
	for (unsigned k = 0; k < MSG_STREAMS; k++) {
		cw_msg_decoder_free(&m->dec[k]);
		free(m->tx[k].buf);
	}
	for (size_t i = 0; i < m->nobj; i++) {
		free(m->objs[i].data);
		free(m->objs[i].z);
	}
	free(m->objs);
	cw_compress_free(m->zs);
	cw_compress_free(m->zr);
}

static void out_msgs(struct out *o, const struct msgs *m, double cpu)
{
	uint64_t raw = 0;

	for (size_t i = 0; i < m->nobj; i++)
		raw += m->objs[i].len;
	out_num(o, "msgs", (double)m->got, 0, "ApiResponse messages decoded");
	out_num(o, "msgs_per_s", (double)m->got / cpu, 0, "messages/s per core of CPU");
	out_num(o, "ns_per_msg", cpu * 1e9 / (double)m->got, 0, "ns of CPU per message");
	out_num(o, "objects", (double)m->nobj, 0, "distinct bodies");
	out_num(o, "body_bytes", (double)raw / (double)m->nobj, 0, "mean JSON body bytes");
	out_num(o, "wire_bytes", (double)m->wire / (double)m->got, 1,
		"mean message bytes (prefix + Envelope)");
	out_num(o, "zstd_share", (double)m->zstd / (double)m->queued, 3,
		"of the bodies zstd-compressed (the rest IDENTITY)");
}

static int run_msgs(struct bench *b)
{
	struct msgs *m = malloc(sizeof(*m));
	struct pair p;
	struct flow f;
	struct timing tm;
	struct out o;
	double cpu;
	int rc = 0;

	if (!m)
		fail("malloc", -ENOMEM);
	msgs_init(b, m);
	flow_pair(b, &p);
	msgs_open(b, &p, m);
	f = (struct flow){b, p.gw, p.ag, msgs_produce, msgs_consume, msgs_done, m, 0, {0}, 0};
	timing_start(&tm);
	flow_run(&f);
	cpu = timing_stop(&tm);
	out_begin(&o, b->o->json, "msgs",
		  m->precompressed ? "gateway -> agent ApiResponses, bodies compressed once"
				   : "gateway -> agent ApiResponses, each body compressed");
	out_msgs(&o, m, cpu);
	out_flow(&o, &f, true, cpu, (double)m->got, "messages/s (gateway side alone)");
	out_wait(&o, &tm);
	out_pool(&o, b);
	out_end(&o);
	if (m->bad || m->body == 0) {
		fprintf(stderr, "session-bench: msgs: %zu bodies differ\n", m->bad);
		rc = 1;
	}
	pair_free(&p);
	msgs_free(m);
	free(m);
	return rc;
}

/* ---- reqs ---- */

/* A request as an agent's edge hub forwards one, and the gateway's refusal. */
#define REQ_PATH "/api/v1/namespaces/kube-system/secrets/bootstrap-token-abcdef"
#define REQ_STATUS                                                                                 \
	"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","                       \
	"\"reason\":\"Forbidden\",\"code\":403}"
#define REQ_INFLIGHT 4 /* reqs: requests outstanding at once */
#define REQ_SLOTS    (2 * REQ_INFLIGHT)

/* One stream being read: allocated per request on each side, as the
 * gateway does (its struct api). */
struct rq {
	uint64_t id;
	struct cw_msg_decoder dec;
};

struct rq_side {
	struct cw_conn *c;
	const struct cw_alloc *a;
	struct rq *slot[REQ_SLOTS];
};

struct reqs {
	struct rq_side ag, gw;
	uint8_t req[256], resp[256], rbuf[4096];
	size_t req_len, resp_len;
	uint64_t total, sent, answered, got;
	unsigned inflight;
};

static int rq_get(struct rq_side *s, uint64_t id, struct rq **out)
{
	int free_at = -1;
	struct rq *q;
	int e;

	for (int i = 0; i < REQ_SLOTS; i++) {
		if (s->slot[i] && s->slot[i]->id == id) {
			*out = s->slot[i];
			return 0;
		}
		if (!s->slot[i] && free_at < 0)
			free_at = i;
	}
	if (free_at < 0)
		return -ENOSPC;
	q = s->a->alloc(s->a->ctx, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->id = id;
	if ((e = cw_msg_decoder_init(&q->dec, s->a, CW_MSG_SIZE_DEFAULT)) < 0) {
		s->a->free(s->a->ctx, q, sizeof(*q));
		return e;
	}
	s->slot[free_at] = *out = q;
	return 0;
}

static void rq_put(struct rq_side *s, struct rq *q)
{
	for (int i = 0; i < REQ_SLOTS; i++)
		if (s->slot[i] == q)
			s->slot[i] = NULL;
	cw_msg_decoder_free(&q->dec);
	s->a->free(s->a->ctx, q, sizeof(*q));
}

/* Gateway: an ApiRequest read whole is answered and the stream finished. */
static int reqs_answer(struct reqs *r, struct rq *q, const cw_envelope *env)
{
	size_t n;
	int e;

	if (env->msg_case != CAUSEWAY__V1__ENVELOPE__MSG_API_REQUEST)
		return -EBADMSG;
	e = cw_conn_stream_write(r->gw.c, q->id, r->resp, r->resp_len, &n);
	if (e < 0 || n != r->resp_len)
		return e < 0 ? e : -EAGAIN;
	r->answered++;
	return cw_conn_stream_finish(r->gw.c, q->id);
}

/* Agent: the answer to one of its requests. */
static int reqs_check(struct reqs *r, const cw_envelope *env)
{
	if (env->msg_case != CAUSEWAY__V1__ENVELOPE__MSG_API_RESPONSE ||
	    env->api_response->status != 403 || !env->api_response->body ||
	    env->api_response->body->data.len != sizeof(REQ_STATUS) - 1)
		return -EBADMSG;
	r->got++;
	r->inflight--;
	return 0;
}

/* Everything readable on stream @id of side @s, each message handled. */
static int reqs_read(struct reqs *r, struct rq_side *s, uint64_t id)
{
	cw_envelope *env;
	struct rq *q;
	uint64_t code;
	ptrdiff_t k;
	size_t n;
	bool fin;
	int e;

	if ((e = rq_get(s, id, &q)) < 0)
		return e;
	for (;;) {
		e = cw_conn_stream_read(s->c, id, r->rbuf, sizeof(r->rbuf), &n, &fin, &code);
		if (e == -EAGAIN)
			return 0;
		for (size_t off = 0; e == 0 && off < n; off += (size_t)k) {
			k = cw_msg_decode(&q->dec, r->rbuf + off, n - off, &env);
			if (k < 0)
				return (int)k;
			if (env) {
				e = s == &r->gw ? reqs_answer(r, q, env) : reqs_check(r, env);
				cw_msg_free(&q->dec, env);
			}
		}
		if (e == 0 && fin)
			e = cw_msg_decoder_finish(&q->dec);
		if (e < 0 || fin) {
			rq_put(s, q);
			return e;
		}
	}
}

static int reqs_events(struct reqs *r, struct rq_side *s)
{
	uint64_t id;
	unsigned ev;
	int e;

	while (cw_conn_next_event(s->c, &id, &ev) == 0)
		if (ev & CW_STREAM_EV_READABLE && (e = reqs_read(r, s, id)) < 0)
			return e;
	return 0;
}

/* Agent: read the answers, then open requests up to REQ_INFLIGHT. */
static int reqs_produce(struct flow *f)
{
	struct reqs *r = f->app;
	uint64_t id;
	size_t n;
	int e;

	if ((e = reqs_events(r, &r->ag)) < 0)
		return e;
	while (r->inflight < REQ_INFLIGHT && r->sent < r->total) {
		e = cw_conn_stream_open(r->ag.c, &id);
		if (e == -EAGAIN)
			return 0;
		if (e < 0 || (e = cw_conn_stream_write(r->ag.c, id, r->req, r->req_len, &n)) < 0)
			return e;
		if (n != r->req_len)
			return -EAGAIN;
		if ((e = cw_conn_stream_finish(r->ag.c, id)) < 0)
			return e;
		r->sent++;
		r->inflight++;
	}
	return 0;
}

static int reqs_consume(struct flow *f)
{
	struct reqs *r = f->app;

	return reqs_events(r, &r->gw);
}

static bool reqs_done(const struct flow *f)
{
	const struct reqs *r = f->app;

	return r->got == r->total;
}

static void reqs_init(struct reqs *r, struct bench *b, struct pair *p)
{
	Causeway__V1__ApiRequest rq = CAUSEWAY__V1__API_REQUEST__INIT;
	Causeway__V1__ApiResponse rs = CAUSEWAY__V1__API_RESPONSE__INIT;
	Causeway__V1__Header h = CAUSEWAY__V1__HEADER__INIT, *hp[1] = {&h};
	Causeway__V1__Body body = CAUSEWAY__V1__BODY__INIT;
	cw_envelope env = CAUSEWAY__V1__ENVELOPE__INIT;
	ptrdiff_t len;

	memset(r, 0, sizeof(*r));
	r->ag = (struct rq_side){.c = p->ag, .a = &b->ag_a};
	r->gw = (struct rq_side){.c = p->gw, .a = &b->gw_a};
	r->total = b->o->count;
	rq.verb = "GET";
	rq.path = REQ_PATH;
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_API_REQUEST;
	env.api_request = &rq;
	len = cw_msg_encode(&env, CW_MSG_SIZE_DEFAULT, r->req, sizeof(r->req));
	check((int)len, "encode ApiRequest");
	r->req_len = (size_t)len;
	h.name = "content-type";
	h.value = "application/json";
	body.data.data = (uint8_t *)REQ_STATUS;
	body.data.len = sizeof(REQ_STATUS) - 1;
	rs.status = 403;
	rs.n_headers = 1;
	rs.headers = hp;
	rs.body = &body;
	env = (cw_envelope)CAUSEWAY__V1__ENVELOPE__INIT;
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_API_RESPONSE;
	env.api_response = &rs;
	len = cw_msg_encode(&env, CW_MSG_SIZE_DEFAULT, r->resp, sizeof(r->resp));
	check((int)len, "encode ApiResponse");
	r->resp_len = (size_t)len;
}

static int run_reqs(struct bench *b)
{
	struct reqs r;
	struct pair p;
	struct flow f;
	struct timing tm;
	struct out o;
	uint64_t id;
	double cpu;

	flow_pair(b, &p);
	check(cw_conn_stream_open(p.ag, &id), "open stream 0");
	reqs_init(&r, b, &p);
	f = (struct flow){b, p.ag, p.gw, reqs_produce, reqs_consume, reqs_done, &r, 0, {0}, 0};
	timing_start(&tm);
	flow_run(&f);
	cpu = timing_stop(&tm);
	out_begin(&o, b->o->json, "reqs",
		  "agent -> gateway ApiRequests, one stream each, answered 403 by the gateway");
	out_num(&o, "requests", (double)r.got, 0, "answers read by the agent");
	out_num(&o, "reqs_per_s", (double)r.got / cpu, 0, "requests/s per core of CPU");
	out_num(&o, "ns_per_req", cpu * 1e9 / (double)r.got, 0, "ns of CPU per request");
	out_flow(&o, &f, false, cpu, (double)r.got, "requests/s (gateway side alone)");
	out_wait(&o, &tm);
	out_pool(&o, b);
	out_end(&o);
	pair_free(&p);
	for (int i = 0; i < REQ_SLOTS; i++) {
		if (r.ag.slot[i])
			rq_put(&r.ag, r.ag.slot[i]);
		if (r.gw.slot[i])
			rq_put(&r.gw, r.gw.slot[i]);
	}
	return r.answered == r.total ? 0 : 1;
}

/* ---- handshakes ---- */

static uint8_t ticket[CW_TLS_TICKET_MAX];
static size_t ticket_len;

/* Keep the agent's newest session ticket for the next resumption. */
static void keep_ticket(const struct cw_conn *ag)
{
	size_t len;
	const uint8_t *t = cw_conn_ticket(ag, &len);

	if (!t || len > sizeof(ticket))
		fail("the agent has no session ticket", 0);
	memcpy(ticket, t, len);
	ticket_len = len;
}

static bool resumed(const struct cw_conn *ag)
{
	struct cw_hs_result r;

	return cw_hs_result(cw_conn_hs(ag), &r) == 0 && r.resumed;
}

/* Connect and free @n sessions; returns how many resumed. */
static uint64_t handshake_loop(struct bench *b, uint64_t n, bool resume)
{
	uint64_t res = 0;
	struct pair p;

	for (uint64_t i = 0; i < n; i++) {
		pair_connect(b, &p, resume ? ticket : NULL, resume ? ticket_len : 0);
		res += resumed(p.ag);
		if (resume)
			keep_ticket(p.ag);
		pair_free_timed(b, &p);
	}
	return res;
}

static int run_handshakes(struct bench *b)
{
	bool resume = b->o->resumed;
	uint64_t n = b->o->count, res;
	struct timing tm;
	struct pair p;
	struct out o;
	double cpu, gw;

	if (resume) {
		pair_connect(b, &p, NULL, 0);
		keep_ticket(p.ag);
		pair_free(&p);
	}
	b->time_gw = true;
	timing_start(&tm);
	res = handshake_loop(b, n, resume);
	cpu = timing_stop(&tm);
	gw = (double)b->gw_cpu / 1e9;
	out_begin(&o, b->o->json, "handshakes",
		  resume ? "resumed (session ticket), both sides on one core"
			 : "full (ECDSA P-256 certificates both ways), both sides on one core");
	out_num(&o, "handshakes", (double)n, 0, "to 1-RTT confirmation on both sides");
	out_num(&o, "resumed", (double)res, 0, "of them resumed");
	out_num(&o, "per_s", (double)n / cpu, 0, "handshakes/s per core (both sides)");
	out_num(&o, "us_each", cpu * 1e6 / (double)n, 1, "us of CPU each (both sides)");
	out_num(&o, "gateway_share", gw / cpu, 3, "of the CPU (thread CPU clock)");
	out_num(&o, "per_gateway_core", (double)n / gw, 0, "handshakes/s (gateway side alone)");
	out_num(&o, "gateway_us_each", gw * 1e6 / (double)n, 1, "us of gateway CPU each");
	out_wait(&o, &tm);
	out_pool(&o, b);
	out_end(&o);
	if (res != (resume ? n : 0)) {
		fprintf(stderr, "session-bench: %" PRIu64 " of %" PRIu64 " resumed\n", res, n);
		return 1;
	}
	return 0;
}

/* ---- idle ---- */

#define HELLO_LEN    256 /* what stream 0 carries each way before idling */
#define HELLOACK_LEN 128

/* Stream 0 as Hello / HelloAck would use it: bytes each way, read, acked. */
static void hello(struct bench *b, struct pair *p)
{
	uint8_t buf[HELLO_LEN] = {0};
	uint64_t id, code;
	unsigned ev;
	size_t n;
	bool fin;

	set_params(p);
	check(cw_conn_stream_open(p->ag, &id), "open stream 0");
	check(cw_conn_stream_write(p->ag, id, buf, HELLO_LEN, &n), "write Hello");
	settle(b, p);
	check(cw_conn_stream_read(p->gw, id, buf, sizeof(buf), &n, &fin, &code), "read Hello");
	if (n != HELLO_LEN)
		fail("short Hello", 0);
	check(cw_conn_stream_write(p->gw, id, buf, HELLOACK_LEN, &n), "write HelloAck");
	settle(b, p);
	check(cw_conn_stream_read(p->ag, id, buf, sizeof(buf), &n, &fin, &code), "read HelloAck");
	if (n != HELLOACK_LEN)
		fail("short HelloAck", 0);
	while (cw_conn_next_event(p->ag, &id, &ev) == 0 || cw_conn_next_event(p->gw, &id, &ev) == 0)
		;
	settle(b, p);
}

static int cmp_hist(const void *x, const void *y)
{
	const struct hist *a = x, *b = y;
	size_t u = a->size * (size_t)a->live, v = b->size * (size_t)b->live;

	return u < v ? 1 : u > v ? -1 : 0;
}

/* Live gateway blocks by size, largest share first. */
static void out_hist(struct out *o, struct counter *c, uint64_t n)
{
	char key[64];

	qsort(c->h, c->nh, sizeof(c->h[0]), cmp_hist);
	for (unsigned i = 0; i < c->nh; i++) {
		if (c->h[i].live <= 0)
			continue;
		snprintf(key, sizeof(key), "blocks_of_%zu", c->h[i].size);
		out_num(o, key, (double)c->h[i].live / (double)n, 2,
			"per session (bytes per session: size x this)");
	}
}

/* Everything the agent can read on @id; returns whether its FIN came. */
static bool agent_drain(struct pair *p, uint64_t id)
{
	static uint8_t buf[65536];
	uint64_t code;
	size_t n;
	bool fin = false;

	while (!fin && cw_conn_stream_read(p->ag, id, buf, sizeof(buf), &n, &fin, &code) == 0)
		;
	return fin;
}

/* A request on an API stream answered with @bytes (an initial LIST, say),
 * so that the session idles after having had data in flight. */
static void burst(struct bench *b, struct pair *p, uint64_t bytes)
{
	static const uint8_t zero[16384];
	uint64_t id, code, sent = 0;
	uint8_t req[64] = {0};
	bool fin, finished = false;
	unsigned ev;
	size_t n;

	check(cw_conn_stream_open(p->ag, &id), "open an API stream");
	check(cw_conn_stream_write(p->ag, id, req, sizeof(req), &n), "write request");
	check(cw_conn_stream_finish(p->ag, id), "finish request");
	settle(b, p);
	check(cw_conn_stream_read(p->gw, id, req, sizeof(req), &n, &fin, &code), "read request");
	for (int round = 0; round < 100000; round++) {
		while (sent < bytes &&
		       cw_conn_stream_write(
			   p->gw, id, zero,
			   bytes - sent < sizeof(zero) ? bytes - sent : sizeof(zero), &n) == 0)
			sent += n;
		if (sent == bytes && !finished) {
			check(cw_conn_stream_finish(p->gw, id), "finish response");
			finished = true;
		}
		if (!exchange(b, p) && !run_timers(b, p, SEC))
			fail("burst stuck", 0);
		if (agent_drain(p, id))
			break;
	}
	while (cw_conn_next_event(p->ag, &id, &ev) == 0 || cw_conn_next_event(p->gw, &id, &ev) == 0)
		;
	settle(b, p);
}

static struct cw_conn **idle_open(struct bench *b, uint64_t n, bool resume)
{
	struct cw_conn **gws = calloc(n, sizeof(*gws));
	struct pair p;

	if (!gws)
		fail("calloc", -ENOMEM);
	for (uint64_t i = 0; i < n; i++) {
		pair_connect(b, &p, resume ? ticket : NULL, resume ? ticket_len : 0);
		hello(b, &p);
		if (b->o->burst)
			burst(b, &p, b->o->burst);
		if (cw_conn_state(p.gw) != CW_CONN_ESTABLISHED || cw_conn_hs(p.gw))
			fail("gateway session not idle", 0);
		gws[i] = p.gw;
		cw_conn_free(p.ag);
	}
	return gws;
}

static void gw_pool_trim(struct bench *b)
{
	if (b->o->pool)
		cw_pool_trim(&b->gw_pool);
}

static int run_idle(struct bench *b)
{
	uint64_t n = b->o->sessions;
	size_t ossl0, ossl1;
	struct cw_conn **gws;
	struct pair p;
	struct out o;
	double per;

	if (b->o->resumed) {
		pair_connect(b, &p, NULL, 0);
		keep_ticket(p.ag);
		pair_free(&p);
	}
	/* --pool: what the gateway's pool caches is not held by a session;
	 * trimmed, the counter shows what the sessions hold. */
	gw_pool_trim(b);
	b->gw_mem.track = true;
	ossl0 = ossl_live;
	gws = idle_open(b, n, b->o->resumed);
	ossl1 = ossl_live;
	gw_pool_trim(b);
	per = (double)b->gw_mem.bytes / (double)n;
	out_begin(&o, b->o->json, "idle",
		  "gateway memory per idle confirmed session, agents freed");
	out_num(&o, "sessions", (double)n, 0, "gateway sessions held");
	out_num(&o, "cw_alloc_bytes", per, 1, "bytes per session through cw_alloc");
	out_num(&o, "cw_alloc_blocks", (double)b->gw_mem.blocks / (double)n, 2,
		"blocks per session");
	out_num(&o, "openssl_bytes", ((double)ossl1 - (double)ossl0) / (double)n, 1,
		"bytes per session from OpenSSL's allocator");
	out_num(&o, "total_bytes", per + ((double)ossl1 - (double)ossl0) / (double)n, 1,
		"bytes per session");
	out_hist(&o, &b->gw_mem, n);
	for (uint64_t i = 0; i < n; i++)
		cw_conn_free(gws[i]);
	free(gws);
	gw_pool_trim(b);
	out_num(&o, "openssl_left_bytes", ((double)ossl_live - (double)ossl0) / (double)n, 1,
		"per session still held by OpenSSL after freeing them");
	out_num(&o, "cw_alloc_left", (double)b->gw_mem.bytes, 0, "bytes after freeing them");
	out_end(&o);
	return b->gw_mem.bytes ? 1 : 0;
}

/* ---- main ---- */

static const char usage[] =
    "usage: session-bench bulk [--bytes N[K|M|G]] [--check] [--split]\n"
    "       session-bench msgs [--size N] [--objects DIR] [--count N] [--precompressed]\n"
    "                          [--check] [--split]\n"
    "       session-bench reqs [--count N]\n"
    "       session-bench handshakes --full|--resumed [--count N]\n"
    "       session-bench idle [--sessions N] [--resumed] [--burst N[K|M]]\n"
    "       common: [--json] [--dict FILE] [--step-ns NS] [--pool]\n";

static int parse_size(const char *s, uint64_t *v)
{
	char num[32];
	size_t l = strlen(s), shift = 0;
	unsigned long n;

	if (!l || l >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, l + 1);
	switch (num[l - 1]) {
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	default:
		break;
	}
	if (shift)
		num[l - 1] = 0;
	if (cw_cli_num(num, 1, 1ul << 34 >> shift, &n) < 0)
		return -EINVAL;
	*v = (uint64_t)n << shift;
	return 0;
}

static int parse_opt(int c, struct opts *o)
{
	unsigned long v = 0;

	switch (c) {
	case 'b':
		return parse_size(optarg, &o->bytes);
	case 'n':
		return cw_cli_num(optarg, 1, 100000000, &v) < 0 ? -EINVAL : (o->count = v, 0);
	case 'S':
		return cw_cli_num(optarg, 1, 1000000, &v) < 0 ? -EINVAL : (o->sessions = v, 0);
	case 'z':
		return cw_cli_num(optarg, 1, OBJ_MAX, &v) < 0 ? -EINVAL : (o->size = v, 0);
	case 't':
		return cw_cli_num(optarg, 1, 1000000, &v) < 0 ? -EINVAL : (o->step = v, 0);
	case 'B':
		return parse_size(optarg, &o->burst);
	case 'o':
		o->objects = optarg;
		return 0;
	case 'd':
		o->dict = optarg;
		return 0;
	case 'c':
		o->check = true;
		return 0;
	case 's':
		o->split = true;
		return 0;
	case 'p':
		o->precompressed = true;
		return 0;
	case 'f':
		o->full = true;
		return 0;
	case 'r':
		o->resumed = true;
		return 0;
	case 'j':
		o->json = true;
		return 0;
	case 'P':
		o->pool = true;
		return 0;
	default:
		return -EINVAL;
	}
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
	    {"bytes", required_argument, NULL, 'b'},	{"count", required_argument, NULL, 'n'},
	    {"sessions", required_argument, NULL, 'S'}, {"size", required_argument, NULL, 'z'},
	    {"step-ns", required_argument, NULL, 't'},	{"objects", required_argument, NULL, 'o'},
	    {"dict", required_argument, NULL, 'd'},	{"check", no_argument, NULL, 'c'},
	    {"split", no_argument, NULL, 's'},		{"precompressed", no_argument, NULL, 'p'},
	    {"full", no_argument, NULL, 'f'},		{"resumed", no_argument, NULL, 'r'},
	    {"json", no_argument, NULL, 'j'},		{"burst", required_argument, NULL, 'B'},
	    {"pool", no_argument, NULL, 'P'},		{NULL, 0, NULL, 0},
	};
	int c;

	*o = (struct opts){.bytes = 64u << 20,
			   .sessions = 10000,
			   .size = 2400,
			   .step = 100,
			   .dict = CW_SOURCE_ROOT "/conf/causeway.dict"};
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1)
		if (parse_opt(c, o) < 0) {
			fprintf(stderr, "session-bench: bad option or value: %s\n",
				argv[optind - 1]);
			return -EINVAL;
		}
	if (optind != argc || (o->full && o->resumed))
		return -EINVAL;
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	struct bench b;
	struct opts o;
	int rc;

	if (argc < 2 || parse(argc - 1, argv + 1, &o) < 0) {
		fputs(usage, stderr);
		return 2;
	}
	if (!strcmp(cmd, "idle") && !CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free))
		fail("CRYPTO_set_mem_functions", 0);
	if (!strcmp(cmd, "handshakes") && !o.count)
		o.count = o.resumed ? 4000 : 1000;
	if (!strcmp(cmd, "msgs") && !o.count)
		o.count = 200000;
	if (!strcmp(cmd, "reqs") && !o.count)
		o.count = 100000;
	bench_init(&b, &o);
	if (!strcmp(cmd, "bulk"))
		rc = run_bulk(&b);
	else if (!strcmp(cmd, "msgs"))
		rc = run_msgs(&b);
	else if (!strcmp(cmd, "reqs"))
		rc = run_reqs(&b);
	else if (!strcmp(cmd, "handshakes") && (o.full || o.resumed))
		rc = run_handshakes(&b);
	else if (!strcmp(cmd, "idle"))
		rc = run_idle(&b);
	else {
		fputs(usage, stderr);
		rc = 2;
	}
	bench_free(&b);
	return rc;
}
