/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cw-api-client (tests/tools/api_client.c): edge agents for tests, each one
 * session of the agent's session core (tunnel/agent/session.h). The nodes
 * are named with --node (certificates DIR/NAME.crt and .key from --certs)
 * or made up: --mint N --prefix P gives nodes P0 .. P(N-1) whose
 * certificates are signed in memory with --ca-key. Sessions share up to
 * --sockets UDP sockets; what arrives is matched to its session by the
 * destination CID. At most --connecting handshakes run at a time.
 *
 * With --request 'METHOD PATH[?QUERY]' (repeatable) every session keeps --inflight
 * requests open, taken in turn from the list, for --seconds once every
 * session is up; then the answers still due are awaited. Without, the
 * sessions are only held up for --seconds. Then every session closes
 * (Close, CONNECTION_CLOSE) and one JSON line is printed:
 *
 *   {"sessions":N,"up":N,"sent":S,"answered":A,"lost":L,"status":{"403":n,...},
 *    "errors":{"7":n,...},"parts":P,"body_bytes":B,"resets":R,"malformed":M,"closed":C}
 *
 * "answered" counts requests whose answer ended cleanly (FIN): an
 * ApiResponse (by status) or an Error (by code); "parts" the ApiResponse
 * messages of all answers and "body_bytes" their body bytes (decoded
 * length); "lost" those with no end
 * within --timeout-ms; "closed" the sessions whose close completed. Exit
 * status 0 when every session came up and closed and no request was lost,
 * 1 otherwise, 2 for bad arguments.
 *
 *   cw-api-client --gateway 192.0.2.1:10262 --server-name 192.0.2.1 \
 *       --ca DIR/ca.crt --certs DIR --node edge-1 --node edge-2 \
 *       --request "GET /api/v1/secrets" --seconds 5
 *   cw-api-client --gateway 192.0.2.1:10262 --server-name 192.0.2.1 \
 *       --ca DIR/ca.crt --ca-key DIR/ca.key --mint 5000 --prefix load- --seconds 2
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "cidmap.h"
#include "mint.h"
#include "tunnel/agent/session.h"
#include "tunnel/tls.h"

#define MAX_NODES    100000
#define MAX_SOCKETS  256
#define MAX_REQS     16
#define MAX_INFLIGHT 64
#define MAX_CODES    32 /* Error codes and HTTP statuses are counted below this many kinds */
#define NAME_MAX_LEN 64
#define MS	     UINT64_C(1000000)
#define SEC	     (1000 * MS)
#define UP_TIMEOUT   (120 * SEC)
#define CLOSE_WAIT   (15 * SEC)

struct req {
	uint64_t id, deadline;
	bool open, first;
};

struct sess {
	char node[NAME_MAX_LEN];
	uint8_t cid[CW_CID_LEN]; /* ours: the DCID of what the gateway sends */
	unsigned sock;
	struct cw_tls_client_ctx *tls;
	struct cw_as *as;
	struct req r[MAX_INFLIGHT];
	bool up, done;
};

struct tally {
	unsigned kind[MAX_CODES];
	uint64_t n[MAX_CODES];
	unsigned used;
};

static struct {
	const char *gateway, *server_name, *ca, *ca_key, *certs, *prefix;
	const char *nodes[MAX_NODES];
	unsigned n_nodes, mint;
	char verb[MAX_REQS][16], path[MAX_REQS][256], query[MAX_REQS][256];
	unsigned n_reqs, next_req;
	unsigned inflight, seconds, timeout_ms, sockets, connecting;
	struct sockaddr_in to;
	struct cw_agent_config conf;
	struct cw_mint_ca mca;
	int fd[MAX_SOCKETS];
	unsigned n_fd;
	struct cw_cidmap map; /* which session a datagram is for */
	uint64_t sent, answered, lost, resets, malformed, parts, body_bytes;
	struct tally status, errors;
} g = {.inflight = 4, .seconds = 5, .timeout_ms = 5000, .sockets = 32, .connecting = 32};

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

