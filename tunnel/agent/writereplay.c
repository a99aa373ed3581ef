/* SPDX-License-Identifier: Apache-2.0 */
#include "writereplay.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tunnel/msg_body.h"
#include "writepolicy.h"

#define PATH_MAX_LEN 4096
#define ANSWER_MAX   (1u << 20) /* a lease or a Status: far less */
#define MS	     1000

/* Where the entry at the head of the queue is. */
enum phase {
	IDLE = 0,  /* nothing in flight */
	FIRST,	   /* the entry as queued */
	AGAIN,	   /* a status write without its precondition */
	LEASE_GET, /* the current lease, after a 409 */
	LEASE_PUT, /* ours on top of it */
};

struct cw_writereplay {
	struct event_base *base;
	struct event *timer;
	struct cw_writeq *q;
	const char *node;
	struct cw_as *as;
	void (*kick)(void *ctx);
	void *kick_ctx;
	struct cw_compress *zc; /* zstd answers without a dictionary */
	enum phase phase;
	struct cw_writeq_entry *e; /* the head of the queue while in flight */
	enum cw_wp_kind kind;
	uint64_t stream;
	unsigned status; /* of the answer; 0: none (yet), or the gateway's Error */
	char *ans;	 /* the answer's body */
	size_t ans_len;
	bool ans_bad; /* over ANSWER_MAX or not decodable */
	uint32_t backoff_ms;
	struct cw_writereplay_stats st;
};

static void arm(struct cw_writereplay *r, uint32_t ms)
{
	struct timeval tv = {.tv_sec = ms / MS, .tv_usec = (ms % MS) * MS};

	evtimer_add(r->timer, &tv);
}

/* The answer so far and the entry in flight are forgotten. */
static void settle(struct cw_writereplay *r)
{
	free(r->e);
	free(r->ans);
	r->e = NULL;
	r->ans = NULL;
	r->ans_len = 0;
	r->ans_bad = false;
	r->status = 0;
	r->phase = IDLE;
}

/* ---- sending ---- */

static int send_request(struct cw_writereplay *r, const char *verb, const char *uri,
			const char *ctype, const void *body, size_t len)
{
	Causeway__V1__ApiRequest rq = CAUSEWAY__V1__API_REQUEST__INIT;
	cw_envelope env = CAUSEWAY__V1__ENVELOPE__INIT;
	Causeway__V1__Header hs[2], *hp[2];
	Causeway__V1__Body b = CAUSEWAY__V1__BODY__INIT;
	const char *q = strchr(uri, '?');
	size_t plen = q ? (size_t)(q - uri) : strlen(uri);
	char path[PATH_MAX_LEN];
	int rc;

	if (plen >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, uri, plen);
	path[plen] = '\0';
	rq.verb = (char *)verb;
	rq.path = path;
	rq.query = (char *)(q ? q + 1 : "");
	causeway__v1__header__init(&hs[0]);
	hs[0].name = "accept";
	hs[0].value = "application/json";
	hp[0] = &hs[0];
	rq.n_headers = 1;
	if (*ctype) {
		causeway__v1__header__init(&hs[1]);
		hs[1].name = "content-type";
		hs[1].value = (char *)ctype;
		hp[1] = &hs[1];
		rq.n_headers = 2;
	}
	rq.headers = hp;
	if (len) {
		cw_msg_body_identity(&b, body, len);
		rq.body = &b;
	}
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_API_REQUEST;
	env.api_request = &rq;
	rc = cw_as_api_open(r->as, &env, &r->stream);
	if (rc == 0 && r->kick)
		r->kick(r->kick_ctx);
	return rc;
}

static void retry_later(struct cw_writereplay *r, const char *why)
{
	cw_adebug("write queue: entry %" PRIu64 " kept (%s), again in %u ms", r->e ? r->e->seq : 0,
		  why, r->backoff_ms);
	settle(r);
	arm(r, r->backoff_ms);
	r->backoff_ms =
	    r->backoff_ms * 2 > CW_WRP_BACKOFF_MAX_MS ? CW_WRP_BACKOFF_MAX_MS : r->backoff_ms * 2;
}

/* The head of the queue is done with: applied, settled or dropped. */
static void pop(struct cw_writereplay *r)
{
	int rc = cw_writeq_pop(r->q, r->e->seq);

	if (rc < 0) {
		/* Sent again after the backoff rather than at once, forever. */
		cw_aerr("write queue: entry %" PRIu64 " cannot be removed: %s", r->e->seq,
			strerror(-rc));
		retry_later(r, "the queue cannot be written");
		return;
	}
	settle(r);
	r->st.depth = cw_writeq_depth(r->q);
	r->st.bytes = cw_writeq_bytes(r->q);
	arm(r, 0);
}

static void drop(struct cw_writereplay *r, const char *why)
{
	cw_awarn("write queue: %s %s dropped: %s (%u)", r->e->verb, r->e->uri, why, r->status);
	r->st.dropped++;
	pop(r);
}

