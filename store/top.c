/*
 * top.c - trending: the top lists of each bucket, kept by the write path,
 * and the window rankings read from them (store_top()).
 *
 * Every minute, hour and day bucket of every event type of a shard has a
 * list (keys.h: tops) of the TOP_K series with the most events in it,
 * each with its exact count there.  A bucket's counts only grow, and the
 * apply that changes one knows the new count (record.c), so the rule
 * "update the series if listed; else add it while the list has room, or
 * when its count beats the list's smallest (which leaves)" keeps, at any
 * time, this invariant: a series not listed has at most the smallest
 * listed count, and none at all while the list is not full.  (A series
 * is left out only when its count was at most the smallest then, and the
 * smallest never falls.)  Ties at the smallest are settled by arrival;
 * the invariant does not depend on it.
 *
 * A window is cut into the same leaves as store_range() (query.c): whole
 * days, hours, minutes, and seconds at the edges.  A minute, hour or day
 * leaf is its bucket's list ("whole": a listed count is the video's count
 * in the leaf); the seconds of one minute share that minute's list
 * ("partial": a listed count only bounds the seconds from above).  With
 * m(L) the smallest count of a full list L (0 when not full), a series
 * has in the window at least lower = the sum of its whole listed counts
 * and at most upper = B + the sum over the lists that name it of
 * (listed count - m(L)), B = the sum of every m(L).  A series in no list
 * has at most B.  Candidates (the union of the lists) are taken by upper
 * bound, highest first; each is counted exactly, as store_range() would,
 * until the n-th best exact count is above the next upper bound.  The
 * answer misses nothing when B is 0, or when n rows are found and the
 * last row's count is above B; else it may (counted in /stats).
 *
 * The lists are written in the transaction that writes the buckets they
 * describe, deleted by retention with them (tops_expire()), and built
 * from the packs when a shard of format 3 is upgraded (tops_build()).
 */
#include "internal.h"

#include "../common/hash.h"
#include "../common/log.h"

#include <stdlib.h>
#include <string.h>

/* ---- lists being updated in a write transaction ----------------------- */

struct tlist {
	uint32_t bucket;
	uint8_t level, tlen;
	char type[STORE_TYPE_MAX];
	bool changed;
	unsigned n;
	uint64_t min; /* the smallest count when n == TOP_K */
	struct top_entry e[TOP_K];
};

struct tops {
	struct shard *sh;
	MDB_txn *txn;
	struct tlist **slot; /* open addressing, half full at most */
	size_t n, mask;
	struct tlist *last; /* the one noted last: most notes repeat it */
};

static uint64_t tlist_hash(unsigned level, uint32_t bucket, const char *type,
			   size_t tlen)
{
	uint64_t h = fnv1a(FNV1A_INIT ^ ((uint64_t)bucket << 8 | level),
			   type, tlen);

	return h ^ h >> 29;
}

static bool tlist_is(const struct tlist *l, unsigned level, uint32_t bucket,
		     const char *type, size_t tlen)
{
	return l->bucket == bucket && l->level == level && l->tlen == tlen &&
	       memcmp(l->type, type, tlen) == 0;
}

static struct tlist **tops_slot(struct tops *t, unsigned level,
				uint32_t bucket, const char *type, size_t tlen)
{
	for (size_t i = tlist_hash(level, bucket, type, tlen) & t->mask;;
	     i = (i + 1) & t->mask)
		if (!t->slot[i] ||
		    tlist_is(t->slot[i], level, bucket, type, tlen))
			return &t->slot[i];
}

static int tops_grow(struct tops *t)
{
	size_t oldcap = t->mask + 1, cap = oldcap * 2;
	struct tlist **old = t->slot, **slot = calloc(cap, sizeof(*slot));

	if (!slot)
		return -ENOMEM;
	t->slot = slot;
	t->mask = cap - 1;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i])
			*tops_slot(t, old[i]->level, old[i]->bucket,
				   old[i]->type, old[i]->tlen) = old[i];
	free(old);
	return 0;
}

int tops_begin(struct shard *sh, MDB_txn *txn, struct tops **out)
{
	struct tops *t = calloc(1, sizeof(*t));

	if (!t || !(t->slot = calloc(64, sizeof(*t->slot)))) {
		free(t);
		return -ENOMEM;
	}
	t->sh = sh;
	t->txn = txn;
	t->mask = 63;
	*out = t;
	return 0;
}

