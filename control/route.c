/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The route table (control/route.h): ordered rules compiled into one
 * Hyperscan database, matched lock-free, published under QSBR RCU.
 */
#include "control/route.h"

#include <errno.h>
#include <hs/hs.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <urcu-qsbr.h>

/*
 * SINGLEMATCH: a rule reports at most once per scan, so a scan costs at
 * most one callback per rule. ALLOWEMPTY: ".*" is a legitimate catch-all.
 */
#define CW_ROUTE_HS_FLAGS (HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY)

#define CW_ROUTE_N_METHODS 8 /* bits of CW_ROUTE_M_ANY */

struct cw_route_table {
	hs_database_t *db; /* NULL when there are no rules */
	uint32_t n_rules;
	uint32_t default_action;
	uint32_t methods[CW_ROUTE_MAX_RULES];
	uint8_t action[CW_ROUTE_MAX_RULES];
	/* Per method bit, the first rule that names it: a scan stops there. */
	uint32_t first[CW_ROUTE_N_METHODS];
	struct rcu_head rcu;
	unsigned n_readers;
	hs_scratch_t *scratch[];
};

const char *const cw_route_action_names[CW_ROUTE_N_ACTIONS] = {"hub", "upstream", "deny"};
static const char *const cw_method_names[] = {"GET",   "HEAD",	 "POST",   "PUT",
					      "PATCH", "DELETE", "OPTIONS"};

const char *cw_route_action_name(uint32_t action)
{
	return action < CW_ROUTE_N_ACTIONS ? cw_route_action_names[action] : "?";
}

