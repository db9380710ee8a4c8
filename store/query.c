/*
 * query.c - the read path: totals, ranges and listings, each in one
 * read-only transaction.
 *
 * A range is answered from a fixed cut of the time axis into leaves, the
 * same for every window at a given @now, so that adjacent windows add up
 * exactly.  From old to new the leaves are days, hours, minutes, then
 * seconds; level L's zone starts at the first whole bucket of the level
 * above that lies inside L's keep window (zones()), so every bucket a
 * leaf needs is still kept, whatever retention has or has not deleted
 * yet.  Days older than keep_days count nothing.  A leaf counts when its
 * start lies in [start, end): that is, each end moves up to the next leaf
 * boundary (leaf_ceil()), and the events of [A, E) between the two
 * boundaries are summed.
 *
 * [A, E) is cut from the coarsest level down: the whole days inside it
 * come from the day level, what is left at each edge from whole hours,
 * then minutes, then seconds.  Each piece lies in one or two packs of its
 * level (whole days in one per 64 days), read with a lookup each beside
 * the head's open pack (keys.h), so a year costs about as much as an hour.  Every
 * bucket that cut takes is kept: it takes a bucket only when the bucket's
 * parent does not fit in [A, E), while a bucket finer than the leaf where
 * it lies sits inside that leaf, which [A, E) holds whole or not at all,
 * so its parent would fit.
 *
 * The now of a read is never earlier than the last retention pass's, so
 * the zones never count on a bucket that pass deleted.
 */
#include "internal.h"

#include "../common/log.h"

#include <string.h>

struct range_query {
	struct shard *sh;
	MDB_txn *txn;
	const struct head *h;
	int64_t count, min, max;
	__int128 sum; /* wide: only the final sum must fit in 64 bits */
	int rc;
};

/* @t rounded up to a multiple of @size; 0 for t <= 0. */
static uint64_t ceil_to(int64_t t, uint64_t size)
{
	return t <= 0 ? 0 : ((uint64_t)t + size - 1) / size * size;
}

/*
 * z[L]: where level L's zone starts at @now; the zones run from old to
 * new, days [z[DAY], z[HOUR]), hours up to z[MIN], minutes up to z[SEC],
 * seconds from there on.  A day is cut into hours when all of its hours
 * are kept, an hour into minutes when all of its minutes are, and so on,
 * so z[L] is L's horizon rounded up to a bucket of the level above (to a
 * day for days themselves), and never before the zone of a coarser level.
 */
static void zones(const struct store_config *cfg, uint32_t now,
		  uint64_t z[STORE_LEVELS])
{
	uint64_t from = 0;

	for (int l = STORE_DAY; l >= STORE_SEC; l--) {
		int up = l == STORE_DAY ? STORE_DAY : l + 1;
		uint64_t h = ceil_to(level_horizon(cfg, l, now),
				     store_level_size[up]);

		z[l] = from = h > from ? h : from;
	}
}

/* The first leaf boundary at or after @t: where a range's end moves to. */
static uint64_t leaf_ceil(const uint64_t z[STORE_LEVELS], uint64_t t)
{
	for (int l = STORE_SEC; l <= STORE_DAY; l++)
		if (t >= z[l])
			return ceil_to((int64_t)t, store_level_size[l]);
	return z[STORE_DAY]; /* before the days kept: nothing */
}

/* Fold one bucket; the count cannot pass the total's, which fits. */
static int fold(struct range_query *q, const struct store_agg *a)
{
	if (a->count == 0)
		return 0;
	if (q->count == 0) {
		q->min = a->min;
		q->max = a->max;
	} else {
		q->min = a->min < q->min ? a->min : q->min;
		q->max = a->max > q->max ? a->max : q->max;
	}
	q->sum += a->sum;
	return __builtin_add_overflow(q->count, a->count, &q->count)
		   ? -EOVERFLOW
		   : 0;
}

