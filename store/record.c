/*
 * record.c - the write path: events to bucket updates, inside one
 * transaction led by shard.c.
 *
 * A request is first folded in memory: every event adds itself to its
 * bucket at each level that is still kept, and to its series' total, in an
 * open-addressing table keyed by (series, level, bucket).  Identical keys
 * collapse, so a 64 KiB /ingest write of a popular video touches each of
 * its buckets once.  Then each table entry is merged into LMDB with one
 * cursor lookup and one in-place put.  Event ids are checked against, and
 * added to, the dedup database as the events are folded, so an id seen
 * twice in one request counts once too.
 */
#include "internal.h"

#include "../common/log.h"

#include <stdlib.h>
#include <string.h>

struct fold_entry {
	uint64_t id;
	uint32_t t;
	uint8_t level;
	uint8_t repl; /* replication shard of the series' video */
	struct store_agg agg;
};

/* The folded buckets, dense in arrival order, and an open-addressing
 * index over them (entry number + 1; 0 is a free slot).  Half full at
 * most: the entries have room for half the slots. */
struct fold {
	struct fold_entry *e;
	uint32_t *slot;
	size_t n, mask;
	struct fold_entry small_e[16];
	uint32_t small_slot[32];
};

/* A table sized for the request, at most FOLD_START slots to begin
 * with: it doubles as it fills, so memory follows the distinct buckets
 * (few, for a skewed batch), not the events. */
#define FOLD_START 4096
/* Buckets folded before a batch is merged and a new one begun: ~6 MiB
 * with the index and the sort.  A journal batch of Zipf traffic folds
 * into fewer; a batch of distinct videos is cut into transactions of
 * ~13,000 videos, which bounds memory at a small cost in speed. */
#define FOLD_LIMIT 65536

static int fold_init(struct fold *f, size_t events)
{
	size_t want = events * (STORE_LEVELS + 1) * 2, cap = 32;

	while (cap < want && cap < FOLD_START)
		cap *= 2;
	f->n = 0;
	f->mask = cap - 1;
	if (cap == 32) {
		memset(f->small_slot, 0, sizeof(f->small_slot));
		f->e = f->small_e;
		f->slot = f->small_slot;
		return 0;
	}
	f->slot = calloc(cap, sizeof(*f->slot));
	f->e = malloc(cap / 2 * sizeof(*f->e));
	if (!f->slot || !f->e) {
		free(f->slot);
		free(f->e);
		return -ENOMEM;
	}
	return 0;
}

static void fold_free(struct fold *f)
{
	if (f->e != f->small_e) {
		free(f->e);
		free(f->slot);
	}
}

/* The slot of bucket (id, level, t): its entry's, or the free one. */
static size_t fold_slot(const struct fold *f, uint64_t id, unsigned level,
			uint32_t t)
{
	uint64_t h = (id * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)t << 3 | level);
	size_t i;

	h ^= h >> 29;
	for (i = h & f->mask;; i = (i + 1) & f->mask) {
		uint32_t k = f->slot[i];
		if (!k)
			return i;
		const struct fold_entry *e = &f->e[k - 1];
		if (e->id == id && e->t == t && e->level == level)
			return i;
	}
}

/* Double the index and the room for entries. */
static int fold_grow(struct fold *f)
{
	size_t cap = (f->mask + 1) * 2;

	if (cap / 2 > UINT32_MAX) /* entry numbers are 32-bit */
		return -ENOMEM;
	uint32_t *slot = calloc(cap, sizeof(*slot));
	struct fold_entry *e = malloc(cap / 2 * sizeof(*e));

	if (!slot || !e) {
		free(slot);
		free(e);
		return -ENOMEM;
	}
	memcpy(e, f->e, f->n * sizeof(*e));
	fold_free(f);
	f->e = e;
	f->slot = slot;
	f->mask = cap - 1;
	for (size_t k = 0; k < f->n; k++)
		f->slot[fold_slot(f, e[k].id, e[k].level, e[k].t)] =
		    (uint32_t)k + 1;
	return 0;
}

