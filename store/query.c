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

#include <stdlib.h>
#include <string.h>

/* An aggregate being summed: the sum is wide, as only the final sum must
 * fit in 64 bits. */
struct acc {
	int64_t count, min, max;
	__int128 sum;
};

struct range_query {
	struct shard *sh;
	MDB_txn *txn;
	const struct head *h;
	struct acc acc;
	int rc;
};

/* @t rounded up to a multiple of @size; 0 for t <= 0. */
static uint64_t ceil_to(int64_t t, uint64_t size)
{
	return t <= 0 ? 0 : ((uint64_t)t + size - 1) / size * size;
}

/* @t rounded down to a bucket of @level: store_level_size[] as constants,
 * so that the divisions become multiplications.  A series cuts every
 * step's window, and divisions by a variable were most of its time. */
static uint64_t floor_level(int level, uint64_t t)
{
	switch (level) {
	case STORE_SEC:
		return t;
	case STORE_MIN:
		return t / 60 * 60;
	case STORE_HOUR:
		return t / 3600 * 3600;
	default:
		return t / 86400 * 86400;
	}
}

static uint64_t ceil_level(int level, uint64_t t)
{
	return floor_level(level, t + store_level_size[level] - 1);
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
			return ceil_level(l, t);
	return z[STORE_DAY]; /* before the days kept: nothing */
}

/* Fold one bucket; the count cannot pass the total's, which fits. */
static int fold(struct acc *q, const struct store_agg *a)
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

/* @q as an aggregate into *@out (zeroes when empty); -EOVERFLOW when its
 * sum does not fit in 64 bits. */
static int acc_out(const struct acc *q, struct store_agg *out)
{
	memset(out, 0, sizeof(*out));
	if (q->sum > INT64_MAX || q->sum < INT64_MIN)
		return -EOVERFLOW;
	if (q->count)
		*out = (struct store_agg){q->count, (int64_t)q->sum, q->min,
					  q->max};
	return 0;
}

