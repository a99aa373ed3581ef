/* SPDX-License-Identifier: Apache-2.0 */
#include "hsthread.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <rte_byteorder.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "handler.h"
#include "log.h"
#include "tunnel/hsdesk.h"

#define HS_RING	    4096 /* messages in flight per ring, power of two */
#define HS_BURST    32
#define HS_SLEEP_MS 100 /* at most, with nothing due: to notice a stop */

struct hs_one {
	struct cw_hsthr *h;
	unsigned idx;
	pthread_t tid;
	bool started;
	int fd; /* eventfd the workers signal */
	struct cw_hsd *desk;
	uint64_t wall_next;
	uint64_t wake;		/* workers to wake after this round (socket backend) */
	struct rte_mbuf *spare; /* kept when the desk had nothing to send */
	uint64_t lost;		/* outputs dropped: a full ring or no mbuf */
};

struct cw_hsthr {
	struct cw_hsthr_cfg cfg;
	atomic_bool quit;
	/* in[w * n_threads + i]: worker w -> thread i; out[i * n_workers + w] back. */
	struct rte_ring **in, **out;
	uint64_t kick[64]; /* per worker: threads to wake, a bit each */
	struct hs_one t[CW_MAX_HS_THREADS];
};

static unsigned thread_of(const struct cw_hsthr *h, uint64_t session_id)
{
	return (unsigned)((session_id * UINT64_C(0x9e3779b97f4a7c15)) >> 32) % h->cfg.n_threads;
}

static void signal_fd(int fd)
{
	uint64_t one = 1;
	ssize_t rc = write(fd, &one, sizeof(one));

	(void)rc; /* EAGAIN: already signalled */
}

/* ---- the worker's side ---- */

void cw_hsmsg_read(const struct rte_mbuf *m, struct cw_hsmsg *out)
{
	memcpy(out, rte_pktmbuf_mtod(m, const void *), sizeof(*out));
}

void cw_hsmsg_write(struct rte_mbuf *m, const struct cw_hsmsg *msg)
{
	memcpy(rte_pktmbuf_mtod(m, void *), msg, sizeof(*msg));
}

void cw_hsmsg_take_tail(struct rte_mbuf *m, struct cw_hsmsg *out)
{
	uint32_t len = rte_pktmbuf_pkt_len(m);

	memcpy(out, rte_pktmbuf_mtod_offset(m, const uint8_t *, len - sizeof(*out)), sizeof(*out));
	rte_pktmbuf_trim(m, sizeof(*out));
}

/* @msg after @m's data; false when it does not fit. */
static bool put_tail(struct rte_mbuf *m, const struct cw_hsmsg *msg)
{
	char *p = rte_pktmbuf_append(m, sizeof(*msg));

	if (p)
		memcpy(p, msg, sizeof(*msg));
	return p != NULL;
}

int cw_hsthr_post(struct cw_hsthr *h, unsigned w, struct rte_mbuf *m)
{
	struct cw_hsmsg msg;
	unsigned i;

	cw_hsmsg_read(m, &msg);
	i = thread_of(h, msg.session_id);

	if (rte_ring_sp_enqueue(h->in[w * h->cfg.n_threads + i], m) < 0)
		return -ENOBUFS;
	h->kick[w] |= UINT64_C(1) << i;
	return 0;
}

void cw_hsthr_kick(struct cw_hsthr *h, unsigned w)
{
	uint64_t k = h->kick[w];

	h->kick[w] = 0;
	while (k) {
		signal_fd(h->t[__builtin_ctzll(k)].fd);
		k &= k - 1;
	}
}

unsigned cw_hsthr_take(struct cw_hsthr *h, unsigned w, struct rte_mbuf **ms, unsigned n)
{
	unsigned k = 0;

	for (unsigned i = 0; i < h->cfg.n_threads && k < n; i++)
		k += rte_ring_sc_dequeue_burst(h->out[i * h->cfg.n_workers + w], (void **)ms + k,
					       n - k, NULL);
	return k;
}

bool cw_hsthr_pending(const struct cw_hsthr *h, unsigned w)
{
	for (unsigned i = 0; i < h->cfg.n_threads; i++)
		if (!rte_ring_empty(h->out[i * h->cfg.n_workers + w]))
			return true;
	return false;
}

