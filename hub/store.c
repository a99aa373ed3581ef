/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The object store on LMDB: see store.h. Four named databases:
 *   objects  resource\0ns\0name          -> rv, flags, node, object bytes
 *   bynode   resource\0node\0ns\0name    -> (empty)
 *   history  resource\0 rv(BE64) seq(BE32) -> type, flags, has prev, object rv,
 *                                           [prev length(32), prev bytes,] bytes
 *   meta     resource                    -> highest, list RV, complete_after,
 *                                           event and object counts
 * Integers in values are little-endian; in history keys big-endian, so
 * LMDB's byte order is RV order. The node is kept in the object's value
 * so that moving or deleting it fixes the index without parsing the old
 * object.
 */
#include <errno.h>
#include <inttypes.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hub/store.h"

#define KEY_MAX	 512 /* >= LMDB's default key limit, 511 */
#define OBJ_HDR	 16  /* rv 8, flags 4, node length 4 */
#define HIST_HDR 12  /* type 1, flags 1, has prev 1, pad 1, object rv 8 */
#define META_LEN 40

struct cw_store {
	MDB_env *env;
	MDB_dbi objects, bynode, history, meta;
	uint32_t history_max;
	size_t key_max;
};

struct meta {
	uint64_t highest, list_rv, complete_after, events, objects;
};

struct key {
	size_t n;
	char b[KEY_MAX];
};

/* LMDB's codes are negative, errno's positive: map to negative errno. */
static int lmdb_err(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return 0;
	case MDB_NOTFOUND:
		return -ENOENT;
	case MDB_MAP_FULL:
	case MDB_TXN_FULL:
		return -ENOSPC;
	case MDB_READERS_FULL:
	case MDB_MAP_RESIZED:
		return -EAGAIN;
	case MDB_BAD_VALSIZE:
		return -ENAMETOOLONG;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
		return -EBADMSG;
	default:
		return rc > 0 ? -rc : -EIO;
	}
}

/* A cursor step in errno terms: -ENOENT past the end. */
static int cur(MDB_cursor *c, MDB_val *k, MDB_val *v, MDB_cursor_op op)
{
	return lmdb_err(mdb_cursor_get(c, k, v, op));
}

/* The big-endian RV of a history key after its @prefix bytes. */
static uint64_t hist_rv(const MDB_val *k, size_t prefix)
{
	const unsigned char *p = (const unsigned char *)k->mv_data + prefix;
	uint64_t rv = 0;

	for (int i = 0; i < 8; i++)
		rv = rv << 8 | p[i];
	return rv;
}

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)(p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24);
}

static int key_add(struct key *k, const struct cw_store *s, const void *p, size_t n)
{
	if (n > s->key_max - k->n)
		return -ENAMETOOLONG;
	memcpy(k->b + k->n, p, n);
	k->n += n;
	return 0;
}

/* Append NUL-terminated strings, each with its NUL. */
static int key_strs(struct key *k, const struct cw_store *s, const char *const *strs, int n)
{
	int rc = 0;

	for (int i = 0; i < n && !rc; i++)
		rc = key_add(k, s, strs[i], strlen(strs[i]) + 1);
	return rc;
}

