/* SPDX-License-Identifier: Apache-2.0 */
#include "tunnel_svc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <urcu-qsbr.h>

#include "control/keyfile.h"
#include "control/route.h"
#include "dp.h"
#include "heap.h"
#include "hsthread.h"
#include "log.h"
#include "tunnel/compress.h"
#include "tunnel/pool.h"

#define CW_TSVC_RING	    65536	   /* entries of each ring, power of two */
#define CW_TSVC_DICT_MAX    (1u << 20)	   /* bytes of a dictionary file read */
#define CW_TSVC_REDIR_RING  1024	   /* datagrams in flight between two workers */
#define CW_TSVC_REDIR_BURST 32		   /* taken from one ring at a time */
#define CW_TSVC_DEQ	    64		   /* ring entries taken per poll */
#define CW_TSVC_HS_JOBS	    4096	   /* handshakes in progress per handshake thread */
#define CW_TSVC_DIAL_RESET  0x09	   /* CONNECTION_RESET (PROTOCOL.md §12.4) */
#define CW_TSVC_WARM	    4096	   /* heap a session takes waking: about 3.7 KiB */
#define TAG_CMD		    ((uintptr_t)1) /* low pointer bits in the rings */
#define TAG_FREE	    ((uintptr_t)2) /* a cw_gw_api_req to free on its worker */

enum cmd_type { CMD_CLOSE = 0, CMD_STATS };

/* Control -> worker commands other than channels. */
struct tcmd {
	enum cmd_type type;
	uint64_t session_id, code;
	char reason[CW_CHAN_REASON_MAX];
	struct cw_tstats_req *req;
};

struct tworker {
	struct cw_tunnel_svc *t;
	unsigned idx;
	struct cw_gw *gw;
	struct cw_token_keys tokens;
	struct rte_ring *work;	 /* control -> worker: channels and commands */
	struct rte_ring *events; /* worker -> control: channels and events */
	int wake_fd;
	struct cw_chan *listed; /* channels with work, through wnext */
	struct cw_chan *open;	/* channels with a stream, through wonext */
	uint64_t wall_next;	/* @now at which the gateway's wall time is due again */
	struct rte_mbuf *spare; /* kept when the gateway had nothing to send */
	struct rte_mbuf *cur;	/* the datagram cw_gw_input() has; NULL once taken */
	uint32_t local_ip;	/* address and port index datagrams came to */
	uint16_t port;
	uint64_t wake_owners;	       /* socket backend: owners to wake after a burst */
	uint64_t events_lost;	       /* the event ring was full */
	bool wake_control;	       /* events posted since the control thread was woken */
	uint64_t api_busy;	       /* API requests refused: the event ring nearly full */
	uint64_t mem;		       /* bytes the gateway holds (sessions, tables) */
	size_t warmed;		       /* heap_tick(): bytes last touched ahead */
	struct cw_alloc alloc;	       /* malloc, counted in mem */
	struct cw_pool pool;	       /* the gateway's allocator: caches over alloc */
	struct cw_compress *compress;  /* request bodies; NULL without a dictionary */
	uint64_t publish_next;	       /* @now at which the counters are due again */
	struct cw_tsvc_redir_stats rs; /* datagrams handed to their owners */
	uint8_t buf[16384];
};

struct cw_tunnel_svc {
	struct cw_dp *dp;
	const struct cw_tunnel_conf *conf;
	struct cw_tls_server_ctx *tls;
	uint32_t dict_id;
	uint8_t *dict; /* the dictionary file's bytes, dict_len of them */
	size_t dict_len;
	uint8_t cid_key[CW_CID_KEY_LEN];
	uint8_t reset_key[CW_RESET_KEY_LEN];
	uint8_t token_key[CW_TOKEN_KEY_LEN];
	uint8_t tickets[2][CW_TLS_TICKET_KEY_LEN]; /* previous, current */
	struct cw_conn_cfg conn;
	int event_fd;
	bool use_wake;		 /* socket backend: workers sleep in poll() */
	struct cw_routes routes; /* read by the workers under RCU */
	struct cw_hsthr *hs;	 /* handshake threads; NULL: on the workers */
	int wake_fds[CW_MAX_WORKERS];
	unsigned n;
	/* redir[from * n + to]: datagrams for worker to's sessions that arrived
	 * on worker from (§4.2); one producer and one consumer each. */
	struct rte_ring *redir[CW_MAX_WORKERS * CW_MAX_WORKERS];
	struct tworker *w[CW_MAX_WORKERS];
};

static void wake(int fd)
{
	uint64_t one = 1;
	ssize_t rc = write(fd, &one, sizeof(one));

	(void)rc; /* EAGAIN: the counter is already non-zero, the reader wakes anyway */
}

/* ---- worker -> control ---- */

static bool post_event(struct tworker *tw, void *obj)
{
	if (rte_ring_sp_enqueue(tw->events, obj) < 0) {
		tw->events_lost++;
		cw_err("tunnel worker %u: event ring full, event lost", tw->idx);
		return false;
	}
	tw->wake_control = true;
	return true;
}

/* One wake-up for all the events of a poll or a burst: a write(2) each
 * cost the worker a system call per watcher when an event fans out. */
static void wake_control(struct tworker *tw)
{
	if (tw->wake_control) {
		tw->wake_control = false;
		wake(tw->t->event_fd);
	}
}

/* The ring entry holds a reference (chan.h). */
static void notify_control(struct tworker *tw, struct cw_chan *c)
{
	if (!cw_chan_mark(c, false))
		return;
	cw_chan_get(c);
	if (!post_event(tw, (void *)((uintptr_t)c | TAG_CMD))) {
		cw_chan_unmark(c, false);
		cw_chan_put(c);
	}
}

static struct cw_tev *tev_new(struct tworker *tw, enum cw_tev_type type, uint64_t session_id)
{
	struct cw_tev *ev = calloc(1, sizeof(*ev));