uint32_t cw_route_method(const char *m, size_t len)
{
	for (unsigned i = 0; i < sizeof(cw_method_names) / sizeof(cw_method_names[0]); i++)
		if (strlen(cw_method_names[i]) == len && !memcmp(cw_method_names[i], m, len))
			return 1u << i;
	return CW_ROUTE_M_OTHER;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* The next blank-separated field of *s: its start and length; *s after it. */
static size_t next_field(const char **s, const char **start)
{
	const char *p = *s;

	while (is_blank(*p))
		p++;
	*start = p;
	while (*p && !is_blank(*p))
		p++;
	*s = p;
	return (size_t)(p - *start);
}

static int parse_methods(const char *f, size_t n, uint32_t *out, char *why, size_t len)
{
	const char *end = f + n;
	uint32_t bits = 0;

	if (n == 1 && *f == '*') {
		*out = CW_ROUTE_M_ANY;
		return 0;
	}
	while (f < end) {
		const char *comma = memchr(f, ',', (size_t)(end - f));
		size_t l = (size_t)((comma ? comma : end) - f);
		uint32_t bit = cw_route_method(f, l);

		if (bit == CW_ROUTE_M_OTHER) {
			snprintf(why, len,
				 "unknown method '%.*s' (GET, HEAD, POST, PUT, PATCH, DELETE, "
				 "OPTIONS or *)",
				 (int)l, f);
			return -EINVAL;
		}
		bits |= bit;
		f += l + (comma ? 1 : 0);
		if (comma && f == end) {
			snprintf(why, len, "method list ends with ','");
			return -EINVAL;
		}
	}
	*out = bits;
	return 0;
}

static int parse_action(const char *f, size_t n, uint32_t *out, char *why, size_t len)
{
	for (uint32_t a = 0; a < CW_ROUTE_N_ACTIONS; a++) {
		if (strlen(cw_route_action_names[a]) == n &&
		    !memcmp(cw_route_action_names[a], f, n)) {
			*out = a;
			return 0;
		}
	}
	snprintf(why, len, "unknown action '%.*s' (hub, upstream or deny)", (int)n, f);
	return -EINVAL;
}

static int check_pattern(const char *pattern, char *why, size_t len)
{
	hs_database_t *db = NULL;
	hs_compile_error_t *ce = NULL;

	if (hs_compile(pattern, CW_ROUTE_HS_FLAGS, HS_MODE_BLOCK, NULL, &db, &ce) != HS_SUCCESS) {
		snprintf(why, len, "pattern '%s': %s", pattern, ce ? ce->message : "refused");
		hs_free_compile_error(ce);
		return -EINVAL;
	}
	hs_free_database(db);
	return 0;
}

int cw_route_parse_rule(const char *text, struct cw_route_rule *r, char *why, size_t len)
{
	const char *f[4];
	size_t n[4];
	const char *s = text;
	int rc;

	for (int i = 0; i < 4; i++)
		n[i] = next_field(&s, &f[i]);
	if (!n[0] || !n[1] || !n[2] || n[3]) {
		snprintf(why, len, "want 'METHODS PATTERN ACTION', e.g. 'GET ^/api/v1/pods hub'");
		return -EINVAL;
	}
	if (n[1] >= CW_ROUTE_PATTERN_MAX) {
		snprintf(why, len, "pattern longer than %d bytes", CW_ROUTE_PATTERN_MAX - 1);
		return -ENAMETOOLONG;
	}
	memset(r, 0, sizeof(*r));
	if ((rc = parse_methods(f[0], n[0], &r->methods, why, len)) ||
	    (rc = parse_action(f[2], n[2], &r->action, why, len)))
		return rc;
	memcpy(r->pattern, f[1], n[1]);
	return check_pattern(r->pattern, why, len);
}

void cw_route_format_rule(const struct cw_route_rule *r, char *buf, size_t len)
{
	char methods[64] = "*";
	size_t used = 0;

	if (r->methods != CW_ROUTE_M_ANY) {
		for (unsigned i = 0; i < sizeof(cw_method_names) / sizeof(cw_method_names[0]); i++)
			if (r->methods & (1u << i))
				used +=
				    (size_t)snprintf(methods + used, sizeof(methods) - used, "%s%s",
						     used ? "," : "", cw_method_names[i]);
	}
	snprintf(buf, len, "%s %s %s", methods, r->pattern, cw_route_action_name(r->action));
}

static int compile_db(const struct cw_route_conf *c, hs_database_t **db, char *err, size_t errlen)
{
	const char *exprs[CW_ROUTE_MAX_RULES];
	unsigned flags[CW_ROUTE_MAX_RULES], ids[CW_ROUTE_MAX_RULES];
	hs_compile_error_t *ce = NULL;

	for (uint32_t i = 0; i < c->n_rules; i++) {
		exprs[i] = c->rules[i].pattern;
		flags[i] = CW_ROUTE_HS_FLAGS;
		ids[i] = i;
	}
	if (hs_compile_multi(exprs, flags, ids, c->n_rules, HS_MODE_BLOCK, NULL, db, &ce) ==
	    HS_SUCCESS)
		return 0;
	if (ce && ce->expression >= 0 && (uint32_t)ce->expression < c->n_rules)
		snprintf(err, errlen, "route rule %d: %s", ce->expression + 1, ce->message);
	else
		snprintf(err, errlen, "route table: %s", ce ? ce->message : "refused");
	hs_free_compile_error(ce);
	return -EINVAL;
}

static int alloc_scratch(struct cw_route_table *t, char *err, size_t errlen)
{
	hs_scratch_t *proto = NULL;
	int rc = 0;

	if (hs_alloc_scratch(t->db, &proto) != HS_SUCCESS) {
		snprintf(err, errlen, "route table: no memory for scratch");
		return -ENOMEM;
	}
	for (unsigned i = 0; i < t->n_readers && !rc; i++)
		if (hs_clone_scratch(proto, &t->scratch[i]) != HS_SUCCESS) {
			snprintf(err, errlen, "route table: no memory for scratch");
			rc = -ENOMEM;
		}
	hs_free_scratch(proto);
	return rc;
}

static void index_first(struct cw_route_table *t)
{
	for (unsigned b = 0; b < CW_ROUTE_N_METHODS; b++) {
		t->first[b] = UINT32_MAX;
		for (uint32_t i = 0; i < t->n_rules && t->first[b] == UINT32_MAX; i++)
			if (t->methods[i] & (1u << b))
				t->first[b] = i;
	}
}

static int check_conf(const struct cw_route_conf *c, unsigned n_readers, char *err, size_t errlen)
{
	if (!n_readers || n_readers > CW_ROUTE_MAX_READERS || c->n_rules > CW_ROUTE_MAX_RULES ||
	    c->default_action >= CW_ROUTE_N_ACTIONS) {
		snprintf(err, errlen, "route table: bad parameters");
		return -EINVAL;
	}
	for (uint32_t i = 0; i < c->n_rules; i++)
		if (c->rules[i].action >= CW_ROUTE_N_ACTIONS || !c->rules[i].methods ||
		    (c->rules[i].methods & ~(uint32_t)CW_ROUTE_M_ANY) ||
		    !memchr(c->rules[i].pattern, '\0', CW_ROUTE_PATTERN_MAX)) {
			snprintf(err, errlen, "route table: rule %u is malformed", i + 1);
			return -EINVAL;
		}
	return 0;
}

int cw_route_compile(const struct cw_route_conf *c, unsigned n_readers, struct cw_route_table **out,
		     char *err, size_t errlen)
{
	struct cw_route_table *t;
	int rc;

	if ((rc = check_conf(c, n_readers, err, errlen)))
		return rc;
	t = calloc(1, sizeof(*t) + n_readers * sizeof(t->scratch[0]));
	if (!t) {
		snprintf(err, errlen, "route table: no memory");
		return -ENOMEM;
	}
	t->n_rules = c->n_rules;
	t->default_action = c->default_action;
	t->n_readers = n_readers;
	for (uint32_t i = 0; i < c->n_rules; i++) {
		t->methods[i] = c->rules[i].methods;
		t->action[i] = (uint8_t)c->rules[i].action;
	}
	index_first(t);
	if (c->n_rules &&
	    ((rc = compile_db(c, &t->db, err, errlen)) || (rc = alloc_scratch(t, err, errlen)))) {
		cw_route_table_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

void cw_route_table_free(struct cw_route_table *t)
{
	if (!t)
		return;
	for (unsigned i = 0; i < t->n_readers; i++)
		hs_free_scratch(t->scratch[i]);
	hs_free_database(t->db);
	free(t);
}

unsigned cw_route_readers(const struct cw_route_table *t)
{
	return t->n_readers;
}

struct match_ctx {
	const struct cw_route_table *t;
	uint32_t method;
	uint32_t stop; /* no rule before this one can match: stop when it does */
	uint32_t best;
};

static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
		    void *arg)
{
	struct match_ctx *m = arg;

	(void)from, (void)to, (void)flags;
	if (id < m->best && (m->t->methods[id] & m->method))
		m->best = id;
	return m->best == m->stop; /* non-zero ends the scan */
}

int cw_route_match(const struct cw_route_table *t, unsigned reader, uint32_t method,
		   const char *path, size_t len, int *rule)
{
	struct match_ctx m = {t, method, UINT32_MAX, UINT32_MAX};
	hs_error_t e;

	if (reader >= t->n_readers || !method || (method & (method - 1)) ||
	    (method & ~(uint32_t)CW_ROUTE_M_ANY) || len > UINT32_MAX)
		return -EINVAL;
	m.stop = t->first[__builtin_ctz(method)];
	if (t->db && m.stop != UINT32_MAX) {
		e = hs_scan(t->db, path, (unsigned)len, 0, t->scratch[reader], on_match, &m);
		if (e != HS_SUCCESS && e != HS_SCAN_TERMINATED)
			return -EIO;
	}
	if (rule)
		*rule = m.best == UINT32_MAX ? -1 : (int)m.best;
	return m.best == UINT32_MAX ? (int)t->default_action : t->action[m.best];
}

void cw_routes_init(struct cw_routes *r, struct cw_route_table *t)
{
	r->cur = t;
}

const struct cw_route_table *cw_routes_get(struct cw_routes *r)
{
	return rcu_dereference(r->cur);
}

static void free_rcu(struct rcu_head *head)
{
	cw_route_table_free(caa_container_of(head, struct cw_route_table, rcu));
}

void cw_routes_swap(struct cw_routes *r, struct cw_route_table *t)
{
	struct cw_route_table *old = rcu_xchg_pointer(&r->cur, t);

	if (old)
		call_rcu(&old->rcu, free_rcu);
}

void cw_routes_fini(struct cw_routes *r)
{
	cw_routes_swap(r, NULL);
	rcu_barrier();
}
