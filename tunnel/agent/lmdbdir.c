/* SPDX-License-Identifier: Apache-2.0 */
#include "lmdbdir.h"

#include <errno.h>
#include <sys/stat.h>

int cw_lmdbdir_err(int rc)
{
	switch (rc) {
	case 0:
		return 0;
	case MDB_MAP_FULL:
		return -ENOSPC;
	case MDB_NOTFOUND:
		return -ENOENT;
	default:
		return rc > 0 ? -rc : -EIO;
	}
}

int cw_lmdbdir_open(const char *dir, size_t map_size, MDB_env **env, MDB_dbi *dbi, MDB_txn **txn)
{
	int rc;

	*env = NULL;
	*txn = NULL;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	rc = mdb_env_create(env);
	if (!rc)
		rc = mdb_env_set_mapsize(*env, map_size);
	if (!rc)
		rc = mdb_env_open(*env, dir, MDB_NOTLS, 0600);
	if (!rc)
		rc = mdb_txn_begin(*env, NULL, 0, txn);
	if (!rc)
		rc = mdb_dbi_open(*txn, NULL, 0, dbi);
	if (!rc)
		return 0;
	if (*txn)
		mdb_txn_abort(*txn);
	if (*env)
		mdb_env_close(*env);
	*env = NULL;
	*txn = NULL;
	return cw_lmdbdir_err(rc);
}
