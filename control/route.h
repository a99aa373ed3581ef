/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The route table: where a Kubernetes API request that arrives through the
 * tunnel goes (DESIGN.md §2-§3). An operator writes ordered rules in the
 * [route] section of causeway.conf,
 *
 *     rule = METHODS PATTERN ACTION
 *
 * METHODS is "*" or a comma-separated list of GET, HEAD, POST, PUT, PATCH,
 * DELETE, OPTIONS; PATTERN is a regular expression (Hyperscan's PCRE
 * subset, no blanks) searched in the request path; ACTION is hub, upstream
 * or deny. The first rule whose methods and pattern both match wins; a
 * request no rule matches takes the section's default.
 *
 * The rules are compiled into one Hyperscan database, so matching costs one
 * scan of the path whatever the number of rules. A compiled table is
 * immutable; it carries one Hyperscan scratch per reader thread, so matching
 * never allocates and readers never share writable state.
 *
 * Publication (cw_routes_*) is RCU, liburcu's QSBR flavour, as for the node
 * directory (control/nodedir.h): readers are registered threads that match
 * inside rcu_read_lock() and announce quiescent states; the writer swaps in
 * a new table (SIGHUP) and the old one is freed after a grace period, so a
 * reload drops no request and never frees a table under a reader.
 */
#ifndef CW_ROUTE_H
#define CW_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#define CW_ROUTE_MAX_RULES   128
#define CW_ROUTE_PATTERN_MAX 256 /* bytes of a pattern, its NUL included */
#define CW_ROUTE_MAX_READERS 128 /* reader threads a table carries scratch for */

enum cw_route_action { CW_ROUTE_HUB = 0, CW_ROUTE_UPSTREAM, CW_ROUTE_DENY, CW_ROUTE_N_ACTIONS };

/* Method bits of a rule; CW_ROUTE_M_OTHER stands for any method not named. */
enum {
	CW_ROUTE_M_GET = 1u << 0,
	CW_ROUTE_M_HEAD = 1u << 1,
	CW_ROUTE_M_POST = 1u << 2,
	CW_ROUTE_M_PUT = 1u << 3,
	CW_ROUTE_M_PATCH = 1u << 4,
	CW_ROUTE_M_DELETE = 1u << 5,
	CW_ROUTE_M_OPTIONS = 1u << 6,
	CW_ROUTE_M_OTHER = 1u << 7,
	CW_ROUTE_M_ANY = (1u << 8) - 1,
};

struct cw_route_rule {
	uint32_t methods; /* CW_ROUTE_M_* bits */
	uint32_t action;  /* enum cw_route_action */
	char pattern[CW_ROUTE_PATTERN_MAX];
};

struct cw_route_conf {
	struct cw_route_rule rules[CW_ROUTE_MAX_RULES];
	uint32_t n_rules;
	uint32_t default_action; /* enum cw_route_action */
};

struct cw_route_table;

/* "hub", "upstream", "deny", indexed by enum cw_route_action. */
extern const char *const cw_route_action_names[CW_ROUTE_N_ACTIONS];

/* The name of @action ("hub", "upstream", "deny"), or "?" out of range. */
const char *cw_route_action_name(uint32_t action);

/* The method bit of the HTTP method @m (@len bytes, case-sensitive). */
uint32_t cw_route_method(const char *m, size_t len);

/*
 * Parse "METHODS PATTERN ACTION" (blanks between the fields) into @r and
 * check that PATTERN compiles. Returns 0, -EINVAL with the reason in @why
 * (a wrong field count, an unknown method or action, a pattern Hyperscan
 * refuses, with its message), or -ENAMETOOLONG for a pattern longer than
 * CW_ROUTE_PATTERN_MAX - 1.
 */
int cw_route_parse_rule(const char *text, struct cw_route_rule *r, char *why, size_t len);

/* Write @r as cw_route_parse_rule() reads it back. */
void cw_route_format_rule(const struct cw_route_rule *r, char *buf, size_t len);

/*
 * Compile @c into a table with scratch for @n_readers reader threads
 * (1..CW_ROUTE_MAX_READERS). Returns 0 with the table in @out, -EINVAL for
 * a bad @c or @n_readers, or a rule Hyperscan refuses (the reason, with the
 * rule's number, in @err), or -ENOMEM.
 */
int cw_route_compile(const struct cw_route_conf *c, unsigned n_readers, struct cw_route_table **out,
		     char *err, size_t errlen);

/* Free @t (NULL is fine). Only when no reader can still hold it. */
void cw_route_table_free(struct cw_route_table *t);

/* The number of reader scratch spaces @t was compiled with. */
unsigned cw_route_readers(const struct cw_route_table *t);

/*
 * Route a request: @method is a CW_ROUTE_M_* bit (cw_route_method()),
 * @path the request path (@len bytes, no NUL needed). Only reader thread
 * @reader (< cw_route_readers(t)) may use that index, one match at a time.
 * Returns the action (>= 0) and, in @rule unless NULL, the index of the
 * rule that matched or -1 for the default; -EINVAL for a bad @reader, or
 * -EIO if Hyperscan fails the scan (the request should then be refused).
 * No allocation, no locks.
 */
int cw_route_match(const struct cw_route_table *t, unsigned reader, uint32_t method,
		   const char *path, size_t len, int *rule);

/* The published table; the writer is one thread at a time. */
struct cw_routes {
	struct cw_route_table *cur;
};

/* Publish @t (may be NULL) as the first table. No reader may run yet. */
void cw_routes_init(struct cw_routes *r, struct cw_route_table *t);

/*
 * The current table, or NULL if none. For registered RCU readers, inside
 * rcu_read_lock(); the table stays valid until rcu_read_unlock().
 */
const struct cw_route_table *cw_routes_get(struct cw_routes *r);

/*
 * Publish @t in place of the current table, which is freed after a grace
 * period (call_rcu): readers that still hold it finish with it. The caller
 * is a registered RCU thread or not; it does not wait.
 */
void cw_routes_swap(struct cw_routes *r, struct cw_route_table *t);

/*
 * Unpublish and free the current table after every reader is done with it
 * (waits for pending frees: rcu_barrier). The caller must not be inside a
 * read-side critical section.
 */
void cw_routes_fini(struct cw_routes *r);

#endif
