/*
 * global.c - the read side: /global answers from MySQL, and the life
 * cycle of the replicator.
 *
 * A /global read borrows a connection from its shard's small pool (or
 * opens one), runs one prepared SELECT that sums every host's rows, and
 * gives the connection back; a failed connection is closed, not reused.
 * Answers are kept for cache_ms in a direct-mapped cache so that a tight
 * loop of reads costs MySQL one query per key and period.
 *
 * A read runs on a FUSE worker thread, and local reads and writes need
 * those threads too: a shard that hangs must not take them all.  So at
 * most READS_MAX queries per shard are in flight and WAITERS_MAX wait for
 * one (at most WAIT_MS), READERS_MAX in all; beyond that a read fails at
 * once with EAGAIN.  A shard that could not be reached is known down for
 * DOWN_MS: its reads fail at once with EHOSTUNREACH, then a single read
 * tries it again while the others keep failing fast.
 */
#include "internal.h"

#include "../common/hash.h"
#include "../common/log.h"
#include "../common/mono.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void shard_seen(struct repl_shard *sh, int rc)
{
	if (rc && rc != -EHOSTUNREACH)
		return;
	pthread_mutex_lock(&sh->pool_lock);
	sh->down_until = rc ? repl_now_ms() + DOWN_MS : 0;
	pthread_cond_broadcast(&sh->slot_free);
	pthread_mutex_unlock(&sh->pool_lock);
}

/* Take a query slot of @sh, or fail at once (see the top of the file).
 * *@probe is set when this read tries a shard known down. */
static int read_enter(struct repl_shard *sh, bool *probe)
{
	struct repl *r = sh->r;
	struct timespec until = mono_deadline((uint64_t)WAIT_MS * 1000000u);
	bool waited = false;
	int rc = 0;

	*probe = false;
	if (atomic_fetch_add(&r->readers, 1) >= READERS_MAX) {
		atomic_fetch_sub(&r->readers, 1);
		return -EAGAIN;
	}
	pthread_mutex_lock(&sh->pool_lock);
	for (;;) {
		if (sh->down_until &&
		    (repl_now_ms() < sh->down_until || sh->probing)) {
			rc = -EHOSTUNREACH;
			break;
		}
		if (sh->busy < READS_MAX) {
			*probe = sh->down_until != 0;
			sh->probing = sh->probing || *probe;
			sh->busy++;
			break;
		}
		if (!waited && sh->waiting >= WAITERS_MAX) {
			rc = -EAGAIN;
			break;
		}
		if (!waited)
			sh->waiting++;
		waited = true;
		if (pthread_cond_timedwait(&sh->slot_free, &sh->pool_lock,
					   &until) == ETIMEDOUT) {
			rc = -EAGAIN;
			break;
		}
	}
	if (waited)
		sh->waiting--;
	pthread_mutex_unlock(&sh->pool_lock);
	if (rc)
		atomic_fetch_sub(&r->readers, 1);
	return rc;
}

/* Give the slot back; @rc tells whether the shard answered. */
static void read_leave(struct repl_shard *sh, bool probe, int rc)
{
	pthread_mutex_lock(&sh->pool_lock);
	sh->busy--;
	if (probe)
		sh->probing = false;
	if (rc == 0)
		sh->down_until = 0;
	else if (rc == -EHOSTUNREACH)
		sh->down_until = repl_now_ms() + DOWN_MS;
	pthread_cond_broadcast(&sh->slot_free);
	pthread_mutex_unlock(&sh->pool_lock);
	atomic_fetch_sub(&sh->r->readers, 1);
}

static MYSQL *pool_get(struct repl_shard *sh, int *err)
{
	MYSQL *m = NULL;

	pthread_mutex_lock(&sh->pool_lock);
	if (sh->nidle > 0)
		m = sh->idle[--sh->nidle];
	pthread_mutex_unlock(&sh->pool_lock);
	if (m)
		return m;
	return conn_open(sh, err);
}

static void pool_put(struct repl_shard *sh, MYSQL *m, bool broken)
{
	pthread_mutex_lock(&sh->pool_lock);
	if (!broken && sh->nidle < POOL_MAX) {
		sh->idle[sh->nidle++] = m;
		m = NULL;
	}
	pthread_mutex_unlock(&sh->pool_lock);
	if (m)
		mysql_close(m);
}

