/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The upstream change of causeway-loadgen's watch mode: one JSON merge
 * patch setting an annotation, sent over plain HTTP/1.1 to the API server
 * (the fake apiserver) from the generator's own thread. The connection is
 * made first, so that the send itself is all that stands between the
 * timestamp taken just before it and the change; the answer is read later
 * without blocking.
 */
#ifndef CW_PERF_LG_PATCH_H
#define CW_PERF_LG_PATCH_H

#include <stddef.h>

#define CW_LG_PATCH_KEY "causeway.io/lg-mark"

struct cw_lg_patch {
	int fd;
	char head[64]; /* the start of the answer */
	size_t len;
	int status; /* the answer's HTTP status; 0: none yet */
};

/*
 * Connect to @hostport ("A.B.C.D:PORT"), blocking. Returns 0, -EINVAL (not
 * an IPv4 address and port) or -errno of socket()/connect().
 */
int cw_lg_patch_connect(struct cw_lg_patch *p, const char *hostport);

/*
 * PATCH @path with {"metadata":{"annotations":{CW_LG_PATCH_KEY:@value}}}
 * (application/merge-patch+json). Returns 0 or -errno of send() (-EIO: a
 * short send).
 */
int cw_lg_patch_send(struct cw_lg_patch *p, const char *path, const char *value);

/*
 * Read what has come of the answer, without blocking. Returns 1 once its
 * status line is in (p->status set, the connection closed), 0 when not yet,
 * -EPROTO for an answer that is not HTTP, -ECONNRESET when the server closed
 * first, or -errno of recv().
 */
int cw_lg_patch_poll(struct cw_lg_patch *p);

/* Close the connection (if still open). */
void cw_lg_patch_close(struct cw_lg_patch *p);

#endif