/* A request of the replay could not be opened (@rc of cw_as_api_open()). */
static void open_failed(struct cw_writereplay *r, int rc)
{
	if (rc == -EAGAIN || rc == -ENOTCONN) {
		settle(r);
		arm(r, CW_WRP_POLL_MS);
	} else if (rc == -EMSGSIZE || rc == -ENOBUFS || rc == -ENAMETOOLONG) {
		drop(r, "too large for the gateway");
	} else {
		retry_later(r, strerror(-rc));
	}
}

static void next(evutil_socket_t fd, short what, void *arg)
{
	struct cw_writereplay *r = arg;
	int rc;

	(void)fd;
	(void)what;
	if (r->phase != IDLE || !r->as)
		return;
	if (cw_as_state(r->as) != CW_AS_ESTABLISHED) {
		if (cw_as_state(r->as) < CW_AS_ESTABLISHED)
			arm(r, CW_WRP_POLL_MS);
		return;
	}
	rc = cw_writeq_peek(r->q, &r->e);
	if (rc == -ENOENT)
		return;
	if (rc < 0) {
		retry_later(r, strerror(-rc));
		return;
	}
	r->kind = cw_wp_classify(r->e->verb, r->e->uri);
	r->phase = FIRST;
	rc = send_request(r, r->e->verb, r->e->uri, r->e->ctype, r->e->body, r->e->len);
	if (rc < 0)
		open_failed(r, rc);
}

/* ---- answers ---- */

static void resend(struct cw_writereplay *r, enum phase ph, const char *verb, const char *ctype,
		   char *body, size_t len)
{
	int rc;

	free(r->ans);
	r->ans = NULL;
	r->ans_len = 0;
	r->ans_bad = false;
	r->status = 0;
	r->phase = ph;
	rc = send_request(r, verb, r->e->uri, ctype, body, len);
	free(body);
	if (rc < 0)
		open_failed(r, rc);
}

static void conflict_settled(struct cw_writereplay *r, const char *how)
{
	cw_ainfo("write queue: %s %s: conflict settled: %s", r->e->verb, r->e->uri, how);
	r->st.conflicts++;
}

static void on_first(struct cw_writereplay *r)
{
	char *body;
	size_t len;

	switch (cw_wp_decide(r->kind, r->e->verb, r->status)) {
	case CW_WP_DONE:
		r->st.replayed++;
		r->backoff_ms = CW_WRP_BACKOFF_MIN_MS;
		pop(r);
		break;
	case CW_WP_RETRY:
		retry_later(r, r->status ? "the API server failed" : "no answer");
		break;
	case CW_WP_REAPPLY:
		if (cw_wp_strip_rv(r->e->body, r->e->len, &body, &len) < 0)
			drop(r, "a conflict not about its resourceVersion");
		else
			resend(r, AGAIN, r->e->verb, r->e->ctype, body, len);
		break;
	case CW_WP_LEASE_READ:
		resend(r, LEASE_GET, "GET", "", NULL, 0);
		break;
	case CW_WP_RESOLVED:
		conflict_settled(r, "it exists already");
		pop(r);
		break;
	case CW_WP_DROP:
		drop(r, r->status == 409 ? "a conflict with no policy" : "refused");
		break;
	}
}

static void on_again(struct cw_writereplay *r)
{
	switch (cw_wp_decide(CW_WP_NONE, r->e->verb, r->status)) {
	case CW_WP_DONE:
		conflict_settled(r, r->phase == AGAIN ? "applied without its precondition"
						      : "our lease renewal applied");
		r->st.replayed++;
		pop(r);
		break;
	case CW_WP_RETRY:
		retry_later(r, "no answer to the second try");
		break;
	default:
		drop(r, "the second try was refused");
		break;
	}
}

static void on_lease(struct cw_writereplay *r)
{
	bool patch = !strcmp(r->e->verb, "PATCH");
	char *body;
	size_t len;
	int rc;

	if (r->status != 200 || r->ans_bad) {
		if (cw_wp_decide(CW_WP_NONE, "GET", r->status) == CW_WP_RETRY)
			retry_later(r, "no answer to the lease's read");
		else
			drop(r, "the lease cannot be read");
		return;
	}
	rc = cw_wp_lease_rebase(r->e->body, r->e->len, patch, r->ans, r->ans_len, r->node, &body,
				&len);
	if (rc == -EPERM) {
		conflict_settled(r, "another holder has the lease: ours dropped");
		drop(r, "another holder has the lease");
	} else if (rc < 0) {
		drop(r, "the lease is not JSON");
	} else {
		resend(r, LEASE_PUT, r->e->verb, r->e->ctype, body, len);
	}
}