	if (!ev) {
		cw_err("tunnel worker %u: no memory for an event", tw->idx);
		return NULL;
	}
	ev->type = type;
	ev->worker = (uint8_t)tw->idx;
	ev->session_id = session_id;
	return ev;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

static void on_session_up(void *ctx, const struct cw_gw_session_info *info)
{
	struct tworker *tw = ctx;
	struct cw_tev *ev = tev_new(tw, CW_TEV_SESSION_UP, info->session_id);

	if (!ev)
		return;
	copy_str(ev->node, sizeof(ev->node), info->node_name);
	copy_str(ev->pool, sizeof(ev->pool), info->pool);
	copy_str(ev->agent_version, sizeof(ev->agent_version), info->agent_version);
	ev->addr = info->addr;
	ev->n_allowed = info->n_allowed < CW_GW_ALLOWED_MAX ? info->n_allowed : CW_GW_ALLOWED_MAX;
	memcpy(ev->allowed_ports, info->allowed_ports, sizeof(ev->allowed_ports));
	ev->resumed = info->resumed;
	ev->slot = info->slot;
	if (!post_event(tw, ev))
		free(ev);
}

static void on_session_down(void *ctx, uint64_t session_id, const char *node, enum cw_conn_end end,
			    int64_t code)
{
	struct tworker *tw = ctx;
	struct cw_tev *ev = tev_new(tw, CW_TEV_SESSION_DOWN, session_id);

	if (!ev)
		return;
	copy_str(ev->node, sizeof(ev->node), node);
	ev->end = end;
	ev->code = code;
	if (!post_event(tw, ev))
		free(ev);
}

static void on_session_addr(void *ctx, uint64_t session_id, const char *node,
			    const struct cw_gw_addr *addr)
{
	struct tworker *tw = ctx;
	struct cw_tev *ev = tev_new(tw, CW_TEV_SESSION_ADDR, session_id);

	if (!ev)
		return;
	copy_str(ev->node, sizeof(ev->node), node);
	ev->addr = *addr;
	if (!post_event(tw, ev))
		free(ev);
}

/* ---- dial channels on the worker ---- */

/* Queue @c for chan_work() after the gateway call that is running. */
static void chan_list(struct tworker *tw, struct cw_chan *c)
{
	if (c->wlisted)
		return;
	cw_chan_get(c); /* the list's, dropped in chans_run() */
	c->wlisted = true;
	c->wnext = tw->listed;
	tw->listed = c;
}

static void on_dial(void *ctx, void *user, enum cw_gw_dial_event ev,
		    const struct cw_gw_dial_status *st)
{
	struct tworker *tw = ctx;
	struct cw_chan *c = user;

	switch (ev) {
	case CW_GW_DIAL_RESULT:
		c->dial_error = st->error;
		copy_str(c->reason, sizeof(c->reason), st->reason);
		atomic_store_explicit(&c->result, st->ok ? CW_CHAN_OK : CW_CHAN_FAILED,
				      memory_order_release);
		notify_control(tw, c);
		break;
	case CW_GW_DIAL_RESET:
		atomic_store_explicit(&c->reset_w, true, memory_order_release);
		notify_control(tw, c);
		break;
	case CW_GW_DIAL_GONE:
		c->wrelease = true;
		break;
	default:
		break;
	}
	chan_list(tw, c);
}

static void open_add(struct tworker *tw, struct cw_chan *c)
{
	c->woprev = NULL;
	c->wonext = tw->open;
	if (tw->open)
		tw->open->woprev = c;
	tw->open = c;
}

static void open_del(struct tworker *tw, struct cw_chan *c)
{
	if (c->woprev)
		c->woprev->wonext = c->wonext;
	else if (tw->open == c)
		tw->open = c->wonext;
	if (c->wonext)
		c->wonext->woprev = c->woprev;
	c->wonext = c->woprev = NULL;
}

/* The channel is over for the worker: the control thread drops the
 * worker's reference when it sees @gone (chan.h). */
static void chan_release(struct tworker *tw, struct cw_chan *c)
{
	open_del(tw, c);
	atomic_store_explicit(&c->gone, true, memory_order_release);
	notify_control(tw, c);
}

static void chan_fail(struct tworker *tw, struct cw_chan *c, const char *reason)
{
	c->dial_error = 7; /* DIAL_ERROR_INTERNAL: the gateway could not even ask */
	copy_str(c->reason, sizeof(c->reason), reason);
	atomic_store_explicit(&c->result, CW_CHAN_FAILED, memory_order_release);
	chan_release(tw, c);
}

static void chan_open(struct tworker *tw, struct cw_chan *c, uint64_t now)
{
	int rc;

	if (atomic_load_explicit(&c->abort_c, memory_order_acquire)) {
		chan_release(tw, c);
		return;
	}
	rc = cw_gw_dial(tw->gw, now, c->session_id, c->host, c->port, c->timeout_ms, c->origin, c,
			&c->stream);
	if (rc == -ENOENT)
		chan_fail(tw, c, "node is not connected");
	else if (rc == -EAGAIN)
		chan_fail(tw, c, "node has too many open streams");
	else if (rc < 0)
		chan_fail(tw, c, "dial failed");
	else {
		c->opened = true;
		open_add(tw, c);
	}
}

/* Client -> agent: as much of "up" as the stream takes. */
static bool pump_up(struct tworker *tw, struct cw_chan *c)
{
	const uint8_t *p;
	bool moved = false;
	size_t len, n;

	while ((len = cw_bring_peek(&c->up, &p))) {
		if (cw_gw_dial_write(tw->gw, c->session_id, c->stream, p, len, &n) < 0 || !n)
			break;
		cw_bring_consume(&c->up, n);
		moved = true;
		if (n < len)
			break;
	}
	if (!cw_bring_used(&c->up) && !c->up_fin_sent &&
	    atomic_load_explicit(&c->up_fin, memory_order_acquire)) {
		c->up_fin_sent = true;
		cw_gw_dial_finish(tw->gw, c->session_id, c->stream);
	}
	return moved;
}

/* Agent -> client: read the stream only as far as "down" has room, so the
 * agent gets credit only as fast as the client takes the bytes. */
static bool pump_down(struct tworker *tw, struct cw_chan *c)
{
	bool moved = false, fin = false;
	size_t room, n;

	while (!c->down_fin_seen && (room = cw_bring_room(&c->down))) {
		if (room > sizeof(tw->buf))
			room = sizeof(tw->buf);
		if (cw_gw_dial_read(tw->gw, c->session_id, c->stream, tw->buf, room, &n, &fin) < 0)
			break;
		cw_bring_write(&c->down, tw->buf, n);
		moved |= n > 0;
		if (fin) {
			c->down_fin_seen = true;
			atomic_store_explicit(&c->down_fin, true, memory_order_release);
			moved = true;
		}
		if (!n)
			break;
	}
	return moved;
}

static void chan_work(struct tworker *tw, struct cw_chan *c, uint64_t now)
{
	if (c->wrelease) {
		chan_release(tw, c);
		return;
	}
	if (!c->opened) {
		chan_open(tw, c, now);
		return;
	}
	if (atomic_load_explicit(&c->abort_c, memory_order_acquire)) {
		if (!c->reset_sent) {
			c->reset_sent = true;
			cw_gw_dial_reset(tw->gw, c->session_id, c->stream, CW_TSVC_DIAL_RESET);
		}
		return;
	}
	if (atomic_load_explicit(&c->result, memory_order_acquire) != CW_CHAN_OK)
		return;
	/* An API answer's writer hears of room only when it asked for it. */
	if ((pump_up(tw, c) && (!c->api || cw_chan_room_wanted(c))) | pump_down(tw, c))
		notify_control(tw, c);
}

/* Work through the listed channels; gateway calls made here may list more. */
static void chans_run(struct tworker *tw, uint64_t now)
{
	while (tw->listed) {
		struct cw_chan *c = tw->listed;

		tw->listed = c->wnext;
		c->wlisted = false;
		chan_work(tw, c, now);
		cw_chan_put(c);
	}
}

/* ---- control -> worker ---- */

static void stats_answer(struct tworker *tw, struct cw_tstats_req *req);

static void cmd_run(struct tworker *tw, struct tcmd *cmd, uint64_t now)
{
	struct cw_tev *ev;

	if (cmd->type == CMD_CLOSE) {
		cw_gw_close_session(tw->gw, now, cmd->session_id, cmd->code, cmd->reason);
		free(cmd);
		return;
	}
	stats_answer(tw, cmd->req);
	ev = tev_new(tw, CW_TEV_STATS, 0);
	if (ev) {
		ev->req = cmd->req;
		if (!post_event(tw, ev))
			free(ev);
	}
	free(cmd);
}

struct stats_fill {
	struct cw_tsess *s;
	uint32_t n, cap;
	uint8_t worker;
};

static int stats_one(const struct cw_gw_session_stats *st, void *ctx)
{
	struct stats_fill *f = ctx;
	struct cw_tsess *s;

	if (f->n == f->cap)
		return 1;
	s = &f->s[f->n++];
	s->session_id = st->session_id;
	copy_str(s->node, sizeof(s->node), st->node_name);
	s->addr = st->addr;
	s->srtt_ns = st->srtt_ns;
	s->bytes_in = st->bytes_in;
	s->bytes_out = st->bytes_out;
	s->since_ns = st->since;
	s->streams = st->streams;
	s->worker = f->worker;
	return 0;
}

/* Admin requests are rare: allocating here is fine. */
static void stats_answer(struct tworker *tw, struct cw_tstats_req *req)
{
	const struct cw_gw_stats *gs = cw_gw_stats(tw->gw);
	struct stats_fill f = {.cap = (uint32_t)gs->sessions, .worker = (uint8_t)tw->idx};

	req->gw[tw->idx] = *gs;
	req->redir[tw->idx] = tw->rs;
	f.s = f.cap ? calloc(f.cap, sizeof(*f.s)) : NULL;
	if (f.s)
		cw_gw_foreach_session(tw->gw, stats_one, &f);
	req->sess[tw->idx] = f.s;
	req->n_sess[tw->idx] = f.n;
}

static void work_take(struct tworker *tw, uint64_t now)
{
	void *objs[CW_TSVC_DEQ];
	unsigned n = rte_ring_sc_dequeue_burst(tw->work, objs, CW_TSVC_DEQ, NULL);

	for (unsigned i = 0; i < n; i++) {
		uintptr_t v = (uintptr_t)objs[i];

		if (v & TAG_CMD) {
			cmd_run(tw, (struct tcmd *)(v & ~TAG_CMD), now);
		} else if (v & TAG_FREE) {
			cw_gw_api_req_free((struct cw_gw_api_req *)(v & ~TAG_FREE));
		} else {
			struct cw_chan *c = (struct cw_chan *)v;

			cw_chan_unmark(c, true);
			chan_list(tw, c);
			cw_chan_put(c); /* the ring entry's */
		}
	}
}

/* ---- the handler ---- */

static void addr_of(struct cw_gw_addr *a, uint32_t ip, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->family = 4;
	memcpy(a->addr, &ip, 4);
	a->port = rte_be_to_cpu_16(port);
}

/* Datagrams due from the gateway, into fresh mbufs. */
static uint16_t drain(struct tworker *tw, uint64_t now, struct cw_dgram *out, uint16_t cap)
{
	struct rte_mempool *pool = tw->t->dp->pool;
	uint16_t k = 0;

	while (k < cap) {
		/* Most polls find nothing to send: keep the buffer for the next. */
		struct rte_mbuf *m = tw->spare ? tw->spare : rte_pktmbuf_alloc(pool);
		struct cw_gw_addr to;
		int len;

		tw->spare = NULL;
		if (!m)
			break;
		len = cw_gw_output(tw->gw, now, rte_pktmbuf_mtod(m, uint8_t *),
				   rte_pktmbuf_tailroom(m), &to);
		if (len <= 0) {
			tw->spare = m;
			break;
		}
		if (to.family != 4) {
			rte_pktmbuf_free(m);
			continue;
		}
		rte_pktmbuf_append(m, (uint16_t)len);
		out[k] = (struct cw_dgram){.m = m,
					   .src_ip = tw->local_ip,
					   .src_port = rte_cpu_to_be_16(tw->t->conf->port),
					   .port = tw->port};
		memcpy(&out[k].dst_ip, to.addr, 4);
		out[k].dst_port = rte_cpu_to_be_16(to.port);
		k++;
	}
	return k;
}

/*
 * Feed @d to this worker's gateway and free it; or, when its session is
 * another worker's, leave it and return 1 + that worker's index.
 */
static int input_one(struct tworker *tw, struct cw_dgram *d, uint64_t now)
{
	struct rte_mbuf *m = d->m;
	uint32_t len = rte_pktmbuf_pkt_len(m);
	bool single = m->nb_segs == 1;
	struct cw_gw_addr from;
	uint8_t *p;
	int r;

	tw->cur = NULL;
	if (single) {
		p = rte_pktmbuf_mtod(m, uint8_t *);
		tw->cur = m;
	} else if (len <= sizeof(tw->buf)) {
		p = tw->buf;
		rte_pktmbuf_read(m, 0, len, p);
	} else {
		rte_pktmbuf_free(m);
		return 0; /* over any datagram size the protocol allows */
	}
	tw->local_ip = d->dst_ip;
	tw->port = d->port;
	addr_of(&from, d->src_ip, d->src_port);
	r = cw_gw_input(tw->gw, now, &from, p, len);
	if (r > 0)
		return r;
	if (tw->cur || !single)
		rte_pktmbuf_free(m); /* else a handshake thread has it */
	tw->cur = NULL;
	return 0;
}

/* ---- handshakes on the handshake threads (hsthread.h) ---- */

/* Pass @d (@len bytes) behind @msg to the handshake threads: in the mbuf
 * being input when @d is its data, else in a copy. */
static int hs_pass(struct tworker *tw, const struct cw_hsmsg *msg, const uint8_t *d, size_t len)
{
	bool own = tw->cur && rte_pktmbuf_mtod(tw->cur, const uint8_t *) == d;
	struct rte_mbuf *m = own ? tw->cur : rte_pktmbuf_alloc(tw->t->dp->pool);
	uint8_t *dst;

	if (!m)
		return -ENOMEM;
	if (!own) {
		dst = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)len);
		if (!dst || len > UINT16_MAX) {
			rte_pktmbuf_free(m);
			return -ENOMEM;
		}
		memcpy(dst, d, len);
	}
	if (rte_pktmbuf_prepend(m, sizeof(*msg))) {
		cw_hsmsg_write(m, msg);
		if (cw_hsthr_post(tw->t->hs, tw->idx, m) == 0) {
			if (own)
				tw->cur = NULL;
			return 0;
		}
		rte_pktmbuf_adj(m, sizeof(*msg));
	}
	if (!own)
		rte_pktmbuf_free(m);
	return -ENOBUFS;
}

