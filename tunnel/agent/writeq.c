/* SPDX-License-Identifier: Apache-2.0 */
#include "writeq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "lmdbdir.h"

/* A value: verb (CW_WRITEQ_VERB_MAX bytes, NUL-padded), URI length (2
 * bytes, big-endian), content-type length (1 byte), URI, content-type,
 * body. */
#define HEAD_LEN (CW_WRITEQ_VERB_MAX + 3)
/* LMDB's overhead per entry (node header, key, a value on overflow pages
 * rounded up to a page) is covered by twice the bytes plus this much. */
#define MAP_SLACK (UINT64_C(8) << 20)

struct cw_writeq {
	MDB_env *env;
	MDB_dbi dbi;
	uint32_t max_entries, depth;
	uint64_t max_bytes, bytes;
	uint64_t next_seq;
};

static void key_of(uint64_t seq, uint8_t k[8])
{
	for (int i = 7; i >= 0; i--, seq >>= 8)
		k[i] = (uint8_t)seq;
}

static uint64_t seq_of(const MDB_val *k)
{
	const uint8_t *p = k->mv_data;
	uint64_t s = 0;

	for (size_t i = 0; i < 8 && i < k->mv_size; i++)
		s = s << 8 | p[i];
	return s;
}

/* The counted size of a value: everything but the fixed head. */
static uint64_t weight(const MDB_val *v)
{
	return v->mv_size > HEAD_LEN ? v->mv_size - HEAD_LEN : 0;
}

/* Decode value @v into @e (pointers into @v): 0 or -EIO. */
static int decode(const MDB_val *v, struct cw_writeq_entry *e, size_t *uri_len, size_t *ct_len)
{
	const uint8_t *p = v->mv_data;

	if (v->mv_size < HEAD_LEN || p[CW_WRITEQ_VERB_MAX - 1])
		return -EIO;
	*uri_len = (size_t)p[CW_WRITEQ_VERB_MAX] << 8 | p[CW_WRITEQ_VERB_MAX + 1];
	*ct_len = p[CW_WRITEQ_VERB_MAX + 2];
	if (HEAD_LEN + *uri_len + *ct_len > v->mv_size)
		return -EIO;
	memcpy(e->verb, p, CW_WRITEQ_VERB_MAX);
	e->uri = (const char *)p + HEAD_LEN;
	e->ctype = e->uri + *uri_len;
	e->body = e->ctype + *ct_len;
	e->len = v->mv_size - HEAD_LEN - *uri_len - *ct_len;
	return 0;
}

