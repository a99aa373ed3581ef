/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The local side of dial streams (PROTOCOL.md §13.5): for each allowed
 * Dial the session core reports, a non-blocking TCP connect with the
 * Dial's timeout, the DialResult, then the connection's bytes relayed to
 * and from the stream on libevent bufferevents.
 *
 * Backpressure both ways: bytes are read from TCP only as far as the
 * stream takes them (reading stops on a short stream write and resumes on
 * CW_AS_F_WRITABLE; the socket's input buffer is capped at
 * CW_DIAL_IN_MAX), and read from the stream only while the socket's output
 * buffer is under CW_DIAL_OUT_MAX, so stream credit is granted only as
 * fast as the local peer accepts data.
 *
 * Half-close: TCP EOF -> stream FIN once every byte before it went into
 * the stream; stream FIN -> shutdown(SHUT_WR) once every byte before it
 * was written. Abort: a TCP reset or error -> RESET_STREAM and
 * STOP_SENDING with CONNECTION_RESET; a reset from the gateway -> the
 * socket is closed with SO_LINGER 0 (RST).
 */
#ifndef CW_AGENT_DIAL_H
#define CW_AGENT_DIAL_H

#include <stdint.h>

#include <event2/event.h>

#include "session.h"

#define CW_DIAL_IN_MAX	(64 * 1024)  /* TCP bytes buffered before the stream takes them */
#define CW_DIAL_OUT_MAX (256 * 1024) /* stream bytes buffered before TCP takes them */

struct cw_dials;

struct cw_dials_stats {
	uint64_t active;	  /* local connections open or connecting */
	uint64_t connected;	  /* connects that succeeded */
	uint64_t failed;	  /* connects that failed or timed out */
	uint64_t aborted;	  /* connections ended by a reset either way */
	uint64_t tcp_in, tcp_out; /* bytes read from / queued to local sockets */
};

/*
 * The dial side of session @as on @base. @kick is called after anything
 * that gives the session something to send (the caller flushes it).
 * Returns NULL when out of memory.
 */
struct cw_dials *cw_dials_new(struct event_base *base, struct cw_as *as, void (*kick)(void *),
			      void *kick_ctx);

/* Close every local connection with a reset (the session is gone) and free. */
void cw_dials_free(struct cw_dials *ds);

/* An event from cw_as_next_event(). */
void cw_dials_on_event(struct cw_dials *ds, const struct cw_as_event *ev);

void cw_dials_stats(const struct cw_dials *ds, struct cw_dials_stats *out);

#endif