/* Fold the buckets of @p whose start lies in [from, to). */
static void scan_pack(struct range_query *q, const struct pack *p, int level,
		      uint64_t from, uint64_t to)
{
	for (unsigned i = 0; i < p->n && q->rc == 0; i++) {
		uint64_t t = pack_time(p, level, i);
		if (t >= from && t < to)
			q->rc = fold(q, &p->agg[i]);
	}
}

/* Pack @start of @level from the packs database; false when it has none
 * (or on an error, in q->rc). */
static bool read_pack(struct shard *sh, MDB_txn *txn, uint64_t id, int level,
		      uint32_t start, struct pack *p, int *rc)
{
	unsigned char key[PACK_KEY_LEN];
	MDB_val k = {PACK_KEY_LEN, key}, v;

	pack_key(key, level, start, id);
	*rc = lmdb_errno(mdb_get(txn, sh->packs, &k, &v));
	if (*rc == -ENOENT) {
		*rc = 0;
		return false;
	}
	if (*rc == 0 && !pack_decode(v.mv_data, v.mv_size, level, start, p))
		*rc = damaged(sh, "a pack");
	return *rc == 0;
}

/* Fold the @level buckets whose start lies in [from, to): each pack that
 * holds some, from the packs database and the head. */
static void scan(struct range_query *q, int level, uint64_t from, uint64_t to)
{
	const struct head *h = q->h;
	struct pack p;

	if (q->rc || from >= to || from > UINT32_MAX)
		return;
	for (uint64_t start = pack_of(level, (uint32_t)from);
	     start < to && start <= UINT32_MAX && q->rc == 0;
	     start += pack_width[level]) {
		if (read_pack(q->sh, q->txn, h->id, level, (uint32_t)start, &p,
			      &q->rc))
			scan_pack(q, &p, level, from, to);
		if (h->open & 1u << level && h->pack[level].start == start)
			scan_pack(q, &h->pack[level], level, from, to);
	}
}

int series_bucket(struct shard *sh, MDB_txn *txn, const struct head *h,
		  unsigned level, uint32_t t, struct store_agg *out)
{
	struct range_query q = {.sh = sh, .txn = txn, .h = h};

	memset(out, 0, sizeof(*out));
	if (level == LEVEL_TOTAL) {
		*out = h->total;
		return 0;
	}
	scan(&q, (int)level, t, (uint64_t)t + 1);
	if (q.rc == 0 && q.count)
		*out = (struct store_agg){q.count, (int64_t)q.sum, q.min,
					  q.max};
	return q.rc;
}

/* The events of [x, y), both leaf boundaries: whole @level buckets in the
 * middle, finer ones at the edges. */
void range_cut(int level, uint64_t x, uint64_t y, range_piece_fn *fn,
	       void *arg)
{
	uint64_t size = store_level_size[level];
	uint64_t a = (x + size - 1) / size * size, b = y / size * size;

	if (x >= y)
		return;
	if (level == STORE_SEC) {
		fn(arg, STORE_SEC, x, y);
	} else if (a < b) {
		fn(arg, level, a, b);
		range_cut(level - 1, x, a, fn, arg);
		range_cut(level - 1, b, y, fn, arg);
	} else {
		range_cut(level - 1, x, y, fn, arg);
	}
}

static void scan_piece(void *arg, int level, uint64_t a, uint64_t b)
{
	scan(arg, level, a, b);
}

void range_window(struct store *st, uint32_t start, uint32_t end,
		  uint32_t now, uint64_t *from, uint64_t *to)
{
	uint64_t z[STORE_LEVELS];
	/* Read once the snapshot is taken: what it lacks, a pass at this
	 * now or earlier deleted, and the zones below keep clear of it. */
	uint_fast32_t expired = atomic_load(&st->expire_now);

	zones(&st->cfg, expired > now ? (uint32_t)expired : now, z);
	*from = leaf_ceil(z, start);
	*to = leaf_ceil(z, end);
}