static int fold_add(struct fold *f, uint64_t id, unsigned level, uint32_t t,
		    unsigned repl, const struct store_agg *a)
{
	if ((f->n + 1) * 2 > f->mask + 1 && fold_grow(f))
		return -ENOMEM;

	size_t i = fold_slot(f, id, level, t);
	if (f->slot[i])
		return agg_merge(&f->e[f->slot[i] - 1].agg, a);
	f->e[f->n] = (struct fold_entry){.id = id,
					 .t = t,
					 .level = (uint8_t)level,
					 .repl = (uint8_t)repl,
					 .agg = *a};
	f->slot[i] = (uint32_t)++f->n;
	return 0;
}

int series_lookup(struct shard *sh, MDB_txn *txn, const char *video,
		  size_t vlen, const char *type, size_t tlen, uint64_t *id)
{
	unsigned char key[STORE_VIDEO_MAX + 1 + STORE_TYPE_MAX];
	MDB_val k = {vlen + 1 + tlen, key}, v;
	int rc;

	memcpy(key, video, vlen);
	key[vlen] = 0;
	memcpy(key + vlen + 1, type, tlen);
	rc = mdb_get(txn, sh->series, &k, &v);
	if (rc)
		return rc;
	if (v.mv_size != 8)
		return MDB_CORRUPTED;
	*id = get_be64(v.mv_data);
	return 0;
}

/* The id of a series, made (next after the highest) when it is new. */
static int series_get(struct shard *sh, MDB_txn *txn,
		      const struct store_event *e, uint64_t *id)
{
	unsigned char key[STORE_VIDEO_MAX + 1 + STORE_TYPE_MAX], idb[8];
	MDB_val k = {e->video_len + 1 + e->type_len, key}, v, last;
	MDB_cursor *c;
	int rc;

	rc = series_lookup(sh, txn, e->video, e->video_len, e->type,
			   e->type_len, id);
	if (rc != MDB_NOTFOUND)
		return rc;
	if ((rc = mdb_cursor_open(txn, sh->names, &c)))
		return rc;
	rc = mdb_cursor_get(c, &last, NULL, MDB_LAST);
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND)
		*id = 1;
	else if (rc)
		return rc;
	else
		*id = get_be64(last.mv_data) + 1;

	memcpy(key, e->video, e->video_len);
	key[e->video_len] = 0;
	memcpy(key + e->video_len + 1, e->type, e->type_len);
	put_be64(idb, *id);
	v = (MDB_val){8, idb};
	if ((rc = mdb_put(txn, sh->series, &k, &v, MDB_NOOVERWRITE)))
		return rc;
	MDB_val nk = {8, idb};
	return mdb_put(txn, sh->names, &nk, &k, MDB_APPEND);
}

/* Has this event id been seen within the window?  If not, remember it.
 * Returns 1 for a duplicate, 0 for a new id, or an LMDB code. */
static int dedup_seen(struct shard *sh, MDB_txn *txn, uint64_t id,
		      const struct store_event *e, uint32_t now)
{
	unsigned char key[4 + 8 + STORE_ID_MAX];
	MDB_val k = {8 + e->id_len, key + 4}, v;
	uint64_t until = (uint64_t)now + sh->st->cfg.dedup_window;
	uint32_t expires = until > UINT32_MAX ? UINT32_MAX : (uint32_t)until;
	uint32_t have;
	int rc;

	put_be64(key + 4, id);
	memcpy(key + 12, e->id, e->id_len);
	rc = mdb_get(txn, sh->dedup, &k, &v);
	if (rc == 0 && v.mv_size == 4) {
		memcpy(&have, v.mv_data, 4);
		if (now < have)
			return 1;
	} else if (rc != MDB_NOTFOUND) {
		return rc ? rc : MDB_CORRUPTED;
	}
	v = (MDB_val){4, &expires};
	if ((rc = mdb_put(txn, sh->dedup, &k, &v, 0)))
		return rc;
	put_be32(key, expires);
	MDB_val xk = {12 + e->id_len, key}, empty = {0, NULL};
	return mdb_put(txn, sh->dedupx, &xk, &empty, 0);
}

/* Note, once and for good, that a sum of @sh came near the limits of
 * 64 bits: the journal's batches then stop (see journal.c). */