void cw_hsmsg_start(struct cw_hsmsg *msg, const struct cw_gw_hs_job *job, uint32_t local_ip,
		    uint16_t port)
{
	memset(msg, 0, sizeof(*msg));
	msg->type = CW_HSM_START;
	msg->session_id = job->session_id;
	msg->seed = job->seed;
	memcpy(&msg->peer_ip, job->from.addr, 4);
	msg->peer_port = rte_cpu_to_be_16(job->from.port);
	msg->local_ip = local_ip;
	msg->port = port;
	msg->validated = job->scr.validated;
	memcpy(msg->cid, job->cid, CW_CID_LEN);
	memcpy(msg->odcid, job->scr.odcid, CW_CID_LEN);
	memcpy(msg->dcid, job->scr.dcid, CW_CID_LEN);
	memcpy(msg->agent_cid, job->scr.agent_cid, CW_CID_LEN);
}

static void peer_of(const struct cw_hsmsg *msg, struct cw_gw_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->family = 4;
	memcpy(a->addr, &msg->peer_ip, 4);
	a->port = rte_be_to_cpu_16(msg->peer_port);
}

void cw_hsmsg_job(const struct cw_hsmsg *msg, struct cw_gw_hs_job *job)
{
	memset(job, 0, sizeof(*job));
	job->session_id = msg->session_id;
	job->seed = msg->seed;
	peer_of(msg, &job->from);
	job->scr.validated = msg->validated;
	memcpy(job->cid, msg->cid, CW_CID_LEN);
	memcpy(job->scr.odcid, msg->odcid, CW_CID_LEN);
	memcpy(job->scr.dcid, msg->dcid, CW_CID_LEN);
	memcpy(job->scr.agent_cid, msg->agent_cid, CW_CID_LEN);
}

/* ---- the thread's side ---- */

static unsigned worker_of(uint64_t session_id)
{
	return (unsigned)(session_id >> 56);
}

/* Thread -> worker, to session @sid's. A DONE must arrive whatever it
 * takes (the worker holds the slot until then): wait for room, unless
 * stopping. */
static bool send_back(struct hs_one *o, struct rte_mbuf *m, uint64_t sid, bool must)
{
	struct cw_hsthr *h = o->h;
	unsigned w = worker_of(sid);
	struct rte_ring *r = h->out[o->idx * h->cfg.n_workers + w];

	while (rte_ring_sp_enqueue(r, m) < 0) {
		if (!must || atomic_load(&h->quit))
			return false;
		if (h->cfg.wake_fds)
			signal_fd(h->cfg.wake_fds[w]);
		sched_yield();
	}
	o->wake |= UINT64_C(1) << w;
	return true;
}

/* A DONE for @session_id with @conn (NULL: it never started). */
static void done(struct hs_one *o, uint64_t session_id, struct cw_conn *conn, uint64_t bytes,
		 uint64_t sent)
{
	struct rte_mbuf *m;
	struct cw_hsmsg msg;

	while (!(m = rte_pktmbuf_alloc(o->h->cfg.pool))) {
		if (atomic_load(&o->h->quit)) {
			cw_conn_free(conn);
			return;
		}
		sched_yield();
	}
	msg = (struct cw_hsmsg){.type = CW_HSM_DONE,
				.session_id = session_id,
				.conn = conn,
				.bytes = bytes,
				.sent = sent};
	if (!put_tail(m, &msg) || !send_back(o, m, session_id, true)) {
		cw_conn_free(conn);
		rte_pktmbuf_free(m);
	}
}

static void on_start(struct hs_one *o, struct rte_mbuf *m, uint64_t now)
{
	struct cw_gw_hs_job job;
	struct cw_hsmsg msg;
	uint64_t sid;
	int rc;

	cw_hsmsg_read(m, &msg);
	sid = msg.session_id;
	cw_hsmsg_job(&msg, &job);
	rte_pktmbuf_adj(m, sizeof(msg));
	rc = cw_hsd_start(o->desk, now, &job, rte_pktmbuf_mtod(m, uint8_t *),
			  rte_pktmbuf_pkt_len(m));
	rte_pktmbuf_free(m);
	if (rc < 0 && rc != -EEXIST) /* EEXIST: the job here answers for it */
		done(o, sid, NULL, 0, 0);
}

