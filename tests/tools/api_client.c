/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cw-api-client (tests/tools/api_client.c): edge agents that only send Kubernetes API requests, for
 * tests. Each --node is one session (the agent's session core,
 * tunnel/agent/session.h, on its own UDP socket) that keeps --inflight
 * requests open, taken in turn from the --request list, for --seconds once
 * every session is up (10 s at most); then it waits for the answers still
 * due and prints one JSON line:
 *
 *   {"sessions":N,"up":N,"sent":S,"answered":A,"lost":L,"status":{"403":n,...},
 *    "errors":{"7":n,...},"resets":R,"malformed":M}
 *
 * "answered" counts requests whose answer ended cleanly (FIN): an
 * ApiResponse (by status) or an Error (by code); "lost" those with no end
 * within --timeout-ms. Exit status 0 when every session came up and no
 * request was lost, 1 otherwise, 2 for bad arguments.
 *
 *   cw-api-client --gateway 192.0.2.1:10262 --server-name 192.0.2.1 \
 *       --ca DIR/ca.crt --certs DIR --node edge-1 --node edge-2 \
 *       --request "GET /api/v1/secrets" --request "GET /api/v1/pods" --seconds 5
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "tunnel/agent/session.h"
#include "tunnel/tls.h"

#define MAX_NODES    64
#define MAX_REQS     16
#define MAX_INFLIGHT 64
#define MAX_CODES    32 /* Error codes and HTTP statuses are counted below this many kinds */
#define UP_TIMEOUT   (10 * SEC)
#define MS	     UINT64_C(1000000)
#define SEC	     (1000 * MS)

struct req {
	uint64_t id, deadline;
	bool open, first;
};

struct sess {
	const char *node;
	int fd;
	struct cw_tls_client_ctx *tls;
	struct cw_as *as;
	struct req r[MAX_INFLIGHT];
	bool up;
};

struct tally {
	unsigned kind[MAX_CODES];
	uint64_t n[MAX_CODES];
	unsigned used;
};

static struct {
	const char *gateway, *server_name, *ca, *certs;
	const char *nodes[MAX_NODES];
	unsigned n_nodes;
	char verb[MAX_REQS][16], path[MAX_REQS][256];
	unsigned n_reqs, next_req;
	unsigned inflight, seconds, timeout_ms;
	struct sockaddr_in to;
	struct cw_agent_config conf;
	uint64_t sent, answered, lost, resets, malformed;
	struct tally status, errors;
} g = {.inflight = 4, .seconds = 5, .timeout_ms = 5000};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

static void count(struct tally *t, unsigned kind)
{
	for (unsigned i = 0; i < t->used; i++)
		if (t->kind[i] == kind) {
			t->n[i]++;
			return;
		}
	if (t->used < MAX_CODES) {
		t->kind[t->used] = kind;
		t->n[t->used++] = 1;
	}
}

static void print_tally(const char *name, const struct tally *t)
{
	printf(",\"%s\":{", name);
	for (unsigned i = 0; i < t->used; i++)
		printf("%s\"%u\":%llu", i ? "," : "", t->kind[i], (unsigned long long)t->n[i]);
	printf("}");
}

/* ---- one session ---- */

static int sess_open(struct sess *s, uint64_t now)
{
	char cert[512], key[512];
	struct cw_tls_client_cfg tc = {.gateway_ca = {.path = g.ca}, .gateway_name = g.server_name};
	struct cw_as_cfg ac = {
	    .conf = &g.conf, .node_name = s->node, .agent_version = "api-client"};
	int r;

	snprintf(cert, sizeof(cert), "%s/%s.crt", g.certs, s->node);
	snprintf(key, sizeof(key), "%s/%s.key", g.certs, s->node);
	tc.cert.path = cert;
	tc.key.path = key;
	if ((r = cw_tls_client_ctx_new(&tc, NULL, &s->tls)) < 0) {
		fprintf(stderr, "cw-api-client: %s: TLS: %s\n", s->node, strerror(-r));
		return r;
	}
	s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0 || connect(s->fd, (struct sockaddr *)&g.to, sizeof(g.to)) < 0)
		return -errno;
	ac.hs.tls = s->tls;
	ac.hs.wall_time = (int64_t)time(NULL);
	ac.wall_ms = (uint64_t)time(NULL) * 1000;
	if (RAND_bytes(ac.hs.cid, sizeof(ac.hs.cid)) != 1 ||
	    RAND_bytes(ac.hs.odcid, sizeof(ac.hs.odcid)) != 1 ||
	    RAND_bytes((unsigned char *)&ac.seed, sizeof(ac.seed)) != 1)
		return -EIO;
	return cw_as_new(&ac, now, &s->as);
}

static void req_end(struct req *q, int how)
{
	q->open = false;
	if (how == -EPIPE)
		g.answered++;
	else if (how == -ECONNRESET)
		g.resets++;
	else
		g.malformed++;
}