void tops_free(struct tops *t)
{
	if (!t)
		return;
	for (size_t i = 0; i <= t->mask; i++)
		free(t->slot[i]);
	free(t->slot);
	free(t);
}

static void tlist_min(struct tlist *l)
{
	l->min = UINT64_MAX;
	for (unsigned i = 0; i < l->n; i++)
		if (l->e[i].count < l->min)
			l->min = l->e[i].count;
}

/* Read list (@level, @bucket, @type) from the tops database, empty when
 * it has none. */
static int tlist_load(struct tops *t, struct tlist *l)
{
	unsigned char key[TOP_KEY_MAX];
	MDB_val k = {top_key(key, l->level, l->bucket, l->type, l->tlen), key};
	MDB_val v;
	int rc = lmdb_errno(mdb_get(t->txn, t->sh->tops, &k, &v));

	l->n = 0;
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	if (!top_decode(v.mv_data, v.mv_size, l->e, &l->n))
		return damaged(t->sh, "a top list");
	tlist_min(l);
	return 0;
}

static int tops_get(struct tops *t, unsigned level, uint32_t bucket,
		    const char *type, size_t tlen, struct tlist **out)
{
	struct tlist **slot, *l;
	int rc;

	if (t->last && tlist_is(t->last, level, bucket, type, tlen)) {
		*out = t->last;
		return 0;
	}
	if ((t->n + 1) * 2 > t->mask + 1 && (rc = tops_grow(t)))
		return rc;
	slot = tops_slot(t, level, bucket, type, tlen);
	if (!*slot) {
		if (!(l = malloc(sizeof(*l))))
			return -ENOMEM;
		l->level = (uint8_t)level;
		l->bucket = bucket;
		l->tlen = (uint8_t)tlen;
		memcpy(l->type, type, tlen);
		l->changed = false;
		if ((rc = tlist_load(t, l))) {
			free(l);
			return rc;
		}
		*slot = l;
		t->n++;
	}
	*out = t->last = *slot;
	return 0;
}

int tops_note(struct tops *t, unsigned level, uint32_t bucket,
	      const char *type, size_t tlen, uint64_t id, int64_t count)
{
	struct tlist *l;
	unsigned i, low = 0;
	int rc;

	if (level < STORE_MIN || level > STORE_DAY || count <= 0)
		return 0;
	if ((rc = tops_get(t, level, bucket, type, tlen, &l)))
		return rc;
	/* Full and not above the smallest: not listed, or listed with this
	 * very count (counts only grow). */
	if (l->n == TOP_K && (uint64_t)count <= l->min)
		return 0;
	for (i = 0; i < l->n && l->e[i].id != id; i++)
		if (l->e[i].count < l->e[low].count ||
		    (l->e[i].count == l->e[low].count &&
		     l->e[i].id > l->e[low].id))
			low = i;
	if (i == l->n && l->n == TOP_K)
		i = low; /* the smallest (of the largest id) leaves */
	else if (i == l->n)
		l->n++;
	l->e[i] = (struct top_entry){(uint64_t)count, id};
	l->changed = true;
	if (l->n == TOP_K)
		tlist_min(l);
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct top_entry *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return (x->id > y->id) - (x->id < y->id);
}

int tops_flush(struct tops *t)
{
	unsigned char key[TOP_KEY_MAX], buf[TOP_ENC_MAX];
	int rc = 0;

	for (size_t i = 0; i <= t->mask && rc == 0; i++) {
		struct tlist *l = t->slot[i];
		if (!l || !l->changed)
			continue;
		qsort(l->e, l->n, sizeof(l->e[0]), entry_cmp);
		MDB_val k = {top_key(key, l->level, l->bucket, l->type,
				     l->tlen),
			     key},
			v = {top_encode(l->e, l->n, buf), buf};
		rc = lmdb_errno(mdb_put(t->txn, t->sh->tops, &k, &v, 0));
		l->changed = false;
	}
	return rc;
}

/* ---- building the lists of an older shard ------------------------------ */