/* Count what the environment holds and where the sequence goes on. */
static int load(struct cw_writeq *q, MDB_txn *txn)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, q->dbi, &c);

	if (rc)
		return rc;
	q->next_seq = 1;
	while ((rc = mdb_cursor_get(c, &k, &v, q->depth ? MDB_NEXT : MDB_FIRST)) == 0) {
		q->depth++;
		q->bytes += weight(&v);
		q->next_seq = seq_of(&k) + 1;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int cw_writeq_open(const char *dir, uint32_t max_entries, uint64_t max_bytes,
		   struct cw_writeq **out)
{
	struct cw_writeq *q;
	MDB_txn *txn;
	int rc;

	if (!max_entries || !max_bytes)
		return -EINVAL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->max_entries = max_entries;
	q->max_bytes = max_bytes;
	rc = cw_lmdbdir_open(dir, (size_t)(2 * max_bytes + MAP_SLACK), &q->env, &q->dbi, &txn);
	if (rc) {
		free(q);
		return rc;
	}
	rc = load(q, txn);
	if (!rc)
		rc = mdb_txn_commit(txn);
	else
		mdb_txn_abort(txn);
	if (rc) {
		cw_writeq_close(q);
		return cw_lmdbdir_err(rc);
	}
	*out = q;
	return 0;
}

void cw_writeq_close(struct cw_writeq *q)
{
	if (!q)
		return;
	if (q->env)
		mdb_env_close(q->env);
	free(q);
}

/* Remove the entries with @e's verb and URI; their count and bytes into
 * *@n and *@bytes. */
static int drop_same(struct cw_writeq *q, MDB_txn *txn, const struct cw_writeq_entry *e,
		     uint32_t *n, uint64_t *bytes)
{
	struct cw_writeq_entry x;
	size_t ul, cl, want = strlen(e->uri);
	MDB_cursor *c;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, q->dbi, &c), op = MDB_FIRST;

	*n = 0;
	*bytes = 0;
	while (!rc && (rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (decode(&v, &x, &ul, &cl) || ul != want || memcmp(x.uri, e->uri, ul) ||
		    strcmp(x.verb, e->verb))
			continue;
		(*n)++;
		*bytes += weight(&v);
		rc = mdb_cursor_del(c, 0);
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static void encode(uint8_t *p, const struct cw_writeq_entry *e, size_t ul, size_t cl)
{
	memset(p, 0, CW_WRITEQ_VERB_MAX);
	memcpy(p, e->verb, strlen(e->verb));
	p[CW_WRITEQ_VERB_MAX] = (uint8_t)(ul >> 8);
	p[CW_WRITEQ_VERB_MAX + 1] = (uint8_t)ul;
	p[CW_WRITEQ_VERB_MAX + 2] = (uint8_t)cl;
	memcpy(p + HEAD_LEN, e->uri, ul);
	memcpy(p + HEAD_LEN + ul, e->ctype, cl);
	if (e->len)
		memcpy(p + HEAD_LEN + ul + cl, e->body, e->len);
}

int cw_writeq_push(struct cw_writeq *q, const struct cw_writeq_entry *e, bool coalesce,
		   uint64_t *seq)
{
	size_t ul = strlen(e->uri), cl = strlen(e->ctype);
	uint64_t size = ul + cl + e->len, gone_bytes = 0;
	uint32_t gone = 0;
	uint8_t kb[8];
	MDB_val k = {sizeof(kb), kb}, v;
	MDB_txn *txn;
	int rc;

	if (strnlen(e->verb, CW_WRITEQ_VERB_MAX) >= CW_WRITEQ_VERB_MAX || !e->verb[0])
		return -EINVAL;
	if (ul > CW_WRITEQ_URI_MAX || cl > CW_WRITEQ_CTYPE_MAX)
		return -ENAMETOOLONG;
	rc = mdb_txn_begin(q->env, NULL, 0, &txn);
	if (rc)
		return cw_lmdbdir_err(rc);
	if (coalesce)
		rc = drop_same(q, txn, e, &gone, &gone_bytes);
	if (!rc &&
	    (q->depth - gone >= q->max_entries || q->bytes - gone_bytes + size > q->max_bytes)) {
		mdb_txn_abort(txn);
		return -ENOSPC;
	}
	key_of(q->next_seq, kb);
	v.mv_size = HEAD_LEN + size;
	if (!rc)
		rc = mdb_put(txn, q->dbi, &k, &v, MDB_RESERVE | MDB_APPEND);
	if (rc) {
		mdb_txn_abort(txn);
		return cw_lmdbdir_err(rc);
	}
	encode(v.mv_data, e, ul, cl);
	rc = mdb_txn_commit(txn);
	if (rc)
		return cw_lmdbdir_err(rc);
	q->depth = q->depth - gone + 1;
	q->bytes = q->bytes - gone_bytes + size;
	*seq = q->next_seq++;
	return 0;
}

int cw_writeq_peek(struct cw_writeq *q, struct cw_writeq_entry **out)
{
	struct cw_writeq_entry x, *e = NULL;
	MDB_cursor *c = NULL;
	MDB_txn *txn;
	MDB_val k, v;
	size_t ul, cl;
	char *p;
	int rc = mdb_txn_begin(q->env, NULL, MDB_RDONLY, &txn);

	if (rc)
		return cw_lmdbdir_err(rc);
	rc = mdb_cursor_open(txn, q->dbi, &c);
	if (!rc)
		rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	rc = cw_lmdbdir_err(rc);
	if (!rc)
		rc = decode(&v, &x, &ul, &cl);
	/* one block: the entry, URI and content-type NUL-terminated, body */
	if (!rc && !(e = malloc(sizeof(*e) + ul + 1 + cl + 1 + x.len)))
		rc = -ENOMEM;
	if (!rc) {
		*e = x;
		e->seq = seq_of(&k);
		p = (char *)(e + 1);
		memcpy(p, x.uri, ul);
		p[ul] = '\0';
		e->uri = p;
		memcpy(p + ul + 1, x.ctype, cl);
		p[ul + 1 + cl] = '\0';
		e->ctype = p + ul + 1;
		if (x.len)
			memcpy(p + ul + cl + 2, x.body, x.len);
		e->body = p + ul + cl + 2;
		*out = e;
	}
	if (c)
		mdb_cursor_close(c);
	mdb_txn_abort(txn);
	return rc;
}

int cw_writeq_pop(struct cw_writeq *q, uint64_t seq)
{
	uint8_t kb[8];
	MDB_val k = {sizeof(kb), kb}, v;
	MDB_txn *txn;
	uint64_t w;
	int rc;

	key_of(seq, kb);
	rc = mdb_txn_begin(q->env, NULL, 0, &txn);
	if (rc)
		return cw_lmdbdir_err(rc);
	rc = mdb_get(txn, q->dbi, &k, &v);
	w = rc ? 0 : weight(&v);
	if (!rc)
		rc = mdb_del(txn, q->dbi, &k, NULL);
	if (!rc)
		rc = mdb_txn_commit(txn);
	else
		mdb_txn_abort(txn);
	if (rc)
		return cw_lmdbdir_err(rc);
	q->depth--;
	q->bytes -= w;
	return 0;
}

uint32_t cw_writeq_depth(const struct cw_writeq *q)
{
	return q ? q->depth : 0;
}

uint64_t cw_writeq_bytes(const struct cw_writeq *q)
{
	return q ? q->bytes : 0;
}