int series_range(struct shard *sh, MDB_txn *txn, const struct head *h,
		 uint64_t from, uint64_t to, struct store_agg *out)
{
	struct range_query q = {.sh = sh, .txn = txn, .h = h};

	memset(out, 0, sizeof(*out));
	if (from < to)
		range_cut(STORE_DAY, from, to, scan_piece, &q);
	if (q.rc)
		return q.rc;
	if (q.sum > INT64_MAX || q.sum < INT64_MIN)
		return -EOVERFLOW;
	if (q.count)
		*out = (struct store_agg){q.count, (int64_t)q.sum, q.min,
					  q.max};
	return 0;
}

int store_range(struct store *st, const char *video, size_t vlen,
		const char *type, size_t tlen, uint32_t start, uint32_t end,
		uint32_t now, struct store_agg *out)
{
	struct shard *sh = &st->shards[store_shard_of(st, video, vlen)];
	uint64_t from, to;
	struct head h;
	MDB_txn *txn;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = shard_read_begin(sh, &txn)))
		return store_errno(rc, "reading a range");
	range_window(st, start, end, now, &from, &to);
	rc = series_lookup(sh, txn, video, vlen, type, tlen, &h, false);
	if (rc == 0)
		rc = series_range(sh, txn, &h, from, to, out);
	shard_txn_abort(sh, txn);
	if (rc == -EOVERFLOW)
		log_warn("range of %.*s/%.*s: its sum does not fit in 64 bits",
			 (int)vlen, video, (int)tlen, type);
	return rc == -ENOENT ? 0 : store_errno(rc, "reading a range");
}

int store_total(struct store *st, const char *video, size_t vlen,
		const char *type, size_t tlen, struct store_agg *out)
{
	struct shard *sh = &st->shards[store_shard_of(st, video, vlen)];
	MDB_txn *txn;
	struct head h;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = shard_read_begin(sh, &txn)))
		return store_errno(rc, "reading a total");
	rc = series_lookup(sh, txn, video, vlen, type, tlen, &h, true);
	if (rc == 0)
		*out = h.total;
	shard_txn_abort(sh, txn);
	return rc == -ENOENT ? 0 : store_errno(rc, "reading a total");
}

/*
 * Walk the series keys "video\0type" of @sh from @start (slen bytes; 0:
 * the first key) while they begin with its first @plen bytes.  With
 * @videos, report each distinct video once and skip over its types;
 * otherwise report the types.
 */
static int walk_series(struct shard *sh, const char *start, size_t slen,
		       size_t plen, bool videos, store_name_fn fn, void *arg)
{
	unsigned char seek[STORE_VIDEO_MAX + 2];
	const char *prefix = start;
	MDB_val k = {slen, (void *)start};
	MDB_txn *txn;
	MDB_cursor *c;
	int rc, op = slen ? MDB_SET_RANGE : MDB_FIRST;

	if ((rc = shard_read_begin(sh, &txn)))
		return rc;
	if ((rc = lmdb_errno(mdb_cursor_open(txn, sh->series, &c)))) {
		shard_txn_abort(sh, txn);
		return rc;
	}
	while ((rc = lmdb_errno(mdb_cursor_get(c, &k, NULL, op))) == 0) {
		const char *key = k.mv_data;
		const char *nul = memchr(key, 0, k.mv_size);

		op = MDB_NEXT;
		if (!nul || k.mv_size < plen ||
		    (plen && memcmp(key, prefix, plen)))
			break;
		if (!videos) {
			if (fn(arg, nul + 1, k.mv_size - (nul + 1 - key)))
				break;
			continue;
		}
		size_t vlen = (size_t)(nul - key);
		if (fn(arg, key, vlen) || vlen > STORE_VIDEO_MAX)
			break;
		memcpy(seek, key, vlen);
		seek[vlen] = 1; /* just past every "video\0..." key */
		k = (MDB_val){vlen + 1, seek};
		op = MDB_SET_RANGE;
	}
	mdb_cursor_close(c);
	shard_txn_abort(sh, txn);
	return rc == -ENOENT ? 0 : rc;
}

