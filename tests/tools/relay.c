/* SPDX-License-Identifier: Apache-2.0 */
/*
 * relay: a UDP impairment relay for tests, since this kernel has no netem.
 *
 *   relay -l LISTEN_ADDR:PORT -u UPSTREAM_ADDR:PORT [impairments...]
 *
 * Each client address gets its own upstream socket, as behind a NAT, and
 * replies to it go back to that client; the mapping can move to a new
 * source port on a schedule or on SIGUSR1 (NAT rebinding). Loss (also in
 * bursts), delay and jitter, reordering, duplication, corruption, blackout
 * windows and a rate limit apply per direction; every random decision
 * follows the seed (relay_impair.c). Pending datagrams wait in a min-heap
 * (relay_queue.c) driven by a timerfd; the heap and the client table have
 * fixed caps, and what overflows is counted as dropped. SIGUSR2 toggles a
 * blackout; SIGTERM and SIGINT print the counters, write --stats-file and
 * exit 0. See --help.
 *
 * Exit status: 0 after SIGTERM/SIGINT, 1 on a runtime error, 2 on usage.
 */
#include "relay.h"
#include "relay_impair.h"
#include "relay_queue.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define CW_RL_EV_LISTEN 0
#define CW_RL_EV_TIMER	1
#define CW_RL_EV_SIGNAL 2
#define CW_RL_EV_CLIENT 3   /* + client index */
#define CW_RL_BATCH	256 /* datagrams read from one socket per wakeup */
#define CW_RL_EXPIRE_NS CW_RL_NS

struct cw_rl_client {
	bool used;
	struct sockaddr_storage addr;
	socklen_t len;
	int fd;		  /* connected to the upstream */
	int next;	  /* hash chain, -1 ends it */
	unsigned pending; /* datagrams in the heap that refer to this client */
	uint64_t last_ns;
};

struct cw_relay {
	struct cw_rl_conf conf;
	int lfd, tfd, sfd, ep;
	struct cw_rl_impair im[CW_RL_DIRS];
	struct cw_rl_counters cnt[CW_RL_DIRS];
	struct cw_rl_heap heap;
	uint64_t pending_bytes;
	struct cw_rl_pkt **held[CW_RL_DIRS]; /* held back until a gap of later datagrams */
	unsigned n_held[CW_RL_DIRS];
	uint64_t max_sent[CW_RL_DIRS]; /* highest index sent + 1 */
	struct cw_rl_client *cl;
	int *bucket;
	unsigned n_buckets, n_clients;
	uint64_t start_ns, epoch_ns, next_stats, next_rebind, next_expire;
	bool have_epoch, blackout_manual, stop;
	uint64_t rebinds, toggles, clients_total, clients_expired;
	uint8_t buf[CW_RL_MAX_DGRAM + 1];
};

static uint64_t cw_rl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * CW_RL_NS + (uint64_t)ts.tv_nsec;
}

static void __attribute__((noreturn)) cw_rl_die(const char *what)
{
	fprintf(stderr, "relay: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* ---- client table (the NAT) ---- */

static unsigned cw_rl_hash(const struct cw_relay *r, const struct sockaddr_storage *ss)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const uint8_t *p;
	size_t n;

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)ss;

		p = (const uint8_t *)&a->sin6_addr;
		n = sizeof(a->sin6_addr);
		h ^= a->sin6_port;
	} else {
		const struct sockaddr_in *a = (const void *)ss;

		p = (const uint8_t *)&a->sin_addr;
		n = sizeof(a->sin_addr);
		h ^= a->sin_port;
	}
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return (unsigned)(h % r->n_buckets);
}

static bool cw_rl_same(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

	return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
}

static int cw_rl_socket(const struct cw_relay *r, int family)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int v = r->conf.sockbuf;

	if (fd < 0)
		return -1;
	/* FORCE passes rmem_max/wmem_max but needs CAP_NET_ADMIN */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
	return fd;
}