static int key_be(struct key *k, const struct cw_store *s, uint64_t v, int bytes)
{
	unsigned char b[8];

	for (int i = 0; i < bytes; i++)
		b[i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
	return key_add(k, s, b, (size_t)bytes);
}

static int hist_key(struct key *k, const struct cw_store *s, const char *res, uint64_t rv,
		    uint32_t seq)
{
	int rc;

	k->n = 0;
	rc = key_strs(k, s, &res, 1);
	if (!rc)
		rc = key_be(k, s, rv, 8);
	return rc ? rc : key_be(k, s, seq, 4);
}

static MDB_val mval(const struct key *k)
{
	return (MDB_val){.mv_size = k->n, .mv_data = (void *)k->b};
}

static bool has_prefix(const MDB_val *v, const struct key *prefix)
{
	return v->mv_size >= prefix->n && memcmp(v->mv_data, prefix->b, prefix->n) == 0;
}

static bool resource_ok(const char *res)
{
	return res && res[0];
}

/* Decode an object value into *@it and its node (empty: none). */
static int obj_decode(const MDB_val *v, struct cw_store_item *it, const char **node,
		      size_t *node_len)
{
	const unsigned char *p = v->mv_data;
	uint32_t nl;

	if (v->mv_size < OBJ_HDR)
		return -EBADMSG;
	nl = get32(p + 12);
	if (nl > v->mv_size - OBJ_HDR)
		return -EBADMSG;
	it->rv = get64(p);
	it->flags = get32(p + 8);
	*node = (const char *)p + OBJ_HDR;
	*node_len = nl;
	it->bytes = p + OBJ_HDR + nl;
	it->len = v->mv_size - OBJ_HDR - nl;
	it->prev = NULL;
	it->prev_len = 0;
	return 0;
}

static int meta_get(const struct cw_store *s, MDB_txn *t, const char *res, struct meta *m,
		    bool *found)
{
	MDB_val k = {.mv_size = strlen(res), .mv_data = (void *)res}, v;
	const unsigned char *p;
	int rc = mdb_get(t, s->meta, &k, &v);

	memset(m, 0, sizeof(*m));
	if (found)
		*found = rc == 0;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return lmdb_err(rc);
	if (v.mv_size != META_LEN)
		return -EBADMSG;
	p = v.mv_data;
	m->highest = get64(p);
	m->list_rv = get64(p + 8);
	m->complete_after = get64(p + 16);
	m->events = get64(p + 24);
	m->objects = get64(p + 32);
	return 0;
}

static int meta_put(const struct cw_store *s, MDB_txn *t, const char *res, const struct meta *m)
{
	MDB_val k = {.mv_size = strlen(res), .mv_data = (void *)res};
	unsigned char b[META_LEN];
	MDB_val v = {.mv_size = sizeof(b), .mv_data = b};

	if (k.mv_size > s->key_max)
		return -ENAMETOOLONG;
	put64(b, m->highest);
	put64(b + 8, m->list_rv);
	put64(b + 16, m->complete_after);
	put64(b + 24, m->events);
	put64(b + 32, m->objects);
	return lmdb_err(mdb_put(t, s->meta, &k, &v, 0));
}

static int idx_key(struct key *k, const struct cw_store *s, const char *res, const char *node,
		   size_t node_len, const char *ns, const char *name)
{
	const char *rest[] = {ns, name};
	int rc;

	k->n = 0;
	rc = key_strs(k, s, &res, 1);
	if (!rc)
		rc = key_add(k, s, node, node_len);
	if (!rc)
		rc = key_add(k, s, "", 1);
	return rc ? rc : key_strs(k, s, rest, 2);
}

static int obj_key(struct key *k, const struct cw_store *s, const char *res, const char *ns,
		   const char *name)
{
	const char *parts[] = {res, ns, name};

	k->n = 0;
	return key_strs(k, s, parts, 3);
}

static int idx_del(const struct cw_store *s, MDB_txn *t, const char *res, const char *node,
		   size_t node_len, const char *ns, const char *name)
{
	struct key k;
	MDB_val kv;
	int rc = idx_key(&k, s, res, node, node_len, ns, name);

	if (rc)
		return rc;
	kv = mval(&k);
	rc = mdb_del(t, s->bynode, &kv, NULL);
	return rc == MDB_NOTFOUND ? -EBADMSG : lmdb_err(rc);
}

static int idx_put(const struct cw_store *s, MDB_txn *t, const char *res, const char *node,
		   const char *ns, const char *name)
{
	struct key k;
	MDB_val kv, v = {0};
	int rc = idx_key(&k, s, res, node, strlen(node), ns, name);

	if (rc)
		return rc;
	kv = mval(&k);
	return lmdb_err(mdb_put(t, s->bynode, &kv, &v, 0));
}

/* A copy of @it's bytes as its prev (writes may spill the page they are
 * on); the caller frees it->prev. */
static int prev_copy(const struct cw_store_item *old, struct cw_store_item *it)
{
	void *p = malloc(old->len ? old->len : 1);

	if (!p)
		return -ENOMEM;
	it->prev = memcpy(p, old->bytes, old->len);
	it->prev_len = old->len;
	return 0;
}

/* Put object @o (upsert), keeping the node index and the count right; the
 * object it replaces is copied to @it's prev when @it is not NULL. */
static int obj_put(const struct cw_store *s, MDB_txn *t, const char *res, const struct cw_obj *o,
		   struct meta *m, struct cw_store_item *it)
{
	size_t nl = o->node ? strlen(o->node) : 0;
	struct cw_store_item old;
	const char *old_node;
	size_t old_nl;
	struct key k;
	MDB_val kv, v;
	unsigned char *p;
	int rc = obj_key(&k, s, res, o->ns, o->name);

	if (rc)
		return rc;
	kv = mval(&k);
	rc = mdb_get(t, s->objects, &kv, &v);
	if (rc == MDB_NOTFOUND) {
		m->objects++;
	} else if (rc) {
		return lmdb_err(rc);
	} else {
		rc = obj_decode(&v, &old, &old_node, &old_nl);
		if (!rc && it)
			rc = prev_copy(&old, it);
		if (!rc && old_nl && (old_nl != nl || memcmp(old_node, o->node, nl)))
			rc = idx_del(s, t, res, old_node, old_nl, o->ns, o->name);
		if (rc)
			return rc;
	}
	v.mv_size = OBJ_HDR + nl + o->len;
	rc = lmdb_err(mdb_put(t, s->objects, &kv, &v, MDB_RESERVE));
	if (rc)
		return rc;
	p = v.mv_data;
	put64(p, o->rv);
	put32(p + 8, o->deleting ? CW_STORE_F_DELETING : 0);
	put32(p + 12, (uint32_t)nl);
	memcpy(p + OBJ_HDR, o->node ? o->node : "", nl);
	memcpy(p + OBJ_HDR + nl, o->bytes, o->len);
	return nl ? idx_put(s, t, res, o->node, o->ns, o->name) : 0;
}

/* Delete the object under key @k (resource\0ns\0name), if stored. */
static int obj_del_key(const struct cw_store *s, MDB_txn *t, const char *res, const struct key *k,
		       struct meta *m)
{
	const char *ns = k->b + strlen(res) + 1;
	const char *name = ns + strlen(ns) + 1;
	struct cw_store_item it;
	const char *node;
	size_t nl;
	MDB_val kv = mval(k), v;
	int rc = mdb_get(t, s->objects, &kv, &v);

	if (rc == MDB_NOTFOUND)
		return 0;
	if (!rc)
		rc = obj_decode(&v, &it, &node, &nl);
	else
		rc = lmdb_err(rc);
	if (!rc && nl)
		rc = idx_del(s, t, res, node, nl, ns, name);
	if (rc)
		return rc;
	m->objects--;
	return lmdb_err(mdb_del(t, s->objects, &kv, NULL));
}

/* Drop the oldest events of @res beyond the limit. */
static int hist_trim(const struct cw_store *s, MDB_txn *t, const char *res, struct meta *m)
{
	struct key k, prefix = {0};
	MDB_cursor *c = NULL;
	MDB_val kv, v;
	int rc = hist_key(&k, s, res, 0, 0);

	if (!rc)
		rc = key_strs(&prefix, s, &res, 1);
	if (rc || m->events <= s->history_max)
		return rc;
	rc = lmdb_err(mdb_cursor_open(t, s->history, &c));
	while (!rc && m->events > s->history_max) {
		kv = mval(&k);
		rc = cur(c, &kv, &v, MDB_SET_RANGE);
		if (rc == -ENOENT ||
		    (!rc && (!has_prefix(&kv, &prefix) || kv.mv_size != prefix.n + 12)))
			rc = -EBADMSG; /* fewer events than the count says */
		if (rc)
			break;
		if (hist_rv(&kv, prefix.n) > m->complete_after)
			m->complete_after = hist_rv(&kv, prefix.n);
		m->events--;
		rc = lmdb_err(mdb_cursor_del(c, 0));
	}
	if (c)
		mdb_cursor_close(c);
	return rc;
}

/* Event @type of @it at @rv, @seq; @it->prev, if set, kept with it. */
static int hist_add(const struct cw_store *s, MDB_txn *t, const char *res, enum cw_ev_type type,
		    uint64_t rv, uint32_t seq, const struct cw_store_item *it, struct meta *m)
{
	size_t pl = it->prev ? 4 + it->prev_len : 0;
	struct key k;
	MDB_val kv, v = {.mv_size = HIST_HDR + pl + it->len};
	unsigned char *p;
	int rc = hist_key(&k, s, res, rv, seq);

	if (!rc && it->prev && it->prev_len > UINT32_MAX)
		rc = -EINVAL;
	if (rc)
		return rc;
	kv = mval(&k);
	rc = lmdb_err(mdb_put(t, s->history, &kv, &v, MDB_RESERVE));
	if (rc)
		return rc;
	p = v.mv_data;
	memset(p, 0, HIST_HDR);
	p[0] = (unsigned char)type;
	p[1] = (unsigned char)it->flags;
	p[2] = it->prev != NULL;
	put64(p + 4, it->rv);
	if (it->prev) {
		put32(p + HIST_HDR, (uint32_t)it->prev_len);
		memcpy(p + HIST_HDR + 4, it->prev, it->prev_len);
	}
	memcpy(p + HIST_HDR + pl, it->bytes, it->len);
	m->events++;
	return hist_trim(s, t, res, m);
}

static int hist_decode(const MDB_val *k, size_t prefix, const MDB_val *v, enum cw_ev_type *type,
		       uint64_t *rv, struct cw_store_item *it)
{
	const unsigned char *p = v->mv_data;

	if (v->mv_size < HIST_HDR || k->mv_size != prefix + 12 || p[0] < CW_EV_ADDED ||
	    p[0] > CW_EV_DELETED)
		return -EBADMSG;
	*type = (enum cw_ev_type)p[0];
	*rv = hist_rv(k, prefix);
	it->flags = p[1];
	it->rv = get64(p + 4);
	it->bytes = p + HIST_HDR;
	it->len = v->mv_size - HIST_HDR;
	it->prev = NULL;
	it->prev_len = 0;
	if (p[2]) {
		if (it->len < 4 || get32(p + HIST_HDR) > it->len - 4)
			return -EBADMSG;
		it->prev = p + HIST_HDR + 4;
		it->prev_len = get32(p + HIST_HDR);
		it->bytes = (const unsigned char *)it->prev + it->prev_len;
		it->len -= 4 + it->prev_len;
	}
	return 0;
}

static int begin(const struct cw_store *s, unsigned flags, MDB_txn **t)
{
	return lmdb_err(mdb_txn_begin(s->env, NULL, flags, t));
}

/* Commit @t when @rc is 0, else abort it; the first error wins. */
static int finish(MDB_txn *t, int rc)
{
	if (rc) {
		mdb_txn_abort(t);
		return rc;
	}
	return lmdb_err(mdb_txn_commit(t));
}

int cw_store_open(const char *path, size_t map_size, uint32_t history, struct cw_store **out)
{
	struct cw_store *s;
	MDB_txn *t;
	int rc, dead;

	if (!path || !map_size || !history)
		return -EINVAL;
	if (mkdir(path, 0700) && errno != EEXIST)
		return -errno;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->history_max = history;
	rc = lmdb_err(mdb_env_create(&s->env));
	if (rc) {
		free(s);
		return rc;
	}
	s->key_max = (size_t)mdb_env_get_maxkeysize(s->env);
	if (s->key_max > KEY_MAX)
		s->key_max = KEY_MAX;
	rc = lmdb_err(mdb_env_set_maxdbs(s->env, 4));
	if (!rc)
		rc = lmdb_err(mdb_env_set_mapsize(s->env, map_size));
	if (!rc)
		rc = lmdb_err(mdb_env_open(s->env, path, MDB_NOTLS, 0600));
	/* Reader slots of a killed process would pin old pages forever. */
	if (!rc)
		rc = lmdb_err(mdb_reader_check(s->env, &dead));
	if (!rc)
		rc = begin(s, 0, &t);
	if (rc) {
		cw_store_close(s);
		return rc;
	}
	rc = lmdb_err(mdb_dbi_open(t, "objects", MDB_CREATE, &s->objects));
	if (!rc)
		rc = lmdb_err(mdb_dbi_open(t, "bynode", MDB_CREATE, &s->bynode));
	if (!rc)
		rc = lmdb_err(mdb_dbi_open(t, "history", MDB_CREATE, &s->history));
	if (!rc)
		rc = lmdb_err(mdb_dbi_open(t, "meta", MDB_CREATE, &s->meta));
	rc = finish(t, rc);
	if (rc) {
		cw_store_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

void cw_store_close(struct cw_store *s)
{
	if (!s)
		return;
	mdb_env_close(s->env);
	free(s);
}

static bool obj_ok(const struct cw_obj *o)
{
	return o && o->name && o->name[0] && o->ns && o->rv && o->bytes && o->len;
}

static struct cw_store_item obj_item(const struct cw_obj *o)
{
	return (struct cw_store_item){.bytes = o->bytes,
				      .len = o->len,
				      .rv = o->rv,
				      .flags = o->deleting ? CW_STORE_F_DELETING : 0};
}

static int hist_next_seq(const struct cw_store *s, MDB_txn *t, const char *res, uint64_t rv,
			 uint32_t *seq);

/* Whether @o (event @type) is what the store holds already: the same
 * version of the object, or a deletion of one it does not have. */
static int holds(const struct cw_store *s, MDB_txn *t, const char *res, enum cw_ev_type type,
		 const struct cw_obj *o, bool *same)
{
	struct cw_store_item cur;
	const char *node;
	size_t nl;
	struct key k;
	MDB_val kv, v;
	int rc = obj_key(&k, s, res, o->ns, o->name);

	*same = false;
	if (rc)
		return rc;
	kv = mval(&k);
	rc = lmdb_err(mdb_get(t, s->objects, &kv, &v));
	if (rc == -ENOENT) {
		*same = type == CW_EV_DELETED;
		return 0;
	}
	if (!rc)
		rc = obj_decode(&v, &cur, &node, &nl);
	if (!rc)
		*same = type != CW_EV_DELETED && cur.rv == o->rv && cur.len == o->len &&
			!memcmp(cur.bytes, o->bytes, o->len);
	return rc;
}

static int apply_txn(struct cw_store *s, MDB_txn *t, const char *res, enum cw_ev_type type,
		     const struct cw_obj *o, bool *changed)
{
	struct cw_store_item it = obj_item(o);
	struct meta m;
	struct key k;
	uint32_t seq = 0;
	bool found, same = false;
	int rc = meta_get(s, t, res, &m, &found);

	*changed = false;
	if (rc || o->rv < m.highest)
		return rc;
	/* A re-list's differences are events at one version (the list's), so
	 * one at the highest version is another of them, unless the store
	 * has it already (the same event again). */
	if (found && o->rv == m.highest) {
		rc = holds(s, t, res, type, o, &same);
		if (!rc && !same)
			rc = hist_next_seq(s, t, res, o->rv, &seq);
		if (rc || same)
			return rc;
	}
	if (!found)
		m.complete_after = o->rv - 1;
	if (type == CW_EV_DELETED) {
		rc = obj_key(&k, s, res, o->ns, o->name);
		if (!rc)
			rc = obj_del_key(s, t, res, &k, &m);
	} else {
		rc = obj_put(s, t, res, o, &m, &it);
	}
	if (!rc)
		rc = hist_add(s, t, res, type, o->rv, seq, &it, &m);
	free((void *)it.prev);
	m.highest = o->rv;
	if (!rc)
		rc = meta_put(s, t, res, &m);
	*changed = true;
	return rc;
}

static bool event_ok(const struct cw_store_event *ev)
{
	return (ev->type == CW_EV_ADDED || ev->type == CW_EV_MODIFIED ||
		ev->type == CW_EV_DELETED) &&
	       obj_ok(ev->obj);
}

int cw_store_apply_batch(struct cw_store *s, const char *resource, const struct cw_store_event *evs,
			 size_t n)
{
	bool changed = false;
	MDB_txn *t;
	int rc;

	if (!resource_ok(resource) || (n && !evs))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!event_ok(&evs[i]))
			return -EINVAL;
	rc = begin(s, 0, &t);
	if (rc)
		return rc;
	for (size_t i = 0; i < n && !rc; i++) {
		bool one;
		rc = apply_txn(s, t, resource, evs[i].type, evs[i].obj, &one);
		changed |= one;
	}
	if (!rc && !changed) {
		mdb_txn_abort(t);
		return 0;
	}
	return finish(t, rc);
}

int cw_store_apply(struct cw_store *s, const char *resource, enum cw_ev_type type,
		   const struct cw_obj *o)
{
	struct cw_store_event ev = {.type = type, .obj = o};

	return cw_store_apply_batch(s, resource, &ev, 1);
}

int cw_store_bookmark(struct cw_store *s, const char *resource, uint64_t rv)
{
	struct meta m;
	MDB_txn *t;
	bool found;
	int rc;

	if (!resource_ok(resource) || !rv)
		return -EINVAL;
	rc = begin(s, 0, &t);
	if (rc)
		return rc;
	rc = meta_get(s, t, resource, &m, &found);
	if (!rc && rv <= m.highest) {
		mdb_txn_abort(t);
		return 0;
	}
	if (!found)
		m.complete_after = rv;
	m.highest = rv;
	if (!rc)
		rc = meta_put(s, t, resource, &m);
	return finish(t, rc);
}

/* Listed objects in (namespace, name) order, for lookups by key. */
static int by_key(const void *a, const void *b)
{
	const struct cw_obj *x = *(const struct cw_obj *const *)a;
	const struct cw_obj *y = *(const struct cw_obj *const *)b;
	int c = strcmp(x->ns, y->ns);

	return c ? c : strcmp(x->name, y->name);
}

struct replace {
	struct cw_store *s;
	MDB_txn *t;
	const char *res;
	const struct cw_obj **sorted;
	size_t n;
	uint64_t rv;
	uint32_t seq;
	bool record;
	struct meta m;
	cw_store_event_fn diff;
	void *ctx;
};

static int replace_event(struct replace *r, enum cw_ev_type type, const struct cw_store_item *it)
{
	int rc = r->diff ? r->diff(type, r->rv, it, r->ctx) : 0;

	if (!rc && r->record)
		rc = hist_add(r->s, r->t, r->res, type, r->rv, r->seq++, it, &r->m);
	return rc;
}

/* Keys of stored objects the list does not have, copied: deleting them
 * while a cursor walks the database would move it. */
static int replace_stale(struct replace *r, struct key **stale, size_t *nstale)
{
	struct key prefix = {0};
	size_t cap = 0;
	MDB_cursor *c;
	MDB_val kv, v;
	int rc;

	*stale = NULL;
	*nstale = 0;
	rc = key_strs(&prefix, r->s, &r->res, 1);
	if (!rc)
		rc = lmdb_err(mdb_cursor_open(r->t, r->s->objects, &c));
	if (rc)
		return rc;
	kv = mval(&prefix);
	rc = cur(c, &kv, &v, MDB_SET_RANGE);
	while (!rc && has_prefix(&kv, &prefix)) {
		struct cw_obj probe = {0}, *pp = &probe;
		const char *ns = (const char *)kv.mv_data + prefix.n;
		size_t left = kv.mv_size - prefix.n, nsl = strnlen(ns, left);
		if (nsl + 2 > left || ((const char *)kv.mv_data)[kv.mv_size - 1]) {
			rc = -EBADMSG;
			break;
		}
		probe.ns = ns;
		probe.name = ns + nsl + 1;
		if (!bsearch(&pp, r->sorted, r->n, sizeof(*r->sorted), by_key)) {
			if (*nstale == cap) {
				struct key *bigger;
				cap = cap ? 2 * cap : 16;
				bigger = realloc(*stale, cap * sizeof(**stale));
				if (!bigger) {
					rc = -ENOMEM;
					break;
				}
				*stale = bigger;
			}
			(*stale)[*nstale].n = kv.mv_size;
			memcpy((*stale)[(*nstale)++].b, kv.mv_data, kv.mv_size);
		}
		rc = cur(c, &kv, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	return rc == -ENOENT ? 0 : rc;
}

static int replace_deletes(struct replace *r)
{
	struct key *stale;
	size_t n;
	int rc = replace_stale(r, &stale, &n);

	for (size_t i = 0; i < n && !rc; i++) {
		struct cw_store_item it;
		const char *node;
		size_t nl;
		MDB_val kv = mval(&stale[i]), v;
		void *copy = NULL;
		rc = lmdb_err(mdb_get(r->t, r->s->objects, &kv, &v));
		if (!rc)
			rc = obj_decode(&v, &it, &node, &nl);
		/* Writes may spill the page it is on: keep a copy. */
		if (!rc && !(copy = malloc(it.len)))
			rc = -ENOMEM;
		if (!rc) {
			it.bytes = memcpy(copy, it.bytes, it.len);
			rc = obj_del_key(r->s, r->t, r->res, &stale[i], &r->m);
		}
		if (!rc)
			rc = replace_event(r, CW_EV_DELETED, &it);
		free(copy);
	}
	free(stale);
	return rc;
}

static int replace_puts(struct replace *r)
{
	int rc = 0;

	for (size_t i = 0; i < r->n && !rc; i++) {
		const struct cw_obj *o = r->sorted[i];
		struct cw_store_item it = obj_item(o), old;
		enum cw_ev_type type = CW_EV_ADDED;
		const char *node;
		size_t nl;
		struct key k;
		MDB_val kv, v;
		rc = obj_key(&k, r->s, r->res, o->ns, o->name);
		if (rc)
			break;
		kv = mval(&k);
		rc = lmdb_err(mdb_get(r->t, r->s->objects, &kv, &v));
		if (!rc) {
			rc = obj_decode(&v, &old, &node, &nl);
			if (rc || old.rv == o->rv)
				continue;
			type = CW_EV_MODIFIED;
			rc = prev_copy(&old, &it);
		} else if (rc == -ENOENT) {
			rc = 0;
		}
		if (!rc)
			rc = replace_event(r, type, &it);
		if (!rc)
			rc = obj_put(r->s, r->t, r->res, o, &r->m, NULL);
		free((void *)it.prev);
	}
	return rc;
}

/* The next sequence number at RV @rv: after the events already there. */
static int hist_next_seq(const struct cw_store *s, MDB_txn *t, const char *res, uint64_t rv,
			 uint32_t *seq)
{
	struct key k, prefix = {0};
	MDB_cursor *c;
	MDB_val kv, v;
	int rc = hist_key(&k, s, res, rv, UINT32_MAX);

	*seq = 0;
	if (!rc)
		rc = key_strs(&prefix, s, &res, 1);
	if (!rc)
		rc = lmdb_err(mdb_cursor_open(t, s->history, &c));
	if (rc)
		return rc;
	kv = mval(&k);
	rc = cur(c, &kv, &v, MDB_SET_RANGE);
	if (!rc || rc == -ENOENT)
		rc = cur(c, &kv, &v, rc ? MDB_LAST : MDB_PREV);
	if (!rc && has_prefix(&kv, &prefix) && kv.mv_size == k.n &&
	    memcmp(kv.mv_data, k.b, k.n - 4) == 0) {
		const unsigned char *p = (const unsigned char *)kv.mv_data + k.n - 4;
		*seq =
		    ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]) + 1;
	}
	mdb_cursor_close(c);
	return rc == -ENOENT ? 0 : rc;
}

static int replace_txn(struct replace *r)
{
	bool found;
	int rc = meta_get(r->s, r->t, r->res, &r->m, &found);

	if (rc)
		return rc;
	if (r->rv < r->m.highest)
		return -ESTALE;
	r->record = found;
	if (found && r->rv == r->m.highest)
		rc = hist_next_seq(r->s, r->t, r->res, r->rv, &r->seq);
	if (!rc)
		rc = replace_deletes(r);
	if (!rc)
		rc = replace_puts(r);
	if (!found)
		r->m.complete_after = r->rv;
	r->m.highest = r->m.list_rv = r->rv;
	return rc ? rc : meta_put(r->s, r->t, r->res, &r->m);
}

int cw_store_replace(struct cw_store *s, const char *resource, const struct cw_obj *objs, size_t n,
		     uint64_t list_rv, cw_store_event_fn diff, void *ctx)
{
	struct replace r = {
	    .s = s, .res = resource, .n = n, .rv = list_rv, .diff = diff, .ctx = ctx};
	int rc;

	if (!resource_ok(resource) || !list_rv || (n && !objs))
		return -EINVAL;
	r.sorted = malloc((n ? n : 1) * sizeof(*r.sorted));
	if (!r.sorted)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		r.sorted[i] = &objs[i];
	qsort(r.sorted, n, sizeof(*r.sorted), by_key);
	rc = 0;
	for (size_t i = 0; i < n && !rc; i++)
		if (!obj_ok(r.sorted[i]) || (i && by_key(&r.sorted[i - 1], &r.sorted[i]) == 0))
			rc = -EINVAL;
	if (!rc)
		rc = begin(s, 0, &r.t);
	if (!rc)
		rc = finish(r.t, replace_txn(&r));
	free(r.sorted);
	return rc;
}

/* Continue tokens: "<rv>-<o|n><hex of the last key after the base>". */
static int token_write(char *out, uint64_t rv, bool node, const char *key, size_t n)
{
	int len = snprintf(out, CW_STORE_CONTINUE_MAX, "%" PRIu64 "-%c", rv, node ? 'n' : 'o');

	if (len < 0 || (size_t)len + 2 * n >= CW_STORE_CONTINUE_MAX)
		return -ENAMETOOLONG;
	for (size_t i = 0; i < n; i++)
		snprintf(out + len + 2 * i, 3, "%02x", (unsigned char)key[i]);
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int token_read(const char *tok, uint64_t *rv, bool node, struct key *k)
{
	const char *dash = strchr(tok, '-');
	size_t hex;

	if (!dash || cw_rv_parse(tok, (size_t)(dash - tok), rv) || *rv == 0 ||
	    dash[1] != (node ? 'n' : 'o'))
		return -EINVAL;
	hex = strlen(dash + 2);
	if (hex % 2 || hex / 2 > sizeof(k->b) || hex == 0)
		return -EINVAL;
	k->n = hex / 2;
	for (size_t i = 0; i < k->n; i++) {
		int hi = hexval(dash[2 + 2 * i]), lo = hexval(dash[3 + 2 * i]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		k->b[i] = (char)(hi << 4 | lo);
	}
	return 0;
}

struct lister {
	struct cw_store *s;
	MDB_txn *t;
	const struct cw_store_list_req *req;
	int (*cb)(const struct cw_store_item *it, void *ctx);
	void *ctx;
	struct key base, prefix, start; /* start: the base plus the token's key */
	bool resume;
	size_t count;
};

/* The object an index key names, checked to be on the listed node. */
static int via_index(struct lister *l, const MDB_val *ik, struct cw_store_item *it)
{
	struct key k = {0};
	const char *node;
	size_t nl, rl = strlen(l->req->resource) + 1;
	MDB_val kv, v;
	int rc = key_strs(&k, l->s, &l->req->resource, 1);

	if (!rc)
		rc = key_add(&k, l->s, (const char *)ik->mv_data + l->base.n,
			     ik->mv_size - l->base.n);
	if (rc)
		return rc;
	kv = mval(&k);
	rc = lmdb_err(mdb_get(l->t, l->s->objects, &kv, &v));
	if (rc)
		return rc == -ENOENT ? -EBADMSG : rc; /* an index entry without object */
	rc = obj_decode(&v, it, &node, &nl);
	if (!rc && (nl != l->base.n - rl - 1 || memcmp(node, l->req->node, nl)))
		rc = -EBADMSG;
	return rc;
}

static int filtered(struct lister *l, const struct cw_store_item *it)
{
	struct cw_obj o;
	int rc;

	if (!l->req->filter)
		return 1;
	rc = cw_obj_parse(&o, it->bytes, it->len);
	if (rc)
		return rc == -ENOMEM ? rc : -EBADMSG;
	rc = l->req->filter(&o, l->req->filter_ctx);
	cw_obj_release(&o);
	return rc;
}

/* Whether key @kv (... ns\0 name\0, in both databases) is of an object
 * named @name: checked before the object is read or parsed. */
static bool key_named(const MDB_val *kv, const char *name)
{
	const char *k = kv->mv_data;
	size_t n = strlen(name);

	return kv->mv_size >= n + 2 && k[kv->mv_size - n - 2] == '\0' &&
	       !memcmp(k + kv->mv_size - n - 1, name, n);
}

static int list_walk(struct lister *l, char *cont_out, uint64_t list_rv)
{
	MDB_dbi db = l->req->node ? l->s->bynode : l->s->objects;
	struct key last = {0};
	MDB_cursor *c;
	MDB_val kv, v;
	int rc = lmdb_err(mdb_cursor_open(l->t, db, &c));

	if (rc)
		return rc;
	kv = l->resume ? mval(&l->start) : mval(&l->prefix);
	rc = cur(c, &kv, &v, MDB_SET_RANGE);
	if (!rc && l->resume && kv.mv_size == l->start.n &&
	    memcmp(kv.mv_data, l->start.b, l->start.n) == 0)
		rc = cur(c, &kv, &v, MDB_NEXT);
	for (; !rc && has_prefix(&kv, &l->prefix); rc = cur(c, &kv, &v, MDB_NEXT)) {
		struct cw_store_item it;
		const char *node;
		size_t nl;
		if (l->req->limit && l->count == l->req->limit) {
			rc = token_write(cont_out, list_rv, l->req->node, last.b, last.n);
			goto out;
		}
		if (l->req->name && !key_named(&kv, l->req->name))
			continue;
		rc = l->req->node ? via_index(l, &kv, &it) : obj_decode(&v, &it, &node, &nl);
		if (!rc)
			rc = filtered(l, &it);
		if (rc == 0)
			continue;
		if (rc == 1)
			rc = l->cb(&it, l->ctx);
		if (rc)
			goto out;
		l->count++;
		last.n = kv.mv_size - l->base.n;
		memcpy(last.b, (const char *)kv.mv_data + l->base.n, last.n);
	}
	if (rc == -ENOENT)
		rc = 0;
out:
	mdb_cursor_close(c);
	return rc;
}

static int list_keys(struct lister *l, uint64_t *snap_rv)
{
	const struct cw_store_list_req *q = l->req;
	struct key tk;
	int rc;

	l->base.n = 0;
	rc = key_strs(&l->base, l->s, &q->resource, 1);
	if (!rc && q->node)
		rc = key_strs(&l->base, l->s, &q->node, 1);
	l->prefix = l->base;
	if (!rc && q->ns)
		rc = key_strs(&l->prefix, l->s, &q->ns, 1);
	if (rc || !q->cont || !q->cont[0])
		return rc;
	rc = token_read(q->cont, snap_rv, q->node, &tk);
	l->start = l->base;
	if (!rc)
		rc = key_add(&l->start, l->s, tk.b, tk.n);
	if (!rc &&
	    !has_prefix(&(MDB_val){.mv_size = l->start.n, .mv_data = l->start.b}, &l->prefix))
		rc = -EINVAL;
	l->resume = true;
	return rc;
}

/* resourceVersion and resourceVersionMatch against the highest RV. */
static int rv_check(const struct cw_store_list_req *q, uint64_t highest)
{
	if (q->rv_match != CW_RV_ANY && q->rv_match != CW_RV_NOT_OLDER &&
	    q->rv_match != CW_RV_EXACT)
		return -EINVAL;
	if (q->rv_match == CW_RV_ANY)
		return 0;
	if (q->cont && q->cont[0])
		return -EINVAL;
	if (q->rv > highest)
		return -EAGAIN;
	return q->rv_match == CW_RV_EXACT && q->rv < highest ? -ESTALE : 0;
}

int cw_store_list(struct cw_store *s, const struct cw_store_list_req *req,
		  int (*cb)(const struct cw_store_item *it, void *ctx), void *ctx,
		  uint64_t *list_rv, char *cont_out)
{
	struct lister l = {.s = s, .req = req, .cb = cb, .ctx = ctx};
	uint64_t snap = 0;
	struct meta m;
	int rc;

	if (!req || !resource_ok(req->resource) || !cb || !list_rv || !cont_out ||
	    (req->node && !req->node[0]))
		return -EINVAL;
	cont_out[0] = '\0';
	rc = list_keys(&l, &snap);
	if (rc)
		return rc;
	rc = begin(s, MDB_RDONLY, &l.t);
	if (rc)
		return rc;
	rc = meta_get(s, l.t, req->resource, &m, NULL);
	if (!rc)
		rc = rv_check(req, m.highest);
	if (!rc && l.resume && snap < m.complete_after)
		rc = -ESTALE;
	if (!l.resume)
		snap = m.highest;
	if (!rc)
		rc = list_walk(&l, cont_out, snap);
	mdb_txn_abort(l.t);
	if (!rc)
		*list_rv = snap;
	else
		cont_out[0] = '\0';
	return rc;
}

int cw_store_get(struct cw_store *s, const char *resource, const char *ns, const char *name,
		 int (*cb)(const struct cw_store_item *it, void *ctx), void *ctx)
{
	struct cw_store_item it;
	const char *node;
	size_t nl;
	struct key k;
	MDB_txn *t;
	MDB_val kv, v;
	int rc;

	if (!resource_ok(resource) || !ns || !name || !name[0] || !cb)
		return -EINVAL;
	rc = obj_key(&k, s, resource, ns, name);
	if (!rc)
		rc = begin(s, MDB_RDONLY, &t);
	if (rc)
		return rc;
	kv = mval(&k);
	rc = lmdb_err(mdb_get(t, s->objects, &kv, &v));
	if (!rc)
		rc = obj_decode(&v, &it, &node, &nl);
	if (!rc)
		rc = cb(&it, ctx);
	mdb_txn_abort(t);
	return rc;
}

/* Every object of the resource as an ADDED event: a watch from "0". */
static int watch_state(struct cw_store *s, MDB_txn *t, const struct key *prefix,
		       cw_store_event_fn cb, void *ctx)
{
	MDB_cursor *c;
	MDB_val kv = mval(prefix), v;
	int rc = lmdb_err(mdb_cursor_open(t, s->objects, &c));

	if (rc)
		return rc;
	for (rc = cur(c, &kv, &v, MDB_SET_RANGE); !rc && has_prefix(&kv, prefix);
	     rc = cur(c, &kv, &v, MDB_NEXT)) {
		struct cw_store_item it;
		const char *node;
		size_t nl;
		rc = obj_decode(&v, &it, &node, &nl);
		if (!rc)
			rc = cb(CW_EV_ADDED, it.rv, &it, ctx);
		if (rc)
			goto out;
	}
	if (rc == -ENOENT)
		rc = 0;
out:
	mdb_cursor_close(c);
	return rc;
}

static int watch_history(struct cw_store *s, MDB_txn *t, const char *res, uint64_t from_rv,
			 cw_store_event_fn cb, void *ctx)
{
	struct key k, prefix = {0};
	MDB_cursor *c;
	MDB_val kv, v;
	int rc = hist_key(&k, s, res, from_rv + 1, 0);

	if (!rc)
		rc = key_strs(&prefix, s, &res, 1);
	if (!rc)
		rc = lmdb_err(mdb_cursor_open(t, s->history, &c));
	if (rc)
		return rc;
	kv = mval(&k);
	for (rc = cur(c, &kv, &v, MDB_SET_RANGE); !rc && has_prefix(&kv, &prefix);
	     rc = cur(c, &kv, &v, MDB_NEXT)) {
		struct cw_store_item it;
		enum cw_ev_type type;
		uint64_t rv;
		rc = hist_decode(&kv, prefix.n, &v, &type, &rv, &it);
		if (!rc)
			rc = cb(type, rv, &it, ctx);
		if (rc)
			goto out;
	}
	if (rc == -ENOENT)
		rc = 0;
out:
	mdb_cursor_close(c);
	return rc;
}

int cw_store_watch_from(struct cw_store *s, const char *resource, uint64_t from_rv,
			cw_store_event_fn cb, void *ctx, uint64_t *rv_out)
{
	struct key prefix = {0};
	struct meta m;
	MDB_txn *t;
	int rc;

	if (!resource_ok(resource) || !cb)
		return -EINVAL;
	rc = key_strs(&prefix, s, &resource, 1);
	if (!rc)
		rc = begin(s, MDB_RDONLY, &t);
	if (rc)
		return rc;
	rc = meta_get(s, t, resource, &m, NULL);
	if (!rc && from_rv && from_rv < m.complete_after)
		rc = -ESTALE;
	if (!rc && !from_rv)
		rc = watch_state(s, t, &prefix, cb, ctx);
	else if (!rc && from_rv < UINT64_MAX)
		rc = watch_history(s, t, resource, from_rv, cb, ctx);
	mdb_txn_abort(t);
	if (!rc && rv_out)
		*rv_out = m.highest;
	return rc;
}

int cw_store_stat(struct cw_store *s, const char *resource, struct cw_store_stat *st)
{
	struct key k, prefix = {0};
	struct meta m;
	MDB_cursor *c;
	MDB_txn *t;
	MDB_val kv, v;
	int rc;

	if (!resource_ok(resource) || !st)
		return -EINVAL;
	rc = hist_key(&k, s, resource, 0, 0);
	if (!rc)
		rc = key_strs(&prefix, s, &resource, 1);
	if (!rc)
		rc = begin(s, MDB_RDONLY, &t);
	if (rc)
		return rc;
	rc = meta_get(s, t, resource, &m, NULL);
	memset(st, 0, sizeof(*st));
	if (!rc)
		rc = lmdb_err(mdb_cursor_open(t, s->history, &c));
	if (!rc) {
		kv = mval(&k);
		rc = cur(c, &kv, &v, MDB_SET_RANGE);
		if (!rc && has_prefix(&kv, &prefix) && kv.mv_size == prefix.n + 12)
			st->oldest_rv = hist_rv(&kv, prefix.n);
		if (rc == -ENOENT)
			rc = 0;
		mdb_cursor_close(c);
	}
	mdb_txn_abort(t);
	st->highest_rv = m.highest;
	st->list_rv = m.list_rv;
	st->complete_after = m.complete_after;
	st->events = m.events;
	st->objects = m.objects;
	return rc;
}

int cw_store_rv(struct cw_store *s, const char *resource, uint64_t *rv)
{
	struct cw_store_stat st;
	int rc = cw_store_stat(s, resource, &st);

	if (!rc)
		*rv = st.highest_rv;
	return rc;
}
