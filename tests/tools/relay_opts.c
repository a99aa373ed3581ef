/* SPDX-License-Identifier: Apache-2.0 */
/* Command line of the relay. */
#include "relay.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void cw_rl_help(FILE *f)
{
	fprintf(
	    f,
	    "usage: relay -l ADDR:PORT -u ADDR:PORT [options]\n"
	    "UDP impairment relay: datagrams from a client to the listen address go to\n"
	    "the upstream from a per-client socket (as through a NAT); replies come back\n"
	    "to that client. Random decisions follow --seed: the same seed and the same\n"
	    "input sequence give the same decisions.\n"
	    "\n"
	    "  -l, --listen ADDR:PORT    address to listen on (port 0: any; see --port-file)\n"
	    "  -u, --upstream ADDR:PORT  where to forward ([v6addr]:port for IPv6)\n"
	    "  -s, --seed N              PRNG seed (default 1)\n"
	    "\n"
	    "Impairments take an optional direction prefix: up: (client to upstream),\n"
	    "down: (upstream to client); without one they apply to both.\n"
	    "  --loss [DIR:]PCT          independent loss, percent\n"
	    "  --burst-loss [DIR:]PGB,PBG[,BAD[,GOOD]]\n"
	    "                            Gilbert-Elliott loss: percent chances per datagram\n"
	    "                            to go good->bad and bad->good, loss percent in the\n"
	    "                            bad (default 100) and good (default 0) states\n"
	    "  --delay [DIR:]MS          fixed delay (milliseconds, fractions allowed)\n"
	    "  --jitter [DIR:]MS         extra delay, uniform in [0, MS]; keeps order\n"
	    "  --reorder [DIR:]PCT       hold back this percent of datagrams until\n"
	    "  --reorder-gap [DIR:]N       N later datagrams have gone (default 3; 0: time only)\n"
	    "  --reorder-hold [DIR:]MS     or MS have passed (default 100)\n"
	    "  --duplicate [DIR:]PCT     send a second copy\n"
	    "  --corrupt [DIR:]PCT       flip one random payload bit (decided per copy)\n"
	    "  --rate [DIR:]BYTES        shape to BYTES per second (k, M suffixes: x1000)\n"
	    "  --rate-burst [DIR:]BYTES  token bucket depth (default 16384)\n"
	    "  --rate-queue [DIR:]BYTES  backlog beyond which the shaper drops (default 262144)\n"
	    "  --blackout T1:T2          drop everything arriving from T1 to T2 seconds\n"
	    "                            (repeatable, up to %d); SIGUSR2 toggles a blackout\n"
	    "  --epoch start|first       times count from start (default) or first datagram\n"
	    "\n"
	    "NAT and limits:\n"
	    "  --rebind-every SECS       give every client a new upstream source port this\n"
	    "                            often (SIGUSR1: now)\n"
	    "  --max-clients N           client table size (default 256)\n"
	    "  --client-idle SECS        forget idle clients (default 120; 0: never)\n"
	    "  --max-pending N           pending datagrams, both directions (default 8192)\n"
	    "  --max-pending-bytes N     their payload bytes (default 67108864)\n"
	    "  --sockbuf BYTES           socket buffers (default 4194304)\n"
	    "\n"
	    "Output: counters per direction on stderr at exit (SIGTERM, SIGINT).\n"
	    "  --stats-interval SECS     also print them this often\n"
	    "  --stats-file PATH         write them as JSON at exit\n"
	    "  --port-file PATH          write the bound listen port once ready\n"
	    "  -h, --help\n",
	    CW_RL_MAX_BLACKOUTS);
}

static void __attribute__((noreturn)) cw_rl_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "relay: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nrelay: try --help\n");
	exit(2);
}

static double cw_rl_num(const char *s, double min, double max, const char *what)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < min || v > max)
		cw_rl_usage("bad %s", what);
	return v;
}

static uint64_t cw_rl_bytes(const char *s, const char *what)
{
	char buf[64];
	size_t n = strlen(s);
	double mult = 1;

	if (n == 0 || n >= sizeof(buf))
		cw_rl_usage("bad %s", what);
	memcpy(buf, s, n + 1);
	if (buf[n - 1] == 'k' || buf[n - 1] == 'K')
		mult = 1e3;
	else if (buf[n - 1] == 'M')
		mult = 1e6;
	else if (buf[n - 1] == 'G')
		mult = 1e9;
	if (mult > 1)
		buf[n - 1] = '\0';
	return (uint64_t)(cw_rl_num(buf, 0, 1e12, what) * mult);
}

/* Strip an "up:"/"down:" prefix; returns the directions it names. */
static unsigned cw_rl_dirs(const char *arg, const char **val)
{
	if (strncmp(arg, "up:", 3) == 0) {
		*val = arg + 3;
		return 1u << CW_RL_UP;
	}
	if (strncmp(arg, "down:", 5) == 0) {
		*val = arg + 5;
		return 1u << CW_RL_DOWN;
	}
	*val = arg;
	return 1u << CW_RL_UP | 1u << CW_RL_DOWN;
}