static int watch_big(struct shard *sh, MDB_txn *txn, const struct store_agg *a)
{
	if (a->sum > -SUM_BIG && a->sum < SUM_BIG)
		return 0;
	if (atomic_exchange(&sh->big, true))
		return 0;
	log_info("shard %u: a sum passed 2^62; its writes are applied one "
		 "by one from now on", sh->index);
	return meta_put(sh, txn, "big", &(uint32_t){1}, sizeof(uint32_t));
}

/* Merge one folded bucket into LMDB; new buckets of kept-for-a-while
 * levels are also listed in the expiry database. */
static int bucket_merge(struct shard *sh, MDB_txn *txn, MDB_cursor *c,
			const struct fold_entry *e, uint32_t now)
{
	unsigned char key[BUCKET_KEY_LEN];
	MDB_val k = {BUCKET_KEY_LEN, key}, v;
	struct store_agg cur;
	int rc;

	bucket_key(key, e->id, e->level, e->t);
	if (sh->st->cfg.repl_shards &&
	    (e->level == STORE_MIN || e->level == LEVEL_TOTAL) &&
	    (rc = pending_mark(sh, txn, e->repl, key, now)))
		return rc;
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_KEY);
	if (rc == 0) {
		if (v.mv_size != sizeof(cur))
			return MDB_CORRUPTED;
		memcpy(&cur, v.mv_data, sizeof(cur));
		if ((rc = agg_merge(&cur, &e->agg)) ||
		    (rc = watch_big(sh, txn, &cur)))
			return rc;
		v = (MDB_val){sizeof(cur), &cur};
		return mdb_cursor_put(c, &k, &v, MDB_CURRENT);
	}
	if (rc != MDB_NOTFOUND || (rc = watch_big(sh, txn, &e->agg)))
		return rc;
	v = (MDB_val){sizeof(e->agg), (void *)&e->agg};
	k = (MDB_val){BUCKET_KEY_LEN, key};
	if ((rc = mdb_cursor_put(c, &k, &v, 0)))
		return rc;
	if (e->level == LEVEL_TOTAL || sh->st->cfg.keep[e->level] == 0)
		return 0;

	unsigned char xkey[EXPIRY_KEY_LEN];
	xkey[0] = e->level;
	put_be32(xkey + 1, e->t);
	put_be64(xkey + 5, e->id);
	MDB_val xk = {EXPIRY_KEY_LEN, xkey}, empty = {0, NULL};
	return mdb_put(txn, sh->expiry, &xk, &empty, 0);
}

/* Note @now as the time series @id last changed (ids come in key order,
 * so the cursor finds each next to the last). */
static int changed_put(MDB_cursor *cc, uint64_t id, uint32_t now)
{
	unsigned char key[8];
	MDB_val k = {sizeof(key), key}, v = {sizeof(now), &now};

	put_be64(key, id);
	return mdb_cursor_put(cc, &k, &v, 0);
}

/* Series ids already looked up in this apply, by (video, type): an
 * open-addressing table that doubles at half full, so it follows the
 * distinct series of the batch, not its events. */
struct series_cache {
	struct series_slot {
		uint64_t hash, id;
		const struct store_event *ev;
		unsigned repl;
	} *slot;
	size_t mask, n;
};

static uint64_t series_hash(const struct store_event *e)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < e->video_len; i++)
		h = (h ^ (unsigned char)e->video[i]) * 0x100000001b3ULL;
	h = (h ^ 0xff) * 0x100000001b3ULL;
	for (size_t i = 0; i < e->type_len; i++)
		h = (h ^ (unsigned char)e->type[i]) * 0x100000001b3ULL;
	return h ^ h >> 31;
}

static bool same_series(const struct store_event *a,
			const struct store_event *b)
{
	return a->video_len == b->video_len && a->type_len == b->type_len &&
	       memcmp(a->video, b->video, a->video_len) == 0 &&
	       memcmp(a->type, b->type, a->type_len) == 0;
}

