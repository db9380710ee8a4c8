/*
 * pending.c - the replication feed: which minute buckets and totals
 * changed since they were last pushed to MySQL, and the store_feed that
 * hands them to the replicator.
 *
 * A pending key is the replication shard (one byte) followed by the series
 * id and the bucket (keys.h), so each MySQL shard's rows are one
 * contiguous range of each LMDB shard, walked in key order, and a bucket
 * changed a thousand times between two pushes is one row.  The value is
 * the time the row was first marked.  Rows carry no version: a bucket's
 * count grows with every change, so "unchanged since read" is "same
 * count".  Keys stay here: a row leaving the store names its series and
 * bucket in store_row.feed_private, and the feed remembers the rest.
 */
#include "internal.h"

#include "../common/log.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int pending_mark(struct shard *sh, MDB_txn *txn, unsigned repl, uint64_t id,
		 unsigned level, uint32_t t, uint32_t now)
{
	unsigned char key[PENDING_KEY_LEN];
	MDB_val k = {PENDING_KEY_LEN, key}, v = {sizeof(now), &now};
	int rc;

	pending_key(key, repl, id, level, t);
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
	unsigned char idk[ID_KEY_LEN];
	MDB_val k = {ID_KEY_LEN, idk}, v;
	const char *video, *type;
	size_t vlen, tlen;
	int rc;

	id_key(idk, id);
	if ((rc = mdb_get(txn, sh->names, &k, &v)))
		return rc;
	if (!series_key_split(v.mv_data, v.mv_size, &video, &vlen, &type,
			      &tlen))
		return MDB_CORRUPTED;
	memcpy(row->video, video, vlen);
	row->video[vlen] = 0;
	memcpy(row->type, type, tlen);
	row->type[tlen] = 0;
	return 0;
}

/* The head of series @id: read its name, then the head. */
static int series_head(struct shard *sh, MDB_txn *txn, uint64_t id,
		       struct store_row *row, struct head *h)
{
	int rc = series_name(sh, txn, id, row);

	if (rc == 0)
		rc = series_lookup(sh, txn, row->video, strlen(row->video),
				   row->type, strlen(row->type), h, false);
	if (rc == 0 && h->id != id)
		rc = MDB_CORRUPTED;
	return rc;
}

/* Mark every minute bucket and total of @sh for @repls shards: each
 * head's total and open minute pack, then the packs of minutes. */
static int mark_all(struct shard *sh, MDB_txn *txn, unsigned repls)
{
	uint32_t now = (uint32_t)time(NULL);
	const char *video, *type;
	size_t vlen, tlen, marked = 0;
	struct head h;
	struct pack p;
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_cursor_open(txn, sh->series, &c)))
		return rc;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (!series_key_split(k.mv_data, k.mv_size, &video, &vlen,
				      &type, &tlen) ||
		    !head_decode(v.mv_data, v.mv_size, &h, false)) {
			rc = MDB_CORRUPTED;
			break;
		}
		unsigned repl = store_hash_shard(video, vlen, repls);
		if ((rc = pending_mark(sh, txn, repl, h.id, LEVEL_TOTAL, 0,
				       now)))
			break;
		marked++;
		const struct pack *m = &h.pack[STORE_MIN];
		for (unsigned i = 0; h.open & 1u << STORE_MIN && i < m->n; i++) {
			if ((rc = pending_mark(sh, txn, repl, h.id, STORE_MIN,
					       pack_time(m, STORE_MIN, i),
					       now)))
				break;
			marked++;
		}
		if (rc)
			break;
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		return rc;

	unsigned char first[1] = {STORE_MIN};
	struct store_row row;
	uint64_t id;
	uint32_t start;
	unsigned level;
	if ((rc = mdb_cursor_open(txn, sh->packs, &c)))
		return rc;
	k = (MDB_val){1, first};
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (!pack_key_parse(k.mv_data, k.mv_size, &level, &start,
				    &id) ||
		    level != STORE_MIN)
			break;
		if (!pack_decode(v.mv_data, v.mv_size, level, start, &p)) {
			rc = MDB_CORRUPTED;
			break;
		}
		if ((rc = series_name(sh, txn, id, &row)))
			break;
		unsigned repl =
		    store_hash_shard(row.video, strlen(row.video), repls);
		for (unsigned i = 0; i < p.n && rc == 0; i++, marked++)
			rc = pending_mark(sh, txn, repl, id, STORE_MIN,
					  pack_time(&p, STORE_MIN, i), now);
		if (rc)
			break;
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
	unsigned repl, level;
	uint64_t id;
	uint32_t t;
	struct head h;
	int rc;

	memset(row, 0, sizeof(*row));
	if (!pending_key_parse(k->mv_data, k->mv_size, &repl, &id, &level, &t))
		return MDB_CORRUPTED;
	row->feed_private.series = id;
	row->feed_private.level = (uint8_t)level;
	row->feed_private.time = t;
	if (v->mv_size == sizeof(row->marked))
		memcpy(&row->marked, v->mv_data, sizeof(row->marked));
	row->total = level == LEVEL_TOTAL;
	row->minute = t;
	if ((rc = series_head(sh, txn, id, row, &h)))
		return rc;
	/* A bucket retention removed reads as count 0: acked, not pushed. */
	return series_bucket(sh, txn, &h, level, t, &row->agg);
}

