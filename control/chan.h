/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A dial channel: one ingress client's TCP connection on the control thread
 * joined to one dial stream (PROTOCOL.md §13.5) on the worker that owns the
 * node's session. The two threads share nothing else about it.
 *
 * Bytes cross in two single-producer single-consumer byte rings, "up"
 * (client -> agent: the control thread writes, the worker reads) and "down"
 * (agent -> client: the worker writes, the control thread reads). No locks:
 * each ring index has one writer, published with release stores and read
 * with acquire loads. Backpressure is the rings' size: the control thread
 * reads the client socket only while "up" has room, and the worker reads
 * the stream (granting the agent credit) only while "down" has room, so a
 * slow end slows the other end and nothing else.
 *
 * Each side tells the other that something changed by queueing the channel
 * on the other's ring of work (an rte_ring of pointers) and waking it; a
 * "queued" flag per side keeps a channel in each ring at most once.
 *
 * Lifetime: a reference count of 2 at creation, one per side, both
 * dropped on the control thread: the worker's when the control thread has
 * seen @gone, the control thread's own when the client connection is
 * closed (an API channel's: when its answer is complete). Besides, every
 * entry in a ring of work holds a reference, taken by the side that
 * queues it (cw_chan_mark() said to) and dropped by the side that took it
 * out once done with it, and so does a worker's list of channels with
 * work: a channel is never freed while a ring or a list still names it.
 * The last reference frees it, on whichever thread drops it.
 */
#ifndef CW_CHAN_H
#define CW_CHAN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CW_CHAN_RING_SIZE  (256u << 10) /* bytes per direction, power of two */
#define CW_CHAN_HOST_MAX   64
#define CW_CHAN_ORIGIN_MAX 64
#define CW_CHAN_REASON_MAX 128

/* A single-producer single-consumer byte ring. */
struct cw_bring {
	_Atomic size_t head; /* bytes ever written: the producer's */
	_Atomic size_t tail; /* bytes ever read: the consumer's */
	size_t size;	     /* power of two */
	uint8_t *buf;
};

/* Producer: copy up to @len bytes in; returns how many fit. */
size_t cw_bring_write(struct cw_bring *r, const uint8_t *data, size_t len);

/* Producer: bytes of room left. */
size_t cw_bring_room(const struct cw_bring *r);

/*
 * Producer, writing in place (a recv() straight into the ring): the
 * contiguous free bytes at the back (*@p, return value; 0 when full).
 * cw_bring_commit() publishes the first @n of them once written.
 */
size_t cw_bring_reserve(const struct cw_bring *r, uint8_t **p);
void cw_bring_commit(struct cw_bring *r, size_t n);

/*
 * Consumer: the contiguous readable bytes at the front (*@p, return value;
 * 0 when empty). cw_bring_consume() releases them after use.
 */
size_t cw_bring_peek(const struct cw_bring *r, const uint8_t **p);
void cw_bring_consume(struct cw_bring *r, size_t n);

/* Either side: bytes waiting to be read. */
size_t cw_bring_used(const struct cw_bring *r);

enum cw_chan_result {
	CW_CHAN_PENDING = 0, /* the agent has not answered yet */
	CW_CHAN_OK,	     /* DialResult ok: bytes flow */
	CW_CHAN_FAILED,	     /* dial failed: @dial_error, @reason */
};

struct cw_chan {
	_Atomic int refs;

	/* Set by the control thread before the worker first sees it. */
	uint64_t session_id;
	uint16_t port;
	uint32_t worker;
	uint32_t timeout_ms;
	char host[CW_CHAN_HOST_MAX];
	char origin[CW_CHAN_ORIGIN_MAX];

	struct cw_bring up, down;

	/* Control -> worker. */
	_Atomic bool up_fin;   /* the client finished sending, after its last byte in up */
	_Atomic bool abort_c;  /* the client went away: reset the stream */
	_Atomic bool queued_w; /* in the worker's ring of work */
	/* An API channel's writer found "up" full: the worker tells it when it
	 * took bytes out (cw_chan_room_wanted()); unset, it does not, so that
	 * a stream that keeps up costs the control thread no wake-up. */
	_Atomic bool up_want;
	/* Worker -> control. */
	_Atomic int result;  /* enum cw_chan_result, stored after the fields below */
	uint32_t dial_error; /* DialError when FAILED */
	char reason[CW_CHAN_REASON_MAX];
	_Atomic bool down_fin; /* the agent finished, after its last byte in down */
	_Atomic bool reset_w;  /* the agent reset or stopped the stream */
	_Atomic bool gone;     /* the stream is over; nothing more will come */
	_Atomic bool queued_c; /* in the control thread's ring of work */

	/* An agent's API request (cw_chan_new_api()), given to api_free with
	 * api_ctx when the channel is freed, on whichever thread that is. */
	void *api;
	void (*api_free)(void *ctx, void *api);
	void *api_ctx;

	/* The control thread's own. */
	void *cuser;
	bool cstarted; /* an API channel's request was taken up */
	bool wput;     /* the worker's reference was dropped */

	/* The worker's own. */
	uint64_t stream;
	struct cw_chan *wnext;		 /* the worker's list of channels with work */
	struct cw_chan *wonext, *woprev; /* its channels with a stream, until released */
	bool wlisted, wrelease;
	bool opened, reset_sent, up_fin_sent, down_fin_seen;
};

/* A channel with both rings, refs 2. NULL when out of memory. */
struct cw_chan *cw_chan_new(void);

/*
 * An API channel (control/apiserve.h), refs 2: request @api (given to
 * @api_free with @ctx when the channel is freed), and no room in either
 * ring yet: after its request the agent sends nothing ("down" stays
 * empty), and "up" gets its buffer from cw_chan_api_ring() on the control
 * thread, so that the worker allocates no more than the channel itself.
 * NULL when out of memory.
 */
struct cw_chan *cw_chan_new_api(void *api, void (*api_free)(void *ctx, void *api), void *ctx);

/*
 * Control thread, before its first write to "up": a ring of @size bytes
 * (a power of two). The worker reads the buffer only after the head that
 * a write publishes (release, acquire). Returns 0 or -ENOMEM.
 */
int cw_chan_api_ring(struct cw_chan *c, size_t size);

/* Take one more reference. */
void cw_chan_get(struct cw_chan *c);

/* Drop one reference; the last frees the channel. */
void cw_chan_put(struct cw_chan *c);

/*
 * Mark @c for the worker (@for_worker) or the control thread. Returns true
 * when the caller must enqueue it on that side's ring of work (it was not
 * queued), false when it already is.
 */
bool cw_chan_mark(struct cw_chan *c, bool for_worker);

/* The side that dequeued @c clears its mark before looking at the state. */
void cw_chan_unmark(struct cw_chan *c, bool for_worker);

/*
 * Control thread, after a write to "up" fell short: ask for word of room
 * (up_want). Returns the room there is now: a worker that took bytes out
 * before it could see the request did not tell, so the caller writes
 * again into what it returns.
 */
size_t cw_chan_want_room(struct cw_chan *c);

/* Worker, after it took bytes out of "up": whether the control thread
 * asked to hear of it (the request is cleared). */
bool cw_chan_room_wanted(struct cw_chan *c);

#endif /* CW_CHAN_H */
