/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The edge hub's offline write queue (DESIGN.md §5): the node's writes
 * that could not reach the API server, kept on disk in order until they
 * can be replayed (writereplay.h).
 *
 * A FIFO in its own LMDB environment (a directory, [agent] cache_dir/
 * writes): key = the entry's sequence number (big-endian, so LMDB's order
 * is the queue's), value = verb, URI, content-type and body. Every change
 * is one synced write transaction: a write the client was told is queued
 * survives a kill -9 or a power cut, and so does its place in the order.
 *
 * Bounded by a number of entries and a number of bytes (URI, content-type
 * and body of every entry), both counted again at open.
 */
#ifndef CW_AGENT_WRITEQ_H
#define CW_AGENT_WRITEQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CW_WRITEQ_VERB_MAX  8	 /* "DELETE" and a NUL */
#define CW_WRITEQ_URI_MAX   4095 /* path and query */
#define CW_WRITEQ_CTYPE_MAX 127

/* One queued write. In cw_writeq_peek()'s answer the strings and the body
 * live with the entry; for cw_writeq_push() they are the caller's. */
struct cw_writeq_entry {
	uint64_t seq;
	char verb[CW_WRITEQ_VERB_MAX];
	const char *uri;
	const char *ctype; /* "" when the request had none */
	const void *body;
	size_t len;
};

struct cw_writeq;

/*
 * Open (creating it) the queue in directory @dir (created if missing), at
 * most @max_entries entries and @max_bytes bytes. Returns 0 and *@out,
 * -EINVAL (a bound of 0), -ENOMEM, or a negative errno from the file
 * system or LMDB (-EIO for LMDB's own errors).
 */
int cw_writeq_open(const char *dir, uint32_t max_entries, uint64_t max_bytes,
		   struct cw_writeq **out);

void cw_writeq_close(struct cw_writeq *q);

/*
 * Append @e (its seq is ignored) as the newest entry and set *@seq to its
 * number. With @coalesce, entries already queued with the same verb and
 * URI are removed in the same transaction (a later write that replaces
 * them whole: writepolicy.h says which). Returns 0, -ENOSPC (a bound, or
 * the disk: nothing queued), -ENAMETOOLONG (URI or content-type too long),
 * -EINVAL (a verb that does not fit), -EIO.
 */
int cw_writeq_push(struct cw_writeq *q, const struct cw_writeq_entry *e, bool coalesce,
		   uint64_t *seq);

/*
 * The oldest entry into *@out (malloc'd, one block: free() it). Returns 0,
 * -ENOENT when the queue is empty, -ENOMEM, -EIO (a damaged entry).
 */
int cw_writeq_peek(struct cw_writeq *q, struct cw_writeq_entry **out);

/* Remove entry @seq. Returns 0, -ENOENT (no such entry), -EIO. */
int cw_writeq_pop(struct cw_writeq *q, uint64_t seq);

/* Entries and bytes queued now. */
uint32_t cw_writeq_depth(const struct cw_writeq *q);
uint64_t cw_writeq_bytes(const struct cw_writeq *q);

#endif /* CW_AGENT_WRITEQ_H */