static struct repl_shard *shard_for(struct repl *r, const char *video,
				    size_t vlen)
{
	return &r->shards[store_hash_shard(video, vlen, r->nshards)];
}

/*
 * Run @sql on @sh with @in bound (NULL: no parameters) and @res as the
 * result columns; @fn(@arg) after each row fetched, until it returns
 * nonzero.  A borrowed connection and a query slot, as query_agg().
 */
static int each_row(struct repl_shard *sh, const char *sql, MYSQL_BIND *in,
		    MYSQL_BIND *res, const char *what, int (*fn)(void *),
		    void *arg)
{
	bool probe;
	int f, err = read_enter(sh, &probe);
	MYSQL_STMT *s;
	MYSQL *m;

	if (err)
		return err;
	if (!(m = pool_get(sh, &err))) {
		read_leave(sh, probe, err);
		return err;
	}
	s = mysql_stmt_init(m);
	if (!s || mysql_stmt_prepare(s, sql, strlen(sql)) ||
	    (in && mysql_stmt_bind_param(s, in)) || mysql_stmt_execute(s) ||
	    mysql_stmt_bind_result(s, res) || mysql_stmt_store_result(s)) {
		err = s ? conn_error(sh, m, s, what) : -ENOMEM;
	} else {
		while ((f = mysql_stmt_fetch(s)) == 0 ||
		       f == MYSQL_DATA_TRUNCATED)
			if (fn(arg))
				break;
		if (f == 1)
			err = conn_error(sh, m, s, what);
	}
	if (s)
		mysql_stmt_close(s);
	pool_put(sh, m, err != 0);
	read_leave(sh, probe, err);
	return err == -EAGAIN ? -EIO : err;
}

/* Called with each row fetched: its values, NULLs read as 0. */
typedef void row_fn(void *arg, const int64_t *v);

#define COLUMNS_MAX 5

/* The integer columns of a query_rows() row, handed to its row_fn. */
struct int_rows {
	int64_t v[COLUMNS_MAX];
	my_bool null[COLUMNS_MAX];
	unsigned ncol;
	row_fn *fn;
	void *arg;
};

static int int_row(void *arg)
{
	struct int_rows *r = arg;

	for (unsigned i = 0; i < r->ncol; i++)
		r->v[i] = r->null[i] ? 0 : r->v[i];
	r->fn(r->arg, r->v);
	return 0;
}

/* Bind the inputs @in, run @sql, and hand each row of @ncol integer
 * values (at most COLUMNS_MAX) to @fn. */
static int query_rows(struct repl_shard *sh, const char *sql, MYSQL_BIND *in,
		      unsigned ncol, row_fn *fn, void *arg)
{
	struct int_rows r = {.ncol = ncol, .fn = fn, .arg = arg};
	MYSQL_BIND res[COLUMNS_MAX];

	memset(res, 0, sizeof(res));
	for (unsigned i = 0; i < ncol; i++) {
		res[i].buffer_type = MYSQL_TYPE_LONGLONG;
		res[i].buffer = &r.v[i];
		res[i].is_null = &r.null[i];
	}
	return each_row(sh, sql, in, res, "global read", int_row, &r);
}

static void agg_row(void *arg, const int64_t *v)
{
	*(struct store_agg *)arg = (struct store_agg){v[0], v[1], v[2], v[3]};
}

/* Run @sql, which reads one row (count, sum, min, max), into @out. */
static int query_agg(struct repl_shard *sh, const char *sql,
		     MYSQL_BIND *in, struct store_agg *out)
{
	memset(out, 0, sizeof(*out));
	return query_rows(sh, sql, in, 4, agg_row, out);
}

static uint64_t hash_key(const char *key)
{
	return fnv1a(FNV1A_INIT, key, strlen(key));
}

static bool cache_get(struct repl *r, const char *key, struct store_agg *out)
{
	uint64_t h = hash_key(key), now = repl_now_ms();
	struct cache_slot *c = &r->cache[h % CACHE_SLOTS];
	bool hit;

	pthread_mutex_lock(&r->cache_lock);
	hit = c->used && c->hash == h && strcmp(c->key, key) == 0 &&
	      now - c->at_ms < r->cfg.cache_ms;
	if (hit)
		*out = c->agg;
	pthread_mutex_unlock(&r->cache_lock);
	return hit;
}

