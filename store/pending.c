/*
 * pending.c - the replication feed: which minute buckets and totals
 * changed since they were last pushed to MySQL.
 *
 * A pending key is the replication shard (one byte) followed by the bucket
 * key, so each MySQL shard's rows are one contiguous range that its
 * replicator walks in key order, and a bucket changed a thousand times
 * between two pushes is one row.  The value is the time the row was first
 * marked.  Rows carry no version: a bucket's count grows with every
 * change, so "unchanged since read" is "same count".
 */
#include "internal.h"

#include "../common/log.h"

#include <string.h>
#include <time.h>

int pending_mark(struct shard *sh, MDB_txn *txn, unsigned repl,
		 const unsigned char bucket[BUCKET_KEY_LEN], uint32_t now)
{
	unsigned char key[PENDING_KEY_LEN];
	MDB_val k = {PENDING_KEY_LEN, key}, v = {sizeof(now), &now};
	int rc;

	key[0] = (unsigned char)repl;
	memcpy(key + 1, bucket, BUCKET_KEY_LEN);
	rc = mdb_put(txn, sh->pending, &k, &v, MDB_NOOVERWRITE);
	return rc == MDB_KEYEXIST ? 0 : rc;
}

uint64_t pending_count(struct shard *sh)
{
	MDB_txn *txn;
	MDB_stat ms;
	uint64_t n = 0;

	if (shard_txn_begin(sh, MDB_RDONLY, &txn))
		return 0;
	if (mdb_stat(txn, sh->pending, &ms) == 0)
		n = ms.ms_entries;
	shard_txn_abort(sh, txn);
	return n;
}

/* The video and type of series @id ("video\0type" in names). */
static int series_name(struct shard *sh, MDB_txn *txn, uint64_t id,
		       struct store_row *row)
{
	unsigned char idb[8];
	MDB_val k = {8, idb}, v;
	int rc;

	put_be64(idb, id);
	if ((rc = mdb_get(txn, sh->names, &k, &v)))
		return rc;
	const char *name = v.mv_data, *nul = memchr(name, 0, v.mv_size);
	size_t vlen = nul ? (size_t)(nul - name) : 0;
	size_t tlen = nul ? v.mv_size - vlen - 1 : 0;
	if (!nul || vlen > STORE_VIDEO_MAX || tlen > STORE_TYPE_MAX)
		return MDB_CORRUPTED;
	memcpy(row->video, name, vlen);
	row->video[vlen] = 0;
	memcpy(row->type, nul + 1, tlen);
	row->type[tlen] = 0;
	return 0;
}

/* Mark every minute bucket and total of @sh for @repls shards. */
static int mark_all(struct shard *sh, MDB_txn *txn, unsigned repls)
{
	uint32_t now = (uint32_t)time(NULL);
	struct store_row row;
	uint64_t last_id = 0;
	unsigned repl = 0;
	MDB_cursor *c;
	MDB_val k, v;
	size_t marked = 0;
	int rc;

	if ((rc = mdb_cursor_open(txn, sh->buckets, &c)))
		return rc;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		const unsigned char *kb = k.mv_data;
		if (k.mv_size != BUCKET_KEY_LEN ||
		    (kb[8] != STORE_MIN && kb[8] != LEVEL_TOTAL))
			continue;
		uint64_t id = get_be64(kb);
		if (id != last_id) {
			if ((rc = series_name(sh, txn, id, &row)))
				break;
			repl = store_hash_shard(row.video, strlen(row.video),
						repls);
			last_id = id;
		}
		if ((rc = pending_mark(sh, txn, repl, kb, now)))
			break;
		marked++;
	}
	mdb_cursor_close(c);
	if (marked)
		log_info("shard %u: %zu rows marked for replication to %u "
			 "MySQL shards",
			 sh->index, marked, repls);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int pending_setup(struct shard *sh, MDB_txn *txn)
{
	static const char name[] = "repl_shards";
	uint32_t want = sh->st->cfg.repl_shards, have = 0;
	MDB_val k = {sizeof(name) - 1, (void *)name}, v;
	int rc = mdb_get(txn, sh->meta, &k, &v);

	if (rc == 0 && v.mv_size == sizeof(have))
		memcpy(&have, v.mv_data, sizeof(have));
	else if (rc != MDB_NOTFOUND)
		return rc ? rc : MDB_CORRUPTED;
	if (have == want)
		return 0;
	if ((rc = mdb_drop(txn, sh->pending, 0)))
		return rc;
	if (want && (rc = mark_all(sh, txn, want)))
		return rc;
	v = (MDB_val){sizeof(want), &want};
	return mdb_put(txn, sh->meta, &k, &v, 0);
}