static void cw_rl_addr(const char *arg, struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV};
	char host[256];
	const char *colon = strrchr(arg, ':');
	size_t hl;
	struct addrinfo *ai;

	if (!colon || colon == arg || strlen(arg) >= sizeof(host))
		cw_rl_usage("bad address '%s' (want ADDR:PORT)", arg);
	hl = (size_t)(colon - arg);
	memcpy(host, arg, hl);
	host[hl] = '\0';
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	cw_rl_num(colon + 1, 0, 65535, "port");
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
		cw_rl_usage("cannot resolve '%s'", arg);
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
}

static void cw_rl_burst_loss(struct cw_rl_dir_conf *d, const char *v)
{
	double x[4] = {0, 0, 100, 0};
	char buf[128], *save, *tok;
	unsigned n = 0;

	if (strlen(v) >= sizeof(buf))
		cw_rl_usage("bad --burst-loss '%s'", v);
	strcpy(buf, v);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n == 4)
			cw_rl_usage("bad --burst-loss '%s' (at most 4 numbers)", v);
		x[n++] = cw_rl_num(tok, 0, 100, "--burst-loss percentage");
	}
	if (n < 2)
		cw_rl_usage("bad --burst-loss '%s' (want PGB,PBG[,BAD[,GOOD]])", v);
	d->ge = true;
	d->ge_p = x[0] / 100;
	d->ge_r = x[1] / 100;
	d->ge_bad_loss = x[2] / 100;
	d->ge_good_loss = x[3] / 100;
}

static void cw_rl_blackout(struct cw_rl_conf *c, const char *v)
{
	char buf[64], *colon;
	double a, b;

	if (strlen(v) >= sizeof(buf) || c->n_blackouts == CW_RL_MAX_BLACKOUTS)
		cw_rl_usage("bad or too many --blackout '%s'", v);
	strcpy(buf, v);
	colon = strchr(buf, ':');
	if (!colon)
		cw_rl_usage("bad --blackout '%s' (want T1:T2)", v);
	*colon = '\0';
	a = cw_rl_num(buf, 0, 1e6, "--blackout start");
	b = cw_rl_num(colon + 1, a, 1e6, "--blackout end");
	c->blackout[c->n_blackouts].from_ns = (uint64_t)(a * CW_RL_NS);
	c->blackout[c->n_blackouts].to_ns = (uint64_t)(b * CW_RL_NS);
	c->n_blackouts++;
}

enum {
	O_LOSS = 256,
	O_BURST,
	O_DELAY,
	O_JITTER,
	O_REORDER,
	O_GAP,
	O_HOLD,
	O_DUP,
	O_CORRUPT,
	O_RATE,
	O_RBURST,
	O_RQUEUE,
	O_BLACKOUT,
	O_EPOCH,
	O_REBIND,
	O_MAXCL,
	O_IDLE,
	O_MAXPEND,
	O_MAXBYTES,
	O_SOCKBUF,
	O_SINT,
	O_SFILE,
	O_PFILE,
};

/* An option that sets a field of one or both directions. */
static bool cw_rl_dir_opt(struct cw_rl_conf *c, int opt, const char *arg)
{
	const char *v;
	unsigned mask = cw_rl_dirs(arg, &v);

	if (opt < O_LOSS || opt > O_RQUEUE)
		return false;
	for (unsigned d = 0; d < CW_RL_DIRS; d++) {
		struct cw_rl_dir_conf *x = &c->dir[d];

		if (!(mask & 1u << d))
			continue;
		switch (opt) {
		case O_LOSS:
			x->loss = cw_rl_num(v, 0, 100, "--loss") / 100;
			x->ge = false;
			break;
		case O_BURST:
			cw_rl_burst_loss(x, v);
			break;
		case O_DELAY:
			x->delay_ns = (uint64_t)(cw_rl_num(v, 0, 3.6e6, "--delay") * 1e6);
			break;
		case O_JITTER:
			x->jitter_ns = (uint64_t)(cw_rl_num(v, 0, 3.6e6, "--jitter") * 1e6);
			break;
		case O_REORDER:
			x->reorder = cw_rl_num(v, 0, 100, "--reorder") / 100;
			break;
		case O_GAP:
			x->reorder_gap = (unsigned)cw_rl_num(v, 0, 1e6, "--reorder-gap");
			break;
		case O_HOLD:
			x->reorder_hold_ns =
			    (uint64_t)(cw_rl_num(v, 0, 3.6e6, "--reorder-hold") * 1e6);
			break;
		case O_DUP:
			x->dup = cw_rl_num(v, 0, 100, "--duplicate") / 100;
			break;
		case O_CORRUPT:
			x->corrupt = cw_rl_num(v, 0, 100, "--corrupt") / 100;
			break;
		case O_RATE:
			x->rate = cw_rl_bytes(v, "--rate");
			break;
		case O_RBURST:
			x->rate_burst = cw_rl_bytes(v, "--rate-burst");
			break;
		default:
			x->rate_queue = cw_rl_bytes(v, "--rate-queue");
			break;
		}
	}
	return true;
}