/* Note every bucket of pack @p (@level) of series @id. */
static int build_pack(struct tops *t, uint64_t id, const char *type,
		      size_t tlen, unsigned level, const struct pack *p)
{
	int rc = 0;

	for (unsigned i = 0; i < p->n && rc == 0; i++)
		rc = tops_note(t, level, pack_time(p, level, i), type, tlen, id,
			       p->agg[i].count);
	return rc;
}

/* The type of series @id, from names. */
static int id_type(struct shard *sh, MDB_txn *txn, uint64_t id,
		   const char **type, size_t *tlen)
{
	unsigned char idk[ID_KEY_LEN];
	MDB_val k = {ID_KEY_LEN, idk}, v;
	const char *video;
	size_t vlen;
	int rc;

	id_key(idk, id);
	if ((rc = lmdb_errno(mdb_get(txn, sh->names, &k, &v))))
		return rc == -ENOENT ? damaged(sh, "names (an id missing)")
				     : rc;
	if (!series_key_split(v.mv_data, v.mv_size, &video, &vlen, type,
			      tlen) ||
	    *tlen == 0 || *tlen > STORE_TYPE_MAX)
		return damaged(sh, "a name");
	return 0;
}

/* A bucket is whole in one place, the head's open pack or the packs
 * database (record.c), so each (series, bucket) is noted once. */
int tops_build(struct shard *sh, MDB_txn *txn)
{
	struct tops *t;
	MDB_cursor *c;
	MDB_val k, v;
	size_t lists = 0;
	int rc;

	if ((rc = lmdb_errno(mdb_drop(txn, sh->tops, 0))) ||
	    (rc = tops_begin(sh, txn, &t)))
		return rc;
	if ((rc = lmdb_errno(mdb_cursor_open(txn, sh->series, &c)))) {
		tops_free(t);
		return rc;
	}
	for (rc = lmdb_errno(mdb_cursor_get(c, &k, &v, MDB_FIRST)); rc == 0;
	     rc = lmdb_errno(mdb_cursor_get(c, &k, &v, MDB_NEXT))) {
		const char *video, *type;
		size_t vlen, tlen;
		struct head h;

		if (!series_key_split(k.mv_data, k.mv_size, &video, &vlen,
				      &type, &tlen) ||
		    !head_decode(v.mv_data, v.mv_size, &h, false)) {
			rc = damaged(sh, "a series head");
			break;
		}
		for (unsigned l = STORE_MIN; l <= STORE_DAY && rc == 0; l++)
			if (h.open & 1u << l)
				rc = build_pack(t, h.id, type, tlen, l,
						&h.pack[l]);
		if (rc)
			break;
	}
	mdb_cursor_close(c);
	if (rc != -ENOENT && rc) {
		tops_free(t);
		return rc;
	}
	if ((rc = lmdb_errno(mdb_cursor_open(txn, sh->packs, &c)))) {
		tops_free(t);
		return rc;
	}
	uint64_t last_id = 0;
	const char *type = NULL;
	size_t tlen = 0;
	for (rc = lmdb_errno(mdb_cursor_get(c, &k, &v, MDB_FIRST)); rc == 0;
	     rc = lmdb_errno(mdb_cursor_get(c, &k, &v, MDB_NEXT))) {
		unsigned level;
		uint32_t start;
		uint64_t id;
		struct pack p;

		if (!pack_key_parse(k.mv_data, k.mv_size, &level, &start,
				    &id) ||
		    !pack_decode(v.mv_data, v.mv_size, level, start, &p)) {
			rc = damaged(sh, "a pack");
			break;
		}
		if (level < STORE_MIN)
			continue;
		if (id != last_id && (rc = id_type(sh, txn, id, &type, &tlen)))
			break;
		last_id = id;
		if ((rc = build_pack(t, id, type, tlen, level, &p)))
			break;
	}
	mdb_cursor_close(c);
	if (rc == -ENOENT)
		rc = 0;
	lists = t->n;
	if (rc == 0)
		rc = tops_flush(t);
	tops_free(t);
	if (rc == 0)
		log_info("shard %u: %zu top lists built", sh->index, lists);
	return rc;
}

/* ---- retention -------------------------------------------------------- */

