/*
 * stats.h - the daemon's own metrics and their Prometheus text form.
 *
 * Counters are atomics updated on the request path without locks;
 * stats_render() reads them, adds the store's, and writes /stats.
 */
#ifndef COUNTFS_STATS_H
#define COUNTFS_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct repl;

enum refusal {
	REFUSED_LINE,	   /* a line that does not parse */
	REFUSED_TOO_LONG,  /* a line over 4 KiB */
	REFUSED_TIMESTAMP, /* @ts outside the kept window */
	REFUSED_OVERFLOW,  /* a sum that would overflow */
	REFUSED_STORAGE,   /* disk full, I/O error */
	REFUSED_KILLED,	   /* the unfinished line of a killed writer */
	REFUSED_KINDS
};

/* Lines of /ingest dropped under -o ingest=skip, by reason. */
enum drop {
	DROP_BAD_VIDEO,
	DROP_BAD_TYPE,
	DROP_BAD_VALUE,
	DROP_BAD_TIMESTAMP, /* not @digits */
	DROP_BAD_ID,
	DROP_BAD_MULT, /* *n not digits, 0 or past 2^32 */
	DROP_BAD_FIELDS, /* out of order, too many */
	DROP_TOO_LONG,
	DROP_TIMESTAMP, /* @ts outside the kept window */
	DROP_KINDS
};

#define HIST_BUCKETS 16

struct histogram {
	atomic_uint_fast64_t le[HIST_BUCKETS + 1]; /* last one is +Inf */
	atomic_uint_fast64_t sum_ns;
};

/* Events by type: the first TYPE_SLOTS types seen get their own line in
 * /stats, the rest share one, so the metric's size stays bounded. */
#define TYPE_SLOTS 64

struct type_slot {
	atomic_uint state; /* 0 free, 1 being claimed, 2 named */
	uint8_t len;
	char name[32];
	atomic_uint_fast64_t n;
};

struct fs_stats {
	atomic_uint_fast64_t refused[REFUSED_KINDS];
	atomic_uint_fast64_t dropped[DROP_KINDS];
	atomic_uint_fast64_t writes, lines, reads;
	struct histogram write_latency, read_latency;
	struct type_slot types[TYPE_SLOTS];
	atomic_uint_fast64_t other_types;
};

/* Add @n accepted events of type @type (@len <= 32 bytes). Lock-free. */
void stats_count_type(struct fs_stats *s, const char *type, size_t len,
		      uint64_t n);

/* Account one request that took @ns nanoseconds. */
void stats_observe(struct histogram *h, uint64_t ns);

/* Monotonic nanoseconds, for latencies. */
uint64_t stats_now_ns(void);

/*
 * Render every metric into a malloc'd buffer; *@out and *@len are set.
 * @st may be NULL (no store yet), @r NULL (no replication).  Returns 0 or -ENOMEM.
 */
int stats_render(const struct fs_stats *s, struct store *st, struct repl *r,
		 char **out, size_t *len);

#endif