static int sess_tls(struct sess *s, unsigned i)
{
	char cert[512], key[512];
	struct cw_tls_client_cfg tc = {.gateway_ca = {.path = g.ca}, .gateway_name = g.server_name};
	struct cw_mint_pem cp, kp;
	int r;

	if (!g.mint) {
		snprintf(cert, sizeof(cert), "%s/%s.crt", g.certs, s->node);
		snprintf(key, sizeof(key), "%s/%s.key", g.certs, s->node);
		tc.cert.path = cert;
		tc.key.path = key;
		return cw_tls_client_ctx_new(&tc, NULL, &s->tls);
	}
	if ((r = cw_mint_node(&g.mca, s->node, (long)i + 1000, &cp, &kp)) < 0)
		return r;
	tc.cert.data = cp.data;
	tc.cert.len = cp.len;
	tc.key.data = kp.data;
	tc.key.len = kp.len;
	r = cw_tls_client_ctx_new(&tc, NULL, &s->tls);
	cw_mint_pem_free(&cp);
	cw_mint_pem_free(&kp);
	return r;
}

static int sess_open(struct sess *ss, unsigned i, uint64_t now)
{
	struct sess *s = &ss[i];
	struct cw_as_cfg ac = {
	    .conf = &g.conf, .node_name = s->node, .agent_version = "api-client"};
	int r;

	if ((r = sess_tls(s, i)) < 0) {
		fprintf(stderr, "cw-api-client: %s: TLS: %s\n", s->node, strerror(-r));
		return r;
	}
	ac.hs.tls = s->tls;
	ac.hs.wall_time = (int64_t)time(NULL);
	ac.wall_ms = (uint64_t)time(NULL) * 1000;
	if (RAND_bytes(ac.hs.cid, sizeof(ac.hs.cid)) != 1 ||
	    RAND_bytes(ac.hs.odcid, sizeof(ac.hs.odcid)) != 1 ||
	    RAND_bytes((unsigned char *)&ac.seed, sizeof(ac.seed)) != 1)
		return -EIO;
	memcpy(s->cid, ac.hs.cid, sizeof(s->cid));
	s->sock = i % g.n_fd;
	cw_cidmap_put(&g.map, s->cid, i);
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
		const Causeway__V1__Body *b =
		    env->msg_case == CAUSEWAY__V1__ENVELOPE__MSG_API_RESPONSE
			? env->api_response->body
			: NULL;

		g.parts += env->msg_case == CAUSEWAY__V1__ENVELOPE__MSG_API_RESPONSE;
		if (b)
			g.body_bytes += b->encoding == CAUSEWAY__V1__ENCODING__IDENTITY
					    ? b->data.len
					    : b->uncompressed_len;
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
	rq.query = g.query[k];
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_API_REQUEST;
	env.api_request = &rq;
	if (cw_as_api_open(s->as, &env, &q->id) < 0)
		return; /* the stream limit or the send buffer: again on the next round */
	q->open = q->first = true;
	q->deadline = now + (uint64_t)g.timeout_ms * MS;
	g.sent++;
}