/* The pending key of a row the feed returned. */
static void row_key(unsigned char k[PENDING_KEY_LEN], unsigned repl,
		    const struct store_row *row)
{
	pending_key(k, repl, row->feed_private.series,
		    row->feed_private.level, row->feed_private.time);
}

/*
 * Read up to @max pending rows of replication shard @repl from @sh, in key
 * order, after @after (NULL: from the start of the range).  *@end is set
 * when the range was read to its end.
 */
static int shard_read(struct shard *sh, unsigned repl,
		      const unsigned char *after, struct store_row *rows,
		      size_t max, size_t *n, bool *end)
{
	unsigned char start[PENDING_KEY_LEN] = {(unsigned char)repl};
	MDB_val k = {PENDING_KEY_LEN, start}, v;
	MDB_txn *txn;
	MDB_cursor *c;
	int rc;

	*n = 0;
	*end = false;
	if (after)
		memcpy(start, after, PENDING_KEY_LEN);
	if ((rc = shard_txn_begin(sh, MDB_RDONLY, &txn)))
		return store_errno(rc, "reading pending rows");
	if ((rc = mdb_cursor_open(txn, sh->pending, &c))) {
		shard_txn_abort(sh, txn);
		return store_errno(rc, "reading pending rows");
	}
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	if (rc == 0 && after && k.mv_size == PENDING_KEY_LEN &&
	    memcmp(k.mv_data, after, PENDING_KEY_LEN) == 0)
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	for (; rc == 0 && *n < max; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != PENDING_KEY_LEN ||
		    ((unsigned char *)k.mv_data)[0] != repl)
			break;
		if ((rc = read_row(sh, txn, &k, &v, &rows[*n])))
			break;
		(*n)++;
	}
	if (rc == MDB_NOTFOUND || rc == -ENOENT ||
	    (rc == 0 && *n < max))	/* left the range */
		*end = true;
	mdb_cursor_close(c);
	shard_txn_abort(sh, txn);
	return rc == MDB_NOTFOUND || rc == -ENOENT
		   ? 0
		   : store_errno(rc, "reading pending rows");
}

/* Unmark the rows of @sh that are unchanged since they were read. */
static int ack_rows(struct shard *sh, MDB_txn *txn, unsigned repl,
		    const struct store_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char key[PENDING_KEY_LEN];
		MDB_val pk = {PENDING_KEY_LEN, key};
		struct store_agg now;
		struct store_row row;
		struct head h;
		int rc;

		row_key(key, repl, &rows[i]);
		rc = series_head(sh, txn, rows[i].feed_private.series, &row,
				 &h);
		if (rc == 0)
			rc = series_bucket(sh, txn, &h,
					   rows[i].feed_private.level,
					   rows[i].feed_private.time, &now);
		if (rc)
			return rc;
		if (now.count != rows[i].agg.count)
			continue; /* changed: push again */
		rc = mdb_del(txn, sh->pending, &pk, NULL);
		if (rc && rc != MDB_NOTFOUND)
			return rc;
	}
	return 0;
}