static int on_hs_start(void *ctx, const struct cw_gw_hs_job *job, const uint8_t *d, size_t len)
{
	struct tworker *tw = ctx;
	struct cw_hsmsg msg;

	cw_hsmsg_start(&msg, job, tw->local_ip, tw->port);
	return hs_pass(tw, &msg, d, len);
}

static int on_hs_input(void *ctx, uint64_t session_id, const struct cw_gw_addr *from,
		       const uint8_t *d, size_t len)
{
	struct tworker *tw = ctx;
	struct cw_hsmsg msg = {.type = CW_HSM_INPUT,
			       .session_id = session_id,
			       .local_ip = tw->local_ip,
			       .port = tw->port,
			       .peer_port = rte_cpu_to_be_16(from->port)};

	memcpy(&msg.peer_ip, from->addr, 4);
	return hs_pass(tw, &msg, d, len);
}

/* A handshake came back: the connection joins this worker's gateway, with
 * the memory it holds. */
static void hs_adopt(struct tworker *tw, const struct cw_hsmsg *msg, uint64_t now)
{
	int rc;

	if (msg->conn) {
		cw_conn_set_alloc(msg->conn, cw_pool_alloc(&tw->pool));
		cw_pool_adopt(&tw->pool, msg->bytes);
		tw->mem += msg->bytes;
	}
	rc = cw_gw_adopt(tw->gw, now, msg->session_id, msg->conn, msg->sent);
	if (rc == -ENOENT) {
		cw_err("tunnel worker %u: session %016" PRIx64 " came back from a handshake "
		       "thread but is not away",
		       tw->idx, msg->session_id);
		cw_conn_free(msg->conn);
	}
}