static void cache_put(struct repl *r, const char *key,
		      const struct store_agg *agg)
{
	uint64_t h = hash_key(key);
	struct cache_slot *c = &r->cache[h % CACHE_SLOTS];

	pthread_mutex_lock(&r->cache_lock);
	c->used = true;
	c->hash = h;
	c->at_ms = repl_now_ms();
	snprintf(c->key, sizeof(c->key), "%s", key);
	c->agg = *agg;
	pthread_mutex_unlock(&r->cache_lock);
}

static void bind_str(MYSQL_BIND *b, const char *s, unsigned long *len)
{
	*b = (MYSQL_BIND){.buffer_type = MYSQL_TYPE_STRING,
			  .buffer = (void *)s,
			  .buffer_length = *len,
			  .length = len};
}

static void bind_u32(MYSQL_BIND *b, uint32_t *v)
{
	*b = (MYSQL_BIND){
	    .buffer_type = MYSQL_TYPE_LONG, .buffer = v, .is_unsigned = 1};
}

#define AGG_COLUMNS                                                            \
	"SELECT CAST(COALESCE(SUM(count), 0) AS SIGNED), "                     \
	"CAST(COALESCE(SUM(sum), 0) AS SIGNED), MIN(min), MAX(max) "

int repl_total(struct repl *r, const char *video, size_t vlen,
	       const char *type, size_t tlen, struct store_agg *out)
{
	static const char sql[] = AGG_COLUMNS
	    "FROM countfs_totals WHERE video = ? AND type = ?";
	unsigned long lens[2] = {vlen, tlen};
	char key[sizeof(((struct cache_slot *)0)->key)];
	MYSQL_BIND in[2];
	int rc;

	snprintf(key, sizeof(key), "t %.*s %.*s", (int)vlen, video, (int)tlen,
		 type);
	if (cache_get(r, key, out))
		return 0;
	bind_str(&in[0], video, &lens[0]);
	bind_str(&in[1], type, &lens[1]);
	rc = query_agg(shard_for(r, video, vlen), sql, in, out);
	if (rc == 0)
		cache_put(r, key, out);
	return rc;
}

int repl_range(struct repl *r, const char *video, size_t vlen,
	       const char *type, size_t tlen, uint32_t start, uint32_t end,
	       struct store_agg *out)
{
	static const char sql[] =
	    AGG_COLUMNS "FROM countfs_minutes WHERE video = ? AND type = ? "
			"AND minute >= ? AND minute < ?";
	unsigned long lens[2] = {vlen, tlen};
	char key[sizeof(((struct cache_slot *)0)->key)];
	MYSQL_BIND in[4];
	int rc;

	snprintf(key, sizeof(key), "r %.*s %.*s %u %u", (int)vlen, video,
		 (int)tlen, type, start, end);
	if (cache_get(r, key, out))
		return 0;
	bind_str(&in[0], video, &lens[0]);
	bind_str(&in[1], type, &lens[1]);
	bind_u32(&in[2], &start);
	bind_u32(&in[3], &end);
	rc = query_agg(shard_for(r, video, vlen), sql, in, out);
	if (rc == 0)
		cache_put(r, key, out);
	return rc;
}

struct steps {
	struct store_agg *out;
	size_t n;
};

/* A row (step, count, sum, min, max) of repl_series()'s query. */
static void step_row(void *arg, const int64_t *v)
{
	struct steps *st = arg;

	if (v[0] >= 0 && (uint64_t)v[0] < st->n)
		st->out[v[0]] = (struct store_agg){v[1], v[2], v[3], v[4]};
}

static void bind_i64(MYSQL_BIND *b, int64_t *v)
{
	*b = (MYSQL_BIND){.buffer_type = MYSQL_TYPE_LONGLONG, .buffer = v};
}

/* As repl_range() for each step, in one query: a minute belongs to the
 * step (minute - start) DIV step, and the WHERE is repl_range()'s for
 * [start, end).  Not cached: a cache slot holds one aggregate. */
