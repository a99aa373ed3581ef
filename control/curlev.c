/* SPDX-License-Identifier: Apache-2.0 */
#include "control/curlev.h"

#include <errno.h>
#include <stdlib.h>

#include <event2/event.h>

struct cw_curlev {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
};

static void check_done(struct cw_curlev *c)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(c->multi, &left))) {
		struct cw_curlev_job *job;
		CURL *e = m->easy_handle;
		CURLcode rc = m->data.result;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&job);
		curl_multi_remove_handle(c->multi, e);
		job->done(job->ctx, rc);
	}
}

static void on_socket(evutil_socket_t fd, short what, void *arg)
{
	struct cw_curlev *c = arg;
	int flags =
	    (what & EV_READ ? CURL_CSELECT_IN : 0) | (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
	int running;

	curl_multi_socket_action(c->multi, fd, flags, &running);
	check_done(c);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct cw_curlev *c = arg;
	int running;

	(void)fd;
	(void)what;
	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(c);
}

static int socket_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct cw_curlev *c = userp;
	struct event *ev = socketp;
	short kind = (short)((what & CURL_POLL_IN ? EV_READ : 0) |
			     (what & CURL_POLL_OUT ? EV_WRITE : 0) | EV_PERSIST);

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (ev)
			event_free(ev);
		curl_multi_assign(c->multi, s, NULL);
		return 0;
	}
	if (ev) {
		event_del(ev);
		event_assign(ev, c->base, s, kind, on_socket, c);
	} else {
		ev = event_new(c->base, s, kind, on_socket, c);
		if (!ev)
			return -1;
		curl_multi_assign(c->multi, s, ev);
	}
	return event_add(ev, NULL);
}

static int timer_cb(CURLM *m, long ms, void *userp)
{
	struct cw_curlev *c = userp;
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	(void)m;
	if (ms < 0)
		return evtimer_del(c->timer);
	return evtimer_add(c->timer, &tv);
}

int cw_curlev_new(struct event_base *base, struct cw_curlev **out)
{
	struct cw_curlev *c;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -EIO;
	c = calloc(1, sizeof(*c));
	if (!c) {
		curl_global_cleanup();
		return -ENOMEM;
	}
	c->base = base;
	c->multi = curl_multi_init();
	c->timer = evtimer_new(base, on_timer, c);
	if (!c->multi || !c->timer) {
		cw_curlev_free(c);
		return -ENOMEM;
	}
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	*out = c;
	return 0;
}

void cw_curlev_free(struct cw_curlev *c)
{
	if (!c)
		return;
	if (c->multi)
		curl_multi_cleanup(c->multi);
	if (c->timer)
		event_free(c->timer);
	free(c);
	curl_global_cleanup();
}

int cw_curlev_add(struct cw_curlev *c, CURL *easy, struct cw_curlev_job *job)
{
	curl_easy_setopt(easy, CURLOPT_PRIVATE, job);
	return curl_multi_add_handle(c->multi, easy) == CURLM_OK ? 0 : -EIO;
}

void cw_curlev_remove(struct cw_curlev *c, CURL *easy)
{
	curl_multi_remove_handle(c->multi, easy);
}
