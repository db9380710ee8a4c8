/*
 * retain.c - the store's background thread: journals applied every 100 ms,
 * fsync each second, dead readers' slots cleared every 5 s, retention.
 *
 * Retention never searches: the packs database is ordered by (level,
 * time) first (keys.h), so a pass deletes from the start of each level's
 * run and stops at the first pack that still holds a bucket kept.  A
 * head's open pack is not deleted (the next write of its series pushes it
 * out); reads never count a bucket past its level's horizon anyway.
 * Dedup ids are forgotten the same way, through dedupx.  Work is
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

/* Delete up to @budget expired packs of @level; *@more when some remain. */
static int expire_level(struct shard *sh, MDB_txn *txn, int level, uint32_t now,
			int *budget, bool *more)
{
	unsigned char first[1] = {(unsigned char)level};
	MDB_val k = {1, first}, v;
	MDB_cursor *c;
	int rc;

	if (sh->st->cfg.keep[level] == 0)
		return 0;
	if ((rc = mdb_cursor_open(txn, sh->packs, &c)))
		return rc;
	/* After each delete, seek again: simpler than trusting the
	 * cursor's position past a deleted last item. */
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	     k = (MDB_val){1, first},
	    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE)) {
		unsigned l;
		uint32_t start;
		uint64_t id;

		if (!pack_key_parse(k.mv_data, k.mv_size, &l, &start, &id) ||
		    l != (unsigned)level)
			break;
		/* Its last bucket still kept: so is every later pack. */
		if (!pack_expired(&sh->st->cfg, level, start, now))
			break;
		if (*budget == 0) {
			*more = true;
			break;
		}
		struct pack p;
		unsigned buckets = pack_decode(v.mv_data, v.mv_size, l, start,
					       &p)
				       ? p.n
				       : 1;
		if ((rc = mdb_cursor_del(c, 0)))
			break;
		(*budget)--;
		atomic_fetch_add(&sh->st->expired, buckets);
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Forget event ids whose window ended; same budget rules. */
static int expire_dedup(struct shard *sh, MDB_txn *txn, uint32_t now,
			int *budget, bool *more)
{
	MDB_val k, v;
	MDB_cursor *c;
	int rc;

	if ((rc = mdb_cursor_open(txn, sh->dedupx, &c)))
		return rc;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) {
		const void *dkey;
		size_t dlen;
		uint32_t expires, have;

		if (!dedupx_key_parse(k.mv_data, k.mv_size, &expires, &dkey,
				      &dlen) ||
		    expires > now)
			break;
		if (*budget == 0) {
			*more = true;
			break;
		}
		MDB_val dk = {dlen, (void *)dkey}, dv;
		rc = mdb_get(txn, sh->dedup, &dk, &dv);
		if (rc == 0 && dv.mv_size == 4) {
			memcpy(&have, dv.mv_data, 4);
			if (have == expires)
				rc = mdb_del(txn, sh->dedup, &dk, NULL);
		}
		if (rc && rc != MDB_NOTFOUND)
			break;
		if ((rc = mdb_cursor_del(c, 0)))
			break;
		(*budget)--;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int expire_shard(struct shard *sh, uint32_t now)
{
	bool more = true;
	int rc = 0;

	while (more && rc == 0) {
		int budget = EXPIRE_BATCH;
		MDB_txn *txn;

		more = false;
		if ((rc = shard_txn_begin(sh, 0, &txn)))
			break;
		for (int l = 0; l < STORE_LEVELS && rc == 0; l++)
			rc = expire_level(sh, txn, l, now, &budget, &more);
		if (rc == 0)
			rc = expire_dedup(sh, txn, now, &budget, &more);
		if (rc) {
			shard_txn_abort(sh, txn);
		} else {
			rc = shard_txn_commit(sh, txn);
			atomic_store(&sh->dirty, true);
		}
		if (rc == MDB_MAP_FULL) {
			rc = shard_grow(sh);
			more = true;
		}
	}
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

int shard_sync(struct shard *sh)
{
	if (!atomic_exchange(&sh->dirty, false))
		return 0;
	pthread_rwlock_rdlock(&sh->resize);
	int rc = mdb_env_sync(sh->env, 1);
	pthread_rwlock_unlock(&sh->resize);
	atomic_fetch_add(&sh->st->fsyncs, 1);
	if (rc) {
		atomic_store(&sh->dirty, true);
		return store_errno(rc, "fsync of a shard");
	}
	return 0;
}

#define TICK_NS 100000000u /* journals are applied at least this often */
#define READERS_S 5	     /* dead readers' slots are cleared this often */

void *store_background(void *arg)
{
	struct store *st = arg;
	time_t last_expire = 0;
	unsigned tick = 0;

	pthread_mutex_lock(&st->bg_lock);
	while (!st->bg_stop) {
		struct timespec until = mono_deadline(TICK_NS);
		pthread_cond_timedwait(&st->bg_cond, &st->bg_lock, &until);
		if (st->bg_stop)
			break;
		pthread_mutex_unlock(&st->bg_lock);

		for (unsigned i = 0; i < st->nshards; i++)
			journal_settle(&st->shards[i]);
		if (++tick % (1000000000u / TICK_NS) == 0) {
			for (unsigned i = 0; i < st->nshards; i++) {
				journal_rotate(&st->shards[i]);
				shard_sync(&st->shards[i]);
			}
			malloc_trim(0); /* give back what large writes left */
			/* The daemon's one clock tick: rate-limited log
			 * lines get their "N more like this" on time. */
			log_summaries(false);
			if (tick % (READERS_S * (1000000000u / TICK_NS)) == 0)
				for (unsigned i = 0; i < st->nshards; i++)
					shard_clear_readers(&st->shards[i]);
			time_t now = time(NULL);
			if (now - last_expire >= (time_t)st->cfg.retain_interval) {
				store_expire(st, (uint32_t)now);
				last_expire = now;
			}
		}
		pthread_mutex_lock(&st->bg_lock);
	}
	pthread_mutex_unlock(&st->bg_lock);
	return NULL;
}