int tops_expire(struct shard *sh, MDB_txn *txn, int level, uint32_t now,
		int *budget, bool *more)
{
	unsigned char first[1] = {(unsigned char)level};
	MDB_val k = {1, first}, v;
	MDB_cursor *c;
	int rc;

	if (level < STORE_MIN || sh->st->cfg.keep[level] == 0)
		return 0;
	if ((rc = lmdb_errno(mdb_cursor_open(txn, sh->tops, &c))))
		return rc;
	for (rc = lmdb_errno(mdb_cursor_get(c, &k, &v, MDB_SET_RANGE));
	     rc == 0; k = (MDB_val){1, first},
	    rc = lmdb_errno(mdb_cursor_get(c, &k, &v, MDB_SET_RANGE))) {
		unsigned l;
		uint32_t bucket;
		const char *type;
		size_t tlen;

		if (!top_key_parse(k.mv_data, k.mv_size, &l, &bucket, &type,
				   &tlen) ||
		    l != (unsigned)level ||
		    bucket_kept(&sh->st->cfg, level, bucket, now))
			break;
		if (*budget == 0) {
			*more = true;
			break;
		}
		if ((rc = lmdb_errno(mdb_cursor_del(c, 0))))
			break;
		(*budget)--;
	}
	mdb_cursor_close(c);
	return rc == -ENOENT ? 0 : rc;
}

/* ---- reading: the ranking of a window ---------------------------------- */

/* A candidate: a series named by some list of the window. */
struct cand {
	uint64_t id;
	uint64_t upper; /* B + sum of (listed count - m(L)) */
	uint64_t lower; /* sum of whole listed counts */
};

struct top_read {
	struct shard *sh;
	MDB_txn *txn;
	const char *type;
	size_t tlen;
	uint32_t last_minute; /* of a partial piece: read once */
	bool any_partial;
	uint64_t bound;	      /* B */
	struct cand *c;	      /* open addressing by id, half full */
	size_t n, mask;
	struct top_entry e[TOP_K];
	int rc;
};

static struct cand *cand_slot(struct top_read *r, uint64_t id)
{
	uint64_t h = id * 0x9e3779b97f4a7c15ULL;

	for (size_t i = (h ^ h >> 29) & r->mask;; i = (i + 1) & r->mask)
		if (!r->c[i].id || r->c[i].id == id)
			return &r->c[i];
}

static int cand_grow(struct top_read *r)
{
	size_t cap = r->mask ? (r->mask + 1) * 2 : 1024;
	struct cand *old = r->c, *c = calloc(cap, sizeof(*c));
	size_t oldcap = r->mask ? r->mask + 1 : 0;

	if (!c)
		return -ENOMEM;
	r->c = c;
	r->mask = cap - 1;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].id)
			*cand_slot(r, old[i].id) = old[i];
	free(old);
	return 0;
}

/* Fold list (@level, @bucket) into the candidates; @whole: the window
 * holds all of its bucket. */
static void read_list(struct top_read *r, unsigned level, uint32_t bucket,
		      bool whole)
{
	unsigned char key[TOP_KEY_MAX];
	MDB_val k = {top_key(key, level, bucket, r->type, r->tlen), key}, v;
	unsigned n;
	int rc;

	if (r->rc)
		return;
	rc = lmdb_errno(mdb_get(r->txn, r->sh->tops, &k, &v));
	if (rc == -ENOENT)
		return;
	if (rc) {
		r->rc = rc;
		return;
	}
	if (!top_decode(v.mv_data, v.mv_size, r->e, &n)) {
		r->rc = damaged(r->sh, "a top list");
		return;
	}
	uint64_t min = n == TOP_K ? r->e[n - 1].count : 0;
	for (unsigned i = 0; i < n; i++)
		if (r->e[i].count < min)
			min = r->e[i].count; /* sorted when written; be sure */
	r->bound += min;
	for (unsigned i = 0; i < n; i++) {
		if ((r->n + 1) * 2 > r->mask + 1 && (r->rc = cand_grow(r)))
			return;
		struct cand *c = cand_slot(r, r->e[i].id);
		if (!c->id) {
			c->id = r->e[i].id;
			r->n++;
		}
		c->upper += r->e[i].count - min;
		if (whole)
			c->lower += r->e[i].count;
	}
}

