/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libcurl's multi interface on the control thread's libevent loop: one
 * multi handle for every HTTP client of causewayd (the upstream route, the
 * hub's reflectors), its sockets and timer as libevent events.
 */
#ifndef CW_CURLEV_H
#define CW_CURLEV_H

#include <curl/curl.h>

struct event_base;
struct cw_curlev;

/* A transfer's owner: @done(@ctx, @rc) once it is over (the handle is then
 * out of the multi; its owner cleans it up). */
struct cw_curlev_job {
	void (*done)(void *ctx, CURLcode rc);
	void *ctx;
};

/* Returns 0 and *@out, -EIO (libcurl), -ENOMEM. */
int cw_curlev_new(struct event_base *base, struct cw_curlev **out);

/* Free @c (NULL: no-op); its transfers must have been removed. */
void cw_curlev_free(struct cw_curlev *c);

/* Start @easy for @job (which must outlive the transfer). Uses
 * CURLOPT_PRIVATE. Returns 0 or -EIO. */
int cw_curlev_add(struct cw_curlev *c, CURL *easy, struct cw_curlev_job *job);

/* Stop @easy early (no @done). */
void cw_curlev_remove(struct cw_curlev *c, CURL *easy);

#endif /* CW_CURLEV_H */
