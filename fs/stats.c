/*
 * stats.c - counters and histograms in Prometheus text format 0.0.4.
 */
#include "stats.h"

#include "../common/hash.h"
#include "../replicate/replicate.h"
#include "../store/store.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Upper bounds of the latency buckets, in microseconds. */
static const uint64_t bounds_us[HIST_BUCKETS] = {
    10,	  25,	 50,	100,   250,    500,    1000,   2500,
    5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000};

static const char *const refusal_names[REFUSED_KINDS] = {
    "line", "too_long", "timestamp", "overflow", "storage",
    "killed"};

static const char *const drop_names[DROP_KINDS] = {
    "bad_video",      "bad_type",   "bad_value", "bad_timestamp", "bad_id",
    "bad_multiplier", "bad_fields", "too_long",  "timestamp"};

uint64_t stats_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void stats_observe(struct histogram *h, uint64_t ns)
{
	uint64_t us = ns / 1000;
	int i = 0;

	while (i < HIST_BUCKETS && us > bounds_us[i])
		i++;
	atomic_fetch_add_explicit(&h->le[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_ns, ns, memory_order_relaxed);
}

void stats_count_type(struct fs_stats *s, const char *type, size_t len,
		      uint64_t n)
{
	uint32_t h = (uint32_t)fnv1a(FNV1A_INIT, type, len);

	for (unsigned k = 0; k < TYPE_SLOTS; k++) {
		struct type_slot *t = &s->types[(h + k) % TYPE_SLOTS];
		unsigned st = atomic_load_explicit(&t->state,
						   memory_order_acquire);
		if (st == 0) {
			unsigned free_ = 0;
			if (atomic_compare_exchange_strong(&t->state, &free_,
							   1)) {
				memcpy(t->name, type, len);
				t->len = (uint8_t)len;
				atomic_store_explicit(&t->state, 2,
						      memory_order_release);
			}
		}
		/* Claimed by another thread: its name is a moment away. */
		while ((st = atomic_load_explicit(
			    &t->state, memory_order_acquire)) == 1)
			;
		if (t->len == len && memcmp(t->name, type, len) == 0) {
			atomic_fetch_add_explicit(&t->n, n,
						  memory_order_relaxed);
			return;
		}
	}
	atomic_fetch_add_explicit(&s->other_types, n, memory_order_relaxed);
}

struct buf {
	char *p;
	size_t len, cap;
	int err;
};

static void __attribute__((format(printf, 2, 3)))
out(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	for (;;) {
		if (b->err)
			return;
		va_start(ap, fmt);
		int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap * 2 + (size_t)n;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->err = -ENOMEM;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

static void counter(struct buf *b, const char *name, const char *help,
		    uint64_t v)
{
	out(b,
	    "# HELP countfs_%s %s\n# TYPE countfs_%s counter\n"
	    "countfs_%s %llu\n",
	    name, help, name, name, (unsigned long long)v);
}

static void gauge(struct buf *b, const char *name, const char *help, uint64_t v)
{
	out(b,
	    "# HELP countfs_%s %s\n# TYPE countfs_%s gauge\n"
	    "countfs_%s %llu\n",
	    name, help, name, name, (unsigned long long)v);
}

static void histogram(struct buf *b, const char *name, const char *help,
		      const struct histogram *h)
{
	uint64_t cum = 0;

	out(b, "# HELP countfs_%s %s\n# TYPE countfs_%s histogram\n", name,
	    help, name);
	for (int i = 0; i <= HIST_BUCKETS; i++) {
		cum += atomic_load(&h->le[i]);
		if (i < HIST_BUCKETS)
			out(b, "countfs_%s_bucket{le=\"%g\"} %llu\n", name,
			    (double)bounds_us[i] / 1e6,
			    (unsigned long long)cum);
		else
			out(b, "countfs_%s_bucket{le=\"+Inf\"} %llu\n", name,
			    (unsigned long long)cum);
	}
	out(b, "countfs_%s_sum %.9f\ncountfs_%s_count %llu\n", name,
	    (double)atomic_load(&h->sum_ns) / 1e9, name,
	    (unsigned long long)cum);
}

/* One line per MySQL shard for each replication metric. */
static void replication(struct buf *b, struct repl *r, uint64_t pending)
{
	static const struct {
		const char *name, *type, *help;
	} m[] = {
	    {"repl_rows_pushed_total", "counter",
	     "Rows written to MySQL, by shard."},
	    {"repl_push_errors_total", "counter",
	     "Failed connections or statements, by shard."},
	    {"repl_lag_seconds", "gauge",
	     "Age of the oldest change that may not be in MySQL yet."},
	    {"repl_connected", "gauge",
	     "1 when the push connection of a shard is up."},
	};
	unsigned n = repl_shards(r);

	gauge(b, "repl_pending_rows",
	      "Minute and total rows waiting to be pushed.", pending);
	for (size_t k = 0; k < sizeof(m) / sizeof(m[0]); k++) {
		out(b, "# HELP countfs_%s %s\n# TYPE countfs_%s %s\n",
		    m[k].name, m[k].help, m[k].name, m[k].type);
		for (unsigned i = 0; i < n; i++) {
			struct repl_shard_stats rs;
			uint64_t v[4];
			repl_get_stats(r, i, &rs);
			v[0] = rs.rows_pushed;
			v[1] = rs.errors;
			v[2] = rs.lag_ms;
			v[3] = rs.connected;
			if (k == 2)
				out(b, "countfs_%s{shard=\"%u\"} %.3f\n",
				    m[k].name, i, (double)v[k] / 1000);
			else
				out(b, "countfs_%s{shard=\"%u\"} %llu\n",
				    m[k].name, i, (unsigned long long)v[k]);
		}
	}
}

int stats_render(const struct fs_stats *s, struct store *st, struct repl *r,
		 char **res, size_t *len)
{
	struct buf b = {malloc(4096), 0, 4096, 0};
	struct store_stats ss = {0};

	if (!b.p)
		return -ENOMEM;
	if (st)
		store_get_stats(st, &ss);
	/* The usual build_info gauge: dashboards join on its version. */
	out(&b, "# HELP countfs_build_info The running daemon's version.\n"
		"# TYPE countfs_build_info gauge\n"
		"countfs_build_info{version=\"%s\"} 1\n",
	    COUNTFS_VERSION);
	counter(&b, "events_total", "Events counted.", ss.events);
	counter(&b, "events_deduplicated_total",
		"Events acknowledged but not counted: their #id was seen.",
		ss.deduplicated);
	out(&b, "# HELP countfs_events_by_type_total Events accepted, by type "
		"(retries with a seen #id included; past %d types, as "
		"(other)).\n# TYPE countfs_events_by_type_total counter\n",
	    TYPE_SLOTS);
	for (int i = 0; i < TYPE_SLOTS; i++)
		if (atomic_load_explicit(&s->types[i].state,
					 memory_order_acquire) == 2)
			out(&b, "countfs_events_by_type_total{type=\"%.*s\"} "
				"%llu\n",
			    (int)s->types[i].len, s->types[i].name,
			    (unsigned long long)atomic_load(&s->types[i].n));
	if (atomic_load(&s->other_types))
		out(&b, "countfs_events_by_type_total{type=\"(other)\"} "
			"%llu\n",
		    (unsigned long long)atomic_load(&s->other_types));
	counter(&b, "lines_total", "Lines received in accepted writes.",
		atomic_load(&s->lines));
	counter(&b, "writes_total", "write() calls accepted.",
		atomic_load(&s->writes));
	out(&b, "# HELP countfs_writes_refused_total write() calls refused, "
		"by reason.\n# TYPE countfs_writes_refused_total counter\n");
	for (int i = 0; i < REFUSED_KINDS; i++)
		out(&b, "countfs_writes_refused_total{reason=\"%s\"} %llu\n",
		    refusal_names[i],
		    (unsigned long long)atomic_load(&s->refused[i]));
	out(&b, "# HELP countfs_ingest_dropped_total Lines of /ingest dropped "
		"by ingest=skip, by reason.\n# TYPE "
		"countfs_ingest_dropped_total counter\n");
	for (int i = 0; i < DROP_KINDS; i++)
		out(&b, "countfs_ingest_dropped_total{reason=\"%s\"} %llu\n",
		    drop_names[i],
		    (unsigned long long)atomic_load(&s->dropped[i]));
	counter(&b, "reads_total", "read() calls answered.",
		atomic_load(&s->reads));
	counter(&b, "commits_total", "LMDB write transactions committed.",
		ss.commits);
	counter(&b, "fsyncs_total", "Forced syncs of a shard to disk.",
		ss.fsyncs);
	counter(&b, "map_grows_total", "Times an LMDB map was enlarged.",
		ss.map_grows);
	counter(&b, "buckets_expired_total", "Buckets removed by retention.",
		ss.expired);
	counter(&b, "top_reads_total", "Reads of /top answered.",
		ss.top_reads);
	counter(&b, "top_unsure_total",
		"Reads of /top whose answer could miss a video (README, "
		"Trending).",
		ss.top_unsure);
	gauge(&b, "journal_events",
	      "Lines acknowledged and not yet applied to LMDB (a line of *n "
	      "is one).",
	      ss.journal);
	gauge(&b, "lmdb_used_bytes", "Bytes of LMDB pages in use, all shards.",
	      ss.bytes_used);
	gauge(&b, "lmdb_free_bytes",
	      "Bytes of LMDB pages free for reuse inside the files, all shards.",
	      ss.bytes_free);
	gauge(&b, "lmdb_map_bytes", "Bytes of LMDB maps, all shards.",
	      ss.map_bytes);
	histogram(&b, "write_latency_seconds",
		  "Time to handle a write(), acknowledged or not.",
		  &s->write_latency);
	histogram(&b, "read_latency_seconds", "Time to answer a read().",
		  &s->read_latency);
	if (r)
		replication(&b, r, ss.pending);
	if (b.err) {
		free(b.p);
		return b.err;
	}
	*res = b.p;
	*len = b.len;
	return 0;
}