/* Fold the buckets of @p whose start lies in [from, to). */
static void scan_pack(struct range_query *q, const struct pack *p, int level,
		      uint64_t from, uint64_t to)
{
	for (unsigned i = 0; i < p->n && q->rc == 0; i++) {
		uint64_t t = pack_time(p, level, i);
		if (t >= from && t < to)
			q->rc = fold(&q->acc, &p->agg[i]);
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
	return q.rc ? q.rc : acc_out(&q.acc, out);
}

/*
 * A series: one range per step, read as one.  Each step's window [t_i,
 * t_i+1) is cut as store_range() cuts it (leaf_ceil() of both ends, then
 * range_cut()), but the pieces are only noted, per level, and merged where
 * they touch; then each level's packs are read once, in time order, and
 * every bucket in a piece folds into the step whose leaf-rounded window
 * holds its start.  So a month by hours reads each pack of hours once,
 * not once per step.
 */
struct span {
	uint64_t from, to;
};

struct plan {
	struct span *span[STORE_LEVELS];
	size_t n[STORE_LEVELS], cap[STORE_LEVELS];
	int rc;
};

/* Note a piece; pieces of a level come in time order (range_cut() cuts a
 * window from left to right at each level, the steps follow each other). */
static void plan_piece(struct plan *p, int level, uint64_t from, uint64_t to)
{
	size_t n = p->n[level];

	if (p->rc)
		return;
	if (n && p->span[level][n - 1].to == from) {
		p->span[level][n - 1].to = to;
		return;
	}
	if (n == p->cap[level]) {
		size_t cap = n ? 2 * n : 64;
		struct span *s = realloc(p->span[level], cap * sizeof(*s));
		if (!s) {
			p->rc = -ENOMEM;
			return;
		}
		p->span[level] = s;
		p->cap[level] = cap;
	}
	p->span[level][p->n[level]++] = (struct span){from, to};
}

/* The pieces of [x, y), both leaf boundaries: whole @level buckets in
 * the middle, finer ones at the edges, each given to @fn. */
void range_cut(int level, uint64_t x, uint64_t y, range_piece_fn *fn,
	       void *arg)
{
	uint64_t a = ceil_level(level, x), b = floor_level(level, y);

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

/* A range reads each piece at once; a series notes it in its plan. */
static void scan_piece(void *arg, int level, uint64_t a, uint64_t b)
{
	scan(arg, level, a, b);
}

static void plan_piece_fn(void *arg, int level, uint64_t a, uint64_t b)
{
	plan_piece(arg, level, a, b);
}

/* The coarsest level a window of @len seconds can hold a bucket of: where
 * range_cut() may start without changing the cut. */
static int top_level(uint64_t len)
{
	int l = STORE_DAY;

	while (l > STORE_SEC && store_level_size[l] > len)
		l--;
	return l;
}

/* The zones of a read at @now, its snapshot taken: what the snapshot
 * lacks, a retention pass at this now or earlier deleted, and zones at
 * the later of the two nows keep clear of it. */
static void read_zones(struct store *st, uint32_t now, uint64_t z[STORE_LEVELS])
{
	uint_fast32_t expired = atomic_load(&st->expire_now);

	zones(&st->cfg, expired > now ? (uint32_t)expired : now, z);
}

void range_window(struct store *st, uint32_t start, uint32_t end,
		  uint32_t now, uint64_t *from, uint64_t *to)
{
	uint64_t z[STORE_LEVELS];

	read_zones(st, now, z);
	*from = leaf_ceil(z, start);
	*to = leaf_ceil(z, end);
}

int series_range(struct shard *sh, MDB_txn *txn, const struct head *h,
		 uint64_t from, uint64_t to, struct store_agg *out)
{
	struct range_query q = {.sh = sh, .txn = txn, .h = h};
	int rc;

	range_cut(STORE_DAY, from, to, scan_piece, &q);
	if (q.rc) {
		memset(out, 0, sizeof(*out));
		return q.rc;
	}
	if ((rc = acc_out(&q.acc, out)) == -EOVERFLOW) /* the count fits */
		*out = (struct store_agg){q.acc.count, 0, q.acc.min, q.acc.max};
	return rc;
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
	if (rc == -EOVERFLOW) { /* said once, as a warning */
		log_warn("range of %.*s/%.*s: its sum does not fit in 64 bits",
			 (int)vlen, video, (int)tlen, type);
		return rc;
	}
	return rc == -ENOENT ? 0 : store_errno(rc, "reading a range");
}

struct series_query {
	struct range_query q; /* its acc unused */
	const uint64_t *b;    /* step i holds the leaves in [b[i], b[i+1]) */
	size_t n, hint;
	struct acc *acc; /* one per step */
};

/* The step whose window holds leaf time @t, b[0] <= t < b[n]: the last
 * with b[i] <= t (empty steps have b[i] == b[i+1]).  Buckets come in
 * time order, so the step of the last one (s->hint) or one of the next
 * few usually is it. */
static size_t step_of(struct series_query *s, uint64_t t)
{
	size_t lo = 0, hi = s->n - 1, i = s->hint;

	if (s->b[i] <= t) {
		for (int k = 0; k < 4 && i < hi; k++, i++)
			if (s->b[i + 1] > t)
				return s->hint = i;
		lo = i;
	}

	while (lo < hi) {
		size_t mid = lo + (hi - lo + 1) / 2;
		if (s->b[mid] <= t)
			lo = mid;
		else
			hi = mid - 1;
	}
	return s->hint = lo;
}

/* Fold each bucket of @p that lies in a span, from span @k on, into its
 * step. */
static void fold_steps(struct series_query *s, const struct pack *p,
		       int level, const struct span *sp, size_t m, size_t k)
{
	for (unsigned i = 0; i < p->n && s->q.rc == 0; i++) {
		uint64_t t = pack_time(p, level, i);
		while (k < m && sp[k].to <= t)
			k++;
		if (k == m)
			return;
		if (t >= sp[k].from)
			s->q.rc = fold(&s->acc[step_of(s, t)], &p->agg[i]);
	}
}

/* Read each pack of @level that the spans @sp[0..m) touch, once. */
static void scan_spans(struct series_query *s, int level,
		       const struct span *sp, size_t m)
{
	const struct head *h = s->q.h;
	uint64_t w = pack_width[level], start;
	struct pack p;
	size_t k = 0;

	if (m == 0 || sp[0].from > UINT32_MAX)
		return;
	for (start = pack_of(level, (uint32_t)sp[0].from);
	     s->q.rc == 0 && start <= UINT32_MAX;) {
		if (read_pack(s->q.sh, s->q.txn, h->id, level, (uint32_t)start,
			      &p, &s->q.rc))
			fold_steps(s, &p, level, sp, m, k);
		if (h->open & 1u << level && h->pack[level].start == start)
			fold_steps(s, &h->pack[level], level, sp, m, k);
		while (k < m && sp[k].to <= start + w)
			k++;
		if (k == m || sp[k].from > UINT32_MAX)
			break;
		start += w;
		if (sp[k].from > start)
			start = pack_of(level, (uint32_t)sp[k].from);
	}
}

/* Cut the n windows [b[i], b[i+1]) and read their buckets into s->acc. */
static int series_read(struct series_query *s)
{
	struct plan plan = {.rc = 0};
	int rc;

	for (size_t i = 0; i < s->n && plan.rc == 0; i++) {
		uint64_t x = s->b[i], y = s->b[i + 1];
		int l = top_level(y - x);
		if (x >= y)
			continue;
		/* Whole buckets of its top level (a step by hour, by day):
		 * what range_cut() would give, without its calls. */
		if (floor_level(l, x) == x && floor_level(l, y) == y)
			plan_piece(&plan, l, x, y);
		else
			range_cut(l, x, y, plan_piece_fn, &plan);
	}
	for (int l = STORE_DAY; l >= STORE_SEC && plan.rc == 0; l--)
		scan_spans(s, l, plan.span[l], plan.n[l]);
	rc = plan.rc ? plan.rc : s->q.rc;
	for (int l = 0; l < STORE_LEVELS; l++)
		free(plan.span[l]);
	return rc;
}

uint64_t store_series_len(uint32_t start, uint32_t end, uint32_t step)
{
	if (step == 0 || start >= end)
		return 0;
	return ((uint64_t)end - start + step - 1) / step;
}

int store_series(struct store *st, const char *video, size_t vlen,
		 const char *type, size_t tlen, uint32_t start, uint32_t end,
		 uint32_t step, uint32_t now, struct store_agg *out, size_t n)
{
	struct shard *sh = &st->shards[store_shard_of(st, video, vlen)];
	struct series_query s = {.q = {.sh = sh}, .n = n};
	uint64_t z[STORE_LEVELS], *b;
	struct head h;
	MDB_txn *txn;
	int rc;

	if (n == 0 || n != store_series_len(start, end, step))
		return -EINVAL;
	b = malloc((n + 1) * sizeof(*b));
	s.acc = calloc(n, sizeof(*s.acc));
	if (!b || !s.acc) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = shard_read_begin(sh, &txn)))
		goto out;
	read_zones(st, now, z);
	for (size_t i = 0; i < n; i++)
		b[i] = leaf_ceil(z, start + (uint64_t)i * step);
	b[n] = leaf_ceil(z, end);
	s.b = b;
	rc = series_lookup(sh, txn, video, vlen, type, tlen, &h, false);
	if (rc == 0) {
		s.q.txn = txn;
		s.q.h = &h;
		rc = series_read(&s);
	}
	shard_txn_abort(sh, txn);
	if (rc == -ENOENT) /* never recorded: every step empty */
		rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		if ((rc = acc_out(&s.acc[i], &out[i])))
			log_warn("series of %.*s/%.*s: the sum of its step at "
				 "%llu does not fit in 64 bits",
				 (int)vlen, video, (int)tlen, type,
				 (unsigned long long)start + i * step);
out:
	if (rc)
		memset(out, 0, n * sizeof(*out));
	free(b);
	free(s.acc);
	return rc == -EOVERFLOW ? rc : store_errno(rc, "reading a series");
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
