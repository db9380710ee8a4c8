/*
 * retain.c - retention: buckets past their level's horizon, and event ids
 * past the dedup window, deleted (the background thread of threads.c
 * calls store_expire() every retain_interval seconds).
 *
 * Retention never searches: the packs database is ordered by (level,
 * time) first (keys.h), so a pass deletes from the start of each level's
 * run and stops at the first pack that still holds a bucket kept.  A
 * head's open pack is not deleted (the next write of its series pushes it
 * out); reads never count a bucket past its level's horizon anyway.
 * Top lists (top.c) go with their buckets, from the start of each level's
 * run in the tops database.  Dedup ids are forgotten the same way,
 * through dedupx.  Work is
 * cut into transactions of at most EXPIRE_BATCH deletions so that writers
 * never wait long behind it.
 */
#include "internal.h"

#include "../common/log.h"
#include "../common/mono.h"

#include <malloc.h>
#include <string.h>
#include <time.h>

#define EXPIRE_BATCH 2000

/* One transaction of a retention pass: at most EXPIRE_BATCH deletions. */
struct expire_run {
	uint32_t now;
	int budget;
	bool more;	  /* some remain for the next transaction */
	uint64_t buckets; /* in the packs deleted */
};

/* Delete expired packs of @level while the budget lasts. */
static int expire_level(struct shard *sh, MDB_txn *txn, int level,
			struct expire_run *x)
{
	unsigned char first[1] = {(unsigned char)level};
	MDB_val k = {1, first}, v;
	MDB_cursor *c;
	int rc;

	if (sh->st->cfg.keep[level] == 0)
		return 0;
	if ((rc = lmdb_errno(mdb_cursor_open(txn, sh->packs, &c))))
		return rc;
	/* After each delete, seek again: simpler than trusting the
	 * cursor's position past a deleted last item. */
	for (rc = lmdb_errno(mdb_cursor_get(c, &k, &v, MDB_SET_RANGE));
	     rc == 0; k = (MDB_val){1, first},
	    rc = lmdb_errno(mdb_cursor_get(c, &k, &v, MDB_SET_RANGE))) {
		unsigned l;
		uint32_t start;
		uint64_t id;

		if (!pack_key_parse(k.mv_data, k.mv_size, &l, &start, &id) ||
		    l != (unsigned)level)
			break;
		/* Its last bucket still kept: so is every later pack. */
		if (!pack_expired(&sh->st->cfg, level, start, x->now))
			break;
		if (x->budget == 0) {
			x->more = true;
			break;
		}
		struct pack p;
		unsigned buckets = pack_decode(v.mv_data, v.mv_size, l, start,
					       &p)
				       ? p.n
				       : 1;
		if ((rc = lmdb_errno(mdb_cursor_del(c, 0))))
			break;
		x->budget--;
		x->buckets += buckets;
	}
	mdb_cursor_close(c);
	return rc == -ENOENT ? 0 : rc;
}

/* Forget event ids whose window ended; same budget rules. */
static int expire_dedup(struct shard *sh, MDB_txn *txn, struct expire_run *x)
{
	MDB_val k, v;
	MDB_cursor *c;
	int rc;

	if ((rc = lmdb_errno(mdb_cursor_open(txn, sh->dedupx, &c))))
		return rc;
	for (rc = lmdb_errno(mdb_cursor_get(c, &k, &v, MDB_FIRST)); rc == 0;
	     rc = lmdb_errno(mdb_cursor_get(c, &k, &v, MDB_FIRST))) {
		const void *dkey;
		size_t dlen;
		uint32_t expires, have;

		if (!dedupx_key_parse(k.mv_data, k.mv_size, &expires, &dkey,
				      &dlen) ||
		    expires > x->now)
			break;
		if (x->budget == 0) {
			x->more = true;
			break;
		}
		MDB_val dk = {dlen, (void *)dkey}, dv;
		rc = lmdb_errno(mdb_get(txn, sh->dedup, &dk, &dv));
		if (rc == 0 && dv.mv_size == 4) {
			memcpy(&have, dv.mv_data, 4);
			if (have == expires)
				rc = lmdb_errno(mdb_del(txn, sh->dedup, &dk,
							NULL));
		}
		if (rc && rc != -ENOENT)
			break;
		if ((rc = lmdb_errno(mdb_cursor_del(c, 0))))
			break;
		x->budget--;
	}
	mdb_cursor_close(c);
	return rc == -ENOENT ? 0 : rc;
}

static int expire_some(struct shard *sh, MDB_txn *txn, void *arg)
{
	struct expire_run *x = arg;
	int rc = 0;

	x->budget = EXPIRE_BATCH;
	x->more = false;
	x->buckets = 0;
	for (int l = 0; l < STORE_LEVELS && rc == 0; l++)
		rc = expire_level(sh, txn, l, x);
	for (int l = STORE_MIN; l < STORE_LEVELS && rc == 0; l++)
		rc = tops_expire(sh, txn, l, x->now, &x->budget, &x->more);
	return rc ? rc : expire_dedup(sh, txn, x);
}

static int expire_shard(struct shard *sh, uint32_t now)
{
	struct expire_run x = {.now = now, .more = true};
	int rc = 0;

	while (x.more && rc == 0)
		if ((rc = shard_write(sh, expire_some, &x)) == 0)
			atomic_fetch_add(&sh->st->expired, x.buckets);
	return rc;
}

int store_expire(struct store *st, uint32_t now)
{
	uint_fast32_t seen = atomic_load(&st->expire_now);

	while (seen < now &&
	       !atomic_compare_exchange_weak(&st->expire_now, &seen, now))
		;
	for (unsigned i = 0; i < st->nshards; i++) {
		int rc = expire_shard(&st->shards[i], now);
		if (rc)
			return store_errno(rc, "retention pass");
	}
	return 0;
}