/* A new upstream socket for client @i, registered with epoll; -1 on error. */
static int cw_rl_upstream_fd(struct cw_relay *r, unsigned i)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = CW_RL_EV_CLIENT + i};
	int fd = cw_rl_socket(r, r->conf.upstream.ss_family);

	if (fd < 0)
		return -1;
	/* connected: only the upstream's replies reach this client, as in a NAT */
	if (connect(fd, (const struct sockaddr *)&r->conf.upstream, r->conf.upstream_len) < 0 ||
	    epoll_ctl(r->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int cw_rl_client_find(const struct cw_relay *r, const struct sockaddr_storage *ss)
{
	for (int i = r->bucket[cw_rl_hash(r, ss)]; i >= 0; i = r->cl[i].next)
		if (cw_rl_same(&r->cl[i].addr, ss))
			return i;
	return -1;
}

/* The client slot of @ss, made if new; -1 when the table is full or on error. */
static int cw_rl_client(struct cw_relay *r, const struct sockaddr_storage *ss, socklen_t len)
{
	int i = cw_rl_client_find(r, ss);
	unsigned b;

	if (i >= 0)
		return i;
	for (i = 0; i < (int)r->conf.max_clients && r->cl[i].used; i++)
		;
	if (i == (int)r->conf.max_clients)
		return -1;
	r->cl[i].fd = cw_rl_upstream_fd(r, (unsigned)i);
	if (r->cl[i].fd < 0) {
		fprintf(stderr, "relay: upstream socket: %s\n", strerror(errno));
		return -1;
	}
	b = cw_rl_hash(r, ss);
	r->cl[i].used = true;
	r->cl[i].addr = *ss;
	r->cl[i].len = len;
	r->cl[i].pending = 0;
	r->cl[i].next = r->bucket[b];
	r->bucket[b] = i;
	r->n_clients++;
	r->clients_total++;
	return i;
}

static void cw_rl_client_drop(struct cw_relay *r, unsigned i)
{
	int *link = &r->bucket[cw_rl_hash(r, &r->cl[i].addr)];

	while (*link != (int)i)
		link = &r->cl[*link].next;
	*link = r->cl[i].next;
	close(r->cl[i].fd);
	r->cl[i].used = false;
	r->n_clients--;
}

static void cw_rl_rebind(struct cw_relay *r)
{
	for (unsigned i = 0; i < r->conf.max_clients; i++) {
		int fd;

		if (!r->cl[i].used)
			continue;
		fd = cw_rl_upstream_fd(r, i);
		if (fd < 0) {
			fprintf(stderr, "relay: rebind: %s\n", strerror(errno));
			continue;
		}
		/* the old mapping is gone: replies still on their way to it are lost */
		close(r->cl[i].fd);
		r->cl[i].fd = fd;
	}
	r->rebinds++;
}

static void cw_rl_expire(struct cw_relay *r, uint64_t now)
{
	for (unsigned i = 0; i < r->conf.max_clients; i++) {
		struct cw_rl_client *c = &r->cl[i];

		if (c->used && c->pending == 0 && now - c->last_ns >= r->conf.client_idle_ns) {
			cw_rl_client_drop(r, i);
			r->clients_expired++;
		}
	}
}

/* ---- sending ---- */

static void cw_rl_held_del(struct cw_relay *r, struct cw_rl_pkt *p)
{
	unsigned d = p->dir, i = p->held_idx;

	r->held[d][i] = r->held[d][--r->n_held[d]];
	r->held[d][i]->held_idx = i;
	p->held_gap = 0;
}

static ssize_t cw_rl_send(struct cw_relay *r, const struct cw_rl_pkt *p)
{
	const struct cw_rl_client *c = &r->cl[p->client];

	if (p->dir == CW_RL_UP)
		return send(c->fd, p->data, p->len, MSG_DONTWAIT);
	return sendto(r->lfd, p->data, p->len, MSG_DONTWAIT, (const struct sockaddr *)&c->addr,
		      c->len);
}

/* Send every copy of @p, count, and free it. */
static void cw_rl_emit(struct cw_relay *r, struct cw_rl_pkt *p)
{
	struct cw_rl_counters *k = &r->cnt[p->dir];

	for (unsigned i = 0; i < p->copies; i++) {
		ssize_t n;

		if (p->flip[i])
			p->data[p->bit[i] / 8] ^= (uint8_t)(1u << (p->bit[i] % 8));
		n = cw_rl_send(r, p);
		if (p->flip[i])
			p->data[p->bit[i] / 8] ^= (uint8_t)(1u << (p->bit[i] % 8));
		if (n < 0) {
			/* a lost extra copy is not a lost datagram */
			k->dropped_error += i == 0;
			continue;
		}
		k->tx++;
		k->tx_bytes += p->len;
		k->duplicated += i > 0;
		k->corrupted += p->flip[i];
	}
	if (p->held && r->max_sent[p->dir] > p->k + 1)
		k->reordered++;
	if (p->k + 1 > r->max_sent[p->dir])
		r->max_sent[p->dir] = p->k + 1;
	r->cl[p->client].pending--;
	r->pending_bytes -= p->len;
	free(p);
}

/*
 * Datagram @k, not held, went out in direction @d: held datagrams that came
 * before it (a batch read at once may queue it ahead of them) are one step
 * closer to their gap.
 */
static void cw_rl_count_gap(struct cw_relay *r, unsigned d, uint64_t k)
{
	unsigned i = 0;

	while (i < r->n_held[d]) {
		struct cw_rl_pkt *h = r->held[d][i];

		if (h->k > k || --h->held_gap > 0) {
			i++;
			continue;
		}
		cw_rl_held_del(r, h); /* moves another one into slot i */
		cw_rl_heap_remove(&r->heap, h);
		cw_rl_emit(r, h);
	}
}

static void cw_rl_run_due(struct cw_relay *r, uint64_t now)
{
	struct cw_rl_pkt *p;

	while ((p = cw_rl_heap_top(&r->heap)) && p->due_ns <= now) {
		unsigned d = p->dir;
		uint64_t k = p->k;
		bool held = p->held;

		cw_rl_heap_remove(&r->heap, p);
		if (p->held_gap > 0)
			cw_rl_held_del(r, p);
		cw_rl_emit(r, p);
		if (!held)
			cw_rl_count_gap(r, d, k);
	}
}

/* ---- receiving ---- */

static bool cw_rl_blackout(struct cw_relay *r, uint64_t now)
{
	uint64_t t;

	if (r->blackout_manual)
		return true;
	if (!r->have_epoch)
		return false;
	t = now - r->epoch_ns;
	for (unsigned i = 0; i < r->conf.n_blackouts; i++)
		if (t >= r->conf.blackout[i].from_ns && t < r->conf.blackout[i].to_ns)
			return true;
	return false;
}

static void cw_rl_set_epoch(struct cw_relay *r, uint64_t now)
{
	r->have_epoch = true;
	r->epoch_ns = now;
	if (r->conf.rebind_ns)
		r->next_rebind = now + r->conf.rebind_ns;
}

static void cw_rl_queue(struct cw_relay *r, const struct cw_rl_verdict *v, unsigned d,
			unsigned client, const uint8_t *data, size_t len)
{
	struct cw_rl_pkt *p;

	if (r->pending_bytes + len > r->conf.max_pending_bytes || r->heap.n >= r->heap.cap ||
	    !(p = malloc(sizeof(*p) + len))) {
		r->cnt[d].dropped_overflow++;
		return;
	}
	*p = (struct cw_rl_pkt){.due_ns = v->due_ns,
				.k = v->k,
				.dir = d,
				.client = client,
				.held = v->held,
				.held_gap = v->held_gap,
				.copies = v->copies,
				.flip = {v->flip[0], v->flip[1]},
				.bit = {v->bit[0], v->bit[1]},
				.len = len};
	memcpy(p->data, data, len);
	cw_rl_heap_push(&r->heap, p); /* cannot fail: checked above */
	r->pending_bytes += len;
	r->cl[client].pending++;
	if (p->held_gap > 0) {
		p->held_idx = r->n_held[d];
		r->held[d][r->n_held[d]++] = p;
	}
}

static void cw_rl_ingress(struct cw_relay *r, unsigned d, unsigned client, size_t len, uint64_t now)
{
	struct cw_rl_counters *k = &r->cnt[d];
	struct cw_rl_verdict v;

	k->rx++;
	k->rx_bytes += len;
	cw_rl_impair_decide(&r->im[d], now, len, cw_rl_blackout(r, now), &v);
	k->held += v.held && v.fate == CW_RL_PASS;
	switch (v.fate) {
	case CW_RL_BLACKOUT:
		k->dropped_blackout++;
		return;
	case CW_RL_LOSS:
		k->dropped_loss++;
		return;
	case CW_RL_RATE:
		k->dropped_rate++;
		return;
	case CW_RL_PASS:
		break;
	}
	cw_rl_queue(r, &v, d, client, r->buf, len);
}

static void cw_rl_read_listen(struct cw_relay *r, uint64_t now)
{
	for (int n = 0; n < CW_RL_BATCH; n++) {
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		ssize_t got = recvfrom(r->lfd, r->buf, sizeof(r->buf), MSG_DONTWAIT,
				       (struct sockaddr *)&from, &flen);
		int c;

		if (got < 0)
			return;
		if (!r->have_epoch)
			cw_rl_set_epoch(r, now);
		c = cw_rl_client(r, &from, flen);
		if (c < 0) {
			r->cnt[CW_RL_UP].rx++;
			r->cnt[CW_RL_UP].rx_bytes += (size_t)got;
			r->cnt[CW_RL_UP].dropped_client_cap++;
			continue;
		}
		r->cl[c].last_ns = now;
		cw_rl_ingress(r, CW_RL_UP, (unsigned)c, (size_t)got, now);
	}
}

static void cw_rl_read_client(struct cw_relay *r, unsigned c, uint64_t now)
{
	for (int n = 0; n < CW_RL_BATCH && r->cl[c].used; n++) {
		ssize_t got = recv(r->cl[c].fd, r->buf, sizeof(r->buf), MSG_DONTWAIT);

		if (got < 0) {
			/* ECONNREFUSED: an ICMP error from the upstream; go on */
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			continue;
		}
		r->cl[c].last_ns = now;
		cw_rl_ingress(r, CW_RL_DOWN, c, (size_t)got, now);
	}
}

/* ---- setup, timers, signals ---- */

static void cw_rl_fill_stats(const struct cw_relay *r, struct cw_rl_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->seed = r->conf.seed;
	s->elapsed_ns = cw_rl_now() - r->start_ns;
	s->clients = r->n_clients;
	s->clients_total = r->clients_total;
	s->clients_expired = r->clients_expired;
	s->rebinds = r->rebinds;
	s->blackout_toggles = r->toggles;
	for (unsigned d = 0; d < CW_RL_DIRS; d++) {
		s->dir[d] = r->cnt[d];
		s->dir[d].digest = r->im[d].digest;
	}
	for (unsigned i = 0; i < r->heap.n; i++)
		s->dir[r->heap.v[i]->dir].pending++;
}

static void cw_rl_listen(struct cw_relay *r)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = CW_RL_EV_LISTEN};
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char port[16];
	int on = 1;

	r->lfd = cw_rl_socket(r, r->conf.listen.ss_family);
	if (r->lfd < 0)
		cw_rl_die("socket");
	setsockopt(r->lfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(r->lfd, (const struct sockaddr *)&r->conf.listen, r->conf.listen_len) < 0)
		cw_rl_die("bind");
	if (epoll_ctl(r->ep, EPOLL_CTL_ADD, r->lfd, &ev) < 0)
		cw_rl_die("epoll_ctl");
	if (getsockname(r->lfd, (struct sockaddr *)&ss, &len) < 0)
		cw_rl_die("getsockname");
	snprintf(port, sizeof(port), "%u",
		 ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						: ((struct sockaddr_in *)&ss)->sin_port));
	fprintf(stderr, "relay: listening on port %s\n", port);
	if (r->conf.port_file && cw_rl_write_file(r->conf.port_file, port) < 0)
		cw_rl_die(r->conf.port_file);
}