static int shard_ack(struct shard *sh, unsigned repl,
		     const struct store_row *rows, size_t n)
{
	MDB_txn *txn;
	int rc;

	for (int attempt = 0; attempt < 8; attempt++) {
		if ((rc = shard_txn_begin(sh, 0, &txn)))
			break;
		if ((rc = ack_rows(sh, txn, repl, rows, n))) {
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

/* ---- the feed ----------------------------------------------------------
 *
 * A feed keeps, per LMDB shard, the pending key of the last row
 * acknowledged and whether this cycle read the shard to its end.  A read
 * moves nothing: it notes where its batch ends, and the ack moves the
 * shard there and the turn to the next shard.  So a batch whose push
 * failed is read again, with its buckets' aggregates as they are then.
 */
struct feed_shard {
	unsigned char after[PENDING_KEY_LEN]; /* the last row acknowledged */
	bool resume; /* after is set; else read from the range's start */
	bool done;   /* read to its end in this cycle */
};

struct store_feed {
	struct store *st;
	unsigned repl;
	unsigned next; /* the shard whose turn is next */

	/* The last read, until it is acknowledged. */
	uint64_t read; /* its number, stamped on its rows; 0: none */
	size_t nread;
	unsigned shard;
	bool end; /* it read @shard to its end */

	struct feed_shard pos[];
};

/* Numbers of reads, unique across feeds: rows name the read they came
 * from, so rows of another read are refused by the ack. */
static atomic_uint_fast64_t feed_reads;

int store_feed_open(struct store *st, unsigned repl, struct store_feed **out)
{
	struct store_feed *f;

	*out = NULL;
	if (repl >= st->cfg.repl_shards)
		return -EINVAL;
	f = calloc(1, sizeof(*f) + st->nshards * sizeof(f->pos[0]));
	if (!f)
		return -ENOMEM;
	f->st = st;
	f->repl = repl;
	*out = f;
	return 0;
}

void store_feed_close(struct store_feed *f)
{
	free(f);
}

/* Has every shard but @except been read to its end in this cycle? */
static bool others_done(const struct store_feed *f, unsigned except)
{
	for (unsigned s = 0; s < f->st->nshards; s++)
		if (s != except && !f->pos[s].done)
			return false;
	return true;
}

/* Shard @s was read to its end: next cycle it starts over. */
static void shard_done(struct store_feed *f, unsigned s)
{
	f->pos[s].done = true;
	f->pos[s].resume = false;
}

static void new_cycle(struct store_feed *f)
{
	for (unsigned s = 0; s < f->st->nshards; s++)
		f->pos[s].done = false;
}

int store_feed_read(struct store_feed *f, struct store_row *rows,
		    size_t max, size_t *n, bool *cycle_end)
{
	unsigned nshards = f->st->nshards;

	*n = 0;
	*cycle_end = false;
	f->read = 0; /* a read not acknowledged is read again */
	if (max == 0)
		return -EINVAL;
	for (unsigned i = 0; i < nshards; i++) {
		unsigned s = (f->next + i) % nshards;
		struct feed_shard *p = &f->pos[s];
		bool end;
		int rc;

		if (p->done)
			continue;
		rc = shard_read(&f->st->shards[s], f->repl,
				p->resume ? p->after : NULL, rows, max, n, &end);
		if (rc)
			return rc;
		if (*n == 0) {
			shard_done(f, s); /* nothing to acknowledge */
			continue;
		}
		f->read = atomic_fetch_add(&feed_reads, 1) + 1;
		for (size_t r = 0; r < *n; r++)
			rows[r].feed_private.read = f->read;
		f->nread = *n;
		f->shard = s;
		f->end = end;
		*cycle_end = end && others_done(f, s);
		return 0;
	}
	/* Every shard read to its end since the cycle began. */
	new_cycle(f);
	*cycle_end = true;
	return 0;
}

int store_feed_ack(struct store_feed *f, const struct store_row *rows,
		   size_t n)
{
	struct feed_shard *p;
	int rc;

	if (n == 0 && f->read == 0)
		return 0; /* the last read returned nothing */
	if (f->read == 0 || n != f->nread)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (rows[i].feed_private.read != f->read)
			return -EINVAL;
	if ((rc = shard_ack(&f->st->shards[f->shard], f->repl, rows, n)))
		return rc;
	p = &f->pos[f->shard];
	if (f->end) {
		shard_done(f, f->shard);
	} else {
		row_key(p->after, f->repl, &rows[n - 1]);
		p->resume = true;
	}
	f->next = (f->shard + 1) % f->st->nshards;
	f->read = 0;
	if (others_done(f, f->shard) && p->done)
		new_cycle(f);
	return 0;
}