int repl_series(struct repl *r, const char *video, size_t vlen,
		const char *type, size_t tlen, uint32_t start, uint32_t end,
		uint32_t step, struct store_agg *out, size_t n)
{
	static const char sql[] =
	    "SELECT (CAST(minute AS SIGNED) - ?) DIV ?, "
	    "CAST(COALESCE(SUM(count), 0) AS SIGNED), "
	    "CAST(COALESCE(SUM(sum), 0) AS SIGNED), MIN(min), MAX(max) "
	    "FROM countfs_minutes WHERE video = ? AND type = ? "
	    "AND minute >= ? AND minute < ? GROUP BY 1";
	unsigned long lens[2] = {vlen, tlen};
	int64_t from = start, width = step;
	struct steps st = {out, n};
	MYSQL_BIND in[6];

	if (n == 0 || n != store_series_len(start, end, step))
		return -EINVAL;
	memset(out, 0, n * sizeof(*out));
	bind_i64(&in[0], &from);
	bind_i64(&in[1], &width);
	bind_str(&in[2], video, &lens[0]);
	bind_str(&in[3], type, &lens[1]);
	bind_u32(&in[4], &start);
	bind_u32(&in[5], &end);
	return query_rows(shard_for(r, video, vlen), sql, in, 5, step_row,
			  &st);
}


/* One shard's rows (video, count) of a top query, as each_row() fetches
 * them. */
struct top_rows {
	char name[STORE_VIDEO_MAX + 1];
	unsigned long len;
	int64_t count;
	struct store_top_row *rows;
	unsigned n, got;
};

static int top_row(void *arg)
{
	struct top_rows *t = arg;

	if (t->len > STORE_VIDEO_MAX)
		return 0;
	struct store_top_row *row = &t->rows[t->got++];
	memcpy(row->video, t->name, t->len);
	row->video[t->len] = 0;
	row->video_len = (uint8_t)t->len;
	row->count = t->count;
	return t->got == t->n;
}

/* The top @n of one shard: rows (video, count) of @sql into @rows. */
static int query_top(struct repl_shard *sh, const char *sql, MYSQL_BIND *in,
		     struct store_top_row *rows, unsigned n, unsigned *got)
{
	struct top_rows t = {.rows = rows, .n = n};
	MYSQL_BIND res[2] = {{.buffer_type = MYSQL_TYPE_STRING,
			      .buffer = t.name,
			      .buffer_length = sizeof(t.name),
			      .length = &t.len},
			     {.buffer_type = MYSQL_TYPE_LONGLONG,
			      .buffer = &t.count}};
	int rc = each_row(sh, sql, in, res, "global top", top_row, &t);

	*got = rc ? 0 : t.got;
	return rc;
}

static int row_by_video(const void *a, const void *b)
{
	return strcmp(((const struct store_top_row *)a)->video,
		      ((const struct store_top_row *)b)->video);
}

static int row_by_count(const void *a, const void *b)
{
	const struct store_top_row *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->video, y->video);
}

int repl_top(struct repl *r, const char *type, size_t tlen, uint32_t start,
	     uint32_t end, unsigned n, struct store_top_row *rows,
	     unsigned *nrows)
{
	static const char sql[] =
	    "SELECT video, CAST(SUM(count) AS SIGNED) AS c "
	    "FROM countfs_minutes WHERE type = ? AND minute >= ? "
	    "AND minute < ? GROUP BY video HAVING c > 0 "
	    "ORDER BY c DESC, video LIMIT ?";
	unsigned long tl = tlen;
	uint32_t limit = n;
	struct store_top_row *all = malloc((size_t)r->nshards * n * sizeof(*all));
	size_t m = 0;
	MYSQL_BIND in[4];
	int rc = 0;

	*nrows = 0;
	if (!all)
		return -ENOMEM;
	bind_str(&in[0], type, &tl);
	bind_u32(&in[1], &start);
	bind_u32(&in[2], &end);
	bind_u32(&in[3], &limit);
	for (unsigned i = 0; i < r->nshards && rc == 0; i++) {
		unsigned got;
		rc = query_top(&r->shards[i], sql, in, all + m, n, &got);
		m += got;
	}
	if (rc == 0) {
		/* A video on two shards (the shard count changed and its
		 * old rows stay): one row, summed. */
		qsort(all, m, sizeof(*all), row_by_video);
		size_t k = 0;
		for (size_t i = 0; i < m; i++) {
			if (k && strcmp(all[k - 1].video, all[i].video) == 0)
				all[k - 1].count += all[i].count;
			else
				all[k++] = all[i];
		}
		qsort(all, k, sizeof(*all), row_by_count);
		*nrows = k < n ? (unsigned)k : n;
		memcpy(rows, all, *nrows * sizeof(*rows));
	}
	free(all);
	return rc;
}

