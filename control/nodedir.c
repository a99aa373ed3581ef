/* SPDX-License-Identifier: Apache-2.0 */
#include "nodedir.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <urcu-qsbr.h>
#include <urcu/rculfhash.h>

struct node {
	struct cds_lfht_node ht;
	struct rcu_head rcu;
	struct cw_node_info info;
};

struct cw_nodedir {
	struct cds_lfht *ht;
	uint64_t next_gen; /* writers are serialised by the caller */
};

/* FNV-1a over the name: a directory of node names needs nothing stronger,
 * since only the gateway's own control thread inserts. */
static unsigned long name_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return (unsigned long)h;
}

static int name_match(struct cds_lfht_node *ht, const void *key)
{
	const struct node *n = caa_container_of(ht, struct node, ht);

	return strcmp(n->info.name, key) == 0;
}

static void node_free_rcu(struct rcu_head *head)
{
	free(caa_container_of(head, struct node, rcu));
}

struct cw_nodedir *cw_nodedir_new(void)
{
	struct cw_nodedir *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	/* Start small and let the table grow and shrink with the fleet. */
	d->ht = cds_lfht_new(64, 64, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, NULL);
	if (!d->ht) {
		free(d);
		return NULL;
	}
	return d;
}

void cw_nodedir_free(struct cw_nodedir *d)
{
	struct cds_lfht_iter it;
	struct node *n;

	if (!d)
		return;
	rcu_read_lock();
	cds_lfht_for_each_entry(d->ht, &it, n, ht)
	{
		if (cds_lfht_del(d->ht, &n->ht) == 0)
			call_rcu(&n->rcu, node_free_rcu);
	}
	rcu_read_unlock();
	rcu_barrier();
	cds_lfht_destroy(d->ht, NULL);
	free(d);
}

static bool name_ok(const char *name)
{
	size_t len = strnlen(name, CW_NODE_NAME_MAX + 1);

	return len > 0 && len <= CW_NODE_NAME_MAX;
}

int cw_nodedir_put(struct cw_nodedir *d, const struct cw_node_info *info, uint64_t *gen,
		   struct cw_node_info *old)
{
	struct cds_lfht_node *prev;
	struct node *n;

	if (!name_ok(info->name))
		return -EINVAL;
	n = malloc(sizeof(*n));
	if (!n)
		return -ENOMEM;
	cds_lfht_node_init(&n->ht);
	n->info = *info;
	n->info.gen = ++d->next_gen;
	prev =
	    cds_lfht_add_replace(d->ht, name_hash(n->info.name), name_match, n->info.name, &n->ht);
	if (gen)
		*gen = n->info.gen;
	if (!prev)
		return 0;
	if (old)
		*old = caa_container_of(prev, struct node, ht)->info;
	call_rcu(&caa_container_of(prev, struct node, ht)->rcu, node_free_rcu);
	return 1;
}

int cw_nodedir_del(struct cw_nodedir *d, const char *name, uint64_t gen)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *ht;
	struct node *n;

	cds_lfht_lookup(d->ht, name_hash(name), name_match, name, &it);
	ht = cds_lfht_iter_get_node(&it);
	if (!ht)
		return -ENOENT;
	n = caa_container_of(ht, struct node, ht);
	if (n->info.gen != gen)
		return -ESTALE;
	if (cds_lfht_del(d->ht, ht) != 0)
		return -ENOENT;
	call_rcu(&n->rcu, node_free_rcu);
	return 0;
}

int cw_nodedir_get(struct cw_nodedir *d, const char *name, struct cw_node_info *out)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *ht;

	cds_lfht_lookup(d->ht, name_hash(name), name_match, name, &it);
	ht = cds_lfht_iter_get_node(&it);
	if (!ht)
		return -ENOENT;
	*out = caa_container_of(ht, struct node, ht)->info;
	return 0;
}

unsigned long cw_nodedir_count(struct cw_nodedir *d)
{
	long before, after;
	unsigned long count;

	cds_lfht_count_nodes(d->ht, &before, &count, &after);
	return count;
}

void cw_nodedir_foreach(struct cw_nodedir *d, int (*fn)(const struct cw_node_info *, void *),
			void *ctx)
{
	struct cds_lfht_iter it;
	struct node *n;

	cds_lfht_for_each_entry(d->ht, &it, n, ht)
	{
		struct cw_node_info copy = n->info;

		if (fn(&copy, ctx))
			break;
	}
}
