/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node directory: which worker and session slot hold each connected
 * edge node. The ingress, the hub and `causewayctl status` look nodes up by
 * name from any thread; sessions come and go on the control thread.
 *
 * Lookups are lock-free: the table is a liburcu lock-free hash table read
 * under the QSBR flavour of RCU (DESIGN.md §3: workers report a quiescent
 * state once per loop iteration). A reader thread must be registered with
 * rcu_register_thread() and hold rcu_read_lock() across a lookup; what it
 * copies out stays valid after the unlock. Replaced and removed entries
 * are freed after a grace period (call_rcu), never under a reader.
 *
 * Writers (put, del) may run on any registered thread but must be
 * serialised by the caller (the control thread is the only writer).
 *
 * A node has at most one live session: putting a node that is present
 * replaces the old entry and hands it back, so the caller can close the
 * displaced session with SESSION_REPLACED (PROTOCOL.md §11.2). Each entry
 * carries a generation; deleting with a stale generation does nothing, so
 * the late close of a replaced session cannot remove its successor.
 */
#ifndef CW_NODEDIR_H
#define CW_NODEDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CW_NODE_NAME_MAX 253 /* a Kubernetes node name (DNS-1123 subdomain) */
#define CW_POOL_NAME_MAX 63

struct cw_node_info {
	char name[CW_NODE_NAME_MAX + 1];
	char pool[CW_POOL_NAME_MAX + 1];
	uint32_t worker;  /* owning worker lcore index */
	uint32_t slot;	  /* session slot in that worker's table */
	uint64_t gen;	  /* set by cw_nodedir_put: unique per entry, increasing */
	uint64_t since;	  /* when the session was established, caller's clock (ns) */
	uint8_t addr[16]; /* the agent's address as last seen (IPv4: first 4 bytes) */
	uint8_t family;	  /* 4 or 6 */
	uint16_t port;	  /* host order */
	uint64_t session_id;		/* the gateway's id of the live session */
	uint16_t allowed_ports[64];	/* the agent's Dial allow-list (Hello) */
	uint8_t n_allowed;		/* 0: the agent stated none */
	bool resumed;			/* the session resumed a TLS session */
	char agent_version[64];
};

struct cw_nodedir;

/*
 * An empty directory. The calling thread need not be registered. Returns
 * NULL when out of memory.
 */
struct cw_nodedir *cw_nodedir_new(void);

/*
 * Free @d and every entry. No reader may use @d any more; waits for a grace
 * period, so the calling thread must not be inside a read-side section.
 */
void cw_nodedir_free(struct cw_nodedir *d);

/*
 * Insert @n (its name must be non-empty, at most CW_NODE_NAME_MAX bytes),
 * or replace the entry of the same name. The new entry's generation is
 * returned in *@gen (may be NULL). When an entry was replaced, it is copied
 * to *@old (may be NULL) and 1 is returned; 0 when the node was new;
 * -EINVAL for a bad name; -ENOMEM. Caller: a registered writer thread,
 * inside rcu_read_lock().
 */
int cw_nodedir_put(struct cw_nodedir *d, const struct cw_node_info *n, uint64_t *gen,
		   struct cw_node_info *old);

/*
 * Remove node @name if its entry still has generation @gen. Returns 0,
 * -ENOENT when there is no such node, -ESTALE when it has another
 * generation (it was replaced: the entry stays). Caller: a registered
 * writer thread, inside rcu_read_lock().
 */
int cw_nodedir_del(struct cw_nodedir *d, const char *name, uint64_t gen);

/*
 * Copy node @name's entry to *@out. Returns 0 or -ENOENT. Caller: a
 * registered thread, inside rcu_read_lock(). Lock-free, no allocation.
 */
int cw_nodedir_get(struct cw_nodedir *d, const char *name, struct cw_node_info *out);

/* Number of nodes (approximate while writers run). Same caller rules. */
unsigned long cw_nodedir_count(struct cw_nodedir *d);

/*
 * Call @fn on a copy of every entry, in no particular order, until it
 * returns non-zero. Same caller rules; @fn must not call put or del.
 */
void cw_nodedir_foreach(struct cw_nodedir *d, int (*fn)(const struct cw_node_info *, void *),
			void *ctx);

#endif