/* A piece of the window (range_cut()): whole buckets of @level, or
 * seconds, whose minutes' lists bound them. */
static void top_piece(void *arg, int level, uint64_t a, uint64_t b)
{
	struct top_read *r = arg;
	uint64_t size = store_level_size[level];

	if (level == STORE_SEC) {
		for (uint64_t m = bucket_of(STORE_MIN, (uint32_t)a); m < b;
		     m += 60) {
			if (r->any_partial && r->last_minute == m)
				continue;
			r->any_partial = true;
			r->last_minute = (uint32_t)m;
			read_list(r, STORE_MIN, (uint32_t)m, false);
		}
		return;
	}
	for (uint64_t t = a; t < b && t <= UINT32_MAX; t += size)
		read_list(r, (unsigned)level, (uint32_t)t, true);
}

/*
 * The @n-th largest lower bound of @c[0..m), 0 when fewer: @n videos have
 * at least that many events in the window, so the answer's n-th count
 * is at least that.  A min-heap of the @n largest seen.
 */
static uint64_t nth_lower(const struct cand *c, size_t m, unsigned n,
			  uint64_t *heap)
{
	size_t k = 0;

	if (m < n)
		return 0;
	for (size_t i = 0; i < m; i++) {
		uint64_t v = c[i].lower;
		size_t j;
		if (k < n) { /* sift up */
			for (j = k++; j > 0 && heap[(j - 1) / 2] > v; j = (j - 1) / 2)
				heap[j] = heap[(j - 1) / 2];
			heap[j] = v;
			continue;
		}
		if (v <= heap[0])
			continue;
		for (j = 0;;) { /* replace the smallest, sift down */
			size_t l = 2 * j + 1, s = l + 1 < n && heap[l + 1] < heap[l]
							  ? l + 1
							  : l;
			if (l >= n || heap[s] >= v)
				break;
			heap[j] = heap[s];
			j = s;
		}
		heap[j] = v;
	}
	return heap[0];
}

static int cand_by_upper(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->upper != y->upper)
		return x->upper > y->upper ? -1 : 1;
	return (x->id > y->id) - (x->id < y->id);
}

/* Does row @a rank before row @b: more events, then the smaller id? */
static bool row_before(const struct store_top_row *a,
		       const struct store_top_row *b)
{
	if (a->count != b->count)
		return a->count > b->count;
	size_t n = a->video_len < b->video_len ? a->video_len : b->video_len;
	int c = memcmp(a->video, b->video, n);
	return c ? c < 0 : a->video_len < b->video_len;
}

/* Insert @row into the sorted @rows (*@nrows of at most @n). */
static void row_insert(struct store_top_row *rows, unsigned *nrows,
		       unsigned n, const struct store_top_row *row)
{
	unsigned i = *nrows;

	if (i == n && !row_before(row, &rows[n - 1]))
		return;
	if (i < n)
		(*nrows)++;
	else
		i--;
	for (; i > 0 && row_before(row, &rows[i - 1]); i--)
		rows[i] = rows[i - 1];
	rows[i] = *row;
}

/* The exact window count of candidate @c, with its video name.  When
 * its bounds meet (every list it is missing from has room, and it is in
 * no partial one) the lists told it all: no bucket is read. */
static int cand_count(struct top_read *r, const struct cand *c,
		      uint64_t from, uint64_t to, struct store_top_row *row)
{
	unsigned char idk[ID_KEY_LEN];
	MDB_val k = {ID_KEY_LEN, idk}, v;
	const char *video, *type;
	size_t vlen, tlen;
	struct store_agg a;
	struct head h;
	int rc;

	row->count = 0;
	id_key(idk, c->id);
	if ((rc = lmdb_errno(mdb_get(r->txn, r->sh->names, &k, &v))))
		return rc == -ENOENT ? damaged(r->sh, "a top list (an id)")
				     : rc;
	if (!series_key_split(v.mv_data, v.mv_size, &video, &vlen, &type,
			      &tlen) ||
	    vlen > STORE_VIDEO_MAX)
		return damaged(r->sh, "a name");
	if (tlen != r->tlen || memcmp(type, r->type, tlen))
		return damaged(r->sh, "a top list (a series of another type)");
	memcpy(row->video, video, vlen);
	row->video[vlen] = 0;
	row->video_len = (uint8_t)vlen;
	if (c->upper == c->lower && c->lower <= INT64_MAX) {
		row->count = (int64_t)c->lower;
		return 0;
	}
	if ((rc = series_lookup(r->sh, r->txn, video, vlen, type, tlen, &h,
				false)) ||
	    ((rc = series_range(r->sh, r->txn, &h, from, to, &a)) &&
	     rc != -EOVERFLOW)) /* a sum past 64 bits: the count is right */
		return rc == -ENOENT ? damaged(r->sh, "names (a series)") : rc;
	row->count = a.count;
	return 0;
}