static void redirect(struct tworker *tw, struct cw_dgram *d, unsigned owner);

/* ---- agents' API requests for the control thread (control/apiserve.h) ---- */

/* A request's memory is its worker's pool's: freed there, sent back there
 * when the channel ends on another thread. */
static void api_req_free(void *ctx, void *req)
{
	struct tworker *tw = ctx;

	if (rte_lcore_id() == tw->t->dp->lcores[tw->idx]) {
		cw_gw_api_req_free(req);
		return;
	}
	if (rte_ring_mp_enqueue(tw->work, (void *)((uintptr_t)req | TAG_FREE)) < 0) {
		cw_err("tunnel worker %u: ring full, an API request's memory is lost", tw->idx);
		return;
	}
	if (tw->t->use_wake)
		wake(tw->wake_fd);
}

/* The request goes to the control thread by pointer; the answer comes back
 * in the channel's "up" ring and is written to the stream as it comes. */
static int on_api_open(void *ctx, struct cw_gw_api_req *req, void **user)
{
	struct tworker *tw = ctx;
	struct cw_chan *c;

	/* The control thread learns of the request through the event ring.
	 * When the ring is nearly full (thousands of agents listing at once)
	 * the request is refused now, and the agent retries or serves from
	 * its cache, rather than lost there and never answered; the last
	 * eighth stays for the channels already open. */
	if (rte_ring_free_count(tw->events) < rte_ring_get_capacity(tw->events) / 8) {
		tw->api_busy++;
		return -EBUSY;
	}
	c = cw_chan_new_api(req, api_req_free, tw);
	if (!c)
		return -ENOMEM;
	c->session_id = req->session_id;
	c->worker = tw->idx;
	c->stream = req->stream;
	c->opened = true;
	open_add(tw, c);
	atomic_store_explicit(&c->result, CW_CHAN_OK, memory_order_release);
	*user = c;
	notify_control(tw, c);
	return 0;
}

/* What the handshake threads sent this worker; datagrams to send go to @out
 * (at most @cap). */
static uint16_t hs_take(struct tworker *tw, uint64_t now, struct cw_dgram *out, uint16_t cap)
{
	struct rte_mbuf *ms[CW_TSVC_REDIR_BURST];
	uint16_t k = 0;
	unsigned n;

	if (!tw->t->hs)
		return 0;
	n = cw_hsthr_take(tw->t->hs, tw->idx, ms, RTE_MIN(cap, CW_TSVC_REDIR_BURST));
	for (unsigned i = 0; i < n; i++) {
		struct cw_dgram d = {.m = ms[i], .port = tw->port};
		struct cw_hsmsg msg;
		int owner;

		cw_hsmsg_take_tail(ms[i], &msg);
		switch (msg.type) {
		case CW_HSM_OUTPUT:
			d.src_ip = tw->local_ip;
			d.src_port = rte_cpu_to_be_16(tw->t->conf->port);
			d.dst_ip = msg.peer_ip;
			d.dst_port = msg.peer_port;
			out[k++] = d;
			break;
		case CW_HSM_BACK:
			d.src_ip = msg.peer_ip;
			d.src_port = msg.peer_port;
			d.dst_ip = msg.local_ip;
			d.dst_port = rte_cpu_to_be_16(tw->t->conf->port);
			d.port = msg.port;
			owner = input_one(tw, &d, now);
			if (owner > 0)
				redirect(tw, &d, (unsigned)owner - 1);
			break;
		default:
			hs_adopt(tw, &msg, now);
			rte_pktmbuf_free(ms[i]);
			break;
		}
	}
	return k;
}

/* ---- datagrams on the wrong worker (§4.2) ---- */

/* What a redirected datagram carries in front of its payload. */
struct redir_meta {
	uint32_t src_ip, dst_ip;
	uint16_t src_port, dst_port, port, pad;
};

/* Hand @d to worker @owner, whose session it is; it is consumed. The meta
 * is copied in and out: in front of a received datagram it need not be
 * aligned. */
static void redirect(struct tworker *tw, struct cw_dgram *d, unsigned owner)
{
	struct rte_ring *r = tw->t->redir[tw->idx * tw->t->n + owner];
	const struct redir_meta meta = {d->src_ip, d->dst_ip, d->src_port, d->dst_port, d->port, 0};
	char *p = rte_pktmbuf_prepend(d->m, sizeof(meta));

	if (p)
		memcpy(p, &meta, sizeof(meta));
	if (!p || rte_ring_sp_enqueue(r, d->m) < 0) {
		tw->rs.full++;
		rte_pktmbuf_free(d->m);
		return;
	}
	tw->rs.out++;
	tw->wake_owners |= UINT64_C(1) << owner;
}

/* Take what other workers handed over; true if a ring still holds some. */
static bool redirects_take(struct tworker *tw, uint64_t now)
{
	struct cw_tunnel_svc *t = tw->t;
	struct rte_mbuf *ms[CW_TSVC_REDIR_BURST];
	bool more = false;

	for (unsigned from = 0; from < t->n; from++) {
		struct rte_ring *r = t->redir[from * t->n + tw->idx];
		unsigned k;

		if (from == tw->idx)
			continue;
		k = rte_ring_sc_dequeue_burst(r, (void **)ms, CW_TSVC_REDIR_BURST, NULL);
		for (unsigned i = 0; i < k; i++) {
			struct redir_meta meta;
			struct cw_dgram d;

			memcpy(&meta, rte_pktmbuf_mtod(ms[i], const void *), sizeof(meta));
			d = (struct cw_dgram){.m = ms[i],
					      .src_ip = meta.src_ip,
					      .dst_ip = meta.dst_ip,
					      .src_port = meta.src_port,
					      .dst_port = meta.dst_port,
					      .port = meta.port};
			rte_pktmbuf_adj(ms[i], sizeof(meta));
			tw->rs.in++;
			input_one(tw, &d, now);
		}
		more |= !rte_ring_empty(r);
	}
	return more;
}