static void sess_requests(struct sess *s, uint64_t now, bool more)
{
	for (unsigned i = 0; i < g.inflight && g.n_reqs; i++) {
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

static void sess_pump(struct sess *s, uint64_t now, bool more)
{
	struct cw_as_event ev;
	uint8_t b[CW_CONN_DGRAM_MAX];
	int n;

	if (!s->as)
		return;
	if (cw_as_next_timeout(s->as) <= now)
		cw_as_on_timeout(s->as, now);
	while (cw_as_next_event(s->as, &ev) == 0)
		if (ev.type == CW_AS_EV_API && req_of(s, ev.stream))
			req_read(s, req_of(s, ev.stream));
	if (cw_as_state(s->as) == CW_AS_ESTABLISHED) {
		s->up = true;
		sess_requests(s, now, more);
	}
	while ((n = cw_as_send(s->as, now, b, sizeof(b))) > 0)
		if (send(g.fd[s->sock], b, (size_t)n, 0) < 0 && errno != EAGAIN)
			break;
}

static unsigned open_reqs(const struct sess *s)
{
	unsigned n = 0;

	for (unsigned i = 0; i < g.inflight; i++)
		n += s->r[i].open;
	return n;
}

/* ---- the loop ---- */

/* What the loop does: bring sessions up (at most --connecting at a time),
 * keep requests in flight, wait for the answers still due (and stop when
 * none are), or wait for the closes to complete. */
enum phase { P_UP, P_LOAD, P_DRAIN, P_CLOSE };

struct loop {
	unsigned opened, up, failed, busy, live; /* failed: ended before it was up */
	uint64_t next;
};

static void rx(struct sess *ss, unsigned k)
{
	uint8_t b[CW_CONN_DGRAM_MAX + 64];
	uint64_t now = now_ns();
	ssize_t n;

	while ((n = recv(g.fd[k], b, sizeof(b), 0)) > 0) {
		const uint8_t *cid = cw_cidmap_dcid(b, (size_t)n);
		int64_t i = cid ? cw_cidmap_get(&g.map, cid) : -1;
		struct sess *s = i >= 0 ? &ss[i] : NULL;

		if (s && s->as)
			(void)cw_as_recv(s->as, now, b, (size_t)n);
	}
}

static void round_all(struct sess *ss, struct loop *l, enum phase ph, uint64_t now)
{
	memset(l, 0, sizeof(*l));
	l->next = UINT64_MAX;
	for (unsigned i = 0; i < g.n_nodes; i++) {
		struct sess *s = &ss[i];

		if (!s->as)
			continue;
		l->opened++;
		sess_pump(s, now, ph == P_LOAD);
		l->up += cw_as_state(s->as) == CW_AS_ESTABLISHED;
		l->live += cw_as_state(s->as) != CW_AS_ENDED;
		l->failed += cw_as_state(s->as) == CW_AS_ENDED && !s->up;
		l->busy += open_reqs(s);
		if (cw_as_next_timeout(s->as) < l->next)
			l->next = cw_as_next_timeout(s->as);
		for (unsigned k = 0; k < g.inflight; k++)
			if (s->r[k].open && s->r[k].deadline < l->next)
				l->next = s->r[k].deadline;
	}
}

static bool finished(const struct loop *l, enum phase ph)
{
	switch (ph) {
	case P_UP:
		return l->up + l->failed == g.n_nodes;
	case P_DRAIN:
		return !l->busy;
	case P_CLOSE:
		return !l->live;
	default:
		return false;
	}
}

/* Start sessions while fewer than --connecting are still handshaking. */
static int start_more(struct sess *ss, const struct loop *l, uint64_t now)
{
	unsigned connecting = l->opened - l->up - l->failed;

	for (unsigned i = l->opened; i < g.n_nodes && connecting < g.connecting; i++) {
		if (sess_open(ss, i, now) < 0)
			return -1;
		sess_pump(&ss[i], now, false);
		connecting++;
	}
	return 0;
}

static int run(struct sess *ss, uint64_t until, enum phase ph)
{
	struct pollfd pf[MAX_SOCKETS];
	struct loop l;
	uint64_t now;

	while ((now = now_ns()) < until) {
		round_all(ss, &l, ph, now);
		if (finished(&l, ph))
			return 0;
		if (ph == P_UP && start_more(ss, &l, now) < 0)
			return -1;
		if (l.next > until)
			l.next = until;
		for (unsigned k = 0; k < g.n_fd; k++)
			pf[k] = (struct pollfd){.fd = g.fd[k], .events = POLLIN};
		if (poll(pf, g.n_fd, l.next > now ? (int)((l.next - now) / MS) + 1 : 0) > 0)
			for (unsigned k = 0; k < g.n_fd; k++)
				if (pf[k].revents & POLLIN)
					rx(ss, k);
	}
	return 0;
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
	if ((sp = strchr(g.path[g.n_reqs], '?'))) {
		g.path[g.n_reqs][sp - g.path[g.n_reqs]] = '\0';
		snprintf(g.query[g.n_reqs], sizeof(g.query[0]), "%s", sp + 1);
	}
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

static int parse_opt(int c)
{
	switch (c) {
	case 'g':
		g.gateway = optarg;
		return parse_gateway(optarg);
	case 's':
		g.server_name = optarg;
		return 0;
	case 'a':
		g.ca = optarg;
		return 0;
	case 'K':
		g.ca_key = optarg;
		return 0;
	case 'c':
		g.certs = optarg;
		return 0;
	case 'n':
		if (g.n_nodes == MAX_NODES || strlen(optarg) >= NAME_MAX_LEN)
			return -EINVAL;
		g.nodes[g.n_nodes++] = optarg;
		return 0;
	case 'm':
		g.mint = (unsigned)atoi(optarg);
		return g.mint && g.mint <= MAX_NODES ? 0 : -EINVAL;
	case 'p':
		g.prefix = optarg;
		return strlen(optarg) < NAME_MAX_LEN - 8 ? 0 : -EINVAL;
	case 'r':
		return add_request(optarg);
	case 'S':
		g.seconds = (unsigned)atoi(optarg);
		return 0;
	case 'i':
		g.inflight = (unsigned)atoi(optarg);
		return g.inflight && g.inflight <= MAX_INFLIGHT ? 0 : -EINVAL;
	case 't':
		g.timeout_ms = (unsigned)atoi(optarg);
		return 0;
	case 'k':
		g.sockets = (unsigned)atoi(optarg);
		return g.sockets && g.sockets <= MAX_SOCKETS ? 0 : -EINVAL;
	case 'C':
		g.connecting = (unsigned)atoi(optarg);
		return g.connecting ? 0 : -EINVAL;
	default:
		return -EINVAL;
	}
}

static int parse_args(int argc, char **argv)
{
	static const struct option o[] = {{"gateway", required_argument, NULL, 'g'},
					  {"server-name", required_argument, NULL, 's'},
					  {"ca", required_argument, NULL, 'a'},
					  {"ca-key", required_argument, NULL, 'K'},
					  {"certs", required_argument, NULL, 'c'},
					  {"node", required_argument, NULL, 'n'},
					  {"mint", required_argument, NULL, 'm'},
					  {"prefix", required_argument, NULL, 'p'},
					  {"request", required_argument, NULL, 'r'},
					  {"seconds", required_argument, NULL, 'S'},
					  {"inflight", required_argument, NULL, 'i'},
					  {"timeout-ms", required_argument, NULL, 't'},
					  {"sockets", required_argument, NULL, 'k'},
					  {"connecting", required_argument, NULL, 'C'},
					  {NULL, 0, NULL, 0}};
	int c;

	while ((c = getopt_long(argc, argv, "", o, NULL)) != -1)
		if (parse_opt(c) < 0)
			return -EINVAL;
	if (optind != argc || !g.gateway || !g.server_name || !g.ca)
		return -EINVAL;
	if (g.mint)
		return !g.n_nodes && g.ca_key && g.prefix ? 0 : -EINVAL;
	return g.n_nodes && g.certs ? 0 : -EINVAL;
}

/* ---- set-up ---- */

static struct sess *sessions_new(void)
{
	struct sess *ss;

	if (g.mint) {
		if (cw_mint_ca_load(&g.mca, g.ca, g.ca_key) < 0) {
			fprintf(stderr, "cw-api-client: cannot read the CA %s / %s\n", g.ca,
				g.ca_key);
			return NULL;
		}
		g.n_nodes = g.mint;
	}
	ss = calloc(g.n_nodes, sizeof(*ss));
	if (!ss || cw_cidmap_init(&g.map, g.n_nodes) < 0)
		return NULL;
	for (unsigned i = 0; i < g.n_nodes; i++)
		if (g.mint)
			snprintf(ss[i].node, sizeof(ss[i].node), "%s%u", g.prefix, i);
		else
			snprintf(ss[i].node, sizeof(ss[i].node), "%s", g.nodes[i]);
	g.n_fd = g.sockets < g.n_nodes ? g.sockets : g.n_nodes;
	for (unsigned k = 0; k < g.n_fd; k++) {
		g.fd[k] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (g.fd[k] < 0 || connect(g.fd[k], (struct sockaddr *)&g.to, sizeof(g.to)) < 0)
			return NULL;
	}
	return ss;
}

static unsigned close_all(struct sess *ss)
{
	unsigned closed = 0;

	for (unsigned i = 0; i < g.n_nodes; i++)
		if (ss[i].as) {
			g.lost += open_reqs(&ss[i]);
			cw_as_shutdown(ss[i].as, now_ns(), CW_AS_SHUTDOWN, "done");
		}
	(void)run(ss, now_ns() + CLOSE_WAIT, P_CLOSE);
	for (unsigned i = 0; i < g.n_nodes; i++) {
		if (!ss[i].as)
			continue;
		closed += cw_as_state(ss[i].as) == CW_AS_ENDED;
		cw_as_free(ss[i].as);
		cw_tls_client_ctx_free(ss[i].tls);
	}
	return closed;
}

int main(int argc, char **argv)
{
	struct sess *ss;
	char err[256];
	unsigned up = 0, closed;

	if (parse_args(argc, argv) < 0) {
		fprintf(stderr, "usage: cw-api-client --gateway A.B.C.D:PORT --server-name NAME "
				"--ca FILE (--certs DIR --node NAME... | --ca-key FILE --mint N "
				"--prefix P) [--request 'METHOD PATH'...] [--seconds 5] "
				"[--inflight 4] [--timeout-ms 5000] [--sockets 32] "
				"[--connecting 32]\n");
		return 2;
	}
	if (cw_agent_config_parse(&g.conf, "cw-api-client", "[gateway]\naddress = 192.0.2.1\n", err,
				  sizeof(err)) < 0 ||
	    !(ss = sessions_new())) {
		fprintf(stderr, "cw-api-client: cannot set up\n");
		return 1;
	}
	/* Handshakes and Hellos first, so that --seconds is all requests. */
	if (run(ss, now_ns() + UP_TIMEOUT, P_UP) < 0)
		return 1;
	for (unsigned i = 0; i < g.n_nodes; i++)
		up += ss[i].as && cw_as_state(ss[i].as) == CW_AS_ESTABLISHED;
	fprintf(stderr, "cw-api-client: %u of %u sessions up\n", up, g.n_nodes);
	(void)run(ss, now_ns() + (uint64_t)g.seconds * SEC, P_LOAD);
	(void)run(ss, now_ns() + (uint64_t)g.timeout_ms * MS + SEC, P_DRAIN);
	closed = close_all(ss);
	printf("{\"sessions\":%u,\"up\":%u,\"sent\":%llu,\"answered\":%llu,\"lost\":%llu",
	       g.n_nodes, up, (unsigned long long)g.sent, (unsigned long long)g.answered,
	       (unsigned long long)g.lost);
	print_tally("status", &g.status);
	print_tally("errors", &g.errors);
	printf(",\"parts\":%llu,\"body_bytes\":%llu", (unsigned long long)g.parts,
	       (unsigned long long)g.body_bytes);
	printf(",\"resets\":%llu,\"malformed\":%llu,\"closed\":%u}\n", (unsigned long long)g.resets,
	       (unsigned long long)g.malformed, closed);
	for (unsigned k = 0; k < g.n_fd; k++)
		close(g.fd[k]);
	cw_cidmap_free(&g.map);
	free(ss);
	cw_mint_ca_free(&g.mca);
	return up == g.n_nodes && closed == g.n_nodes && !g.lost && (g.sent || !g.n_reqs) ? 0 : 1;
}
