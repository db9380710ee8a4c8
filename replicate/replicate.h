/*
 * replicate.h - per-minute aggregates to sharded MySQL, and /global.
 *
 * One push thread per MySQL shard reads its shard's changed rows from the
 * store (store_feed_read), writes them with multi-row prepared
 * INSERT ... ON DUPLICATE KEY UPDATE statements that set absolute values,
 * and acknowledges them (store_feed_ack) only after MySQL confirmed.
 * A replay therefore never double counts, and an increment that lands
 * between read and ack is pushed again.  A shard that is down or slow
 * only holds back its own rows; local writes never wait for MySQL.
 *
 * A video's rows live on shard FNV-1a-64(video) mod N, N being the number
 * of [shardK] groups of the option file.  Tables (created if missing):
 *   countfs_minutes(host, video, type, minute, count, sum, min, max)
 *   countfs_totals(host, video, type, count, sum, min, max)
 *
 * /global reads sum the rows of every host on the video's shard, through a
 * small pool of connections and a short cache.  Connect, read and write
 * timeouts are set, so a dead shard fails a read with EHOSTUNREACH (cannot
 * connect, or its server refused the credentials) or EIO (query failed)
 * instead of hanging; a bound on the reads in flight per shard, and a
 * shard known down failing reads at once, keep FUSE threads free for
 * local work (EAGAIN when too many /global reads wait already).
 *
 * A host name belongs to one data directory: countfs_hosts(host, identity,
 * first_seen, last_seen) on each shard records which; nothing is pushed to
 * a shard before the name is claimed there.
 *
 * Errors are negative errnos.  Credentials stay in the option file: they
 * are never copied, logged or shown in /stats.  Only this module includes
 * mysql.h.  All calls are thread-safe after repl_open().
 */
#ifndef COUNTFS_REPLICATE_H
#define COUNTFS_REPLICATE_H

#include "../store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REPL_MAX_SHARDS 64
#define REPL_HOST_MAX 64

struct repl_config {
	const char *option_file; /* absolute path; checked by repl_check */
	const char *host;	 /* this host's id, 1-64 bytes */
	unsigned shards;	 /* [shard0] .. [shardN-1] */
	unsigned cache_ms;	 /* how long a /global answer is reused */
};

/*
 * Check @path before anything connects: it must be a regular file that
 * only its owner can read or write, owned by the user running countfs,
 * with groups [shard0], [shard1], ... and no gap.  Returns 0 and the
 * number of groups in *@shards, or a negative errno with a sentence in
 * @why (for the terminal).
 */
int repl_check(const char *path, unsigned *shards, char *why, size_t len);

struct repl;

/*
 * Claim cfg->host in MySQL for the data directory @identity (see 'Host
 * identity' in the README), on every shard at once, before the daemon
 * mounts: 0 when every shard that answers says the name is ours, -EEXIST
 * with the sentence for the terminal in @why when another data directory
 * owns it.  A shard that does not answer now does not block the start:
 * its push thread claims the name before pushing anything to it, and stops
 * all replication if the claim is refused then.
 */
int repl_claim(const struct repl_config *cfg, const char *identity,
	       char *why, size_t len);

/* Start the push threads; connections are made by them, so a shard that
 * is down at start only delays replication.  Release with repl_close(). */
int repl_open(const struct repl_config *cfg, struct store *st,
	      struct repl **out);

/* Stop the threads (a push in flight finishes or times out), close all
 * connections.  NULL is fine. */
void repl_close(struct repl *r);

/* Sum over all hosts of a series' totals. */
int repl_total(struct repl *r, const char *video, size_t vlen,
	       const char *type, size_t tlen, struct store_agg *out);

/* Sum over all hosts of the minutes that start in [start, end). */
int repl_range(struct repl *r, const char *video, size_t vlen,
	       const char *type, size_t tlen, uint32_t start, uint32_t end,
	       struct store_agg *out);

/* repl_range() of [t, min(t + step, end)) for each of the @n =
 * store_series_len() steps t = start + i * step, in one query. */
int repl_series(struct repl *r, const char *video, size_t vlen,
		const char *type, size_t tlen, uint32_t start, uint32_t end,
		uint32_t step, struct store_agg *out, size_t n);
/*
 * The videos with the most events of @type in the minutes that start in
 * [start, end), over all hosts: at most @n rows by count descending,
 * then video in byte order, each count what repl_range() reads for it.
 * One query per MySQL shard (a video's rows live on one), merged.
 */
int repl_top(struct repl *r, const char *type, size_t tlen, uint32_t start,
	     uint32_t end, unsigned n, struct store_top_row *rows,
	     unsigned *nrows);

/* Videos known to MySQL (every shard), and a video's event types. */
int repl_list_videos(struct repl *r, store_name_fn fn, void *arg);
int repl_list_types(struct repl *r, const char *video, size_t vlen,
		    store_name_fn fn, void *arg);

struct repl_shard_stats {
	uint64_t rows_pushed;
	uint64_t errors;
	uint64_t lag_ms; /* every change older than this is in MySQL */
	bool connected;
};

/* Stats of shard @i < repl_shards(r). */
unsigned repl_shards(const struct repl *r);
void repl_get_stats(struct repl *r, unsigned i, struct repl_shard_stats *out);

#endif