/* Socket backend: owners sleep in poll(); wake each one handed work. */
static void wake_owners(struct tworker *tw)
{
	uint64_t m = tw->wake_owners;

	tw->wake_owners = 0;
	while (tw->t->use_wake && m) {
		wake(tw->t->w[__builtin_ctzll(m)]->wake_fd);
		m &= m - 1;
	}
}

static uint16_t svc_rx(void *ctx, unsigned worker, struct cw_dgram *in, uint16_t n,
		       struct cw_dgram *out, uint16_t out_cap)
{
	struct cw_tunnel_svc *t = ctx;
	struct tworker *tw = t->w[worker];
	uint64_t now = cw_mono_ns();
	uint16_t k;

	for (uint16_t i = 0; i < n; i++) {
		int owner = input_one(tw, &in[i], now);

		if (owner > 0)
			redirect(tw, &in[i], (unsigned)owner - 1);
	}
	wake_owners(tw);
	if (t->hs)
		cw_hsthr_kick(t->hs, worker);
	chans_run(tw, now);
	k = drain(tw, now, out, out_cap);
	wake_control(tw);
	return k;
}

/* Copy this worker's tunnel figures where the stats line and telemetry read
 * them (dataplane/counters.h). */
static void publish(struct tworker *tw, uint64_t now)
{
	const struct cw_gw_stats *g = cw_gw_stats(tw->gw);
	uint64_t *c = tw->t->dp->counters[tw->idx].tun;
	const uint64_t v[CW_TCTR_MAX] = {
	    [CW_TCTR_SESSIONS] = g->sessions,
	    [CW_TCTR_HS_FULL] = g->hs_full,
	    [CW_TCTR_HS_RESUMED] = g->hs_resumed,
	    [CW_TCTR_HS_FAILED] = g->hs_failed,
	    [CW_TCTR_HS_OFFLOADED] = g->hs_away,
	    [CW_TCTR_HS_REFUSED] = g->hs_refused,
	    [CW_TCTR_REDIRECT_OUT] = tw->rs.out,
	    [CW_TCTR_REDIRECT_IN] = tw->rs.in,
	    [CW_TCTR_REDIRECT_FULL] = tw->rs.full,
	    [CW_TCTR_EVENT_FULL] = tw->events_lost,
	    [CW_TCTR_API_BUSY] = tw->api_busy,
	    [CW_TCTR_RETRANSMITS] = g->retransmits,
	    [CW_TCTR_DECRYPT_FAILED] = g->decrypt_failed,
	    [CW_TCTR_BODY_FAILED] = g->body_failed,
	    [CW_TCTR_BODY_BYTES] = g->body_bytes,
	    [CW_TCTR_ROUTE_HUB] = g->routed[CW_GW_ROUTE_HUB],
	    [CW_TCTR_ROUTE_UPSTREAM] = g->routed[CW_GW_ROUTE_UPSTREAM],
	    [CW_TCTR_ROUTE_DENY] = g->routed[CW_GW_ROUTE_DENY],
	    [CW_TCTR_MEMORY] = tw->mem - cw_pool_stats(&tw->pool)->cached,
	};

	tw->publish_next = now + CW_TCTR_PUBLISH_NS;
	for (unsigned i = 0; i < CW_TCTR_MAX; i++)
		cw_ctr_set(c[i], v[i]);
	/* No sessions left: what the pool caches goes back to malloc. */
	if (g->sessions == 0)
		cw_pool_trim(&tw->pool);
}

/* The gateway's allocator: malloc, counted, so that the operator sees what
 * sessions cost (tunnel_memory_bytes). Only the owning worker calls it. */
static void *count_alloc(void *ctx, size_t n)
{
	void *p = malloc(n);

	if (p)
		((struct tworker *)ctx)->mem += n;
	return p;
}

static void count_free(void *ctx, void *p, size_t n)
{
	if (p)
		((struct tworker *)ctx)->mem -= n;
	free(p);
}

/*
 * Keep as much free heap touched as every session waking at once would
 * take, as a change fanned out to all of them does: else the first such
 * fan-out faults its new pages in on the packet path (4,000 pages for
 * 10,000 sessions, 1.3 to 7 us each in a KVM guest). Only when the
 * sessions have grown; freed heap stays with the process (heap_keep() in
 * main.c), so pages touched once cost only the walk afterwards.
 */
static void heap_tick(struct tworker *tw)
{
	size_t want = (size_t)cw_gw_stats(tw->gw)->sessions * CW_TSVC_WARM;

	if (want > tw->warmed && cw_heap_warm(want) < 0)
		cw_warn("worker %u: could not touch %zu bytes of heap ahead", tw->idx, want);
	tw->warmed = want;
}

/* Certificate checks need Unix time; once a second is enough, and for
 * heap_tick() too. */
static void wall_tick(struct tworker *tw, uint64_t now)
{
	if (now < tw->wall_next)
		return;
	tw->wall_next = now + 1000000000u;
	cw_gw_set_wall_time(tw->gw, (int64_t)time(NULL));
	heap_tick(tw);
}

static uint16_t svc_poll(void *ctx, unsigned worker, struct cw_dgram *out, uint16_t out_cap,
			 uint64_t *next_ns)
{
	struct cw_tunnel_svc *t = ctx;
	struct tworker *tw = t->w[worker];
	uint64_t now = cw_mono_ns();
	uint16_t k;
	bool more;

	wall_tick(tw, now);
	if (now >= tw->publish_next)
		publish(tw, now);
	work_take(tw, now);
	more = redirects_take(tw, now);
	k = hs_take(tw, now, out, out_cap / 2);
	if (t->hs) {
		more |= cw_hsthr_pending(t->hs, worker);
		cw_hsthr_kick(t->hs, worker);
	}
	chans_run(tw, now);
	if (cw_gw_next_timeout(tw->gw) <= now) {
		cw_gw_on_timeout(tw->gw, now);
		chans_run(tw, now);
	}
	*next_ns = cw_gw_next_timeout(tw->gw);
	if (more || rte_ring_count(tw->work))
		*next_ns = now;
	/* Between polls this worker holds no route table: an old one may go. */
	rcu_quiescent_state();
	k += drain(tw, now, out + k, out_cap - k);
	wake_control(tw);
	return k;
}

/* ---- routing agents' API requests ---- */

_Static_assert(CW_GW_ROUTE_HUB == (int)CW_ROUTE_HUB &&
		   CW_GW_ROUTE_UPSTREAM == (int)CW_ROUTE_UPSTREAM &&
		   CW_GW_ROUTE_DENY == (int)CW_ROUTE_DENY &&
		   CW_GW_N_ROUTES == (int)CW_ROUTE_N_ACTIONS,
	       "the gateway's route codes are the route table's actions");