static struct series_slot *cache_slot(struct series_cache *sc, uint64_t h,
				      const struct store_event *e)
{
	for (size_t i = h & sc->mask;; i = (i + 1) & sc->mask) {
		struct series_slot *s = &sc->slot[i];
		if (!s->ev || (s->hash == h && same_series(s->ev, e)))
			return s;
	}
}

/* Make room for one more series; false when memory is short (the
 * lookup then goes to LMDB uncached). */
static bool cache_reserve(struct series_cache *sc)
{
	if (sc->slot && (sc->n + 1) * 2 <= sc->mask + 1)
		return true;
	size_t cap = sc->slot ? (sc->mask + 1) * 2 : 256;
	struct series_slot *old = sc->slot, *slot = calloc(cap, sizeof(*slot));
	size_t oldcap = sc->slot ? sc->mask + 1 : 0;

	if (!slot)
		return false;
	sc->slot = slot;
	sc->mask = cap - 1;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].ev)
			*cache_slot(sc, old[i].hash, old[i].ev) = old[i];
	free(old);
	return true;
}

/* The id and replication shard of @e's series, from the cache or LMDB. */
static int series_find(struct shard *sh, MDB_txn *txn, struct series_cache *sc,
		       const struct store_event *e, uint64_t *id,
		       unsigned *repl)
{
	const struct store_config *cfg = &sh->st->cfg;
	struct series_slot *slot = NULL;
	uint64_t h = series_hash(e);
	int rc;

	if (cache_reserve(sc)) {
		slot = cache_slot(sc, h, e);
		if (slot->ev) {
			*id = slot->id;
			*repl = slot->repl;
			return 0;
		}
	}
	if ((rc = series_get(sh, txn, e, id)))
		return rc;
	*repl = cfg->repl_shards ? store_hash_shard(e->video, e->video_len,
						    cfg->repl_shards)
				 : 0;
	if (slot) {
		*slot = (struct series_slot){h, *id, e, *repl};
		sc->n++;
	}
	return 0;
}

/* Fold the events of @req into @f, skipping duplicates. */
static int fold_events(struct shard *sh, MDB_txn *txn, struct commit_req *req,
		       struct series_cache *sc, struct fold *f)
{
	const struct store_config *cfg = &sh->st->cfg;
	const struct store_event *prev = NULL;
	uint64_t id = 0;
	unsigned repl = 0;
	int rc = 0;

	for (size_t i = 0; i < req->n && rc == 0; i++) {
		const struct store_event *e = &req->ev[i];

		if (!prev || !same_series(prev, e)) {
			if ((rc = series_find(sh, txn, sc, e, &id, &repl)))
				break;
			prev = e;
		}
		if (e->id) {
			rc = dedup_seen(sh, txn, id, e, req->now);
			if (rc == 1) {
				req->deduped++;
				rc = 0;
				continue;
			}
			if (rc)
				break;
		}
		struct store_agg a = {1, e->value, e->value, e->value};
		for (int l = 0; l < STORE_LEVELS && rc == 0; l++)
			if (bucket_kept(cfg, l, e->ts, req->now))
				rc = fold_add(f, id, l, bucket_of(l, e->ts),
					      repl, &a);
		if (rc == 0)
			rc = fold_add(f, id, LEVEL_TOTAL, 0, repl, &a);
	}
	return rc;
}

/*
 * The key order of the folded buckets, (id, level, time), by an LSD radix
 * sort of 16-byte keys: hi is the series id, lo the level (8 bits), the
 * time (32) and the entry's index in the fold table (24).  One pass counts
 * every byte; a byte that all keys share (most of them: ids are small, a
 * batch has a few times) costs no pass.  Several times faster than qsort
 * of the 40-byte entries, which was a fifth of the /ingest profile.
 */
struct order {
	uint64_t hi, lo;
};

#define ORDER_INDEX_BITS 24
#define ORDER_BYTES 13 /* lo's bytes 3..7, then hi's 0..7 */

static inline unsigned order_byte(const struct order *o, int b)
{
	return b < 5 ? (unsigned)(o->lo >> (8 * (b + 3))) & 0xff
		     : (unsigned)(o->hi >> (8 * (b - 5))) & 0xff;
}