static void cw_rl_add_fd(struct cw_relay *r, int fd, uint64_t tag, const char *what)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};

	if (fd < 0 || epoll_ctl(r->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		cw_rl_die(what);
}

static void cw_rl_setup(struct cw_relay *r)
{
	sigset_t set;

	r->start_ns = cw_rl_now();
	r->ep = epoll_create1(EPOLL_CLOEXEC);
	if (r->ep < 0)
		cw_rl_die("epoll_create1");
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		cw_rl_die("sigprocmask");
	r->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	cw_rl_add_fd(r, r->sfd, CW_RL_EV_SIGNAL, "signalfd");
	r->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	cw_rl_add_fd(r, r->tfd, CW_RL_EV_TIMER, "timerfd");
	r->n_buckets = 2 * r->conf.max_clients + 1;
	r->cl = calloc(r->conf.max_clients, sizeof(*r->cl));
	r->bucket = malloc(r->n_buckets * sizeof(*r->bucket));
	if (!r->cl || !r->bucket || cw_rl_heap_init(&r->heap, r->conf.max_pending) < 0)
		cw_rl_die("memory");
	memset(r->bucket, 0xff, r->n_buckets * sizeof(*r->bucket)); /* all -1 */
	for (unsigned d = 0; d < CW_RL_DIRS; d++) {
		r->held[d] = calloc(r->conf.max_pending, sizeof(*r->held[d]));
		if (!r->held[d])
			cw_rl_die("memory");
		cw_rl_impair_init(&r->im[d], &r->conf.dir[d], r->conf.seed, d, r->start_ns);
	}
	if (!r->conf.epoch_first)
		cw_rl_set_epoch(r, r->start_ns);
	if (r->conf.stats_interval_ns)
		r->next_stats = r->start_ns + r->conf.stats_interval_ns;
	if (r->conf.client_idle_ns)
		r->next_expire = r->start_ns + CW_RL_EXPIRE_NS;
	cw_rl_listen(r);
}

static void cw_rl_teardown(struct cw_relay *r)
{
	for (unsigned i = 0; i < r->conf.max_clients; i++)
		if (r->cl[i].used)
			close(r->cl[i].fd);
	cw_rl_heap_free(&r->heap);
	for (unsigned d = 0; d < CW_RL_DIRS; d++)
		free(r->held[d]);
	free(r->cl);
	free(r->bucket);
	close(r->lfd);
	close(r->tfd);
	close(r->sfd);
	close(r->ep);
}

static uint64_t cw_rl_earliest(uint64_t a, uint64_t b)
{
	return a == 0 ? b : (b == 0 || b > a ? a : b);
}

static void cw_rl_arm(struct cw_relay *r)
{
	const struct cw_rl_pkt *p = cw_rl_heap_top(&r->heap);
	uint64_t t = cw_rl_earliest(r->next_stats, r->next_rebind);
	struct itimerspec its = {{0, 0}, {0, 0}};

	t = cw_rl_earliest(t, r->next_expire);
	if (p)
		t = cw_rl_earliest(t, p->due_ns ? p->due_ns : 1);
	if (t) {
		its.it_value.tv_sec = (time_t)(t / CW_RL_NS);
		its.it_value.tv_nsec = (long)(t % CW_RL_NS);
	}
	if (timerfd_settime(r->tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		cw_rl_die("timerfd_settime");
}

static void cw_rl_periodic(struct cw_relay *r, uint64_t now)
{
	uint64_t ticks;

	if (read(r->tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		cw_rl_die("timerfd read");
	if (r->next_stats && now >= r->next_stats) {
		struct cw_rl_stats s;

		cw_rl_fill_stats(r, &s);
		cw_rl_stats_print(&s, "interval");
		r->next_stats += r->conf.stats_interval_ns;
		if (r->next_stats <= now)
			r->next_stats = now + r->conf.stats_interval_ns;
	}
	if (r->next_rebind && now >= r->next_rebind) {
		cw_rl_rebind(r);
		r->next_rebind += r->conf.rebind_ns;
		if (r->next_rebind <= now)
			r->next_rebind = now + r->conf.rebind_ns;
	}
	if (r->next_expire && now >= r->next_expire) {
		cw_rl_expire(r, now);
		r->next_expire = now + CW_RL_EXPIRE_NS;
	}
}

static void cw_rl_signals(struct cw_relay *r)
{
	struct signalfd_siginfo si;

	while (read(r->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGUSR1) {
			cw_rl_rebind(r);
		} else if (si.ssi_signo == SIGUSR2) {
			r->blackout_manual = !r->blackout_manual;
			r->toggles++;
			fprintf(stderr, "relay: blackout %s\n", r->blackout_manual ? "on" : "off");
		} else {
			r->stop = true;
		}
	}
}

static void cw_rl_loop(struct cw_relay *r)
{
	struct epoll_event ev[64];

	while (!r->stop) {
		int n = epoll_wait(r->ep, ev, 64, -1);
		uint64_t now = cw_rl_now();

		if (n < 0 && errno != EINTR)
			cw_rl_die("epoll_wait");
		for (int i = 0; i < n; i++) {
			uint64_t tag = ev[i].data.u64;

			if (tag == CW_RL_EV_LISTEN)
				cw_rl_read_listen(r, now);
			else if (tag == CW_RL_EV_TIMER)
				cw_rl_periodic(r, now);
			else if (tag == CW_RL_EV_SIGNAL)
				cw_rl_signals(r);
			else
				cw_rl_read_client(r, (unsigned)(tag - CW_RL_EV_CLIENT), now);
		}
		cw_rl_run_due(r, cw_rl_now());
		cw_rl_arm(r);
	}
}

int main(int argc, char **argv)
{
	static struct cw_relay r;
	struct cw_rl_stats s;
	int rc = 0;

	cw_rl_parse(&r.conf, argc, argv);
	cw_rl_setup(&r);
	cw_rl_loop(&r);
	cw_rl_fill_stats(&r, &s);
	cw_rl_stats_print(&s, "exit");
	if (r.conf.stats_file && cw_rl_stats_json(&s, r.conf.stats_file) < 0) {
		fprintf(stderr, "relay: %s: cannot write\n", r.conf.stats_file);
		rc = 1;
	}
	cw_rl_teardown(&r);
	return rc;
}