/* The names a listing fetches, handed to the caller's @fn. */
struct name_rows {
	char name[STORE_VIDEO_MAX + 1];
	unsigned long len;
	store_name_fn fn;
	void *arg;
};

static int name_row(void *arg)
{
	struct name_rows *l = arg;

	return l->len < sizeof(l->name) && l->fn(l->arg, l->name, l->len);
}

/* Run @sql with @in (string params, or NULL) on @sh; call @fn for each
 * row's first column. */
static int list_names(struct repl_shard *sh, const char *sql, MYSQL_BIND *in,
		      store_name_fn fn, void *arg)
{
	struct name_rows l = {.fn = fn, .arg = arg};
	MYSQL_BIND res = {.buffer_type = MYSQL_TYPE_STRING,
			  .buffer = l.name,
			  .buffer_length = sizeof(l.name),
			  .length = &l.len};

	return each_row(sh, sql, in, &res, "global listing", name_row, &l);
}

struct name_set {
	char **names;
	size_t n, cap;
	bool failed; /* out of memory */
};

static int collect_name(void *arg, const char *name, size_t len)
{
	struct name_set *set = arg;

	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 256;
		char **grown = realloc(set->names, cap * sizeof(*grown));
		if (!grown)
			return set->failed = true;
		set->names = grown;
		set->cap = cap;
	}
	if (!(set->names[set->n] = strndup(name, len)))
		return set->failed = true;
	set->n++;
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int repl_list_videos(struct repl *r, store_name_fn fn, void *arg)
{
	static const char sql[] = "SELECT DISTINCT video FROM countfs_totals";
	struct name_set set = {0};
	int rc = 0;

	if (r->nshards == 1)
		return list_names(&r->shards[0], sql, NULL, fn, arg);
	/* After the shard count changed, a video has rows on its old shard
	 * and on its new one: list each name once. */
	for (unsigned i = 0; i < r->nshards && !rc; i++) {
		rc = list_names(&r->shards[i], sql, NULL, collect_name, &set);
		if (rc == 0 && set.failed)
			rc = -ENOMEM;
	}
	if (rc == 0) {
		qsort(set.names, set.n, sizeof(*set.names), cmp_name);
		for (size_t i = 0; i < set.n; i++) {
			if (i && strcmp(set.names[i], set.names[i - 1]) == 0)
				continue;
			if (fn(arg, set.names[i], strlen(set.names[i])))
				break;
		}
	}
	for (size_t i = 0; i < set.n; i++)
		free(set.names[i]);
	free(set.names);
	return rc;
}

int repl_list_types(struct repl *r, const char *video, size_t vlen,
		    store_name_fn fn, void *arg)
{
	static const char sql[] =
	    "SELECT DISTINCT type FROM countfs_totals WHERE video = ?";
	unsigned long len = vlen;
	MYSQL_BIND in;

	bind_str(&in, video, &len);
	return list_names(shard_for(r, video, vlen), sql, &in, fn, arg);
}

unsigned repl_shards(const struct repl *r)
{
	return r->nshards;
}

void repl_get_stats(struct repl *r, unsigned i, struct repl_shard_stats *out)
{
	struct repl_shard *sh = &r->shards[i];
	uint64_t synced = atomic_load(&sh->synced_until), now = repl_wall_ms();

	out->rows_pushed = atomic_load(&sh->rows_pushed);
	out->errors = atomic_load(&sh->errors);
	out->connected = atomic_load(&sh->connected);
	out->lag_ms = now > synced ? now - synced : 0;
}

static void repl_free(struct repl *r);

/* A replicator with its shards set up and no thread started yet;
 * release with repl_close(). */
