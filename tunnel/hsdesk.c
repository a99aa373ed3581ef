/* SPDX-License-Identifier: Apache-2.0 */
#include "hsdesk.h"

#include <errno.h>
#include <string.h>

#define NEVER	     UINT64_MAX
#define MAX_JOBS_MAX 65536u
#define NONE	     UINT32_MAX

/* One handshake at the desk; its connection allocates through @a, which
 * counts what it holds so that the owner can take the figure over. */
struct job {
	struct cw_conn *c; /* NULL: the entry is free */
	struct cw_alloc a;
	struct cw_hsd *h;
	uint64_t session_id;
	uint64_t bytes, blocks, sent;
	struct cw_gw_addr addr;
	uint32_t next;	 /* bucket chain, free list or done queue */
	uint32_t live_i; /* position in live[] while in progress */
	bool dirty;	 /* may have datagrams to send */
};

struct cw_hsd {
	struct cw_alloc a;
	struct cw_hsd_cfg cfg;
	struct cw_conn_cfg conn_cfg;
	struct cw_streams_config sc;
	int64_t wall;
	struct job *jobs;
	uint32_t *buckets, mask;
	uint32_t free;
	uint32_t *live, nlive; /* jobs in progress, for the timer scan */
	uint32_t done_head, done_tail;
	uint32_t cursor; /* where cw_hsd_output() looks first in live[] */
};

static void *job_alloc(void *ctx, size_t n)
{
	struct job *j = ctx;
	void *p = j->h->a.alloc(j->h->a.ctx, n);

	if (p) {
		j->bytes += n;
		j->blocks++;
	}
	return p;
}

static void job_free(void *ctx, void *p, size_t n)
{
	struct job *j = ctx;

	if (p) {
		j->bytes -= n;
		j->blocks--;
	}
	j->h->a.free(j->h->a.ctx, p, n);
}

/* Session ids are worker << 56 | counter << 24 | slot: mix them all. */
static uint32_t bucket_of(const struct cw_hsd *h, uint64_t id)
{
	id *= UINT64_C(0x9e3779b97f4a7c15);
	return (uint32_t)(id >> 32) & h->mask;
}

static uint32_t idx_of(const struct cw_hsd *h, const struct job *j)
{
	return (uint32_t)(j - h->jobs);
}

static struct job *find(const struct cw_hsd *h, uint64_t id)
{
	for (uint32_t i = h->buckets[bucket_of(h, id)]; i != NONE; i = h->jobs[i].next)
		if (h->jobs[i].session_id == id)
			return &h->jobs[i];
	return NULL;
}

static void unhash(struct cw_hsd *h, struct job *j)
{
	uint32_t *p = &h->buckets[bucket_of(h, j->session_id)];

	while (*p != idx_of(h, j))
		p = &h->jobs[*p].next;
	*p = j->next;
}

static void live_del(struct cw_hsd *h, struct job *j)
{
	uint32_t last = h->live[--h->nlive];

	h->live[j->live_i] = last;
	h->jobs[last].live_i = j->live_i;
}

/* @j left the handshake: off the table, into the queue for cw_hsd_take(). */
static void finish(struct cw_hsd *h, struct job *j)
{
	unhash(h, j);
	live_del(h, j);
	j->next = NONE;
	if (h->done_head == NONE)
		h->done_head = idx_of(h, j);
	else
		h->jobs[h->done_tail].next = idx_of(h, j);
	h->done_tail = idx_of(h, j);
}

static void follow(struct cw_hsd *h, struct job *j)
{
	if (cw_conn_state(j->c) != CW_CONN_HANDSHAKING)
		finish(h, j);
	else
		j->dirty = true;
}

int cw_hsd_start(struct cw_hsd *h, uint64_t now, const struct cw_gw_hs_job *job, uint8_t *dgram,
		 size_t len)
{
	struct cw_hs_gateway_cfg hc = {.tls = h->cfg.tls, .wall_time = h->wall};
	struct cw_conn_cfg cc = h->conn_cfg;
	struct job *j;
	uint32_t b, next;
	int e;

	if (!h || !job || !dgram)
		return -EINVAL;
	if (find(h, job->session_id))
		return -EEXIST;
	if (h->free == NONE)
		return -EBUSY;
	j = &h->jobs[h->free];
	next = j->next;
	*j = (struct job){.h = h, .session_id = job->session_id, .addr = job->from, .next = next};
	j->a = (struct cw_alloc){job_alloc, job_free, j};
	cc.alloc = &j->a;
	cc.seed = job->seed;
	memcpy(hc.cid, job->cid, CW_CID_LEN);
	e = cw_conn_gateway_new(&cc, &hc, &job->scr, dgram, len, now, &j->c);
	if (e < 0) {
		j->c = NULL;
		return e;
	}
	h->free = next;
	b = bucket_of(h, j->session_id);
	j->next = h->buckets[b];
	h->buckets[b] = idx_of(h, j);
	j->live_i = h->nlive;
	h->live[h->nlive++] = idx_of(h, j);
	follow(h, j);
	return 0;
}

int cw_hsd_input(struct cw_hsd *h, uint64_t now, uint64_t session_id, const struct cw_gw_addr *from,
		 uint8_t *dgram, size_t len)
{
	struct job *j;

	if (!h || !from || !dgram)
		return -EINVAL;
	j = find(h, session_id);
	if (!j)
		return -ENOENT;
	(void)cw_conn_recv(j->c, now, dgram, len); /* only -EINVAL, for arguments we checked */
	follow(h, j);
	return 0;
}