/* The top @n of shard @sh into @rows (by count, then video), and its B;
 * a candidate below @floor (the n-th count of the shards read before)
 * cannot make the answer and is not counted. */
static int shard_top(struct store *st, struct shard *sh, const char *type,
		     size_t tlen, uint32_t start, uint32_t end, uint32_t now,
		     unsigned n, uint64_t floor, struct store_top_row *rows,
		     unsigned *nrows, uint64_t *bound)
{
	struct top_read r = {.sh = sh, .type = type, .tlen = tlen};
	uint64_t from, to;
	int rc;

	*nrows = 0;
	if ((rc = shard_read_begin(sh, &r.txn)))
		return rc;
	range_window(st, start, end, now, &from, &to);
	if (from < to)
		range_cut(STORE_DAY, from, to, top_piece, &r);
	rc = r.rc;
	*bound = r.bound;
	/* Dense, then by upper bound: the bounds only fall from here. */
	uint64_t lower;
	size_t m = 0;
	for (size_t i = 0; rc == 0 && r.c && i <= r.mask; i++)
		if (r.c[i].id) {
			r.c[i].upper += r.bound;
			r.c[m++] = r.c[i];
		}
	if (rc == 0 && m) {
		uint64_t *heap = malloc(n * sizeof(*heap));
		if (!heap)
			rc = -ENOMEM;
		else if ((lower = nth_lower(r.c, m, n, heap)) > floor)
			floor = lower;
		free(heap);
		qsort(r.c, m, sizeof(r.c[0]), cand_by_upper);
	}
	for (size_t i = 0; rc == 0 && i < m; i++) {
		struct store_top_row row;

		if (r.c[i].upper < floor ||
		    (*nrows == n && r.c[i].upper < (uint64_t)rows[n - 1].count))
			break;
		if ((rc = cand_count(&r, &r.c[i], from, to, &row)))
			break;
		if (row.count > 0)
			row_insert(rows, nrows, n, &row);
	}
	shard_txn_abort(sh, r.txn);
	free(r.c);
	return rc;
}

int store_top(struct store *st, const char *type, size_t tlen,
	      uint32_t start, uint32_t end, uint32_t now, unsigned n,
	      struct store_top_row *rows, unsigned *nrows, bool *sure)
{
	struct store_top_row *part;
	uint64_t worst = 0;
	int rc = 0;

	*nrows = 0;
	if (n == 0 || n > STORE_TOP_MAX || tlen == 0 || tlen > STORE_TYPE_MAX)
		return -EINVAL;
	if (!(part = malloc(n * sizeof(*part))))
		return -ENOMEM;
	for (unsigned s = 0; s < st->nshards && rc == 0; s++) {
		unsigned got;
		uint64_t bound;

		uint64_t floor = *nrows == n ? (uint64_t)rows[n - 1].count : 0;
		rc = shard_top(st, &st->shards[s], type, tlen, start, end, now,
			       n, floor, part, &got, &bound);
		for (unsigned i = 0; rc == 0 && i < got; i++)
			row_insert(rows, nrows, n, &part[i]);
		if (bound > worst)
			worst = bound;
	}
	free(part);
	if (rc) {
		*nrows = 0;
		return store_errno(rc, "reading a top list");
	}
	bool exact = worst == 0 ||
		     (*nrows == n && (uint64_t)rows[n - 1].count > worst);
	if (sure)
		*sure = exact;
	atomic_fetch_add(&st->top_reads, 1);
	if (!exact)
		atomic_fetch_add(&st->top_unsure, 1);
	return 0;
}