static struct repl *repl_alloc(const struct repl_config *cfg,
			       const char *identity)
{
	struct repl *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	mysql_library_init(0, NULL, NULL);
	r->cfg = *cfg;
	r->nshards = cfg->shards;
	pthread_mutex_init(&r->lock, NULL);
	mono_cond_init(&r->cond);
	pthread_mutex_init(&r->cache_lock, NULL);
	snprintf(r->identity, sizeof(r->identity), "%s", identity);
	r->option_file = strdup(cfg->option_file);
	r->host = strdup(cfg->host);
	r->shards = calloc(r->nshards, sizeof(*r->shards));
	r->cache = calloc(CACHE_SLOTS, sizeof(*r->cache));
	if (!r->option_file || !r->host || !r->shards || !r->cache) {
		repl_free(r);
		return NULL;
	}
	for (unsigned i = 0; i < r->nshards; i++) {
		struct repl_shard *sh = &r->shards[i];
		sh->r = r;
		sh->index = i;
		snprintf(sh->group, sizeof(sh->group), "shard%u", i);
		pthread_mutex_init(&sh->pool_lock, NULL);
		mono_cond_init(&sh->slot_free);
	}
	return r;
}

int repl_open(const struct repl_config *cfg, struct store *st,
	      struct repl **out)
{
	struct repl *r = repl_alloc(cfg, store_identity(st));
	int rc;

	if (!r)
		return -ENOMEM;
	r->st = st;
	for (unsigned i = 0; i < r->nshards; i++) {
		struct repl_shard *sh = &r->shards[i];
		if ((rc = -pthread_create(&sh->thread, NULL, push_thread, sh))) {
			repl_close(r);
			return rc;
		}
		sh->started = true;
	}
	*out = r;
	return 0;
}

struct claim_job {
	struct repl_shard *sh;
	struct host_owner owner;
	pthread_t thread;
	bool started;
	int rc;
};

static void *claim_thread(void *arg)
{
	struct claim_job *job = arg;
	struct repl_shard *sh = job->sh;
	MYSQL *m;

	mysql_thread_init();
	if ((m = conn_open(sh, &job->rc))) {
		job->rc = conn_create_tables(sh, m);
		if (job->rc == 0)
			job->rc = conn_claim(sh, m, &job->owner);
		mysql_close(m);
	}
	mysql_thread_end();
	return NULL;
}

int repl_claim(const struct repl_config *cfg, const char *identity,
	       char *why, size_t len)
{
	struct repl *r = repl_alloc(cfg, identity);
	struct claim_job *jobs = calloc(cfg->shards, sizeof(*jobs));
	int rc = 0;

	if (!r || !jobs) {
		rc = -ENOMEM;
		goto out;
	}
	/* All shards at once: a shard that is down costs one connect
	 * timeout, not one per shard. */
	for (unsigned i = 0; i < r->nshards; i++) {
		int err;

		jobs[i].sh = &r->shards[i];
		/* The thread owns jobs[i] from its start: no write after. */
		err = pthread_create(&jobs[i].thread, NULL, claim_thread,
				     &jobs[i]);
		if (err)
			jobs[i].rc = -err;
		else
			jobs[i].started = true;
	}
	for (unsigned i = 0; i < r->nshards; i++) {
		if (jobs[i].started)
			pthread_join(jobs[i].thread, NULL);
		if (jobs[i].rc == -EEXIST && rc == 0) {
			conn_refusal(&r->shards[i], &jobs[i].owner, why, len);
			rc = -EEXIST;
		} else if (jobs[i].rc && jobs[i].rc != -EEXIST) {
			log_warn("mysql %s: cannot claim host name %s now; "
				 "nothing is pushed to it before the claim "
				 "succeeds",
				 r->shards[i].group, r->host);
		}
	}
out:
	free(jobs);
	/* The library stays initialised for repl_open(): the connector
	 * cannot be initialised again once ended. */
	if (r)
		repl_free(r);
	return rc;
}

/* Stop the threads and free @r; the connector's library stays up. */
static void repl_free(struct repl *r)
{
	pthread_mutex_lock(&r->lock);
	atomic_store(&r->stop, true);
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	for (unsigned i = 0; r->shards && i < r->nshards; i++) {
		struct repl_shard *sh = &r->shards[i];
		if (sh->started)
			pthread_join(sh->thread, NULL);
		while (sh->nidle > 0)
			mysql_close(sh->idle[--sh->nidle]);
		pthread_mutex_destroy(&sh->pool_lock);
		pthread_cond_destroy(&sh->slot_free);
	}
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->cache_lock);
	free(r->shards);
	free(r->cache);
	free(r->option_file);
	free(r->host);
	free(r);
}

void repl_close(struct repl *r)
{
	if (!r)
		return;
	repl_free(r);
	mysql_library_end();
}
