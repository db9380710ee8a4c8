/*
 * global.c - the read side: /global answers from MySQL, and the life
 * cycle of the replicator.
 *
 * A /global read borrows a connection from its shard's small pool (or
 * opens one), runs one prepared SELECT that sums every host's rows, and
 * gives the connection back; a failed connection is closed, not reused.
 * Answers are kept for cache_ms in a direct-mapped cache so that a tight
 * loop of reads costs MySQL one query per key and period.
 */
#include "internal.h"

#include "../common/log.h"
#include "../common/mono.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* Bind up to 4 input strings/ints, run @sql, fetch one row of 4 values
 * (count, sum, min, max; NULLs are zero) into @out. */
static int query_agg(struct repl_shard *sh, const char *sql,
		     MYSQL_BIND *in, struct store_agg *out)
{
	int64_t v[4] = {0};
	my_bool null[4] = {0};
	MYSQL_BIND res[4];
	MYSQL_STMT *s;
	int err = 0;
	MYSQL *m = pool_get(sh, &err);

	if (!m)
		return err;
	memset(res, 0, sizeof(res));
	for (int i = 0; i < 4; i++) {
		res[i].buffer_type = MYSQL_TYPE_LONGLONG;
		res[i].buffer = &v[i];
		res[i].is_null = &null[i];
	}
	s = mysql_stmt_init(m);
	if (!s || mysql_stmt_prepare(s, sql, strlen(sql)) ||
	    mysql_stmt_bind_param(s, in) || mysql_stmt_execute(s) ||
	    mysql_stmt_bind_result(s, res) || mysql_stmt_store_result(s)) {
		err = s ? conn_error(sh, m, s, "global read") : -ENOMEM;
	} else {
		int f = mysql_stmt_fetch(s);
		if (f == 1 || f == MYSQL_DATA_TRUNCATED)
			err = conn_error(sh, m, s, "global read");
	}
	if (s)
		mysql_stmt_close(s);
	pool_put(sh, m, err != 0);
	if (err)
		return err == -EAGAIN ? -EIO : err;
	*out = (struct store_agg){null[0] ? 0 : v[0], null[1] ? 0 : v[1],
				  null[2] ? 0 : v[2], null[3] ? 0 : v[3]};
	return 0;
}

static uint64_t hash_key(const char *key)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *key; key++) {
		h ^= (unsigned char)*key;
		h *= 0x100000001b3ULL;
	}
	return h;
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

/* Run @sql with @nin string params on @sh; call @fn for each row's first
 * column. */
static int list_names(struct repl_shard *sh, const char *sql, MYSQL_BIND *in,
		      store_name_fn fn, void *arg)
{
	char name[STORE_VIDEO_MAX + 1];
	unsigned long len = 0;
	MYSQL_BIND res = {.buffer_type = MYSQL_TYPE_STRING,
			  .buffer = name,
			  .buffer_length = sizeof(name),
			  .length = &len};
	int err = 0, f;
	MYSQL *m = pool_get(sh, &err);
	MYSQL_STMT *s;

	if (!m)
		return err;
	s = mysql_stmt_init(m);
	if (!s || mysql_stmt_prepare(s, sql, strlen(sql)) ||
	    (in && mysql_stmt_bind_param(s, in)) || mysql_stmt_execute(s) ||
	    mysql_stmt_bind_result(s, &res) || mysql_stmt_store_result(s)) {
		err = s ? conn_error(sh, m, s, "global listing") : -ENOMEM;
	} else {
		while ((f = mysql_stmt_fetch(s)) == 0 ||
		       f == MYSQL_DATA_TRUNCATED)
			if (len < sizeof(name) && fn(arg, name, len))
				break;
		if (f == 1)
			err = conn_error(sh, m, s, "global listing");
	}
	if (s)
		mysql_stmt_close(s);
	pool_put(sh, m, err != 0);
	return err == -EAGAIN ? -EIO : err;
}

int repl_list_videos(struct repl *r, store_name_fn fn, void *arg)
{
	static const char sql[] = "SELECT DISTINCT video FROM countfs_totals";

	for (unsigned i = 0; i < r->nshards; i++) {
		int rc = list_names(&r->shards[i], sql, NULL, fn, arg);
		if (rc)
			return rc;
	}
	return 0;
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

int repl_open(const struct repl_config *cfg, struct store *st,
	      struct repl **out)
{
	struct repl *r = calloc(1, sizeof(*r));
	int rc = -ENOMEM;

	if (!r)
		return -ENOMEM;
	mysql_library_init(0, NULL, NULL);
	r->cfg = *cfg;
	r->st = st;
	r->nshards = cfg->shards;
	pthread_mutex_init(&r->lock, NULL);
	mono_cond_init(&r->cond);
	pthread_mutex_init(&r->cache_lock, NULL);
	r->option_file = strdup(cfg->option_file);
	r->host = strdup(cfg->host);
	r->shards = calloc(r->nshards, sizeof(*r->shards));
	r->cache = calloc(CACHE_SLOTS, sizeof(*r->cache));
	if (!r->option_file || !r->host || !r->shards || !r->cache)
		goto fail;
	for (unsigned i = 0; i < r->nshards; i++) {
		struct repl_shard *sh = &r->shards[i];
		sh->r = r;
		sh->index = i;
		snprintf(sh->group, sizeof(sh->group), "shard%u", i);
		pthread_mutex_init(&sh->pool_lock, NULL);
	}
	for (unsigned i = 0; i < r->nshards; i++) {
		struct repl_shard *sh = &r->shards[i];
		if ((rc = -pthread_create(&sh->thread, NULL, push_thread, sh)))
			goto fail;
		sh->started = true;
	}
	*out = r;
	return 0;
fail:
	repl_close(r);
	return rc;
}

void repl_close(struct repl *r)
{
	if (!r)
		return;
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
	}
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->cache_lock);
	free(r->shards);
	free(r->cache);
	free(r->option_file);
	free(r->host);
	free(r);
	mysql_library_end();
}