static void on_input(struct hs_one *o, struct rte_mbuf *m, uint64_t now)
{
	struct cw_gw_addr from;
	struct cw_hsmsg msg;

	cw_hsmsg_read(m, &msg);
	peer_of(&msg, &from);
	if (cw_hsd_input(o->desk, now, msg.session_id, &from,
			 rte_pktmbuf_mtod_offset(m, uint8_t *, sizeof(msg)),
			 rte_pktmbuf_pkt_len(m) - sizeof(msg)) == -ENOENT) {
		msg.type = CW_HSM_BACK;
		rte_pktmbuf_adj(m, sizeof(msg));
		if (put_tail(m, &msg) && send_back(o, m, msg.session_id, false))
			return;
		o->lost++;
	}
	rte_pktmbuf_free(m);
}

static bool take_inputs(struct hs_one *o, uint64_t now)
{
	struct cw_hsthr *h = o->h;
	struct rte_mbuf *ms[HS_BURST];
	bool any = false;

	for (unsigned w = 0; w < h->cfg.n_workers; w++) {
		unsigned k = rte_ring_sc_dequeue_burst(h->in[w * h->cfg.n_threads + o->idx],
						       (void **)ms, HS_BURST, NULL);

		for (unsigned i = 0; i < k; i++) {
			struct cw_hsmsg msg;

			cw_hsmsg_read(ms[i], &msg);
			if (msg.type == CW_HSM_START)
				on_start(o, ms[i], now);
			else
				on_input(o, ms[i], now);
		}
		any |= k > 0;
	}
	return any;
}

/* The datagrams the desk has due, each to its session's worker. */
static bool give_outputs(struct hs_one *o, uint64_t now)
{
	bool any = false;

	for (;;) {
		/* Most rounds have nothing to send: keep the buffer for the next. */
		struct rte_mbuf *m = o->spare ? o->spare : rte_pktmbuf_alloc(o->h->cfg.pool);
		struct cw_hsmsg msg;
		struct cw_gw_addr to;
		uint64_t sid;
		int n;

		o->spare = NULL;
		if (!m) {
			o->lost++;
			return any;
		}
		n = cw_hsd_output(o->desk, now, rte_pktmbuf_mtod(m, uint8_t *),
				  rte_pktmbuf_tailroom(m) - sizeof(msg), &sid, &to);
		if (n <= 0) {
			o->spare = m;
			return any;
		}
		rte_pktmbuf_append(m, (uint16_t)n);
		msg = (struct cw_hsmsg){.type = CW_HSM_OUTPUT, .session_id = sid};
		memcpy(&msg.peer_ip, to.addr, 4);
		msg.peer_port = rte_cpu_to_be_16(to.port);
		if (!put_tail(m, &msg) || !send_back(o, m, sid, false)) {
			o->lost++;
			rte_pktmbuf_free(m);
		}
		any = true;
	}
}

static bool give_done(struct hs_one *o)
{
	struct cw_hsd_done d;
	bool any = false;

	while (cw_hsd_take(o->desk, &d) == 0) {
		done(o, d.session_id, d.conn, d.bytes, d.sent);
		any = true;
	}
	return any;
}

static void wake_workers(struct hs_one *o)
{
	uint64_t m = o->wake;

	o->wake = 0;
	while (o->h->cfg.wake_fds && m) {
		signal_fd(o->h->cfg.wake_fds[__builtin_ctzll(m)]);
		m &= m - 1;
	}
}

static void sleep_until(struct hs_one *o, uint64_t now, uint64_t due)
{
	struct pollfd p = {.fd = o->fd, .events = POLLIN};
	uint64_t ms = due > now ? (due - now + 999999) / 1000000 : 0;
	uint64_t v;

	if (ms > HS_SLEEP_MS)
		ms = HS_SLEEP_MS;
	if (poll(&p, 1, (int)ms) > 0 && read(o->fd, &v, sizeof(v)) < 0)
		return; /* EAGAIN: another read took it */
}

static void *hs_main(void *arg)
{
	struct hs_one *o = arg;

	while (!atomic_load(&o->h->quit)) {
		uint64_t now = cw_mono_ns();
		bool busy;

		if (now >= o->wall_next) {
			cw_hsd_set_wall_time(o->desk, (int64_t)time(NULL));
			o->wall_next = now + 1000000000u;
		}
		busy = take_inputs(o, now);
		if (cw_hsd_next_timeout(o->desk) <= now)
			cw_hsd_on_timeout(o->desk, now);
		busy |= give_outputs(o, now);
		busy |= give_done(o);
		wake_workers(o);
		if (!busy)
			sleep_until(o, now, cw_hsd_next_timeout(o->desk));
	}
	return NULL;
}

/* ---- set-up ---- */

