/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An LMDB environment of one unnamed database in a directory of its own,
 * as the edge hub's cache (edgecache.c) and offline write queue
 * (writeq.c) keep theirs.
 */
#ifndef CW_AGENT_LMDBDIR_H
#define CW_AGENT_LMDBDIR_H

#include <stddef.h>

#include <lmdb.h>

/* An LMDB return code as a negative errno: MDB_MAP_FULL -ENOSPC,
 * MDB_NOTFOUND -ENOENT, another LMDB code -EIO; 0 stays 0. */
int cw_lmdbdir_err(int rc);

/*
 * Create @dir (mode 0700) unless it exists, open its environment with a
 * @map_size-byte map and its unnamed database into *@env and *@dbi, and
 * begin a write transaction *@txn for the caller's first reads (the
 * caller commits or aborts it, then closes *@env with mdb_env_close()).
 * On an error nothing is left open. Returns 0, or a negative errno.
 */
int cw_lmdbdir_open(const char *dir, size_t map_size, MDB_env **env, MDB_dbi *dbi, MDB_txn **txn);

#endif /* CW_AGENT_LMDBDIR_H */