/* cw_gw_callbacks.route: the published table, this worker's scratch. */
static int on_route(void *ctx, const char *verb, size_t vlen, const char *path, size_t plen)
{
	struct tworker *tw = ctx;
	const struct cw_route_table *rt;
	int r = -ENOENT;

	rcu_read_lock();
	rt = cw_routes_get(&tw->t->routes);
	if (rt)
		r = cw_route_match(rt, tw->idx, cw_route_method(verb, vlen), path, plen, NULL);
	rcu_read_unlock();
	return r;
}

int cw_tunnel_svc_set_routes(struct cw_tunnel_svc *t, const struct cw_route_conf *rc, char *err,
			     size_t errlen)
{
	struct cw_route_table *rt;
	int r = cw_route_compile(rc, t->n, &rt, err, errlen);

	if (r < 0)
		return r;
	cw_routes_swap(&t->routes, rt);
	return 0;
}

static void svc_stop(void *ctx, unsigned worker)
{
	struct cw_tunnel_svc *t = ctx;
	unsigned n = cw_gw_shutdown(t->w[worker]->gw, cw_mono_ns(), 0);

	if (n)
		cw_info("worker %u: %u session(s) closed: gateway stopping", worker, n);
}

static int svc_wake_fd(void *ctx, unsigned worker)
{
	struct cw_tunnel_svc *t = ctx;

	return t->use_wake ? t->w[worker]->wake_fd : -1;
}

void cw_tunnel_svc_handler(struct cw_tunnel_svc *t, struct cw_handler *h)
{
	*h = (struct cw_handler){.name = "tunnel",
				 .udp_port = t->conf->port,
				 .rx = svc_rx,
				 .poll = svc_poll,
				 .wake_fd = svc_wake_fd,
				 .stop = svc_stop,
				 .ctx = t};
}

/* ---- control thread ---- */

int cw_tunnel_svc_event_fd(const struct cw_tunnel_svc *t)
{
	return t->event_fd;
}

unsigned cw_tunnel_svc_workers(const struct cw_tunnel_svc *t)
{
	return t->n;
}

/* Hand @ev over, then drop the worker's reference once it let go. */
static void chan_event(struct cw_chan *c, const struct cw_tev *ev,
		       void (*fn)(void *ctx, const struct cw_tev *ev), void *ctx)
{
	bool gone = atomic_load_explicit(&c->gone, memory_order_acquire);

	fn(ctx, ev);
	if (gone && !c->wput) {
		c->wput = true;
		cw_chan_put(c);
	}
}

unsigned cw_tunnel_svc_events(struct cw_tunnel_svc *t,
			      void (*fn)(void *ctx, const struct cw_tev *ev), void *ctx)
{
	unsigned total = 0;
	uint64_t buf;

	if (read(t->event_fd, &buf, sizeof(buf)) < 0 && errno != EAGAIN)
		cw_warn("tunnel: event fd: %s", strerror(errno));
	for (unsigned i = 0; i < t->n; i++) {
		void *objs[CW_TSVC_DEQ];
		unsigned n;

		while ((n = rte_ring_sc_dequeue_burst(t->w[i]->events, objs, CW_TSVC_DEQ, NULL))) {
			for (unsigned j = 0; j < n; j++) {
				uintptr_t v = (uintptr_t)objs[j];

				if (v & TAG_CMD) {
					struct cw_tev ev = {.type = CW_TEV_CHAN,
							    .worker = (uint8_t)i};

					ev.chan = (struct cw_chan *)(v & ~TAG_CMD);
					cw_chan_unmark(ev.chan, false);
					chan_event(ev.chan, &ev, fn, ctx);
					cw_chan_put(ev.chan); /* the ring entry's */
				} else {
					fn(ctx, objs[j]);
					free(objs[j]);
				}
			}
			total += n;
		}
	}
	return total;
}

static int work_post(struct cw_tunnel_svc *t, unsigned worker, void *obj)
{
	if (worker >= t->n || rte_ring_mp_enqueue(t->w[worker]->work, obj) < 0)
		return -ENOBUFS;
	if (t->use_wake) /* DPDK workers poll the ring anyway */
		wake(t->w[worker]->wake_fd);
	return 0;
}

int cw_tunnel_svc_kick(struct cw_tunnel_svc *t, struct cw_chan *c)
{
	int rc;

	if (!cw_chan_mark(c, true))
		return 0;
	cw_chan_get(c); /* the ring entry's */
	rc = work_post(t, c->worker, c);
	if (rc < 0) {
		cw_chan_unmark(c, true);
		cw_chan_put(c);
	}
	return rc;
}

int cw_tunnel_svc_close(struct cw_tunnel_svc *t, unsigned worker, uint64_t session_id,
			uint64_t code, const char *reason)
{
	struct tcmd *cmd = calloc(1, sizeof(*cmd));
	int rc;

	if (!cmd)
		return -ENOMEM;
	cmd->type = CMD_CLOSE;
	cmd->session_id = session_id;
	cmd->code = code;
	copy_str(cmd->reason, sizeof(cmd->reason), reason);
	rc = work_post(t, worker, (void *)((uintptr_t)cmd | TAG_CMD));
	if (rc < 0)
		free(cmd);
	return rc;
}

int cw_tunnel_svc_stats(struct cw_tunnel_svc *t, struct cw_tstats_req *req)
{
	struct tcmd *cmd[CW_MAX_WORKERS] = {0};

	for (unsigned i = 0; i < t->n; i++) {
		cmd[i] = calloc(1, sizeof(*cmd[i]));
		if (!cmd[i])
			goto fail;
		cmd[i]->type = CMD_STATS;
		cmd[i]->req = req;
	}
	for (unsigned i = 0; i < t->n; i++) {
		if (rte_ring_free_count(t->w[i]->work) == 0)
			goto fail;
	}
	req->pending = t->n;
	for (unsigned i = 0; i < t->n; i++)
		if (work_post(t, i, (void *)((uintptr_t)cmd[i] | TAG_CMD)) < 0)
			req->pending--; /* raced full: that worker's part stays empty */
	return 0;
fail:
	for (unsigned i = 0; i < t->n; i++)
		free(cmd[i]);
	return -ENOBUFS;
}

/* ---- set-up ---- */

/* The dictionary file, kept for the workers' compression contexts. */
static int dict_load(struct cw_tunnel_svc *t, const char *path)
{
	FILE *f = fopen(path, "rb");
	size_t n = 0;

	t->dict = malloc(CW_TSVC_DICT_MAX);
	if (f && t->dict)
		n = fread(t->dict, 1, CW_TSVC_DICT_MAX, f);
	if (f)
		fclose(f);
	t->dict_len = n;
	t->dict_id = n ? cw_compress_dict_id(t->dict, n) : 0;
	if (!t->dict_id) {
		cw_err("tunnel: %s is not a zstd dictionary", path);
		return -EINVAL;
	}
	return 0;
}