static struct rte_ring **rings_new(const char *kind, unsigned n_from, unsigned n_to)
{
	struct rte_ring **r = calloc((size_t)n_from * n_to, sizeof(*r));
	char name[32];

	for (unsigned i = 0; r && i < n_from * n_to; i++) {
		snprintf(name, sizeof(name), "cw_hs%s%u_%u", kind, i / n_to, i % n_to);
		r[i] = rte_ring_create(name, HS_RING, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (!r[i])
			return r; /* cw_hsthr_stop() frees what was made */
	}
	return r;
}

static bool rings_ok(struct rte_ring **r, unsigned n)
{
	for (unsigned i = 0; r && i < n; i++)
		if (!r[i])
			return false;
	return r != NULL;
}

static int one_start(struct cw_hsthr *h, unsigned i)
{
	struct hs_one *o = &h->t[i];
	struct cw_hsd_cfg dc = {
	    .tls = h->cfg.tls, .conn = h->cfg.conn, .max_jobs = h->cfg.max_jobs};
	char name[16];
	int rc;

	o->h = h;
	o->idx = i;
	o->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (o->fd < 0)
		return -errno;
	rc = cw_hsd_new(&dc, &o->desk);
	if (rc < 0)
		return rc;
	rc = pthread_create(&o->tid, NULL, hs_main, o);
	if (rc)
		return -rc;
	o->started = true;
	snprintf(name, sizeof(name), "cw-hs%u", i);
	pthread_setname_np(o->tid, name);
	return 0;
}

int cw_hsthr_start(const struct cw_hsthr_cfg *cfg, struct cw_hsthr **out)
{
	struct cw_hsthr *h;
	int rc = -ENOMEM;

	if (!cfg || !out || !cfg->n_threads || cfg->n_threads > CW_MAX_HS_THREADS ||
	    !cfg->n_workers || cfg->n_workers > 64 || !cfg->pool || !cfg->tls ||
	    rte_pktmbuf_data_room_size(cfg->pool) <
		RTE_PKTMBUF_HEADROOM + sizeof(struct cw_hsmsg) + CW_CONN_DGRAM_MAX)
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->cfg = *cfg;
	for (unsigned i = 0; i < CW_MAX_HS_THREADS; i++)
		h->t[i].fd = -1;
	h->in = rings_new("i", cfg->n_workers, cfg->n_threads);
	h->out = rings_new("o", cfg->n_threads, cfg->n_workers);
	if (!rings_ok(h->in, cfg->n_workers * cfg->n_threads) ||
	    !rings_ok(h->out, cfg->n_threads * cfg->n_workers))
		goto fail;
	for (unsigned i = 0; i < cfg->n_threads; i++)
		if ((rc = one_start(h, i)) < 0)
			goto fail;
	*out = h;
	return 0;
fail:
	cw_hsthr_stop(h);
	return rc;
}

/* What a ring still holds: buffers, and the connections of DONEs (the
 * message at the tail in the rings to the workers). */
static void ring_drain(struct rte_ring *r, bool tail)
{
	struct rte_mbuf *m;

	while (r && rte_ring_sc_dequeue(r, (void **)&m) == 0) {
		struct cw_hsmsg msg;

		if (tail)
			cw_hsmsg_take_tail(m, &msg);
		else
			cw_hsmsg_read(m, &msg);
		if (msg.type == CW_HSM_DONE)
			cw_conn_free(msg.conn);
		rte_pktmbuf_free(m);
	}
	rte_ring_free(r);
}

void cw_hsthr_stop(struct cw_hsthr *h)
{
	unsigned n;

	if (!h)
		return;
	atomic_store(&h->quit, true);
	for (unsigned i = 0; i < CW_MAX_HS_THREADS; i++)
		if (h->t[i].started) {
			signal_fd(h->t[i].fd);
			pthread_join(h->t[i].tid, NULL);
		}
	/* Before the desks: a DONE's connection frees through its job there. */
	n = h->cfg.n_workers * h->cfg.n_threads;
	for (unsigned i = 0; h->in && i < n; i++)
		ring_drain(h->in[i], false);
	for (unsigned i = 0; h->out && i < n; i++)
		ring_drain(h->out[i], true);
	for (unsigned i = 0; i < CW_MAX_HS_THREADS; i++) {
		rte_pktmbuf_free(h->t[i].spare);
		cw_hsd_free(h->t[i].desk);
		if (h->t[i].fd >= 0)
			close(h->t[i].fd);
	}
	free(h->in);
	free(h->out);
	free(h);
}