/* Fill @row from pending key @k and the bucket it names. */
static int read_row(struct shard *sh, MDB_txn *txn, const MDB_val *k,
		    const MDB_val *v, struct store_row *row)
{
	const unsigned char *kb = k->mv_data;
	MDB_val bk = {BUCKET_KEY_LEN, (void *)(kb + 1)}, bv;
	int rc;

	memset(row, 0, sizeof(*row));
	memcpy(row->key, kb, PENDING_KEY_LEN);
	if (v->mv_size == sizeof(row->marked))
		memcpy(&row->marked, v->mv_data, sizeof(row->marked));
	row->total = kb[9] == LEVEL_TOTAL;
	row->minute = get_be32(kb + 10);
	if ((rc = series_name(sh, txn, get_be64(kb + 1), row)))
		return rc;
	rc = mdb_get(txn, sh->buckets, &bk, &bv);
	if (rc == MDB_NOTFOUND)	/* expired: count 0, acked without push */
		return 0;
	if (rc)
		return rc;
	if (bv.mv_size != sizeof(row->agg))
		return MDB_CORRUPTED;
	memcpy(&row->agg, bv.mv_data, sizeof(row->agg));
	return 0;
}

int store_pending_read(struct store *st, unsigned shard, unsigned repl,
		       const unsigned char *resume, struct store_row *rows,
		       size_t max, size_t *n, bool *end)
{
	struct shard *sh = &st->shards[shard];
	unsigned char start[PENDING_KEY_LEN] = {(unsigned char)repl};
	MDB_val k = {PENDING_KEY_LEN, start}, v;
	MDB_txn *txn;
	MDB_cursor *c;
	int rc;

	*n = 0;
	*end = false;
	if (resume)
		memcpy(start, resume, PENDING_KEY_LEN);
	if ((rc = shard_txn_begin(sh, MDB_RDONLY, &txn)))
		return store_errno(rc, "reading pending rows");
	if ((rc = mdb_cursor_open(txn, sh->pending, &c))) {
		shard_txn_abort(sh, txn);
		return store_errno(rc, "reading pending rows");
	}
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	if (rc == 0 && resume && k.mv_size == PENDING_KEY_LEN &&
	    memcmp(k.mv_data, resume, PENDING_KEY_LEN) == 0)
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	for (; rc == 0 && *n < max; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != PENDING_KEY_LEN ||
		    ((unsigned char *)k.mv_data)[0] != repl)
			break;
		if ((rc = read_row(sh, txn, &k, &v, &rows[*n])))
			break;
		(*n)++;
	}
	if (rc == MDB_NOTFOUND ||
	    (rc == 0 && *n < max))	/* left the range */
		*end = true;
	mdb_cursor_close(c);
	shard_txn_abort(sh, txn);
	return rc == MDB_NOTFOUND ? 0 : store_errno(rc, "reading pending rows");
}

static int ack_rows(struct shard *sh, MDB_txn *txn,
		    const struct store_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		MDB_val pk = {PENDING_KEY_LEN, (void *)rows[i].key};
		MDB_val bk = {BUCKET_KEY_LEN, (void *)(rows[i].key + 1)}, bv;
		struct store_agg now;
		int rc = mdb_get(txn, sh->buckets, &bk, &bv);

		if (rc == 0) {
			if (bv.mv_size != sizeof(now))
				return MDB_CORRUPTED;
			memcpy(&now, bv.mv_data, sizeof(now));
			if (now.count != rows[i].agg.count)
				continue;	/* changed: push again */
		} else if (rc != MDB_NOTFOUND) {
			return rc;
		}
		rc = mdb_del(txn, sh->pending, &pk, NULL);
		if (rc && rc != MDB_NOTFOUND)
			return rc;
	}
	return 0;
}

int store_pending_ack(struct store *st, unsigned shard,
		      const struct store_row *rows, size_t n)
{
	struct shard *sh = &st->shards[shard];
	MDB_txn *txn;
	int rc;

	for (int attempt = 0; attempt < 8; attempt++) {
		if ((rc = shard_txn_begin(sh, 0, &txn)))
			break;
		if ((rc = ack_rows(sh, txn, rows, n))) {
			shard_txn_abort(sh, txn);
		} else {
			rc = shard_txn_commit(sh, txn);
			atomic_store(&sh->dirty, true);
		}
		if (rc != MDB_MAP_FULL)
			break;
		if ((rc = shard_grow(sh)))
			break;
	}
	return store_errno(rc, "acknowledging replicated rows");
}