int cw_hsd_output(struct cw_hsd *h, uint64_t now, uint8_t *out, size_t cap, uint64_t *session_id,
		  struct cw_gw_addr *to)
{
	if (!h || !out || !session_id || !to || cap < CW_CONN_DGRAM_MAX)
		return -EINVAL;
	for (uint32_t k = 0; k < h->nlive; k++) {
		struct job *j = &h->jobs[h->live[(h->cursor + k) % h->nlive]];
		int n;

		if (!j->dirty)
			continue;
		n = cw_conn_send(j->c, now, out, cap);
		if (n <= 0) {
			/* An error here is the handshake's: its timers end it. */
			j->dirty = false;
			continue;
		}
		/* Jobs take turns datagram by datagram. */
		h->cursor = (h->cursor + k + 1) % h->nlive;
		j->sent += (uint64_t)n;
		*session_id = j->session_id;
		*to = j->addr;
		return n;
	}
	return 0;
}

uint64_t cw_hsd_next_timeout(const struct cw_hsd *h)
{
	uint64_t t = NEVER;

	for (uint32_t k = 0; h && k < h->nlive; k++) {
		uint64_t d = cw_conn_next_timeout(h->jobs[h->live[k]].c);

		if (d < t)
			t = d;
	}
	return t;
}

void cw_hsd_on_timeout(struct cw_hsd *h, uint64_t now)
{
	uint32_t k = 0;

	while (h && k < h->nlive) {
		struct job *j = &h->jobs[h->live[k]];

		if (cw_conn_next_timeout(j->c) > now) {
			k++;
			continue;
		}
		cw_conn_on_timeout(j->c, now);
		j->dirty = true;
		if (cw_conn_state(j->c) != CW_CONN_HANDSHAKING)
			finish(h, j); /* live[k] now holds another job: look again */
		else
			k++;
	}
}

int cw_hsd_take(struct cw_hsd *h, struct cw_hsd_done *d)
{
	struct job *j;

	if (!h || !d)
		return -EINVAL;
	if (h->done_head == NONE)
		return -EAGAIN;
	j = &h->jobs[h->done_head];
	h->done_head = j->next;
	*d = (struct cw_hsd_done){.session_id = j->session_id,
				  .conn = j->c,
				  .bytes = j->bytes,
				  .blocks = j->blocks,
				  .sent = j->sent};
	j->c = NULL;
	j->next = h->free;
	h->free = idx_of(h, j);
	return 0;
}

uint32_t cw_hsd_jobs(const struct cw_hsd *h)
{
	return h ? h->nlive : 0;
}

void cw_hsd_set_wall_time(struct cw_hsd *h, int64_t unix_s)
{
	if (h)
		h->wall = unix_s;
}

/* ---- construction ---- */

int cw_hsd_new(const struct cw_hsd_cfg *cfg, struct cw_hsd **out)
{
	const struct cw_alloc *a;
	struct cw_hsd *h;
	uint32_t nb = 1;

	if (!cfg || !out || !cfg->tls || !cfg->max_jobs || cfg->max_jobs > MAX_JOBS_MAX)
		return -EINVAL;
	a = cfg->alloc ? cfg->alloc : cw_alloc_default();
	while (nb < 2 * cfg->max_jobs)
		nb *= 2;
	h = a->alloc(a->ctx, sizeof(*h));
	if (!h)
		return -ENOMEM;
	memset(h, 0, sizeof(*h));
	h->a = *a;
	h->cfg = *cfg;
	h->mask = nb - 1;
	if (cfg->conn)
		h->conn_cfg = *cfg->conn;
	if (h->conn_cfg.streams)
		h->sc = *h->conn_cfg.streams;
	else
		cw_streams_config_default(&h->sc, true);
	h->conn_cfg.streams = &h->sc;
	h->jobs = a->alloc(a->ctx, sizeof(*h->jobs) * cfg->max_jobs);
	h->buckets = a->alloc(a->ctx, sizeof(*h->buckets) * nb);
	h->live = a->alloc(a->ctx, sizeof(*h->live) * cfg->max_jobs);
	if (!h->jobs || !h->buckets || !h->live) {
		cw_hsd_free(h);
		return -ENOMEM;
	}
	memset(h->jobs, 0, sizeof(*h->jobs) * cfg->max_jobs);
	memset(h->buckets, 0xff, sizeof(*h->buckets) * nb);
	for (uint32_t i = 0; i < cfg->max_jobs; i++)
		h->jobs[i].next = i + 1 < cfg->max_jobs ? i + 1 : NONE;
	h->free = 0;
	h->done_head = h->done_tail = NONE;
	*out = h;
	return 0;
}

void cw_hsd_free(struct cw_hsd *h)
{
	if (!h)
		return;
	for (uint32_t i = 0; h->jobs && i < h->cfg.max_jobs; i++)
		cw_conn_free(h->jobs[i].c);
	if (h->jobs)
		h->a.free(h->a.ctx, h->jobs, sizeof(*h->jobs) * h->cfg.max_jobs);
	if (h->buckets)
		h->a.free(h->a.ctx, h->buckets, sizeof(*h->buckets) * (h->mask + 1));
	if (h->live)
		h->a.free(h->a.ctx, h->live, sizeof(*h->live) * h->cfg.max_jobs);
	h->a.free(h->a.ctx, h, sizeof(*h));
}