static void on_answer(struct cw_writereplay *r)
{
	switch (r->phase) {
	case FIRST:
		on_first(r);
		break;
	case AGAIN:
	case LEASE_PUT:
		on_again(r);
		break;
	case LEASE_GET:
		on_lease(r);
		break;
	case IDLE:
		break;
	}
}

static void add_answer(struct cw_writereplay *r, const Causeway__V1__Body *b)
{
	uint8_t *tmp = NULL;
	const void *p = b ? b->data.data : NULL;
	size_t len = b ? b->data.len : 0;
	char *n;

	if (!b || r->ans_bad)
		return;
	if (b->encoding != CAUSEWAY__V1__ENCODING__IDENTITY) {
		if (cw_msg_body_unpack_alloc(r->zc, 0, b, ANSWER_MAX, cw_alloc_default(), &tmp,
					     &len) < 0) {
			r->ans_bad = true;
			return;
		}
		p = tmp;
	}
	if (r->ans_len + len > ANSWER_MAX || !(n = realloc(r->ans, r->ans_len + len + 1))) {
		r->ans_bad = true;
	} else {
		if (len)
			memcpy(n + r->ans_len, p, len);
		r->ans = n;
		r->ans_len += len;
	}
	free(tmp);
}

bool cw_writereplay_on_event(struct cw_writereplay *r, const struct cw_as_event *ev)
{
	cw_envelope *env;
	uint64_t code;
	int rc;

	if (!r || r->phase == IDLE || !r->as || ev->stream != r->stream)
		return false;
	while ((rc = cw_as_api_read(r->as, r->stream, &env, &code)) == 0) {
		if (env->msg_case == CAUSEWAY__V1__ENVELOPE__MSG_API_RESPONSE) {
			if (!r->status)
				r->status = env->api_response->status;
			add_answer(r, env->api_response->body);
		} else if (env->msg_case == CAUSEWAY__V1__ENVELOPE__MSG_ERROR) {
			cw_adebug("write queue: the gateway's Error %u", env->error->code);
			r->status = 0;
		}
		cw_as_api_msg_free(r->as, r->stream, env);
	}
	if (rc == -EAGAIN)
		return true;
	if (rc != -EPIPE)
		r->status = 0;
	on_answer(r);
	return true;
}

/* ---- the rest ---- */

int cw_writereplay_enqueue(struct cw_writereplay *r, const char *verb, const char *uri,
			   const char *ctype, const void *body, size_t len, uint64_t *seq)
{
	struct cw_writeq_entry e = {.uri = uri, .ctype = ctype, .body = body, .len = len};
	enum cw_wp_kind kind = cw_wp_classify(verb, uri);
	int rc;

	if (kind == CW_WP_NONE)
		return -EPERM;
	snprintf(e.verb, sizeof(e.verb), "%s", verb);
	rc = cw_writeq_push(r->q, &e, cw_wp_supersedes(kind, verb), seq);
	if (rc == -ENOSPC)
		r->st.full++;
	if (rc < 0)
		return rc;
	r->st.queued++;
	r->st.depth = cw_writeq_depth(r->q);
	r->st.bytes = cw_writeq_bytes(r->q);
	/* A pending timer is a backoff or a wait for the session: kept. */
	if (r->as && r->phase == IDLE && !evtimer_pending(r->timer, NULL))
		arm(r, 0);
	return 0;
}

bool cw_writereplay_pending(const struct cw_writereplay *r)
{
	return r && cw_writeq_depth(r->q) > 0;
}

void cw_writereplay_attach(struct cw_writereplay *r, struct cw_as *as, void (*kick)(void *),
			   void *ctx)
{
	if (!r)
		return;
	settle(r);
	evtimer_del(r->timer);
	r->as = as;
	r->kick = kick;
	r->kick_ctx = ctx;
	r->backoff_ms = CW_WRP_BACKOFF_MIN_MS;
	if (as)
		arm(r, 0);
}

void cw_writereplay_stats(const struct cw_writereplay *r, struct cw_writereplay_stats *out)
{
	if (r)
		*out = r->st;
	else
		memset(out, 0, sizeof(*out));
}

int cw_writereplay_new(struct event_base *base, struct cw_writeq *q, const char *node,
		       struct cw_writereplay **out)
{
	struct cw_writereplay *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->base = base;
	r->q = q;
	r->node = node;
	r->backoff_ms = CW_WRP_BACKOFF_MIN_MS;
	r->st.depth = cw_writeq_depth(q);
	r->st.bytes = cw_writeq_bytes(q);
	r->timer = evtimer_new(base, next, r);
	if (!r->timer || cw_compress_init(&r->zc, NULL, 0) < 0) {
		cw_writereplay_free(r);
		return -ENOMEM;
	}
	*out = r;
	return 0;
}

void cw_writereplay_free(struct cw_writereplay *r)
{
	if (!r)
		return;
	settle(r);
	if (r->timer)
		event_free(r->timer);
	cw_compress_free(r->zc);
	free(r);
}
