/* SPDX-License-Identifier: Apache-2.0 */
#include "edgecache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "lmdbdir.h"

#define CTYPE_MAX 128 /* stored in front of the body, NUL-terminated */

struct cw_edgecache {
	MDB_env *env;
	MDB_dbi dbi;
	struct cw_edgecache_stats st;
};

int cw_edgecache_open(const char *dir, size_t map_size, struct cw_edgecache **out)
{
	struct cw_edgecache *c = calloc(1, sizeof(*c));
	MDB_txn *txn;
	MDB_stat ms;
	int rc;

	if (!c)
		return -ENOMEM;
	rc = cw_lmdbdir_open(dir, map_size, &c->env, &c->dbi, &txn);
	if (rc) {
		free(c);
		return rc;
	}
	rc = mdb_stat(txn, c->dbi, &ms);
	if (!rc) {
		c->st.entries = ms.ms_entries;
		rc = mdb_txn_commit(txn);
	} else {
		mdb_txn_abort(txn);
	}
	if (rc) {
		cw_edgecache_close(c);
		return cw_lmdbdir_err(rc);
	}
	*out = c;
	return 0;
}

void cw_edgecache_close(struct cw_edgecache *c)
{
	if (!c)
		return;
	if (c->env)
		mdb_env_close(c->env);
	free(c);
}

int cw_edgecache_put(struct cw_edgecache *c, const char *uri, const char *ctype, const void *body,
		     size_t len)
{
	MDB_val k = {strlen(uri), (void *)uri}, v;
	size_t cl = strnlen(ctype, CTYPE_MAX - 1);
	MDB_txn *txn;
	int rc;

	if (k.mv_size > CW_EDGECACHE_KEY_MAX || !k.mv_size)
		return -ENAMETOOLONG;
	rc = mdb_txn_begin(c->env, NULL, 0, &txn);
	if (rc)
		return cw_lmdbdir_err(rc);
	v.mv_size = cl + 1 + len;
	rc = mdb_put(txn, c->dbi, &k, &v, MDB_RESERVE);
	if (!rc) {
		memcpy(v.mv_data, ctype, cl);
		((char *)v.mv_data)[cl] = '\0';
		memcpy((char *)v.mv_data + cl + 1, body, len);
		rc = mdb_txn_commit(txn);
	} else {
		mdb_txn_abort(txn);
	}
	if (!rc)
		c->st.stored++;
	return cw_lmdbdir_err(rc);
}

int cw_edgecache_get(struct cw_edgecache *c, const char *uri,
		     int (*fn)(const char *ctype, const void *body, size_t len, void *ctx),
		     void *ctx)
{
	MDB_val k = {strlen(uri), (void *)uri}, v;
	const char *p;
	size_t cl;
	MDB_txn *txn;
	int rc;

	if (k.mv_size > CW_EDGECACHE_KEY_MAX || !k.mv_size)
		return -ENOENT;
	rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn);
	if (rc)
		return cw_lmdbdir_err(rc);
	rc = mdb_get(txn, c->dbi, &k, &v);
	if (!rc) {
		p = v.mv_data;
		cl = strnlen(p, v.mv_size);
		rc = cl < v.mv_size ? fn(p, p + cl + 1, v.mv_size - cl - 1, ctx) : -EIO;
	} else {
		rc = cw_lmdbdir_err(rc);
	}
	mdb_txn_abort(txn);
	if (rc == -ENOENT)
		c->st.misses++;
	else if (!rc)
		c->st.hits++;
	return rc;
}

const struct cw_edgecache_stats *cw_edgecache_stats(const struct cw_edgecache *c)
{
	return &c->st;
}