/* Remembers whether the caller's function asked to stop. */
struct walk_stop {
	store_name_fn fn;
	void *arg;
	int *stopped;
};

static int walk_stop_fn(void *arg, const char *name, size_t len)
{
	struct walk_stop *ws = arg;

	return *ws->stopped = ws->fn(ws->arg, name, len);
}

int store_list_videos(struct store *st, store_name_fn fn, void *arg)
{
	char after[STORE_VIDEO_MAX + 1] = "";
	unsigned shard = 0;

	return store_walk_videos(st, &shard, after, fn, arg);
}

int store_walk_videos(struct store *st, unsigned *shard, char *after,
		      store_name_fn fn, void *arg)
{
	char seek[STORE_VIDEO_MAX + 2];

	for (; *shard < st->nshards; (*shard)++, after[0] = 0) {
		size_t n = strlen(after);
		int rc, stopped = 0;

		memcpy(seek, after, n);
		seek[n] = 1; /* just past every "after\0..." key */
		struct walk_stop ws = {fn, arg, &stopped};
		rc = walk_series(&st->shards[*shard], n ? seek : NULL,
				 n ? n + 1 : 0, 0, true, walk_stop_fn, &ws);
		if (rc)
			return store_errno(rc, "listing videos");
		if (stopped)
			return 0;
	}
	return 0;
}

int store_list_types(struct store *st, const char *video, size_t vlen,
		     store_name_fn fn, void *arg)
{
	char prefix[STORE_VIDEO_MAX + 1];

	if (vlen > STORE_VIDEO_MAX)
		return -EINVAL;
	memcpy(prefix, video, vlen);
	prefix[vlen] = 0;
	return store_errno(
	    walk_series(&st->shards[store_shard_of(st, video, vlen)], prefix,
			vlen + 1, vlen + 1, false, fn, arg),
	    "listing event types");
}

/* The latest change of every series "video\0..." of @sh. */
static int video_changed(struct shard *sh, MDB_txn *txn, const char *video,
			 size_t vlen, uint32_t *when)
{
	char prefix[STORE_VIDEO_MAX + 1];
	MDB_val k = {vlen + 1, prefix}, v;
	MDB_cursor *c;
	struct head h;
	int rc;

	memcpy(prefix, video, vlen);
	prefix[vlen] = 0;
	if ((rc = lmdb_errno(mdb_cursor_open(txn, sh->series, &c))))
		return rc;
	for (rc = lmdb_errno(mdb_cursor_get(c, &k, &v, MDB_SET_RANGE)); rc == 0;
	     rc = lmdb_errno(mdb_cursor_get(c, &k, &v, MDB_NEXT))) {
		if (k.mv_size <= vlen + 1 || memcmp(k.mv_data, prefix, vlen + 1))
			break;
		if (!head_decode(v.mv_data, v.mv_size, &h, true)) {
			rc = damaged(sh, "a series head");
			break;
		}
		if (h.changed > *when)
			*when = h.changed;
	}
	mdb_cursor_close(c);
	return rc == -ENOENT ? 0 : rc;
}

int store_changed(struct store *st, const char *video, size_t vlen,
		  const char *type, size_t tlen, uint32_t *when)
{
	struct shard *sh = &st->shards[store_shard_of(st, video, vlen)];
	MDB_txn *txn;
	struct head h;
	int rc;

	*when = 0;
	if (vlen > STORE_VIDEO_MAX)
		return -EINVAL;
	if ((rc = shard_read_begin(sh, &txn)))
		return store_errno(rc, "reading a change time");
	if (!type) {
		rc = video_changed(sh, txn, video, vlen, when);
	} else {
		rc = series_lookup(sh, txn, video, vlen, type, tlen, &h, true);
		if (rc == 0)
			*when = h.changed;
	}
	shard_txn_abort(sh, txn);
	return rc == -ENOENT ? 0 : store_errno(rc, "reading a change time");
}