/* A worker's compression context with the dictionary: request bodies. */
static int compress_new(struct tworker *tw)
{
	struct cw_tunnel_svc *t = tw->t;
	int rc;

	if (!t->dict_id)
		return 0;
	rc = cw_compress_init(&tw->compress, &tw->alloc, 0);
	return rc ? rc : cw_compress_add_dict(tw->compress, t->dict, t->dict_len, NULL);
}

/*
 * Ticket keys (PROTOCOL.md §7.1): the previous and the current one, kept in
 * [tunnel] ticket_keys when set so that agents resume across a restart.
 */
static int tickets_load(struct cw_tunnel_svc *t, uint8_t prev[CW_TLS_TICKET_KEY_LEN])
{
	const char *path = t->conf->ticket_keys;
	int rc = path[0] ? cw_keyfile_read(path, t->tickets[0], sizeof(t->tickets)) : -ENOENT;

	if (rc == -ENOENT) {
		if (RAND_bytes(t->tickets[1], CW_TLS_TICKET_KEY_LEN) != 1)
			return -EIO;
		memcpy(t->tickets[0], t->tickets[1], CW_TLS_TICKET_KEY_LEN);
		rc = path[0] ? cw_keyfile_write(path, t->tickets[0], sizeof(t->tickets)) : 0;
	}
	if (rc < 0) {
		cw_err("tunnel: ticket keys %s: %s", path, strerror(-rc));
		return rc;
	}
	memcpy(prev, t->tickets[0], CW_TLS_TICKET_KEY_LEN);
	return 0;
}

static int tls_load(struct cw_tunnel_svc *t)
{
	struct cw_tls_server_cfg cfg = {.cert_chain.path = t->conf->cert,
					.key.path = t->conf->key,
					.node_ca.path = t->conf->ca};
	int rc = tickets_load(t, cfg.ticket_key);

	if (rc < 0)
		return rc;
	rc = cw_tls_server_ctx_new(&cfg, NULL, &t->tls);
	OPENSSL_cleanse(cfg.ticket_key, sizeof(cfg.ticket_key));
	if (rc < 0) {
		cw_err("tunnel: cannot load %s, %s and %s: %s", t->conf->cert, t->conf->key,
		       t->conf->ca, strerror(-rc));
		return rc;
	}
	/* The same name means there was no previous key yet: nothing to add. */
	rc = cw_tls_server_ctx_rotate_ticket_key(t->tls, t->tickets[1]);
	return rc == -EINVAL ? 0 : rc;
}

int cw_tunnel_svc_rotate_tickets(struct cw_tunnel_svc *t)
{
	uint8_t next[CW_TLS_TICKET_KEY_LEN];
	int rc;

	if (RAND_bytes(next, sizeof(next)) != 1)
		return -EIO;
	rc = cw_tls_server_ctx_rotate_ticket_key(t->tls, next);
	if (rc < 0)
		return rc;
	memcpy(t->tickets[0], t->tickets[1], CW_TLS_TICKET_KEY_LEN);
	memcpy(t->tickets[1], next, CW_TLS_TICKET_KEY_LEN);
	OPENSSL_cleanse(next, sizeof(next));
	if (t->conf->ticket_keys[0] &&
	    (rc = cw_keyfile_write(t->conf->ticket_keys, t->tickets[0], sizeof(t->tickets))) < 0)
		cw_warn("tunnel: ticket keys %s not saved: %s", t->conf->ticket_keys,
			strerror(-rc));
	return 0;
}

static const enum cw_gw_retry retry_of[] = {
    [CW_RETRY_MODE_NEVER] = CW_GW_RETRY_NEVER,
    [CW_RETRY_MODE_ALWAYS] = CW_GW_RETRY_ALWAYS,
    [CW_RETRY_MODE_UNDER_LOAD] = CW_GW_RETRY_UNDER_LOAD,
};

