/*
 * record.c - the write path: events to bucket updates, inside one
 * transaction of shard_write() (commit.c).
 *
 * A request is first folded in memory: every event adds itself to its
 * second, in an open-addressing table keyed by (series, second, levels
 * still kept).  Identical keys collapse, so a 64 KiB /ingest write of a
 * popular video touches each of its seconds once.  Then each series'
 * seconds are merged, at every level and into its total, into its head
 * (keys.h): one lookup and one put per series, whatever the number of its
 * buckets.  A bucket of a later pack than the head's pushes the head's
 * pack out to the packs database first; a bucket of an earlier one (an
 * event with an old timestamp) goes straight to the packs database.
 * Event ids are checked against, and added to, the dedup database as the
 * events are folded, so an id seen twice in one request counts once too.
 */
#include "internal.h"

#include "../common/hash.h"
#include "../common/log.h"

#include <stdlib.h>
#include <string.h>

struct fold_entry {
	uint32_t s; /* the series' index in the batch (struct batch) */
	uint32_t t;
	uint8_t levels; /* bit l: level l still keeps the bucket of t */
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
/* Seconds folded before a batch is merged and a new one begun: ~6 MiB
 * with the index and the sort.  A journal batch of Zipf traffic folds
 * into fewer; a batch of distinct videos is cut into transactions of
 * ~65,000 series, which bounds memory. */
#define FOLD_LIMIT 65536

static int fold_init(struct fold *f, size_t events)
{
	size_t want = events * 2, cap = 32;

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

/* The slot of (s, t, levels): its entry's, or the free one. */
static size_t fold_slot(const struct fold *f, uint32_t s, unsigned levels,
			uint32_t t)
{
	uint64_t h = (s * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)t << 4 | levels);
	size_t i;

	h ^= h >> 29;
	for (i = h & f->mask;; i = (i + 1) & f->mask) {
		uint32_t k = f->slot[i];
		if (!k)
			return i;
		const struct fold_entry *e = &f->e[k - 1];
		if (e->s == s && e->t == t && e->levels == levels)
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
		f->slot[fold_slot(f, e[k].s, e[k].levels, e[k].t)] =
		    (uint32_t)k + 1;
	return 0;
}

static int fold_add(struct fold *f, uint32_t s, unsigned levels, uint32_t t,
		    const struct store_agg *a)
{
	if ((f->n + 1) * 2 > f->mask + 1 && fold_grow(f))
		return -ENOMEM;

	size_t i = fold_slot(f, s, levels, t);
	if (f->slot[i])
		return agg_merge(&f->e[f->slot[i] - 1].agg, a);
	f->e[f->n] = (struct fold_entry){
	    .s = s, .t = t, .levels = (uint8_t)levels, .agg = *a};
	f->slot[i] = (uint32_t)++f->n;
	return 0;
}

/*
 * The series of one apply, each once, dense in order of first sight, with
 * an open-addressing index (number + 1) that doubles at half full: it
 * follows the distinct series of the batch, not its events.
 */
struct bseries {
	const struct store_event *ev; /* names the series */
	uint64_t hash;
	uint64_t id; /* 0: not looked up yet */
	unsigned repl;
	/* The batch's events of the series added in line order: a sum that
	 * leaves 64 bits in that order is refused even when the merge, in
	 * time order, would not see it (the one-by-one retry then judges
	 * each line against the stored total). */
	struct store_agg sum;
};

struct batch {
	struct shard *sh;
	MDB_txn *txn;
	uint32_t now;
	uint64_t next_id; /* the next new series' id; 0: not read yet */
	uint64_t appended; /* the highest id put in names by this batch */
	struct bseries *s;
	size_t n, cap;
	uint32_t *slot;
	size_t mask;
	MDB_cursor *heads, *packs;
	struct tops *tops;	/* the top lists this batch changes */
	const struct bseries *cur; /* the series being merged */
};

static uint64_t series_hash(const struct store_event *e)
{
	uint64_t h = fnv1a(FNV1A_INIT, e->video, e->video_len);

	h = fnv1a(fnv1a(h, "", 1), e->type, e->type_len);
	return h ^ h >> 31;
}

static bool same_series(const struct store_event *a,
			const struct store_event *b)
{
	return a->video_len == b->video_len && a->type_len == b->type_len &&
	       memcmp(a->video, b->video, a->video_len) == 0 &&
	       memcmp(a->type, b->type, a->type_len) == 0;
}

static uint32_t *batch_slot(struct batch *b, uint64_t h,
			    const struct store_event *e)
{
	for (size_t i = h & b->mask;; i = (i + 1) & b->mask) {
		uint32_t k = b->slot[i];
		if (!k || (b->s[k - 1].hash == h && same_series(b->s[k - 1].ev, e)))
			return &b->slot[i];
	}
}

static int batch_grow(struct batch *b)
{
	size_t cap = b->cap ? b->cap * 2 : 128;
	struct bseries *s = realloc(b->s, cap * sizeof(*s));
	uint32_t *slot;

	if (!s)
		return -ENOMEM;
	b->s = s;
	if (!(slot = calloc(cap * 2, sizeof(*slot))))
		return -ENOMEM;
	free(b->slot);
	b->slot = slot;
	b->cap = cap;
	b->mask = cap * 2 - 1;
	for (size_t k = 0; k < b->n; k++)
		*batch_slot(b, b->s[k].hash, b->s[k].ev) = (uint32_t)k + 1;
	return 0;
}

/* The index of @e's series in the batch, added when new. */
static int batch_series(struct batch *b, const struct store_event *e,
			uint32_t *index)
{
	const struct store_config *cfg = &b->sh->st->cfg;
	uint64_t h = series_hash(e);
	uint32_t *slot;
	int rc;

	if (b->n == b->cap && (rc = batch_grow(b)))
		return rc;
	slot = batch_slot(b, h, e);
	if (!*slot) {
		b->s[b->n] = (struct bseries){
		    .ev = e,
		    .hash = h,
		    .repl = cfg->repl_shards
				? store_hash_shard(e->video, e->video_len,
						   cfg->repl_shards)
				: 0};
		*slot = (uint32_t)++b->n;
	}
	*index = *slot - 1;
	return 0;
}

static void batch_free(struct batch *b)
{
	free(b->s);
	free(b->slot);
}

/* A new series' id: one past the highest in names. */
static int new_id(struct batch *b, uint64_t *id)
{
	if (!b->next_id) {
		MDB_cursor *c;
		MDB_val last;
		int rc;

		if ((rc =
			 lmdb_errno(mdb_cursor_open(b->txn, b->sh->names, &c))))
			return rc;
		rc = lmdb_errno(mdb_cursor_get(c, &last, NULL, MDB_LAST));
		mdb_cursor_close(c);
		if (rc == -ENOENT)
			b->next_id = 1;
		else if (rc)
			return rc;
		else if (last.mv_size != ID_KEY_LEN)
			return damaged(b->sh, "the last key of names");
		else
			b->next_id = id_key_get(last.mv_data) + 1;
	}
	if (b->next_id > SERIES_ID_MAX) {
		/* Not -ENOSPC: that is a full map, which would grow. */
		log_error("shard %u holds %llu series, as many as it can",
			  b->sh->index, (unsigned long long)SERIES_ID_MAX);
		return -EDQUOT;
	}
	*id = b->next_id++;
	return 0;
}

int series_lookup(struct shard *sh, MDB_txn *txn, const char *video,
		  size_t vlen, const char *type, size_t tlen, struct head *h,
		  bool total_only)
{
	unsigned char key[SERIES_KEY_MAX];
	MDB_val k = {series_key(key, video, vlen, type, tlen), key}, v;
	int rc = lmdb_errno(mdb_get(txn, sh->series, &k, &v));

	if (rc)
		return rc;
	return head_decode(v.mv_data, v.mv_size, h, total_only)
		   ? 0
		   : damaged(sh, "a series head");
}

/* The id of series @i, looked up, or made when it is new (its head is
 * written when the batch is merged). */
static int batch_id(struct batch *b, uint32_t i, uint64_t *id)
{
	struct bseries *s = &b->s[i];
	struct head h;
	int rc;

	if (!s->id) {
		rc = series_lookup(b->sh, b->txn, s->ev->video,
				   s->ev->video_len, s->ev->type,
				   s->ev->type_len, &h, true);
		if (rc == 0)
			s->id = h.id;
		else if (rc != -ENOENT || (rc = new_id(b, &s->id)))
			return rc;
	}
	*id = s->id;
	return 0;
}

/* Has this event id been seen within the window (*@dup)?  If not,
 * remember it.  0 or a negative errno. */
static int dedup_seen(struct shard *sh, MDB_txn *txn, uint64_t id,
		      const struct store_event *e, uint32_t now, bool *dup)
{
	unsigned char key[DEDUPX_KEY_MAX];
	uint64_t until = (uint64_t)now + sh->st->cfg.dedup_window;
	uint32_t expires = until > UINT32_MAX ? UINT32_MAX : (uint32_t)until;
	size_t len = dedupx_key(key, expires, id, e->id, e->id_len);
	MDB_val k = {len - 4, key + 4}, v;
	uint32_t have;
	int rc;

	*dup = false;
	rc = lmdb_errno(mdb_get(txn, sh->dedup, &k, &v));
	if (rc == 0) {
		if (v.mv_size != 4)
			return damaged(sh, "a dedup record");
		memcpy(&have, v.mv_data, 4);
		if (now < have) {
			*dup = true;
			return 0;
		}
	} else if (rc != -ENOENT) {
		return rc;
	}
	v = (MDB_val){4, &expires};
	if ((rc = lmdb_errno(mdb_put(txn, sh->dedup, &k, &v, 0))))
		return rc;
	MDB_val xk = {len, key}, empty = {0, NULL};
	return lmdb_errno(mdb_put(txn, sh->dedupx, &xk, &empty, 0));
}

/* Note, once and for good, that a sum or a count of @sh came near the
 * limits of 64 bits: the journal's batches then stop (see journal.c). */
static int watch_big(struct shard *sh, MDB_txn *txn, const struct store_agg *a)
{
	if (a->sum > -SUM_BIG && a->sum < SUM_BIG && a->count < SUM_BIG)
		return 0;
	if (atomic_exchange(&sh->big, true))
		return 0;
	log_info("shard %u: a sum or count passed 2^62; its writes are applied one "
		 "by one from now on", sh->index);
	return meta_put(sh, txn, "big", &(uint32_t){1}, sizeof(uint32_t));
}

static int watch_pack(struct shard *sh, MDB_txn *txn, const struct pack *p)
{
	int rc = 0;

	for (unsigned i = 0; i < p->n && rc == 0; i++)
		rc = watch_big(sh, txn, &p->agg[i]);
	return rc;
}

/* Tell the top lists the count of slot @i of @p, a whole bucket of
 * @level of the series being merged. */
static int note_slot(struct batch *b, uint64_t id, unsigned level,
		     const struct pack *p, unsigned i)
{
	const struct store_event *ev = b->cur->ev;

	if (!b->tops)
		return 0;
	return tops_note(b->tops, level, pack_time(p, level, i), ev->type,
			 ev->type_len, id, p->agg[i].count);
}

/* Add pack @p of @level to what the packs database holds for it; with
 * @note, tell the top lists each of its buckets' new counts (@p holds
 * new events: a pack only moved from a head changes no count). */
static int tree_merge(struct batch *b, uint64_t id, unsigned level,
		      const struct pack *p, bool note)
{
	unsigned char key[PACK_KEY_LEN], buf[PACK_ENC_MAX];
	MDB_val k = {PACK_KEY_LEN, key}, v;
	struct pack have;
	const struct pack *put = p;
	unsigned flags = 0;
	int rc;

	if (!p->n)
		return 0;
	if (pack_expired(&b->sh->st->cfg, (int)level, p->start, b->now)) {
		/* Pushed out of a head that saw no write for so long that
		 * retention would delete it at once. */
		atomic_fetch_add(&b->sh->st->expired, p->n);
		return 0;
	}
	pack_key(key, level, p->start, id);
	rc = lmdb_errno(mdb_cursor_get(b->packs, &k, &v, MDB_SET_KEY));
	if (rc == 0) {
		if (!pack_decode(v.mv_data, v.mv_size, level, p->start, &have))
			return damaged(b->sh, "a pack");
		if ((rc = pack_merge(&have, p)))
			return rc;
		put = &have;
		flags = MDB_CURRENT;
	} else if (rc != -ENOENT) {
		return rc;
	}
	if ((rc = watch_pack(b->sh, b->txn, put)))
		return rc;
	for (unsigned i = 0; note && i < put->n && rc == 0; i++)
		rc = note_slot(b, id, level, put, i);
	if (rc)
		return rc;
	k = (MDB_val){PACK_KEY_LEN, key};
	v = (MDB_val){pack_encode(put, buf), buf};
	return lmdb_errno(mdb_cursor_put(b->packs, &k, &v, flags));
}

/* Move pack @p->start of @level of series @id, if the packs database
 * holds it, into @p (empty): a bucket is always whole in one place, so
 * that every merge into it sees its whole sum. */
static int tree_take(struct batch *b, uint64_t id, unsigned level,
		     struct pack *p)
{
	unsigned char key[PACK_KEY_LEN];
	MDB_val k = {PACK_KEY_LEN, key}, v;
	int rc;

	pack_key(key, level, p->start, id);
	rc = lmdb_errno(mdb_cursor_get(b->packs, &k, &v, MDB_SET_KEY));
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	if (!pack_decode(v.mv_data, v.mv_size, level, p->start, p))
		return damaged(b->sh, "a pack");
	return lmdb_errno(mdb_cursor_del(b->packs, 0));
}

/* Fold bucket @t of @level into head @h: into its open pack when the
 * bucket is in it; a later pack pushes that one out first; an earlier one
 * gathers in @late, which goes to the packs database when the next
 * bucket is of another pack.  A level with no open pack opens one, taking
 * what the packs database holds of it when the series is @old (a new
 * series has nothing there). */
static int head_add(struct batch *b, struct head *h, bool old, unsigned level,
		    uint32_t t, const struct store_agg *a, struct pack *late,
		    unsigned *late_level)
{
	uint32_t start = pack_of(level, t);
	unsigned slot = pack_slot(level, t), bit = 1u << level;
	struct pack *p = &h->pack[level];
	int rc;

	if (late->n && (*late_level != level || late->start != start)) {
		if ((rc = tree_merge(b, h->id, *late_level, late, true)))
			return rc;
		late->n = 0;
	}
	if (!(h->open & bit) || !p->n) {
		h->open |= bit;
		p->start = start;
		p->n = 0;
		if (old && (rc = tree_take(b, h->id, level, p)))
			return rc;
	} else if (start > p->start) {
		/* The packs database may hold @start: pushed out by a big
		 * head before an earlier pack was opened again. */
		if ((rc = tree_merge(b, h->id, level, p, false)))
			return rc;
		p->start = start;
		p->n = 0;
		if (old && (rc = tree_take(b, h->id, level, p)))
			return rc;
	} else if (start < p->start) {
		*late_level = level;
		late->start = start;
		p = late;
	}
	if ((rc = pack_add(p, slot, a)))
		return rc;
	for (unsigned i = p->n; i-- > 0;)
		if (p->slot[i] == slot) {
			if (p != late && (rc = note_slot(b, h->id, level, p, i)))
				return rc;
			return watch_big(b->sh, b->txn, &p->agg[i]);
		}
	return 0;
}

/* Encode @h; while it is too big for a B-tree node, push its packs out
 * to the packs database, finest first. */
static int head_fit(struct batch *b, struct head *h, unsigned char *buf,
		    size_t *len)
{
	int rc;

	for (unsigned l = 0;; l++) {
		*len = head_encode(h, buf);
		if (*len <= HEAD_BIG || l == STORE_LEVELS)
			return 0;
		if (!(h->open & 1u << l))
			continue;
		if ((rc = tree_merge(b, h->id, l, &h->pack[l], false)))
			return rc;
		h->open &= ~(1u << l);
	}
}

/* Merge the folded seconds @e[0..n) of series @s (in time order) into
 * its head, made when the series is new. */
static int merge_series(struct batch *b, struct bseries *s,
			const struct fold_entry *const *e, size_t n)
{
	const struct store_config *cfg = &b->sh->st->cfg;
	unsigned char key[SERIES_KEY_MAX], buf[HEAD_ENC_MAX];
	MDB_val k = {series_key(key, s->ev->video, s->ev->video_len,
				s->ev->type, s->ev->type_len),
		     key},
		v;
	struct head h;
	struct pack late; /* not zeroed: 2 KiB, only .n is read */
	late.n = 0;
	unsigned late_level = 0;
	bool exists;
	size_t len;
	int rc;

	b->cur = s;
	rc = lmdb_errno(mdb_cursor_get(b->heads, &k, &v, MDB_SET_KEY));
	if (rc == 0) {
		if (!head_decode(v.mv_data, v.mv_size, &h, false))
			return damaged(b->sh, "a series head");
		exists = true;
	} else if (rc == -ENOENT) {
		h.total = (struct store_agg){0, 0, 0, 0};
		h.open = 0;
		if (!s->id && (rc = new_id(b, &s->id)))
			return rc;
		h.id = s->id;
		exists = false;
	} else {
		return rc;
	}
	uint32_t marked = UINT32_MAX; /* the minute last marked pending */
	for (size_t i = 0; i < n; i++) {
		uint32_t t = e[i]->t;

		if ((rc = agg_merge(&h.total, &e[i]->agg)))
			return rc;
		for (unsigned l = 0; l < STORE_LEVELS; l++)
			if (e[i]->levels & 1u << l &&
			    (rc = head_add(b, &h, exists, l,
					   bucket_of((int)l, t), &e[i]->agg,
					   &late, &late_level)))
				return rc;
		if (cfg->repl_shards && e[i]->levels & 1u << STORE_MIN &&
		    bucket_of(STORE_MIN, t) != marked) {
			marked = bucket_of(STORE_MIN, t);
			if ((rc = pending_mark(b->sh, b->txn, s->repl, h.id,
					       STORE_MIN, marked, b->now)))
				return rc;
		}
	}
	if ((rc = watch_big(b->sh, b->txn, &h.total)) ||
	    (cfg->repl_shards &&
	     (rc = pending_mark(b->sh, b->txn, s->repl, h.id, LEVEL_TOTAL, 0,
				b->now))))
		return rc;
	if (late.n && (rc = tree_merge(b, h.id, late_level, &late, true)))
		return rc;
	/* Its file's mtime moves, once per batch, in the same transaction. */
	h.changed = b->now;
	if ((rc = head_fit(b, &h, buf, &len)))
		return rc;
	k = (MDB_val){k.mv_size, key};
	v = (MDB_val){len, buf};
	if (exists)
		return lmdb_errno(
		    mdb_cursor_put(b->heads, &k, &v, MDB_CURRENT));
	if ((rc = lmdb_errno(mdb_cursor_put(b->heads, &k, &v, 0))))
		return rc;
	/* Ids are taken in the order series are first seen, or earlier for
	 * one with an #id (its dedup key needs it while folding): append
	 * when this one is the highest yet, else insert. */
	unsigned char idk[ID_KEY_LEN];
	MDB_val ik = {ID_KEY_LEN, idk};
	id_key(idk, h.id);
	unsigned flags = h.id > b->appended ? MDB_APPEND : MDB_NOOVERWRITE;
	if (h.id > b->appended)
		b->appended = h.id;
	rc = lmdb_errno(mdb_put(b->txn, b->sh->names, &ik, &k, flags));
	return rc == -EEXIST ? damaged(b->sh, "names (an id taken twice)") : rc;
}

/* The aggregate of @e's n events: -EOVERFLOW when n * value leaves 64
 * bits (n <= 2^32 always fits a count). */
static int agg_of(const struct store_event *e, struct store_agg *a)
{
	int64_t sum;

	if (__builtin_mul_overflow(e->value, (int64_t)e->n, &sum))
		return -EOVERFLOW;
	*a = (struct store_agg){(int64_t)e->n, sum, e->value, e->value};
	return 0;
}

/* Fold the events of @req into @f, skipping duplicates. */
static int fold_events(struct batch *b, struct commit_req *req,
		       struct fold *f)
{
	const struct store_config *cfg = &b->sh->st->cfg;
	const struct store_event *prev = NULL;
	uint32_t s = 0;
	uint64_t id;
	bool dup;
	int rc = 0;

	for (size_t i = 0; i < req->n && rc == 0; i++) {
		const struct store_event *e = &req->ev[i];

		if (!prev || !same_series(prev, e)) {
			if ((rc = batch_series(b, e, &s)))
				break;
			prev = e;
		}
		if (e->id) {
			if ((rc = batch_id(b, s, &id)))
				break;
			if ((rc = dedup_seen(b->sh, b->txn, id, e, req->now,
					     &dup)))
				break;
			if (dup) {
				req->deduped += e->n;
				continue;
			}
		}
		struct store_agg a;
		if ((rc = agg_of(e, &a)) || (rc = agg_merge(&b->s[s].sum, &a)))
			break;
		unsigned levels = 0;
		for (int l = 0; l < STORE_LEVELS; l++)
			if (bucket_kept(cfg, l, e->ts, req->now))
				levels |= 1u << l;
		rc = fold_add(f, s, levels, e->ts, &a);
	}
	return rc;
}

/*
 * The order of the folded seconds, (series, time), by an LSD radix sort
 * of 16-byte keys: hi is the series' index, lo the time (32 bits), the
 * levels (8) and the entry's index in the fold table (24).  One pass counts
 * every byte; a byte that all keys share (most of them: indexes are small, a
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

/* Merge the folded buckets into LMDB, series by series. */
static int merge_all(struct batch *b, struct fold *f)
{
	size_t n = f->n;
	int rc = 0;

	if (n >= (1u << ORDER_INDEX_BITS))
		/* Millions of distinct buckets: more than a FUSE write of
		 * 1 MiB can name, or a journal batch holds. */
		return -ENOMEM;
	struct order *ord = malloc(2 * n * sizeof(*ord) + 1), *sorted;
	const struct fold_entry **e = malloc(n * sizeof(*e) + 1);
	if (!ord || !e) {
		free(ord);
		free(e);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		ord[i] = (struct order){f->e[i].s,
					(uint64_t)f->e[i].t << 32 |
					    (uint64_t)f->e[i].levels
						<< ORDER_INDEX_BITS |
					    i};
	sorted = order_sort(ord, ord + n, n);
	for (size_t i = 0; i < n; i++)
		e[i] = &f->e[sorted[i].lo & ((1u << ORDER_INDEX_BITS) - 1)];
	free(ord);
	if (!b->sh->st->no_tops)
		rc = tops_begin(b->sh, b->txn, &b->tops);
	if (rc == 0)
		rc = lmdb_errno(
		    mdb_cursor_open(b->txn, b->sh->series, &b->heads));
	if (rc == 0 &&
	    (rc = lmdb_errno(mdb_cursor_open(b->txn, b->sh->packs, &b->packs))))
		mdb_cursor_close(b->heads);
	for (size_t i = 0, j; i < n && rc == 0; i = j) {
		for (j = i + 1; j < n && e[j]->s == e[i]->s; j++)
			;
		rc = merge_series(b, &b->s[e[i]->s], e + i, j - i);
	}
	if (rc == 0 && b->tops)
		rc = tops_flush(b->tops);
	tops_free(b->tops);
	b->tops = NULL;
	if (b->packs) {
		mdb_cursor_close(b->packs);
		mdb_cursor_close(b->heads);
	}
	free(e);
	return rc;
}

int shard_apply(struct shard *sh, MDB_txn *txn, struct commit_req *req,
		size_t nreq, size_t *used)
{
	struct batch b = {.sh = sh, .txn = txn};
	struct fold f;
	size_t events = 0, r;
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
		if (req[r].now > b.now)
			b.now = req[r].now;
		rc = fold_events(&b, &req[r], &f);
	}
	*used = r;
	if (rc == 0)
		rc = merge_all(&b, &f);
	batch_free(&b);
	fold_free(&f);
	return rc;
}