static void cw_rl_other_opt(struct cw_rl_conf *c, int opt, const char *v)
{
	switch (opt) {
	case 'l':
		cw_rl_addr(v, &c->listen, &c->listen_len);
		break;
	case 'u':
		cw_rl_addr(v, &c->upstream, &c->upstream_len);
		break;
	case 's':
		c->seed = strtoull(v, NULL, 0);
		break;
	case O_BLACKOUT:
		cw_rl_blackout(c, v);
		break;
	case O_EPOCH:
		if (strcmp(v, "start") && strcmp(v, "first"))
			cw_rl_usage("bad --epoch '%s' (start or first)", v);
		c->epoch_first = strcmp(v, "first") == 0;
		break;
	case O_REBIND:
		c->rebind_ns = (uint64_t)(cw_rl_num(v, 0.001, 1e6, "--rebind-every") * CW_RL_NS);
		break;
	case O_MAXCL:
		c->max_clients = (unsigned)cw_rl_num(v, 1, 65536, "--max-clients");
		break;
	case O_IDLE:
		c->client_idle_ns = (uint64_t)(cw_rl_num(v, 0, 1e6, "--client-idle") * CW_RL_NS);
		break;
	case O_MAXPEND:
		c->max_pending = (unsigned)cw_rl_num(v, 1, 1e7, "--max-pending");
		break;
	case O_MAXBYTES:
		c->max_pending_bytes = cw_rl_bytes(v, "--max-pending-bytes");
		break;
	case O_SOCKBUF:
		c->sockbuf = (int)cw_rl_num(v, 4096, 1 << 30, "--sockbuf");
		break;
	case O_SINT:
		c->stats_interval_ns =
		    (uint64_t)(cw_rl_num(v, 0.001, 1e6, "--stats-interval") * CW_RL_NS);
		break;
	case O_SFILE:
		c->stats_file = v;
		break;
	case O_PFILE:
		c->port_file = v;
		break;
	case 'h':
		cw_rl_help(stdout);
		exit(0);
	default:
		cw_rl_help(stderr);
		exit(2);
	}
}

static void cw_rl_defaults(struct cw_rl_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->seed = 1;
	c->max_clients = 256;
	c->client_idle_ns = 120 * CW_RL_NS;
	c->max_pending = 8192;
	c->max_pending_bytes = 64ULL << 20;
	c->sockbuf = 4 << 20;
	for (unsigned d = 0; d < CW_RL_DIRS; d++) {
		c->dir[d].reorder_gap = 3;
		c->dir[d].reorder_hold_ns = 100000000;
		c->dir[d].rate_burst = 16384;
		c->dir[d].rate_queue = 262144;
	}
}

void cw_rl_parse(struct cw_rl_conf *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"upstream", required_argument, NULL, 'u'},
	    {"seed", required_argument, NULL, 's'},
	    {"loss", required_argument, NULL, O_LOSS},
	    {"burst-loss", required_argument, NULL, O_BURST},
	    {"delay", required_argument, NULL, O_DELAY},
	    {"jitter", required_argument, NULL, O_JITTER},
	    {"reorder", required_argument, NULL, O_REORDER},
	    {"reorder-gap", required_argument, NULL, O_GAP},
	    {"reorder-hold", required_argument, NULL, O_HOLD},
	    {"duplicate", required_argument, NULL, O_DUP},
	    {"corrupt", required_argument, NULL, O_CORRUPT},
	    {"rate", required_argument, NULL, O_RATE},
	    {"rate-burst", required_argument, NULL, O_RBURST},
	    {"rate-queue", required_argument, NULL, O_RQUEUE},
	    {"blackout", required_argument, NULL, O_BLACKOUT},
	    {"epoch", required_argument, NULL, O_EPOCH},
	    {"rebind-every", required_argument, NULL, O_REBIND},
	    {"max-clients", required_argument, NULL, O_MAXCL},
	    {"client-idle", required_argument, NULL, O_IDLE},
	    {"max-pending", required_argument, NULL, O_MAXPEND},
	    {"max-pending-bytes", required_argument, NULL, O_MAXBYTES},
	    {"sockbuf", required_argument, NULL, O_SOCKBUF},
	    {"stats-interval", required_argument, NULL, O_SINT},
	    {"stats-file", required_argument, NULL, O_SFILE},
	    {"port-file", required_argument, NULL, O_PFILE},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int opt;

	cw_rl_defaults(c);
	while ((opt = getopt_long(argc, argv, "l:u:s:h", opts, NULL)) != -1) {
		if (!cw_rl_dir_opt(c, opt, optarg ? optarg : ""))
			cw_rl_other_opt(c, opt, optarg);
	}
	if (optind != argc)
		cw_rl_usage("unexpected argument '%s'", argv[optind]);
	if (!c->listen_len || !c->upstream_len)
		cw_rl_usage("%s", "--listen and --upstream are required");
}