static int worker_create(struct cw_tunnel_svc *t, unsigned idx)
{
	struct tworker *tw = calloc(1, sizeof(*tw));
	struct cw_gw_cfg cfg = {0};
	char name[32];
	int rc;

	if (!tw)
		return -ENOMEM;
	t->w[idx] = tw;
	tw->t = t;
	tw->idx = idx;
	tw->wake_fd = t->wake_fds[idx];
	snprintf(name, sizeof(name), "cw_tw%u", idx);
	tw->work = rte_ring_create(name, CW_TSVC_RING, SOCKET_ID_ANY, RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "cw_te%u", idx);
	tw->events =
	    rte_ring_create(name, CW_TSVC_RING, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (tw->wake_fd < 0 || !tw->work || !tw->events)
		return -ENOMEM;
	rc = cw_token_init(&tw->tokens, t->token_key, CW_TOKEN_LIFETIME_NS, CW_TOKEN_SKEW_NS);
	if (rc < 0)
		return rc;
	tw->alloc = (struct cw_alloc){count_alloc, count_free, tw};
	cw_pool_init(&tw->pool, &tw->alloc, 0);
	if ((rc = compress_new(tw)) < 0)
		return rc;
	cfg.alloc = cw_pool_alloc(&tw->pool);
	cfg.compress = tw->compress;
	cfg.worker = (uint8_t)idx;
	cfg.n_workers = (uint8_t)t->n;
	cfg.max_sessions = t->conf->max_sessions;
	cfg.tls = t->tls;
	cfg.tokens = &tw->tokens;
	cfg.retry = retry_of[t->conf->retry];
	cfg.retry_load = t->conf->retry_load;
	memcpy(cfg.cid_key, t->cid_key, sizeof(cfg.cid_key));
	memcpy(cfg.reset_key, t->reset_key, sizeof(cfg.reset_key));
	cfg.send_resets = t->conf->reset_key[0] != '\0';
	cfg.conn = &t->conn;
	cfg.dict_ids = t->dict_id ? &t->dict_id : NULL;
	cfg.n_dict = t->dict_id ? 1 : 0;
	cfg.version = "causewayd/0.1.0";
	cfg.heartbeat_interval_s = t->conf->heartbeat_interval_s;
	cfg.cb = (struct cw_gw_callbacks){.ctx = tw,
					  .on_session_up = on_session_up,
					  .on_session_down = on_session_down,
					  .on_session_addr = on_session_addr,
					  .on_dial = on_dial,
					  .route = on_route,
					  .api_open = on_api_open,
					  .hs_start = on_hs_start,
					  .hs_input = on_hs_input};
	cfg.offload = t->hs != NULL;
	rc = cw_gw_new(&cfg, &tw->gw);
	OPENSSL_cleanse(&cfg, sizeof(cfg));
	if (rc < 0)
		return rc;
	wall_tick(tw, cw_mono_ns());
	return 0;
}

/* One ring per ordered pair of workers: each has one producer, one consumer. */
static int redir_create(struct cw_tunnel_svc *t)
{
	char name[32];

	for (unsigned from = 0; from < t->n; from++)
		for (unsigned to = 0; to < t->n; to++) {
			if (from == to)
				continue;
			snprintf(name, sizeof(name), "cw_rd%u_%u", from, to);
			t->redir[from * t->n + to] = rte_ring_create(
			    name, CW_TSVC_REDIR_RING, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
			if (!t->redir[from * t->n + to])
				return -ENOMEM;
		}
	return 0;
}

static void redir_free(struct cw_tunnel_svc *t)
{
	struct rte_mbuf *m;

	for (unsigned i = 0; i < t->n * t->n; i++) {
		while (t->redir[i] && rte_ring_sc_dequeue(t->redir[i], (void **)&m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(t->redir[i]);
	}
}

/* Before the workers' gateways, which hand their handshakes to them. */
static int hs_threads_start(struct cw_tunnel_svc *t)
{
	struct cw_hsthr_cfg cfg = {.n_threads = t->conf->handshake_threads,
				   .n_workers = t->n,
				   .tls = t->tls,
				   .conn = &t->conn,
				   .pool = t->dp->pool,
				   .wake_fds = t->use_wake ? t->wake_fds : NULL,
				   .max_jobs = CW_TSVC_HS_JOBS};

	if (!cfg.n_threads)
		return 0;
	cw_info("tunnel: %u handshake thread(s)", cfg.n_threads);
	return cw_hsthr_start(&cfg, &t->hs);
}

int cw_tunnel_svc_create(struct cw_dp *dp, struct cw_tunnel_svc **out)
{
	struct cw_tunnel_svc *t = calloc(1, sizeof(*t));
	char err[CW_CONF_ERR_LEN];
	int rc = -ENOMEM;

	if (!t)
		return -ENOMEM;
	t->dp = dp;
	t->conf = &dp->conf->tunnel;
	t->n = dp->conf->dp.n_workers;
	t->use_wake = dp->conf->dp.backend == CW_BACKEND_SOCKET;
	t->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	for (unsigned i = 0; i < CW_MAX_WORKERS; i++)
		t->wake_fds[i] = -1;
	t->conn.idle_timeout_ns = (uint64_t)t->conf->idle_timeout_ms * 1000000u;
	if (t->event_fd < 0)
		goto fail;
	rc = -EIO;
	if (RAND_bytes(t->cid_key, sizeof(t->cid_key)) != 1 ||
	    RAND_bytes(t->token_key, sizeof(t->token_key)) != 1)
		goto fail;
	if (t->conf->reset_key[0] &&
	    (rc = cw_keyfile_load_or_create(t->conf->reset_key, t->reset_key, CW_RESET_KEY_LEN))) {
		/* It survives restarts (§11.4) so agents of a restarted gateway
		 * learn at once that their sessions are gone. */
		cw_err("tunnel: reset key %s: %s", t->conf->reset_key, strerror(-rc));
		goto fail;
	}
	if (t->conf->dictionary[0] && (rc = dict_load(t, t->conf->dictionary)))
		goto fail;
	if ((rc = tls_load(t)))
		goto fail;
	if ((rc = cw_tunnel_svc_set_routes(t, &dp->conf->route, err, sizeof(err))) < 0) {
		cw_err("tunnel: %s", err);
		goto fail;
	}
	if ((rc = redir_create(t)) < 0) {
		cw_err("tunnel: redirect rings: %s", strerror(-rc));
		goto fail;
	}
	for (unsigned i = 0; i < t->n; i++)
		if ((t->wake_fds[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
			rc = -errno;
			goto fail;
		}
	if ((rc = hs_threads_start(t)) < 0) {
		cw_err("tunnel: handshake threads: %s", strerror(-rc));
		goto fail;
	}
	for (unsigned i = 0; i < t->n; i++)
		if ((rc = worker_create(t, i)) < 0) {
			cw_err("tunnel: worker %u: %s", i, strerror(-rc));
			goto fail;
		}
	*out = t;
	return 0;
fail:
	cw_tunnel_svc_free(t);
	return rc;
}

/* After the workers stopped: the events the control thread did not take
 * (channels hold a reference for each, and the worker's own once gone), and
 * the worker's list of channels with work. */
static void events_drain(struct tworker *tw)
{
	void *obj;

	while (tw->events && rte_ring_sc_dequeue(tw->events, &obj) == 0) {
		uintptr_t v = (uintptr_t)obj;
		struct cw_chan *c = (struct cw_chan *)(v & ~TAG_CMD);

		if (!(v & TAG_CMD)) {
			free(obj);
			continue;
		}
		cw_chan_unmark(c, false);
		if (atomic_load_explicit(&c->gone, memory_order_acquire) && !c->wput) {
			c->wput = true;
			cw_chan_put(c);
		}
		cw_chan_put(c);
	}
	while (tw->listed) {
		struct cw_chan *c = tw->listed;

		tw->listed = c->wnext;
		c->wlisted = false;
		cw_chan_put(c);
	}
	/* Streams the gateway frees without a word: the worker's references,
	 * which the control thread (stopped) would have dropped. */
	while (tw->open) {
		struct cw_chan *c = tw->open;

		open_del(tw, c);
		atomic_store_explicit(&c->gone, true, memory_order_release);
		if (!c->wput) {
			c->wput = true;
			cw_chan_put(c);
		}
	}
}

/* After the workers stopped: what their rings of work still hold. */
static void work_drain(struct tworker *tw)
{
	void *obj;

	while (tw->work && rte_ring_sc_dequeue(tw->work, &obj) == 0) {
		uintptr_t v = (uintptr_t)obj;

		if (v & TAG_CMD) {
			free((void *)(v & ~TAG_CMD));
		} else if (v & TAG_FREE) {
			cw_gw_api_req_free((struct cw_gw_api_req *)(v & ~TAG_FREE));
		} else {
			cw_chan_unmark(obj, true);
			cw_chan_put(obj);
		}
	}
}

void cw_tunnel_svc_free(struct cw_tunnel_svc *t)
{
	if (!t)
		return;
	cw_hsthr_stop(t->hs);
	for (unsigned i = 0; i < t->n; i++) {
		struct tworker *tw = t->w[i];

		if (!tw)
			continue;
		/* Channels freed here send their requests back to be freed. */
		do {
			events_drain(tw);
			work_drain(tw);
		} while (!rte_ring_empty(tw->work));
		cw_gw_free(tw->gw);
		cw_pool_trim(&tw->pool);
		cw_compress_free(tw->compress);
		rte_pktmbuf_free(tw->spare);
		cw_token_free(&tw->tokens);
		rte_ring_free(tw->work);
		rte_ring_free(tw->events);
		free(tw);
	}
	for (unsigned i = 0; i < CW_MAX_WORKERS; i++)
		if (t->wake_fds[i] >= 0)
			close(t->wake_fds[i]);
	redir_free(t);
	cw_routes_fini(&t->routes);
	cw_tls_server_ctx_free(t->tls);
	free(t->dict);
	if (t->event_fd >= 0)
		close(t->event_fd);
	OPENSSL_cleanse(t, sizeof(*t));
	free(t);
}