static void req_read(struct sess *s, struct req *q)
{
	cw_envelope *env;
	uint64_t code;
	int r;

	while ((r = cw_as_api_read(s->as, q->id, &env, &code)) == 0) {
		if (q->first) {
			q->first = false;
			if (env->msg_case == CAUSEWAY__V1__ENVELOPE__MSG_API_RESPONSE)
				count(&g.status, env->api_response->status);
			else if (env->msg_case == CAUSEWAY__V1__ENVELOPE__MSG_ERROR)
				count(&g.errors, (unsigned)env->error->code);
		}
		cw_as_api_msg_free(s->as, q->id, env);
	}
	if (r != -EAGAIN)
		req_end(q, r);
}

static struct req *req_of(struct sess *s, uint64_t id)
{
	for (unsigned i = 0; i < g.inflight; i++)
		if (s->r[i].open && s->r[i].id == id)
			return &s->r[i];
	return NULL;
}

static void req_start(struct sess *s, struct req *q, uint64_t now)
{
	Causeway__V1__ApiRequest rq = CAUSEWAY__V1__API_REQUEST__INIT;
	cw_envelope env = CAUSEWAY__V1__ENVELOPE__INIT;
	unsigned k = g.next_req++ % g.n_reqs;

	rq.verb = g.verb[k];
	rq.path = g.path[k];
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_API_REQUEST;
	env.api_request = &rq;
	if (cw_as_api_open(s->as, &env, &q->id) < 0)
		return; /* the stream limit or the send buffer: again on the next round */
	q->open = q->first = true;
	q->deadline = now + (uint64_t)g.timeout_ms * MS;
	g.sent++;
}

static void sess_pump(struct sess *s, uint64_t now, bool more)
{
	struct cw_as_event ev;
	uint8_t b[CW_CONN_DGRAM_MAX];
	int n;

	while (cw_as_next_event(s->as, &ev) == 0)
		if (ev.type == CW_AS_EV_API && req_of(s, ev.stream))
			req_read(s, req_of(s, ev.stream));
	if (cw_as_state(s->as) == CW_AS_ESTABLISHED) {
		s->up = true;
		for (unsigned i = 0; i < g.inflight; i++) {
			struct req *q = &s->r[i];

			if (q->open && now >= q->deadline) {
				(void)cw_as_api_cancel(s->as, q->id);
				q->open = false;
				g.lost++;
			}
			if (!q->open && more)
				req_start(s, q, now);
		}
	}
	while ((n = cw_as_send(s->as, now, b, sizeof(b))) > 0)
		if (send(s->fd, b, (size_t)n, 0) < 0 && errno != EAGAIN)
			break;
}

static void sess_rx(struct sess *s, uint64_t now)
{
	uint8_t b[CW_CONN_DGRAM_MAX + 64];
	ssize_t n;

	while ((n = recv(s->fd, b, sizeof(b), 0)) > 0)
		(void)cw_as_recv(s->as, now, b, (size_t)n);
}

static unsigned open_reqs(const struct sess *s)
{
	unsigned n = 0;

	for (unsigned i = 0; i < g.inflight; i++)
		n += s->r[i].open;
	return n;
}

/* ---- the loop ---- */

static unsigned up_count(const struct sess *ss)
{
	unsigned up = 0;

	for (unsigned i = 0; i < g.n_nodes; i++)
		up += cw_as_state(ss[i].as) == CW_AS_ESTABLISHED;
	return up;
}

/* What the loop does: bring sessions up, keep requests in flight, or only
 * wait for the answers still due (and stop when there are none). */
enum phase { P_UP, P_LOAD, P_DRAIN };

static void run(struct sess *ss, uint64_t until, enum phase ph)
{
	bool more = ph == P_LOAD;

	struct pollfd pf[MAX_NODES];
	uint64_t now;

	while ((now = now_ns()) < until) {
		uint64_t next = until;
		unsigned busy = 0;

		for (unsigned i = 0; i < g.n_nodes; i++) {
			struct sess *s = &ss[i];

			if (cw_as_next_timeout(s->as) <= now)
				cw_as_on_timeout(s->as, now);
			sess_pump(s, now, more);
			if (cw_as_next_timeout(s->as) < next)
				next = cw_as_next_timeout(s->as);
			pf[i] = (struct pollfd){.fd = s->fd, .events = POLLIN};
			busy += open_reqs(s);
		}
		if (ph == P_DRAIN && !busy)
			return;
		if (ph == P_UP && up_count(ss) == g.n_nodes)
			return;
		for (unsigned i = 0; i < g.n_nodes; i++)
			for (unsigned k = 0; k < g.inflight; k++)
				if (ss[i].r[k].open && ss[i].r[k].deadline < next)
					next = ss[i].r[k].deadline;
		if (poll(pf, g.n_nodes, next > now ? (int)((next - now) / MS) + 1 : 0) > 0)
			for (unsigned i = 0; i < g.n_nodes; i++)
				if (pf[i].revents & POLLIN)
					sess_rx(&ss[i], now_ns());
	}
}

/* ---- arguments ---- */