/* Sort @a (@n keys) with @tmp beside it; returns the one sorted. */
static struct order *order_sort(struct order *a, struct order *tmp, size_t n)
{
	struct order any = {0, 0}, all = {~0ULL, ~0ULL}, diff;
	uint32_t count[256];

	/* The bytes that differ between keys: the only ones to sort on. */
	for (size_t i = 0; i < n; i++) {
		any.hi |= a[i].hi, any.lo |= a[i].lo;
		all.hi &= a[i].hi, all.lo &= a[i].lo;
	}
	diff = (struct order){any.hi ^ all.hi, any.lo ^ all.lo};
	for (int b = 0; b < ORDER_BYTES && n > 1; b++) {
		if (!order_byte(&diff, b))
			continue;
		memset(count, 0, sizeof(count));
		for (size_t i = 0; i < n; i++)
			count[order_byte(&a[i], b)]++;
		uint32_t sum = 0;
		for (int v = 0; v < 256; v++) {
			uint32_t c = count[v];
			count[v] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			tmp[count[order_byte(&a[i], b)]++] = a[i];
		struct order *t = a;
		a = tmp;
		tmp = t;
	}
	return a;
}

int shard_apply(struct shard *sh, MDB_txn *txn, struct commit_req *req,
		size_t nreq, size_t *used)
{
	struct series_cache sc = {NULL, 0, 0};
	struct fold f;
	MDB_cursor *c = NULL, *cc = NULL;
	size_t events = 0, r;
	uint32_t now = 0;
	int rc = 0;

	if (nreq == 1 && req->one_by_one && req->n > 1) {
		/* Each event merged before the next is folded: a sum passes
		 * 64 bits only if the running sum does. */
		size_t deduped = 0;
		for (size_t i = 0; i < req->n && rc == 0; i++) {
			struct commit_req one = {
			    .ev = req->ev + i, .n = 1, .now = req->now};
			rc = shard_apply(sh, txn, &one, 1, used);
			deduped += one.deduped;
		}
		req->deduped = deduped;
		*used = 1;
		return rc;
	}
	for (r = 0; r < nreq; r++)
		events += req[r].n;
	if ((rc = fold_init(&f, events)))
		return rc;
	/* Fold whole requests until the table is full enough: memory
	 * follows FOLD_LIMIT, not the size of a journal's batch. */
	for (r = 0; r < nreq && rc == 0 && (r == 0 || f.n < FOLD_LIMIT); r++) {
		req[r].deduped = 0;
		if (req[r].now > now)
			now = req[r].now;
		rc = fold_events(sh, txn, &req[r], &sc, &f);
	}
	*used = r;
	free(sc.slot);
	if (rc)
		goto out;
	if ((rc = mdb_cursor_open(txn, sh->buckets, &c)))
		goto out;
	/* Merge in key order: LMDB finds a key next to the cursor's page
	 * without a search from the root, and pages are dirtied once. */
	size_t n = f.n;
	if (n >= (1u << ORDER_INDEX_BITS)) {
		/* Millions of distinct buckets: more than a FUSE write of
		 * 1 MiB can name, or a journal batch holds. */
		rc = -ENOMEM;
		goto out;
	}
	struct order *ord = malloc(2 * n * sizeof(*ord) + 1), *sorted;
	if (!ord) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		ord[i] = (struct order){f.e[i].id,
					(uint64_t)f.e[i].level << 56 |
					    (uint64_t)f.e[i].t
						<< ORDER_INDEX_BITS |
					    i};
	sorted = order_sort(ord, ord + n, n);
	rc = mdb_cursor_open(txn, sh->changed, &cc);
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct fold_entry *e =
		    &f.e[sorted[i].lo & ((1u << ORDER_INDEX_BITS) - 1)];
		rc = bucket_merge(sh, txn, c, e, now);
		/* One total per series that counted something: its file's
		 * mtime moves, once per batch, in the same transaction. */
		if (rc == 0 && e->level == LEVEL_TOTAL)
			rc = changed_put(cc, e->id, now);
	}
	free(ord);
	if (cc)
		mdb_cursor_close(cc);
	mdb_cursor_close(c);
out:
	fold_free(&f);
	return rc;
}