static int add_request(const char *arg)
{
	const char *sp = strchr(arg, ' ');

	if (g.n_reqs == MAX_REQS || !sp || (size_t)(sp - arg) >= sizeof(g.verb[0]) ||
	    strlen(sp + 1) >= sizeof(g.path[0]) || !sp[1])
		return -EINVAL;
	snprintf(g.verb[g.n_reqs], sizeof(g.verb[0]), "%.*s", (int)(sp - arg), arg);
	snprintf(g.path[g.n_reqs], sizeof(g.path[0]), "%s", sp + 1);
	g.n_reqs++;
	return 0;
}

static int parse_gateway(const char *arg)
{
	char host[64];
	const char *colon = strrchr(arg, ':');

	if (!colon || (size_t)(colon - arg) >= sizeof(host))
		return -EINVAL;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - arg), arg);
	g.to.sin_family = AF_INET;
	g.to.sin_port = htons((uint16_t)atoi(colon + 1));
	return inet_pton(AF_INET, host, &g.to.sin_addr) == 1 ? 0 : -EINVAL;
}

static int parse_args(int argc, char **argv)
{
	static const struct option o[] = {{"gateway", required_argument, NULL, 'g'},
					  {"server-name", required_argument, NULL, 's'},
					  {"ca", required_argument, NULL, 'a'},
					  {"certs", required_argument, NULL, 'c'},
					  {"node", required_argument, NULL, 'n'},
					  {"request", required_argument, NULL, 'r'},
					  {"seconds", required_argument, NULL, 'S'},
					  {"inflight", required_argument, NULL, 'i'},
					  {"timeout-ms", required_argument, NULL, 't'},
					  {NULL, 0, NULL, 0}};
	int c;

	while ((c = getopt_long(argc, argv, "", o, NULL)) != -1) {
		switch (c) {
		case 'g':
			if (parse_gateway(optarg) < 0)
				return -EINVAL;
			g.gateway = optarg;
			break;
		case 's':
			g.server_name = optarg;
			break;
		case 'a':
			g.ca = optarg;
			break;
		case 'c':
			g.certs = optarg;
			break;
		case 'n':
			if (g.n_nodes == MAX_NODES)
				return -EINVAL;
			g.nodes[g.n_nodes++] = optarg;
			break;
		case 'r':
			if (add_request(optarg) < 0)
				return -EINVAL;
			break;
		case 'S':
			g.seconds = (unsigned)atoi(optarg);
			break;
		case 'i':
			g.inflight = (unsigned)atoi(optarg);
			break;
		case 't':
			g.timeout_ms = (unsigned)atoi(optarg);
			break;
		default:
			return -EINVAL;
		}
	}
	return g.gateway && g.server_name && g.ca && g.certs && g.n_nodes && g.n_reqs &&
		       g.inflight && g.inflight <= MAX_INFLIGHT && optind == argc
		   ? 0
		   : -EINVAL;
}

int main(int argc, char **argv)
{
	static struct sess ss[MAX_NODES];
	char err[256];
	unsigned up = 0;
	uint64_t t0;

	if (parse_args(argc, argv) < 0) {
		fprintf(stderr, "usage: cw-api-client --gateway A.B.C.D:PORT --server-name NAME "
				"--ca FILE --certs DIR --node NAME... --request 'METHOD PATH'... "
				"[--seconds 5] [--inflight 4] [--timeout-ms 5000]\n");
		return 2;
	}
	if (cw_agent_config_parse(&g.conf, "cw-api-client", "[gateway]\naddress = 192.0.2.1\n", err,
				  sizeof(err)) < 0) {
		fprintf(stderr, "cw-api-client: %s\n", err);
		return 1;
	}
	t0 = now_ns();
	for (unsigned i = 0; i < g.n_nodes; i++) {
		ss[i].node = g.nodes[i];
		ss[i].fd = -1;
		if (sess_open(&ss[i], t0) < 0) {
			fprintf(stderr, "cw-api-client: %s: cannot start a session\n", g.nodes[i]);
			return 1;
		}
	}
	/* Handshakes and Hellos first, so that --seconds is all requests. */
	run(ss, t0 + UP_TIMEOUT, P_UP);
	run(ss, now_ns() + (uint64_t)g.seconds * SEC, P_LOAD);
	run(ss, now_ns() + (uint64_t)g.timeout_ms * MS + SEC, P_DRAIN);
	for (unsigned i = 0; i < g.n_nodes; i++) {
		g.lost += open_reqs(&ss[i]);
		up += ss[i].up;
		cw_as_shutdown(ss[i].as, now_ns(), CW_AS_SHUTDOWN, "done");
		sess_pump(&ss[i], now_ns(), false);
		cw_as_free(ss[i].as);
		cw_tls_client_ctx_free(ss[i].tls);
		close(ss[i].fd);
	}
	printf("{\"sessions\":%u,\"up\":%u,\"sent\":%llu,\"answered\":%llu,\"lost\":%llu",
	       g.n_nodes, up, (unsigned long long)g.sent, (unsigned long long)g.answered,
	       (unsigned long long)g.lost);
	print_tally("status", &g.status);
	print_tally("errors", &g.errors);
	printf(",\"resets\":%llu,\"malformed\":%llu}\n", (unsigned long long)g.resets,
	       (unsigned long long)g.malformed);
	return up == g.n_nodes && !g.lost && g.sent ? 0 : 1;
}
